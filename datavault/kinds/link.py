"""Links: relationships between two or more hubs (a hub twice under two roles)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from datavault import model as m
from datavault.diagnostics import did_you_mean
from datavault.dialects import Dialect
from datavault.dialects.types import hash_type
from datavault.kinds.base import RECREATE, REHASH, Kind, Readings, system_columns
from datavault.kinds.hub import note_sources
from datavault.metadata.checks import Doc, Known, columns_for_parts, source_ref
from datavault.metadata.yamlfile import LList, LMap


class LinkKind(Kind):
    """A link table keyed by the hash of its hubs' business keys, with each hub's hash key;
    a row per relationship, inserted once."""

    name = "link"
    not_in_marts = "a link is what a mart follows: pit: LINK, or a step of bridge:"
    folder = "links"
    unit = "link"
    needs = "hubs: and sources:"
    template = "link.sql.j2"
    is_parent = True

    # ---- the YAML file ----------------------------------------------------------------------
    def read(self, name: str, doc: Doc, data: LMap, known: Known) -> m.Link | None:
        """The link, if its hubs are all valid (its feeds may still have problems)."""
        doc.keys(data, ("description", "hubs", "sources", *EDGES), ("hubs", "sources"))
        description = doc.description(data)
        roles, complete = read_roles(doc, name, data, known, known.naming.link_table(name))
        feeds = read_feeds(doc, data, roles, complete, known)
        edges = {what: read_edge(doc, data, what, roles, complete) for what in EDGES}
        if not complete or None in edges.values():
            return None
        return m.Link(name, tuple(roles), tuple(feeds), description, **edges)

    def note(self, known: Known, name: str, data: LMap, entity: m.Entity | None) -> None:
        note_sources(known, name, data)
        if isinstance(entity, m.Link):
            known.links[name] = entity

    def sources_named(self, data: LMap) -> set[str] | None:
        listed = data.get("sources")
        return {str(s) for s in listed} if isinstance(listed, LMap) else None

    # ---- names and tables -------------------------------------------------------------------
    def table_names(self, naming: m.Naming, name: str) -> list[str]:
        return [naming.link_table(name)]

    def define_tables(self, model: m.Model, entity: m.Link, md: sa.MetaData) -> None:
        table = sa.Table(
            model.link_table(entity.name), md,
            sa.Column(m.link_key_column(entity.name), hash_type(), primary_key=True),
            *[sa.Column(m.role_key_column(r.role), hash_type(), nullable=False)
              for r in entity.roles],
            *system_columns(),
            comment=entity.description or None,
        )
        for role in entity.roles:
            sa.Index(f"ix_{table.name}_{role.role}", table.c[m.role_key_column(role.role)])

    def stage_columns(self, model: m.Model, entity: m.Link) -> list[sa.Column]:
        return [sa.Column(m.stage_link_key(entity.name), hash_type(), nullable=False)] + [
            sa.Column(m.stage_role_key(entity.name, role.role), hash_type(), nullable=False)
            for role in entity.roles]

    def stage_hashes(self, model: m.Model, entity: m.Link, source: m.Source,
                     dialect: Dialect) -> list[tuple[str, str]]:
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
        return [(q(m.stage_link_key(entity.name)), dialect.hash_key(every_part, algorithm)),
                *role_hashes]

    # ---- the key contract -------------------------------------------------------------------
    def contract_items(self, model: m.Model, entity: m.Link) -> dict[str, str]:
        return {f"link {entity.name}": ", ".join(f"{r.role}={r.hub}" for r in entity.roles)}

    def breaking(self, rest: str, before: str, after: str) -> tuple[str, bool] | None:
        return (f"link {rest}'s keys are computed from its hubs' business keys in this order, "
                "so every stored link key would stop matching. " + REHASH
                + RECREATE.format(kind="link", name=rest), True)

    # ---- loading ----------------------------------------------------------------------------
    def load_context(self, model: m.Model, dialect: Dialect, source: m.Source,
                     entity: m.Link, common: dict) -> dict:
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
            "link": entity.name,
            "table": q(model.link_table(entity.name)),
            "key": q(m.link_key_column(entity.name)),
            "stage_key": q(m.stage_link_key(entity.name)),
            "roles": [(q(m.role_key_column(r.role)), q(m.stage_role_key(entity.name, r.role)))
                      for r in entity.roles],
            "missing_condition": missing,
            "reason_missing": dialect.text_literal(
                f"missing business key of a hub of link {entity.name} ({described})"
            ),
        }

    # ---- reading ----------------------------------------------------------------------------
    def answers(self, model: m.Model, entity: m.Link) -> tuple[str, Sequence[str]]:
        return entity.name, [s.name for s in model.satellites.values()
                             if s.parent == entity.name]

    def key_columns(self, model: m.Model, entity: m.Link) -> list[tuple[str, m.Column]]:
        """Every hub's business key parts, in role order."""
        return [(role.role, c) for role in entity.roles for c in model.hubs[role.hub].key]

    def query_state(self, read: Readings, entity: str, keys: Sequence[str] | None,
                    at: dt.datetime) -> Any:
        """With satellites, their states; without, the link's relationships (of a same-as
        link or hierarchy: those in effect at ``at``; with ``keys``, keys of its hub: each
        one's survivor, or its ancestors; SEMANTICS.md section 10)."""
        if self.answers(read.model, read.model.links[entity])[1]:
            return read.states(entity, keys, at)
        if keys and read.model.links[entity].edge:
            return read.walk(entity, keys, at)
        return read.relationships(entity, keys, at)

    def query_history(self, read: Readings, entity: str, keys: Sequence[str] | None) -> Any:
        """With satellites, their rows; without, every relationship the link holds."""
        if self.answers(read.model, read.model.links[entity])[1]:
            return read.timeline(entity, keys)
        return read.relationships(entity, keys, None)

    def reads_also(self, model: m.Model, entity: m.Link) -> Sequence[str]:
        eff = model.edge_effectivity(entity.name) if entity.edge else None
        return [eff.name] if eff is not None else []

    def scope(self, model: m.Model, entity: m.Link) -> tuple[set[str], set[str]]:
        """A link's table, and its hubs' (whose keys make the link's keys)."""
        hubs = {r.hub for r in entity.roles}
        return ({model.link_table(entity.name)} | {model.hub_table(h) for h in hubs},
                {f"link {entity.name}"} | {f"hub {h}" for h in hubs})


