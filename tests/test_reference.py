"""The plain-Python references of SEMANTICS.md sections 2 and 5 to 9, tested on their own.

The vault's tests trust these references, so they are checked here against the cases the
sections spell out (the ones other tools get wrong among them) and against the properties the
sections promise of them: order independence where a section says so, idempotence, and the
agreement of spans with states. No database is involved.
"""

from __future__ import annotations

import hashlib
import os
from itertools import permutations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from datavault import hashing
from tests.reference import (
    DELETED,
    PRESENT,
    batch_observations,
    code_list,
    condensed_history,
    effectivity_spans,
    last_seen,
    live_state,
    member,
    multi_active_observations,
    nonhistorized_events,
    nonhistorized_link,
    reference_code,
    reference_state,
    set_hash_diff,
    snapshot_deletions,
    state_spans,
    status_rows,
)

EXAMPLES = int(os.environ.get("DATAVAULT_PROPERTY_EXAMPLES", "100")) * 2  # no database: cheap
PROPERTY = settings(max_examples=EXAMPLES, deadline=None)
END = 10**6  # an applied time and a load time after every one of these tests
KEYS = ["O1", "O2"]


def _load(batches: list[list[tuple]], order: list[int] | None = None) -> list[tuple]:
    """The observations of batches (rows (key, applied, payload)) loaded in ``order``, the
    n-th loaded at load time n + 1; conflicts leave nothing, as batch_observations says."""
    observations: list[tuple] = []
    for loaded, index in enumerate(order if order is not None else range(len(batches)), 1):
        observations += batch_observations(loaded, batches[index])[0]
    return observations


# ---- section 2: the state rule ----------------------------------------------------------

def test_the_latest_applied_then_the_latest_loaded_observation_gives_the_state() -> None:
    observations = [("A", 1, 1, "x"), ("A", 3, 2, "y"), ("A", 1, 3, "z")]
    assert reference_state(observations, "A", 0, END) is None
    assert reference_state(observations, "A", 1, 2) == "x"
    assert reference_state(observations, "A", 2, END) == "z"  # corrected at load time 3
    assert reference_state(observations, "A", 3, END) == "y"
    assert reference_state(observations, "B", 3, END) is None


# ---- section 5: deletions ---------------------------------------------------------------

def test_a_deleted_key_inserted_again_has_three_states() -> None:
    batches = [[("A", 1, "x")], [("A", 2, DELETED)], [("A", 3, "x")]]
    observations = _load(batches)
    assert [live_state(observations, "A", t, END) for t in (0, 1, 2, 3)] == [None, "x", None, "x"]
    assert condensed_history(observations, "A", END) == [(1, "x"), (2, DELETED), (3, "x")]
    assert condensed_history(observations, "A", 2) == [(1, "x"), (2, DELETED)]


def test_a_deletion_where_there_is_no_state_changes_nothing_but_still_ends_a_later_loaded_past(
) -> None:
    # deleted at 5 before anything was known of the key, then a payload at 3 loaded later
    observations = _load([[("A", 5, DELETED)], [("A", 3, "x")]])
    assert condensed_history(observations, "A", 1) == []
    assert live_state(observations, "A", 5, 1) is None
    assert condensed_history(observations, "A", END) == [(3, "x"), (5, DELETED)]
    assert live_state(observations, "A", 4, END) == "x"
    assert live_state(observations, "A", 5, END) is None


def test_a_late_deletion_ends_the_state_only_up_to_the_next_observation() -> None:
    observations = _load([[("A", 1, "x"), ("A", 4, "y")], [("A", 2, DELETED)]])
    assert condensed_history(observations, "A", END) == [(1, "x"), (2, DELETED), (4, "y")]


def test_a_delete_marker_and_a_row_of_one_key_and_time_in_one_batch_are_a_conflict() -> None:
    observations, conflicts = batch_observations(7, [("A", 1, "x"), ("A", 1, DELETED),
                                                     ("B", 1, DELETED), ("B", 1, DELETED)])
    assert observations == [("B", 1, 7, DELETED)]
    assert conflicts == [("A", 1, 7, "x"), ("A", 1, 7, DELETED)]
    # a change feed's sequence orders an insert and a delete of one record at one time
    observations, conflicts = batch_observations(7, [("A", 1, "x", 1), ("A", 1, DELETED, 2)])
    assert (observations, conflicts) == ([("A", 1, 7, DELETED)], [])


