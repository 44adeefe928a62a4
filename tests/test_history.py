"""Satellite loads keep SEMANTICS.md section 3, checked against the plain-Python reference.

Random keys, applied times and payloads; batches arrive in random orders, repeat, fill gaps
and correct applied times already seen. After every batch, the state of every key at every
applied time, as known at every earlier batch's load time, must equal the reference. Runs on
SQLite and on PostgreSQL.
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import os
import tempfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from datavault import api, query
from datavault.load import open_input
from tests.conftest import migrated, write_project
from tests.reference import reference_state

EXAMPLES = int(os.environ.get("DATAVAULT_PROPERTY_EXAMPLES", "100"))
DAY0 = dt.datetime(2026, 1, 1)
KEYS = ["A", "B", "C"]

PROJECT = {
    "models/sources/feed.yml": """
applied_at: day
sequence: seq
columns:
  k: text
  day: timestamp
  v: text
  w: integer
  seq: integer
""",
    "models/hubs/thing.yml": """
business_key:
  k: text
sources:
  feed:
""",
    "models/satellites/thing_state.yml": """
parent: thing
source: feed
payload: [v, w]
""",
}

# Few keys, days and payloads, so that histories collide: equal payloads on neighbouring
# days, corrections back to an earlier value, gaps filled later. NULLs and a leading space
# are in the payloads because the hash diff must tell them apart.
PAYLOADS = [("x", 1), ("y", 1), ("x", None), (" x", 1)]
observation = st.tuples(
    st.sampled_from(KEYS[:2]),
    st.integers(0, 3),
    st.sampled_from(PAYLOADS),
).map(lambda o: (o[0], o[1], *o[2]))


# Dense snapshots: most cells of a small key x day grid, two payloads. Re-sent extracts look
# like this, and it makes corrections that flip a day back and forth common.
snapshot_cell = st.tuples(
    st.sampled_from(KEYS[:2]), st.integers(0, 3), st.sampled_from(PAYLOADS[:2]),
).map(lambda o: (o[0], o[1], *o[2]))


@st.composite
def histories(draw):
    """Distinct batches, then an arrival order that may repeat a batch."""
    batches = []
    cells = draw(st.sampled_from([observation, snapshot_cell]))
    for _ in range(draw(st.integers(1, 5))):
        rows = draw(st.lists(cells, max_size=8))
        unique: dict[tuple, tuple] = {}
        for key, day, v, w in rows:
            unique.setdefault((key, day), (v, w))
        batch = [(key, day, v, w) for (key, day), (v, w) in unique.items()]
        if batch and draw(st.booleans()):
            batch.append(batch[0])  # the same observation twice in one batch
        batches.append(batch)
    order = draw(st.permutations(range(len(batches))))
    repeats = draw(st.lists(st.integers(0, len(batches) - 1), max_size=2))
    return batches, list(order) + repeats


def _write_batch(folder: Path, number: int, batch: list[tuple]) -> str:
    path = folder / f"batch_{number}.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["k", "day", "v", "w", "seq"])
        for key, day, v, w in batch:
            writer.writerow([key, (DAY0 + dt.timedelta(days=day)).isoformat(),
                             "" if v is None else v, "" if w is None else w, 1])
    return str(path)


class Vault:
    """The small project above, opened on one database, emptied between examples."""

    def __init__(self, root: Path, url: str):
        write_project(root, PROJECT)
        self.session = api.open_session(root, url=migrated(root, url))
        self.tables = list(api.schema.build_metadata(self.session.project.model).tables)

    def reset(self) -> None:
        metadata = api.schema.build_metadata(self.session.project.model)
        with self.session.engine.begin() as connection:
            for table in self.tables:
                connection.execute(metadata.tables[table].delete())

    def load(self, path: str):
        # force: a repeated batch is loaded again as a new batch (an identical file would be
        # skipped, and the repeats would test nothing)
        result = self.session.loader.load("feed", open_input(path), force=True)
        assert result.ok, [e.message for e in result.entities]
        return result

    def rows(self, table: str, columns: str) -> list[tuple]:
        with self.session.engine.connect() as connection:
            return [tuple(r) for r in connection.exec_driver_sql(
                f"SELECT {columns} FROM {table} ORDER BY {columns}")]

    def satellite(self) -> list[tuple]:
        """(business key, applied, loaded, payload) of every satellite row."""
        with self.session.engine.connect() as connection:
            result = connection.exec_driver_sql(
                "SELECT h.k, s.applied_ts, s.load_ts, s.v, s.w FROM sat_thing_state s "
                "JOIN hub_thing h ON h.thing_hk = s.thing_hk"
            )
            return [(k, _ts(a), _ts(lt), (v, w)) for k, a, lt, v, w in result]

    def counts(self) -> tuple[int, ...]:
        with self.session.engine.connect() as connection:
            return tuple(
                connection.exec_driver_sql(f"SELECT COUNT(*) FROM {t}").scalar_one()
                for t in ("hub_thing", "sat_thing_state", "sat_thing_state__obs")
            )


def _ts(value) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)


@pytest.fixture
def vault(tmp_path: Path, db_url: str):
    v = Vault(tmp_path / "project", db_url)
    yield v
    v.session.close()


def _check_against_reference(vault: Vault, observations: list[tuple], load_times: list) -> None:
    rows = vault.satellite()
    grid = [DAY0 + dt.timedelta(days=d) for d in range(-1, 8)]
    for key, at, known_at in itertools.product(KEYS, grid, load_times):
        expected = reference_state(observations, key, at, known_at)
        actual = reference_state(rows, key, at, known_at)
        assert actual == expected, (
            f"key {key} at {at:%Y-%m-%d} as known at batch {load_times.index(known_at) + 1}: "
            f"vault says {actual}, reference says {expected}"
        )


def _check_query_answers(vault: Vault, observations: list[tuple], load_times: list) -> None:
    """`datavault query` (datavault.query.state) gives the reference's answers too."""
    model = vault.session.project.model
    with vault.session.engine.connect() as connection:
        for day in (0, 2, 4):
            at = DAY0 + dt.timedelta(days=day)
            for known_at in (load_times[0], load_times[-1]):
                answer = query.state(connection, model, "thing_state", at=at, known_at=known_at)
                got = {r["k"]: (r["v"], r["w"]) for r in answer.records()}
                expected = {k: reference_state(observations, k, at, known_at) for k in KEYS}
                assert got == {k: v for k, v in expected.items() if v is not None}, (
                    f"query at day {day}, known at batch {load_times.index(known_at) + 1}")


