"""Side-by-side benchmark: the toolkit, AutomateDV and datavault4dbt loading the same generated
batches into a hub and a satellite of four payload columns on the same PostgreSQL, rounds
interleaved, with the medians of the per-round ratios.

Run from the repository root (``make bench-peers`` does):

    python bench/peers_bench.py --rows 1000000 --rounds 3

The peers are dbt packages. dbt-core and dbt-postgres (~=1.11.0) are installed from the package
index into a virtual environment of their own, kept under ``--cache`` (default ``.bench/``) and
reused by later runs; the packages come from the source archives in ``--peers-dir`` (default
``../shared/peers``), unpacked into each dbt project's ``dbt_packages/`` as local packages.
Their code is only run, never part of the toolkit.

Every tool loads the same batches of source ``shop_orders`` (``bench/generate.py``): the
initial N orders, a 1% delta in applied-time order, the same delta again (which must change
nothing) and a late 1% batch. Each round uses three fresh databases, one per tool, and runs
every step for every tool before the next step (the tools take turns in a different order each
round). For each step it prints the seconds of each tool and where they went: the toolkit's
load runs in a process of its own (as in ``load_bench.py``) and reports its stage and entity
times; a peer's batch is loaded by ``COPY`` into a source table, then ``dbt run`` builds its
stage view, hub and satellite (materialized ``incremental``), timed per model from
``run_results.json`` and as a whole process. After each step it counts the rows of every
tool's hub and satellite, and prints a WARN line where a peer's count differs from the
toolkit's, which follows the exact history rule of docs/SEMANTICS.md.

This is not a test: it prints figures. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import generate
import sqlalchemy as sa
from load_bench import PG_ADMIN_URL, print_machine, run_load

from datavault import api
from datavault.kinds import main_table
from datavault.metadata.project import load_project

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PROJECT = HERE / "peers"  # the toolkit's vault: hub order, satellite order_status
SOURCE = "shop_orders"
HUB, SATELLITE = "order", "order_status"
PAYLOAD = ["customer_ref", "status", "amount", "ordered_at"]
DBT_PINS = ["dbt-core~=1.11.0", "dbt-postgres~=1.11.0"]
TOOLKIT = "toolkit"
PEERS = ("automate_dv", "datavault4dbt")
TOOLS = (TOOLKIT, *PEERS)
#: the archives each peer's dbt project unpacks into its dbt_packages/ (name prefixes)
ARCHIVES = {"automate_dv": ("automate_dv-", "dbt_utils-"), "datavault4dbt": ("datavault4dbt-",)}
#: later steps (the initial load always runs first); "again" loads the delta's file again
STEPS = {
    "initial": "initial load",
    "delta": "1% delta, in order",
    "again": "the same delta again",
    "late": "1% late batch",
}
SOURCE_DDL = ("CREATE TABLE public.shop_orders (order_id text, customer_ref text, status text, "
              "amount numeric, ordered_at timestamp, changed_at timestamp, "
              "load_ts timestamp NOT NULL DEFAULT now())")
COLUMNS = ", ".join(generate.COLUMNS)


# ---- the peers' dbt projects -------------------------------------------------------------
PROFILES = """\
dvbench:
  target: bench
  outputs:
    bench:
      type: postgres
      host: 127.0.0.1
      port: 5432
      user: postgres
      password: ""
      dbname: "{{ env_var('DVBENCH_DBNAME') }}"
      schema: vault
      threads: 1
"""

SOURCES_YML = """\
version: 2
sources:
  - name: bench
    schema: public
    tables:
      - name: shop_orders
