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
    :batch_id, l.dv_row, :loaded_at, COALESCE(l.dv_applied_at, :applied_at),
    l.unit_system,
    l.symbol,
    l.unit_name,
    l.changed_at,
    dv_code_text('text', l.unit_system, 'text', l.symbol),
    dv_hash_diff('md5', 'unit_name', 'text', l.unit_name)
FROM dv_land_units l;
