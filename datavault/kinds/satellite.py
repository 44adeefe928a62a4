"""Satellites: the descriptive history of a hub's or a link's keys, from one source, on two
time axes (SEMANTICS.md sections 2 and 3)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from datavault import model as m
from datavault.diagnostics import did_you_mean
from datavault.dialects import Dialect
from datavault.dialects.types import column_type, hash_type
from datavault.kinds.base import RECREATE, Described, Kind, system_columns
from datavault.metadata.checks import RESERVED_COLUMNS, Doc, Known
from datavault.metadata.yamlfile import LList, LMap


class SatelliteKind(Kind):
    """A satellite table keyed by (parent key, applied time, load time), with a hash diff and
    the payload; beside it, ``__obs``, the log of the observations that needed no row."""

    name = "satellite"
    folder = "satellites"
    unit = "satellite"
    needs = "parent:, source: and payload:"
    template = "satellite.sql.j2"
    keeps_history = True
    #: the keys its YAML file may have
    keys: tuple[str, ...] = ("description", "parent", "source", "payload")

    # ---- the YAML file ----------------------------------------------------------------------
    def read(self, name: str, doc: Doc, data: LMap, known: Known) -> m.Satellite | None:
        """The satellite, if its parent, source and every payload column are valid."""
        doc.keys(data, self.keys, ("parent", "source", "payload"))
        description = doc.description(data)
        parent, kind, src_name, source = read_parent_and_source(doc, data, known,
                                                                "a satellite's")
        payload: list[m.PayloadColumn] = []
        spec = data.get("payload")
        complete = False
        if "payload" in data:
            items: list[tuple[Any, Any, tuple[int, int], tuple[int, int]]] = []
            if isinstance(spec, LList):
                items = [(c, c, spec.item_at(i), spec.item_at(i)) for i, c in enumerate(spec)]
            elif isinstance(spec, LMap):
                items = [(k, v, spec.key_at(k), spec.value_at(k)) for k, v in spec.items()]
            else:
                doc.at(data.value_at("payload"), "payload must be a list of source columns",
                       "or a mapping `satellite_column: source_column`")
            seen: set[str] = set()
            by_name = {c.name: c for c in source.columns} if source else {}
            for target, column, key_loc, value_loc in items:
                if not doc.name(target, key_loc, "payload column"):
                    continue
                if target in RESERVED_COLUMNS or target.startswith("dv_") or target.endswith("_hk"):
                    doc.at(key_loc, f"payload column name {target!r} is reserved",
                           "names ending in _hk or starting with dv_, and "
                           f"{', '.join(sorted(RESERVED_COLUMNS))} are the toolkit's; rename it")
                    continue
                if target in seen:
                    doc.at(key_loc, f"payload column {target!r} appears twice")
                    continue
                seen.add(target)
                if column is None:
                    doc.at(key_loc, f"payload column {target!r} names no source column",
                           f"write `{target}: SOURCE_COLUMN`, or use a list when the names "
                           "are equal")
                    continue
                if doc.word(column, value_loc, f"the source column of payload column {target!r}") \
                        is None:
                    continue
                if source is None:
                    continue  # the source's own problems are reported in its file
                if column not in by_name:
                    doc.at(value_loc, f"source {source.name!r} has no column {column!r}",
                           did_you_mean(column, by_name))
                    continue
                payload.append(m.PayloadColumn(target, column, by_name[column].type))
            # no payload columns (`payload: []`): a status tracking satellite (SEMANTICS.md
            # section 5), whose rows say present, or deleted
            complete = isinstance(spec, (LList, LMap)) and len(payload) == len(items)
        if not (parent and kind and source and src_name and complete):
            return None
        return m.Satellite(name, parent, kind, source.name, tuple(payload), description)

    def sources_named(self, data: LMap) -> set[str] | None:
        return {str(data.get("source"))}

    # ---- names and tables -------------------------------------------------------------------
    def table_names(self, naming: m.Naming, name: str) -> list[str]:
        return [naming.sat_table(name), naming.sat_log_table(name)]

    def define_tables(self, model: m.Model, entity: m.Satellite, md: sa.MetaData) -> None:
        key = entity.key_column
        sa.Table(
            model.sat_table(entity.name), md,
            sa.Column(key, hash_type(), primary_key=True),
            sa.Column("applied_ts", sa.DateTime(), primary_key=True),
            sa.Column("load_ts", sa.DateTime(), primary_key=True),
            sa.Column("hash_diff", hash_type(), nullable=False),
            *[sa.Column(c.name, column_type(c.type)) for c in entity.payload],
            *system_columns(with_load_ts=False),
            comment=entity.description or None,
        )
        sa.Table(
            model.sat_log_table(entity.name), md,
            sa.Column(key, hash_type(), primary_key=True),
            sa.Column("applied_ts", sa.DateTime(), primary_key=True),
            sa.Column("load_ts", sa.DateTime(), primary_key=True),
            sa.Column("hash_diff", hash_type(), nullable=False),
            comment=f"observations of {entity.name} that did not need a row of their own",
        )

    def stage_columns(self, model: m.Model, entity: m.Satellite) -> list[sa.Column]:
        return [sa.Column(m.stage_hash_diff(entity.name), hash_type(), nullable=False)]

    def stage_hashes(self, model: m.Model, entity: m.Satellite, source: m.Source,
                     dialect: Dialect) -> list[tuple[str, str]]:
        q = dialect.quote
        items = [(c.name, f"l.{q(c.source_column)}", c.type) for c in entity.payload]
        return [(q(m.stage_hash_diff(entity.name)),
                 dialect.hash_diff(items, model.settings.hash))]

    # ---- the key contract -------------------------------------------------------------------
    def contract_items(self, model: m.Model, entity: m.Satellite) -> dict[str, str]:
        items = {f"satellite {entity.name}": f"{entity.parent_kind} {entity.parent}"}
        for column in entity.payload:
            items[f"satellite {entity.name}.{column.name}"] = column.type
        return items

    def breaking(self, rest: str, before: str, after: str) -> tuple[str, bool] | None:
        if "." in rest:  # a payload column: judged by its type
            return None
        return (f"the rows of satellite {rest} hang off the keys of its parent; they cannot be "
                "moved to another parent. Declare a new satellite for the new parent"
                + RECREATE.format(kind="satellite", name=rest), True)

    # ---- loading ----------------------------------------------------------------------------
    def history_context(self, model: m.Model, dialect: Dialect, entity: m.Satellite,
                        common: dict) -> dict:
        """What every template over the satellite's history takes: its tables and keys."""
        q = dialect.quote
        return {
            **common,
            "sat": entity.name,
            "table": q(model.sat_table(entity.name)),
            "key": q(entity.key_column),
            "stage_key": q(entity.stage_key),
            "deleted": dialect.zero_key(model.settings.hash),
        }

    def load_context(self, model: m.Model, dialect: Dialect, source: m.Source,
                     entity: m.Satellite, common: dict) -> dict:
        q = dialect.quote
        return {
            **self.history_context(model, dialect, entity, common),
            "log": q(model.sat_log_table(entity.name)),
            "stage_diff": q(m.stage_hash_diff(entity.name)),
            "payload": [(q(c.name), q(c.source_column)) for c in entity.payload],
            "sequence": q(source.sequence) if source.sequence else None,
            "snapshot": source.batch == "snapshot",
            "obs_row_json": dialect.json_object(
                [("applied_at", "o.dv_applied")]
                + [(c.name, f"o.{q(c.name)}") for c in entity.payload]
            ),
            "reason_missing": dialect.text_literal(
                f"missing business key of {entity.parent_kind} {entity.parent}"
            ),
            "reason_conflict": dialect.text_literal(
                f"conflict: other rows of this batch give another {entity.name} payload"
                + (" or a deletion" if source.deletes(entity.parent) else "")
                + " for the same key and applied time"
                + ("" if source.sequence else "; declare a sequence column on the source "
                   "to order them")
            ),
        }

    # ---- reading ----------------------------------------------------------------------------
    def parent_of(self, entity: m.Satellite) -> str:
        return entity.parent  # the hub or link it describes

    def answers(self, model: m.Model, entity: m.Satellite) -> tuple[str, Sequence[str]]:
        return entity.parent, [entity.name]

    def scope(self, model: m.Model, entity: m.Satellite) -> tuple[set[str], set[str]]:
        return ({model.sat_table(entity.name), model.sat_log_table(entity.name)},
                {f"satellite {entity.name}"})

    def described(self, model: m.Model, entity: m.Satellite) -> Described:
        return Described(entity.parent, model.sat_table(entity.name), entity.key_column,
                         tuple(c.name for c in entity.payload),
                         types=tuple(c.type for c in entity.payload))


