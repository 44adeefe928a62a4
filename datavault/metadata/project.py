"""Read a project folder into a validated Model, reporting every problem at once.

Every file is checked on its own, then every cross-reference. A file that is broken still
counts as existing, so references to it are not reported again ("unknown hub" for a hub
whose file has a typo); a reference is only checked against the parts of the other file
that are themselves valid. The model is built only when there is no problem at all.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from datavault import model as m
from datavault.diagnostics import DatavaultError, Problems, closest, did_you_mean
from datavault.metadata.marts import read_mart
from datavault.metadata.yamlfile import LList, LMap, read_yaml

IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")
PERCENTAGE = re.compile(r"^([-+]?\d+(?:\.\d+)?)\s*%$")
MAX_NAME = 40
MAX_IDENTIFIER = 63  # PostgreSQL cuts longer names, and SQLAlchemy refuses such index names
KINDS = ("sources", "hubs", "links", "satellites")
FOLDERS = KINDS + ("marts",)
KIND_OF = {"sources": "source", "hubs": "hub", "links": "link", "satellites": "satellite"}
REQUIRED_KEYS = {
    "sources": "columns:",
    "hubs": "business_key: and sources:",
    "links": "hubs: and sources:",
    "satellites": "parent:, source: and payload:",
}
CONFIG_FILE = "config/datavault.yml"
RESERVED_COLUMNS = {"load_ts", "applied_ts", "hash_diff", "record_source", "batch_id"}
NAME_HINT = (f"use lower-case letters, digits and _, starting with a letter, "
             f"at most {MAX_NAME} characters")


def _describe(value: Any) -> str:
    if isinstance(value, LMap):
        return "a mapping"
    if isinstance(value, LList):
        return "a list"
    if isinstance(value, bool):
        return f"the value {str(value).lower()}"
    return f"the number {value}" if isinstance(value, (int, float)) else repr(value)


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
        typos = set()
        for key in data:
            if key not in allowed:
                self.at(data.key_at(key), f"unknown key {key!r}", did_you_mean(str(key), allowed))
                typos.add(closest(str(key), allowed))
        for key in required:
            if key not in data and key not in typos:  # a typo of it is reported already
                self.at((data.line, data.col), f"missing required key {key!r}")

    def name(self, value: Any, where: tuple[int, int], what: str) -> bool:
        if not isinstance(value, str) or not IDENTIFIER.match(value) or len(value) > MAX_NAME:
            self.at(where, f"{what} {value!r} is not a valid name", NAME_HINT)
            return False
        return True

    def word(self, value: Any, where: tuple[int, int], what: str) -> str | None:
        """A value that must be a single name (not a list, a mapping, a number or nothing)."""
        if isinstance(value, str) and value:
            return value
        if value is None or value == "":
            self.at(where, f"{what} is empty")
        else:
            self.at(where, f"{what} must be a name, not {_describe(value)}")
        return None

    def description(self, data: LMap) -> str:
        value = data.get("description") or ""
        if isinstance(value, (LMap, LList)):
            self.at(data.value_at("description"), "description must be a text",
                    "quote it if it contains a colon followed by a space")
            return ""
        return str(value)

    def identifier_length(self, where: tuple[int, int], what: str, identifier: str) -> None:
        if len(identifier) > MAX_IDENTIFIER:
            self.at(where, f"{what} would be {identifier!r}, longer than {MAX_IDENTIFIER} "
                    "characters", "databases cut or refuse such names; use a shorter name")


@dataclass(frozen=True)
class Project:
    """A project folder and its validated model."""

    root: Path
    model: m.Model


@dataclass
class Known:
    """What the files declare, for checking references without repeating a file's problems."""

    settings: m.Settings
    files: dict[str, dict[str, str]] = field(default_factory=lambda: {k: {} for k in KINDS})
    sources: dict[str, m.Source] = field(default_factory=dict)  # every column valid
    hub_keys: dict[str, tuple[m.Column, ...]] = field(default_factory=dict)  # key valid
    fed_by: dict[str, frozenset[str]] = field(default_factory=dict)  # hubs and links

    @property
    def naming(self) -> m.Naming:
        return self.settings.naming

    def what_is(self, name: str) -> str | None:
        for kind in KINDS:
            if name in self.files[kind]:
                return KIND_OF[kind]
        return None

    def unknown_hint(self, name: Any, wanted: tuple[str, ...], fallback: str) -> str:
        """Why ``name`` is not one of the ``wanted`` kinds: a typo, or another kind of thing."""
        what = self.what_is(str(name))
        if what is not None:
            return f"{name!r} is a {what}; {fallback}"
        choices = [n for kind in wanted for n in self.files[kind]]
        return did_you_mean(str(name), choices) or fallback


