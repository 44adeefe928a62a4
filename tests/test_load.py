"""These tests load real data through the CLI on SQLite and PostgreSQL alike.

Every load goes through ``datavault load`` (click's test runner), into a vault on each engine
of the ``db_url`` fixture, from the example project's CSV batches, from small CSV files written
here, or from a table of another SQLite database. The assertions read the vault's tables back:
what was inserted, quarantined and audited, and what a user sees when something is wrong.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

import datavault.cli
from datavault.database import connect
from tests.conftest import ENGINES, migrated, write_project

DATA = "data"
CRM = {
    "jan": "crm_customers_2026-01-01.csv",
    "jan_fix": "crm_customers_2026-01-01_fix.csv",
    "feb": "crm_customers_2026-02-01.csv",
    "mar": "crm_customers_2026-03-01.csv",
}
ORDERS = "shop_orders_2026-03-02.csv"
FEEDS = {
    "crm_customers": {"customer": "hub", "customer_details": "satellite"},
    "shop_orders": {"customer": "hub", "order": "hub", "order_customer": "link",
                    "order_status": "satellite", "order_customer_eff": "effectivity_satellite"},
}
ENTITY_TABLES = {"customer": "hub_customer", "order": "hub_order",
                 "order_customer": "link_order_customer",
                 "order_customer_eff": "eff_order_customer_eff",
                 "customer_details": "sat_customer_details", "order_status": "sat_order_status"}
ORDERS_HEADER = "order_id,customer_ref,status,amount,ordered_at,changed_at\n"


# ---- helpers ---------------------------------------------------------------------------
def cli(project: Path, url: str, *args: str) -> Result:
    return CliRunner().invoke(datavault.cli.main, ["-p", str(project), "--url", url, *args])


def load(project: Path, url: str, source: str, batch: Path | str, *options: str) -> Result:
    result = cli(project, url, "load", source, str(batch), *options)
    assert result.exit_code == 0, f"load failed:\n{result.output}\n{result.exception!r}"
    return result


def assert_user_error(result: Result, *needles: str) -> str:
    """Exit 1 through the CLI's own error path: one message line, no traceback."""
    shown = result.stdout + result.stderr
    assert "Traceback" not in shown
    assert isinstance(result.exception, SystemExit), (
        f"not a handled error: {result.exception!r}\n{shown}")
    assert result.exit_code == 1, shown
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one error line, got:\n{result.stderr}"
    message = lines[0]
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"
    return message


def summary_rows(stdout: str) -> dict[str, list[str]]:
    """entity -> [kind, inserted, deleted, quarantined, seconds, status] from the printed
    summary table."""
    rows = {}
    for line in stdout.splitlines():
        cells = [c.strip() for c in re.split(r"[│|]", line)[1:-1]]
        if len(cells) == 7 and cells[0] != "entity":
            rows[cells[0]] = cells[1:]
    return rows


def ts(value: object) -> dt.datetime:
    """A timestamp as either engine returns it (SQLite stores text)."""
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))


def md5(text: str) -> bytes:
    return hashlib.md5(text.encode("utf-8")).digest()


class Vault:
    """Reads the tables of the vault under test."""

    def __init__(self, url: str):
        # the toolkit's engine: on DuckDB it holds the file only while it reads
        self.engine, _ = connect(url)

    def rows(self, sql: str, **params: object) -> list[tuple]:
        with self.engine.connect() as connection:
            return [
                tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)
                for row in connection.execute(sa.text(sql), params)
            ]

    def scalar(self, sql: str, **params: object) -> object:
        return self.rows(sql, **params)[0][0]

    def count(self, table: str) -> int:
        return int(self.scalar(f"SELECT COUNT(*) FROM {table}"))  # type: ignore[arg-type]

    def table_names(self) -> list[str]:
        return sorted(sa.inspect(self.engine).get_table_names())

    def vault_tables(self) -> list[str]:
        """Every hub, link and satellite table, and every satellite's observation log."""
        return [t for t in self.table_names() if t.startswith(("hub_", "link_", "sat_"))]

    def snapshot(self) -> dict[str, list[tuple]]:
        return {t: sorted(self.rows(f"SELECT * FROM {t}"), key=repr) for t in self.vault_tables()}

    def audit(self, batch_id: int) -> dict[str, tuple]:
        """entity -> (kind, rows_staged, rows_inserted, rows_quarantined, status,
        rows_deleted) of one batch."""
        rows = self.rows(
            "SELECT entity, kind, rows_staged, rows_inserted, rows_quarantined, status, "
            "rows_deleted FROM dv_load_audit WHERE batch_id = :b", b=batch_id)
        assert len({r[0] for r in rows}) == len(rows), f"an entity audited twice: {rows}"
        return {r[0]: tuple(r[1:]) for r in rows}

    def last_batch(self) -> int:
        return int(self.scalar("SELECT MAX(batch_id) FROM dv_batch"))  # type: ignore[arg-type]

    def batch_count(self) -> int:
        if "dv_batch" not in self.table_names():
            return 0
        return self.count("dv_batch")


