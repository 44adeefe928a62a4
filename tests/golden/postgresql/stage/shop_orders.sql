-- Stage source shop_orders: replace stg_shop_orders with the batch landed in dv_land_shop_orders,
-- computing the hash keys and hash diffs of every hub, link and satellite it feeds.
DELETE FROM stg_shop_orders;

INSERT INTO stg_shop_orders (
    dv_batch_id, dv_row, dv_loaded_at, dv_applied_at,
    order_id,
    customer_ref,
    status,
    amount,
    ordered_at,
    changed_at,
    dv_hk_customer,
    dv_hk_order,
    dv_hk_order_customer,
    dv_hk_order_customer__order,
    dv_hk_order_customer__customer,
    dv_hd_order_status
)
SELECT
    :batch_id, l.dv_row, CAST(:loaded_at AS timestamp), COALESCE(l.dv_applied_at, CAST(:applied_at AS timestamp)),
    l.order_id,
    l.customer_ref,
    l.status,
    l.amount,
    l.ordered_at,
    l.changed_at,
    CASE WHEN replace(replace(NULLIF(translate(btrim(l.customer_ref, E' \t\r\n\f\x0B'), 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'), ''), '\', '\\'), '|', '\|') IS NULL THEN '\x00000000000000000000000000000000'::bytea ELSE decode(md5(convert_to(replace(replace(NULLIF(translate(btrim(l.customer_ref, E' \t\r\n\f\x0B'), 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'), ''), '\', '\\'), '|', '\|'), 'UTF8')), 'hex') END,
    CASE WHEN replace(replace(NULLIF(translate(btrim(l.order_id, E' \t\r\n\f\x0B'), 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'), ''), '\', '\\'), '|', '\|') IS NULL THEN '\x00000000000000000000000000000000'::bytea ELSE decode(md5(convert_to(replace(replace(NULLIF(translate(btrim(l.order_id, E' \t\r\n\f\x0B'), 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'), ''), '\', '\\'), '|', '\|'), 'UTF8')), 'hex') END,
    CASE WHEN replace(replace(NULLIF(translate(btrim(l.order_id, E' \t\r\n\f\x0B'), 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'), ''), '\', '\\'), '|', '\|') IS NULL AND replace(replace(NULLIF(translate(btrim(l.customer_ref, E' \t\r\n\f\x0B'), 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'), ''), '\', '\\'), '|', '\|') IS NULL THEN '\x00000000000000000000000000000000'::bytea ELSE decode(md5(convert_to(COALESCE(replace(replace(NULLIF(translate(btrim(l.order_id, E' \t\r\n\f\x0B'), 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'), ''), '\', '\\'), '|', '\|'), '\N') || '|' || COALESCE(replace(replace(NULLIF(translate(btrim(l.customer_ref, E' \t\r\n\f\x0B'), 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'), ''), '\', '\\'), '|', '\|'), '\N'), 'UTF8')), 'hex') END,
    CASE WHEN replace(replace(NULLIF(translate(btrim(l.order_id, E' \t\r\n\f\x0B'), 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'), ''), '\', '\\'), '|', '\|') IS NULL THEN '\x00000000000000000000000000000000'::bytea ELSE decode(md5(convert_to(replace(replace(NULLIF(translate(btrim(l.order_id, E' \t\r\n\f\x0B'), 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'), ''), '\', '\\'), '|', '\|'), 'UTF8')), 'hex') END,
    CASE WHEN replace(replace(NULLIF(translate(btrim(l.customer_ref, E' \t\r\n\f\x0B'), 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'), ''), '\', '\\'), '|', '\|') IS NULL THEN '\x00000000000000000000000000000000'::bytea ELSE decode(md5(convert_to(replace(replace(NULLIF(translate(btrim(l.customer_ref, E' \t\r\n\f\x0B'), 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'), ''), '\', '\\'), '|', '\|'), 'UTF8')), 'hex') END,
    decode(md5(convert_to(concat_ws('|', CASE WHEN l.amount IS NOT NULL THEN 'amount=' || replace(replace(trim_scale(l.amount)::text, '\', '\\'), '|', '\|') END, CASE WHEN l.ordered_at IS NOT NULL THEN 'ordered_at=' || replace(replace(to_char(l.ordered_at, 'YYYY-MM-DD"T"HH24:MI:SS.US'), '\', '\\'), '|', '\|') END, CASE WHEN l.status IS NOT NULL THEN 'status=' || replace(replace(l.status, '\', '\\'), '|', '\|') END), 'UTF8')), 'hex')
FROM dv_land_shop_orders l;
