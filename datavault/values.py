"""Parsing source text into typed values, and the one storage form per type on each engine."""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
import uuid
from decimal import Decimal, InvalidOperation

from datavault.hashing import canonical

#: a decimal has at most this many digits before and after its point (SEMANTICS.md 1)
DECIMAL_DIGITS = 1000
_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}
_INFINITY = {"inf", "infinity"}  # the spellings of an infinity a float column reads
INT64 = 2**63


class ParseError(ValueError):
    """A source value that does not parse as its declared type."""


def parse(text: str | None, type_name: str) -> object:
    """Parse one source text (CSV field) as its declared type; ``''`` and None are NULL."""
    if text is None or text == "":
        return None
    if type_name == "text":
        return text
    raw = text.strip()
    try:
        if type_name == "integer":
            if not raw.lstrip("+-").isdigit() or not raw.isascii():
                raise ValueError
            value = int(raw)
            if not -INT64 <= value < INT64:
                raise ParseError(f"{raw!r} is out of the 64-bit integer range")
            return value
        if type_name == "decimal":
            return _decimal(Decimal(raw), text)
        if type_name == "date":
            return dt.date.fromisoformat(raw)
        if type_name == "timestamp":
            return to_utc(dt.datetime.fromisoformat(raw))
        if type_name == "boolean":
            low = raw.lower()
            if low in _TRUE:
                return True
            if low in _FALSE:
                return False
            raise ValueError
        if type_name == "uuid":
            return uuid.UUID(raw)
        if type_name == "float":
            return _double(float(raw), raw.lstrip("+-").lower() in _INFINITY, text)
    except ParseError:
        raise
    except (ValueError, InvalidOperation, ArithmeticError):
        raise ParseError(f"{text!r} is not a valid {type_name}") from None
    raise ParseError(f"unknown type {type_name!r}")


def coerce(value: object, type_name: str) -> object:
    """Bring a value read from another database to the declared type's Python form."""
    if value is None:
        return None
    if isinstance(value, str):
        return parse(value, type_name)
    try:
        if type_name == "text":
            return str(value)
        if type_name == "integer" and isinstance(value, int) and not isinstance(value, bool):
            return value
        if type_name == "decimal" and isinstance(value, (int, Decimal)):
            return _decimal(Decimal(value), value)
        if type_name == "decimal" and isinstance(value, float) and math.isfinite(value):
            # the shortest text: 120.5, not 120.5000000000000001
            return _decimal(Decimal(repr(value)), value)
        if type_name == "date":
            if isinstance(value, dt.datetime):
                raise ValueError
            if isinstance(value, dt.date):
                return value
        if type_name == "timestamp":
            if isinstance(value, dt.datetime):
                return to_utc(value)
            if isinstance(value, dt.date):
                return dt.datetime(value.year, value.month, value.day)
        if type_name == "boolean" and isinstance(value, (bool, int)):
            return bool(value)
        if type_name == "uuid" and isinstance(value, uuid.UUID):
            return value
        if type_name == "float" and isinstance(value, float):
            return value + 0.0
        if type_name == "float" and isinstance(value, (int, Decimal)):
            return _double(float(value), isinstance(value, Decimal) and value.is_infinite(),
                           value)
    except ParseError:
        raise
    except OverflowError:  # an int too large for a double
        raise ParseError(f"an integer of {len(str(abs(value)))} digits is out of the range "
                         "of a float (a double)") from None
    except (ValueError, TypeError):
        pass
    raise ParseError(f"{value!r} is not a valid {type_name}")


def _double(value: float, said_infinity: bool, shown: object) -> float:
    """A double read from a source: a finite number too large for a double is refused, not
    made an infinity (only ``inf`` or ``Infinity`` say that); a zero has no sign."""
    if math.isinf(value) and not said_infinity:
        raise ParseError(f"{shown!r} is out of the range of a float (a double)")
    return value + 0.0  # -0.0 is 0.0: no engine keeps the sign of a zero


def _decimal(value: Decimal, shown: object) -> Decimal:
    """A finite decimal with at most DECIMAL_DIGITS digits before and after its point."""
    if not value.is_finite():
        raise ValueError
    if value and (value.adjusted() >= DECIMAL_DIGITS
                  or -value.normalize().as_tuple().exponent > DECIMAL_DIGITS):  # type: ignore[operator]
        raise ParseError(f"{shown!r} is out of the decimal range (at most {DECIMAL_DIGITS} "
                         "digits before and after the point)")
    return value


def utcnow() -> dt.datetime:
    """Now, as the naive UTC timestamp the vault stores."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def to_utc(value: dt.datetime) -> dt.datetime:
    """Timezone-aware values become naive UTC; naive values are taken as UTC already."""
    if value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def read_timestamp(value: object) -> dt.datetime | None:
    """A timestamp as an engine gives it back (SQLite may give its stored text); None stays
    None."""
    if value is None or isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(str(value))


def timestamp_text(value: dt.datetime) -> str:
    """The stored text of a timestamp: ``YYYY-MM-DD HH:MM:SS.ffffff`` (sorts as it compares)."""
    return canonical(value, "timestamp").replace("T", " ")


def to_text(value: object, type_name: str) -> str:
    """The text form a database reads back as the same typed value (COPY, SQLite storage)."""
    if type_name == "timestamp":
        return timestamp_text(value)  # type: ignore[arg-type]
    if type_name == "float":  # NaN, Infinity, -Infinity as every engine reads them
        value = float(value)  # type: ignore[arg-type]
        return repr(value) if math.isfinite(value) else canonical(value, "float")
    return canonical(value, type_name)


def from_stored(value: object, type_name: str) -> object:
    """A value as SQLite stores it (see ``to_text``) back to the declared type's Python form."""
    if value is None:
        return None
    if type_name == "boolean":
        return bool(value)
    if type_name == "integer" and isinstance(value, int):
        return value
    if type_name == "float" and isinstance(value, (int, float)):
        return float(value) + 0.0
    if type_name == "text":
        return value if isinstance(value, str) else str(value)
    return parse(str(value), type_name)


def stored_float(value: float) -> float | str:
    """A float as SQLite stores it: a NaN as the text ``NaN`` (SQLite stores a NaN double as
    NULL, which would lose it), every other double as itself."""
    return "NaN" if math.isnan(value) else value


def read_value(value: object, type_name: str) -> object:
    """A value of a declared type as an engine gives it back, in the one Python form every
    engine answers with: a float as ``float`` (a NaN SQLite keeps as text too, no sign on a
    zero), a decimal as ``Decimal`` (SQLite keeps its text), other types as they come."""
    if value is None:
        return None
    if type_name == "float":
        return from_stored(value, "float")
    if type_name == "decimal" and not isinstance(value, Decimal):
        return parse(str(value), "decimal")
    return value


def display(value: object) -> object:
    """A value as the toolkit prints it (tables, CSV, JSON): a float or a decimal as its
    canonical text (SEMANTICS.md section 1: ``1e-07``, ``0.0000001``, ``1000``, ``NaN``,
    ``0`` for either zero), whichever engine gave it; other values unchanged."""
    if isinstance(value, float):
        return canonical(value, "float")
    if isinstance(value, Decimal):
        return canonical(value, "decimal")
    return value


@functools.lru_cache(maxsize=256)
def _pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def full_match(pattern: str, text: str) -> bool:
    """A pattern check's rule (SEMANTICS.md section 11): the whole text matches the regular
    expression, and holds no line feed (engines disagree on what ``.``, ``$`` and classes do
    at one)."""
    return "\n" not in text and _pattern(pattern).fullmatch(text) is not None
