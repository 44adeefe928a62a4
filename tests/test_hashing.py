"""Hash keys and hash diffs: the canonical text of SEMANTICS.md section 1, and the same bytes
from plain Python, from every engine for generated values of every type."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import os
import uuid
from decimal import Decimal

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from datavault import hashing, schema, values
from datavault.database import connect
from tests.conftest import ALL_ENGINES, url_maker

EXAMPLES = int(os.environ.get("DATAVAULT_PROPERTY_EXAMPLES", "100"))


# ---- the canonical text, by the table in SEMANTICS.md -------------------------------------
@pytest.mark.parametrize("value, type_name, text", [
    ("  Straße ", "text", "  Straße "),
    (-42, "integer", "-42"),
    (0, "integer", "0"),
    (Decimal("12.500"), "decimal", "12.5"),
    (Decimal("-0.000"), "decimal", "0"),
    (-0.0, "float", "0"),  # SQLite keeps no sign on a stored zero
    (Decimal("1E+3"), "decimal", "1000"),
    (Decimal("100"), "decimal", "100"),
    (Decimal("0.0001000"), "decimal", "0.0001"),
    (dt.date(2026, 2, 1), "date", "2026-02-01"),
    (dt.datetime(2026, 2, 1, 6, 0), "timestamp", "2026-02-01T06:00:00.000000"),
    (dt.datetime(2026, 2, 1, 7, 0, tzinfo=dt.timezone(dt.timedelta(hours=1))), "timestamp",
     "2026-02-01T06:00:00.000000"),
    (True, "boolean", "true"),
    (False, "boolean", "false"),
    (uuid.UUID("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"), "uuid",
     "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
    (1.0, "float", "1"),
    (0.1, "float", "0.1"),
    (1e16, "float", "1e+16"),
])
def test_canonical_text(value, type_name, text) -> None:
    assert hashing.canonical(value, type_name) == text


def test_key_parts_are_trimmed_folded_escaped_and_joined() -> None:
    parts = [(" ab|c\\ ", "text"), ("ümlaut", "text"), ("", "text"), (None, "integer")]
    assert hashing.key_string(parts) == "AB\\|C\\\\|üMLAUT|\\N|\\N"
    assert hashing.hash_key(parts, "md5") == hashlib.md5(
        "AB\\|C\\\\|üMLAUT|\\N|\\N".encode()).digest()


def test_every_part_missing_is_the_zero_key() -> None:
    assert hashing.hash_key([(" \t", "text"), (None, "date")], "md5") == bytes(16)
    assert hashing.hash_key([(None, "text")], "sha256") == bytes(32)


def test_escaping_keeps_different_keys_apart() -> None:
    assert hashing.key_string([("a|b", "text"), ("c", "text")]) != hashing.key_string(
        [("a", "text"), ("b|c", "text")])


def test_hash_diff_leaves_nulls_out_and_keeps_case_and_space() -> None:
    items = [("b", " X", "text"), ("a", Decimal("1.50"), "decimal"), ("c", None, "float")]
    assert hashing.hash_diff_string(items) == "a=1.5|b= X"
    assert hashing.hash_diff(items, "md5") != hashing.hash_diff(
        [("b", "X", "text"), ("a", Decimal("1.5"), "decimal")], "md5")


# ---- the same bytes on every engine ---------------------------------------------------------
TYPES = ["text", "integer", "decimal", "date", "timestamp", "boolean", "uuid"]
ASCII_SPACE = st.sampled_from([" ", "\t", "\r", "\n", "\f", "\v", ""])
texts = st.one_of(
    st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=12),
    st.builds(lambda a, b, c: a + b + c, ASCII_SPACE, st.sampled_from(
        ["a|b", "a\\b", "\\|", "|", "\\", "abc", "ÄÖü", "", "x\\N"]), ASCII_SPACE),
)
VALUES = {
    "text": texts,
    "integer": st.integers(-(2**63), 2**63 - 1),
    "decimal": st.decimals(allow_nan=False, allow_infinity=False, places=None).filter(
        lambda d: abs(d.adjusted()) < 60),
    "date": st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31)),
    "timestamp": st.datetimes(min_value=dt.datetime(1900, 1, 1),
                              max_value=dt.datetime(9999, 12, 31),
                              timezones=st.one_of(st.none(), st.timezones())),
    "boolean": st.booleans(),
    "uuid": st.uuids(),
}
def _row(types):
    """A row of (type, value) cells of ``types``. An example holds several rows of one set
    of types: they share one query, so an engine with a high cost per query (Spark) checks
    many values at the cost of few queries."""
    return st.tuples(*[st.none() | VALUES[t] for t in types]).map(
        lambda cells: list(zip(types, cells)))


#: every double, NaN and the infinities too, and the ones engines print or store their own way
floats = st.one_of(st.floats(), st.sampled_from(
    [-0.0, 0.0, 1e-7, 1e22, 5e-324, 2.2250738585072014e-308, float("nan"), float("inf"),
     float("-inf"), 2.598546655556481e16]))
VALUES["float"] = floats
#: rows of key parts and payload, the types the same in every row
hash_cases = st.tuples(st.lists(st.sampled_from(TYPES), min_size=1, max_size=4),
                       st.lists(st.sampled_from(TYPES + ["float"]), min_size=1, max_size=4)
                       ).flatmap(lambda types: st.lists(
                           st.tuples(_row(types[0]), _row(types[1])), min_size=1, max_size=8))


@pytest.fixture(params=ALL_ENGINES + (["spark-connect"] if "spark" in ALL_ENGINES else []))
def engine(request, tmp_path):
    engine, dialect = connect(url_maker(request, request.param, tmp_path)())
    yield engine, dialect
    engine.dispose()


def _engine_hashes(engine, dialect, cases, algorithm):
    """Land the rows of ``cases`` (key parts and payload of one set of types) the way
    staging does, then hash them in SQL, one query for every row."""
    parts, payload = cases[0]
    columns = [sa.Column(f"k{i}", schema.column_type(t)) for i, (t, _) in enumerate(parts)]
    columns += [sa.Column(f"p{i}", schema.column_type(t)) for i, (t, _) in enumerate(payload)]
    table = sa.Table("dv_hash_probe", sa.MetaData(), sa.Column("dv_row", sa.Integer),
                     *columns, prefixes=_temporary(dialect))
    key_sql = dialect.hash_key([(f"k{i}", t) for i, (t, _) in enumerate(parts)], algorithm)
    diff_sql = dialect.hash_diff([(f"p{i}", f"p{i}", t) for i, (t, _) in enumerate(payload)],
                                 algorithm)
    with engine.begin() as connection:
        table.drop(connection, checkfirst=True)
        table.create(connection)
        dialect.bulk_insert(
            connection, table.name, ["dv_row"] + [c.name for c in columns],
            ["integer"] + [t for t, _ in parts] + [t for t, _ in payload],
            [[n] + [_naive(v, t) for t, v in row_parts] + [_naive(v, t) for t, v in row_payload]
             for n, (row_parts, row_payload) in enumerate(cases)],
        )
        rows = connection.exec_driver_sql(
            f"SELECT {key_sql}, {diff_sql} FROM {table.name} ORDER BY dv_row").all()
        table.drop(connection)
    return [(bytes(key), bytes(diff)) for key, diff in rows]


def _temporary(dialect):
    """A probe table is a connection's own where the engine has such tables."""
    return ["TEMPORARY"] if dialect.temporary_tables else []


