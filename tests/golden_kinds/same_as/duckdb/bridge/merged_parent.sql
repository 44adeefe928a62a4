-- Bridge merged_parent (bridge_merged_parent): the path customer (duplicate) -> customer_same_as -> customer (survivor) -> customer_tree -> customer (parent),
-- one row per path and snapshot of the mart's spine (dv_mart_spine) at which every hub and
-- link on it is live: it has a state, not a deletion, in one of its required satellites
-- (an entity without required satellites is always live), as known at :known_at (the load
-- time of the last batch before the first unfinished one): only link and satellite rows
-- loaded by then count. A link with an effectivity satellite under effective: is live only in
-- the relationship in effect for its driving key, as known at :known_at.
-- Only the paths touched by batches after :after_batch, up to :known_at, are rewritten, each
-- from its earliest changed applied time on (every path from :since_all when :refresh_all is
-- 1); the rows of later batches are read by a later build.
DROP TABLE IF EXISTS dv_touched;

CREATE TEMPORARY TABLE dv_touched AS
SELECT t.elem, t.hk, MIN(t.since) AS since
FROM (
    SELECT 1 AS elem, l.customer_same_as_hk AS hk, CAST(:since_all AS TIMESTAMP) AS since FROM link_customer_same_as l WHERE :refresh_all = 1
    UNION ALL
    SELECT 1, l.customer_same_as_hk, TIMESTAMP '0001-01-01 00:00:00.000000' FROM link_customer_same_as l
    WHERE l.batch_id > :after_batch AND l.load_ts <= CAST(:known_at AS TIMESTAMP)
    UNION ALL
    SELECT 3 AS elem, l.customer_tree_hk AS hk, CAST(:since_all AS TIMESTAMP) AS since FROM link_customer_tree l WHERE :refresh_all = 1
    UNION ALL
    SELECT 3, l.customer_tree_hk, TIMESTAMP '0001-01-01 00:00:00.000000' FROM link_customer_tree l
    WHERE l.batch_id > :after_batch AND l.load_ts <= CAST(:known_at AS TIMESTAMP)
    UNION ALL
    SELECT 0, s.customer_hk, MIN(s.applied_ts) FROM sat_customer_status s
    WHERE s.batch_id > :after_batch AND s.load_ts <= CAST(:known_at AS TIMESTAMP) GROUP BY s.customer_hk
    UNION ALL
    SELECT 2, s.customer_hk, MIN(s.applied_ts) FROM sat_customer_status s
    WHERE s.batch_id > :after_batch AND s.load_ts <= CAST(:known_at AS TIMESTAMP) GROUP BY s.customer_hk
    UNION ALL
    SELECT 4, s.customer_hk, MIN(s.applied_ts) FROM sat_customer_status s
    WHERE s.batch_id > :after_batch AND s.load_ts <= CAST(:known_at AS TIMESTAMP) GROUP BY s.customer_hk
    UNION ALL
    -- a change of a driving key's relationship touches every relationship it ever had
    SELECT 1, y.customer_same_as_hk, MIN(s.applied_ts) FROM eff_merged s
    JOIN eff_merged y ON y.driving_hk = s.driving_hk
    WHERE s.batch_id > :after_batch AND s.load_ts <= CAST(:known_at AS TIMESTAMP) AND y.customer_same_as_hk IS NOT NULL
    GROUP BY y.customer_same_as_hk
) t
GROUP BY t.elem, t.hk;

DROP TABLE IF EXISTS dv_cand;

