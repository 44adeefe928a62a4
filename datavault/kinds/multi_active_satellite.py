"""Multi-active satellites: several rows per parent key and applied time (a customer's phone
numbers), each set of rows kept as one state on two time axes (SEMANTICS.md section 7).

The rows of a key and applied time in one batch are one observation: the set of their members
(each row's payload; identical rows are one member, their order does not count). Staging gives
every row its member's hash diff and the hash diff of its set (``stage_after``: one statement
over the staged batch, in the dialect's aggregate; where the engine cannot update rows, the load
computes the sets first, from the same query); the load decides by the history rule of
section 3, on one observation per key and applied time with the set's hash diff, where a version
goes in, and writes every member of it as a row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from datavault import model as m
from datavault.diagnostics import did_you_mean
from datavault.dialects import Dialect
from datavault.dialects.types import column_type, hash_type
from datavault.kinds.base import RECREATE, Described, system_columns
from datavault.kinds.satellite import SatelliteKind
from datavault.metadata.checks import Doc, Known, describe
from datavault.metadata.yamlfile import LList, LMap

#: the column of each row's own (member's) hash diff; ``hash_diff`` is its set's
MEMBER_HASH_DIFF = "member_hash_diff"


def stage_set_hash_diff(msat: str) -> str:
    """The staging column of the hash diff of each row's set."""
    return f"dv_hs_{msat}"


