-- Run with: psql -v ON_ERROR_STOP=1 -v batch_id=N -f load/payments/account.sql
BEGIN;

-- Hub account from source payments: insert the business keys that hub_account does not hold yet.
-- Reads batch :batch_id staged in stg_payments; running it again inserts nothing.
-- dv:quarantined
INSERT INTO dv_quarantine (batch_id, entity, row_number, source, reason, data)
SELECT s.dv_batch_id, 'account', s.dv_row, 'payments', 'missing business key of hub account (account_no)', json_build_object('payment_no', s.payment_no, 'customer_id', s.customer_id, 'account_no', s.account_no, 'paid_at', s.paid_at, 'amount', s.amount, 'currency', s.currency, 'note', s.note)::text
FROM stg_payments s
WHERE (s.dv_batch_id = :batch_id AND s.dv_hk_account = '\x00000000000000000000000000000000'::bytea)
  AND NOT EXISTS (
      SELECT 1 FROM dv_quarantine q
      WHERE q.batch_id = s.dv_batch_id AND q.entity = 'account' AND q.row_number = s.dv_row
  );

-- dv:inserted
INSERT INTO hub_account (account_hk, account_number, load_ts, record_source, batch_id)
SELECT dv_k.dv_hk_account, dv_k.account_no, dv_k.dv_loaded_at, 'bank.payments', dv_k.dv_batch_id
FROM (
    SELECT DISTINCT ON (s.dv_hk_account) s.dv_hk_account, s.account_no, s.dv_loaded_at, s.dv_batch_id
    FROM stg_payments s
    WHERE s.dv_batch_id = :batch_id
      AND s.dv_hk_account <> '\x00000000000000000000000000000000'::bytea
    ORDER BY s.dv_hk_account, s.dv_row
) dv_k
WHERE NOT EXISTS (SELECT 1 FROM hub_account h WHERE h.account_hk = dv_k.dv_hk_account)
ON CONFLICT DO NOTHING;

COMMIT;
