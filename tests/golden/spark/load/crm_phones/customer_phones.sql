BEGIN;

-- Multi-active satellite customer_phones (msat_customer_phones) from source crm_phones.
-- The rows of a key and applied time are one set; a version goes in exactly where the set
-- changes (a member added, removed or changed), as SEMANTICS.md sections 3 and 7 say, and is
-- stored whole: one row per member. msat_customer_phones__obs holds observations that did not need rows.
DROP VIEW IF EXISTS dv_staged;

DROP VIEW IF EXISTS dv_clash;

DROP VIEW IF EXISTS dv_members;

DROP VIEW IF EXISTS dv_timeline;

DROP VIEW IF EXISTS dv_obs;

DROP VIEW IF EXISTS dv_gone;

DROP VIEW IF EXISTS dv_seen;

-- The batch's staged rows, each with the hash diff of its set (dv_set).
CACHE TABLE dv_staged AS
SELECT x.*, g.dv_set
FROM stg_crm_phones x
JOIN (
    SELECT t.dv_hk, t.dv_applied, COALESCE(unhex(md5(NULLIF(array_join(array_sort(collect_set(lower(hex(t.dv_member)))), '|'), ''))), X'00000000000000000000000000000000') AS dv_set
    FROM (
        SELECT x.dv_hk_customer AS dv_hk, x.dv_applied_at AS dv_applied, x.dv_hd_customer_phones AS dv_member,
               1 AS dv_rank
        FROM stg_crm_phones x
        WHERE x.dv_batch_id = :batch_id
    ) t
    WHERE t.dv_rank = 1
    GROUP BY t.dv_hk, t.dv_applied
) g ON g.dv_hk = x.dv_hk_customer AND g.dv_applied = x.dv_applied_at
WHERE x.dv_batch_id = :batch_id;

-- dv:quarantined
INSERT INTO dv_quarantine (batch_id, entity, row_number, source, reason, data)
SELECT s.dv_batch_id, 'customer_phones', s.dv_row, 'crm_phones', 'missing business key of hub customer', to_json(named_struct('customer_id', s.customer_id, 'phone_type', s.phone_type, 'phone_number', s.phone_number, 'extracted_at', s.extracted_at), map('ignoreNullFields', 'false', 'timestampNTZFormat', 'yyyy-MM-dd\'T\'HH:mm:ss.SSSSSS', 'timestampFormat', 'yyyy-MM-dd\'T\'HH:mm:ss.SSSSSS'))
FROM dv_staged s
WHERE (s.dv_batch_id = :batch_id AND s.dv_hk_customer = X'00000000000000000000000000000000')
  AND NOT EXISTS (
      SELECT 1 FROM dv_quarantine q
      WHERE q.batch_id = s.dv_batch_id AND q.entity = 'customer_phones' AND q.row_number = s.dv_row
  );

-- A set with two different members of equal child key values is a conflict: every row of it
-- is quarantined, and the batch observes nothing of that key at that applied time.
CACHE TABLE dv_clash AS
WITH top AS (
    SELECT r.* FROM (
        SELECT s.dv_row, s.dv_hk_customer AS dv_hk, s.dv_applied_at AS dv_applied, s.dv_hd_customer_phones AS dv_member,
               s.phone_type AS phone_type,
               1 AS dv_rank
        FROM dv_staged s
        WHERE s.dv_batch_id = :batch_id
          AND s.dv_hk_customer <> X'00000000000000000000000000000000'
    ) r
    WHERE r.dv_rank = 1
),
sets AS (
    SELECT DISTINCT t.dv_hk, t.dv_applied FROM top t
    GROUP BY t.dv_hk, t.dv_applied, t.phone_type
    HAVING COUNT(DISTINCT t.dv_member) > 1
)
SELECT t.dv_row, t.dv_hk, t.dv_applied
FROM top t
JOIN sets c ON c.dv_hk = t.dv_hk AND c.dv_applied = t.dv_applied;

