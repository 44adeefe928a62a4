"""Load benchmark: the initial load, a 1% delta, a re-run and a late batch of the example
source ``shop_orders``, each against a floor measured in the same run on the same database.

Run from the repository root:

    python bench/load_bench.py --rows 1000000 --engines postgresql,sqlite,duckdb,spark

For each engine it writes the example project into a temporary folder, opens a fresh database
(a SQLite or DuckDB file, a new PostgreSQL database that is dropped at the end, or a schema of
a local Spark session) and loads, each in a process of its own whose peak memory (RSS) is
measured (Spark: in the benchmark's process, whose local session holds the catalog):

1. the initial batch: N orders (``bench/generate.py``), feeding hubs ``order`` and
   ``customer``, link ``order_customer`` and satellite ``order_status``; right after it, the
   floors: the engine's bulk load of the same file (PostgreSQL's and DuckDB's ``COPY``,
   Spark's CSV reader; SQLite: ``csv`` + ``executemany``), and
   per entity a plain ``INSERT ... SELECT`` of the same staged rows into an empty table with
   the entity's columns and indexes, with no change detection;
2. a 1% delta in applied-time order: 20% new orders, 30% orders observed again unchanged,
   50% changed;
3. the same delta again, which must insert nothing;
4. a late 1% batch: 50% rows that fall in the middle of the orders' histories, 30%
   corrections of an applied time already loaded, 20% unchanged orders.

This is not a test: it prints figures (and WARN lines when a load does not do what it must).
See bench/README.md.
"""

from __future__ import annotations

import argparse
import collections
import csv
import json
import os
import platform
import re
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import generate
import sqlalchemy as sa

from datavault import api, schema
from datavault.kinds import main_table
from datavault.kinds.effectivity_satellite import payload_columns
from datavault.load import open_input

SOURCE = "shop_orders"
PG_ADMIN_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
SQL_TYPES = {"text": "text", "decimal": "numeric", "timestamp": "timestamp", "date": "date",
             "integer": "bigint", "float": "double precision", "boolean": "boolean",
             "uuid": "uuid"}
#: Spark's types for the floor's table of the source's columns
SPARK_TYPES = {"text": "STRING", "decimal": "DECIMAL(38,10)", "timestamp": "TIMESTAMP_NTZ",
               "date": "DATE", "integer": "BIGINT", "float": "DOUBLE", "boolean": "BOOLEAN",
               "uuid": "STRING"}


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


def print_machine(engines: list[str], rows: int, seed: int | None, title: str = "load",
                  batch: str = "") -> None:
    print(f"datavault {title} benchmark")
    print(f"  cpu:        {cpu_model()}")
    print(f"  cores:      {os.cpu_count()}")
    print(f"  ram:        {ram_gib()}")
    print(f"  os:         {platform.platform()}")
    print(f"  python:     {platform.python_version()}  sqlalchemy {sa.__version__}")
    print(f"  sqlite:     {sqlite3.sqlite_version}")
    if "duckdb" in engines:
        import duckdb

        print(f"  duckdb:     {duckdb.__version__}")
    if "postgresql" in engines:
        print(f"  postgresql: {postgres_info()}")
    if "spark" in engines:
        import pyspark

        master = os.environ.get("DATAVAULT_SPARK_MASTER", "local[2]")
        submit = os.environ.get("PYSPARK_SUBMIT_ARGS", "")
        print(f"  spark:      {pyspark.__version__}, a local session ({master}"
              f"{', ' + submit if submit else ''}) in the benchmark's process")
    seeded = "" if seed is None else f" (seed {seed})"
    print(f"  batch:      {batch or f'{rows:,} rows of source {SOURCE}'}{seeded}")
    print()


# ---- the project ---------------------------------------------------------------------------
def example_project(target: Path) -> Path:
    """The example project (``datavault init``) without its sources' checks at entry: the
    benchmarks measure loads as they were before checks existed (``checks_bench.py`` measures
    what checks add)."""
    project = api.init_project(target)
    for path in (project / "models" / "sources").glob("*.yml"):
        text = path.read_text(encoding="utf-8")
        path.write_text(text.split("\nchecks:")[0].rstrip("\n") + "\n", encoding="utf-8")
    return project


# ---- databases -----------------------------------------------------------------------------
@dataclass
class Target:
    engine_name: str
    url: str
    cleanup: Callable[[], None]


