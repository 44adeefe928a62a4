-- Stage source shop_orders: add the batch landed in dv_land_shop_orders to stg_shop_orders as batch
-- :batch_id, computing the hash keys and hash diffs of every hub, link and satellite it feeds.

INSERT INTO stg_shop_orders (
    dv_batch_id, dv_row, dv_loaded_at, dv_applied_at,
    order_id,
    customer_id,
    ordered_at,
    amount,
    cancelled,
    dv_deleted,
    dv_hk_customer,
    dv_hk_order,
    dv_hk_order_customer,
    dv_hk_order_customer__order,
    dv_hk_order_customer__customer,
    dv_hd_order_details
)
SELECT
    getvariable('batch_id'), l.dv_row, CAST(getvariable('loaded_at') AS TIMESTAMP), COALESCE(l.dv_applied_at, CAST(getvariable('applied_at') AS TIMESTAMP)),
    l.order_id,
    l.customer_id,
    l.ordered_at,
    l.amount,
    l.cancelled,
    l.dv_h0,
    l.dv_h1,
    l.dv_h2,
    l.dv_h3,
    l.dv_h2,
    l.dv_h1,
    l.dv_h4
FROM (
    SELECT l.*,
           CASE WHEN CASE l.cancelled WHEN TRUE THEN 'true' WHEN FALSE THEN 'false' END IN ('true') THEN 1 ELSE 0 END AS dv_h0,
           COALESCE(from_hex(md5(replace(replace(NULLIF(CASE WHEN strlen(trim(l.customer_id, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) = length(trim(l.customer_id, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) THEN upper(trim(l.customer_id, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) ELSE translate(trim(l.customer_id, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13))), 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ') END, ''), '\', '\\'), '|', '\|'))), from_hex('00000000000000000000000000000000')) AS dv_h1,
           COALESCE(from_hex(md5(replace(replace(NULLIF(CASE WHEN strlen(trim(l.order_id, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) = length(trim(l.order_id, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) THEN upper(trim(l.order_id, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) ELSE translate(trim(l.order_id, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13))), 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ') END, ''), '\', '\\'), '|', '\|'))), from_hex('00000000000000000000000000000000')) AS dv_h2,
           COALESCE(from_hex(md5(NULLIF(COALESCE(replace(replace(NULLIF(CASE WHEN strlen(trim(l.order_id, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) = length(trim(l.order_id, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) THEN upper(trim(l.order_id, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) ELSE translate(trim(l.order_id, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13))), 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ') END, ''), '\', '\\'), '|', '\|'), '\N') || '|' || COALESCE(replace(replace(NULLIF(CASE WHEN strlen(trim(l.customer_id, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) = length(trim(l.customer_id, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) THEN upper(trim(l.customer_id, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) ELSE translate(trim(l.customer_id, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13))), 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ') END, ''), '\', '\\'), '|', '\|'), '\N'), '\N|\N'))), from_hex('00000000000000000000000000000000')) AS dv_h3,
           from_hex(md5(concat_ws('|', 'amount=' || l.amount))) AS dv_h4
    FROM dv_land_shop_orders l
    OFFSET 0
) l;
