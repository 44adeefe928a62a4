-- Stage source shop_orders: add the batch landed in dv_land_shop_orders to stg_shop_orders as batch
-- :batch_id, computing the hash keys and hash diffs of every hub, link and satellite it feeds.

-- dv:checked
INSERT INTO dv_quarantine (batch_id, entity, row_number, source, reason, data)
SELECT :batch_id, '', l.dv_row, 'shop_orders', 'check: ' || substr(CASE WHEN (l.status IS NOT NULL AND NOT (l.status IN ('placed', 'shipped', 'delivered', 'cancelled'))) THEN ', accepted_values_status' ELSE '' END || CASE WHEN (l.amount IS NOT NULL AND NOT (CASE WHEN try_cast(l.amount AS DOUBLE) < -1e-09 THEN -1 WHEN try_cast(l.amount AS DOUBLE) > 1e-09 THEN 1 ELSE CASE WHEN substr(l.amount, 1, 1) = '-' THEN -1 WHEN l.amount = '0' THEN 0 ELSE 1 END END >= 0)) THEN ', range_amount' ELSE '' END, 3), to_json(named_struct('order_id', l.order_id, 'customer_ref', l.customer_ref, 'status', l.status, 'amount', l.amount, 'ordered_at', date_format(l.ordered_at, 'yyyy-MM-dd''T''HH:mm:ss.SSSSSS'), 'changed_at', date_format(l.changed_at, 'yyyy-MM-dd''T''HH:mm:ss.SSSSSS')), map('ignoreNullFields', 'false', 'timestampNTZFormat', 'yyyy-MM-dd\'T\'HH:mm:ss.SSSSSS', 'timestampFormat', 'yyyy-MM-dd\'T\'HH:mm:ss.SSSSSS'))
FROM dv_land_shop_orders l
WHERE (l.status IS NOT NULL AND NOT (l.status IN ('placed', 'shipped', 'delivered', 'cancelled'))) OR (l.amount IS NOT NULL AND NOT (CASE WHEN try_cast(l.amount AS DOUBLE) < -1e-09 THEN -1 WHEN try_cast(l.amount AS DOUBLE) > 1e-09 THEN 1 ELSE CASE WHEN substr(l.amount, 1, 1) = '-' THEN -1 WHEN l.amount = '0' THEN 0 ELSE 1 END END >= 0));

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
    :batch_id, l.dv_row, CAST(:loaded_at AS TIMESTAMP_NTZ), COALESCE(l.dv_applied_at, CAST(:applied_at AS TIMESTAMP_NTZ)),
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
           COALESCE(unhex(md5(replace(replace(NULLIF(transform(array(trim(BOTH concat(' ', char(9), char(10), char(11), char(12), char(13)) FROM l.customer_ref)), dv_t -> CASE WHEN octet_length(dv_t) = length(dv_t) THEN upper(dv_t) ELSE translate(dv_t, 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ') END)[0], ''), '\\', '\\\\'), '|', '\\|'))), X'00000000000000000000000000000000') AS dv_h0,
           COALESCE(unhex(md5(replace(replace(NULLIF(transform(array(trim(BOTH concat(' ', char(9), char(10), char(11), char(12), char(13)) FROM l.order_id)), dv_t -> CASE WHEN octet_length(dv_t) = length(dv_t) THEN upper(dv_t) ELSE translate(dv_t, 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ') END)[0], ''), '\\', '\\\\'), '|', '\\|'))), X'00000000000000000000000000000000') AS dv_h1,
           COALESCE(unhex(md5(NULLIF(concat_ws('|', COALESCE(replace(replace(NULLIF(transform(array(trim(BOTH concat(' ', char(9), char(10), char(11), char(12), char(13)) FROM l.order_id)), dv_t -> CASE WHEN octet_length(dv_t) = length(dv_t) THEN upper(dv_t) ELSE translate(dv_t, 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ') END)[0], ''), '\\', '\\\\'), '|', '\\|'), '\\N'), COALESCE(replace(replace(NULLIF(transform(array(trim(BOTH concat(' ', char(9), char(10), char(11), char(12), char(13)) FROM l.customer_ref)), dv_t -> CASE WHEN octet_length(dv_t) = length(dv_t) THEN upper(dv_t) ELSE translate(dv_t, 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ') END)[0], ''), '\\', '\\\\'), '|', '\\|'), '\\N')), '\\N|\\N'))), X'00000000000000000000000000000000') AS dv_h2,
           unhex(md5(concat_ws('|', concat('amount=', l.amount), concat('ordered_at=', date_format(l.ordered_at, 'yyyy-MM-dd''T''HH:mm:ss.SSSSSS')), concat('status=', replace(replace(l.status, '\\', '\\\\'), '|', '\\|'))))) AS dv_h3
    FROM dv_land_shop_orders l
    WHERE NOT ((l.status IS NOT NULL AND NOT (l.status IN ('placed', 'shipped', 'delivered', 'cancelled'))) OR (l.amount IS NOT NULL AND NOT (CASE WHEN try_cast(l.amount AS DOUBLE) < -1e-09 THEN -1 WHEN try_cast(l.amount AS DOUBLE) > 1e-09 THEN 1 ELSE CASE WHEN substr(l.amount, 1, 1) = '-' THEN -1 WHEN l.amount = '0' THEN 0 ELSE 1 END END >= 0)))
    
) l;
