-- Stage source crm_customers: add the batch landed in dv_land_crm_customers to stg_crm_customers as batch
-- :batch_id, computing the hash keys and hash diffs of every hub, link and satellite it feeds.

INSERT INTO stg_crm_customers (
    dv_batch_id, dv_row, dv_loaded_at, dv_applied_at,
    customer_id,
    name,
    email,
    city,
    extracted_at,
    dv_hk_customer,
    dv_hd_customer_details
)
SELECT
    :batch_id, l.dv_row, :loaded_at, COALESCE(l.dv_applied_at, :applied_at),
    l.customer_id,
    l.name,
    l.email,
    l.city,
    l.extracted_at,
    dv_hash_key('md5', 'text', l.customer_id),
    dv_hash_diff('md5', 'name', 'text', l.name, 'email', 'text', l.email, 'city', 'text', l.city)
FROM dv_land_crm_customers l;
