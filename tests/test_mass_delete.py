"""The mass-delete check of snapshot sources, and deletions counted apart from inserts.

A snapshot that would delete more than its source's ``max_deletes`` (default 50%) of the keys
a satellite holds live is refused before any entity load: the batch is failed with the
numbers, its staged rows are removed, nothing is written to hubs, links or satellites, and
``load`` exits 1. ``--allow-mass-delete`` accepts it. Loads go through the CLI (click's
runner) into the example project, on SQLite and PostgreSQL; the first batch is the March
extract: C001 to C004, all live.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import Result

from datavault import api
from datavault.diagnostics import DatavaultError
from datavault.load import open_input
from tests.conftest import migrated
from tests.test_load import CRM, Vault, cli, data, load, summary_rows

HEADER = "customer_id,name,email,city,extracted_at\n"
DAY = "2026-03-02T06:00:00"
#: C001 with a new city and a new key C009: C002, C003 and C004 would be deleted
TRUNCATED = (HEADER + f"C001,Alice Martin,alice@example.com,Nice,{DAY}\n"
             + f"C009,Zoe Park,zoe@example.com,Oslo,{DAY}\n")
#: C004 is missing: one key of four would be deleted
THREE_OF_FOUR = (HEADER + f"C001,Alice Martin,alice@example.com,Paris,{DAY}\n"
                 + f"C002,Bob Stone,bob@example.com,Leeds,{DAY}\n"
                 + f"C003,Carol Dyer,carol@example.com,Porto,{DAY}\n")
EMPTY = HEADER
#: every row has an extracted_at that does not parse: all quarantined, nothing staged
BAD_ROWS = HEADER + "".join(f"C00{n},Name,mail@example.com,City,yesterday\n" for n in range(1, 5))
SOURCE_FILE = "models/sources/crm_customers.yml"


def refusal(batch: int, deleted: int, of: int, share: str, limit: str = "50%") -> str:
    return (f"batch {batch} of crm_customers refused: would delete {deleted} of {of} keys "
            f"({share}) of customer_details; the limit is {limit}; load it again with "
            "--allow-mass-delete to accept")


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def set_limit(project: Path, line: str) -> None:
    path = project / SOURCE_FILE
    path.write_text(path.read_text(encoding="utf-8") + line + "\n", encoding="utf-8")


def run(project: Path, url: str, *args: str) -> Result:
    result = cli(project, url, *args)
    assert "Traceback" not in result.output + result.stderr, result.stderr
    return result


def assert_refused(result: Result, vault: Vault, before: dict, batch: int, message: str) -> None:
    """Exit 1 with the message as the last line, and nothing of the batch anywhere but its
    ledger row (failed, with the message) and the rows quarantined while reading."""
    assert result.exit_code == 1, result.output + result.stderr
    assert isinstance(result.exception, SystemExit)
    assert result.stderr.splitlines()[-1] == f"error: {message}"
    assert vault.snapshot() == before, "a refused batch wrote to the vault"
    state, recorded = vault.rows("SELECT status, message FROM dv_batch WHERE batch_id = :b",
                                 b=batch)[0]
    assert (state, f"batch {batch} of crm_customers {recorded}") == ("failed", message)
    assert vault.count("stg_crm_customers") == 0, "its staged rows were kept"
    assert vault.audit(batch) == {}, "an entity load ran"


@pytest.fixture
def project(example_project: Path, db_url: str) -> Path:
    return example_project


@pytest.fixture
def vault(project: Path, db_url: str):
    v = Vault(migrated(project, db_url))
    load(project, db_url, "crm_customers", data(project, CRM["mar"]))
    yield v
    v.engine.dispose()


@pytest.mark.parametrize("case", ["truncated", "empty", "bad rows"])
def test_a_snapshot_that_would_delete_most_keys_is_refused_until_accepted(
        case: str, project: Path, db_url: str, vault: Vault, tmp_path: Path) -> None:
    text, deleted, share = {"truncated": (TRUNCATED, 3, "75%"), "empty": (EMPTY, 4, "100%"),
                            "bad rows": (BAD_ROWS, 4, "100%")}[case]
    path = write(tmp_path, "extract.csv", text)
    before = vault.snapshot()
    result = run(project, db_url, "load", "crm_customers", str(path))
    assert_refused(result, vault, before, 2, refusal(2, deleted, 4, share))
    # the title says what was read; rows quarantined while reading keep their reasons
    assert "batch 2 of crm_customers: failed;" in " ".join(result.stdout.split())
    bad = vault.count("dv_quarantine")
    assert bad == (4 if case == "bad rows" else 0)

    resumed = run(project, db_url, "load", "--resume", "2")
    assert resumed.exit_code == 1
    assert "load it again with --allow-mass-delete" in resumed.stderr
    assert vault.snapshot() == before

    accepted = run(project, db_url, "load", "crm_customers", str(path), "--allow-mass-delete")
    assert accepted.exit_code == 0, accepted.output + accepted.stderr
    shown = summary_rows(accepted.stdout)
    inserted = {"truncated": "2", "empty": "0", "bad rows": "0"}[case]  # C001's city, C009
    assert shown["customer_details"][:3] == ["satellite", inserted, str(deleted)], shown
    assert shown["customer"][:3] == ["hub", "1" if case == "truncated" else "0", "0"], shown
    audit = vault.audit(3)
    assert (audit["customer_details"][2], audit["customer_details"][5]) == (int(inserted),
                                                                            deleted)
    assert audit["customer"][5] == 0
    deletions = vault.rows("SELECT COUNT(*) FROM sat_customer_details WHERE batch_id = 3 "
                           "AND name IS NULL AND email IS NULL AND city IS NULL")[0][0]
    assert deletions == deleted
    assert vault.rows("SELECT status FROM dv_batch WHERE batch_id = 2") == [("failed",)]


def test_json_output_of_a_refusal_and_of_deletions(project: Path, db_url: str, vault: Vault,
                                                   tmp_path: Path) -> None:
    path = write(tmp_path, "extract.csv", TRUNCATED)
    refused = run(project, db_url, "load", "crm_customers", str(path), "--format", "json")
    assert refused.exit_code == 1
    shown = json.loads(refused.stdout)
    assert (shown["status"], shown["exit_code"], shown["entities"]) == ("failed", 1, [])
    assert f"batch 2 of crm_customers {shown['message']}" == refusal(2, 3, 4, "75%")
    accepted = run(project, db_url, "load", "crm_customers", str(path), "--format", "json",
                   "--allow-mass-delete")
    assert accepted.exit_code == 0
    entities = {e["entity"]: e for e in json.loads(accepted.stdout)["entities"]}
    assert (entities["customer_details"]["inserted"], entities["customer_details"]["deleted"],
            entities["customer"]["deleted"]) == (2, 3, 0)


def test_a_snapshot_deleting_one_key_of_four_passes_and_reports_it(
        project: Path, db_url: str, vault: Vault, tmp_path: Path) -> None:
    result = run(project, db_url, "load", "crm_customers",
                 str(write(tmp_path, "extract.csv", THREE_OF_FOUR)))
    assert result.exit_code == 0, result.output + result.stderr
    assert summary_rows(result.stdout)["customer_details"][:3] == ["satellite", "0", "1"]
    assert "customer_details ok: 0 inserted, 1 deleted, 0 quarantined" in result.stderr
    assert vault.audit(2)["customer_details"][2:] == (0, 0, "ok", 1)
    state = api.query_state(project, "customer_details", ["C004"], url=db_url).records()
    assert [(r["customer_number"], r["deleted"]) for r in state] == [("C004", True)]


@pytest.mark.parametrize(("limit", "extract", "refused_with"), [
    ("80%", "truncated", None),                        # 75% is within 80%
    ("74.5%", "truncated", (3, "75%")),
    ("20%", "three of four", (1, "25%")),              # 25% is more than 20%
    ("25%", "three of four", None),                    # the limit itself is allowed
    ("0%", "three of four", (1, "25%")),               # no deletion at all
    ("100%", "empty", None),                           # no limit
])
def test_max_deletes_in_the_source_file_sets_the_limit(
        limit: str, extract: str, refused_with: tuple[int, str] | None, project: Path,
        db_url: str, vault: Vault, tmp_path: Path) -> None:
    set_limit(project, f"max_deletes: {limit}")
    text = {"truncated": TRUNCATED, "three of four": THREE_OF_FOUR, "empty": EMPTY}[extract]
    before = vault.snapshot()
    result = run(project, db_url, "load", "crm_customers", str(write(tmp_path, "x.csv", text)))
    if refused_with is None:
        assert result.exit_code == 0, result.output + result.stderr
        assert vault.audit(2)["customer_details"][4] == "ok"
    else:
        deleted, share = refused_with
        assert_refused(result, vault, before, 2, refusal(2, deleted, 4, share, limit))


def test_a_share_just_over_the_limit_is_not_rounded_down_to_it(project: Path, db_url: str,
                                                                tmp_path: Path) -> None:
    set_limit(project, "max_deletes: 33.333%")
    vault = Vault(migrated(project, db_url))
    load(project, db_url, "crm_customers", data(project, CRM["jan"]))  # C001, C002, C003
    before = vault.snapshot()
    two = (HEADER + f"C001,Alice Martin,alice@example.com,Lyon,{DAY}\n"
           + f"C002,Bob Stone,bob@example.com,Leeds,{DAY}\n")
    result = run(project, db_url, "load", "crm_customers", str(write(tmp_path, "x.csv", two)))
    # 1 of 3 is 33.3333...%: more than the limit, though 33.33% would read as less
    assert_refused(result, vault, before, 2,
                   refusal(2, 1, 3, "more than 33.333%", "33.333%"))
    vault.engine.dispose()


def test_a_satellite_with_no_live_key_is_not_checked(project: Path, db_url: str,
                                                     vault: Vault, tmp_path: Path) -> None:
    empty = str(write(tmp_path, "empty.csv", EMPTY))
    load(project, db_url, "crm_customers", empty, "--allow-mass-delete")  # every key deleted
    again = load(project, db_url, "crm_customers", empty, "--force")      # none live: no check
    assert summary_rows(again.stdout)["customer_details"][:3] == ["satellite", "0", "0"]


def test_a_load_of_hubs_only_deletes_nothing_and_is_not_checked(
        project: Path, db_url: str, vault: Vault, tmp_path: Path) -> None:
    result = load(project, db_url, "crm_customers",
                  str(write(tmp_path, "x.csv", TRUNCATED)), "--only", "customer")
    assert set(summary_rows(result.stdout)) == {"customer"}


def test_the_loader_steps_check_too(project: Path, db_url: str, vault: Vault,
                                    tmp_path: Path) -> None:
    """``stage`` refuses as ``load`` does, and a refused batch loads nothing; a staged batch
    none of whose entity loads began is checked again when they begin (a loader stopped
    between staging and the check leaves one), by ``resume`` or by the next load."""
    session = api.open_session(project, url=db_url)
    loader, source = session.loader, session.project.model.sources["crm_customers"]
    truncated = str(write(tmp_path, "x.csv", TRUNCATED))
    before = vault.snapshot()
    try:
        staged = loader.stage("crm_customers", open_input(truncated))
        assert staged.status == "failed" and "3 of 4 keys (75%)" in staged.batch.message
        with pytest.raises(DatavaultError, match="failed .*nothing of it is loaded"):
            loader.load_entity(source, "customer_details", staged)
        assert loader.finish(staged.batch_id) == "failed"

        unchecked = loader.stage("crm_customers", open_input(truncated),
                                 allow_mass_delete=True)
        assert unchecked.status == "staged"
        assert loader.resume(unchecked.batch_id).status == "failed"
        assert vault.snapshot() == before

        unchecked = loader.stage("crm_customers", open_input(truncated),
                                 allow_mass_delete=True)
        full = loader.load("crm_customers", open_input(str(data(project, CRM["mar"]))),
                           force=True)  # finishes the earlier batch first: refused
        assert [r.status for r in full.resumed] == ["failed"]
        assert full.ok and vault.audit(unchecked.batch_id) == {}
        assert vault.rows("SELECT COUNT(*) FROM sat_customer_details "
                          "WHERE city IS NULL") == [(0,)]

        # another batch staged with every key does not count: only this batch's rows do
        whole = loader.stage("crm_customers", open_input(str(data(project, CRM["mar"]))),
                             allow_mass_delete=True)
        assert loader.stage("crm_customers", open_input(truncated)).status == "failed"
        assert loader.resume(whole.batch_id).ok

        accepted = loader.stage("crm_customers", open_input(truncated),
                                allow_mass_delete=True)
        result = loader.resume(accepted.batch_id, allow_mass_delete=True)
        assert result.ok
        assert [e.rows_deleted for e in result.entities if e.kind == "satellite"] == [3]
    finally:
        session.close()


def test_the_api_accepts_a_mass_deletion(project: Path, db_url: str, vault: Vault,
                                         tmp_path: Path) -> None:
    path = str(write(tmp_path, "x.csv", EMPTY))
    refused = api.load(project, "crm_customers", path, url=db_url)
    assert (refused.ok, refused.status, refused.entities) == (False, "failed", [])
    accepted = api.load(project, "crm_customers", path, url=db_url, allow_mass_delete=True)
    assert accepted.ok
    assert {e.entity: e.rows_deleted for e in accepted.entities} == {
        "customer": 0, "customer_details": 4}
