"""Command cost: the toolkit's fixed cost per command, on a 1-row batch, and a key query
against a satellite of millions of rows, also while a load runs.

Run from the repository root, with the toolkit installed (``pip install -e .``):

    python bench/command_cost.py --engines postgresql,sqlite --rows 1000000

For each engine, two projects, each in a fresh database, migrated and holding one batch: the
example warehouse (13 tables) and a generated one of ``--groups`` groups (a source, a hub, a
link, a satellite and its log each: 54 tables for 10). For each:

1. every command as a process (``python -m datavault ...``), the median of ``--runs``:
   ``validate``, ``load`` (a new batch of 1 row each run), ``query --key``, ``history --key``
   and ``batches``; beside them the interpreter alone and ``import datavault.cli``;
2. where the time of each command goes, from a process of its own that runs the command's
   steps as the CLI does and times each: importing, reading the project, connecting, the
   schema check (reading what the database records of its schema, and judging the tables
   the command touches), and the command itself; and, for reference, the full comparison
   (Alembic's autogenerate over every table) that every command made before;
3. the same commands in one session (``api.connect``): the median cost of each call.

Then, with ``--rows N`` (0: skip), the example's source ``shop_orders`` is loaded with N orders
(``bench/generate.py``; not counted) and a ``query --key`` of 2 keys, and ``history``, are
timed against its satellite of N rows, in a session and as a process; then again while a 1%
batch loads in another process.

``--compare DIR`` measures step 1 alone, taking turns, run by run, between the toolkit of
another checkout (DIR) and this one, on the same projects and databases (made and migrated by
this one): the medians of both, side by side.

This is not a test: it prints figures. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import generate
import load_bench

from datavault import api, schema

HERE = Path(__file__).resolve().parent
#: the toolkit this script imports, which the processes it starts import too
TOOLKIT = Path(api.__file__).resolve().parent.parent


def toolkit_env(toolkit: Path = TOOLKIT) -> dict[str, str]:
    """The environment of a process that imports the toolkit in ``toolkit`` first."""
    paths = [str(toolkit), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
ONE_ROW = {
    "crm_customers": ("customer_id,name,email,city,extracted_at",
                      "C001,Alice Martin,alice{n}@example.com,Lyon,2026-01-01T06:00:{s:02d}"),
    "feed_0": ("id,next_id,name,amount,qty,changed_at",
               "K1,K2,name {n},1.5,{n},2026-01-01T06:00:{s:02d}"),
}


# ---- projects ----------------------------------------------------------------------------
def wide_project(root: Path, groups: int) -> None:
    """A project of ``groups`` groups: source feed_I, hub item_I, link item_I_next (to the
    next group's hub), satellite item_I_state; 5 tables each, and the 4 of the ledger."""
    files = {"config/datavault.yml": "hash: md5\n"}
    for i in range(groups):
        j = (i + 1) % groups
        files[f"models/sources/feed_{i}.yml"] = (
            "batch: delta\napplied_at: changed_at\ncolumns:\n  id: text\n  next_id: text\n"
            "  name: text\n  amount: decimal\n  qty: integer\n  changed_at: timestamp\n")
        files[f"models/hubs/item_{i}.yml"] = (
            f"business_key:\n  item_id: text\nsources:\n  feed_{i}:\n    item_id: id\n")
        files[f"models/links/item_{i}_next.yml"] = (
            f"hubs:\n  - this: item_{i}\n  - next: item_{j}\nsources:\n  feed_{i}:\n"
            f"    this: id\n    next: next_id\n")
        files[f"models/satellites/item_{i}_state.yml"] = (
            f"parent: item_{i}\nsource: feed_{i}\npayload: [name, amount, qty]\n")
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


class Case:
    """A project in a fresh database, migrated, with one batch loaded."""

    def __init__(self, name: str, engine_name: str, workdir: Path, groups: int):
        self.name = name
        self.project = workdir / f"{engine_name}_{name}"
        self.target = load_bench.make_target(engine_name, self.project, 0)
        if name == "example":
            load_bench.example_project(self.project)
            self.source, self.entity, self.key = "crm_customers", "customer", "C001"
        else:
            wide_project(self.project, groups)
            self.source, self.entity, self.key = "feed_0", "item_0", "K1"
        self.url = self.target.url
        if self.name != "example":
            api.migrate_revision(self.project, "the model", url=self.url)
        api.migrate_upgrade(self.project, url=self.url)
        self.batches = 0
        api.load(self.project, self.source, str(self.one_row()), url=self.url)
        self.tables = len(schema.build_metadata(api.validate(self.project).model).tables)

    def one_row(self) -> Path:
        """A new file of one row (a new payload, at a later applied time)."""
        self.batches += 1
        header, row = ONE_ROW[self.source]
        path = self.project / f"one_{self.batches}.csv"
        path.write_text(f"{header}\n{row.format(n=self.batches, s=self.batches % 60)}\n",
                        encoding="utf-8")
        return path

    def cli(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "datavault", "-p", str(self.project), "--url", self.url,
                *args]

    def commands(self) -> dict[str, Callable[[], list[str]]]:
        """Each command's argument list (a function: a load needs a new file each run)."""
        return {
            "validate": lambda: [sys.executable, "-m", "datavault", "-p", str(self.project),
                                 "validate"],
            "load (1 row)": lambda: self.cli("load", self.source, str(self.one_row())),
            "query --key": lambda: self.cli("query", self.entity, "--key", self.key),
            "history --key": lambda: self.cli("history", self.entity, "--key", self.key),
            "batches": lambda: self.cli("batches"),
        }


def median_run(argv_of: Callable[[], list[str]], runs: int, cwd: Path) -> float:
    """The median wall time of a process, over ``runs`` runs."""
    return statistics.median(timed_run(argv_of(), cwd, toolkit_env()) for _ in range(runs))


def timed_run(argv: list[str], cwd: Path, env: dict[str, str]) -> float:
    """The wall time of one process (it must succeed), run in ``cwd``: not in a checkout,
    whose ``datavault`` folder Python would import before any other."""
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{done.stdout}{done.stderr}")
    return seconds


def compare(case: Case, other: Path, runs: int) -> None:
    """Each command's median as a process with another checkout's toolkit and with this one,
    taking turns run by run (so that a machine busy for a while weighs on both alike)."""
    print(f"{case.target.engine_name}, {case.name} project ({case.tables} tables): "
          f"{other} -> this checkout")
    checkouts = {"other": other, "this": TOOLKIT}
    commands = {"import datavault.cli": lambda: [sys.executable, "-c", "import datavault.cli"],
                **case.commands()}
    for name, argv_of in commands.items():
        times: dict[str, list[float]] = {"other": [], "this": []}
        for run in range(runs):
            for which in ("other", "this") if run % 2 == 0 else ("this", "other"):
                env = toolkit_env(checkouts[which])
                times[which].append(timed_run(argv_of(), case.project.parent, env))
        before, after = (statistics.median(times[w]) for w in ("other", "this"))
        print(f"  {name:<20} {ms(before):>10} -> {ms(after):>10}  ({after / before - 1:+.0%})")
    print()


# ---- the steps of one command, timed in a process of its own --------------------------------
def steps(case: Case, command: str, runs: int) -> dict[str, float]:
    """The median time of each step of ``command`` over ``runs`` processes."""
    found: dict[str, list[float]] = {}
    for _ in range(runs):
        args = {"load (1 row)": lambda: [case.source, str(case.one_row())],
                "query --key": lambda: [case.entity, case.key],
                "history --key": lambda: [case.entity, case.key]}.get(command, lambda: [])()
        spec = json.dumps({"project": str(case.project), "url": case.url, "command": command,
                           "args": args})
        done = subprocess.run([sys.executable, str(HERE / "command_steps.py"), spec],
                              capture_output=True, text=True, env=toolkit_env(),
                              cwd=case.project.parent)
        if done.returncode != 0:
            raise SystemExit(f"{command} failed:\n{done.stdout}{done.stderr}")
        for name, seconds in json.loads(done.stdout).items():
            found.setdefault(name, []).append(seconds)
    return {name: statistics.median(values) for name, values in found.items()}


def in_session(case: Case, runs: int) -> tuple[float, dict[str, float]]:
    """The cost of opening a session, and the median cost of each call in it."""
    begun = time.perf_counter()
    vault = api.connect(case.project, url=case.url)
    opened = time.perf_counter() - begun
    calls = {
        "load (1 row)": lambda: vault.load(case.source, case.one_row()),
        "query --key": lambda: vault.query_state(case.entity, [case.key]),
        "history --key": lambda: vault.history(case.entity, [case.key]),
        "batches": lambda: vault.batches(),
    }
    found = {}
    try:
        for name, call in calls.items():
            times = []
            for _ in range(runs):
                started = time.perf_counter()
                call()
                times.append(time.perf_counter() - started)
            found[name] = statistics.median(times)
    finally:
        vault.close()
    return opened, found


# ---- printing ----------------------------------------------------------------------------
def ms(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds * 1000:,.1f} ms" if seconds < 1 else f"{seconds:,.2f} s"


STEPS = ["import", "read the project", "connect", "schema check", "the command"]


def bench_case(case: Case, runs: int) -> None:
    print(f"{case.target.engine_name}, {case.name} project ({case.tables} tables)")
    where = case.project.parent
    bare = median_run(lambda: [sys.executable, "-c", "pass"], runs, where)
    imports = median_run(lambda: [sys.executable, "-c", "import datavault.cli"], runs, where)
    processes = {name: median_run(argv_of, runs, where)
                 for name, argv_of in case.commands().items()}
    print(f"  python -c pass: {ms(bare)}; python -c 'import datavault.cli': {ms(imports)}")
    parts = {name: steps(case, name, runs) for name in processes}
    full = steps(case, "full comparison", runs)
    opened, session = in_session(case, runs)
    print(f"  {'':<15} {'process':>10} {'in a session':>13}   |"
          + "".join(f" {n:>16}" for n in STEPS))
    for name, seconds in processes.items():
        print(f"  {name:<15} {ms(seconds):>10} {ms(session.get(name)):>13}   |"
              + "".join(f" {ms(parts[name].get(n)):>16}" for n in STEPS))
    load = parts["load (1 row)"]
    whole = processes["load (1 row)"]
    shares = ", ".join(f"{n} {load[n] / whole:.0%}" for n in STEPS)
    rest = 1 - sum(load[n] for n in STEPS) / whole
    print(f"  a 1-row load as a process: {shares}; the rest (starting and stopping Python, "
          f"printing) {rest:.0%}")
    print(f"  opening a session: {ms(opened)}; the full comparison every command made "
          f"before: {ms(full['compare every table'])}, after importing Alembic "
          f"({ms(full['import Alembic'])})")
    print()


# ---- a key query against millions of rows --------------------------------------------------
def bench_big(engine_name: str, workdir: Path, rows: int, runs: int) -> None:
    files = workdir / "orders"
    if not (files / "initial.csv").is_file():
        files.mkdir(exist_ok=True)
        generate.write(files / "initial.csv", rows, generate.Batch(0, rows))
        generate.write(files / "delta.csv", rows,
                       generate.Batch(1, max(1, rows // 100), new=0.2, repeat=0.3))
    project = workdir / f"{engine_name}_big"
    target = load_bench.make_target(engine_name, project, 0)
    try:
        load_bench.example_project(project)
        api.migrate_upgrade(project, url=target.url)
        started = time.perf_counter()
        api.load(project, "shop_orders", str(files / "initial.csv"), url=target.url)
        print(f"{engine_name}, satellite order_status of {rows:,} rows (loaded in "
              f"{time.perf_counter() - started:.1f} s, not counted)")
        keys = [generate.order_id(1), generate.order_id(rows // 2)]
        with api.connect(project, url=target.url) as vault:
            asks = {
                "query order_status --key (2 keys)":
                    lambda: vault.query_state("order_status", keys),
                "history order_status --key (2 keys)":
                    lambda: vault.history("order_status", keys),
                "query order --key (2 keys, hub)": lambda: vault.query_state("order", keys),
            }
            for name, ask in asks.items():
                assert len(ask().rows) >= 2, name
                times = []
                for _ in range(max(runs, 20)):
                    begun = time.perf_counter()
                    ask()
                    times.append(time.perf_counter() - begun)
                print(f"  {name:<38} in a session {ms(statistics.median(times)):>10}"
                      f"   (slowest {ms(max(times))})")
            argv = [sys.executable, "-m", "datavault", "-p", str(project), "--url", target.url,
                    "query", "order_status", "--key", keys[0], "--key", keys[1]]
            print(f"  {'query order_status --key (2 keys)':<38} as a process "
                  f"{ms(median_run(lambda: argv, runs, workdir)):>10}")

            # the same while a 1% batch loads in another process
            loading = subprocess.Popen(
                [sys.executable, "-m", "datavault", "-p", str(project), "--url", target.url,
                 "load", "shop_orders", str(files / "delta.csv")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=toolkit_env(),
                cwd=workdir)
            times = []
            begun = time.perf_counter()
            while loading.poll() is None:
                asked = time.perf_counter()
                vault.query_state("order_status", keys)
                times.append(time.perf_counter() - asked)
                threading.Event().wait(0.01)
            took = time.perf_counter() - begun
            if loading.returncode != 0:
                print("  WARN the load of the 1% batch failed")
            if times:
                times.sort()
                print(f"  while a batch of {rows // 100:,} rows loaded ({took:.1f} s): "
                      f"{len(times)} queries of 2 keys, median {ms(statistics.median(times))}, "
                      f"95th percentile {ms(times[int(len(times) * 0.95)])}, "
                      f"slowest {ms(times[-1])}")
        print()
    finally:
        target.cleanup()


# ---- main ----------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engines", default="postgresql,sqlite",
                        help="comma-separated: sqlite, postgresql")
    parser.add_argument("--runs", type=int, default=7, help="runs per figure (the median)")
    parser.add_argument("--groups", type=int, default=10,
                        help="groups of the generated project (5 tables each)")
    parser.add_argument("--rows", type=int, default=1_000_000,
                        help="orders for the key query against a large satellite (0: skip)")
    parser.add_argument("--compare", metavar="DIR", type=Path,
                        help="only the commands as processes, taking turns between the "
                             "toolkit of the checkout DIR and this one")
    parser.add_argument("--workdir", default=None,
                        help="parent folder of the temporary folder (default: system temp)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    load_bench.print_machine(engines, 1, None, title="command cost",
                             batch=f"1 row per load; {args.runs} runs per figure (median)")
    workdir = Path(tempfile.mkdtemp(prefix="dvcost_", dir=args.workdir))
    try:
        for engine_name in engines:
            for name in ("example", "wide"):
                case = Case(name, engine_name, workdir, args.groups)
                try:
                    if args.compare:
                        compare(case, args.compare.resolve(), args.runs)
                    else:
                        bench_case(case, args.runs)
                finally:
                    case.target.cleanup()
            if args.rows and not args.compare:
                bench_big(engine_name, workdir, args.rows, args.runs)
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
