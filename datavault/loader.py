"""Stage a batch and run every hub, link and satellite load it feeds, each in a transaction.

The loader never reads YAML: it is given a validated model, an engine and its dialect.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa

from datavault import model as m
from datavault import schema, values
from datavault.diagnostics import DatavaultError, did_you_mean
from datavault.dialects import Dialect
from datavault.inputs import CHUNK, BatchInput
from datavault.render import Renderer

Progress = Callable[..., None]
ONE_MICROSECOND = dt.timedelta(microseconds=1)


@dataclass
class EntityResult:
    """What one entity load did (one audit row)."""

    entity: str
    kind: str
    rows_staged: int
    rows_inserted: int = 0
    rows_quarantined: int = 0
    seconds: float = 0.0
    status: str = "ok"
    message: str = ""


@dataclass
class LoadResult:
    """What a whole batch load did."""

    batch_id: int
    source: str
    loaded_at: dt.datetime
    rows_read: int = 0
    rows_staged: int = 0
    rows_quarantined: int = 0
    stage_seconds: float = 0.0
    #: how the batch was read: "copy" (the database read a plain CSV file) or "parser"
    read_by: str = "parser"
    entities: list[EntityResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(e.status == "ok" for e in self.entities)


def _noop(*_args: object, **_kwargs: object) -> None:
    pass


class Loader:
    """Loads batches of one model into one database."""

    def __init__(self, model: m.Model, engine: sa.Engine, dialect: Dialect, renderer: Renderer):
        self.model = model
        self.engine = engine
        self.dialect = dialect
        self.renderer = renderer
        self.metadata = schema.metadata_for(model)
        #: let the database read plain CSV files itself where the dialect can (COPY)
        self.copy_plain_csv = True

    # ---- public -------------------------------------------------------------------------
    def load(self, source_name: str, batch: BatchInput, applied_at: dt.datetime | None = None,
             only: Sequence[str] = (), progress: Progress = _noop) -> LoadResult:
        """Stage ``batch`` for ``source_name`` and load every entity it feeds (or ``only``)."""
        source = self._source(source_name)
        entities = self._entities(source, only)
        result = self.stage(source_name, batch, applied_at, progress)
        batches = self.metadata.tables[schema.BATCH_TABLE]
        try:
            for entity in entities:
                entity_result = self.load_entity(source, entity, result)
                result.entities.append(entity_result)
                progress("entity", result=entity_result)
        except BaseException:  # interrupted: the batch is over, not still loading
            with self.engine.begin() as connection:
                connection.execute(batches.update().where(
                    batches.c.batch_id == result.batch_id).values(status="failed"))
            raise
        with self.engine.begin() as connection:
            connection.execute(
                batches.update().where(batches.c.batch_id == result.batch_id)
                .values(status="loaded" if result.ok else "failed")
            )
        return result

    def stage(self, source_name: str, batch: BatchInput, applied_at: dt.datetime | None = None,
              progress: Progress = _noop) -> LoadResult:
        """Give ``batch`` a batch id and load time, and stage it with hashes (no entity loads)."""
        source = self._source(source_name)
        if applied_at is not None and source.applied_at:
            raise DatavaultError(
                f"source {source.name} takes its applied time from column {source.applied_at}; "
                "--applied-at is for sources without one"
            )
        chunks = batch.chunks()
        header = next(chunks)
        positions = self._positions(source, header, batch.description)
        result = self._new_batch(source, batch.description, applied_at)
        progress("batch", batch_id=result.batch_id, loaded_at=result.loaded_at)
        started = time.perf_counter()
        try:
            self._stage(source, result, batch, chunks, positions, applied_at, header, progress)
        except BaseException:
            with self.engine.begin() as connection:
                batches = self.metadata.tables[schema.BATCH_TABLE]
                connection.execute(batches.update().where(
                    batches.c.batch_id == result.batch_id).values(status="failed"))
            raise
        result.stage_seconds = time.perf_counter() - started
        progress("staged", rows=result.rows_staged, quarantined=result.rows_quarantined,
                 seconds=result.stage_seconds)
        return result

    def load_entity(self, source: m.Source, entity: str, batch: LoadResult) -> EntityResult:
        """Run one entity's load statements against the staged batch, with its audit row."""
        kind = self.model.entity_kind(entity) or "?"
        outcome = EntityResult(entity, kind, batch.rows_staged)
        started_at = values.utcnow()
        clock = time.perf_counter()
        statements = self.renderer.load(source, entity).statements()
        try:
            with self.engine.begin() as connection:
                if kind == "satellite":
                    self._check_order(connection, entity, batch)
                for statement in statements:
                    count = connection.exec_driver_sql(statement.sql).rowcount
                    if statement.tag == "inserted":
                        outcome.rows_inserted += max(count, 0)
                    elif statement.tag == "quarantined":
                        outcome.rows_quarantined += max(count, 0)
                outcome.seconds = time.perf_counter() - clock
                self._audit(connection, source, batch, outcome, started_at)
        except sa.exc.DBAPIError as exc:
            outcome.status = "failed"
            outcome.rows_inserted = outcome.rows_quarantined = 0
            outcome.message = str(exc.orig or exc).strip().splitlines()[0]
            outcome.seconds = time.perf_counter() - clock
            with self.engine.begin() as connection:
                self._audit(connection, source, batch, outcome, started_at)
        except DatavaultError as exc:
            outcome.status = "failed"
            outcome.message = str(exc)
            with self.engine.begin() as connection:
                self._audit(connection, source, batch, outcome, started_at)
        if outcome.status == "ok" and outcome.rows_inserted:
            try:  # statistics only guide the planner: the load is done without them
                with self.engine.begin() as connection:
                    self.dialect.refresh_statistics(connection, self.model.entity_table(entity),
                                                    outcome.rows_inserted)
            except sa.exc.DBAPIError:
                pass
        return outcome

    # ---- steps --------------------------------------------------------------------------
    def _source(self, name: str) -> m.Source:
        if name not in self.model.sources:
            raise DatavaultError(
                f"unknown source {name!r}; "
                + (did_you_mean(name, self.model.sources) or "see models/sources/")
            )
        return self.model.sources[name]

    def _entities(self, source: m.Source, only: Sequence[str]) -> list[str]:
        fed = self.model.entities_of(source.name)
        for name in only:
            if name not in fed:
                hint = did_you_mean(name, fed)
                raise DatavaultError(
                    f"--only {name}: source {source.name} does not feed {name!r}"
                    + (f"; {hint}" if hint else f"; it feeds {', '.join(fed)}")
                )
        return [e for e in fed if not only or e in only]

    def _positions(self, source: m.Source, header: list[str], shown: str) -> list[int]:
        missing = [c.name for c in source.columns if c.name not in header]
        if missing:
            raise DatavaultError(
                f"{shown} lacks column(s) {', '.join(missing)} of source {source.name}; "
                f"it has: {', '.join(header)}"
            )
        return [header.index(c.name) for c in source.columns]

    def _new_batch(self, source: m.Source, description: str,
                   applied_at: dt.datetime | None) -> LoadResult:
        batches = self.metadata.tables[schema.BATCH_TABLE]
        with self.engine.begin() as connection:
            lock = self.dialect.lock_table(schema.BATCH_TABLE)
            if lock:  # concurrent loads must not share a batch id or a load time
                connection.exec_driver_sql(lock)
            last_id, last_at = connection.execute(
                sa.select(sa.func.max(batches.c.batch_id), sa.func.max(batches.c.loaded_at))
            ).one()
            loaded_at = values.utcnow()
            if last_at is not None and loaded_at <= last_at:
                loaded_at = last_at + ONE_MICROSECOND
            batch_id = (last_id or 0) + 1
            connection.execute(batches.insert().values(
                batch_id=batch_id, source=source.name, input=description, loaded_at=loaded_at,
                applied_at=applied_at, status="staging",
            ))
        return LoadResult(batch_id, source.name, loaded_at)

    def _stage(self, source: m.Source, result: LoadResult, batch: BatchInput, chunks,
               positions: list[int], applied_at: dt.datetime | None, header: list[str],
               progress: Progress) -> None:
        land = schema.landing_table(source)
        parse = _RowParser(source, positions, header, batch.typed, result.batch_id)
        with self.engine.connect() as connection:
            with connection.begin():
                land.drop(connection, checkfirst=True)
                land.create(connection)
                raw = self._copy_plain_csv(connection, source, batch, header, progress)
                if raw is not None:
                    chunks.close()
                    result.rows_read = raw[1]
                    result.read_by = "copy"
                    rendered = self.renderer.stage(source, raw_width=len(header),
                                                   positions=positions)
                else:
                    for chunk in chunks:
                        self._land(connection, land, parse, chunk, result)
                        progress("read", rows=result.rows_read)
                    rendered = self.renderer.stage(source)
                stamp = values.timestamp_text(result.loaded_at)
                params = {
                    "batch_id": result.batch_id,
                    "loaded_at": stamp,
                    "applied_at": values.timestamp_text(applied_at) if applied_at else stamp,
                }
                for statement in rendered.statements():
                    if statement.tag == "parse":  # rows SQL did not read: the parser's turn
                        rows = connection.execute(sa.text(statement.sql).execution_options(
                            stream_results=True, yield_per=CHUNK))
                        for part in rows.partitions():
                            # an empty field of a plain CSV file is '' to the parser
                            texts = [[r[0]] + ["" if v is None else v for v in r[1:]]
                                     for r in part]
                            self._land(connection, land, parse, texts, result, numbered=True)
                    else:
                        connection.execute(sa.text(statement.sql), params)
                land.drop(connection)
                if raw is not None:
                    raw[0].drop(connection)
                result.rows_staged = result.rows_read - result.rows_quarantined
                stage = self.metadata.tables[self.model.stage_table(source.name)]
                snapshot_at = connection.execute(
                    sa.select(sa.func.max(stage.c.dv_applied_at))).scalar()
                batches = self.metadata.tables[schema.BATCH_TABLE]
                connection.execute(
                    batches.update().where(batches.c.batch_id == result.batch_id).values(
                        rows_read=result.rows_read, rows_staged=result.rows_staged,
                        rows_quarantined=result.rows_quarantined, status="staged",
                        # a snapshot's time: its latest applied time (empty: the batch's)
                        snapshot_at=snapshot_at or applied_at or result.loaded_at,
                    )
                )

    def _copy_plain_csv(self, connection: sa.Connection, source: m.Source, batch: BatchInput,
                        header: list[str], progress: Progress) -> tuple[sa.Table, int] | None:
        """Let the database read a plain CSV file itself (COPY) into a text table.

        None when it cannot: no COPY on this engine, a file that is not plain, or one the
        database refuses (a row with the wrong number of fields, a NUL byte, bad UTF-8). The
        batch then goes through the parser, which names each bad row.
        """
        if not (self.copy_plain_csv and self.dialect.supports_copy and batch.plain_csv()):
            return None
        assert batch.path is not None
        raw = schema.raw_table(source, len(header))
        savepoint = connection.begin_nested()
        try:
            raw.create(connection)
            with batch.path.open("rb") as handle:
                handle.readline()  # the header (a plain file has no line break inside a field)
                count = self.dialect.copy_csv(
                    connection, raw.name, [f"c{i}" for i in range(len(header))], handle)
        except (sa.exc.DBAPIError, connection.dialect.loaded_dbapi.Error):
            savepoint.rollback()
            return None
        savepoint.commit()
        progress("read", rows=count)
        return raw, count

    def _land(self, connection: sa.Connection, land: sa.Table, parse: _RowParser,
              rows: list, result: LoadResult, numbered: bool = False) -> None:
        """Parse source rows into the landing table; rows that do not parse are quarantined.
        ``numbered``: each row starts with its row number (else rows are counted on)."""
        good: list[list[object]] = []
        bad: list[dict] = []
        for raw in rows:
            if numbered:
                number, raw = raw[0], raw[1:]
            else:
                result.rows_read += 1
                number = result.rows_read
            parsed, problem = parse(number, raw)
            if problem is None:
                good.append(parsed)
            else:
                bad.append(problem)
        self.dialect.bulk_insert(connection, land.name, parse.columns, parse.types, good)
        if bad:
            connection.execute(self.metadata.tables[schema.QUARANTINE_TABLE].insert(), bad)
        result.rows_quarantined += len(bad)

    def _check_order(self, connection: sa.Connection, entity: str, batch: LoadResult) -> None:
        """A satellite must never receive a batch older than one it already holds."""
        audit = self.metadata.tables[schema.AUDIT_TABLE]
        batches = self.metadata.tables[schema.BATCH_TABLE]
        newest = connection.execute(
            sa.select(sa.func.max(batches.c.loaded_at))
            .select_from(audit.join(batches, audit.c.batch_id == batches.c.batch_id))
            .where(audit.c.entity == entity, audit.c.status == "ok")
        ).scalar()
        if newest is not None and newest > batch.loaded_at:
            raise DatavaultError(
                f"{entity} already holds a batch loaded at {newest}, after batch "
                f"{batch.batch_id}; load the source again to give it a new load time"
            )

    def _audit(self, connection: sa.Connection, source: m.Source, batch: LoadResult,
               outcome: EntityResult, started_at: dt.datetime) -> None:
        audit = self.metadata.tables[schema.AUDIT_TABLE]
        connection.execute(audit.insert().values(
            batch_id=batch.batch_id, entity=outcome.entity, started_at=started_at,
            source=source.name, kind=outcome.kind, rows_staged=outcome.rows_staged,
            rows_inserted=outcome.rows_inserted, rows_quarantined=outcome.rows_quarantined,
            finished_at=values.utcnow(), status=outcome.status, message=outcome.message or None,
        ))