@pytest.fixture
def vault(db_url: str, project: Path):
    v = Vault(migrated(project, db_url))
    yield v
    v.engine.dispose()


@pytest.fixture
def project(example_project: Path) -> Path:
    return example_project


def data(project: Path, name: str) -> Path:
    return project / DATA / name


# ---- 1. loading a batch again inserts nothing ------------------------------------------
def test_loading_the_same_csv_again_inserts_nothing_anywhere(
    project: Path, db_url: str, vault: Vault
) -> None:
    sequence = [("crm_customers", CRM["jan"]), ("crm_customers", CRM["jan_fix"]),
                ("crm_customers", CRM["feb"]), ("crm_customers", CRM["mar"]),
                ("shop_orders", ORDERS)]
    for source, name in sequence:
        load(project, db_url, source, data(project, name))
        first = vault.last_batch()
        before = vault.snapshot()
        assert {"sat_customer_details__obs", "sat_order_status__obs"} <= set(before)
        assert len(before) == 7, sorted(before)  # 2 hubs, 1 link, 2 satellites, 2 logs

        skipped = load(project, db_url, source, data(project, name))
        assert "skipped" in skipped.output and vault.last_batch() == first
        load(project, db_url, source, data(project, name), "--force")
        second = vault.last_batch()
        assert second == first + 1
        after = vault.snapshot()
        counts = ({t: len(r) for t, r in before.items()}, {t: len(r) for t, r in after.items()})
        assert counts[1] == counts[0], f"{name} loaded again changed row counts"
        assert after == before, f"{name} loaded again changed a vault table"

        again = vault.audit(second)
        assert set(again) == set(FEEDS[source]), again
        staged = vault.audit(first)
        for entity, (kind, rows_staged, inserted, _quarantined, status, deleted) in (
                again.items()):
            assert (kind, inserted, deleted, status) == (FEEDS[source][entity], 0, 0, "ok"), \
                entity
            assert rows_staged == staged[entity][1]


def test_a_batch_sent_again_after_another_source_inserts_nothing(
    project: Path, db_url: str, vault: Vault
) -> None:
    load(project, db_url, "crm_customers", data(project, CRM["mar"]))
    load(project, db_url, "shop_orders", data(project, ORDERS))
    before = vault.snapshot()
    load(project, db_url, "crm_customers", data(project, CRM["mar"]), "--force")
    assert vault.snapshot() == before
    assert all(row[2] == 0 for row in vault.audit(vault.last_batch()).values())


# ---- 2. quarantine ---------------------------------------------------------------------
def test_a_value_that_does_not_parse_quarantines_the_whole_row(
    project: Path, db_url: str, vault: Vault
) -> None:
    result = load(project, db_url, "shop_orders", data(project, ORDERS))
    batch = vault.last_batch()
    quarantined = vault.rows(
        "SELECT entity, row_number, source, reason, data FROM dv_quarantine WHERE batch_id = :b",
        b=batch)
    assert len(quarantined) == 1, quarantined
    entity, row_number, source, reason, raw = quarantined[0]
    assert (entity, row_number, source) == ("", 4, "shop_orders")
    assert "amount" in reason and "not-a-number" in reason
    assert "O-1003" in raw

    assert vault.rows("SELECT rows_read, rows_staged, rows_quarantined, status FROM dv_batch "
                      "WHERE batch_id = :b", b=batch) == [(4, 3, 1, "loaded")]
    orders = sorted(r[0] for r in vault.rows("SELECT order_number FROM hub_order"))
    assert orders == ["O-1001", "O-1002"]  # the other rows load
    assert vault.count("sat_order_status") == 3
    assert vault.count("link_order_customer") == 2
    summary = " ".join(result.stdout.split())
    assert "1 quarantined" in summary
    assert "datavault quarantine --batch" in summary
    shown = summary_rows(result.stdout)
    assert set(shown) == set(FEEDS["shop_orders"])
    assert all(cells[3] == "0" and cells[5] == "ok" for cells in shown.values()), shown


def test_a_row_without_business_key_is_quarantined_per_entity(
    project: Path, db_url: str, vault: Vault
) -> None:
    result = load(project, db_url, "crm_customers", data(project, CRM["feb"]))
    batch = vault.last_batch()
    quarantined = vault.rows(
        "SELECT entity, row_number, reason FROM dv_quarantine WHERE batch_id = :b "
        "ORDER BY entity", b=batch)
    assert [(e, n) for e, n, _ in quarantined] == [("customer", 4), ("customer_details", 4)]
    assert all("customer" in reason and "key" in reason for _, _, reason in quarantined)

    audit = vault.audit(batch)
    assert audit["customer"] == ("hub", 4, 3, 1, "ok", 0)
    assert audit["customer_details"] == ("satellite", 4, 3, 1, "ok", 0)
    assert sorted(r[0] for r in vault.rows("SELECT customer_number FROM hub_customer")) == [
        "C001", "C002", "C003"]
    assert vault.count("sat_customer_details") == 3
    assert vault.rows("SELECT rows_read, rows_staged, rows_quarantined FROM dv_batch") == [
        (4, 4, 0)]  # read and staged fine: only the entity loads reject it
    assert "datavault quarantine --batch" in result.stdout
    shown = summary_rows(result.stdout)
    assert shown["customer"][:4] == ["hub", "3", "0", "1"], result.stdout
    assert shown["customer_details"][:4] == ["satellite", "3", "0", "1"], result.stdout


