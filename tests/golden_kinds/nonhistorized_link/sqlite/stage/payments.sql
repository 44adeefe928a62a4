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
    :batch_id, l.dv_row, :loaded_at, COALESCE(l.dv_applied_at, :applied_at),
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
           dv_hash_key('md5', 'text', l.account_no) AS dv_h0,
           dv_hash_key('md5', 'text', l.customer_id) AS dv_h1,
           dv_hash_key('md5', 'text', l.customer_id, 'text', l.account_no, 'text', l.payment_no) AS dv_h2,
           dv_hash_diff('md5', 'amount', 'decimal', l.amount, 'currency', 'text', l.currency, 'note', 'text', l.note) AS dv_h3
    FROM dv_land_payments l
    LIMIT -1 OFFSET 0
) l;
