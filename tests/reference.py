"""Plain-Python reference of SEMANTICS.md section 2: what the state of a key must be."""

from __future__ import annotations

from collections.abc import Iterable


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
