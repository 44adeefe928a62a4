BEGIN;

-- Hub order from source shop_orders: insert the business keys that hub_order does not hold yet.
-- Reads batch :batch_id staged in stg_shop_orders; running it again inserts nothing.
-- dv:quarantined
INSERT INTO dv_quarantine (batch_id, entity, row_number, source, reason, data)
SELECT s.dv_batch_id, 'order', s.dv_row, 'shop_orders', 'missing business key of hub order (order_id)', to_json(named_struct('order_id', s.order_id, 'customer_ref', s.customer_ref, 'status', s.status, 'amount', s.amount, 'ordered_at', s.ordered_at, 'changed_at', s.changed_at), map('ignoreNullFields', 'false', 'timestampNTZFormat', 'yyyy-MM-dd\'T\'HH:mm:ss.SSSSSS', 'timestampFormat', 'yyyy-MM-dd\'T\'HH:mm:ss.SSSSSS'))
FROM stg_shop_orders s
WHERE (s.dv_batch_id = :batch_id AND s.dv_hk_order = X'00000000000000000000000000000000')
  AND NOT EXISTS (
      SELECT 1 FROM dv_quarantine q
      WHERE q.batch_id = s.dv_batch_id AND q.entity = 'order' AND q.row_number = s.dv_row
  );

-- dv:inserted
INSERT INTO hub_order (order_hk, order_number, load_ts, record_source, batch_id)
SELECT dv_k.dv_hk_order, dv_k.order_id, dv_k.dv_loaded_at, 'shop.orders', dv_k.dv_batch_id
FROM (
    SELECT s.dv_hk_order, s.order_id, s.dv_loaded_at, s.dv_batch_id, ROW_NUMBER() OVER (PARTITION BY s.dv_hk_order ORDER BY s.dv_row) AS dv_pick
    FROM stg_shop_orders s
    WHERE s.dv_batch_id = :batch_id
      AND s.dv_hk_order <> X'00000000000000000000000000000000'
) dv_k
WHERE dv_k.dv_pick = 1
  AND NOT EXISTS (SELECT 1 FROM hub_order h WHERE h.order_hk = dv_k.dv_hk_order)
;

COMMIT;