-- Every path through a touched hub or link, from the earliest time any of its parts changed.
CREATE TEMPORARY TABLE dv_cand AS
SELECT c.e0, c.e1, c.e2, c.e3, c.e4, MIN(c.since) AS since
FROM (
    SELECT p.*, t.since FROM (
    SELECT l1.duplicate_hk AS e0, l1.customer_same_as_hk AS e1, l1.survivor_hk AS e2, l3.customer_tree_hk AS e3, l3.parent_hk AS e4
    FROM link_customer_same_as l1    JOIN link_customer_tree l3 ON l3.child_hk = l1.survivor_hk
    WHERE l1.load_ts <= CAST(:known_at AS TIMESTAMP) AND l1.duplicate_hk <> l1.survivor_hk AND l3.load_ts <= CAST(:known_at AS TIMESTAMP) AND l3.child_hk <> l3.parent_hk
    ) p JOIN dv_touched t ON t.elem = 0 AND t.hk = p.e0
    UNION ALL
    SELECT p.*, t.since FROM (
    SELECT l1.duplicate_hk AS e0, l1.customer_same_as_hk AS e1, l1.survivor_hk AS e2, l3.customer_tree_hk AS e3, l3.parent_hk AS e4
    FROM link_customer_same_as l1    JOIN link_customer_tree l3 ON l3.child_hk = l1.survivor_hk
    WHERE l1.load_ts <= CAST(:known_at AS TIMESTAMP) AND l1.duplicate_hk <> l1.survivor_hk AND l3.load_ts <= CAST(:known_at AS TIMESTAMP) AND l3.child_hk <> l3.parent_hk
    ) p JOIN dv_touched t ON t.elem = 1 AND t.hk = p.e1
    UNION ALL
    SELECT p.*, t.since FROM (
    SELECT l1.duplicate_hk AS e0, l1.customer_same_as_hk AS e1, l1.survivor_hk AS e2, l3.customer_tree_hk AS e3, l3.parent_hk AS e4
    FROM link_customer_same_as l1    JOIN link_customer_tree l3 ON l3.child_hk = l1.survivor_hk
    WHERE l1.load_ts <= CAST(:known_at AS TIMESTAMP) AND l1.duplicate_hk <> l1.survivor_hk AND l3.load_ts <= CAST(:known_at AS TIMESTAMP) AND l3.child_hk <> l3.parent_hk
    ) p JOIN dv_touched t ON t.elem = 2 AND t.hk = p.e2
    UNION ALL
    SELECT p.*, t.since FROM (
    SELECT l1.duplicate_hk AS e0, l1.customer_same_as_hk AS e1, l1.survivor_hk AS e2, l3.customer_tree_hk AS e3, l3.parent_hk AS e4
    FROM link_customer_same_as l1    JOIN link_customer_tree l3 ON l3.child_hk = l1.survivor_hk
    WHERE l1.load_ts <= CAST(:known_at AS TIMESTAMP) AND l1.duplicate_hk <> l1.survivor_hk AND l3.load_ts <= CAST(:known_at AS TIMESTAMP) AND l3.child_hk <> l3.parent_hk
    ) p JOIN dv_touched t ON t.elem = 3 AND t.hk = p.e3
    UNION ALL
    SELECT p.*, t.since FROM (
    SELECT l1.duplicate_hk AS e0, l1.customer_same_as_hk AS e1, l1.survivor_hk AS e2, l3.customer_tree_hk AS e3, l3.parent_hk AS e4
    FROM link_customer_same_as l1    JOIN link_customer_tree l3 ON l3.child_hk = l1.survivor_hk
    WHERE l1.load_ts <= CAST(:known_at AS TIMESTAMP) AND l1.duplicate_hk <> l1.survivor_hk AND l3.load_ts <= CAST(:known_at AS TIMESTAMP) AND l3.child_hk <> l3.parent_hk
    ) p JOIN dv_touched t ON t.elem = 4 AND t.hk = p.e4
) c
GROUP BY c.e0, c.e1, c.e2, c.e3, c.e4;

CREATE INDEX dv_cand_key ON dv_cand (e1, e3);

-- dv:touched
SELECT COUNT(*), MIN(since) FROM dv_cand;

-- dv:deleted
DELETE FROM bridge_merged_parent
WHERE customer_same_as_hk IN (SELECT c.e1 FROM dv_cand c)
  AND EXISTS (SELECT 1 FROM dv_cand c
              WHERE c.e1 = bridge_merged_parent.customer_same_as_hk AND c.e3 = bridge_merged_parent.customer_tree_hk AND bridge_merged_parent.snapshot_ts >= c.since);

DROP TABLE IF EXISTS dv_iv_1;

-- customer_status as known at :known_at: per key and applied time the latest row loaded by
-- then, valid until the key's next applied time.
CREATE TEMPORARY TABLE dv_iv_1 AS
SELECT x.hk, x.applied_ts, x.load_ts, x.hash_diff,
       LEAD(x.applied_ts) OVER (PARTITION BY x.hk ORDER BY x.applied_ts) AS valid_to
