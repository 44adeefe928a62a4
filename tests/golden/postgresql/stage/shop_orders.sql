-- Stage source shop_orders: add the batch landed in dv_land_shop_orders to stg_shop_orders as batch
-- :batch_id, computing the hash keys and hash diffs of every hub, link and satellite it feeds.

-- dv:checked
INSERT INTO dv_quarantine (batch_id, entity, row_number, source, reason, data)
SELECT :batch_id, '', l.dv_row, 'shop_orders', 'check: ' || substr(CASE WHEN (l.status IS NOT NULL AND NOT (l.status IN ('placed', 'shipped', 'delivered', 'cancelled'))) THEN ', accepted_values_status' ELSE '' END || CASE WHEN (l.amount IS NOT NULL AND NOT (sign(l.amount - 0) >= 0)) THEN ', range_amount' ELSE '' END, 3), json_build_object('order_id', l.order_id, 'customer_ref', l.customer_ref, 'status', l.status, 'amount', trim_scale(l.amount)::text, 'ordered_at', to_char(l.ordered_at, 'YYYY-MM-DD"T"HH24:MI:SS.US'), 'changed_at', to_char(l.changed_at, 'YYYY-MM-DD"T"HH24:MI:SS.US'))::text
FROM dv_land_shop_orders l
WHERE (l.status IS NOT NULL AND NOT (l.status IN ('placed', 'shipped', 'delivered', 'cancelled'))) OR (l.amount IS NOT NULL AND NOT (sign(l.amount - 0) >= 0));

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
    dv_hd_order_status,
    dv_hk_order_customer_eff
)
SELECT
    :batch_id, l.dv_row, CAST(:loaded_at AS timestamp), COALESCE(l.dv_applied_at, CAST(:applied_at AS timestamp)),
    l.order_id,
    l.customer_ref,
    l.status,
    l.amount,
    l.ordered_at,
    l.changed_at,
    l.dv_h0,
    l.dv_h1,
    l.dv_h2,
    l.dv_h1,
    l.dv_h0,
    l.dv_h3,
    l.dv_h1
FROM (
    SELECT l.*,
           COALESCE(decode(md5(convert_to(replace(replace(NULLIF(upper(btrim(l.customer_ref, E' \t\r\n\f\x0B') COLLATE "C"), ''), '\', '\\'), '|', '\|'), 'UTF8')), 'hex'), '\x00000000000000000000000000000000'::bytea) AS dv_h0,
           COALESCE(decode(md5(convert_to(replace(replace(NULLIF(upper(btrim(l.order_id, E' \t\r\n\f\x0B') COLLATE "C"), ''), '\', '\\'), '|', '\|'), 'UTF8')), 'hex'), '\x00000000000000000000000000000000'::bytea) AS dv_h1,
           COALESCE(decode(md5(convert_to(NULLIF(COALESCE(replace(replace(NULLIF(upper(btrim(l.order_id, E' \t\r\n\f\x0B') COLLATE "C"), ''), '\', '\\'), '|', '\|'), '\N') || '|' || COALESCE(replace(replace(NULLIF(upper(btrim(l.customer_ref, E' \t\r\n\f\x0B') COLLATE "C"), ''), '\', '\\'), '|', '\|'), '\N'), '\N|\N'), 'UTF8')), 'hex'), '\x00000000000000000000000000000000'::bytea) AS dv_h2,
           decode(md5(convert_to(concat_ws('|', 'amount=' || trim_scale(l.amount)::text, 'ordered_at=' || to_char(l.ordered_at, 'YYYY-MM-DD"T"HH24:MI:SS.US'), 'status=' || replace(replace(l.status, '\', '\\'), '|', '\|')), 'UTF8')), 'hex') AS dv_h3
    FROM dv_land_shop_orders l
    WHERE NOT ((l.status IS NOT NULL AND NOT (l.status IN ('placed', 'shipped', 'delivered', 'cancelled'))) OR (l.amount IS NOT NULL AND NOT (sign(l.amount - 0) >= 0)))
    OFFSET 0
) l;

ANALYZE stg_shop_orders;
