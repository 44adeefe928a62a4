"""Reference tables: code lists (currencies, countries, units) keyed by their natural code,
not hashed, with the descriptions of each code kept as history (SEMANTICS.md section 9).

A code is one or more typed parts, columns of the table's one source. Staging gives each row
the code's text (``hashing.code_text``, in the dialect's SQL): the canonical texts of its
parts, neither trimmed nor case-folded, escaped and joined with ``|``, or NULL when a part is
missing. Two codes are one code exactly when their texts are equal (an integer ``007`` is
``7``; ``mm`` is not ``Mm``), so the text is the key of every table of the kind:

- ``ref_NAME``: one row per code (its typed parts and its text), from the first batch that
  gives it; insert-only;
- ``ref_NAME__desc``: the descriptions, a satellite keyed by the code's text under the history
  rule of sections 2 and 3 (``templates/base/_history.sql.j2``), snapshot deletions included;
- ``ref_NAME__obs``: the log of the description observations that needed no row.

A row with a missing code part is quarantined with its reason under either null-key policy:
without a hash there is no zero code.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from datavault import model as m
from datavault.diagnostics import did_you_mean
from datavault.dialects import Dialect
from datavault.dialects.types import column_type, hash_type
from datavault.kinds.base import RECREATE, Kind, Readings, system_columns
from datavault.metadata.checks import RESERVED_COLUMNS, Doc, Known, describe
from datavault.metadata.yamlfile import LMap


class ReferenceTableKind(Kind):
    """A code list: its codes (``ref_NAME``), the history of their descriptions
    (``ref_NAME__desc``) and the log of that history (``ref_NAME__obs``)."""

    name = "reference_table"
    not_in_marts = ("a code list is keyed by its codes, not by the keys of a hub or link, so no "
                    "PIT row or bridge step holds its keys; a mart looks its codes up under "
                    "codes: (README: Code lists in marts)")
    folder = "reference_tables"
    unit = "reference table"
    needs = "code: and source:"
    template = "reference_table.sql.j2"
    keeps_history = True
    keys = ("description", "code", "source", "payload")

    # ---- the YAML file ----------------------------------------------------------------------
    def read(self, name: str, doc: Doc, data: LMap, known: Known) -> m.ReferenceTable | None:
        """The reference table, if its source, every code part and description column are
        valid: each names a column of the source, with the source column's type."""
        doc.keys(data, self.keys, ("code", "source"))
        description = doc.description(data)
        source: m.Source | None = None
        source_ok = False
        if "source" in data:
            src_name = doc.word(data["source"], data.value_at("source"), "source")
            if src_name is not None and src_name not in known.files.get("sources", {}):
                doc.at(data.value_at("source"), f"unknown source {src_name!r}",
                       known.unknown_hint(src_name, ("sources",), "add it under models/sources/"))
            elif src_name is not None:
                source = known.sources.get(src_name)  # None: its own file has problems
                source_ok = True
        code = self._columns(doc, data, "code", source, key_part=True)
        payload = self._columns(doc, data, "payload", source, key_part=False) \
            if "payload" in data else []
        if code is not None and payload is not None:
            names = [c.name for c, _ in code]
            for column, where in payload:
                if column.name in names:
                    doc.at(where, f"column {column.name!r} is a code part and a description "
                           "column", "a code part is the key: leave it out of payload:")
                    payload = None
                    break
        if not (source_ok and source and code and payload is not None):
            return None
        return m.ReferenceTable(
            name, source.name, tuple(c for c, _ in code),
            tuple(m.PayloadColumn(c.name, c.name, c.type) for c, _ in payload), description)

    @staticmethod
    def _columns(doc: Doc, data: LMap, key: str, source: m.Source | None, key_part: bool
                 ) -> list[tuple[m.Column, tuple[int, int]]] | None:
        """The columns of ``code:`` or ``payload:`` (a mapping `source_column: type`), each
        with where it is written; None when one has a problem."""
        if key not in data:
            return None
        where = data.value_at(key)
        spec = data[key]
        if spec is None and not key_part:
            return []
        if not isinstance(spec, LMap):
            doc.at(where, f"{key} must be a mapping of `source_column: type` lines, not "
                   f"{describe(spec)}",
                   "for example: code: {currency_code: text}" if key_part else
                   "for example: payload: {currency_name: text}")
            return None
        if key_part and not spec:
            doc.at(where, "a code needs at least one part",
                   "for example: code: {currency_code: text}")
            return None
        what = "code part" if key_part else "description column"
        by_name = {c.name: c for c in source.columns} if source else {}
        columns: list[tuple[m.Column, tuple[int, int]]] = []
        ok = True
        for column, type_name in spec.items():
            at, type_at = spec.key_at(column), spec.value_at(column)
            if not doc.name(column, at, what):
                ok = False
                continue
            if column in RESERVED_COLUMNS or column.startswith("dv_") or column.endswith("_hk"):
                doc.at(at, f"{what} name {column!r} is reserved",
                       "names ending in _hk or starting with dv_, and "
                       f"{', '.join(sorted(RESERVED_COLUMNS))} are the toolkit's; rename it "
                       "in the source")
                ok = False
                continue
            if key_part and type_name == "float":
                doc.at(type_at, f"code part {column!r} is a float",
                       "a float has no exact text and cannot be part of a code; use decimal "
                       "or integer")
                ok = False
                continue
            types = m.KEY_TYPES if key_part else m.COLUMN_TYPES
            if type_name not in types:
                doc.at(type_at, f"unknown type {type_name!r} for {what} {column!r}",
                       did_you_mean(str(type_name), types))
                ok = False
                continue
            if source is None:
                ok = False  # the source's own problems are reported in its file
                continue
            if column not in by_name:
                doc.at(at, f"source {source.name!r} has no column {column!r}",
                       did_you_mean(column, by_name))
                ok = False
                continue
            if by_name[column].type != type_name:
                doc.at(type_at, f"{what} {column!r} is declared {type_name}, but source "
                       f"{source.name!r} declares it {by_name[column].type}",
                       f"write {column}: {by_name[column].type}, or change the source")
                ok = False
                continue
            columns.append((m.Column(column, type_name), at))
        return columns if ok else None

    def sources_named(self, data: LMap) -> set[str] | None:
        return {str(data.get("source"))}

    # ---- names and tables -------------------------------------------------------------------
    def table_names(self, naming: m.Naming, name: str) -> list[str]:
        return [naming.ref_table(name), naming.ref_desc_table(name), naming.ref_log_table(name)]

    def define_tables(self, model: m.Model, entity: m.ReferenceTable, md: sa.MetaData) -> None:
        codes, desc, log = self.table_names(model.settings.naming, entity.name)
        sa.Table(
            codes, md,
            sa.Column(m.CODE_COLUMN, sa.Text(), primary_key=True),
            *[sa.Column(c.name, column_type(c.type), nullable=False) for c in entity.code],
            *system_columns(),
            comment=entity.description or None,
        )
        sa.Table(
            desc, md,
            sa.Column(m.CODE_COLUMN, sa.Text(), primary_key=True),
            sa.Column("applied_ts", sa.DateTime(), primary_key=True),
            sa.Column("load_ts", sa.DateTime(), primary_key=True),
            sa.Column("hash_diff", hash_type(), nullable=False),
            *[sa.Column(c.name, column_type(c.type)) for c in entity.payload],
            *system_columns(with_load_ts=False),
            comment=f"the descriptions of the codes of {entity.name}",
        )
        sa.Table(
            log, md,
            sa.Column(m.CODE_COLUMN, sa.Text(), primary_key=True),
            sa.Column("applied_ts", sa.DateTime(), primary_key=True),
            sa.Column("load_ts", sa.DateTime(), primary_key=True),
            sa.Column("hash_diff", hash_type(), nullable=False),
            comment=f"observations of the descriptions of {entity.name} that did not need a "
                    "row of their own",
        )

    def stage_columns(self, model: m.Model, entity: m.ReferenceTable) -> list[sa.Column]:
        return [sa.Column(entity.stage_code, sa.Text()),
                sa.Column(m.stage_hash_diff(entity.name), hash_type(), nullable=False)]

    def stage_hashes(self, model: m.Model, entity: m.ReferenceTable, source: m.Source,
                     dialect: Dialect) -> list[tuple[str, str]]:
        q = dialect.quote
        code = dialect.code_text([(f"l.{q(c.name)}", c.type) for c in entity.code])
        if entity.payload:
            diff = dialect.hash_diff([(c.name, f"l.{q(c.source_column)}", c.type)
                                      for c in entity.payload], model.settings.hash)
        else:  # no description columns: every row has the hash diff of the empty payload
            diff = dialect.empty_hash_diff(model.settings.hash)
        return [(q(entity.stage_code), code), (q(m.stage_hash_diff(entity.name)), diff)]

    # ---- the key contract -------------------------------------------------------------------
    def contract_items(self, model: m.Model, entity: m.ReferenceTable) -> dict[str, str]:
        items = {f"{self.name} {entity.name}":
                 ", ".join(f"{c.name} {c.type}" for c in entity.code)}
        for column in entity.payload:
            items[f"{self.name} {entity.name}.{column.name}"] = column.type
        return items

    def breaking(self, rest: str, before: str, after: str) -> tuple[str, bool] | None:
        if "." in rest:  # a description column: judged by its type
            return None
        return (f"the codes of reference table {rest} are keyed by the text of their parts, "
                "their order and their types, so every stored code and description would stop "
                "matching the codes new batches give. Declare a new reference table for the "
                "new code" + RECREATE.format(kind="reference table", name=rest), True)

    # ---- loading ----------------------------------------------------------------------------
    def history_context(self, model: m.Model, dialect: Dialect, entity: m.ReferenceTable,
                        common: dict) -> dict:
        q = dialect.quote
        return {
            **common,
            "sat": entity.name,
            "table": q(model.settings.naming.ref_desc_table(entity.name)),
            "key": q(m.CODE_COLUMN),
            "stage_key": q(entity.stage_code),
            "deleted": dialect.zero_key(model.settings.hash),
        }

    def load_context(self, model: m.Model, dialect: Dialect, source: m.Source,
                     entity: m.ReferenceTable, common: dict) -> dict:
        q = dialect.quote
        naming = model.settings.naming
        return {
            **self.history_context(model, dialect, entity, common),
            "codes": q(naming.ref_table(entity.name)),
            "code_columns": [(q(c.name), q(c.name)) for c in entity.code],
            "log": q(naming.ref_log_table(entity.name)),
            "stage_diff": q(m.stage_hash_diff(entity.name)),
            "payload": [(q(c.name), q(c.source_column)) for c in entity.payload],
            "sequence": q(source.sequence) if source.sequence else None,
            "snapshot": source.batch == "snapshot",
            "obs_row_json": dialect.json_object(
                [("applied_at", "o.dv_applied")]
                + [(c.name, f"o.{q(c.name)}") for c in entity.payload]),
            "reason_missing": dialect.text_literal(
                f"missing code of reference table {entity.name} "
                f"({', '.join(c.name for c in entity.code)}): a part is empty"),
            "reason_conflict": dialect.text_literal(
                f"conflict: other rows of this batch give another {entity.name} description "
                "for the same code and applied time"
                + ("" if source.sequence else "; declare a sequence column on the source "
                   "to order them")),
        }

    # ---- reading ----------------------------------------------------------------------------
    def answers(self, model: m.Model, entity: m.ReferenceTable) -> tuple[str, Sequence[str]]:
        return entity.name, [entity.name]

    def query_state(self, read: Readings, entity: str, keys: Sequence[str] | None,
                    at: dt.datetime) -> Any:
        """The code list at ``at``: every live code with its description."""
        return read.codes(entity, keys, at)

    def query_history(self, read: Readings, entity: str, keys: Sequence[str] | None) -> Any:
        """Every version of every code's description."""
        return read.codes(entity, keys, None)

    def scope(self, model: m.Model, entity: m.ReferenceTable) -> tuple[set[str], set[str]]:
        return (set(self.table_names(model.settings.naming, entity.name)),
                {f"{self.name} {entity.name}"})
