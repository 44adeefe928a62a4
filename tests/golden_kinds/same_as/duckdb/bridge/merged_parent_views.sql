-- Views for people over bridge merged_parent: the business keys of every hub on the path.
-- The snapshot view answers as its bridge was built; current and history read the links and
-- satellites as known before the first batch that has not finished (as `datavault query`
-- does).
DROP VIEW IF EXISTS merged_parent_snapshot;

DROP VIEW IF EXISTS merged_parent_current;

DROP VIEW IF EXISTS merged_parent_history;

-- The paths live at each snapshot of the spine, as known at the last build.
CREATE VIEW merged_parent_snapshot AS
SELECT b.snapshot_ts AS snapshot_at, h0.customer_id AS duplicate_customer_id, h2.customer_id AS survivor_customer_id, h4.customer_id AS parent_customer_id
FROM bridge_merged_parent b
JOIN hub_customer h0 ON h0.customer_hk = b.duplicate_hk
JOIN hub_customer h2 ON h2.customer_hk = b.survivor_hk
JOIN hub_customer h4 ON h4.customer_hk = b.parent_hk
;

-- The paths live now (their states at the current time), as known before the first
-- unfinished batch. Each step's latest row is looked up per key (a correlated subquery on the
-- satellite's primary key), so a query of a few paths reads only their satellite rows.
CREATE VIEW merged_parent_current AS
WITH
paths AS (
    SELECT l1.duplicate_hk AS e0, l1.customer_same_as_hk AS e1, l1.survivor_hk AS e2, l3.customer_tree_hk AS e3, l3.parent_hk AS e4
    FROM link_customer_same_as l1    JOIN link_customer_tree l3 ON l3.child_hk = l1.survivor_hk
    WHERE l1.load_ts < COALESCE((SELECT MIN(b.loaded_at) FROM dv_batch b WHERE b.status IN ('staging', 'staged', 'loading', 'partly loaded')), TIMESTAMP '9999-12-31 00:00:00.000000') AND l1.duplicate_hk <> l1.survivor_hk AND l3.load_ts < COALESCE((SELECT MIN(b.loaded_at) FROM dv_batch b WHERE b.status IN ('staging', 'staged', 'loading', 'partly loaded')), TIMESTAMP '9999-12-31 00:00:00.000000') AND l3.child_hk <> l3.parent_hk
)
SELECT h0.customer_id AS duplicate_customer_id, h2.customer_id AS survivor_customer_id, h4.customer_id AS parent_customer_id
FROM paths p
JOIN hub_customer h0 ON h0.customer_hk = p.e0
JOIN hub_customer h2 ON h2.customer_hk = p.e2
JOIN hub_customer h4 ON h4.customer_hk = p.e4
WHERE 1 = 1
  AND ((
        SELECT y.hash_diff FROM sat_customer_status y
        WHERE y.customer_hk = p.e0 AND y.applied_ts <= CAST(now() AT TIME ZONE 'UTC' AS TIMESTAMP) AND y.load_ts < COALESCE((SELECT MIN(b.loaded_at) FROM dv_batch b WHERE b.status IN ('staging', 'staged', 'loading', 'partly loaded')), TIMESTAMP '9999-12-31 00:00:00.000000')
        ORDER BY y.applied_ts DESC, y.load_ts DESC LIMIT 1) <> from_hex('00000000000000000000000000000000'))
  AND ((
        SELECT y.hash_diff FROM sat_customer_status y
        WHERE y.customer_hk = p.e2 AND y.applied_ts <= CAST(now() AT TIME ZONE 'UTC' AS TIMESTAMP) AND y.load_ts < COALESCE((SELECT MIN(b.loaded_at) FROM dv_batch b WHERE b.status IN ('staging', 'staged', 'loading', 'partly loaded')), TIMESTAMP '9999-12-31 00:00:00.000000')
        ORDER BY y.applied_ts DESC, y.load_ts DESC LIMIT 1) <> from_hex('00000000000000000000000000000000'))
  AND ((
        SELECT y.hash_diff FROM sat_customer_status y
        WHERE y.customer_hk = p.e4 AND y.applied_ts <= CAST(now() AT TIME ZONE 'UTC' AS TIMESTAMP) AND y.load_ts < COALESCE((SELECT MIN(b.loaded_at) FROM dv_batch b WHERE b.status IN ('staging', 'staged', 'loading', 'partly loaded')), TIMESTAMP '9999-12-31 00:00:00.000000')
        ORDER BY y.applied_ts DESC, y.load_ts DESC LIMIT 1) <> from_hex('00000000000000000000000000000000'))
  -- customer_same_as: the relationship in effect now for its driving key (merged)
  AND (SELECT y.hash_diff FROM eff_merged y
       WHERE y.driving_hk = (SELECT z.duplicate_hk FROM link_customer_same_as z WHERE z.customer_same_as_hk = p.e1)
         AND y.applied_ts <= CAST(now() AT TIME ZONE 'UTC' AS TIMESTAMP) AND y.load_ts < COALESCE((SELECT MIN(b.loaded_at) FROM dv_batch b WHERE b.status IN ('staging', 'staged', 'loading', 'partly loaded')), TIMESTAMP '9999-12-31 00:00:00.000000')
       ORDER BY y.applied_ts DESC, y.load_ts DESC LIMIT 1) = p.e1
