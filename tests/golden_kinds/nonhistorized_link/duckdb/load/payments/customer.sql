-- Run with: duckdb -cmd "SET VARIABLE batch_id = N" -f load/payments/customer.sql VAULT
BEGIN;

-- Hub customer from source payments: insert the business keys that hub_customer does not hold yet.
-- Reads batch :batch_id staged in stg_payments; running it again inserts nothing.
-- dv:quarantined
INSERT INTO dv_quarantine (batch_id, entity, row_number, source, reason, data)
SELECT s.dv_batch_id, 'customer', s.dv_row, 'payments', 'missing business key of hub customer (customer_id)', CAST(json_object('payment_no', s.payment_no, 'customer_id', s.customer_id, 'account_no', s.account_no, 'paid_at', s.paid_at, 'amount', s.amount, 'currency', s.currency, 'note', s.note) AS VARCHAR)
FROM stg_payments s
WHERE (s.dv_batch_id = getvariable('batch_id') AND s.dv_hk_customer = from_hex('00000000000000000000000000000000'))
  AND NOT EXISTS (
      SELECT 1 FROM dv_quarantine q
      WHERE q.batch_id = s.dv_batch_id AND q.entity = 'customer' AND q.row_number = s.dv_row
  );

-- dv:inserted
INSERT INTO hub_customer (customer_hk, customer_number, load_ts, record_source, batch_id)
SELECT dv_k.dv_hk_customer, dv_k.customer_id, dv_k.dv_loaded_at, 'bank.payments', dv_k.dv_batch_id
FROM (
    SELECT DISTINCT ON (s.dv_hk_customer) s.dv_hk_customer, s.customer_id, s.dv_loaded_at, s.dv_batch_id
    FROM stg_payments s
    WHERE s.dv_batch_id = getvariable('batch_id')
      AND s.dv_hk_customer <> from_hex('00000000000000000000000000000000')
    ORDER BY s.dv_hk_customer, s.dv_row
) dv_k
WHERE NOT EXISTS (SELECT 1 FROM hub_customer h WHERE h.customer_hk = dv_k.dv_hk_customer)
ON CONFLICT DO NOTHING;

COMMIT;
