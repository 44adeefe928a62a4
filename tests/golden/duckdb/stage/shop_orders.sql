-- Stage source shop_orders: add the batch landed in dv_land_shop_orders to stg_shop_orders as batch
-- :batch_id, computing the hash keys and hash diffs of every hub, link and satellite it feeds.

-- dv:checked
INSERT INTO dv_quarantine (batch_id, entity, row_number, source, reason, data)
SELECT getvariable('batch_id'), '', l.dv_row, 'shop_orders', 'check: ' || substr(CASE WHEN (l.status IS NOT NULL AND NOT (l.status IN ('placed', 'shipped', 'delivered', 'cancelled'))) THEN ', accepted_values_status' ELSE '' END || CASE WHEN (l.amount IS NOT NULL AND NOT (CASE WHEN TRY_CAST(l.amount AS DOUBLE) < -1e-09 THEN -1 WHEN TRY_CAST(l.amount AS DOUBLE) > 1e-09 THEN 1 ELSE CASE WHEN substr(l.amount, 1, 1) = '-' THEN -1 WHEN l.amount = '0' THEN 0 ELSE 1 END END >= 0)) THEN ', range_amount' ELSE '' END, 3), CAST(json_object('order_id', l.order_id, 'customer_ref', l.customer_ref, 'status', l.status, 'amount', l.amount, 'ordered_at', strftime(l.ordered_at, '%Y-%m-%dT%H:%M:%S.%f'), 'changed_at', strftime(l.changed_at, '%Y-%m-%dT%H:%M:%S.%f')) AS VARCHAR)
FROM dv_land_shop_orders l
WHERE (l.status IS NOT NULL AND NOT (l.status IN ('placed', 'shipped', 'delivered', 'cancelled'))) OR (l.amount IS NOT NULL AND NOT (CASE WHEN TRY_CAST(l.amount AS DOUBLE) < -1e-09 THEN -1 WHEN TRY_CAST(l.amount AS DOUBLE) > 1e-09 THEN 1 ELSE CASE WHEN substr(l.amount, 1, 1) = '-' THEN -1 WHEN l.amount = '0' THEN 0 ELSE 1 END END >= 0));

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
    getvariable('batch_id'), l.dv_row, CAST(getvariable('loaded_at') AS TIMESTAMP), COALESCE(l.dv_applied_at, CAST(getvariable('applied_at') AS TIMESTAMP)),
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
           COALESCE(from_hex(md5(replace(replace(NULLIF(CASE WHEN strlen(trim(l.customer_ref, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) = length(trim(l.customer_ref, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) THEN upper(trim(l.customer_ref, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) ELSE translate(trim(l.customer_ref, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13))), 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ') END, ''), '\', '\\'), '|', '\|'))), from_hex('00000000000000000000000000000000')) AS dv_h0,
           COALESCE(from_hex(md5(replace(replace(NULLIF(CASE WHEN strlen(trim(l.order_id, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) = length(trim(l.order_id, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) THEN upper(trim(l.order_id, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) ELSE translate(trim(l.order_id, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13))), 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ') END, ''), '\', '\\'), '|', '\|'))), from_hex('00000000000000000000000000000000')) AS dv_h1,
           COALESCE(from_hex(md5(NULLIF(COALESCE(replace(replace(NULLIF(CASE WHEN strlen(trim(l.order_id, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) = length(trim(l.order_id, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) THEN upper(trim(l.order_id, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) ELSE translate(trim(l.order_id, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13))), 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ') END, ''), '\', '\\'), '|', '\|'), '\N') || '|' || COALESCE(replace(replace(NULLIF(CASE WHEN strlen(trim(l.customer_ref, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) = length(trim(l.customer_ref, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) THEN upper(trim(l.customer_ref, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) ELSE translate(trim(l.customer_ref, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13))), 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ') END, ''), '\', '\\'), '|', '\|'), '\N'), '\N|\N'))), from_hex('00000000000000000000000000000000')) AS dv_h2,
           from_hex(md5(concat_ws('|', 'amount=' || l.amount, 'ordered_at=' || strftime(l.ordered_at, '%Y-%m-%dT%H:%M:%S.%f'), 'status=' || replace(replace(l.status, '\', '\\'), '|', '\|')))) AS dv_h3
    FROM dv_land_shop_orders l
    WHERE NOT ((l.status IS NOT NULL AND NOT (l.status IN ('placed', 'shipped', 'delivered', 'cancelled'))) OR (l.amount IS NOT NULL AND NOT (CASE WHEN TRY_CAST(l.amount AS DOUBLE) < -1e-09 THEN -1 WHEN TRY_CAST(l.amount AS DOUBLE) > 1e-09 THEN 1 ELSE CASE WHEN substr(l.amount, 1, 1) = '-' THEN -1 WHEN l.amount = '0' THEN 0 ELSE 1 END END >= 0)))
    OFFSET 0
) l;