def make_target(engine_name: str, workdir: Path, timeout: float) -> Target:
    if engine_name in ("sqlite", "duckdb"):
        path = workdir / f"vault-{secrets.token_hex(4)}.{engine_name}"
        return Target(engine_name, f"{engine_name}:///{path}", lambda: None)
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
    if engine_name == "spark":  # one warehouse folder per process: its local session's
        name = f"dvbench_{secrets.token_hex(4)}"
        return Target("spark", f"spark:///{workdir / 'spark-warehouse'}?schema={name}",
                      lambda: None)  # the folder goes with the benchmark's temporary one
    raise SystemExit(f"unknown engine {engine_name!r}; use sqlite, postgresql, duckdb, spark")


def copy_table_ddl(connection: sa.Connection, engine_name: str, table: str, copy: str) -> str:
    """DDL of an empty table with the same columns and primary key as ``table``."""
    if engine_name == "postgresql":
        return f"CREATE TABLE {copy} (LIKE {table} INCLUDING ALL)"
    if engine_name == "spark":  # Parquet: no keys, no indexes, as the vault's own tables
        return f"CREATE TABLE {copy} LIKE {table} USING parquet"
    if engine_name == "duckdb":
        sql = connection.exec_driver_sql(
            "SELECT sql FROM duckdb_tables() WHERE table_name = ?", (table,)).scalar()
        head, rest = sql.split("(", 1)
        return f"CREATE TABLE {copy} (" + rest.rstrip().rstrip(";")
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
    """Time INSERT ... SELECT into an empty copy of ``table`` (same columns and indexes).

    Timed like EntityResult.seconds: from the start of the transaction to the end of the
    statement, commit excluded.
    """
    copy = f"floor_{table}"
    with engine.begin() as connection:
        connection.exec_driver_sql(f"DROP TABLE IF EXISTS {copy}")
        connection.exec_driver_sql(copy_table_ddl(connection, engine_name, table, copy))
        indexes = {  # the indexes beyond the primary key
            "sqlite": "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
                      "AND sql IS NOT NULL",
            "duckdb": "SELECT sql FROM duckdb_indexes() WHERE table_name = ?"}
        if engine_name in indexes:
            for (sql,) in connection.exec_driver_sql(indexes[engine_name], (table,)).fetchall():
                connection.exec_driver_sql(
                    re.sub(r"INDEX (\w+) ON \w+", rf"INDEX floor_\1 ON {copy}", sql))
    with engine.begin() as connection:
        started = time.perf_counter()
        inserted = connection.exec_driver_sql(insert_sql.format(table=copy)).rowcount
        seconds = time.perf_counter() - started
    with engine.begin() as connection:
        if inserted < 0:  # the engine does not count a statement's rows (Spark)
            inserted = connection.exec_driver_sql(f"SELECT COUNT(*) FROM {copy}").scalar()
        connection.exec_driver_sql(f"DROP TABLE {copy}")
    return inserted, seconds


def entity_floor_sql(model, engine: sa.Engine, entity: str, source_name: str = SOURCE) -> str:
    """INSERT ... SELECT of the staged rows into ``{table}`` with the entity's columns: one
    row per key (a GROUP BY only where the batch repeats a key), no change detection."""
    source = model.sources[source_name]
    stage = model.stage_table(source_name)
    rs = "'" + source.record_source + "'"
    kind = model.entity_kind(entity)
    if kind == "hub":
        hub = model.hubs[entity]
        feed = hub.feed(source_name)
        key = schema.stage_hub_key(entity)
        pairs = [(schema.hub_key_column(entity), key)]
        pairs += [(part.name, column) for part, column in zip(hub.key, feed.columns)]
    elif kind == "link":
        link = model.links[entity]
        key = schema.stage_link_key(entity)
        pairs = [(schema.link_key_column(entity), key)]
        pairs += [(schema.role_key_column(r.role), schema.stage_role_key(entity, r.role))
                  for r in link.roles]
    elif kind == "effectivity_satellite":  # the driving key, its relationship as payload
        eff = model.entities[entity]
        key = f"{eff.stage_key}, dv_applied_at"
        pairs = [(eff.key_column, eff.stage_key), ("applied_ts", "dv_applied_at"),
                 ("hash_diff", schema.stage_link_key(eff.link))]
        pairs += payload_columns(eff)
    else:
        sat = model.satellites[entity]
        parent_key = sat.stage_key
        key = f"{parent_key}, dv_applied_at"
        pairs = [(schema.sat_key_column(sat), parent_key),
                 ("applied_ts", "dv_applied_at"),
                 ("hash_diff", schema.stage_hash_diff(entity))]
        pairs += [(c.name, c.source_column) for c in sat.payload]
    pairs += [("load_ts", "dv_loaded_at"), ("record_source", rs), ("batch_id", "dv_batch_id")]
    with engine.connect() as connection:
        rows, keys = connection.exec_driver_sql(
            f"SELECT COUNT(*), COUNT(*) - (SELECT COUNT(*) FROM (SELECT 1 FROM {stage} "
            f"GROUP BY {key}) k) FROM {stage}").one()
    target = ", ".join(t for t, _ in pairs)
    key_columns = [k.strip() for k in key.split(",")]
    if keys:  # repeated keys: one row each
        chosen = ", ".join(s if s in key_columns else f"MIN({s})" for _, s in pairs)
        return f"INSERT INTO {{table}} ({target}) SELECT {chosen} FROM {stage} GROUP BY {key}"
    return f"INSERT INTO {{table}} ({target}) SELECT {', '.join(s for _, s in pairs)} FROM {stage}"