#: what a link joining one hub twice may declare its rows mean (SEMANTICS.md section 10): the
#: key, and the names of the role an edge goes from and the one it goes to
EDGES = {"same_as": ("duplicate", "survivor"), "hierarchy": ("child", "parent")}


def read_edge(doc: Doc, data: LMap, what: str, roles: list[m.LinkRole],
              complete: bool) -> tuple[str, ...] | None:
    """A link's ``same_as:`` or ``hierarchy:`` (``what``): the role an edge goes from and the
    one it goes to; () when not declared, None when it has a problem."""
    if what not in data:
        return ()
    names = EDGES[what]
    example = f"{what}: {{{names[0]}: ROLE, {names[1]}: ROLE}}"
    where = data.value_at(what)
    spec = doc.mapping(data[what], where, what)
    if spec is None:
        return None
    ok = True
    other = next(w for w in EDGES if w != what)
    if other in data:
        doc.at(where, f"a link is either {what} or {other}, not both",
               "declare the one its rows mean")
        ok = False
    for key in spec:
        if key not in names:
            doc.at(spec.key_at(key), f"unknown key {key!r} of {what}",
                   did_you_mean(str(key), names) or f"for example: {example}")
            ok = False
    chosen: list[str] = []
    by_role = {r.role: r for r in roles}
    for key in names:
        if key not in spec:
            doc.at(where, f"{what} needs {key!r}: the role of the {key}", f"for example: {example}")
            ok = False
            continue
        role = doc.word(spec[key], spec.value_at(key), f"the {key} role")
        if role is None:
            ok = False
        elif complete and role not in by_role:
            doc.at(spec.value_at(key), f"the link has no role {role!r}",
                   did_you_mean(role, list(by_role)) or
                   f"its roles are {', '.join(by_role)}")
            ok = False
        elif role in chosen:
            doc.at(spec.value_at(key), f"the {names[0]} and the {names[1]} are one role "
                   f"{role!r}", "name the two roles of the hub, for example: "
                   "hubs: [{duplicate: customer}, {survivor: customer}]")
            ok = False
        else:
            chosen.append(role)
    if not ok or not complete:
        return None
    if len(roles) != 2:
        doc.at(where, f"a {what} link joins exactly two roles, not {len(roles)}",
               "declare the other relationships in a link of their own")
        return None
    first, second = (by_role[r] for r in chosen)
    if first.hub != second.hub:
        doc.at(where, f"the {names[0]} role {first.role!r} is a {first.hub} and the "
               f"{names[1]} role {second.role!r} a {second.hub}: {what} joins one hub twice",
               f"for example: hubs: [{{{names[0]}: {first.hub}}}, {{{names[1]}: {first.hub}}}]")
        return None
    return tuple(chosen)


