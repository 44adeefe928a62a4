-- Stage source crm_phones: add the batch landed in dv_land_crm_phones to stg_crm_phones as batch
-- :batch_id, computing the hash keys and hash diffs of every hub, link and satellite it feeds.

-- dv:checked
INSERT INTO dv_quarantine (batch_id, entity, row_number, source, reason, data)
SELECT :batch_id, '', l.dv_row, 'crm_phones', 'check: ' || substr(CASE WHEN l.customer_id IS NULL OR l.phone_type IS NULL THEN ', not_null_customer_id_phone_type' ELSE '' END, 3), json_build_object('customer_id', l.customer_id, 'phone_type', l.phone_type, 'phone_number', l.phone_number, 'extracted_at', to_char(l.extracted_at, 'YYYY-MM-DD"T"HH24:MI:SS.US'))::text
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
    :batch_id, l.dv_row, CAST(:loaded_at AS timestamp), COALESCE(l.dv_applied_at, CAST(:applied_at AS timestamp)),
    l.customer_id,
    l.phone_type,
    l.phone_number,
    l.extracted_at,
    COALESCE(decode(md5(convert_to(replace(replace(NULLIF(upper(btrim(l.customer_id, E' \t\r\n\f\x0B') COLLATE "C"), ''), '\', '\\'), '|', '\|'), 'UTF8')), 'hex'), '\x00000000000000000000000000000000'::bytea),
    decode(md5(convert_to(concat_ws('|', 'phone_number=' || replace(replace(l.phone_number, '\', '\\'), '|', '\|'), 'phone_type=' || replace(replace(l.phone_type, '\', '\\'), '|', '\|')), 'UTF8')), 'hex')
FROM dv_land_crm_phones l
WHERE NOT (l.customer_id IS NULL OR l.phone_type IS NULL);

-- The hash diff of the set of customer_phones that each row is a member of.
UPDATE stg_crm_phones AS s
SET dv_hs_customer_phones = g.dv_set
FROM (
    SELECT t.dv_hk, t.dv_applied, COALESCE(decode(md5(convert_to(string_agg(DISTINCT encode(t.dv_member, 'hex') COLLATE "C", '|' ORDER BY encode(t.dv_member, 'hex') COLLATE "C"), 'UTF8')), 'hex'), '\x00000000000000000000000000000000'::bytea) AS dv_set
    FROM (
        SELECT x.dv_hk_customer AS dv_hk, x.dv_applied_at AS dv_applied, x.dv_hd_customer_phones AS dv_member,
               1 AS dv_rank
        FROM stg_crm_phones x
        WHERE x.dv_batch_id = :batch_id
    ) t
    WHERE t.dv_rank = 1
    GROUP BY t.dv_hk, t.dv_applied
) g
WHERE s.dv_batch_id = :batch_id AND s.dv_hk_customer = g.dv_hk AND s.dv_applied_at = g.dv_applied;

ANALYZE stg_crm_phones;
