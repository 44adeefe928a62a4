-- Stage source feed: add the batch landed in dv_land_feed to stg_feed as batch
-- :batch_id, computing the hash keys and hash diffs of every hub, link and satellite it feeds.

INSERT INTO stg_feed (
    dv_batch_id, dv_row, dv_loaded_at, dv_applied_at,
    k,
    day,
    op,
    dv_deleted,
    dv_hk_customer
)
SELECT
    :batch_id, l.dv_row, :loaded_at, COALESCE(l.dv_applied_at, :applied_at),
    l.k,
    l.day,
    l.op,
    CASE WHEN l.op IN ('d') THEN 1 ELSE 0 END,
    dv_hash_key('md5', 'text', l.k)
FROM dv_land_feed l;