"""

PAYLOAD_LIST = "[" + ", ".join(f"'{c}'" for c in PAYLOAD) + "]"

#: model files per peer: a stage view, a hub and a satellite, both incremental.
#: AutomateDV: load_ts (one value per COPY) is the load time, changed_at the effective time.
#: datavault4dbt: sat_v0 has one time axis, its ldts, which is the applied time changed_at
#: (a load time would give every observation of a key in one batch the same key).
MODELS = {
    "automate_dv": {
        "stg_orders": f"""\
{{{{ config(materialized='view') }}}}
{{{{ automate_dv.stage(include_source_columns=true,
                       source_model={{'bench': 'shop_orders'}},
                       derived_columns={{'record_source': '!shop.orders',
                                        'load_datetime': 'load_ts',
                                        'effective_from': 'changed_at'}},
                       hashed_columns={{'order_hk': 'order_id',
                                       'order_hashdiff': {{'is_hashdiff': true,
                                                          'columns': {PAYLOAD_LIST}}}}},
                       ranked_columns=none) }}}}
""",
        "hub_order": """\
{{ config(materialized='incremental') }}
{{ automate_dv.hub(src_pk='order_hk', src_nk='order_id', src_ldts='load_datetime',
                   src_source='record_source', source_model='stg_orders') }}
""",
        "sat_order_status": f"""\
{{{{ config(materialized='incremental') }}}}
{{{{ automate_dv.sat(src_pk='order_hk', src_hashdiff='order_hashdiff',
                     src_payload={PAYLOAD_LIST}, src_eff='effective_from',
                     src_ldts='load_datetime', src_source='record_source',
                     source_model='stg_orders') }}}}
""",
    },
    "datavault4dbt": {
        "stg_orders": f"""\
{{{{ config(materialized='view') }}}}
{{{{ datavault4dbt.stage(source_model={{'bench': 'shop_orders'}}, ldts='changed_at',
                         rsrc='!shop.orders', include_source_columns=true,
                         hashed_columns={{'hk_order_h': ['order_id'],
                                         'hd_order_s': {{'is_hashdiff': true,
                                                        'columns': {PAYLOAD_LIST}}}}},
                         enable_ghost_records=false) }}}}
""",
        "hub_order": """\
{{ config(materialized='incremental') }}
{{ datavault4dbt.hub(hashkey='hk_order_h', business_keys=['order_id'],
                     source_models='stg_orders') }}
""",
        "sat_order_status": f"""\
{{{{ config(materialized='incremental') }}}}
{{{{ datavault4dbt.sat_v0(parent_hashkey='hk_order_h', src_hashdiff='hd_order_s',
                          src_payload={PAYLOAD_LIST}, source_model='stg_orders') }}}}
