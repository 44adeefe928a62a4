-- Stage source currencies: add the batch landed in dv_land_currencies to stg_currencies as batch
-- :batch_id, computing the hash keys and hash diffs of every hub, link and satellite it feeds.

INSERT INTO stg_currencies (
    dv_batch_id, dv_row, dv_loaded_at, dv_applied_at,
    currency_code,
    numeric_code,
    currency_name,
    minor_units,
    extracted_at,
    dv_code_currency,
    dv_hd_currency
)
SELECT
    getvariable('batch_id'), l.dv_row, CAST(getvariable('loaded_at') AS TIMESTAMP), COALESCE(l.dv_applied_at, CAST(getvariable('applied_at') AS TIMESTAMP)),
    l.currency_code,
    l.numeric_code,
    l.currency_name,
    l.minor_units,
    l.extracted_at,
    CASE WHEN trim(l.currency_code, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13))) = '' THEN NULL ELSE replace(replace(l.currency_code, '\', '\\'), '|', '\|') END,
    from_hex(md5(concat_ws('|', 'currency_name=' || replace(replace(l.currency_name, '\', '\\'), '|', '\|'), 'minor_units=' || CAST(l.minor_units AS VARCHAR), 'numeric_code=' || CAST(l.numeric_code AS VARCHAR))))
FROM dv_land_currencies l;
