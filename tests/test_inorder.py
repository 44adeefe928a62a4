"""The three paths of a satellite load (templates/base/_history.sql.j2, SEMANTICS.md section 3):
a key observed only after everything stored or logged of it is compared with its latest stored
row; an observation that repeats the latest one at its applied time needs nothing; every other
observation goes through the timeline. One batch holds keys of every kind: in order, observed
before a logged observation though after the latest stored row, observed both before and
after what is known, and observed again unchanged. Checked against the plain-Python
reference on both engines, and that each key took the path it should (the timeline's keys).
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import os
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from datavault import api, hashing
from datavault.load import open_input
from tests.conftest import migrated, write_project
from tests.reference import reference_state
from tests.test_history import PROJECT as HISTORY_PROJECT
from tests.test_snapshots import PROJECT as SNAPSHOT_PROJECT

# a tenth of the history test's examples: each loads three to six batches of six keys
EXAMPLES = max(5, int(os.environ.get("DATAVAULT_PROPERTY_EXAMPLES", "100")) // 10)
DAY0 = dt.datetime(2026, 1, 1)
KEYS = ["K0", "K1", "K2", "K3", "K4", "K5"]
DAYS = 10
PAYLOADS = ["x", "y", "z"]
DELETED = "<deleted>"

PROJECT = {
    "models/sources/feed.yml": """
applied_at: day
deleted:
  column: op
  values: [d]
columns:
  k: text
  day: timestamp
  v: text
  op: text
""",
    "models/hubs/thing.yml": HISTORY_PROJECT["models/hubs/thing.yml"],
    "models/satellites/thing_state.yml": """
parent: thing
source: feed
payload: [v]
""",
}


class Vault:
    """A project on one database, with the keys of the last load's timeline at hand."""

    def __init__(self, root: Path, url: str, files: dict[str, str], source: str,
                 satellite: str, hub: str):
        write_project(root, files)
        self.session = api.open_session(root, url=migrated(root, url))
        self.source, self.satellite, self.hub = source, satellite, hub
        self.tables = list(api.schema.build_metadata(self.session.project.model).tables)
        self.timeline_keys: set[bytes] = set()
        sa.event.listen(self.session.engine, "after_cursor_execute", self._after)

    def _after(self, _conn, cursor, statement: str, *_args: object) -> None:
        # the keys of dv_timeline, read on the load's own connection right after it is made
        if statement.lstrip().startswith("CREATE TEMPORARY TABLE dv_timeline"):
            reader = cursor.connection.cursor()
            reader.execute("SELECT DISTINCT dv_hk FROM dv_timeline")
            self.timeline_keys |= {bytes(row[0]) for row in reader.fetchall()}
            reader.close()

    def reset(self) -> None:
        with self.session.engine.begin() as connection:
            for table in self.tables:
                connection.exec_driver_sql(f"DELETE FROM {table}")

    def load(self, path: Path):
        self.timeline_keys = set()
        result = self.session.loader.load(self.source, open_input(str(path)), force=True)
        assert result.ok, [e.message for e in result.entities]
        return result

    def rows(self) -> list[tuple]:
        """(business key, applied, loaded, payload) of every satellite row; a deletion's
        payload is DELETED."""
        with self.session.engine.connect() as connection:
            result = connection.exec_driver_sql(
                f"SELECT h.k, s.applied_ts, s.load_ts, s.v, s.hash_diff "
                f"FROM sat_{self.satellite} s "
                f"JOIN hub_{self.hub} h ON h.{self.hub}_hk = s.{self.hub}_hk")
            return [(k, _ts(a), _ts(lt), DELETED if not any(bytes(hd)) else v)
                    for k, a, lt, v, hd in result]

    def counts(self) -> tuple[int, int]:
        with self.session.engine.connect() as connection:
            return tuple(connection.exec_driver_sql(f"SELECT COUNT(*) FROM {t}").scalar_one()
                         for t in (f"sat_{self.satellite}", f"sat_{self.satellite}__obs"))


def _ts(value) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)


def _day(at: dt.datetime) -> int:
    return (at - DAY0).days


def _hk(key: str) -> bytes:
    return hashing.hash_key([(key, "text")], "md5")


