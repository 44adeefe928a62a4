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
    getvariable('batch_id'), l.dv_row, CAST(getvariable('loaded_at') AS TIMESTAMP), COALESCE(l.dv_applied_at, CAST(getvariable('applied_at') AS TIMESTAMP)),
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
           COALESCE(from_hex(md5(replace(replace(NULLIF(CASE WHEN strlen(trim(l.customer_id, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) = length(trim(l.customer_id, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) THEN upper(trim(l.customer_id, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) ELSE translate(trim(l.customer_id, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13))), 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ') END, ''), '\', '\\'), '|', '\|'))), from_hex('00000000000000000000000000000000')) AS dv_h0,
           COALESCE(from_hex(md5(replace(replace(NULLIF(CASE WHEN strlen(trim(l.store_code, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) = length(trim(l.store_code, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) THEN upper(trim(l.store_code, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) ELSE translate(trim(l.store_code, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13))), 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ') END, ''), '\', '\\'), '|', '\|'))), from_hex('00000000000000000000000000000000')) AS dv_h1,
           COALESCE(from_hex(md5(NULLIF(COALESCE(replace(replace(NULLIF(CASE WHEN strlen(trim(l.customer_id, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) = length(trim(l.customer_id, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) THEN upper(trim(l.customer_id, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) ELSE translate(trim(l.customer_id, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13))), 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ') END, ''), '\', '\\'), '|', '\|'), '\N') || '|' || COALESCE(replace(replace(NULLIF(CASE WHEN strlen(trim(l.store_code, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) = length(trim(l.store_code, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) THEN upper(trim(l.store_code, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) ELSE translate(trim(l.store_code, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13))), 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ') END, ''), '\', '\\'), '|', '\|'), '\N'), '\N|\N'))), from_hex('00000000000000000000000000000000')) AS dv_h2,
           from_hex(md5(concat_ws('|', 'address=' || replace(replace(l.address, '\', '\\'), '|', '\|'), 'floor=' || CAST(l.floor AS VARCHAR)))) AS dv_h3
    FROM dv_land_store_register l
    OFFSET 0
) l;

-- The hash diff of the set of customer_store_addresses that each row is a member of.
UPDATE stg_store_register AS s
SET dv_hs_customer_store_addresses = g.dv_set
FROM (
    SELECT t.dv_hk, t.dv_applied, COALESCE(from_hex(md5(string_agg(DISTINCT lower(hex(t.dv_member)), '|' ORDER BY lower(hex(t.dv_member))))), from_hex('00000000000000000000000000000000')) AS dv_set
    FROM (
        SELECT x.dv_hk_customer_store AS dv_hk, x.dv_applied_at AS dv_applied, x.dv_hd_customer_store_addresses AS dv_member,
               1 AS dv_rank
        FROM stg_store_register x
        WHERE x.dv_batch_id = getvariable('batch_id')
    ) t
    WHERE t.dv_rank = 1
    GROUP BY t.dv_hk, t.dv_applied
) g
WHERE s.dv_batch_id = getvariable('batch_id') AND s.dv_hk_customer_store = g.dv_hk AND s.dv_applied_at = g.dv_applied;
