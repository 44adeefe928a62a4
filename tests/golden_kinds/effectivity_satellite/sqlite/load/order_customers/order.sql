-- Run with: sqlite3 -cmd ".parameter set :batch_id N" VAULT ".read load/order_customers/order.sql"
BEGIN;

-- Hub order from source order_customers: insert the business keys that hub_order does not hold yet.
-- Reads batch :batch_id staged in stg_order_customers; running it again inserts nothing.
-- dv:quarantined
INSERT INTO dv_quarantine (batch_id, entity, row_number, source, reason, data)
SELECT s.dv_batch_id, 'order', s.dv_row, 'order_customers', 'missing business key of hub order (order_no)', json_object('order_no', s.order_no, 'customer_id', s.customer_id, 'extracted_at', s.extracted_at)
FROM stg_order_customers s
WHERE (s.dv_batch_id = :batch_id AND s.dv_hk_order = X'00000000000000000000000000000000')
  AND NOT EXISTS (
      SELECT 1 FROM dv_quarantine q
      WHERE q.batch_id = s.dv_batch_id AND q.entity = 'order' AND q.row_number = s.dv_row
  );

-- dv:inserted
INSERT INTO hub_order (order_hk, order_no, load_ts, record_source, batch_id)
SELECT dv_k.dv_hk_order, dv_k.order_no, dv_k.dv_loaded_at, 'shop.order_customers', dv_k.dv_batch_id
FROM (
    SELECT s.dv_hk_order, s.order_no, s.dv_loaded_at, s.dv_batch_id, ROW_NUMBER() OVER (PARTITION BY s.dv_hk_order ORDER BY s.dv_row) AS dv_pick
    FROM stg_order_customers s
    WHERE s.dv_batch_id = :batch_id
      AND s.dv_hk_order <> X'00000000000000000000000000000000'
) dv_k
WHERE dv_k.dv_pick = 1
  AND NOT EXISTS (SELECT 1 FROM hub_order h WHERE h.order_hk = dv_k.dv_hk_order)
ON CONFLICT DO NOTHING;

COMMIT;
