"""Floats and decimals: every engine stores, hashes and prints them as the plain-Python rule
of SEMANTICS.md says (NaN and the infinities kept as values, no sign on a zero, canonical
text in output), from a real load through `query`, `history` and the CLI."""

from __future__ import annotations

import csv
import json
import math
import os
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from datavault import api, hashing, values
from datavault.cli import main
from tests.conftest import migrated, write_project

PROJECT = {
    "config/datavault.yml": "hash: md5\n",
    "models/sources/readings.yml": (
        "record_source: lab\nbatch: delta\ncolumns:\n  id: text\n  f: float\n"
        "  d: decimal\n"),
    "models/hubs/probe.yml": (
        "business_key:\n  probe_id: text\nsources:\n  readings:\n    probe_id: id\n"),
    "models/satellites/probe_reading.yml": "parent: probe\nsource: readings\npayload: [f, d]\n",
}
# (key, float text, decimal text): forms each engine is known to store or print its own way
ROWS = [
    ("A", "NaN", "1E+3"),
    ("B", "Infinity", "0.0000001"),
    ("C", "-inf", "1.500"),
    ("D", "-0.0", "-0.000"),
    ("E", "1e-7", "1E-7"),
    ("F", "1e22", "12345678901234567890.000000000000000000001"),
    ("G", "5e-324", "-2.5e-3"),
    ("H", "0.1", "100"),
    ("I", "2.598546655556481e16", ""),
]


