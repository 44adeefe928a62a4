"""`datavault query`, `history` and `quarantine` on the example warehouse, both engines."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from datavault.cli import main
from tests.conftest import migrated

BATCHES = [
    ("crm_customers", "crm_customers_2026-01-01.csv"),
    ("crm_customers", "crm_customers_2026-03-01.csv"),
    ("crm_customers", "crm_customers_2026-02-01.csv"),       # late
    ("crm_customers", "crm_customers_2026-01-01_fix.csv"),   # a correction of 1 January
    ("shop_orders", "shop_orders_2026-03-02.csv"),
]


def run(project: Path, url: str, *args: str, ok: bool = True):
    result = CliRunner().invoke(main, ["-p", str(project), "--url", url, *args])
    assert "Traceback" not in result.output
    if ok:
        assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def loaded(example_project: Path, db_url: str) -> tuple[Path, str, list[str]]:
    """The example warehouse with its five batches; returns the batches' load times."""
    migrated(example_project, db_url)
    for source, file in BATCHES:
        run(example_project, db_url, "load", source, str(example_project / "data" / file))
    times = json.loads(run(example_project, db_url, "history", "customer_details",
                           "--key", "C001", "--format", "json").stdout)
    return example_project, db_url, [r["loaded"] for r in times]


def _json(result) -> list[dict]:
    return json.loads(result.stdout)


def test_state_as_of_an_applied_time_as_known_now_and_before(loaded) -> None:
    project, url, c001_loads = loaded
    now = _json(run(project, url, "query", "customer_details", "--at", "2026-02-15",
                    "--format", "json"))
    assert {r["customer_number"]: r["email"] for r in now} == {
        "C001": "alice@example.com", "C002": "bob.stone@example.com",
        "C003": "carol@example.com"}
    # as known when the March batch (the second) was loaded: before the late February one
    then = _json(run(project, url, "query", "customer_details", "--at", "2026-02-15",
                     "--known-at", c001_loads[1], "--format", "json"))
    assert {r["customer_number"]: r["email"] for r in then} == {
        "C001": "alice@example.com", "C002": "bob@example.com",
        "C003": "carol@exmaple.com"}


def test_a_key_is_found_by_any_spelling_the_vault_loads_as_it(loaded) -> None:
    project, url, _ = loaded
    rows = _json(run(project, url, "query", "customer", "--key", "  c002\t", "--at",
                     "2026-03-15", "--format", "json"))
    assert len(rows) == 1 and rows[0]["customer_number"] == "C002"
    assert rows[0]["customer_details.email"] == "bob@example.com"   # March restored


def test_a_hub_with_all_its_satellites_side_by_side(loaded) -> None:
    project, url, _ = loaded
    rows = _json(run(project, url, "query", "order", "--format", "json"))
    assert [r["order_number"] for r in rows] == ["O-1001", "O-1002"]
    assert rows[0]["order_status.status"] == "shipped"


def test_history_shows_both_time_axes_and_what_a_correction_replaced(loaded) -> None:
    project, url, _ = loaded
    rows = _json(run(project, url, "history", "customer_details", "--key", "C003",
                     "--format", "json"))
    assert [(r["applied"][:10], r["batch"], r["email"]) for r in rows] == [
        ("2026-01-01", 1, "carol@exmaple.com"),
        ("2026-01-01", 4, "carol@example.com"),
        ("2026-02-01", 3, "carol@example.com"),
        ("2026-03-01", 2, "carol@example.com"),
    ]
    assert rows[0]["replaced"] == rows[1]["loaded"]   # the correction replaced the typo
    assert rows[1]["replaced"] is None


def test_csv_output(loaded) -> None:
    project, url, _ = loaded
    text = run(project, url, "query", "customer_details", "--key", "C004", "--format",
               "csv").stdout
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:2] == ["customer_number", "applied"]
    assert rows[1][0] == "C004" and rows[1][-1] == "Lagos"


def test_user_errors_are_one_line(loaded) -> None:
    project, url, _ = loaded
    for args, needle in [
        (["query", "customer_detail"], "did you mean 'customer_details'"),
        (["query", "customer", "--key", "C1|C2"], "has 2 part(s)"),
    ]:
        result = run(project, url, *args, ok=False)
        assert result.exit_code == 1 and needle in result.stderr, result.output


def test_a_link_without_satellites_lists_its_relationships(loaded) -> None:
    project, url, _ = loaded
    for command in ("query", "history"):
        rows = _json(run(project, url, command, "order_customer", "--format", "json"))
        assert rows and set(rows[0]) == {"order.order_number", "customer.customer_number",
                                         "loaded", "batch", "record_source"}
        pairs = [(r["order.order_number"], r["customer.customer_number"]) for r in rows]
        assert pairs == sorted(pairs)


def test_quarantine_lists_exports_and_a_fixed_row_loads(loaded, tmp_path: Path) -> None:
    project, url, _ = loaded
    rows = _json(run(project, url, "quarantine", "--format", "json"))
    assert sorted((r["batch"], r["entity"], r["row"]) for r in rows) == [
        (3, "customer", 4), (3, "customer_details", 4), (5, "", 4)]
    fixed = tmp_path / "fixed.csv"
    run(project, url, "quarantine", "--source", "shop_orders", "--export", str(fixed))
    text = fixed.read_text(encoding="utf-8")
    assert "not-a-number" in text
    fixed.write_text(text.replace("not-a-number", "99.90"), encoding="utf-8")
    run(project, url, "load", "shop_orders", str(fixed))
    order = _json(run(project, url, "query", "order_status", "--key", "O-1003",
                      "--format", "json"))
    assert [(r["order_number"], r["amount"]) for r in order] == [("O-1003", "99.9")]
    assert len(_json(run(project, url, "quarantine", "--batch", "6", "--format", "json"))) == 0
