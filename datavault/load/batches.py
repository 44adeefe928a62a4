"""The batch ledger (``dv_batch``): every batch's identity, input, state and counts.

A batch is created under its source's load lock (the dialect's: an advisory lock on
PostgreSQL, a lock file beside an SQLite database), which its loader holds until the batch is
over. So a batch in a state that says work is under way while nobody holds that lock was
interrupted, and the next load of its source (or ``load --resume``) finishes it.

States, in order:

- ``staging``: the batch has an id and a load time; its rows are being staged (one
  transaction: interrupted, nothing of it is staged);
- ``staged``: its rows are in the staging table with their hashes; no entity load ran yet;
- ``loading``: its entity loads are running, each in a transaction of its own;
- ``loaded``: every entity load succeeded; its staged rows are removed;
- ``partly loaded``: an entity load failed; the staged rows are kept, and ``--resume`` runs
  the entity loads that have not succeeded;
- ``failed``: nothing of it is left to load: staging failed or was interrupted, or its
  staged rows were lost before its entity loads were done (a migration made the staging
  table again), which ``--resume`` reports rather than loading too few rows, or the
  mass-delete check refused it (a snapshot that would delete too many keys; its staged rows
  are removed).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from datavault import schema, values
from datavault.database import mask_urls, redact
from datavault.dialects import Dialect

STAGING = schema.BATCH_STAGING
STAGED = schema.BATCH_STAGED
LOADING = schema.BATCH_LOADING
LOADED = schema.BATCH_LOADED
PARTLY = schema.BATCH_PARTLY
FAILED = schema.BATCH_FAILED
STATES = (STAGING, STAGED, LOADING, LOADED, PARTLY, FAILED)
#: work on the batch is under way (or was, when its loader was stopped)
UNDER_WAY = (STAGING, STAGED, LOADING)
#: its staged rows are kept and some entity loads have not succeeded
RESUMABLE = (STAGED, LOADING, PARTLY)
#: the vault may hold part of it: readers answer as known before it
UNFINISHED = schema.BATCH_UNFINISHED
ONE_MICROSECOND = dt.timedelta(microseconds=1)


@dataclass
class Batch:
    """One row of the ledger."""

    batch_id: int
    source: str
    input: str
    loaded_at: dt.datetime
    status: str
    applied_at: dt.datetime | None = None
    snapshot_at: dt.datetime | None = None
    rows_read: int | None = None
    rows_staged: int | None = None
    rows_quarantined: int | None = None
    checksum: str | None = None
    input_bytes: int | None = None
    entities: tuple[str, ...] = ()
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    message: str | None = None

    @property
    def resumable(self) -> bool:
        return self.status in RESUMABLE



class Ledger:
    """Reads and writes ``dv_batch``."""

    def __init__(self, engine: sa.Engine, dialect: Dialect, metadata: sa.MetaData):
        self.engine = engine
        self.dialect = dialect
        self.table = metadata.tables[schema.BATCH_TABLE]
        self.audit = metadata.tables[schema.AUDIT_TABLE]

    def _batch(self, row: sa.Row) -> Batch:
        data = row._mapping
        return Batch(
            batch_id=data["batch_id"], source=data["source"], input=_redacted(data["input"]),
            loaded_at=values.read_timestamp(data["loaded_at"]), status=data["status"],  # type: ignore[arg-type]
            applied_at=values.read_timestamp(data["applied_at"]),
            snapshot_at=values.read_timestamp(data["snapshot_at"]), rows_read=data["rows_read"],
            rows_staged=data["rows_staged"], rows_quarantined=data["rows_quarantined"],
            checksum=data["checksum"], input_bytes=data["input_bytes"],
            entities=tuple(e for e in (data["entities"] or "").split(",") if e),
            started_at=values.read_timestamp(data["started_at"]),
            finished_at=values.read_timestamp(data["finished_at"]),
            message=_redacted(data["message"]))

    # ---- writing ------------------------------------------------------------------------
    def create(self, source: str, description: str, entities: Sequence[str],
               applied_at: dt.datetime | None, fingerprint: tuple[str, int] | None) -> Batch:
        """A new batch in state ``staging``: the next id and a load time later than every
        batch's, assigned under a lock so that concurrent loads never share either. The
        ``description`` of its input is stored with any secret in it masked."""
        description = mask_urls(description)
        t = self.table
        with self.engine.begin() as connection:
            self.dialect.serialize_writers(connection, schema.BATCH_TABLE)
            last_id, last_at = connection.execute(
                sa.select(sa.func.max(t.c.batch_id), sa.func.max(t.c.loaded_at))).one()
            loaded_at = values.utcnow()
            last_at = values.read_timestamp(last_at)
            if last_at is not None and loaded_at <= last_at:
                loaded_at = last_at + ONE_MICROSECOND
            batch = Batch(
                batch_id=(last_id or 0) + 1, source=source, input=description,
                loaded_at=loaded_at, status=STAGING, applied_at=applied_at,
                checksum=fingerprint[0] if fingerprint else None,
                input_bytes=fingerprint[1] if fingerprint else None,
                entities=tuple(entities), started_at=values.utcnow())
            connection.execute(t.insert().values(
                batch_id=batch.batch_id, source=source, input=description,
                loaded_at=loaded_at, applied_at=applied_at, status=STAGING,
                checksum=batch.checksum, input_bytes=batch.input_bytes,
                entities=",".join(entities), started_at=batch.started_at))
        return batch

    def update(self, batch_id: int, connection: sa.Connection | None = None,
               **changes: object) -> None:
        """Change a batch's row, in ``connection``'s transaction or in one of its own (a
        message with any secret in it masked)."""
        if isinstance(changes.get("message"), str):
            changes["message"] = redact(changes["message"])  # type: ignore[arg-type]
        statement = self.table.update().where(self.table.c.batch_id == batch_id).values(
            **changes)
        if connection is not None:
            connection.execute(statement)
            return
        with self.engine.begin() as own:
            own.execute(statement)

    # ---- reading ------------------------------------------------------------------------
    def get(self, batch_id: int) -> Batch | None:
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(self.table).where(self.table.c.batch_id == batch_id)).first()
        return None if row is None else self._batch(row)

    def unfinished(self, source: str | None = None) -> list[Batch]:
        """Batches that may still change (oldest first), of one source or of all."""
        query = sa.select(self.table).where(self.table.c.status.in_(UNFINISHED))
        if source is not None:
            query = query.where(self.table.c.source == source)
        with self.engine.connect() as connection:
            return [self._batch(r) for r in connection.execute(
                query.order_by(self.table.c.batch_id))]

    def loaded_copy(self, source: str, checksum: str, entities: Sequence[str]) -> Batch | None:
        """The latest batch of ``source`` loaded from an input with this checksum into at
        least ``entities``."""
        t = self.table
        with self.engine.connect() as connection:
            rows = connection.execute(sa.select(t).where(
                t.c.source == source, t.c.checksum == checksum, t.c.status == LOADED)
                .order_by(t.c.batch_id.desc()))
            for row in rows:
                batch = self._batch(row)
                if set(entities) <= set(batch.entities):
                    return batch
        return None

    def listing(self, source: str | None = None, status: str | None = None,
                limit: int | None = None) -> list[Batch]:
        """Batches, newest first."""
        query = sa.select(self.table)
        if source is not None:
            query = query.where(self.table.c.source == source)
        if status is not None:
            query = query.where(self.table.c.status == status)
        query = query.order_by(self.table.c.batch_id.desc())
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as connection:
            return [self._batch(r) for r in connection.execute(query)]

    def succeeded(self, batch_id: int) -> set[str]:
        """The entities whose load of this batch succeeded."""
        a = self.audit
        with self.engine.connect() as connection:
            return {r[0] for r in connection.execute(
                sa.select(a.c.entity).where(a.c.batch_id == batch_id, a.c.status == "ok"))}


def _redacted(text: str | None) -> str | None:
    """A text of the ledger as shown: a row written before secrets were masked shows none."""
    return None if text is None else mask_urls(text)
