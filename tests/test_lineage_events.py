"""OpenLineage run events of loads (datavault.lineage_events), through OpenLineage's own
client configured its usual way (OPENLINEAGE_CONFIG) with its file transport."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from datavault import api, cli
from datavault.diagnostics import DatavaultError
from datavault.lineage_events import MISSING
from tests.conftest import IN_CI


@pytest.fixture
def vault(tmp_path: Path, monkeypatch) -> Path:
    """The example project on SQLite, and OpenLineage's client writing events to a file."""
    try:
        import openlineage.client  # noqa: F401
    except ImportError:
        message = "openlineage-python is not installed (pip install -e '.[test]')"
        if IN_CI:
            pytest.fail("CI must run the OpenLineage tests; " + message)
        pytest.skip(message)
    root = tmp_path / "vault"
    api.init_project(root)
    api.migrate_upgrade(root)
    config = tmp_path / "openlineage.yml"
    config.write_text(f"transport:\n  type: file\n  log_file_path: {tmp_path / 'events'}\n"
                      "  append: true\n", encoding="utf-8")
    monkeypatch.setenv("OPENLINEAGE_CONFIG", str(config))
    for name in ("OPENLINEAGE_URL", "OPENLINEAGE_NAMESPACE", "OPENLINEAGE_DISABLED"):
        monkeypatch.delenv(name, raising=False)
    return root


def events(vault: Path) -> list[dict]:
    path = vault.parent / "events"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()] if path.exists() else []


def test_a_load_emits_start_and_complete_with_outputs_counts_and_column_lineage(vault) -> None:
    data = vault / "data" / "crm_customers_2026-01-01.csv"
    result = api.load(vault, "crm_customers", str(data), openlineage=True)
    assert result.ok
    start, complete = events(vault)
    assert (start["eventType"], complete["eventType"]) == ("START", "COMPLETE")
    assert start["run"]["runId"] == complete["run"]["runId"]
    assert complete["job"]["namespace"] == "datavault"
    assert complete["job"]["name"] == "load.crm_customers"
    (source,) = complete["inputs"]
    assert (source["namespace"], source["name"]) == ("file", str(data.resolve()))
    assert [f["name"] for f in source["facets"]["schema"]["fields"]] == [
        "customer_id", "name", "email", "city", "extracted_at"]
    outputs = {o["name"]: o for o in complete["outputs"]}
    assert set(outputs) == {"hub_customer", "sat_customer_details"}
    assert {o["namespace"] for o in outputs.values()} == {f"sqlite:///{vault / 'vault.sqlite'}"}
    counts = {name: o["outputFacets"]["outputStatistics"]["rowCount"]
              for name, o in outputs.items()}
    assert counts == {"hub_customer": 3, "sat_customer_details": 3}
    assert all(not o["outputFacets"] for o in start["outputs"])  # counts once known
    fields = outputs["sat_customer_details"]["facets"]["columnLineage"]["fields"]
    assert set(fields) == {"customer_hk", "applied_ts", "hash_diff", "name", "email", "city"}
    (email,) = fields["email"]["inputFields"]
    assert (email["namespace"], email["name"], email["field"]) == (
        "file", str(data.resolve()), "email")
    assert email["transformations"] == [{"type": "DIRECT", "subtype": "IDENTITY",
                                         "description": "copied", "masking": False}]
    assert fields["email"]["transformationType"] == "IDENTITY"
    assert [f["field"] for f in fields["hash_diff"]["inputFields"]] == ["name", "email", "city"]
    assert fields["hash_diff"]["transformationType"] == "MASKED"
    hub = outputs["hub_customer"]["facets"]["columnLineage"]["fields"]
    # the hub is fed by three sources: this load's lineage names the one it read
    assert [f["field"] for f in hub["customer_number"]["inputFields"]] == ["customer_id"]


def test_a_load_that_fails_emits_fail_with_the_error(vault) -> None:
    with pytest.raises(DatavaultError) as failure:
        api.load(vault, "crm_customers", str(vault / "data" / "missing.csv"), openlineage=True)
    start, fail = events(vault)
    assert (start["eventType"], fail["eventType"]) == ("START", "FAIL")
    assert fail["run"]["facets"]["errorMessage"]["message"] == str(failure.value)
    assert "missing.csv" in str(failure.value)


