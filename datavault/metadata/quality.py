"""A source's ``checks:`` (SEMANTICS.md section 11): a list of checks, each one mapping of
the check's name to what it checks.

```yaml
checks:
  - not_null: [order_id, status]
  - accepted_values: {column: status, values: [open, paid, shipped]}
  - range: {column: amount, min: 0, max: 100000}
  - pattern: {column: order_id, regex: 'O-[0-9]{4}'}
  - length: {column: customer_ref, max: 12}
  - unique: [order_id, changed_at]
  - freshness: {max_age: 2 days, severity: stop}
  - volume: {within: 50%}
  - drift: {column: status, max: 0.2}
```

Values are read as their column's type and kept as canonical text; every problem is reported
with its place.
"""

from __future__ import annotations

import datetime as dt
import re
import warnings
from decimal import Decimal, InvalidOperation
from typing import Any

from datavault import hashing, values
from datavault import model as m
from datavault.diagnostics import did_you_mean
from datavault.metadata.checks import IDENTIFIER, MAX_NAME, Doc, describe
from datavault.metadata.yamlfile import LList, LMap

CHECKS_HINT = ("write each check as `- TEST: ...`, e.g. `- not_null: [order_id]` or "
               "`- range: {column: amount, min: 0}`; tests: " + ", ".join(m.ROW_CHECKS
                                                                           + m.BATCH_CHECKS))
#: the keys each test takes besides ``name`` (and ``severity`` for a batch check)
_KEYS: dict[str, tuple[str, ...]] = {
    "not_null": ("columns", "column"),
    "accepted_values": ("column", "values"),
    "range": ("column", "min", "max", "exclusive"),
    "pattern": ("column", "regex"),
    "length": ("column", "min", "max"),
    "unique": ("columns", "column"),
    "freshness": ("max_age",),
    "volume": ("within", "min", "max", "batches", "min_batches"),
    "drift": ("column", "max", "statistic", "bins", "batches", "min_batches"),
}
_ORDERED = ("integer", "decimal", "float", "date", "timestamp")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(second|minute|hour|day|week)s?\s*$")
_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")


def read_checks(doc: Doc, data: LMap, columns: dict[str, m.Column]) -> tuple[m.Check, ...] | None:
    """The source's checks, or None when any has a problem (each reported)."""
    if "checks" not in data:
        return ()
    spec, where = data["checks"], data.value_at("checks")
    if not isinstance(spec, LList):
        doc.at(where, f"checks must be a list, not {describe(spec)}", CHECKS_HINT)
        return None
    before = len(doc.problems.items)
    result: list[tuple[m.Check, tuple[int, int]]] = []
    for index, item in enumerate(spec):
        place = spec.item_at(index)
        check = _check(doc, item, place, columns)
        if check is not None:
            result.append((check, place))
    seen: set[str] = set()
    for check, place in result:
        if check.name in seen:
            doc.at(place, f"another check before this one is named {check.name!r}",
                   "give one of them a name of its own: `name: ...` in its mapping")
        seen.add(check.name)
    if len(doc.problems.items) > before:
        return None
    return tuple(check for check, _ in result)


def _check(doc: Doc, item: Any, where: tuple[int, int],
           columns: dict[str, m.Column]) -> m.Check | None:
    if not isinstance(item, LMap) or len(item) != 1:
        doc.at(where, f"a check must be one `TEST: ...` mapping, not {describe(item)}",
               CHECKS_HINT)
        return None
    (test,) = item.keys()
    where = item.key_at(test)
    if test not in _KEYS:
        doc.at(where, f"unknown check {test!r}",
               did_you_mean(str(test), tuple(_KEYS)) or CHECKS_HINT)
        return None
    spec, at = item[test], item.value_at(test)
    if isinstance(spec, LList) or isinstance(spec, str):  # the columns alone
        if test not in ("not_null", "unique"):
            doc.at(at, f"{test} takes a mapping, e.g. {_example(test)}")
            return None
        spec_map: dict[str, Any] = {"columns": spec}
        places: dict[str, tuple[int, int]] = {"columns": at}
    else:
        mapping = doc.mapping(spec, at, test)
        if mapping is None:
            return None
        allowed = _KEYS[test] + ("name",) + (("severity",) if test in m.BATCH_CHECKS else ())
        doc.keys(mapping, allowed)
        spec_map = dict(mapping)
        places = {k: mapping.value_at(k) for k in mapping}
    read = _Reader(doc, test, spec_map, places, at, columns)
    return read.check()


