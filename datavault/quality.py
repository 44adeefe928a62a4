"""The rules of a source's checks (SEMANTICS.md section 11), in one place: the SQL of each row
check (a condition over a landed row, from the dialect's fragments: one rule per engine,
which the property tests prove agree with the plain-Python reference), the SQL of a drift
check's bins, and the judgement of each batch check from what was measured.

Nothing here connects to a database: ``render`` puts the row checks into the stage
statement, and ``load.checks`` measures a staged batch and records the results.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from datavault import model as m
from datavault.dialects import Dialect

PASS, WARN, STOP, SKIP, QUARANTINED = "pass", "warn", "stop", "skip", "quarantined"
#: how the reason of a row quarantined by row checks begins; the checks' names follow
REASON = "check: "
#: a drift profile's bin of NULL, and of a float's NaN
NULL_BIN, NAN_BIN = "NULL", "NaN"
#: the smallest share of a bin in the population stability index (an empty bin counts)
SMALLEST_SHARE = 0.0001
#: the most distinct values a drift check without bins profiles
MAX_VALUES = 1000


def failing(check: m.Check, source: m.Source, dialect: Dialect, alias: str) -> str:
    """SQL that is true where the row ``alias`` of ``source``'s typed columns fails the row
    check (never NULL)."""
    q = dialect.quote
    column = source.column(check.columns[0])
    expr = f"{alias}.{q(column.name)}"
    if check.test == "not_null":
        return " OR ".join(f"{alias}.{q(c)} IS NULL" for c in check.columns)
    if check.test == "accepted_values":
        listed = ", ".join(dialect.text_literal(v) for v in check.values)
        passes = f"{dialect.canonical_text(expr, column.type)} IN ({listed})"
    elif check.test == "range":
        passes = " AND ".join(_bounds(check, lambda op, text: dialect.compare(
            expr, column.type, op, text)))
    elif check.test == "length":
        passes = " AND ".join(_bounds(check, lambda op, text: f"{dialect.text_length(expr)} "
                                                              f"{op} {int(text)}"))
    elif check.test == "pattern":
        assert check.pattern is not None
        passes = dialect.full_match(expr, check.pattern)
    else:
        raise ValueError(f"{check.test} is not a row check")
    return f"({expr} IS NOT NULL AND NOT ({passes}))"


def _bounds(check: m.Check, compare) -> list[str]:  # type: ignore[no-untyped-def]
    conditions = []
    if check.low is not None:
        conditions.append(compare(">" if check.exclusive else ">=", check.low))
    if check.high is not None:
        conditions.append(compare("<" if check.exclusive else "<=", check.high))
    return conditions


def rule(check: m.Check) -> str:
    """What a check holds values against, in words (a row check's ``expected``)."""
    low, high = check.low, check.high
    if check.test == "not_null":
        return "not NULL"
    if check.test == "accepted_values":
        return "one of " + ", ".join(check.values)
    if check.test == "pattern":
        return f"matches {check.pattern}"
    unit = " characters" if check.test == "length" else ""
    strict = check.exclusive
    if check.test in ("range", "length"):
        if low is not None and high is not None:
            return f"{low} to {high}{unit}" + (" (both excluded)" if strict else "")
        if low is not None:
            return f"{'>' if strict else '>='} {low}{unit}"
        return f"{'<' if strict else '<='} {high}{unit}"
    if check.test == "unique":
        return f"one row per {', '.join(check.columns)}"
    if check.test == "freshness":
        assert check.max_age is not None
        return f"latest applied time at most {_duration(check.max_age)} old"
    if check.test == "volume":
        parts = [f"within {_number(check.within)}% of the mean of the last {check.batches}"]\
            if check.within is not None else []
        parts += [f">= {int(low):,} rows"] if low is not None else []
        parts += [f"<= {int(high):,} rows"] if high is not None else []
        return "; ".join(parts)
    bins = f" in bins {', '.join(check.values)}" if check.values else ""
    return f"PSI <= {_number(check.threshold)} against the last {check.batches}{bins}"


def row_failures(source: m.Source, dialect: Dialect, alias: str) -> list[tuple[str, str]]:
    """(name, failing condition) of each row check of ``source``, in declared order."""
    return [(c.name, failing(c, source, dialect, alias)) for c in source.row_checks]


def reason(source: m.Source, dialect: Dialect, alias: str) -> str:
    """SQL for the quarantine reason of a row that fails one or more row checks:
    ``check: NAME, NAME`` (the failing checks in declared order)."""
    pieces = [f"CASE WHEN {condition} THEN {dialect.text_literal(', ' + name)} ELSE '' END"
              for name, condition in row_failures(source, dialect, alias)]
    return f"{dialect.text_literal(REASON)} || substr({' || '.join(pieces)}, 3)"


def failed_names(reason_text: str) -> list[str]:
    """The row checks a quarantine reason names (none for another reason)."""
    if not reason_text.startswith(REASON):
        return []
    return reason_text[len(REASON):].split(", ")


def drift_bin(check: m.Check, column: m.Column, dialect: Dialect, expr: str) -> str:
    """SQL for the bin of a value in a drift check's profile, as text: NULL and NaN bins of
    their own, then with declared edges the bin's number (``0`` below the first edge, ``i``
    from edge ``i-1`` up to edge ``i``), else the value's canonical text."""
    text = dialect.canonical_text(expr, column.type)
    cases = [f"WHEN {expr} IS NULL THEN '{NULL_BIN}'"]
    if column.type == "float":
        cases.append(f"WHEN {text} = 'NaN' THEN '{NAN_BIN}'")
    if not check.values:
        return f"CASE {' '.join(cases)} ELSE {text} END"
    for number, edge in enumerate(check.values):
        cases.append(f"WHEN {dialect.compare(expr, column.type, '<', edge)} THEN '{number}'")
    return f"CASE {' '.join(cases)} ELSE '{len(check.values)}' END"


# ---- judging a batch -----------------------------------------------------------------------
@dataclass
class Outcome:
    """A check's run: its status, what it measured and what that was held against."""

    check: m.Check
    status: str
    value: str | None = None
    expected: str | None = None
    message: str = ""
    #: the rows a row check quarantined
    rows: int | None = None
    #: a drift check's counts per bin, which later runs pool
    profile: dict[str, int] | None = field(default=None, repr=False)

    @property
    def stops(self) -> bool:
        return self.status == STOP


def _failed(check: m.Check) -> str:
    return STOP if check.severity == "stop" else WARN


def judge_unique(check: m.Check, duplicated: int) -> Outcome:
    if not duplicated:
        return Outcome(check, PASS, "0", "0")
    return Outcome(check, _failed(check), str(duplicated), "0",
                   f"{_count(duplicated, 'value')} of {', '.join(check.columns)} held by "
                   "more than one row")


def judge_freshness(check: m.Check, latest: dt.datetime | None, loaded_at: dt.datetime
                    ) -> Outcome:
    assert check.max_age is not None
    limit = _duration(check.max_age)
    if latest is None:
        return Outcome(check, _failed(check), None, limit, "the batch has no rows")
    age = loaded_at - latest
    if age <= check.max_age:
        return Outcome(check, PASS, _duration(age), limit)
    return Outcome(check, _failed(check), _duration(age), limit,
                   f"its latest applied time {latest:%Y-%m-%d %H:%M:%S} is {_duration(age)} "
                   f"before its load time; the limit is {limit}")


def judge_volume(check: m.Check, rows: int, recent: Sequence[int]) -> Outcome:
    problems, expected = [], []
    if check.low is not None:
        expected.append(f">= {int(check.low):,}")
        if rows < int(check.low):
            problems.append(f"fewer than {int(check.low):,} rows")
    if check.high is not None:
        expected.append(f"<= {int(check.high):,}")
        if rows > int(check.high):
            problems.append(f"more than {int(check.high):,} rows")
    if check.within is not None:
        if len(recent) < check.min_batches:
            if not problems:
                return Outcome(check, SKIP, f"{rows:,}", None,
                               f"{_count(len(recent), 'earlier loaded batch')}; it needs "
                               f"{check.min_batches}")
        else:
            mean = Decimal(sum(recent)) / len(recent)
            share = check.within / 100
            low, high = mean * (1 - share), mean * (1 + share)
            expected.append(f"{_number(low)} to {_number(high)} (the mean of "
                            f"{_count(len(recent), 'batch')}, {_number(mean)}, "
                            f"± {_number(check.within)}%)")
            if not low <= rows <= high:
                problems.append(f"{rows:,} rows is outside {_number(low)} to {_number(high)}")
    value = f"{rows:,}"
    if problems:
        return Outcome(check, _failed(check), value, "; ".join(expected), "; ".join(problems))
    return Outcome(check, PASS, value, "; ".join(expected))


def psi(current: Mapping[str, int], baseline: Mapping[str, int]) -> float:
    """The population stability index of two distributions given as counts per bin, each
    share at least ``SMALLEST_SHARE``; sorted by bin, so that the sum is the same however
    the counts came."""
    total_p, total_q = sum(current.values()), sum(baseline.values())
    result = 0.0
    for name in sorted(set(current) | set(baseline)):
        p = max(current.get(name, 0) / total_p, SMALLEST_SHARE)
        q = max(baseline.get(name, 0) / total_q, SMALLEST_SHARE)
        result += (p - q) * math.log(p / q)
    return result


def judge_drift(check: m.Check, profile: dict[str, int],
                baselines: Sequence[Mapping[str, int]]) -> Outcome:
    if len(profile) > MAX_VALUES:
        return Outcome(check, SKIP, None, None,
                       f"more than {MAX_VALUES:,} distinct values: declare bins")
    if not sum(profile.values()):
        return Outcome(check, SKIP, None, None, "the batch has no rows", profile=profile)
    if len(baselines) < check.min_batches:
        return Outcome(check, SKIP, None, None,
                       f"{_count(len(baselines), 'earlier profiled batch')}; it needs "
                       f"{check.min_batches}", profile=profile)
    pooled: dict[str, int] = {}
    for counts in baselines:
        for name, count in counts.items():
            pooled[name] = pooled.get(name, 0) + count
    index = psi(profile, pooled)
    value, expected = f"psi {index:.4f}", f"<= {_number(check.threshold)}"
    if index > check.threshold:
        return Outcome(check, _failed(check), value, expected,
                       f"{check.columns[0]}: PSI {index:.4f} against the last "
                       f"{_count(len(baselines), 'batch')} is above {_number(check.threshold)}",
                       profile=profile)
    return Outcome(check, PASS, value, expected, profile=profile)


def rows_quarantined(rows: int) -> str:
    return f"{_count(rows, 'row')} quarantined"


def _count(number: int, unit: str) -> str:
    plural = "es" if unit.endswith("ch") else "s"
    return f"{number:,} {unit}{'' if number == 1 else plural}"


def _duration(value: dt.timedelta) -> str:
    seconds = int(value.total_seconds())
    if seconds < 0:
        return f"-{_duration(-value)}"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (seconds, "s")]
    shown = [f"{n}{unit}" for n, unit in parts if n]
    return " ".join(shown) or "0s"


def _number(value: Decimal) -> str:
    rounded = value.quantize(Decimal("0.01")).normalize()
    return f"{rounded:,f}"