def test_without_the_flag_no_events(vault) -> None:
    assert api.load(vault, "crm_customers",
                    str(vault / "data" / "crm_customers_2026-01-01.csv")).ok
    assert events(vault) == []


def test_the_cli_flag_and_its_environment_variable(vault) -> None:
    runner = CliRunner()
    done = runner.invoke(cli.main, ["-p", str(vault), "load", "crm_phones",
                                    str(vault / "data" / "crm_phones_2026-01-01.csv")],
                         env={"DATAVAULT_OPENLINEAGE": "1"})
    assert done.exit_code == 0, done.output
    assert [e["eventType"] for e in events(vault)] == ["START", "COMPLETE"]
    assert "--openlineage" in runner.invoke(cli.main, ["load", "--help"]).output


def test_without_the_package_the_error_says_how_to_install_it(vault, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "openlineage.client", None)
    with pytest.raises(DatavaultError, match=r"pip install 'datavault\[lineage\]'") as failure:
        api.load(vault, "crm_customers", str(vault / "data" / "crm_customers_2026-01-01.csv"),
                 openlineage=True)
    assert str(failure.value) == MISSING


def test_the_checks_at_entry_are_the_input_s_data_quality_assertions(vault) -> None:
    """shop_orders's checks: the misspelt status of 5 March quarantined (not a success), the
    range and freshness passed."""
    data = vault / "data" / "shop_orders_2026-03-05.csv"
    result = api.load(vault, "shop_orders", data, openlineage=True)
    assert result.ok
    complete = events(vault)[-1]
    (source,) = complete["inputs"]
    assertions = {a["name"]: a for a in
                  source["inputFacets"]["dataQualityAssertions"]["assertions"]}
    assert assertions["accepted_values_status"] == {
        "assertion": "accepted_values", "name": "accepted_values_status", "success": False,
        "column": "status", "severity": "warn", "actual": "1", "params": {},
        "expected": "one of placed, shipped, delivered, cancelled"}
    assert assertions["range_amount"]["success"] is True
    assert assertions["freshness"]["success"] is True
    assert assertions["freshness"]["severity"] == "error"
    assert assertions["freshness"]["expected"] == "3650d"


def test_without_a_transport_the_load_says_where_its_events_went(vault, monkeypatch) -> None:
    monkeypatch.delenv("OPENLINEAGE_CONFIG", raising=False)
    monkeypatch.delenv("OPENLINEAGE_URL", raising=False)
    monkeypatch.chdir(vault)  # no openlineage.yml here
    done = CliRunner().invoke(cli.main, ["-p", str(vault), "load", "--openlineage",
                                         "crm_customers",
                                         str(vault / "data" / "crm_customers_2026-01-01.csv")])
    assert done.exit_code == 0, done.output
    assert "OpenLineage has no transport configured" in done.stderr
    assert "OPENLINEAGE_URL" in done.stderr


def test_a_batch_a_check_stopped_wrote_nothing_and_says_so(vault) -> None:
    stale = vault / "data" / "shop_orders_old.csv"
    stale.write_text("order_id,customer_ref,status,amount,ordered_at,changed_at\n"
                     "O-1,C001,placed,1.00,2001-01-01T00:00:00,2001-01-01T00:00:00\n",
                     encoding="utf-8")
    result = api.load(vault, "shop_orders", stale, openlineage=True)
    assert result.stopped_by
    fail = events(vault)[-1]
    assert fail["eventType"] == "FAIL"
    assert "check freshness failed" in fail["run"]["facets"]["errorMessage"]["message"]
    counts = {o["name"]: o["outputFacets"]["outputStatistics"]["rowCount"]
              for o in fail["outputs"]}
    assert set(counts.values()) == {0} and "sat_order_status" in counts
    (source,) = fail["inputs"]
    freshness = next(a for a in source["inputFacets"]["dataQualityAssertions"]["assertions"]
                     if a["name"] == "freshness")
    assert freshness["success"] is False and freshness["severity"] == "error"