""",
    },
}


def dbt_environment(cache: Path) -> Path:
    """The virtual environment with dbt, made on first use and reused while its pins hold."""
    venv = cache / "peers-venv"
    stamp = venv / ".installed"
    wanted = " ".join(DBT_PINS)
    if (venv / "bin" / "dbt").exists() and stamp.exists() and stamp.read_text() == wanted:
        return venv
    print(f"making {venv} with {wanted} (once; later runs reuse it)", flush=True)
    shutil.rmtree(venv, ignore_errors=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    if subprocess.run([*pip, *DBT_PINS]).returncode:
        raise SystemExit(f"pip could not install {wanted} (is the package index reachable?)")
    stamp.write_text(wanted)
    return venv


def dbt_versions(venv: Path) -> str:
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import importlib.metadata as m; print("
         "m.version('dbt-core'), m.version('dbt-postgres'))"],
        capture_output=True, text=True, check=True).stdout.split()
    return f"dbt-core {out[0]}, dbt-postgres {out[1]}"


def archive(peers_dir: Path, prefix: str) -> Path:
    found = sorted(peers_dir.glob(f"{prefix}*.tar.gz"))
    if not found:
        raise SystemExit(f"no {prefix}*.tar.gz in {peers_dir} (set --peers-dir)")
    return found[-1]


def write_dbt_project(peer: str, folder: Path, peers_dir: Path) -> list[str]:
    """A dbt project for ``peer`` in ``folder``; the package versions it unpacked."""
    name = f"dvbench_{peer}"
    (folder / "models").mkdir(parents=True)
    (folder / "dbt_project.yml").write_text(
        f"name: {name}\nversion: '1.0'\nconfig-version: 2\nprofile: dvbench\n"
        "model-paths: [models]\n")
    (folder / "profiles.yml").write_text(PROFILES)
    (folder / "models" / "sources.yml").write_text(SOURCES_YML)
    for model, sql in MODELS[peer].items():
        (folder / "models" / f"{model}.sql").write_text(sql)
    packages = folder / "dbt_packages"
    packages.mkdir()
    unpacked, local = [], []
    for prefix in ARCHIVES[peer]:
        path = archive(peers_dir, prefix)
        with tarfile.open(path) as tar:
            top = sorted({m.name.split("/", 1)[0] for m in tar.getmembers()})
            tar.extractall(packages, filter="data")
        local += [f"  - local: dbt_packages/{t}\n" for t in top]
        unpacked.append(path.name.removesuffix(".tar.gz"))
    (folder / "packages.yml").write_text("packages:\n" + "".join(local))
    return unpacked


def dbt_env(database: str, logs: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(DVBENCH_DBNAME=database, DBT_SEND_ANONYMOUS_USAGE_STATS="false",
               DBT_VERSION_CHECK="false", DBT_LOG_PATH=str(logs), DBT_PARTIAL_PARSE="true")
    return env


def run_dbt(venv: Path, folder: Path, database: str, args: list[str],
            log: Path) -> tuple[float, float]:
    """Run dbt in ``folder`` as a process; its wall seconds and peak RSS (MiB)."""
    command = [str(venv / "bin" / "dbt"), *args, "--project-dir", str(folder),
               "--profiles-dir", str(folder)]
    with log.open("a") as out:
        out.write(f"\n$ {' '.join(command)}\n")
        out.flush()
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=folder, stdout=out, stderr=subprocess.STDOUT,
                                   env=dbt_env(database, folder / "logs"))
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status):
        tail = "".join(log.read_text().splitlines(keepends=True)[-30:])
        raise SystemExit(f"dbt {' '.join(args)} failed in {folder}; the end of {log}:\n{tail}")
    return seconds, usage.ru_maxrss / 1024


def model_times(folder: Path) -> dict[str, float]:
    """execution_time of each model in dbt's last run_results.json."""
    results = json.loads((folder / "target" / "run_results.json").read_text())
    return {r["unique_id"].rsplit(".", 1)[-1]: r["execution_time"] for r in results["results"]}


# ---- databases -----------------------------------------------------------------------------
def create_database(admin: sa.Engine, name: str) -> str:
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    return f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"


def drop_database(admin: sa.Engine, name: str) -> None:
    with admin.connect() as connection:
        connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def copy_batch(engine: sa.Engine, path: Path) -> float:
    """Replace the peer's source table with the batch, by COPY; seconds, commit included."""
    raw = engine.raw_connection()
    try:
        dbapi = raw.driver_connection
        started = time.perf_counter()
        with dbapi.cursor() as cursor, path.open(encoding="utf-8") as handle:
            cursor.execute("TRUNCATE public.shop_orders")
            cursor.copy_expert(f"COPY public.shop_orders ({COLUMNS}) FROM STDIN "
                               "WITH (FORMAT csv, HEADER)", handle)
        dbapi.commit()
        return time.perf_counter() - started
    finally:
        raw.close()


def counts(engine: sa.Engine, hub: str, satellite: str) -> tuple[int, int]:
    with engine.connect() as connection:
        return tuple(connection.exec_driver_sql(f"SELECT COUNT(*) FROM {t}").scalar()
                     for t in (hub, satellite))  # type: ignore[return-value]


#: per tool: its satellite joined to its hub, and the columns of (business key, applied time)
CONTENT = {
    TOOLKIT: ("{satellite} s JOIN {hub} h ON h.order_hk = s.order_hk",
              "h.order_number", "s.applied_ts"),
    "automate_dv": ("vault.sat_order_status s JOIN vault.hub_order h ON h.order_hk = s.order_hk",
                    "h.order_id", "s.effective_from"),
    "datavault4dbt": ("vault.sat_order_status s JOIN vault.hub_order h "
                      "ON h.hk_order_h = s.hk_order_h", "h.order_id", "s.ldts::timestamp"),
}