-- dv:quarantined
INSERT INTO dv_quarantine (batch_id, entity, row_number, source, reason, data)
SELECT s.dv_batch_id, 'customer_phones', s.dv_row, 'crm_phones', 'conflict: other rows of this batch give customer_phones another member with the same child key (phone_type) for the same key and applied time, so the whole set is held back; declare a sequence column on the source to order the sets', to_json(named_struct('customer_id', s.customer_id, 'phone_type', s.phone_type, 'phone_number', s.phone_number, 'extracted_at', s.extracted_at), map('ignoreNullFields', 'false', 'timestampNTZFormat', 'yyyy-MM-dd\'T\'HH:mm:ss.SSSSSS', 'timestampFormat', 'yyyy-MM-dd\'T\'HH:mm:ss.SSSSSS'))
FROM dv_staged s
WHERE (s.dv_batch_id = :batch_id AND s.dv_row IN (SELECT c.dv_row FROM dv_clash c))
  AND NOT EXISTS (
      SELECT 1 FROM dv_quarantine q
      WHERE q.batch_id = s.dv_batch_id AND q.entity = 'customer_phones' AND q.row_number = s.dv_row
  );

-- The batch's observations, one per key and applied time; conflicts are flagged. Each goes
-- one way (dv_path): 1 when the batch observes its key only after everything stored or
-- logged of it (a key never seen too): compared with the observation before it, the first
-- with the key's latest stored row (dv_prev); 2 when it repeats the latest observation at
-- its applied time; 0 the timeline.
CACHE TABLE dv_seen AS
WITH src AS (
    SELECT s.dv_batch_id, s.dv_row, s.dv_loaded_at, s.dv_hk_customer AS dv_hk, s.dv_applied_at AS dv_applied,
           s.dv_set AS dv_hd,
           1 AS dv_rank
    FROM dv_staged s
    WHERE s.dv_batch_id = :batch_id
      AND s.dv_hk_customer <> X'00000000000000000000000000000000' AND NOT EXISTS (SELECT 1 FROM dv_clash c WHERE c.dv_hk = s.dv_hk_customer AND c.dv_applied = s.dv_applied_at)
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
           CASE WHEN (NOT EXISTS (SELECT 1 FROM msat_customer_phones)
                      OR NOT EXISTS (SELECT 1 FROM msat_customer_phones x WHERE x.customer_hk = dv_e.dv_hk AND x.applied_ts >= dv_e.dv_first))
                 AND (NOT EXISTS (SELECT 1 FROM msat_customer_phones__obs)
                      OR NOT EXISTS (SELECT 1 FROM msat_customer_phones__obs x WHERE x.customer_hk = dv_e.dv_hk AND x.applied_ts >= dv_e.dv_first))
                 AND ((SELECT MAX(dv_b.snapshot_at) FROM dv_batch dv_b
                  WHERE dv_b.source = 'crm_phones'
                    AND dv_b.batch_id IN (SELECT a.batch_id FROM dv_load_audit a
                                       WHERE a.entity = 'customer_phones' AND a.status = 'ok')) IS NULL OR dv_e.dv_first > (SELECT MAX(dv_b.snapshot_at) FROM dv_batch dv_b
                  WHERE dv_b.source = 'crm_phones'
                    AND dv_b.batch_id IN (SELECT a.batch_id FROM dv_load_audit a
                                       WHERE a.entity = 'customer_phones' AND a.status = 'ok')))
                THEN 1 ELSE 0 END AS dv_in_order
    FROM seen dv_e
)
SELECT dv_p.dv_batch_id, dv_p.dv_row, dv_p.dv_loaded_at, dv_p.dv_hk, dv_p.dv_applied, dv_p.dv_hd,
       -- a conflict covers every row at its applied time, and its key takes the timeline
       dv_p.dv_rank, dv_p.dv_dup, MAX(dv_p.dv_conflict) OVER (PARTITION BY dv_p.dv_hk, dv_p.dv_applied) AS dv_conflict,
       CASE WHEN dv_p.dv_in_order = 1 AND dv_p.dv_before IS NULL AND EXISTS (SELECT 1 FROM msat_customer_phones)
            THEN (SELECT x.hash_diff FROM msat_customer_phones x WHERE x.customer_hk = dv_p.dv_hk
                  ORDER BY x.applied_ts DESC, x.load_ts DESC LIMIT 1)
            ELSE dv_p.dv_before END AS dv_prev,
       CASE WHEN MAX(dv_p.dv_conflict) OVER (PARTITION BY dv_p.dv_hk) = 1 THEN 0
            WHEN dv_p.dv_in_order = 1 THEN 1
            WHEN dv_p.dv_hd = (SELECT z.hash_diff FROM (
                                SELECT x.hash_diff, x.load_ts FROM msat_customer_phones x WHERE x.customer_hk = dv_p.dv_hk AND x.applied_ts = dv_p.dv_applied
                                UNION ALL
                                SELECT g.hash_diff, g.load_ts FROM msat_customer_phones__obs g
                                WHERE g.customer_hk = dv_p.dv_hk AND g.applied_ts = dv_p.dv_applied AND g.hash_diff <> X''
                            ) z ORDER BY z.load_ts DESC LIMIT 1) THEN 2
            ELSE 0 END AS dv_path