def _naive(value, type_name):
    """Staging stores timestamps as naive UTC (datavault.values.to_utc)."""
    if type_name == "timestamp" and value is not None and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cases=hash_cases, algorithm=st.sampled_from(["md5", "sha256"]))
@example(  # PostgreSQL prints this double with 17 digits; 16 read back the same
    cases=[([("text", " a|b\\ ")], [("float", 2.598546655556481e16), ("float", -1e300)])],
    algorithm="md5",
)
@example(  # SQLite stores a NaN double as NULL; Java's text of 5e-324 has two digits
    cases=[([("integer", 1)], [("float", float("nan")), ("float", float("-inf")),
                               ("float", -0.0), ("decimal", Decimal("1E+3"))]),
           ([("integer", 2)], [("float", 5e-324), ("float", 1e-323), ("float", 1e22),
                               ("decimal", None)])],
    algorithm="sha256",
)
def test_engines_give_the_bytes_of_the_python_rule(engine, cases, algorithm) -> None:
    engine, dialect = engine
    expected = [(hashing.hash_key([(v, t) for t, v in parts], algorithm),
                 hashing.hash_diff([(f"p{i}", v, t) for i, (t, v) in enumerate(payload)],
                                   algorithm))
                for parts, payload in cases]
    assert _engine_hashes(engine, dialect, cases, algorithm) == expected


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.sampled_from(["float", "decimal"]), min_size=1, max_size=6).flatmap(
    lambda types: st.lists(st.tuples(*[VALUES[t] for t in types]).map(
        lambda cells: list(zip(types, cells))), min_size=1, max_size=8)))
