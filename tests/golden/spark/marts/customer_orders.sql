-- Bridge customer_orders (bridge_customer_orders): the path customer -> order_customer -> order,
-- one row per path and snapshot of the mart's spine (dv_mart_spine) at which every hub and
-- link on it is live: it has a state, not a deletion, in one of its required satellites
-- (an entity without required satellites is always live), as known at :known_at (the load
-- time of the last batch before the first unfinished one): only link and satellite rows
-- loaded by then count. A link with an effectivity satellite under effective: is live only in
-- the relationship in effect for its driving key, as known at :known_at.
-- Only the paths touched by batches after :after_batch, up to :known_at, are rewritten, each
-- from its earliest changed applied time on (every path from :since_all when :refresh_all is
-- 1); the rows of later batches are read by a later build.
DROP VIEW IF EXISTS dv_touched;

CACHE TABLE dv_touched AS
SELECT t.elem, t.hk, MIN(t.since) AS since
FROM (
    SELECT 1 AS elem, l.order_customer_hk AS hk, CAST(:since_all AS TIMESTAMP_NTZ) AS since FROM link_order_customer l WHERE :refresh_all = 1
    UNION ALL
    SELECT 1, l.order_customer_hk, TIMESTAMP_NTZ '0001-01-01 00:00:00.000000' FROM link_order_customer l
    WHERE l.batch_id > :after_batch AND l.load_ts <= CAST(:known_at AS TIMESTAMP_NTZ)
    UNION ALL
    SELECT 0, s.customer_hk, MIN(s.applied_ts) FROM sat_customer_details s
    WHERE s.batch_id > :after_batch AND s.load_ts <= CAST(:known_at AS TIMESTAMP_NTZ) GROUP BY s.customer_hk
    UNION ALL
    SELECT 2, s.order_hk, MIN(s.applied_ts) FROM sat_order_status s
    WHERE s.batch_id > :after_batch AND s.load_ts <= CAST(:known_at AS TIMESTAMP_NTZ) GROUP BY s.order_hk
    UNION ALL
    -- a change of a driving key's relationship touches every relationship it ever had
    SELECT 1, y.order_customer_hk, MIN(s.applied_ts) FROM eff_order_customer_eff s
    JOIN eff_order_customer_eff y ON y.driving_hk = s.driving_hk
    WHERE s.batch_id > :after_batch AND s.load_ts <= CAST(:known_at AS TIMESTAMP_NTZ) AND y.order_customer_hk IS NOT NULL
    GROUP BY y.order_customer_hk
) t
GROUP BY t.elem, t.hk;

DROP VIEW IF EXISTS dv_cand;

-- Every path through a touched hub or link, from the earliest time any of its parts changed.
CACHE TABLE dv_cand AS
SELECT c.e0, c.e1, c.e2, MIN(c.since) AS since
FROM (
    SELECT p.*, t.since FROM (
    SELECT l1.customer_hk AS e0, l1.order_customer_hk AS e1, l1.order_hk AS e2
    FROM link_order_customer l1
    WHERE l1.load_ts <= CAST(:known_at AS TIMESTAMP_NTZ)
    ) p JOIN dv_touched t ON t.elem = 0 AND t.hk = p.e0
    UNION ALL
    SELECT p.*, t.since FROM (
    SELECT l1.customer_hk AS e0, l1.order_customer_hk AS e1, l1.order_hk AS e2
    FROM link_order_customer l1
    WHERE l1.load_ts <= CAST(:known_at AS TIMESTAMP_NTZ)
    ) p JOIN dv_touched t ON t.elem = 1 AND t.hk = p.e1
    UNION ALL
    SELECT p.*, t.since FROM (
    SELECT l1.customer_hk AS e0, l1.order_customer_hk AS e1, l1.order_hk AS e2
    FROM link_order_customer l1
    WHERE l1.load_ts <= CAST(:known_at AS TIMESTAMP_NTZ)
    ) p JOIN dv_touched t ON t.elem = 2 AND t.hk = p.e2
) c
GROUP BY c.e0, c.e1, c.e2;

-- dv:touched
SELECT COUNT(*), MIN(since) FROM dv_cand;

-- dv:deleted
SELECT COUNT(*) FROM bridge_customer_orders m
WHERE EXISTS (SELECT 1 FROM dv_cand c
              WHERE c.e1 = m.order_customer_hk AND m.snapshot_ts >= c.since);

DROP VIEW IF EXISTS dv_kept;

CACHE TABLE dv_kept AS
SELECT m.* FROM bridge_customer_orders m
WHERE NOT EXISTS (SELECT 1 FROM dv_cand c
              WHERE c.e1 = m.order_customer_hk AND m.snapshot_ts >= c.since);

