"""Multi-active satellites keep SEMANTICS.md section 7, checked against the plain-Python
reference (``tests/reference.py``) on SQLite and PostgreSQL.

A person's phone numbers arrive as sets: the rows of a key and applied time in one batch. The
properties load random batches in random arrival orders, with repeats (a batch again, its rows
in another order), gap fills and corrections, from a delta source with a child key and a
sequence, and from a full-snapshot source without a child key. After every batch, the set of
every key at every applied time, as known at every load time so far, must be the reference's;
every stored version must be needed (minimal) and stored whole, its rows carrying the set's
hash diff; a batch loaded again at once must insert nothing. Then: the regression cases of
section 7, the set hash diff byte for byte on both engines, the load files run by a plain SQL
client, the generated SQL against golden files, and validation.
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import os
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from datavault import api, hashing, query
from datavault.cli import main
from datavault.database import connect
from datavault.diagnostics import DatavaultError, ModelError
from datavault.dialects import get_dialect
from datavault.load import open_input
from tests.conftest import ENGINES, migrated, write_project
from tests.reference import (
    DELETED,
    condensed_history,
    live_state,
    member,
    multi_active_observations,
    set_hash_diff,
)
from tests.test_generate import _run_plain

# Each example loads up to eight batches (some 0.1 s each on SQLite, 0.5 s on PostgreSQL): a
# tenth of the setting, 100 at the CI's 1000, keeps each property within a few minutes there.
SETTING = int(os.environ.get("DATAVAULT_PROPERTY_EXAMPLES", "100"))
EXAMPLES = max(SETTING // 10, 5)
DAY0 = dt.datetime(2026, 1, 1)
KEYS = ["A", "B", "C"]
ZERO = bytes(16)
HERE = Path(__file__).parent
GOLDEN = HERE / "golden_kinds" / "multi_active_satellite"
GOLDEN_PROJECT = HERE / "projects" / "multi_active_satellite"
UPDATE = os.environ.get("DATAVAULT_UPDATE_GOLDEN") == "1"

PROJECT = {
    "models/sources/phones.yml": """
applied_at: day
sequence: seq
columns:
  k: text
  day: timestamp
  kind: text
  number: text
  seq: integer
""",
    "models/sources/book.yml": """
batch: snapshot
applied_at: day
columns:
  k: text
  day: timestamp
  kind: text
  number: text
""",
    "models/hubs/person.yml": """
business_key:
  k: text
sources:
  phones:
  book:
""",
    "models/multi_active_satellites/person_phones.yml": """
parent: person
source: phones
payload: [kind, number]
child_key: [kind]
""",
    "models/multi_active_satellites/person_book.yml": """
