-- Stage source orders: add the batch landed in dv_land_orders to stg_orders as batch
-- :batch_id, computing the hash keys and hash diffs of every hub, link and satellite it feeds.

INSERT INTO stg_orders (
    dv_batch_id, dv_row, dv_loaded_at, dv_applied_at,
    order_number,
    currency_code,
    weight_system,
    weight_unit,
    changed_at,
    dv_hk_money,
    dv_hk_order,
    dv_hk_order_money,
    dv_hk_order_money__order,
    dv_hk_order_money__money,
    dv_hd_order_details
)
SELECT
    getvariable('batch_id'), l.dv_row, CAST(getvariable('loaded_at') AS TIMESTAMP), COALESCE(l.dv_applied_at, CAST(getvariable('applied_at') AS TIMESTAMP)),
    l.order_number,
    l.currency_code,
    l.weight_system,
    l.weight_unit,
    l.changed_at,
    l.dv_h0,
    l.dv_h1,
    l.dv_h2,
    l.dv_h1,
    l.dv_h0,
    l.dv_h3
FROM (
    SELECT l.*,
           COALESCE(from_hex(md5(replace(replace(NULLIF(CASE WHEN strlen(trim(l.currency_code, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) = length(trim(l.currency_code, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) THEN upper(trim(l.currency_code, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) ELSE translate(trim(l.currency_code, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13))), 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ') END, ''), '\', '\\'), '|', '\|'))), from_hex('00000000000000000000000000000000')) AS dv_h0,
           COALESCE(from_hex(md5(replace(replace(NULLIF(CASE WHEN strlen(trim(l.order_number, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) = length(trim(l.order_number, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) THEN upper(trim(l.order_number, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) ELSE translate(trim(l.order_number, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13))), 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ') END, ''), '\', '\\'), '|', '\|'))), from_hex('00000000000000000000000000000000')) AS dv_h1,
           COALESCE(from_hex(md5(NULLIF(COALESCE(replace(replace(NULLIF(CASE WHEN strlen(trim(l.order_number, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) = length(trim(l.order_number, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) THEN upper(trim(l.order_number, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) ELSE translate(trim(l.order_number, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13))), 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ') END, ''), '\', '\\'), '|', '\|'), '\N') || '|' || COALESCE(replace(replace(NULLIF(CASE WHEN strlen(trim(l.currency_code, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) = length(trim(l.currency_code, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) THEN upper(trim(l.currency_code, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) ELSE translate(trim(l.currency_code, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13))), 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ') END, ''), '\', '\\'), '|', '\|'), '\N'), '\N|\N'))), from_hex('00000000000000000000000000000000')) AS dv_h2,
           from_hex(md5(concat_ws('|', 'currency_code=' || replace(replace(l.currency_code, '\', '\\'), '|', '\|'), 'weight_system=' || replace(replace(l.weight_system, '\', '\\'), '|', '\|'), 'weight_unit=' || replace(replace(l.weight_unit, '\', '\\'), '|', '\|')))) AS dv_h3
    FROM dv_land_orders l
    OFFSET 0
) l;