def model_files(root: Path, kind: str) -> list[Path]:
    folder = root / "models" / kind
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix in (".yml", ".yaml") and p.is_file())


def load_project(root: Path | str) -> Project:
    """Read and validate the project at ``root``; raise ModelError listing every problem."""
    root = Path(root).resolve()
    if not root.is_dir():
        raise DatavaultError(f"project folder {root} does not exist; check --project (-p)")
    if not (root / "models").is_dir():
        raise DatavaultError(f"{root} has no models/ folder, so it is not a datavault project; "
                             "point --project (-p) at a project folder, or run "
                             "`datavault init DIR` to start one")
    problems = Problems()
    known = Known(_read_settings(root, problems))
    _check_layout(root, problems)
    entries: dict[str, list[tuple[str, Doc, LMap, bool]]] = {kind: [] for kind in KINDS}
    entity_files: dict[str, str] = {}
    unread = False  # a hub, link or satellite file that could not be read
    for kind in KINDS:
        for file in model_files(root, kind):
            shown = file.relative_to(root).as_posix()
            doc = Doc(shown, problems)
            name = file.stem
            first = True  # the first file of a name is the one references resolve to
            if doc.name(name, (1, 1), "file name"):
                other = known.files[kind].get(name) or (
                    entity_files.get(name) if kind != "sources" else None
                )
                if other:
                    doc.at((1, 1), f"name {name!r} is already used by {other}",
                           "sources need distinct names" if kind == "sources" else
                           "hubs, links and satellites need distinct names")
                    first = False
                elif kind != "sources" and "__" in name:
                    doc.at((1, 1), f"name {name!r} contains __",
                           "__ separates the parts of the toolkit's own names "
                           "(like sat_NAME__obs); use a single _")
            if first:
                known.files[kind].setdefault(name, shown)
                if kind != "sources":
                    entity_files.setdefault(name, shown)
            before = len(problems.items)
            data = read_yaml(file, shown, problems)
            if data is None:
                if len(problems.items) == before:
                    doc.at((1, 1), "the file is empty",
                           f"a {KIND_OF[kind]} needs {REQUIRED_KEYS[kind]}")
                unread = unread or kind != "sources"
                continue
            data = doc.mapping(data, (1, 1), "the file")
            if data is not None:
                entries[kind].append((name, doc, data, first))
            elif kind != "sources":
                unread = True

    sources: dict[str, m.Source] = {}
    for name, doc, data, first in entries["sources"]:
        source = _source(name, doc, data, known)
        if source is not None and first:
            sources[name] = known.sources[name] = source
    hubs: dict[str, m.Hub] = {}
    for name, doc, data, first in entries["hubs"]:
        hub = _hub(name, doc, data, known)
        if first:
            _note_sources(known, name, data)
            if hub is not None:
                hubs[name] = hub
                known.hub_keys[name] = hub.key
    links: dict[str, m.Link] = {}
    for name, doc, data, first in entries["links"]:
        link = _link(name, doc, data, known)
        if first:
            _note_sources(known, name, data)
            if link is not None:
                links[name] = link
    sats: dict[str, m.Satellite] = {}
    for name, doc, data, first in entries["satellites"]:
        sat = _satellite(name, doc, data, known)
        if sat is not None and first:
            sats[name] = sat
    if not unread:
        _check_unused_sources(entries, known, hubs)
    _check_table_names(known, problems)
    model = m.Model(known.settings, sources, hubs, links, sats)
    broken = {n for kind in ("hubs", "links", "satellites") for n in known.files[kind]
              if n not in hubs and n not in links and n not in sats}
    marts = _read_marts(root, model, broken, problems)
    problems.raise_if_any()
    return Project(root, m.Model(known.settings, sources, hubs, links, sats, marts))


