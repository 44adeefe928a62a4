"""Source texts that SQL reads itself: a strict subset of what ``datavault.values.parse``
accepts, in forms on which the casts of every engine that types source text in SQL
(``Dialect.supports_copy``: PostgreSQL, DuckDB) give the same value as the parser. A text in
another form goes through the parser. ``tests/test_staging.py`` proves the two ways stage the
same rows on each such engine."""

from __future__ import annotations

import itertools

import pyarrow as pa
import pyarrow.compute as pc

_PLAIN = {
    "integer": r"^[+-]?[0-9]+$",
    "decimal": r"^[+-]?[0-9]+(\.[0-9]+)?$",
    "float": r"^[+-]?[0-9]+(\.[0-9]+)?$",  # correctly rounded by both
    "date": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
    "timestamp": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?)?$",
    "boolean": r"^(true|t|yes|y|1|false|f|no|n|0|TRUE|T|YES|Y|FALSE|F|NO|N|True|Yes|False|No)$",
    "uuid": r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
}
# the longest text of each form: 18 digits and a sign (no 64-bit overflow), numbers far
# from the limits of a database's numbers (no overflow, no error), fractions of a second to
# the microsecond (a database rounds where the parser cuts)
_LONGEST = {"integer": 19, "decimal": 1000, "float": 300, "timestamp": 26}


_ANY_DATE = "2000-01-01T00:00:00"  # stands in for texts that are not of the form


def _valid_date(text: pa.Array) -> pa.Array:
    """True where the YYYY-MM-DD at the start of ``text`` (digits already checked) is a date:
    year 0001 to 9999, month 01 to 12, a day of that month (leap years too)."""
    year = pc.cast(pc.utf8_slice_codeunits(text, 0, 4), pa.int32())
    month = pc.cast(pc.utf8_slice_codeunits(text, 5, 7), pa.int32())
    day = pc.cast(pc.utf8_slice_codeunits(text, 8, 10), pa.int32())
    known = pc.and_(pc.greater_equal(month, 1), pc.less_equal(month, 12))
    last = pc.take(_MONTH_DAYS, pc.if_else(known, month, 1))
    leap = pc.and_(pc.equal(pc.bit_wise_and(year, 3), 0), pc.or_(
        pc.not_equal(pc.subtract(year, pc.multiply(pc.divide(year, 100), 100)), 0),
        pc.equal(pc.subtract(year, pc.multiply(pc.divide(year, 400), 400)), 0)))
    last = pc.add(last, pc.cast(pc.and_(leap, pc.equal(month, 2)), pa.int32()))
    return pc.and_(pc.and_(pc.not_equal(year, 0), known),
                   pc.and_(pc.greater_equal(day, 1), pc.less_equal(day, last)))


_MONTH_DAYS = pa.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], pa.int32())


def plain_text(text: pa.Array, type_name: str) -> pa.Array:
    """True where source text is NULL, empty, or in a form of ``_PLAIN`` that is a value: a
    strict subset of what ``values.parse`` reads, on which an engine's cast gives the same
    value. Computed on the batch's Arrow column (RE2 patterns), before it is copied in."""
    if type_name == "text":
        return pa.array(itertools.repeat(True, len(text)), pa.bool_())
    ok = pc.match_substring_regex(text, _PLAIN[type_name])
    if type_name in _LONGEST:
        ok = pc.and_(ok, pc.less_equal(pc.utf8_length(text), _LONGEST[type_name]))
    if type_name == "integer":  # 18 digits, or a sign and 18 digits: no 64-bit overflow
        ok = pc.and_(ok, pc.or_(pc.less(pc.utf8_length(text), 19),
                                pc.match_substring_regex(text, "^[+-]")))
    elif type_name in ("date", "timestamp"):
        safe = pc.if_else(pc.fill_null(ok, False), text, _ANY_DATE)
        ok = pc.and_(ok, _valid_date(safe))
        if type_name == "timestamp":
            length = pc.utf8_length(safe)
            clock = pc.and_(pc.less_equal(pc.utf8_slice_codeunits(safe, 11, 13), "23"),
                            pc.less_equal(pc.utf8_slice_codeunits(safe, 14, 16), "59"))
            seconds = pc.or_(pc.equal(length, 16),
                             pc.less_equal(pc.utf8_slice_codeunits(safe, 17, 19), "59"))
            ok = pc.and_(ok, pc.or_(pc.equal(length, 10), pc.and_(clock, seconds)))
    return pc.fill_null(pc.or_(pc.equal(text, ""), ok), True)
