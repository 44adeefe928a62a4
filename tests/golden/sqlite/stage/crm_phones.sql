-- Stage source crm_phones: add the batch landed in dv_land_crm_phones to stg_crm_phones as batch
-- :batch_id, computing the hash keys and hash diffs of every hub, link and satellite it feeds.

-- dv:checked
INSERT INTO dv_quarantine (batch_id, entity, row_number, source, reason, data)
SELECT :batch_id, '', l.dv_row, 'crm_phones', 'check: ' || substr(CASE WHEN l.customer_id IS NULL OR l.phone_type IS NULL THEN ', not_null_customer_id_phone_type' ELSE '' END, 3), json_object('customer_id', l.customer_id, 'phone_type', l.phone_type, 'phone_number', l.phone_number, 'extracted_at', dv_canonical('timestamp', l.extracted_at))
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
    :batch_id, l.dv_row, :loaded_at, COALESCE(l.dv_applied_at, :applied_at),
    l.customer_id,
    l.phone_type,
    l.phone_number,
    l.extracted_at,
    dv_hash_key('md5', 'text', l.customer_id),
    dv_hash_diff('md5', 'phone_type', 'text', l.phone_type, 'phone_number', 'text', l.phone_number)
FROM dv_land_crm_phones l
WHERE NOT (l.customer_id IS NULL OR l.phone_type IS NULL);

-- The hash diff of the set of customer_phones that each row is a member of.
UPDATE stg_crm_phones AS s
SET dv_hs_customer_phones = g.dv_set
FROM (
    SELECT t.dv_hk, t.dv_applied, COALESCE(dv_set_hash_diff('md5', t.dv_member), X'00000000000000000000000000000000') AS dv_set
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
