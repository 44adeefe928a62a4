-- Run with: duckdb -cmd "SET VARIABLE batch_id = N" -f load/store_register/store.sql VAULT
BEGIN;

-- Hub store from source store_register: insert the business keys that hub_store does not hold yet.
-- Reads batch :batch_id staged in stg_store_register; running it again inserts nothing.
-- dv:quarantined
INSERT INTO dv_quarantine (batch_id, entity, row_number, source, reason, data)
SELECT s.dv_batch_id, 'store', s.dv_row, 'store_register', 'missing business key of hub store (store_code)', CAST(json_object('customer_id', s.customer_id, 'store_code', s.store_code, 'address', s.address, 'floor', s.floor, 'extracted_at', s.extracted_at) AS VARCHAR)
FROM stg_store_register s
WHERE (s.dv_batch_id = getvariable('batch_id') AND s.dv_hk_store = from_hex('00000000000000000000000000000000'))
  AND NOT EXISTS (
      SELECT 1 FROM dv_quarantine q
      WHERE q.batch_id = s.dv_batch_id AND q.entity = 'store' AND q.row_number = s.dv_row
  );

-- dv:inserted
INSERT INTO hub_store (store_hk, store_code, load_ts, record_source, batch_id)
SELECT dv_k.dv_hk_store, dv_k.store_code, dv_k.dv_loaded_at, 'shop.register', dv_k.dv_batch_id
FROM (
    SELECT DISTINCT ON (s.dv_hk_store) s.dv_hk_store, s.store_code, s.dv_loaded_at, s.dv_batch_id
    FROM stg_store_register s
    WHERE s.dv_batch_id = getvariable('batch_id')
      AND s.dv_hk_store <> from_hex('00000000000000000000000000000000')
    ORDER BY s.dv_hk_store, s.dv_row
) dv_k
WHERE NOT EXISTS (SELECT 1 FROM hub_store h WHERE h.store_hk = dv_k.dv_hk_store)
ON CONFLICT DO NOTHING;

COMMIT;