class _RowParser:
    """One source row to its landing values (row number, applied time, typed columns), or to
    its quarantine row with every problem it has."""

    def __init__(self, source: m.Source, positions: list[int], header: list[str], typed: bool,
                 batch_id: int) -> None:
        self.source = source
        self.positions = positions
        self.header = header
        self.typed = typed
        self.batch_id = batch_id
        self.convert = values.coerce if typed else values.parse
        self.col_types = [c.type for c in source.columns]
        self.names = [c.name for c in source.columns]
        self.columns = ["dv_row", "dv_applied_at"] + self.names
        self.types = ["integer", "timestamp"] + self.col_types
        self.applied_index = (self.names.index(source.applied_at) if source.applied_at
                              else None)

    def __call__(self, number: int, raw) -> tuple[list[object], dict | None]:
        parsed: list[object] = [number, None]
        problems = []
        if not self.typed and len(raw) != len(self.header):
            problems.append(f"the row has {len(raw)} fields, the header {len(self.header)}")
        for position, type_name, name in zip(self.positions, self.col_types, self.names):
            text = raw[position] if position < len(raw) else None
            try:
                parsed.append(self.convert(text, type_name))
            except values.ParseError as exc:
                problems.append(f"{name}: {exc}")
                parsed.append(None)
        if self.applied_index is not None and not problems:
            value = parsed[2 + self.applied_index]
            if value is None:
                problems.append(f"{self.source.applied_at}: the applied time is empty")
            elif not isinstance(value, dt.datetime):
                value = dt.datetime(value.year, value.month, value.day)
            parsed[1] = value
        if not problems:
            return parsed, None
        return parsed, {
            "batch_id": self.batch_id, "entity": "", "row_number": number,
            "source": self.source.name, "reason": "; ".join(problems),
            "data": json.dumps(dict(zip(self.header, map(_jsonable, raw))), ensure_ascii=False),
        }


def _jsonable(value: object) -> object:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)