@contextmanager
def staged_again(session, source: str, path: Path) -> Iterator[None]:
    """The file staged once more as a batch of its own (a load removes its staged rows), for
    the entity floors to read; removed from the ledger's unfinished batches afterwards."""
    batch = session.loader.stage(source, open_input(str(path)))
    try:
        yield
    finally:
        stage = session.loader.metadata.tables[session.project.model.stage_table(source)]
        with session.engine.begin() as connection:  # a construct: Spark rewrites the table
            connection.execute(stage.delete().where(stage.c.dv_batch_id == batch.batch_id))
        session.loader.ledger.update(batch.batch_id, status="failed",
                                     message="staged for the benchmark's floors only")


def floor_stage(engine: sa.Engine, engine_name: str, csv_path: Path,
                columns: list[tuple[str, str]]) -> tuple[int, float]:
    """Time the plainest load of the CSV into a table with the source's typed columns.

    PostgreSQL: COPY ... FROM STDIN (FORMAT csv, HEADER) of the file.
    DuckDB: COPY ... FROM the file (its own CSV reader, on every core).
    Spark: its CSV reader (a temporary view over the file, of the typed columns), into a
    Parquet table by one INSERT ... SELECT.
    SQLite: csv.reader + one executemany INSERT, in one transaction.
    Each includes reading the file and the commit (as the stage figure does).
    """
    table = "floor_stage"
    types = SPARK_TYPES if engine_name == "spark" else SQL_TYPES
    ddl = ", ".join(f"{name} {types[type_name]}" for name, type_name in columns)
    with engine.begin() as connection:
        connection.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
        connection.exec_driver_sql(f"CREATE TABLE {table} ({ddl})"
                                   + (" USING parquet" if engine_name == "spark" else ""))
    if engine_name == "spark":
        with engine.connect() as connection:  # the view is its connection's (session's)
            started = time.perf_counter()
            connection.exec_driver_sql(
                f"CREATE OR REPLACE TEMPORARY VIEW floor_csv ({ddl}) USING csv OPTIONS "
                f"(path '{csv_path}', header 'true')")
            connection.exec_driver_sql(f"INSERT INTO {table} SELECT * FROM floor_csv")
            seconds = time.perf_counter() - started
            count = connection.exec_driver_sql(f"SELECT COUNT(*) FROM {table}").scalar()
            connection.exec_driver_sql(f"DROP TABLE {table}")
        return count, seconds
    raw = engine.raw_connection()
    try:
        dbapi = raw.driver_connection
        cursor = dbapi.cursor()
        started = time.perf_counter()
        if engine_name == "postgresql":
            with csv_path.open(encoding="utf-8") as handle:
                cursor.copy_expert(f"COPY {table} FROM STDIN WITH (FORMAT csv, HEADER)", handle)
            copied = cursor.rowcount
        elif engine_name == "duckdb":
            cursor.execute("BEGIN")
            cursor.execute(f"COPY {table} FROM '{csv_path}' (HEADER)")
            copied = cursor.fetchone()[0]
        else:
            with csv_path.open(newline="", encoding="utf-8") as handle:
                reader = csv.reader(handle)
                next(reader)
                marks = ", ".join("?" * len(columns))
                cursor.executemany(f"INSERT INTO {table} VALUES ({marks})", reader)
            copied = cursor.rowcount
        count = copied
        dbapi.commit()
        seconds = time.perf_counter() - started
        cursor.close()
    finally:
        raw.close()
    with engine.begin() as connection:
        connection.exec_driver_sql(f"DROP TABLE {table}")
    return count, seconds


