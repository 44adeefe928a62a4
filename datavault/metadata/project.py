"""Read a project folder into a validated Model, reporting every problem at once.

Every file is checked on its own, then every cross-reference. A file that is broken still
counts as existing, so references to it are not reported again ("unknown hub" for a hub
whose file has a typo); a reference is only checked against the parts of the other file
that are themselves valid. The model is built only when there is no problem at all.
"""

from __future__ import annotations

import codecs
import dataclasses
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from datavault import model as m
from datavault.diagnostics import DatavaultError, Problems, did_you_mean
from datavault.kinds import KINDS as KINDS_BY_NAME
from datavault.metadata.checks import IDENTIFIER, MAX_NAME, Doc, Known, describe
from datavault.metadata.marts import read_mart
from datavault.metadata.quality import read_checks, typed_text
from datavault.metadata.yamlfile import LList, LMap, read_yaml

PERCENTAGE = re.compile(r"^([-+]?\d+(?:\.\d+)?)\s*%$")
#: the folders of models/ that declare sources and entities, in the order they are read
KINDS = ("sources", *(kind.folder for kind in KINDS_BY_NAME.values()))
FOLDERS = KINDS + ("marts",)
#: what a file of each folder declares
KIND_OF = {"sources": "source", **{k.folder: k.name for k in KINDS_BY_NAME.values()}}
REQUIRED_KEYS = {"sources": "columns:", **{k.folder: k.needs for k in KINDS_BY_NAME.values()}}
CONFIG_FILE = "config/datavault.yml"


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
    if not root.is_dir():
        raise DatavaultError(f"project folder {root} does not exist; check --project (-p)")
    if not (root / "models").is_dir():
        raise DatavaultError(f"{root} has no models/ folder, so it is not a datavault project; "
                             "point --project (-p) at a project folder, or run "
                             "`datavault init DIR` to start one")
    problems = Problems()
    known = Known(_read_settings(root, problems), {kind: {} for kind in KINDS}, KIND_OF)
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
    entities: dict[str, m.Entity] = {}
    for kind in KINDS_BY_NAME.values():
        for name, doc, data, first in entries[kind.folder]:
            entity = kind.read(name, doc, data, known)
            if first:
                kind.note(known, name, data, entity)
                if entity is not None:
                    entities[name] = entity
    model = m.Model(known.settings, sources, entities)
    if not unread:
        _check_unused_sources(entries, known, model.hubs)
    _check_deletion_ends(entries, known, model, unread)
    _check_table_names(known, problems)
    broken = {n for kind in KINDS_BY_NAME.values() for n in known.files[kind.folder]
              if n not in entities}
    marts = _read_marts(root, model, broken, problems)
    problems.raise_if_any()
    return Project(root, m.Model(known.settings, sources, entities, marts))


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
    for entity in model.entities.values():
        names += KINDS_BY_NAME[entity.kind].table_names(model.settings.naming, entity.name)
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
                         "move it to the folder of its kind: "
                         + ", ".join(f"models/{f}/" for f in FOLDERS[:-1])
                         + f" or models/{FOLDERS[-1]}/")


def _check_unused_sources(entries: dict[str, list[tuple[str, Doc, LMap, bool]]], known: Known,
                          hubs: dict[str, m.Hub]) -> None:
    """A source that no entity names (no hub, link, satellite or reference table): a load of
    it would stage its rows and keep none of them, so it is refused here rather than found
    out by an empty load.

    Only checked when every file of every kind was read, with a mapping under
    sources: (else the source may be named in the part that could not be read).
    """
    used: set[str] = set()
    for kind in KINDS_BY_NAME.values():
        for _, _, data, _ in entries[kind.folder]:
            named = kind.sources_named(data)
            if named is None:
                return
            used |= named
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
                " (" + ", ".join(names) + ")" if 0 < len(names) <= 8 else "") + (
                ", or name it as the source: of a reference table (a code list, "
                "models/reference_tables/)")
        doc.at((1, 1), f"source {name!r} feeds no hub, link, satellite or reference table, "
               "so a load of it would keep nothing", hint)