def content(engine: sa.Engine, tool: str, hub: str, satellite: str) -> int:
    """An order-free fingerprint of the satellite's (business key, applied time, payload)
    rows: equal sets of rows give equal sums, whatever each tool's hashes and load times."""
    tables, key, applied = CONTENT[tool]
    text = ", ".join([key, f"{applied}::text", "s.customer_ref", "s.status",
                      "trim_scale(s.amount)::text", "s.ordered_at::text"])
    with engine.connect() as connection:
        return connection.exec_driver_sql(
            f"SELECT COALESCE(SUM(hashtext(concat_ws('|', {text}))::bigint), 0) FROM "
            + tables.format(hub=hub, satellite=satellite)).scalar()


# ---- measures ------------------------------------------------------------------------------
@dataclass
class Measure:
    """One tool's load of one step."""

    whole: float  # wall seconds of the whole step: process(es) and, for a peer, the COPY
    sql: float  # the toolkit's in-process load; a peer's COPY plus its models' SQL
    stage: float  # the toolkit's stage; a peer's COPY (its stage is a view)
    hub: float
    satellite: float
    hub_rows: int
    sat_rows: int
    content: int  # fingerprint of the satellite's (key, applied time, payload) rows
    rss_mib: float
    parts: str = ""
    slowest: list[str] = field(default_factory=list)


@dataclass
class Tool:
    name: str
    database: str
    url: str
    engine: sa.Engine
    folder: Path | None = None  # a peer's dbt project


def load_toolkit(tool: Tool, project: Path, path: Path, tables: tuple[str, str]) -> Measure:
    started = time.perf_counter()
    loaded = run_load(project, tool.url, path)
    whole = time.perf_counter() - started
    data = loaded.data
    entity = {e["entity"]: e for e in data["entities"]}
    failed = [f"{e['entity']}: {e['message']}" for e in data["entities"] if e["status"] != "ok"]
    if failed:
        raise SystemExit("the toolkit's load failed: " + "; ".join(failed))
    hub_rows, sat_rows = counts(tool.engine, *tables)
    fingerprint = content(tool.engine, TOOLKIT, *tables)
    parts = (f"stage {data['stage_seconds']:.2f}s (read by {data['read_by']}), "
             + ", ".join(f"{e['kind']} {e['entity']} {e['seconds']:.2f}s "
                         f"({e['rows_inserted']:,} new)" for e in data["entities"])
             + f"; in-process {data['total']:.2f}s, start-up and the rest "
               f"{whole - data['total']:.2f}s")
    slowest = [f"{step}: " + "; ".join(f"{sql[:48]} {s:.2f}s ({n:,} rows)" for s, n, sql in top)
               for step, top in data["statements"].items()]
    return Measure(whole, data["total"], data["stage_seconds"], entity[HUB]["seconds"],
                   entity[SATELLITE]["seconds"], hub_rows, sat_rows, fingerprint,
                   loaded.rss_mib, parts, slowest)


def load_peer(tool: Tool, venv: Path, path: Path, log: Path) -> Measure:
    assert tool.folder is not None
    started = time.perf_counter()
    copy_seconds = copy_batch(tool.engine, path)
    dbt_seconds, rss = run_dbt(venv, tool.folder, tool.database, ["run"], log)
    whole = time.perf_counter() - started
    models = model_times(tool.folder)
    hub_rows, sat_rows = counts(tool.engine, "vault.hub_order", "vault.sat_order_status")
    fingerprint = content(tool.engine, tool.name, "", "")
    in_sql = sum(models.values())
    parts = (f"COPY {copy_seconds:.2f}s, " + ", ".join(f"{m} {s:.2f}s" for m, s in
                                                      models.items())
             + f"; dbt process {dbt_seconds:.2f}s, of which start-up and the rest "
               f"{dbt_seconds - in_sql:.2f}s")
    return Measure(whole, copy_seconds + in_sql, copy_seconds, models["hub_order"],
                   models["sat_order_status"], hub_rows, sat_rows, fingerprint, rss, parts)



