-- Run with: psql -v ON_ERROR_STOP=1 -v batch_id=N -f load/order_customers/order_customer.sql
BEGIN;

-- Link order_customer from source order_customers: insert the relationships that link_order_customer does not hold yet.
-- Reads batch :batch_id staged in stg_order_customers; running it again inserts nothing.
-- dv:quarantined
INSERT INTO dv_quarantine (batch_id, entity, row_number, source, reason, data)
SELECT s.dv_batch_id, 'order_customer', s.dv_row, 'order_customers', 'missing business key of a hub of link order_customer (order: order_no; customer: customer_id)', json_build_object('order_no', s.order_no, 'customer_id', s.customer_id, 'extracted_at', s.extracted_at)::text
FROM stg_order_customers s
WHERE (s.dv_batch_id = :batch_id AND (s.dv_hk_order_customer__order = '\x00000000000000000000000000000000'::bytea OR s.dv_hk_order_customer__customer = '\x00000000000000000000000000000000'::bytea))
  AND NOT EXISTS (
      SELECT 1 FROM dv_quarantine q
      WHERE q.batch_id = s.dv_batch_id AND q.entity = 'order_customer' AND q.row_number = s.dv_row
  );

-- dv:inserted
INSERT INTO link_order_customer (order_customer_hk, order_hk, customer_hk, load_ts, record_source, batch_id)
SELECT dv_k.dv_hk_order_customer, dv_k.dv_hk_order_customer__order, dv_k.dv_hk_order_customer__customer, dv_k.dv_loaded_at, 'shop.order_customers', dv_k.dv_batch_id
FROM (
    SELECT DISTINCT ON (s.dv_hk_order_customer) s.dv_hk_order_customer, s.dv_hk_order_customer__order, s.dv_hk_order_customer__customer, s.dv_loaded_at, s.dv_batch_id
    FROM stg_order_customers s
    WHERE s.dv_batch_id = :batch_id
      AND NOT (s.dv_hk_order_customer__order = '\x00000000000000000000000000000000'::bytea OR s.dv_hk_order_customer__customer = '\x00000000000000000000000000000000'::bytea)
    ORDER BY s.dv_hk_order_customer, s.dv_row
) dv_k
WHERE NOT EXISTS (SELECT 1 FROM link_order_customer h WHERE h.order_customer_hk = dv_k.dv_hk_order_customer)
ON CONFLICT DO NOTHING;

COMMIT;
