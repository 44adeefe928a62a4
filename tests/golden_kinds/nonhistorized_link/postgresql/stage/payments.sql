-- Stage source payments: add the batch landed in dv_land_payments to stg_payments as batch
-- :batch_id, computing the hash keys and hash diffs of every hub, link and satellite it feeds.

INSERT INTO stg_payments (
    dv_batch_id, dv_row, dv_loaded_at, dv_applied_at,
    payment_no,
    customer_id,
    account_no,
    paid_at,
    amount,
    currency,
    note,
    dv_hk_account,
    dv_hk_customer,
    dv_hk_payment,
    dv_hk_payment__customer,
    dv_hk_payment__account,
    dv_hd_payment
)
SELECT
    :batch_id, l.dv_row, CAST(:loaded_at AS timestamp), COALESCE(l.dv_applied_at, CAST(:applied_at AS timestamp)),
    l.payment_no,
    l.customer_id,
    l.account_no,
    l.paid_at,
    l.amount,
    l.currency,
    l.note,
    l.dv_h0,
    l.dv_h1,
    l.dv_h2,
    l.dv_h1,
    l.dv_h0,
    l.dv_h3
FROM (
    SELECT l.*,
           COALESCE(decode(md5(convert_to(replace(replace(NULLIF(upper(btrim(l.account_no, E' \t\r\n\f\x0B') COLLATE "C"), ''), '\', '\\'), '|', '\|'), 'UTF8')), 'hex'), '\x00000000000000000000000000000000'::bytea) AS dv_h0,
           COALESCE(decode(md5(convert_to(replace(replace(NULLIF(upper(btrim(l.customer_id, E' \t\r\n\f\x0B') COLLATE "C"), ''), '\', '\\'), '|', '\|'), 'UTF8')), 'hex'), '\x00000000000000000000000000000000'::bytea) AS dv_h1,
           COALESCE(decode(md5(convert_to(NULLIF(COALESCE(replace(replace(NULLIF(upper(btrim(l.customer_id, E' \t\r\n\f\x0B') COLLATE "C"), ''), '\', '\\'), '|', '\|'), '\N') || '|' || COALESCE(replace(replace(NULLIF(upper(btrim(l.account_no, E' \t\r\n\f\x0B') COLLATE "C"), ''), '\', '\\'), '|', '\|'), '\N') || '|' || COALESCE(replace(replace(NULLIF(upper(btrim(l.payment_no, E' \t\r\n\f\x0B') COLLATE "C"), ''), '\', '\\'), '|', '\|'), '\N'), '\N|\N|\N'), 'UTF8')), 'hex'), '\x00000000000000000000000000000000'::bytea) AS dv_h2,
           decode(md5(convert_to(concat_ws('|', 'amount=' || trim_scale(l.amount)::text, 'currency=' || replace(replace(l.currency, '\', '\\'), '|', '\|'), 'note=' || replace(replace(l.note, '\', '\\'), '|', '\|')), 'UTF8')), 'hex') AS dv_h3
    FROM dv_land_payments l
    OFFSET 0
) l;

ANALYZE stg_payments;
