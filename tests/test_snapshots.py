"""Full-snapshot sources: a key missing from a snapshot is deleted at that snapshot's applied
time, and comes back when a later snapshot holds it again, with the same exactness for late
snapshots and corrected snapshots. Checked against a plain-Python reference on both engines.

The reference extends SEMANTICS.md section 2: a snapshot batch loaded at L with applied time t
observes, for every key the satellite ever holds that the snapshot lacks, a deletion at
(t, L). "Deleted" and "no state" answer alike (the vault does not store a deletion where a
key has no state yet); where a key had a payload, a deletion is stored and shown as such.
A key whose rows in a snapshot are a conflict (two payloads) is held by it and observed
neither way (section 5).
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from datavault import api, query
from datavault.load import open_input
from tests.conftest import migrated, write_project
from tests.reference import reference_state

EXAMPLES = int(os.environ.get("DATAVAULT_PROPERTY_EXAMPLES", "100")) // 2  # half the history test's
DAY0 = dt.datetime(2026, 1, 1)
KEYS = ["A", "B", "C"]
DELETED = "<deleted>"
CONFLICT = ("x", "y")  # a key given two payloads in one snapshot: a conflict

PROJECT = {
    "models/sources/extract.yml": """
batch: snapshot
applied_at: day
columns:
  k: text
  day: timestamp
  v: text
""",
    "models/hubs/item.yml": """
business_key:
  k: text
sources:
  extract:
""",
    "models/satellites/item_state.yml": """
parent: item
source: extract
payload: [v]
""",
}

snapshot = st.tuples(
    st.integers(0, 4),
    # non-empty: an empty file carries no applied time (its snapshot time is its load time)
    st.dictionaries(st.sampled_from(KEYS), st.sampled_from(["x", "y", CONFLICT]), min_size=1,
                    max_size=3),
)


@st.composite
def histories(draw):
    snapshots = draw(st.lists(snapshot, min_size=1, max_size=5))
    order = draw(st.permutations(range(len(snapshots))))
    repeats = draw(st.lists(st.integers(0, len(snapshots) - 1), max_size=1))
    return snapshots, list(order) + repeats


def _write(folder: Path, number: int, day: int, content: dict[str, str]) -> str:
    path = folder / f"snapshot_{number}.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["k", "day", "v"])
        for key, value in sorted(content.items()):
            for v in value if value == CONFLICT else (value,):
                writer.writerow([key, (DAY0 + dt.timedelta(days=day)).isoformat(), v])
    return str(path)


class Vault:
    def __init__(self, root: Path, url: str):
        write_project(root, PROJECT)
        self.session = api.open_session(root, url=migrated(root, url))
        self.model = self.session.project.model

    def reset(self) -> None:
        with self.session.engine.begin() as connection:
            for table in api.schema.build_metadata(self.model).sorted_tables:
                connection.execute(table.delete())

    def load(self, path: str, force: bool = False):
        # These histories delete most of three keys on purpose (a snapshot of one key after
        # one of three), which the mass-delete check would refuse: accepted here, since what
        # is tested is how deletions are stored (tests/test_mass_delete.py tests the check).
        result = self.session.loader.load("extract", open_input(path), force=force,
                                          allow_mass_delete=True)
        assert result.ok and not result.skipped, [e.message for e in result.entities]
        self.check_counts(result)
        return result

    def check_counts(self, result) -> None:
        """The satellite load counts the rows it wrote with a payload as inserted, and those
        that record a deletion (late snapshots and restores included) as deleted."""
        (sat,) = [e for e in result.entities if e.entity == "item_state"]
        with self.session.engine.connect() as connection:
            rows = [bytes(h) == bytes(16) for h, in connection.exec_driver_sql(
                f"SELECT hash_diff FROM sat_item_state WHERE batch_id = {result.batch_id}")]
        assert (sat.rows_inserted, sat.rows_deleted) == (rows.count(False), rows.count(True))

    def counts(self) -> tuple[int, int]:
        """The rows of the satellite and of its log."""
        with self.session.engine.connect() as connection:
            return tuple(connection.exec_driver_sql(f"SELECT COUNT(*) FROM {t}").scalar_one()
                         for t in ("sat_item_state", "sat_item_state__obs"))

    def rows(self) -> list[tuple]:
        """(key, applied, loaded, payload or DELETED) of every satellite row."""
        with self.session.engine.connect() as connection:
            history = query.history(connection, self.model, "item_state").records()
        return [(r["k"], _ts(r["applied"]), _ts(r["loaded"]),
                 DELETED if r["deleted"] else r["v"]) for r in history]


def _ts(value) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)


@pytest.fixture
def vault(tmp_path: Path, db_url: str):
    v = Vault(tmp_path / "project", db_url)
    yield v
    v.session.close()


def _reference(loaded: list[tuple], key: str, at: dt.datetime, known_at: dt.datetime):
    """loaded: (load time, applied time, content) of every batch loaded so far."""
    ever = {k for _, _, content in loaded for k in content}
    observations = []
    for load_time, applied, content in loaded:
        for k in ever:
            if content.get(k) != CONFLICT:  # a conflict: held, observed neither way
                observations.append((k, applied, load_time, content.get(k, DELETED)))
    state = reference_state(observations, key, at, known_at)
    return None if state == DELETED else state


def _same(state):
    return None if state == DELETED else state


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(history=histories())
@example(history=([(3, {"A": "x", "B": "y"}), (5, {"A": "x"}), (1, {"B": "x"})], [1, 2, 0]))
@example(history=(  # a key held by a conflict, then given by an earlier snapshot loaded later
    [(1, {"A": CONFLICT}), (0, {"A": "x"}), (2, {"B": "x"})], [0, 1, 2]))
@example(history=(  # the same, the conflicting snapshot loaded twice, then one that lacks the key
    [(1, {"A": CONFLICT}), (0, {"A": "x"}), (1, {"B": "y"})], [0, 0, 2, 1]))
def test_snapshot_states_equal_the_reference(vault: Vault, history) -> None:
    check_snapshots(vault, history)


def check_snapshots(vault: Vault, history) -> None:
    """Load a drawn history's snapshots in their arrival order: after each, every state as
    known at every load time is the reference's; the last loaded again inserts nothing."""
    snapshots, arrival = history
    vault.reset()
    loaded: list[tuple] = []
    with tempfile.TemporaryDirectory() as folder:
        paths = [_write(Path(folder), i, d, c) for i, (d, c) in enumerate(snapshots)]
        for index in arrival:
            day, content = snapshots[index]
            # force: a repeat, or another snapshot with the same day and content, is loaded
            # again as a new snapshot at a later load time (an identical file would be
            # skipped, and its repeat would test nothing)
            result = vault.load(paths[index], force=True)
            loaded.append((result.loaded_at, DAY0 + dt.timedelta(days=day), content))
            rows = vault.rows()
            grid = [DAY0 + dt.timedelta(days=d) for d in range(-1, 6)]
            for key, at, (known_at, _, _) in itertools.product(KEYS, grid, loaded):
                expected = _reference(loaded, key, at, known_at)
                actual = _same(reference_state(rows, key, at, known_at))
                assert actual == expected, (
                    f"key {key} at day {(at - DAY0).days}, known at batch "
                    f"{[x[0] for x in loaded].index(known_at) + 1}: vault {actual}, "
                    f"reference {expected}")
        # property 2: the last snapshot loaded again, at a later load time, inserts no row
        # anywhere (a key it holds in a conflict included)
        before = vault.counts()
        vault.load(paths[arrival[-1]], force=True)
        assert vault.counts() == before, "loading a snapshot again inserted rows"


