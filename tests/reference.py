"""Plain-Python references of SEMANTICS.md: what the state of a key must be.

Section 2 (``reference_state``, ``stored_state``) and, built on it, sections 5 to 9: deletions,
status and record tracking, effectivity satellites, multi-active satellites, non-historized links
and reference tables. Every function is pure: it reads tuples and returns values, and knows
nothing of databases. An observation is a tuple ``(key, applied, loaded, payload)``; ``DELETED``
stands where a payload would in a deletion. ``tests/test_reference.py`` tests these functions on
their own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable, Iterable, Sequence

from datavault import hashing


class _Mark:
    """A mark that stands in a payload's place (a deletion, a status)."""

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return self.name


#: the payload of a deletion (SEMANTICS.md section 5)
DELETED = _Mark("DELETED")
#: the payload of a row of a status tracking satellite that is not a deletion
PRESENT = _Mark("PRESENT")


# ---- section 2 -----------------------------------------------------------------------------

def reference_state(observations: Iterable[tuple], key: object, at: object, known_at: object):
    """Among (key, applied, loaded, payload) with applied <= at and loaded <= known_at, the
    payload of the one with the greatest (applied, loaded); None when there is none."""
    best = None
    for k, applied, loaded, payload in observations:
        if k == key and applied <= at and loaded <= known_at:
            if best is None or (applied, loaded) > (best[0], best[1]):
                best = (applied, loaded, payload)
    return None if best is None else best[2]


def stored_state(rows: Iterable[tuple], key: object, at: object, known_at: object):
    """The same question asked of satellite rows (key, applied, loaded, payload)."""
    return reference_state(rows, key, at, known_at)


# ---- section 5: deletions, status and record tracking ----------------------------------------

def live_state(observations: Iterable[tuple], key: object, at: object, known_at: object):
    """The state of section 2 where a deletion answers as no state: the payload, or None when
    the key has no state at ``at`` as known at ``known_at`` or is deleted there."""
    state = reference_state(observations, key, at, known_at)
    return None if state is DELETED else state


def batch_observations(loaded: object, rows: Iterable[tuple]) -> tuple[list, list]:
    """The observations of one batch loaded at ``loaded`` (SEMANTICS.md sections 3 and 5).

    ``rows`` are ``(key, applied, payload)`` or ``(key, applied, payload, sequence)``; the
    payload of a delete marker is ``DELETED``, and payloads must be hashable. Per key and
    applied time, only the rows with the greatest sequence count (None is the lowest; without
    sequences, all count). Identical payloads are one observation; two different ones (a
    deletion and a payload included) are a conflict and observe nothing.

    Returns ``(observations, conflicts)``: observations ``(key, applied, loaded, payload)``, and
    the rows in conflict as ``(key, applied, loaded, payload)``, in the order of the rows.
    """
    groups: dict[tuple, list[tuple]] = {}
    for row in rows:
        key, applied, payload = row[:3]
        sequence = row[3] if len(row) > 3 else None
        groups.setdefault((key, applied), []).append((payload, sequence))
    observations: list[tuple] = []
    conflicts: list[tuple] = []
    for (key, applied), items in groups.items():
        sequences = [s for _, s in items if s is not None]
        if sequences:
            top = max(sequences)
            items = [(p, s) for p, s in items if s == top]
        payloads = list(dict.fromkeys(p for p, _ in items))
        if len(payloads) == 1:
            observations.append((key, applied, loaded, payloads[0]))
        else:
            conflicts += [(key, applied, loaded, p) for p, _ in items]
    return observations, conflicts


