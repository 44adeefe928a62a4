"""Load benchmark: rows/s of the toolkit's load of one N-row batch, against a floor.

Run from the repository root:

    python bench/load_bench.py --rows 1000000 --engines sqlite,postgresql

For each engine it loads one generated batch of the example source ``crm_customers``
(hub ``customer``, satellite ``customer_details``) into a fresh database, then measures
in the same run and on the same database the floor of each step: the same rows written
by the plainest statement the engine offers, without hashing or change detection.
It then loads the same batch a second time (which must insert nothing).

This is not a test: it prints figures (and WARN lines when a result is not what the
load must produce). See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import random
import re
import secrets
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from datavault import api
from datavault.inputs import open_input

SOURCE = "crm_customers"
HUB = "customer"
SAT = "customer_details"
STAGE_TABLE = "stg_crm_customers"
HUB_TABLE = "hub_customer"
SAT_TABLE = "sat_customer_details"
RECORD_SOURCE = "crm.customers"
EXTRACTED_AT = "2026-01-01T06:00:00"
PG_ADMIN_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"

HUB_FLOOR_SQL = (
    "INSERT INTO {table} (customer_hk, customer_number, load_ts, record_source, batch_id) "
    f"SELECT dv_hk_customer, customer_id, dv_loaded_at, '{RECORD_SOURCE}', dv_batch_id "
    f"FROM {STAGE_TABLE}"
)
SAT_FLOOR_SQL = (
    "INSERT INTO {table} (customer_hk, applied_ts, load_ts, hash_diff, name, email, city, "
    "record_source, batch_id) "
    "SELECT dv_hk_customer, dv_applied_at, dv_loaded_at, dv_hd_customer_details, name, email, "
    f"city, '{RECORD_SOURCE}', dv_batch_id FROM {STAGE_TABLE}"
)
FLOOR_COLUMNS_DDL = (
    "customer_id text, name text, email text, city text, extracted_at timestamp"
)

FIRST = ["Alice", "Bob", "Carol", "Dan", "Eve", "Frank", "Grace", "Heidi", "Ivan", "Judy",
         "Karl", "Lena", "Mallory", "Nils", "Olga", "Peggy", "Quinn", "Rupert", "Sybil",
         "Trent", "Ursula", "Victor", "Wendy", "Xavier", "Yara", "Zoe"]
LAST = ["Martin", "Stone", "Dyer", "Okafor", "Nguyen", "Silva", "Kowalski", "Müller",
        "García", "Rossi", "Dubois", "Smith", "Tanaka", "Ivanova", "Haddad", "O'Brien",
        "Johansson", "Novak", "Costa", "Schmidt"]
CITIES = ["Lyon", "Leeds", "Porto", "Lagos", "Paris", "Berlin", "Madrid", "Oslo", "Kraków",
          "Nairobi", "Osaka", "Lima", "Quebec", "Dublin", "Tunis", "Perth", "Gdańsk", "Cork",
          "São Paulo", "Zürich"]


# ---- machine -------------------------------------------------------------------------------
def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def ram_gib() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def postgres_info() -> str:
    try:
        engine = sa.create_engine(PG_ADMIN_URL)
        with engine.connect() as connection:
            version = connection.exec_driver_sql("SHOW server_version").scalar()
            settings = {
                name: connection.exec_driver_sql(f"SHOW {name}").scalar()
                for name in ("shared_buffers", "work_mem", "synchronous_commit", "fsync")
            }
        engine.dispose()
        shown = ", ".join(f"{k}={v}" for k, v in settings.items())
        return f"{version} ({shown})"
    except Exception as exc:  # the header is informative only
        return f"unavailable ({str(exc).strip().splitlines()[0]})"


def print_machine(engines: list[str], rows: int, seed: int, title: str = "load",
                  batch: str = "") -> None:
    print(f"datavault {title} benchmark")
    print(f"  cpu:        {cpu_model()}")
    print(f"  cores:      {os.cpu_count()}")
    print(f"  ram:        {ram_gib()}")
    print(f"  os:         {platform.platform()}")
    print(f"  python:     {platform.python_version()}  sqlalchemy {sa.__version__}")
    print(f"  sqlite:     {sqlite3.sqlite_version}")
    if "postgresql" in engines:
        print(f"  postgresql: {postgres_info()}")
    print(f"  batch:      {batch or f'{rows:,} rows of source {SOURCE}'} (seed {seed})")
    print()


# ---- input ---------------------------------------------------------------------------------
def generate_csv(path: Path, rows: int, seed: int) -> None:
    """N distinct customer ids, one extracted_at; the same file for a given (rows, seed)."""
    rng = random.Random(seed)
    ids = list(range(1, rows + 1))
    rng.shuffle(ids)  # the source does not come sorted by key
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["customer_id", "name", "email", "city", "extracted_at"])
        choice = rng.choice
        for number in ids:
            first, last = choice(FIRST), choice(LAST)
            writer.writerow([
                f"C{number:09d}", f"{first} {last}",
                f"{first.lower()}.{number}@example.com", choice(CITIES), EXTRACTED_AT,
            ])


# ---- databases -----------------------------------------------------------------------------
@dataclass
class Target:
    engine_name: str
    url: str
    cleanup: Callable[[], None]


def make_target(engine_name: str, workdir: Path, timeout: float) -> Target:
    if engine_name == "sqlite":
        path = workdir / "vault.sqlite"
        return Target("sqlite", f"sqlite:///{path}", lambda: None)
    if engine_name == "postgresql":
        name = f"dvbench_{secrets.token_hex(4)}"
        admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.exec_driver_sql(f"CREATE DATABASE {name}")

        def drop() -> None:
            with admin.connect() as connection:
                connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            admin.dispose()

        url = f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"
        if timeout > 0:  # a runaway statement fails its step instead of running for hours
            url += f"?options=-c%20statement_timeout%3D{int(timeout * 1000)}"
        return Target("postgresql", url, drop)
    raise SystemExit(f"unknown engine {engine_name!r}; use sqlite and/or postgresql")


def copy_table_ddl(connection: sa.Connection, engine_name: str, table: str, copy: str) -> str:
    """DDL of an empty table with the same columns and primary key as ``table``."""
    if engine_name == "postgresql":
        return f"CREATE TABLE {copy} (LIKE {table} INCLUDING ALL)"
    sql = connection.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).scalar()
    if not sql:
        raise RuntimeError(f"table {table} not found in sqlite_master")
    head, rest = sql.split("(", 1)
    if table not in head:
        raise RuntimeError(f"unexpected DDL for {table}: {sql}")
    return f"CREATE TABLE {copy} (" + rest


# ---- floors --------------------------------------------------------------------------------
def floor_insert_select(engine: sa.Engine, engine_name: str, table: str,
                        insert_sql: str) -> tuple[int, float]:
    """Time INSERT ... SELECT from the stage into an empty copy of ``table``.

    Timed like EntityResult.seconds: from the start of the transaction to the end of the
    statement, commit excluded.
    """
    copy = f"floor_{table}"
    with engine.begin() as connection:
        connection.exec_driver_sql(f"DROP TABLE IF EXISTS {copy}")
        connection.exec_driver_sql(copy_table_ddl(connection, engine_name, table, copy))
    with engine.begin() as connection:
        started = time.perf_counter()
        count = connection.exec_driver_sql(insert_sql.format(table=copy)).rowcount
        seconds = time.perf_counter() - started
    with engine.begin() as connection:
        connection.exec_driver_sql(f"DROP TABLE {copy}")
    return count, seconds


def floor_stage(engine: sa.Engine, engine_name: str, csv_path: Path) -> tuple[int, float]:
    """Time the plainest load of the CSV into a table with the source's 5 typed columns.

    PostgreSQL: COPY ... FROM STDIN (FORMAT csv, HEADER) of the file.
    SQLite: csv.reader + one executemany INSERT, in one transaction.
    Both include reading the file and the commit (as stage_seconds does).
    """
    table = "floor_stage"
    with engine.begin() as connection:
        connection.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
        connection.exec_driver_sql(f"CREATE TABLE {table} ({FLOOR_COLUMNS_DDL})")
    raw = engine.raw_connection()
    try:
        dbapi = raw.driver_connection
        cursor = dbapi.cursor()
        if engine_name == "postgresql":
            started = time.perf_counter()
            with csv_path.open(encoding="utf-8") as handle:
                cursor.copy_expert(f"COPY {table} FROM STDIN WITH (FORMAT csv, HEADER)", handle)
            count = cursor.rowcount
            dbapi.commit()
            seconds = time.perf_counter() - started
        else:
            started = time.perf_counter()
            with csv_path.open(newline="", encoding="utf-8") as handle:
                reader = csv.reader(handle)
                next(reader)
                cursor.executemany(f"INSERT INTO {table} VALUES (?, ?, ?, ?, ?)", reader)
            count = cursor.rowcount
            dbapi.commit()
            seconds = time.perf_counter() - started
        cursor.close()
    finally:
        raw.close()
    with engine.begin() as connection:
        connection.exec_driver_sql(f"DROP TABLE {table}")
    return count, seconds


# ---- one engine ----------------------------------------------------------------------------
@dataclass
class Row:
    step: str
    rows: int
    seconds: float
    floor_rows: int | None = None
    floor_seconds: float | None = None
    floor_is: str = ""
    failed: bool = False

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else float("nan")

    @property
    def floor_rate(self) -> float | None:
        if self.floor_rows is None or not self.floor_seconds:
            return None
        return self.floor_rows / self.floor_seconds

    @property
    def ratio(self) -> float | None:
        if not self.floor_seconds:
            return None
        return self.seconds / self.floor_seconds


class Timeline:
    """Progress callback plus engine events: wall time of each entity load (audit row and
    commit included) and the time of every SQL statement, grouped by step."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.marks: list[tuple[str, float]] = []
        self.pending: list[tuple[float, int, str]] = []
        self.statements: dict[str, list[tuple[float, int, str]]] = {}
        self.errors: list[tuple[float, str, str]] = []
        self._started: list[float] = []

    def __call__(self, event: str, **kwargs: object) -> None:
        if event in ("staged", "entity"):
            name = kwargs["result"].entity if event == "entity" else "stage"  # type: ignore
            self.marks.append((name, time.perf_counter()))
            self.statements[name] = self.pending
            self.pending = []

    def _before(self, *_args: object) -> None:
        self._started.append(time.perf_counter())

    def _after(self, _conn, cursor, statement, _params, _context, _many) -> None:
        seconds = time.perf_counter() - self._started.pop()
        self.pending.append((seconds, getattr(cursor, "rowcount", -1), statement))

    def _error(self, context: sa.engine.ExceptionContext) -> None:
        if self._started and context.statement:
            seconds = time.perf_counter() - self._started.pop()
            reason = str(context.original_exception).strip().splitlines()[0]
            self.errors.append((seconds, context.statement, reason))

    def __enter__(self) -> Timeline:
        sa.event.listen(self.engine, "before_cursor_execute", self._before)
        sa.event.listen(self.engine, "after_cursor_execute", self._after)
        sa.event.listen(self.engine, "handle_error", self._error)
        return self

    def __exit__(self, *_exc: object) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._before)
        sa.event.remove(self.engine, "after_cursor_execute", self._after)
        sa.event.remove(self.engine, "handle_error", self._error)

    def entity_wall(self) -> dict[str, float]:
        return {name: at - self.marks[i - 1][1]
                for i, (name, at) in enumerate(self.marks) if i > 0}

    def slowest(self, step: str, limit: int = 3) -> list[tuple[float, int, str]]:
        return sorted(self.statements.get(step, []), reverse=True)[:limit]