def test_a_snapshot_deletes_every_key_it_lacks_also_one_that_arrives_later() -> None:
    snapshots = [(1, 3, {"A": "x", "B": "y"}), (2, 5, {"A": "x"}), (3, 1, {"B": "x", "C": "z"})]
    observations = []
    for loaded, at, content in snapshots:
        observations += batch_observations(loaded, [(k, at, v) for k, v in content.items()])[0]
    observations += snapshot_deletions((loaded, at, content) for loaded, at, content in snapshots)
    assert ("C", 3, 1, DELETED) in observations and ("C", 5, 2, DELETED) in observations
    assert live_state(observations, "C", 1, END) == "z"
    assert live_state(observations, "C", 3, END) is None  # deleted by the snapshot of day 3
    assert live_state(observations, "C", 3, 2) is None  # as known before it arrived: no state
    assert condensed_history(observations, "C", 2) == []
    assert condensed_history(observations, "B", END) == [(1, "x"), (3, "y"), (5, DELETED)]
    # the snapshot of day 1 lacked A before A had a state: no change
    assert condensed_history(observations, "A", END) == [(3, "x")]


def test_status_is_live_between_a_row_and_a_deletion() -> None:
    batches = [[("A", 1, "x"), ("A", 1, "y")], [("A", 2, DELETED)], [("A", 4, "z")]]
    observations = _load([status_rows(b) for b in batches])
    # two rows with different payloads are one status observation: the key is present
    assert [live_state(observations, "A", t, END) for t in range(5)] == [
        None, PRESENT, None, None, PRESENT]
    # a satellite of the same rows sees a conflict in the first batch, and no state
    assert live_state(_load(batches), "A", 1, END) is None


def test_last_seen_takes_the_greatest_applied_time_of_rows_that_are_not_deletions() -> None:
    rows = [("A", 1, 1, "x"), ("A", 4, 2, DELETED), ("A", 3, 3, "y"), ("A", 2, 4, "y")]
    assert last_seen(rows, "A", 0, END) is None
    assert last_seen(rows, "A", 5, 1) == 1
    assert last_seen(rows, "A", 5, 2) == 1  # the deletion at 4 was not a sighting
    assert last_seen(rows, "A", 5, 3) == 3
    assert last_seen(rows, "A", 2, END) == 2
    assert last_seen(rows, "A", 5, END) == 3  # a later load at an earlier time changes nothing


# ---- section 6: effectivity satellites ---------------------------------------------------

def test_a_to_b_and_back_to_a_keeps_three_spans() -> None:
    observations = _load([[("O1", 1, "A")], [("O1", 2, "B")], [("O1", 3, "A")]])
    assert effectivity_spans(observations, "O1", END) == [("A", 1, 2), ("B", 2, 3), ("A", 3, None)]
    assert effectivity_spans(observations, "O1", 2) == [("A", 1, 2), ("B", 2, None)]
    assert [live_state(observations, "O1", t, END) for t in range(5)] == [
        None, "A", "B", "A", "A"]


def test_a_relationship_seen_again_extends_its_span_and_adds_no_change() -> None:
    observations = _load([[("O1", 1, "A")], [("O1", 2, "A")], [("O1", 2, "A")]])
    assert effectivity_spans(observations, "O1", END) == [("A", 1, None)]
    assert condensed_history(observations, "O1", END) == [(1, "A")]


def test_a_late_change_lands_in_the_middle() -> None:
    observations = _load([[("O1", 1, "A")], [("O1", 3, "A")], [("O1", 2, "B")]])
    assert effectivity_spans(observations, "O1", 2) == [("A", 1, None)]
    assert effectivity_spans(observations, "O1", 3) == [("A", 1, 2), ("B", 2, 3), ("A", 3, None)]
    # without the observation at 3, nothing says that it went back
    alone = _load([[("O1", 1, "A")], [("O1", 2, "B")]])
    assert effectivity_spans(alone, "O1", END) == [("A", 1, 2), ("B", 2, None)]


def test_a_correction_replaces_the_relationship_at_its_applied_time() -> None:
    observations = _load([[("O1", 1, "A")], [("O1", 2, "B")], [("O1", 2, "A")]])
    assert effectivity_spans(observations, "O1", 2) == [("A", 1, 2), ("B", 2, None)]
    assert effectivity_spans(observations, "O1", END) == [("A", 1, None)]


