"""A project opened against its database, for many questions and loads.

``connect`` reads the project once, makes one engine and reads what the database records of
its schema once (``schemacheck``); each method then checks only the tables it touches, from
what was read, and reuses the engine's pooled connections. The functions of ``datavault.api``
(one per command) open a ``Vault``, call one method and close it.

A session keeps the model it read: after a change of the YAML or a migration, open a new one.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from datavault import database, marts, query, schema, schemacheck
from datavault.diagnostics import DatavaultError, did_you_mean
from datavault.dialects import Dialect
from datavault.load import (
    STATES,
    Batch,
    BatchInput,
    CheckRun,
    Loader,
    LoadResult,
    Progress,
    arrow_input,
    open_input,
)
from datavault.load.batches import UNDER_WAY
from datavault.metadata import load_project
from datavault.metadata.project import Project
from datavault.render import Renderer

MIGRATIONS = "migrations"


@dataclass
class BatchState:
    """A batch of the ledger, and for one under way whether its loader is still at work."""

    batch: Batch
    running: bool | None  # None: not under way

    @property
    def state(self) -> str:
        """The state for people: an interrupted batch says so."""
        if self.running is False:
            return f"{self.batch.status} (interrupted)"
        return self.batch.status


class Vault:
    """A project and its database: every command of the toolkit as a method.

    Use it as a context manager (or call ``close``)::

        with api.connect("my_vault", url="postgresql://...") as vault:
            vault.load("crm_customers", "my_vault/data/crm_customers_2026-01-01.csv")
            vault.query_state("customer", ["C002"])
    """

    def __init__(self, project: Project, engine: sa.Engine, dialect: Dialect):
        self.project = project
        self.model = project.model
        self.engine = engine
        self.dialect = dialect
        self.renderer = Renderer(self.model, dialect, project.root / "templates")
        self.loader = Loader(self.model, engine, dialect, self.renderer)
        self.schema = schemacheck.SchemaCheck(self.model, engine, project.root / MIGRATIONS)

    # ---- the session --------------------------------------------------------------------
    def close(self) -> None:
        """Close the engine's connections."""
        self.engine.dispose()

    def __enter__(self) -> Vault:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def check(self) -> None:
        """Raise DatavaultError, saying what to run, unless every table and contract item of
        the model is as the database records it (``datavault migrate check`` compares every
        table in full)."""
        self.schema.require(schemacheck.model_scope(self.model))

    # ---- loads --------------------------------------------------------------------------
    def load(self, source: str, data: object, *,
             applied_at: dt.datetime | None = None, only: Sequence[str] = (),
             table: str | None = None, query: str | None = None, force: bool = False,
             allow_mass_delete: bool = False, progress: Progress | None = None) -> LoadResult:
        """Stage one batch of ``source`` and load what it feeds. ``data``: a file's path (CSV,
        Parquet or JSON Lines, compressed or not; ``-`` for standard input), a database URL
        (with ``table`` or ``query``), a pyarrow Table or pandas DataFrame, or a
        ``BatchInput``. A file identical to one already loaded for ``source`` is skipped
        unless ``force``; a snapshot that would delete more than the source allows is
        refused unless ``allow_mass_delete``."""
        if source not in self.model.sources:  # before the input: its name is the mistake
            raise DatavaultError(f"unknown source {source!r}; " + (
                did_you_mean(source, self.model.sources) or "see models/sources/"))
        if isinstance(data, BatchInput):
            batch = data
        elif isinstance(data, (str, Path)):
            batch = open_input(str(data), table=table, query=query, default_table=source)
        else:
            batch = arrow_input(data)
        self.schema.require(schemacheck.source_scope(self.model, source))
        return self.loader.load(source, batch, applied_at=applied_at, only=only, force=force,
                                allow_mass_delete=allow_mass_delete, **_progress(progress))

    def resume(self, batch_id: int, *, progress: Progress | None = None,
               allow_mass_delete: bool = False) -> LoadResult:
        """Run the entity loads of a batch that have not succeeded, from its staged rows (a
        batch none of whose loads has begun is checked for mass deletion, as in ``load``)."""
        self.schema.require(schemacheck.table_scope("the batch ledger", schema.BATCH_TABLE))
        batch = self.loader.ledger.get(batch_id)
        if batch is not None and batch.source in self.model.sources:
            self.schema.require(schemacheck.source_scope(self.model, batch.source))
        return self.loader.resume(batch_id, allow_mass_delete=allow_mass_delete,
                                  **_progress(progress))

    def batches(self, *, source: str | None = None, status: str | None = None,
                limit: int | None = 50) -> list[BatchState]:
        """The batches in the ledger, newest first, each with whether a load is working on
        it now (a batch under way that no loader holds was interrupted)."""
        if source is not None and source not in self.model.sources:
            raise DatavaultError(f"unknown source {source!r}")
        if status is not None and status not in STATES:
            raise DatavaultError(f"unknown state {status!r}; the states are {', '.join(STATES)}")
        self.schema.require(schemacheck.table_scope("the batch ledger", schema.BATCH_TABLE))
        running: dict[str, bool] = {}
        result = []
        for batch in self.loader.ledger.listing(source, status, limit):
            alive = None
            if batch.status in UNDER_WAY:
                if batch.source not in running:
                    running[batch.source] = self.loader.is_running(batch.source)
                alive = running[batch.source]
            result.append(BatchState(batch, alive))
        return result

    # ---- questions ----------------------------------------------------------------------
    def query_state(self, entity: str, keys: Sequence[str] = (), *,
                    at: dt.datetime | None = None,
                    known_at: dt.datetime | int | None = None) -> query.Answer:
        """The state of keys (default: all) of a satellite, hub or link at applied time
        ``at`` as known at load time ``known_at`` (a load time or a batch id; default: before
        the first batch that has not finished)."""
        self.schema.require(schemacheck.entity_scope(self.model, entity))
        with self.engine.connect() as connection:
            return query.state(connection, self.model, entity, list(keys) or None, at=at,
                               known_at=known_at, kept=self.schema.kept)

    def history(self, entity: str, keys: Sequence[str] = (), *,
                known_at: dt.datetime | int | None = None) -> query.Answer:
        """Every version of keys of a satellite, hub or link, with both time axes, as known
        at ``known_at`` (as in ``query_state``)."""
        self.schema.require(schemacheck.entity_scope(self.model, entity))
        with self.engine.connect() as connection:
            return query.history(connection, self.model, entity, list(keys) or None,
                                 known_at=known_at, kept=self.schema.kept)

    def quarantined(self, *, batch: int | None = None,
                    source: str | None = None) -> query.Answer:
        """Rows that were not loaded, with the batch, source, entity, row number, reason and
        the row's values (``data``: a dict of column to value, or None)."""
        if source is not None and source not in self.model.sources:
            raise DatavaultError(f"unknown source {source!r}")
        self.schema.require(schemacheck.table_scope("the quarantine", schema.QUARANTINE_TABLE))
        table = schema.metadata_for(self.model).tables[schema.QUARANTINE_TABLE]
        select = sa.select(table.c.batch_id.label("batch"), table.c.source,
                           table.c.entity, table.c.row_number.label("row"), table.c.reason,
                           table.c.data)
        if batch is not None:
            select = select.where(table.c.batch_id == batch)
        if source is not None:
            select = select.where(table.c.source == source)
        with self.engine.connect() as connection:
            result = connection.execute(select.order_by(table.c.batch_id, table.c.row_number,
                                                        table.c.entity))
            return query.Answer(list(result.keys()),
                                [(*r[:-1], _row_data(r[-1])) for r in result])

    def checks(self, *, batch: int | None = None, source: str | None = None,
               limit: int | None = None) -> list[CheckRun]:
        """The recorded runs of the sources' checks (SEMANTICS.md section 11): of one batch,
        of one source, or of the ``limit`` newest batches with any; newest batch first."""
        if source is not None and source not in self.model.sources:
            raise DatavaultError(f"unknown source {source!r}; " + (
                did_you_mean(source, self.model.sources) or "see models/sources/"))
        if not any(s.checks for s in self.model.sources.values()):
            raise DatavaultError("no source of the project declares checks: they go under "
                                 "checks: in models/sources/SOURCE.yml (see `datavault "
                                 "checks --help`)")
        self.schema.require(schemacheck.table_scope("the check results", schema.CHECK_TABLE))
        return self.loader.checks.runs(batch=batch, source=source, limit=limit)

    # ---- marts --------------------------------------------------------------------------
    def build_marts(self, names: Sequence[str] = (), *, full: bool = False,
                    today: dt.date | None = None,
                    progress: Callable[[marts.MartResult], Any] | None = None,
                    ) -> tuple[list[marts.MartResult], list[str]]:
        """Refresh the marts named (default: all) after loads, or rebuild them with ``full``.

        Returns what each did, and the marts dropped because the model no longer declares
        them. ``today`` ends the spines that have no ``to:`` (default: the current UTC
        date). A mart whose tables do not match the model is not built: the others are, and
        then DatavaultError says which and what to run."""
        builder = marts.MartBuilder(self.model, self.engine, self.renderer)
        self.schema.require(schemacheck.table_scope("the batch ledger", schema.BATCH_TABLE))
        dropped = builder.drop_stale() if not names else []
        if not names:  # the views of same-as links read what a query of the link reads
            for link in (n for n, lk in self.model.links.items() if lk.same_as):
                self.schema.require(schemacheck.entity_scope(self.model, link))
            builder.resolution_views()
        if not self.model.marts and (dropped or any(lk.same_as for lk in
                                                    self.model.links.values())):
            return [], dropped
        results, refused = [], []
        for mart in builder.select(list(names)):
            problem = self.schema.problem(schemacheck.mart_scope(self.model, mart))
            if problem:
                refused.append(problem)
                continue
            result = builder.build(mart, full=full, today=today)
            if progress:
                progress(result)
            results.append(result)
        if refused:
            built = f" (the others were built: {', '.join(r.mart for r in results)})" \
                if results else ""
            raise DatavaultError(f"{refused[0]}{built}")
        return results, dropped


def _row_data(text: str | None) -> dict | None:
    """A quarantined row's values as stored (JSON text), as a dict; a number with a fraction
    is a Decimal, so none of its digits is lost."""
    return None if text is None else json.loads(text, parse_float=Decimal)


def _progress(progress: Progress | None) -> dict[str, Progress]:
    return {"progress": progress} if progress else {}


def connect(project_dir: Path | str = ".", url: str | None = None,
            profile: str | None = None) -> Vault:
    """Read and validate a project, connect to its database (``url``, else
    ``DATAVAULT_URL``, else the profile, else the project's SQLite file) and read what it
    records of its schema: a ``Vault`` for many commands."""
    project = load_project(project_dir)
    resolved = database.resolve_url(project.root, project.model.settings, url, profile)
    database.vault_dialect(resolved)
    engine, dialect = database.connect(resolved)
    try:
        return Vault(project, engine, dialect)
    except BaseException:
        engine.dispose()
        raise