FROM placed dv_p;

-- The observations the pieces below take: neither a duplicate nor in a conflict.
CREATE OR REPLACE TEMPORARY VIEW dv_obs AS
SELECT * FROM dv_seen WHERE dv_conflict = 0 AND dv_dup = 1;

-- dv:quarantined
INSERT INTO dv_quarantine (batch_id, entity, row_number, source, reason, data)
SELECT o.dv_batch_id, 'customer_phones', o.dv_row, 'crm_phones', 'conflict: other rows of this batch give customer_phones another member with the same child key (phone_type) for the same key and applied time, so the whole set is held back; declare a sequence column on the source to order the sets', to_json(named_struct('applied_at', o.dv_applied), map('ignoreNullFields', 'false', 'timestampNTZFormat', 'yyyy-MM-dd\'T\'HH:mm:ss.SSSSSS', 'timestampFormat', 'yyyy-MM-dd\'T\'HH:mm:ss.SSSSSS'))
FROM dv_seen o
WHERE (o.dv_conflict = 1)
  AND NOT EXISTS (
      SELECT 1 FROM dv_quarantine q
      WHERE q.batch_id = o.dv_batch_id AND q.entity = 'customer_phones' AND q.row_number = o.dv_row
  );

-- A key this snapshot gives only in conflicting rows is held by it, not lacking (SEMANTICS.md
-- section 5). Where the satellite knows nothing of the key yet, the log keeps a held mark (the
-- empty hash diff, which no hash is), so that a snapshot of an earlier time loaded later does
-- not take this one for one that lacked the key.
INSERT INTO msat_customer_phones__obs (customer_hk, applied_ts, load_ts, hash_diff)
SELECT dv_c.dv_hk, MAX(dv_c.dv_applied), dv_b.loaded_at, X''
FROM (SELECT dv_hk, dv_applied FROM dv_seen WHERE dv_conflict = 1) dv_c
CROSS JOIN (SELECT loaded_at FROM dv_batch WHERE batch_id = :batch_id) dv_b
WHERE NOT EXISTS (SELECT 1 FROM dv_obs o WHERE o.dv_hk = dv_c.dv_hk AND o.dv_conflict = 0)
  AND NOT EXISTS (SELECT 1 FROM msat_customer_phones x WHERE x.customer_hk = dv_c.dv_hk)
  AND NOT EXISTS (SELECT 1 FROM msat_customer_phones__obs g WHERE g.customer_hk = dv_c.dv_hk)
GROUP BY dv_c.dv_hk, dv_b.loaded_at;

-- A key this snapshot gives only in conflicting rows is held by it, not lacking (SEMANTICS.md
-- section 5). Where the satellite knows nothing of the key yet, the log keeps a held mark (the
-- empty hash diff, which no hash is), so that a snapshot of an earlier time loaded later does
-- not take this one for one that lacked the key.
INSERT INTO msat_customer_phones__obs (customer_hk, applied_ts, load_ts, hash_diff)
SELECT dv_c.dv_hk, MAX(dv_c.dv_applied), dv_b.loaded_at, X''
FROM dv_clash dv_c
CROSS JOIN (SELECT loaded_at FROM dv_batch WHERE batch_id = :batch_id) dv_b
WHERE NOT EXISTS (SELECT 1 FROM dv_obs o WHERE o.dv_hk = dv_c.dv_hk AND o.dv_conflict = 0)
  AND NOT EXISTS (SELECT 1 FROM msat_customer_phones x WHERE x.customer_hk = dv_c.dv_hk)
  AND NOT EXISTS (SELECT 1 FROM msat_customer_phones__obs g WHERE g.customer_hk = dv_c.dv_hk)
GROUP BY dv_c.dv_hk, dv_b.loaded_at;

-- The members of each observed set, one row per distinct member (identical rows are one).
CACHE TABLE dv_members AS
SELECT o.dv_batch_id, o.dv_loaded_at, o.dv_hk, o.dv_applied, o.dv_hd, o.dv_path, o.dv_prev,
       r.member_hash_diff, r.phone_type, r.phone_number
