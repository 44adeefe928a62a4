-- Run with: psql -v ON_ERROR_STOP=1 -v batch_id=N -f load/orders/order_money.sql
BEGIN;

-- Link order_money from source orders: insert the relationships that link_order_money does not hold yet.
-- Reads batch :batch_id staged in stg_orders; running it again inserts nothing.
-- dv:quarantined
INSERT INTO dv_quarantine (batch_id, entity, row_number, source, reason, data)
SELECT s.dv_batch_id, 'order_money', s.dv_row, 'orders', 'missing business key of a hub of link order_money (order: order_number; money: currency_code)', json_build_object('order_number', s.order_number, 'currency_code', s.currency_code, 'weight_system', s.weight_system, 'weight_unit', s.weight_unit, 'changed_at', s.changed_at)::text
FROM stg_orders s
WHERE (s.dv_batch_id = :batch_id AND (s.dv_hk_order_money__order = '\x00000000000000000000000000000000'::bytea OR s.dv_hk_order_money__money = '\x00000000000000000000000000000000'::bytea))
  AND NOT EXISTS (
      SELECT 1 FROM dv_quarantine q
      WHERE q.batch_id = s.dv_batch_id AND q.entity = 'order_money' AND q.row_number = s.dv_row
  );

-- dv:inserted
INSERT INTO link_order_money (order_money_hk, order_hk, money_hk, load_ts, record_source, batch_id)
SELECT dv_k.dv_hk_order_money, dv_k.dv_hk_order_money__order, dv_k.dv_hk_order_money__money, dv_k.dv_loaded_at, 'shop.orders', dv_k.dv_batch_id
FROM (
    SELECT DISTINCT ON (s.dv_hk_order_money) s.dv_hk_order_money, s.dv_hk_order_money__order, s.dv_hk_order_money__money, s.dv_loaded_at, s.dv_batch_id
    FROM stg_orders s
    WHERE s.dv_batch_id = :batch_id
      AND NOT (s.dv_hk_order_money__order = '\x00000000000000000000000000000000'::bytea OR s.dv_hk_order_money__money = '\x00000000000000000000000000000000'::bytea)
    ORDER BY s.dv_hk_order_money, s.dv_row
) dv_k
WHERE NOT EXISTS (SELECT 1 FROM link_order_money h WHERE h.order_money_hk = dv_k.dv_hk_order_money)
ON CONFLICT DO NOTHING;

COMMIT;
