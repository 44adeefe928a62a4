"""Staging: a batch's rows landed, typed and hashed into its source's staging table.

One transaction per batch: it lands the rows (bad ones quarantined with their reasons),
inserts them into ``stg_SOURCE`` under the batch's id with every hash key and hash diff, and
marks the batch ``staged``. Interrupted, it leaves nothing staged.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from datavault import model as m
from datavault import schema, values
from datavault.dialects import Dialect
from datavault.load.batches import STAGED, Batch, Ledger
from datavault.load.checks import Checks
from datavault.load.inputs import BLOCK, CHUNK, ReadAgain, Reader, Rejected, read_ahead
from datavault.quality import Outcome
from datavault.render import Renderer, Statement

Progress = Callable[..., None]


class Stager:
    """Stages batches of one model into one database."""

    def __init__(self, model: m.Model, engine: sa.Engine, dialect: Dialect, renderer: Renderer,
                 ledger: Ledger, checks: Checks):
        self.model = model
        self.checks = checks
        self.engine = engine
        self.dialect = dialect
        self.renderer = renderer
        self.ledger = ledger
        self.metadata = schema.metadata_for(model)
        #: let the database type the text of a batch itself where the dialect can (COPY
        #: into a text table, then SQL); else every value goes through the parser
        self.copy_text = True

    def stage(self, source: m.Source, batch: Batch, reader: Reader,
              progress: Progress) -> tuple[str, list[Outcome]]:
        """Stage the rows of ``reader`` as ``batch``, each row that fails a row check
        quarantined (SEMANTICS.md section 11); sets its counts and state in the ledger, and
        records the row checks' runs, in the same transaction. Returns how the values were
        typed: "copy" (by the database, from text copied into it; the rest by the parser) or
        "parser", and the row checks' outcomes."""
        outcomes: list[Outcome] = []
        land = schema.landing_table(source)
        parse = _RowParser(source, batch.batch_id, reader)
        counts = {"read": 0, "quarantined": 0}
        copy = self.copy_text and self.dialect.supports_copy and not reader.typed
        stage = self.metadata.tables[self.model.stage_table(source.name)]
        with self.engine.connect() as connection:
            raw = schema.raw_table(source, self.dialect.raw_table_prefixes(connection)
                                   if copy else ())
            connection.commit()
            with connection.begin():
                connection.execute(sa.schema.DropTable(land, if_exists=True))
                land.create(connection)
                if copy:
                    connection.execute(sa.schema.DropTable(raw, if_exists=True))
                    raw.create(connection)
                self._read(connection, source, reader, raw if copy else land, parse, counts,
                           progress, copy)
                rendered = self.renderer.stage(source, raw=copy)
                stamp = values.timestamp_text(batch.loaded_at)
                params = {
                    "batch_id": batch.batch_id,
                    "loaded_at": stamp,
                    "applied_at": (values.timestamp_text(batch.applied_at)
                                   if batch.applied_at else stamp),
                }
                # only the source's loads use its staging table, one at a time: asked here,
                # once the batch's size is known, its lock is no one's to wait for
                bulk = (self.dialect.empty_tables(connection, [stage.name])
                        if counts["read"] >= self.dialect.bulk_rows else [])
                with self.dialect.without_indexes(connection, bulk):
                    for statement in rendered.statements():
                        if statement.tag == "parse":  # rows SQL did not read: the parser's
                            for part in self._parts(connection, statement, params):
                                self._land(connection, land, parse, part, counts)
                        else:
                            statement.execute(connection, params)
                land.drop(connection)
                if copy:
                    raw.drop(connection)
                if source.row_checks:
                    counts["quarantined"], outcomes = self.checks.record_row_checks(
                        connection, source, batch)
                snapshot_at = connection.execute(
                    sa.select(sa.func.max(stage.c.dv_applied_at))
                    .where(stage.c.dv_batch_id == batch.batch_id)).scalar()
                batch.rows_read = counts["read"]
                batch.rows_quarantined = counts["quarantined"]
                batch.rows_staged = counts["read"] - counts["quarantined"]
                # a snapshot's time: its latest applied time (empty: the batch's)
                batch.snapshot_at = (values.read_timestamp(snapshot_at) or batch.applied_at
                                     or batch.loaded_at)
                batch.status = STAGED
                self.ledger.update(
                    batch.batch_id, connection, rows_read=batch.rows_read,
                    rows_staged=batch.rows_staged, rows_quarantined=batch.rows_quarantined,
                    status=STAGED, snapshot_at=batch.snapshot_at)
        return ("copy" if copy else "parser"), outcomes

    def _read(self, connection: sa.Connection, source: m.Source, reader: Reader,
              target: sa.Table,
              parse: _RowParser, counts: dict[str, int], progress: Progress,
              copy: bool) -> None:
        """Every row of the input into ``target``: the raw text table (COPY), else parsed
        into the landing table; rows the reader set apart are quarantined."""
        if reader.typed:
            for chunk in reader.rows():  # type: ignore[attr-defined]
                counts["read"] += len(chunk)
                self._land(connection, target, parse, chunk, counts)
                progress("read", rows=counts["read"], bytes=None, total=None)
            return
        while True:
            undo, keep = self._restart_point(connection, target, parse.batch_id)
            read = 0
            # the next block is read (and checked) while this one is copied or parsed; an
            # input of one block has no next one to read
            blocks = self._blocks(source, reader, copy)
            if reader.total_bytes is None or reader.total_bytes > BLOCK:
                blocks = read_ahead(blocks)
            try:
                for batch, rejected, bytes_read in blocks:
                    if batch is not None and copy:
                        self.dialect.copy_text(connection, target.name, batch)
                    elif batch is not None:
                        columns = [batch.column(i).to_pylist() for i in range(batch.num_columns)]
                        self._land(connection, target, parse, [list(r) for r in zip(*columns)],
                                   counts)
                    read += (batch.num_rows if batch is not None else 0) + self._reject(
                        connection, parse, rejected, counts)
                    progress("read", rows=read, bytes=bytes_read, total=reader.total_bytes)
            except ReadAgain:  # a row longer than a block: read it all again, larger
                undo()
                counts["quarantined"] = 0
                continue
            finally:
                blocks.close()  # its thread is done with the reader before it is read again
            keep()
            counts["read"] += read
            return

    def _parts(self, connection: sa.Connection, statement: Statement, params: dict
               ) -> Iterator[list[list[object]]]:
        """The rows of the ``parse`` statement (the row number first), a chunk at a time: read
        by one cursor as the rows are landed, or, where the engine's connection cannot read
        a result while it runs other statements (``Dialect.interleaved_results``), a chunk
        per query, each after the last row number of the one before."""
        if self.dialect.interleaved_results:
            rows = statement.execute(connection, params, stream_results=True, yield_per=CHUNK)
            for part in rows.partitions():
                yield [list(r) for r in part]
            return
        after = -1
        while True:
            page = connection.execute(sa.text(
                f"SELECT * FROM ({statement.bindable}) dv_p WHERE dv_p.dv_row > :dv_after "
                f"ORDER BY dv_p.dv_row LIMIT {CHUNK}"), {**params, "dv_after": after}).all()
            if not page:
                return
            yield [list(r) for r in page]
            after = page[-1][0]

    def _restart_point(self, connection: sa.Connection, target: sa.Table, batch_id: int
                       ) -> tuple[Callable[[], None], Callable[[], None]]:
        """Two functions: one undoes what reading the input writes from here on (to read it
        again), the other keeps it. A savepoint where the engine has them
        (``Dialect.savepoints``); else the rows are deleted: those of ``target``, which only
        this reading fills, and the batch's quarantined rows, which only staging has made."""
        if self.dialect.savepoints:
            savepoint = connection.begin_nested()
            return savepoint.rollback, savepoint.commit
        quarantine = self.metadata.tables[schema.QUARANTINE_TABLE]

        def undo() -> None:
            connection.execute(target.delete())
            connection.execute(quarantine.delete().where(quarantine.c.batch_id == batch_id))

        return undo, lambda: None

    def _blocks(self, source: m.Source, reader: Reader, copy: bool
                ) -> Iterator[tuple[pa.RecordBatch | None, list[Rejected], int | None]]:
        """The input's blocks of text (marked for the raw table when ``copy``), each with
        the rows the reader set apart up to its end and the bytes read so far; then no
        block, with the rows set apart at the end."""
        for batch in reader.batches():
            yield ((self._marked(source, batch) if copy else batch), reader.take_rejected(),
                   reader.bytes_read)
        yield None, reader.take_rejected(), reader.bytes_read

    def _marked(self, source: m.Source, batch: pa.RecordBatch) -> pa.RecordBatch:
        """A batch of text as the raw table takes it: its row number, ``dv_ok`` (every text
        one the database reads exactly as the parser does, and the applied time there),
        then ``c0``, ``c1``, ..."""
        ok = None
        for position, column in enumerate(source.columns):
            text = batch.column(position + 1)
            plain = self.dialect.plain_text(text, column.type)
            if column.name == source.applied_at:
                plain = pc.and_(plain, pc.fill_null(pc.not_equal(text, ""), False))
            ok = plain if ok is None else pc.and_(ok, plain)
        columns = [batch.column(0), ok] + [batch.column(i + 1)
                                           for i in range(len(source.columns))]
        names = ["dv_row", "dv_ok"] + [f"c{i}" for i in range(len(source.columns))]
        return pa.RecordBatch.from_arrays(columns, names=names)

    def _reject(self, connection: sa.Connection, parse: _RowParser, rejected: list[Rejected],
                counts: dict[str, int]) -> int:
        if rejected:
            connection.execute(self.metadata.tables[schema.QUARANTINE_TABLE].insert(),
                               [parse.rejected(r) for r in rejected])
            counts["quarantined"] += len(rejected)
        return len(rejected)

    def _land(self, connection: sa.Connection, land: sa.Table, parse: _RowParser,
              rows: list, counts: dict[str, int]) -> None:
        """Parse numbered source rows (the row number, then the values) into the landing
        table; rows that do not parse are quarantined."""
        good: list[list[object]] = []
        bad: list[dict] = []
        for raw in rows:
            parsed, problem = parse(raw[0], raw[1:])
            if problem is None:
                good.append(parsed)
            else:
                bad.append(problem)
        self.dialect.bulk_insert(connection, land.name, parse.columns, parse.types, good)
        if bad:
            connection.execute(self.metadata.tables[schema.QUARANTINE_TABLE].insert(), bad)
        counts["quarantined"] += len(bad)



