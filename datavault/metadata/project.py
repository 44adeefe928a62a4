"""Read a project folder into a validated Model, reporting every problem at once."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datavault import model as m
from datavault.diagnostics import Problems, did_you_mean
from datavault.metadata.yamlfile import LList, LMap, read_yaml

IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")
MAX_NAME = 40
KINDS = ("sources", "hubs", "links", "satellites")
CONFIG_FILE = "config/datavault.yml"
RESERVED_COLUMNS = {"load_ts", "applied_ts", "hash_diff", "record_source", "batch_id"}


@dataclass
class Doc:
    """One YAML file being validated: its shown path and the problems list."""

    path: str
    problems: Problems

    def at(self, where: tuple[int, int], message: str, hint: str = "") -> None:
        self.problems.add(self.path, where[0], where[1], message, hint)

    def mapping(self, value: Any, where: tuple[int, int], what: str) -> LMap | None:
        if isinstance(value, LMap):
            return value
        self.at(where, f"{what} must be a mapping of `name: value` lines")
        return None

    def keys(self, data: LMap, allowed: tuple[str, ...], required: tuple[str, ...] = ()) -> None:
        for key in data:
            if key not in allowed:
                self.at(data.key_at(key), f"unknown key {key!r}", did_you_mean(str(key), allowed))
        for key in required:
            if key not in data:
                self.at((data.line, data.col), f"missing required key {key!r}")

    def name(self, value: Any, where: tuple[int, int], what: str) -> bool:
        if not isinstance(value, str) or not IDENTIFIER.match(value) or len(value) > MAX_NAME:
            self.at(where, f"{what} {value!r} is not a valid name",
                    f"use lower-case letters, digits and _, starting with a letter, "
                    f"at most {MAX_NAME} characters")
            return False
        return True


@dataclass(frozen=True)
class Project:
    """A project folder and its validated model."""

    root: Path
    model: m.Model


def model_files(root: Path, kind: str) -> list[Path]:
    folder = root / "models" / kind
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix in (".yml", ".yaml") and p.is_file())


def load_project(root: Path | str) -> Project:
    """Read and validate the project at ``root``; raise ModelError listing every problem."""
    root = Path(root).resolve()
    problems = Problems()
    if not (root / "models").is_dir():
        problems.add(".", 1, 1, f"no models/ folder in {root}",
                     "run `datavault init DIR` to start a project, or pass --project DIR")
        problems.raise_if_any()
    settings = _read_settings(root, problems)
    raw: dict[str, dict[str, tuple[Doc, LMap]]] = {kind: {} for kind in KINDS}
    seen_entity: dict[str, str] = {}
    for kind in KINDS:
        for file in model_files(root, kind):
            shown = file.relative_to(root).as_posix()
            doc = Doc(shown, problems)
            data = read_yaml(file, shown, problems)
            if data is None and problems:
                continue
            if not doc.name(file.stem, (1, 1), "file name"):
                continue
            data = doc.mapping(data, (1, 1), "the file")
            if data is None:
                continue
            if kind != "sources":
                other = seen_entity.get(file.stem)
                if other:
                    doc.at((1, 1), f"name {file.stem!r} is already used by {other}",
                           "hubs, links and satellites need distinct names")
                    continue
                seen_entity[file.stem] = shown
            raw[kind][file.stem] = (doc, data)
    sources = {n: s for n, (d, data) in raw["sources"].items() if (s := _source(n, d, data))}
    hubs = {n: h for n, (d, data) in raw["hubs"].items() if (h := _hub(n, d, data, sources, raw))}
    links = {
        n: lk for n, (d, data) in raw["links"].items()
        if (lk := _link(n, d, data, sources, hubs, raw))
    }
    sats = {
        n: s for n, (d, data) in raw["satellites"].items()
        if (s := _satellite(n, d, data, sources, hubs, links, raw))
    }
    problems.raise_if_any()
    return Project(root, m.Model(settings, sources, hubs, links, sats))


# ---- config -------------------------------------------------------------------------------
def _read_settings(root: Path, problems: Problems) -> m.Settings:
    file = root / CONFIG_FILE
    if not file.exists():
        return m.Settings()
    doc = Doc(CONFIG_FILE, problems)
    data = doc.mapping(read_yaml(file, CONFIG_FILE, problems) or LMap(), (1, 1), "the config")
    if data is None:
        return m.Settings()
    doc.keys(data, ("hash", "null_keys", "naming", "profiles", "profile"))
    hash_algorithm = data.get("hash", "md5")
    if hash_algorithm not in m.HASH_ALGORITHMS:
        doc.at(data.value_at("hash"), f"unknown hash algorithm {hash_algorithm!r}",
               "use md5 or sha256")
        hash_algorithm = "md5"
    null_keys = data.get("null_keys", "reject")
    if null_keys not in m.NULL_KEY_POLICIES:
        doc.at(data.value_at("null_keys"), f"unknown null-key policy {null_keys!r}",
               "use reject (rows without a key go to quarantine) or zero_key")
        null_keys = "reject"
    naming = m.Naming()
    if "naming" in data and (raw := doc.mapping(data["naming"], data.value_at("naming"), "naming")):
        doc.keys(raw, ("hub", "link", "satellite", "stage"))
        values = {}
        for key, pattern in raw.items():
            if not isinstance(pattern, str) or "{name}" not in pattern or not IDENTIFIER.match(
                pattern.replace("{name}", "x")
            ):
                doc.at(raw.value_at(key), f"naming pattern {pattern!r} is not usable",
                       "write a table name with {name} in it, for example hub_{name}")
            else:
                values[key] = pattern
        naming = m.Naming(**{k: v for k, v in values.items() if k in m.Naming.__dataclass_fields__})
    profiles: list[tuple[str, tuple[tuple[str, str], ...]]] = []
    if "profiles" in data and (
        raw := doc.mapping(data["profiles"], data.value_at("profiles"), "profiles")
    ):
        for name, body in raw.items():
            body = doc.mapping(body, raw.value_at(name), f"profile {name!r}")
            if body is None:
                continue
            doc.keys(body, ("url", "url_env"))
            if ("url" in body) == ("url_env" in body):
                doc.at(raw.key_at(name), f"profile {name!r} needs exactly one of url or url_env",
                       "url_env names an environment variable that holds the URL, for secrets")
            profiles.append((str(name), tuple((str(k), str(v)) for k, v in body.items())))
    profile = data.get("profile")
    if profile is not None and profile not in dict(profiles):
        doc.at(data.value_at("profile"), f"unknown profile {profile!r}",
               did_you_mean(str(profile), dict(profiles)))
    return m.Settings(hash_algorithm, null_keys, naming, tuple(profiles), profile)


# ---- sources ------------------------------------------------------------------------------
def _source(name: str, doc: Doc, data: LMap) -> m.Source | None:
    doc.keys(data, ("description", "record_source", "batch", "applied_at", "sequence", "columns"),
             ("columns",))
    columns: list[m.Column] = []
    raw = data.get("columns")
    if "columns" in data and (raw := doc.mapping(raw, data.value_at("columns"), "columns")):
        if not raw:
            doc.at(data.value_at("columns"), "a source needs at least one column")
        for col, type_name in raw.items():
            if not doc.name(col, raw.key_at(col), "column name"):
                continue
            if str(col).startswith("dv_"):
                doc.at(raw.key_at(col), f"column name {col!r} starts with dv_",
                       "dv_ is kept for the toolkit's own columns; rename it")
                continue
            if type_name not in m.COLUMN_TYPES:
                doc.at(raw.value_at(col), f"unknown type {type_name!r} for column {col!r}",
                       did_you_mean(str(type_name), m.COLUMN_TYPES))
                continue
            columns.append(m.Column(col, type_name))
    by_name = {c.name: c for c in columns}
    batch = data.get("batch", "delta")
    if batch not in m.BATCH_KINDS:
        doc.at(data.value_at("batch"), f"unknown batch kind {batch!r}",
               "use snapshot (every batch holds every key) or delta (only changes)")
    applied_at = data.get("applied_at")
    if applied_at is not None:
        if applied_at not in by_name:
            if raw:
                doc.at(data.value_at("applied_at"), f"applied_at names unknown column {applied_at!r}",
                       did_you_mean(str(applied_at), by_name) or
                       "leave applied_at out to use the batch's load time")
        elif by_name[applied_at].type not in ("timestamp", "date"):
            doc.at(data.value_at("applied_at"),
                   f"applied_at column {applied_at!r} is {by_name[applied_at].type}",
                   "it must be a timestamp or a date column")
    sequence = data.get("sequence")
    if sequence is not None and sequence not in by_name and raw:
        doc.at(data.value_at("sequence"), f"sequence names unknown column {sequence!r}",
               did_you_mean(str(sequence), by_name))
    record_source = data.get("record_source", name)
    if not isinstance(record_source, str) or not record_source:
        doc.at(data.value_at("record_source"), "record_source must be a non-empty text")
    if doc.problems and any(p.path == doc.path for p in doc.problems.items):
        return None
    return m.Source(name, str(record_source), tuple(columns), str(batch), applied_at, sequence,
                    str(data.get("description", "")))


def _source_ref(doc: Doc, data: LMap, key: Any, sources: dict[str, m.Source],
                raw: dict[str, dict[str, Any]]) -> m.Source | None:
    if key in sources:
        return sources[key]
    if key not in raw["sources"]:
        doc.at(data.key_at(key), f"unknown source {key!r}",
               did_you_mean(str(key), raw["sources"]) or "add it under models/sources/")
    return None


def _columns_for_parts(doc: Doc, value: Any, where: tuple[int, int], parts: tuple[m.Column, ...],
                       source: m.Source, what: str) -> tuple[str, ...] | None:
    """Resolve a per-source key mapping: a column, a list in key order, or part: column."""
    names = [p.name for p in parts]
    locs: list[tuple[int, int]]
    if value is None:
        columns, locs = list(names), [where] * len(names)
    elif isinstance(value, str):
        columns, locs = [value], [where]
    elif isinstance(value, LList):
        columns, locs = list(value), [value.item_at(i) for i in range(len(value))]
    elif isinstance(value, LMap):
        for part in value:
            if part not in names:
                doc.at(value.key_at(part), f"{what}: unknown key part {part!r}",
                       did_you_mean(str(part), names))
        missing = [n for n in names if n not in value]
        if missing:
            doc.at(where, f"{what}: no column given for key part {', '.join(missing)}")
            return None
        columns = [value[n] for n in names]
        locs = [value.value_at(n) for n in names]
    else:
        doc.at(where, f"{what}: expected a column name, a list or a mapping")
        return None
    if len(columns) != len(parts):
        doc.at(where, f"{what}: {len(columns)} column(s) given for a key of {len(parts)} part(s) "
               f"({', '.join(names)})")
        return None
    ok = True
    by_name = {c.name: c for c in source.columns}
    for column, part, loc in zip(columns, parts, locs):
        if column not in by_name:
            doc.at(loc, f"{what}: source {source.name!r} has no column {column!r}",
                   did_you_mean(str(column), by_name))
            ok = False
        elif by_name[column].type == "float":
            doc.at(loc, f"{what}: column {column!r} is a float and cannot be a business key",
                   "floats have no exact text; declare it as decimal or integer in the source")
            ok = False
        elif by_name[column].type != part.type:
            doc.at(loc, f"{what}: column {column!r} is {by_name[column].type} but key part "
                   f"{part.name!r} is {part.type}",
                   "declare both with the same type")
            ok = False
    return tuple(columns) if ok else None


# ---- hubs ---------------------------------------------------------------------------------
def _hub(name: str, doc: Doc, data: LMap, sources: dict[str, m.Source],
         raw: dict[str, dict[str, Any]]) -> m.Hub | None:
    doc.keys(data, ("description", "business_key", "sources"), ("business_key", "sources"))
    key: list[m.Column] = []
    if "business_key" in data and (
        bk := doc.mapping(data["business_key"], data.value_at("business_key"), "business_key")
    ):
        if not bk:
            doc.at(data.value_at("business_key"), "a business key needs at least one part")
        for part, type_name in bk.items():
            if not doc.name(part, bk.key_at(part), "key part"):
                continue
            if part in RESERVED_COLUMNS or str(part).startswith("dv_"):
                doc.at(bk.key_at(part), f"key part name {part!r} is reserved", "rename it")
            elif type_name == "float":
                doc.at(bk.value_at(part), f"key part {part!r} is a float",
                       "a float has no exact text and cannot be part of a business key; "
                       "use decimal or integer")
            elif type_name not in m.KEY_TYPES:
                doc.at(bk.value_at(part), f"unknown type {type_name!r} for key part {part!r}",
                       did_you_mean(str(type_name), m.KEY_TYPES))
            else:
                key.append(m.Column(part, type_name))
    feeds: list[m.HubFeed] = []
    if key and len(key) == len(data.get("business_key") or ()) and "sources" in data and (
        srcs := doc.mapping(data["sources"], data.value_at("sources"), "sources")
    ):
        if not srcs:
            doc.at(data.value_at("sources"), "a hub needs at least one source")
        for src_name, value in srcs.items():
            source = _source_ref(doc, srcs, src_name, sources, raw)
            if source is None:
                continue
            cols = _columns_for_parts(doc, value, srcs.value_at(src_name), tuple(key), source,
                                      f"source {src_name!r}")
            if cols:
                feeds.append(m.HubFeed(src_name, cols))
    if not key or not feeds:
        return None
    return m.Hub(name, tuple(key), tuple(feeds), str(data.get("description", "")))


# ---- links --------------------------------------------------------------------------------
def _link(name: str, doc: Doc, data: LMap, sources: dict[str, m.Source], hubs: dict[str, m.Hub],
          raw: dict[str, dict[str, Any]]) -> m.Link | None:
    doc.keys(data, ("description", "hubs", "sources"), ("hubs", "sources"))
    roles: list[m.LinkRole] = []
    entries = data.get("hubs")
    if "hubs" in data and not isinstance(entries, LList):
        doc.at(data.value_at("hubs"), "hubs must be a list of hub names",
               "for example: hubs: [order, customer]")
        entries = LList()
    for i, entry in enumerate(entries or ()):
        where = entries.item_at(i)
        if isinstance(entry, str):
            role, hub = entry, entry
        elif isinstance(entry, LMap) and len(entry) == 1:
            role, hub = next(iter(entry.items()))
        else:
            doc.at(where, "a link hub is a hub name, or `role: hub` for a hub joined twice")
            continue
        if hub not in hubs:
            if hub not in raw["hubs"]:
                doc.at(where, f"unknown hub {hub!r}", did_you_mean(str(hub), raw["hubs"]))
            continue
        if not doc.name(role, where, "role"):
            continue
        if any(r.role == role for r in roles):
            doc.at(where, f"hub role {role!r} appears twice",
                   "name the roles, for example: - manager: employee")
            continue
        roles.append(m.LinkRole(role, hub))
    if entries is not None and len(entries) < 2:
        doc.at(data.value_at("hubs"), "a link joins at least two hubs")
    feeds: list[m.LinkFeed] = []
    if len(roles) == len(entries or ()) and len(roles) >= 2 and "sources" in data and (
        srcs := doc.mapping(data["sources"], data.value_at("sources"), "sources")
    ):
        for src_name, value in srcs.items():
            source = _source_ref(doc, srcs, src_name, sources, raw)
            if source is None:
                continue
            where = srcs.value_at(src_name)
            if value is not None:
                value = doc.mapping(value, where, f"source {src_name!r}")
                if value is None:
                    continue
                for role in value:
                    if role not in [r.role for r in roles]:
                        doc.at(value.key_at(role), f"unknown hub role {role!r}",
                               did_you_mean(str(role), [r.role for r in roles]))
            per_role = []
            for role in roles:
                hub_key = hubs[role.hub].key
                if value is None:
                    spec = None
                elif role.role in value:
                    spec, where = value[role.role], value.value_at(role.role)
                else:
                    doc.at(where, f"source {src_name!r}: no columns given for hub {role.role!r}")
                    per_role.append(None)
                    continue
                per_role.append(_columns_for_parts(doc, spec, where, hub_key, source,
                                                   f"source {src_name!r}, hub {role.role!r}"))
            if all(per_role):
                feeds.append(m.LinkFeed(src_name, tuple(per_role)))  # type: ignore[arg-type]
    if len(roles) < 2 or not feeds:
        return None
    return m.Link(name, tuple(roles), tuple(feeds), str(data.get("description", "")))


# ---- satellites ---------------------------------------------------------------------------
def _satellite(name: str, doc: Doc, data: LMap, sources: dict[str, m.Source],
               hubs: dict[str, m.Hub], links: dict[str, m.Link],
               raw: dict[str, dict[str, Any]]) -> m.Satellite | None:
    doc.keys(data, ("description", "parent", "source", "payload"), ("parent", "source", "payload"))
    parent = data.get("parent")
    kind = "hub" if parent in hubs else "link" if parent in links else None
    if "parent" in data and kind is None and parent not in raw["hubs"] and parent not in raw["links"]:
        doc.at(data.value_at("parent"), f"unknown parent {parent!r}",
               did_you_mean(str(parent), list(raw["hubs"]) + list(raw["links"]))
               or "a satellite's parent is a hub or a link")
    source = None
    if "source" in data:
        src_name = data["source"]
        if src_name in sources:
            source = sources[src_name]
        elif src_name not in raw["sources"]:
            doc.at(data.value_at("source"), f"unknown source {src_name!r}",
                   did_you_mean(str(src_name), raw["sources"]) or "add it under models/sources/")
    if source and kind:
        parent_entity = hubs[parent] if kind == "hub" else links[parent]
        if parent_entity.feed(source.name) is None:
            doc.at(data.value_at("source"),
                   f"source {source.name!r} does not feed {kind} {parent!r}, so its rows have no key",
                   f"add {source.name} under sources: in models/{kind}s/{parent}.yml")
            source = None
    payload: list[m.PayloadColumn] = []
    spec = data.get("payload")
    if source is not None and "payload" in data:
        by_name = {c.name: c for c in source.columns}
        items: list[tuple[str, str, tuple[int, int], tuple[int, int]]] = []
        if isinstance(spec, LList):
            items = [(c, c, spec.item_at(i), spec.item_at(i)) for i, c in enumerate(spec)]
        elif isinstance(spec, LMap):
            items = [(k, v, spec.key_at(k), spec.value_at(k)) for k, v in spec.items()]
        else:
            doc.at(data.value_at("payload"), "payload must be a list of source columns",
                   "or a mapping `satellite_column: source_column`")
        if not items and spec is not None and isinstance(spec, (LList, LMap)):
            doc.at(data.value_at("payload"), "a satellite needs at least one payload column")
        seen: set[str] = set()
        for target, column, key_loc, value_loc in items:
            if not doc.name(target, key_loc, "payload column"):
                continue
            if target in RESERVED_COLUMNS or target.startswith("dv_") or target.endswith("_hk"):
                doc.at(key_loc, f"payload column name {target!r} is reserved", "rename it")
                continue
            if target in seen:
                doc.at(key_loc, f"payload column {target!r} appears twice")
                continue
            seen.add(target)
            if column not in by_name:
                doc.at(value_loc, f"source {source.name!r} has no column {column!r}",
                       did_you_mean(str(column), by_name))
                continue
            payload.append(m.PayloadColumn(target, column, by_name[column].type))
        if len(payload) != len(items):
            return None
    if not (source and kind and payload):
        return None
    return m.Satellite(name, str(parent), kind, source.name, tuple(payload),
                       str(data.get("description", "")))
