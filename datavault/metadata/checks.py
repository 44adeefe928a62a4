"""The checks every model file shares: a file being read (``Doc``), what the files declare
(``Known``), names, and the source columns that carry a key.

The entity kinds (``datavault.kinds``) read their files with these; the project reader
(``metadata/project.py``) drives them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from datavault import model as m
from datavault.diagnostics import Problems, closest, did_you_mean
from datavault.metadata.yamlfile import LList, LMap

IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")
MAX_NAME = 40
# The longest name a model may give a table, column, index or constraint: the shortest
# ``Dialect.max_identifier_length`` of every engine, so that a model moves between engines
# unchanged (tests/test_validate.py checks the two agree)
MAX_IDENTIFIER = 63
RESERVED_COLUMNS = {"load_ts", "applied_ts", "hash_diff", "record_source", "batch_id"}
NAME_HINT = (f"use lower-case letters, digits and _, starting with a letter, "
             f"at most {MAX_NAME} characters")


def describe(value: Any) -> str:
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
            self.at(where, f"{what} must be a name, not {describe(value)}")
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


@dataclass
class Known:
    """What the files declare, for checking references without repeating a file's problems."""

    settings: m.Settings
    #: per folder of models/ (``sources``, ``hubs``, ...), the file of each name it declares
    files: dict[str, dict[str, str]] = field(default_factory=dict)
    #: per folder, what one of its files declares (``source``, ``hub``, ...)
    what: dict[str, str] = field(default_factory=dict)
    sources: dict[str, m.Source] = field(default_factory=dict)  # every column valid
    hub_keys: dict[str, tuple[m.Column, ...]] = field(default_factory=dict)  # key valid
    fed_by: dict[str, frozenset[str]] = field(default_factory=dict)  # hubs and links
    links: dict[str, m.Link] = field(default_factory=dict)  # every hub and feed valid
    #: per same-as or hierarchy link, the effectivity satellite that says when its edges are
    #: in effect (SEMANTICS.md section 10)
    edge_effectivity: dict[str, str] = field(default_factory=dict)

    @property
    def naming(self) -> m.Naming:
        return self.settings.naming

    def what_is(self, name: str) -> str | None:
        for folder, names in self.files.items():
            if name in names:
                return self.what[folder]
        return None

    def unknown_hint(self, name: Any, wanted: tuple[str, ...], fallback: str) -> str:
        """Why ``name`` is not one of the ``wanted`` kinds: a typo, or another kind of thing."""
        what = self.what_is(str(name))
        if what is not None:
            return f"{name!r} is a {what}; {fallback}"
        choices = [n for folder in wanted for n in self.files.get(folder, {})]
        return did_you_mean(str(name), choices) or fallback


def source_ref(doc: Doc, data: LMap, key: Any, known: Known) -> m.Source | None:
    """The source a ``sources:`` key names; None (reported unless its file is broken) if not."""
    if key in known.sources:
        return known.sources[key]
    if key not in known.files.get("sources", {}):
        doc.at(data.key_at(key), f"unknown source {key!r}",
               known.unknown_hint(key, ("sources",), "add it under models/sources/"))
    return None


def columns_for_parts(doc: Doc, value: Any, where: tuple[int, int], parts: tuple[m.Column, ...],
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
               f"mapping `key_part: column`, not {describe(value)}")
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
                   f"not {describe(column)}")
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
