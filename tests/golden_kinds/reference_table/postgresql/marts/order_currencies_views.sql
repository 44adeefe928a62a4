-- Views for people over bridge order_currencies: the business keys of every hub on the path.
-- The snapshot view answers as its bridge was built; current and history read the links and
-- satellites as known before the first batch that has not finished (as `datavault query`
-- does).
DROP VIEW IF EXISTS order_currencies_snapshot;

DROP VIEW IF EXISTS order_currencies_current;

DROP VIEW IF EXISTS order_currencies_history;

-- The paths live at each snapshot of the spine, as known at the last build.
CREATE VIEW order_currencies_snapshot AS
SELECT b.snapshot_ts AS snapshot_at, h0.order_number AS order_number, h2.currency_code AS currency_code, cd1.numeric_code AS numeric_code, cd1.currency_name AS currency_name, cd1.minor_units AS minor_units
FROM bridge_order_currencies b
JOIN hub_order h0 ON h0.order_hk = b.order_hk
JOIN hub_money h2 ON h2.money_hk = b.money_hk
-- the descriptions at the snapshot, as known at the mart's last build
LEFT JOIN ref_currency cr1 ON cr1.currency_code = h2.currency_code
LEFT JOIN LATERAL (
    SELECT x.* FROM ref_currency__desc x
    WHERE x.dv_code = cr1.dv_code AND x.applied_ts <= b.snapshot_ts AND x.load_ts <= (SELECT dv_m.last_loaded_at FROM dv_mart dv_m WHERE dv_m.mart = 'order_currencies')
    ORDER BY x.applied_ts DESC, x.load_ts DESC LIMIT 1
) cd1 ON cd1.hash_diff <> '\x00000000000000000000000000000000'::bytea
;

-- The paths live now (their states at the current time), as known before the first
-- unfinished batch. Each step's latest row is looked up per key (a correlated subquery on the
-- satellite's primary key), so a query of a few paths reads only their satellite rows.
CREATE VIEW order_currencies_current AS
WITH
paths AS (
    SELECT l1.order_hk AS e0, l1.order_money_hk AS e1, l1.money_hk AS e2
    FROM link_order_money l1
    WHERE l1.load_ts < COALESCE((SELECT MIN(b.loaded_at) FROM dv_batch b WHERE b.status IN ('staging', 'staged', 'loading', 'partly loaded')), TIMESTAMP '9999-12-31 00:00:00.000000')
)
SELECT h0.order_number AS order_number, h2.currency_code AS currency_code, cd1.numeric_code AS numeric_code, cd1.currency_name AS currency_name, cd1.minor_units AS minor_units
FROM paths p
JOIN hub_order h0 ON h0.order_hk = p.e0
JOIN hub_money h2 ON h2.money_hk = p.e2
LEFT JOIN ref_currency cr1 ON cr1.currency_code = h2.currency_code
LEFT JOIN LATERAL (
    SELECT x.* FROM ref_currency__desc x
    WHERE x.dv_code = cr1.dv_code AND x.applied_ts <= (CURRENT_TIMESTAMP AT TIME ZONE 'UTC') AND x.load_ts < COALESCE((SELECT MIN(b.loaded_at) FROM dv_batch b WHERE b.status IN ('staging', 'staged', 'loading', 'partly loaded')), TIMESTAMP '9999-12-31 00:00:00.000000')
    ORDER BY x.applied_ts DESC, x.load_ts DESC LIMIT 1
) cd1 ON cd1.hash_diff <> '\x00000000000000000000000000000000'::bytea
WHERE 1 = 1
  AND ((
        SELECT y.hash_diff FROM sat_order_details y
        WHERE y.order_hk = p.e0 AND y.applied_ts <= (CURRENT_TIMESTAMP AT TIME ZONE 'UTC') AND y.load_ts < COALESCE((SELECT MIN(b.loaded_at) FROM dv_batch b WHERE b.status IN ('staging', 'staged', 'loading', 'partly loaded')), TIMESTAMP '9999-12-31 00:00:00.000000')
        ORDER BY y.applied_ts DESC, y.load_ts DESC LIMIT 1) <> '\x00000000000000000000000000000000'::bytea)