FROM dv_obs o
JOIN (
    SELECT d.*, ROW_NUMBER() OVER (PARTITION BY d.dv_hk, d.dv_applied, d.member_hash_diff ORDER BY d.dv_row) AS dv_dup
    FROM (
        SELECT s.dv_row, s.dv_hk_customer AS dv_hk, s.dv_applied_at AS dv_applied, s.dv_hd_customer_phones AS member_hash_diff,
               s.phone_type AS phone_type,
               s.phone_number AS phone_number,
               1 AS dv_rank
        FROM dv_staged s
        WHERE s.dv_batch_id = :batch_id
    ) d
    WHERE d.dv_rank = 1
) r ON r.dv_hk = o.dv_hk AND r.dv_applied = o.dv_applied AND r.dv_dup = 1;

-- A full snapshot: every key this satellite knows (a row, or something logged) that the batch
-- lacks is deleted at the snapshot's time (a deletion is the reserved all-zero hash diff with
-- no payload; where the key has no state, it changes nothing and is logged). Each such key
-- goes its way as in dv_obs: in order, a deletion already known there, or the timeline.
CACHE TABLE dv_gone AS
SELECT dv_d.batch_id AS dv_batch_id, CAST(NULL AS BIGINT) AS dv_row, dv_d.loaded_at AS dv_loaded_at, dv_d.dv_hk,
       dv_d.snapshot_at AS dv_applied, X'00000000000000000000000000000000' AS dv_hd, 1 AS dv_rank, 1 AS dv_dup, 0 AS dv_conflict,
       CASE WHEN dv_d.dv_in_order = 1 THEN (SELECT x.hash_diff FROM msat_customer_phones x WHERE x.customer_hk = dv_d.dv_hk
                                         ORDER BY x.applied_ts DESC, x.load_ts DESC LIMIT 1) END AS dv_prev,
       CASE WHEN dv_d.dv_in_order = 1 THEN 1
            WHEN (SELECT z.hash_diff FROM (
                      SELECT x.hash_diff, x.load_ts FROM msat_customer_phones x WHERE x.customer_hk = dv_d.dv_hk AND x.applied_ts = dv_d.snapshot_at
                      UNION ALL
                      SELECT g.hash_diff, g.load_ts FROM msat_customer_phones__obs g
                      WHERE g.customer_hk = dv_d.dv_hk AND g.applied_ts = dv_d.snapshot_at AND g.hash_diff <> X''
                  ) z ORDER BY z.load_ts DESC LIMIT 1) = X'00000000000000000000000000000000' THEN 2
            ELSE 0 END AS dv_path
FROM (
    SELECT dv_k.dv_hk, dv_c.batch_id, dv_c.loaded_at, dv_c.snapshot_at,
           CASE WHEN (NOT EXISTS (SELECT 1 FROM msat_customer_phones)
                         OR NOT EXISTS (SELECT 1 FROM msat_customer_phones x WHERE x.customer_hk = dv_k.dv_hk AND x.applied_ts >= dv_c.snapshot_at))
                    AND (NOT EXISTS (SELECT 1 FROM msat_customer_phones__obs)
                         OR NOT EXISTS (SELECT 1 FROM msat_customer_phones__obs x WHERE x.customer_hk = dv_k.dv_hk AND x.applied_ts >= dv_c.snapshot_at))
                    AND ((SELECT MAX(dv_b.snapshot_at) FROM dv_batch dv_b
                     WHERE dv_b.source = 'crm_phones'
                       AND dv_b.batch_id IN (SELECT a.batch_id FROM dv_load_audit a
                                          WHERE a.entity = 'customer_phones' AND a.status = 'ok')) IS NULL OR dv_c.snapshot_at > (SELECT MAX(dv_b.snapshot_at) FROM dv_batch dv_b
                     WHERE dv_b.source = 'crm_phones'
                       AND dv_b.batch_id IN (SELECT a.batch_id FROM dv_load_audit a
                                          WHERE a.entity = 'customer_phones' AND a.status = 'ok')))
                THEN 1 ELSE 0 END AS dv_in_order
    FROM (
        SELECT t.customer_hk AS dv_hk FROM msat_customer_phones t
        UNION
        SELECT g.customer_hk FROM msat_customer_phones__obs g
        EXCEPT
        SELECT s.dv_hk_customer FROM dv_staged s WHERE s.dv_batch_id = :batch_id
    ) dv_k
    CROSS JOIN (SELECT batch_id, loaded_at, snapshot_at FROM dv_batch WHERE batch_id = :batch_id) dv_c
) dv_d;

