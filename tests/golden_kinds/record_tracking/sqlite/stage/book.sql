-- Stage source book: add the batch landed in dv_land_book to stg_book as batch
-- :batch_id, computing the hash keys and hash diffs of every hub, link and satellite it feeds.

INSERT INTO stg_book (
    dv_batch_id, dv_row, dv_loaded_at, dv_applied_at,
    k,
    day,
    dv_hk_customer
)
SELECT
    :batch_id, l.dv_row, :loaded_at, COALESCE(l.dv_applied_at, :applied_at),
    l.k,
    l.day,
    dv_hash_key('md5', 'text', l.k)
FROM dv_land_book l;