def _read_marts(root: Path, model: m.Model, broken: set[str],
                problems: Problems) -> dict[str, m.Mart]:
    """The marts of ``models/marts/``, checked against the valid parts of ``model``."""
    vault_tables = set(schema_names(model))
    marts: dict[str, m.Mart] = {}
    for file in model_files(root, "marts"):
        shown = file.relative_to(root).as_posix()
        doc = Doc(shown, problems)
        name = file.stem
        if not doc.name(name, (1, 1), "file name"):
            continue
        if "__" in name:
            doc.at((1, 1), f"name {name!r} contains __", "use a single _")
            continue
        before = len(problems.items)
        data = read_yaml(file, shown, problems)
        if data is None:
            if len(problems.items) == before:
                doc.at((1, 1), "the file is empty", "a mart needs pit: or bridge:, and spine:")
            continue
        data = doc.mapping(data, (1, 1), "the file")
        if data is None:
            continue
        mart = read_mart(name, doc, data, model, broken)
        if mart is None:
            continue
        names = [mart.table] + [mart.view(v) for v in m.MART_VIEWS]
        clash = next((n for n in names if n in vault_tables), None)
        if clash:
            doc.at((1, 1), f"mart {name!r} would make {clash!r}, which is a table of the vault",
                   "rename the mart file")
            continue
        for other in marts.values():
            if {mart.table, *(mart.view(v) for v in m.MART_VIEWS)} & {
                    other.table, *(other.view(v) for v in m.MART_VIEWS)}:
                doc.at((1, 1), f"mart {name!r} and mart {other.name!r} would share a table or "
                       "view name", "rename one of them")
                break
        else:
            marts[name] = mart
    return marts


def schema_names(model: m.Model) -> list[str]:
    """Every table name of the vault itself (stages, hubs, links, satellites and logs)."""
    names = [model.stage_table(s) for s in model.sources]
    names += [model.hub_table(h) for h in model.hubs]
    names += [model.link_table(lk) for lk in model.links]
    for sat in model.satellites:
        names += [model.sat_table(sat), model.sat_log_table(sat)]
    return names


def _check_layout(root: Path, problems: Problems) -> None:
    """Model files or folders that would be silently ignored."""
    models = root / "models"
    for path in sorted(models.iterdir()):
        shown = path.relative_to(root).as_posix()
        if path.name.startswith("."):
            continue
        if path.is_dir() and path.name not in FOLDERS:
            problems.add(shown, 1, 1, f"unknown folder {shown}/, its files are not read",
                         did_you_mean(path.name, FOLDERS))
        elif path.is_dir():
            for inner in sorted(path.iterdir()):
                if inner.is_dir() and not inner.name.startswith("."):
                    problems.add(inner.relative_to(root).as_posix(), 1, 1,
                                 f"folder {inner.relative_to(root).as_posix()}/ is not read",
                                 f"model files go directly in {shown}/")
        elif path.suffix in (".yml", ".yaml"):
            problems.add(shown, 1, 1, "model file outside a kind folder, it is not read",
                         "move it to models/sources/, models/hubs/, models/links/, "
                         "models/satellites/ or models/marts/")


def _check_unused_sources(entries: dict[str, list[tuple[str, Doc, LMap, bool]]], known: Known,
                          hubs: dict[str, m.Hub]) -> None:
    """A source that no hub, link or satellite names: a load of it would stage its rows and
    keep none of them, so it is refused here rather than found out by an empty load.

    Only checked when every hub, link and satellite file was read, with a mapping under
    sources: (else the source may be named in the part that could not be read).
    """
    if any(not isinstance(data.get("sources"), LMap)
           for kind in ("hubs", "links") for _, _, data, _ in entries[kind]):
        return
    used = {s for names in known.fed_by.values() for s in names}
    used |= {str(data.get("source")) for _, _, data, _ in entries["satellites"]}
    for name, doc, _, first in entries["sources"]:
        if not first or name in used:
            continue
        source = known.sources.get(name)
        columns = {(c.name, c.type) for c in source.columns} if source else set()
        fits = [h for h, hub in sorted(hubs.items())
                if all((part.name, part.type) in columns for part in hub.key)]
        if fits:
            hint = (f"it has the key columns of hub {fits[0]!r}: list it under sources: in "
                    f"models/hubs/{fits[0]}.yml")
        else:
            names = sorted(known.files["hubs"]) + sorted(known.files["links"])
            hint = "list it under sources: of a hub or link" + (
                ": " + ", ".join(names) if 0 < len(names) <= 8 else "")
        doc.at((1, 1), f"source {name!r} feeds no hub, link or satellite, so a load of it "
               "would keep nothing", hint)