def snapshot_deletions(snapshots: Iterable[tuple]) -> list[tuple]:
    """The deletions that full snapshots observe (SEMANTICS.md section 5).

    ``snapshots`` are ``(loaded, snapshot_at, keys)``: a snapshot batch's load time, its
    snapshot time (its latest applied time) and the keys its rows give (a key in conflict
    included). Each observes a deletion at ``(snapshot_at, loaded)`` of every key that any of
    the snapshots gives and it lacks, also of keys that only later snapshots give: before a key
    has a payload, its deletions are no state (``live_state``).
    """
    snapshots = [(loaded, at, list(keys)) for loaded, at, keys in snapshots]
    every = list(dict.fromkeys(k for _, _, keys in snapshots for k in keys))
    return [(k, at, loaded, DELETED)
            for loaded, at, keys in snapshots
            for k in every if k not in keys]


def condensed_history(observations: Iterable[tuple], key: object, known_at: object) -> list:
    """The classic condensed history of a key as known at ``known_at``: ``(applied, state)`` at
    each applied time where the state changes, in applied order. A deletion where there is no
    state yet, or where the key is deleted already, is no change (SEMANTICS.md section 5);
    batches in applied-time order store exactly these rows (section 3, property 3)."""
    observations = list(observations)
    points = sorted({a for k, a, loaded, _ in observations if k == key and loaded <= known_at})
    changes: list[tuple] = []
    previous = None
    for applied in points:
        state = reference_state(observations, key, applied, known_at)
        if state is DELETED and (previous is None or previous is DELETED):
            continue
        if state != previous:
            changes.append((applied, state))
            previous = state
    return changes


def status_rows(rows: Iterable[tuple]) -> list[tuple]:
    """The rows of a source as a status tracking satellite sees them: every payload is
    ``PRESENT``, a deletion stays ``DELETED`` (an optional sequence is kept). Feed them to
    ``batch_observations``, batch by batch; the status is then ``live_state``: PRESENT when
    the key is live in the source, None when it is not."""
    return [(row[0], row[1], DELETED if row[2] is DELETED else PRESENT, *row[3:])
            for row in rows]


def last_seen(rows: Iterable[tuple], key: object, at: object, known_at: object):
    """Record tracking: among the rows ``(key, applied, loaded, payload)`` of a source (every
    staged row, a row of a conflict included; ``DELETED`` for a marked row), the greatest
    applied time of one that gives ``key``, is not a deletion, and has applied <= at and
    loaded <= known_at; None when there is none."""
    seen = [applied for k, applied, loaded, payload in rows
            if k == key and payload is not DELETED and applied <= at and loaded <= known_at]
    return max(seen, default=None)


# ---- section 6: effectivity satellites --------------------------------------------------------

def state_spans(observations: Iterable[tuple], key: object, known_at: object) -> list[tuple]:
    """The maximal runs of equal live state of a key along applied time, as known at
    ``known_at``: ``(state, start, end)`` in applied order, ``end`` None while the state
    lasts. A deletion ends a span and begins none."""
    changes = condensed_history(observations, key, known_at)
    spans = []
    for index, (start, state) in enumerate(changes):
        if state is DELETED:
            continue
        end = changes[index + 1][0] if index + 1 < len(changes) else None
        spans.append((state, start, end))
    return spans


def effectivity_spans(observations: Iterable[tuple], driving_key: object,
                      known_at: object) -> list[tuple]:
    """SEMANTICS.md section 6: the relationships of a driving key along applied time, as known
    at ``known_at``, as ``(relationship, start, end)``.

    ``observations`` are ``(driving key, applied, loaded, relationship)``: the relationship a
    row names (its link key, or the other roles' keys), or ``DELETED`` for an end (a snapshot
    that lacks the driving key, a delete marker). The relationship in effect at ``t`` is
    ``live_state(observations, driving_key, t, known_at)``; the spans are its maximal runs.
    """
    return state_spans(observations, driving_key, known_at)


# ---- section 7: multi-active satellites -------------------------------------------------------

def set_hash_diff(member_diffs: Iterable[bytes], algorithm: str = "md5") -> bytes:
    """The hash diff of a set: its members' distinct hash diffs (section 1) as lower-case hex,
    sorted, joined with ``|``, hashed over the UTF-8 bytes; the empty set (a deletion) has
    the zero hash diff."""
    texts = sorted({bytes(d).hex() for d in member_diffs})
    if not texts:
        return bytes(hashlib.new(algorithm).digest_size)
    return hashlib.new(algorithm, "|".join(texts).encode("utf-8")).digest()


