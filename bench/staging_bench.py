"""Staging benchmark: the same rows staged from a plain CSV file, a quoted CSV file and a
Parquet file (and TPC-H's lineitem, whose text fields are quoted, when tpchgen-cli is
installed), against floors measured in the same run on the same PostgreSQL database; and the
time to skip a re-delivered file.

Run from the repository root:

    python bench/staging_bench.py --rows 1000000 --engines postgresql,sqlite

Floors (PostgreSQL): ``COPY`` of the plain file into a table of the source's typed columns;
and the same ``COPY`` followed by one ``INSERT ... SELECT`` that computes, in SQL, every hash
key and hash diff SEMANTICS.md requires of the batch (the toolkit's own hash expressions over
typed columns, with none of its checks). The target is staging within 1.5x of the second
floor for every format, a quoted file no slower than a plain one, and a re-delivered file
skipped in under a second. On SQLite staging is shown against the same rows parsed by
``csv`` and inserted with ``executemany``.

This is not a test: it prints figures. See bench/README.md.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import generate
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from load_bench import (
    SOURCE,
    Row,
    example_project,
    floor_stage,
    make_target,
    print_machine,
    print_table,
)
from tpch_bench import generate as generate_tpch

from datavault import api
from datavault.load import open_input

ROOT = Path(__file__).resolve().parent.parent


def write_formats(rows: int, out: Path) -> dict[str, Path]:
    """The initial shop_orders batch as a plain CSV file, a CSV file with every field quoted,
    and a Parquet file of typed columns."""
    plain = out / "plain.csv"
    generate.write(plain, rows, generate.Batch(0, rows))
    table = pacsv.read_csv(plain, convert_options=pacsv.ConvertOptions(column_types={
        "order_id": pa.string(), "customer_ref": pa.string(), "status": pa.string(),
        "amount": pa.string(), "ordered_at": pa.string(), "changed_at": pa.string()}))
    quoted = out / "quoted.csv"
    pacsv.write_csv(table, quoted, pacsv.WriteOptions(quoting_style="all_valid"))
    typed = pa.table({
        "order_id": table["order_id"], "customer_ref": table["customer_ref"],
        "status": table["status"],
        "amount": table["amount"].cast(pa.decimal128(14, 2)),
        "ordered_at": table["ordered_at"].cast(pa.timestamp("us")),
        "changed_at": table["changed_at"].cast(pa.timestamp("us")),
    })
    parquet = out / "orders.parquet"
    pq.write_table(typed, parquet)
    return {"plain CSV": plain, "quoted CSV": quoted, "Parquet": parquet}


def hash_floor(engine, model, dialect, source_name: str, csv_path: Path) -> tuple[int, float]:
    """COPY of the file into a typed table, then every hash of the batch computed in SQL."""
    source = model.sources[source_name]
    algorithm = model.settings.hash
    exprs = []
    for hub in model.hubs_of(source_name):
        feed = hub.feed(source_name)
        exprs.append(dialect.hash_key([(f"t.{c}", p.type) for c, p in zip(feed.columns, hub.key)],
                                      algorithm))
    for link in model.links_of(source_name):
        feed = link.feed(source_name)
        parts = [(f"t.{c}", p.type) for role, cols in zip(link.roles, feed.columns)
                 for c, p in zip(cols, model.hubs[role.hub].key)]
        exprs.append(dialect.hash_key(parts, algorithm))
    for sat in model.satellites_of(source_name):
        exprs.append(dialect.hash_diff([(c.name, f"t.{c.source_column}", c.type)
                                        for c in sat.payload], algorithm))
    columns = [(c.name, c.type) for c in source.columns]
    ddl = ", ".join(f"{n} {t}" for n, t in (
        (name, {"text": "text", "decimal": "numeric", "timestamp": "timestamp",
                "integer": "bigint", "date": "date", "boolean": "boolean", "uuid": "uuid",
                "float": "float8"}[kind]) for name, kind in columns))
    raw = engine.raw_connection()
    try:
        cursor = raw.driver_connection.cursor()
        cursor.execute("DROP TABLE IF EXISTS floor_copy; DROP TABLE IF EXISTS floor_hashed")
        cursor.execute(f"CREATE TABLE floor_copy ({ddl})")
        raw.driver_connection.commit()
        started = time.perf_counter()
        with csv_path.open(encoding="utf-8") as handle:
            cursor.copy_expert("COPY floor_copy FROM STDIN WITH (FORMAT csv, HEADER)", handle)
        count = cursor.rowcount
        cursor.execute("CREATE TABLE floor_hashed AS SELECT t.*, "
                       + ", ".join(f"{e} AS h{i}" for i, e in enumerate(exprs))
                       + " FROM floor_copy t")
        raw.driver_connection.commit()
        seconds = time.perf_counter() - started
        cursor.execute("DROP TABLE floor_copy; DROP TABLE floor_hashed")
        raw.driver_connection.commit()
    finally:
        raw.close()
    return count, seconds


def lineitem(scale: float, out: Path) -> Path | None:
    """TPC-H's lineitem as a CSV file with quoted text fields (None without tpchgen-cli)."""
    if shutil.which("tpchgen-cli", path=str(Path(sys.executable).parent)) is None and \
            shutil.which("tpchgen-cli") is None:
        print("tpchgen-cli is not installed (pip install -e '.[bench]'): no lineitem figure")
        return None
    generate_tpch(scale, out)
    found = sorted(out.rglob("lineitem*.csv"))
    return found[0] if found else None


