-- Views for people over bridge customer_orders: the business keys of every hub on the path.
DROP VIEW IF EXISTS customer_orders_snapshot;

DROP VIEW IF EXISTS customer_orders_current;

DROP VIEW IF EXISTS customer_orders_history;

-- The paths live at each snapshot of the spine, as known now.
CREATE VIEW customer_orders_snapshot AS
SELECT b.snapshot_ts AS snapshot_at, h0.customer_number AS customer_number, h2.order_number AS order_number
FROM bridge_customer_orders b
JOIN hub_customer h0 ON h0.customer_hk = b.customer_hk
JOIN hub_order h2 ON h2.order_hk = b.order_hk
;

-- The paths live now (their states at the current time), as known now.
CREATE VIEW customer_orders_current AS
WITH
live1 AS (
    SELECT x.hk FROM (
        SELECT y.customer_hk AS hk, y.hash_diff,
               ROW_NUMBER() OVER (PARTITION BY y.customer_hk ORDER BY y.applied_ts DESC, y.load_ts DESC) AS dv_rank
        FROM sat_customer_details y
        WHERE y.applied_ts <= strftime('%Y-%m-%d %H:%M:%f', 'now')
    ) x WHERE x.dv_rank = 1 AND x.hash_diff <> X'00000000000000000000000000000000'
),
live2 AS (
    SELECT x.hk FROM (
        SELECT y.order_hk AS hk, y.hash_diff,
               ROW_NUMBER() OVER (PARTITION BY y.order_hk ORDER BY y.applied_ts DESC, y.load_ts DESC) AS dv_rank
        FROM sat_order_status y
        WHERE y.applied_ts <= strftime('%Y-%m-%d %H:%M:%f', 'now')
    ) x WHERE x.dv_rank = 1 AND x.hash_diff <> X'00000000000000000000000000000000'
),
paths AS (
    SELECT l1.customer_hk AS e0, l1.order_customer_hk AS e1, l1.order_hk AS e2
    FROM link_order_customer l1
)
SELECT h0.customer_number AS customer_number, h2.order_number AS order_number
FROM paths p
JOIN hub_customer h0 ON h0.customer_hk = p.e0
JOIN hub_order h2 ON h2.order_hk = p.e2
WHERE 1 = 1
  AND (p.e0 IN (SELECT hk FROM live1))
  AND (p.e2 IN (SELECT hk FROM live2))
;

-- Each path's spans of presence along the spine: from the first snapshot of a run of
-- snapshots at which it is live to the first snapshot after the run (NULL: live at the last).
CREATE VIEW customer_orders_history AS
WITH spine AS (
    SELECT snapshot_ts, position FROM dv_mart_spine WHERE mart = 'customer_orders'
),
runs AS (
    SELECT b.*, s.position - ROW_NUMBER() OVER (
               PARTITION BY b.order_customer_hk ORDER BY b.snapshot_ts) AS dv_run,
           s.position
    FROM bridge_customer_orders b JOIN spine s ON s.snapshot_ts = b.snapshot_ts
),
spans AS (
    SELECT r.customer_hk AS e0, r.order_customer_hk AS e1, r.order_hk AS e2, MIN(r.snapshot_ts) AS valid_from, MAX(r.position) AS last_position
    FROM runs r
    GROUP BY r.customer_hk, r.order_customer_hk, r.order_hk, r.dv_run
)
SELECT h0.customer_number AS customer_number, h2.order_number AS order_number, p.valid_from, n.snapshot_ts AS valid_to
FROM spans p
JOIN hub_customer h0 ON h0.customer_hk = p.e0
JOIN hub_order h2 ON h2.order_hk = p.e2
LEFT JOIN spine n ON n.position = p.last_position + 1
;
