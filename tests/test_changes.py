"""Debezium change events as a source's input (README: Change events).

The envelope's reading (both shapes, tombstones, log positions, times), what validation says
of a source that declares change events wrongly, and the property: events of inserts,
updates and deletes, delivered out of order, again, in any split into batches, with
tombstones and broken events among them, load exactly as the reference says their rows do
(``tests/reference.py``: the rows of a delta source with ``applied_at``, ``sequence`` and a
delete marker), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from datavault import api, query
from datavault import model as m
from datavault.diagnostics import ModelError
from datavault.load import changes
from tests import change_events as ce
from tests import test_deletes as deletes
from tests.conftest import migrated, write_project
from tests.reference import DELETED, batch_observations, live_state
from tests.test_deletes import SETTINGS, ZERO, _check_exact, _check_minimal, _ts

KEYS = ["A", "B"]


def _source(fields: tuple[tuple[str, str], ...] = (("changed_at", "ts_ms"), ("lsn", "position"),
                                                  ("op", "op"))) -> m.Source:
    columns = (m.Column("id", "text"), m.Column("name", "text"),
               m.Column("changed_at", "timestamp"), m.Column("lsn", "text"),
               m.Column("op", "text"))
    return m.Source("s", "s", columns, "delta", "changed_at", "lsn",
                    input=m.InputFormat("debezium", fields=fields),
                    deleted=m.DeleteMarker("op", ("d",)))


# ---- the envelope ---------------------------------------------------------------------------
def test_an_event_in_either_shape_is_its_row() -> None:
    source = _source()
    for wrapped in (False, True):
        envelope = changes.decode(json.dumps(ce.event("A", 1, "x", 42, wrapped=wrapped)))
        assert changes.row_values(envelope, source) == [
            "A", "x", "2026-01-02T00:00:00", "00000000000000000042", "u"]
    deleted = changes.decode(json.dumps(ce.event("A", 2, DELETED, 43, wrapped=True)))
    assert changes.row_values(deleted, source) == [
        "A", "before image", "2026-01-03T00:00:00", "00000000000000000043", "d"]


def test_tombstones_are_none_and_broken_events_say_why() -> None:
    source = _source()
    assert changes.decode(None) is None
    assert changes.decode(b"null") is None
    assert changes.decode('{"schema": {}, "payload": null}') is None
    reasons = {}
    for text in ('{"op": "t", "ts_ms": 1, "source": {"lsn": 1}}', "[1]", "{nope",
                 '{"op": "c", "after": null, "ts_ms": 1}', '{"after": {"id": "A"}}',
                 '{"op": "c", "after": {"id": "A"}, "ts_ms": 1, "source": {}}',
                 '{"op": "c", "after": {"id": {"a": 1}}, "ts_ms": 1, "source": {"lsn": 1}}',
                 b'{"op": "c", "after": {"id": "\xff"}}'):
        with pytest.raises(changes.NotAnEvent) as caught:
            changes.row_values(changes.decode(text) or {}, source)
        reasons[text if isinstance(text, str) else "bytes"] = str(caught.value)
    assert list(reasons.values()) == [
        "op 't': not a row's change (c, u, r or d); a truncate is not a row's deletion",
        "a JSON list, not a change event",
        reasons["{nope"],
        "an op c event without after (the row)",
        "no op: not a row's change (c, u, r or d)",
        "no log position this toolkit reads (lsn; file and pos; commit_lsn): take the "
        "connector's own field, e.g. fields: {COLUMN: source.scn}",
        "id: a JSON dict, not a value",
        reasons["bytes"]]
    assert reasons["{nope"].startswith("not JSON: ")
    assert reasons["bytes"].startswith("not UTF-8 text: ")


def test_log_positions_order_as_the_log() -> None:
    mysql = [{"file": "mysql-bin.000009", "pos": 900, "row": 1},
             {"file": "mysql-bin.000010", "pos": 4, "row": 0},
             {"file": "mysql-bin.000010", "pos": 120, "row": 0},
             {"file": "mysql-bin.000010", "pos": 120, "row": 2}]
    assert sorted(map(changes.position, mysql)) == list(map(changes.position, mysql))
    sqlserver = [{"commit_lsn": "00000027:00000758:0005", "change_lsn": "00000027:00000758:0003",
                  "event_serial_no": 1},
                 {"commit_lsn": "00000027:00000758:0005", "change_lsn": "00000027:00000758:0003",
                  "event_serial_no": 2},
                 {"commit_lsn": "00000028:00000010:0001", "change_lsn": "00000028:00000001:0001"}]
    assert sorted(map(changes.position, sqlserver)) == list(map(changes.position, sqlserver))
    postgres = [{"lsn": 9}, {"lsn": 10}, {"lsn": 123456789012}]
    assert sorted(map(changes.position, postgres)) == list(map(changes.position, postgres))


def test_times_and_other_fields() -> None:
    columns = (m.Column("id", "text"), m.Column("at", "timestamp"), m.Column("on", "date"),
               m.Column("raw", "integer"), m.Column("tx", "text"))
    source = m.Source("s", "s", columns, input=m.InputFormat("debezium", fields=(
        ("at", "ts_us"), ("on", "source.ts_ms"), ("raw", "ts_ms"), ("tx", "transaction.id"))))
    envelope = {"op": "r", "after": {"id": "A", "at": "ignored"}, "ts_ms": 1767225600123,
                "ts_us": 1767225600123456, "source": {"ts_ms": 1767225599000},
                "transaction": {"id": "571:53195832"}}
    assert changes.row_values(envelope, source) == [
        "A", "2026-01-01T00:00:00.123456", "2025-12-31", "1767225600123", "571:53195832"]
    envelope["ts_us"] = "soon"
    with pytest.raises(changes.NotAnEvent, match="ts_us is 'soon', not a time since 1970"):
        changes.row_values(envelope, source)


# ---- validation -----------------------------------------------------------------------------
GOOD = ce.PROJECT[f"models/sources/{ce.SOURCE}.yml"]


@pytest.mark.parametrize("text, line, message", [
    (GOOD.replace("changed_at: ts_ms", "changed: ts_ms"), 7,
     "fields names unknown column 'changed'"),
    (GOOD.replace("lsn: position", "lsn: positon"), 7, "unknown change event field 'positon'"),
    (GOOD.replace("  lsn: text", "  lsn: integer"), 7,
     "column 'lsn' takes position but is integer"),
    (GOOD.replace(", op: op}", "}"), 5, "a source of change events needs a column taking op"),
    (GOOD.replace("deleted: {column: op, values: [d]}\n", ""), 4,
     "a delete event (op d) must be a delete marker: declare deleted: {column: op, "
     "values: [d]}"),
    (GOOD.replace("values: [d]", "values: [x]"), 4, "a delete event (op d) must be a delete"),
    (GOOD.replace("applied_at: changed_at\n", ""), 4,
     "a source of change events needs applied_at"),
    (GOOD.replace("format: debezium", "format: jsonl"), 7,
     "fields: is for change events (format: debezium)"),
    (GOOD.replace("format: debezium", "format: debezum"), 6, "unknown input format 'debezum'"),
])
def test_validation_says_where_and_how(tmp_path: Path, text: str, line: int,
                                       message: str) -> None:
    root = write_project(tmp_path, {**ce.PROJECT, f"models/sources/{ce.SOURCE}.yml": text})
    with pytest.raises(ModelError) as caught:
        api.validate(root)
    problems = [(Path(p.path).name, p.line, p.message) for p in caught.value.problems]
    assert any(name == f"{ce.SOURCE}.yml" and at == line and said.startswith(message)
               for name, at, said in problems), problems


def test_a_valid_source_keeps_its_fields(tmp_path: Path) -> None:
    model = api.validate(ce.write(tmp_path)).model
    source = model.sources[ce.SOURCE]
    assert source.input.format == "debezium"
    assert source.input.fields == (("changed_at", "ts_ms"), ("lsn", "position"), ("op", "op"))


# ---- loading files of events ----------------------------------------------------------------
class Vault(deletes.Vault):
    """The change-event project on one database, emptied between examples (``reset``)."""

    def __init__(self, root: Path, url: str):
        ce.write(root)
        self.session = api.open_session(root, url=migrated(root, url))
        self.model = self.session.project.model
        self.folder = root / "events"
        self.folder.mkdir()
        self.files = itertools.count()

    def load(self, events: list) -> object:  # type: ignore[override]
        path = ce.write_jsonl(self.folder / f"events_{next(self.files)}.jsonl", events)
        result = self.session.load(ce.SOURCE, str(path), force=True)
        assert result.ok, [e.message for e in result.entities]
        return result

    def versions(self) -> list[tuple]:  # type: ignore[override]
        with self.session.engine.connect() as connection:
            rows = list(connection.exec_driver_sql(
                "SELECT c.id, s.applied_ts, s.load_ts, s.hash_diff, s.name FROM "
                "sat_customer_name s JOIN hub_customer c ON c.customer_hk = s.customer_hk"))
        return [(key, _ts(applied), _ts(loaded), DELETED if bytes(diff) == ZERO else name)
                for key, applied, loaded, diff, name in rows]


@pytest.fixture
def vault(tmp_path: Path, db_url: str):
    v = Vault(tmp_path / "project", db_url)
    yield v
    v.session.close()


@st.composite
def deliveries(draw):
    """A source's changes in log order (key, day, name or DELETED, lsn: distinct and rising),
    then deliveries: batches of those events out of order, some delivered again (within a
    batch or in a later one), each event in either envelope shape, with tombstones and
    broken events among them."""
    count = draw(st.integers(1, 10))
    changes_ = [(draw(st.sampled_from(KEYS)), draw(st.integers(0, 3)),
                 draw(st.sampled_from(["x", "y", DELETED])), 100 + 10 * n)
                for n in range(count)]
    order = draw(st.permutations(range(count)))
    cuts = sorted(draw(st.lists(st.integers(0, count), max_size=3)))
    batches = [list(order[a:b]) for a, b in zip([0, *cuts], [*cuts, count])]
    batches = [b for b in batches if b] or [list(order)]
    again = draw(st.lists(st.tuples(st.integers(0, len(batches) - 1),
                                    st.integers(0, count - 1)), max_size=3))
    for batch, index in again:
        batches[batch].append(index)
    delivered = []
    for batch in batches:
        items = []
        for index in draw(st.permutations(batch)):
            items.append(("event", index, draw(st.booleans())))
            extra = draw(st.sampled_from([None, None, None, "tombstone", "broken"]))
            if extra:
                items.append((extra, None, False))
        delivered.append(items)
    return changes_, delivered


def _events(changes_: list[tuple], items: list[tuple]) -> tuple[list, list[tuple], int]:
    """The events of one delivered batch, the rows the reference reads of them, and how many
    of them are broken."""
    events, rows, broken = [], [], 0
    for what, index, wrapped in items:
        if what == "tombstone":
            events.append(None)
        elif what == "broken":
            events.append({"op": "t", "ts_ms": 0, "source": {"lsn": 1}})
            broken += 1
        else:
            key, n, name, lsn = changes_[index]
            events.append(ce.event(key, n, name, lsn, wrapped=wrapped,
                                   op="c" if index % 2 else "u"))
            rows.append((key, ce.day(n), name, lsn))
    return events, rows, broken


@SETTINGS
@given(delivered=deliveries())
@example(delivered=(  # an update, then its delete at the same time, delivered in reverse
    [("A", 1, "x", 100), ("A", 1, DELETED, 110), ("A", 2, "y", 120)],
    [[("event", 2, True)], [("event", 1, False), ("event", 0, True)],
     [("event", 0, False), ("event", 1, True)]]))
def test_change_events_load_as_the_reference_says(vault: Vault, delivered) -> None:
    changes_, batches = delivered
    vault.reset()
    observations: list[tuple] = []
    conflicts: list[tuple] = []
    load_times: list[dt.datetime] = []
    broken = 0
    for items in batches:
        events, rows, bad = _events(changes_, items)
        result = vault.load(events)
        broken += bad
        assert result.rows_quarantined == bad
        load_times.append(result.loaded_at)
        seen, clash = batch_observations(result.loaded_at, rows)
        observations += seen
        conflicts += clash
        _check_exact(vault.versions(), observations, load_times, "name")
    assert conflicts == []  # one row's events at one time differ in their log position
    _check_minimal(vault.versions())
    reasons = [reason for _, _, reason in vault.quarantined()]
    assert len(reasons) == broken
    assert all(r.startswith("not a change event: op 't'") for r in reasons)
    # the readers answer the reference's live names
    with vault.session.engine.connect() as connection:
        for n in range(4):
            answer = query.state(connection, vault.model, "customer_name",
                                 at=ce.day(n)).records()
            got = {r["id"]: r["name"] for r in answer if not r["deleted"]}
            want = {k: live_state(observations, k, ce.day(n), load_times[-1]) for k in KEYS}
            assert got == {k: v for k, v in want.items() if v is not None}
    # delivered again, every event of the last batch inserts nothing
    before = len(vault.versions())
    vault.load(_events(changes_, batches[-1])[0])
    assert len(vault.versions()) == before