# ---- 3. audit --------------------------------------------------------------------------
def test_every_entity_load_is_audited_and_batches_are_ordered(
    project: Path, db_url: str, vault: Vault
) -> None:
    batches = [("crm_customers", CRM["jan"]), ("crm_customers", CRM["feb"]),
               ("shop_orders", ORDERS), ("crm_customers", CRM["mar"])]
    for source, name in batches:
        load(project, db_url, source, data(project, name))

    listed = vault.rows("SELECT batch_id, source, loaded_at, rows_read, rows_staged, "
                        "rows_quarantined, status FROM dv_batch ORDER BY batch_id")
    assert [r[0] for r in listed] == [1, 2, 3, 4]
    assert [r[1] for r in listed] == [s for s, _ in batches]
    loaded_at = [ts(r[2]) for r in listed]
    assert all(a < b for a, b in zip(loaded_at, loaded_at[1:])), loaded_at
    assert all(r[6] == "loaded" and r[3] == r[4] + r[5] for r in listed), listed

    assert vault.count("dv_load_audit") == sum(len(FEEDS[s]) for s, _ in batches)
    for (batch_id, source, at, _read, rows_staged, _q, _s) in listed:
        audit = vault.audit(batch_id)
        assert set(audit) == set(FEEDS[source])
        for entity, (kind, staged, inserted, quarantined, status, deleted) in audit.items():
            table = ENTITY_TABLES[entity]
            assert (kind, staged, status) == (FEEDS[source][entity], rows_staged, "ok")
            stored = vault.rows(f"SELECT load_ts FROM {table} WHERE batch_id = :b", b=batch_id)
            assert (inserted, deleted) == (len(stored), 0), (batch_id, entity)
            assert all(ts(r[0]) == ts(at) for r in stored), "load_ts is the batch's loaded_at"
            assert quarantined == vault.scalar(
                "SELECT COUNT(*) FROM dv_quarantine WHERE batch_id = :b AND entity = :e",
                b=batch_id, e=entity)
    # what the CRM batches changed: 3 customers; then the e-mails of C002 and C003; then
    # C001's city, C002's e-mail back, and the new C004
    assert [vault.audit(b)["customer_details"][2] for b in (1, 2, 4)] == [3, 2, 3]


# ---- 4. links and business key normalisation -------------------------------------------
def test_a_link_row_per_distinct_pair_keyed_like_its_hubs(
    project: Path, db_url: str, vault: Vault, tmp_path: Path
) -> None:
    load(project, db_url, "crm_customers", data(project, CRM["jan"]))
    orders = tmp_path / "orders.csv"
    orders.write_text(
        ORDERS_HEADER
        + "O-1,c003 ,placed,10,2026-03-02T09:00:00,2026-03-02T09:00:00\n"
        + "O-1,C003,shipped,10,2026-03-02T09:00:00,2026-03-03T09:00:00\n"
        + "O-2,C003,placed,5,2026-03-02T10:00:00,2026-03-02T10:00:00\n"
        + "o-3,\"\tc003\",placed,7,2026-03-02T11:00:00,2026-03-02T11:00:00\n"
        + "O-4,C001,placed,8,2026-03-02T12:00:00,2026-03-02T12:00:00\n"
        + " o-4,c001,paid,8,2026-03-02T12:00:00,2026-03-02T13:00:00\n",
        encoding="utf-8")
    load(project, db_url, "shop_orders", orders)
    batch = vault.last_batch()

    customers = dict(vault.rows("SELECT customer_number, customer_hk FROM hub_customer"))
    assert sorted(customers) == ["C001", "C002", "C003"], "a trimmed, upper-cased key is known"
    assert customers["C003"] == md5("C003")
    assert vault.audit(batch)["customer"][2] == 0
    assert vault.count("hub_order") == 4

    links = vault.rows("SELECT o.order_number, c.customer_number, l.order_customer_hk "
                       "FROM link_order_customer l "
                       "JOIN hub_order o ON o.order_hk = l.order_hk "
                       "JOIN hub_customer c ON c.customer_hk = l.customer_hk")
    assert vault.count("link_order_customer") == len(links) == 4
    pairs = sorted((o.strip().upper(), c) for o, c, _ in links)
    assert pairs == [("O-1", "C003"), ("O-2", "C003"), ("O-3", "C003"), ("O-4", "C001")]
    for order, customer, link_hk in links:
        assert link_hk == md5(f"{order.strip().upper()}|{customer}")
    for customer_hk, in vault.rows("SELECT customer_hk FROM link_order_customer"):
        assert customer_hk in customers.values()


