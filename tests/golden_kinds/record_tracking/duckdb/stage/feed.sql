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
    getvariable('batch_id'), l.dv_row, CAST(getvariable('loaded_at') AS TIMESTAMP), COALESCE(l.dv_applied_at, CAST(getvariable('applied_at') AS TIMESTAMP)),
    l.k,
    l.day,
    l.op,
    CASE WHEN l.op IN ('d') THEN 1 ELSE 0 END,
    COALESCE(from_hex(md5(replace(replace(NULLIF(CASE WHEN strlen(trim(l.k, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) = length(trim(l.k, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) THEN upper(trim(l.k, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) ELSE translate(trim(l.k, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13))), 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ') END, ''), '\', '\\'), '|', '\|'))), from_hex('00000000000000000000000000000000'))
FROM dv_land_feed l;