def _project(tmp_path: Path, url: str) -> Path:
    root = write_project(tmp_path / "project", PROJECT)
    migrated(root, url)
    lines = ["id,f,d"] + [",".join(row) for row in ROWS]
    (root / "readings.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = api.load(root, "readings", str(root / "readings.csv"), url=url)
    assert result.ok and result.rows_quarantined == 0, result
    return root


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    return type(a) is type(b) and a == b and str(a) == str(b) if isinstance(a, Decimal) \
        else type(a) is type(b) and a == b


def _expected() -> dict[str, tuple[object, object]]:
    return {key: (values.parse(f, "float"), values.parse(d, "decimal")) for key, f, d in ROWS}


def test_a_load_stores_and_answers_the_parsed_values(tmp_path: Path, db_url: str) -> None:
    root = _project(tmp_path, db_url)
    expected = _expected()
    answer = api.query_state(root, "probe_reading", url=db_url)
    got = {r["probe_id"]: (r["f"], r["d"]) for r in answer.records()}
    assert got.keys() == expected.keys()
    for key, (f, d) in expected.items():
        assert _same(got[key][0], f), (key, got[key][0], f)
        assert got[key][1] == d and (d is None or isinstance(got[key][1], Decimal)), (
            key, got[key][1], d)
    history = api.query_history(root, "probe_reading", ["A", "D"], url=db_url)
    assert [(r["probe_id"], values.display(r["f"]), values.display(r["d"]))
            for r in history.records()] == [("A", "NaN", "1000"), ("D", "0", "0")]


def test_stored_hash_diffs_are_the_python_rule(tmp_path: Path, db_url: str) -> None:
    _project(tmp_path, db_url)
    engine = sa.create_engine(db_url)
    with engine.connect() as connection:
        stored = {bytes(k): bytes(h) for k, h in connection.exec_driver_sql(
            "SELECT probe_hk, hash_diff FROM sat_probe_reading")}
    engine.dispose()
    for key, (f, d) in _expected().items():
        hk = hashing.hash_key([(key, "text")], "md5")
        assert stored[hk] == hashing.hash_diff([("f", f, "float"), ("d", d, "decimal")],
                                               "md5"), key


def test_the_cli_prints_canonical_text(tmp_path: Path, db_url: str) -> None:
    root = _project(tmp_path, db_url)
    runner = CliRunner()
    printed = runner.invoke(main, ["-p", str(root), "--url", db_url, "query", "probe_reading",
                                   "--format", "csv"])
    assert printed.exit_code == 0, printed.output
    lines = printed.stdout.splitlines()
    header = lines[0].split(",")
    cells = {row[0]: (row[header.index("f")], row[header.index("d")])
             for row in (line.split(",") for line in lines[1:])}
    assert cells == {key: (hashing.canonical(f, "float"),
                           "" if d is None else hashing.canonical(d, "decimal"))
                     for key, (f, d) in _expected().items()}
    assert cells["E"] == ("1e-07", "0.0000001") and cells["D"] == ("0", "0")
    shown = runner.invoke(main, ["-p", str(root), "--url", db_url, "query", "probe_reading",
                                 "--format", "json"])
    assert shown.exit_code == 0, shown.output
    records = {r["probe_id"]: (r["f"], r["d"]) for r in json.loads(shown.stdout)}
    assert records["A"] == ("NaN", "1000") and records["B"] == ("Infinity", "0.0000001")
    assert records["C"] == ("-Infinity", "1.5") and records["D"] == (0.0, "0")
    assert records["E"] == (1e-07, "0.0000001") and records["I"] == (2.598546655556481e16,
                                                                    None)


# ---- any double, any decimal -------------------------------------------------------------------
EXAMPLES = int(os.environ.get("DATAVAULT_PROPERTY_EXAMPLES", "100"))
#: how a source may write a float: Python's repr, the canonical text, or an exponent form
float_texts = st.one_of(st.floats(), st.sampled_from(
    [-0.0, 1e-7, 1e22, 5e-324, float("nan"), float("inf"), float("-inf")])).flatmap(
    lambda f: st.sampled_from([repr(f), hashing.canonical(f, "float"), f"{f:E}"
                               if math.isfinite(f) else str(f).upper()]))
decimal_texts = st.decimals(allow_nan=False, allow_infinity=False, places=None).filter(
    lambda d: abs(d.adjusted()) < 60).flatmap(
    lambda d: st.sampled_from([str(d), format(d, "f"), format(d, "E")]))


@pytest.fixture
def readings(tmp_path: Path, db_url: str):
    root = write_project(tmp_path / "project", PROJECT)
    migrated(root, db_url)
    with api.connect(root, url=db_url) as vault:
        yield vault


@settings(max_examples=max(EXAMPLES // 10, 5), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(float_texts, decimal_texts), min_size=1, max_size=8))
def test_any_number_is_stored_answered_and_printed_as_python_reads_it(readings, rows) -> None:
    vault = readings
    first = len(vault.batches(limit=None))
    keys = [f"K{first}-{i}" for i in range(len(rows))]
    path = vault.project.root / f"batch_{first}.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "f", "d"])
        writer.writerows([key, f, d] for key, (f, d) in zip(keys, rows))
    result = vault.load("readings", str(path))
    assert result.ok and result.rows_quarantined == 0, result
    answer = {r["probe_id"]: (r["f"], r["d"])
              for r in vault.query_state("probe_reading", keys).records()}
    for key, (f, d) in zip(keys, rows):
        want_f, want_d = values.parse(f, "float"), values.parse(d, "decimal")
        got_f, got_d = answer[key]
        assert _same(got_f, want_f) and got_d == want_d, (f, d, got_f, got_d)
        assert (values.display(got_f), values.display(got_d)) == (
            hashing.canonical(want_f, "float"), hashing.canonical(want_d, "decimal"))
    with vault.engine.connect() as connection:
        stored = {bytes(k): bytes(h) for k, h in connection.exec_driver_sql(
            "SELECT probe_hk, hash_diff FROM sat_probe_reading")}
    for key, (f, d) in zip(keys, rows):
        assert stored[hashing.hash_key([(key, "text")], "md5")] == hashing.hash_diff(
            [("f", values.parse(f, "float"), "float"),
             ("d", values.parse(d, "decimal"), "decimal")], "md5"), (f, d)


def test_a_finite_number_beyond_a_double_is_quarantined_not_made_infinite(
        tmp_path: Path, db_url: str) -> None:
    """A source that says 1e309 said a finite number no double holds: the row goes to the
    quarantine with the reason, on every engine (PostgreSQL's own float8 refuses it too),
    while inf and a number that rounds to zero are values."""
    root = write_project(tmp_path / "project", PROJECT)
    migrated(root, db_url)
    big = "1" + "0" * 400  # longer than the dialect's typed-in-SQL limit as well
    lines = ["id,f,d", "A,1e309,1", "B,-1E+309,1", f"C,{big},1", "D,inf,1", "E,1e-400,1"]
    (root / "readings.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = api.load(root, "readings", str(root / "readings.csv"), url=db_url)
    assert result.ok and result.rows_quarantined == 3, result
    reasons = {r["row"]: r["reason"] for r in api.quarantined(root, url=db_url).records()}
    assert sorted(reasons) == [1, 2, 3]
    assert all("out of the range of a float" in reason for reason in reasons.values()), reasons
    got = {r["probe_id"]: r["f"] for r in api.query_state(root, "probe_reading",
                                                          url=db_url).records()}
    assert got == {"D": math.inf, "E": 0.0}