def _note_sources(known: Known, name: str, data: LMap) -> None:
    """The sources a hub or link file lists (checked in that file), for its satellites."""
    listed = data.get("sources")
    if isinstance(listed, LMap):
        known.fed_by[name] = frozenset(str(s) for s in listed)


def _check_table_names(known: Known, problems: Problems) -> None:
    """Two entities whose tables would have the same name (through the naming patterns)."""
    naming = known.naming
    tables: dict[str, str] = {}
    for kind in KINDS:
        for name, path in sorted(known.files[kind].items()):
            if not IDENTIFIER.match(name) or len(name) > MAX_NAME:
                continue  # reported as a bad file name
            if kind == "sources":
                names = [naming.stage_table(name)]
            elif kind == "hubs":
                names = [naming.hub_table(name)]
            elif kind == "links":
                names = [naming.link_table(name)]
            else:
                names = [naming.sat_table(name), naming.sat_log_table(name)]
            doc = Doc(path, problems)
            for table in names:
                what = f"{KIND_OF[kind]} {name!r}"
                if table in tables:
                    doc.at((1, 1), f"table name {table!r} of {what} is also the table of "
                           f"{tables[table]}",
                           "rename one of them, or change naming: in config/datavault.yml")
                else:
                    tables[table] = what
                    doc.identifier_length((1, 1), f"the table name of {what}", table)


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
    if "naming" in data and (
        raw := doc.mapping(data["naming"], data.value_at("naming"), "naming")
    ) is not None:
        doc.keys(raw, ("hub", "link", "satellite", "stage"))
        values = {}
        for key, pattern in raw.items():
            if not isinstance(pattern, str) or "{name}" not in pattern or not IDENTIFIER.match(
                pattern.replace("{name}", "x")
            ):
                doc.at(raw.value_at(key), f"naming pattern {pattern!r} is not usable",
                       "write a table name with {name} in it, for example hub_{name}")
            elif pattern.startswith("dv_"):
                doc.at(raw.value_at(key), f"naming pattern {pattern!r} starts with dv_",
                       "dv_ is kept for the toolkit's own tables; use another prefix")
            else:
                values[key] = pattern
        naming = m.Naming(**{k: v for k, v in values.items() if k in m.Naming.__dataclass_fields__})
    profiles: list[tuple[str, tuple[tuple[str, str], ...]]] = []
    if "profiles" in data and (
        raw := doc.mapping(data["profiles"], data.value_at("profiles"), "profiles")
    ) is not None:
        for name, body in raw.items():
            body = doc.mapping(body, raw.value_at(name), f"profile {name!r}")
            if body is None:
                continue
            doc.keys(body, ("url", "url_env"))
            if ("url" in body) == ("url_env" in body):
                doc.at(raw.key_at(name), f"profile {name!r} needs exactly one of url or url_env",
                       "url_env names an environment variable that holds the URL, for secrets")
            for key in ("url", "url_env"):
                if key in body and not (isinstance(body[key], str) and body[key]):
                    doc.at(body.value_at(key), f"{key} of profile {name!r} must be a text")
            profiles.append((str(name), tuple((str(k), str(v)) for k, v in body.items())))
    profile = None
    if "profile" in data:
        profile = doc.word(data["profile"], data.value_at("profile"), "profile")
        if profile is not None and profile not in dict(profiles):
            doc.at(data.value_at("profile"), f"unknown profile {profile!r}",
                   did_you_mean(profile, dict(profiles)) or "define it under profiles:")
    return m.Settings(hash_algorithm, null_keys, naming, tuple(profiles), profile)