def _check_minimal(vault: Vault) -> None:
    """Every stored row is needed: without it, the state at its applied time as known at its
    load time would be another."""
    rows = vault.satellite()
    for row in rows:
        key, applied, loaded, payload = row
        others = [r for r in rows if r != row]
        assert reference_state(others, key, applied, loaded) != payload, (
            f"row {key} {applied} loaded {loaded} changes no state"
        )


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(history=histories())
@example(history=(  # a correction flips day 0 back after day 1 was only logged
    [[("A", 0, "x", 1), ("A", 1, "x", 1)], [("A", 0, "y", 1), ("A", 1, "y", 1)],
     [("A", 0, "x", 1)]],
    [0, 1, 2],
))
def test_every_state_equals_the_reference(vault: Vault, history) -> None:
    check_history(vault, history)


def check_history(vault: Vault, history) -> None:
    """Load a drawn history's batches in their arrival order: after each, every state as
    known at every load time is the reference's; then every row is needed, `query` answers
    as the reference, and the last batch loaded again inserts nothing."""
    batches, arrival = history
    vault.reset()
    observations: list[tuple] = []
    load_times: list[dt.datetime] = []
    with tempfile.TemporaryDirectory() as folder:
        paths = [_write_batch(Path(folder), i, b) for i, b in enumerate(batches)]
        for index in arrival:
            result = vault.load(paths[index])
            load_times.append(result.loaded_at)
            observations += [
                (key, DAY0 + dt.timedelta(days=day), result.loaded_at, (v, w))
                for key, day, v, w in batches[index]
            ]
            _check_against_reference(vault, observations, load_times)
        _check_minimal(vault)
        _check_query_answers(vault, observations, load_times)
        before = vault.counts()
        vault.load(paths[arrival[-1]])  # the same batch again, at a later load time
        assert vault.counts() == before, "loading a batch again inserted rows"