def test_a_deleted_key_shows_as_deleted_and_comes_back(vault: Vault, tmp_path: Path) -> None:
    vault.load(_write(tmp_path, 0, 0, {"A": "x", "B": "y"}))
    vault.load(_write(tmp_path, 1, 2, {"A": "x"}))            # B deleted on day 2
    vault.load(_write(tmp_path, 2, 4, {"A": "x", "B": "z"}))  # B back on day 4
    vault.load(_write(tmp_path, 3, 1, {"A": "x", "B": "w"}))  # late: day 1 held B as w
    with vault.session.engine.connect() as connection:
        def at(day):
            answer = query.state(connection, vault.model, "item_state",
                                 at=DAY0 + dt.timedelta(days=day)).records()
            return {r["k"]: (r["deleted"], r["v"]) for r in answer}
        assert at(0) == {"A": (False, "x"), "B": (False, "y")}
        assert at(1) == {"A": (False, "x"), "B": (False, "w")}
        assert at(2) == {"A": (False, "x"), "B": (True, None)}
        assert at(3) == {"A": (False, "x"), "B": (True, None)}
        assert at(4) == {"A": (False, "x"), "B": (False, "z")}
    assert [r for r in vault.rows() if r[0] == "A"] == [r for r in vault.rows()
                                                        if r[0] == "A"][:1]


def test_an_empty_snapshot_deletes_every_key(vault: Vault, tmp_path: Path) -> None:
    vault.load(_write(tmp_path, 0, 0, {"A": "x", "B": "y"}))
    empty = tmp_path / "empty.csv"
    empty.write_text("k,day,v\n", encoding="utf-8")
    # an empty file deletes every key: more than the mass-delete check lets through
    result = vault.session.loader.load("extract", open_input(str(empty)),
                                       applied_at=None, allow_mass_delete=True)
    assert result.ok
    vault.check_counts(result)
    assert [e.rows_deleted for e in result.entities if e.entity == "item_state"] == [2]
    deleted_at = result.loaded_at  # an empty batch's snapshot time is its load time
    with vault.session.engine.connect() as connection:
        answer = query.state(connection, vault.model, "item_state",
                             at=deleted_at).records()
    assert {r["k"]: r["deleted"] for r in answer} == {"A": True, "B": True}
