"""YAML reading that keeps line and column of every key and value and rejects duplicate keys.

A file is read from the parser's events (libyaml's when PyYAML has it, which reads a file of
megabytes in about a second), by a loop with a stack of its own, not by PyYAML's recursive
composer and constructor. So nothing a file holds can raise anything but a problem with its
place:

- values are plain YAML: text, numbers, true or false, null, dates and timestamps, lists and
  mappings. An explicit tag must be one of those and fit its value (``!!int x`` does not);
  other tags (``!foo``, ``!!set``, ``!!python/...``) are refused;
- a number has at most ``MAX_DIGITS`` digits (Python reads no longer one as an int);
- lists and mappings nest at most ``MAX_DEPTH`` levels;
- aliases are read (``*name`` repeats the value marked ``&name``, ``<<: *name`` merges a
  mapping), but all the aliases of a file together repeat at most ``MAX_ALIAS_VALUES``
  values, which stops a "billion laughs" file, whose few lines stand for billions of values.

Every tag and alias problem of a file is listed; the file then counts as unreadable, like one
with a syntax error, so that the checks after it report nothing that follows from it.
"""

from __future__ import annotations

import bisect
import re
from pathlib import Path
from typing import Any

import yaml
from yaml import events as ev
from yaml.constructor import SafeConstructor
from yaml.nodes import ScalarNode
from yaml.resolver import Resolver

from datavault.diagnostics import Problems

MAX_DEPTH = 100
MAX_DIGITS = 4300  # Python's own limit for reading a decimal integer
MAX_ALIAS_VALUES = 100_000

#: libyaml's parser when PyYAML was built with it (the wheels are), else the Python one
_PARSER = yaml.CSafeLoader if getattr(yaml, "__with_libyaml__", False) else yaml.SafeLoader

_YAML = "tag:yaml.org,2002:"
STR, INT, FLOAT, BOOL, NULL, TIMESTAMP = (_YAML + t for t in (
    "str", "int", "float", "bool", "null", "timestamp"))
MAP, SEQ, MERGE = _YAML + "map", _YAML + "seq", _YAML + "merge"
TAG_HINT = ("model files take text, numbers, true or false, dates, lists and mappings: "
            "remove the tag")


class Located:
    """Mixin: where a mapping or list starts, and where each of its keys and items are."""

    line: int = 1
    col: int = 1


class LMap(dict, Located):
    """A YAML mapping with the location of each key (``key_at``) and value (``value_at``)."""

    def __init__(self) -> None:
        super().__init__()
        self.key_locs: dict[Any, tuple[int, int]] = {}
        self.value_locs: dict[Any, tuple[int, int]] = {}

    def key_at(self, key: Any) -> tuple[int, int]:
        return self.key_locs.get(key, (self.line, self.col))

    def value_at(self, key: Any) -> tuple[int, int]:
        return self.value_locs.get(key, self.key_at(key))


class LList(list, Located):
    """A YAML sequence with the location of each item."""

    def __init__(self) -> None:
        super().__init__()
        self.item_locs: list[tuple[int, int]] = []

    def item_at(self, index: int) -> tuple[int, int]:
        if 0 <= index < len(self.item_locs):
            return self.item_locs[index]
        return (self.line, self.col)


# ---- scalars ------------------------------------------------------------------------------
class _Unfit(ValueError):
    """A scalar that does not fit its tag."""


class _TooLong(ValueError):
    """A number with more than MAX_DIGITS digits."""


_BOOLS = {"yes": True, "no": False, "true": True, "false": False, "on": True, "off": False}
_NULLS = ("", "~", "null", "Null", "NULL")
_RESOLVERS = Resolver.yaml_implicit_resolvers
_LIMIT = 10**MAX_DIGITS
_TIMESTAMPS = SafeConstructor()