class _RowParser:
    """One source row to its landing values (row number, applied time, typed columns), or to
    its quarantine row with every problem it has. Rows come as the source's columns as text
    (declared order), or, from a typed reader, as its values in the input's column order."""

    def __init__(self, source: m.Source, batch_id: int, reader: Reader) -> None:
        self.source = source
        self.batch_id = batch_id
        self.names = [c.name for c in source.columns]
        if reader.typed:
            self.positions = reader.positions  # type: ignore[attr-defined]
            self.header = reader.header  # type: ignore[attr-defined]
            self.convert = values.coerce
        else:
            self.positions = list(range(len(self.names)))
            self.header = self.names
            self.convert = values.parse
        self.col_types = [c.type for c in source.columns]
        self.columns = ["dv_row", "dv_applied_at"] + self.names
        self.types = ["integer", "timestamp"] + self.col_types
        self.applied_index = (self.names.index(source.applied_at) if source.applied_at
                              else None)

    def __call__(self, number: int, raw) -> tuple[list[object], dict | None]:
        parsed: list[object] = [number, None]
        problems = []
        for position, type_name, name in zip(self.positions, self.col_types, self.names):
            try:
                parsed.append(self.convert(raw[position], type_name))
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
        return parsed, self._quarantined(number, "; ".join(problems),
                                         dict(zip(self.header, map(_jsonable, raw))))

    def rejected(self, row: Rejected) -> dict:
        """The quarantine row of a row the reader could not read as a row."""
        return self._quarantined(row.number, row.reason,
                                 {k: _jsonable(v) for k, v in row.data.items()})

    def _quarantined(self, number: int, reason: str, data: dict) -> dict:
        return {"batch_id": self.batch_id, "entity": "", "row_number": number,
                "source": self.source.name, "reason": reason,
                "data": json.dumps(data, ensure_ascii=False)}


def _jsonable(value: object) -> object:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)
