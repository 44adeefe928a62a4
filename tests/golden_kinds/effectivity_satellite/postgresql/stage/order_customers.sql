-- Stage source order_customers: add the batch landed in dv_land_order_customers to stg_order_customers as batch
-- :batch_id, computing the hash keys and hash diffs of every hub, link and satellite it feeds.

INSERT INTO stg_order_customers (
    dv_batch_id, dv_row, dv_loaded_at, dv_applied_at,
    order_no,
    customer_id,
    extracted_at,
    dv_hk_customer,
    dv_hk_order,
    dv_hk_order_customer,
    dv_hk_order_customer__order,
    dv_hk_order_customer__customer,
    dv_hk_order_customer_booked,
    dv_hk_order_customer_eff
)
SELECT
    :batch_id, l.dv_row, CAST(:loaded_at AS timestamp), COALESCE(l.dv_applied_at, CAST(:applied_at AS timestamp)),
    l.order_no,
    l.customer_id,
    l.extracted_at,
    l.dv_h0,
    l.dv_h1,
    l.dv_h2,
    l.dv_h1,
    l.dv_h0,
    l.dv_h2,
    l.dv_h1
FROM (
    SELECT l.*,
           COALESCE(decode(md5(convert_to(replace(replace(NULLIF(upper(btrim(l.customer_id, E' \t\r\n\f\x0B') COLLATE "C"), ''), '\', '\\'), '|', '\|'), 'UTF8')), 'hex'), '\x00000000000000000000000000000000'::bytea) AS dv_h0,
           COALESCE(decode(md5(convert_to(replace(replace(NULLIF(upper(btrim(l.order_no, E' \t\r\n\f\x0B') COLLATE "C"), ''), '\', '\\'), '|', '\|'), 'UTF8')), 'hex'), '\x00000000000000000000000000000000'::bytea) AS dv_h1,
           COALESCE(decode(md5(convert_to(NULLIF(COALESCE(replace(replace(NULLIF(upper(btrim(l.order_no, E' \t\r\n\f\x0B') COLLATE "C"), ''), '\', '\\'), '|', '\|'), '\N') || '|' || COALESCE(replace(replace(NULLIF(upper(btrim(l.customer_id, E' \t\r\n\f\x0B') COLLATE "C"), ''), '\', '\\'), '|', '\|'), '\N'), '\N|\N'), 'UTF8')), 'hex'), '\x00000000000000000000000000000000'::bytea) AS dv_h2
    FROM dv_land_order_customers l
    OFFSET 0
) l;

ANALYZE stg_order_customers;
