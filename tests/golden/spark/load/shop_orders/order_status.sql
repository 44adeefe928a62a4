BEGIN;

-- Satellite order_status (sat_order_status) from source shop_orders.
-- Keeps every property of SEMANTICS.md section 3: late batches, gaps filled later and
-- corrections end up exactly as the reference says; a re-run inserts nothing.
-- sat_order_status__obs holds observations that did not need a row of their own.
DROP VIEW IF EXISTS dv_timeline;

DROP VIEW IF EXISTS dv_obs;

DROP VIEW IF EXISTS dv_gone;

DROP VIEW IF EXISTS dv_seen;

-- dv:quarantined
INSERT INTO dv_quarantine (batch_id, entity, row_number, source, reason, data)
SELECT s.dv_batch_id, 'order_status', s.dv_row, 'shop_orders', 'missing business key of hub order', to_json(named_struct('order_id', s.order_id, 'customer_ref', s.customer_ref, 'status', s.status, 'amount', s.amount, 'ordered_at', s.ordered_at, 'changed_at', s.changed_at), map('ignoreNullFields', 'false', 'timestampNTZFormat', 'yyyy-MM-dd\'T\'HH:mm:ss.SSSSSS', 'timestampFormat', 'yyyy-MM-dd\'T\'HH:mm:ss.SSSSSS'))
FROM stg_shop_orders s
WHERE (s.dv_batch_id = :batch_id AND s.dv_hk_order = X'00000000000000000000000000000000')
  AND NOT EXISTS (
      SELECT 1 FROM dv_quarantine q
      WHERE q.batch_id = s.dv_batch_id AND q.entity = 'order_status' AND q.row_number = s.dv_row
  );

-- The batch's observations, one per key and applied time; conflicts are flagged. Each goes
-- one way (dv_path): 1 when the batch observes its key only after everything stored or
-- logged of it (a key never seen too): compared with the observation before it, the first
-- with the key's latest stored row (dv_prev); 2 when it repeats the latest observation at
-- its applied time; 0 the timeline.
CACHE TABLE dv_seen AS
WITH src AS (
    SELECT s.dv_batch_id, s.dv_row, s.dv_loaded_at, s.dv_hk_order AS dv_hk, s.dv_applied_at AS dv_applied,
           s.dv_hd_order_status AS dv_hd,
           s.status AS status,
           s.amount AS amount,
           s.ordered_at AS ordered_at,
           1 AS dv_rank
    FROM stg_shop_orders s
    WHERE s.dv_batch_id = :batch_id
      AND s.dv_hk_order <> X'00000000000000000000000000000000'
),
seen AS (
    SELECT t.*,
           LAG(t.dv_hd) OVER w AS dv_before,
           CASE WHEN LAG(t.dv_applied) OVER w = t.dv_applied THEN 2 ELSE 1 END AS dv_dup,
           FIRST_VALUE(t.dv_applied) OVER w AS dv_first
    FROM src t
    WHERE t.dv_rank = 1
    WINDOW w AS (PARTITION BY t.dv_hk ORDER BY t.dv_applied, t.dv_row)
),
placed AS (
    SELECT dv_e.*,
           CASE WHEN dv_e.dv_dup = 2 AND dv_e.dv_before <> dv_e.dv_hd THEN 1 ELSE 0 END AS dv_conflict,
           CASE WHEN (NOT EXISTS (SELECT 1 FROM sat_order_status)
                      OR NOT EXISTS (SELECT 1 FROM sat_order_status x WHERE x.order_hk = dv_e.dv_hk AND x.applied_ts >= dv_e.dv_first))
                 AND (NOT EXISTS (SELECT 1 FROM sat_order_status__obs)
                      OR NOT EXISTS (SELECT 1 FROM sat_order_status__obs x WHERE x.order_hk = dv_e.dv_hk AND x.applied_ts >= dv_e.dv_first))
                THEN 1 ELSE 0 END AS dv_in_order
    FROM seen dv_e
)
SELECT dv_p.dv_batch_id, dv_p.dv_row, dv_p.dv_loaded_at, dv_p.dv_hk, dv_p.dv_applied, dv_p.dv_hd,
       dv_p.status,
       dv_p.amount,
       dv_p.ordered_at,
       -- a conflict covers every row at its applied time, and its key takes the timeline
       dv_p.dv_rank, dv_p.dv_dup, MAX(dv_p.dv_conflict) OVER (PARTITION BY dv_p.dv_hk, dv_p.dv_applied) AS dv_conflict,
       CASE WHEN dv_p.dv_in_order = 1 AND dv_p.dv_before IS NULL AND EXISTS (SELECT 1 FROM sat_order_status)
            THEN (SELECT x.hash_diff FROM sat_order_status x WHERE x.order_hk = dv_p.dv_hk
                  ORDER BY x.applied_ts DESC, x.load_ts DESC LIMIT 1)
            ELSE dv_p.dv_before END AS dv_prev,
       CASE WHEN MAX(dv_p.dv_conflict) OVER (PARTITION BY dv_p.dv_hk) = 1 THEN 0
            WHEN dv_p.dv_in_order = 1 THEN 1
            WHEN dv_p.dv_hd = (SELECT z.hash_diff FROM (
                                SELECT x.hash_diff, x.load_ts FROM sat_order_status x WHERE x.order_hk = dv_p.dv_hk AND x.applied_ts = dv_p.dv_applied
                                UNION ALL
                                SELECT g.hash_diff, g.load_ts FROM sat_order_status__obs g
                                WHERE g.order_hk = dv_p.dv_hk AND g.applied_ts = dv_p.dv_applied AND g.hash_diff <> X''
                            ) z ORDER BY z.load_ts DESC LIMIT 1) THEN 2
            ELSE 0 END AS dv_path
