BEGIN;

-- Hub customer from source crm_customers: insert the business keys that hub_customer does not hold yet.
-- Reads batch :batch_id staged in stg_crm_customers; running it again inserts nothing.
-- dv:quarantined
INSERT INTO dv_quarantine (batch_id, entity, row_number, source, reason, data)
SELECT s.dv_batch_id, 'customer', s.dv_row, 'crm_customers', 'missing business key of hub customer (customer_id)', to_json(named_struct('customer_id', s.customer_id, 'name', s.name, 'email', s.email, 'city', s.city, 'extracted_at', s.extracted_at), map('ignoreNullFields', 'false', 'timestampNTZFormat', 'yyyy-MM-dd\'T\'HH:mm:ss.SSSSSS', 'timestampFormat', 'yyyy-MM-dd\'T\'HH:mm:ss.SSSSSS'))
FROM stg_crm_customers s
WHERE (s.dv_batch_id = :batch_id AND s.dv_hk_customer = X'00000000000000000000000000000000')
  AND NOT EXISTS (
      SELECT 1 FROM dv_quarantine q
      WHERE q.batch_id = s.dv_batch_id AND q.entity = 'customer' AND q.row_number = s.dv_row
  );

-- dv:inserted
INSERT INTO hub_customer (customer_hk, customer_number, load_ts, record_source, batch_id)
SELECT dv_k.dv_hk_customer, dv_k.customer_id, dv_k.dv_loaded_at, 'crm.customers', dv_k.dv_batch_id
FROM (
    SELECT s.dv_hk_customer, s.customer_id, s.dv_loaded_at, s.dv_batch_id, ROW_NUMBER() OVER (PARTITION BY s.dv_hk_customer ORDER BY s.dv_row) AS dv_pick
    FROM stg_crm_customers s
    WHERE s.dv_batch_id = :batch_id
      AND s.dv_hk_customer <> X'00000000000000000000000000000000'
) dv_k
WHERE dv_k.dv_pick = 1
  AND NOT EXISTS (SELECT 1 FROM hub_customer h WHERE h.customer_hk = dv_k.dv_hk_customer)
;

COMMIT;
