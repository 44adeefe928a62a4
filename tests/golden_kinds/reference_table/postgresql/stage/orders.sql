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
    :batch_id, l.dv_row, CAST(:loaded_at AS timestamp), COALESCE(l.dv_applied_at, CAST(:applied_at AS timestamp)),
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
           COALESCE(decode(md5(convert_to(replace(replace(NULLIF(upper(btrim(l.currency_code, E' \t\r\n\f\x0B') COLLATE "C"), ''), '\', '\\'), '|', '\|'), 'UTF8')), 'hex'), '\x00000000000000000000000000000000'::bytea) AS dv_h0,
           COALESCE(decode(md5(convert_to(replace(replace(NULLIF(upper(btrim(l.order_number, E' \t\r\n\f\x0B') COLLATE "C"), ''), '\', '\\'), '|', '\|'), 'UTF8')), 'hex'), '\x00000000000000000000000000000000'::bytea) AS dv_h1,
           COALESCE(decode(md5(convert_to(NULLIF(COALESCE(replace(replace(NULLIF(upper(btrim(l.order_number, E' \t\r\n\f\x0B') COLLATE "C"), ''), '\', '\\'), '|', '\|'), '\N') || '|' || COALESCE(replace(replace(NULLIF(upper(btrim(l.currency_code, E' \t\r\n\f\x0B') COLLATE "C"), ''), '\', '\\'), '|', '\|'), '\N'), '\N|\N'), 'UTF8')), 'hex'), '\x00000000000000000000000000000000'::bytea) AS dv_h2,
           decode(md5(convert_to(concat_ws('|', 'currency_code=' || replace(replace(l.currency_code, '\', '\\'), '|', '\|'), 'weight_system=' || replace(replace(l.weight_system, '\', '\\'), '|', '\|'), 'weight_unit=' || replace(replace(l.weight_unit, '\', '\\'), '|', '\|')), 'UTF8')), 'hex') AS dv_h3
    FROM dv_land_orders l
    OFFSET 0
) l;

ANALYZE stg_orders;