parent: person
source: book
payload: [kind, number]
""",
}

HOME, HOME2, WORK = ("home", "1"), ("home", "2"), ("work", "1")
# Sets that share members, so that histories collide: the same set in another order, one
# member more or less, a member changed; a member with a NULL (left out of its hash diff);
# the last set is a conflict under the child key `kind` (two different members `home`).
SETS = [(HOME,), (HOME, WORK), (WORK, HOME), (HOME2, ("work", None)), ((None, "3"),),
        (HOME, HOME2)]
# Sets of the snapshot source (no child key: two `home` members are a plain set); the last
# is one member whose every column is NULL, which is not the empty set.
BOOK_SETS = [(HOME,), (HOME, WORK), (HOME2, HOME), ((None, None),)]


def _members(pairs) -> frozenset:
    return frozenset(member((("kind", k), ("number", n))) for k, n in pairs)


def _hd(kind, number) -> bytes:
    return hashing.hash_diff([("kind", kind, "text"), ("number", number, "text")], "md5")


# ---- the vault -------------------------------------------------------------------------------
class Vault:
    """The project above on one database, emptied between examples."""

    def __init__(self, root: Path, url: str):
        write_project(root, PROJECT)
        self.session = api.open_session(root, url=migrated(root, url))
        self.model = self.session.project.model
        self.folder = root / "batches"
        self.folder.mkdir()
        self.files = itertools.count()

    def reset(self) -> None:
        with self.session.engine.begin() as connection:
            for table in api.schema.build_metadata(self.model).sorted_tables:
                connection.execute(table.delete())

    def write(self, source: str, rows) -> str:
        """A CSV file of (key, day, kind, number[, seq]) rows; None is an empty field."""
        path = self.folder / f"{source}_{next(self.files)}.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["k", "day", "kind", "number"] + (["seq"] if source == "phones"
                                                             else []))
            for key, day, *rest in rows:
                writer.writerow([key, (DAY0 + dt.timedelta(days=day)).isoformat(),
                                 *["" if v is None else v for v in rest]])
        return str(path)

    def load(self, source: str, rows, **options):
        result = self.session.loader.load(source, open_input(self.write(source, rows)),
                                          force=True, allow_mass_delete=True, **options)
        assert result.ok, [e.message for e in result.entities]
        return result

    def rows(self, msat: str) -> list[tuple]:
        """(key, applied, loaded, hash diff, member hash diff, kind, number) of every row."""
        with self.session.engine.connect() as connection:
            return [(k, _ts(a), _ts(lt), bytes(h), bytes(mh), kind, number)
                    for k, a, lt, h, mh, kind, number in connection.exec_driver_sql(
                        "SELECT p.k, s.applied_ts, s.load_ts, s.hash_diff, s.member_hash_diff, "
                        f"s.kind, s.number FROM msat_person_{msat} s "
                        "JOIN hub_person p ON p.person_hk = s.person_hk")]

    def versions(self, msat: str) -> list[tuple]:
        """Every stored version as an observation (key, applied, loaded, set or DELETED),
        after checking that it is stored whole: its rows share the set's hash diff, each
        with its member's own; a deletion is one row with the zero hash diff and no
        payload."""
        grouped: dict[tuple, list[tuple]] = {}
        for key, applied, loaded, *rest in self.rows(msat):
            grouped.setdefault((key, applied, loaded), []).append(tuple(rest))
        versions = []
        for (key, applied, loaded), rows in grouped.items():
            where = f"{msat} {key} {applied:%d} loaded {loaded}"
            if rows[0][0] == ZERO:
                assert rows == [(ZERO, ZERO, None, None)], where
                versions.append((key, applied, loaded, DELETED))
                continue
            members = [mh for _, mh, _, _ in rows]
            assert len(set(members)) == len(members), where
            assert all(mh == _hd(kind, number) for _, mh, kind, number in rows), where
            assert {h for h, _, _, _ in rows} == {set_hash_diff(members)}, where
            versions.append((key, applied, loaded, _members((k, n) for _, _, k, n in rows)))
        return versions

    def counts(self) -> tuple[int, ...]:
        with self.session.engine.connect() as connection:
            return tuple(connection.exec_driver_sql(f"SELECT COUNT(*) FROM {t}").scalar_one()
                         for t in ("msat_person_phones", "msat_person_phones__obs",
                                   "msat_person_book", "msat_person_book__obs"))

    def query(self, msat: str, at: dt.datetime, known_at=None) -> dict:
        """`query` of the satellite: per key, its set (None: deleted)."""
        with self.session.engine.connect() as connection:
            answer = query.state(connection, self.model, f"person_{msat}", at=at,
                                 known_at=known_at).records()
        found: dict[str, set | None] = {}
        for record in answer:
            if record.get("deleted"):
                assert record["kind"] is None and record["number"] is None
                found[record["k"]] = None
            else:
                found.setdefault(record["k"], set()).add((record["kind"], record["number"]))
        return {k: None if v is None else _members(v) for k, v in found.items()}

    def quarantined(self) -> list[tuple]:
        with self.session.engine.connect() as connection:
            return [tuple(r) for r in connection.exec_driver_sql(
                "SELECT batch_id, entity, row_number, reason FROM dv_quarantine "
                "ORDER BY batch_id, entity, row_number")]


def _ts(value) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)


def day(n: int) -> dt.datetime:
    return DAY0 + dt.timedelta(days=n)


@pytest.fixture
def vault(tmp_path: Path, db_url: str):
    v = Vault(tmp_path / "project", db_url)
    yield v
    v.session.close()


# ---- the checks against the reference --------------------------------------------------------
def _phone_observations(loaded: dt.datetime, rows) -> list[tuple]:
    return multi_active_observations(
        loaded, [(k, day(d), (("kind", kind), ("number", number)), seq)
                 for k, d, kind, number, seq in rows], ("kind",))[0]


def _book_observations(loaded: dt.datetime, snapshot: dict, ever: set[str]) -> list[tuple]:
    """A snapshot's sets, and a deletion of every key any snapshot gives that it lacks."""
    (d, content) = snapshot
    rows = [(k, day(d), (("kind", kind), ("number", number)))
            for k, pairs in content.items() for kind, number in pairs]
    return (multi_active_observations(loaded, rows)[0]
            + [(k, day(d), loaded, DELETED) for k in sorted(ever - set(content))])


def _check_exact(versions: list[tuple], observations: list[tuple],
                 load_times: list[dt.datetime]) -> None:
    grid = [day(d) for d in range(-1, 6)]
    for key, at, known_at in itertools.product(KEYS, grid, load_times):
        expected = live_state(observations, key, at, known_at)
        actual = live_state(versions, key, at, known_at)
        assert actual == expected, (
            f"key {key} at day {(at - DAY0).days}, known at batch "
            f"{load_times.index(known_at) + 1}: vault {actual}, reference {expected}")


def _check_minimal(versions: list[tuple]) -> None:
    """Every stored version is needed: without it, the state at its applied time as known at
    its load time would be another (a deletion counts as no state)."""
    for version in versions:
        key, applied, loaded, state = version
        others = [v for v in versions if v is not version]
        assert live_state(others, key, applied, loaded) != (
            None if state is DELETED else state), f"{version} changes no state"


def _check_readers(vault: Vault, msat: str, observations: list[tuple],
                   load_times: list[dt.datetime]) -> None:
    """`query` gives the reference's sets, and `history` the stored versions."""
    for d, known_at in itertools.product((0, 2, 4), (load_times[0], load_times[-1])):
        expected = {k: live_state(observations, k, day(d), known_at) for k in KEYS}
        got = {k: v for k, v in vault.query(msat, day(d), known_at).items() if v is not None}
        assert got == {k: v for k, v in expected.items() if v is not None}, (d, known_at)
    with vault.session.engine.connect() as connection:
        history = query.history(connection, vault.model, f"person_{msat}").records()
    stored = {(k, a, lt): s for k, a, lt, s in vault.versions(msat)}
    read: dict[tuple, set | None] = {}
    for r in history:
        point = (r["k"], _ts(r["applied"]), _ts(r["loaded"]))
        if r["deleted"]:
            read[point] = None
        else:
            read.setdefault(point, set()).add((r["kind"], r["number"]))
        later = [lt for k, a, lt in stored if (k, a) == point[:2] and lt > point[2]]
        assert r["replaced"] == (min(later) if later else None), point
    assert {p: DELETED if v is None else _members(v) for p, v in read.items()} == stored