def test_keys_differing_in_case_and_space_are_one_hub_row(
    project: Path, db_url: str, vault: Vault, tmp_path: Path
) -> None:
    orders = tmp_path / "orders.csv"
    orders.write_text(
        ORDERS_HEADER
        + "O-1,c003 ,placed,10,2026-03-02T09:00:00,2026-03-02T09:00:00\n"
        + "O-2,C003,placed,5,2026-03-02T10:00:00,2026-03-02T10:00:00\n"
        + "O-3, c003,placed,5,2026-03-02T10:00:00,2026-03-02T10:00:00\n",
        encoding="utf-8")
    load(project, db_url, "shop_orders", orders)
    assert vault.rows("SELECT customer_hk FROM hub_customer") == [(md5("C003"),)]
    hub_key = vault.scalar("SELECT customer_hk FROM hub_customer")
    assert {r[0] for r in vault.rows("SELECT customer_hk FROM link_order_customer")} == {hub_key}
    load(project, db_url, "crm_customers", data(project, CRM["jan"]))
    assert vault.count("hub_customer") == 3  # C003 of the CRM is the same customer


# ---- 5. --only -------------------------------------------------------------------------
def test_only_loads_the_named_entities(project: Path, db_url: str, vault: Vault) -> None:
    load(project, db_url, "shop_orders", data(project, ORDERS), "--only", "order")
    assert set(vault.audit(1)) == {"order"}
    assert vault.count("hub_order") == 2
    for table in ("hub_customer", "link_order_customer", "sat_order_status",
                  "sat_order_status__obs"):
        assert vault.count(table) == 0, table

    load(project, db_url, "shop_orders", data(project, ORDERS),
         "--only", "order_status", "--only", "order_customer")
    assert set(vault.audit(2)) == {"order_status", "order_customer"}
    assert vault.count("sat_order_status") == 3
    assert vault.count("link_order_customer") == 2
    assert vault.count("hub_customer") == 0


def test_only_with_an_unknown_entity_is_one_error(
    project: Path, db_url: str, vault: Vault
) -> None:
    result = cli(project, db_url, "load", "shop_orders", str(data(project, ORDERS)),
                 "--only", "order_stat")
    assert_user_error(result, "order_stat", "did you mean", "order_status")
    assert vault.batch_count() == 0, "a refused load must not leave a batch behind"


# ---- 6. --applied-at -------------------------------------------------------------------
NO_APPLIED_AT = {
    "models/sources/meters.yml": "columns:\n  meter: text\n  reading: integer\n",
    "models/hubs/meter.yml": "business_key:\n  meter: text\nsources:\n  meters:\n",
    "models/satellites/meter_reading.yml": "parent: meter\nsource: meters\npayload: [reading]\n",
}


def test_applied_at_sets_the_applied_time_of_a_source_without_one(
    tmp_path: Path, make_db_url
) -> None:
    project = write_project(tmp_path / "meters", NO_APPLIED_AT)
    vault = Vault(db_url := migrated(project, make_db_url()))
    batch = tmp_path / "meters.csv"
    batch.write_text("meter,reading\nM1,10\nM2,20\n", encoding="utf-8")
    load(project, db_url, "meters", batch, "--applied-at", "2026-02-01T06:00:00+01:00")
    expected = dt.datetime(2026, 2, 1, 5, 0)  # in UTC
    applied = vault.rows("SELECT applied_ts FROM sat_meter_reading")
    assert [ts(a) for a, in applied] == [expected, expected]
    assert ts(vault.scalar("SELECT applied_at FROM dv_batch")) == expected

    batch.write_text("meter,reading\nM1,11\n", encoding="utf-8")
    load(project, db_url, "meters", batch)  # without --applied-at: the load time
    loaded_at = ts(vault.scalar("SELECT loaded_at FROM dv_batch WHERE batch_id = 2"))
    assert [ts(a) for a, in vault.rows(
        "SELECT applied_ts FROM sat_meter_reading WHERE batch_id = 2")] == [loaded_at]


def test_applied_at_is_refused_for_a_source_with_an_applied_at_column(
    project: Path, db_url: str, vault: Vault
) -> None:
    result = cli(project, db_url, "load", "crm_customers", str(data(project, CRM["jan"])),
                 "--applied-at", "2026-01-01")
    assert_user_error(result, "crm_customers", "extracted_at", "--applied-at")
    assert vault.batch_count() == 0


# ---- 7. a table or query of another database as input -------------------------------
READINGS = {
    "models/sources/readings.yml": (
        "applied_at: taken_at\n"
        "columns:\n  meter: text\n  reading: integer\n  taken_at: timestamp\n  note: text\n"),
    "models/hubs/meter.yml": "business_key:\n  meter: text\nsources:\n  readings:\n",
    "models/satellites/meter_reading.yml": (
        "parent: meter\nsource: readings\npayload: [reading, note]\n"),
}
READING_ROWS = [  # timestamps as text, in two ISO layouts; integers as integers
    ("M1", 10, "2026-03-01T06:00:00", "ok"),
    ("M1", 12, "2026-03-02 06:00:00", None),
    (" m2", -3, "2026-03-01T07:30:00.250000", "reset"),
]
READINGS_CSV = ("meter,reading,taken_at,note\n"
                "M1,10,2026-03-01T06:00:00,ok\n"
                "M1,12,2026-03-02T06:00:00,\n"
                " m2,-3,2026-03-01T07:30:00.25,reset\n")


