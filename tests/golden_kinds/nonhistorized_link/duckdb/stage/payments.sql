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
    getvariable('batch_id'), l.dv_row, CAST(getvariable('loaded_at') AS TIMESTAMP), COALESCE(l.dv_applied_at, CAST(getvariable('applied_at') AS TIMESTAMP)),
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
           COALESCE(from_hex(md5(replace(replace(NULLIF(CASE WHEN strlen(trim(l.account_no, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) = length(trim(l.account_no, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) THEN upper(trim(l.account_no, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) ELSE translate(trim(l.account_no, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13))), 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ') END, ''), '\', '\\'), '|', '\|'))), from_hex('00000000000000000000000000000000')) AS dv_h0,
           COALESCE(from_hex(md5(replace(replace(NULLIF(CASE WHEN strlen(trim(l.customer_id, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) = length(trim(l.customer_id, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) THEN upper(trim(l.customer_id, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) ELSE translate(trim(l.customer_id, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13))), 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ') END, ''), '\', '\\'), '|', '\|'))), from_hex('00000000000000000000000000000000')) AS dv_h1,
           COALESCE(from_hex(md5(NULLIF(COALESCE(replace(replace(NULLIF(CASE WHEN strlen(trim(l.customer_id, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) = length(trim(l.customer_id, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) THEN upper(trim(l.customer_id, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) ELSE translate(trim(l.customer_id, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13))), 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ') END, ''), '\', '\\'), '|', '\|'), '\N') || '|' || COALESCE(replace(replace(NULLIF(CASE WHEN strlen(trim(l.account_no, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) = length(trim(l.account_no, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) THEN upper(trim(l.account_no, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) ELSE translate(trim(l.account_no, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13))), 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ') END, ''), '\', '\\'), '|', '\|'), '\N') || '|' || COALESCE(replace(replace(NULLIF(CASE WHEN strlen(trim(l.payment_no, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) = length(trim(l.payment_no, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) THEN upper(trim(l.payment_no, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) ELSE translate(trim(l.payment_no, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13))), 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ') END, ''), '\', '\\'), '|', '\|'), '\N'), '\N|\N|\N'))), from_hex('00000000000000000000000000000000')) AS dv_h2,
           from_hex(md5(concat_ws('|', 'amount=' || l.amount, 'currency=' || replace(replace(l.currency, '\', '\\'), '|', '\|'), 'note=' || replace(replace(l.note, '\', '\\'), '|', '\|')))) AS dv_h3
    FROM dv_land_payments l
    OFFSET 0
) l;
