"""Staging: a batch's rows landed, typed and hashed into its source's staging table.

One transaction per batch: it lands the rows (bad ones quarantined with their reasons),
inserts them into ``stg_SOURCE`` under the batch's id with every hash key and hash diff, and
marks the batch ``staged``. Interrupted, it leaves nothing staged.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator

import sqlalchemy as sa

from datavault import model as m
from datavault import schema, values
from datavault.diagnostics import DatavaultError
from datavault.dialects import Dialect
from datavault.load.batches import STAGED, Batch, Ledger
from datavault.load.inputs import CHUNK, BatchInput
from datavault.render import Renderer

Progress = Callable[..., None]


class Stager:
    """Stages batches of one model into one database."""

    def __init__(self, model: m.Model, engine: sa.Engine, dialect: Dialect, renderer: Renderer,
                 ledger: Ledger):
        self.model = model
        self.engine = engine
        self.dialect = dialect
        self.renderer = renderer
        self.ledger = ledger
        self.metadata = schema.metadata_for(model)
        #: let the database read plain CSV files itself where the dialect can (COPY)
        self.copy_plain_csv = True

    @staticmethod
    def positions(source: m.Source, header: list[str], shown: str) -> list[int]:
        """Where each of the source's columns is in an input's header."""
        missing = [c.name for c in source.columns if c.name not in header]
        if missing:
            raise DatavaultError(
                f"{shown} lacks column(s) {', '.join(missing)} of source {source.name}; "
                f"it has: {', '.join(header)}"
            )
        return [header.index(c.name) for c in source.columns]

    def stage(self, source: m.Source, batch: Batch, data: BatchInput, chunks: Iterator,
              header: list[str], positions: list[int], progress: Progress) -> str:
        """Stage the rows of ``data`` (its header read already) as ``batch``; sets its counts
        and state in the ledger, in the same transaction. Returns how the rows were read:
        "copy" (the database read a plain CSV file) or "parser"."""
        land = schema.landing_table(source)
        parse = _RowParser(source, positions, header, data.typed, batch.batch_id)
        counts = {"read": 0, "quarantined": 0}
        with self.engine.connect() as connection:
            with connection.begin():
                land.drop(connection, checkfirst=True)
                land.create(connection)
                raw = self._copy_plain_csv(connection, source, data, header, progress)
                if raw is not None:
                    chunks.close()
                    counts["read"] = raw[1]
                    batch_read_by = "copy"
                    rendered = self.renderer.stage(source, raw_width=len(header),
                                                   positions=positions)
                else:
                    batch_read_by = "parser"
                    for chunk in chunks:
                        self._land(connection, land, parse, chunk, counts)
                        progress("read", rows=counts["read"])
                    rendered = self.renderer.stage(source)
                stamp = values.timestamp_text(batch.loaded_at)
                params = {
                    "batch_id": batch.batch_id,
                    "loaded_at": stamp,
                    "applied_at": (values.timestamp_text(batch.applied_at)
                                   if batch.applied_at else stamp),
                }
                for statement in rendered.statements():
                    if statement.tag == "parse":  # rows SQL did not read: the parser's turn
                        rows = connection.execute(sa.text(statement.sql).execution_options(
                            stream_results=True, yield_per=CHUNK), params)
                        for part in rows.partitions():
                            # an empty field of a plain CSV file is '' to the parser
                            texts = [[r[0]] + ["" if v is None else v for v in r[1:]]
                                     for r in part]
                            self._land(connection, land, parse, texts, counts, numbered=True)
                    else:
                        connection.execute(sa.text(statement.sql), params)
                land.drop(connection)
                if raw is not None:
                    raw[0].drop(connection)
                stage = self.metadata.tables[self.model.stage_table(source.name)]
                snapshot_at = connection.execute(
                    sa.select(sa.func.max(stage.c.dv_applied_at))
                    .where(stage.c.dv_batch_id == batch.batch_id)).scalar()
                batch.rows_read = counts["read"]
                batch.rows_quarantined = counts["quarantined"]
                batch.rows_staged = counts["read"] - counts["quarantined"]
                # a snapshot's time: its latest applied time (empty: the batch's)
                batch.snapshot_at = (_timestamp(snapshot_at) or batch.applied_at
                                     or batch.loaded_at)
                batch.status = STAGED
                self.ledger.update(
                    batch.batch_id, connection, rows_read=batch.rows_read,
                    rows_staged=batch.rows_staged, rows_quarantined=batch.rows_quarantined,
                    status=STAGED, snapshot_at=batch.snapshot_at)
        return batch_read_by

    def _copy_plain_csv(self, connection: sa.Connection, source: m.Source, data: BatchInput,
                        header: list[str], progress: Progress) -> tuple[sa.Table, int] | None:
        """Let the database read a plain CSV file itself (COPY) into a text table.

        None when it cannot: no COPY on this engine, a file that is not plain, or one the
        database refuses (a row with the wrong number of fields, a NUL byte, bad UTF-8). The
        batch then goes through the parser, which names each bad row.
        """
        if not (self.copy_plain_csv and self.dialect.supports_copy and data.plain_csv()):
            return None
        assert data.path is not None
        raw = schema.raw_table(source, len(header))
        savepoint = connection.begin_nested()
        try:
            raw.create(connection)
            with data.path.open("rb") as handle:
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
              rows: list, counts: dict[str, int], numbered: bool = False) -> None:
        """Parse source rows into the landing table; rows that do not parse are quarantined.
        ``numbered``: each row starts with its row number (else rows are counted on)."""
        good: list[list[object]] = []
        bad: list[dict] = []
        for raw in rows:
            if numbered:
                number, raw = raw[0], raw[1:]
            else:
                counts["read"] += 1
                number = counts["read"]
            parsed, problem = parse(number, raw)
            if problem is None:
                good.append(parsed)
            else:
                bad.append(problem)
        self.dialect.bulk_insert(connection, land.name, parse.columns, parse.types, good)
        if bad:
            connection.execute(self.metadata.tables[schema.QUARANTINE_TABLE].insert(), bad)
        counts["quarantined"] += len(bad)


def _timestamp(value: object) -> dt.datetime | None:
    if value is None or isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(str(value))


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