def _input_database(path: Path, table: str, columns: str) -> str:
    connection = sqlite3.connect(path)
    connection.execute(f"CREATE TABLE {table} ({columns})")
    connection.executemany(f"INSERT INTO {table} VALUES (?, ?, ?, ?)", READING_ROWS)
    connection.commit()
    connection.close()
    return f"sqlite:///{path}"


@pytest.mark.parametrize("how", ["table", "query", "default table"])
def test_a_table_or_query_of_another_database_loads_typed_values(
    how: str, tmp_path: Path, make_db_url
) -> None:
    project = write_project(tmp_path / "readings", READINGS)
    vault = Vault(db_url := migrated(project, make_db_url()))
    if how == "query":
        url = _input_database(tmp_path / "input.sqlite", "export",
                              "m TEXT, r INTEGER, t TEXT, n TEXT")
        options = ["--query", "SELECT m AS meter, r AS reading, t AS taken_at, n AS note "
                              "FROM export"]
    elif how == "table":
        url = _input_database(tmp_path / "input.sqlite", "export",
                              "meter TEXT, reading INTEGER, taken_at TEXT, note TEXT")
        options = ["--table", "export"]
    else:
        url = _input_database(tmp_path / "input.sqlite", "readings",
                              "meter TEXT, reading INTEGER, taken_at TEXT, note TEXT")
        options = []
    load(project, db_url, "readings", url, *options)

    assert vault.rows("SELECT rows_read, rows_staged, rows_quarantined, input FROM dv_batch")[0][
        :3] == (3, 3, 0)
    rows = vault.rows("SELECT h.meter, s.reading, s.applied_ts, s.note FROM sat_meter_reading s "
                      "JOIN hub_meter h ON h.meter_hk = s.meter_hk")
    assert sorted((m.strip().upper(), int(r), ts(a), n) for m, r, a, n in rows) == [
        ("M1", 10, dt.datetime(2026, 3, 1, 6), "ok"),
        ("M1", 12, dt.datetime(2026, 3, 2, 6), None),
        ("M2", -3, dt.datetime(2026, 3, 1, 7, 30, 0, 250000), "reset"),
    ]
    keys = {r[0] for r in vault.rows("SELECT meter_hk FROM hub_meter")}
    assert keys == {md5("M1"), md5("M2")}

    # the same rows as CSV text hash the same: loading them is loading the batch again
    before = vault.snapshot()
    csv = tmp_path / "readings.csv"
    csv.write_text(READINGS_CSV, encoding="utf-8")
    load(project, db_url, "readings", csv)
    assert vault.snapshot() == before, "typed database values hash unlike the same CSV text"


def test_a_numeric_column_of_a_sqlite_table_loads_as_decimal(
    project: Path, db_url: str, vault: Vault, tmp_path: Path
) -> None:
    path = tmp_path / "shop.sqlite"
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE orders (order_id TEXT, customer_ref TEXT, status TEXT, "
                       "amount NUMERIC, ordered_at TEXT, changed_at TEXT)")
    connection.executemany("INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?)", [
        ("O-1", "C001", "placed", "120.50", "2026-03-02T09:15:00", "2026-03-02T09:15:00"),
        ("O-2", "C002", "placed", "35", "2026-03-02T11:00:00", "2026-03-02T11:00:00"),
    ])
    connection.commit()
    connection.close()
    load(project, db_url, "shop_orders", f"sqlite:///{path}", "--table", "orders")
    assert vault.count("dv_quarantine") == 0, vault.rows("SELECT reason FROM dv_quarantine")
    amounts = sorted(float(a) for a, in vault.rows("SELECT amount FROM sat_order_status"))
    assert amounts == [35.0, 120.5]


# ---- 8. user errors --------------------------------------------------------------------
def test_an_unknown_source_suggests_the_closest(project: Path, db_url: str,
                                                 vault: Vault) -> None:
    result = cli(project, db_url, "load", "crm_customer", str(data(project, CRM["jan"])))
    assert_user_error(result, "crm_customer", "did you mean", "'crm_customers'")
    assert vault.batch_count() == 0


def test_a_csv_without_a_declared_column(project: Path, db_url: str, vault: Vault,
                                         tmp_path: Path) -> None:
    batch = tmp_path / "no_city.csv"
    batch.write_text("customer_id,name,email,extracted_at\nC001,A,a@x,2026-01-01\n",
                     encoding="utf-8")
    result = cli(project, db_url, "load", "crm_customers", str(batch))
    assert_user_error(result, "no_city.csv", "city", "crm_customers")
    assert vault.batch_count() == 0