@pytest.fixture
def vault(tmp_path: Path, db_url: str):
    v = Vault(tmp_path / "project", db_url, PROJECT, "feed", "thing_state", "thing")
    yield v
    v.session.close()


def _write(path: Path, batch: list[tuple[str, int, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["k", "day", "v", "op"])
        for key, day, value in batch:
            deleted = value == DELETED
            writer.writerow([key, (DAY0 + dt.timedelta(days=day)).isoformat(),
                             "" if deleted else value, "d" if deleted else ""])
    return path


def _latest(observations: list[tuple], key: str, day: int):
    """The payload of the latest-loaded observation of ``key`` at ``day`` (None: none)."""
    at = DAY0 + dt.timedelta(days=day)
    here = [o for o in observations if o[0] == key and o[1] == at]
    return max(here, key=lambda o: o[2])[3] if here else None


@st.composite
def scenarios(draw):
    """Batches loaded in the given order (some late), then one batch whose every key is drawn
    to be in order, observed before its latest known applied time, before and after it, or
    observed again with what is known there."""
    history = []
    for _ in range(draw(st.integers(1, 4))):
        cells = draw(st.dictionaries(st.tuples(st.sampled_from(KEYS), st.integers(0, DAYS - 3)),
                                     st.sampled_from(PAYLOADS + [DELETED]), max_size=10))
        history.append([(k, d, v) for (k, d), v in sorted(cells.items())])
    modes = draw(st.lists(st.sampled_from(["in order", "before", "both", "again", "absent"]),
                          min_size=len(KEYS), max_size=len(KEYS)))
    seeds = draw(st.lists(st.tuples(st.integers(0, DAYS - 1), st.integers(0, DAYS - 1),
                                    st.sampled_from(PAYLOADS + [DELETED]),
                                    st.sampled_from(PAYLOADS)),
                          min_size=len(KEYS), max_size=len(KEYS)))
    return history, list(zip(KEYS, modes, seeds, strict=True))


def _final_batch(known: dict[str, list[int]], plan, observations) -> list[tuple[str, int, str]]:
    """The last batch from the drawn plan and what the vault knows of each key by then (the
    applied days observed of it)."""
    batch = []
    for key, mode, (a, b, first, second) in plan:
        days = sorted(set(known.get(key, [])))
        last = days[-1] if days else -1
        later = [d for d in range(DAYS) if d > last]
        earlier = [d for d in range(DAYS) if d < last]
        if mode == "in order" and later:
            picked = sorted({later[a % len(later)], later[b % len(later)]})
            batch += [(key, picked[0], first)] + [(key, d, second) for d in picked[1:]]
        elif mode == "before" and earlier:
            batch.append((key, earlier[a % len(earlier)], first))
        elif mode == "both" and earlier and later:
            batch += [(key, earlier[a % len(earlier)], first), (key, later[b % len(later)], second)]
        elif mode == "again" and days:
            day = days[a % len(days)]
            value = _latest(observations, key, day)
            batch.append((key, day, DELETED if value == DELETED else value))
    return batch


def _live(payload):
    """A deletion answers as no state (SEMANTICS.md section 5)."""
    return None if payload == DELETED else payload


def _check(vault: Vault, observations: list[tuple], load_times: list) -> None:
    rows = vault.rows()
    grid = [DAY0 + dt.timedelta(days=d) for d in range(-1, DAYS + 1)]
    for key, at, known_at in itertools.product(KEYS, grid, load_times):
        expected = _live(reference_state(observations, key, at, known_at))
        actual = _live(reference_state(rows, key, at, known_at))
        assert actual == expected, (
            f"key {key} at {at:%Y-%m-%d} as known at load {load_times.index(known_at) + 1}: "
            f"vault says {actual}, reference says {expected}")
    for row in rows:  # minimal: without it, the state there as known from its load would differ
        key, applied, loaded, payload = row
        others = [r for r in rows if r != row]
        assert _live(reference_state(others, key, applied, loaded)) != _live(payload), (
            f"row {row} changes no state")


def _walked(batch: list[tuple[str, int, str]], observations: list[tuple]) -> set[bytes]:
    """The keys whose observations in ``batch`` the timeline must see: those observed at or
    before the latest applied time known of them, with an observation that does not repeat
    the latest one at its applied time."""
    walked = set()
    for key in {k for k, _, _ in batch}:
        known = [o[1] for o in observations if o[0] == key]
        mine = [(d, v) for k, d, v in batch if k == key]
        first = DAY0 + dt.timedelta(days=min(d for d, _ in mine))
        if known and first <= max(known) and any(_latest(observations, key, d) != v
                                                 for d, v in mine):
            walked.add(_hk(key))
    return walked


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(scenario=scenarios())
@example(scenario=(  # K0 after its stored row but before a logged observation of it; K1 in order
    [[("K0", 1, "x"), ("K1", 1, "x")], [("K0", 5, "x"), ("K1", 2, "y")]],
    [("K0", "before", (3, 0, "y", "x")), ("K1", "in order", (0, 1, "z", "z"))]
    + [(k, "absent", (0, 0, "x", "x")) for k in KEYS[2:]],
))
def test_keys_of_every_path_in_one_batch(vault: Vault, tmp_path: Path, scenario) -> None:
    history, plan = scenario
    vault.reset()
    observations: list[tuple] = []
    load_times: list[dt.datetime] = []
    known: dict[str, list[int]] = {}

    def load(number: int, batch: list[tuple[str, int, str]]) -> None:
        walked = _walked(batch, observations)
        result = vault.load(_write(tmp_path / f"batch_{number}.csv", batch))
        assert vault.timeline_keys == walked, f"batch {number + 1}: the timeline's keys"
        load_times.append(result.loaded_at)
        observations.extend((k, DAY0 + dt.timedelta(days=d), result.loaded_at, v)
                            for k, d, v in batch)
        for k, d, _ in batch:
            known.setdefault(k, []).append(d)
        _check(vault, observations, load_times)

    for number, batch in enumerate(history):
        load(number, batch)
    final = _final_batch(known, plan, observations)
    load(len(history), final)

    counts = vault.counts()
    vault.load(_write(tmp_path / "again.csv", final))  # the same batch again
    assert vault.counts() == counts, "loading the batch again inserted or logged something"
    assert vault.timeline_keys == set(), "a batch loaded again went through the timeline"


def test_a_key_after_its_stored_row_but_before_a_logged_observation(
    vault: Vault, tmp_path: Path
) -> None:
    """x stored on day 1 and only logged on day 5; y on day 3 loaded later is not in order:
    x must come back on day 5."""
    vault.load(_write(tmp_path / "a.csv", [("K0", 1, "x")]))
    vault.load(_write(tmp_path / "b.csv", [("K0", 5, "x")]))
    assert vault.counts() == (1, 1)
    vault.load(_write(tmp_path / "c.csv", [("K0", 3, "y"), ("K1", 3, "y")]))
    assert vault.timeline_keys == {_hk("K0")}, "K1 is new, so in order; K0 is not"
    assert sorted((_day(r[1]), r[3]) for r in vault.rows() if r[0] == "K0") == [
        (1, "x"), (3, "y"), (5, "x")]


def test_in_order_keys_compare_with_the_latest_stored_row(vault: Vault, tmp_path: Path) -> None:
    """The first observation of an in-order key is compared with its latest stored row (by
    applied time, then load time), not with an earlier one: a correction loaded later counts."""
    vault.load(_write(tmp_path / "a.csv", [("K0", 1, "x"), ("K0", 2, "y")]))
    vault.load(_write(tmp_path / "b.csv", [("K0", 2, "x")]))  # corrects day 2 back to x
    vault.load(_write(tmp_path / "c.csv", [("K0", 3, "x"), ("K0", 4, "y"), ("K1", 4, "x")]))
    assert vault.timeline_keys == set(), "every key of the last batch is in order"
    rows = sorted((_day(r[1]), r[2], r[3]) for r in vault.rows() if r[0] == "K0")
    assert [(day, value) for day, _, value in rows] == [(1, "x"), (2, "y"), (2, "x"), (4, "y")]
    assert vault.counts() == (5, 1), "day 3 repeats the state, so it is only logged"


def test_an_in_order_deletion_needs_a_state(vault: Vault, tmp_path: Path) -> None:
    """A deletion of an in-order key goes in where the key had a state, and is only logged
    where it had none (a key never seen, or one already deleted)."""
    vault.load(_write(tmp_path / "a.csv", [("K0", 1, "x")]))
    result = vault.load(_write(tmp_path / "b.csv", [
        ("K0", 2, DELETED), ("K0", 3, DELETED), ("K1", 2, DELETED), ("K2", 2, "x"),
        ("K2", 3, DELETED)]))
    assert vault.timeline_keys == set()
    satellite = next(e for e in result.entities if e.entity == "thing_state")
    assert (satellite.rows_inserted, satellite.rows_deleted) == (1, 2)
    assert sorted((r[0], _day(r[1]), r[3]) for r in vault.rows()) == [
        ("K0", 1, "x"), ("K0", 2, DELETED), ("K2", 2, "x"), ("K2", 3, DELETED)]
    assert vault.counts() == (4, 2), "K0 on day 3 and K1 on day 2 are only logged"


def test_a_batch_repeating_some_points_and_changing_others(vault: Vault, tmp_path: Path) -> None:
    """Observations that repeat the latest one at their applied time need nothing; the key's
    other observations still go their way (here: the timeline, since one lies before what is
    known)."""
    vault.load(_write(tmp_path / "a.csv", [("K0", 1, "x"), ("K0", 4, "y"), ("K1", 1, "x")]))
    vault.load(_write(tmp_path / "b.csv", [("K0", 1, "x"), ("K0", 2, "z"), ("K0", 4, "y"),
                                            ("K1", 1, "x")]))
    assert vault.timeline_keys == {_hk("K0")}
    assert sorted((r[0], _day(r[1]), r[3]) for r in vault.rows()) == [
        ("K0", 1, "x"), ("K0", 2, "z"), ("K0", 4, "y"), ("K1", 1, "x")]
    assert vault.counts() == (4, 0)


@pytest.fixture
def snapshots(tmp_path: Path, db_url: str):
    v = Vault(tmp_path / "snapshots", db_url, SNAPSHOT_PROJECT, "extract", "item_state", "item")
    yield v
    v.session.close()


def _snapshot(path: Path, day: int, content: dict[str, str]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["k", "day", "v"])
        for key, value in sorted(content.items()):
            writer.writerow([key, (DAY0 + dt.timedelta(days=day)).isoformat(), value])
    return path


def test_a_key_first_given_by_an_earlier_snapshot_loaded_late(snapshots: Vault,
                                                              tmp_path: Path) -> None:
    """The snapshot of day 5, loaded first, lacked K1, which the vault did not know then. The
    snapshot of day 3, loaded next, gives K1: not in order, since the snapshot of day 5
    deleted it, as known from its load time; K0, known since day 5, is."""
    snapshots.load(_snapshot(tmp_path / "s5.csv", 5, {"K0": "x"}))
    snapshots.load(_snapshot(tmp_path / "s3.csv", 3, {"K0": "x", "K1": "y"}))
    assert snapshots.timeline_keys == {_hk("K0"), _hk("K1")}, (
        "K0 is observed before its stored row; K1 after the snapshot of day 5")
    assert sorted((r[0], _day(r[1]), r[3]) for r in snapshots.rows()) == [
        ("K0", 3, "x"), ("K0", 5, "x"), ("K1", 3, "y"), ("K1", 5, DELETED)]
    # in applied-time order from here: every key in order, the lacking K1 deleted once
    snapshots.load(_snapshot(tmp_path / "s7.csv", 7, {"K0": "y"}))
    assert snapshots.timeline_keys == set()
    snapshots.load(_snapshot(tmp_path / "s9.csv", 9, {"K0": "y", "K1": "z"}))
    assert snapshots.timeline_keys == set()
    assert sorted((r[0], _day(r[1]), r[3]) for r in snapshots.rows()) == [
        ("K0", 3, "x"), ("K0", 5, "x"), ("K0", 7, "y"), ("K1", 3, "y"), ("K1", 5, DELETED),
        ("K1", 9, "z")]
    assert snapshots.counts() == (6, 2), "K1 lacking on day 7 and K0 unchanged on day 9 are logged"
