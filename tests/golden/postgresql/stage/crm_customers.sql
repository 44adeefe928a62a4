-- Stage source crm_customers: replace stg_crm_customers with the batch landed in dv_land_crm_customers,
-- computing the hash keys and hash diffs of every hub, link and satellite it feeds.
DELETE FROM stg_crm_customers;

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
    CASE WHEN replace(replace(NULLIF(translate(btrim(l.customer_id, E' \t\r\n\f\x0B'), 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'), ''), '\', '\\'), '|', '\|') IS NULL THEN '\x00000000000000000000000000000000'::bytea ELSE decode(md5(convert_to(replace(replace(NULLIF(translate(btrim(l.customer_id, E' \t\r\n\f\x0B'), 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'), ''), '\', '\\'), '|', '\|'), 'UTF8')), 'hex') END,
    decode(md5(convert_to(concat_ws('|', CASE WHEN l.city IS NOT NULL THEN 'city=' || replace(replace(l.city, '\', '\\'), '|', '\|') END, CASE WHEN l.email IS NOT NULL THEN 'email=' || replace(replace(l.email, '\', '\\'), '|', '\|') END, CASE WHEN l.name IS NOT NULL THEN 'name=' || replace(replace(l.name, '\', '\\'), '|', '\|') END), 'UTF8')), 'hex')
FROM dv_land_crm_customers l;
