"""The conformance suite: what an engine must do to be one of the toolkit's, run on every
engine the tests know (``DATAVAULT_TEST_ENGINES`` picks them): a new engine passes by running
it. Each property is one of SEMANTICS.md's, checked against the plain-Python reference:

- the hashing contract, byte for byte: ``tests/test_hashing.py``, which runs on every engine;
- the history rule with late, repeated and corrected batches, ``query``'s answers, and a
  batch loaded again inserting nothing (idempotence): ``test_history_property``;
- full snapshots, their deletions and keys held by conflicts: ``test_snapshot_property``;
- multi-active satellites, their sets of delta batches and of full snapshots:
  ``test_multi_active_property``, ``test_multi_active_snapshot_property``;
- an entity load stopped partway and run again ends as one run would have, whether the
  engine rolls it back (a transaction) or not (``test_a_load_stopped_partway_...``);
- marts: PITs and bridges refreshed after late and corrected batches equal full rebuilds, and
  their views answer as ``query`` does (``test_refreshed_marts_equal_a_rebuild``);
- the example warehouse: its batches (late, corrected, sets of phones), each batch's entity
  loads run in the reverse of the loader's order (they are independent), give the tables and
  ``query``'s answers that the embedded default gives with ``load``
  (``test_the_example_warehouse_loads_and_answers_as_on_the_default``); on Spark also
  through a Spark Connect server, the way a cluster is reached.

The engines that run every kind and mart run each property's own suite with many more
examples; here each runs ``DATAVAULT_CONFORMANCE_EXAMPLES`` (default 4; 0: none) drawn
histories, besides the hand-picked ones (half as many, rounded down, for multi-active
satellites, whose histories load more rows).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, example, given, settings

from datavault import api, query, values
from datavault.load import open_input
from tests import (
    test_history,
    test_independence,
    test_kind_multi_active_satellite,
    test_marts,
    test_snapshots,
)
from tests.conftest import CORE_ENGINES, copy_example, file_url_maker, migrated, url_maker
from tests.test_kind_multi_active_satellite import HOME, HOME2, WORK

EXAMPLES = int(os.environ.get("DATAVAULT_CONFORMANCE_EXAMPLES", "4"))
_SETTINGS = settings(deadline=None, database=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture,
                                            HealthCheck.too_slow])


def _drawn(examples: int) -> settings:
    """``examples`` drawn histories besides the hand-picked ones; none: those only."""
    return (settings(_SETTINGS, max_examples=examples) if examples
            else settings(_SETTINGS, phases=[Phase.explicit]))


DRAWN = _drawn(EXAMPLES)


@pytest.fixture(params=CORE_ENGINES)
def make_url(request: pytest.FixtureRequest, tmp_path: Path):
    return url_maker(request, request.param, tmp_path)


@pytest.fixture
def history_vault(make_url, tmp_path: Path):
    vault = test_history.Vault(tmp_path / "history", make_url())
    yield vault
    vault.session.close()


@pytest.fixture
def snapshot_vault(make_url, tmp_path: Path):
    vault = test_snapshots.Vault(tmp_path / "snapshots", make_url())
    yield vault
    vault.session.close()


@DRAWN
@given(history=test_history.histories())
@example(history=(  # a correction flips day 0 back after day 1 was only logged
    [[("A", 0, "x", 1), ("A", 1, "x", 1)], [("A", 0, "y", 1), ("A", 1, "y", 1)],
     [("A", 0, "x", 1)]],
    [0, 1, 2],
))
@example(history=(  # a late batch before the first, then the first again
    [[("A", 1, "x", 1), ("B", 2, "x", None)], [("A", 0, "y", 1), ("A", 2, "x", 1)]],
    [0, 1, 0],
))
def test_history_property(history_vault, history) -> None:
    test_history.check_history(history_vault, history)


@DRAWN
@given(history=test_snapshots.histories())
@example(history=(  # a key held by a conflict, then given by an earlier snapshot loaded later
    [(1, {"A": test_snapshots.CONFLICT}), (0, {"A": "x"}), (2, {"B": "x"})], [0, 1, 2]))
@example(history=([(3, {"A": "x", "B": "y"}), (5, {"A": "x"}), (1, {"B": "x"})], [1, 2, 0]))
def test_snapshot_property(snapshot_vault, history) -> None:
    test_snapshots.check_snapshots(snapshot_vault, history)


class _Stop(Exception):
    """The failure a test makes happen partway through an entity load."""


@pytest.mark.parametrize("stop_before", [3])
def test_a_load_stopped_partway_ends_as_one_run_would(make_url, tmp_path: Path, monkeypatch,
                                                      stop_before: int) -> None:
    """The satellite's load of a batch that corrects, fills and repeats earlier ones fails
    before its ``stop_before``-th statement that writes rows, after the others wrote theirs;
    resumed, it ends with the rows, log and quarantine of a load that never failed (on an
    engine without transactions the rows of the failed attempt are removed first)."""
    from datavault.render import Statement

    first = [("A", 0, "x", 1), ("A", 2, "y", 1), ("B", 1, "x", None)]
    second = [("A", 1, "z", 1), ("A", 2, "x", 1), ("B", 1, "x", None), ("C", 0, "x", 1),
              ("C", 0, "y", 1)]  # a correction, a gap filled, a repeat, a conflict
    vaults = {}
    for name in ("clean", "stopped"):
        vault = vaults[name] = test_history.Vault(tmp_path / name, make_url())
        paths = [test_history._write_batch(tmp_path, i, rows)
                 for i, rows in enumerate((first, second))]
        vault.load(paths[0])
    vaults["clean"].load(paths[1])

    run = Statement.execute
    writes = []

    def failing(self, connection, params=None, **options):
        if self.tag and "thing_state" in self.sql:  # a statement of the satellite's load
            writes.append(self.tag)
            if len(writes) == stop_before:
                raise _Stop("stopped partway")
        return run(self, connection, params, **options)

    stopped = vaults["stopped"]
    monkeypatch.setattr(Statement, "execute", failing)
    with pytest.raises(_Stop):
        stopped.session.loader.load("feed", test_history.open_input(paths[1]), force=True)
    monkeypatch.setattr(Statement, "execute", run)
    assert len(writes) == stop_before, "the load stopped where the test meant it to"
    (batch,) = [b for b in stopped.session.loader.ledger.unfinished("feed")]
    result = stopped.session.loader.resume(batch.batch_id)
    assert result.ok, [e.message for e in result.entities]

    def rows(vault, table: str, columns: str) -> list[tuple]:
        # a driver may give a hash as a memoryview (PostgreSQL's): compared as bytes
        return sorted(tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)
                      for row in vault.rows(table, columns))

    def tables(vault) -> dict[str, list[tuple]]:
        return {
            "satellite": rows(vault, "sat_thing_state",
                              "applied_ts, hash_diff, v, w, record_source"),
            "log": rows(vault, "sat_thing_state__obs", "applied_ts, hash_diff"),
            "quarantine": rows(vault, "dv_quarantine", "entity, row_number, reason"),
        }

    assert tables(stopped) == tables(vaults["clean"])
    for vault in vaults.values():
        vault.session.close()


@pytest.fixture
def sets_vault(make_url, tmp_path: Path):
    vault = test_kind_multi_active_satellite.Vault(tmp_path / "sets", make_url())
    yield vault
    vault.session.close()


#: half as many drawn histories of sets (none: the hand-picked ones only)
SETS_DRAWN = _drawn(EXAMPLES // 2)


@SETS_DRAWN
@given(history=test_kind_multi_active_satellite.arrivals(
    test_kind_multi_active_satellite.phone_batch()))
@example(history=(  # a set stored twice with one load time, then restored: one copy of it
    [[("A", d, *pair, 1) for d in (0, 2, 3) for pair in (HOME, WORK)] + [("A", 1, *HOME2, 1)],
     [("A", 2, *HOME2, 1)]], [0, 1]))
def test_multi_active_property(sets_vault, history) -> None:
    test_kind_multi_active_satellite.check_delta_sets(sets_vault, history)


@SETS_DRAWN
@given(history=test_kind_multi_active_satellite.arrivals(test_kind_multi_active_satellite.snapshot))
@example(history=([(0, {"A": (HOME, WORK), "B": (HOME,)}), (2, {"A": (WORK, HOME)}),
                   (1, {"B": (HOME2, HOME)})], [0, 1, 2]))
def test_multi_active_snapshot_property(sets_vault, history) -> None:
    test_kind_multi_active_satellite.check_snapshot_sets(sets_vault, history)


@pytest.fixture
def marts_vault(make_url, tmp_path: Path):
    vault = test_marts.Vault(tmp_path / "marts", make_url())
    yield vault
    vault.session.close()


def test_refreshed_marts_equal_a_rebuild(marts_vault) -> None:
    """PITs and bridges built, then refreshed after a late snapshot that deletes, a new
    membership and a corrected one, equal full rebuilds, and their views answer as `query`
    does."""
    at = test_marts.DAY0
    marts_vault.load("people", [{"k": "A", "v": "x", "day": at.isoformat()},
                                {"k": "B", "v": "y", "day": at.isoformat()}])
    marts_vault.load("roster", [{"k": "A", "g": "T1", "w": "p", "day": at.isoformat()}])
    for mart, _ in test_marts.PAIRS:
        marts_vault.build(mart, (at + dt.timedelta(days=2)).date())
    day = (at + dt.timedelta(days=1)).isoformat()
    marts_vault.load("people", [{"k": "A", "v": "y", "day": day}])  # B deleted on day 1
    marts_vault.load("roster", [{"k": "B", "g": "T1", "w": "q", "day": day},
                                {"k": "A", "g": "T1", "w": "q", "day": at.isoformat()}])
    test_marts.check_marts(marts_vault, (at + dt.timedelta(days=3)).date(),
                           {("A", "T1"), ("B", "T1")})


def test_a_mart_build_stopped_partway_is_made_whole_by_the_next(marts_vault,
                                                                 monkeypatch) -> None:
    """A refresh that fails after it removed the rows it rewrites, before it inserted them
    again: the next build ends equal to a full rebuild (an engine with transactions rolled
    the failed one back; one without rebuilds the mart, as its failed build marked it)."""
    from datavault import marts
    from datavault.render import Statement

    at = test_marts.DAY0
    today = (at + dt.timedelta(days=3)).date()
    marts_vault.load("people", [{"k": "A", "v": "x", "day": at.isoformat()}])
    marts_vault.build("people", today)
    marts_vault.load("people", [{"k": "A", "v": "y", "day": (at + dt.timedelta(days=1))
                                 .isoformat()}])
    run = Statement.execute

    def failing(self, connection, params=None, **options):
        if self.tag == "inserted":
            raise _Stop("stopped partway")
        return run(self, connection, params, **options)

    monkeypatch.setattr(Statement, "execute", failing)
    with pytest.raises(_Stop):
        marts_vault.build("people", today)
    monkeypatch.setattr(Statement, "execute", run)
    again = marts_vault.build("people", today)
    transactions = marts_vault.session.loader.renderer.dialect.transactions
    assert again.reason == ("" if transactions else "its last build stopped partway")
    marts_vault.build("people_full", today, full=True)
    assert marts_vault.rows("people") == marts_vault.rows("people_full")
    assert marts.UNDER_WAY not in {
        r["definition"] for r in marts_vault.select(f"SELECT definition FROM {marts.MART_TABLE}")}


def _plain(value):
    """A value as every engine gives it: bytes for a hash (PostgreSQL's driver gives a
    memoryview), a decimal's canonical text (SQLite keeps that text, others a number)."""
    if isinstance(value, memoryview):
        return bytes(value)
    if isinstance(value, Decimal):
        return values.to_text(value, "decimal")
    return value


