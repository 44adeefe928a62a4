-- Stage source store_register: add the batch landed in dv_land_store_register to stg_store_register as batch
-- :batch_id, computing the hash keys and hash diffs of every hub, link and satellite it feeds.

INSERT INTO stg_store_register (
    dv_batch_id, dv_row, dv_loaded_at, dv_applied_at,
    customer_id,
    store_code,
    address,
    floor,
    extracted_at,
    dv_hk_customer,
    dv_hk_store,
    dv_hk_customer_store,
    dv_hk_customer_store__customer,
    dv_hk_customer_store__store,
    dv_hd_customer_store_addresses
)
SELECT
    :batch_id, l.dv_row, CAST(:loaded_at AS timestamp), COALESCE(l.dv_applied_at, CAST(:applied_at AS timestamp)),
    l.customer_id,
    l.store_code,
    l.address,
    l.floor,
    l.extracted_at,
    l.dv_h0,
    l.dv_h1,
    l.dv_h2,
    l.dv_h0,
    l.dv_h1,
    l.dv_h3
FROM (
    SELECT l.*,
           COALESCE(decode(md5(convert_to(replace(replace(NULLIF(upper(btrim(l.customer_id, E' \t\r\n\f\x0B') COLLATE "C"), ''), '\', '\\'), '|', '\|'), 'UTF8')), 'hex'), '\x00000000000000000000000000000000'::bytea) AS dv_h0,
           COALESCE(decode(md5(convert_to(replace(replace(NULLIF(upper(btrim(l.store_code, E' \t\r\n\f\x0B') COLLATE "C"), ''), '\', '\\'), '|', '\|'), 'UTF8')), 'hex'), '\x00000000000000000000000000000000'::bytea) AS dv_h1,
           COALESCE(decode(md5(convert_to(NULLIF(COALESCE(replace(replace(NULLIF(upper(btrim(l.customer_id, E' \t\r\n\f\x0B') COLLATE "C"), ''), '\', '\\'), '|', '\|'), '\N') || '|' || COALESCE(replace(replace(NULLIF(upper(btrim(l.store_code, E' \t\r\n\f\x0B') COLLATE "C"), ''), '\', '\\'), '|', '\|'), '\N'), '\N|\N'), 'UTF8')), 'hex'), '\x00000000000000000000000000000000'::bytea) AS dv_h2,
           decode(md5(convert_to(concat_ws('|', 'address=' || replace(replace(l.address, '\', '\\'), '|', '\|'), 'floor=' || (l.floor)::text), 'UTF8')), 'hex') AS dv_h3
    FROM dv_land_store_register l
    OFFSET 0
) l;

-- The hash diff of the set of customer_store_addresses that each row is a member of.
UPDATE stg_store_register AS s
SET dv_hs_customer_store_addresses = g.dv_set
FROM (
    SELECT t.dv_hk, t.dv_applied, COALESCE(decode(md5(convert_to(string_agg(DISTINCT encode(t.dv_member, 'hex') COLLATE "C", '|' ORDER BY encode(t.dv_member, 'hex') COLLATE "C"), 'UTF8')), 'hex'), '\x00000000000000000000000000000000'::bytea) AS dv_set
    FROM (
        SELECT x.dv_hk_customer_store AS dv_hk, x.dv_applied_at AS dv_applied, x.dv_hd_customer_store_addresses AS dv_member,
               1 AS dv_rank
        FROM stg_store_register x
        WHERE x.dv_batch_id = :batch_id
    ) t
    WHERE t.dv_rank = 1
    GROUP BY t.dv_hk, t.dv_applied
) g
WHERE s.dv_batch_id = :batch_id AND s.dv_hk_customer_store = g.dv_hk AND s.dv_applied_at = g.dv_applied;

ANALYZE stg_store_register;
