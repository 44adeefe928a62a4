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
    :batch_id, l.dv_row, CAST(:loaded_at AS timestamp), COALESCE(l.dv_applied_at, CAST(:applied_at AS timestamp)),
    l.currency_code,
    l.numeric_code,
    l.currency_name,
    l.minor_units,
    l.extracted_at,
    CASE WHEN btrim(l.currency_code, E' \t\r\n\f\x0B') = '' THEN NULL ELSE replace(replace(l.currency_code, '\', '\\'), '|', '\|') END,
    decode(md5(convert_to(concat_ws('|', 'currency_name=' || replace(replace(l.currency_name, '\', '\\'), '|', '\|'), 'minor_units=' || (l.minor_units)::text, 'numeric_code=' || (l.numeric_code)::text), 'UTF8')), 'hex')
FROM dv_land_currencies l;

ANALYZE stg_currencies;