INSERT OVERWRITE TABLE bridge_customer_orders SELECT * FROM dv_kept;

DROP VIEW dv_kept;

DROP VIEW IF EXISTS dv_iv_1;

-- customer_details as known at :known_at: per key and applied time the latest row loaded by
-- then, valid until the key's next applied time.
CACHE TABLE dv_iv_1 AS
SELECT x.hk, x.applied_ts, x.load_ts, x.hash_diff,
       LEAD(x.applied_ts) OVER (PARTITION BY x.hk ORDER BY x.applied_ts) AS valid_to
FROM (
    SELECT s.customer_hk AS hk, s.applied_ts, s.load_ts, s.hash_diff,
           ROW_NUMBER() OVER (PARTITION BY s.customer_hk, s.applied_ts ORDER BY s.load_ts DESC) AS dv_pick
    FROM sat_customer_details s
    WHERE s.customer_hk IN (SELECT c.e0 FROM dv_cand c) AND s.load_ts <= CAST(:known_at AS TIMESTAMP_NTZ)
) x
WHERE x.dv_pick = 1;

DROP VIEW IF EXISTS dv_iv_2;

-- order_status as known at :known_at: per key and applied time the latest row loaded by
-- then, valid until the key's next applied time.
CACHE TABLE dv_iv_2 AS
SELECT x.hk, x.applied_ts, x.load_ts, x.hash_diff,
       LEAD(x.applied_ts) OVER (PARTITION BY x.hk ORDER BY x.applied_ts) AS valid_to
FROM (
    SELECT s.order_hk AS hk, s.applied_ts, s.load_ts, s.hash_diff,
           ROW_NUMBER() OVER (PARTITION BY s.order_hk, s.applied_ts ORDER BY s.load_ts DESC) AS dv_pick
    FROM sat_order_status s
    WHERE s.order_hk IN (SELECT c.e2 FROM dv_cand c) AND s.load_ts <= CAST(:known_at AS TIMESTAMP_NTZ)
) x
WHERE x.dv_pick = 1;

DROP VIEW IF EXISTS dv_ef_1;

-- order_customer_eff as known at :known_at: per key and applied time the latest row loaded by
-- then, valid until the key's next applied time.
CACHE TABLE dv_ef_1 AS
SELECT x.hk, x.applied_ts, x.load_ts, x.hash_diff,
       LEAD(x.applied_ts) OVER (PARTITION BY x.hk ORDER BY x.applied_ts) AS valid_to
FROM (
    SELECT s.driving_hk AS hk, s.applied_ts, s.load_ts, s.hash_diff,
           ROW_NUMBER() OVER (PARTITION BY s.driving_hk, s.applied_ts ORDER BY s.load_ts DESC) AS dv_pick
    FROM eff_order_customer_eff s
    WHERE s.driving_hk IN (SELECT z.driving_hk FROM eff_order_customer_eff z WHERE z.order_customer_hk IN (SELECT c.e1 FROM dv_cand c)) AND s.load_ts <= CAST(:known_at AS TIMESTAMP_NTZ)
) x
WHERE x.dv_pick = 1;

-- dv:inserted
INSERT INTO bridge_customer_orders (snapshot_ts, customer_hk, order_customer_hk, order_hk)
SELECT sp.snapshot_ts, c.e0, c.e1, c.e2
FROM dv_cand c
JOIN dv_mart_spine sp ON sp.mart = 'customer_orders' AND sp.snapshot_ts >= c.since
WHERE 1 = 1
  AND (EXISTS (
      SELECT 1 FROM dv_iv_1 i WHERE i.hk = c.e0 AND i.applied_ts <= sp.snapshot_ts AND (i.valid_to IS NULL OR sp.snapshot_ts < i.valid_to) AND i.hash_diff <> X'00000000000000000000000000000000'))
  AND (EXISTS (
      SELECT 1 FROM dv_iv_2 i WHERE i.hk = c.e2 AND i.applied_ts <= sp.snapshot_ts AND (i.valid_to IS NULL OR sp.snapshot_ts < i.valid_to) AND i.hash_diff <> X'00000000000000000000000000000000'))
  AND EXISTS (SELECT 1 FROM dv_ef_1 i WHERE i.hash_diff = c.e1 AND i.applied_ts <= sp.snapshot_ts AND (i.valid_to IS NULL OR sp.snapshot_ts < i.valid_to) AND i.hash_diff <> X'00000000000000000000000000000000')
;

DROP VIEW IF EXISTS dv_iv_1;

DROP VIEW IF EXISTS dv_iv_2;

DROP VIEW IF EXISTS dv_ef_1;

DROP VIEW IF EXISTS dv_cand;

DROP VIEW IF EXISTS dv_touched;
