"""Effectivity satellites: which relationship of a link is in effect for each driving key
along applied time, and since when (SEMANTICS.md section 6).

An effectivity satellite is a satellite of the driving key (the key strings of the link's
driving roles, hashed as a link key is) whose payload is the relationship: its hash diff is
the relationship's link key, and it keeps that key and the other roles' hub keys. The load is
the satellite's history rule (``templates/base/_history.sql.j2``) as it is, so a relationship
seen again adds no row, a late or corrected one lands at its applied time, and a snapshot that
lacks a driving key ends its relationship (the zero hash diff, no payload). Readers derive
each relationship's span: from the row that begins it to the next row of its driving key with
another state, as known at a load time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from datavault import model as m
from datavault.diagnostics import did_you_mean
from datavault.dialects import Dialect
from datavault.dialects.types import hash_type
from datavault.kinds.base import RECREATE, Described, Kind, Readings, system_columns
from datavault.metadata.checks import Doc, Known, describe
from datavault.metadata.yamlfile import LList, LMap

WHAT = "effectivity satellite"


class EffectivitySatelliteKind(Kind):
    """A table keyed by (driving key, applied time, load time) with the relationship's link key
    as hash diff and the link key and the other roles' hub keys as payload; an end is a row
    with the zero hash diff and no payload. Beside it, ``__obs``, the log of the observations
    that needed no row."""

    name = "effectivity_satellite"
    not_in_marts = ("with a driving key of several roles, its rows are keyed by no hub's or "
                    "link's key; a bridge over the link follows it when it names it under "
                    "effective:")
    folder = "effectivity_satellites"
    unit = "effectivity satellite"
    needs = "link:, driving_key: and source:"
    template = "effectivity_satellite.sql.j2"
    keeps_history = True

    # ---- the YAML file ----------------------------------------------------------------------
    def read(self, name: str, doc: Doc, data: LMap, known: Known
             ) -> m.EffectivitySatellite | None:
        """The effectivity satellite, if its link, driving key and source are valid."""
        doc.keys(data, ("description", "link", "driving_key", "source"),
                 ("link", "driving_key", "source"))
        description = doc.description(data)
        link: m.Link | None = None
        link_name: str | None = None
        if "link" in data:
            link_name = doc.word(data["link"], data.value_at("link"), "link")
            if link_name is not None and link_name not in known.files["links"]:
                doc.at(data.value_at("link"), f"unknown link {link_name!r}",
                       known.unknown_hint(link_name, ("links",),
                                          "an effectivity satellite follows a link"))
                link_name = None
            link = known.links.get(link_name) if link_name else None  # else: see its file
        driving = self._driving_key(doc, data, link)
        src_name: str | None = None
        if "source" in data:
            src_name = doc.word(data["source"], data.value_at("source"), "source")
            if src_name is not None and src_name not in known.files["sources"]:
                doc.at(data.value_at("source"), f"unknown source {src_name!r}",
                       known.unknown_hint(src_name, ("sources",), "add it under models/sources/"))
                src_name = None
        if link_name and src_name and src_name not in known.fed_by.get(link_name, {src_name}):
            feeding = sorted(known.fed_by[link_name])
            doc.at(data.value_at("source"),
                   f"source {src_name!r} does not feed link {link_name!r}, so its rows name no "
                   "relationship",
                   f"add {src_name} under sources: in models/links/{link_name}.yml"
                   + (f", or name one of its sources: {', '.join(feeding)}" if feeding else ""))
            src_name = None
        if link is None or driving is None or src_name is None or src_name not in known.sources:
            return None
        if link.feed(src_name) is None:  # its feed has a problem, reported in the link's file
            return None
        if link.edge and driving == link.edge[:1] and link.name in known.edge_effectivity:
            doc.at(data.value_at("driving_key"),
                   f"effectivity satellite {known.edge_effectivity[link.name]!r} already says "
                   f"when the edges of {link.name} are in effect (its driving key is "
                   f"{driving[0]!r} too)",
                   "one effectivity satellite of the first role says it; feed it from one "
                   "source, or drop this one")
            return None
        others = tuple(r.role for r in link.roles if r.role not in driving)
        return m.EffectivitySatellite(name, link.name, driving, others, src_name, description)

    def note(self, known: Known, name: str, data: LMap, entity: m.Entity | None) -> None:
        if isinstance(entity, m.EffectivitySatellite):
            link = known.links.get(entity.link)
            if link is not None and link.edge and entity.driving_key == link.edge[:1]:
                known.edge_effectivity.setdefault(link.name, name)

    @staticmethod
    def _driving_key(doc: Doc, data: LMap, link: m.Link | None) -> tuple[str, ...] | None:
        """The driving roles in the link's role order; None when there is a problem (or the
        link is not known, so the roles cannot be checked)."""
        if "driving_key" not in data:
            return None
        spec = data["driving_key"]
        where = data.value_at("driving_key")
        if isinstance(spec, str) and spec:
            items = [(spec, where)]
        elif isinstance(spec, LList):
            items = [(r, spec.item_at(i)) for i, r in enumerate(spec)]
            if not items:
                doc.at(where, "driving_key is empty",
                       "name the roles of the link whose relationship changes, for example: "
                       "driving_key: [order]")
                return None
        else:
            doc.at(where, f"driving_key must be a list of the link's roles, not {describe(spec)}",
                   "for example: driving_key: [order]")
            return None
        roles = [r.role for r in link.roles] if link else []
        chosen: list[str] = []
        ok = True
        for role, at in items:
            if not isinstance(role, str) or not role:
                doc.at(at, f"a driving key role must be a role of the link, not {describe(role)}")
                ok = False
            elif role in chosen:
                doc.at(at, f"driving key role {role!r} appears twice")
                ok = False
            elif link is not None and role not in roles:
                doc.at(at, f"link {link.name!r} has no role {role!r}",
                       did_you_mean(role, roles) or f"its roles are {', '.join(roles)}")
                ok = False
            else:
                chosen.append(role)
        if link is not None and ok and m.DRIVING_KEY_COLUMN in (
                m.role_key_column(r) for r in roles if r not in chosen):
            doc.at(where, f"the column of role {m.DRIVING_KEY_COLUMN.removesuffix('_hk')!r} "
                   f"would be {m.DRIVING_KEY_COLUMN!r}, the column of the driving key",
                   "rename that role in the link")
            ok = False
        if not ok or link is None:
            return None
        return tuple(r for r in roles if r in chosen)

    def sources_named(self, data: LMap) -> set[str] | None:
        return {str(data.get("source"))}

    # ---- names and tables -------------------------------------------------------------------
    def table_names(self, naming: m.Naming, name: str) -> list[str]:
        return [naming.eff_table(name), naming.eff_log_table(name)]

    def define_tables(self, model: m.Model, entity: m.EffectivitySatellite,
                      md: sa.MetaData) -> None:
        key = entity.key_column
        table, log = self.table_names(model.settings.naming, entity.name)
        sa.Table(
            table, md,
            sa.Column(key, hash_type(), primary_key=True),
            sa.Column("applied_ts", sa.DateTime(), primary_key=True),
            sa.Column("load_ts", sa.DateTime(), primary_key=True),
            sa.Column("hash_diff", hash_type(), nullable=False),
            *[sa.Column(column, hash_type()) for column, _ in payload_columns(entity)],
            *system_columns(with_load_ts=False),
            comment=entity.description or None,
        )
        sa.Table(
            log, md,
            sa.Column(key, hash_type(), primary_key=True),
            sa.Column("applied_ts", sa.DateTime(), primary_key=True),
            sa.Column("load_ts", sa.DateTime(), primary_key=True),
            sa.Column("hash_diff", hash_type(), nullable=False),
            comment=f"observations of {entity.name} that did not need a row of their own",
        )

    def stage_columns(self, model: m.Model, entity: m.EffectivitySatellite) -> list[sa.Column]:
        return [sa.Column(entity.stage_key, hash_type(), nullable=False)]

    def stage_hashes(self, model: m.Model, entity: m.EffectivitySatellite, source: m.Source,
                     dialect: Dialect) -> list[tuple[str, str]]:
        """The driving key: the key parts of the driving roles, hashed as a link key is (for
        one driving role, its hub's hash key)."""
        link = model.links[entity.link]
        feed = link.feed(source.name)
        assert feed is not None
        q = dialect.quote
        parts: list[tuple[str, str]] = []
        for role, columns in zip(link.roles, feed.columns):
            if role.role in entity.driving_key:
                key = model.hubs[role.hub].key
                parts += [(f"l.{q(col)}", part.type) for col, part in zip(columns, key)]
        return [(q(entity.stage_key), dialect.hash_key(parts, model.settings.hash))]

    # ---- the key contract -------------------------------------------------------------------
    def contract_items(self, model: m.Model, entity: m.EffectivitySatellite) -> dict[str, str]:
        return {f"{self.name} {entity.name}":
                f"link {entity.link} driving {', '.join(entity.driving_key)}"}

    def breaking(self, rest: str, before: str, after: str) -> tuple[str, bool] | None:
        return (f"the rows of effectivity satellite {rest} are keyed by the driving key of its "
                "link and hold that link's keys; another link or driving key would make every "
                "stored key mean something else. Declare a new effectivity satellite"
                + RECREATE.format(kind="effectivity satellite", name=rest), True)

    # ---- loading ----------------------------------------------------------------------------
    def history_context(self, model: m.Model, dialect: Dialect,
                        entity: m.EffectivitySatellite, common: dict) -> dict:
        q = dialect.quote
        return {
            **common,
            "sat": entity.name,
            "table": q(model.settings.naming.eff_table(entity.name)),
            "key": q(entity.key_column),
            "stage_key": q(entity.stage_key),
            "deleted": dialect.zero_key(model.settings.hash),
        }

    def described(self, model: m.Model, entity: m.EffectivitySatellite) -> Described | None:
        """With one driving role, its driving key is that role's hub key, so a PIT of that hub
        points at the row of the relationship in effect (the ghost where none is), and its
        views show the other roles' business keys. With several there is no hub to follow."""
        if len(entity.driving_key) != 1:
            return None
        link = model.links[entity.link]
        hub_of = {r.role: r.hub for r in link.roles}
        lookups = []
        types = []
        for role in entity.other_roles:
            hub = hub_of[role]
            for part in model.hubs[hub].key:
                label = part.name if role == hub else f"{role}_{part.name}"
                lookups.append((label, m.role_key_column(role), hub, part.name))
                types.append(part.type)
        return Described(hub_of[entity.driving_key[0]], model.settings.naming.eff_table(
            entity.name), entity.key_column, tuple(label for label, *_ in lookups),
            by_default=False, hub_keys=tuple(lookups), types=tuple(types))

    def parent_of(self, entity: m.EffectivitySatellite) -> str:
        return entity.link  # a delete marker that ends the link ends its relationship

    def load_context(self, model: m.Model, dialect: Dialect, source: m.Source,
                     entity: m.EffectivitySatellite, common: dict) -> dict:
        q = dialect.quote
        link = model.links[entity.link]
        feed = link.feed(source.name)
        assert feed is not None
        zero = common["zero_key"]
        missing = " OR ".join(
            f"s.{q(m.stage_role_key(link.name, r.role))} = {zero}" for r in link.roles)
        described = "; ".join(
            f"{r.role}: {', '.join(cols)}" for r, cols in zip(link.roles, feed.columns))
        driving = "; ".join(f"{r.role}: {', '.join(cols)}"
                            for r, cols in zip(link.roles, feed.columns)
                            if r.role in entity.driving_key)
        return {
            **self.history_context(model, dialect, entity, common),
            "link": link.name,
            "log": q(model.settings.naming.eff_log_table(entity.name)),
            "stage_diff": q(m.stage_link_key(link.name)),
            "payload": [(q(column), q(staged)) for column, staged in payload_columns(entity)],
            "sequence": q(source.sequence) if source.sequence else None,
            "snapshot": source.batch == "snapshot",
            "missing_condition": missing,
            "obs_row_json": dialect.json_object([("applied_at", "o.dv_applied")]),
            # the link's own reason: the link quarantines the same rows
            "reason_missing": dialect.text_literal(
                f"missing business key of a hub of link {link.name} ({described})"),
            "reason_no_driving_key": dialect.text_literal(
                f"missing driving key of {entity.name} ({driving}): a relationship in effect "
                "for no known key says nothing"),
            "reason_conflict": dialect.text_literal(
                f"conflict: other rows of this batch give {entity.name} another relationship "
                "of link " + link.name + " for the same driving key and applied time"
                + ("" if source.sequence else "; declare a sequence column on the source "
                   "to order them")),
        }

    # ---- reading ----------------------------------------------------------------------------
    def answers(self, model: m.Model, entity: m.EffectivitySatellite
                ) -> tuple[str, Sequence[str]]:
        return entity.link, [entity.name]

    def key_columns(self, model: m.Model, entity: m.EffectivitySatellite
                    ) -> list[tuple[str, m.Column]]:
        """Its driving key: the business key parts of the driving roles' hubs."""
        return [(role.role, c) for role in model.links[entity.link].roles
                if role.role in entity.driving_key for c in model.hubs[role.hub].key]

    def query_state(self, read: Readings, entity: str, keys: Sequence[str] | None,
                    at: dt.datetime) -> Any:
        """The relationship in effect at ``at``, per driving key."""
        return read.spans(entity, keys, at)

    def query_history(self, read: Readings, entity: str, keys: Sequence[str] | None) -> Any:
        """Every relationship, each with its span."""
        return read.spans(entity, keys, None)

    def scope(self, model: m.Model, entity: m.EffectivitySatellite
              ) -> tuple[set[str], set[str]]:
        return (set(self.table_names(model.settings.naming, entity.name)),
                {f"{self.name} {entity.name}"})


def payload_columns(entity: m.EffectivitySatellite) -> list[tuple[str, str]]:
    """(stored column, staging column) of the payload: the relationship's link key, then the
    other roles' hub keys."""
    return [(m.link_key_column(entity.link), m.stage_link_key(entity.link))] + [
        (m.role_key_column(role), m.stage_role_key(entity.link, role))
        for role in entity.other_roles]
