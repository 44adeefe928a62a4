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
    :batch_id, l.dv_row, CAST(:loaded_at AS TIMESTAMP_NTZ), COALESCE(l.dv_applied_at, CAST(:applied_at AS TIMESTAMP_NTZ)),
    l.customer_id,
    l.name,
    l.email,
    l.city,
    l.extracted_at,
    COALESCE(unhex(md5(replace(replace(NULLIF(transform(array(trim(BOTH concat(' ', char(9), char(10), char(11), char(12), char(13)) FROM l.customer_id)), dv_t -> CASE WHEN octet_length(dv_t) = length(dv_t) THEN upper(dv_t) ELSE translate(dv_t, 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ') END)[0], ''), '\\', '\\\\'), '|', '\\|'))), X'00000000000000000000000000000000'),
    unhex(md5(concat_ws('|', concat('city=', replace(replace(l.city, '\\', '\\\\'), '|', '\\|')), concat('email=', replace(replace(l.email, '\\', '\\\\'), '|', '\\|')), concat('name=', replace(replace(l.name, '\\', '\\\\'), '|', '\\|')))))
FROM dv_land_crm_customers l;