def test_an_end_with_no_successor_closes_the_span() -> None:
    # a delete marker ends it; a later relationship begins a new span
    marked = _load([[("O1", 1, "A")], [("O1", 2, DELETED)], [("O1", 4, "B")]])
    assert effectivity_spans(marked, "O1", 2) == [("A", 1, 2)]
    assert effectivity_spans(marked, "O1", END) == [("A", 1, 2), ("B", 4, None)]
    # a snapshot that lacks the driving key ends it too
    snapshots = [(1, 1, {"O1": "A", "O2": "A"}), (2, 2, {"O2": "B"})]
    observations = []
    for loaded, at, content in snapshots:
        observations += batch_observations(loaded, [(k, at, v) for k, v in content.items()])[0]
    observations += snapshot_deletions(snapshots)
    assert effectivity_spans(observations, "O1", END) == [("A", 1, 2)]
    assert effectivity_spans(observations, "O2", END) == [("A", 1, 2), ("B", 2, None)]


def test_two_relationships_of_one_driving_key_and_time_in_one_batch_are_a_conflict() -> None:
    observations, conflicts = batch_observations(1, [("O1", 1, "A"), ("O1", 1, "B")])
    assert observations == [] and len(conflicts) == 2


# ---- section 7: multi-active satellites ---------------------------------------------------

HOME = (("type", "home"), ("number", "111"))
WORK = (("type", "work"), ("number", "222"))
MOBILE = (("type", "mobile"), ("number", "333"))


def test_a_set_in_another_row_order_is_no_change() -> None:
    observations = []
    for loaded, rows in enumerate([[HOME, WORK], [WORK, HOME], [WORK, HOME, WORK]], 1):
        observations += multi_active_observations(
            loaded, [("C1", loaded, r) for r in rows], child_key=("type",))[0]
    assert condensed_history(observations, "C1", END) == [(1, frozenset(map(member, (HOME, WORK))))]


def test_a_member_removed_added_or_changed_is_a_change() -> None:
    sets = [[HOME, WORK], [HOME], [HOME, MOBILE], [(("type", "home"), ("number", "999")), MOBILE]]
    observations = []
    for loaded, rows in enumerate(sets, 1):
        observations += multi_active_observations(
            loaded, [("C1", loaded, r) for r in rows], child_key=("type",))[0]
    assert [applied for applied, _ in condensed_history(observations, "C1", END)] == [1, 2, 3, 4]
    assert live_state(observations, "C1", 2, END) == frozenset({member(HOME)})


def test_a_later_loaded_set_at_a_time_already_seen_replaces_the_set_whole() -> None:
    observations = (multi_active_observations(1, [("C1", 1, HOME), ("C1", 1, WORK)])[0]
                    + multi_active_observations(2, [("C1", 1, MOBILE)])[0])
    assert live_state(observations, "C1", 1, END) == frozenset({member(MOBILE)})


def test_identical_rows_collapse_and_one_child_key_twice_is_a_conflict() -> None:
    rows = [("C1", 1, HOME), ("C1", 1, HOME), ("C1", 1, WORK),
            ("C2", 1, HOME), ("C2", 1, (("type", "home"), ("number", "999")))]
    observations, conflicts = multi_active_observations(1, rows, child_key=("type",))
    assert observations == [("C1", 1, 1, frozenset({member(HOME), member(WORK)}))]
    assert [c[0] for c in conflicts] == ["C2", "C2"]  # the whole set of C2, not one member
    # a conflict leaves the earlier state as it was
    earlier = multi_active_observations(0, [("C2", 0, WORK)], child_key=("type",))[0]
    assert live_state(earlier + observations, "C2", 1, END) == frozenset({member(WORK)})
    # without a child key the same rows are a set of two
    plain, conflicts = multi_active_observations(1, rows)
    assert conflicts == [] and len(plain[1][3]) == 2


def test_marked_rows_are_not_members_and_a_set_of_marked_rows_only_is_a_deletion() -> None:
    observations, _ = multi_active_observations(
        1, [("C1", 1, HOME), ("C1", 1, DELETED), ("C2", 1, DELETED)])
    assert observations == [("C1", 1, 1, frozenset({member(HOME)})), ("C2", 1, 1, DELETED)]


