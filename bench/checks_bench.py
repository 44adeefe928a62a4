"""Checks benchmark: what a source's checks at entry add to its load.

Run from the repository root:

    python bench/checks_bench.py --rows 1000000 --engines sqlite,postgresql,duckdb

For each engine it loads the initial batch of the example source ``shop_orders``
(``bench/generate.py``) into a fresh vault four times, each in a process of its own: with no
check, with one row check of each kind (``not_null``, ``accepted_values``, ``range``,
``pattern``, ``length``; every row passes), with one batch check of each kind (``unique``,
``freshness``, ``volume``, two ``drift``: by value and by bins), and with both. It prints each
load's time, its staging time, and the ratio to the load without checks (targets: under 1.10
for the row checks, under 1.05 for the batch checks). Each figure is the best of ``--rounds``.

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
from load_bench import SOURCE, example_project, make_target, print_machine, run_load

from datavault import api

ROW_CHECKS = """\
  - not_null: [order_id, customer_ref]
  - accepted_values: {column: status, values: [placed, paid, packed, shipped, delivered,
                                               returned, on hold]}
  - range: {column: amount, min: 0, max: 100000000}
  - pattern: {column: order_id, regex: 'O[0-9]{10}'}
  - length: {column: customer_ref, min: 10, max: 10}
"""
BATCH_CHECKS = """\
  - unique: [order_id, changed_at]
  - freshness: {max_age: 36500 days}
  - volume: {within: 50%}
  - drift: {column: status}
  - drift: {column: amount, bins: [10, 100, 1000, 10000], name: drift_amount_bins}
"""
VARIANTS = {"no checks": "", "row checks": ROW_CHECKS, "batch checks": BATCH_CHECKS,
            "row and batch checks": ROW_CHECKS + BATCH_CHECKS}


def project_with(folder: Path, checks: str) -> Path:
    project = example_project(folder)
    if checks:
        path = project / "models" / "sources" / f"{SOURCE}.yml"
        path.write_text(path.read_text(encoding="utf-8") + "checks:\n" + checks,
                        encoding="utf-8")
    return project


def bench_engine(engine_name: str, initial: Path, workdir: Path, rounds: int) -> None:
    print(f"{engine_name}:")
    base = None
    for label, checks in VARIANTS.items():
        best = None
        for round_number in range(rounds):
            folder = workdir / f"{engine_name}_{label.replace(' ', '_')}_{round_number}"
            folder.mkdir()
            project = project_with(folder / "project", checks)
            target = make_target(engine_name, folder, 0)
            try:
                api.migrate_upgrade(project, url=target.url)
                loaded = run_load(project, target.url, initial)
            finally:
                target.cleanup()
            data = loaded.data
            if data["rows_staged"] != data["rows_read"]:
                print(f"  WARN {label}: {data['rows_read'] - data['rows_staged']:,} rows "
                      "quarantined; every row should pass")
            if best is None or data["total"] < best["total"]:
                best = data
        assert best is not None
        if base is None:
            base = best
        ratio = best["total"] / base["total"]
        print(f"  {label:22} load {best['total']:7.1f} s  staging {best['stage_seconds']:6.1f} s"
              f"  ratio to no checks {ratio:5.2f}x")
    print()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="rows of the batch")
    parser.add_argument("--engines", default="sqlite,postgresql",
                        help="comma-separated: sqlite, postgresql, duckdb")
    parser.add_argument("--rounds", type=int, default=1,
                        help="loads of each variant; the best is shown")
    parser.add_argument("--workdir", default=None,
                        help="parent folder of the temporary folder (default: system temp)")
    args = parser.parse_args(argv)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    print_machine(engines, args.rows, None, title="checks",
                  batch=f"{args.rows:,} orders of source {SOURCE}")
    workdir = Path(tempfile.mkdtemp(prefix="dvbench_checks_", dir=args.workdir))
    try:
        initial = workdir / "initial.csv"
        started = time.perf_counter()
        generate.write(initial, args.rows, generate.Batch(0, args.rows))
        print(f"generated the batch in {time.perf_counter() - started:.1f}s (not counted)")
        print()
        for engine_name in engines:
            bench_engine(engine_name, initial, workdir, args.rounds)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
