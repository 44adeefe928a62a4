-- Views for people over PIT orders: business key columns and payload columns by name.
-- The snapshot view answers as its PIT was built; current and history read the satellites
-- as known before the first batch that has not finished (as `datavault query` does).
DROP VIEW IF EXISTS orders_snapshot;

DROP VIEW IF EXISTS orders_current;

DROP VIEW IF EXISTS orders_history;

-- Each key at each snapshot of the spine, as known at the last build (NULL payload: no state,
-- or deleted).
CREATE VIEW orders_snapshot AS
SELECT k.snapshot_ts AS snapshot_at, h.order_number AS order_number, s1.currency_code AS currency_code, s1.weight_system AS weight_system, s1.weight_unit AS weight_unit, cd1.numeric_code AS currency_numeric_code, cd1.currency_name AS currency_currency_name, cd1.minor_units AS currency_minor_units, cd2.unit_name AS weight_unit_name
FROM pit_orders k
JOIN hub_order h ON h.order_hk = k.order_hk
LEFT JOIN sat_order_details s1 ON s1.order_hk = k.order_details_hk
    AND s1.applied_ts = k.order_details_applied_ts AND s1.load_ts = k.order_details_load_ts
-- the descriptions at the snapshot, as known at the mart's last build
LEFT JOIN ref_currency cr1 ON cr1.currency_code = s1.currency_code
LEFT JOIN LATERAL (
    SELECT x.* FROM ref_currency__desc x
    WHERE x.dv_code = cr1.dv_code AND x.applied_ts <= k.snapshot_ts AND x.load_ts <= (SELECT dv_m.last_loaded_at FROM dv_mart dv_m WHERE dv_m.mart = 'orders')
    ORDER BY x.applied_ts DESC, x.load_ts DESC LIMIT 1
) cd1 ON cd1.hash_diff <> from_hex('00000000000000000000000000000000')
LEFT JOIN ref_unit cr2 ON cr2.unit_system = s1.weight_system AND cr2.symbol = s1.weight_unit
LEFT JOIN LATERAL (
    SELECT x.* FROM ref_unit__desc x
    WHERE x.dv_code = cr2.dv_code AND x.applied_ts <= k.snapshot_ts AND x.load_ts <= (SELECT dv_m.last_loaded_at FROM dv_mart dv_m WHERE dv_m.mart = 'orders')
    ORDER BY x.applied_ts DESC, x.load_ts DESC LIMIT 1
) cd2 ON cd2.hash_diff <> from_hex('00000000000000000000000000000000')
;

