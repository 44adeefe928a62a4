-- Run with: duckdb -cmd "SET VARIABLE batch_id = N" -f load/orders/money.sql VAULT
BEGIN;

-- Hub money from source orders: insert the business keys that hub_money does not hold yet.
-- Reads batch :batch_id staged in stg_orders; running it again inserts nothing.
-- dv:quarantined
INSERT INTO dv_quarantine (batch_id, entity, row_number, source, reason, data)
SELECT s.dv_batch_id, 'money', s.dv_row, 'orders', 'missing business key of hub money (currency_code)', CAST(json_object('order_number', s.order_number, 'currency_code', s.currency_code, 'weight_system', s.weight_system, 'weight_unit', s.weight_unit, 'changed_at', s.changed_at) AS VARCHAR)
FROM stg_orders s
WHERE (s.dv_batch_id = getvariable('batch_id') AND s.dv_hk_money = from_hex('00000000000000000000000000000000'))
  AND NOT EXISTS (
      SELECT 1 FROM dv_quarantine q
      WHERE q.batch_id = s.dv_batch_id AND q.entity = 'money' AND q.row_number = s.dv_row
  );

-- dv:inserted
INSERT INTO hub_money (money_hk, currency_code, load_ts, record_source, batch_id)
SELECT dv_k.dv_hk_money, dv_k.currency_code, dv_k.dv_loaded_at, 'shop.orders', dv_k.dv_batch_id
FROM (
    SELECT DISTINCT ON (s.dv_hk_money) s.dv_hk_money, s.currency_code, s.dv_loaded_at, s.dv_batch_id
    FROM stg_orders s
    WHERE s.dv_batch_id = getvariable('batch_id')
      AND s.dv_hk_money <> from_hex('00000000000000000000000000000000')
    ORDER BY s.dv_hk_money, s.dv_row
) dv_k
WHERE NOT EXISTS (SELECT 1 FROM hub_money h WHERE h.money_hk = dv_k.dv_hk_money)
ON CONFLICT DO NOTHING;

COMMIT;
