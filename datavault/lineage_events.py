"""OpenLineage run events of loads (the ``lineage`` extra: ``openlineage-python``).

A load with events on (``datavault load --openlineage``, ``DATAVAULT_OPENLINEAGE=1``, or
``api.load(..., openlineage=True)``) emits a START event before it stages its batch, then
COMPLETE when every entity load succeeded, or FAIL with the error message. Each event names
the job ``load.SOURCE``, the input dataset (a file: namespace ``file``, its absolute path; a
database: its URL without secrets, the table or ``query``; rows given in Python:
``datavault``, ``source.SOURCE``) and, as output datasets, the main table of every entity the
source feeds (namespace: the vault's URL without secrets; name: the table), each with its
schema and its column lineage (``datavault.lineage``: the source columns each column is made
of, and how), and in COMPLETE and FAIL the rows the load wrote to it (the output statistics
facet) and the outcomes of the source's checks at entry, as data quality assertions of the
input.

The client is OpenLineage's own, configured its usual way: ``OPENLINEAGE_CONFIG`` (a YAML
file), ``openlineage.yml`` in the current folder or ``~/.openlineage/``, or
``OPENLINEAGE_URL`` (with ``OPENLINEAGE_API_KEY``); the job namespace is
``OPENLINEAGE_NAMESPACE`` (default ``datavault``).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from datavault import kinds, lineage
from datavault import model as m
from datavault.database import shown_url
from datavault.diagnostics import DatavaultError

_log = logging.getLogger("datavault.lineage_events")
PRODUCER = "https://pypi.org/project/datavault/"
MISSING = ("OpenLineage events need the openlineage-python package: "
           "pip install 'datavault[lineage]'")
#: per derivation, the OpenLineage transformation subtype and whether it masks its inputs
#: (the others: a transformation that does not mask them)
_SUBTYPES = {
    lineage.Derivation.COPIED: ("IDENTITY", False),
    lineage.Derivation.APPLIED_TIME: ("IDENTITY", False),
    lineage.Derivation.HASH_KEY: ("TRANSFORMATION", True),
    lineage.Derivation.HASH_DIFF: ("TRANSFORMATION", True),
    lineage.Derivation.SET_HASH_DIFF: ("TRANSFORMATION", True),
}
#: the deprecated ``transformationType`` of a field, which consumers still read
_TYPES = {("IDENTITY", False): "IDENTITY", ("TRANSFORMATION", True): "MASKED"}


def _client_modules() -> Any:
    try:
        from openlineage.client import OpenLineageClient, event_v2, facet_v2, uuid
    except ImportError:
        raise DatavaultError(MISSING) from None
    return OpenLineageClient, event_v2, facet_v2, uuid


def _vault_namespace(url: sa.URL) -> str:
    """The vault's URL without its driver and its secrets (OpenLineage's dataset namespace)."""
    return shown_url(url.set(drivername=url.get_backend_name()))


def input_dataset(data: object, source: str, table: str | None = None,
                  query: str | None = None) -> tuple[str, str]:
    """(namespace, name) of what a load reads."""
    if isinstance(data, (str, Path)) and str(data) != "-" and "://" not in str(data):
        return "file", str(Path(data).resolve())
    if isinstance(data, str) and "://" in data:
        return (shown_url(data), table or ("query" if query else source))
    return "datavault", f"source.{source}"


class LoadEvents:
    """The events of one load of ``source``: ``start``, then ``complete`` or ``fail``."""

    def __init__(self, model: m.Model, source: str, vault_url: sa.URL,
                 inputs: tuple[str, str], client: Any = None) -> None:
        OpenLineageClient, self._events, self._facets, uuid = _client_modules()
        self.model = model
        self.source = source
        self.client = client if client is not None else OpenLineageClient()
        if getattr(self.client.transport, "kind", None) == "console":
            _log.warning("OpenLineage has no transport configured: its events go to the "
                         "openlineage logger only; set OPENLINEAGE_URL, or OPENLINEAGE_CONFIG "
                         "(a YAML file: transport: {type: http, url: ...} or {type: file, "
                         "log_file_path: ...})")
        self.run_id = str(uuid.generate_new_uuid())
        self.namespace = _vault_namespace(vault_url)
        self.inputs = inputs
        self.job = os.environ.get("OPENLINEAGE_NAMESPACE") or "datavault"
        self._lineage = lineage.lineage(model)
        self._tables = {name: kinds.main_table(model, name)
                        for name in model.entities_of(source)}

    def start(self) -> None:
        self._emit("START", {})

    def complete(self, rows: dict[str, int], checks: Sequence[Any] = ()) -> None:
        """``rows``: per entity, the rows its load wrote; ``checks``: the outcomes of the
        source's checks at entry (``quality.Outcome``)."""
        self._emit("COMPLETE", rows, checks=checks)

    def fail(self, message: str, rows: dict[str, int] | None = None,
             checks: Sequence[Any] = ()) -> None:
        facets = self._facets
        error = facets.error_message_run.ErrorMessageRunFacet(
            message=message, programmingLanguage="python", producer=PRODUCER)
        self._emit("FAIL", rows or {}, {"errorMessage": error}, checks)

    def _assertions(self, checks: Sequence[Any]) -> Any:
        """The checks at entry as OpenLineage's data quality assertions of the input: a
        row check that quarantined rows, or a batch check that warned or stopped, is not a
        success; a skipped one is left out (it judged nothing)."""
        dq = self._facets.data_quality_assertions_dataset
        return dq.DataQualityAssertionsDatasetFacet(assertions=[
            dq.Assertion(assertion=o.check.test, name=o.check.name,
                         success=o.status == "pass",
                         column=o.check.columns[0] if len(o.check.columns) == 1 else None,
                         severity=("error" if o.check.severity == "stop" and not
                                   o.check.per_row else "warn"),
                         expected=o.expected, actual=o.value if o.rows is None
                         else str(o.rows))
            for o in checks if o.status != "skip"], producer=PRODUCER)

    def _emit(self, state: str, rows: dict[str, int], run_facets: dict | None = None,
              checks: Sequence[Any] = ()) -> None:
        events, facets = self._events, self._facets
        source_ns, source_name = self.inputs
        source_columns = self.model.sources[self.source].columns
        schema_facet = facets.schema_dataset.SchemaDatasetFacet
        field = facets.schema_dataset.SchemaDatasetFacetFields
        input_facets = {}
        if checks:
            input_facets["dataQualityAssertions"] = self._assertions(checks)
        inputs = [events.InputDataset(source_ns, source_name, facets={
            "schema": schema_facet(fields=[field(name=c.name, type=c.type)
                                           for c in source_columns], producer=PRODUCER)},
            inputFacets=input_facets)]
        outputs = []
        for entity, table in self._tables.items():
            columns = self._lineage.table(table)
            dataset_facets = {
                "schema": schema_facet(fields=[field(name=c.ref.column, type=c.type)
                                               for c in columns], producer=PRODUCER),
                "columnLineage": self._column_lineage(columns),
            }
            output_facets = {}
            if state != "START":  # what the load wrote: nothing, where it did not run
                output_facets["outputStatistics"] = (
                    facets.output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
                        rowCount=rows.get(entity, 0), producer=PRODUCER))
            outputs.append(events.OutputDataset(self.namespace, table, facets=dataset_facets,
                                                outputFacets=output_facets))
        event = events.RunEvent(
            eventType=getattr(events.RunState, state),
            eventTime=dt.datetime.now(dt.UTC).isoformat(),
            run=events.Run(runId=self.run_id, facets=run_facets or {}),
            job=events.Job(namespace=self.job, name=f"load.{self.source}"),
            producer=PRODUCER, inputs=inputs, outputs=outputs)
        self.client.emit(event)

    def _column_lineage(self, columns: list[lineage.ColumnLineage]) -> Any:
        cl = self._facets.column_lineage_dataset
        source_ns, source_name = self.inputs
        fields = {}
        for column in columns:
            mine = [ref for ref in column.inputs
                    if ref.owner == self.source and ref.table == self.source]
            if not mine:
                continue
            subtype, masking = _SUBTYPES.get(column.derivation, ("TRANSFORMATION", False))
            change = cl.Transformation(type="DIRECT", subtype=subtype,
                                       description=column.derivation, masking=masking)
            fields[column.ref.column] = cl.Fields(
                inputFields=[cl.InputField(source_ns, source_name, ref.column,
                                           transformations=[change]) for ref in mine],
                transformationDescription=column.derivation,
                transformationType=_TYPES.get((subtype, masking)))
        return cl.ColumnLineageDatasetFacet(fields=fields, producer=PRODUCER)


def written(result: Any) -> dict[str, int]:
    """Per entity, the rows a load result says it wrote (inserted and deletions)."""
    return {e.entity: e.rows_inserted + e.rows_deleted for e in result.entities}


@contextmanager
def around_load(model: m.Model, source: str, vault_url: sa.URL,
                inputs: tuple[str, str]) -> Iterator[LoadEvents]:
    """START before the block; FAIL when it raises (the error goes on). The block calls
    ``complete`` or ``fail`` by the load's result."""
    events = LoadEvents(model, source, vault_url, inputs)
    events.start()
    try:
        yield events
    except BaseException as exc:
        events.fail(str(exc) or type(exc).__name__)
        raise

