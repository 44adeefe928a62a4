-- Stage source shop_orders: add the batch landed in dv_land_shop_orders to stg_shop_orders as batch
-- :batch_id, computing the hash keys and hash diffs of every hub, link and satellite it feeds.

-- dv:checked
INSERT INTO dv_quarantine (batch_id, entity, row_number, source, reason, data)
SELECT :batch_id, '', l.dv_row, 'shop_orders', 'check: ' || substr(CASE WHEN (l.status IS NOT NULL AND NOT (l.status IN ('placed', 'shipped', 'delivered', 'cancelled'))) THEN ', accepted_values_status' ELSE '' END || CASE WHEN (l.amount IS NOT NULL AND NOT (CASE WHEN CAST(l.amount AS REAL) < -1e-09 THEN -1 WHEN CAST(l.amount AS REAL) > 1e-09 THEN 1 ELSE CASE WHEN substr(l.amount, 1, 1) = '-' THEN -1 WHEN l.amount = '0' THEN 0 ELSE 1 END END >= 0)) THEN ', range_amount' ELSE '' END, 3), json_object('order_id', l.order_id, 'customer_ref', l.customer_ref, 'status', l.status, 'amount', dv_canonical('decimal', l.amount), 'ordered_at', dv_canonical('timestamp', l.ordered_at), 'changed_at', dv_canonical('timestamp', l.changed_at))
FROM dv_land_shop_orders l
WHERE (l.status IS NOT NULL AND NOT (l.status IN ('placed', 'shipped', 'delivered', 'cancelled'))) OR (l.amount IS NOT NULL AND NOT (CASE WHEN CAST(l.amount AS REAL) < -1e-09 THEN -1 WHEN CAST(l.amount AS REAL) > 1e-09 THEN 1 ELSE CASE WHEN substr(l.amount, 1, 1) = '-' THEN -1 WHEN l.amount = '0' THEN 0 ELSE 1 END END >= 0));

INSERT INTO stg_shop_orders (
    dv_batch_id, dv_row, dv_loaded_at, dv_applied_at,
    order_id,
    customer_ref,
    status,
    amount,
    ordered_at,
    changed_at,
    dv_hk_customer,
    dv_hk_order,
    dv_hk_order_customer,
    dv_hk_order_customer__order,
    dv_hk_order_customer__customer,
    dv_hd_order_status,
    dv_hk_order_customer_eff
)
SELECT
    :batch_id, l.dv_row, :loaded_at, COALESCE(l.dv_applied_at, :applied_at),
    l.order_id,
    l.customer_ref,
    l.status,
    l.amount,
    l.ordered_at,
    l.changed_at,
    l.dv_h0,
    l.dv_h1,
    l.dv_h2,
    l.dv_h1,
    l.dv_h0,
    l.dv_h3,
    l.dv_h1
FROM (
    SELECT l.*,
           dv_hash_key('md5', 'text', l.customer_ref) AS dv_h0,
           dv_hash_key('md5', 'text', l.order_id) AS dv_h1,
           dv_hash_key('md5', 'text', l.order_id, 'text', l.customer_ref) AS dv_h2,
           dv_hash_diff('md5', 'status', 'text', l.status, 'amount', 'decimal', l.amount, 'ordered_at', 'timestamp', l.ordered_at) AS dv_h3
    FROM dv_land_shop_orders l
    WHERE NOT ((l.status IS NOT NULL AND NOT (l.status IN ('placed', 'shipped', 'delivered', 'cancelled'))) OR (l.amount IS NOT NULL AND NOT (CASE WHEN CAST(l.amount AS REAL) < -1e-09 THEN -1 WHEN CAST(l.amount AS REAL) > 1e-09 THEN 1 ELSE CASE WHEN substr(l.amount, 1, 1) = '-' THEN -1 WHEN l.amount = '0' THEN 0 ELSE 1 END END >= 0)))
    LIMIT -1 OFFSET 0
) l;
