"""Orchestrators run a project's plan: the steps' inputs, Dagster assets materialized in
process, and an Airflow DAG run by ``dag.test()`` in a process of its own (Airflow reads its
home and metadata database from the environment when it is imported). Each test runs on the
example project (`datavault init`) and asserts on the vault afterwards."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from datavault import api
from datavault.diagnostics import DatavaultError
from datavault.integrations import runs
from datavault.load.inputs import open_input
from tests.conftest import IN_CI, migrated, need_postgres

SOURCES = ("crm_customers", "crm_phones", "shop_orders")
README = Path(__file__).resolve().parent.parent / "README.md"
MARTS = ("customer_orders", "customers", "orders")
EXAMPLE_FILES = {"crm_customers": 4, "crm_phones": 3, "shop_orders": 2}


def need(module: str) -> None:
    """Skip where an orchestrator is not installed, except under CI where that fails."""
    if importlib.util.find_spec(module) is not None:
        return
    problem = f"{module} is not installed (pip install 'datavault[{module}]')"
    if IN_CI:
        pytest.fail(f"CI must run the {module} tests; {problem}")
    pytest.skip(problem)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The example project, as `datavault init` writes it, its SQLite vault migrated."""
    monkeypatch.delenv("DATAVAULT_URL", raising=False)
    root = api.init_project(tmp_path / "vault")
    api.migrate_upgrade(root)
    return root


def _states(root: Path, url: str | None = None) -> dict[str, list[str]]:
    """Each source's batches' states, oldest first."""
    found: dict[str, list[str]] = {}
    for state in reversed(api.batches(root, url=url)):
        found.setdefault(state.batch.source, []).append(state.state)
    return found


def readme_example(call: str, project: Path) -> str:
    """The Python example of README's *Orchestrators* that calls ``call``, for the project
    at ``project`` instead of ``my_vault``."""
    section = README.read_text(encoding="utf-8").split("## Orchestrators\n", 1)[1]
    section = section.split("\n## ", 1)[0]
    [code] = [block.split("\n", 1)[1] for block in section.split("```")[1::2]
              if block.startswith("python") and f"{call}(" in block]
    assert f'{call}("my_vault"' in code
    return code.replace(f'{call}("my_vault"', f"{call}({str(project)!r}")


# ---- inputs -------------------------------------------------------------------------------
def test_an_input_is_a_pattern_for_all_a_mapping_or_a_folder(tmp_path: Path) -> None:
    plan = api.plan(Path(__file__).resolve().parent.parent)
    assert runs.check_inputs(plan, "landing/{source}/*.csv")["crm_phones"] == \
        "landing/crm_phones/*.csv"
    inputs = {s: f"in/{s}" for s in SOURCES}
    assert runs.check_inputs(plan, inputs) == inputs
    with pytest.raises(DatavaultError, match="no input for sources crm_phones, shop_orders"):
        runs.check_inputs(plan, {"crm_customers": "in"})
    with pytest.raises(DatavaultError, match="inputs for unknown source crm_customer;"):
        runs.check_inputs(plan, {**inputs, "crm_customer": "in"})
    # a folder: every file in it but hidden ones, in name order; a pattern, relative to the
    # project, recursive with **
    folder = tmp_path / "in" / "x"
    folder.mkdir(parents=True)
    for name in ("b.csv", "a.csv", ".partial.csv", "c.txt"):
        (folder / name).write_text("id\n", encoding="utf-8")
    (folder / "deeper").mkdir()
    (folder / "deeper" / "d.csv").write_text("id\n", encoding="utf-8")
    assert [p.name for p in runs.input_files(tmp_path, "in/x")] == ["a.csv", "b.csv", "c.txt"]
    assert [p.name for p in runs.input_files(tmp_path, "in/x/*.csv")] == ["a.csv", "b.csv"]
    assert [p.name for p in runs.input_files(tmp_path, "in/**/*.csv")] == \
        ["a.csv", "b.csv", "d.csv"]
    assert [p.name for p in runs.input_files(tmp_path, str(folder / "a*"))] == ["a.csv"]
    assert runs.input_files(tmp_path, "nothing/*") == []