def test_a_sequence_orders_whole_sets() -> None:
    observations, conflicts = multi_active_observations(
        1, [("C1", 1, HOME, 1), ("C1", 1, WORK, 1), ("C1", 1, MOBILE, 2)], child_key=("type",))
    assert (observations, conflicts) == ([("C1", 1, 1, frozenset({member(MOBILE)}))], [])


def test_a_member_with_a_null_column_is_the_member_without_it() -> None:
    assert member((("type", "home"), ("number", None))) == member((("type", "home"),))


def test_the_hash_diff_of_a_set() -> None:
    diffs = [hashing.hash_diff([(n, v, "text") for n, v in m], "md5") for m in (HOME, WORK)]
    expected = hashlib.md5("|".join(sorted(d.hex() for d in diffs)).encode()).digest()
    assert set_hash_diff(diffs) == expected
    assert set_hash_diff(reversed(diffs)) == expected
    assert set_hash_diff(diffs + diffs[:1]) == expected
    assert set_hash_diff(diffs[:1]) not in (expected, diffs[0])
    assert set_hash_diff([]) == bytes(16)
    assert set_hash_diff([], "sha256") == bytes(32)
    assert len(set_hash_diff(diffs, "sha256")) == 32


# ---- section 8: non-historized links -------------------------------------------------------

def test_a_transactional_link_keeps_the_first_payload_and_quarantines_a_conflict() -> None:
    batches = [
        (1, [("P1", 1, 100), ("P2", 1, 50)]),
        (2, [("P1", 1, 100), ("P1", 2, 100)]),      # the same event again: a duplicate
        (3, [("P1", 1, 999)]),                      # another payload: a conflict
        (4, [("P3", 3, 10), ("P3", 3, 20), ("P2", 1, DELETED)]),
        (5, [("P3", 3, 20)]),
    ]
    stored, quarantined = nonhistorized_link(batches)
    assert stored == {"P1": (1, 1, 100), "P2": (1, 1, 50), "P3": (3, 5, 20)}
    assert quarantined == [
        ("P1", 1, 3, 999, "conflict with stored"),
        ("P2", 1, 4, DELETED, "deletion"),
        ("P3", 3, 4, 10, "conflict"), ("P3", 3, 4, 20, "conflict"),
    ]
    assert nonhistorized_events(stored, 1, 4) == {"P1": 100, "P2": 50}
    assert nonhistorized_events(stored, END, END) == {"P1": 100, "P2": 50, "P3": 20}
    assert nonhistorized_events(stored, 0, END) == {}
    # loading any batch again stores nothing new
    assert nonhistorized_link(batches + [(6, batches[0][1]), (7, batches[3][1])])[0] == stored


def test_a_transactional_event_takes_the_earliest_applied_time_of_its_first_batch() -> None:
    stored, _ = nonhistorized_link([(1, [("P1", 5, 100), ("P1", 2, 100)]), (2, [("P1", 1, 100)])])
    assert stored == {"P1": (2, 1, 100)}


# ---- section 9: reference tables ------------------------------------------------------------

def test_codes_are_exact_typed_values() -> None:
    assert reference_code([("EUR", "text")]) != reference_code([("eur", "text")])
    assert reference_code([("mm", "text")]) != reference_code([("Mm", "text")])
    assert reference_code([(" EUR", "text")]) != reference_code([("EUR", "text")])
    assert reference_code([(7, "integer")]) == reference_code([(int("007"), "integer")]) == ("7",)
    assert reference_code([("DE", "text"), ("BY", "text")]) == ("DE", "BY")
    for missing in (None, "", " \t"):
        assert reference_code([("DE", "text"), (missing, "text")]) is None
    with pytest.raises(ValueError):
        reference_code([(1.5, "float")])


def test_a_code_list_as_of_any_time() -> None:
    snapshots = [(1, 1, {"EUR": "Euro", "DEM": "Mark"}), (2, 2, {"EUR": "Euro"}),
                 (3, 3, {"EUR": "euro", "DEM": "Mark"})]
    observations = []
    for loaded, at, content in snapshots:
        observations += batch_observations(loaded, [(k, at, v) for k, v in content.items()])[0]
    observations += snapshot_deletions(snapshots)
    assert code_list(observations, 1, END) == {"EUR": "Euro", "DEM": "Mark"}
    assert code_list(observations, 2, END) == {"EUR": "Euro"}
    assert code_list(observations, 3, 2) == {"EUR": "Euro"}
    assert code_list(observations, 3, END) == {"EUR": "euro", "DEM": "Mark"}


