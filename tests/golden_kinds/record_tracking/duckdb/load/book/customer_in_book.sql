-- Run with: duckdb -cmd "SET VARIABLE batch_id = N" -f load/book/customer_in_book.sql VAULT
BEGIN;

-- Record tracking customer_in_book (rts_customer_in_book) from source book: each key and applied time
-- at which a row of the batch gave the key, unless the table has it already (the first
-- loaded batch's row stands). A row whose delete marker says deleted did not see its key.
-- Reads batch :batch_id staged in stg_book; running it again inserts nothing.
-- dv:quarantined
INSERT INTO dv_quarantine (batch_id, entity, row_number, source, reason, data)
SELECT s.dv_batch_id, 'customer_in_book', s.dv_row, 'book', 'missing business key of hub customer', CAST(json_object('k', s.k, 'day', s.day) AS VARCHAR)
FROM stg_book s
WHERE (s.dv_batch_id = getvariable('batch_id') AND s.dv_hk_customer = from_hex('00000000000000000000000000000000'))
  AND NOT EXISTS (
      SELECT 1 FROM dv_quarantine q
      WHERE q.batch_id = s.dv_batch_id AND q.entity = 'customer_in_book' AND q.row_number = s.dv_row
  );

-- dv:inserted
INSERT INTO rts_customer_in_book (customer_hk, applied_ts, load_ts, record_source, batch_id)
SELECT s.dv_hk_customer, s.dv_applied_at, MIN(s.dv_loaded_at), 'book', MIN(s.dv_batch_id)
FROM stg_book s
WHERE s.dv_batch_id = getvariable('batch_id')
  AND s.dv_hk_customer <> from_hex('00000000000000000000000000000000')
  AND NOT EXISTS (SELECT 1 FROM rts_customer_in_book x
                  WHERE x.customer_hk = s.dv_hk_customer AND x.applied_ts = s.dv_applied_at)
GROUP BY s.dv_hk_customer, s.dv_applied_at;

COMMIT;