def warm_up(engine_name: str, workdir: Path) -> None:
    """One small load first, so that no format pays the process's one-time costs (imports,
    compiled patterns, the database's caches)."""
    folder = workdir / f"warm_{engine_name}"
    folder.mkdir()
    small = folder / "small.csv"
    generate.write(small, 2000, generate.Batch(0, 2000))
    project = folder / "project"
    example_project(project)
    target = make_target(engine_name, folder, 0)
    try:
        api.migrate_upgrade(project, url=target.url)
        session = api.open_session(project, url=target.url)
        session.loader.load(SOURCE, open_input(str(small)))
        session.close()
    finally:
        target.cleanup()


def bench_engine(engine_name: str, files: dict[str, Path], workdir: Path,
                 tpch: Path | None) -> None:
    warm_up(engine_name, workdir)
    rows: list[Row] = []
    floors: dict[str, tuple[int, float]] = {}
    for label, path in files.items():
        project = workdir / f"project_{engine_name}_{label.split()[0].lower()}"
        example_project(project)
        (workdir / label.replace(" ", "_")).mkdir(exist_ok=True)
        target = make_target(engine_name, workdir / label.replace(" ", "_"), 0)
        try:
            api.migrate_upgrade(project, url=target.url)
            session = api.open_session(project, url=target.url)
            model = session.project.model
            if not floors:
                columns = [(c.name, c.type) for c in model.sources[SOURCE].columns]
                floors["copy"] = floor_stage(session.engine, engine_name, files["plain CSV"],
                                             columns)
                if engine_name == "postgresql":
                    floors["hashes"] = hash_floor(session.engine, model,
                                                  session.loader.dialect, SOURCE,
                                                  files["plain CSV"])
            result = session.loader.load(SOURCE, open_input(str(path)))
            floor = floors.get("hashes", floors["copy"])
            rows.append(Row(f"stage, {label}", result.rows_staged, result.stage_seconds,
                            floor[0], floor[1], "COPY + hashes in SQL"
                            if "hashes" in floors else "csv + executemany"))
            if label == "plain CSV":
                if "hashes" in floors:
                    rows.append(Row(f"stage, {label}", result.rows_staged,
                                    result.stage_seconds, floors["copy"][0], floors["copy"][1],
                                    "COPY csv"))
                started = time.perf_counter()
                again = session.loader.load(SOURCE, open_input(str(path)))
                seconds = time.perf_counter() - started
                assert again.skipped
                rows.append(Row("a re-delivered file, skipped", path.stat().st_size, seconds,
                                None, None, "bytes/s; target under 1 s"))
            session.close()
        finally:
            target.cleanup()
    if tpch is not None:
        rows += tpch_rows(engine_name, tpch, workdir)
    print_table(engine_name, rows)


def tpch_rows(engine_name: str, path: Path, workdir: Path) -> list[Row]:
    """lineitem staged from its quoted CSV file, against COPY and COPY + hashes."""
    project = workdir / f"tpch_{engine_name}"
    shutil.copytree(ROOT / "bench" / "tpch", project)
    (workdir / "tpch_vault").mkdir(exist_ok=True)
    target = make_target(engine_name, workdir / "tpch_vault", 0)
    try:
        api.migrate_revision(project, "tpch", url=target.url)
        api.migrate_upgrade(project, url=target.url)
        session = api.open_session(project, url=target.url)
        model = session.project.model
        columns = [(c.name, c.type) for c in model.sources["lineitem"].columns]
        copy = floor_stage(session.engine, engine_name, path, columns)
        result = session.loader.load("lineitem", open_input(str(path)))
        found = [Row("stage, lineitem (quoted)", result.rows_staged, result.stage_seconds,
                     copy[0], copy[1], "COPY csv" if engine_name == "postgresql"
                     else "csv + executemany")]
        if engine_name == "postgresql":
            hashed = hash_floor(session.engine, model, session.loader.dialect, "lineitem", path)
            found.append(Row("stage, lineitem (quoted)", result.rows_staged,
                             result.stage_seconds, hashed[0], hashed[1],
                             "COPY + hashes in SQL"))
        session.close()
        return found
    finally:
        target.cleanup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--engines", default="postgresql,sqlite")
    parser.add_argument("--tpch-scale", type=float, default=0.1,
                        help="TPC-H scale of lineitem (0: leave it out)")
    args = parser.parse_args(argv)
    engines = args.engines.split(",")
    print_machine(engines, args.rows, None, title="staging")
    with tempfile.TemporaryDirectory(prefix="dv-staging-") as folder:
        workdir = Path(folder)
        files = write_formats(args.rows, workdir)
        tpch = lineitem(args.tpch_scale, workdir / "tpch") if args.tpch_scale else None
        for engine_name in engines:
            bench_engine(engine_name, files, workdir, tpch)
    return 0


if __name__ == "__main__":
    sys.exit(main())