# ---- sources ------------------------------------------------------------------------------
def _source(name: str, doc: Doc, data: LMap, known: Known) -> m.Source | None:
    """The source, if all its columns are valid (other problems are only reported)."""
    doc.keys(data, ("description", "record_source", "batch", "applied_at", "sequence",
                    "max_deletes", "columns", "input"), ("columns",))
    description = doc.description(data)
    columns: list[m.Column] = []
    complete = False
    if "columns" in data and (
        raw := doc.mapping(data["columns"], data.value_at("columns"), "columns")
    ) is not None:
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
        complete = bool(raw) and len(columns) == len(raw)
    by_name = {c.name: c for c in columns}
    batch = data.get("batch", "delta")
    if batch not in m.BATCH_KINDS:
        doc.at(data.value_at("batch"), f"unknown batch kind {batch!r}",
               "use snapshot (every batch holds every key) or delta (only changes)")
    max_deletes = _max_deletes(doc, data, batch)
    applied_at = data.get("applied_at")
    if applied_at is not None:
        applied_at = doc.word(applied_at, data.value_at("applied_at"), "applied_at")
        if applied_at is None or not complete:
            pass
        elif applied_at not in by_name:
            doc.at(data.value_at("applied_at"), f"applied_at names unknown column {applied_at!r}",
                   did_you_mean(applied_at, by_name) or
                   "leave applied_at out to use the batch's load time")
        elif by_name[applied_at].type not in ("timestamp", "date"):
            doc.at(data.value_at("applied_at"),
                   f"applied_at column {applied_at!r} is {by_name[applied_at].type}",
                   "it must be a timestamp or a date column")
    sequence = data.get("sequence")
    if sequence is not None:
        sequence = doc.word(sequence, data.value_at("sequence"), "sequence")
        if sequence is not None and complete and sequence not in by_name:
            doc.at(data.value_at("sequence"), f"sequence names unknown column {sequence!r}",
                   did_you_mean(sequence, by_name))
    record_source = data.get("record_source", name)
    if not isinstance(record_source, str) or not record_source:
        doc.at(data.value_at("record_source"),
               f"record_source must be a non-empty text, not {_describe(record_source)}",
               "YAML reads no, on, 1.10 and dates as other values than text: "
               "put the text in quotes" if record_source is not None
               and not isinstance(record_source, (str, LMap, LList))
               else "")
    elif "\x00" in record_source:  # no database stores it in a text column
        doc.at(data.value_at("record_source"), "record_source must not hold a NUL character",
               "remove the \\0 (or \\x00) escape from it")
    input_format = _input_format(doc, data)
    if not complete or input_format is None:
        return None
    return m.Source(name, str(record_source), tuple(columns), str(batch), applied_at, sequence,
                    description, input_format, max_deletes)


_CHARACTER_NAMES = {"tab": "\t", "comma": ",", "pipe": "|", "semicolon": ";", "space": " "}


def _input_format(doc: Doc, data: LMap) -> m.InputFormat | None:
    """A source's ``input:`` (how its files are read), or None when it has a problem."""
    if "input" not in data:
        return m.InputFormat()
    raw = doc.mapping(data["input"], data.value_at("input"), "input")
    if raw is None:
        return None
    doc.keys(raw, ("format", "delimiter", "quote", "escape", "encoding", "header"))
    before = len(doc.problems.items)
    values: dict[str, Any] = {}
    if "format" in raw:
        if raw["format"] not in m.INPUT_FORMATS:
            doc.at(raw.value_at("format"), f"unknown input format {raw['format']!r}",
                   did_you_mean(str(raw["format"]), m.INPUT_FORMATS)
                   or "use csv, parquet or jsonl (or leave it out: the file name tells)")
        values["format"] = raw["format"]
    for key, optional in (("delimiter", False), ("quote", True), ("escape", True)):
        if key not in raw:
            continue
        value = raw[key]
        if optional and value in (None, False, "none", ""):
            values[key] = None
            continue
        if isinstance(value, str):
            value = _CHARACTER_NAMES.get(value.lower(), value)
        if not isinstance(value, str) or len(value) != 1 or value in "\r\n":
            doc.at(raw.value_at(key), f"input {key} must be one character, not "
                   f"{_describe(value)}",
                   "write it in quotes, e.g. \"|\" or \"\\t\" (or tab)"
                   + ("; none for no " + key if optional else ""))
            continue
        values[key] = value
    if "encoding" in raw:
        try:
            values["encoding"] = codecs.lookup(str(raw["encoding"])).name
        except LookupError:
            doc.at(raw.value_at("encoding"), f"unknown encoding {raw['encoding']!r}",
                   "use a name Python knows, such as utf-8, latin-1 or cp1252")
    if "header" in raw:
        if not isinstance(raw["header"], bool):
            doc.at(raw.value_at("header"), f"header must be true or false, not "
                   f"{_describe(raw['header'])}",
                   "false: the file has no header line; its fields are the source's columns "
                   "in declared order")
        values["header"] = raw["header"]
    chosen = [values.get(k) for k in ("delimiter", "quote", "escape") if values.get(k)]
    if len(set(chosen)) < len(chosen):
        doc.at(raw.value_at("delimiter") if "delimiter" in raw else (raw.line, raw.col),
               "the input's delimiter, quote and escape must be different characters")
    if len(doc.problems.items) > before:
        return None
    return m.InputFormat(**values)


