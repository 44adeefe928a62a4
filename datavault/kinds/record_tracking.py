"""Record tracking: when a source last saw each key of a hub or link it feeds (SEMANTICS.md
section 5). The table holds one row per key and applied time of the source's unmarked rows,
with the load time of the first batch that gave it; the last seen time at ``t`` as known at
``k`` is the greatest applied time of the rows with applied <= t and loaded <= k."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from datavault import model as m
from datavault.dialects import Dialect
from datavault.dialects.types import hash_type
from datavault.kinds.base import RECREATE, Kind, Readings, system_columns
from datavault.kinds.satellite import read_parent_and_source
from datavault.metadata.checks import Doc, Known
from datavault.metadata.yamlfile import LMap

WHAT = "record tracking"


class RecordTrackingKind(Kind):
    """A table keyed by (parent key, applied time): the times at which the source saw the
    key, each with the load time, record source and batch of the first batch that did. Its
    loads take the batches in load-time order (the first loaded batch's row stands)."""

    name = "record_tracking"
    not_in_marts = ("its rows say when a source last saw a key, not a state that holds until "
                    "the next one, so a PIT has no row of it to point at; ask `datavault query "
                    "NAME --at T` when a key was last seen")
    folder = "record_tracking"
    unit = "record tracking table"
    needs = "parent: and source:"
    template = "record_tracking.sql.j2"
    in_load_order = True

    # ---- the YAML file ----------------------------------------------------------------------
    def read(self, name: str, doc: Doc, data: LMap, known: Known) -> m.RecordTracking | None:
        doc.keys(data, ("description", "parent", "source"), ("parent", "source"))
        description = doc.description(data)
        parent, kind, src_name, source = read_parent_and_source(doc, data, known,
                                                                f"a {WHAT}'s")
        if not (parent and kind and source and src_name):
            return None
        return m.RecordTracking(name, parent, kind, source.name, description)

    def sources_named(self, data: LMap) -> set[str] | None:
        return {str(data.get("source"))}

    # ---- names and tables -------------------------------------------------------------------
    def table_names(self, naming: m.Naming, name: str) -> list[str]:
        return [naming.record_tracking_table(name)]

    def define_tables(self, model: m.Model, entity: m.RecordTracking, md: sa.MetaData) -> None:
        sa.Table(
            model.settings.naming.record_tracking_table(entity.name), md,
            sa.Column(entity.key_column, hash_type(), primary_key=True),
            sa.Column("applied_ts", sa.DateTime(), primary_key=True),
            *system_columns(),
            comment=entity.description or None,
        )

    # ---- the key contract -------------------------------------------------------------------
    def contract_items(self, model: m.Model, entity: m.RecordTracking) -> dict[str, str]:
        return {f"{self.name} {entity.name}":
                f"{entity.parent_kind} {entity.parent}; source {entity.source}"}

    def breaking(self, rest: str, before: str, after: str) -> tuple[str, bool] | None:
        return (f"the rows of {WHAT} {rest} are the keys of its parent as its source saw "
                "them; they cannot be moved to another parent or source. Declare a new "
                f"{WHAT} for them" + RECREATE.format(kind=WHAT, name=rest), True)

    # ---- loading ----------------------------------------------------------------------------
    def load_context(self, model: m.Model, dialect: Dialect, source: m.Source,
                     entity: m.RecordTracking, common: dict) -> dict:
        q = dialect.quote
        return {
            **common,
            "rts": entity.name,
            "table": q(model.settings.naming.record_tracking_table(entity.name)),
            "key": q(entity.key_column),
            "stage_key": q(entity.stage_key),
            "reason_missing": dialect.text_literal(
                f"missing business key of {entity.parent_kind} {entity.parent}"),
        }

    # ---- reading ----------------------------------------------------------------------------
    def parent_of(self, entity: m.RecordTracking) -> str:
        return entity.parent  # the hub or link whose keys its source saw

    def answers(self, model: m.Model, entity: m.RecordTracking) -> tuple[str, Sequence[str]]:
        """Its own rows (``query.last_seen``), under its parent's keys."""
        return entity.parent, [entity.name]

    def query_state(self, read: Readings, entity: str, keys: Sequence[str] | None,
                    at: dt.datetime) -> Any:
        """When its source last saw each key, by ``at``."""
        return read.last_seen(entity, keys, at)

    def query_history(self, read: Readings, entity: str, keys: Sequence[str] | None) -> Any:
        """Every applied time at which its source saw each key."""
        return read.last_seen(entity, keys, None)

    def scope(self, model: m.Model, entity: m.RecordTracking) -> tuple[set[str], set[str]]:
        return ({model.settings.naming.record_tracking_table(entity.name)},
                {f"{self.name} {entity.name}"})