CREATE OR REPLACE TEMPORARY VIEW dv_obs AS
SELECT * FROM dv_seen WHERE dv_conflict = 0 AND dv_dup = 1
UNION ALL
SELECT * FROM dv_gone;

-- dv:inserted
-- Keys observed only after everything stored or logged of them: each observation against the
-- one before it, the first against the key's latest stored row (SEMANTICS.md section 3).
INSERT INTO msat_customer_phones (customer_hk, applied_ts, load_ts, hash_diff, member_hash_diff, phone_type, phone_number, record_source, batch_id)
SELECT o.dv_hk, o.dv_applied, o.dv_loaded_at, o.dv_hd, o.member_hash_diff, o.phone_type, o.phone_number, 'crm.phones', o.dv_batch_id
FROM dv_members o
WHERE o.dv_path = 1 AND o.dv_hd <> X'00000000000000000000000000000000' AND (o.dv_prev IS NULL OR o.dv_prev <> o.dv_hd);

-- dv:deleted
INSERT INTO msat_customer_phones (customer_hk, applied_ts, load_ts, hash_diff, member_hash_diff, record_source, batch_id)
SELECT o.dv_hk, o.dv_applied, o.dv_loaded_at, o.dv_hd, X'00000000000000000000000000000000', 'crm.phones', o.dv_batch_id
FROM dv_obs o
WHERE o.dv_path = 1 AND o.dv_hd = X'00000000000000000000000000000000' AND o.dv_prev <> X'00000000000000000000000000000000';

-- dv:logged
INSERT INTO msat_customer_phones__obs (customer_hk, applied_ts, load_ts, hash_diff)
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
    SELECT t.customer_hk, t.applied_ts, t.load_ts, t.hash_diff, 0, 1
    FROM msat_customer_phones t JOIN first_seen dv_f ON t.customer_hk = dv_f.dv_hk AND t.applied_ts >= dv_f.first_applied
    UNION ALL
    SELECT g.customer_hk, g.applied_ts, g.load_ts, g.hash_diff, 0, 0
    FROM msat_customer_phones__obs g JOIN first_seen dv_f ON g.customer_hk = dv_f.dv_hk AND g.applied_ts >= dv_f.first_applied
    WHERE g.hash_diff <> X''  -- a held mark is no observation
    UNION ALL
    -- Earlier snapshots loaded before this satellite knew the key (no row of it, nothing
    -- logged of it: an observation, or the held mark of a key given only in conflicting
    -- rows) did not hold it: deleted there, as of those snapshots' load times. Once the
    -- satellite knows a key, a snapshot that lacks it observes its deletion itself.
    SELECT dv_f.dv_hk, dv_b.snapshot_at, dv_b.loaded_at, X'00000000000000000000000000000000', 0, 0
    FROM first_seen dv_f
    JOIN dv_batch dv_b ON dv_b.source = 'crm_phones' AND dv_b.snapshot_at >= dv_f.first_applied
    WHERE dv_b.batch_id IN (SELECT a.batch_id FROM dv_load_audit a
                         WHERE a.entity = 'customer_phones' AND a.status = 'ok')
      AND NOT EXISTS (SELECT 1 FROM msat_customer_phones t
                      WHERE t.customer_hk = dv_f.dv_hk AND t.load_ts <= dv_b.loaded_at)
      AND NOT EXISTS (SELECT 1 FROM msat_customer_phones__obs g
                      WHERE g.customer_hk = dv_f.dv_hk AND g.load_ts <= dv_b.loaded_at)
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
        FROM first_seen dv_f JOIN msat_customer_phones t ON t.customer_hk = dv_f.dv_hk AND t.applied_ts < dv_f.first_applied
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
INSERT INTO msat_customer_phones (customer_hk, applied_ts, load_ts, hash_diff, member_hash_diff, phone_type, phone_number, record_source, batch_id)
SELECT o.dv_hk, o.dv_applied, o.dv_loaded_at, o.dv_hd, o.member_hash_diff, o.phone_type, o.phone_number, 'crm.phones', o.dv_batch_id
FROM dv_timeline t
JOIN dv_members o ON o.dv_hk = t.dv_hk AND o.dv_applied = t.dv_applied
WHERE t.in_batch = 1 AND (t.shown IS NULL OR t.shown <> t.desired) AND o.dv_hd <> X'00000000000000000000000000000000';

