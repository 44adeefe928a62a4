-- Run with: sqlite3 -cmd ".parameter set :batch_id N" VAULT ".read load/store_register/customer_store.sql"
BEGIN;

-- Link customer_store from source store_register: insert the relationships that link_customer_store does not hold yet.
-- Reads batch :batch_id staged in stg_store_register; running it again inserts nothing.
-- dv:quarantined
INSERT INTO dv_quarantine (batch_id, entity, row_number, source, reason, data)
SELECT s.dv_batch_id, 'customer_store', s.dv_row, 'store_register', 'missing business key of a hub of link customer_store (customer: customer_id; store: store_code)', json_object('customer_id', s.customer_id, 'store_code', s.store_code, 'address', s.address, 'floor', s.floor, 'extracted_at', s.extracted_at)
FROM stg_store_register s
WHERE (s.dv_batch_id = :batch_id AND (s.dv_hk_customer_store__customer = X'00000000000000000000000000000000' OR s.dv_hk_customer_store__store = X'00000000000000000000000000000000'))
  AND NOT EXISTS (
      SELECT 1 FROM dv_quarantine q
      WHERE q.batch_id = s.dv_batch_id AND q.entity = 'customer_store' AND q.row_number = s.dv_row
  );

-- dv:inserted
INSERT INTO link_customer_store (customer_store_hk, customer_hk, store_hk, load_ts, record_source, batch_id)
SELECT dv_k.dv_hk_customer_store, dv_k.dv_hk_customer_store__customer, dv_k.dv_hk_customer_store__store, dv_k.dv_loaded_at, 'shop.register', dv_k.dv_batch_id
FROM (
    SELECT s.dv_hk_customer_store, s.dv_hk_customer_store__customer, s.dv_hk_customer_store__store, s.dv_loaded_at, s.dv_batch_id, ROW_NUMBER() OVER (PARTITION BY s.dv_hk_customer_store ORDER BY s.dv_row) AS dv_pick
    FROM stg_store_register s
    WHERE s.dv_batch_id = :batch_id
      AND NOT (s.dv_hk_customer_store__customer = X'00000000000000000000000000000000' OR s.dv_hk_customer_store__store = X'00000000000000000000000000000000')
) dv_k
WHERE dv_k.dv_pick = 1
  AND NOT EXISTS (SELECT 1 FROM link_customer_store h WHERE h.customer_store_hk = dv_k.dv_hk_customer_store)
ON CONFLICT DO NOTHING;

COMMIT;
