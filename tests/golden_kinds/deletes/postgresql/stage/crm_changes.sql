-- Stage source crm_changes: add the batch landed in dv_land_crm_changes to stg_crm_changes as batch
-- :batch_id, computing the hash keys and hash diffs of every hub, link and satellite it feeds.

INSERT INTO stg_crm_changes (
    dv_batch_id, dv_row, dv_loaded_at, dv_applied_at,
    customer_id,
    changed_at,
    name,
    op,
    seq,
    dv_deleted,
    dv_hk_customer,
    dv_hd_customer_details,
    dv_hd_customer_status
)
SELECT
    :batch_id, l.dv_row, CAST(:loaded_at AS timestamp), COALESCE(l.dv_applied_at, CAST(:applied_at AS timestamp)),
    l.customer_id,
    l.changed_at,
    l.name,
    l.op,
    l.seq,
    CASE WHEN l.op IN ('d') THEN 1 ELSE 0 END,
    COALESCE(decode(md5(convert_to(replace(replace(NULLIF(upper(btrim(l.customer_id, E' \t\r\n\f\x0B') COLLATE "C"), ''), '\', '\\'), '|', '\|'), 'UTF8')), 'hex'), '\x00000000000000000000000000000000'::bytea),
    decode(md5(convert_to(concat_ws('|', 'name=' || replace(replace(l.name, '\', '\\'), '|', '\|')), 'UTF8')), 'hex'),
    decode(md5(convert_to('', 'UTF8')), 'hex')
FROM dv_land_crm_changes l;

ANALYZE stg_crm_changes;