# ---- properties ------------------------------------------------------------------------------

PAYLOADS = ["A", "B", DELETED]


@st.composite
def distinct_batches(draw, payloads=PAYLOADS, keys=KEYS):
    """Batches whose rows have distinct (key, applied time) across batches (a row may repeat in
    its batch), and two arrival orders."""
    cells = draw(st.lists(st.tuples(st.sampled_from(keys), st.integers(0, 6)), unique=True,
                          max_size=10))
    count = draw(st.integers(1, 4))
    batches: list[list[tuple]] = [[] for _ in range(count)]
    for key, applied in cells:
        row = (key, applied, draw(st.sampled_from(payloads)))
        batches[draw(st.integers(0, count - 1))] += [row] * draw(st.integers(1, 2))
    orders = [list(draw(st.permutations(range(count)))) for _ in range(2)]
    return batches, orders


@PROPERTY
@given(history=distinct_batches())
def test_states_with_deletions_do_not_depend_on_arrival_order(history) -> None:
    batches, (first, second) = history
    one, other = _load(batches, first), _load(batches, second)
    for key in KEYS:
        assert condensed_history(one, key, END) == condensed_history(other, key, END)
        assert [live_state(one, key, t, END) for t in range(-1, 8)] == [
            live_state(other, key, t, END) for t in range(-1, 8)]


@PROPERTY
@given(history=distinct_batches())
def test_effectivity_spans_do_not_depend_on_arrival_order_and_agree_with_states(history) -> None:
    batches, (first, second) = history
    one, other = _load(batches, first), _load(batches, second)
    for key in KEYS:
        assert effectivity_spans(one, key, END) == effectivity_spans(other, key, END)
        for known_at in range(len(batches) + 1):
            spans = effectivity_spans(one, key, known_at)
            for t in range(-1, 8):
                inside = [r for r, start, end in spans if start <= t and (end is None or t < end)]
                assert inside == ([] if live_state(one, key, t, known_at) is None
                                  else [live_state(one, key, t, known_at)])
            # maximal: two spans that meet never have one relationship
            for (r1, _, end), (r2, start, _) in zip(spans, spans[1:]):
                assert end <= start and not (end == start and r1 == r2)


@PROPERTY
@given(history=distinct_batches())
def test_loading_the_latest_batch_again_changes_no_answer(history) -> None:
    batches, (first, _) = history
    once = _load(batches, first)
    again = once + batch_observations(len(batches) + 1, batches[first[-1]])[0]
    for key in KEYS:
        assert condensed_history(again, key, END) == condensed_history(once, key, END)


@st.composite
def snapshot_histories(draw):
    """Snapshots at distinct snapshot times, each row at its snapshot's time, two orders."""
    times = draw(st.lists(st.integers(0, 6), unique=True, min_size=1, max_size=4))
    contents = [draw(st.dictionaries(st.sampled_from(KEYS + ["O3"]), st.sampled_from("AB"),
                                     max_size=3)) for _ in times]
    orders = [list(draw(st.permutations(range(len(times))))) for _ in range(2)]
    return list(zip(times, contents)), orders


def _load_snapshots(snapshots: list[tuple], order: list[int]) -> list[tuple]:
    loaded = [(n, *snapshots[i]) for n, i in enumerate(order, 1)]
    observations = []
    for n, at, content in loaded:
        observations += batch_observations(n, [(k, at, v) for k, v in content.items()])[0]
    return observations + snapshot_deletions(loaded)


@PROPERTY
@given(history=snapshot_histories())
def test_snapshot_states_do_not_depend_on_arrival_order(history) -> None:
    snapshots, (first, second) = history
    one, other = _load_snapshots(snapshots, first), _load_snapshots(snapshots, second)
    for key in KEYS + ["O3"]:
        assert condensed_history(one, key, END) == condensed_history(other, key, END)
        for at, content in snapshots:
            assert live_state(one, key, at, END) == content.get(key)


MEMBERS = [HOME, WORK, MOBILE, (("type", "home"), ("number", "999"))]


