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
    getvariable('batch_id'), l.dv_row, CAST(getvariable('loaded_at') AS TIMESTAMP), COALESCE(l.dv_applied_at, CAST(getvariable('applied_at') AS TIMESTAMP)),
    l.customer_id,
    l.name,
    l.email,
    l.city,
    l.extracted_at,
    COALESCE(from_hex(md5(replace(replace(NULLIF(CASE WHEN strlen(trim(l.customer_id, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) = length(trim(l.customer_id, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) THEN upper(trim(l.customer_id, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) ELSE translate(trim(l.customer_id, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13))), 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ') END, ''), '\', '\\'), '|', '\|'))), from_hex('00000000000000000000000000000000')),
    from_hex(md5(concat_ws('|', 'city=' || replace(replace(l.city, '\', '\\'), '|', '\|'), 'email=' || replace(replace(l.email, '\', '\\'), '|', '\|'), 'name=' || replace(replace(l.name, '\', '\\'), '|', '\|'))))
FROM dv_land_crm_customers l;