def test_in_order_batches_store_the_classic_condensed_history(vault: Vault, tmp_path: Path) -> None:
    days = [("x", 1), ("x", 1), ("y", 1), ("y", 1), ("x", 1), (None, 1)]
    for day, (v, w) in enumerate(days):
        vault.load(_write_batch(tmp_path, day, [("A", day, v, w)]))
    stored = [(r[1], r[3]) for r in sorted(vault.satellite())]
    assert stored == [
        (DAY0, ("x", 1)),
        (DAY0 + dt.timedelta(days=2), ("y", 1)),
        (DAY0 + dt.timedelta(days=4), ("x", 1)),
        (DAY0 + dt.timedelta(days=5), (None, 1)),
    ]
    assert vault.counts()[2] == 2, "days 1 and 3 (and nothing else) are only in the log"


def test_the_timeline_runs_only_for_a_batch_with_keys_that_need_it(
        vault: Vault, tmp_path: Path) -> None:
    """A batch whose keys are all in order (SEMANTICS.md section 3) needs no timeline: the
    loader leaves its statements out. A late observation takes it, and is stored right."""
    ran: list[str] = []
    sa.event.listen(vault.session.engine, "before_cursor_execute",
                    lambda conn, cursor, statement, *rest: ran.append(statement))
    vault.load(_write_batch(tmp_path, 2, [("A", 2, "x", 1)]))
    vault.load(_write_batch(tmp_path, 3, [("A", 3, "y", 1), ("B", 3, "x", 1)]))
    assert not [s for s in ran if "dv_timeline" in s and "DROP" not in s]
    vault.load(_write_batch(tmp_path, 1, [("A", 1, "y", 1)]))  # late: before day 2's x
    assert [s for s in ran if "CREATE TEMPORARY TABLE dv_timeline" in s
            or "CACHE TABLE dv_timeline" in s]
    stored = [(r[0], r[1], r[3]) for r in sorted(vault.satellite())]
    assert stored == [("A", DAY0 + dt.timedelta(days=1), ("y", 1)),
                      ("A", DAY0 + dt.timedelta(days=2), ("x", 1)),
                      ("A", DAY0 + dt.timedelta(days=3), ("y", 1)),
                      ("B", DAY0 + dt.timedelta(days=3), ("x", 1))]


def test_all_arrival_orders_of_five_daily_snapshots(vault: Vault, tmp_path: Path) -> None:
    """The example of SEMANTICS.md: one key, five daily snapshots, every arrival order."""
    snapshots = [("x", 1), ("y", 1), ("x", 1), ("x", 2), ("y", 1)]
    paths = [_write_batch(tmp_path, d, [("A", d, v, w)]) for d, (v, w) in enumerate(snapshots)]
    for order in itertools.permutations(range(5)):
        vault.reset()
        for index in order:
            vault.load(paths[index])
        final = {d: reference_state(vault.satellite(), "A", DAY0 + dt.timedelta(days=d),
                                    dt.datetime.max) for d in range(5)}
        assert final == dict(enumerate(snapshots)), f"arrival order {order}"


def test_conflicting_observations_are_quarantined_not_picked(vault: Vault, tmp_path: Path) -> None:
    path = tmp_path / "conflict.csv"
    path.write_text(
        "k,day,v,w,seq\n"
        "A,2026-01-01,x,1,1\n"
        "A,2026-01-01,y,1,1\n"   # same key, applied time and sequence, other payload
        "B,2026-01-01,x,1,1\n",
        encoding="utf-8",
    )
    result = vault.load(str(path))
    sat = next(e for e in result.entities if e.entity == "thing_state")
    assert sat.rows_inserted == 1 and sat.rows_quarantined == 2
    with vault.session.engine.connect() as connection:
        reasons = connection.exec_driver_sql(
            "SELECT row_number, reason FROM dv_quarantine ORDER BY row_number").all()
    assert [r[0] for r in reasons] == [1, 2]
    assert all(r[1].startswith("conflict:") for r in reasons)
    assert [r[0] for r in vault.satellite()] == ["B"]


