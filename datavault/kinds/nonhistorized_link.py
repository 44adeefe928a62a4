"""Non-historized (transactional) links: events that never change once they happened, such
as payments (SEMANTICS.md section 8). Each event is one row under its event key, the link
key of its roles with the event key columns as further parts; it is inserted once, and the
first payload loaded stands."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from datavault import model as m
from datavault.diagnostics import did_you_mean
from datavault.dialects import Dialect
from datavault.dialects.types import column_type, hash_type
from datavault.kinds.base import RECREATE, REHASH, Kind, Readings, system_columns
from datavault.kinds.link import read_feeds, read_roles
from datavault.metadata.checks import RESERVED_COLUMNS, Doc, Known
from datavault.metadata.yamlfile import LList, LMap

WHAT = "non-historized link"


class NonHistorizedLinkKind(Kind):
    """A table keyed by the event key, with each role's hub hash key, the event key columns,
    applied and load time, the hash diff and the payload; a row per event, inserted once.
    Its loads take the batches in load-time order (the first loaded payload stands)."""

    name = "nonhistorized_link"
    not_in_marts = ("its events are inserted once and never change, so it has no state at a "
                    "snapshot to point at; query its nhl_ table by applied time")
    folder = "nonhistorized_links"
    unit = "nonhistorized link"
    needs = "hubs:, sources: and payload:"
    template = "nonhistorized_link.sql.j2"
    in_load_order = True

    # ---- the YAML file ----------------------------------------------------------------------
    def read(self, name: str, doc: Doc, data: LMap, known: Known) -> m.NonHistorizedLink | None:
        """The link, if its hubs, event key and payload are valid (its feeds may still have
        problems, which are reported)."""
        doc.keys(data, ("description", "hubs", "sources", "event_key", "payload"),
                 ("hubs", "sources", "payload"))
        description = doc.description(data)
        table = known.naming.nonhistorized_link_table(name)
        roles, complete = read_roles(doc, name, data, known, table, WHAT)
        feeds = read_feeds(doc, data, roles, complete, known, WHAT)
        listed = data.get("sources")
        sources = ([known.sources[s] for s in listed if s in known.sources]
                   if isinstance(listed, LMap) else [])
        taken: set[str] = set()
        event_key = _columns(doc, data, "event_key", sources, taken, key=True)
        payload = _columns(doc, data, "payload", sources, taken, key=False)
        if not complete or event_key is None or not payload:
            return None
        return m.NonHistorizedLink(name, tuple(roles), tuple(feeds), tuple(event_key),
                                   tuple(payload), description)

    def sources_named(self, data: LMap) -> set[str] | None:
        listed = data.get("sources")
        return {str(s) for s in listed} if isinstance(listed, LMap) else None

    # ---- names and tables -------------------------------------------------------------------
    def table_names(self, naming: m.Naming, name: str) -> list[str]:
        return [naming.nonhistorized_link_table(name)]

    def define_tables(self, model: m.Model, entity: m.NonHistorizedLink,
                      md: sa.MetaData) -> None:
        table = sa.Table(
            model.settings.naming.nonhistorized_link_table(entity.name), md,
            sa.Column(m.link_key_column(entity.name), hash_type(), primary_key=True),
            *[sa.Column(m.role_key_column(r.role), hash_type(), nullable=False)
              for r in entity.roles],
            *[sa.Column(c.name, column_type(c.type)) for c in entity.event_key],
            sa.Column("applied_ts", sa.DateTime(), nullable=False),
            sa.Column("load_ts", sa.DateTime(), nullable=False),
            sa.Column("hash_diff", hash_type(), nullable=False),
            *[sa.Column(c.name, column_type(c.type)) for c in entity.payload],
            *system_columns(with_load_ts=False),
            comment=entity.description or None,
        )
        for role in entity.roles:
            sa.Index(f"ix_{table.name}_{role.role}", table.c[m.role_key_column(role.role)])

    def stage_columns(self, model: m.Model, entity: m.NonHistorizedLink) -> list[sa.Column]:
        return [
            sa.Column(m.stage_link_key(entity.name), hash_type(), nullable=False),
            *[sa.Column(m.stage_role_key(entity.name, role.role), hash_type(), nullable=False)
              for role in entity.roles],
            sa.Column(m.stage_hash_diff(entity.name), hash_type(), nullable=False),
        ]

    def stage_hashes(self, model: m.Model, entity: m.NonHistorizedLink, source: m.Source,
                     dialect: Dialect) -> list[tuple[str, str]]:
        """The event key (every role's key parts, then the event key columns), each role's
        hub key, and the hash diff of the payload."""
        feed = entity.feed(source.name)
        assert feed is not None
        q = dialect.quote
        algorithm = model.settings.hash
        every_part: list[tuple[str, str]] = []
        role_hashes = []
        for role, columns in zip(entity.roles, feed.columns):
            key = model.hubs[role.hub].key
            parts = [(f"l.{q(col)}", part.type) for col, part in zip(columns, key)]
            every_part += parts
            role_hashes.append((q(m.stage_role_key(entity.name, role.role)),
                                dialect.hash_key(parts, algorithm)))
        every_part += [(f"l.{q(c.source_column)}", c.type) for c in entity.event_key]
        items = [(c.name, f"l.{q(c.source_column)}", c.type) for c in entity.payload]
        return [(q(m.stage_link_key(entity.name)), dialect.hash_key(every_part, algorithm)),
                *role_hashes,
                (q(m.stage_hash_diff(entity.name)), dialect.hash_diff(items, algorithm))]

    # ---- the key contract -------------------------------------------------------------------
    def contract_items(self, model: m.Model, entity: m.NonHistorizedLink) -> dict[str, str]:
        definition = ", ".join(f"{r.role}={r.hub}" for r in entity.roles)
        if entity.event_key:
            definition += "; event key " + ", ".join(f"{c.name} {c.type}"
                                                     for c in entity.event_key)
        items = {f"{self.name} {entity.name}": definition}
        for column in entity.payload:
            items[f"{self.name} {entity.name}.{column.name}"] = column.type
        return items

    def breaking(self, rest: str, before: str, after: str) -> tuple[str, bool] | None:
        if "." in rest:  # a payload column: judged by its type
            return None
        return (f"{WHAT} {rest}'s event keys are computed from its hubs' business keys in "
                "this order and from its event key columns with their types, so every stored "
                "event key would stop matching, and an event loaded again would be stored a "
                "second time. " + REHASH
                + RECREATE.format(kind=WHAT, name=rest), True)

    # ---- loading ----------------------------------------------------------------------------
    def load_context(self, model: m.Model, dialect: Dialect, source: m.Source,
                     entity: m.NonHistorizedLink, common: dict) -> dict:
        feed = entity.feed(source.name)
        assert feed is not None
        q = dialect.quote
        zero = common["zero_key"]
        missing = " OR ".join(
            f"s.{q(m.stage_role_key(entity.name, r.role))} = {zero}" for r in entity.roles
        )
        described = "; ".join(
            f"{r.role}: {', '.join(cols)}" for r, cols in zip(entity.roles, feed.columns)
        )
        return {
            **common,
            "nhl": entity.name,
            "table": q(model.settings.naming.nonhistorized_link_table(entity.name)),
            "key": q(m.link_key_column(entity.name)),
            "stage_key": q(m.stage_link_key(entity.name)),
            "stage_diff": q(m.stage_hash_diff(entity.name)),
            "roles": [(q(m.role_key_column(r.role)), q(m.stage_role_key(entity.name, r.role)))
                      for r in entity.roles],
            "event_key": [(q(c.name), q(c.source_column)) for c in entity.event_key],
            "payload": [(q(c.name), q(c.source_column)) for c in entity.payload],
            "missing_condition": missing,
            "reason_missing": dialect.text_literal(
                f"missing business key of a hub of {WHAT} {entity.name} ({described})"
            ),
            # around the id of the batch that stored the event
            "reason_stored": (
                dialect.text_literal("conflict: batch "),
                dialect.text_literal(
                    f" stored another payload for this event of {entity.name}; an event is "
                    "stored once and never changed (a correction is an event of its own)"),
            ),
            "reason_marked": dialect.text_literal(
                f"deletion: the row's delete marker says its record was deleted, but an event "
                f"of {WHAT} {entity.name} happened and is not undone; a correction is an event "
                "of its own"
            ),
            "reason_conflict": dialect.text_literal(
                f"conflict: other rows of this batch give another payload for the same event "
                f"of {entity.name}, so none is stored; if they are different events, declare "
                "event_key columns that tell them apart"
            ),
        }

    # ---- reading ----------------------------------------------------------------------------
    def answers(self, model: m.Model, entity: m.NonHistorizedLink) -> tuple[str, Sequence[str]]:
        """Its own events (``query.events``), no satellites."""
        return entity.name, []

    def key_columns(self, model: m.Model, entity: m.NonHistorizedLink
                    ) -> list[tuple[str, m.Column]]:
        """An event key: its roles' business key parts, then its own event key columns."""
        return [(role.role, c) for role in entity.roles for c in model.hubs[role.hub].key] + [
            (entity.name, m.Column(c.name, c.type)) for c in entity.event_key]

    def query_state(self, read: Readings, entity: str, keys: Sequence[str] | None,
                    at: dt.datetime) -> Any:
        """Its events that happened by ``at``."""
        return read.events(entity, keys, at)

    def query_history(self, read: Readings, entity: str, keys: Sequence[str] | None) -> Any:
        """Every event: an event has one version."""
        return read.events(entity, keys, None)

    def scope(self, model: m.Model, entity: m.NonHistorizedLink) -> tuple[set[str], set[str]]:
        """Its table, and its hubs' (whose keys make its event keys and name its roles)."""
        hubs = {r.hub for r in entity.roles}
        return ({model.settings.naming.nonhistorized_link_table(entity.name)}
                | {model.hub_table(h) for h in hubs},
                {f"{self.name} {entity.name}"} | {f"hub {h}" for h in hubs})


def _columns(doc: Doc, data: LMap, what: str, sources: list[m.Source], taken: set[str],
             key: bool) -> list[m.PayloadColumn] | None:
    """The columns of ``event_key:`` (``key``) or ``payload:``: a list of source columns, or
    a mapping `stored_column: source_column`, each a column of every source in ``sources``
    with one type in all of them (an event key column no float). None: a problem (an event
    key that is left out is the empty list)."""
    if what not in data:
        return [] if key else None
    spec = data[what]
    shown = "event key" if key else "payload"
    items: list[tuple[Any, Any, tuple[int, int], tuple[int, int]]] = []
    if spec is None:
        pass  # as empty as an empty list
    elif isinstance(spec, LList):
        items = [(c, c, spec.item_at(i), spec.item_at(i)) for i, c in enumerate(spec)]
    elif isinstance(spec, LMap):
        items = [(k, v, spec.key_at(k), spec.value_at(k)) for k, v in spec.items()]
    else:
        doc.at(data.value_at(what), f"{what} must be a list of source columns",
               "or a mapping `stored_column: source_column`")
        return None
    if not spec:
        if key:
            doc.at(data.value_at(what), "event_key is empty",
                   "list the source columns that tell events of the same roles apart, or "
                   "leave event_key out when the roles' keys do")
        else:
            doc.at(data.value_at(what), f"a {WHAT} needs at least one payload column")
        return None
    columns: list[m.PayloadColumn] = []
    for target, column, key_loc, value_loc in items:
        if not doc.name(target, key_loc, f"{shown} column"):
            continue
        if target in RESERVED_COLUMNS or target.startswith("dv_") or target.endswith("_hk"):
            doc.at(key_loc, f"{shown} column name {target!r} is reserved",
                   "names ending in _hk or starting with dv_, and "
                   f"{', '.join(sorted(RESERVED_COLUMNS))} are the toolkit's; rename it")
            continue
        if target in taken:
            doc.at(key_loc, f"column {target!r} appears twice in event_key and payload",
                   "every stored column needs a name of its own")
            continue
        taken.add(target)
        if column is None:
            doc.at(key_loc, f"{shown} column {target!r} names no source column",
                   f"write `{target}: SOURCE_COLUMN`, or use a list when the names are equal")
            continue
        if doc.word(column, value_loc, f"the source column of {shown} column {target!r}") \
                is None:
            continue
        type_name = _type_in_all(doc, value_loc, column, sources, shown)
        if type_name is None:
            continue
        if key and type_name == "float":
            doc.at(value_loc, f"event key column {column!r} is a float and cannot tell events "
                   "apart", "floats have no exact text; declare it as decimal or integer in "
                   "the source")
            continue
        columns.append(m.PayloadColumn(target, column, type_name))
    return columns if len(columns) == len(items) else None


def _type_in_all(doc: Doc, where: tuple[int, int], column: str, sources: list[m.Source],
                 shown: str) -> str | None:
    """The type of ``column`` in every one of ``sources``; None (reported) where a source
    lacks it or they disagree, or when there is no valid source to tell (whose problems are
    reported in its own file or under sources:)."""
    found: list[tuple[str, str]] = []
    for source in sources:
        by_name = {c.name: c.type for c in source.columns}
        if column not in by_name:
            doc.at(where, f"source {source.name!r} has no column {column!r}",
                   did_you_mean(column, by_name)
                   or f"every source of a {WHAT} gives each {shown} column under one name")
            return None
        found.append((source.name, by_name[column]))
    if not found:
        return None
    types = {t for _, t in found}
    if len(types) > 1:
        doc.at(where, f"column {column!r} has other types in other sources ("
               + ", ".join(f"{t} in {s}" for s, t in found) + ")",
               "declare it with one type in every source")
        return None
    return found[0][1]
