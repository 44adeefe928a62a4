-- Stage source crm_phones: add the batch landed in dv_land_crm_phones to stg_crm_phones as batch
-- :batch_id, computing the hash keys and hash diffs of every hub, link and satellite it feeds.

-- dv:checked
INSERT INTO dv_quarantine (batch_id, entity, row_number, source, reason, data)
SELECT :batch_id, '', l.dv_row, 'crm_phones', 'check: ' || substr(CASE WHEN l.customer_id IS NULL OR l.phone_type IS NULL THEN ', not_null_customer_id_phone_type' ELSE '' END, 3), to_json(named_struct('customer_id', l.customer_id, 'phone_type', l.phone_type, 'phone_number', l.phone_number, 'extracted_at', date_format(l.extracted_at, 'yyyy-MM-dd''T''HH:mm:ss.SSSSSS')), map('ignoreNullFields', 'false', 'timestampNTZFormat', 'yyyy-MM-dd\'T\'HH:mm:ss.SSSSSS', 'timestampFormat', 'yyyy-MM-dd\'T\'HH:mm:ss.SSSSSS'))
FROM dv_land_crm_phones l
WHERE l.customer_id IS NULL OR l.phone_type IS NULL;

INSERT INTO stg_crm_phones (
    dv_batch_id, dv_row, dv_loaded_at, dv_applied_at,
    customer_id,
    phone_type,
    phone_number,
    extracted_at,
    dv_hk_customer,
    dv_hd_customer_phones
)
SELECT
    :batch_id, l.dv_row, CAST(:loaded_at AS TIMESTAMP_NTZ), COALESCE(l.dv_applied_at, CAST(:applied_at AS TIMESTAMP_NTZ)),
    l.customer_id,
    l.phone_type,
    l.phone_number,
    l.extracted_at,
    COALESCE(unhex(md5(replace(replace(NULLIF(transform(array(trim(BOTH concat(' ', char(9), char(10), char(11), char(12), char(13)) FROM l.customer_id)), dv_t -> CASE WHEN octet_length(dv_t) = length(dv_t) THEN upper(dv_t) ELSE translate(dv_t, 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ') END)[0], ''), '\\', '\\\\'), '|', '\\|'))), X'00000000000000000000000000000000'),
    unhex(md5(concat_ws('|', concat('phone_number=', replace(replace(l.phone_number, '\\', '\\\\'), '|', '\\|')), concat('phone_type=', replace(replace(l.phone_type, '\\', '\\\\'), '|', '\\|')))))
FROM dv_land_crm_phones l
WHERE NOT (l.customer_id IS NULL OR l.phone_type IS NULL);
