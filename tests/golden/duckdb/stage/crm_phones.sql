-- Stage source crm_phones: add the batch landed in dv_land_crm_phones to stg_crm_phones as batch
-- :batch_id, computing the hash keys and hash diffs of every hub, link and satellite it feeds.

-- dv:checked
INSERT INTO dv_quarantine (batch_id, entity, row_number, source, reason, data)
SELECT getvariable('batch_id'), '', l.dv_row, 'crm_phones', 'check: ' || substr(CASE WHEN l.customer_id IS NULL OR l.phone_type IS NULL THEN ', not_null_customer_id_phone_type' ELSE '' END, 3), CAST(json_object('customer_id', l.customer_id, 'phone_type', l.phone_type, 'phone_number', l.phone_number, 'extracted_at', strftime(l.extracted_at, '%Y-%m-%dT%H:%M:%S.%f')) AS VARCHAR)
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
    getvariable('batch_id'), l.dv_row, CAST(getvariable('loaded_at') AS TIMESTAMP), COALESCE(l.dv_applied_at, CAST(getvariable('applied_at') AS TIMESTAMP)),
    l.customer_id,
    l.phone_type,
    l.phone_number,
    l.extracted_at,
    COALESCE(from_hex(md5(replace(replace(NULLIF(CASE WHEN strlen(trim(l.customer_id, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) = length(trim(l.customer_id, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) THEN upper(trim(l.customer_id, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) ELSE translate(trim(l.customer_id, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13))), 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ') END, ''), '\', '\\'), '|', '\|'))), from_hex('00000000000000000000000000000000')),
    from_hex(md5(concat_ws('|', 'phone_number=' || replace(replace(l.phone_number, '\', '\\'), '|', '\|'), 'phone_type=' || replace(replace(l.phone_type, '\', '\\'), '|', '\|'))))
FROM dv_land_crm_phones l
WHERE NOT (l.customer_id IS NULL OR l.phone_type IS NULL);

-- The hash diff of the set of customer_phones that each row is a member of.
UPDATE stg_crm_phones AS s
SET dv_hs_customer_phones = g.dv_set
FROM (
    SELECT t.dv_hk, t.dv_applied, COALESCE(from_hex(md5(string_agg(DISTINCT lower(hex(t.dv_member)), '|' ORDER BY lower(hex(t.dv_member))))), from_hex('00000000000000000000000000000000')) AS dv_set
    FROM (
        SELECT x.dv_hk_customer AS dv_hk, x.dv_applied_at AS dv_applied, x.dv_hd_customer_phones AS dv_member,
               1 AS dv_rank
        FROM stg_crm_phones x
        WHERE x.dv_batch_id = getvariable('batch_id')
    ) t
    WHERE t.dv_rank = 1
    GROUP BY t.dv_hk, t.dv_applied
) g
WHERE s.dv_batch_id = getvariable('batch_id') AND s.dv_hk_customer = g.dv_hk AND s.dv_applied_at = g.dv_applied;