def member(columns: Iterable[tuple[str, object]]) -> frozenset:
    """A member of a set: a row's payload columns ``(name, value)``, NULLs left out as its
    hash diff leaves them out, so that members compare as their hash diffs do."""
    return frozenset((name, value) for name, value in columns if value is not None)


def multi_active_observations(loaded: object, rows: Iterable[tuple],
                              child_key: Sequence[str] = ()) -> tuple[list, list]:
    """The observations of one batch of a multi-active satellite (SEMANTICS.md section 7).

    ``rows`` are ``(parent, applied, columns)`` or ``(parent, applied, columns, sequence)``,
    ``columns`` a row's payload as ``(name, value)`` pairs, or ``DELETED`` for a marked row.
    Per parent and applied time, the rows with the greatest sequence (None lowest) are one set:
    its unmarked rows' members (identical rows are one), whatever their order; ``DELETED`` when
    every row is marked (the empty set). With ``child_key`` columns, two different members with
    equal child key values are a conflict: every row of that parent and applied time is, and
    the batch observes nothing of it.

    Returns ``(observations, conflicts)``: ``(parent, applied, loaded, frozenset of members or
    DELETED)``, and the rows in conflict as ``(parent, applied, loaded, columns)``.
    """
    groups: dict[tuple, list[tuple]] = {}
    for row in rows:
        parent, applied, columns = row[:3]
        sequence = row[3] if len(row) > 3 else None
        groups.setdefault((parent, applied), []).append((columns, sequence))
    observations: list[tuple] = []
    conflicts: list[tuple] = []
    for (parent, applied), items in groups.items():
        sequences = [s for _, s in items if s is not None]
        if sequences:
            top = max(sequences)
            items = [(c, s) for c, s in items if s == top]
        members = {member(c) for c, _ in items if c is not DELETED}
        by_child: dict[tuple, set] = {}
        for m in members:
            values = dict(m)
            by_child.setdefault(tuple(values.get(c) for c in child_key), set()).add(m)
        if child_key and any(len(found) > 1 for found in by_child.values()):
            conflicts += [(parent, applied, loaded, c) for c, _ in items]
            continue
        observations.append((parent, applied, loaded, frozenset(members) or DELETED))
    return observations, conflicts


# ---- section 8: non-historized links ----------------------------------------------------------

def nonhistorized_link(batches: Iterable[tuple]) -> tuple[dict, list]:
    """SEMANTICS.md section 8: an event is inserted once, and the first one loaded stands.

    ``batches`` are ``(loaded, rows)`` in load order, ``rows`` ``(event key, applied,
    payload)`` with hashable payloads, ``DELETED`` for a marked row. Returns ``(stored,
    quarantined)``: ``stored`` maps each stored event key to ``(applied, loaded, payload)``;
    ``quarantined`` lists ``(event key, applied, loaded, payload, reason)`` with the reasons
    ``deletion`` (a marked row), ``conflict`` (rows of one batch with different payloads for an
    event not stored), ``conflict with stored`` (a payload other than the stored one).
    """
    stored: dict[Hashable, tuple] = {}
    quarantined: list[tuple] = []
    for loaded, rows in batches:
        groups: dict[Hashable, list[tuple]] = {}
        for key, applied, payload in rows:
            if payload is DELETED:
                quarantined.append((key, applied, loaded, payload, "deletion"))
            else:
                groups.setdefault(key, []).append((applied, payload))
        for key, items in groups.items():
            if key in stored:
                quarantined += [(key, a, loaded, p, "conflict with stored")
                                for a, p in items if p != stored[key][2]]
                continue
            payloads = set(p for _, p in items)
            if len(payloads) == 1:
                stored[key] = (min(a for a, _ in items), loaded, items[0][1])
            else:
                quarantined += [(key, a, loaded, p, "conflict") for a, p in items]
    return stored, quarantined


