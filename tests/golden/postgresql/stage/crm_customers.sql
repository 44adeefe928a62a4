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
    :batch_id, l.dv_row, CAST(:loaded_at AS timestamp), COALESCE(l.dv_applied_at, CAST(:applied_at AS timestamp)),
    l.customer_id,
    l.name,
    l.email,
    l.city,
    l.extracted_at,
    COALESCE(decode(md5(convert_to(replace(replace(NULLIF(upper(btrim(l.customer_id, E' \t\r\n\f\x0B') COLLATE "C"), ''), '\', '\\'), '|', '\|'), 'UTF8')), 'hex'), '\x00000000000000000000000000000000'::bytea),
    decode(md5(convert_to(concat_ws('|', 'city=' || replace(replace(l.city, '\', '\\'), '|', '\|'), 'email=' || replace(replace(l.email, '\', '\\'), '|', '\|'), 'name=' || replace(replace(l.name, '\', '\\'), '|', '\|')), 'UTF8')), 'hex')
FROM dv_land_crm_customers l;

ANALYZE stg_crm_customers;
