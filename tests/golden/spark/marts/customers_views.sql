-- Views for people over PIT customers: business key columns and payload columns by name.
-- The snapshot view answers as its PIT was built; current and history read the satellites
-- as known before the first batch that has not finished (as `datavault query` does).
DROP VIEW IF EXISTS customers_snapshot;

DROP VIEW IF EXISTS customers_current;

DROP VIEW IF EXISTS customers_history;

-- Each key at each snapshot of the spine, as known at the last build (NULL payload: no state,
-- or deleted).
CREATE VIEW customers_snapshot AS
SELECT k.snapshot_ts AS snapshot_at, h.customer_number AS customer_number, s1.name AS name, s1.email AS email, s1.city AS city
FROM pit_customers k
JOIN hub_customer h ON h.customer_hk = k.customer_hk
LEFT JOIN sat_customer_details s1 ON s1.customer_hk = k.customer_details_hk
    AND s1.applied_ts = k.customer_details_applied_ts AND s1.load_ts = k.customer_details_load_ts
;

-- Each key's state now (its row with the greatest applied time up to now, then load time),
-- as known before the first unfinished batch; keys with no state now, or a deletion, are
-- left out. The latest row is looked up per key (a correlated subquery on the satellite's
-- primary key), so a query of a few keys through the view reads only their rows.
CREATE VIEW customers_current AS
SELECT h.customer_number AS customer_number, c1.name AS name, c1.email AS email, c1.city AS city
FROM hub_customer p
JOIN hub_customer h ON h.customer_hk = p.customer_hk
LEFT JOIN LATERAL (
    SELECT x.* FROM sat_customer_details x
    WHERE x.customer_hk = p.customer_hk AND x.applied_ts <= CAST(current_timestamp() AS TIMESTAMP_NTZ) AND x.load_ts < COALESCE((SELECT MIN(b.loaded_at) FROM dv_batch b WHERE b.status IN ('staging', 'staged', 'loading', 'partly loaded')), TIMESTAMP_NTZ '9999-12-31 00:00:00.000000')
    ORDER BY x.applied_ts DESC, x.load_ts DESC LIMIT 1
) c1 ON c1.hash_diff <> X'00000000000000000000000000000000'
WHERE COALESCE(c1.customer_hk, NULL) IS NOT NULL
;

-- Each key's states along applied time as known before the first unfinished batch: valid
-- from an applied time at which one of the satellites changed, to the next such time (NULL:
-- still valid); a state of a multi-active satellite is a row per member, each with the span.
CREATE VIEW customers_history AS
WITH
v1 AS (
    SELECT x.hk, x.applied_ts, x.load_ts FROM (
        SELECT y.customer_hk AS hk, y.applied_ts, y.load_ts,
               ROW_NUMBER() OVER (PARTITION BY y.customer_hk, y.applied_ts ORDER BY y.load_ts DESC) AS dv_pick
        FROM sat_customer_details y
        WHERE y.load_ts < COALESCE((SELECT MIN(b.loaded_at) FROM dv_batch b WHERE b.status IN ('staging', 'staged', 'loading', 'partly loaded')), TIMESTAMP_NTZ '9999-12-31 00:00:00.000000')
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
)
SELECT h.customer_number AS customer_number, k.applied_ts AS valid_from, k.valid_to, s1.name AS name, s1.email AS email, s1.city AS city
FROM filled k
JOIN hub_customer h ON h.customer_hk = k.hk
LEFT JOIN sat_customer_details s1 ON s1.customer_hk = k.hk
    AND s1.applied_ts = k.a1 AND s1.load_ts = k.l1
;