def test_an_empty_csv_file(project: Path, db_url: str, vault: Vault, tmp_path: Path) -> None:
    batch = tmp_path / "empty.csv"
    batch.write_text("", encoding="utf-8")
    result = cli(project, db_url, "load", "crm_customers", str(batch))
    assert_user_error(result, "empty.csv", "empty", "header")
    assert vault.batch_count() == 0


def test_a_missing_input_file(project: Path, db_url: str, tmp_path: Path) -> None:
    result = cli(project, db_url, "load", "crm_customers", str(tmp_path / "nope.csv"))
    assert_user_error(result, "nope.csv", "does not exist")


def test_a_folder_as_input(project: Path, db_url: str, vault: Vault, tmp_path: Path) -> None:
    result = cli(project, db_url, "load", "crm_customers", str(tmp_path))
    assert_user_error(result, str(tmp_path), "is a folder", "each file")
    assert vault.batch_count() == 0


def test_table_with_a_csv_input(project: Path, db_url: str) -> None:
    result = cli(project, db_url, "load", "crm_customers", str(data(project, CRM["jan"])),
                 "--table", "customers")
    assert_user_error(result, "--table", "database URL")


@pytest.mark.parametrize("url", ["not a url", "sqlite//vault.sqlite", "postgresql://u@h:port/x"])
def test_a_malformed_url(project: Path, url: str) -> None:
    result = cli(project, url, "load", "crm_customers", str(data(project, CRM["jan"])))
    assert_user_error(result, "URL")


def test_an_unreachable_postgresql_server(project: Path) -> None:
    url = "postgresql+psycopg2://postgres@127.0.0.1:1/x"
    result = cli(project, url, "load", "crm_customers", str(data(project, CRM["jan"])))
    assert_user_error(result, "cannot connect", "127.0.0.1:1")


def test_an_unreachable_postgresql_server_plain_url(project: Path) -> None:
    url = "postgresql://postgres@127.0.0.1:1/x"
    result = cli(project, url, "load", "crm_customers", str(data(project, CRM["jan"])))
    assert_user_error(result, "cannot connect", "127.0.0.1:1")


def test_input_url_without_its_driver_is_one_error(project: Path, db_url: str,
                                                  vault: Vault) -> None:
    """Whatever the driver situation, an input URL never ends in a traceback."""
    result = cli(project, db_url, "load", "shop_orders", "postgresql://postgres@127.0.0.1:1/x",
                 "--table", "orders")
    assert_user_error(result, "input")


def test_a_malformed_input_url(project: Path, db_url: str) -> None:
    result = cli(project, db_url, "load", "shop_orders", "postgresql://u@h:port/x")
    assert_user_error(result, "INPUT", "not a database URL")


def test_table_and_query_together(project: Path, db_url: str, tmp_path: Path) -> None:
    url = _input_database(tmp_path / "input.sqlite", "export", "a, b, c, d")
    result = cli(project, db_url, "load", "shop_orders", url, "--table", "export",
                 "--query", "SELECT * FROM export")
    assert_user_error(result, "--table", "--query")


def test_a_missing_input_database_file_is_not_created(project: Path, db_url: str,
                                                     tmp_path: Path) -> None:
    missing = tmp_path / "nope.sqlite"
    result = cli(project, db_url, "load", "shop_orders", f"sqlite:///{missing}")
    assert_user_error(result, "nope.sqlite", "does not exist")
    assert not missing.exists()


def test_an_input_table_that_does_not_exist(project: Path, db_url: str, vault: Vault,
                                            tmp_path: Path) -> None:
    url = _input_database(tmp_path / "input.sqlite", "export", "a, b, c, d")
    result = cli(project, db_url, "load", "shop_orders", url, "--table", "orders")
    assert_user_error(result, "orders")


# ---- 9. generated files ----------------------------------------------------------------
@pytest.mark.parametrize("dialect", ENGINES)
def test_generate_twice_gives_the_same_bytes(project: Path, tmp_path: Path,
                                             dialect: str) -> None:
    outputs = []
    for run in ("a", "b"):
        out = tmp_path / run
        result = CliRunner().invoke(datavault.cli.main, [
            "-p", str(project), "generate", "--dialect", dialect, "--out", str(out)])
        assert result.exit_code == 0, result.output
        outputs.append({p.relative_to(out).as_posix(): p.read_bytes()
                        for p in sorted(out.rglob("*")) if p.is_file()})
    assert outputs[0] == outputs[1]
    assert {"ddl.sql", "stage/crm_customers.sql", "stage/shop_orders.sql",
            "stage/crm_phones.sql", "load/shop_orders/order_customer.sql",
            "load/shop_orders/order_customer_eff.sql",
            "load/crm_phones/customer_phones.sql"} <= set(outputs[0])
    # ddl, three stages, the loads of each source's entities, and the marts: ddl, sql, views
    assert len(outputs[0]) == 1 + 3 + (2 + 5 + 2) + 1 + 2 * 3


