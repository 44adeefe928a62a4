-- Run with: duckdb -cmd "SET VARIABLE batch_id = N" -f load/book/customer.sql VAULT
BEGIN;

-- Hub customer from source book: insert the business keys that hub_customer does not hold yet.
-- Reads batch :batch_id staged in stg_book; running it again inserts nothing.
-- dv:quarantined
INSERT INTO dv_quarantine (batch_id, entity, row_number, source, reason, data)
SELECT s.dv_batch_id, 'customer', s.dv_row, 'book', 'missing business key of hub customer (k)', CAST(json_object('k', s.k, 'day', s.day) AS VARCHAR)
FROM stg_book s
WHERE (s.dv_batch_id = getvariable('batch_id') AND s.dv_hk_customer = from_hex('00000000000000000000000000000000'))
  AND NOT EXISTS (
      SELECT 1 FROM dv_quarantine q
      WHERE q.batch_id = s.dv_batch_id AND q.entity = 'customer' AND q.row_number = s.dv_row
  );

-- dv:inserted
INSERT INTO hub_customer (customer_hk, k, load_ts, record_source, batch_id)
SELECT dv_k.dv_hk_customer, dv_k.k, dv_k.dv_loaded_at, 'book', dv_k.dv_batch_id
FROM (
    SELECT DISTINCT ON (s.dv_hk_customer) s.dv_hk_customer, s.k, s.dv_loaded_at, s.dv_batch_id
    FROM stg_book s
    WHERE s.dv_batch_id = getvariable('batch_id')
      AND s.dv_hk_customer <> from_hex('00000000000000000000000000000000')
    ORDER BY s.dv_hk_customer, s.dv_row
) dv_k
WHERE NOT EXISTS (SELECT 1 FROM hub_customer h WHERE h.customer_hk = dv_k.dv_hk_customer)
ON CONFLICT DO NOTHING;

COMMIT;
