"""An Airflow DAG for a project (the extra ``datavault[airflow]``, Airflow 3), as
``datavault plan`` lays it out.

Each source has a task group ``load_SOURCE`` whose task ``load`` loads every new file of the
source's input in name order (``runs.py``; a file already loaded is skipped, so each run loads
what landed since the last). Each mart has a task ``build_MART`` after the task groups of the
sources it reads. A task's return value, its XCom, says what it did (batch ids, rows,
quarantined rows; for a mart its snapshots, rows and batches). A load whose batch is not
loaded fails the task, and its retries (2 by default) are safe: the next load of the source
finishes the unfinished batch first. Sources that share a load lock may still run at once:
the loader makes one wait for the other.
"""

from __future__ import annotations

import datetime as dt
import logging
from functools import partial
from pathlib import Path

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG, TaskGroup

from datavault import api
from datavault.integrations import runs

log = logging.getLogger(__name__)


def build_dag(project_dir: Path | str, inputs: runs.Inputs = runs.DEFAULT_INPUT, *,
              dag_id: str = "datavault", url: str | None = None, profile: str | None = None,
              retries: int = 2, retry_delay: dt.timedelta = dt.timedelta(seconds=30),
              **dag_options) -> DAG:
    """The DAG of the project at ``project_dir``: a task group per source load, a task per
    mart after the loads of the sources it reads.

    ``inputs``: each source's folder or file pattern (relative to the project), as a mapping
    of source to folder or pattern, or one pattern for all with ``{source}`` in it (default
    ``data/{source}_*``). ``url`` / ``profile`` choose the database as on the command line
    (default: the project's, or ``DATAVAULT_URL``). ``dag_options`` go to ``DAG`` (e.g.
    ``schedule="@hourly"``, ``start_date``); without them the DAG runs when triggered.
    Raises a DatavaultError for a project that does not validate or a source without an
    input."""
    project_dir = Path(project_dir).resolve()  # workers may run in another folder
    plan = api.plan(project_dir)
    patterns = runs.check_inputs(plan, inputs)
    # bound to the tasks' functions, not among their arguments, which Airflow stores and
    # shows as rendered fields: a URL may hold a password
    load, build_mart = (partial(function, url=url, profile=profile)
                        for function in (_load, _build))
    default_args = {"retries": retries, "retry_delay": retry_delay,
                    **dag_options.pop("default_args", {})}
    dag_options.setdefault("schedule", None)
    with DAG(dag_id, default_args=default_args, **dag_options) as dag:
        groups = {}
        for step in plan.loads:
            with TaskGroup(f"load_{step.target}",
                           tooltip=f"loads {', '.join(step.entities)}") as group:
                PythonOperator(task_id="load", python_callable=load,
                               op_args=[str(project_dir), step.target, patterns[step.target]])
            groups[step.target] = group
        for step in plan.builds:
            build = PythonOperator(task_id=f"build_{step.target}", python_callable=build_mart,
                                   op_args=[str(project_dir), step.target])
            for source in step.sources:
                groups[source] >> build
    return dag


def _load(project_dir: str, source: str, pattern: str, *, url: str | None,
          profile: str | None) -> dict:
    """A load task: its summary is the task's XCom; its lines go to the task's log. (No
    ``**kwargs``: Airflow would pass the task's context in them.)"""
    return runs.load_source(project_dir, source, pattern, url=url, profile=profile,
                            log=log.info)


def _build(project_dir: str, mart: str, *, url: str | None, profile: str | None) -> dict:
    """A mart's task: what the build did is the task's XCom."""
    return runs.build_mart(project_dir, mart, url=url, profile=profile, log=log.info)