# ---- a load in a process of its own --------------------------------------------------------
def child(project: str, url: str, csv_path: str, one_at_a_time: str) -> None:
    """Load one batch and print what it did as JSON (run by ``run_load`` in a new process)."""
    print(json.dumps(load_batch(project, url, csv_path, one_at_a_time == "1")))


def load_batch(project: str, url: str, csv_path: str, one_at_a_time: bool) -> dict:
    """Load one batch; what it did, with the three slowest statements of each step."""
    session = api.open_session(project, url=url)
    if one_at_a_time:  # each entity load timed alone, as its floor is
        session.dialect.concurrent_loads = 1
    statements: dict[str, list[tuple[float, int, str]]] = {}
    # per thread: the loader runs a batch's entity loads at once where the engine can, each
    # on a thread of its own; an entity load's last statement is its audit row
    pending: dict[int, list[tuple[float, int, str]]] = collections.defaultdict(list)
    clock = threading.local()

    def before(*_args: object) -> None:
        clock.started = time.perf_counter()

    def after(_conn, cursor, statement, _parameters, context, *_args: object) -> None:
        mine = pending[threading.get_ident()]
        mine.append((time.perf_counter() - clock.started, getattr(cursor, "rowcount", -1),
                     " ".join(statement.split())[:70]))
        if statement.startswith("INSERT INTO dv_load_audit"):
            entity = context.compiled_parameters[0]["entity"]
            statements[entity] = sorted(mine, reverse=True)[:3]
            mine.clear()

    def progress(event: str, **kwargs: object) -> None:
        if event == "staged":
            mine = pending[threading.get_ident()]
            statements["stage"] = sorted(mine, reverse=True)[:3]
            mine.clear()

    sa.event.listen(session.engine, "before_cursor_execute", before)
    sa.event.listen(session.engine, "after_cursor_execute", after)
    started = time.perf_counter()
    # force: the "same delta again" scenario loads a file identical to one loaded before
    result = session.loader.load(SOURCE, open_input(csv_path), progress=progress, force=True)
    total = time.perf_counter() - started
    session.close()
    return {
        "total": total, "rows_read": result.rows_read, "rows_staged": result.rows_staged,
        "rows_quarantined": result.rows_quarantined, "stage_seconds": result.stage_seconds,
        "read_by": result.read_by, "batch_id": result.batch_id,
        "entities": [dict(e.__dict__) for e in result.entities], "statements": statements,
    }


@dataclass
class Loaded:
    """One batch loaded: what ``load_batch`` told, and the peak RSS of its process (None
    where it ran in the benchmark's own)."""

    data: dict
    rss_mib: float | None

    def entity(self, name: str) -> dict:
        return next(e for e in self.data["entities"] if e["entity"] == name)

    @property
    def inserted(self) -> int:
        return sum(e["rows_inserted"] for e in self.data["entities"])


def run_load(project: Path, url: str, csv_path: Path, one_at_a_time: bool = False,
             in_process: bool = False) -> Loaded:
    """Load a batch in a process of its own, or in this one where ``in_process`` (its entity
    loads as many at once as the engine runs, unless ``one_at_a_time``)."""
    if in_process:
        return Loaded(load_batch(str(project), url, str(csv_path), one_at_a_time), None)
    process = subprocess.Popen(
        [sys.executable, __file__, "--child", str(project), url, str(csv_path),
         "1" if one_at_a_time else "0"],
        stdout=subprocess.PIPE, text=True,
    )
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)  # the child's own peak RSS (KiB on Linux)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SystemExit(f"the load of {csv_path.name} failed (exit {process.returncode})")
    return Loaded(json.loads(output.strip().splitlines()[-1]), usage.ru_maxrss / 1024)


def history_storage(engine: sa.Engine, engine_name: str, table: str) -> int | None:
    """Bytes of a table with its indexes (None where the engine does not tell)."""
    with engine.connect() as connection:
        if engine_name == "postgresql":
            return connection.exec_driver_sql(
                f"SELECT pg_total_relation_size('{table}')").scalar()
        if engine_name == "duckdb":
            return None
        if engine_name == "spark":  # the table's files
            location = next(row[1] for row in connection.exec_driver_sql(
                f"DESCRIBE TABLE EXTENDED {table}") if row[0] == "Location")
            folder = Path(location.removeprefix("file:"))
            return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()
                       and not f.name.startswith((".", "_")))
        try:
            return connection.exec_driver_sql(
                "SELECT SUM(pgsize) FROM dbstat WHERE name = ? OR name IN "
                "(SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?)",
                (table, table)).scalar()
        except sa.exc.OperationalError:  # SQLite built without the dbstat table
            return None