def _max_deletes(doc: Doc, data: LMap, batch: Any) -> Decimal:
    """A snapshot source's ``max_deletes``: a percentage from 0% to 100%."""
    if "max_deletes" not in data:
        return m.DEFAULT_MAX_DELETES
    value, where = data["max_deletes"], data.value_at("max_deletes")
    if batch != "snapshot":
        if batch in m.BATCH_KINDS:  # an unknown kind is reported already
            doc.at(data.key_at("max_deletes"),
                   "max_deletes is for snapshot sources: a delta source deletes nothing",
                   "remove it, or declare batch: snapshot if every batch holds every key")
        return m.DEFAULT_MAX_DELETES
    match = PERCENTAGE.match(value.strip()) if isinstance(value, str) else None
    if match is None:
        shown = (f"{value}%" if isinstance(value, int) and not isinstance(value, bool)
                 and 0 <= value <= 100 else "50%")
        doc.at(where, f"max_deletes must be a percentage, not {_describe(value)}",
               f"write it with a % sign, e.g. max_deletes: {shown}")
        return m.DEFAULT_MAX_DELETES
    share = Decimal(match.group(1))
    if not 0 <= share <= 100:
        doc.at(where, f"max_deletes {value.strip()} is not between 0% and 100%",
               "0% refuses a snapshot that would delete any key; 100% sets no limit")
        return m.DEFAULT_MAX_DELETES
    return share


def _source_ref(doc: Doc, data: LMap, key: Any, known: Known) -> m.Source | None:
    """The source a ``sources:`` key names; None (reported unless its file is broken) if not."""
    if key in known.sources:
        return known.sources[key]
    if key not in known.files["sources"]:
        doc.at(data.key_at(key), f"unknown source {key!r}",
               known.unknown_hint(key, ("sources",), "add it under models/sources/"))
    return None


def _columns_for_parts(doc: Doc, value: Any, where: tuple[int, int], parts: tuple[m.Column, ...],
                       source: m.Source, prefix: str) -> tuple[str, ...] | None:
    """Resolve a per-source key mapping: a column, a list in key order, or part: column.

    ``prefix`` is put before each message (for links: which hub role it is about).
    """
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
                doc.at(value.key_at(part), f"{prefix}unknown key part {part!r}",
                       did_you_mean(str(part), names))
        missing = [n for n in names if n not in value]
        if missing:
            doc.at(where, f"{prefix}source {source.name!r}: no column given for key part "
                   f"{', '.join(missing)}")
            return None
        columns = [value[n] for n in names]
        locs = [value.value_at(n) for n in names]
    else:
        doc.at(where, f"{prefix}source {source.name!r}: expected a column name, a list or a "
               f"mapping `key_part: column`, not {_describe(value)}")
        return None
    if len(columns) != len(parts):
        doc.at(where, f"{prefix}source {source.name!r}: {len(columns)} column(s) given for a key "
               f"of {len(parts)} part(s) ({', '.join(names)})")
        return None
    ok = True
    by_name = {c.name: c for c in source.columns}
    for column, part, loc in zip(columns, parts, locs, strict=True):
        if not isinstance(column, str):
            doc.at(loc, f"{prefix}expected a column name of source {source.name!r}, "
                   f"not {_describe(column)}")
            ok = False
        elif column not in by_name:
            hint = did_you_mean(column, by_name)
            if value is None and not hint:
                hint = "with no columns given, the key part names are the column names"
            doc.at(loc, f"{prefix}source {source.name!r} has no column {column!r}", hint)
            ok = False
        elif by_name[column].type == "float":
            doc.at(loc, f"{prefix}column {column!r} of source {source.name!r} is a float and "
                   "cannot be a business key",
                   "floats have no exact text; declare it as decimal or integer in the source")
            ok = False
        elif by_name[column].type != part.type:
            doc.at(loc, f"{prefix}column {column!r} of source {source.name!r} is "
                   f"{by_name[column].type} but key part {part.name!r} is {part.type}",
                   "declare both with the same type")
            ok = False
    return tuple(columns) if ok else None