;

-- Each path's spans of life along applied time, as known before the first unfinished batch:
-- from an applied time at which every hub and link on it is live to the next at which one of
-- them is not (NULL: still live).
CREATE VIEW order_currencies_history AS
WITH
r1 AS (
    SELECT x.hk, x.applied_ts, CASE WHEN x.hash_diff <> '\x00000000000000000000000000000000'::bytea THEN 1 ELSE 0 END AS live
    FROM (
        SELECT y.order_hk AS hk, y.applied_ts, y.hash_diff,
               ROW_NUMBER() OVER (PARTITION BY y.order_hk, y.applied_ts ORDER BY y.load_ts DESC) AS dv_pick
        FROM sat_order_details y
        WHERE y.load_ts < COALESCE((SELECT MIN(b.loaded_at) FROM dv_batch b WHERE b.status IN ('staging', 'staged', 'loading', 'partly loaded')), TIMESTAMP '9999-12-31 00:00:00.000000')
    ) x WHERE x.dv_pick = 1
),
-- order: live where one of its required satellites holds a state that is not a deletion
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
paths AS (
    SELECT l1.order_hk AS e0, l1.order_money_hk AS e1, l1.money_hk AS e2
    FROM link_order_money l1
    WHERE l1.load_ts < COALESCE((SELECT MIN(b.loaded_at) FROM dv_batch b WHERE b.status IN ('staging', 'staged', 'loading', 'partly loaded')), TIMESTAMP '9999-12-31 00:00:00.000000')
),
spans AS (
    SELECT p.e0, p.e1, p.e2, p.valid_from, p.valid_to
    FROM (
        SELECT p.*, i0.valid_from AS valid_from, i0.valid_to AS valid_to
        FROM paths p
        JOIN i0 ON i0.hk = p.e0
    ) p
    WHERE p.valid_from < p.valid_to
),
-- a span also begins where the description of a code of its hubs changes
cuts AS (
    SELECT s.*, s.valid_from AS dv_from FROM spans s
    UNION
    SELECT s.*, x.applied_ts
    FROM spans s
    JOIN hub_order h0 ON h0.order_hk = s.e0
    JOIN hub_money h2 ON h2.money_hk = s.e2
    JOIN ref_currency cr ON cr.currency_code = h2.currency_code
    JOIN ref_currency__desc x ON x.dv_code = cr.dv_code AND x.applied_ts > s.valid_from
        AND x.applied_ts < s.valid_to AND x.load_ts < COALESCE((SELECT MIN(b.loaded_at) FROM dv_batch b WHERE b.status IN ('staging', 'staged', 'loading', 'partly loaded')), TIMESTAMP '9999-12-31 00:00:00.000000')
),
pieces AS (
    SELECT c.*, LEAD(c.dv_from) OVER (PARTITION BY c.e0, c.e1, c.e2, c.valid_from ORDER BY c.dv_from) AS dv_to
    FROM cuts c
)
SELECT h0.order_number AS order_number, h2.currency_code AS currency_code, p.dv_from AS valid_from, NULLIF(COALESCE(p.dv_to, p.valid_to), TIMESTAMP '9999-12-31 00:00:00.000000') AS valid_to, cd1.numeric_code AS numeric_code, cd1.currency_name AS currency_name, cd1.minor_units AS minor_units
FROM pieces p
JOIN hub_order h0 ON h0.order_hk = p.e0
JOIN hub_money h2 ON h2.money_hk = p.e2
LEFT JOIN ref_currency cr1 ON cr1.currency_code = h2.currency_code
LEFT JOIN LATERAL (
    SELECT x.* FROM ref_currency__desc x
    WHERE x.dv_code = cr1.dv_code AND x.applied_ts <= p.dv_from AND x.load_ts < COALESCE((SELECT MIN(b.loaded_at) FROM dv_batch b WHERE b.status IN ('staging', 'staged', 'loading', 'partly loaded')), TIMESTAMP '9999-12-31 00:00:00.000000')
    ORDER BY x.applied_ts DESC, x.load_ts DESC LIMIT 1
) cd1 ON cd1.hash_diff <> '\x00000000000000000000000000000000'::bytea
;