-- Each key's state now (its row with the greatest applied time up to now, then load time),
-- as known before the first unfinished batch; keys with no state now, or a deletion, are
-- left out. The latest row is looked up per key (a correlated subquery on the satellite's
-- primary key), so a query of a few keys through the view reads only their rows.
CREATE VIEW orders_current AS
SELECT h.order_number AS order_number, c1.currency_code AS currency_code, c1.weight_system AS weight_system, c1.weight_unit AS weight_unit, cd1.numeric_code AS currency_numeric_code, cd1.currency_name AS currency_currency_name, cd1.minor_units AS currency_minor_units, cd2.unit_name AS weight_unit_name
FROM hub_order p
JOIN hub_order h ON h.order_hk = p.order_hk
LEFT JOIN LATERAL (
    SELECT x.* FROM sat_order_details x
    WHERE x.order_hk = p.order_hk AND x.applied_ts <= CAST(now() AT TIME ZONE 'UTC' AS TIMESTAMP) AND x.load_ts < COALESCE((SELECT MIN(b.loaded_at) FROM dv_batch b WHERE b.status IN ('staging', 'staged', 'loading', 'partly loaded')), TIMESTAMP '9999-12-31 00:00:00.000000')
    ORDER BY x.applied_ts DESC, x.load_ts DESC LIMIT 1
) c1 ON c1.hash_diff <> from_hex('00000000000000000000000000000000')
LEFT JOIN ref_currency cr1 ON cr1.currency_code = c1.currency_code
LEFT JOIN LATERAL (
    SELECT x.* FROM ref_currency__desc x
    WHERE x.dv_code = cr1.dv_code AND x.applied_ts <= CAST(now() AT TIME ZONE 'UTC' AS TIMESTAMP) AND x.load_ts < COALESCE((SELECT MIN(b.loaded_at) FROM dv_batch b WHERE b.status IN ('staging', 'staged', 'loading', 'partly loaded')), TIMESTAMP '9999-12-31 00:00:00.000000')
    ORDER BY x.applied_ts DESC, x.load_ts DESC LIMIT 1
) cd1 ON cd1.hash_diff <> from_hex('00000000000000000000000000000000')
LEFT JOIN ref_unit cr2 ON cr2.unit_system = c1.weight_system AND cr2.symbol = c1.weight_unit
LEFT JOIN LATERAL (
    SELECT x.* FROM ref_unit__desc x
    WHERE x.dv_code = cr2.dv_code AND x.applied_ts <= CAST(now() AT TIME ZONE 'UTC' AS TIMESTAMP) AND x.load_ts < COALESCE((SELECT MIN(b.loaded_at) FROM dv_batch b WHERE b.status IN ('staging', 'staged', 'loading', 'partly loaded')), TIMESTAMP '9999-12-31 00:00:00.000000')
    ORDER BY x.applied_ts DESC, x.load_ts DESC LIMIT 1
) cd2 ON cd2.hash_diff <> from_hex('00000000000000000000000000000000')
WHERE COALESCE(c1.order_hk, NULL) IS NOT NULL
;

