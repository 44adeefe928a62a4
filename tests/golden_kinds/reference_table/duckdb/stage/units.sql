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
    getvariable('batch_id'), l.dv_row, CAST(getvariable('loaded_at') AS TIMESTAMP), COALESCE(l.dv_applied_at, CAST(getvariable('applied_at') AS TIMESTAMP)),
    l.unit_system,
    l.symbol,
    l.unit_name,
    l.changed_at,
    CASE WHEN trim(l.unit_system, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13))) = '' THEN NULL ELSE replace(replace(l.unit_system, '\', '\\'), '|', '\|') END || '|' || CASE WHEN trim(l.symbol, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13))) = '' THEN NULL ELSE replace(replace(l.symbol, '\', '\\'), '|', '\|') END,
    from_hex(md5(concat_ws('|', 'unit_name=' || replace(replace(l.unit_name, '\', '\\'), '|', '\|'))))
FROM dv_land_units l;