def test_a_load_step_loads_new_files_in_name_order_and_skips_loaded_ones(project: Path) -> None:
    first = runs.load_source(project, "crm_customers", "data/crm_customers_*")
    assert (first["files"], first["loaded"], first["skipped"]) == (4, 4, 0)
    assert first["batches"] == [1, 2, 3, 4]
    inputs = [b.batch.input for b in reversed(api.batches(project))]
    assert [Path(i).name for i in inputs] == sorted(Path(i).name for i in inputs)
    again = runs.load_source(project, "crm_customers", "data/crm_customers_*")
    assert (again["loaded"], again["skipped"], again["batches"]) == (0, 4, [])
    assert runs.load_source(project, "crm_phones", "nothing/*")["files"] == 0


def test_a_batch_not_loaded_fails_the_step_and_stops_before_later_files(project: Path) -> None:
    """A snapshot that would delete most customers is refused: the step raises with the
    batch and what to do, and the file after it waits."""
    runs.load_source(project, "crm_customers", "data/crm_customers_2026-01-01.csv")
    landing = project / "landing"
    landing.mkdir()
    (landing / "1.csv").write_text("customer_id,name,email,city,extracted_at\n"
                                   "C001,A,a@x,L,2026-04-01T06:00:00\n", encoding="utf-8")
    (landing / "2.csv").write_bytes((project / "data" / "crm_customers_2026-03-01.csv")
                                    .read_bytes())
    with pytest.raises(runs.StepFailed, match=r"batch 2 of crm_customers .*1\.csv\) is failed"):
        runs.load_source(project, "crm_customers", "landing")
    assert _states(project) == {"crm_customers": ["loaded", "failed"]}
    # a retry is refused again (a failed batch is no loaded copy of its file)
    with pytest.raises(runs.StepFailed, match="batch 3 of crm_customers"):
        runs.load_source(project, "crm_customers", "landing")
    assert _states(project) == {"crm_customers": ["loaded", "failed", "failed"]}


# ---- Dagster --------------------------------------------------------------------------------
def _materialize(assets, **options):
    import dagster as dg

    return dg.materialize(assets, instance=dg.DagsterInstance.ephemeral(), **options)


def test_dagster_assets_load_every_source_then_build_the_marts(project: Path) -> None:
    need("dagster")
    import dagster as dg

    from datavault.integrations.dagster import build_assets, load_key, mart_key

    assets = build_assets(project)
    graph = {key: set(a.asset_deps[key]) for a in assets for key in a.keys}
    loads = {load_key(s) for s in SOURCES}
    assert set(graph) == loads | {mart_key(m) for m in MARTS}
    assert all(graph[key] == set() for key in loads)
    assert graph[mart_key("orders")] == {load_key("shop_orders")}
    assert graph[mart_key("customers")] == loads
    assert graph[dg.AssetKey(["datavault", "load", "shop_orders"])] == set()

    result = _materialize(assets)
    assert result.success
    metadata = {e.asset_key: e.materialization.metadata
                for e in result.get_asset_materialization_events()}
    for source, files in EXAMPLE_FILES.items():
        assert metadata[load_key(source)]["loaded"].value == files
    for source in SOURCES:  # every row the quarantine holds of the source
        assert metadata[load_key(source)]["rows_quarantined"].value == len(
            api.quarantined(project, source=source).rows)
    assert metadata[load_key("shop_orders")]["rows_quarantined"].value > 0
    batches = [b.batch.batch_id for b in api.batches(project)]
    assert metadata[mart_key("customers")]["upto_batch"].value == max(batches)
    assert _states(project) == {s: ["loaded"] * n for s, n in EXAMPLE_FILES.items()}
    bob = api.query_history(project, "customer_details", ["C002"]).records()
    assert [r["email"] for r in bob] == ["bob@example.com", "bob.stone@example.com",
                                         "bob@example.com"]

    # the next run loads nothing new: every file is skipped, no batch is added
    import dagster as dg

    example: dict = {}
    exec(readme_example("build_definitions", project), example)
    job = example["defs"].resolve_job_def("datavault")
    again = job.execute_in_process(instance=dg.DagsterInstance.ephemeral())
    assert again.success
    assert [b.batch.batch_id for b in api.batches(project)] == batches
    skipped = {e.asset_key: e.materialization.metadata["skipped"].value
               for e in again.get_asset_materialization_events()
               if e.asset_key in loads}
    assert skipped == {load_key(s): n for s, n in EXAMPLE_FILES.items()}


