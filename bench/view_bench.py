"""Mart view benchmark: a lookup of 2 keys through a mart's ``_current`` view, and a read of
the whole view, against a satellite of millions of rows.

Run from the repository root:

    python bench/view_bench.py --orders 1000000 --engines postgresql,sqlite

For each engine it writes the example project with one PIT mart, ``orders`` (hub ``order``,
satellite ``order_status``), loads two generated batches of the source ``shop_orders`` (every
order placed; half of them shipped two days later: 1.5 rows per order; not counted), makes
the mart's views (its PIT table left empty: the ``_current`` view does not read it), and
times, as the median of ``--runs``:

- ``SELECT * FROM orders_current WHERE order_number IN (a, b)``: what an analyst writes to
  look up two orders (the hub has no index on its business key, so the hub is read whole; the
  satellite should be read only at the two keys);
- ``SELECT COUNT(*) FROM orders_current``: every key's current state.

This is not a test: it prints figures. See bench/README.md.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa
from load_bench import example_project, make_target, print_machine
from mart_bench import MART, write_batches

from datavault import api, marts
from datavault.load import open_input


def bench_engine(engine_name: str, batches: list[Path], orders: int, workdir: Path,
                 runs: int, timeout: float) -> None:
    project = example_project(workdir / f"project_{engine_name}")
    for old in (project / "models" / "marts").glob("*.yml"):
        old.unlink()
    (project / "models" / "marts" / "orders.yml").write_text(MART, encoding="utf-8")
    target = make_target(engine_name, workdir, timeout)
    try:
        api.migrate_upgrade(project, url=target.url)
        with api.open_session(project, url=target.url) as session:
            started = time.perf_counter()
            for path in batches[:2]:
                result = session.loader.load("shop_orders", open_input(str(path)))
                assert result.ok, [e.message for e in result.entities]
            with session.engine.connect() as connection:
                rows = connection.exec_driver_sql(
                    "SELECT COUNT(*) FROM sat_order_status").scalar()
            print(f"{engine_name}: satellite order_status of {rows:,} rows for {orders:,} "
                  f"orders (loaded in {time.perf_counter() - started:.1f} s, not counted)")
            mart = session.model.marts["orders"]
            with session.engine.begin() as connection:
                marts.metadata(session.model).create_all(connection)  # empty: not read
                for statement in session.renderer.mart_views(mart).statements():
                    connection.exec_driver_sql(statement.sql)
            view = mart.view("current")
            keys = {"a": f"O{1:09d}", "b": f"O{orders // 2:09d}"}
            asks = [
                (f"{view}: 2 keys", f"SELECT * FROM {view} WHERE order_number IN (:a, :b)",
                 keys, runs),
                (f"{view}: every key (COUNT)", f"SELECT COUNT(*) FROM {view}", {},
                 max(3, runs // 5)),
            ]
            with session.engine.connect() as connection:
                for name, sql, params, times_run in asks:
                    times = []
                    for _ in range(times_run):
                        begun = time.perf_counter()
                        got = connection.execute(sa.text(sql), params).all()
                        times.append(time.perf_counter() - begun)
                    if params and len(got) != 2:
                        print(f"WARN: {name} gave {len(got)} rows, not 2")
                    print(f"  {name:<36} median {statistics.median(times) * 1000:10.1f} ms"
                          f"   ({times_run} runs; rows: {len(got) if params else got[0][0]:,})")
        print()
    finally:
        target.cleanup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=1_000_000, help="orders (hub keys)")
    parser.add_argument("--engines", default="postgresql,sqlite",
                        help="comma-separated: sqlite, postgresql")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--seed", type=int, default=20260101)
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--statement-timeout", type=float, default=600, metavar="SECONDS")
    args = parser.parse_args(argv)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    print_machine(engines, args.orders, args.seed, title="mart view",
                  batch=f"{args.orders:,} orders of source shop_orders")
    workdir = Path(tempfile.mkdtemp(prefix="dvbench_views_", dir=args.workdir))
    try:
        batches = write_batches(workdir, args.orders, args.seed)
        for engine_name in engines:
            bench_engine(engine_name, batches, args.orders, workdir, args.runs,
                         args.statement_timeout)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
