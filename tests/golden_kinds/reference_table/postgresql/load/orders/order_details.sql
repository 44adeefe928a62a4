-- Run with: psql -v ON_ERROR_STOP=1 -v batch_id=N -f load/orders/order_details.sql
BEGIN;

-- Satellite order_details (sat_order_details) from source orders.
-- Keeps every property of SEMANTICS.md section 3: late batches, gaps filled later and
-- corrections end up exactly as the reference says; a re-run inserts nothing.
-- sat_order_details__obs holds observations that did not need a row of their own.
LOCK TABLE sat_order_details, sat_order_details__obs IN SHARE ROW EXCLUSIVE MODE;

DROP TABLE IF EXISTS dv_obs;

DROP TABLE IF EXISTS dv_timeline;

-- dv:quarantined
INSERT INTO dv_quarantine (batch_id, entity, row_number, source, reason, data)
SELECT s.dv_batch_id, 'order_details', s.dv_row, 'orders', 'missing business key of hub order', json_build_object('order_number', s.order_number, 'currency_code', s.currency_code, 'weight_system', s.weight_system, 'weight_unit', s.weight_unit, 'changed_at', s.changed_at)::text
FROM stg_orders s
WHERE (s.dv_batch_id = :batch_id AND s.dv_hk_order = '\x00000000000000000000000000000000'::bytea)
  AND NOT EXISTS (
      SELECT 1 FROM dv_quarantine q
      WHERE q.batch_id = s.dv_batch_id AND q.entity = 'order_details' AND q.row_number = s.dv_row
  );

-- The batch's observations, one per key and applied time; conflicts are flagged. A key this
-- satellite has never seen (no row, no logged observation, no conflict in the batch) is
-- fresh: its timeline is the batch's alone, so a row goes in exactly where its hash diff
-- differs from the one before it (dv_prev), and the rest is logged.
CREATE TEMPORARY TABLE dv_obs AS
WITH src AS (
    SELECT s.dv_batch_id, s.dv_row, s.dv_loaded_at, s.dv_hk_order AS dv_hk, s.dv_applied_at AS dv_applied,
           s.dv_hd_order_details AS dv_hd,
           s.currency_code AS currency_code,
           s.weight_system AS weight_system,
           s.weight_unit AS weight_unit,
           1 AS dv_rank
    FROM stg_orders s
    WHERE s.dv_batch_id = :batch_id
      AND s.dv_hk_order <> '\x00000000000000000000000000000000'::bytea
),
top AS (SELECT * FROM src WHERE dv_rank = 1),
clash AS (SELECT dv_hk, dv_applied FROM top GROUP BY dv_hk, dv_applied HAVING COUNT(DISTINCT dv_hd) > 1)
SELECT t.*,
       ROW_NUMBER() OVER (PARTITION BY t.dv_hk, t.dv_applied ORDER BY t.dv_row) AS dv_dup,
       CASE WHEN c.dv_hk IS NULL THEN 0 ELSE 1 END AS dv_conflict,
       LAG(t.dv_hd) OVER (PARTITION BY t.dv_hk ORDER BY t.dv_applied, t.dv_row) AS dv_prev,
       CASE WHEN MAX(CASE WHEN c.dv_hk IS NULL THEN 0 ELSE 1 END) OVER (PARTITION BY t.dv_hk) = 0
             AND NOT EXISTS (SELECT 1 FROM sat_order_details x WHERE x.order_hk = t.dv_hk)
             AND NOT EXISTS (SELECT 1 FROM sat_order_details__obs x WHERE x.order_hk = t.dv_hk)
            THEN 1 ELSE 0 END AS dv_fresh
FROM top t
LEFT JOIN clash c ON c.dv_hk = t.dv_hk AND c.dv_applied = t.dv_applied;

-- dv:quarantined
INSERT INTO dv_quarantine (batch_id, entity, row_number, source, reason, data)
SELECT o.dv_batch_id, 'order_details', o.dv_row, 'orders', 'conflict: other rows of this batch give another order_details payload for the same key and applied time; declare a sequence column on the source to order them', json_build_object('applied_at', o.dv_applied, 'currency_code', o.currency_code, 'weight_system', o.weight_system, 'weight_unit', o.weight_unit)::text
FROM dv_obs o
WHERE (o.dv_conflict = 1)
  AND NOT EXISTS (
      SELECT 1 FROM dv_quarantine q
      WHERE q.batch_id = o.dv_batch_id AND q.entity = 'order_details' AND q.row_number = o.dv_row
  );

