"""Checks at entry keep SEMANTICS.md section 11, against the plain-Python reference
(``tests/reference.py``), on every engine.

The property loads random batches of values chosen at the edges the rules draw (bounds, tiny
and huge decimals, NaN and the infinities, line feeds, characters beyond ASCII) into a source
with a check of every row test on every type it takes; after each batch, the rows quarantined
and their reasons, the duplicates a ``unique`` check counted and the profile a drift check
recorded must be the reference's. On engines that lack a capability the hand-picked batches
run, with ``DATAVAULT_CONFORMANCE_EXAMPLES`` drawn ones. Then: batch checks (freshness,
volume, drift, stop and warn) through the loader, and validation of the YAML.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from datavault import api, values
from datavault.diagnostics import ModelError
from tests.conftest import CORE_ENGINES, ENGINES, migrated, url_maker, write_project
from tests.reference import drift_bin, row_check_fails

SETTING = int(os.environ.get("DATAVAULT_PROPERTY_EXAMPLES", "100"))
CONFORMANCE = int(os.environ.get("DATAVAULT_CONFORMANCE_EXAMPLES", "4"))
_SETTINGS = settings(deadline=None, database=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture,
                                            HealthCheck.too_slow])

SOURCE = """
columns:
  k: text
  t: text
  n: integer
  d: decimal
  f: float
  day: date
  ts: timestamp
checks:
  - not_null: [t]
  - accepted_values: {column: t, values: [open, paid, AB-1]}
  - accepted_values: {column: d, values: [0.50, 10], name: d_listed}
  - range: {column: n, min: 0, max: 10}
  - range: {column: d, min: -0.0000000001, max: 10, exclusive: true, name: d_range}
  - range: {column: f, min: -1.5, name: f_min}
  - range: {column: f, max: Infinity, name: f_max}
  - range: {column: day, min: 2026-01-01, max: 2026-01-03}
  - range: {column: ts, min: "2026-01-01 00:00:00.000001", name: ts_min}
  - pattern: {column: t, regex: 'AB-[0-9]+|x.y'}
  - length: {column: t, min: 2, max: 5}
  - unique: [t]
  - drift: {column: d, bins: [0, 10], batches: 50, min_batches: 50}
  - drift: {column: t, batches: 50, min_batches: 50, name: t_drift}
  - drift: {column: f, batches: 50, min_batches: 50, name: f_drift}