class MultiActiveSatelliteKind(SatelliteKind):
    """A table keyed by (parent key, applied time, load time, member hash diff): a version is
    every member of a set, each a row with the set's hash diff; a deletion is one row with the
    zero hash diff. Beside it, ``__obs``, the log of the observations (sets) that needed no
    row."""

    name = "multi_active_satellite"
    folder = "multi_active_satellites"
    unit = "multi-active satellite"
    needs = "parent:, source: and payload:"
    template = "multi_active_satellite.sql.j2"
    keeps_history = True
    multi_row = True
    keys = (*SatelliteKind.keys, "child_key")

    # ---- the YAML file ----------------------------------------------------------------------
    def read(self, name: str, doc: Doc, data: LMap, known: Known
             ) -> m.MultiActiveSatellite | None:
        """The multi-active satellite: a satellite's parent, source and payload, and its child
        key, each column of which is one of its payload columns."""
        sat = super().read(name, doc, data, known)
        declared = _payload_names(data.get("payload"))
        reserved = next((n for n in declared if n == MEMBER_HASH_DIFF), None)
        if reserved is not None:
            doc.at(declared[reserved], f"payload column name {reserved!r} is reserved",
                   f"a multi-active satellite keeps each row's own hash diff in "
                   f"{MEMBER_HASH_DIFF}; rename it")
        child_key = self._child_key(doc, data, declared)
        if sat is None or child_key is None or reserved is not None:
            return None
        return m.MultiActiveSatellite(sat.name, sat.parent, sat.parent_kind, sat.source,
                                      sat.payload, child_key, sat.description)

    @staticmethod
    def _child_key(doc: Doc, data: LMap, declared: dict[str, tuple[int, int]]
                   ) -> tuple[str, ...] | None:
        """The child key columns (none when not given); None when it has a problem."""
        if "child_key" not in data:
            return ()
        spec = data["child_key"]
        where = data.value_at("child_key")
        if isinstance(spec, str) and spec:
            items: list[tuple[Any, tuple[int, int]]] = [(spec, where)]
        elif isinstance(spec, LList):
            items = [(c, spec.item_at(i)) for i, c in enumerate(spec)]
            if not items:
                doc.at(where, "child_key is empty",
                       "name the payload columns that tell the rows of one set apart, or "
                       "leave child_key out for a plain set")
                return None
        else:
            doc.at(where, f"child_key must be a list of payload columns, not {describe(spec)}",
                   "for example: child_key: [phone_type]")
            return None
        columns: list[str] = []
        ok = True
        for column, at in items:
            if not isinstance(column, str) or not column:
                doc.at(at, f"a child key column must be a payload column's name, not "
                       f"{describe(column)}")
                ok = False
            elif column in columns:
                doc.at(at, f"child key column {column!r} appears twice")
                ok = False
            elif column not in declared:
                doc.at(at, f"child key column {column!r} is not a payload column",
                       did_you_mean(column, declared))
                ok = False
            else:
                columns.append(column)
        return tuple(columns) if ok else None

    # ---- names and tables -------------------------------------------------------------------
    def table_names(self, naming: m.Naming, name: str) -> list[str]:
        return [naming.msat_table(name), naming.msat_log_table(name)]

    def define_tables(self, model: m.Model, entity: m.MultiActiveSatellite,
                      md: sa.MetaData) -> None:
        key = entity.key_column
        table, log = self.table_names(model.settings.naming, entity.name)
        sa.Table(
            table, md,
            sa.Column(key, hash_type(), primary_key=True),
            sa.Column("applied_ts", sa.DateTime(), primary_key=True),
            sa.Column("load_ts", sa.DateTime(), primary_key=True),
            sa.Column(MEMBER_HASH_DIFF, hash_type(), primary_key=True),
            sa.Column("hash_diff", hash_type(), nullable=False),
            *[sa.Column(c.name, column_type(c.type)) for c in entity.payload],
            *system_columns(with_load_ts=False),
            comment=entity.description or None,
        )
        sa.Table(
            log, md,
            sa.Column(key, hash_type(), primary_key=True),
            sa.Column("applied_ts", sa.DateTime(), primary_key=True),
            sa.Column("load_ts", sa.DateTime(), primary_key=True),
            sa.Column("hash_diff", hash_type(), nullable=False),
            comment=f"observations of {entity.name} that did not need rows of their own",
        )

    def stage_columns(self, model: m.Model, entity: m.MultiActiveSatellite) -> list[sa.Column]:
        # the set's hash diff is written by ``stage_after``, once the batch is staged
        return [sa.Column(m.stage_hash_diff(entity.name), hash_type(), nullable=False),
                sa.Column(stage_set_hash_diff(entity.name), hash_type())]

    def stage_after(self, model: m.Model, entity: m.MultiActiveSatellite, source: m.Source,
                    dialect: Dialect, batch: str) -> list[str]:
        """The hash diff of each row's set, written into the staged rows where the engine
        updates rows; elsewhere the load computes it (``load_context``'s ``sets``)."""
        if not dialect.row_updates:
            return []
        q = dialect.quote
        stage = q(model.stage_table(source.name))
        return [
            f"-- The hash diff of the set of {entity.name} that each row is a member of.\n"
            f"UPDATE {stage} AS s\n"
            f"SET {q(stage_set_hash_diff(entity.name))} = g.dv_set\n"
            f"FROM (\n{self._sets(model, entity, source, dialect, batch)}\n) g\n"
            f"WHERE s.dv_batch_id = {batch} AND s.{q(entity.stage_key)} = g.dv_hk "
            "AND s.dv_applied_at = g.dv_applied"
        ]

    @staticmethod
    def _sets(model: m.Model, entity: m.MultiActiveSatellite, source: m.Source,
              dialect: Dialect, batch: str) -> str:
        """A query of the batch's sets: per key (dv_hk) and applied time (dv_applied), the
        hash diff of the members of its rows (dv_set), of those with the greatest sequence
        value where the source declares one."""
        q = dialect.quote
        stage = q(model.stage_table(source.name))
        key = q(entity.stage_key)
        rank = (f"RANK() OVER (PARTITION BY x.{key}, x.dv_applied_at "
                f"ORDER BY x.{q(source.sequence)} DESC NULLS LAST)" if source.sequence else "1")
        aggregate = dialect.set_hash_diff("t.dv_member", model.settings.hash)
        # a row whose delete marker says deleted is no member: a set of marked rows only is
        # the empty set, a deletion (SEMANTICS.md section 7)
        member = f"x.{q(m.stage_hash_diff(entity.name))}"
        if source.deletes(entity.parent):
            member = f"CASE WHEN x.{q(m.STAGE_DELETED)} = 1 THEN NULL ELSE {member} END"
        return (
            f"    SELECT t.dv_hk, t.dv_applied, {aggregate} AS dv_set\n"
            "    FROM (\n"
            f"        SELECT x.{key} AS dv_hk, x.dv_applied_at AS dv_applied, "
            f"{member} AS dv_member,\n"
            f"               {rank} AS dv_rank\n"
            f"        FROM {stage} x\n"
            f"        WHERE x.dv_batch_id = {batch}\n"
            "    ) t\n"
            "    WHERE t.dv_rank = 1\n"
            "    GROUP BY t.dv_hk, t.dv_applied"
        )

    # ---- the key contract -------------------------------------------------------------------
    def contract_items(self, model: m.Model, entity: m.MultiActiveSatellite) -> dict[str, str]:
        items = {f"{self.name} {entity.name}": f"{entity.parent_kind} {entity.parent}"}
        for column in entity.payload:
            items[f"{self.name} {entity.name}.{column.name}"] = column.type
        return items

    def breaking(self, rest: str, before: str, after: str) -> tuple[str, bool] | None:
        if "." in rest:  # a payload column: judged by its type
            return None
        return (f"the rows of multi-active satellite {rest} hang off the keys of its parent; "
                "they cannot be moved to another parent. Declare a new multi-active satellite "
                "for the new parent"
                + RECREATE.format(kind="multi-active satellite", name=rest), True)

    # ---- loading ----------------------------------------------------------------------------
    def history_context(self, model: m.Model, dialect: Dialect,
                        entity: m.MultiActiveSatellite, common: dict) -> dict:
        q = dialect.quote
        return {
            **common,
            "sat": entity.name,
            "table": q(model.settings.naming.msat_table(entity.name)),
            "key": q(entity.key_column),
            "stage_key": q(entity.stage_key),
            "deleted": dialect.zero_key(model.settings.hash),
        }

    def load_context(self, model: m.Model, dialect: Dialect, source: m.Source,
                     entity: m.MultiActiveSatellite, common: dict) -> dict:
        q = dialect.quote
        by_name = {c.name: c for c in entity.payload}
        if entity.child_key:
            conflict = (f"conflict: other rows of this batch give {entity.name} another member "
                        f"with the same child key ({', '.join(entity.child_key)}) for the same "
                        "key and applied time, so the whole set is held back")
        else:  # staging gives every row of a key and applied time one set: it never happens
            conflict = (f"conflict: rows of this batch give {entity.name} two sets for the same "
                        "key and applied time")
        # where staging could not write each row's set hash diff, the load reads the batch's
        # rows from a scratch relation with it (dv_staged), made first from ``sets``
        computed = not dialect.row_updates
        return {
            **self.history_context(model, dialect, entity, common),
            "log": q(model.settings.naming.msat_log_table(entity.name)),
            "sets": (self._sets(model, entity, source, dialect, common["batch"])
                     if computed else None),
            "staged_from": common["stage"],
            "stage": "dv_staged" if computed else common["stage"],
            "stage_diff": "dv_set" if computed else q(stage_set_hash_diff(entity.name)),
            "stage_member": q(m.stage_hash_diff(entity.name)),
            "member": q(MEMBER_HASH_DIFF),
            "payload": [(q(c.name), q(c.source_column)) for c in entity.payload],
            "child_key": [(q(c), q(by_name[c].source_column)) for c in entity.child_key],
            "sequence": q(source.sequence) if source.sequence else None,
            "snapshot": source.batch == "snapshot",
            # the history rule's conflict of two hash diffs never happens here (every row of
            # a key and applied time has its set's): conflicts are of child keys, quarantined
            # whole with the staged rows, before the history rule
            "obs_row_json": dialect.json_object([("applied_at", "o.dv_applied")]),
            "reason_missing": dialect.text_literal(
                f"missing business key of {entity.parent_kind} {entity.parent}"
            ),
            "reason_conflict": dialect.text_literal(
                conflict + ("" if source.sequence else "; declare a sequence column on the "
                            "source to order the sets")),
        }

    # ---- reading ----------------------------------------------------------------------------
    def answers(self, model: m.Model, entity: m.MultiActiveSatellite
                ) -> tuple[str, Sequence[str]]:
        return entity.parent, [entity.name]

    def scope(self, model: m.Model, entity: m.MultiActiveSatellite
              ) -> tuple[set[str], set[str]]:
        return (set(self.table_names(model.settings.naming, entity.name)),
                {f"{self.name} {entity.name}"})

    def described(self, model: m.Model, entity: m.MultiActiveSatellite) -> Described:
        return Described(entity.parent, model.settings.naming.msat_table(entity.name),
                         entity.key_column, tuple(c.name for c in entity.payload),
                         multi_row=True, types=tuple(c.type for c in entity.payload))


def _payload_names(spec: Any) -> dict[str, tuple[int, int]]:
    """The names a ``payload:`` declares (valid or not), with where each is written."""
    if isinstance(spec, LList):
        return {c: spec.item_at(i) for i, c in enumerate(spec) if isinstance(c, str)}
    if isinstance(spec, LMap):
        return {k: spec.key_at(k) for k in spec if isinstance(k, str)}
    return {}
