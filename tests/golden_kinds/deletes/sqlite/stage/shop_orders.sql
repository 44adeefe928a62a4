-- Stage source shop_orders: add the batch landed in dv_land_shop_orders to stg_shop_orders as batch
-- :batch_id, computing the hash keys and hash diffs of every hub, link and satellite it feeds.

INSERT INTO stg_shop_orders (
    dv_batch_id, dv_row, dv_loaded_at, dv_applied_at,
    order_id,
    customer_id,
    ordered_at,
    amount,
    cancelled,
    dv_deleted,
    dv_hk_customer,
    dv_hk_order,
    dv_hk_order_customer,
    dv_hk_order_customer__order,
    dv_hk_order_customer__customer,
    dv_hd_order_details
)
SELECT
    :batch_id, l.dv_row, :loaded_at, COALESCE(l.dv_applied_at, :applied_at),
    l.order_id,
    l.customer_id,
    l.ordered_at,
    l.amount,
    l.cancelled,
    l.dv_h0,
    l.dv_h1,
    l.dv_h2,
    l.dv_h3,
    l.dv_h2,
    l.dv_h1,
    l.dv_h4
FROM (
    SELECT l.*,
           CASE WHEN dv_canonical('boolean', l.cancelled) IN ('true') THEN 1 ELSE 0 END AS dv_h0,
           dv_hash_key('md5', 'text', l.customer_id) AS dv_h1,
           dv_hash_key('md5', 'text', l.order_id) AS dv_h2,
           dv_hash_key('md5', 'text', l.order_id, 'text', l.customer_id) AS dv_h3,
           dv_hash_diff('md5', 'amount', 'decimal', l.amount) AS dv_h4
    FROM dv_land_shop_orders l
    LIMIT -1 OFFSET 0
) l;
