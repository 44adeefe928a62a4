"""Splitting SQL text into statements without ever cutting or changing a literal.

A rendered file is statements ended by ``;``. Literals in it hold text from the model (a
source's record source may hold ``;``, line breaks, ``--``, ``%`` or ``:name``), so the
split reads the text as the engine does: ``'...'`` strings (``''`` inside), ``"..."``
identifiers, ``--`` and ``/* */`` comments, and on engines that have them, ``E'...'``
strings with backslash escapes, dollar-quoted strings (``$tag$...$tag$``) and nested block
comments. No SQL library in the toolkit's dependencies splits statements this way
(SQLAlchemy's ``text()`` finds ``:name`` parameters even inside strings), hence this small
scanner, which ``tests/test_sqltext.py`` checks.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Syntax:
    """The lexical features of an engine's SQL that decide where a literal ends."""

    #: ``$tag$ ... $tag$`` strings (PostgreSQL)
    dollar_quotes: bool = False
    #: ``E'...'`` strings, in which a backslash escapes the next character (PostgreSQL)
    escape_strings: bool = False
    #: ``/* /* */ */``: block comments nest (PostgreSQL)
    nested_comments: bool = False
    #: in every ``'...'`` and ``"..."``, a backslash escapes the next character (Spark)
    backslash_strings: bool = False


@dataclass(frozen=True)
class Piece:
    """One statement as split: its SQL (comments left out, literals untouched), the same for
    SQLAlchemy's ``text()`` (every ``:`` inside a literal or quoted name escaped, so that
    only the parameters outside them are bound), the tag of its ``-- dv:TAG`` comment, and
    the query of its ``-- dv:if-any QUERY`` comment (empty: none): the statement can change
    something only where that query gives a row."""

    sql: str
    bindable: str
    tag: str
    guard: str = ""


_TAG = re.compile(r"--\s*dv:(\w+)\s*")
_GUARD = re.compile(r"--\s*dv:if-any\s+(.+?)\s*")
#: where a literal, quoted name, comment or statement may begin: the scanner jumps from one
#: such place to the next
_NEXT = re.compile(r"['\"$;]|--|/\*")
_COMMENT_MARK = re.compile(r"/\*|\*/")
_DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_\u0080-\U0010ffff][A-Za-z_0-9\u0080-\U0010ffff]*)?\$")


def _word_char(char: str) -> bool:
    return char.isalnum() or char in "_$" or ord(char) > 127


def _quoted_end(text: str, start: int, quote: str, backslashes: bool) -> int:
    """The index after the literal or quoted name opening at ``start`` (the end of the text
    when it is not closed: the engine reports that)."""
    i = start + 1
    n = len(text)
    while i < n:
        char = text[i]
        if backslashes and char == "\\":
            i += 2
            continue
        if char == quote:
            if i + 1 < n and text[i + 1] == quote:  # doubled: the quote itself
                i += 2
                continue
            return i + 1
        i += 1
    return n


def _comment_end(text: str, start: int, nested: bool) -> int:
    depth = 0
    for mark in _COMMENT_MARK.finditer(text, start):
        if mark.group() == "/*":
            depth = depth + 1 if nested or depth == 0 else depth
        else:
            depth -= 1
            if depth == 0:
                return mark.end()
    return len(text)


def _segments(text: str, syntax: Syntax) -> Iterator[tuple[str, str]]:
    """The parts of ``text`` in order, each with what it is: ``plain`` SQL, a ``quoted``
    literal or name, a ``comment``, or the ``;`` that ends a statement."""
    n = len(text)
    plain_from = 0

    def following(start: int) -> int:
        found = _NEXT.search(text, start)
        return found.start() if found else n

    i = following(0)
    while i < n:
        char = text[i]
        end = -1
        if char in "'\"":
            backslashes = syntax.backslash_strings or (
                char == "'" and syntax.escape_strings and i > 0
                and text[i - 1] in "eE" and (i < 2 or not _word_char(text[i - 2])))
            end = _quoted_end(text, i, char, backslashes)
        elif char == "$" and syntax.dollar_quotes and (i == 0 or not _word_char(text[i - 1])):
            opening = _DOLLAR_TAG.match(text, i)
            if opening:
                close = text.find(opening.group(0), opening.end())
                end = n if close < 0 else close + len(opening.group(0))
        elif text.startswith("--", i) or text.startswith("/*", i):
            if char == "-":
                stop = text.find("\n", i)
                stop = n if stop < 0 else stop
            else:
                stop = _comment_end(text, i, syntax.nested_comments)
            if i > plain_from:
                yield "plain", text[plain_from:i]
            yield "comment", text[i:stop]
            plain_from = stop
            i = following(stop)
            continue
        elif char == ";":
            if i > plain_from:
                yield "plain", text[plain_from:i]
            yield ";", ";"
            plain_from = i + 1
            i = following(i + 1)
            continue
        if end > 0:
            if i > plain_from:
                yield "plain", text[plain_from:i]
            yield "quoted", text[i:end]
            plain_from = end
            i = following(end)
        else:
            i = following(i + 1)
    if n > plain_from:
        yield "plain", text[plain_from:n]


def split(text: str, syntax: Syntax = Syntax()) -> list[Piece]:
    """The statements of ``text`` in order, each without its ``;``; empty ones left out."""
    result: list[Piece] = []
    pieces: list[tuple[bool, str]] = []  # (is a literal or quoted name, text)
    tag = guard = ""
    for kind, part in _segments(text, syntax):
        if kind == "comment":
            found = _TAG.fullmatch(part)
            if found and not tag:
                tag = found.group(1)
            found = _GUARD.fullmatch(part)
            if found and not guard:
                guard = found.group(1)
        elif kind == ";":
            statement = _tidy(pieces)
            if statement[0].strip():
                result.append(Piece(statement[0], statement[1], tag, guard))
            pieces, tag, guard = [], "", ""
        else:
            pieces.append((kind == "quoted", part))
    statement = _tidy(pieces)
    if statement[0].strip():
        result.append(Piece(statement[0], statement[1], tag, guard))
    return result


_PARAMETER = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


def with_parameters(text: str, syntax: Syntax, form: Callable[[str], str]) -> str:
    """``text`` with each named parameter ``:name`` outside literals, quoted names and
    comments written as ``form(name)`` (how an engine's own client fills it)."""
    return "".join(_PARAMETER.sub(lambda m: form(m.group(1)), part) if kind == "plain"
                   else part for kind, part in _segments(text, syntax))


def _tidy(pieces: list[tuple[bool, str]]) -> tuple[str, str]:
    """The statement's SQL and its ``text()`` form, without the lines that held only
    comments or nothing (line breaks inside a literal are kept: they are part of it)."""
    lines: list[list[tuple[bool, str]]] = [[]]
    for quoted, part in pieces:
        if quoted:
            lines[-1].append((True, part))
            continue
        first, *rest = part.split("\n")
        lines[-1].append((False, first))
        lines += [[(False, line)] for line in rest]
    kept = [line for line in lines if any(q or p.strip() for q, p in line)]
    sql = "\n".join("".join(p for _, p in line) for line in kept).strip()
    bindable = "\n".join("".join(p.replace(":", "\\:") if q else p for q, p in line)
                         for line in kept).strip()
    return sql, bindable
