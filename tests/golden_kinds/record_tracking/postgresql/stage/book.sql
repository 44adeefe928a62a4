-- Stage source book: add the batch landed in dv_land_book to stg_book as batch
-- :batch_id, computing the hash keys and hash diffs of every hub, link and satellite it feeds.

INSERT INTO stg_book (
    dv_batch_id, dv_row, dv_loaded_at, dv_applied_at,
    k,
    day,
    dv_hk_customer
)
SELECT
    :batch_id, l.dv_row, CAST(:loaded_at AS timestamp), COALESCE(l.dv_applied_at, CAST(:applied_at AS timestamp)),
    l.k,
    l.day,
    COALESCE(decode(md5(convert_to(replace(replace(NULLIF(upper(btrim(l.k, E' \t\r\n\f\x0B') COLLATE "C"), ''), '\', '\\'), '|', '\|'), 'UTF8')), 'hex'), '\x00000000000000000000000000000000'::bytea)
FROM dv_land_book l;

ANALYZE stg_book;