def nonhistorized_events(stored: dict, at: object, known_at: object) -> dict:
    """The events at applied time ``at`` as known at ``known_at``: every stored event with
    applied <= at and loaded <= known_at, with its payload."""
    return {key: payload for key, (applied, loaded, payload) in stored.items()
            if applied <= at and loaded <= known_at}


# ---- section 9: reference tables --------------------------------------------------------------

def reference_code(parts: Iterable[tuple[object, str]]) -> tuple | None:
    """The identity of a code of typed parts ``(value, type)``: the tuple of their canonical
    texts of section 1, neither trimmed nor case-folded (``mm`` and ``Mm`` are two codes); None
    when a part is missing (NULL, or text that is empty or only ASCII white space), which
    quarantines the row. A float part is not allowed (ValueError)."""
    texts = []
    for value, type_name in parts:
        if type_name == "float":
            raise ValueError("a code has no float part")
        if value is None or (isinstance(value, str) and not value.strip(hashing.ASCII_SPACE)):
            return None
        texts.append(hashing.canonical(value, type_name))
    return tuple(texts)


def code_list(observations: Iterable[tuple], at: object, known_at: object) -> dict:
    """The code list at ``at`` as known at ``known_at``: every code whose description state
    there is live, with that description. ``observations`` are ``(code, applied, loaded,
    description)``, ``DELETED`` for a code a snapshot lacked or a marked row."""
    observations = list(observations)
    codes = dict.fromkeys(code for code, _, _, _ in observations)
    answer = {code: live_state(observations, code, at, known_at) for code in codes}
    return {code: state for code, state in answer.items() if state is not None}


def looked_up(observations: Iterable[tuple], code_observations: Iterable[tuple], key: object,
              code_of, at: object, known_at: object):
    """SEMANTICS.md section 4, a mart's code lookup: the description that a view shows beside
    ``key`` at ``at`` as known at ``known_at``. ``observations`` are the key's satellite's
    (section 2), ``code_of`` gives the code (``reference_code``) that a payload holds (None:
    none), ``code_observations`` are the reference table's; None where the key has no state,
    its state holds no code, or the code is unknown or not live there."""
    state = live_state(observations, key, at, known_at)
    code = None if state is None else code_of(state)
    if code is None:
        return None
    return code_list(code_observations, at, known_at).get(code)


# ---- section 10: same-as and hierarchical links --------------------------------------------

def edges_in_effect(link_rows: Iterable[tuple], effectivity: Iterable[tuple] | None,
                    at: object, known_at: object) -> set[tuple]:
    """SEMANTICS.md section 10: the edges ``(from, to)`` in effect at ``at`` as known at
    ``known_at``. ``link_rows`` are ``(from, to, loaded)``; ``effectivity`` None: the link has
    no effectivity satellite of its first role, so every row loaded by ``known_at`` is in effect;
    else its observations ``(from, applied, loaded, to or DELETED)``, and the edge of each key
    is its relationship in effect there (section 6). An edge from a key to itself is left out."""
    if effectivity is None:
        edges = {(a, b) for a, b, loaded in link_rows if loaded <= known_at}
    else:
        observations = list(effectivity)
        edges = set()
        for key in {o[0] for o in observations}:
            target = live_state(observations, key, at, known_at)
            if target is not None:
                edges.add((key, target))
    return {(a, b) for a, b in edges if a != b}


#: why a key resolves to itself although it has a survivor (section 10)
SEVERAL = "several survivors"
CYCLE = "cycle"


def survivor(edges: Iterable[tuple], key: object) -> tuple[object, int, str | None]:
    """The survivor of ``key`` along ``edges`` in effect: ``(survivor, steps, conflict)``;
    a key on the walk with several survivors, or a walk back to a key passed, resolves ``key``
    to itself (0 steps) with the conflict named."""
    targets: dict[object, set] = {}
    for a, b in edges:
        targets.setdefault(a, set()).add(b)
    seen = [key]
    current = key
    while current in targets:
        if len(targets[current]) > 1:
            return key, 0, SEVERAL
        (current,) = targets[current]
        if current in seen:
            return key, 0, CYCLE
        seen.append(current)
    return current, len(seen) - 1, None