def test_a_dagster_retry_finishes_the_batch_a_stopped_run_left(project: Path) -> None:
    """A run stopped after staging a batch: materializing the source's load again finishes
    that batch first (the ledger's), then loads the files after it."""
    need("dagster")
    from datavault.integrations.dagster import build_assets, load_key

    first = str(project / "data" / "shop_orders_2026-03-02.csv")
    with api.connect(project) as vault:
        staged = vault.loader.stage("shop_orders", open_input(first))
    assert _states(project) == {"shop_orders": ["staged (interrupted)"]}
    assets = [a for a in build_assets(project, retry_policy=None)
              if load_key("shop_orders") in a.keys]
    result = _materialize(assets)
    assert result.success
    [event] = result.get_asset_materialization_events()
    metadata = event.materialization.metadata
    assert metadata["batches"].value == [staged.batch_id, staged.batch_id + 1]
    assert _states(project) == {"shop_orders": ["loaded", "loaded"]}
    assert len(api.query_state(project, "order_status").rows) == 2  # O-1001, O-1002


def test_a_failed_dagster_load_fails_its_asset_and_the_marts_after_it(project: Path) -> None:
    need("dagster")
    from datavault.integrations.dagster import build_assets, load_key, mart_key

    bad = project / "bad"
    bad.mkdir()
    (bad / "orders.csv").write_text("order_id\nO-1\n", encoding="utf-8")
    assets = build_assets(project, {"crm_customers": "data/crm_customers_*",
                                    "crm_phones": "data/crm_phones_*", "shop_orders": "bad"},
                          retry_policy=None)
    result = _materialize(assets, raise_on_error=False)
    assert not result.success
    done = {e.asset_key for e in result.get_asset_materialization_events()}
    assert done == {load_key("crm_customers"), load_key("crm_phones")}  # no mart: each reads
    assert mart_key("orders") not in done  # shop_orders
    failed = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert len(failed) == 1 and "shop_orders" in failed[0].step_key
    assert "shop_orders" not in _states(project)


def test_dagster_assets_on_postgresql(project: Path, pg_url: str) -> None:
    need("dagster")
    need_postgres()
    from datavault.integrations.dagster import build_assets

    url = migrated(project, pg_url)
    assert _materialize(build_assets(project, url=url)).success
    assert _states(project, url) == {s: ["loaded"] * n for s, n in EXAMPLE_FILES.items()}


# ---- Airflow --------------------------------------------------------------------------------
# what the test adds to README's DAG file: the DAG's shape, then the state of dag.test()'s run
DAG_REPORT = """
    import json
    print("TASKS", json.dumps({t.task_id: sorted(t.upstream_task_ids) for t in dag.tasks}))
    print("RETRIES", json.dumps(sorted({t.retries for t in dag.tasks})))
    print("STATE", dag.test().state)
"""


def _airflow(home: Path, *args: str) -> subprocess.CompletedProcess:
    """Airflow in a process of its own, its home and metadata database in ``home``."""
    env = {**os.environ, "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags")}
    env.pop("DATAVAULT_URL", None)
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def test_an_airflow_dag_loads_every_source_then_builds_the_marts(project: Path,
                                                                 tmp_path: Path) -> None:
    need("airflow")
    home = tmp_path / "airflow"
    (home / "dags").mkdir(parents=True)
    dag_file = home / "dags" / "my_vault.py"
    code = readme_example("build_dag", project)
    assert code.endswith("    dag.test()  # one run in this process: python dags/my_vault.py\n")
    code = code.rsplit("    dag.test()", 1)[0] + DAG_REPORT
    dag_file.write_text(code, encoding="utf-8")
    _airflow(home, str(Path(sys.executable).parent / "airflow"), "db", "migrate")
    out = _airflow(home, sys.executable, str(dag_file)).stdout
    lines = {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in out.splitlines()
             if line.split(" ", 1)[0] in ("TASKS", "RETRIES", "STATE")}
    tasks = json.loads(lines["TASKS"])
    assert {t for t in tasks if t.endswith(".load")} == {f"load_{s}.load" for s in SOURCES}
    assert tasks["build_orders"] == ["load_shop_orders.load"]
    assert tasks["build_customers"] == sorted(f"load_{s}.load" for s in SOURCES)
    assert json.loads(lines["RETRIES"]) == [3]
    assert lines["STATE"] == "success"
    assert _states(project) == {s: ["loaded"] * n for s, n in EXAMPLE_FILES.items()}
    built = api.build_marts(project)[0]
    assert all(r.touched == 0 for r in built), "the DAG built every mart already"