def run_load(session: api.Session, csv_path: Path):
    with Timeline(session.engine) as timeline:
        started = time.perf_counter()
        result = session.loader.load(SOURCE, open_input(str(csv_path)), progress=timeline)
        total = time.perf_counter() - started
    return result, total, timeline


def statement_label(sql: str) -> str:
    """The first words of a statement, enough to find it in the rendered SQL."""
    text = " ".join(sql.split())
    match = re.match(r"(CREATE TEMPORARY TABLE \w+|INSERT INTO \w+|DELETE FROM \w+|"
                     r"DROP TABLE( IF EXISTS)? \w+|LOCK TABLE [\w, ]+?IN|SELECT|UPDATE \w+)",
                     text)
    return match.group(0) if match else text[:60]


def count(engine: sa.Engine, table: str) -> int:
    with engine.connect() as connection:
        return connection.exec_driver_sql(f"SELECT COUNT(*) FROM {table}").scalar()


def bench_engine(engine_name: str, csv_path: Path, rows: int, workdir: Path,
                 timeout: float) -> None:
    root = workdir / engine_name
    root.mkdir()
    project = api.init_project(root / "project")
    target = make_target(engine_name, root, timeout)
    warnings: list[str] = []
    session = None
    try:
        api.migrate_upgrade(project, url=target.url)
        session = api.open_session(project, url=target.url)
        engine = session.engine

        # 1st run, then the floors right after it, on the same database and stage
        first, first_total, first_tl = run_load(session, csv_path)
        by_entity = {e.entity: e for e in first.entities}
        for e in first.entities:
            if e.status != "ok":
                warnings.append(f"1st run: {e.kind} {e.entity} failed after {e.seconds:.2f}s: "
                                f"{e.message}")
        if first.rows_read != rows or first.rows_staged != rows or first.rows_quarantined:
            warnings.append(f"1st run: read {first.rows_read}, staged {first.rows_staged}, "
                            f"quarantined {first.rows_quarantined} (expected {rows} staged)")
        hub_n, hub_s = floor_insert_select(engine, engine_name, HUB_TABLE, HUB_FLOOR_SQL)
        sat_n, sat_s = floor_insert_select(engine, engine_name, SAT_TABLE, SAT_FLOOR_SQL)
        stage_n, stage_s = floor_stage(engine, engine_name, csv_path)
        for what, n in (("hub floor", hub_n), ("satellite floor", sat_n),
                        ("stage floor", stage_n)):
            if n != rows:
                warnings.append(f"{what} wrote {n} rows, expected {rows}")
        counts_after_first = {t: count(engine, t) for t in (HUB_TABLE, SAT_TABLE)}
        for table, n in counts_after_first.items():
            if n != rows:
                warnings.append(f"after the 1st run {table} holds {n} rows, expected {rows}")

        # 2nd run of the same batch: must insert nothing
        second, second_total, second_tl = run_load(session, csv_path)
        for e in second.entities:
            if e.status != "ok":
                warnings.append(f"2nd run: {e.kind} {e.entity} failed after {e.seconds:.2f}s: "
                                f"{e.message}")
            elif e.rows_inserted:
                warnings.append(f"2nd run: {e.kind} {e.entity} inserted {e.rows_inserted} rows "
                                "(must insert nothing)")
        for table, n in counts_after_first.items():
            now = count(engine, table)
            if now != n:
                warnings.append(f"2nd run changed {table} from {n} to {now} rows")
        second_by = {e.entity: e for e in second.entities}

        hub, sat = by_entity[HUB], by_entity[SAT]
        table = [
            Row("stage (read, parse, hash)", first.rows_staged, first.stage_seconds,
                stage_n, stage_s,
                "COPY csv" if engine_name == "postgresql" else "csv + executemany"),
            Row(f"hub {HUB}", hub.rows_inserted, hub.seconds, hub_n, hub_s,
                "INSERT..SELECT stage", hub.status != "ok"),
            Row(f"satellite {SAT}", sat.rows_inserted, sat.seconds, sat_n, sat_s,
                "INSERT..SELECT stage", sat.status != "ok"),
            Row("load total, 1st run", first.rows_read, first_total, rows,
                stage_s + hub_s + sat_s, "sum of floors", not first.ok),
            Row("2nd run: stage", second.rows_staged, second.stage_seconds,
                first.rows_staged, first.stage_seconds, "1st run"),
            Row(f"2nd run: hub {HUB}", second_by[HUB].rows_staged, second_by[HUB].seconds,
                hub.rows_staged, hub.seconds, "1st run", second_by[HUB].status != "ok"),
            Row(f"2nd run: satellite {SAT}", second_by[SAT].rows_staged, second_by[SAT].seconds,
                sat.rows_staged, sat.seconds, "1st run", second_by[SAT].status != "ok"),
            Row("2nd run: load total", second.rows_read, second_total, first.rows_read,
                first_total, "1st run", not second.ok),
        ]
        print_table(engine_name, table)
        print(f"  inserted, 1st run: hub {hub.rows_inserted:,}, satellite "
              f"{sat.rows_inserted:,}; 2nd run: hub {second_by[HUB].rows_inserted:,}, "
              f"satellite {second_by[SAT].rows_inserted:,}")
        for label, timeline in (("1st run", first_tl), ("2nd run", second_tl)):
            print(f"  {label}, entity wall time incl. audit row + commit: "
                  + ", ".join(f"{k} {v:.2f}s" for k, v in timeline.entity_wall().items()))
        for label, timeline in (("1st run", first_tl), ("2nd run", second_tl)):
            for step in ("stage", HUB, SAT):
                print(f"  {label}, slowest statements of {step}: " + "; ".join(
                    f"{statement_label(sql)} {sec:.2f}s ({rc:,} rows)"
                    for sec, rc, sql in timeline.slowest(step)
                ))
        for warning in warnings:
            print(f"  WARN {warning}")
        shown: set[str] = set()
        for label, timeline in (("1st run", first_tl), ("2nd run", second_tl)):
            for seconds, sql, reason in timeline.errors:
                if sql in shown:
                    print(f"  WARN {label}: {statement_label(sql)} failed after {seconds:.2f}s "
                          f"({reason}); the same statement as above")
                    continue
                shown.add(sql)
                print(f"  WARN {label}: this statement failed after {seconds:.2f}s ({reason}):")
                for line in sql.strip().splitlines():
                    print(f"      {line}")
        print()
    finally:
        if session is not None:
            session.close()
        target.cleanup()