FROM (
    SELECT s.customer_hk AS hk, s.applied_ts, s.load_ts, s.hash_diff,
           ROW_NUMBER() OVER (PARTITION BY s.customer_hk, s.applied_ts ORDER BY s.load_ts DESC) AS dv_pick
    FROM sat_customer_status s
    WHERE s.customer_hk IN (SELECT c.e0 FROM dv_cand c UNION ALL SELECT c.e2 FROM dv_cand c UNION ALL SELECT c.e4 FROM dv_cand c) AND s.load_ts <= CAST(:known_at AS TIMESTAMP)
) x
WHERE x.dv_pick = 1;

CREATE INDEX dv_iv_1_hk ON dv_iv_1 (hk, applied_ts);

DROP TABLE IF EXISTS dv_ef_1;

-- merged as known at :known_at: per key and applied time the latest row loaded by
-- then, valid until the key's next applied time.
CREATE TEMPORARY TABLE dv_ef_1 AS
SELECT x.hk, x.applied_ts, x.load_ts, x.hash_diff,
       LEAD(x.applied_ts) OVER (PARTITION BY x.hk ORDER BY x.applied_ts) AS valid_to
FROM (
    SELECT s.driving_hk AS hk, s.applied_ts, s.load_ts, s.hash_diff,
           ROW_NUMBER() OVER (PARTITION BY s.driving_hk, s.applied_ts ORDER BY s.load_ts DESC) AS dv_pick
    FROM eff_merged s
    WHERE s.driving_hk IN (SELECT z.driving_hk FROM eff_merged z WHERE z.customer_same_as_hk IN (SELECT c.e1 FROM dv_cand c)) AND s.load_ts <= CAST(:known_at AS TIMESTAMP)
) x
WHERE x.dv_pick = 1;

CREATE INDEX dv_ef_1_hk ON dv_ef_1 (hk, applied_ts);

-- a relationship is in effect where its driving key's state is its link key (the hash diff)
CREATE INDEX dv_ef_1_diff ON dv_ef_1 (hash_diff, applied_ts);

-- dv:inserted
INSERT INTO bridge_merged_parent (snapshot_ts, duplicate_hk, customer_same_as_hk, survivor_hk, customer_tree_hk, parent_hk)
SELECT sp.snapshot_ts, c.e0, c.e1, c.e2, c.e3, c.e4
FROM dv_cand c
JOIN dv_mart_spine sp ON sp.mart = 'merged_parent' AND sp.snapshot_ts >= c.since
WHERE 1 = 1
  AND (EXISTS (
      SELECT 1 FROM dv_iv_1 i WHERE i.hk = c.e0 AND i.applied_ts <= sp.snapshot_ts AND (i.valid_to IS NULL OR sp.snapshot_ts < i.valid_to) AND i.hash_diff <> from_hex('00000000000000000000000000000000')))
  AND (EXISTS (
      SELECT 1 FROM dv_iv_1 i WHERE i.hk = c.e2 AND i.applied_ts <= sp.snapshot_ts AND (i.valid_to IS NULL OR sp.snapshot_ts < i.valid_to) AND i.hash_diff <> from_hex('00000000000000000000000000000000')))
  AND (EXISTS (
      SELECT 1 FROM dv_iv_1 i WHERE i.hk = c.e4 AND i.applied_ts <= sp.snapshot_ts AND (i.valid_to IS NULL OR sp.snapshot_ts < i.valid_to) AND i.hash_diff <> from_hex('00000000000000000000000000000000')))
  AND EXISTS (SELECT 1 FROM dv_ef_1 i WHERE i.hash_diff = c.e1 AND i.applied_ts <= sp.snapshot_ts AND (i.valid_to IS NULL OR sp.snapshot_ts < i.valid_to) AND i.hash_diff <> from_hex('00000000000000000000000000000000'))
;

DROP TABLE IF EXISTS dv_iv_1;

DROP TABLE IF EXISTS dv_ef_1;

DROP TABLE IF EXISTS dv_cand;

DROP TABLE IF EXISTS dv_touched;