def read_roles(doc: Doc, name: str, data: LMap, known: Known, table: str,
               what: str = "link") -> tuple[list[m.LinkRole], bool]:
    """The roles of a file's ``hubs:`` (a link's, or another kind's that joins hubs like one,
    called ``what`` in messages, whose main table is ``table``), and whether every entry is
    a valid role."""
    roles: list[m.LinkRole] = []
    role_names: set[str] = set()
    entries = data.get("hubs")
    if "hubs" in data:
        if not isinstance(entries, LList):
            doc.at(data.value_at("hubs"), "hubs must be a list of hub names",
                   "for example: hubs: [order, customer]")
            entries = None
        elif len(entries) < 2:
            doc.at(data.value_at("hubs"), f"a {what} joins at least two hubs",
                   "for a hub joined to itself, name the roles: "
                   "hubs: [{employee: person}, {manager: person}]")
    for i, entry in enumerate(entries or ()):
        where = entries.item_at(i)  # type: ignore[union-attr]
        if isinstance(entry, str):
            role, hub, hub_at = entry, entry, where
        elif isinstance(entry, LMap) and len(entry) == 1:
            role, hub = next(iter(entry.items()))
            hub_at = entry.value_at(role)
            if doc.word(hub, hub_at, f"the hub of role {role!r}") is None:
                continue
        else:
            doc.at(where, f"a {what} hub is a hub name, or `role: hub` for a hub joined twice")
            continue
        if hub not in known.files["hubs"]:
            doc.at(hub_at, f"unknown hub {hub!r}",
                   known.unknown_hint(hub, ("hubs",), f"a {what} joins hubs"))
            continue
        if not doc.name(role, where, "role"):
            continue
        if role == name:
            doc.at(where, f"hub role {role!r} has the name of the {what} itself",
                   f"its key column would be the {what}'s own key column "
                   f"{m.role_key_column(role)}; name the role, for example - buyer: {hub}")
            continue
        if "__" in role:
            doc.at(where, f"hub role {role!r} contains __",
                   "__ separates the parts of the toolkit's own names; use a single _")
            continue
        if role in role_names:
            doc.at(where, f"hub role {role!r} appears twice",
                   "name the roles, for example: - manager: employee")
            continue
        doc.identifier_length(where, "the staging column", m.stage_role_key(name, role))
        doc.identifier_length(where, "the index name", f"ix_{table}_{role}")
        roles.append(m.LinkRole(role, hub))
        role_names.add(role)
    complete = entries is not None and len(entries) >= 2 and len(roles) == len(entries)
    return roles, complete


def read_feeds(doc: Doc, data: LMap, roles: list[m.LinkRole], complete: bool, known: Known,
               what: str = "link") -> list[m.LinkFeed]:
    """Per source of a file's ``sources:``, the columns of each role's hub key (the sources
    whose columns are all valid, once every role is)."""
    role_list = [r.role for r in roles]
    role_names = set(role_list)
    feeds: list[m.LinkFeed] = []
    if "sources" in data and (
        srcs := doc.mapping(data["sources"], data.value_at("sources"), "sources")
    ) is not None:
        if not srcs:
            doc.at(data.value_at("sources"), f"a {what} needs at least one source",
                   "list each source that carries the keys of all its hubs")
        for src_name, value in srcs.items():
            source = source_ref(doc, srcs, src_name, known)
            if value is not None and not isinstance(value, LMap):
                doc.at(srcs.value_at(src_name),
                       f"source {src_name!r} must give each hub's key column(s) as "
                       "`hub: column`",
                       f"for example: {role_list[0] if role_list else 'order'}: order_id")
                continue
            if value is not None:
                for role in value:
                    if complete and role not in role_names:
                        doc.at(value.key_at(role), f"unknown hub role {role!r}",
                               did_you_mean(str(role), role_list))
            per_role: list[tuple[str, ...] | None] = []
            for role in roles:
                if value is None:
                    spec, where = None, srcs.key_at(src_name)
                elif role.role in value:
                    spec, where = value[role.role], value.value_at(role.role)
                else:
                    doc.at(srcs.key_at(src_name),
                           f"source {src_name!r}: no columns given for hub {role.role!r}",
                           f"add `{role.role}: COLUMN` under {src_name}:")
                    per_role.append(None)
                    continue
                hub_key = known.hub_keys.get(role.hub)
                if source is None or hub_key is None:
                    per_role.append(None)
                    continue
                per_role.append(columns_for_parts(doc, spec, where, hub_key, source,
                                                   f"hub {role.role!r}: "))
            if complete and all(per_role):
                feeds.append(m.LinkFeed(src_name, tuple(per_role)))  # type: ignore[arg-type]
    return feeds
