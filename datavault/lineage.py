"""Column lineage: where each column of the vault and its marts comes from, from the model alone.

For every column of every table of every entity (hubs, links, satellites of every kind and
their logs), of every mart's PIT or bridge table and of its views, the columns it is made of
and how (``Derivation``): copied, a hashed business key, a hash diff, the applied time, the
load time, the record source, ... A vault column's inputs are source columns; a mart's are
the vault's, so ``Lineage.chains`` walks from a mart column back to the source columns it
shows. No database and no I/O: the tables are ``schema``'s and ``marts``' MetaData, the views'
columns those the mart templates select (``model.view_labels``). The docs site and
OpenLineage's column lineage facet both read it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property

import sqlalchemy as sa

from datavault import kinds, marts, schema
from datavault import model as m
from datavault.dialects.types import declared_type
from datavault.kinds.multi_active_satellite import MEMBER_HASH_DIFF


class Derivation:
    """How a column is made from its inputs (the words the docs show)."""

    SOURCE = "source column"
    COPIED = "copied"
    HASH_KEY = "hashed business key"
    HASH_DIFF = "hash diff"
    SET_HASH_DIFF = "hash diff of the set"
    CODE_TEXT = "code text"
    APPLIED_TIME = "applied time"
    LOAD_TIME = "load time"
    RECORD_SOURCE = "record source"
    BATCH = "batch id"
    LOOKED_UP = "business key looked up by hash key"
    POINTER = "pointer to a satellite row"
    SNAPSHOT = "snapshot time of the spine"
    VALIDITY = "validity span"


@dataclass(frozen=True, order=True)
class Ref:
    """One column: of a source (``table`` is the source's name), a vault table, or a mart's
    table or view. ``owner``: the source, entity or mart it belongs to."""

    owner: str
    table: str
    column: str

    def __str__(self) -> str:
        return f"{self.table}.{self.column}"


@dataclass(frozen=True)
class ColumnLineage:
    """A column, what it is (type, whether it is part of its table's primary key) and where it
    comes from: its direct ``inputs`` and how it is made of them."""

    ref: Ref
    owner_kind: str  # "source", an entity's kind, "pit" or "bridge"
    type: str  # a declared type (text, decimal ...), or "hash"
    primary_key: bool
    derivation: str
    inputs: tuple[Ref, ...] = ()
    note: str = ""  # what no column says: a constant record source, the batch's load time


@dataclass(frozen=True)
class Lineage:
    """Every column of a model's sources, vault tables and marts, with where it comes from."""

    columns: tuple[ColumnLineage, ...]
    #: per owner, (kind, name): ("source", NAME), (an entity's kind, NAME) or ("mart", NAME),
    #: its tables in order, main table first (a source is a table of its own name; a mart's
    #: table comes before its views); a source may have the name of the hub it feeds
    tables: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)

    @cached_property
    def _by_ref(self) -> dict[tuple[str, str], ColumnLineage]:
        return {(c.ref.table, c.ref.column): c for c in self.columns}

    @cached_property
    def _users(self) -> dict[Ref, list[Ref]]:
        users: dict[Ref, list[Ref]] = {}
        for column in self.columns:
            for ref in column.inputs:
                users.setdefault(ref, []).append(column.ref)
        return users

    def of(self, table: str, column: str) -> ColumnLineage:
        """The lineage of one column (KeyError: the model has no such column)."""
        return self._by_ref[(table, column)]

    def table(self, table: str) -> list[ColumnLineage]:
        """The columns of one table (or source, or view), in its order."""
        return [c for c in self.columns if c.ref.table == table]

    def used_by(self, ref: Ref) -> list[Ref]:
        """The columns made directly from ``ref``."""
        return sorted(self._users.get(ref, ()))

    def origins(self, table: str, column: str) -> list[Ref]:
        """The source columns a column comes from, through any tables in between."""
        return sorted({chain[0] for chain in self.chains(table, column)
                       if self._by_ref[(chain[0].table, chain[0].column)].owner_kind == "source"})

    def chains(self, table: str, column: str) -> list[tuple[Ref, ...]]:
        """Every path of columns that ends at this one, from a column with no inputs (a source
        column, or one made by the load such as its load time): source column -> satellite
        column -> mart column."""
        start = self._by_ref[(table, column)]
        if not start.inputs:
            return [(start.ref,)]
        return sorted(chain + (start.ref,) for ref in start.inputs
                      for chain in self.chains(ref.table, ref.column))


def lineage(model: m.Model) -> Lineage:
    """The column lineage of a model."""
    columns: list[ColumnLineage] = []
    tables: dict[tuple[str, str], tuple[str, ...]] = {}
    for source in model.sources.values():
        tables[("source", source.name)] = (source.name,)
        columns += [ColumnLineage(Ref(source.name, source.name, c.name), "source", c.type,
                                  False, Derivation.SOURCE) for c in source.columns]
    md = schema.metadata_for(model)
    for name, entity in model.entities.items():
        kind = kinds.kind_of(model, name)
        names = kind.table_names(model.settings.naming, name)
        tables[(entity.kind, name)] = tuple(names)
        rules = _RULES[entity.kind](model, entity)
        typed = _declared_types(entity)
        for table_name in names:
            for column in md.tables[table_name].columns:
                columns.append(_entity_column(model, entity, table_name, column, rules, typed))
    mart_md = marts.metadata(model)
    for mart in model.marts.values():
        views = [mart.view(v) for v in m.MART_VIEWS]
        tables[("mart", mart.name)] = (mart.table, *views)
        columns += _mart_table(model, mart, mart_md.tables[mart.table])
        for which in m.MART_VIEWS:
            columns += _mart_view(model, mart, which)
    return Lineage(tuple(columns), tables)


# ---- the vault's tables ------------------------------------------------------------------
#: a column's derivation, inputs and note
Rule = tuple[str, tuple[Ref, ...], str]


def _refs(source: str, columns: Iterable[str]) -> tuple[Ref, ...]:
    return tuple(Ref(source, source, c) for c in columns)


def _parent_columns(model: m.Model, parent: str, source: str,
                    roles: Iterable[str] | None = None) -> tuple[Ref, ...]:
    """The columns of ``source`` that carry the business key of a hub or a link (of the
    link's ``roles`` only, when given), in key order."""
    if parent in model.hubs:
        feed = model.hubs[parent].feed(source)
        assert feed is not None
        return _refs(source, feed.columns)
    link = model.entities[parent]
    feed = link.feed(source)  # type: ignore[attr-defined]
    assert feed is not None
    chosen = set(roles) if roles is not None else {r.role for r in link.roles}  # type: ignore
    return _refs(source, [c for role, cols in zip(link.roles, feed.columns)  # type: ignore
                          if role.role in chosen for c in cols])


def _sources_of(model: m.Model, entity: m.Entity) -> list[m.Source]:
    return [s for s in model.sources.values() if entity.fed_by(s.name)]


def _common(model: m.Model, entity: m.Entity) -> dict[str, Rule]:
    """The columns every vault table ends with, and the applied time, from the entity's
    sources."""
    sources = _sources_of(model, entity)
    applied = tuple(r for s in sources if s.applied_at for r in _refs(s.name, [s.applied_at]))
    by_load = [s.name for s in sources if not s.applied_at]
    return {
        "applied_ts": (Derivation.APPLIED_TIME, applied,
                       f"the load time of the batch, for {', '.join(by_load)} (no applied_at)"
                       if by_load else ""),
        "load_ts": (Derivation.LOAD_TIME, (), "the load time of the batch that stored the row"),
        "record_source": (Derivation.RECORD_SOURCE, (),
                          ", ".join(repr(s.record_source) for s in sources)),
        "batch_id": (Derivation.BATCH, (), "the batch that stored the row"),
    }


def _payload(entity: m.Entity, payload: Iterable[m.PayloadColumn], source: str,
             diff: str = Derivation.HASH_DIFF) -> dict[str, Rule]:
    payload = list(payload)
    rules: dict[str, Rule] = {c.name: (Derivation.COPIED, _refs(source, [c.source_column]), "")
                              for c in payload}
    rules["hash_diff"] = (diff, _refs(source, [c.source_column for c in payload]),
                          "" if payload else "no payload: the hash diff of presence")
    return rules


def _hub(model: m.Model, hub: m.Hub) -> dict[str, Rule]:
    every = tuple(r for f in hub.feeds for r in _refs(f.source, f.columns))
    rules: dict[str, Rule] = {m.hub_key_column(hub.name): (Derivation.HASH_KEY, every, "")}
    for n, part in enumerate(hub.key):
        rules[part.name] = (Derivation.COPIED, tuple(Ref(f.source, f.source, f.columns[n])
                                                     for f in hub.feeds), "")
    return rules


def _link(model: m.Model, link: m.Link | m.NonHistorizedLink) -> dict[str, Rule]:
    every = tuple(r for f in link.feeds for r in _parent_columns(model, link.name, f.source))
    rules: dict[str, Rule] = {m.link_key_column(link.name): (Derivation.HASH_KEY, every, "")}
    for role in link.roles:
        rules[m.role_key_column(role.role)] = (
            Derivation.HASH_KEY, tuple(r for f in link.feeds for r in _parent_columns(
                model, link.name, f.source, [role.role])), f"the hash key of hub {role.hub}")
    return rules


def _nonhistorized_link(model: m.Model, link: m.NonHistorizedLink) -> dict[str, Rule]:
    rules = _link(model, link)
    key = m.link_key_column(link.name)
    rules[key] = (Derivation.HASH_KEY, rules[key][1] + tuple(
        Ref(f.source, f.source, c.source_column) for f in link.feeds for c in link.event_key),
        "every role's key parts, then the event key columns")
    for column in link.event_key:
        rules[column.name] = (Derivation.COPIED, tuple(
            Ref(f.source, f.source, column.source_column) for f in link.feeds), "")
    for feed in link.feeds:
        payload = _payload(link, link.payload, feed.source)
        for name, (how, inputs, note) in payload.items():
            old = rules.get(name, (how, (), note))
            rules[name] = (how, old[1] + inputs, note)
    return rules


def _satellite(model: m.Model, sat: m.Satellite | m.RecordTracking) -> dict[str, Rule]:
    return {sat.key_column: (Derivation.HASH_KEY,
                             _parent_columns(model, sat.parent, sat.source),
                             f"the hash key of {sat.parent_kind} {sat.parent}"),
            **_payload(sat, getattr(sat, "payload", ()), sat.source)}


def _multi_active(model: m.Model, sat: m.MultiActiveSatellite) -> dict[str, Rule]:
    rules = _satellite(model, sat)
    rules[MEMBER_HASH_DIFF] = (Derivation.HASH_DIFF, rules["hash_diff"][1],
                               "of one member of the set")
    rules["hash_diff"] = (Derivation.SET_HASH_DIFF, rules["hash_diff"][1],
                          "of every member of the key's set at its applied time")
    return rules


def _effectivity(model: m.Model, eff: m.EffectivitySatellite) -> dict[str, Rule]:
    link = m.link_key_column(eff.link)
    whole = _parent_columns(model, eff.link, eff.source)
    rules: dict[str, Rule] = {
        eff.key_column: (Derivation.HASH_KEY,
                         _parent_columns(model, eff.link, eff.source, eff.driving_key),
                         f"the driving key: {', '.join(eff.driving_key)} of link {eff.link}"),
        "hash_diff": (Derivation.HASH_KEY, whole,
                      f"the link key of the relationship of {eff.link} in effect"),
        link: (Derivation.HASH_KEY, whole, f"the link key of {eff.link}"),
    }
    for role in eff.other_roles:
        rules[m.role_key_column(role)] = (
            Derivation.HASH_KEY, _parent_columns(model, eff.link, eff.source, [role]),
            f"the hash key of role {role}")
    return rules


def _reference_table(model: m.Model, table: m.ReferenceTable) -> dict[str, Rule]:
    return {m.CODE_COLUMN: (Derivation.CODE_TEXT, _refs(table.source,
                                                        [c.name for c in table.code]), ""),
            **{c.name: (Derivation.COPIED, _refs(table.source, [c.name]), "")
               for c in table.code},
            **_payload(table, table.payload, table.source)}


#: per kind of entity, the lineage of the columns of its own (the rest: ``_common``); a test
#: checks that every registered kind has one and that every column of its tables is covered
_RULES: dict[str, Callable[..., dict[str, Rule]]] = {
    "hub": _hub,
    "link": _link,
    "satellite": _satellite,
    "nonhistorized_link": _nonhistorized_link,
    "multi_active_satellite": _multi_active,
    "record_tracking": _satellite,
    "effectivity_satellite": _effectivity,
    "reference_table": _reference_table,
}


def _declared_types(entity: m.Entity) -> dict[str, str]:
    typed = {}
    for attr in ("key", "code", "event_key", "payload"):
        for column in getattr(entity, attr, ()):
            typed[column.name] = column.type
    return typed


def _type(column: sa.Column, typed: dict[str, str]) -> str:
    if column.name in typed:
        return typed[column.name]
    if isinstance(column.type, sa.LargeBinary):
        return "hash"
    return declared_type(column.type) or {
        sa.DateTime: "timestamp", sa.BigInteger: "integer", sa.Text: "text",
    }.get(type(column.type), str(column.type).lower())


def _entity_column(model: m.Model, entity: m.Entity, table: str, column: sa.Column,
                   rules: dict[str, Rule], typed: dict[str, str]) -> ColumnLineage:
    rule = rules.get(column.name) or _common(model, entity).get(column.name)
    if rule is None:
        raise LookupError(f"no lineage rule for column {column.name} of {table} "
                          f"({entity.kind} {entity.name})")
    how, inputs, note = rule
    return ColumnLineage(Ref(entity.name, table, column.name), entity.kind,
                         _type(column, typed), bool(column.primary_key), how, inputs, note)


# ---- marts ---------------------------------------------------------------------------------
def _key_of(model: m.Model, parent: str) -> Ref:
    """The hash key column of a hub or link's table."""
    return Ref(parent, model.parent_table(parent), model.parent_key(parent))


def _mart_table(model: m.Model, mart: m.Mart, table: sa.Table) -> list[ColumnLineage]:
    seen = kinds.described(model)
    rules: dict[str, Rule] = {"snapshot_ts": (Derivation.SNAPSHOT, (), _spine_text(mart.spine))}
    if mart.kind == "pit":
        rules[model.parent_key(mart.parent)] = (Derivation.COPIED,
                                                (_key_of(model, mart.parent),), "")
        for sat in mart.satellites:
            view = seen[sat]
            for column in (view.key, "applied_ts", "load_ts"):
                rules[f"{sat}_{column if column != view.key else 'hk'}"] = (
                    Derivation.POINTER, (Ref(sat, view.table, column),),
                    "the row in effect at the snapshot (the ghost row where there is none)")
    else:
        for n, (name, place) in enumerate(zip(mart.path, mart.places)):
            rules[f"{place}_hk"] = (Derivation.COPIED, (_key_of(model, name),),
                                    f"the {'link' if n % 2 else 'hub'} {name} on the path")
    return [ColumnLineage(Ref(mart.name, table.name, c.name), mart.kind,
                          _type(c, {}), bool(c.primary_key), *rules[c.name])
            for c in table.columns]


def _spine_text(spine: m.Spine) -> str:
    if spine.every:
        return f"every {spine.every} from {spine.start} to {spine.end or 'the day of the build'}"
    if spine.dates:
        return f"{len(spine.dates)} listed dates"
    return "a retention ladder: " + ", ".join(f"{count or 'every'} {step}"
                                              for step, count in spine.ladder)


def _business_keys(model: m.Model, hub: str, place: str | None = None
                   ) -> list[tuple[str, str, Ref, str]]:
    """(owner for the view's label, column, its hub column, type) of a hub's business key."""
    table = model.hub_table(hub)
    return [(place or hub, c.name, Ref(hub, table, c.name), c.type)
            for c in model.hubs[hub].key]


def _mart_view(model: m.Model, mart: m.Mart, which: str) -> list[ColumnLineage]:
    """The columns of one of a mart's views, as its template selects them: the snapshot time
    (``_snapshot``), the business keys, the validity span (``_history``), the satellites'
    columns (a PIT) and the descriptions of its code lookups."""
    view = mart.view(which)
    out: list[ColumnLineage] = []

    def add(label: str, type_: str, how: str, inputs: tuple[Ref, ...], note: str = "") -> None:
        out.append(ColumnLineage(Ref(mart.name, view, label), mart.kind, type_, False, how,
                                 inputs, note))

    if which == "snapshot":
        add("snapshot_at", "timestamp", Derivation.SNAPSHOT, (Ref(mart.name, mart.table,
                                                                  "snapshot_ts"),))
    keys: list[tuple[str, Ref, str, tuple[Ref, ...]]] = []  # label, hub column, type, via
    if mart.kind == "pit" and mart.parent in model.hubs:
        keys = [(col, ref, t, (_key_of(model, mart.parent),))
                for _, col, ref, t in _business_keys(model, mart.parent)]
    elif mart.kind == "pit":
        link = model.links[mart.parent]
        for role in link.roles:
            via = (Ref(link.name, model.link_table(link.name), m.role_key_column(role.role)),)
            keys += [(f"{role.role}_{col}", ref, t, via)
                     for _, col, ref, t in _business_keys(model, role.hub)]
    else:
        pairs = [item for name, place in zip(mart.path[::2], mart.places[::2])
                 for item in _business_keys(model, name, place)]
        labels = m.view_labels([(owner, col) for owner, col, _, _ in pairs])
        keys = [(label, ref, t, (Ref(mart.name, mart.table, f"{owner}_hk"),))
                for label, (owner, _, ref, t) in zip(labels, pairs)]
    for label, ref, type_, via in keys:
        add(label, type_, Derivation.LOOKED_UP, (ref,) + via)
    if which == "history":
        for label in ("valid_from", "valid_to"):
            add(label, "timestamp", Derivation.VALIDITY, (),
                "from the applied times at which the rows it shows change")
    if mart.kind == "pit":
        seen = kinds.described(model)
        pairs2 = [(sat, column) for sat in mart.satellites for column in seen[sat].payload]
        labels = m.view_labels(pairs2, taken={k[0] for k in keys})
        for label, (sat, column) in zip(labels, pairs2):
            described = seen[sat]
            types = dict(zip(described.payload, described.types))
            lookups = {name: (col, hub, part) for name, col, hub, part in described.hub_keys}
            if column in lookups:
                col, hub, part = lookups[column]
                add(label, types.get(column, "text"), Derivation.LOOKED_UP,
                    (Ref(hub, model.hub_table(hub), part), Ref(sat, described.table, col)))
            else:
                add(label, types.get(column, "text"), Derivation.COPIED,
                    (Ref(sat, described.table, column),),
                    "the row at the snapshot" if which == "snapshot" else "")
    for lookup in mart.codes:
        table = model.entities[lookup.reference_table]
        assert isinstance(table, m.ReferenceTable)
        desc = model.settings.naming.ref_desc_table(table.name)
        for column in table.payload:
            add(lookup.label(column.name), column.type, Derivation.COPIED,
                (Ref(table.name, desc, column.name),),
                f"the description of the code, looked up in {table.name}")
    return out