def _timed(value):
    """A time as the time it reads as, where an engine gives its text (SQLite, read by raw
    SQL), and a decimal as its text (where an engine types a JSON number)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    try:
        return dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    except ValueError:
        return value


def _example_tables(session) -> dict[str, list[tuple]]:
    """Every vault table of the example without its load times, read through the model's
    table types (a timestamp is a datetime, a hash bytes, on every engine); the quarantine
    apart (``_quarantined``)."""
    model = session.project.model
    md = api.schema.build_metadata(model)
    result = {}
    with session.engine.connect() as connection:
        for name in test_independence.table_names(model):
            if name == "dv_quarantine":  # its rows' JSON is each engine's: ``_quarantined``
                continue
            columns = [c for c in md.tables[name].columns if c.name != "load_ts"]
            result[name] = sorted((tuple(_plain(v) for v in row)
                                   for row in connection.execute(sa.select(*columns))), key=repr)
    return result


def _quarantined(session) -> list[tuple]:
    """The quarantine: per row its batch, entity, row number, reason, and its values (each
    engine writes its own JSON text: a time is compared as the time it reads as)."""
    with session.engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT batch_id, entity, row_number, reason, data FROM dv_quarantine").all()
    return sorted(((b, e, n, r, {k: _timed(v) for k, v in json.loads(d).items()} if d else d)
                   for b, e, n, r, d in rows), key=repr)


def _example_answers(session) -> dict[tuple, list]:
    """``query``'s answers for every entity of the example, now and at two earlier times,
    without load times."""
    model = session.project.model
    answers = {}
    with session.engine.connect() as connection:
        for entity in sorted(model.entities):
            for at in (None, dt.datetime(2026, 1, 15), dt.datetime(2026, 3, 1, 12)):
                answer = query.state(connection, model, entity, at=at)
                kept = [i for i, c in enumerate(answer.columns) if c.split(".")[-1] != "loaded"]
                answers[entity, at] = sorted(
                    (tuple(_plain(row[i]) for i in kept) for row in answer.rows), key=repr)
    return answers


def _example_bridge(session) -> dict[str, list[tuple]]:
    """The example's bridge ``customer_orders`` (it follows the effectivity satellite of its
    link) built, and its table and views read, less load times."""
    session.build_marts(["customer_orders"], today=dt.date(2026, 3, 10))
    model = session.project.model
    mart = model.marts["customer_orders"]
    read = {"table": mart.table, **{v: mart.view(v) for v in ("current", "history")}}
    shown = {}
    with session.engine.connect() as connection:
        for label, name in read.items():
            result = connection.exec_driver_sql(f"SELECT * FROM {name}")
            kept = [i for i, c in enumerate(result.keys()) if "load" not in c]
            shown[label] = sorted((tuple(_timed(_plain(row[i])) for i in kept)
                                   for row in result), key=repr)
    assert shown["table"] and shown["current"], shown
    return shown


#: every engine, and Spark through a Spark Connect server too (the way a cluster is reached)
CONNECTED = CORE_ENGINES + (["spark-connect"] if "spark" in CORE_ENGINES else [])


@pytest.mark.parametrize("engine", CONNECTED)
def test_the_example_warehouse_loads_and_answers_as_on_the_default(
        engine: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """The example warehouse's batches, each batch's entity loads run one by one in the
    reverse of the loader's order, give the tables (less load times) and ``query``'s answers
    that SQLite, the embedded default, gives when ``load`` loads them."""
    make_url = url_maker(request, engine, tmp_path)
    default_project = copy_example(tmp_path / "default")
    default = api.open_session(default_project, url=migrated(
        default_project, file_url_maker("sqlite", tmp_path)()))
    for source, path in test_independence._batches(default_project):
        assert default.loader.load(source, open_input(str(path))).ok

    project = copy_example(tmp_path / "engine")
    session = api.open_session(project, url=migrated(project, make_url()))
    loader = session.loader
    for source_name, path in test_independence._batches(project):
        staged = loader.stage(source_name, open_input(str(path)))
        source = session.project.model.sources[source_name]
        for entity in reversed(session.project.model.entities_of(source_name)):
            assert loader.load_entity(source, entity, staged).status == "ok", entity
        loader.finish(staged.batch.batch_id)
    try:
        tables = _example_tables(session)
        assert sum(len(rows) for rows in tables.values()) > 20
        assert tables == _example_tables(default)
        quarantined = _quarantined(session)
        assert any(data and data.get("ordered_at") == dt.datetime(2026, 3, 4, 10, 0, 0, 654321)
                   for *_, data in quarantined), quarantined
        assert quarantined == _quarantined(default)
        assert _example_answers(session) == _example_answers(default)
        # the bridge that follows an effectivity satellite: its table and live views
        assert _example_bridge(session) == _example_bridge(default)
    finally:
        session.close()
        default.close()