def _check_deletion_ends(entries: dict[str, list[tuple[str, Doc, LMap, bool]]], known: Known,
                         model: m.Model, unread: bool) -> None:
    """A source's ``deleted: ends:`` names hubs and links; a source without ``ends`` feeds
    satellites (of any kind that keeps history) of one parent at most, since a row names keys
    of records it does not delete: a deleted order is not a deleted customer."""
    for name, doc, data, first in entries["sources"]:
        source = known.sources.get(name)
        if not first or source is None or source.deleted is None:
            continue
        spec = data["deleted"]
        if source.deleted.ends and isinstance(spec, LMap):
            ends = spec["ends"]
            for index, end in enumerate(ends):
                if end not in known.files["hubs"] and end not in known.files["links"]:
                    doc.at(ends.item_at(index), f"ends names unknown hub or link {end!r}",
                           known.unknown_hint(end, ("hubs", "links"),
                                              "a marked row ends the satellites of a hub or "
                                              "link the source feeds"))
            continue
        if unread:
            continue  # the satellites of a file that could not be read are not known
        parents = sorted({e.parent for e in model.entities.values()
                          if e.fed_by(name) and KINDS_BY_NAME[e.kind].keeps_history
                          and hasattr(e, "parent")})
        if len(parents) > 1:
            doc.at(data.key_at("deleted"),
                   f"source {name!r} feeds satellites of {', '.join(parents)}: say which of "
                   "them a marked row deletes",
                   f"add ends: [{parents[0]}] (the hubs and links whose records the source's "
                   "rows are) under deleted:")


def _check_table_names(known: Known, problems: Problems) -> None:
    """Two entities whose tables would have the same name (through the naming patterns)."""
    naming = known.naming
    tables: dict[str, str] = {}
    for kind in KINDS:
        for name, path in sorted(known.files[kind].items()):
            if not IDENTIFIER.match(name) or len(name) > MAX_NAME:
                continue  # reported as a bad file name
            entity_kind = KINDS_BY_NAME.get(KIND_OF[kind])
            names = (entity_kind.table_names(naming, name) if entity_kind
                     else [naming.stage_table(name)])
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
        doc.keys(raw, tuple(m.Naming.__dataclass_fields__))
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
                    "max_deletes", "deleted", "columns", "input", "checks"), ("columns",))
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
               f"record_source must be a non-empty text, not {describe(record_source)}",
               "YAML reads no, on, 1.10 and dates as other values than text: "
               "put the text in quotes" if record_source is not None
               and not isinstance(record_source, (str, LMap, LList))
               else "")
    elif "\x00" in record_source:  # no database stores it in a text column
        doc.at(data.value_at("record_source"), "record_source must not hold a NUL character",
               "remove the \\0 (or \\x00) escape from it")
    input_format = _input_format(doc, data)
    deleted = _delete_marker(doc, data, by_name, batch) if complete else None
    checks = read_checks(doc, data, by_name) if complete else ()
    if not complete or input_format is None or (deleted is None and "deleted" in data) \
            or checks is None:
        return None
    source = m.Source(name, str(record_source), tuple(columns), str(batch), applied_at,
                      sequence, description, input_format, max_deletes, deleted, checks)
    if input_format.format == "debezium":
        return _change_events(doc, data, source)
    return source


CHANGE_HINT = ("e.g. input: {format: debezium, fields: {changed_at: ts_ms, lsn: position, "
               "op: op}} with applied_at: changed_at, sequence: lsn and "
               "deleted: {column: op, values: [d]}")


