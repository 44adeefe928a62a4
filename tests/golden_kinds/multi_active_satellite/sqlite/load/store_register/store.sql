-- Run with: sqlite3 -cmd ".parameter set :batch_id N" VAULT ".read load/store_register/store.sql"
BEGIN;

-- Hub store from source store_register: insert the business keys that hub_store does not hold yet.
-- Reads batch :batch_id staged in stg_store_register; running it again inserts nothing.
-- dv:quarantined
INSERT INTO dv_quarantine (batch_id, entity, row_number, source, reason, data)
SELECT s.dv_batch_id, 'store', s.dv_row, 'store_register', 'missing business key of hub store (store_code)', json_object('customer_id', s.customer_id, 'store_code', s.store_code, 'address', s.address, 'floor', s.floor, 'extracted_at', s.extracted_at)
FROM stg_store_register s
WHERE (s.dv_batch_id = :batch_id AND s.dv_hk_store = X'00000000000000000000000000000000')
  AND NOT EXISTS (
      SELECT 1 FROM dv_quarantine q
      WHERE q.batch_id = s.dv_batch_id AND q.entity = 'store' AND q.row_number = s.dv_row
  );

-- dv:inserted
INSERT INTO hub_store (store_hk, store_code, load_ts, record_source, batch_id)
SELECT dv_k.dv_hk_store, dv_k.store_code, dv_k.dv_loaded_at, 'shop.register', dv_k.dv_batch_id
FROM (
    SELECT s.dv_hk_store, s.store_code, s.dv_loaded_at, s.dv_batch_id, ROW_NUMBER() OVER (PARTITION BY s.dv_hk_store ORDER BY s.dv_row) AS dv_pick
    FROM stg_store_register s
    WHERE s.dv_batch_id = :batch_id
      AND s.dv_hk_store <> X'00000000000000000000000000000000'
) dv_k
WHERE dv_k.dv_pick = 1
  AND NOT EXISTS (SELECT 1 FROM hub_store h WHERE h.store_hk = dv_k.dv_hk_store)
ON CONFLICT DO NOTHING;

COMMIT;
