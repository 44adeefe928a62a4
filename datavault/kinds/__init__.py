"""The kinds of entity, one module each, registered by name (``KINDS``).

The order of registration is the order of reading (a link's hubs are read before it) and of
loading (a batch loads its hubs, then its links, then its satellites). A new kind is a module
here with a ``Kind`` subclass, its load template under ``templates/base/``, and its tests.
"""

from __future__ import annotations

from collections.abc import Iterable

from datavault import model as m
from datavault.kinds.base import Described, Kind, Readings
from datavault.kinds.effectivity_satellite import EffectivitySatelliteKind
from datavault.kinds.hub import HubKind
from datavault.kinds.link import LinkKind
from datavault.kinds.multi_active_satellite import MultiActiveSatelliteKind
from datavault.kinds.nonhistorized_link import NonHistorizedLinkKind
from datavault.kinds.record_tracking import RecordTrackingKind
from datavault.kinds.reference_table import ReferenceTableKind
from datavault.kinds.satellite import SatelliteKind

#: every kind by name, in the order they are read and loaded
KINDS: dict[str, Kind] = {}


def register(kind: Kind) -> Kind:
    """Add a kind (after those registered before it)."""
    if kind.name in KINDS:
        raise ValueError(f"kind {kind.name!r} is registered already")
    KINDS[kind.name] = kind
    return kind


for _kind in (HubKind(), LinkKind(), SatelliteKind()):
    register(_kind)
register(NonHistorizedLinkKind())
register(MultiActiveSatelliteKind())
register(RecordTrackingKind())
register(EffectivitySatelliteKind())
register(ReferenceTableKind())


def kind_of(model: m.Model, name: str) -> Kind:
    """The kind of the entity ``name`` of ``model`` (KeyError: no such entity)."""
    return KINDS[model.entities[name].kind]


def engine_needs(model: m.Model, names: Iterable[str] | None = None
                 ) -> dict[str, tuple[str, ...]]:
    """What the loads of the entities ``names`` (default: every one) need of an engine
    (``Kind.engine_needs``), by entity as people name it: for ``Dialect.check_needs``."""
    needs = {}
    for name in model.entities if names is None else names:
        kind = kind_of(model, name)
        if kind.engine_needs:
            needs[f"{kind.unit} {name}"] = kind.engine_needs
    return needs


def load_lock_group(model: m.Model, source: str) -> tuple[str, ...]:
    """The sources whose loads share ``source``'s load lock, sorted (``source`` alone for
    most): where a source feeds an entity that takes batches in load-time order from other
    sources too (a non-historized link of two sources), every source so joined, so that
    their loads take turns and each batch loads it in the order of the load times."""
    group, todo = {source}, [source]
    while todo:
        current = todo.pop()
        for entity in model.entities.values():
            if entity.fed_by(current) and kind_of(model, entity.name).in_load_order:
                joined = {s for s in model.sources if entity.fed_by(s)} - group
                group |= joined
                todo += sorted(joined)
    return tuple(sorted(group))


def main_table(model: m.Model, name: str) -> str:
    """The main table of the entity ``name`` (its keys or its rows; not its log)."""
    return kind_of(model, name).table_names(model.settings.naming, name)[0]


def described(model: m.Model) -> dict[str, Described]:
    """Every entity that marts can point at (satellites of every kind), by name, as marts
    see it."""
    seen = ((name, KINDS[entity.kind].described(model, entity))
            for name, entity in model.entities.items())
    return {name: view for name, view in seen if view is not None}


def by_folder(folder: str) -> Kind | None:
    """The kind whose files are in ``models/<folder>/``."""
    return next((k for k in KINDS.values() if k.folder == folder), None)


__all__ = ["KINDS", "Described", "Kind", "Readings", "by_folder", "described", "kind_of",
           "main_table", "register"]