def _change_events(doc: Doc, data: LMap, source: m.Source) -> m.Source | None:
    """A source of Debezium change events (README: Change events): its ``input: fields:``
    (the columns taken from the envelope) and what the envelope's meaning asks of the source:
    a delta batch, an applied time from the event, and ``op`` d as its delete marker."""
    raw_input = data["input"]
    before = len(doc.problems.items)
    by_name = {c.name: c for c in source.columns}
    fields: list[tuple[str, str]] = []
    raw = raw_input.get("fields")
    if raw is not None and (raw := doc.mapping(raw, raw_input.value_at("fields"),
                                               "fields")) is not None:
        for column, field in raw.items():
            if column not in by_name:
                doc.at(raw.key_at(column), f"fields names unknown column {column!r}",
                       did_you_mean(str(column), by_name) or "declare it under columns:")
                continue
            if not isinstance(field, str) or not (
                    field in m.CHANGE_FIELDS or any(
                        field.startswith(p) and len(field) > len(p)
                        for p in m.CHANGE_FIELD_PREFIXES)):
                doc.at(raw.value_at(column), f"unknown change event field {field!r}",
                       did_you_mean(str(field), m.CHANGE_FIELDS) or
                       "use op, ts_ms, ts_us, ts_ns, position, or source.NAME / "
                       "transaction.NAME for another field of the envelope")
                continue
            wanted = {"position": "text", "op": "text"}.get(field)
            if wanted and by_name[column].type != wanted:
                doc.at(raw.value_at(column), f"column {column!r} takes {field} but is "
                       f"{by_name[column].type}", f"declare it as {wanted}" + (
                           ": a log position is ordered as text" if field == "position"
                           else ""))
                continue
            fields.append((str(column), field))
    taking = {f: c for c, f in fields}
    where = data.key_at("input")
    if source.batch != "delta":
        doc.at(data.value_at("batch"), "a source of change events is a delta source",
               "remove batch: snapshot (each event is one change)")
    if source.applied_at is None:
        doc.at(where, "a source of change events needs applied_at (else a re-delivered "
               "event would be observed at a new time)",
               "take the event's time into a timestamp column; " + CHANGE_HINT)
    if "op" not in taking:
        doc.at(where, "a source of change events needs a column taking op (d marks a "
               "deletion)", CHANGE_HINT)
    elif source.deleted is None or source.deleted.column != taking["op"] \
            or "d" not in source.deleted.values:
        doc.at(data.key_at("deleted") if "deleted" in data else where,
               f"a delete event (op d) must be a delete marker: declare deleted: "
               f"{{column: {taking['op']}, values: [d]}}",
               "else a deleted row's before image would load as the row")
    if len(doc.problems.items) > before:
        return None
    return dataclasses.replace(source, input=dataclasses.replace(source.input,
                                                                 fields=tuple(fields)))


DELETED_HINT = ("write `deleted: COLUMN` for a boolean column whose true marks a deletion, or "
                "`deleted: {column: COLUMN, values: [VALUE, ...], ends: [HUB_OR_LINK, ...]}`")


