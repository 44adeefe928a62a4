"""Dagster assets for a project (the extra ``datavault[dagster]``): one asset per load of a
source and one per mart, as ``datavault plan`` lays them out.

The asset of a load is the *load of a source* (``datavault/load/SOURCE``), not a hub: several
sources feed one hub, and each is its own asset. Materializing it loads every file of the
source's input in name order (``runs.py``): a file already loaded is skipped, so the asset
is materialized as often as new files land (on a schedule or a sensor). A mart's asset
(``datavault/mart/MART``) depends on the load assets of the sources it reads. Each
materialization records what it did as metadata (files, batch ids, rows, quarantined rows;
for a mart its snapshots, rows and batches). A load whose batch is not loaded raises, and the
asset's retry policy runs it again, which finishes the unfinished batch first. Every load
asset's ``pool`` is its load lock (``datavault_load_SOURCE``, or one pool for sources that
share a lock): a pool limit of 1 keeps a run from starting loads that would only wait.
"""

# no `from __future__ import annotations`: Dagster reads the type of `context` at run time
from pathlib import Path

import dagster as dg
from dagster import AssetExecutionContext, MaterializeResult

from datavault import api
from datavault.integrations import runs
from datavault.plan import Step

#: retries of a failed step unless told otherwise: safe, as a retry resumes what was left
DEFAULT_RETRY = dg.RetryPolicy(max_retries=2, delay=30)


def load_key(source: str, prefix: tuple[str, ...] = ("datavault",)) -> dg.AssetKey:
    """The asset key of a source's load: ``datavault/load/SOURCE``."""
    return dg.AssetKey([*prefix, "load", source])


def mart_key(mart: str, prefix: tuple[str, ...] = ("datavault",)) -> dg.AssetKey:
    """The asset key of a mart: ``datavault/mart/MART``."""
    return dg.AssetKey([*prefix, "mart", mart])


def build_assets(project_dir: Path | str, inputs: runs.Inputs = runs.DEFAULT_INPUT, *,
                 url: str | None = None, profile: str | None = None,
                 key_prefix: tuple[str, ...] = ("datavault",), group_name: str = "datavault",
                 retry_policy: dg.RetryPolicy | None = DEFAULT_RETRY
                 ) -> list[dg.AssetsDefinition]:
    """An asset per source load and per mart of the project at ``project_dir``.

    ``inputs``: each source's folder or file pattern (relative to the project), as a mapping
    of source to folder or pattern, or one pattern for all with ``{source}`` in it (default
    ``data/{source}_*``). ``url`` / ``profile`` choose the database as on the command line
    (default: the project's, or ``DATAVAULT_URL``). Raises a DatavaultError for a project
    that does not validate or a source without an input."""
    project_dir = Path(project_dir).resolve()  # workers may run in another folder
    plan = api.plan(project_dir)
    patterns = runs.check_inputs(plan, inputs)
    assets = [_load_asset(project_dir, step, patterns[step.target], url, profile, key_prefix,
                          group_name, retry_policy) for step in plan.loads]
    assets += [_mart_asset(project_dir, step, url, profile, key_prefix, group_name,
                           retry_policy) for step in plan.builds]
    return assets


def build_definitions(project_dir: Path | str, inputs: runs.Inputs = runs.DEFAULT_INPUT,
                      **options) -> dg.Definitions:
    """``build_assets`` as a code location's Definitions, with a job that materializes
    them all (``datavault``)."""
    assets = build_assets(project_dir, inputs, **options)
    job = dg.define_asset_job("datavault", selection=dg.AssetSelection.assets(*assets))
    return dg.Definitions(assets=assets, jobs=[job])


def _load_asset(project_dir: Path | str, step: Step, pattern: str, url: str | None,
                profile: str | None, prefix: tuple[str, ...], group: str,
                retry: dg.RetryPolicy | None) -> dg.AssetsDefinition:
    source = step.target

    @dg.asset(key=load_key(source, prefix), group_name=group, retry_policy=retry,
              pool="datavault_load_" + "__".join(step.lock), kinds={"datavault"},
              description=f"Loads each new file of {pattern} into {', '.join(step.entities)}.",
              metadata={"input": pattern, "entities": dg.MetadataValue.json(list(step.entities))})
    def load(context: AssetExecutionContext) -> MaterializeResult:
        summary = runs.load_source(project_dir, source, pattern, url=url, profile=profile,
                                   log=context.log.info)
        return MaterializeResult(metadata=_metadata(summary))

    return load


def _mart_asset(project_dir: Path | str, step: Step, url: str | None, profile: str | None,
                prefix: tuple[str, ...], group: str,
                retry: dg.RetryPolicy | None) -> dg.AssetsDefinition:
    mart = step.target

    @dg.asset(key=mart_key(mart, prefix), group_name=group, retry_policy=retry,
              deps=[load_key(source, prefix) for source in step.sources], kinds={"datavault"},
              description=f"Builds or refreshes mart {mart} over {', '.join(step.entities)}.")
    def build(context: AssetExecutionContext) -> MaterializeResult:
        result = runs.build_mart(project_dir, mart, url=url, profile=profile,
                                 log=context.log.info)
        return MaterializeResult(metadata=_metadata(result))

    return build


def _metadata(summary: dict) -> dict:
    """A summary as Dagster metadata: lists as JSON, no value as null."""
    return {key: dg.MetadataValue.json(value) if isinstance(value, list)
            else dg.MetadataValue.null() if value is None else value
            for key, value in summary.items()}