def test_a_conflict_leaves_the_rest_of_a_keys_timeline_exact(vault: Vault, tmp_path: Path) -> None:
    """A key new to the satellite, with a conflict between two other observations of it: the
    conflict is quarantined and the key's timeline is that of the rest (y on the 3rd is a
    change from x, whatever the quarantined rows held)."""
    path = tmp_path / "conflict_mid.csv"
    path.write_text(
        "k,day,v,w,seq\n"
        "A,2026-01-01,x,1,1\n"
        "A,2026-01-02,z,1,1\n"
        "A,2026-01-02,y,1,1\n"  # conflicts with the row above
        "A,2026-01-03,y,1,1\n",
        encoding="utf-8",
    )
    result = vault.load(str(path))
    sat = next(e for e in result.entities if e.entity == "thing_state")
    assert (sat.rows_inserted, sat.rows_quarantined) == (2, 2)
    assert sorted((r[1].day, r[3][0]) for r in vault.satellite()) == [(1, "x"), (3, "y")]


def test_a_declared_sequence_orders_observations_of_one_batch(vault: Vault, tmp_path: Path) -> None:
    path = tmp_path / "sequenced.csv"
    path.write_text("k,day,v,w,seq\nA,2026-01-01,late,1,2\nA,2026-01-01,early,1,1\n",
                    encoding="utf-8")
    vault.load(str(path))
    assert [r[3] for r in vault.satellite()] == [("late", 1)]


def test_entity_loads_of_a_batch_in_any_order_give_the_same_tables(
    vault: Vault, tmp_path: Path
) -> None:
    batches = [
        [("A", 0, "x", 1), ("B", 0, "y", 2)],
        [("A", 2, "y", 1), ("C", 1, None, None)],
        [("A", 1, "z", 1), ("B", 0, "x", 2)],   # late, and a correction
    ]
    paths = [_write_batch(tmp_path, i, b) for i, b in enumerate(batches)]
    loader = vault.session.loader
    source = vault.session.project.model.sources["feed"]
    outcomes = []
    for entities in (["thing", "thing_state"], ["thing_state", "thing"]):
        vault.reset()
        for path in paths:
            staged = loader.stage("feed", open_input(path))
            for entity in entities:
                assert loader.load_entity(source, entity, staged).status == "ok"
        outcomes.append((
            vault.rows("hub_thing", "thing_hk, k, batch_id"),
            vault.rows("sat_thing_state", "thing_hk, applied_ts, batch_id, hash_diff, v, w"),
            vault.rows("sat_thing_state__obs", "thing_hk, applied_ts, hash_diff"),
        ))
    assert outcomes[0] == outcomes[1]


def test_a_satellite_refuses_a_batch_older_than_one_it_holds(vault: Vault, tmp_path: Path) -> None:
    loader = vault.session.loader
    source = vault.session.project.model.sources["feed"]
    # the older batch loads only the hub (else the satellite would refuse the newer batch
    # until the older one had loaded it: tests/test_interleaving.py)
    older = loader.stage("feed", open_input(_write_batch(tmp_path, 0, [("A", 0, "x", 1)])),
                         only=["thing"])
    newer = loader.stage("feed", open_input(_write_batch(tmp_path, 1, [("A", 1, "y", 1)])))
    for entity in ("thing", "thing_state"):
        assert loader.load_entity(source, entity, newer).status == "ok"
    assert loader.finish(newer.batch_id) == "loaded"
    outcome = loader.load_entity(source, "thing_state", older)
    assert outcome.status == "failed" and "already holds a batch" in outcome.message
    with vault.session.engine.connect() as connection:
        statuses = connection.exec_driver_sql(
            "SELECT status FROM dv_load_audit WHERE entity = 'thing_state' ORDER BY started_at"
        ).scalars().all()
    assert statuses == ["ok", "failed"]