FROM placed dv_p;

-- The observations the pieces below take: neither a duplicate nor in a conflict.
CREATE OR REPLACE TEMPORARY VIEW dv_obs AS
SELECT * FROM dv_seen WHERE dv_conflict = 0 AND dv_dup = 1;

-- dv:quarantined
INSERT INTO dv_quarantine (batch_id, entity, row_number, source, reason, data)
SELECT o.dv_batch_id, 'order_status', o.dv_row, 'shop_orders', 'conflict: other rows of this batch give another order_status payload for the same key and applied time; declare a sequence column on the source to order them', to_json(named_struct('applied_at', o.dv_applied, 'status', o.status, 'amount', o.amount, 'ordered_at', o.ordered_at), map('ignoreNullFields', 'false', 'timestampNTZFormat', 'yyyy-MM-dd\'T\'HH:mm:ss.SSSSSS', 'timestampFormat', 'yyyy-MM-dd\'T\'HH:mm:ss.SSSSSS'))
FROM dv_seen o
WHERE (o.dv_conflict = 1)
  AND NOT EXISTS (
      SELECT 1 FROM dv_quarantine q
      WHERE q.batch_id = o.dv_batch_id AND q.entity = 'order_status' AND q.row_number = o.dv_row
  );

-- dv:inserted
-- Keys observed only after everything stored or logged of them: each observation against the
-- one before it, the first against the key's latest stored row (SEMANTICS.md section 3).
INSERT INTO sat_order_status (order_hk, applied_ts, load_ts, hash_diff, status, amount, ordered_at, record_source, batch_id)
SELECT o.dv_hk, o.dv_applied, o.dv_loaded_at, o.dv_hd, o.status, o.amount, o.ordered_at, 'shop.orders', o.dv_batch_id
FROM dv_obs o
WHERE o.dv_path = 1 AND o.dv_hd <> X'00000000000000000000000000000000' AND (o.dv_prev IS NULL OR o.dv_prev <> o.dv_hd);

-- dv:logged
INSERT INTO sat_order_status__obs (order_hk, applied_ts, load_ts, hash_diff)
SELECT o.dv_hk, o.dv_applied, o.dv_loaded_at, o.dv_hd
FROM dv_obs o
WHERE o.dv_path = 1 AND (o.dv_prev = o.dv_hd OR (o.dv_prev IS NULL AND o.dv_hd = X'00000000000000000000000000000000'));