def walk(edges: Iterable[tuple], key: object, up: bool = True) -> dict[object, int]:
    """The ancestors of ``key`` (``up``; else its descendants) along ``edges`` (child, parent)
    in effect, each with its depth: the length of the shortest way to it; ``key`` itself is
    not among them."""
    nexts: dict[object, set] = {}
    for a, b in edges:
        if not up:
            a, b = b, a
        nexts.setdefault(a, set()).add(b)
    depths: dict[object, int] = {}
    frontier, depth = {key}, 0
    while frontier:
        depth += 1
        reached = {b for a in frontier for b in nexts.get(a, ())} - set(depths) - {key}
        for b in reached:
            depths[b] = depth
        frontier = reached
    return depths


# ---- section 4: a bridge step through a link that joins one hub twice ------------------------

def bridge_step(edges: Iterable[tuple], live, forward: bool = True) -> set[tuple]:
    """SEMANTICS.md section 4: the paths of a bridge of one step through a same-as link or a
    hierarchy at a snapshot, as ``(from key, to key)``: each of the ``edges`` in effect there
    (section 10's ``edges_in_effect``: with the effectivity satellite the bridge names under
    ``effective:``, else None) whose two keys are ``live`` there, walked from its first role to
    its second (duplicate to survivor, child to parent) when ``forward``, else back. One edge
    each: no closure."""
    return {(a, b) if forward else (b, a) for a, b in edges if live(a) and live(b)}


def runs(points: Iterable[object], holds) -> list[tuple]:
    """The maximal runs along applied time of a condition that can change only at ``points``
    and does not hold before the first: ``(start, end)`` in order, ``end`` None while it
    holds (the spans of a bridge's ``_history`` view)."""
    spans, start = [], None
    for point in sorted(set(points)):
        if holds(point):
            if start is None:
                start = point
        elif start is not None:
            spans.append((start, point))
            start = None
    if start is not None:
        spans.append((start, None))
    return spans


# ---- section 11 ----------------------------------------------------------------------------

def _in_range(value: object, low: object, high: object, exclusive: bool) -> bool:
    if isinstance(value, float) and value != value:  # NaN is in no range
        return False
    if low is not None and (value <= low if exclusive else value < low):
        return False
    return not (high is not None and (value >= high if exclusive else value > high))


def row_check_fails(test: str, values: Sequence[object], type_name: str, *,
                    listed: Sequence[object] = (), low: object = None, high: object = None,
                    exclusive: bool = False, pattern: str = "") -> bool:
    """Whether a row whose checked columns hold ``values`` (typed Python values, None for
    NULL) fails a row check: NULL passes all but ``not_null``."""
    import re

    if test == "not_null":
        return any(v is None for v in values)
    (value,) = values
    if value is None:
        return False
    if test == "accepted_values":
        return hashing.canonical(value, type_name) not in {
            hashing.canonical(v, type_name) for v in listed}
    if test == "range":
        return not _in_range(value, low, high, exclusive)
    if test == "length":
        return not _in_range(len(str(value)), low, high, False)
    if test == "pattern":
        return "\n" in value or re.fullmatch(pattern, value) is None
    raise ValueError(test)


def drift_bin(value: object, type_name: str, edges: Sequence[object] = ()) -> str:
    """The bin of a value in a drift check's profile: NULL and NaN their own, then by edges
    (bin i from edge i-1 up to edge i), else the canonical text."""
    if value is None:
        return "NULL"
    if isinstance(value, float) and value != value:
        return "NaN"
    if not edges:
        return hashing.canonical(value, type_name)
    return str(sum(1 for edge in edges if value >= edge))
