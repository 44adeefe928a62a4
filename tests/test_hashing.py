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
from tests.conftest import ENGINES, file_url_maker

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
key_values = st.lists(
    st.sampled_from(TYPES).flatmap(lambda t: st.tuples(st.just(t), st.none() | VALUES[t])),
    min_size=1, max_size=4,
)
#: every double, NaN and the infinities too, and the ones engines print or store their own way
floats = st.one_of(st.floats(), st.sampled_from(
    [-0.0, 0.0, 1e-7, 1e22, 5e-324, 2.2250738585072014e-308, float("nan"), float("inf"),
     float("-inf"), 2.598546655556481e16]))
VALUES["float"] = floats
payload_values = st.lists(
    st.sampled_from(TYPES + ["float"]).flatmap(lambda t: st.tuples(
        st.just(t), st.none() | VALUES[t])),
    min_size=1, max_size=4,
)


@pytest.fixture(params=ENGINES)
def engine(request, tmp_path):
    url = (request.getfixturevalue("pg_url") if request.param == "postgresql"
           else file_url_maker(request.param, tmp_path)())
    engine, dialect = connect(url)
    yield engine, dialect
    engine.dispose()


def _engine_hashes(engine, dialect, parts, payload, algorithm):
    """Land the values the way staging does, then hash them in SQL."""
    columns = [sa.Column(f"k{i}", schema.column_type(t)) for i, (t, _) in enumerate(parts)]
    columns += [sa.Column(f"p{i}", schema.column_type(t)) for i, (t, _) in enumerate(payload)]
    table = sa.Table("dv_hash_probe", sa.MetaData(), sa.Column("dv_row", sa.Integer),
                     *columns, prefixes=["TEMPORARY"])
    key_sql = dialect.hash_key([(f"k{i}", t) for i, (t, _) in enumerate(parts)], algorithm)
    diff_sql = dialect.hash_diff([(f"p{i}", f"p{i}", t) for i, (t, _) in enumerate(payload)],
                                 algorithm)
    with engine.begin() as connection:
        table.drop(connection, checkfirst=True)
        table.create(connection)
        dialect.bulk_insert(
            connection, table.name, ["dv_row"] + [c.name for c in columns],
            ["integer"] + [t for t, _ in parts] + [t for t, _ in payload],
            [[1] + [_naive(v, t) for t, v in parts] + [_naive(v, t) for t, v in payload]],
        )
        row = connection.exec_driver_sql(
            f"SELECT {key_sql}, {diff_sql} FROM {table.name}").one()
        table.drop(connection)
    return bytes(row[0]), bytes(row[1])


def _naive(value, type_name):
    """Staging stores timestamps as naive UTC (datavault.values.to_utc)."""
    if type_name == "timestamp" and value is not None and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=key_values, payload=payload_values, algorithm=st.sampled_from(["md5", "sha256"]))
@example(  # PostgreSQL prints this double with 17 digits; 16 read back the same
    parts=[("text", " a|b\\ ")], payload=[("float", 2.598546655556481e16), ("float", -1e300)],
    algorithm="md5",
)
@example(  # SQLite stores a NaN double as NULL
    parts=[("integer", 1)], payload=[("float", float("nan")), ("float", float("-inf")),
                                     ("float", -0.0), ("decimal", Decimal("1E+3"))],
    algorithm="sha256",
)
def test_engines_give_the_bytes_of_the_python_rule(engine, parts, payload, algorithm) -> None:
    engine, dialect = engine
    expected_key = hashing.hash_key([(v, t) for t, v in parts], algorithm)
    expected_diff = hashing.hash_diff(
        [(f"p{i}", v, t) for i, (t, v) in enumerate(payload)], algorithm)
    assert _engine_hashes(engine, dialect, parts, payload, algorithm) == (
        expected_key, expected_diff)


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cells=st.lists(st.sampled_from(["float", "decimal"]).flatmap(
    lambda t: st.tuples(st.just(t), VALUES[t])), min_size=1, max_size=6))
@example(cells=[("float", float("nan")), ("float", -0.0), ("float", float("-inf")),
                ("decimal", Decimal("1E+3")), ("decimal", Decimal("1E-7")),
                ("decimal", Decimal("-0.000"))])
def test_engines_store_and_print_numbers_as_python_does(engine, cells) -> None:
    """Stored the way staging stores them, read back as ``query`` reads them: the same value
    (NaN too, no sign on a zero) and the same printed text, the canonical one, on every
    engine."""
    engine, dialect = engine
    columns = [sa.Column(f"v{i}", schema.column_type(t)) for i, (t, _) in enumerate(cells)]
    table = sa.Table("dv_number_probe", sa.MetaData(), sa.Column("dv_row", sa.Integer),
                     *columns, prefixes=["TEMPORARY"])
    with engine.begin() as connection:
        table.drop(connection, checkfirst=True)
        table.create(connection)
        dialect.bulk_insert(connection, table.name, ["dv_row"] + [c.name for c in columns],
                            ["integer"] + [t for t, _ in cells],
                            [[1] + [values.parse(values.to_text(v, t), t) for t, v in cells]])
        row = connection.execute(sa.select(*columns)).one()
        table.drop(connection)
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
@given(parts=key_values)
@example(parts=[("text", " \t"), ("integer", 7)])
@example(parts=[("text", "a|b\\"), ("text", " x "), ("decimal", Decimal("1E+3"))])
def test_engines_give_the_code_text_of_the_python_rule(engine, parts) -> None:
    engine, dialect = engine
    columns = [sa.Column(f"k{i}", schema.column_type(t)) for i, (t, _) in enumerate(parts)]
    table = sa.Table("dv_code_probe", sa.MetaData(), sa.Column("dv_row", sa.Integer),
                     *columns, prefixes=["TEMPORARY"])
    code_sql = dialect.code_text([(f"k{i}", t) for i, (t, _) in enumerate(parts)])
    with engine.begin() as connection:
        table.drop(connection, checkfirst=True)
        table.create(connection)
        dialect.bulk_insert(connection, table.name, ["dv_row"] + [c.name for c in columns],
                            ["integer"] + [t for t, _ in parts],
                            [[1] + [_naive(v, t) for t, v in parts]])
        got = connection.exec_driver_sql(f"SELECT {code_sql} FROM {table.name}").scalar()
        table.drop(connection)
    assert got == hashing.code_text([(v, t) for t, v in parts])
