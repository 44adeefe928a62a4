-- Stage source orders: add the batch landed in dv_land_orders to stg_orders as batch
-- :batch_id, computing the hash keys and hash diffs of every hub, link and satellite it feeds.

INSERT INTO stg_orders (
    dv_batch_id, dv_row, dv_loaded_at, dv_applied_at,
    order_number,
    currency_code,
    weight_system,
    weight_unit,
    changed_at,
    dv_hk_money,
    dv_hk_order,
    dv_hk_order_money,
    dv_hk_order_money__order,
    dv_hk_order_money__money,
    dv_hd_order_details
)
SELECT
    :batch_id, l.dv_row, :loaded_at, COALESCE(l.dv_applied_at, :applied_at),
    l.order_number,
    l.currency_code,
    l.weight_system,
    l.weight_unit,
    l.changed_at,
    l.dv_h0,
    l.dv_h1,
    l.dv_h2,
    l.dv_h1,
    l.dv_h0,
    l.dv_h3
FROM (
    SELECT l.*,
           dv_hash_key('md5', 'text', l.currency_code) AS dv_h0,
           dv_hash_key('md5', 'text', l.order_number) AS dv_h1,
           dv_hash_key('md5', 'text', l.order_number, 'text', l.currency_code) AS dv_h2,
           dv_hash_diff('md5', 'currency_code', 'text', l.currency_code, 'weight_system', 'text', l.weight_system, 'weight_unit', 'text', l.weight_unit) AS dv_h3
    FROM dv_land_orders l
    LIMIT -1 OFFSET 0
) l;
