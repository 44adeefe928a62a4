-- Stage source order_customers: add the batch landed in dv_land_order_customers to stg_order_customers as batch
-- :batch_id, computing the hash keys and hash diffs of every hub, link and satellite it feeds.

INSERT INTO stg_order_customers (
    dv_batch_id, dv_row, dv_loaded_at, dv_applied_at,
    order_no,
    customer_id,
    extracted_at,
    dv_hk_customer,
    dv_hk_order,
    dv_hk_order_customer,
    dv_hk_order_customer__order,
    dv_hk_order_customer__customer,
    dv_hk_order_customer_booked,
    dv_hk_order_customer_eff
)
SELECT
    :batch_id, l.dv_row, :loaded_at, COALESCE(l.dv_applied_at, :applied_at),
    l.order_no,
    l.customer_id,
    l.extracted_at,
    l.dv_h0,
    l.dv_h1,
    l.dv_h2,
    l.dv_h1,
    l.dv_h0,
    l.dv_h2,
    l.dv_h1
FROM (
    SELECT l.*,
           dv_hash_key('md5', 'text', l.customer_id) AS dv_h0,
           dv_hash_key('md5', 'text', l.order_no) AS dv_h1,
           dv_hash_key('md5', 'text', l.order_no, 'text', l.customer_id) AS dv_h2
    FROM dv_land_order_customers l
    LIMIT -1 OFFSET 0
) l;
