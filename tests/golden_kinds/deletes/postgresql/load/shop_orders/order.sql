-- Run with: psql -v ON_ERROR_STOP=1 -v batch_id=N -f load/shop_orders/order.sql
BEGIN;

-- Hub order from source shop_orders: insert the business keys that hub_order does not hold yet.
-- Reads batch :batch_id staged in stg_shop_orders; running it again inserts nothing.
-- dv:quarantined
INSERT INTO dv_quarantine (batch_id, entity, row_number, source, reason, data)
SELECT s.dv_batch_id, 'order', s.dv_row, 'shop_orders', 'missing business key of hub order (order_id)', json_build_object('order_id', s.order_id, 'customer_id', s.customer_id, 'ordered_at', s.ordered_at, 'amount', s.amount, 'cancelled', s.cancelled)::text
FROM stg_shop_orders s
WHERE (s.dv_batch_id = :batch_id AND s.dv_hk_order = '\x00000000000000000000000000000000'::bytea)
  AND NOT EXISTS (
      SELECT 1 FROM dv_quarantine q
      WHERE q.batch_id = s.dv_batch_id AND q.entity = 'order' AND q.row_number = s.dv_row
  );

-- dv:inserted
INSERT INTO hub_order (order_hk, order_id, load_ts, record_source, batch_id)
SELECT dv_k.dv_hk_order, dv_k.order_id, dv_k.dv_loaded_at, 'shop_orders', dv_k.dv_batch_id
FROM (
    SELECT DISTINCT ON (s.dv_hk_order) s.dv_hk_order, s.order_id, s.dv_loaded_at, s.dv_batch_id
    FROM stg_shop_orders s
    WHERE s.dv_batch_id = :batch_id
      AND s.dv_hk_order <> '\x00000000000000000000000000000000'::bytea
    ORDER BY s.dv_hk_order, s.dv_row
) dv_k
WHERE NOT EXISTS (SELECT 1 FROM hub_order h WHERE h.order_hk = dv_k.dv_hk_order)
ON CONFLICT DO NOTHING;

COMMIT;
