"""Staging copies a batch's text into the database where the engine takes it in bulk
(``Dialect.supports_copy``: PostgreSQL's COPY, DuckDB's Arrow tables) and types it in SQL;
every text SQL does not read exactly as the parser does goes through the parser
(datavault.values.parse), as every value does on other engines. Both ways must stage the same
rows and quarantine the same rows for the same reasons, on each such engine."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import os
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from datavault import api, schema
from datavault.dialects import DIALECTS
from datavault.load import open_input
from tests.conftest import ENGINES, file_url_maker, migrated, write_project

EXAMPLES = int(os.environ.get("DATAVAULT_PROPERTY_EXAMPLES", "100")) // 4

PROJECT = {
    "models/sources/probe.yml": """
applied_at: at
columns:
  k: text
  at: timestamp
  i: integer
  d: decimal
  f: float
  dd: date
  ts: timestamp
  b: boolean
  u: uuid
  t: text
""",
    "models/hubs/thing.yml": """
business_key:
  k: text
sources:
  probe:
""",
    "models/satellites/thing_details.yml": """
parent: thing
source: probe
payload: [i, d, f, dd, ts, b, u, t]
""",
}
COLUMN_TYPES = {"k": "text", "at": "timestamp", "i": "integer", "d": "decimal", "f": "float",
                "dd": "date", "ts": "timestamp", "b": "boolean", "u": "uuid", "t": "text"}
HEADER = list(COLUMN_TYPES)
STAGE_COLUMNS = ["dv_row", "dv_applied_at"] + HEADER + ["dv_hk_thing", "dv_hd_thing_details"]

# Texts of each type: the forms SQL reads, and forms only the parser reads or rejects.
ODD = {
    "integer": ["", " 42", "+7", "007", "-0", "1e3", "9223372036854775807",
                "9223372036854775808", "-9223372036854775808", "-", "١٢", "12 ", "1.0",
                "-" + "9" * 18, "9" * 18, "+" + "0" * 30],
    "decimal": ["", "1.50", "-0.0", ".5", "5.", "1_000", "NaN", " 1.5", "1E+3", "-12.3400",
                "0" * 30 + "1." + "9" * 40],
    "float": ["", "1.5", "-0.0", "0", "1e400", "inf", "-Infinity", "nan", "0.1",
              "123456789012345.123456789012345", "1.", " 2.5", "9" * 400,
              "0." + "0" * 320 + "1"],
    "date": ["", "2024-02-29", "2023-02-29", "2026-02-30", "0000-01-01", "0001-01-01",
             "9999-12-31", "20260101", "2026-1-1", "2026-13-01", "2026-04-31", "1900-02-29",
             "2000-02-29", " 2026-01-01"],
    "timestamp": ["", "2026-01-02", "2026-01-02T03:04", "2026-01-02 03:04:05",
                  "2026-01-02T24:00", "2026-01-02 23:59:60", "2026-01-02T03:04:05.1234567",
                  "2026-01-02T03:04:05.5", "2026-01-02T03", "2026-01-02T03:04:05+02:00",
                  "2026-01-02T03:04:05Z", "2026-02-30T00:00", "2026-01-02T23:60",
                  "2026-01-02T03:04:05.123456", "2026-01-02T03:04:05.9999995"],
    "boolean": ["", "true", "TRUE", "True", "tRuE", "yes", "Y", "1", "0", "no", "N", "f",
                "false", " true", "on", "maybe", "tr"],
    "uuid": ["", "12345678-1234-5678-1234-567812345678", "12345678-1234-5678-1234-56781234567G",
             "{12345678-1234-5678-1234-567812345678}", "12345678123456781234567812345678",
             "ABCDEF01-ABCD-ABCD-ABCD-ABCDEF012345"],
}
FIELD_TEXT = st.characters(exclude_categories=("Cs",), exclude_characters='\x00\r\n,"')
PLAIN = {
    "integer": st.integers(-(2**63), 2**63 - 1).map(str),
    "decimal": st.decimals(allow_nan=False, allow_infinity=False, places=4).map(
        lambda d: format(d, "f")),
    "float": st.floats(allow_nan=False, allow_infinity=False, width=32).map(
        lambda x: f"{x:.6f}"),
    "date": st.dates().map(dt.date.isoformat),
    "timestamp": st.datetimes(min_value=dt.datetime(1, 1, 1)).map(
        lambda d: d.isoformat(sep=" ")),
    "boolean": st.sampled_from(["true", "false", "t", "f"]),
    "uuid": st.uuids().map(str),
}


def typed_text(type_name: str) -> st.SearchStrategy[str]:
    if type_name == "text":
        return st.text(FIELD_TEXT, max_size=6)
    return st.one_of(st.sampled_from(ODD[type_name]), PLAIN[type_name])


row = st.fixed_dictionaries({
    "k": st.sampled_from(["A", "b ", " c", ""]),
    "at": st.one_of(PLAIN["timestamp"], st.sampled_from(ODD["timestamp"])),
    "i": typed_text("integer"), "d": typed_text("decimal"), "f": typed_text("float"),
    "dd": typed_text("date"), "ts": typed_text("timestamp"), "b": typed_text("boolean"),
    "u": typed_text("uuid"), "t": typed_text("text"),
})
# (a row, and what is done to its line: nothing, one field too many or too few, a quote)
lines = st.lists(st.tuples(row, st.sampled_from(["", "", "", "", "", "", "long", "short",
                                                   "quote"])), max_size=8)




# Parallel workers, not the loader's own server process, type and hash every row SQL reads
# (a batch of a few rows is too small for them otherwise): what a large batch gets.
IN_WORKERS = "%20-cmin_parallel_table_scan_size%3D0%20-cparallel_leader_participation%3Doff"


#: the engines that type source text in SQL
COPYING = [name for name in ENGINES if DIALECTS[name].supports_copy]


@pytest.fixture(params=COPYING)
def session(request: pytest.FixtureRequest, tmp_path: Path):
    root = write_project(tmp_path / "project", PROJECT)
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_url")
        migrated(root, url)
        url += IN_WORKERS
    else:
        url = migrated(root, file_url_maker(request.param, tmp_path)())
    session = api.open_session(root, url=url)
    yield session
    session.close()


@pytest.fixture
def pg_session(tmp_path: Path, pg_url: str):
    root = write_project(tmp_path / "project", PROJECT)
    migrated(root, pg_url)
    session = api.open_session(root, url=pg_url + IN_WORKERS)
    yield session
    session.close()


def test_parallel_workers_type_and_hash_the_rows_sql_reads(pg_session) -> None:
    """Under the session's settings the stage statement that types and hashes the copied
    text is planned for parallel workers, so the comparisons below cover them."""
    session = pg_session
    source = session.model.sources["probe"]
    statements = session.renderer.stage(source, raw=True).statements()
    typed = next(i for i, s in enumerate(statements) if "dv_typed" in s.sql)
    params = {"batch_id": 1, "loaded_at": "2026-01-01 00:00:00",
              "applied_at": "2026-01-01 00:00:00"}
    with session.engine.connect() as connection, connection.begin():
        prefixes = session.renderer.dialect.raw_table_prefixes(connection)
        assert prefixes == ["UNLOGGED"]  # a temporary table is read by no worker
        schema.raw_table(source, prefixes).create(connection)
        for statement in statements[:typed]:
            statement.execute(connection, params)
        explain = dataclasses.replace(statements[typed],
                                      bindable="EXPLAIN " + statements[typed].bindable)
        plan = "\n".join(row[0] for row in explain.execute(connection, params))
        connection.rollback()
    assert "Gather" in plan and "Parallel Seq Scan" in plan, plan


def staged(session, path: Path, copy: bool):
    session.loader.copy_text = copy
    result = session.loader.stage("probe", open_input(str(path)))
    batch = {"b": result.batch_id}
    with session.engine.connect() as connection:
        quote = session.renderer.dialect.quote  # "at" is a word DuckDB reserves
        stage = connection.execute(sa.text(
            f"SELECT {', '.join(map(quote, STAGE_COLUMNS))} FROM stg_probe "
            "WHERE dv_batch_id = :b "
            "ORDER BY dv_row"), batch).fetchall()
        quarantine = connection.execute(sa.text(
            "SELECT row_number, entity, reason, data FROM dv_quarantine WHERE batch_id = :b "
            "ORDER BY row_number"), batch).fetchall()
    return result, [comparable(r) for r in stage], [tuple(r) for r in quarantine]


def comparable(row) -> tuple:
    """Hash bytes as bytes, decimals as their text (1.50 == 1.5, but a reader sees the
    difference), and NaN as a text (NaN equals nothing, itself included)."""
    return tuple(bytes(v) if isinstance(v, memoryview) else str(v) if isinstance(v, Decimal)
                 else "NaN" if isinstance(v, float) and math.isnan(v) else v for v in row)


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(rows=lines, order=st.permutations(range(len(HEADER))))
@example(rows=[({"k": "A", "at": "2026-01-02", "i": "1", "d": "1.50", "f": "0.1",
                 "dd": "2024-02-29", "ts": "2026-01-02T03:04:05.5", "b": "Y",
                 "u": "ABCDEF01-ABCD-ABCD-ABCD-ABCDEF012345", "t": ""}, "")],
         order=list(range(len(HEADER))))
def test_copy_and_the_parser_stage_the_same_rows(session, tmp_path, rows, order) -> None:
    same_by_both(session, tmp_path, rows, order)


def test_every_odd_text_is_staged_as_the_parser_does(session, tmp_path) -> None:
    """Each odd text of each type in each column of its type, in a row whose other columns
    SQL reads: so a text SQL wrongly takes for plain fails the cast or differs."""
    base = {"k": "A", "at": "2026-01-01", "i": "1", "d": "1", "f": "1", "dd": "2026-01-01",
            "ts": "2026-01-01", "b": "true", "u": "12345678-1234-5678-1234-567812345678",
            "t": "x"}
    rows = [({**base, name: text}, "")
            for name, type_name in COLUMN_TYPES.items() if type_name != "text"
            for text in ODD[type_name]]
    same_by_both(session, tmp_path, rows, list(range(len(HEADER))))


def test_more_rows_for_the_parser_than_one_chunk(session, tmp_path) -> None:
    """Rows SQL does not read are fetched in chunks; every chunk lands or is quarantined."""
    from datavault.load.inputs import CHUNK

    base = {"k": "A", "at": "2026-01-01", "i": " 1", "d": "1", "f": "1", "dd": "2026-01-01",
            "ts": "2026-01-01", "b": "true", "u": "12345678-1234-5678-1234-567812345678",
            "t": "x"}
    rows = [({**base, "k": f"K{n}", "i": " 1" if n % 7 else "x"}, "")
            for n in range(CHUNK + CHUNK // 4)]
    same_by_both(session, tmp_path, rows, list(range(len(HEADER))))


def same_by_both(session, tmp_path, rows, order) -> None:
    header = [HEADER[i] for i in order] + ["extra"]  # any column order, a column not used
    path = tmp_path / "probe.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write(",".join(header) + "\n")
        for values, change in rows:
            fields = [values[name] for name in header[:-1]] + ["e"]
            if change == "long":
                fields.append("x")
            elif change == "short":
                fields.pop()
            elif change == "quote":
                fields[-1] = '"q, ""e"""'
            handle.write(",".join(fields) + "\n")
    by_parser = staged(session, path, copy=False)
    by_copy = staged(session, path, copy=True)
    assert by_parser[0].read_by == "parser"
    assert by_copy[0].read_by == "copy"
    assert by_copy[1] == by_parser[1]
    assert by_copy[2] == by_parser[2]
    for attribute in ("rows_read", "rows_staged", "rows_quarantined"):
        assert getattr(by_copy[0], attribute) == getattr(by_parser[0], attribute)