@example(rows=[[("float", float("nan")), ("float", -0.0), ("float", float("-inf")),
                ("decimal", Decimal("1E+3")), ("decimal", Decimal("1E-7")),
                ("decimal", Decimal("-0.000"))]])
def test_engines_store_and_print_numbers_as_python_does(engine, rows) -> None:
    """Stored the way staging stores them, read back as ``query`` reads them: the same value
    (NaN too, no sign on a zero) and the same printed text, the canonical one, on every
    engine."""
    engine, dialect = engine
    columns = [sa.Column(f"v{i}", schema.column_type(t)) for i, (t, _) in enumerate(rows[0])]
    table = sa.Table("dv_number_probe", sa.MetaData(), sa.Column("dv_row", sa.Integer),
                     *columns, prefixes=_temporary(dialect))
    with engine.begin() as connection:
        table.drop(connection, checkfirst=True)
        table.create(connection)
        dialect.bulk_insert(connection, table.name, ["dv_row"] + [c.name for c in columns],
                            ["integer"] + [t for t, _ in rows[0]],
                            [[n] + [values.parse(values.to_text(v, t), t) for t, v in cells]
                             for n, cells in enumerate(rows)])
        read_rows = connection.execute(sa.select(*columns).order_by(sa.text("dv_row"))).all()
        table.drop(connection)
    assert len(read_rows) == len(rows)
    for cells, row in zip(rows, read_rows):
        _same_numbers(cells, row)


def _same_numbers(cells, row) -> None:
    for (type_name, value), got in zip(cells, row):
        read = values.read_value(got, type_name)
        expected = values.parse(values.to_text(value, type_name), type_name)
        assert type(read) is type(expected), (type_name, value, got)
        if type_name == "float" and math.isnan(value):
            assert math.isnan(read)
        else:
            assert read == expected == value, (type_name, value, got)
        assert values.display(read) == hashing.canonical(value, type_name), (value, got)


# ---- the text of a reference table's code (SEMANTICS.md section 9) ---------------------------
def test_a_code_text_keeps_case_and_space_and_escapes() -> None:
    assert hashing.code_text([("mm", "text")]) != hashing.code_text([("Mm", "text")])
    assert hashing.code_text([(" EUR", "text")]) == " EUR"
    assert hashing.code_text([(7, "integer"), ("a|b", "text")]) == "7|a\\|b"
    assert hashing.code_text([(7, "integer"), ("a\\", "text")]) == "7|a\\\\"
    for missing in (None, "", " \t\r\n\f\v"):
        assert hashing.code_text([(1, "integer"), (missing, "text")]) is None
    assert hashing.code_text([(None, "integer")]) is None


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.sampled_from(TYPES), min_size=1, max_size=4).flatmap(
    lambda types: st.lists(_row(types), min_size=1, max_size=8)))
@example(rows=[[("text", " \t"), ("integer", 7)], [("text", "x"), ("integer", None)]])
@example(rows=[[("text", "a|b\\"), ("text", " x "), ("decimal", Decimal("1E+3"))]])
def test_engines_give_the_code_text_of_the_python_rule(engine, rows) -> None:
    engine, dialect = engine
    parts = rows[0]
    columns = [sa.Column(f"k{i}", schema.column_type(t)) for i, (t, _) in enumerate(parts)]
    table = sa.Table("dv_code_probe", sa.MetaData(), sa.Column("dv_row", sa.Integer),
                     *columns, prefixes=_temporary(dialect))
    code_sql = dialect.code_text([(f"k{i}", t) for i, (t, _) in enumerate(parts)])
    with engine.begin() as connection:
        table.drop(connection, checkfirst=True)
        table.create(connection)
        dialect.bulk_insert(connection, table.name, ["dv_row"] + [c.name for c in columns],
                            ["integer"] + [t for t, _ in parts],
                            [[n] + [_naive(v, t) for t, v in row] for n, row in enumerate(rows)])
        got = connection.exec_driver_sql(
            f"SELECT {code_sql} FROM {table.name} ORDER BY dv_row").scalars().all()
        table.drop(connection)
    assert got == [hashing.code_text([(v, t) for t, v in row]) for row in rows]