"""
PROJECT = {
    "config/datavault.yml": "hash: md5\n",
    "models/sources/feed.yml": SOURCE,
    "models/hubs/thing.yml": "business_key:\n  k: text\nsources:\n  feed:\n",
    "models/satellites/thing_state.yml": "parent: thing\nsource: feed\n"
                                         "payload: [t, n, d, f, day, ts]\n",
}
TYPES = {"k": "text", "t": "text", "n": "integer", "d": "decimal", "f": "float",
         "day": "date", "ts": "timestamp"}
D = Decimal
DAY = dt.date(2026, 1, 1)
TS = dt.datetime(2026, 1, 1)
#: (test, column, reference arguments) of each row check above, by name
ROW_CHECKS = {
    "not_null_t": ("not_null", "t", {}),
    "accepted_values_t": ("accepted_values", "t", {"listed": ["open", "paid", "AB-1"]}),
    "d_listed": ("accepted_values", "d", {"listed": [D("0.5"), D(10)]}),
    "range_n": ("range", "n", {"low": 0, "high": 10}),
    "d_range": ("range", "d", {"low": D("-0.0000000001"), "high": D(10), "exclusive": True}),
    "f_min": ("range", "f", {"low": -1.5}),
    "f_max": ("range", "f", {"high": float("inf")}),
    "range_day": ("range", "day", {"low": DAY, "high": DAY + dt.timedelta(days=2)}),
    "ts_min": ("range", "ts", {"low": TS + dt.timedelta(microseconds=1)}),
    "pattern_t": ("pattern", "t", {"pattern": "AB-[0-9]+|x.y"}),
    "length_t": ("length", "t", {"low": 2, "high": 5}),
}
DRIFTS = {"drift_d": ("d", [D(0), D(10)]), "t_drift": ("t", []), "f_drift": ("f", [])}

TEXTS = [None, "open", "paid", "AB-1", "AB-12", "AB-1234", "ab-1", "AB-\n1", "x\ry", "x\ny",
         "xy", "x", "héllo", "AB-١", "😀😀", "AB-", "open "]
DECIMALS = [None, "0", "0.5", "0.50", "-0.5", "10", "9.9999999999", "10.0000000001",
            "-0.0000000001", "-0.00000000011", "-0.00000000009", "0.0000000001", "100", "-100",
            "12345678901234567890123456789012345678901234567890.5", "-10"]
FLOATS = [None, "NaN", "Infinity", "-Infinity", "0", "-0", "1.5", "-1.5", "-1.5000000001",
          "1e-300", "-1e300", "10"]
DAYS = [None, "2025-12-31", "2026-01-01", "2026-01-02", "2026-01-03", "2026-01-04"]
STAMPS = [None, "2026-01-01 00:00:00", "2026-01-01 00:00:00.000001",
          "2025-12-31 23:59:59.999999", "2026-06-01 12:00:00+02:00"]
INTEGERS = [None, -1, 0, 1, 10, 11, 10**15]

ROWS = st.lists(st.fixed_dictionaries({
    "t": st.sampled_from(TEXTS), "n": st.sampled_from(INTEGERS),
    "d": st.sampled_from(DECIMALS), "f": st.sampled_from(FLOATS),
    "day": st.sampled_from(DAYS), "ts": st.sampled_from(STAMPS)}), min_size=0, max_size=12)

EDGES = [{"t": t, "n": n, "d": d, "f": f, "day": day, "ts": ts}
         for t, n, d, f, day, ts in zip(TEXTS, INTEGERS * 3, DECIMALS, FLOATS * 2, DAYS * 3,
                                         STAMPS * 4)]


class Vault:
    """The project above on one database; each batch a new one."""

    def __init__(self, root: Path, url: str) -> None:
        write_project(root, PROJECT)
        self.root, self.url = root, migrated(root, url)
        self.number = 0

    def load(self, rows: list[dict]) -> api.LoadResult:
        self.number += 1
        path = self.root / f"batch{self.number}.jsonl"
        with path.open("w", encoding="utf-8") as out:
            for index, row in enumerate(rows):
                record = {"k": f"K{index}", **{c: None if v is None else str(v)
                                               for c, v in row.items()}}
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
        return api.load(self.root, "feed", path, url=self.url)

    def check(self, rows: list[dict]) -> None:
        result = self.load(rows)
        batch = result.batch_id
        typed = [{c: values.parse(None if v is None else str(v), TYPES[c])
                  for c, v in row.items()} for row in rows]
        expected = {}
        for index, row in enumerate(typed):
            failed = [name for name, (test, column, args) in ROW_CHECKS.items()
                      if row_check_fails(test, [row[column]], TYPES[column], **args)]
            if failed:
                expected[f"K{index}"] = "check: " + ", ".join(failed)
        answer = api.quarantined(self.root, batch=batch, url=self.url)
        found = {r[-1]["k"]: r[4] for r in answer.rows}
        assert found == expected
        assert result.rows_staged == len(rows) - len(expected)
        kept = [row for index, row in enumerate(typed) if f"K{index}" not in expected]
        recorded = {r.name: r for r in api.checks(self.root, batch=batch, url=self.url)}
        texts = [row["t"] for row in kept]
        duplicated = sum(1 for t in set(texts) if texts.count(t) > 1)
        assert recorded["unique_t"].measured == str(duplicated)
        for name, (column, edges) in DRIFTS.items():
            counts: dict[str, int] = {}
            for row in kept:
                key = drift_bin(row[column], TYPES[column], edges)
                counts[key] = counts.get(key, 0) + 1
            assert recorded[name].profile == counts, name
        for name in ROW_CHECKS:
            failed = sum(1 for reason in expected.values()
                         if name in reason.removeprefix("check: ").split(", "))
            assert recorded[name].rows_failed == failed, name


@pytest.fixture(params=ENGINES)
def vault(request: pytest.FixtureRequest, tmp_path: Path) -> Vault:
    return Vault(tmp_path / "project", url_maker(request, request.param, tmp_path)())


@pytest.fixture(params=CORE_ENGINES)
def any_vault(request: pytest.FixtureRequest, tmp_path: Path) -> Vault:
    return Vault(tmp_path / "project", url_maker(request, request.param, tmp_path)())


@settings(_SETTINGS, max_examples=max(SETTING // 4, 10))
@given(rows=ROWS)
def test_row_checks_and_measures_are_the_reference_s(vault: Vault, rows: list[dict]) -> None:
    vault.check(rows)


@settings(_SETTINGS, max_examples=CONFORMANCE) if CONFORMANCE else settings(
    _SETTINGS, phases=[Phase.explicit])
@example(rows=EDGES)
@example(rows=[])
@given(rows=ROWS)
def test_row_checks_on_every_engine(any_vault: Vault, rows: list[dict]) -> None:
    any_vault.check(rows)


# ---- batch checks through the loader --------------------------------------------------------
GATED = {
    "config/datavault.yml": "hash: md5\n",
    "models/sources/orders.yml": """
applied_at: changed_at
columns:
  order_id: text
  status: text
  changed_at: timestamp
checks:
  - unique: [order_id]
  - freshness: {max_age: 30 days, severity: stop}
  - volume: {within: 20%, min_batches: 2}
  - drift: {column: status, max: 0.1, min_batches: 2}