-- Every other key of the batch (observed before something stored or logged of it, or with a
-- conflict): each observed applied time from the key's earliest one in the batch onward:
-- the desired hash diff (latest-loaded observation), the one shown without a new row, and the
-- latest earlier observation (to decide whether the log needs this one).
-- dv:if-any SELECT 1 FROM dv_obs WHERE dv_path = 0 LIMIT 1
CACHE TABLE dv_timeline AS
WITH first_seen AS (
    SELECT dv_hk, MIN(dv_applied) AS first_applied FROM dv_obs WHERE dv_path = 0 GROUP BY dv_hk
),
cand AS (
    SELECT o.dv_hk, o.dv_applied, o.dv_loaded_at AS load_ts, o.dv_hd, 1 AS in_batch, 0 AS is_row FROM dv_obs o
    WHERE o.dv_path = 0
    UNION ALL
    SELECT t.order_hk, t.applied_ts, t.load_ts, t.hash_diff, 0, 1
    FROM sat_order_status t JOIN first_seen dv_f ON t.order_hk = dv_f.dv_hk AND t.applied_ts >= dv_f.first_applied
    UNION ALL
    SELECT g.order_hk, g.applied_ts, g.load_ts, g.hash_diff, 0, 0
    FROM sat_order_status__obs g JOIN first_seen dv_f ON g.order_hk = dv_f.dv_hk AND g.applied_ts >= dv_f.first_applied
    WHERE g.hash_diff <> X''  -- a held mark is no observation
),
-- One pass per key and applied time, no self-joins: the latest-loaded observation (desired),
-- the latest stored row, and the latest observation from before this batch.
ranked AS (
    SELECT dv_c.dv_hk, dv_c.dv_applied, dv_c.dv_hd, dv_c.in_batch,
           ROW_NUMBER() OVER (PARTITION BY dv_c.dv_hk, dv_c.dv_applied ORDER BY dv_c.load_ts DESC) AS by_load,
           MAX(dv_c.is_row) OVER (PARTITION BY dv_c.dv_hk, dv_c.dv_applied) AS has_row,
           FIRST_VALUE(dv_c.dv_hd) OVER (PARTITION BY dv_c.dv_hk, dv_c.dv_applied
                                   ORDER BY dv_c.is_row DESC, dv_c.load_ts DESC) AS row_hd,
           MIN(dv_c.in_batch) OVER (PARTITION BY dv_c.dv_hk, dv_c.dv_applied) AS has_no_prior,
           FIRST_VALUE(dv_c.dv_hd) OVER (PARTITION BY dv_c.dv_hk, dv_c.dv_applied
                                   ORDER BY dv_c.in_batch, dv_c.load_ts DESC) AS prior_any
    FROM cand dv_c
),
points AS (
    SELECT r.dv_hk, r.dv_applied, r.dv_hd AS desired, r.in_batch,
           CASE WHEN r.has_row = 1 THEN r.row_hd END AS stored_here,
           CASE WHEN r.has_no_prior = 0 THEN r.prior_any END AS prior_hd,
           LAG(r.dv_hd) OVER (PARTITION BY r.dv_hk ORDER BY r.dv_applied) AS prev_desired,
           ROW_NUMBER() OVER (PARTITION BY r.dv_hk ORDER BY r.dv_applied) AS pos
    FROM ranked r
    WHERE r.by_load = 1
),
-- The stored state just before each key's first point (its earliest applied time here).
before_first AS (
    SELECT dv_n.dv_hk, dv_n.hash_diff FROM (
        SELECT dv_f.dv_hk, t.hash_diff,
               ROW_NUMBER() OVER (PARTITION BY dv_f.dv_hk ORDER BY t.applied_ts DESC, t.load_ts DESC) AS dv_last
        FROM first_seen dv_f JOIN sat_order_status t ON t.order_hk = dv_f.dv_hk AND t.applied_ts < dv_f.first_applied
    ) dv_n
    WHERE dv_n.dv_last = 1
)
-- A deletion where there is no state yet changes nothing: it counts as shown.
SELECT dv_p.dv_hk, dv_p.dv_applied, dv_p.desired, dv_p.in_batch, dv_p.prior_hd,
       COALESCE(
           CASE WHEN dv_p.stored_here IS NOT NULL THEN dv_p.stored_here
                WHEN dv_p.pos = 1 THEN dv_bf.hash_diff
                ELSE dv_p.prev_desired END,
           CASE WHEN dv_p.desired = X'00000000000000000000000000000000' THEN dv_p.desired END) AS shown