def test_a_row_with_too_few_or_too_many_fields_is_quarantined(
    project: Path, db_url: str, vault: Vault, tmp_path: Path
) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text(
        "customer_id,name,email,city,extracted_at\n"
        "C001,Alice,a@example.com,Lyon,2026-01-01T06:00:00\n"
        "C002,Bob,b@example.com\n"
        "C003,Carol,c@example.com,Porto,2026-01-01T06:00:00,extra\n",
        encoding="utf-8",
    )
    result = cli(project, db_url, "load", "crm_customers", str(path))
    assert result.exit_code == 0, result.output
    engine = sa.create_engine(db_url)
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT row_number, reason FROM dv_quarantine ORDER BY row_number").all()
        loaded = connection.exec_driver_sql("SELECT COUNT(*) FROM hub_customer").scalar_one()
    engine.dispose()
    assert [(n, reason) for n, reason in rows] == [
        (2, "the row has 3 fields, the header 5"),
        (3, "the row has 6 fields, the header 5"),
    ]
    assert loaded == 1


def test_a_postgres_scheme_url_is_a_postgresql_url(project: Path, pg_url: str) -> None:
    """``postgres://``, as libpq and many hosting services write it, names PostgreSQL."""
    url = pg_url.replace("postgresql+psycopg2://", "postgres://", 1)
    assert url.startswith("postgres://")
    migrated(project, pg_url)
    result = cli(project, url, "load", "crm_customers", str(data(project, CRM["jan"])))
    assert result.exit_code == 0, result.output
    assert "loaded" in result.output


# ---- a first load fills its tables, then builds their indexes (PostgreSQL) ---------------
def indexes(url: str) -> dict[str, tuple[str, str, int]]:
    """Index name -> (table, definition, the index's oid) for every index of the vault's
    schema; a constraint's index shows its constraint's definition."""
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT x.relname, t.relname, pg_get_indexdef(i.indexrelid)"
            "       || COALESCE(' / ' || pg_get_constraintdef(c.oid), ''), i.indexrelid::bigint"
            " FROM pg_index i JOIN pg_class x ON x.oid = i.indexrelid"
            " JOIN pg_class t ON t.oid = i.indrelid"
            " LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.conrelid = t.oid"
            " WHERE t.relnamespace = current_schema()::regnamespace").all()
    engine.dispose()
    return {name: (table, definition, oid) for name, table, definition, oid in rows}


@pytest.fixture
def in_bulk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every batch counts as large enough to fill empty tables without their indexes."""
    from datavault.dialects.base import Dialect

    monkeypatch.setattr(Dialect, "bulk_rows", 0)


def migrated_with(project: Path, url: str, sql: str) -> tuple[str, Vault]:
    """The project's vault at ``url``, then ``sql`` run in it."""
    vault = Vault(migrated(project, url))
    with vault.engine.begin() as connection:
        connection.exec_driver_sql(sql)
    return url, vault


def rebuilt(before: dict, after: dict) -> set[str]:
    """The tables whose indexes were made again; every index keeps its definition."""
    assert {n: v[:2] for n, v in after.items()} == {n: v[:2] for n, v in before.items()}
    return {before[n][0] for n in before if before[n][2] != after[n][2]}


def test_a_first_load_builds_its_indexes_once_its_tables_are_filled(
        project: Path, pg_url: str, in_bulk: None) -> None:
    """An entity whose table is empty is loaded with the indexes of its empty tables set
    aside and built again before the commit: the same names and definitions, new indexes. A
    later load, or a load into a table that holds rows, keeps them as they are. So is a
    staging table with no batch waiting in it (each loaded batch's rows leave it)."""
    url = migrated(project, pg_url)
    before = indexes(url)
    load(project, url, "crm_customers", data(project, CRM["jan"]))
    first = indexes(url)
    assert rebuilt(before, first) == {"stg_crm_customers", "hub_customer",
                                      "sat_customer_details", "sat_customer_details__obs"}
    load(project, url, "crm_customers", data(project, CRM["feb"]))
    second = indexes(url)
    assert rebuilt(first, second) == {"stg_crm_customers"}
    load(project, url, "shop_orders", data(project, ORDERS))
    orders = rebuilt(second, indexes(url))
    assert "hub_customer" not in orders  # it held the customers already
    assert {"stg_shop_orders", "hub_order", "link_order_customer",
            "sat_order_status"} <= orders
    assert "stg_crm_customers" not in orders
    vault = Vault(url)
    with pytest.raises(sa.exc.IntegrityError):  # the keys are unique as before
        vault.rows("INSERT INTO hub_order SELECT * FROM hub_order LIMIT 1")
    vault.engine.dispose()