# ---- the properties --------------------------------------------------------------------------
@st.composite
def phone_batch(draw):
    """Sets of a few keys and days: each set's rows in any order, a row repeated, and rows of
    another set that the sequence orders away (a lower or no sequence value)."""
    cells = draw(st.dictionaries(st.tuples(st.sampled_from(KEYS[:2]), st.integers(0, 3)),
                                 st.integers(0, len(SETS) - 1), max_size=5))
    rows = []
    for (key, d), index in cells.items():
        top = draw(st.sampled_from([1, 2]))
        rows += [(key, d, kind, number, top) for kind, number in SETS[index]]
        if draw(st.booleans()):
            rows.append(rows[-1])
        if draw(st.integers(0, 3)) == 0:
            low = draw(st.sampled_from([None, top - 1]))
            rows += [(key, d, kind, number, low)
                     for kind, number in SETS[draw(st.integers(0, len(SETS) - 1))]]
    return draw(st.permutations(rows))


@st.composite
def arrivals(draw, batches):
    """Distinct batches, then an arrival order that may repeat a batch."""
    made = draw(st.lists(batches, min_size=1, max_size=5))
    order = draw(st.permutations(range(len(made))))
    repeats = draw(st.lists(st.integers(0, len(made) - 1), max_size=2))
    return made, list(order) + repeats


