-- Bridge order_currencies (bridge_order_currencies): the path order -> order_money -> money,
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
    SELECT 1 AS elem, l.order_money_hk AS hk, :since_all AS since FROM link_order_money l WHERE :refresh_all = 1
    UNION ALL
    SELECT 1, l.order_money_hk, '0001-01-01 00:00:00.000000' FROM link_order_money l
    WHERE l.batch_id > :after_batch AND l.load_ts <= :known_at
    UNION ALL
    SELECT 0, s.order_hk, MIN(s.applied_ts) FROM sat_order_details s
    WHERE s.batch_id > :after_batch AND s.load_ts <= :known_at GROUP BY s.order_hk
) t
GROUP BY t.elem, t.hk;

DROP TABLE IF EXISTS dv_cand;

-- Every path through a touched hub or link, from the earliest time any of its parts changed.
CREATE TEMPORARY TABLE dv_cand AS
SELECT c.e0, c.e1, c.e2, MIN(c.since) AS since
FROM (
    SELECT p.*, t.since FROM (
    SELECT l1.order_hk AS e0, l1.order_money_hk AS e1, l1.money_hk AS e2
    FROM link_order_money l1
    WHERE l1.load_ts <= :known_at
    ) p JOIN dv_touched t ON t.elem = 0 AND t.hk = p.e0
    UNION ALL
    SELECT p.*, t.since FROM (
    SELECT l1.order_hk AS e0, l1.order_money_hk AS e1, l1.money_hk AS e2
    FROM link_order_money l1
    WHERE l1.load_ts <= :known_at
    ) p JOIN dv_touched t ON t.elem = 1 AND t.hk = p.e1
    UNION ALL
    SELECT p.*, t.since FROM (
    SELECT l1.order_hk AS e0, l1.order_money_hk AS e1, l1.money_hk AS e2
    FROM link_order_money l1
    WHERE l1.load_ts <= :known_at
    ) p JOIN dv_touched t ON t.elem = 2 AND t.hk = p.e2
) c
GROUP BY c.e0, c.e1, c.e2;

CREATE INDEX dv_cand_key ON dv_cand (e1);

-- dv:touched
SELECT COUNT(*), MIN(since) FROM dv_cand;

-- dv:deleted
DELETE FROM bridge_order_currencies
WHERE order_money_hk IN (SELECT c.e1 FROM dv_cand c)
  AND EXISTS (SELECT 1 FROM dv_cand c
              WHERE c.e1 = bridge_order_currencies.order_money_hk AND bridge_order_currencies.snapshot_ts >= c.since);

DROP TABLE IF EXISTS dv_iv_1;

-- order_details as known at :known_at: per key and applied time the latest row loaded by
-- then, valid until the key's next applied time.
CREATE TEMPORARY TABLE dv_iv_1 AS
SELECT x.hk, x.applied_ts, x.load_ts, x.hash_diff,
       LEAD(x.applied_ts) OVER (PARTITION BY x.hk ORDER BY x.applied_ts) AS valid_to
FROM (
    SELECT s.order_hk AS hk, s.applied_ts, s.load_ts, s.hash_diff,
           ROW_NUMBER() OVER (PARTITION BY s.order_hk, s.applied_ts ORDER BY s.load_ts DESC) AS dv_pick
    FROM sat_order_details s
    WHERE s.order_hk IN (SELECT c.e0 FROM dv_cand c) AND s.load_ts <= :known_at
) x
WHERE x.dv_pick = 1;

CREATE INDEX dv_iv_1_hk ON dv_iv_1 (hk, applied_ts);

-- dv:inserted
INSERT INTO bridge_order_currencies (snapshot_ts, order_hk, order_money_hk, money_hk)
SELECT sp.snapshot_ts, c.e0, c.e1, c.e2
FROM dv_cand c
JOIN dv_mart_spine sp ON sp.mart = 'order_currencies' AND sp.snapshot_ts >= c.since
WHERE 1 = 1
  AND (EXISTS (
      SELECT 1 FROM dv_iv_1 i WHERE i.hk = c.e0 AND i.applied_ts <= sp.snapshot_ts AND (i.valid_to IS NULL OR sp.snapshot_ts < i.valid_to) AND i.hash_diff <> X'00000000000000000000000000000000'))
;

DROP TABLE IF EXISTS dv_iv_1;

DROP TABLE IF EXISTS dv_cand;

DROP TABLE IF EXISTS dv_touched;