@st.composite
def multi_active_batches(draw):
    """Sets of two parents at distinct applied times across batches, rows shuffled and
    repeated, some marked deleted; two arrival orders."""
    cells = draw(st.lists(st.tuples(st.sampled_from(["C1", "C2"]), st.integers(0, 5)),
                          unique=True, max_size=8))
    count = draw(st.integers(1, 3))
    batches: list[list[tuple]] = [[] for _ in range(count)]
    for parent, applied in cells:
        rows = draw(st.lists(st.sampled_from(MEMBERS + [DELETED]), min_size=1, max_size=4))
        batches[draw(st.integers(0, count - 1))] += [(parent, applied, r) for r in rows]
    orders = [list(draw(st.permutations(range(count)))) for _ in range(2)]
    return batches, orders, draw(st.randoms())


def _load_sets(batches: list[list[tuple]], order: list[int], child_key=()) -> list[tuple]:
    observations = []
    for n, index in enumerate(order, 1):
        observations += multi_active_observations(n, batches[index], child_key)[0]
    return observations


@PROPERTY
@given(history=multi_active_batches())
def test_multi_active_states_do_not_depend_on_row_order_or_arrival_order(history) -> None:
    batches, (first, second), rnd = history
    shuffled = [rnd.sample(b, len(b)) for b in batches]
    for child_key in ((), ("type",)):
        one = _load_sets(batches, first, child_key)
        for other in (_load_sets(shuffled, first, child_key),
                      _load_sets(batches, second, child_key)):
            for parent in ("C1", "C2"):
                assert (condensed_history(one, parent, END)
                        == condensed_history(other, parent, END))
    # with a child key, a set is either observed whole or in conflict whole
    for n, batch in enumerate(batches):
        observations, conflicts = multi_active_observations(n, batch, ("type",))
        observed = {(p, a) for p, a, _, _ in observations}
        assert observed.isdisjoint({(p, a) for p, a, _, _ in conflicts})
        assert observed | {(p, a) for p, a, _, _ in conflicts} == {(p, a) for p, a, _ in batch}


@PROPERTY
@given(members=st.lists(st.binary(min_size=16, max_size=16), max_size=5), rnd=st.randoms())
def test_the_hash_diff_of_a_set_depends_on_the_set_only(members, rnd) -> None:
    shuffled = rnd.sample(members, len(members)) + members[:1]
    assert set_hash_diff(members) == set_hash_diff(shuffled)
    assert (set_hash_diff(members) == bytes(16)) == (not members)


@PROPERTY
@given(rows=st.lists(st.tuples(st.sampled_from(KEYS), st.integers(0, 5), st.integers(1, 4),
                               st.sampled_from(PAYLOADS)), max_size=10))
def test_last_seen_does_not_depend_on_arrival_order(rows) -> None:
    # the same rows under every assignment of the four load times to batches
    for mapping in permutations(range(1, 5)):
        moved = [(k, a, mapping[loaded - 1], p) for k, a, loaded, p in rows]
        for key in KEYS:
            for t in range(-1, 7):
                assert last_seen(moved, key, t, END) == last_seen(rows, key, t, END)


@st.composite
def event_batches(draw):
    rows = st.lists(st.tuples(st.sampled_from(["P1", "P2", "P3"]), st.integers(0, 3),
                              st.sampled_from([100, 200, DELETED])), max_size=5)
    batches = draw(st.lists(rows, min_size=1, max_size=4))
    return batches, [list(draw(st.permutations(range(len(batches))))) for _ in range(2)]


def _events(batches: list[list[tuple]], order: list[int]) -> tuple[dict, list]:
    return nonhistorized_link([(n, batches[i]) for n, i in enumerate(order, 1)])


@PROPERTY
@given(history=event_batches())
def test_transactional_links_are_order_independent_as_section_8_says(history) -> None:
    batches, orders = history
    results = [_events(batches, order) for order in orders]
    observed = {(e, p) for b in batches for e, _, p in b}
    for stored, quarantined in results:
        # every payload observed is stored or quarantined, in every order
        assert {(e, p) for e, (_, _, p) in stored.items()} | {(e, p) for e, _, _, p, _ in
                                                              quarantined} == observed
    (one, _), (other, _) = results
    assert set(one) == set(other)  # which events are stored
    for event in one:
        payloads = {p for b in batches for e, _, p in b if e == event and p is not DELETED}
        if len(payloads) == 1:
            assert one[event][2] == other[event][2]