FROM points dv_p
LEFT JOIN before_first dv_bf ON dv_bf.dv_hk = dv_p.dv_hk;

-- dv:inserted
-- dv:if-any SELECT 1 FROM dv_obs WHERE dv_path = 0 LIMIT 1
INSERT INTO sat_order_status (order_hk, applied_ts, load_ts, hash_diff, status, amount, ordered_at, record_source, batch_id)
SELECT o.dv_hk, o.dv_applied, o.dv_loaded_at, o.dv_hd, o.status, o.amount, o.ordered_at, 'shop.orders', o.dv_batch_id
FROM dv_timeline t
JOIN dv_obs o ON o.dv_hk = t.dv_hk AND o.dv_applied = t.dv_applied
WHERE t.in_batch = 1 AND (t.shown IS NULL OR t.shown <> t.desired);

-- dv:inserted
-- Where a batch changes a state before a later observation, that later state is restored
-- with this batch's load time (its payload is that of any stored row with the same hash diff).
-- dv:if-any SELECT 1 FROM dv_obs WHERE dv_path = 0 LIMIT 1
INSERT INTO sat_order_status (order_hk, applied_ts, load_ts, hash_diff, status, amount, ordered_at, record_source, batch_id)
SELECT t.dv_hk, t.dv_applied, dv_b.dv_loaded_at, t.desired, r.status, r.amount, r.ordered_at, 'shop.orders', dv_b.dv_batch_id
FROM dv_timeline t
LEFT JOIN (
    SELECT x.*, ROW_NUMBER() OVER (PARTITION BY x.order_hk, x.hash_diff ORDER BY x.load_ts DESC) AS dv_pick
    FROM sat_order_status x
    WHERE x.order_hk IN (SELECT dv_hk FROM dv_timeline WHERE in_batch = 0 AND shown <> desired)
) r ON r.order_hk = t.dv_hk AND r.hash_diff = t.desired AND r.dv_pick = 1
CROSS JOIN (SELECT MIN(dv_batch_id) AS dv_batch_id, MIN(dv_loaded_at) AS dv_loaded_at FROM dv_obs) dv_b
WHERE t.in_batch = 0 AND t.shown <> t.desired AND t.desired <> X'00000000000000000000000000000000';

-- dv:deleted
-- The same for a later state that is a deletion (a satellite holds deletions from snapshots):
-- restored with no payload, and counted apart.
-- dv:if-any SELECT 1 FROM dv_obs WHERE dv_path = 0 LIMIT 1
INSERT INTO sat_order_status (order_hk, applied_ts, load_ts, hash_diff, record_source, batch_id)
SELECT t.dv_hk, t.dv_applied, dv_b.dv_loaded_at, t.desired, 'shop.orders', dv_b.dv_batch_id
FROM dv_timeline t
CROSS JOIN (SELECT MIN(dv_batch_id) AS dv_batch_id, MIN(dv_loaded_at) AS dv_loaded_at FROM dv_obs) dv_b
WHERE t.in_batch = 0 AND t.shown <> t.desired AND t.desired = X'00000000000000000000000000000000';

-- dv:logged
-- dv:if-any SELECT 1 FROM dv_obs WHERE dv_path = 0 LIMIT 1
INSERT INTO sat_order_status__obs (order_hk, applied_ts, load_ts, hash_diff)
SELECT t.dv_hk, t.dv_applied, o.dv_loaded_at, t.desired
FROM dv_timeline t
JOIN dv_obs o ON o.dv_hk = t.dv_hk AND o.dv_applied = t.dv_applied
WHERE t.in_batch = 1 AND t.shown = t.desired
  AND (t.prior_hd IS NULL OR t.prior_hd <> t.desired);

DROP VIEW IF EXISTS dv_timeline;

DROP VIEW IF EXISTS dv_obs;

DROP VIEW IF EXISTS dv_gone;

DROP VIEW IF EXISTS dv_seen;

COMMIT;