SETTINGS = settings(max_examples=EXAMPLES, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


@SETTINGS
@given(history=arrivals(phone_batch()))
@example(history=(  # a late set between two equal ones (restored whole), then corrections
    [[("A", 0, *HOME, 1), ("A", 0, *WORK, 1)], [("A", 2, *WORK, 1), ("A", 2, *HOME, 1)],
     [("A", 1, *HOME2, 1)], [("A", 1, *HOME, 1), ("A", 1, *WORK, 1)]], [0, 1, 2, 3, 2]))
@example(history=(  # a set stored twice with one load time, then restored: one copy of it
    [[("A", d, *pair, 1) for d in (0, 2, 3) for pair in (HOME, WORK)] + [("A", 1, *HOME2, 1)],
     [("A", 2, *HOME2, 1)]], [0, 1]))
def test_delta_sets_equal_the_reference(vault: Vault, history) -> None:
    check_delta_sets(vault, history)


def check_delta_sets(vault: Vault, history) -> None:
    """Load a drawn history of delta batches of sets in their arrival order: after each,
    every state as known at every load time is the reference's; then every version is
    needed, `query` and `history` read it, and the last batch again (its rows in another
    order) inserts nothing."""
    batches, arrival = history
    vault.reset()
    observations: list[tuple] = []
    load_times: list[dt.datetime] = []
    for n, index in enumerate(arrival):
        rows = batches[index] if n < len(batches) else list(reversed(batches[index]))
        result = vault.load("phones", rows)
        load_times.append(result.loaded_at)
        observations += _phone_observations(result.loaded_at, rows)
        _check_exact(vault.versions("phones"), observations, load_times)
    _check_minimal(vault.versions("phones"))
    _check_readers(vault, "phones", observations, load_times)
    before = vault.counts()
    rows = list(reversed(batches[arrival[-1]]))
    result = vault.load("phones", rows)  # the last batch again, its rows in another order
    assert vault.counts() == before, "loading a batch again inserted rows"
    _check_exact(vault.versions("phones"), observations + _phone_observations(
        result.loaded_at, rows), load_times + [result.loaded_at])


snapshot = st.tuples(
    st.integers(0, 4),
    # non-empty: an empty file carries no applied time (its snapshot time is its load time)
    st.dictionaries(st.sampled_from(KEYS), st.sampled_from(BOOK_SETS), min_size=1,
                    max_size=3))


def _book_rows(snap, reverse: bool = False) -> list[tuple]:
    d, content = snap
    rows = [(k, d, kind, number) for k, pairs in sorted(content.items())
            for kind, number in pairs + pairs[:1]]  # each set with a row repeated
    return list(reversed(rows)) if reverse else rows


@SETTINGS
@given(history=arrivals(snapshot))
@example(history=([(0, {"A": (HOME, WORK), "B": (HOME,)}), (2, {"A": (WORK, HOME)}),
                   (1, {"B": (HOME2, HOME)})], [0, 1, 2]))
def test_snapshot_sets_equal_the_reference(vault: Vault, history) -> None:
    check_snapshot_sets(vault, history)


def check_snapshot_sets(vault: Vault, history) -> None:
    """Load a drawn history of full snapshots of sets, as ``check_delta_sets`` does; a key
    a snapshot lacks is deleted."""
    snapshots, arrival = history
    vault.reset()
    observations: list[tuple] = []
    load_times: list[dt.datetime] = []
    loaded: list[tuple] = []
    for n, index in enumerate(arrival):
        result = vault.load("book", _book_rows(snapshots[index], reverse=n >= len(snapshots)))
        load_times.append(result.loaded_at)
        loaded.append((result.loaded_at, snapshots[index]))
        ever = {k for _, (_, content) in loaded for k in content}
        observations = [o for at, snap in loaded for o in _book_observations(at, snap, ever)]
        _check_exact(vault.versions("book"), observations, load_times)
    _check_minimal(vault.versions("book"))
    _check_readers(vault, "book", observations, load_times)
    before = vault.counts()
    vault.load("book", _book_rows(snapshots[arrival[-1]], reverse=True))
    assert vault.counts() == before, "loading a snapshot again inserted rows"


@settings(max_examples=max(EXAMPLES // 2, 5), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(sets=st.lists(st.integers(0, len(SETS) - 2), min_size=1, max_size=6))
def test_sets_in_applied_order_store_the_condensed_history(vault: Vault, sets) -> None:
    """Batches in applied-time order (a day each) store exactly the condensed history: one
    version per change of the set, every member of it a row, nothing else."""
    vault.reset()
    observations: list[tuple] = []
    for d, index in enumerate(sets):
        rows = [("A", d, kind, number, 1) for kind, number in SETS[index]]
        result = vault.load("phones", rows)
        observations += _phone_observations(result.loaded_at, rows)
    expected = condensed_history(observations, "A", dt.datetime.max)
    assert [(a, s) for _, a, _, s in sorted(vault.versions("phones"))] == expected
    assert vault.counts()[0] == sum(len(s) for _, s in expected)


# ---- the regression cases of SEMANTICS.md section 7 -----------------------------------------
def _stored(vault: Vault, msat: str = "phones") -> list[tuple]:
    """(key, applied day, set or DELETED) of every version, in order."""
    return [(k, (a - DAY0).days, s) for k, a, _, s in sorted(
        vault.versions(msat), key=lambda v: (v[0], v[1], v[2]))]


def test_a_set_in_another_row_order_is_no_change(vault: Vault) -> None:
    """datavault4dbt #331: the same set, its rows in another order, is no new version."""
    vault.load("phones", [("A", 0, *HOME, 1), ("A", 0, *WORK, 1)])
    result = vault.load("phones", [("A", 1, *WORK, 1), ("A", 1, *HOME, 1)])
    msat = next(e for e in result.entities if e.entity == "person_phones")
    assert (msat.rows_inserted, msat.rows_deleted) == (0, 0)
    assert _stored(vault) == [("A", 0, _members((HOME, WORK)))]
    assert vault.counts()[:2] == (2, 1)  # two member rows; the second set only logged


def test_a_member_added_removed_or_changed_is_a_new_version(vault: Vault) -> None:
    sets = [(HOME,), (HOME, WORK), (WORK,), (WORK, ("home", "9"))]
    for d, pairs in enumerate(sets):
        vault.load("phones", [("A", d, kind, number, 1) for kind, number in pairs])
    assert _stored(vault) == [("A", d, _members(pairs)) for d, pairs in enumerate(sets)]
    assert vault.counts()[0] == 1 + 2 + 1 + 2


def test_duplicate_rows_within_a_set_are_one_member(vault: Vault) -> None:
    vault.load("phones", [("A", 0, *HOME, 1), ("A", 0, *HOME, 1), ("A", 0, *WORK, 1),
                          ("A", 0, *HOME, 1)])
    vault.load("phones", [("A", 1, *WORK, 1), ("A", 1, *HOME, 1)])  # no duplicate: no change
    assert _stored(vault) == [("A", 0, _members((HOME, WORK)))]
    assert vault.counts()[0] == 2


def test_a_late_set_in_the_middle_lands_there_and_the_later_set_is_restored(
        vault: Vault) -> None:
    first = vault.load("phones", [("A", 0, *HOME, 1), ("A", 0, *WORK, 1)])
    vault.load("phones", [("A", 2, *WORK, 1), ("A", 2, *HOME, 1)])  # no change: logged
    late = vault.load("phones", [("A", 1, *HOME2, 1)])
    both, one = _members((HOME, WORK)), _members((HOME2,))
    assert _stored(vault) == [("A", 0, both), ("A", 1, one), ("A", 2, both)]
    assert vault.query("phones", day(1)) == {"A": one}
    assert vault.query("phones", day(2)) == {"A": both}  # restored whole, both members
    assert vault.query("phones", day(2), first.loaded_at) == {"A": both}
    restored = [r for r in vault.rows("phones") if r[1] == day(2)]
    assert {r[2] for r in restored} == {late.loaded_at} and len(restored) == 2


def test_a_restore_copies_the_rows_of_one_stored_version(vault: Vault) -> None:
    """The set to restore is stored twice with one load time (days 0 and 2): its rows are
    copied once, from one of them."""
    both = [("A", d, *pair, 1) for d in (0, 2, 3) for pair in (HOME, WORK)]
    vault.load("phones", both + [("A", 1, *HOME2, 1)])  # day 3 only logged
    late = vault.load("phones", [("A", 2, *HOME2, 1)])  # a correction: day 3 is restored
    assert _stored(vault) == [("A", 0, _members((HOME, WORK))), ("A", 1, _members((HOME2,))),
                              ("A", 2, _members((HOME, WORK))), ("A", 2, _members((HOME2,))),
                              ("A", 3, _members((HOME, WORK)))]
    restored = [r for r in vault.rows("phones") if r[1] == day(3)]
    assert sorted(r[5] for r in restored) == ["home", "work"]
    assert {r[2] for r in restored} == {late.loaded_at}


def test_a_correction_replaces_a_set_whole(vault: Vault) -> None:
    first = vault.load("phones", [("A", 0, *HOME, 1), ("A", 0, *WORK, 1)])
    second = vault.load("phones", [("A", 0, "mobile", "7", 1)])
    assert vault.query("phones", day(0)) == {"A": _members((("mobile", "7"),))}
    assert vault.query("phones", day(0), first.loaded_at) == {"A": _members((HOME, WORK))}
    with vault.session.engine.connect() as connection:
        history = query.history(connection, vault.model, "person_phones").records()
    assert [(r["kind"], r["replaced"]) for r in history] == [
        ("home", second.loaded_at), ("work", second.loaded_at), ("mobile", None)]


def test_an_emptied_set_is_a_deletion_and_a_later_set_brings_it_back(vault: Vault) -> None:
    vault.load("book", [("A", 0, *HOME), ("B", 0, *HOME), ("B", 0, *WORK)])
    second = vault.load("book", [("A", 1, *HOME)])  # B lacks: its set is emptied
    (msat,) = [e for e in second.entities if e.entity == "person_book"]
    assert (msat.rows_inserted, msat.rows_deleted) == (0, 1)
    vault.load("book", [("A", 2, *HOME), ("B", 2, *WORK), ("B", 2, *HOME)])  # back, as before
    both = _members((HOME, WORK))
    assert [v for v in _stored(vault, "book") if v[0] == "B"] == [
        ("B", 0, both), ("B", 1, DELETED), ("B", 2, both)]
    assert vault.query("book", day(1)) == {"A": _members((HOME,)), "B": None}
    assert vault.query("book", day(2))["B"] == both
    deletion = [r for r in vault.rows("book") if r[0] == "B" and r[1] == day(1)]
    assert deletion == [("B", day(1), second.loaded_at, ZERO, ZERO, None, None)]


def test_a_child_key_conflict_holds_back_the_whole_set(vault: Vault) -> None:
    vault.load("phones", [("A", 0, *WORK, 1)])
    result = vault.load("phones", [("A", 1, *HOME, 1), ("A", 1, *HOME2, 1), ("A", 1, *WORK, 1),
                                   ("B", 1, *HOME, 1)])
    msat = next(e for e in result.entities if e.entity == "person_phones")
    assert (msat.rows_inserted, msat.rows_quarantined) == (1, 3)
    reasons = [r for r in vault.quarantined() if r[1] == "person_phones"]
    assert [r[2] for r in reasons] == [1, 2, 3]  # every row of A's set, WORK included
    assert all(r[3].startswith("conflict:") and "(kind)" in r[3] for r in reasons)
    # the batch observed nothing of A on day 1: the set of day 0 stands, WORK not removed
    assert vault.query("phones", day(1)) == {"A": _members((WORK,)), "B": _members((HOME,))}
    assert result.entities[0].rows_inserted == 1  # the hub took B (A it holds)


class ChildKeyBookVault(Vault):
    """The project above with the snapshot source's satellite keyed by the child key `kind`."""

    def __init__(self, root: Path, url: str):
        book = "models/multi_active_satellites/person_book.yml"
        write_project(root, {**PROJECT, book: PROJECT[book] + "child_key: [kind]\n"})
        self.session = api.open_session(root, url=migrated(root, url))
        self.model = self.session.project.model
        self.folder = root / "batches"
        self.folder.mkdir()
        self.files = itertools.count()


def test_a_snapshot_holds_a_key_whose_set_is_a_conflict(tmp_path: Path, db_url: str) -> None:
    """SEMANTICS.md sections 5 and 7: a snapshot whose set of a key is a child-key conflict
    holds the key and observes nothing of it, whatever the arrival order: a snapshot of an
    earlier time loaded after it gives the set that holds on through its time."""
    vault = ChildKeyBookVault(tmp_path / "project", db_url)
    try:
        conflicted = [("A", 1, *HOME), ("A", 1, *HOME2), ("B", 1, *WORK)]
        vault.load("book", conflicted)
        vault.load("book", [("A", 0, *WORK), ("B", 0, *HOME)])
        assert vault.query("book", day(1)) == {"A": _members((WORK,)), "B": _members((WORK,))}
        before = vault.counts()
        vault.load("book", conflicted)  # loaded again: nothing new anywhere
        assert vault.counts() == before
        vault.load("book", [("B", 1, *WORK)])  # a correction of day 1 that lacks A
        assert vault.query("book", day(1)) == {"A": None, "B": _members((WORK,))}
    finally:
        vault.session.close()


def test_without_a_child_key_a_set_has_no_conflict(vault: Vault) -> None:
    vault.load("book", [("A", 0, *HOME), ("A", 0, *HOME2)])
    assert vault.query("book", day(0)) == {"A": _members((HOME, HOME2))}
    assert vault.quarantined() == []


def test_a_sequence_orders_whole_sets(vault: Vault) -> None:
    vault.load("phones", [("A", 0, *HOME, 1), ("A", 0, *WORK, 3), ("A", 0, *HOME2, 3),
                          ("A", 0, "fax", "5", None), ("B", 0, *HOME, None),
                          ("B", 0, *HOME2, None)])
    # A: the rows of sequence 3 are the set; B: every row has none, so both are, a conflict
    assert vault.query("phones", day(0)) == {"A": _members((WORK, HOME2))}
    assert [r[2] for r in vault.quarantined()] == [5, 6]


def test_a_missing_key_is_quarantined_and_the_rest_of_its_set_loads(vault: Vault) -> None:
    vault.load("phones", [("A", 0, *HOME, 1), ("", 0, *WORK, 1)])
    assert vault.query("phones", day(0)) == {"A": _members((HOME,))}
    reasons = [r[3] for r in vault.quarantined() if r[1] == "person_phones"]
    assert reasons == ["missing business key of hub person"]


def test_entity_loads_of_a_batch_in_any_order_give_the_same_tables(vault: Vault) -> None:
    batches = [
        [("A", 0, *HOME, 1), ("A", 0, *WORK, 1), ("B", 0, *HOME2, 1)],
        [("A", 2, *HOME, 1), ("C", 1, *WORK, 1)],
        [("A", 1, *WORK, 1), ("B", 0, *HOME, 1)],   # late, and a correction
    ]
    loader = vault.session.loader
    source = vault.model.sources["phones"]
    outcomes = []
    for entities in (["person", "person_phones"], ["person_phones", "person"]):
        vault.reset()
        for rows in batches:
            staged = loader.stage("phones", open_input(vault.write("phones", rows)))
            for entity in entities:
                assert loader.load_entity(source, entity, staged).status == "ok"
        with vault.session.engine.connect() as connection:
            outcomes.append([sorted(_plain(r) for r in connection.exec_driver_sql(
                f"SELECT * FROM {t}").all()) for t in (
                "hub_person", "msat_person_phones", "msat_person_phones__obs")])
    strip = [[r[:2] + r[3:] for r in outcomes[i][0]] for i in (0, 1)]  # hub: no load_ts
    assert strip[0] == strip[1]
    assert [[r[:2] + r[3:] for r in t] for t in outcomes[0][1:]] == [
        [r[:2] + r[3:] for r in t] for t in outcomes[1][1:]]


def test_the_mass_delete_check_counts_the_live_keys_of_a_multi_active_satellite(
        vault: Vault) -> None:
    vault.load("book", [("A", 0, *HOME), ("A", 0, *WORK), ("B", 0, *HOME), ("C", 0, *WORK)])
    path = vault.write("book", [("A", 1, *HOME)])  # would delete B and C: 2 of 3 keys
    result = vault.session.loader.load("book", open_input(path))
    assert result.status == "failed"
    assert "would delete 2 of 3 keys (66.67%) of person_book" in result.batch.message
    assert _stored(vault, "book") == [("A", 0, _members((HOME, WORK))),
                                      ("B", 0, _members((HOME,))), ("C", 0, _members((WORK,)))]


def test_a_refused_batch_older_than_one_held(vault: Vault) -> None:
    loader = vault.session.loader
    source = vault.model.sources["phones"]
    older = loader.stage("phones", open_input(vault.write("phones", [("A", 0, *HOME, 1)])),
                         only=["person"])
    newer = loader.stage("phones", open_input(vault.write("phones", [("A", 1, *WORK, 1)])))
    for entity in ("person", "person_phones"):
        assert loader.load_entity(source, entity, newer).status == "ok"
    outcome = loader.load_entity(source, "person_phones", older)
    assert outcome.status == "failed" and "already holds a batch" in outcome.message


def test_query_of_the_parent_hub_does_not_mix_in_sets(vault: Vault) -> None:
    """A hub's `query` shows its satellites side by side, one row per key; the sets of a
    multi-active satellite are asked of it by name."""
    vault.load("phones", [("A", 0, *HOME, 1), ("A", 0, *WORK, 1)])
    with vault.session.engine.connect() as connection:
        with pytest.raises(DatavaultError, match="has no satellites"):
            query.state(connection, vault.model, "person")


# ---- the set hash diff, byte for byte --------------------------------------------------------
def test_the_set_hash_diff_in_plain_python() -> None:
    diffs = [_hd(*HOME), _hd(*WORK)]
    expected = set_hash_diff(diffs)
    assert hashing.set_hash_diff(diffs, "md5") == expected
    assert hashing.set_hash_diff(reversed(diffs + diffs), "md5") == expected
    assert hashing.set_hash_diff([], "sha256") == bytes(32)
    assert hashing.set_hash_diff(diffs[:1], "md5") != diffs[0]


@pytest.fixture(scope="module")
def engines():
    made: dict[str, tuple] = {}
    yield made
    for engine, cleanup in made.values():
        cleanup()
        engine.dispose()


def _plain(row) -> tuple:
    """A row with its bytes as bytes (PostgreSQL's driver gives memoryviews)."""
    return tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)


def _engine(engines: dict, name: str, tmp_path_factory) -> sa.Engine:
    if name not in engines:
        if name == "postgresql":
            from tests.conftest import PG_URL, need_postgres
            need_postgres()
            engine, _ = connect(PG_URL)
        else:
            path = tmp_path_factory.mktemp("sets") / "sets.sqlite"
            engine, _ = connect(f"sqlite:///{path}")
        engines[name] = (engine, lambda: None)
    return engines[name][0]


@pytest.mark.parametrize("engine_name", ["sqlite", "postgresql"])
@settings(max_examples=max(SETTING // 2, 20), deadline=None,  # a few ms each
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(groups=st.lists(st.lists(st.sampled_from([
    bytes(16), bytes.fromhex("ff" * 16), bytes.fromhex("0a" * 16), bytes.fromhex("a0" * 16),
    hashing.digest("", "md5"), _hd(*HOME), _hd(*WORK)]) | st.binary(min_size=16, max_size=16),
    min_size=1, max_size=6), min_size=1, max_size=4),
    algorithm=st.sampled_from(["md5", "sha256"]))
def test_the_set_hash_diff_is_the_same_bytes_on_every_engine(
        engine_name: str, engines: dict, tmp_path_factory, groups, algorithm: str) -> None:
    engine = _engine(engines, engine_name, tmp_path_factory)
    dialect = get_dialect(engine_name)
    with engine.connect() as connection:
        connection.exec_driver_sql("DROP TABLE IF EXISTS dv_members_test")
        connection.exec_driver_sql("CREATE TEMPORARY TABLE dv_members_test (g INTEGER, h "
                                   + ("bytea" if engine_name == "postgresql" else "BLOB") + ")")
        table = sa.table("dv_members_test", sa.column("g"), sa.column("h", sa.LargeBinary))
        connection.execute(table.insert(), [{"g": g, "h": h} for g, members in
                                            enumerate(groups) for h in members])
        got = dict(connection.exec_driver_sql(
            f"SELECT g, {dialect.set_hash_diff('h', algorithm)} FROM dv_members_test "
            "GROUP BY g").all())
        empty = connection.exec_driver_sql(
            f"SELECT {dialect.set_hash_diff('h', algorithm)} FROM dv_members_test "
            "WHERE g < 0").scalar()
        connection.exec_driver_sql("DROP TABLE dv_members_test")
        connection.commit()
    assert {g: bytes(h) for g, h in got.items()} == {
        g: set_hash_diff(members, algorithm) for g, members in enumerate(groups)}
    assert bytes(empty) == set_hash_diff([], algorithm)


def test_staging_gives_every_row_its_sets_hash_diff(vault: Vault) -> None:
    """The staged set hash diff: over the rows of the greatest sequence of each key and
    applied time, whatever their order and repeats."""
    rows = [("A", 0, *WORK, 2), ("A", 0, *HOME, 2), ("A", 0, *HOME, 2), ("A", 0, *HOME2, 1),
            ("B", 0, *HOME, None), ("B", 1, *HOME, None)]
    staged = vault.session.loader.stage("phones", open_input(vault.write("phones", rows)))
    with vault.session.engine.connect() as connection:
        found = [(r[0], bytes(r[1])) for r in connection.exec_driver_sql(
            "SELECT dv_row, dv_hs_person_phones FROM stg_phones WHERE dv_batch_id = "
            f"{staged.batch_id} ORDER BY dv_row")]
    a = set_hash_diff([_hd(*WORK), _hd(*HOME)])
    b = set_hash_diff([_hd(*HOME)])
    assert found == [(1, a), (2, a), (3, a), (4, a), (5, b), (6, b)]


# ---- generated SQL: golden files and a plain SQL client ------------------------------------
def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*.sql"))}


@pytest.mark.parametrize("dialect", ENGINES)
def test_generated_sql_matches_the_golden_files(dialect: str, tmp_path: Path) -> None:
    api.generate(GOLDEN_PROJECT, dialect, tmp_path)
    generated = _files(tmp_path)
    if UPDATE:
        for relative, data in generated.items():
            target = GOLDEN / dialect / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    expected = _files(GOLDEN / dialect)
    assert sorted(generated) == sorted(expected)
    for relative in expected:
        assert generated[relative] == expected[relative], (
            f"{dialect}/{relative} differs from tests/golden_kinds (DATAVAULT_UPDATE_GOLDEN=1 "
            "after a wanted change)")


BATCHES = [("crm_phones", "crm_phones_1.csv"), ("store_register", "store_register_1.csv"),
           ("crm_phones", "crm_phones_2.csv"), ("store_register", "store_register_3.csv"),
           ("crm_phones", "crm_phones_late.csv"),  # late: between the two earlier batches
           ("store_register", "store_register_2.csv")]  # late, and B's S2 gone meanwhile


def _copy_project(target: Path) -> Path:
    for part in ("models", "config", "data"):
        shutil.copytree(GOLDEN_PROJECT / part, target / part)
    return target


def _tables(url: str, model) -> dict[str, list[tuple]]:
    names = ["hub_customer", "hub_store", "link_customer_store", "dv_quarantine"] + [
        t for name in ("customer_phones", "customer_store_addresses")
        for t in (f"msat_{name}", f"msat_{name}__obs")]
    engine, _ = connect(url)  # the toolkit's engine reads each engine's catalog
    result = {}
    with engine.connect() as connection:
        for name in names:
            columns = [c["name"] for c in sa.inspect(connection).get_columns(name)
                       if c["name"] != "load_ts"]
            keep = ", ".join(columns)
            result[name] = [_plain(r) for r in connection.exec_driver_sql(
                f"SELECT {keep} FROM {name} ORDER BY {keep}")]
    engine.dispose()
    return result


def test_generated_load_files_run_in_a_plain_client(make_db_url, tmp_path: Path) -> None:
    project = _copy_project(tmp_path / "project")
    by_loader, by_client = make_db_url(), make_db_url()
    loader_session = api.open_session(project, url=migrated(project, by_loader))
    client_session = api.open_session(project, url=migrated(project, by_client))
    dialect = client_session.loader.dialect.name
    api.generate(project, dialect, tmp_path / "sql")
    for source, file in BATCHES:
        path = str(project / "data" / file)
        assert loader_session.loader.load(source, open_input(path),
                                          allow_mass_delete=True).ok
        staged = client_session.loader.stage(source, open_input(path), allow_mass_delete=True)
        for entity in client_session.project.model.entities_of(source):
            for _ in range(2):  # running a file again inserts and quarantines nothing more
                _run_plain(by_client, tmp_path / "sql" / "load" / source / f"{entity}.sql",
                           staged.batch_id)
    model = loader_session.project.model
    loaded, plain = _tables(by_loader, model), _tables(by_client, model)
    with loader_session.engine.connect() as connection:
        history = query.history(connection, model, "customer_phones").records()
        addresses = query.history(connection, model, "customer_store_addresses").records()
    loader_session.close()
    client_session.close()
    assert plain == loaded
    # C1: home+work (day 1), the late home 0111 alone (day 2), home+work restored (day 3);
    # C2: mobile 0200, then the set of revision 2; C3's day-1 set is a conflict (quarantined)
    assert [(r["customer_id"], _ts(r["applied"]).day, r["phone_type"], r["phone_number"])
            for r in history] == [
        ("C1", 1, "home", "555-0100"), ("C1", 1, "work", "555-0199"),
        ("C1", 2, "home", "555-0111"),
        ("C1", 3, "home", "555-0100"), ("C1", 3, "work", "555-0199"),
        ("C2", 1, "mobile", "555-0200"),
        ("C2", 3, "home", "555-0223"), ("C2", 3, "mobile", "555-0222"),
        ("C3", 2, "home", "555-0300")]
    # the row without a key (by the hub and by the satellite), and C3's two rows
    assert [r[1:3] for r in loaded["dv_quarantine"]] == [
        ("customer", 7), ("customer_phones", 5), ("customer_phones", 6), ("customer_phones", 7)]
    # C2 at S2: on day 1, deleted on day 2 (a late snapshot), back on day 3 at another address
    assert [(r["customer.customer_id"], r["store.store_code"], _ts(r["applied"]).day,
             r["deleted"],
             r["address"]) for r in addresses if r["store.store_code"] == "S2"] == [
        ("C2", "S2", 1, False, "9 Elm St"), ("C2", "S2", 2, True, None),
        ("C2", "S2", 3, False, "10 Elm St")]


# ---- validation ------------------------------------------------------------------------------
MSAT = "models/multi_active_satellites/customer_phones.yml"


def _problems(root: Path) -> list[str]:
    result = CliRunner().invoke(main, ["-p", str(root), "validate"])
    assert "Traceback" not in result.output
    assert result.exit_code == 1, result.output
    *lines, count = result.stderr.splitlines()
    assert count == f"{len(lines)} problem{'s' if len(lines) != 1 else ''} found"
    return lines


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return _copy_project(tmp_path / "project")


def test_the_golden_project_is_valid(project: Path) -> None:
    model = api.validate(project).model
    phones = model.entities["customer_phones"]
    assert (phones.kind, phones.parent_kind, phones.child_key) == (
        "multi_active_satellite", "hub", ("phone_type",))
    addresses = model.entities["customer_store_addresses"]
    assert (addresses.parent_kind, addresses.child_key) == ("link", ())


CHILD_KEY_PROBLEMS = {
    "not a list": ("child_key: [phone_type]", "child_key: {phone_type: 1}",
                   f"{MSAT}:5:12: child_key must be a list of payload columns, not a mapping "
                   "(for example: child_key: [phone_type])"),
    "a number": ("child_key: [phone_type]", "child_key: 3",
                 f"{MSAT}:5:12: child_key must be a list of payload columns, not the number 3 "
                 "(for example: child_key: [phone_type])"),
    "empty": ("child_key: [phone_type]", "child_key: []",
              f"{MSAT}:5:12: child_key is empty (name the payload columns that tell the rows "
              "of one set apart, or leave child_key out for a plain set)"),
    "not payload": ("child_key: [phone_type]", "child_key: [phone_typ]",
                    f"{MSAT}:5:13: child key column 'phone_typ' is not a payload column "
                    "(did you mean 'phone_type'?)"),
    "a source column only": ("child_key: [phone_type]", "child_key: [changed_at]",
                             f"{MSAT}:5:13: child key column 'changed_at' is not a payload "
                             "column (expected one of: phone_number, phone_type)"),
    "twice": ("child_key: [phone_type]", "child_key: [phone_type, phone_type]",
              f"{MSAT}:5:25: child key column 'phone_type' appears twice"),
    "not a name": ("child_key: [phone_type]", "child_key: [[phone_type]]",
                   f"{MSAT}:5:13: a child key column must be a payload column's name, not a "
                   "list"),
    "a typo of the key": ("child_key: [phone_type]", "child_keys: [phone_type]",
                          f"{MSAT}:5:1: unknown key 'child_keys' (did you mean 'child_key'?)"),
    "reserved": ("payload: [phone_type, phone_number]",
                 "payload: {phone_type: phone_type, member_hash_diff: phone_number}",
                 f"{MSAT}:4:35: payload column name 'member_hash_diff' is reserved (a "
                 "multi-active satellite keeps each row's own hash diff in member_hash_diff; "
                 "rename it)"),
    "unknown parent": ("parent: customer", "parent: custmer",
                       f"{MSAT}:2:9: unknown parent 'custmer' (did you mean 'customer'?)"),
}


@pytest.mark.parametrize(("old", "new", "expected"), CHILD_KEY_PROBLEMS.values(),
                         ids=CHILD_KEY_PROBLEMS.keys())
def test_each_problem_of_a_multi_active_satellite_file_is_placed(
        project: Path, old: str, new: str, expected: str) -> None:
    path = project / MSAT
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1
    path.write_text(text.replace(old, new), encoding="utf-8")
    assert _problems(project) == [expected]


def test_a_child_key_of_a_broken_payload_column_is_not_reported_again(project: Path) -> None:
    path = project / MSAT
    path.write_text(path.read_text(encoding="utf-8").replace(
        "payload: [phone_type, phone_number]", "payload: {phone_type: phone_kind, "
        "phone_number: phone_number}"), encoding="utf-8")
    assert _problems(project) == [
        f"{MSAT}:4:23: source 'crm_phones' has no column 'phone_kind' (did you mean "
        "'phone_number'?)"]


def test_a_naming_pattern_names_its_tables(project: Path) -> None:
    (project / "config" / "datavault.yml").write_text(
        "naming:\n  multi_active_satellite: ma_{name}\n", encoding="utf-8")
    model = api.validate(project).model
    tables = set(api.schema.build_metadata(model).tables)
    assert {"ma_customer_phones", "ma_customer_phones__obs"} <= tables
    assert not {t for t in tables if t.startswith("msat_")}
    from datavault import contract
    assert contract.contract(model)["naming"].endswith(" multi_active_satellite=ma_{name}")


def test_the_key_contract_of_a_multi_active_satellite(project: Path) -> None:
    from datavault import contract
    model = api.validate(project).model
    items = contract.contract(model)
    assert items["multi_active_satellite customer_phones"] == "hub customer"
    assert items["multi_active_satellite customer_phones.phone_type"] == "text"
    assert items["multi_active_satellite customer_store_addresses"] == "link customer_store"
    assert items["naming"] == "hub=hub_{name} link=link_{name} satellite=sat_{name}"
    changes = contract.compare(
        {**items, "multi_active_satellite customer_phones": "hub store"}, items)
    assert [(c.item, c.kind) for c in changes] == [
        ("multi_active_satellite customer_phones", "breaking")]


def test_validate_of_mutated_multi_active_satellite_files_never_crashes(project: Path) -> None:
    """The fuzzing of tests/test_validate_fuzz.py, on this kind's files."""
    from tests import test_validate_fuzz as fuzz

    files = sorted(p.relative_to(project).as_posix()
                   for p in (project / "models" / "multi_active_satellites").glob("*.yml"))

    @settings(max_examples=max(EXAMPLES, 20), deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(data=st.data())
    def mutated(data: st.DataObject) -> None:
        changed = data.draw(st.sampled_from(files), label="file")
        path = project / changed
        original = path.read_bytes()
        text = original.decode("utf-8")
        raw = (fuzz._mutate_data(data, text) if data.draw(st.booleans(), label="as data")
               else fuzz._mutate_text(data, text))
        path.write_bytes(raw)
        try:
            fuzz._check(project, changed, raw)
        finally:
            path.write_bytes(original)

    mutated()
    with pytest.raises(ModelError):  # and the fuzzing reached real problems
        (project / files[0]).write_text("parent: [x]\nchild_key: 1\n", encoding="utf-8")
        api.validate(project)
