-- PIT orders (pit_orders): for each key of hub_order and each snapshot of the
-- mart's spine (dv_mart_spine), a pointer (key, applied_ts, load_ts) to the row of each
-- satellite that gives its state at that snapshot as known at :known_at (the load time of the
-- last batch before the first unfinished one); the ghost pointer (zero key, earliest time)
-- where there is no state yet or the state is a deletion. A key counts once its row, or a row
-- of one of the satellites, was loaded by then (another source's later batch may have been
-- the first to write the key).
-- Only the keys touched by batches after :after_batch, up to :known_at, are rewritten, each
-- from its earliest changed applied time on (every key from :since_all when :refresh_all is
-- 1); the rows of later batches are read by a later build.
DROP VIEW IF EXISTS dv_touched;

CACHE TABLE dv_touched AS
SELECT t.hk, MIN(t.since) AS since
FROM (
    SELECT p.order_hk AS hk, CAST(:since_all AS TIMESTAMP_NTZ) AS since FROM hub_order p WHERE :refresh_all = 1
    UNION ALL
    SELECT p.order_hk, TIMESTAMP_NTZ '0001-01-01 00:00:00.000000' FROM hub_order p WHERE p.batch_id > :after_batch
    UNION ALL
    SELECT s.order_hk, MIN(s.applied_ts) FROM sat_order_status s
    WHERE s.batch_id > :after_batch AND s.load_ts <= CAST(:known_at AS TIMESTAMP_NTZ) GROUP BY s.order_hk
    UNION ALL
    SELECT s.driving_hk, MIN(s.applied_ts) FROM eff_order_customer_eff s
    WHERE s.batch_id > :after_batch AND s.load_ts <= CAST(:known_at AS TIMESTAMP_NTZ) GROUP BY s.driving_hk
) t
WHERE t.hk IN (SELECT p.order_hk FROM hub_order p
               WHERE p.load_ts <= CAST(:known_at AS TIMESTAMP_NTZ)
                  OR EXISTS (SELECT 1 FROM sat_order_status x WHERE x.order_hk = p.order_hk AND x.load_ts <= CAST(:known_at AS TIMESTAMP_NTZ))
                  OR EXISTS (SELECT 1 FROM eff_order_customer_eff x WHERE x.driving_hk = p.order_hk AND x.load_ts <= CAST(:known_at AS TIMESTAMP_NTZ))
              )
GROUP BY t.hk;

-- dv:touched
SELECT COUNT(*), MIN(since) FROM dv_touched;

-- dv:deleted
SELECT COUNT(*) FROM pit_orders m
WHERE EXISTS (SELECT 1 FROM dv_touched t WHERE t.hk = m.order_hk AND m.snapshot_ts >= t.since);

DROP VIEW IF EXISTS dv_kept;

CACHE TABLE dv_kept AS
SELECT m.* FROM pit_orders m
WHERE NOT EXISTS (SELECT 1 FROM dv_touched t WHERE t.hk = m.order_hk AND m.snapshot_ts >= t.since);

INSERT OVERWRITE TABLE pit_orders SELECT * FROM dv_kept;

DROP VIEW dv_kept;

DROP VIEW IF EXISTS dv_iv_1;

-- order_status as known at :known_at: per key and applied time the latest row loaded by
-- then, valid until the key's next applied time.
CACHE TABLE dv_iv_1 AS
SELECT x.hk, x.applied_ts, x.load_ts, x.hash_diff,
       LEAD(x.applied_ts) OVER (PARTITION BY x.hk ORDER BY x.applied_ts) AS valid_to
FROM (
    SELECT s.order_hk AS hk, s.applied_ts, s.load_ts, s.hash_diff,
           ROW_NUMBER() OVER (PARTITION BY s.order_hk, s.applied_ts ORDER BY s.load_ts DESC) AS dv_pick
    FROM sat_order_status s
    WHERE s.order_hk IN (SELECT hk FROM dv_touched) AND s.load_ts <= CAST(:known_at AS TIMESTAMP_NTZ)
) x
WHERE x.dv_pick = 1;

DROP VIEW IF EXISTS dv_iv_2;

-- order_customer_eff as known at :known_at: per key and applied time the latest row loaded by
-- then, valid until the key's next applied time.
CACHE TABLE dv_iv_2 AS
SELECT x.hk, x.applied_ts, x.load_ts, x.hash_diff,
       LEAD(x.applied_ts) OVER (PARTITION BY x.hk ORDER BY x.applied_ts) AS valid_to
FROM (
    SELECT s.driving_hk AS hk, s.applied_ts, s.load_ts, s.hash_diff,
           ROW_NUMBER() OVER (PARTITION BY s.driving_hk, s.applied_ts ORDER BY s.load_ts DESC) AS dv_pick
    FROM eff_order_customer_eff s
    WHERE s.driving_hk IN (SELECT hk FROM dv_touched) AND s.load_ts <= CAST(:known_at AS TIMESTAMP_NTZ)
) x
WHERE x.dv_pick = 1;

-- dv:inserted
INSERT INTO pit_orders (order_hk, snapshot_ts, order_status_hk, order_status_applied_ts, order_status_load_ts, order_customer_eff_hk, order_customer_eff_applied_ts, order_customer_eff_load_ts)
SELECT t.hk, sp.snapshot_ts,
       COALESCE(i1.hk, X'00000000000000000000000000000000'), COALESCE(i1.applied_ts, TIMESTAMP_NTZ '0001-01-01 00:00:00.000000'), COALESCE(i1.load_ts, TIMESTAMP_NTZ '0001-01-01 00:00:00.000000'),
       COALESCE(i2.hk, X'00000000000000000000000000000000'), COALESCE(i2.applied_ts, TIMESTAMP_NTZ '0001-01-01 00:00:00.000000'), COALESCE(i2.load_ts, TIMESTAMP_NTZ '0001-01-01 00:00:00.000000')
FROM dv_touched t
JOIN dv_mart_spine sp ON sp.mart = 'orders' AND sp.snapshot_ts >= t.since
LEFT JOIN dv_iv_1 i1 ON i1.hk = t.hk AND i1.applied_ts <= sp.snapshot_ts AND (i1.valid_to IS NULL OR sp.snapshot_ts < i1.valid_to) AND i1.hash_diff <> X'00000000000000000000000000000000'
LEFT JOIN dv_iv_2 i2 ON i2.hk = t.hk AND i2.applied_ts <= sp.snapshot_ts AND (i2.valid_to IS NULL OR sp.snapshot_ts < i2.valid_to) AND i2.hash_diff <> X'00000000000000000000000000000000'
;

DROP VIEW IF EXISTS dv_iv_1;

DROP VIEW IF EXISTS dv_iv_2;

DROP VIEW IF EXISTS dv_touched;
