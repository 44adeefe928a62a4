-- Run with: sqlite3 -cmd ".parameter set :batch_id N" VAULT ".read load/payments/payment.sql"
BEGIN;

-- Non-historized link payment (nhl_payment) from source payments: an event is inserted
-- once, and the first one loaded stands. An event the table holds takes the batch's rows
-- with its hash diff as duplicates and quarantines the others; an event it does not hold is
-- inserted when the batch's rows of it have one hash diff (at their earliest applied time),
-- else every one of them is quarantined. Reads batch :batch_id staged in stg_payments;
-- running it again inserts nothing.
DROP TABLE IF EXISTS dv_events;

-- dv:quarantined
INSERT INTO dv_quarantine (batch_id, entity, row_number, source, reason, data)
SELECT s.dv_batch_id, 'payment', s.dv_row, 'payments', 'missing business key of a hub of non-historized link payment (customer: customer_id; account: account_no)', json_object('payment_no', s.payment_no, 'customer_id', s.customer_id, 'account_no', s.account_no, 'paid_at', s.paid_at, 'amount', s.amount, 'currency', s.currency, 'note', s.note)
FROM stg_payments s
WHERE (s.dv_batch_id = :batch_id AND (s.dv_hk_payment__customer = X'00000000000000000000000000000000' OR s.dv_hk_payment__account = X'00000000000000000000000000000000'))
  AND NOT EXISTS (
      SELECT 1 FROM dv_quarantine q
      WHERE q.batch_id = s.dv_batch_id AND q.entity = 'payment' AND q.row_number = s.dv_row
  );

-- The batch's rows of each event, beside the row stored for it.
CREATE TEMPORARY TABLE dv_events AS
WITH src AS (
    SELECT s.dv_batch_id, s.dv_row, s.dv_applied_at, s.dv_hk_payment AS dv_hk, s.dv_hd_payment AS dv_hd
    FROM stg_payments s
    WHERE s.dv_batch_id = :batch_id
      AND NOT (s.dv_hk_payment__customer = X'00000000000000000000000000000000' OR s.dv_hk_payment__account = X'00000000000000000000000000000000')
),
clash AS (SELECT dv_hk FROM src GROUP BY dv_hk HAVING COUNT(DISTINCT dv_hd) > 1)
SELECT r.dv_batch_id, r.dv_row, r.dv_hk, r.dv_hd,
       CASE WHEN c.dv_hk IS NULL THEN 0 ELSE 1 END AS dv_conflict,
       ROW_NUMBER() OVER (PARTITION BY r.dv_hk ORDER BY r.dv_applied_at, r.dv_row) AS dv_pick,
       x.hash_diff AS dv_stored_hd, x.batch_id AS dv_stored_batch
FROM src r
LEFT JOIN clash c ON c.dv_hk = r.dv_hk
LEFT JOIN nhl_payment x ON x.payment_hk = r.dv_hk;

-- A payload other than the stored one: the event stands as first loaded.
-- dv:quarantined
INSERT INTO dv_quarantine (batch_id, entity, row_number, source, reason, data)
SELECT s.dv_batch_id, 'payment', s.dv_row, 'payments', 'conflict: batch ' || CAST(e.dv_stored_batch AS TEXT) || ' stored another payload for this event of payment; an event is stored once and never changed (a correction is an event of its own)', json_object('payment_no', s.payment_no, 'customer_id', s.customer_id, 'account_no', s.account_no, 'paid_at', s.paid_at, 'amount', s.amount, 'currency', s.currency, 'note', s.note)
FROM stg_payments s JOIN dv_events e ON e.dv_batch_id = s.dv_batch_id AND e.dv_row = s.dv_row
WHERE (e.dv_stored_hd IS NOT NULL AND e.dv_stored_hd <> e.dv_hd)
  AND NOT EXISTS (
      SELECT 1 FROM dv_quarantine q
      WHERE q.batch_id = s.dv_batch_id AND q.entity = 'payment' AND q.row_number = s.dv_row
  );

-- An event not stored yet that the batch gives more than one payload: none is picked.
-- dv:quarantined
INSERT INTO dv_quarantine (batch_id, entity, row_number, source, reason, data)
SELECT s.dv_batch_id, 'payment', s.dv_row, 'payments', 'conflict: other rows of this batch give another payload for the same event of payment, so none is stored; if they are different events, declare event_key columns that tell them apart', json_object('payment_no', s.payment_no, 'customer_id', s.customer_id, 'account_no', s.account_no, 'paid_at', s.paid_at, 'amount', s.amount, 'currency', s.currency, 'note', s.note)
FROM stg_payments s JOIN dv_events e ON e.dv_batch_id = s.dv_batch_id AND e.dv_row = s.dv_row
WHERE (e.dv_stored_hd IS NULL AND e.dv_conflict = 1)
  AND NOT EXISTS (
      SELECT 1 FROM dv_quarantine q
      WHERE q.batch_id = s.dv_batch_id AND q.entity = 'payment' AND q.row_number = s.dv_row
  );

-- dv:inserted
INSERT INTO nhl_payment (payment_hk, customer_hk, account_hk, payment_number, applied_ts, load_ts, hash_diff, amount, currency, note, record_source, batch_id)
SELECT e.dv_hk, s.dv_hk_payment__customer, s.dv_hk_payment__account, s.payment_no, s.dv_applied_at, s.dv_loaded_at, e.dv_hd, s.amount, s.currency, s.note, 'bank.payments', s.dv_batch_id
FROM stg_payments s JOIN dv_events e ON e.dv_batch_id = s.dv_batch_id AND e.dv_row = s.dv_row
WHERE e.dv_pick = 1 AND e.dv_conflict = 0 AND e.dv_stored_hd IS NULL;

DROP TABLE IF EXISTS dv_events;

COMMIT;
