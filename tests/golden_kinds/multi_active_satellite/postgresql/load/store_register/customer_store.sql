-- Run with: psql -v ON_ERROR_STOP=1 -v batch_id=N -f load/store_register/customer_store.sql
BEGIN;

-- Link customer_store from source store_register: insert the relationships that link_customer_store does not hold yet.
-- Reads batch :batch_id staged in stg_store_register; running it again inserts nothing.
-- dv:quarantined
INSERT INTO dv_quarantine (batch_id, entity, row_number, source, reason, data)
SELECT s.dv_batch_id, 'customer_store', s.dv_row, 'store_register', 'missing business key of a hub of link customer_store (customer: customer_id; store: store_code)', json_build_object('customer_id', s.customer_id, 'store_code', s.store_code, 'address', s.address, 'floor', s.floor, 'extracted_at', s.extracted_at)::text
FROM stg_store_register s
WHERE (s.dv_batch_id = :batch_id AND (s.dv_hk_customer_store__customer = '\x00000000000000000000000000000000'::bytea OR s.dv_hk_customer_store__store = '\x00000000000000000000000000000000'::bytea))
  AND NOT EXISTS (
      SELECT 1 FROM dv_quarantine q
      WHERE q.batch_id = s.dv_batch_id AND q.entity = 'customer_store' AND q.row_number = s.dv_row
  );

-- dv:inserted
INSERT INTO link_customer_store (customer_store_hk, customer_hk, store_hk, load_ts, record_source, batch_id)
SELECT dv_k.dv_hk_customer_store, dv_k.dv_hk_customer_store__customer, dv_k.dv_hk_customer_store__store, dv_k.dv_loaded_at, 'shop.register', dv_k.dv_batch_id
FROM (
    SELECT DISTINCT ON (s.dv_hk_customer_store) s.dv_hk_customer_store, s.dv_hk_customer_store__customer, s.dv_hk_customer_store__store, s.dv_loaded_at, s.dv_batch_id
    FROM stg_store_register s
    WHERE s.dv_batch_id = :batch_id
      AND NOT (s.dv_hk_customer_store__customer = '\x00000000000000000000000000000000'::bytea OR s.dv_hk_customer_store__store = '\x00000000000000000000000000000000'::bytea)
    ORDER BY s.dv_hk_customer_store, s.dv_row
) dv_k
WHERE NOT EXISTS (SELECT 1 FROM link_customer_store h WHERE h.customer_store_hk = dv_k.dv_hk_customer_store)
ON CONFLICT DO NOTHING;

COMMIT;
