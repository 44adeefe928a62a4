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
    :batch_id, l.dv_row, :loaded_at, COALESCE(l.dv_applied_at, :applied_at),
    l.currency_code,
    l.numeric_code,
    l.currency_name,
    l.minor_units,
    l.extracted_at,
    dv_code_text('text', l.currency_code),
    dv_hash_diff('md5', 'numeric_code', 'integer', l.numeric_code, 'currency_name', 'text', l.currency_name, 'minor_units', 'integer', l.minor_units)
FROM dv_land_currencies l;