def count(engine: sa.Engine, table: str) -> int:
    with engine.connect() as connection:
        return connection.exec_driver_sql(f"SELECT COUNT(*) FROM {table}").scalar()


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


def bench_engine(engine_name: str, files: dict[str, Path], workdir: Path,
                 timeout: float) -> None:
    root = workdir / engine_name
    root.mkdir()
    project = example_project(root / "project")
    target = make_target(engine_name, root, timeout)
    warnings: list[str] = []
    session = None
    try:
        api.migrate_upgrade(project, url=target.url)
        session = api.open_session(project, url=target.url)
        model = session.project.model
        engine = session.engine
        entities = model.entities_of(SOURCE)
        satellite = next(e for e in entities if model.entity_kind(e) == "satellite")

        # a local Spark session's catalog is one process's, and this one holds it
        here = engine_name == "spark"
        initial = run_load(project, target.url, files["initial"], one_at_a_time=True,
                           in_process=here)
        keys = initial.data["rows_read"]
        for e in initial.data["entities"]:
            if e["status"] != "ok":
                warnings.append(f"initial load: {e['kind']} {e['entity']} failed: {e['message']}")
            elif model.entity_kind(e["entity"]) != "hub" and e["rows_inserted"] != keys:
                warnings.append(f"initial load: {e['entity']} inserted {e['rows_inserted']:,} "
                                f"rows, expected {keys:,}")
        with staged_again(session, SOURCE, files["initial"]):
            floors = {name: floor_insert_select(engine, engine_name, main_table(model, name),
                                                entity_floor_sql(model, engine, name))
                      for name in entities}
        columns = [(c.name, c.type) for c in model.sources[SOURCE].columns]
        stage_n, stage_s = floor_stage(engine, engine_name, files["initial"], columns)

        at_once = None
        if session.dialect.concurrent_loads > 1:  # the same load as a user runs it
            other = make_target(engine_name, root, timeout)
            try:
                api.migrate_upgrade(project, url=other.url)
                at_once = run_load(project, other.url, files["initial"])
            finally:
                other.cleanup()
        delta = run_load(project, target.url, files["delta"], in_process=here)
        again = run_load(project, target.url, files["delta"], in_process=here)
        late = run_load(project, target.url, files["late"], in_process=here)
        for label, loaded in (("1% delta", delta), ("the delta again", again),
                              ("late batch", late)):
            for e in loaded.data["entities"]:
                if e["status"] != "ok":
                    warnings.append(f"{label}: {e['entity']} failed: {e['message']}")
        if again.inserted:
            warnings.append(f"the delta loaded again inserted {again.inserted:,} rows "
                            "(must insert nothing)")

        first = initial.data
        table = [Row("stage (COPY or parse, type, hash)", first["rows_staged"],
                     first["stage_seconds"], stage_n, stage_s,
                     {"postgresql": "COPY csv", "duckdb": "COPY from file",
                      "spark": "CSV reader to Parquet"}.get(
                         engine_name, "csv + executemany"))]
        for name in entities:
            e = initial.entity(name)
            n, seconds = floors[name]
            table.append(Row(f"{e['kind']} {name}", e["rows_inserted"], e["seconds"], n,
                             seconds, "INSERT..SELECT stage", e["status"] != "ok"))
        table.append(Row("initial load, whole, one at a time", keys, first["total"], keys,
                         stage_s + sum(s for _, s in floors.values()), "sum of floors"))
        if at_once is not None:
            table.append(Row(f"... {session.dialect.concurrent_loads} entity loads at once", keys,
                             at_once.data["total"], keys,
                             stage_s + sum(s for _, s in floors.values()), "sum of floors"))
        table.append(Row("1% delta, in order", delta.data["rows_read"], delta.data["total"],
                         keys, first["total"], "initial load; target 0.05x"))
        table.append(Row("the same delta again", again.data["rows_read"], again.data["total"],
                         keys, first["total"], "initial load; target 0.10x"))
        table.append(Row("1% late batch", late.data["rows_read"], late.data["total"],
                         delta.data["rows_read"], delta.data["total"],
                         "1% delta in order; target 2x"))
        print_table(engine_name, table)

        if here:
            print(f"  read by: {first['read_by']}; the loads ran in the benchmark's process "
                  "(no RSS of their own; Spark's engine is a JVM beside it)")
        else:
            print(f"  read by: {first['read_by']}; peak RSS of the loader process: initial "
                  f"{initial.rss_mib:.0f} MiB, delta {delta.rss_mib:.0f} MiB, late "
                  f"{late.rss_mib:.0f} MiB (target < 200 MiB)")
        observations = sum(loaded.entity(satellite)["rows_staged"]
                           for loaded in (initial, delta, again, late))
        sat_table = model.sat_table(satellite)
        log_table = model.sat_log_table(satellite)
        log_bytes = history_storage(engine, engine_name, log_table)
        sat_bytes = history_storage(engine, engine_name, sat_table)
        log_rows, sat_rows = count(engine, log_table), count(engine, sat_table)
        if log_bytes is None or sat_bytes is None:
            print(f"  history rule: {log_rows:,} log rows for {observations:,} observations "
                  "(the engine does not tell the tables' sizes)")
        else:
            print(f"  history rule, beyond the satellite rows: {log_table} holds {log_rows:,} "
                  f"rows, {log_bytes / 2**20:.1f} MiB with its index: "
                  f"{log_bytes / observations:.1f} bytes per observation ({observations:,} "
                  f"observations); the satellite itself: {sat_rows:,} rows, "
                  f"{sat_bytes / 2**20:.1f} MiB ({sat_bytes / max(sat_rows, 1):.0f} bytes per "
                  "row)")
        for label, loaded in (("delta", delta), ("again", again), ("late", late)):
            print(f"  {label}: stage {loaded.data['stage_seconds']:.2f}s, " + ", ".join(
                f"{e['entity']} {e['seconds']:.2f}s ({e['rows_inserted']:,} inserted)"
                for e in loaded.data["entities"]))
        for label, loaded in (("initial", initial), ("late", late)):
            for step, slowest in loaded.data["statements"].items():
                print(f"  {label}, slowest statements of {step}: " + "; ".join(
                    f"{sql[:40]} {seconds:.2f}s ({rowcount:,} rows)"
                    for seconds, rowcount, sql in slowest))
        for warning in warnings:
            print(f"  WARN {warning}")
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
    if argv is None and len(sys.argv) == 6 and sys.argv[1] == "--child":
        child(*sys.argv[2:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000,
                        help="rows (orders) of the initial batch; later batches are 1%%")
    parser.add_argument("--engines", default="sqlite,postgresql",
                        help="comma-separated: sqlite, postgresql, duckdb, spark")
    parser.add_argument("--workdir", default=None,
                        help="parent folder of the temporary folder (default: system temp)")
    parser.add_argument("--statement-timeout", type=float, default=1800, metavar="SECONDS",
                        help="PostgreSQL statement_timeout of the benchmark database, so a "
                             "runaway statement fails its step (0: none; default 1800)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the temporary folder (CSV files, SQLite file, projects)")
    args = parser.parse_args(argv)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if args.rows < 100:
        parser.error("--rows must be at least 100")

    size = max(1, args.rows // 100)
    batches = {
        "initial": generate.Batch(0, args.rows),
        "delta": generate.Batch(1, size, new=0.2, repeat=0.3),
        "late": generate.Batch(2, size, late=0.5, correction=0.3, repeat=0.2),
    }
    print_machine(engines, args.rows, None, batch=(
        f"{args.rows:,} orders of source {SOURCE}, then batches of {size:,} rows: in order "
        "(20% new orders, 30% unchanged, 50% changed), the same again, late (50% "
        "mid-history, 30% corrections, 20% unchanged)"))
    workdir = Path(tempfile.mkdtemp(prefix="dvbench_", dir=args.workdir))
    try:
        files = {}
        started = time.perf_counter()
        for name, batch in batches.items():
            files[name] = workdir / f"{name}.csv"
            generate.write(files[name], args.rows, batch)
        megabytes = files["initial"].stat().st_size / 2**20
        print(f"generated the batches in {time.perf_counter() - started:.1f}s (not counted); "
              f"the initial one is {megabytes:.0f} MiB")
        print()
        for engine_name in engines:
            bench_engine(engine_name, files, workdir, args.statement_timeout)
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
