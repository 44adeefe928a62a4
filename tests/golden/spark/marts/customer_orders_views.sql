-- Views for people over bridge customer_orders: the business keys of every hub on the path.
-- The snapshot view answers as its bridge was built; current and history read the links and
-- satellites as known before the first batch that has not finished (as `datavault query`
-- does).
DROP VIEW IF EXISTS customer_orders_snapshot;

DROP VIEW IF EXISTS customer_orders_current;

DROP VIEW IF EXISTS customer_orders_history;

-- The paths live at each snapshot of the spine, as known at the last build.
CREATE VIEW customer_orders_snapshot AS
SELECT b.snapshot_ts AS snapshot_at, h0.customer_number AS customer_number, h2.order_number AS order_number
FROM bridge_customer_orders b
JOIN hub_customer h0 ON h0.customer_hk = b.customer_hk
JOIN hub_order h2 ON h2.order_hk = b.order_hk
;

-- The paths live now (their states at the current time), as known before the first
-- unfinished batch. Each step's latest row is looked up per key (a correlated subquery on the
-- satellite's primary key), so a query of a few paths reads only their satellite rows.
CREATE VIEW customer_orders_current AS
WITH
paths AS (
    SELECT l1.customer_hk AS e0, l1.order_customer_hk AS e1, l1.order_hk AS e2
    FROM link_order_customer l1
    WHERE l1.load_ts < COALESCE((SELECT MIN(b.loaded_at) FROM dv_batch b WHERE b.status IN ('staging', 'staged', 'loading', 'partly loaded')), TIMESTAMP_NTZ '9999-12-31 00:00:00.000000')
)
SELECT h0.customer_number AS customer_number, h2.order_number AS order_number
FROM paths p
JOIN hub_customer h0 ON h0.customer_hk = p.e0
JOIN hub_order h2 ON h2.order_hk = p.e2
WHERE 1 = 1
  AND ((
        SELECT y.hash_diff FROM sat_customer_details y
        WHERE y.customer_hk = p.e0 AND y.applied_ts <= CAST(current_timestamp() AS TIMESTAMP_NTZ) AND y.load_ts < COALESCE((SELECT MIN(b.loaded_at) FROM dv_batch b WHERE b.status IN ('staging', 'staged', 'loading', 'partly loaded')), TIMESTAMP_NTZ '9999-12-31 00:00:00.000000')
        ORDER BY y.applied_ts DESC, y.load_ts DESC LIMIT 1) <> X'00000000000000000000000000000000')
  AND ((
        SELECT y.hash_diff FROM sat_order_status y
        WHERE y.order_hk = p.e2 AND y.applied_ts <= CAST(current_timestamp() AS TIMESTAMP_NTZ) AND y.load_ts < COALESCE((SELECT MIN(b.loaded_at) FROM dv_batch b WHERE b.status IN ('staging', 'staged', 'loading', 'partly loaded')), TIMESTAMP_NTZ '9999-12-31 00:00:00.000000')
        ORDER BY y.applied_ts DESC, y.load_ts DESC LIMIT 1) <> X'00000000000000000000000000000000')
  -- order_customer: the relationship in effect now for its driving key (order_customer_eff)
  -- (one of the relationships in effect now: a driving key's rows name only its own)
  AND p.e1 IN (
      SELECT y.hash_diff FROM (
          SELECT y.hash_diff,
                 ROW_NUMBER() OVER (PARTITION BY y.driving_hk ORDER BY y.applied_ts DESC, y.load_ts DESC) AS dv_last
          FROM eff_order_customer_eff y
          WHERE y.applied_ts <= CAST(current_timestamp() AS TIMESTAMP_NTZ) AND y.load_ts < COALESCE((SELECT MIN(b.loaded_at) FROM dv_batch b WHERE b.status IN ('staging', 'staged', 'loading', 'partly loaded')), TIMESTAMP_NTZ '9999-12-31 00:00:00.000000')
      ) y
      WHERE y.dv_last = 1)
;

-- Each path's spans of life along applied time, as known before the first unfinished batch:
-- from an applied time at which every hub and link on it is live to the next at which one of
-- them is not (NULL: still live).
CREATE VIEW customer_orders_history AS
WITH
r1 AS (
    SELECT x.hk, x.applied_ts, CASE WHEN x.hash_diff <> X'00000000000000000000000000000000' THEN 1 ELSE 0 END AS live
    FROM (
        SELECT y.customer_hk AS hk, y.applied_ts, y.hash_diff,
               ROW_NUMBER() OVER (PARTITION BY y.customer_hk, y.applied_ts ORDER BY y.load_ts DESC) AS dv_pick
        FROM sat_customer_details y
        WHERE y.load_ts < COALESCE((SELECT MIN(b.loaded_at) FROM dv_batch b WHERE b.status IN ('staging', 'staged', 'loading', 'partly loaded')), TIMESTAMP_NTZ '9999-12-31 00:00:00.000000')
    ) x WHERE x.dv_pick = 1
),
r2 AS (
    SELECT x.hk, x.applied_ts, CASE WHEN x.hash_diff <> X'00000000000000000000000000000000' THEN 1 ELSE 0 END AS live
    FROM (
        SELECT y.order_hk AS hk, y.applied_ts, y.hash_diff,
               ROW_NUMBER() OVER (PARTITION BY y.order_hk, y.applied_ts ORDER BY y.load_ts DESC) AS dv_pick
        FROM sat_order_status y
        WHERE y.load_ts < COALESCE((SELECT MIN(b.loaded_at) FROM dv_batch b WHERE b.status IN ('staging', 'staged', 'loading', 'partly loaded')), TIMESTAMP_NTZ '9999-12-31 00:00:00.000000')
    ) x WHERE x.dv_pick = 1
),
-- customer: live where one of its required satellites holds a state that is not a deletion
m0 AS (
    SELECT p.hk, p.applied_ts, r1.live AS v1
    FROM (SELECT hk, applied_ts FROM r1) p
    LEFT JOIN r1 ON r1.hk = p.hk AND r1.applied_ts = p.applied_ts
),
g0 AS (
    SELECT m.*, COUNT(m.v1) OVER (PARTITION BY m.hk ORDER BY m.applied_ts) AS c1
    FROM m0 m
),
f0 AS (
    SELECT g.hk, g.applied_ts,
           CASE WHEN MAX(g.v1) OVER (PARTITION BY g.hk, g.c1) = 1 THEN 1 ELSE 0 END AS live
    FROM g0 g
),
b0 AS (
    SELECT f.hk, f.applied_ts, f.live, LAG(f.live) OVER (PARTITION BY f.hk ORDER BY f.applied_ts) AS dv_prev
    FROM f0 f
),
i0 AS (
    SELECT x.hk, x.applied_ts AS valid_from, COALESCE(x.dv_next, TIMESTAMP_NTZ '9999-12-31 00:00:00.000000') AS valid_to
    FROM (
        SELECT b.hk, b.applied_ts, b.live,
               LEAD(b.applied_ts) OVER (PARTITION BY b.hk ORDER BY b.applied_ts) AS dv_next
        FROM b0 b
        WHERE b.dv_prev IS NULL OR b.dv_prev <> b.live
    ) x WHERE x.live = 1
),
-- order: live where one of its required satellites holds a state that is not a deletion
m2 AS (
    SELECT p.hk, p.applied_ts, r2.live AS v2
    FROM (SELECT hk, applied_ts FROM r2) p
    LEFT JOIN r2 ON r2.hk = p.hk AND r2.applied_ts = p.applied_ts
),
g2 AS (
    SELECT m.*, COUNT(m.v2) OVER (PARTITION BY m.hk ORDER BY m.applied_ts) AS c2
    FROM m2 m
),
f2 AS (
    SELECT g.hk, g.applied_ts,
           CASE WHEN MAX(g.v2) OVER (PARTITION BY g.hk, g.c2) = 1 THEN 1 ELSE 0 END AS live
    FROM g2 g
),
b2 AS (
    SELECT f.hk, f.applied_ts, f.live, LAG(f.live) OVER (PARTITION BY f.hk ORDER BY f.applied_ts) AS dv_prev
    FROM f2 f
),
i2 AS (
    SELECT x.hk, x.applied_ts AS valid_from, COALESCE(x.dv_next, TIMESTAMP_NTZ '9999-12-31 00:00:00.000000') AS valid_to
    FROM (
        SELECT b.hk, b.applied_ts, b.live,
               LEAD(b.applied_ts) OVER (PARTITION BY b.hk ORDER BY b.applied_ts) AS dv_next
        FROM b2 b
        WHERE b.dv_prev IS NULL OR b.dv_prev <> b.live
    ) x WHERE x.live = 1
),
-- order_customer: each relationship's spans in effect (order_customer_eff): from a point of its driving
-- key where the relationship changes to it, to the next point where it changes
q1 AS (
    SELECT x.hk, x.applied_ts, x.hash_diff,
           LAG(x.hash_diff) OVER (PARTITION BY x.hk ORDER BY x.applied_ts) AS dv_prev
    FROM (
        SELECT y.driving_hk AS hk, y.applied_ts, y.hash_diff,
               ROW_NUMBER() OVER (PARTITION BY y.driving_hk, y.applied_ts ORDER BY y.load_ts DESC) AS dv_pick
        FROM eff_order_customer_eff y
        WHERE y.load_ts < COALESCE((SELECT MIN(b.loaded_at) FROM dv_batch b WHERE b.status IN ('staging', 'staged', 'loading', 'partly loaded')), TIMESTAMP_NTZ '9999-12-31 00:00:00.000000')
    ) x WHERE x.dv_pick = 1
),
eff1 AS (
    SELECT x.hash_diff AS lk, x.valid_from, x.valid_to
    FROM (
        SELECT q.hash_diff, q.applied_ts AS valid_from,
               COALESCE(LEAD(q.applied_ts) OVER (PARTITION BY q.hk ORDER BY q.applied_ts), TIMESTAMP_NTZ '9999-12-31 00:00:00.000000') AS valid_to
        FROM q1 q
        WHERE q.dv_prev IS NULL OR q.dv_prev <> q.hash_diff
    ) x WHERE x.hash_diff <> X'00000000000000000000000000000000'
),
paths AS (
    SELECT l1.customer_hk AS e0, l1.order_customer_hk AS e1, l1.order_hk AS e2
    FROM link_order_customer l1
    WHERE l1.load_ts < COALESCE((SELECT MIN(b.loaded_at) FROM dv_batch b WHERE b.status IN ('staging', 'staged', 'loading', 'partly loaded')), TIMESTAMP_NTZ '9999-12-31 00:00:00.000000')
)
SELECT h0.customer_number AS customer_number, h2.order_number AS order_number, p.valid_from, NULLIF(p.valid_to, TIMESTAMP_NTZ '9999-12-31 00:00:00.000000') AS valid_to
FROM (
    SELECT p.*, GREATEST(i0.valid_from, i2.valid_from, eff1.valid_from) AS valid_from, LEAST(i0.valid_to, i2.valid_to, eff1.valid_to) AS valid_to
    FROM paths p
    JOIN i0 ON i0.hk = p.e0
    JOIN i2 ON i2.hk = p.e2
    JOIN eff1 ON eff1.lk = p.e1
) p
JOIN hub_customer h0 ON h0.customer_hk = p.e0
JOIN hub_order h2 ON h2.order_hk = p.e2
WHERE p.valid_from < p.valid_to
;