def _delete_marker(doc: Doc, data: LMap, by_name: dict[str, m.Column],
                   batch: Any) -> m.DeleteMarker | None:
    """A delta source's ``deleted:`` (SEMANTICS.md section 5): a boolean column, or a column,
    the values in it that mark a deletion, and the hubs and links whose satellites it ends.
    The values are kept as their canonical texts of section 1. Names in ``ends`` are checked
    against the hubs and links once they are read (``_check_deletion_ends``)."""
    if "deleted" not in data:
        return None
    spec, where = data["deleted"], data.value_at("deleted")
    if batch == "snapshot":
        doc.at(data.key_at("deleted"), "deleted: is for delta sources",
               "a snapshot deletes a key by lacking it; use batch: delta for a change feed")
        return None
    if isinstance(spec, str):
        column = doc.word(spec, where, "deleted")
        if column is None:
            return None
        if column not in by_name:
            doc.at(where, f"deleted names unknown column {column!r}",
                   did_you_mean(column, by_name) or DELETED_HINT)
            return None
        if by_name[column].type != "boolean":
            doc.at(where, f"deleted column {column!r} is {by_name[column].type}, not boolean",
                   f"name the values that mark a deletion: deleted: {{column: {column}, "
                   "values: [VALUE]}")
            return None
        return m.DeleteMarker(column, ("true",))
    spec = doc.mapping(spec, where, "deleted") if isinstance(spec, LMap) else None
    if spec is None:
        doc.at(where, "deleted must be a column name or a mapping", DELETED_HINT)
        return None
    doc.keys(spec, ("column", "values", "ends"), ("column", "values"))
    ok = True
    column = None
    if "column" in spec:
        column = doc.word(spec["column"], spec.value_at("column"), "deleted column")
        if column is not None and column not in by_name:
            doc.at(spec.value_at("column"), f"deleted names unknown column {column!r}",
                   did_you_mean(column, by_name))
            column = None
    texts: list[str] = []
    raw = spec.get("values")
    if "values" in spec:
        if not isinstance(raw, LList) or not raw:
            doc.at(spec.value_at("values"), "values must be a list of the values that mark a "
                   "deletion", "e.g. values: [d]")
            ok = False
        elif column is not None:
            type_name = by_name[column].type
            for index, value in enumerate(raw):
                text = _marker_text(doc, value, raw.item_at(index), column, type_name)
                if text is None:
                    ok = False
                elif text not in texts:
                    texts.append(text)
    ends: list[str] = []
    if "ends" in spec:
        raw_ends = spec["ends"]
        if not isinstance(raw_ends, LList) or not raw_ends:
            doc.at(spec.value_at("ends"), "ends must be a list of hubs and links",
                   "the hubs and links whose satellites a marked row deletes, e.g. ends: [order]")
            ok = False
        else:
            for index, end in enumerate(raw_ends):
                word = doc.word(end, raw_ends.item_at(index), "an item of ends")
                if word is None:
                    ok = False
                elif word in ends:
                    doc.at(raw_ends.item_at(index), f"{word!r} appears twice in ends")
                else:
                    ends.append(word)
    if column is None or not ok or not texts:
        return None
    return m.DeleteMarker(column, tuple(texts), tuple(ends))


def _marker_text(doc: Doc, value: Any, where: tuple[int, int], column: str,
                 type_name: str) -> str | None:
    """The canonical text of a value of ``values:`` read as the column's type; None (and a
    problem reported) when it is not one."""
    return typed_text(doc, value, where, m.Column(column, type_name), "a value of deleted",
                      "NULL and empty fields never mark a deletion")


_CHARACTER_NAMES = {"tab": "\t", "comma": ",", "pipe": "|", "semicolon": ";", "space": " "}


def _input_format(doc: Doc, data: LMap) -> m.InputFormat | None:
    """A source's ``input:`` (how its files are read), or None when it has a problem."""
    if "input" not in data:
        return m.InputFormat()
    raw = doc.mapping(data["input"], data.value_at("input"), "input")
    if raw is None:
        return None
    doc.keys(raw, ("format", "delimiter", "quote", "escape", "encoding", "header", "fields"))
    if "fields" in raw and raw.get("format") != "debezium":
        doc.at(raw.key_at("fields"), "fields: is for change events (format: debezium)",
               "add format: debezium, or remove fields:")
    before = len(doc.problems.items)
    values: dict[str, Any] = {}
    if "format" in raw:
        if raw["format"] not in m.INPUT_FORMATS:
            doc.at(raw.value_at("format"), f"unknown input format {raw['format']!r}",
                   did_you_mean(str(raw["format"]), m.INPUT_FORMATS)
                   or "use csv, parquet, jsonl or debezium (or leave it out: the file name "
                   "tells)")
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
                   f"{describe(value)}",
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
                   f"{describe(raw['header'])}",
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
        doc.at(where, f"max_deletes must be a percentage, not {describe(value)}",
               f"write it with a % sign, e.g. max_deletes: {shown}")
        return m.DEFAULT_MAX_DELETES
    share = Decimal(match.group(1))
    if not 0 <= share <= 100:
        doc.at(where, f"max_deletes {value.strip()} is not between 0% and 100%",
               "0% refuses a snapshot that would delete any key; 100% sets no limit")
        return m.DEFAULT_MAX_DELETES
    return share