def read_parent_and_source(doc: Doc, data: LMap, known: Known, whose: str
                           ) -> tuple[str | None, str | None, str | None, m.Source | None]:
    """The ``parent:`` (a hub or a link) and ``source:`` of a file of a kind that hangs off
    one parent and is fed by one source that feeds it: (parent, "hub" or "link", source
    name, source), each None where it is not valid (the problem reported at its place)."""
    parent: str | None = None
    kind: str | None = None
    if "parent" in data:
        parent = doc.word(data["parent"], data.value_at("parent"), "parent")
        if parent in known.files["hubs"]:
            kind = "hub"
        elif parent in known.files["links"]:
            kind = "link"
        elif parent is not None:
            doc.at(data.value_at("parent"), f"unknown parent {parent!r}",
                   known.unknown_hint(parent, ("hubs", "links"),
                                      f"{whose} parent is a hub or a link"))
    src_name: str | None = None
    source: m.Source | None = None
    if "source" in data:
        src_name = doc.word(data["source"], data.value_at("source"), "source")
        if src_name is not None and src_name not in known.files["sources"]:
            doc.at(data.value_at("source"), f"unknown source {src_name!r}",
                   known.unknown_hint(src_name, ("sources",), "add it under models/sources/"))
            src_name = None
        source = known.sources.get(src_name) if src_name else None
    if parent and kind and src_name and src_name not in known.fed_by.get(parent, {src_name}):
        doc.at(data.value_at("source"),
               f"source {src_name!r} does not feed {kind} {parent!r}, so its rows have no key",
               f"add {src_name} under sources: in models/{kind}s/{parent}.yml")
        src_name = None
    return parent, kind, src_name, source