# ---- the run -------------------------------------------------------------------------------
def ratio_rows(results: list[dict[str, dict[str, Measure]]], steps: list[str]) -> list[list[str]]:
    """The summary table: per step and figure, median seconds per tool and median ratios."""
    figures = [("whole", "whole"), ("sql", "SQL only")]
    parts = [("stage", "staging (toolkit: COPY/parse + typing + hashing; peers: COPY)"),
             ("hub", "hub"), ("satellite", "satellite")]
    body = []
    for step in steps:
        for attr, label in figures + parts:
            if attr in ("stage", "hub", "satellite") and step not in ("initial", "delta"):
                continue
            name = f"{STEPS[step]}, {label}" if attr in ("whole", "sql") else f"  {label}"
            seconds = {t: statistics.median(getattr(r[step][t], attr) for r in results)
                       for t in TOOLS}
            ratios = {p: statistics.median(
                getattr(r[step][TOOLKIT], attr) / max(getattr(r[step][p], attr), 1e-9)
                for r in results) for p in PEERS}
            body.append([name, *(f"{seconds[t]:.2f}" for t in TOOLS),
                         *(f"{ratios[p]:.2f}x" for p in PEERS)])
    return body


def print_grid(header: list[str], body: list[list[str]]) -> None:
    widths = [max(len(row[i]) for row in [header] + body) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(f"{c:<{w}}" if i == 0 else f"{c:>{w}}"
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

    print(line(header))
    print(line(["-" * w for w in widths]))
    for row in body:
        print(line(row))


def run(args: argparse.Namespace, steps: list[str], workdir: Path) -> int:
    venv = dbt_environment(Path(args.cache).resolve())
    peers_dir = Path(args.peers_dir).resolve()
    size = max(1, args.rows // 100)
    batches = {
        "initial": generate.Batch(0, args.rows),
        "delta": generate.Batch(1, size, new=0.2, repeat=0.3),
        "late": generate.Batch(2, size, late=0.5, correction=0.3, repeat=0.2),
    }
    files = {}
    started = time.perf_counter()
    for name, batch in batches.items():
        if name == "initial" or name in steps:
            files[name] = workdir / f"{name}.csv"
            generate.write(files[name], args.rows, batch)
    files["again"] = files.get("delta")
    print(f"generated the batches in {time.perf_counter() - started:.1f}s (not counted); the "
          f"initial one is {files['initial'].stat().st_size / 2**20:.0f} MiB")

    # the peers' projects, parsed once (not counted) so every run reads dbt's parse cache
    folders, unpacked = {}, []
    for peer in PEERS:
        folders[peer] = workdir / peer
        unpacked += write_dbt_project(peer, folders[peer], peers_dir)
    print(f"peers: {', '.join(unpacked)} on {dbt_versions(venv)} (from {peers_dir}); "
          f"dbt output in {workdir}/<peer>/dbt.log")
    # one database name per tool for the whole run (each round drops and makes it afresh):
    # dbt parses a project again whenever its rendered profile changes
    token = secrets.token_hex(3)
    databases = {name: f"dvpeers_{token}_{name}" for name in TOOLS}
    for peer in PEERS:
        run_dbt(venv, folders[peer], databases[peer], ["parse"], folders[peer] / "dbt.log")
    project = workdir / "toolkit"  # its migration is written here, not into bench/peers
    shutil.copytree(PROJECT, project)
    model = load_project(project).model
    tables = (main_table(model, HUB), main_table(model, SATELLITE))
    print()

    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    results: list[dict[str, dict[str, Measure]]] = []
    warnings: list[str] = []
    try:
        for round_ in range(args.rounds):
            tools = {}
            for name, database in databases.items():
                drop_database(admin, database)
                url = create_database(admin, database)
                tools[name] = Tool(name, database, url, sa.create_engine(url),
                                   folders.get(name))
            if round_ == 0:
                api.migrate_revision(project, "peers bench", url=tools[TOOLKIT].url)
            api.migrate_upgrade(project, url=tools[TOOLKIT].url)
            for peer in PEERS:
                with tools[peer].engine.begin() as connection:
                    connection.exec_driver_sql(SOURCE_DDL)
            order = list(TOOLS[round_ % len(TOOLS):] + TOOLS[:round_ % len(TOOLS)])
            print(f"== round {round_ + 1} of {args.rounds} (tools in the order "
                  f"{', '.join(order)}) ==")
            measured: dict[str, dict[str, Measure]] = {}
            previous = ""
            for step in steps:
                path = files[step]
                measured[step] = {}
                for name in order:
                    tool = tools[name]
                    if name == TOOLKIT:
                        measured[step][name] = load_toolkit(tool, project, path, tables)
                    else:
                        measured[step][name] = load_peer(tool, venv, path,
                                                         folders[name] / "dbt.log")
                print_step(step, path, measured[step], measured.get(previous),
                           round_, warnings)
                previous = step
            results.append(measured)
            for tool in tools.values():
                tool.engine.dispose()
    finally:
        if args.keep:
            print(f"kept the databases of the last round: {', '.join(databases.values())}")
        else:
            for database in databases.values():
                drop_database(admin, database)
        admin.dispose()

    print(f"== medians over {len(results)} round(s): seconds, and toolkit / peer (median of "
          "the per-round ratios; below 1.00x the toolkit is faster) ==")
    print_grid(["step", *(f"{t} s" for t in TOOLS), *(f"{TOOLKIT}/{p}" for p in PEERS)],
               ratio_rows(results, steps))
    print("  whole: the toolkit's load as a process of its own (start-up included); a peer's "
          "COPY plus its `dbt run` process (dbt's start-up included)")
    print("  SQL only: the toolkit's in-process load; a peer's COPY plus the execution_time of "
          "its three models in run_results.json")
    last = results[-1]
    print()
    print("rows after each step (hub / satellite; the toolkit's are exact; * where the "
          "satellite's (order, applied time, payload) rows differ from the toolkit's)")

    def cell(step: str, tool: str) -> str:
        m, exact = last[step][tool], last[step][TOOLKIT]
        return f"{m.hub_rows:,} / {m.sat_rows:,}" + ("*" if m.content != exact.content else "")

    print_grid(["step", *TOOLS], [[STEPS[s], *(cell(s, t) for t in TOOLS)] for s in steps])
    rss = {t: max(r[s][t].rss_mib for r in results for s in steps) for t in TOOLS}
    print("peak RSS of a load's process: " + ", ".join(f"{t} {v:.0f} MiB"
                                                     for t, v in rss.items()))
    for warning in dict.fromkeys(warnings):  # each once, in the order first seen
        print(f"WARN {warning}")
    return 0


def print_step(step: str, path: Path, measured: dict[str, Measure],
               before: dict[str, Measure] | None, round_: int, warnings: list[str]) -> None:
    """The step's figures per tool, and WARN lines (also kept in ``warnings``) where a tool
    did not insert what it should: the toolkit against the batch, a peer against the
    toolkit."""
    rows = sum(1 for _ in path.open(encoding="utf-8")) - 1
    print(f"{STEPS[step]} ({rows:,} rows):")
    toolkit = measured[TOOLKIT]
    for name in TOOLS:
        m = measured[name]
        ratio = "" if name == TOOLKIT else f"; toolkit/{name} {toolkit.whole / m.whole:.2f}x"
        print(f"  {name:<14} {m.whole:7.2f}s whole{ratio}; hub {m.hub_rows:,} rows, satellite "
              f"{m.sat_rows:,} rows; peak RSS {m.rss_mib:.0f} MiB")
        print(f"  {'':<14} {m.parts}")
        for line in m.slowest:
            print(f"  {'':<14} slowest statements of {line}")

    def warn(text: str) -> None:
        warnings.append(text)
        print(f"  WARN round {round_ + 1}: {text}")

    def inserted(tool: str, what: str) -> int:
        attr = "hub_rows" if what == "hub" else "sat_rows"
        return getattr(measured[tool], attr) - (getattr(before[tool], attr) if before else 0)

    if step == "initial" and not toolkit.hub_rows == toolkit.sat_rows == rows:
        warn(f"the toolkit's initial load gave {toolkit.hub_rows:,} hub rows and "
             f"{toolkit.sat_rows:,} satellite rows for a batch of {rows:,} orders")
    if step == "again" and inserted(TOOLKIT, "hub") + inserted(TOOLKIT, "satellite"):
        warn("the toolkit inserted rows when the delta was loaded again (must insert nothing)")
    for peer in PEERS:
        m = measured[peer]
        for what, mine, theirs in (("hub", toolkit.hub_rows, m.hub_rows),
                                   ("satellite", toolkit.sat_rows, m.sat_rows)):
            if mine == theirs:
                continue
            theirs_now, mine_now = inserted(peer, what), inserted(TOOLKIT, what)
            text = (f"{peer}'s {what} holds {theirs:,} rows after \"{STEPS[step]}\", the "
                    f"toolkit's exact answer is {mine:,} ({theirs - mine:+,}); this step "
                    f"inserted {theirs_now:,}, the exact rule {mine_now:,}")
            if step == "late" and theirs_now != mine_now:
                text += ": the peer gets late data wrong"
            warn(text)
        if toolkit.sat_rows == m.sat_rows and toolkit.content != m.content:
            warn(f"{peer}'s satellite holds as many rows as the toolkit's after "
                 f"\"{STEPS[step]}\", but other (order, applied time, payload) rows")
    print(flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000,
                        help="orders of the initial batch; later batches are 1%% of it "
                             "(default 100000)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds, each on fresh databases, tools interleaved (default 3)")
    parser.add_argument("--steps", default="initial,delta,again,late",
                        help="comma-separated steps after the initial load (which always runs "
                             "first): delta, again (needs delta), late")
    parser.add_argument("--peers-dir", default=str(ROOT.parent / "shared" / "peers"),
                        help="folder of the peers' source archives (default ../shared/peers)")
    parser.add_argument("--cache", default=str(ROOT / ".bench"),
                        help="folder for the dbt virtual environment (default .bench)")
    parser.add_argument("--workdir", default=None,
                        help="parent folder of the temporary folder (default: system temp)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the temporary folder (CSV files, projects, dbt logs) and "
                             "the databases")
    args = parser.parse_args(argv)
    if args.rows < 100:
        parser.error("--rows must be at least 100")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    chosen = [s.strip() for s in args.steps.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in STEPS]
    if unknown:
        parser.error(f"unknown step(s) {', '.join(unknown)}; choose from {', '.join(STEPS)}")
    if "again" in chosen and "delta" not in chosen:
        parser.error("the step again loads the delta a second time: choose delta too")
    steps = [s for s in STEPS if s == "initial" or s in chosen]
    size = max(1, args.rows // 100)
    print_machine(["postgresql"], args.rows, None, title="peers", batch=(
        f"{args.rows:,} orders of source {SOURCE} into hub {HUB} and satellite {SATELLITE} "
        f"({len(PAYLOAD)} payload columns), then batches of {size:,} rows: in order (20% new "
        "orders, 30% unchanged, 50% changed), the same again, late (50% mid-history, 30% "
        f"corrections, 20% unchanged); {args.rounds} round(s)"))
    workdir = Path(tempfile.mkdtemp(prefix="dvpeers_", dir=args.workdir))
    try:
        return run(args, steps, workdir)
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