""",
    "models/hubs/order.yml": "business_key:\n  order_id: text\nsources:\n  orders:\n",
    "models/satellites/order_state.yml": "parent: order\nsource: orders\npayload: [status]\n",
}


def _orders(root: Path, name: str, statuses: list[str], age: dt.timedelta) -> Path:
    changed = (dt.datetime.now(dt.UTC).replace(tzinfo=None) - age).isoformat(sep=" ")
    path = root / f"{name}.csv"
    path.write_text("order_id,status,changed_at\n" + "".join(
        f"O{i},{status},{changed}\n" for i, status in enumerate(statuses)), encoding="utf-8")
    return path


def _cli(root: Path, url: str, *args: str):  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    import datavault.cli

    return CliRunner().invoke(datavault.cli.main, ["-p", str(root), "--url", url, *args])


def test_a_stopping_check_refuses_the_batch_before_any_entity_load(tmp_path: Path,
                                                                   db_url: str) -> None:
    root = write_project(tmp_path / "gated", GATED)
    url = migrated(root, db_url)
    stale = _orders(root, "stale", ["open"] * 5, dt.timedelta(days=40))
    result = _cli(root, url, "load", "orders", str(stale))
    assert result.exit_code == 4, result.output
    assert "check freshness stopped the batch: its latest applied time" in result.stdout
    assert "refused: check freshness failed" in result.stderr
    (batch,) = api.batches(root, url=url)
    assert batch.batch.status == "failed" and batch.batch.message.startswith("refused: ")
    # nothing of it reached the vault, and nothing of it is left staged
    assert api.query_state(root, "order", url=url).rows == []
    with api.connect(root, url) as vault, vault.engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT COUNT(*) FROM stg_orders").scalar() == 0
    runs = {r.name: r for r in api.checks(root, batch=batch.batch.batch_id, url=url)}
    assert runs["freshness"].status == "stop" and runs["freshness"].expected == "30d"
    assert runs["unique_order_id"].status == "pass"
    assert runs["volume"].status == "skip" and runs["drift_status"].status == "skip"
    # a fresh file loads; the refused batch is no baseline of volume or drift
    fresh = _orders(root, "fresh", ["open"] * 5, dt.timedelta(hours=1))
    loaded = api.load(root, "orders", fresh, url=url)
    assert loaded.status == "loaded"
    assert [o.status for o in loaded.checks] == ["pass", "pass", "skip", "skip"]
    assert "0 earlier" in loaded.checks[3].message
    assert len(api.query_state(root, "order", url=url).rows) == 5


def test_warning_checks_record_and_the_batch_loads(tmp_path: Path, db_url: str) -> None:
    root = write_project(tmp_path / "gated", GATED)
    url = migrated(root, db_url)
    hour = dt.timedelta(hours=1)
    for number in range(2):
        statuses = ["open"] * 8 + ["paid"] * 2
        assert api.load(root, "orders", _orders(root, f"b{number}", statuses, hour),
                        url=url).status == "loaded"
    shifted = ["open"] * 3 + ["paid"] * 10 + ["open"]  # 14 rows, one order twice
    path = _orders(root, "shifted", shifted, hour)
    text = path.read_text(encoding="utf-8").splitlines()
    text[-1] = text[1]  # O0 again: a duplicate
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    result = _cli(root, url, "load", "orders", str(path), "--format", "json")
    assert result.exit_code == 0, result.output
    checks = {c["check"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["unique_order_id"]["status"] == "warn"
    assert checks["unique_order_id"]["measured"] == "1"
    assert checks["volume"]["status"] == "warn"
    assert checks["volume"]["expected"].startswith("8 to 12 ")
    assert checks["drift_status"]["status"] == "warn"
    # PSI of (4/14, 10/14) against (16/20, 4/20), by SEMANTICS.md section 11
    p, q = [4 / 14, 10 / 14], [16 / 20, 4 / 20]
    expected = sum((a - b) * math.log(a / b) for a, b in zip(p, q))
    assert checks["drift_status"]["measured"] == f"psi {expected:.4f}"
    assert checks["freshness"]["status"] == "pass"
    listed = _cli(root, url, "checks", "--format", "json")
    assert listed.exit_code == 0, listed.output
    runs = json.loads(listed.stdout)
    assert [r["batch"] for r in runs] == [3] * 4 + [2] * 4 + [1] * 4
    assert runs[3]["profile"] == {"open": 4, "paid": 10}
    assert len(api.query_state(root, "order", url=url).rows) == 13


def test_row_checks_run_in_a_generated_stage_file(tmp_path: Path) -> None:
    """`generate` writes the row checks into the stage file: a SQL client that runs it
    quarantines the rows the loader would."""
    root = write_project(tmp_path / "project", PROJECT)
    written = api.generate(root, "sqlite", tmp_path / "out")
    stage = next(p for p in written if p.name == "feed.sql" and "stage" in p.parts)
    text = stage.read_text(encoding="utf-8")
    assert "-- dv:checked" in text and "'check: ' || substr(" in text
    assert "dv_full_match('AB-[0-9]+|x.y', l.t)" in text


# ---- the YAML -------------------------------------------------------------------------------
def _problems(tmp_path: Path, checks: str) -> list[str]:
    source = SOURCE.split("checks:")[0] + "checks:\n" + checks
    root = write_project(tmp_path / "bad", {**PROJECT, "models/sources/feed.yml": source})
    with pytest.raises(ModelError) as error:
        api.validate(root)
    return [str(p) for p in error.value.problems]


@pytest.mark.parametrize(("checks", "message"), [
    ("  - not_nul: [t]\n", "unknown check 'not_nul' (did you mean 'not_null'?)"),
    ("  - not_null: [tt]\n", "not_null names unknown column 'tt' (did you mean 't'?)"),
    ("  - range: {column: t, min: 1}\n", "range needs a number, date or timestamp column"),
    ("  - range: {column: n, min: 5, max: 1}\n", "range: min is greater than max"),
    ("  - range: {column: n}\n", "range needs min:, max: or both"),
    ("  - range: {column: n, min: x}\n", "'x' is not a integer value of column 'n'"),
    ("  - range: {column: f, min: NaN}\n", "min must be a number, not NaN"),
    ("  - pattern: {column: t, regex: '[0-9'}\n", "regex '[0-9': unterminated character set"),
    ("  - pattern: {column: t, regex: '\\d+'}\n", "regex '\\d+': \\d is read differently"),
    ("  - length: {column: n, max: 3}\n", "length needs a text column; 'n' is integer"),
    ("  - accepted_values: {column: d, values: [abc]}\n", "'abc' is not a decimal value"),
    ("  - freshness: {max_age: soon}\n", "max_age must be a duration, not 'soon'"),
    ("  - freshness: {max_age: 2 days, severity: panic}\n",
     "severity must be warn or stop, not 'panic'"),
    ("  - not_null: {columns: [t], severity: stop}\n", "unknown key 'severity'"),
    ("  - volume: {within: 50}\n", "within must be a percentage, not the number 50"),
    ("  - drift: {column: t, bins: [a, b]}\n", "bins need a number, date or timestamp column"),
    ("  - drift: {column: n, bins: [5, 1]}\n", "bins must be in ascending order, each once"),
    ("  - drift: {column: t, statistic: ks}\n", "unknown drift statistic 'ks'"),
    ("  - unique: [t]\n  - unique: [t]\n", "feed.yml:12:5: another check before this one is "
     "named 'unique_t'"),
    ("  - not_null: []\n", "not_null needs one or more columns, not an empty list"),
    ("  - not_null: [t]\n    name: x\n", "a check must be one `TEST: ...` mapping"),
    ("  not_null: [t]\n", "checks must be a list, not a mapping"),
])
def test_a_check_that_is_not_one_says_where_and_why(tmp_path: Path, checks: str,
                                                    message: str) -> None:
    problems = _problems(tmp_path, checks)
    assert any("models/sources/feed.yml:" in p and message in p for p in problems), problems


def test_a_row_that_marks_a_deletion_is_not_judged(tmp_path: Path, db_url: str) -> None:
    """SEMANTICS.md section 11: a marked row's payload is not read, so a row check does not
    drop the deletion it records."""
    root = write_project(tmp_path / "feed", {
        "config/datavault.yml": "hash: md5\n",
        "models/sources/feed.yml": """
applied_at: day
deleted: {column: op, values: [d]}
columns: {k: text, amount: integer, op: text, day: date}
checks:
  - range: {column: amount, min: 0}
""",
        "models/hubs/thing.yml": "business_key:\n  k: text\nsources:\n  feed:\n",
        "models/satellites/thing_state.yml": "parent: thing\nsource: feed\npayload: [amount]\n",
    })
    url = migrated(root, db_url)
    path = root / "b.csv"
    path.write_text("k,amount,op,day\nA,5,u,2026-01-01\nB,7,u,2026-01-01\n"
                    "A,-1,d,2026-01-02\nB,-1,u,2026-01-02\n", encoding="utf-8")
    result = api.load(root, "feed", path, url=url)
    assert result.rows_staged == 3 and result.rows_quarantined == 1
    (row,) = api.quarantined(root, url=url).rows
    assert row[4] == "check: range_amount" and row[-1]["k"] == "B"
    states = {r["k"]: r for r in api.query_state(root, "thing_state", url=url).records()}
    assert states["A"]["deleted"] and states["B"]["amount"] == 7