def _int(text: str) -> int:
    value = text.replace("_", "")
    sign = -1 if value[:1] == "-" else 1
    if value[:1] in ("-", "+"):
        value = value[1:]
    if len(value) > MAX_DIGITS:
        raise _TooLong
    if not value:
        raise _Unfit
    if value.startswith("0b"):
        number = int(value[2:], 2)
    elif value.startswith("0x"):
        number = int(value[2:], 16)
    elif value[0] == "0" and len(value) > 1 and ":" not in value:
        number = int(value, 8)
    elif ":" in value:
        number = 0
        for part in value.split(":"):
            number = number * 60 + int(part)
    else:
        number = int(value)
    if number >= _LIMIT:  # a hexadecimal or sexagesimal text of few digits, but as long
        raise _TooLong
    return sign * number


def _float(text: str) -> float:
    value = text.replace("_", "").lower()
    if len(value) > MAX_DIGITS:
        raise _TooLong
    sign = -1.0 if value[:1] == "-" else 1.0
    if value[:1] in ("-", "+"):
        value = value[1:]
    if value == ".inf":
        return sign * float("inf")
    if value == ".nan":
        return float("nan")
    if ":" in value:
        number = 0.0
        for part in value.split(":"):
            number = number * 60 + float(part)
        return sign * number
    if not value or value[0] not in "0123456789.":  # float() takes "inf" and "nan" too
        raise _Unfit
    return sign * float(value)


def _bool(text: str) -> bool:
    return _BOOLS[text.lower()]


def _null(text: str) -> None:
    if text not in _NULLS:
        raise _Unfit


def _timestamp(text: str) -> Any:
    if _TIMESTAMPS.timestamp_regexp.match(text) is None:
        raise _Unfit
    return _TIMESTAMPS.construct_yaml_timestamp(ScalarNode(TIMESTAMP, text))


#: the tags a scalar may have, what each takes, and how its text is read
_SCALARS: dict[str, tuple[str, Any]] = {
    INT: ("a whole number", _int),
    FLOAT: ("a number", _float),
    BOOL: ("true or false", _bool),
    NULL: ("nothing (null, ~ or empty)", _null),
    TIMESTAMP: ("a date or a timestamp", _timestamp),
}


def _shown(tag: str) -> str:
    return "!!" + tag[len(_YAML):] if tag.startswith(_YAML) else tag