;

-- Each path's spans of life along applied time, as known before the first unfinished batch:
-- from an applied time at which every hub and link on it is live to the next at which one of
-- them is not (NULL: still live).
CREATE VIEW merged_parent_history AS
WITH
r1 AS (
    SELECT x.hk, x.applied_ts, CASE WHEN x.hash_diff <> from_hex('00000000000000000000000000000000') THEN 1 ELSE 0 END AS live
    FROM (
        SELECT y.customer_hk AS hk, y.applied_ts, y.hash_diff,
               ROW_NUMBER() OVER (PARTITION BY y.customer_hk, y.applied_ts ORDER BY y.load_ts DESC) AS dv_pick
        FROM sat_customer_status y
        WHERE y.load_ts < COALESCE((SELECT MIN(b.loaded_at) FROM dv_batch b WHERE b.status IN ('staging', 'staged', 'loading', 'partly loaded')), TIMESTAMP '9999-12-31 00:00:00.000000')
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
    SELECT x.hk, x.applied_ts AS valid_from, COALESCE(x.dv_next, TIMESTAMP '9999-12-31 00:00:00.000000') AS valid_to
    FROM (
        SELECT b.hk, b.applied_ts, b.live,
               LEAD(b.applied_ts) OVER (PARTITION BY b.hk ORDER BY b.applied_ts) AS dv_next
        FROM b0 b
        WHERE b.dv_prev IS NULL OR b.dv_prev <> b.live
    ) x WHERE x.live = 1
),
-- customer: live where one of its required satellites holds a state that is not a deletion
m2 AS (
    SELECT p.hk, p.applied_ts, r1.live AS v1
    FROM (SELECT hk, applied_ts FROM r1) p
    LEFT JOIN r1 ON r1.hk = p.hk AND r1.applied_ts = p.applied_ts
),
g2 AS (
    SELECT m.*, COUNT(m.v1) OVER (PARTITION BY m.hk ORDER BY m.applied_ts) AS c1
    FROM m2 m
),
f2 AS (
    SELECT g.hk, g.applied_ts,
           CASE WHEN MAX(g.v1) OVER (PARTITION BY g.hk, g.c1) = 1 THEN 1 ELSE 0 END AS live
    FROM g2 g
),
b2 AS (
    SELECT f.hk, f.applied_ts, f.live, LAG(f.live) OVER (PARTITION BY f.hk ORDER BY f.applied_ts) AS dv_prev
    FROM f2 f
),
i2 AS (
    SELECT x.hk, x.applied_ts AS valid_from, COALESCE(x.dv_next, TIMESTAMP '9999-12-31 00:00:00.000000') AS valid_to
    FROM (
        SELECT b.hk, b.applied_ts, b.live,
               LEAD(b.applied_ts) OVER (PARTITION BY b.hk ORDER BY b.applied_ts) AS dv_next
        FROM b2 b
        WHERE b.dv_prev IS NULL OR b.dv_prev <> b.live
    ) x WHERE x.live = 1
),
-- customer: live where one of its required satellites holds a state that is not a deletion
m4 AS (
    SELECT p.hk, p.applied_ts, r1.live AS v1
    FROM (SELECT hk, applied_ts FROM r1) p
    LEFT JOIN r1 ON r1.hk = p.hk AND r1.applied_ts = p.applied_ts
),
g4 AS (
    SELECT m.*, COUNT(m.v1) OVER (PARTITION BY m.hk ORDER BY m.applied_ts) AS c1
    FROM m4 m
),
f4 AS (
    SELECT g.hk, g.applied_ts,
           CASE WHEN MAX(g.v1) OVER (PARTITION BY g.hk, g.c1) = 1 THEN 1 ELSE 0 END AS live
    FROM g4 g
),
b4 AS (
    SELECT f.hk, f.applied_ts, f.live, LAG(f.live) OVER (PARTITION BY f.hk ORDER BY f.applied_ts) AS dv_prev
    FROM f4 f
),
i4 AS (
    SELECT x.hk, x.applied_ts AS valid_from, COALESCE(x.dv_next, TIMESTAMP '9999-12-31 00:00:00.000000') AS valid_to
    FROM (
        SELECT b.hk, b.applied_ts, b.live,
               LEAD(b.applied_ts) OVER (PARTITION BY b.hk ORDER BY b.applied_ts) AS dv_next
        FROM b4 b
        WHERE b.dv_prev IS NULL OR b.dv_prev <> b.live
    ) x WHERE x.live = 1
),
-- customer_same_as: each relationship's spans in effect (merged): from a point of its driving
-- key where the relationship changes to it, to the next point where it changes
q1 AS (
    SELECT x.hk, x.applied_ts, x.hash_diff,
           LAG(x.hash_diff) OVER (PARTITION BY x.hk ORDER BY x.applied_ts) AS dv_prev
    FROM (
        SELECT y.driving_hk AS hk, y.applied_ts, y.hash_diff,
               ROW_NUMBER() OVER (PARTITION BY y.driving_hk, y.applied_ts ORDER BY y.load_ts DESC) AS dv_pick
        FROM eff_merged y
        WHERE y.load_ts < COALESCE((SELECT MIN(b.loaded_at) FROM dv_batch b WHERE b.status IN ('staging', 'staged', 'loading', 'partly loaded')), TIMESTAMP '9999-12-31 00:00:00.000000')
    ) x WHERE x.dv_pick = 1
),
eff1 AS (
    SELECT x.hash_diff AS lk, x.valid_from, x.valid_to
    FROM (
        SELECT q.hash_diff, q.applied_ts AS valid_from,
               COALESCE(LEAD(q.applied_ts) OVER (PARTITION BY q.hk ORDER BY q.applied_ts), TIMESTAMP '9999-12-31 00:00:00.000000') AS valid_to
        FROM q1 q
        WHERE q.dv_prev IS NULL OR q.dv_prev <> q.hash_diff
    ) x WHERE x.hash_diff <> from_hex('00000000000000000000000000000000')
),
paths AS (
    SELECT l1.duplicate_hk AS e0, l1.customer_same_as_hk AS e1, l1.survivor_hk AS e2, l3.customer_tree_hk AS e3, l3.parent_hk AS e4
    FROM link_customer_same_as l1    JOIN link_customer_tree l3 ON l3.child_hk = l1.survivor_hk
    WHERE l1.load_ts < COALESCE((SELECT MIN(b.loaded_at) FROM dv_batch b WHERE b.status IN ('staging', 'staged', 'loading', 'partly loaded')), TIMESTAMP '9999-12-31 00:00:00.000000') AND l1.duplicate_hk <> l1.survivor_hk AND l3.load_ts < COALESCE((SELECT MIN(b.loaded_at) FROM dv_batch b WHERE b.status IN ('staging', 'staged', 'loading', 'partly loaded')), TIMESTAMP '9999-12-31 00:00:00.000000') AND l3.child_hk <> l3.parent_hk
)
SELECT h0.customer_id AS duplicate_customer_id, h2.customer_id AS survivor_customer_id, h4.customer_id AS parent_customer_id, p.valid_from, NULLIF(p.valid_to, TIMESTAMP '9999-12-31 00:00:00.000000') AS valid_to
FROM (
    SELECT p.*, GREATEST(i0.valid_from, i2.valid_from, i4.valid_from, eff1.valid_from) AS valid_from, LEAST(i0.valid_to, i2.valid_to, i4.valid_to, eff1.valid_to) AS valid_to
    FROM paths p
    JOIN i0 ON i0.hk = p.e0
    JOIN i2 ON i2.hk = p.e2
    JOIN i4 ON i4.hk = p.e4
    JOIN eff1 ON eff1.lk = p.e1
) p
JOIN hub_customer h0 ON h0.customer_hk = p.e0
JOIN hub_customer h2 ON h2.customer_hk = p.e2
JOIN hub_customer h4 ON h4.customer_hk = p.e4
WHERE p.valid_from < p.valid_to
;
