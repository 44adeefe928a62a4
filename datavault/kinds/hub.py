"""Hubs: business keys (one or more typed parts), each stored once under its hash key."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from datavault import model as m
from datavault.diagnostics import did_you_mean
from datavault.dialects import Dialect
from datavault.dialects.types import column_type, hash_type
from datavault.kinds.base import REHASH, Kind, system_columns
from datavault.metadata.checks import (
    RESERVED_COLUMNS,
    Doc,
    Known,
    columns_for_parts,
    source_ref,
)
from datavault.metadata.yamlfile import LMap


class HubKind(Kind):
    """A hub table keyed by the hash of the business key; a row per key, inserted once."""

    name = "hub"
    not_in_marts = "a hub is what a mart follows: pit: HUB, or a step of bridge:"
    folder = "hubs"
    unit = "hub"
    needs = "business_key: and sources:"
    template = "hub.sql.j2"
    is_parent = True

    # ---- the YAML file ----------------------------------------------------------------------
    def read(self, name: str, doc: Doc, data: LMap, known: Known) -> m.Hub | None:
        """The hub, if its business key is valid (its feeds may still have problems)."""
        doc.keys(data, ("description", "business_key", "sources"), ("business_key", "sources"))
        description = doc.description(data)
        key: list[m.Column] = []
        key_ok = False
        if "business_key" in data and (
            bk := doc.mapping(data["business_key"], data.value_at("business_key"), "business_key")
        ) is not None:
            if not bk:
                doc.at(data.value_at("business_key"), "a business key needs at least one part",
                       "for example: business_key: {customer_number: text}")
            for part, type_name in bk.items():
                if not doc.name(part, bk.key_at(part), "key part"):
                    continue
                if part in RESERVED_COLUMNS or part.startswith("dv_") or part.endswith("_hk"):
                    doc.at(bk.key_at(part), f"key part name {part!r} is reserved",
                           "names ending in _hk or starting with dv_, and "
                           f"{', '.join(sorted(RESERVED_COLUMNS))} are the toolkit's; rename it")
                elif type_name == "float":
                    doc.at(bk.value_at(part), f"key part {part!r} is a float",
                           "a float has no exact text and cannot be part of a business key; "
                           "use decimal or integer")
                elif type_name not in m.KEY_TYPES:
                    doc.at(bk.value_at(part), f"unknown type {type_name!r} for key part {part!r}",
                           did_you_mean(str(type_name), m.KEY_TYPES))
                else:
                    key.append(m.Column(part, type_name))
            key_ok = bool(bk) and len(key) == len(bk)
        feeds: list[m.HubFeed] = []
        if "sources" in data and (
            srcs := doc.mapping(data["sources"], data.value_at("sources"), "sources")
        ) is not None:
            if not srcs:
                doc.at(data.value_at("sources"), "a hub needs at least one source",
                       "list each source that carries the key, with its column")
            for src_name, value in srcs.items():
                source = source_ref(doc, srcs, src_name, known)
                if source is None or not key_ok:
                    continue
                where = srcs.value_at(src_name) if value is not None else srcs.key_at(src_name)
                cols = columns_for_parts(doc, value, where, tuple(key), source, "")
                if cols:
                    feeds.append(m.HubFeed(src_name, cols))
        if not key_ok:
            return None
        return m.Hub(name, tuple(key), tuple(feeds), description)

    def note(self, known: Known, name: str, data: LMap, entity: m.Entity | None) -> None:
        note_sources(known, name, data)
        if isinstance(entity, m.Hub):
            known.hub_keys[name] = entity.key

    def sources_named(self, data: LMap) -> set[str] | None:
        listed = data.get("sources")
        return {str(s) for s in listed} if isinstance(listed, LMap) else None

    # ---- names and tables -------------------------------------------------------------------
    def table_names(self, naming: m.Naming, name: str) -> list[str]:
        return [naming.hub_table(name)]

    def define_tables(self, model: m.Model, entity: m.Hub, md: sa.MetaData) -> None:
        sa.Table(
            model.hub_table(entity.name), md,
            sa.Column(m.hub_key_column(entity.name), hash_type(), primary_key=True),
            *[sa.Column(c.name, column_type(c.type)) for c in entity.key],
            *system_columns(),
            comment=entity.description or None,
        )

    def stage_columns(self, model: m.Model, entity: m.Hub) -> list[sa.Column]:
        return [sa.Column(m.stage_hub_key(entity.name), hash_type(), nullable=False)]

    def stage_hashes(self, model: m.Model, entity: m.Hub, source: m.Source,
                     dialect: Dialect) -> list[tuple[str, str]]:
        feed = entity.feed(source.name)
        assert feed is not None
        q = dialect.quote
        parts = [(f"l.{q(col)}", part.type) for col, part in zip(feed.columns, entity.key)]
        return [(q(m.stage_hub_key(entity.name)),
                 dialect.hash_key(parts, model.settings.hash))]

    # ---- the key contract -------------------------------------------------------------------
    def contract_items(self, model: m.Model, entity: m.Hub) -> dict[str, str]:
        return {f"hub {entity.name}": ", ".join(f"{c.name} {c.type}" for c in entity.key)}

    def breaking(self, rest: str, before: str, after: str) -> tuple[str, bool] | None:
        return (f"hub {rest}'s hash keys are computed from its business key parts, their order "
                "and their types (the canonical text), so every stored key, and every link and "
                "satellite row that points at it, would stop matching the keys new batches "
                "give. " + REHASH, False)

    # ---- loading ----------------------------------------------------------------------------
    def load_context(self, model: m.Model, dialect: Dialect, source: m.Source, entity: m.Hub,
                     common: dict) -> dict:
        feed = entity.feed(source.name)
        assert feed is not None
        q = dialect.quote
        return {
            **common,
            "hub": entity.name,
            "table": q(model.hub_table(entity.name)),
            "key": q(m.hub_key_column(entity.name)),
            "stage_key": q(m.stage_hub_key(entity.name)),
            "key_columns": [(q(part.name), q(col))
                            for part, col in zip(entity.key, feed.columns)],
            "reason_missing": dialect.text_literal(
                f"missing business key of hub {entity.name} ({', '.join(feed.columns)})"
            ),
        }

    # ---- reading ----------------------------------------------------------------------------
    def answers(self, model: m.Model, entity: m.Hub) -> tuple[str, Sequence[str]]:
        return entity.name, [s.name for s in model.satellites.values()
                             if s.parent == entity.name]

    def key_columns(self, model: m.Model, entity: m.Hub) -> list[tuple[str, m.Column]]:
        """Its business key's parts."""
        return [(entity.name, c) for c in entity.key]

    def scope(self, model: m.Model, entity: m.Hub) -> tuple[set[str], set[str]]:
        return {model.hub_table(entity.name)}, {f"hub {entity.name}"}


def note_sources(known: Known, name: str, data: LMap) -> None:
    """The sources a hub or link file lists (checked in that file), for its satellites."""
    listed = data.get("sources")
    if isinstance(listed, LMap):
        known.fed_by[name] = frozenset(str(s) for s in listed)