def _example(test: str) -> str:
    return {"accepted_values": "{column: status, values: [open, paid]}",
            "range": "{column: amount, min: 0}", "pattern": "{column: code, regex: '[A-Z]{3}'}",
            "length": "{column: code, max: 12}", "freshness": "{max_age: 2 days}",
            "volume": "{within: 50%}", "drift": "{column: status}"}.get(test, "")


class _Reader:
    """One check's mapping, read key by key."""

    def __init__(self, doc: Doc, test: str, spec: dict[str, Any],
                 places: dict[str, tuple[int, int]], where: tuple[int, int],
                 columns: dict[str, m.Column]) -> None:
        self.doc, self.test, self.spec, self.places = doc, test, spec, places
        self.where, self.columns = where, columns
        self.before = len(doc.problems.items)

    def at(self, key: str) -> tuple[int, int]:
        return self.places.get(key, self.where)

    def problem(self, key: str, message: str, hint: str = "") -> None:
        self.doc.at(self.at(key), message, hint)

    def check(self) -> m.Check | None:
        fields: dict[str, Any] = {}
        test = self.test
        if test in ("not_null", "unique"):
            fields["columns"] = self.column_list()
        elif test in ("accepted_values", "range", "pattern", "length", "drift"):
            column = self.column()
            fields["columns"] = (column.name,) if column else ()
            if column is not None:
                getattr(self, test)(column, fields)
        elif test == "freshness":
            fields["max_age"] = self.duration()
        elif test == "volume":
            self.volume(fields)
        if test in m.BATCH_CHECKS:
            fields["severity"] = self.severity()
        name = self.name(fields.get("columns", ()))
        if len(self.doc.problems.items) > self.before or name is None:
            return None
        return m.Check(name=name, test=test, **fields)

    # ---- what most tests share ----------------------------------------------------------
    def name(self, columns: tuple[str, ...]) -> str | None:
        if "name" not in self.spec:
            default = "_".join((self.test,) + tuple(columns))
            return default[:MAX_NAME].rstrip("_")
        name = self.spec["name"]
        if not isinstance(name, str) or not IDENTIFIER.match(name) or len(name) > MAX_NAME:
            self.problem("name", f"check name {describe(name)} is not a name",
                         f"use lower-case letters, digits and _, at most {MAX_NAME} characters")
            return None
        return name

    def column_ref(self, name: Any, key: str) -> m.Column | None:
        if not isinstance(name, str) or name not in self.columns:
            self.problem(key, f"{self.test} names unknown column {describe(name)}",
                         did_you_mean(str(name), tuple(self.columns)))
            return None
        return self.columns[name]

    def column(self) -> m.Column | None:
        if "column" not in self.spec:
            self.problem("column", f"{self.test} needs `column:`", f"e.g. {_example(self.test)}")
            return None
        return self.column_ref(self.spec["column"], "column")

    def column_list(self) -> tuple[str, ...]:
        key = "columns" if "columns" in self.spec else "column"
        spec = self.spec.get(key)
        names = [spec] if isinstance(spec, str) else spec
        if not isinstance(names, list) or not names:
            self.problem(key, f"{self.test} needs one or more columns, not "
                         f"{'an empty list' if names == [] else describe(spec)}",
                         f"e.g. {self.test}: [order_id]")
            return ()
        found = [self.column_ref(n, key) for n in names]
        return tuple(c.name for c in found if c is not None)

    def severity(self) -> str:
        value = self.spec.get("severity", "warn")
        if value not in m.CHECK_SEVERITIES:
            self.problem("severity", f"severity must be warn or stop, not {describe(value)}",
                         "warn records the result and loads the batch; stop refuses the batch")
            return "warn"
        return str(value)

    def typed(self, value: Any, key: str, column: m.Column) -> str | None:
        """``value`` read as ``column``'s type, as its canonical text (a bound or an edge
        is never NaN, which is in no range)."""
        text = typed_text(self.doc, value, self.at(key), column, f"a value of {key}")
        if text == "NaN" and key != "values":
            self.problem(key, f"{key} must be a number, not NaN", "NaN is in no range")
            return None
        return text

    def count(self, key: str, smallest: int = 0) -> int | None:
        value = self.spec.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < smallest:
            self.problem(key, f"{key} must be a whole number of at least {smallest}, not "
                         f"{describe(value)}")
            return None
        return value

    # ---- each test ----------------------------------------------------------------------
    def accepted_values(self, column: m.Column, fields: dict[str, Any]) -> None:
        listed = self.spec.get("values")
        if not isinstance(listed, list) or not listed:
            self.problem("values", f"accepted_values needs a list of values, not "
                         f"{describe(listed)}", "e.g. values: [open, paid, shipped]")
            return
        texts = [self.typed(v, "values", column) for v in listed]
        fields["values"] = tuple(dict.fromkeys(t for t in texts if t is not None))

    def range(self, column: m.Column, fields: dict[str, Any]) -> None:
        if column.type not in _ORDERED:
            self.problem("column", f"range needs a number, date or timestamp column; "
                         f"{column.name!r} is {column.type}",
                         "for a text column use length, pattern or accepted_values")
            return
        self.bounds(fields, lambda v, k: self.typed(v, k, column),
                    lambda a, b: ordered(a, column.type) > ordered(b, column.type))
        if "exclusive" in self.spec:
            if not isinstance(self.spec["exclusive"], bool):
                self.problem("exclusive", "exclusive must be true or false")
            else:
                fields["exclusive"] = self.spec["exclusive"]

    def length(self, column: m.Column, fields: dict[str, Any]) -> None:
        if column.type != "text":
            self.problem("column", f"length needs a text column; {column.name!r} is "
                         f"{column.type}")
            return
        self.bounds(fields, lambda v, k: str(self.count(k)) if self.count(k) is not None
                    else None, lambda a, b: int(a) > int(b))

    def bounds(self, fields: dict[str, Any], read, greater) -> None:  # type: ignore[no-untyped-def]
        if "min" not in self.spec and "max" not in self.spec:
            self.problem("column", f"{self.test} needs min:, max: or both",
                         f"e.g. {_example(self.test)}")
            return
        low = read(self.spec["min"], "min") if "min" in self.spec else None
        high = read(self.spec["max"], "max") if "max" in self.spec else None
        if low is not None and high is not None and greater(low, high):
            self.problem("min", f"{self.test}: min is greater than max")
        fields["low"], fields["high"] = low, high

    def pattern(self, column: m.Column, fields: dict[str, Any]) -> None:
        if column.type != "text":
            self.problem("column", f"pattern needs a text column; {column.name!r} is "
                         f"{column.type}")
            return
        regex = self.spec.get("regex")
        if not isinstance(regex, str) or not regex:
            self.problem("regex", f"pattern needs `regex:`, a regular expression, not "
                         f"{describe(regex)}", "e.g. regex: 'O-[0-9]{4}' (in quotes)")
            return
        problem = regex_problem(regex)
        if problem:
            self.problem("regex", f"regex '{regex}': {problem}")
            return
        fields["pattern"] = regex

    def duration(self) -> dt.timedelta | None:
        value = self.spec.get("max_age")
        match = _DURATION.match(value) if isinstance(value, str) else None
        if match is None:
            self.problem("max_age", f"max_age must be a duration, not {describe(value)}",
                         "e.g. max_age: 36 hours, 2 days or 1 week")
            return None
        number, unit = Decimal(match.group(1)), match.group(2)
        seconds = number * {"second": 1, "minute": 60, "hour": 3600, "day": 86400,
                            "week": 604800}[unit]
        return dt.timedelta(seconds=float(seconds))

    def volume(self, fields: dict[str, Any]) -> None:
        if not any(k in self.spec for k in ("within", "min", "max")):
            self.problem("within", "volume needs within: (a percentage of the recent mean), "
                         "or min:/max: (rows)", "e.g. volume: {within: 50%}")
            return
        if "within" in self.spec:
            value = self.spec["within"]
            match = _PERCENT.match(value) if isinstance(value, str) else None
            if match is None:
                self.problem("within", f"within must be a percentage, not {describe(value)}",
                             "e.g. within: 50%")
            else:
                fields["within"] = Decimal(match.group(1))
        self.bounds_if_any(fields)
        self.baseline(fields)

    def bounds_if_any(self, fields: dict[str, Any]) -> None:
        for key, field in (("min", "low"), ("max", "high")):
            if key in self.spec and (number := self.count(key)) is not None:
                fields[field] = str(number)
        if fields.get("low") and fields.get("high") and int(fields["low"]) > int(fields["high"]):
            self.problem("min", "volume: min is greater than max")

    def baseline(self, fields: dict[str, Any]) -> None:
        for key in ("batches", "min_batches"):
            if key in self.spec and (number := self.count(key, 1)) is not None:
                fields[key] = number
        if fields.get("min_batches", 3) > fields.get("batches", 7):
            self.problem("min_batches", "min_batches is more than batches")

    def drift(self, column: m.Column, fields: dict[str, Any]) -> None:
        statistic = self.spec.get("statistic", "psi")
        if statistic != "psi":
            self.problem("statistic", f"unknown drift statistic {describe(statistic)}",
                         "psi: the population stability index")
        if "max" in self.spec:
            value = self.spec["max"]
            try:
                if isinstance(value, bool) or not isinstance(value, (int, float, str)):
                    raise InvalidOperation
                threshold = Decimal(str(value))
                if not threshold.is_finite() or threshold <= 0:
                    raise InvalidOperation
                fields["threshold"] = threshold
            except InvalidOperation:
                self.problem("max", f"max must be a positive number, not {describe(value)}",
                             "0.1 is a small shift of a distribution, 0.25 a large one")
        if "bins" in self.spec:
            edges = self.spec["bins"]
            if column.type not in _ORDERED:
                self.problem("bins", f"bins need a number, date or timestamp column; "
                             f"{column.name!r} is {column.type}",
                             "leave bins out: each value is a bin of its own")
            elif not isinstance(edges, list) or not edges:
                self.problem("bins", f"bins must be a list of edges, not {describe(edges)}",
                             "e.g. bins: [0, 10, 100, 1000]")
            else:
                texts = [self.typed(e, "bins", column) for e in edges]
                if all(t is not None for t in texts):
                    keys = [ordered(t, column.type) for t in texts]
                    if any(a >= b for a, b in zip(keys, keys[1:])):
                        self.problem("bins", "bins must be in ascending order, each once")
                    fields["values"] = tuple(texts)
        self.baseline(fields)


