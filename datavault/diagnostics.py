"""Problems a user can cause, with where they are and how to fix them."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True, order=True)
class Problem:
    """One problem in a project file: ``path:line:col: message (hint)``."""

    path: str
    line: int
    col: int
    message: str
    hint: str = ""

    def __str__(self) -> str:
        text = f"{self.path}:{self.line}:{self.col}: {self.message}"
        return f"{text} ({self.hint})" if self.hint else text


def _order(problem: Problem) -> tuple[str, int, int, str, str]:
    return (problem.path, problem.line, problem.col, problem.message, problem.hint)


class DatavaultError(Exception):
    """An error a user can cause and fix; the CLI prints it without a traceback."""


class ModelError(DatavaultError):
    """The project's files have problems; all of them are listed."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = sorted(set(problems), key=_order)  # a key sorts 10 times faster
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass
class Problems:
    """Collects problems so that every one of them is reported at once."""

    items: list[Problem] = field(default_factory=list)

    def add(self, path: str, line: int, col: int, message: str, hint: str = "") -> None:
        self.items.append(Problem(path, line, col, message, hint))

    def raise_if_any(self) -> None:
        if self.items:
            raise ModelError(self.items)

    def __bool__(self) -> bool:
        return bool(self.items)


#: more choices than this are narrowed to those that begin as the word does (comparing a
#: word with each of a file's hundred thousand columns would take seconds per problem)
MANY_CHOICES = 1000


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The choice closest to ``word``, if one is close enough to be a likely typo."""
    unique = set(choices)
    if len(unique) > MANY_CHOICES:
        unique = {c for c in unique if c[:2] == word[:2]}
        if len(unique) > MANY_CHOICES:
            return None
    close = difflib.get_close_matches(word, sorted(unique), n=1, cutoff=0.6)
    return close[0] if close else None


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """A "did you mean ...?" hint, or an empty string when nothing is close."""
    choices = set(choices)
    close = closest(word, choices)
    if close:
        return f"did you mean {close!r}?"
    if choices and len(choices) <= 8:
        return "expected one of: " + ", ".join(sorted(choices))
    return ""