DELETE FROM dv_obs WHERE dv_conflict = 1 OR dv_dup > 1;

ANALYZE dv_obs;

-- dv:inserted
INSERT INTO sat_order_details (order_hk, applied_ts, load_ts, hash_diff, currency_code, weight_system, weight_unit, record_source, batch_id)
SELECT o.dv_hk, o.dv_applied, o.dv_loaded_at, o.dv_hd, o.currency_code, o.weight_system, o.weight_unit, 'shop.orders', o.dv_batch_id
FROM dv_obs o
WHERE o.dv_fresh = 1 AND (o.dv_prev <> o.dv_hd OR (o.dv_prev IS NULL AND o.dv_hd <> '\x00000000000000000000000000000000'::bytea));

-- dv:logged
INSERT INTO sat_order_details__obs (order_hk, applied_ts, load_ts, hash_diff)
SELECT o.dv_hk, o.dv_applied, o.dv_loaded_at, o.dv_hd
FROM dv_obs o
WHERE o.dv_fresh = 1 AND (o.dv_prev = o.dv_hd OR (o.dv_prev IS NULL AND o.dv_hd = '\x00000000000000000000000000000000'::bytea));

-- Every other key of the batch (one with a past): each observed applied time from the key's
-- earliest one in the batch onward:
-- the desired hash diff (latest-loaded observation), the one shown without a new row, and the
-- latest earlier observation (to decide whether the log needs this one).
CREATE TEMPORARY TABLE dv_timeline AS
WITH first_seen AS (
    SELECT dv_hk, MIN(dv_applied) AS first_applied FROM dv_obs WHERE dv_fresh = 0 GROUP BY dv_hk
),
cand AS (
    SELECT o.dv_hk, o.dv_applied, o.dv_loaded_at AS load_ts, o.dv_hd, 1 AS in_batch, 0 AS is_row FROM dv_obs o
    WHERE o.dv_fresh = 0
    UNION ALL
    SELECT t.order_hk, t.applied_ts, t.load_ts, t.hash_diff, 0, 1
    FROM sat_order_details t JOIN first_seen f ON t.order_hk = f.dv_hk AND t.applied_ts >= f.first_applied
    UNION ALL
    SELECT g.order_hk, g.applied_ts, g.load_ts, g.hash_diff, 0, 0
    FROM sat_order_details__obs g JOIN first_seen f ON g.order_hk = f.dv_hk AND g.applied_ts >= f.first_applied
    WHERE g.hash_diff <> '\x'::bytea  -- a held mark is no observation
),
-- One pass per key and applied time, no self-joins: the latest-loaded observation (desired),
-- the latest stored row, and the latest observation from before this batch.
ranked AS (
    SELECT c.dv_hk, c.dv_applied, c.dv_hd, c.in_batch,
           ROW_NUMBER() OVER (PARTITION BY c.dv_hk, c.dv_applied ORDER BY c.load_ts DESC) AS by_load,
           MAX(c.is_row) OVER (PARTITION BY c.dv_hk, c.dv_applied) AS has_row,
           FIRST_VALUE(c.dv_hd) OVER (PARTITION BY c.dv_hk, c.dv_applied
                                   ORDER BY c.is_row DESC, c.load_ts DESC) AS row_hd,
           MIN(c.in_batch) OVER (PARTITION BY c.dv_hk, c.dv_applied) AS has_no_prior,
           FIRST_VALUE(c.dv_hd) OVER (PARTITION BY c.dv_hk, c.dv_applied
                                   ORDER BY c.in_batch, c.load_ts DESC) AS prior_any
    FROM cand c
),
points AS (
    SELECT r.dv_hk, r.dv_applied, r.dv_hd AS desired, r.in_batch,
           CASE WHEN r.has_row = 1 THEN r.row_hd END AS stored_here,
           CASE WHEN r.has_no_prior = 0 THEN r.prior_any END AS prior_hd,
           LAG(r.dv_hd) OVER (PARTITION BY r.dv_hk ORDER BY r.dv_applied) AS prev_desired,
           ROW_NUMBER() OVER (PARTITION BY r.dv_hk ORDER BY r.dv_applied) AS pos
    FROM ranked r
    WHERE r.by_load = 1
)
SELECT p.dv_hk, p.dv_applied, p.desired, p.in_batch, p.prior_hd,
       CASE WHEN p.stored_here IS NOT NULL THEN p.stored_here
            WHEN p.pos = 1 THEN (  -- the stored state just before the key's first point
                SELECT t.hash_diff FROM sat_order_details t
                WHERE t.order_hk = p.dv_hk AND t.applied_ts < p.dv_applied
                ORDER BY t.applied_ts DESC, t.load_ts DESC LIMIT 1)
            ELSE p.prev_desired END AS shown
