-- Stage source units: add the batch landed in dv_land_units to stg_units as batch
-- :batch_id, computing the hash keys and hash diffs of every hub, link and satellite it feeds.

INSERT INTO stg_units (
    dv_batch_id, dv_row, dv_loaded_at, dv_applied_at,
    unit_system,
    symbol,
    unit_name,
    changed_at,
    dv_code_unit,
    dv_hd_unit
)
SELECT
    :batch_id, l.dv_row, CAST(:loaded_at AS timestamp), COALESCE(l.dv_applied_at, CAST(:applied_at AS timestamp)),
    l.unit_system,
    l.symbol,
    l.unit_name,
    l.changed_at,
    CASE WHEN btrim(l.unit_system, E' \t\r\n\f\x0B') = '' THEN NULL ELSE replace(replace(l.unit_system, '\', '\\'), '|', '\|') END || '|' || CASE WHEN btrim(l.symbol, E' \t\r\n\f\x0B') = '' THEN NULL ELSE replace(replace(l.symbol, '\', '\\'), '|', '\|') END,
    decode(md5(convert_to(concat_ws('|', 'unit_name=' || replace(replace(l.unit_name, '\', '\\'), '|', '\|')), 'UTF8')), 'hex')
FROM dv_land_units l;

ANALYZE stg_units;
