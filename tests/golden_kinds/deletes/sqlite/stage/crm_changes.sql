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
    :batch_id, l.dv_row, :loaded_at, COALESCE(l.dv_applied_at, :applied_at),
    l.customer_id,
    l.changed_at,
    l.name,
    l.op,
    l.seq,
    CASE WHEN l.op IN ('d') THEN 1 ELSE 0 END,
    dv_hash_key('md5', 'text', l.customer_id),
    dv_hash_diff('md5', 'name', 'text', l.name),
    dv_hash_diff('md5')
FROM dv_land_crm_changes l;