def _short(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "..."


# ---- the reader ---------------------------------------------------------------------------
class _Stop(Exception):
    """Reading the file cannot go on (too deep, too many aliases, a second document)."""


_BAD = object()  # a value that was reported: the file is not used
_NO_KEY = object()


class _Frame:
    """A mapping or list being read."""

    __slots__ = ("value", "size", "anchor", "key", "key_text", "key_tag", "key_at", "merges")

    def __init__(self, value: LMap | LList, anchor: str | None) -> None:
        self.value = value
        self.size = 1
        self.anchor = anchor
        self.key: Any = _NO_KEY
        self.key_text: str | None = None
        self.key_tag = ""
        self.key_at = (1, 1)
        self.merges: list[tuple[Any, tuple[int, int]]] = []


class _Reader:
    def __init__(self, path: str, problems: Problems, parser: Any = _PARSER) -> None:
        self.parser = parser
        self.path = path
        self.problems = problems
        self.failed = False
        self.anchors: dict[str, tuple[Any, int]] = {}
        self.open_anchors: set[str] = set()
        self.repeated = 0
        self.where = _Places("")

    def problem(self, where: tuple[int, int], message: str, hint: str = "") -> None:
        self.problems.add(self.path, where[0], where[1], message, hint)
        self.failed = True

    def read(self, text: str) -> Any:
        self.where = _Places(text)
        parser = self.parser(text)
        try:
            value = self._events(parser)
        finally:
            parser.dispose()
        return None if self.failed else value

    def _events(self, parser: Any) -> Any:
        stack: list[_Frame] = []
        root: Any = None
        documents = 0
        plain: dict[str, tuple[str, Any]] = {}
        get = parser.get_event
        while True:
            event = get()
            kind = type(event)
            if kind is ev.ScalarEvent:
                where = self.where(event.start_mark)
                size = 1
                if event.tag is None and event.implicit[0]:
                    # plain values repeat (types, column names): read each text once
                    known = plain.get(event.value)
                    if known is None:
                        known = self._scalar(event, where)
                        if len(plain) < 100_000 and known[1] is not _BAD:
                            plain[event.value] = known
                    tag, value = known
                else:
                    tag, value = self._scalar(event, where)
                if event.anchor is not None:
                    self.anchors[event.anchor] = (value, 1)
            elif kind is ev.MappingStartEvent or kind is ev.SequenceStartEvent:
                where = self.where(event.start_mark)
                if len(stack) >= MAX_DEPTH:
                    self.problem(where, f"nested too deep: more than {MAX_DEPTH} levels of "
                                 "lists and mappings")
                    raise _Stop
                mapping = kind is ev.MappingStartEvent
                self._collection_tag(event.tag, mapping, where)
                container: LMap | LList = LMap() if mapping else LList()
                container.line, container.col = where
                stack.append(_Frame(container, event.anchor))
                if event.anchor is not None:
                    self.open_anchors.add(event.anchor)
                continue
            elif kind is ev.MappingEndEvent or kind is ev.SequenceEndEvent:
                frame = stack.pop()
                if frame.merges:
                    self._merge(frame)
                value, size, tag = frame.value, frame.size, ""
                where = (value.line, value.col)
                if frame.anchor is not None:
                    self.open_anchors.discard(frame.anchor)
                    self.anchors[frame.anchor] = (value, size)
            elif kind is ev.AliasEvent:
                where = self.where(event.start_mark)
                value, size, tag = self._alias(event.anchor, where)
            elif kind is ev.DocumentStartEvent:
                documents += 1
                if documents > 1:
                    self.problem(self.where(event.start_mark),
                                 "a model file holds one YAML document; a second one starts "
                                 "here", "remove the --- line and what follows it")
                    raise _Stop
                continue
            elif kind is ev.StreamEndEvent:
                return root
            else:  # stream start, document end
                continue
            if not stack:
                root = value
                continue
            frame = stack[-1]
            frame.size += size
            container = frame.value
            if type(container) is LList:
                container.append(value)
                container.item_locs.append(where)
            elif frame.key is _NO_KEY:
                frame.key, frame.key_at, frame.key_tag = value, where, tag
                frame.key_text = event.value if kind is ev.ScalarEvent else None
            elif frame.key_tag == STR and frame.key not in container:  # the usual pair
                key = frame.key
                frame.key = _NO_KEY
                container[key] = value
                container.key_locs[key] = frame.key_at
                container.value_locs[key] = where
            else:
                self._pair(frame, value, where)

    def _scalar(self, event: ev.ScalarEvent, where: tuple[int, int]) -> tuple[str, Any]:
        text = event.value
        tag = event.tag
        explicit = tag is not None and tag != "!"
        if not explicit:
            if not event.implicit[0]:
                return STR, text
            if text.isdecimal() and text.isascii() and text[0] != "0" \
                    and len(text) <= MAX_DIGITS:
                return INT, int(text)
            tag = STR
            for candidate, pattern in _RESOLVERS.get(text[:1] if text else "", ()):
                if pattern.match(text):
                    tag = candidate
                    break
        if tag == STR:
            return tag, text
        if tag == MERGE and not explicit:
            return tag, text
        if tag in (MAP, SEQ):
            self.problem(where, f"tag {_shown(tag)} is for a "
                         f"{'mapping' if tag == MAP else 'list'}, not a single value")
            return tag, _BAD
        if tag not in _SCALARS:
            self.problem(where, f"unsupported tag {_shown(tag)}", TAG_HINT)
            return tag, _BAD
        what, read = _SCALARS[tag]
        try:
            return tag, read(text)
        except _TooLong:
            self.problem(where, f"the number {text[:12]}... is too long: more than "
                         f"{MAX_DIGITS:,} digits", "quote it if it is a text")
        except (ValueError, KeyError, OverflowError, AttributeError, TypeError):
            if tag == TIMESTAMP and not explicit:
                # a date-shaped text that is no date (2026-02-30) stays text, for the check
                # that reads it to report it with its place
                return STR, text
            if not explicit:  # an implicit number the resolver took (1:2:x cannot be)
                return STR, text
            self.problem(where, f"tag {_shown(tag)} does not fit {_short(text)!r}: it takes "
                         f"{what}", "remove the tag, or change the value")
        return tag, _BAD

    def _collection_tag(self, tag: str | None, mapping: bool, where: tuple[int, int]) -> None:
        if tag is None or tag == "!" or tag == (MAP if mapping else SEQ):
            return
        if tag in _SCALARS or tag == STR or tag in (MAP, SEQ):
            self.problem(where, f"tag {_shown(tag)} is for "
                         + ("a mapping" if tag == MAP else "a list" if tag == SEQ
                            else "a single value")
                         + f", not {'a mapping' if mapping else 'a list'}")
        else:
            self.problem(where, f"unsupported tag {_shown(tag)}", TAG_HINT)

    def _alias(self, name: str, where: tuple[int, int]) -> tuple[Any, int, str]:
        if name in self.open_anchors:
            self.problem(where, f"alias *{name} is inside the value it repeats")
            return _BAD, 1, ""
        if name not in self.anchors:
            self.problem(where, f"unknown alias *{name}",
                         f"an alias repeats a value marked &{name} earlier in the same file")
            return _BAD, 1, ""
        value, size = self.anchors[name]
        self.repeated += size
        if self.repeated > MAX_ALIAS_VALUES:
            self.problem(where, f"aliases repeat more than {MAX_ALIAS_VALUES:,} values here",
                         "each *alias repeats the whole value of its &anchor; "
                         "write the values out")
            raise _Stop
        return value, size, ""

    def _pair(self, frame: _Frame, value: Any, where: tuple[int, int]) -> None:
        key, key_at, key_tag, text = frame.key, frame.key_at, frame.key_tag, frame.key_text
        frame.key = _NO_KEY
        result = frame.value
        assert isinstance(result, LMap)
        if key is _BAD:
            return
        if key_tag == MERGE:
            frame.merges.append((value, where))
            return
        if text is None or key_tag == TIMESTAMP:
            self.problems.add(self.path, key_at[0], key_at[1],
                              "a mapping key must be a plain word")
            return
        key = text  # keep `on:`, `yes:`, `1:` as written
        if key in result:
            first = result.key_at(key)[0]
            self.problems.add(self.path, key_at[0], key_at[1],
                              f"duplicate key {key!r} (first given on line {first})",
                              "remove one of them")
            return
        result[key] = value
        result.key_locs[key] = key_at
        result.value_locs[key] = where

    def _merge(self, frame: _Frame) -> None:
        """``<<: *anchor`` (or a list of them): keys the mapping does not give itself."""
        result = frame.value
        assert isinstance(result, LMap)
        for value, where in frame.merges:
            if value is _BAD:
                continue
            sources = value if isinstance(value, LList) else [value]
            for index, source in enumerate(sources):
                if not isinstance(source, LMap):
                    at = value.item_at(index) if isinstance(value, LList) else where
                    self.problem(at, "<< merges a mapping (or a list of mappings) into this "
                                 "one", "write <<: *NAME, where &NAME marks a mapping")
                    continue
                for key, item in source.items():
                    if key not in result:
                        result[key] = item
                        result.key_locs[key] = source.key_at(key)
                        result.value_locs[key] = source.value_at(key)


class _Places:
    """The line and column (from 1) of a parser's mark, with lines ended by line feeds only,
    as editors and every other message count them: libyaml also ends a line at a carriage
    return, NEL, or a Unicode line or paragraph separator, which would put a place on a line
    the file does not have (the mark's character index says where it really is)."""

    def __init__(self, text: str) -> None:
        self.starts: list[int] | None = None
        if any(c in text for c in "\r\x85\u2028\u2029"):
            self.starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def __call__(self, mark: Any) -> tuple[int, int]:
        if self.starts is None:
            return mark.line + 1, mark.column + 1
        line = bisect.bisect_right(self.starts, mark.index)
        return line, mark.index - self.starts[line - 1] + 1


def _place(text: str, index: int) -> tuple[int, int]:
    """Line and column (from 1) of the character at ``index`` of ``text``."""
    start = text.rfind("\n", 0, index) + 1
    return text.count("\n", 0, index) + 1, index - start + 1


def read_yaml(file: Path, shown_path: str, problems: Problems) -> Any:
    """Read one YAML file; syntax errors and duplicate keys become problems (result None)."""
    try:
        data = file.read_bytes()
    except OSError as exc:
        problems.add(shown_path, 1, 1, f"cannot read file: {exc.strerror or exc}")
        return None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        # the decoder's positions count from after a byte order mark, in exc.object
        good = exc.object[:exc.start].decode("utf-8")
        line, col = _place(good, len(good))
        problems.add(shown_path, line, col, f"the file is not UTF-8 text: byte "
                     f"0x{exc.object[exc.start]:02x} cannot be read", "save it as UTF-8")
        return None
    try:
        return _Reader(shown_path, problems).read(text)
    except _Stop:
        return None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = _inside(text, *_Places(text)(mark)) if mark else (1, 1)
        problem = exc.problem or str(exc)
        if "maximum nesting depth" in problem and _PARSER is not yaml.SafeLoader:
            # libyaml reads ahead, and stops at its own limit (1000 levels) before ours is
            # seen; the Python parser reads lazily and finds the place where ours is passed
            try:
                _Reader(shown_path, problems, yaml.SafeLoader).read(
                    text[:_index(text, line, col)])
            except _Stop:
                return None
            except yaml.YAMLError:
                pass
        if problem.startswith("but ") and exc.context:
            problem = f"{exc.context}, {problem}"
        if problem == "found character that cannot start any token" and mark:
            problem = f"found character {_character(text, line, col)!r} that cannot start any token"
        hint = ("indent with spaces, not tabs" if "'\\t'" in problem or " tab " in problem
                else "check indentation and quoting")
        problems.add(shown_path, line, col, f"invalid YAML: {problem}", hint)
        return None
    except yaml.reader.ReaderError as exc:
        # the Python reader counts characters; libyaml counts bytes of the UTF-8 text
        index = exc.position if _PARSER is yaml.SafeLoader else len(
            text.encode("utf-8")[:exc.position].decode("utf-8", "ignore"))
        line, col = _place(text, index)
        character = text[index] if index < len(text) else ""
        problems.add(shown_path, line, col, f"invalid YAML: character {character!r} is not "
                     "allowed", "remove it")
        return None
    except yaml.YAMLError as exc:
        problems.add(shown_path, 1, 1, f"invalid YAML: {exc}")
        return None


def _inside(text: str, line: int, col: int) -> tuple[int, int]:
    """The place, or the end of the text if the parser put it after the last line (libyaml
    does at the end of a text without a final line break)."""
    lines = text.count("\n") + 1
    if line > lines:
        return _place(text, len(text))
    return line, col


def _index(text: str, line: int, col: int) -> int:
    """The index in ``text`` of the character at ``line`` and ``col`` (from 1)."""
    start = 0
    for _ in range(line - 1):
        start = text.find("\n", start) + 1
        if start == 0:
            return len(text)
    return min(start + col - 1, len(text))


def _character(text: str, line: int, col: int) -> str:
    index = _index(text, line, col)
    return text[index] if index < len(text) else ""