@PROPERTY
@given(history=event_batches())
def test_transactional_answers_as_known_at_k_are_those_of_the_batches_loaded_by_k(
    history
) -> None:
    batches, (order, _) = history
    stored, _ = _events(batches, order)
    for known_at in range(len(order) + 1):
        earlier, _ = _events(batches, order[:known_at])
        for at in range(-1, 5):
            assert (nonhistorized_events(stored, at, known_at)
                    == nonhistorized_events(earlier, at, END))


@PROPERTY
@given(history=distinct_batches(payloads=["Euro", "Mark", DELETED], keys=["EUR", "DEM"]))
def test_code_lists_do_not_depend_on_arrival_order(history) -> None:
    batches, (first, second) = history
    one, other = _load(batches, first), _load(batches, second)
    for at in range(-1, 8):
        assert code_list(one, at, END) == code_list(other, at, END)


def test_state_spans_of_an_unknown_key_are_none() -> None:
    assert state_spans([("A", 1, 1, "x")], "B", END) == []


# ---- section 10: same-as and hierarchical links --------------------------------------------

def test_survivor_follows_a_chain_and_reports_doubts() -> None:
    from tests.reference import CYCLE, SEVERAL, survivor
    chain = {("A", "B"), ("B", "C")}
    assert survivor(chain, "A") == ("C", 2, None)
    assert survivor(chain, "B") == ("C", 1, None)
    assert survivor(chain, "C") == ("C", 0, None)
    assert survivor(chain, "X") == ("X", 0, None)
    cycle = {("A", "B"), ("B", "C"), ("C", "A"), ("D", "A")}
    assert {k: survivor(cycle, k) for k in "ABCD"} == {k: (k, 0, CYCLE) for k in "ABCD"}
    several = {("A", "B"), ("B", "C"), ("B", "D")}
    assert survivor(several, "A") == ("A", 0, SEVERAL)
    assert survivor(several, "B") == ("B", 0, SEVERAL)
    assert survivor(several, "C") == ("C", 0, None)


def test_an_edge_in_effect_follows_the_effectivity_satellite() -> None:
    from tests.reference import edges_in_effect, survivor
    rows = [("A", "B", 1), ("A", "A", 1)]
    assert edges_in_effect(rows, None, 0, 0) == set()
    assert edges_in_effect(rows, None, 0, 1) == {("A", "B")}  # from the start of time
    # A same as B from applied time 10, loaded at 1; ended at 20, loaded at 2
    eff = [("A", 10, 1, "B"), ("A", 20, 2, DELETED)]
    assert edges_in_effect(rows, eff, 9, 2) == set()
    assert edges_in_effect(rows, eff, 10, 2) == {("A", "B")}
    assert survivor(edges_in_effect(rows, eff, 20, 2), "A") == ("A", 0, None)
    assert survivor(edges_in_effect(rows, eff, 20, 1), "A") == ("B", 1, None)  # end not known


def test_walk_gives_the_shortest_depths_and_stops_at_cycles() -> None:
    from tests.reference import walk
    edges = {("wheel", "axle"), ("axle", "car"), ("wheel", "car"), ("car", "wheel")}
    assert walk(edges, "wheel") == {"axle": 1, "car": 1}
    assert walk(edges, "car") == {"wheel": 1, "axle": 2}
    assert walk(edges, "car", up=False) == {"axle": 1, "wheel": 1}
    assert walk(set(), "car") == {}


# ---- section 4: a bridge step through a link that joins one hub twice ------------------------

def test_a_bridge_step_is_one_live_edge_either_way() -> None:
    from tests.reference import bridge_step
    edges = {("A", "B"), ("B", "C")}
    assert bridge_step(edges, lambda key: True) == edges  # no closure: never ("A", "C")
    assert bridge_step(edges, lambda key: True, forward=False) == {("B", "A"), ("C", "B")}
    assert bridge_step(edges, lambda key: key != "C") == {("A", "B")}  # both keys live


def test_runs_are_the_maximal_spans_of_a_condition() -> None:
    from tests.reference import runs
    assert runs([5, 1, 3, 7], lambda t: t in (3, 5)) == [(3, 7)]
    assert runs([1, 3, 5], lambda t: t != 3) == [(1, 3), (5, None)]
    assert runs([1, 2], lambda t: False) == []