-- dv:deleted
-- The batch's deletions that change a state (no payload), counted apart.
-- dv:if-any SELECT 1 FROM dv_obs WHERE dv_path = 0 LIMIT 1
INSERT INTO msat_customer_phones (customer_hk, applied_ts, load_ts, hash_diff, member_hash_diff, record_source, batch_id)
SELECT o.dv_hk, o.dv_applied, o.dv_loaded_at, o.dv_hd, X'00000000000000000000000000000000', 'crm.phones', o.dv_batch_id
FROM dv_timeline t
JOIN dv_obs o ON o.dv_hk = t.dv_hk AND o.dv_applied = t.dv_applied
WHERE t.in_batch = 1 AND (t.shown IS NULL OR t.shown <> t.desired) AND o.dv_hd = X'00000000000000000000000000000000';

-- dv:inserted
-- Where a batch changes a state before a later observation, that later state is restored
-- with this batch's load time (its payload is that of any stored row with the same hash diff).
-- dv:if-any SELECT 1 FROM dv_obs WHERE dv_path = 0 LIMIT 1
INSERT INTO msat_customer_phones (customer_hk, applied_ts, load_ts, hash_diff, member_hash_diff, phone_type, phone_number, record_source, batch_id)
SELECT t.dv_hk, t.dv_applied, dv_b.dv_loaded_at, t.desired, r.member_hash_diff, r.phone_type, r.phone_number, 'crm.phones', dv_b.dv_batch_id
FROM dv_timeline t
LEFT JOIN (
    SELECT x.*, DENSE_RANK() OVER (PARTITION BY x.customer_hk, x.hash_diff ORDER BY x.load_ts DESC, x.applied_ts DESC) AS dv_pick
    FROM msat_customer_phones x
    WHERE x.customer_hk IN (SELECT dv_hk FROM dv_timeline WHERE in_batch = 0 AND shown <> desired)
) r ON r.customer_hk = t.dv_hk AND r.hash_diff = t.desired AND r.dv_pick = 1
CROSS JOIN (SELECT MIN(dv_batch_id) AS dv_batch_id, MIN(dv_loaded_at) AS dv_loaded_at FROM dv_obs) dv_b
WHERE t.in_batch = 0 AND t.shown <> t.desired AND t.desired <> X'00000000000000000000000000000000';

-- dv:deleted
-- The same for a later state that is a deletion (a satellite holds deletions from snapshots):
-- restored with no payload, and counted apart.
-- dv:if-any SELECT 1 FROM dv_obs WHERE dv_path = 0 LIMIT 1
INSERT INTO msat_customer_phones (customer_hk, applied_ts, load_ts, hash_diff, member_hash_diff, record_source, batch_id)
SELECT t.dv_hk, t.dv_applied, dv_b.dv_loaded_at, t.desired, X'00000000000000000000000000000000', 'crm.phones', dv_b.dv_batch_id
FROM dv_timeline t
CROSS JOIN (SELECT MIN(dv_batch_id) AS dv_batch_id, MIN(dv_loaded_at) AS dv_loaded_at FROM dv_obs) dv_b
WHERE t.in_batch = 0 AND t.shown <> t.desired AND t.desired = X'00000000000000000000000000000000';

-- dv:logged
-- dv:if-any SELECT 1 FROM dv_obs WHERE dv_path = 0 LIMIT 1
INSERT INTO msat_customer_phones__obs (customer_hk, applied_ts, load_ts, hash_diff)
SELECT t.dv_hk, t.dv_applied, o.dv_loaded_at, t.desired
FROM dv_timeline t
JOIN dv_obs o ON o.dv_hk = t.dv_hk AND o.dv_applied = t.dv_applied
WHERE t.in_batch = 1 AND t.shown = t.desired
  AND (t.prior_hd IS NULL OR t.prior_hd <> t.desired);

DROP VIEW IF EXISTS dv_timeline;

DROP VIEW IF EXISTS dv_obs;

DROP VIEW IF EXISTS dv_gone;

DROP VIEW IF EXISTS dv_seen;

DROP VIEW IF EXISTS dv_staged;

DROP VIEW IF EXISTS dv_clash;

DROP VIEW IF EXISTS dv_members;

COMMIT;