# ---- hubs ---------------------------------------------------------------------------------
def _hub(name: str, doc: Doc, data: LMap, known: Known) -> m.Hub | None:
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
            source = _source_ref(doc, srcs, src_name, known)
            if source is None or not key_ok:
                continue
            where = srcs.value_at(src_name) if value is not None else srcs.key_at(src_name)
            cols = _columns_for_parts(doc, value, where, tuple(key), source, "")
            if cols:
                feeds.append(m.HubFeed(src_name, cols))
    if not key_ok:
        return None
    return m.Hub(name, tuple(key), tuple(feeds), description)


# ---- links --------------------------------------------------------------------------------
def _link(name: str, doc: Doc, data: LMap, known: Known) -> m.Link | None:
    doc.keys(data, ("description", "hubs", "sources"), ("hubs", "sources"))
    description = doc.description(data)
    table = known.naming.link_table(name)
    roles: list[m.LinkRole] = []
    role_names: set[str] = set()
    entries = data.get("hubs")
    if "hubs" in data:
        if not isinstance(entries, LList):
            doc.at(data.value_at("hubs"), "hubs must be a list of hub names",
                   "for example: hubs: [order, customer]")
            entries = None
        elif len(entries) < 2:
            doc.at(data.value_at("hubs"), "a link joins at least two hubs",
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
            doc.at(where, "a link hub is a hub name, or `role: hub` for a hub joined twice")
            continue
        if hub not in known.files["hubs"]:
            doc.at(hub_at, f"unknown hub {hub!r}",
                   known.unknown_hint(hub, ("hubs",), "a link joins hubs"))
            continue
        if not doc.name(role, where, "role"):
            continue
        if role == name:
            doc.at(where, f"hub role {role!r} has the name of the link itself",
                   f"its key column would be the link's own key column "
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
    role_list = [r.role for r in roles]
    feeds: list[m.LinkFeed] = []
    if "sources" in data and (
        srcs := doc.mapping(data["sources"], data.value_at("sources"), "sources")
    ) is not None:
        if not srcs:
            doc.at(data.value_at("sources"), "a link needs at least one source",
                   "list each source that carries the keys of all its hubs")
        for src_name, value in srcs.items():
            source = _source_ref(doc, srcs, src_name, known)
            if value is not None and not isinstance(value, LMap):
                doc.at(srcs.value_at(src_name),
                       f"source {src_name!r} must give each hub's key column(s) as `hub: column`",
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
                per_role.append(_columns_for_parts(doc, spec, where, hub_key, source,
                                                   f"hub {role.role!r}: "))
            if complete and all(per_role):
                feeds.append(m.LinkFeed(src_name, tuple(per_role)))  # type: ignore[arg-type]
    if not complete:
        return None
    return m.Link(name, tuple(roles), tuple(feeds), description)


# ---- satellites ---------------------------------------------------------------------------
def _satellite(name: str, doc: Doc, data: LMap, known: Known) -> m.Satellite | None:
    doc.keys(data, ("description", "parent", "source", "payload"), ("parent", "source", "payload"))
    description = doc.description(data)
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
                                      "a satellite's parent is a hub or a link"))
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
        if isinstance(spec, (LList, LMap)) and not spec:
            doc.at(data.value_at("payload"), "a satellite needs at least one payload column")
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
                       f"write `{target}: SOURCE_COLUMN`, or use a list when the names are equal")
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
        complete = bool(items) and len(payload) == len(items)
    if not (parent and kind and source and src_name and complete):
        return None
    return m.Satellite(name, parent, kind, source.name, tuple(payload), description)