-- Each key's states along applied time as known before the first unfinished batch: valid
-- from an applied time at which one of the satellites changed, to the next such time (NULL:
-- still valid); a state of a multi-active satellite is a row per member, each with the span.
CREATE VIEW orders_history AS
WITH
v1 AS (
    SELECT x.hk, x.applied_ts, x.load_ts FROM (
        SELECT y.order_hk AS hk, y.applied_ts, y.load_ts,
               ROW_NUMBER() OVER (PARTITION BY y.order_hk, y.applied_ts ORDER BY y.load_ts DESC) AS dv_pick
        FROM sat_order_details y
        WHERE y.load_ts < COALESCE((SELECT MIN(b.loaded_at) FROM dv_batch b WHERE b.status IN ('staging', 'staged', 'loading', 'partly loaded')), TIMESTAMP '9999-12-31 00:00:00.000000')
    ) x WHERE x.dv_pick = 1
),
points AS (
    SELECT hk, applied_ts FROM v1
),
marked AS (
    SELECT p.hk, p.applied_ts, v1.applied_ts AS a1, v1.load_ts AS l1
    FROM points p
    LEFT JOIN v1 ON v1.hk = p.hk AND v1.applied_ts = p.applied_ts
),
grouped AS (
    SELECT m.*, COUNT(m.a1) OVER (PARTITION BY m.hk ORDER BY m.applied_ts) AS g1
    FROM marked m
),
filled AS (
    SELECT g.hk, g.applied_ts,
           LEAD(g.applied_ts) OVER (PARTITION BY g.hk ORDER BY g.applied_ts) AS valid_to,
           MAX(g.a1) OVER (PARTITION BY g.hk, g.g1) AS a1,
           MAX(g.l1) OVER (PARTITION BY g.hk, g.g1) AS l1
    FROM grouped g
),
-- a span also begins where the description of a code it holds changes
cuts AS (
    SELECT k.hk, k.applied_ts AS dv_span, k.applied_ts AS dv_from FROM filled k
    UNION
    SELECT k.hk, k.applied_ts, x.applied_ts
    FROM filled k
    JOIN sat_order_details s1 ON s1.order_hk = k.hk
        AND s1.applied_ts = k.a1 AND s1.load_ts = k.l1
    JOIN ref_currency cr ON cr.currency_code = s1.currency_code
    JOIN ref_currency__desc x ON x.dv_code = cr.dv_code AND x.applied_ts > k.applied_ts
        AND (k.valid_to IS NULL OR x.applied_ts < k.valid_to) AND x.load_ts < COALESCE((SELECT MIN(b.loaded_at) FROM dv_batch b WHERE b.status IN ('staging', 'staged', 'loading', 'partly loaded')), TIMESTAMP '9999-12-31 00:00:00.000000')
    UNION
    SELECT k.hk, k.applied_ts, x.applied_ts
    FROM filled k
    JOIN sat_order_details s1 ON s1.order_hk = k.hk
        AND s1.applied_ts = k.a1 AND s1.load_ts = k.l1
    JOIN ref_unit cr ON cr.unit_system = s1.weight_system AND cr.symbol = s1.weight_unit
    JOIN ref_unit__desc x ON x.dv_code = cr.dv_code AND x.applied_ts > k.applied_ts
        AND (k.valid_to IS NULL OR x.applied_ts < k.valid_to) AND x.load_ts < COALESCE((SELECT MIN(b.loaded_at) FROM dv_batch b WHERE b.status IN ('staging', 'staged', 'loading', 'partly loaded')), TIMESTAMP '9999-12-31 00:00:00.000000')
),
pieces AS (
    SELECT c.hk, c.dv_from AS applied_ts,
           LEAD(c.dv_from) OVER (PARTITION BY c.hk ORDER BY c.dv_from) AS valid_to,
           f.a1, f.l1
    FROM cuts c
    JOIN filled f ON f.hk = c.hk AND f.applied_ts = c.dv_span
)
SELECT h.order_number AS order_number, k.applied_ts AS valid_from, k.valid_to, s1.currency_code AS currency_code, s1.weight_system AS weight_system, s1.weight_unit AS weight_unit, cd1.numeric_code AS currency_numeric_code, cd1.currency_name AS currency_currency_name, cd1.minor_units AS currency_minor_units, cd2.unit_name AS weight_unit_name
FROM pieces k
JOIN hub_order h ON h.order_hk = k.hk
LEFT JOIN sat_order_details s1 ON s1.order_hk = k.hk
    AND s1.applied_ts = k.a1 AND s1.load_ts = k.l1
LEFT JOIN ref_currency cr1 ON cr1.currency_code = s1.currency_code
LEFT JOIN LATERAL (
    SELECT x.* FROM ref_currency__desc x
    WHERE x.dv_code = cr1.dv_code AND x.applied_ts <= k.applied_ts AND x.load_ts < COALESCE((SELECT MIN(b.loaded_at) FROM dv_batch b WHERE b.status IN ('staging', 'staged', 'loading', 'partly loaded')), TIMESTAMP '9999-12-31 00:00:00.000000')
    ORDER BY x.applied_ts DESC, x.load_ts DESC LIMIT 1
) cd1 ON cd1.hash_diff <> from_hex('00000000000000000000000000000000')
LEFT JOIN ref_unit cr2 ON cr2.unit_system = s1.weight_system AND cr2.symbol = s1.weight_unit
LEFT JOIN LATERAL (
    SELECT x.* FROM ref_unit__desc x
    WHERE x.dv_code = cr2.dv_code AND x.applied_ts <= k.applied_ts AND x.load_ts < COALESCE((SELECT MIN(b.loaded_at) FROM dv_batch b WHERE b.status IN ('staging', 'staged', 'loading', 'partly loaded')), TIMESTAMP '9999-12-31 00:00:00.000000')
    ORDER BY x.applied_ts DESC, x.load_ts DESC LIMIT 1
) cd2 ON cd2.hash_diff <> from_hex('00000000000000000000000000000000')
;
