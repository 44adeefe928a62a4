"""Debezium change events as rows of a source (README: Change events).

An event is a JSON object in the Debezium envelope, alone or wrapped as ``{"schema": ...,
"payload": EVENT}`` (the JSON converter with schemas). Its row is ``after``, or ``before``
for a deletion (``op`` d); ``op`` c (create), u (update) and r (a snapshot's read) are rows.
The source's ``input: fields:`` name the columns that take the envelope's fields instead:
``op``, the times (``ts_ms`` and its finer siblings, milliseconds, microseconds or
nanoseconds since 1970 in UTC, given to a timestamp or date column as that time),
``position`` (the log position the connector writes: PostgreSQL's ``lsn``, MySQL's ``file``,
``pos`` and ``row``, SQL Server's ``commit_lsn``, ``change_lsn`` and ``event_serial_no``, as
a text whose order is the log's) and any field by its dotted path (``source.txId``).

Staging types the texts and applies the source's ``applied_at``, ``sequence`` and delete
marker to them, as to any delta source's rows: nothing downstream knows about events.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from datavault import model as m

ROW_OPERATIONS = ("c", "u", "r")
DELETE = "d"
_EPOCH = dt.datetime(1970, 1, 1)
_TIME_UNITS = {"ts_ms": 1_000, "ts_us": 1_000_000, "ts_ns": 1_000_000_000}


class NotAnEvent(ValueError):
    """An event that is not a change event of a row: its message is the reason."""


def unwrap(record: Any) -> dict | None:
    """The envelope of a decoded event (the ``payload`` of the schema wrapper, or the event
    itself); None for a tombstone (a null value or a null payload)."""
    if record is None:
        return None
    if not isinstance(record, dict):
        raise NotAnEvent(f"a JSON {type(record).__name__}, not a change event")
    if "payload" in record and "schema" in record and "op" not in record:
        record = record["payload"]
        if record is None:
            return None
        if not isinstance(record, dict):
            raise NotAnEvent(f"its payload is a JSON {type(record).__name__}, not an event")
    return record


def decode(value: bytes | str | None) -> dict | None:
    """The envelope of an event's bytes or text (JSON); None for a tombstone."""
    if value is None:
        return None
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NotAnEvent(f"not UTF-8 text: {exc}") from None
    if not value.strip():
        return None
    try:
        record = json.loads(value.lstrip("\ufeff"))  # a file's byte order mark
    except ValueError as exc:
        raise NotAnEvent(f"not JSON: {exc}") from None
    return unwrap(record)


def row_values(envelope: dict, source: m.Source) -> list[str | None]:
    """The texts of the source's columns (declared order) for one event; NotAnEvent when it
    is not the change event of a row."""
    op = envelope.get("op")
    if op not in ROW_OPERATIONS and op != DELETE:
        shown = "no op" if op is None else f"op {op!r}"
        raise NotAnEvent(f"{shown}: not a row's change (c, u, r or d)" + (
            "; a truncate is not a row's deletion" if op == "t" else ""))
    image = "before" if op == DELETE else "after"
    row = envelope.get(image)
    if not isinstance(row, dict):
        raise NotAnEvent(f"an op {op} event without {image} (the row)")
    folded = {str(k).strip().lower(): v for k, v in row.items()}
    texts: list[str | None] = []
    for column in source.columns:
        field = source.input.field_of(column.name)
        if field is None:
            value = folded.get(column.name.lower())
            if isinstance(value, (dict, list)):
                raise NotAnEvent(f"{column.name}: a JSON {type(value).__name__}, not a value")
            texts.append(json_text(value))
        else:
            texts.append(_field_text(envelope, field, column))
    return texts


def _field_text(envelope: dict, field: str, column: m.Column) -> str | None:
    if field == "position":
        return position(envelope.get("source"))
    value: Any = envelope
    for part in field.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, (dict, list)):
        raise NotAnEvent(f"{field} (for {column.name}): a JSON {type(value).__name__}, "
                         "not a value")
    unit = _TIME_UNITS.get(field.rsplit(".", 1)[-1])
    if unit and column.type in ("timestamp", "date") and value is not None:
        if isinstance(value, bool) or not isinstance(value, int):
            raise NotAnEvent(f"{field} is {value!r}, not a time since 1970")
        seconds, fraction = divmod(value, unit)
        time = _EPOCH + dt.timedelta(seconds=seconds,
                                     microseconds=fraction * 1_000_000 // unit)
        return time.isoformat() if column.type == "timestamp" else time.date().isoformat()
    return json_text(value)


def position(source: Any) -> str:
    """The log position of an event's ``source`` block, as a text ordered as the log is."""
    if not isinstance(source, dict):
        raise NotAnEvent("no source block: its log position is unknown")
    if isinstance(source.get("lsn"), int):  # PostgreSQL
        return f"{source['lsn']:020d}"
    if source.get("file") is not None and isinstance(source.get("pos"), int):  # MySQL
        return f"{source['file']}:{source['pos']:020d}:{int(source.get('row') or 0):010d}"
    if source.get("commit_lsn") is not None:  # SQL Server: fixed-width hexadecimal
        return (f"{source['commit_lsn']}:{source.get('change_lsn') or ''}:"
                f"{int(source.get('event_serial_no') or 0):010d}")
    raise NotAnEvent("no log position this toolkit reads (lsn; file and pos; commit_lsn): "
                     "take the connector's own field, e.g. fields: {COLUMN: source.scn}")


def json_text(value: Any) -> str | None:
    """A JSON scalar as the text its value is written as (true, 12, 1.5, "x")."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)
