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
    :batch_id, l.dv_row, CAST(:loaded_at AS timestamp), COALESCE(l.dv_applied_at, CAST(:applied_at AS timestamp)),
    l.k,
    l.day,
    l.op,
    CASE WHEN l.op IN ('d') THEN 1 ELSE 0 END,
    COALESCE(decode(md5(convert_to(replace(replace(NULLIF(upper(btrim(l.k, E' \t\r\n\f\x0B') COLLATE "C"), ''), '\', '\\'), '|', '\|'), 'UTF8')), 'hex'), '\x00000000000000000000000000000000'::bytea)
FROM dv_land_feed l;

ANALYZE stg_feed;