RETRIED_DAG = """\
import datetime as dt
import shutil
from pathlib import Path

from datavault.integrations.airflow import build_dag

LANDING = Path({landing!r})


def fix_the_file(context):
    # between the tries: someone replaces the broken file with the right one
    shutil.copyfile(LANDING.parent / "data" / "shop_orders_2026-03-05.csv", LANDING / "2.csv")


dag = build_dag({project!r}, inputs={{"crm_customers": "data/crm_customers_*",
                                      "crm_phones": "data/crm_phones_*",
                                      "shop_orders": "landing"}},
                dag_id="retried", retries=1, retry_delay=dt.timedelta(0),
                default_args={{"on_retry_callback": fix_the_file}})

if __name__ == "__main__":
    run = dag.test()
    print("STATE", run.state)
    for ti in sorted(run.get_task_instances(), key=lambda ti: ti.task_id):
        print("TRIES", ti.task_id, ti.try_number, ti.state)
"""


def test_a_failed_airflow_load_is_retried_and_the_retry_loads_only_what_is_left(
    project: Path, tmp_path: Path
) -> None:
    """A load task fails at a broken file after loading the file before it; Airflow retries
    it, and the retry skips the file already loaded and loads the fixed one: each file is one
    batch, and the marts run once the load has succeeded."""
    need("airflow")
    landing = project / "landing"
    landing.mkdir()
    (landing / "1.csv").write_bytes((project / "data" / "shop_orders_2026-03-02.csv")
                                    .read_bytes())
    (landing / "2.csv").write_text("order_id\nO-1\n", encoding="utf-8")
    home = tmp_path / "airflow"
    (home / "dags").mkdir(parents=True)
    dag_file = home / "dags" / "retried.py"
    dag_file.write_text(RETRIED_DAG.format(project=str(project), landing=str(landing)),
                        encoding="utf-8")
    _airflow(home, str(Path(sys.executable).parent / "airflow"), "db", "migrate")
    out = _airflow(home, sys.executable, str(dag_file)).stdout
    assert "STATE success" in out.splitlines(), out[-3000:]
    tries = {line.split()[1]: line.split()[2:] for line in out.splitlines()
             if line.startswith("TRIES ")}
    assert tries["load_shop_orders.load"] == ["2", "success"]
    assert tries["build_orders"] == ["1", "success"]
    assert _states(project)["shop_orders"] == ["loaded", "loaded"]
    assert len(api.query_state(project, "order_status").rows) == 2  # O-1001, O-1002


def test_airflow_dag_definition_needs_an_input_for_every_source(tmp_path: Path) -> None:
    """A DAG file with a source left out fails when Airflow parses it, naming the source."""
    need("airflow")
    home = tmp_path / "airflow"
    (home / "dags").mkdir(parents=True)
    script = home / "dags" / "broken.py"
    script.write_text(textwrap.dedent(f"""\
        from datavault.diagnostics import DatavaultError
        from datavault.integrations.airflow import build_dag
        try:
            build_dag({str(Path(__file__).resolve().parent.parent)!r},
                      inputs={{"crm_customers": "data"}})
        except DatavaultError as exc:
            print("ERROR", exc)
        """), encoding="utf-8")
    out = _airflow(home, sys.executable, str(script)).stdout
    assert "ERROR no input for sources crm_phones, shop_orders" in out