FROM points p;

-- A deletion where there is no state yet changes nothing: count it as shown.
UPDATE dv_timeline SET shown = desired WHERE shown IS NULL AND desired = '\x00000000000000000000000000000000'::bytea;

ANALYZE dv_timeline;

-- dv:inserted
INSERT INTO sat_order_details (order_hk, applied_ts, load_ts, hash_diff, currency_code, weight_system, weight_unit, record_source, batch_id)
SELECT o.dv_hk, o.dv_applied, o.dv_loaded_at, o.dv_hd, o.currency_code, o.weight_system, o.weight_unit, 'shop.orders', o.dv_batch_id
FROM dv_timeline t
JOIN dv_obs o ON o.dv_hk = t.dv_hk AND o.dv_applied = t.dv_applied
WHERE t.in_batch = 1 AND (t.shown IS NULL OR t.shown <> t.desired);

-- dv:inserted
-- Where a batch changes a state before a later observation, that later state is restored
-- with this batch's load time (its payload is that of any stored row with the same hash diff).
INSERT INTO sat_order_details (order_hk, applied_ts, load_ts, hash_diff, currency_code, weight_system, weight_unit, record_source, batch_id)
SELECT t.dv_hk, t.dv_applied, b.dv_loaded_at, t.desired, r.currency_code, r.weight_system, r.weight_unit, 'shop.orders', b.dv_batch_id
FROM dv_timeline t
LEFT JOIN (
    SELECT x.*, ROW_NUMBER() OVER (PARTITION BY x.order_hk, x.hash_diff ORDER BY x.load_ts DESC) AS dv_pick
    FROM sat_order_details x
    WHERE x.order_hk IN (SELECT dv_hk FROM dv_timeline WHERE in_batch = 0 AND shown <> desired)
) r ON r.order_hk = t.dv_hk AND r.hash_diff = t.desired AND r.dv_pick = 1
CROSS JOIN (SELECT MIN(dv_batch_id) AS dv_batch_id, MIN(dv_loaded_at) AS dv_loaded_at FROM dv_obs) b
WHERE t.in_batch = 0 AND t.shown <> t.desired AND t.desired <> '\x00000000000000000000000000000000'::bytea;

-- dv:deleted
-- The same for a later state that is a deletion (a satellite holds deletions from snapshots):
-- restored with no payload, and counted apart.
INSERT INTO sat_order_details (order_hk, applied_ts, load_ts, hash_diff, record_source, batch_id)
SELECT t.dv_hk, t.dv_applied, b.dv_loaded_at, t.desired, 'shop.orders', b.dv_batch_id
FROM dv_timeline t
CROSS JOIN (SELECT MIN(dv_batch_id) AS dv_batch_id, MIN(dv_loaded_at) AS dv_loaded_at FROM dv_obs) b
WHERE t.in_batch = 0 AND t.shown <> t.desired AND t.desired = '\x00000000000000000000000000000000'::bytea;

-- dv:logged
INSERT INTO sat_order_details__obs (order_hk, applied_ts, load_ts, hash_diff)
SELECT t.dv_hk, t.dv_applied, o.dv_loaded_at, t.desired
FROM dv_timeline t
JOIN dv_obs o ON o.dv_hk = t.dv_hk AND o.dv_applied = t.dv_applied
WHERE t.in_batch = 1 AND t.shown = t.desired
  AND (t.prior_hd IS NULL OR t.prior_hd <> t.desired);

DROP TABLE dv_timeline;

DROP TABLE dv_obs;

COMMIT;
