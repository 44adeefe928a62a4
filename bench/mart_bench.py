"""Mart benchmark: PIT rows built per second, for a full build and for the refresh after a
1% batch, against a floor measured in the same run.

Run from the repository root:

    python bench/mart_bench.py --orders 200000 --engines postgresql,sqlite

For each engine it writes the example project with one PIT mart, ``orders`` (hub ``order``,
satellite ``order_status``, a weekly spine of 13 snapshots), loads two generated batches of
the example source ``shop_orders`` (every order placed; half of them shipped two days later)
and builds the mart in full. Then it loads a 1% batch (1% of the orders, each corrected at
a time in the middle of its history: a late batch) and refreshes the mart; then refreshes it
once more with no new batch. The floor is the plainest write of the same rows: INSERT ...
SELECT of every PIT row into an empty table with the PIT's columns and primary key.

This is not a test: it prints figures (and WARN lines when the refreshed mart differs from
a full rebuild). See bench/README.md.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa
from load_bench import (
    Row,
    example_project,
    floor_insert_select,
    make_target,
    print_machine,
    print_table,
)

from datavault import api, marts
from datavault.load import open_input

START = dt.datetime(2026, 1, 1)
MART = """description: Every order at the start of each week of the first quarter.
pit: order
spine:
  every: week
  from: 2026-01-05
  to: 2026-03-30
"""
COLUMNS = ["order_id", "customer_ref", "status", "amount", "ordered_at", "changed_at"]


def write_batches(folder: Path, orders: int, seed: int) -> list[Path]:
    """Placed (every order), shipped (half, two days later), corrected (1%, late)."""
    rng = random.Random(seed)
    placed_at = [START + dt.timedelta(minutes=rng.randrange(80 * 24 * 60))
                 for _ in range(orders)]
    amounts = [f"{rng.randrange(100, 100_000) / 100:.2f}" for _ in range(orders)]
    batches: list[list[list[str]]] = [[], [], []]
    for i in range(orders):
        ordered = placed_at[i].isoformat()
        batches[0].append([f"O{i:09d}", f"C{i % 50_000:06d}", "placed", amounts[i], ordered,
                           ordered])
        if i % 2 == 0:
            batches[1].append([f"O{i:09d}", f"C{i % 50_000:06d}", "shipped", amounts[i],
                               ordered, (placed_at[i] + dt.timedelta(days=2)).isoformat()])
    for i in rng.sample(range(orders), max(1, orders // 100)):
        late = placed_at[i] + dt.timedelta(hours=12)  # between placed and shipped
        batches[2].append([f"O{i:09d}", f"C{i % 50_000:06d}", "placed", "0.00",
                           placed_at[i].isoformat(), late.isoformat()])
    paths = []
    for number, rows in enumerate(batches, 1):
        path = folder / f"shop_orders_{number}.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(COLUMNS)
            writer.writerows(rows)
        paths.append(path)
    return paths


def pit_rows(engine: sa.Engine, table: str) -> list[tuple]:
    with engine.connect() as connection:
        return sorted(tuple(bytes(v) if isinstance(v, memoryview) else v for v in r)
                      for r in connection.exec_driver_sql(f"SELECT * FROM {table}"))


def bench_engine(engine_name: str, batches: list[Path], workdir: Path, timeout: float) -> None:
    project = example_project(workdir / f"project_{engine_name}")
    for old in (project / "models" / "marts").glob("*.yml"):
        old.unlink()
    (project / "models" / "marts" / "orders.yml").write_text(MART, encoding="utf-8")
    target = make_target(engine_name, workdir, timeout)
    try:
        api.migrate_upgrade(project, url=target.url)
        session = api.open_session(project, url=target.url)
        model = session.project.model
        builder = marts.MartBuilder(model, session.engine, session.loader.renderer)
        mart = model.marts["orders"]
        started = time.perf_counter()
        for path in batches[:2]:
            result = session.loader.load("shop_orders", open_input(str(path)))
            assert result.ok, [e.message for e in result.entities]
        print(f"{engine_name}: loaded {sum(1 for p in batches[:2] for _ in p.open()) - 2:,} "
              f"order rows in {time.perf_counter() - started:.1f}s (not counted)")
        rows: list[Row] = []
        full = builder.build(mart, full=True)
        floor_rows, floor_seconds = floor_insert_select(  # the same rows, no PIT logic
            session.engine, engine_name, mart.table,
            f"INSERT INTO {{table}} SELECT * FROM {mart.table}")
        rows.append(Row("PIT full build", full.rows_inserted, full.seconds, floor_rows,
                        floor_seconds, "INSERT ... SELECT of the same PIT rows"))
        late = session.loader.load("shop_orders", open_input(str(batches[2])))
        assert late.ok, [e.message for e in late.entities]
        refresh = builder.build(mart)
        scale = refresh.rows_inserted / max(full.rows_inserted, 1)
        rows.append(Row(f"PIT refresh after a 1% late batch ({refresh.touched:,} keys)",
                        refresh.rows_inserted, refresh.seconds, refresh.rows_inserted,
                        floor_seconds * scale, "the same floor, for the rows rewritten"))
        idle = builder.build(mart)
        rows.append(Row("PIT refresh with no new batch", idle.rows_inserted, idle.seconds))
        print_table(engine_name, rows)
        print(f"refresh after 1%: {refresh.seconds / full.seconds:.3f} of the full build's "
              f"time for {scale:.3%} of its rows; with no new batch: "
              f"{idle.seconds / full.seconds:.3f}")
        incremental = pit_rows(session.engine, mart.table)
        builder.build(mart, full=True)
        if incremental != pit_rows(session.engine, mart.table):
            print("WARN: the refreshed PIT differs from a full rebuild")
        if idle.touched or idle.rows_inserted:
            print("WARN: a refresh with no new batch rewrote rows")
        session.close()
        print()
    finally:
        target.cleanup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=100_000, help="orders (hub keys)")
    parser.add_argument("--engines", default="postgresql,sqlite",
                        help="comma-separated: sqlite, postgresql")
    parser.add_argument("--seed", type=int, default=20260101)
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--statement-timeout", type=float, default=600, metavar="SECONDS")
    args = parser.parse_args(argv)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    print_machine(engines, args.orders, args.seed, title="mart",
                  batch=f"{args.orders:,} orders of source shop_orders, PIT of 13 weekly "
                        "snapshots")
    workdir = Path(tempfile.mkdtemp(prefix="dvbench_marts_", dir=args.workdir))
    try:
        batches = write_batches(workdir, args.orders, args.seed)
        for engine_name in engines:
            bench_engine(engine_name, batches, workdir, args.statement_timeout)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
