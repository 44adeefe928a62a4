-- Views for people over PIT orders: business key columns and payload columns by name.
-- The snapshot view answers as its PIT was built; current and history read the satellites
-- as known before the first batch that has not finished (as `datavault query` does).
DROP VIEW IF EXISTS orders_snapshot;

DROP VIEW IF EXISTS orders_current;

DROP VIEW IF EXISTS orders_history;

-- Each key at each snapshot of the spine, as known at the last build (NULL payload: no state,
-- or deleted).
CREATE VIEW orders_snapshot AS
SELECT k.snapshot_ts AS snapshot_at, h.order_number AS order_number, s1.status AS status, s1.amount AS amount, s1.ordered_at AS ordered_at, (SELECT dv_k.customer_number FROM hub_customer dv_k WHERE dv_k.customer_hk = s2.customer_hk) AS customer_number
FROM pit_orders k
JOIN hub_order h ON h.order_hk = k.order_hk
LEFT JOIN sat_order_status s1 ON s1.order_hk = k.order_status_hk
    AND s1.applied_ts = k.order_status_applied_ts AND s1.load_ts = k.order_status_load_ts
LEFT JOIN eff_order_customer_eff s2 ON s2.driving_hk = k.order_customer_eff_hk
    AND s2.applied_ts = k.order_customer_eff_applied_ts AND s2.load_ts = k.order_customer_eff_load_ts
;

-- Each key's state now (its row with the greatest applied time up to now, then load time),
-- as known before the first unfinished batch; keys with no state now, or a deletion, are
-- left out. The latest row is looked up per key (a correlated subquery on the satellite's
-- primary key), so a query of a few keys through the view reads only their rows.
CREATE VIEW orders_current AS
SELECT h.order_number AS order_number, c1.status AS status, c1.amount AS amount, c1.ordered_at AS ordered_at, (SELECT dv_k.customer_number FROM hub_customer dv_k WHERE dv_k.customer_hk = c2.customer_hk) AS customer_number
FROM hub_order p
JOIN hub_order h ON h.order_hk = p.order_hk
LEFT JOIN LATERAL (
    SELECT x.* FROM sat_order_status x
    WHERE x.order_hk = p.order_hk AND x.applied_ts <= CAST(current_timestamp() AS TIMESTAMP_NTZ) AND x.load_ts < COALESCE((SELECT MIN(b.loaded_at) FROM dv_batch b WHERE b.status IN ('staging', 'staged', 'loading', 'partly loaded')), TIMESTAMP_NTZ '9999-12-31 00:00:00.000000')
    ORDER BY x.applied_ts DESC, x.load_ts DESC LIMIT 1
) c1 ON c1.hash_diff <> X'00000000000000000000000000000000'
LEFT JOIN LATERAL (
    SELECT x.* FROM eff_order_customer_eff x
    WHERE x.driving_hk = p.order_hk AND x.applied_ts <= CAST(current_timestamp() AS TIMESTAMP_NTZ) AND x.load_ts < COALESCE((SELECT MIN(b.loaded_at) FROM dv_batch b WHERE b.status IN ('staging', 'staged', 'loading', 'partly loaded')), TIMESTAMP_NTZ '9999-12-31 00:00:00.000000')
    ORDER BY x.applied_ts DESC, x.load_ts DESC LIMIT 1
) c2 ON c2.hash_diff <> X'00000000000000000000000000000000'
WHERE COALESCE(c1.order_hk, c2.driving_hk, NULL) IS NOT NULL
;

-- Each key's states along applied time as known before the first unfinished batch: valid
-- from an applied time at which one of the satellites changed, to the next such time (NULL:
-- still valid); a state of a multi-active satellite is a row per member, each with the span.
CREATE VIEW orders_history AS
WITH
v1 AS (
    SELECT x.hk, x.applied_ts, x.load_ts FROM (
        SELECT y.order_hk AS hk, y.applied_ts, y.load_ts,
               ROW_NUMBER() OVER (PARTITION BY y.order_hk, y.applied_ts ORDER BY y.load_ts DESC) AS dv_pick
        FROM sat_order_status y
        WHERE y.load_ts < COALESCE((SELECT MIN(b.loaded_at) FROM dv_batch b WHERE b.status IN ('staging', 'staged', 'loading', 'partly loaded')), TIMESTAMP_NTZ '9999-12-31 00:00:00.000000')
    ) x WHERE x.dv_pick = 1
),
v2 AS (
    SELECT x.hk, x.applied_ts, x.load_ts FROM (
        SELECT y.driving_hk AS hk, y.applied_ts, y.load_ts,
               ROW_NUMBER() OVER (PARTITION BY y.driving_hk, y.applied_ts ORDER BY y.load_ts DESC) AS dv_pick
        FROM eff_order_customer_eff y
        WHERE y.load_ts < COALESCE((SELECT MIN(b.loaded_at) FROM dv_batch b WHERE b.status IN ('staging', 'staged', 'loading', 'partly loaded')), TIMESTAMP_NTZ '9999-12-31 00:00:00.000000')
    ) x WHERE x.dv_pick = 1
),
points AS (
    SELECT hk, applied_ts FROM v1
    UNION
    SELECT hk, applied_ts FROM v2
),
marked AS (
    SELECT p.hk, p.applied_ts, v1.applied_ts AS a1, v1.load_ts AS l1, v2.applied_ts AS a2, v2.load_ts AS l2
    FROM points p
    LEFT JOIN v1 ON v1.hk = p.hk AND v1.applied_ts = p.applied_ts
    LEFT JOIN v2 ON v2.hk = p.hk AND v2.applied_ts = p.applied_ts
),
grouped AS (
    SELECT m.*, COUNT(m.a1) OVER (PARTITION BY m.hk ORDER BY m.applied_ts) AS g1, COUNT(m.a2) OVER (PARTITION BY m.hk ORDER BY m.applied_ts) AS g2
    FROM marked m
),
filled AS (
    SELECT g.hk, g.applied_ts,
           LEAD(g.applied_ts) OVER (PARTITION BY g.hk ORDER BY g.applied_ts) AS valid_to,
           MAX(g.a1) OVER (PARTITION BY g.hk, g.g1) AS a1,
           MAX(g.l1) OVER (PARTITION BY g.hk, g.g1) AS l1,
           MAX(g.a2) OVER (PARTITION BY g.hk, g.g2) AS a2,
           MAX(g.l2) OVER (PARTITION BY g.hk, g.g2) AS l2
    FROM grouped g
)
SELECT h.order_number AS order_number, k.applied_ts AS valid_from, k.valid_to, s1.status AS status, s1.amount AS amount, s1.ordered_at AS ordered_at, (SELECT dv_k.customer_number FROM hub_customer dv_k WHERE dv_k.customer_hk = s2.customer_hk) AS customer_number
FROM filled k
JOIN hub_order h ON h.order_hk = k.hk
LEFT JOIN sat_order_status s1 ON s1.order_hk = k.hk
    AND s1.applied_ts = k.a1 AND s1.load_ts = k.l1
LEFT JOIN eff_order_customer_eff s2 ON s2.driving_hk = k.hk
    AND s2.applied_ts = k.a2 AND s2.load_ts = k.l2
;