def fmt_rate(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def print_table(engine_name: str, rows: list[Row]) -> None:
    header = ["step", "rows", "seconds", "rows/s", "floor rows/s", "ratio", "floor is"]
    body = [
        [r.step, "FAILED" if r.failed else f"{r.rows:,}", f"{r.seconds:.2f}",
         "-" if r.failed else fmt_rate(r.rate), fmt_rate(r.floor_rate),
         "-" if r.ratio is None else f"{'>' if r.failed else ''}{r.ratio:.2f}x", r.floor_is]
        for r in rows
    ]
    widths = [max(len(line[i]) for line in [header] + body) for i in range(len(header))]
    align = ["<", ">", ">", ">", ">", ">", "<"]

    def line(cells: list[str]) -> str:
        cells_ = zip(cells, align, widths, strict=True)
        return "  ".join(f"{c:{a}{w}}" for c, a, w in cells_).rstrip()

    print(f"== {engine_name} ==")
    print(line(header))
    print(line(["-" * w for w in widths]))
    for cells in body:
        print(line(cells))


# ---- main ----------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="rows in the batch")
    parser.add_argument("--engines", default="sqlite,postgresql",
                        help="comma-separated: sqlite, postgresql")
    parser.add_argument("--seed", type=int, default=20260101, help="seed of the generated batch")
    parser.add_argument("--workdir", default=None,
                        help="parent folder of the temporary folder (default: system temp)")
    parser.add_argument("--statement-timeout", type=float, default=600, metavar="SECONDS",
                        help="PostgreSQL statement_timeout of the benchmark database, so a "
                             "runaway statement fails its step (0: none; default 600)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the temporary folder (CSV, SQLite file, projects)")
    args = parser.parse_args(argv)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if args.rows < 1:
        parser.error("--rows must be at least 1")

    print_machine(engines, args.rows, args.seed)
    workdir = Path(tempfile.mkdtemp(prefix="dvbench_", dir=args.workdir))
    try:
        csv_path = workdir / f"{SOURCE}.csv"
        started = time.perf_counter()
        generate_csv(csv_path, args.rows, args.seed)
        seconds = time.perf_counter() - started
        size = csv_path.stat().st_size / 1024 / 1024
        print(f"generated {csv_path.name}: {args.rows:,} rows, {size:.1f} MiB "
              f"in {seconds:.2f}s (not counted)")
        print()
        for engine_name in engines:
            bench_engine(engine_name, csv_path, args.rows, workdir, args.statement_timeout)
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