def typed_text(doc: Doc, value: Any, where: tuple[int, int], column: m.Column,
               what: str, empty_hint: str = "NULL and empty fields are no value") -> str | None:
    """The canonical text of a YAML value read as ``column``'s type; None (and a problem
    reported) when it is not one. NULL and empty values are never one."""
    type_name = column.type
    if isinstance(value, (LMap, LList)) or value is None or value == "":
        doc.at(where, f"{what} must be a {type_name} value, not {describe(value)}", empty_hint)
        return None
    if isinstance(value, bool):
        if type_name != "boolean":
            doc.at(where, f"{'true' if value else 'false'} is not a {type_name} value of "
                   f"column {column.name!r}", "YAML reads yes, no, on and off as booleans: "
                   "put the text in quotes")
            return None
        return "true" if value else "false"
    if type_name == "text" and not isinstance(value, str):
        doc.at(where, f"a value of text column {column.name!r} must be a text, not "
               f"{describe(value)}", "put it in quotes, as the source writes it")
        return None
    if isinstance(value, (dt.date, dt.datetime)):
        value = value.isoformat()
    try:
        parsed = values.parse(str(value), type_name)
        if parsed is None:
            raise values.ParseError("empty")
        return hashing.canonical(parsed, type_name)
    except (values.ParseError, ValueError):
        doc.at(where, f"{value!r} is not a {type_name} value of column {column.name!r}")
        return None


def ordered(text: str, type_name: str) -> Any:
    """A canonical text of an ordered type as a Python value that sorts as it does."""
    return values.parse(text, type_name)


def regex_problem(regex: str) -> str | None:
    """Why ``regex`` is not a pattern that every engine reads alike, or None: literal
    characters, ``.``, bracket classes, quantifiers, groups and alternation, with punctuation
    escaped by a backslash. An escaped letter or digit (such as a digit or word class: each
    engine has its own idea of a digit or a word), ``(?`` and ``[:class:]`` are refused."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "possible nested set": refused below
        try:
            re.compile(regex)
        except re.error as exc:
            return str(exc)
    position = 0
    while position < len(regex):
        if regex[position] == "\\":
            escaped = regex[position + 1:position + 2]
            if escaped.isascii() and escaped.isalnum():
                return (f"\\{escaped} is read differently by the engines; write a class, "
                        "e.g. [0-9] for a digit, [A-Za-z0-9_] for a word character")
            position += 2
            continue
        if regex.startswith("(?", position):
            return "(? (flags, look-arounds, named groups) is read differently by the engines"
        if regex.startswith("[:", position):
            return "[:class:] is read differently by the engines; list the characters instead"
        position += 1
    return None