def test_a_first_load_that_fails_keeps_its_indexes(project: Path, pg_url: str,
                                                   in_bulk: None) -> None:
    """A first load that fails after its indexes were set aside leaves them as they were,
    and its resumed load builds them."""
    url, vault = migrated_with(
        project, pg_url,
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'no rows today'; END $$;"
        "CREATE TRIGGER refuse BEFORE INSERT ON sat_customer_details "
        "FOR EACH STATEMENT EXECUTE FUNCTION refuse()")
    before = indexes(url)
    result = cli(project, url, "load", "crm_customers", str(data(project, CRM["jan"])))
    assert "no rows today" in result.output, result.output
    assert rebuilt(before, indexes(url)) == {"stg_crm_customers", "hub_customer"}
    assert vault.count("sat_customer_details") == 0
    with vault.engine.begin() as connection:
        connection.exec_driver_sql("DROP TRIGGER refuse ON sat_customer_details")
    resumed = cli(project, url, "load", "--resume", str(vault.last_batch()))
    assert resumed.exit_code == 0, resumed.output
    assert vault.count("sat_customer_details") > 0
    assert rebuilt(before, indexes(url)) == {"stg_crm_customers", "hub_customer",
                                             "sat_customer_details",
                                             "sat_customer_details__obs"}
    vault.engine.dispose()


def test_a_loader_role_that_owns_no_table_and_makes_none_loads(project: Path,
                                                             pg_url: str, in_bulk: None) -> None:
    """A role with the privileges a load needs on the vault's tables (on a hub only SELECT
    and INSERT) but neither their ownership nor the right to make tables in the schema stages
    through a temporary table and fills empty tables with their indexes in place."""
    url = migrated(project, pg_url)
    schema_name = re.search(r"search_path%3D(\w+)", url).group(1)  # type: ignore[union-attr]
    role = f"dvtest_loader_{schema_name[-12:]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(
            f"CREATE ROLE {role} LOGIN; GRANT USAGE ON SCHEMA {schema_name} TO {role};"
            f"GRANT ALL ON ALL TABLES IN SCHEMA {schema_name} TO {role};"
            f"GRANT ALL ON ALL SEQUENCES IN SCHEMA {schema_name} TO {role};"
            # a hub is only read and inserted into
            f"REVOKE UPDATE, DELETE, TRUNCATE ON hub_customer FROM {role}")
    try:
        before = indexes(url)
        as_role = re.sub(r"//[^@/]+@", f"//{role}@", url, count=1)
        load(project, as_role, "crm_customers", data(project, CRM["jan"]))
        assert rebuilt(before, indexes(url)) == set()
        vault = Vault(url)
        assert vault.count("hub_customer") > 0 and vault.count("sat_customer_details") > 0
        vault.engine.dispose()
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP OWNED BY {role}; DROP ROLE {role}")
        admin.dispose()


def test_a_first_load_keeps_indexes_it_could_not_build_again_or_that_are_in_use(
        project: Path, pg_url: str, in_bulk: None) -> None:
    """Indexes stay as they are where a rebuild from their definition would lose something
    (storage options, an object that depends on them) or where the table is in use when the
    load begins: a first load never waits for a reader."""
    url, vault = migrated_with(
        project, pg_url,
        "ALTER INDEX sat_customer_details_pkey SET (fillfactor = 90);"
        "CREATE VIEW order_count AS SELECT h.order_hk, h.order_number, COUNT(*) AS n"
        " FROM hub_order h GROUP BY h.order_hk")  # valid through the primary key
    before = indexes(url)
    reader = vault.engine.connect()
    reader.exec_driver_sql("SELECT COUNT(*) FROM hub_customer")  # its transaction stays open
    try:
        load(project, url, "crm_customers", data(project, CRM["jan"]))
        load(project, url, "shop_orders", data(project, ORDERS))
    finally:
        reader.rollback()
        reader.close()
    done = rebuilt(before, indexes(url))
    assert not done & {"hub_customer", "sat_customer_details", "hub_order"}
    assert {"sat_order_status", "link_order_customer"} <= done
    assert vault.scalar("SELECT reloptions FROM pg_class WHERE oid = "
                        "'sat_customer_details_pkey'::regclass") == ["fillfactor=90"]
    assert vault.count("order_count") == vault.count("hub_order") > 0
    vault.engine.dispose()


def test_a_small_first_load_keeps_its_indexes(project: Path, pg_url: str) -> None:
    """A batch of fewer rows than the dialect's ``bulk_rows`` fills empty tables as they
    are: its index entries cost less than building the indexes again."""
    url = migrated(project, pg_url)
    before = indexes(url)
    load(project, url, "crm_customers", data(project, CRM["jan"]))
    assert rebuilt(before, indexes(url)) == set()


def test_indexes_are_set_aside_only_on_a_table_still_empty(project: Path,
                                                           pg_url: str, in_bulk: None) -> None:
    """A table another load filled between ``empty_tables`` and the lock keeps its
    indexes."""
    from datavault.dialects import get_dialect

    url = migrated(project, pg_url)
    load(project, url, "crm_customers", data(project, CRM["jan"]))
    before = indexes(url)
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        with get_dialect("postgresql").without_indexes(connection, ["hub_customer"]):
            pass
    engine.dispose()
    assert rebuilt(before, indexes(url)) == set()
