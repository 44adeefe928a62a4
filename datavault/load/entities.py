"""Entity loads: one hub, link or satellite loaded from one staged batch, in one transaction,
with its audit row (``dv_load_audit``). A failed load leaves nothing of itself behind: its
transaction rolls back, or, on an engine without transactions (``Dialect.transactions``),
the rows an earlier attempt of it wrote are removed before it runs again (every row it writes
carries its batch: ``batch_id``, or in a log the batch's load time)."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

import sqlalchemy as sa

from datavault import model as m
from datavault import schema, values
from datavault.database import redact
from datavault.diagnostics import DatavaultError
from datavault.dialects import Dialect
from datavault.kinds import KINDS
from datavault.load.batches import Batch
from datavault.render import Renderer


@dataclass
class EntityResult:
    """What one entity load did (one audit row)."""

    entity: str
    kind: str
    rows_staged: int
    #: rows inserted with a payload (a satellite's deletions are in ``rows_deleted``)
    rows_inserted: int = 0
    rows_quarantined: int = 0
    #: satellite rows inserted that record a deletion (the all-zero hash diff, no payload)
    rows_deleted: int = 0
    seconds: float = 0.0
    status: str = "ok"
    message: str = ""


class EntityLoads:
    """Runs the load statements of entities against staged batches."""

    def __init__(self, model: m.Model, engine: sa.Engine, dialect: Dialect, renderer: Renderer):
        self.model = model
        self.engine = engine
        self.dialect = dialect
        self.renderer = renderer
        self.metadata = schema.metadata_for(model)

    def run(self, source: m.Source, entity: str, batch: Batch) -> EntityResult:
        """Load ``entity`` from the rows of ``batch``; its audit row says how it went."""
        kind = self.model.entity_kind(entity) or "?"
        outcome = EntityResult(entity, kind, batch.rows_staged or 0)
        started_at = values.utcnow()
        clock = time.perf_counter()
        # rendered once per entity and source, for any batch: the batch is a parameter
        statements = self.renderer.load(source, entity).statements()
        params = {"batch_id": batch.batch_id}
        tables = (KINDS[kind].table_names(self.model.settings.naming, entity)
                  if kind in KINDS else [])
        try:
            if not self.dialect.transactions:
                self._undo_attempt(entity, batch, tables)
            empty: list[str] = []
            if (batch.rows_staged or 0) >= self.dialect.bulk_rows:
                with self.engine.connect() as connection:
                    # a large first load fills its tables, then builds their indexes
                    empty = self.dialect.empty_tables(connection, tables)
            with self.engine.begin() as connection:
                with self.dialect.without_indexes(connection, empty):
                    if kind in KINDS and (KINDS[kind].keeps_history or KINDS[kind].in_load_order):
                        if KINDS[kind].in_load_order:  # its other sources' batches wait for this
                            self.dialect.serialize_writers(connection, tables[0])
                        self._check_order(connection, entity, batch)
                    uncounted = False
                    guards: dict[str, bool] = {}  # answers of the guards of a run of statements
                    for statement in statements:
                        if not statement.guard:
                            guards.clear()  # what a guard reads may have changed
                        elif statement.guard not in guards:
                            guards[statement.guard] = connection.execute(
                                sa.text(statement.guard), params).first() is not None
                        if statement.guard and not guards[statement.guard]:
                            continue  # it would change nothing
                        count = statement.execute(connection, params).rowcount
                        uncounted |= count < 0 and statement.tag is not None
                        if statement.tag == "inserted":
                            outcome.rows_inserted += max(count, 0)
                        elif statement.tag == "deleted":
                            outcome.rows_deleted += max(count, 0)
                        elif statement.tag == "quarantined":
                            outcome.rows_quarantined += max(count, 0)
                    if uncounted:  # the engine does not say: the rows are counted
                        self._count_written(connection, entity, batch, tables, outcome)
                outcome.seconds = time.perf_counter() - clock
                self._audit(connection, source, batch, outcome, started_at)
        except sa.exc.DBAPIError as exc:
            outcome.status = "failed"
            outcome.rows_inserted = outcome.rows_quarantined = outcome.rows_deleted = 0
            outcome.message = redact(str(exc.orig or exc).strip().splitlines()[0])
            outcome.seconds = time.perf_counter() - clock
            with self.engine.begin() as connection:
                self._audit(connection, source, batch, outcome, started_at)
        except DatavaultError as exc:
            outcome.status = "failed"
            outcome.message = redact(str(exc))
            with self.engine.begin() as connection:
                self._audit(connection, source, batch, outcome, started_at)
        written = outcome.rows_inserted + outcome.rows_deleted
        if outcome.status == "ok" and written:
            try:  # statistics only guide the planner: the load is done without them
                with self.engine.begin() as connection:
                    table = KINDS[kind].table_names(self.model.settings.naming, entity)[0]
                    self.dialect.refresh_statistics(connection, table, written)
            except sa.exc.DBAPIError:
                pass
        return outcome

    def _batch_rows(self, table: sa.Table, batch: Batch) -> sa.ColumnElement[bool] | None:
        """The condition on ``table``'s rows that an entity load of ``batch`` wrote (None:
        the table records no batch)."""
        if "batch_id" in table.c:
            return table.c.batch_id == batch.batch_id
        if "load_ts" in table.c:  # a log: the batch's load time, which no other batch has
            return table.c.load_ts == batch.loaded_at
        return None

    def _undo_attempt(self, entity: str, batch: Batch, tables: list[str]) -> None:
        """Remove what an earlier attempt of this entity load wrote (it failed, or its
        process was stopped, partway): in its tables, the rows of ``batch``; in the
        quarantine, the batch's rows of the entity. So the load runs on the vault as it was
        before the batch, and ends as one run would have."""
        quarantine = self.metadata.tables[schema.QUARANTINE_TABLE]
        written = [(quarantine, sa.and_(quarantine.c.batch_id == batch.batch_id,
                                        quarantine.c.entity == entity))]
        for name in tables:
            table = self.metadata.tables[name]
            condition = self._batch_rows(table, batch)
            if condition is not None:
                written.append((table, condition))
        with self.engine.begin() as connection:
            # one question first: most attempts are the first, with nothing to remove
            if connection.execute(sa.union_all(*(
                    sa.select(sa.literal(1)).select_from(table).where(condition)
                    for table, condition in written)).limit(1)).first() is None:
                return
            for table, condition in written:
                connection.execute(table.delete().where(condition))

    def _count_written(self, connection: sa.Connection, entity: str, batch: Batch,
                       tables: list[str], outcome: EntityResult) -> None:
        """Count what the load wrote, where the engine does not say how many rows a
        statement wrote: the rows of ``batch`` in the entity's tables that keep a batch id
        (those whose hash diff is the zero one are deletions), and its quarantined rows."""
        deleted_hd = sa.literal_column(self.dialect.zero_key(self.model.settings.hash))
        inserted = deleted = 0
        for name in tables:
            table = self.metadata.tables[name]
            if "batch_id" not in table.c:
                continue  # a log: its observations are no rows of the entity
            is_deletion = (sa.case((table.c.hash_diff == deleted_hd, 1), else_=0)
                           if "hash_diff" in table.c else sa.literal(0))
            rows, deletions = connection.execute(
                sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(is_deletion), 0))
                .where(table.c.batch_id == batch.batch_id)).one()
            inserted += rows - deletions
            deleted += deletions
        quarantine = self.metadata.tables[schema.QUARANTINE_TABLE]
        outcome.rows_inserted, outcome.rows_deleted = inserted, deleted
        outcome.rows_quarantined = connection.execute(
            sa.select(sa.func.count()).select_from(quarantine).where(
                quarantine.c.batch_id == batch.batch_id, quarantine.c.entity == entity)
        ).scalar() or 0

    def _check_order(self, connection: sa.Connection, entity: str, batch: Batch) -> None:
        """A satellite takes the batches of its source in load-time order (and so does a
        kind ``in_load_order``, those of all its sources): it refuses a batch older than one
        it already holds, and a batch while an earlier one of those sources that has not
        finished has yet to load it (the earlier one would be refused for ever)."""
        audit = self.metadata.tables[schema.AUDIT_TABLE]
        batches = self.metadata.tables[schema.BATCH_TABLE]
        loaded = sa.select(audit.c.batch_id).where(
            audit.c.batch_id == batches.c.batch_id, audit.c.entity == entity,
            audit.c.status == "ok")
        sources = [s for s in self.model.sources if self.model.entities[entity].fed_by(s)]
        waiting = connection.execute(
            sa.select(batches.c.batch_id, batches.c.source, batches.c.status,
                      batches.c.entities)
            .where(batches.c.source.in_(sources), batches.c.batch_id < batch.batch_id,
                   batches.c.status.in_(schema.BATCH_UNFINISHED), ~loaded.exists())
            .order_by(batches.c.batch_id)).all()
        for batch_id, source, status, entities in waiting:
            if not entities or entity in entities.split(","):
                raise DatavaultError(
                    f"{entity} must load batch {batch_id} of {source} ({status}) before "
                    f"batch {batch.batch_id}: finish it first (`datavault load --resume "
                    f"{batch_id}`), then load batch {batch.batch_id}'s {entity}"
                )
        newest = connection.execute(
            sa.select(sa.func.max(batches.c.loaded_at))
            .select_from(audit.join(batches, audit.c.batch_id == batches.c.batch_id))
            .where(audit.c.entity == entity, audit.c.status == "ok")
        ).scalar()
        if newest is not None and values.read_timestamp(newest) > batch.loaded_at:
            raise DatavaultError(
                f"{entity} already holds a batch loaded at {newest}, after batch "
                f"{batch.batch_id}; load the source again to give it a new load time"
            )

    def _audit(self, connection: sa.Connection, source: m.Source, batch: Batch,
               outcome: EntityResult, started_at: dt.datetime) -> None:
        audit = self.metadata.tables[schema.AUDIT_TABLE]
        connection.execute(audit.insert().values(
            batch_id=batch.batch_id, entity=outcome.entity, started_at=started_at,
            source=source.name, kind=outcome.kind, rows_staged=outcome.rows_staged,
            rows_inserted=outcome.rows_inserted, rows_quarantined=outcome.rows_quarantined,
            rows_deleted=outcome.rows_deleted,
            finished_at=values.utcnow(), status=outcome.status, message=outcome.message or None,
        ))

