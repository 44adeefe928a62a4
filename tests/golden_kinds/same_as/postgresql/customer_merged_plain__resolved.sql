-- The resolution view of same-as link customer_merged_plain (SEMANTICS.md section 10): each key of hub
-- customer with its survivor along applied time, as known before the first batch that has not
-- finished (as `datavault query` answers by default). A key's survivor is the end of the walk
-- from it along the edges in effect; a walk through a key with several survivors, or round a
-- cycle, leaves the key resolved to itself, and `conflict` says why. `valid_from` is the
-- applied time from which the row holds (the start of time: the earliest timestamp),
-- `valid_to` where the next begins (NULL: it still holds). Keys on no edge have one row.
DROP VIEW IF EXISTS customer_merged_plain__resolved;

CREATE VIEW customer_merged_plain__resolved AS
WITH RECURSIVE
-- the applied times at which an edge may begin or end
points AS (
    SELECT TIMESTAMP '0001-01-01 00:00:00.000000' AS t
),
-- the edges in effect at each point
edges AS (
    SELECT DISTINCT p.t, l.duplicate_hk AS a, l.survivor_hk AS b
    FROM points p CROSS JOIN link_customer_merged_plain l
    WHERE l.load_ts < COALESCE((SELECT MIN(b.loaded_at) FROM dv_batch b WHERE b.status IN ('staging', 'staged', 'loading', 'partly loaded')), TIMESTAMP '9999-12-31 00:00:00.000000') AND l.duplicate_hk <> l.survivor_hk
),
-- per point and key, how many survivors it has in effect
counted AS (
    SELECT t, a, b, COUNT(*) OVER (PARTITION BY t, a) AS n FROM edges
),
outgoing AS (
    SELECT DISTINCT t, a, n FROM counted
),
-- per point, the keys with one survivor: a walk longer than their number is in a cycle
bound AS (
    SELECT t, COUNT(*) AS n FROM outgoing WHERE n = 1 GROUP BY t
),
graph AS (
    SELECT duplicate_hk AS hk FROM link_customer_merged_plain WHERE load_ts < COALESCE((SELECT MIN(b.loaded_at) FROM dv_batch b WHERE b.status IN ('staging', 'staged', 'loading', 'partly loaded')), TIMESTAMP '9999-12-31 00:00:00.000000')
    UNION
    SELECT survivor_hk FROM link_customer_merged_plain WHERE load_ts < COALESCE((SELECT MIN(b.loaded_at) FROM dv_batch b WHERE b.status IN ('staging', 'staged', 'loading', 'partly loaded')), TIMESTAMP '9999-12-31 00:00:00.000000')
),
walk (t, start_hk, hk, depth) AS (
    SELECT p.t, g.hk, g.hk, 0 FROM points p CROSS JOIN graph g
    UNION ALL
    SELECT w.t, w.start_hk, o.b, w.depth + 1
    FROM walk w
    JOIN counted o ON o.t = w.t AND o.a = w.hk AND o.n = 1
    JOIN bound c ON c.t = w.t
    WHERE w.depth < c.n
),
ends AS (
    SELECT w.t, w.start_hk, w.hk, w.depth,
           ROW_NUMBER() OVER (PARTITION BY w.t, w.start_hk ORDER BY w.depth DESC) AS dv_last
    FROM walk w
),
resolved AS (
    SELECT x.t, x.start_hk,
           CASE WHEN o.n IS NULL THEN x.hk ELSE x.start_hk END AS survivor_hk,
           CASE WHEN o.n IS NULL THEN x.depth ELSE 0 END AS steps,
           CASE WHEN o.n IS NULL THEN NULL WHEN o.n > 1 THEN 'several survivors' ELSE 'cycle' END
               AS conflict
    FROM ends x LEFT JOIN outgoing o ON o.t = x.t AND o.a = x.hk
    WHERE x.dv_last = 1
),
-- the points where a key's answer (its survivor, the steps to it, a conflict) changes
changes AS (
    SELECT r.*, LAG(r.survivor_hk) OVER (PARTITION BY r.start_hk ORDER BY r.t) AS dv_prev,
           LAG(r.steps) OVER (PARTITION BY r.start_hk ORDER BY r.t) AS dv_prev_steps,
           LAG(r.conflict) OVER (PARTITION BY r.start_hk ORDER BY r.t) AS dv_prev_conflict,
           ROW_NUMBER() OVER (PARTITION BY r.start_hk ORDER BY r.t) AS dv_n
    FROM resolved r
),
kept AS (
    SELECT c.start_hk, c.survivor_hk, c.steps, c.conflict, c.t AS valid_from,
           LEAD(c.t) OVER (PARTITION BY c.start_hk ORDER BY c.t) AS valid_to
    FROM changes c
    WHERE c.dv_n = 1 OR c.survivor_hk <> c.dv_prev OR c.steps <> c.dv_prev_steps
        OR COALESCE(c.conflict, '') <> COALESCE(c.dv_prev_conflict, '')
),
answers AS (
    SELECT start_hk, survivor_hk, steps, conflict, valid_from, valid_to FROM kept
    UNION ALL
    SELECT h.customer_hk, h.customer_hk, 0, NULL, TIMESTAMP '0001-01-01 00:00:00.000000', NULL
    FROM hub_customer h
    WHERE h.load_ts < COALESCE((SELECT MIN(b.loaded_at) FROM dv_batch b WHERE b.status IN ('staging', 'staged', 'loading', 'partly loaded')), TIMESTAMP '9999-12-31 00:00:00.000000')
        AND h.customer_hk NOT IN (SELECT hk FROM graph)
)
SELECT x.start_hk AS customer_hk, k.customer_id AS customer_id,
       x.survivor_hk AS survivor_hk, s.customer_id AS survivor_customer_id,
       x.steps, x.conflict, x.valid_from, x.valid_to
FROM answers x
LEFT JOIN hub_customer k ON k.customer_hk = x.start_hk
LEFT JOIN hub_customer s ON s.customer_hk = x.survivor_hk
;
