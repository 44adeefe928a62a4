"""The schema check every command makes: from what the database records (its revision, the key
contract and each table's shape), for the tables the command touches, without reflecting
them; and blind to no model change that has no migration yet. On both engines."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from datavault import api, schemacheck, session
from datavault.diagnostics import DatavaultError
from tests.conftest import migrated, write_project
from tests.test_migrate import (
    BREAKING,
    FEED_V1,
    PAYMENTS,
    V1_BATCHES,
    _break,
    add_phone,
    dv,
    edit,
    load_times,
)

ORDER_PLACED = "parent: order\nsource: shop_orders\npayload: [ordered_at]\n"


def _rows(result) -> list[dict]:
    return json.loads(result.stdout)


def _load(project: Path, url: str, index: int, *args: str, ok: bool = True):
    source, file = V1_BATCHES[index]
    return dv(project, url, "load", source, str(project / "data" / file), *args, ok=ok)


def _refused(result, *expected: str) -> str:
    """One clear line on standard error, exit code 1, with each expected part."""
    assert result.exit_code == 1, result.output
    message = result.stderr.strip()
    assert message.count("\n") == 0, message
    for part in expected:
        assert part in message, message
    return message


# ---- a pending change, and the entities it does not touch --------------------------------
def test_a_pending_change_leaves_the_entities_it_does_not_touch_answering(
        example_project: Path, db_url: str) -> None:
    project, url = example_project, migrated(example_project, db_url)
    _load(project, url, 0)
    _load(project, url, 4)
    asked = [("query", "customer_details", "--key", "C001"),
             ("history", "customer", "--key", "C002"),
             ("query", "order_status", "--key", "O-1001"),
             ("query", "customer", "--key", "C001")]
    before = [_rows(dv(project, url, *args, "--format", "json")) for args in asked]

    # a new satellite of shop_orders, in the YAML only: no migration has it yet; the PIT
    # orders lists it
    (project / "models" / "satellites" / "order_placed.yml").write_text(ORDER_PLACED,
                                                                        encoding="utf-8")
    pit = project / "models" / "marts" / "orders.yml"
    listed = "satellites: [order_status, order_customer_eff"
    pit.write_text(pit.read_text(encoding="utf-8").replace(listed, listed + ", order_placed"),
                   encoding="utf-8")
    assert [_rows(dv(project, url, *args, "--format", "json")) for args in asked] == before
    assert len(_rows(dv(project, url, "batches", "--format", "json"))) == 2
    assert len(_rows(dv(project, url, "quarantine", "--format", "json"))) == 1

    # what the new satellite touches refuses, saying what to run
    for args, what in ((("query", "order_placed"), "satellite order_placed"),
                       (("history", "order_placed", "--key", "O-1001"),
                        "satellite order_placed"),
                       (("query", "order", "--key", "O-1001"), "hub order")):
        _refused(dv(project, url, *args, ok=False),
                 f"the database does not match the model for {what}",
                 "table sat_order_placed is missing",
                 "no migration has this change yet: run `datavault migrate revision -m "
                 "MESSAGE`, then `datavault migrate upgrade`")
    refused = dv(project, url, "load", "shop_orders",
                 str(project / "data" / V1_BATCHES[4][1]), "--force", ok=False)
    _refused(refused, "for source shop_orders", "datavault migrate revision")
    assert len(load_times(url)) == 2, "a refused load wrote a batch"
    # a source the change does not touch loads
    _load(project, url, 1)
    assert len(load_times(url)) == 3

    # marts: those over untouched tables are built, the other is refused
    built = dv(project, url, "marts", "build", ok=False)
    _refused(built, "for mart orders", "table sat_order_placed is missing",
             "the others were built: customer_orders, customers")
    assert "pit customers:" in built.stdout and "bridge customer_orders:" in built.stdout

    # migrated, everything answers, from the recorded shapes alone
    dv(project, url, "migrate", "revision", "-m", "order placed")
    dv(project, url, "migrate", "upgrade")
    with api.connect(project, url=url) as vault:
        vault.check()
        for args in asked:
            kind = args[0]
            ask = vault.query_state if kind == "query" else vault.history
            assert ask(args[1], [args[3]]).rows
        assert vault.query_state("order", ["O-1001"]).rows
        assert vault.schema.compared == set()


def test_a_database_not_at_the_latest_migration(example_project: Path, db_url: str) -> None:
    """Reads answer for what matches; a load waits for the upgrade, and says so."""
    project, url = example_project, migrated(example_project, db_url)
    _load(project, url, 0)
    (project / "models" / "satellites" / "order_placed.yml").write_text(ORDER_PLACED,
                                                                        encoding="utf-8")
    dv(project, url, "migrate", "revision", "-m", "order placed")
    assert _rows(dv(project, url, "query", "customer_details", "--format", "json"))
    _refused(dv(project, url, "query", "order_placed", ok=False),
             "run `datavault migrate upgrade`, or `datavault migrate revision")
    _refused(_load(project, url, 1, ok=False), "not at the project's latest migration",
             "run `datavault migrate upgrade` before loading")
    dv(project, url, "migrate", "upgrade")
    _load(project, url, 1)


# ---- every model change, caught by the cheap facts ----------------------------------------
def _payments(project: Path) -> None:
    for relative, text in PAYMENTS.items():
        (project / relative).write_text(text, encoding="utf-8")


def _new_satellite(project: Path) -> None:
    (project / "models" / "satellites" / "order_placed.yml").write_text(ORDER_PLACED,
                                                                        encoding="utf-8")


def _satellite_removed(project: Path) -> None:
    (project / "models" / "satellites" / "order_status.yml").unlink()
    for mart in ("orders", "customer_orders"):
        (project / "models" / "marts" / f"{mart}.yml").unlink()


def _source_removed(project: Path) -> None:
    for relative in ("sources/crm_customers.yml", "satellites/customer_details.yml",
                     "marts/customers.yml", "marts/customer_orders.yml"):
        (project / "models" / relative).unlink()
    edit(project, "models/hubs/customer.yml",
         "  crm_customers:\n    customer_number: customer_id\n", "")


def _source_column(project: Path) -> None:  # staging only: no contract item changes
    edit(project, "models/sources/shop_orders.yml", "  status: text\n",
         "  status: text\n  channel: text\n")


def _satellite_source(project: Path) -> None:  # a satellite fed by another source
    edit(project, "models/satellites/customer_details.yml", "source: crm_customers",
         "source: shop_orders")
    edit(project, "models/satellites/customer_details.yml", "payload: [name, email, city]",
         "payload:\n  name: status\n  email: status\n  city: status")


def _stage_naming(project: Path) -> None:  # the one pattern the contract leaves out
    edit(project, "config/datavault.yml", "stage: stg_{name}", "stage: staging_{name}")


CHANGES: dict[str, Callable[[Path], object]] = {
    "a new source, hub, link and satellite": _payments,
    "a new payload and source column": add_phone,
    "a new satellite on a loaded source": _new_satellite,
    "a satellite removed (its staging column goes)": _satellite_removed,
    "a source removed": _source_removed,
    "a source column no payload takes": _source_column,
    "a satellite fed by another source": _satellite_source,
    "the staging table pattern": _stage_naming,
    **{change: (lambda project, change=change: _break(project, change)) for change in BREAKING},
}
NO_CHANGE: dict[str, Callable[[Path], object]] = {
    "a payload column removed (kept)": lambda project: edit(
        project, "models/satellites/customer_details.yml", "[name, email, city]",
        "[name, email]"),
    "payload columns in another order": lambda project: edit(
        project, "models/satellites/customer_details.yml", "[name, email, city]",
        "[city, name, email]"),
    "a description": lambda project: edit(
        project, "models/hubs/customer.yml", "known by the CRM's customer number",
        "as the CRM numbers them"),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_the_cheap_facts_catch_every_model_change_without_a_migration(
        change: str, example_project: Path, db_url: str) -> None:
    project, url = example_project, migrated(example_project, db_url)
    _load(project, url, 4)
    CHANGES[change](project)
    assert "ok:" in dv(project, url, "validate").stdout
    with api.connect(project, url=url) as vault:
        contract_changes, tables = vault.schema.pending(schemacheck.model_scope(vault.model))
        assert contract_changes or tables, "the recorded facts did not see the change"
        with pytest.raises(DatavaultError, match="the model"):
            vault.check()
    assert dv(project, url, "migrate", "check", ok=False).exit_code == 1


@pytest.mark.parametrize("change", sorted(NO_CHANGE))
def test_what_needs_no_migration_is_no_difference(change: str, example_project: Path,
                                                  db_url: str) -> None:
    project, url = example_project, migrated(example_project, db_url)
    _load(project, url, 0)
    NO_CHANGE[change](project)
    with api.connect(project, url=url) as vault:
        assert vault.schema.pending(schemacheck.model_scope(vault.model)) == ([], [])
        vault.check()
        assert vault.query_state("customer_details", ["C001"]).records()[0]["city"] == "Lyon"
        assert vault.load("crm_customers", project / "data" / V1_BATCHES[1][1]).ok
    if change != "a description":  # a table comment, which engines that keep comments get
        dv(project, url, "migrate", "check")  # from a migration; no command waits for it
        assert "nothing to migrate" in dv(project, url, "migrate", "revision", "-m", "x").stdout


def test_a_widening_is_caught_and_after_its_migration_the_check_is_cheap(
        tmp_path: Path, db_url: str) -> None:
    project = write_project(tmp_path / "feed", FEED_V1)
    url = migrated(project, db_url)
    edit(project, "models/sources/feed.yml", "n: integer", "n: decimal")
    with api.connect(project, url=url) as vault:
        changes, tables = vault.schema.pending(
            schemacheck.entity_scope(vault.model, "thing_state"))
        assert [c.item for c in changes] == ["satellite thing_state.n"]
        assert tables == ["sat_thing_state"]
    _refused(dv(project, url, "query", "thing_state", ok=False),
             "column sat_thing_state.n is")
    dv(project, url, "migrate", "revision", "-m", "n widens")
    dv(project, url, "migrate", "upgrade")
    with api.connect(project, url=url) as vault:
        assert vault.schema.pending(schemacheck.model_scope(vault.model)) == ([], [])


# ---- a database migrated before table shapes were recorded -------------------------------
def test_without_recorded_shapes_every_table_is_compared_in_full(example_project: Path,
                                                                  db_url: str) -> None:
    project, url = example_project, db_url
    api.migrate_upgrade(project, "da4c7642c542", url=url)  # the migrations before shapes
    # the project as it was then: without the shapes migration, nor the customer phones and
    # the order customer effectivity that came after it (their model files and their
    # migrations; the bridge that follows the effectivity satellite as it was then)
    versions = project / "migrations" / "versions"
    (versions / "20261202_a910864079ea_table_shapes.py").unlink()
    (versions / "20261202_2d0257e6f894_customer_phones.py").unlink()
    (versions / "20261203_d0fc8b459ba7_order_customer_effectivity.py").unlink()
    (versions / "20261205_a073fb2cf34d_checks_at_entry.py").unlink()
    for source in ("crm_customers", "shop_orders"):  # no checks at entry then
        path = project / "models" / "sources" / f"{source}.yml"
        path.write_text(path.read_text(encoding="utf-8").split("\nchecks:")[0] + "\n",
                        encoding="utf-8")
    shutil.rmtree(project / "models" / "effectivity_satellites")
    bridge = project / "models" / "marts" / "customer_orders.yml"
    bridge.write_text("".join(line for line in bridge.read_text(encoding="utf-8")
                              .splitlines(keepends=True)
                              if not line.startswith("effective:")), encoding="utf-8")
    pit = project / "models" / "marts" / "orders.yml"
    pit.write_text(pit.read_text(encoding="utf-8").replace(", order_customer_eff", ""),
                   encoding="utf-8")
    (project / "models" / "multi_active_satellites" / "customer_phones.yml").unlink()
    (project / "models" / "sources" / "crm_phones.yml").unlink()
    hub = project / "models" / "hubs" / "customer.yml"
    feed = "  crm_phones:\n    customer_number: customer_id\n"
    assert feed in hub.read_text(encoding="utf-8")
    hub.write_text(hub.read_text(encoding="utf-8").replace(feed, ""), encoding="utf-8")
    _load(project, url, 0)
    assert "note: the database records no shape for 13 tables" in dv(
        project, url, "migrate", "check").stdout
    with api.connect(project, url=url) as vault:
        assert vault.query_state("customer_details", ["C001"]).rows
        assert vault.schema.compared == {"dv_batch", "hub_customer", "sat_customer_details"}
    _new_satellite(project)  # the full comparison still sees a change
    assert _rows(dv(project, url, "query", "customer_details", "--format", "json"))
    _refused(dv(project, url, "query", "order_placed", ok=False),
             "table sat_order_placed is missing")
    made = dv(project, url, "migrate", "revision", "-m", "order placed").stdout
    assert "add table sat_order_placed" in made
    dv(project, url, "migrate", "upgrade")
    with api.connect(project, url=url) as vault:
        vault.check()
        assert vault.schema.compared == set()


# ---- the session --------------------------------------------------------------------------
def test_a_session_reads_the_project_and_the_schema_once(example_project: Path, db_url: str,
                                                         monkeypatch) -> None:
    project, url = example_project, migrated(example_project, db_url)
    reads = {"project": 0, "schema": 0}
    load_project, read = session.load_project, schemacheck.Recorded.read

    def counted_project(*args, **kwargs):
        reads["project"] += 1
        return load_project(*args, **kwargs)

    def counted_schema(connection):
        reads["schema"] += 1
        return read(connection)

    monkeypatch.setattr(session, "load_project", counted_project)
    monkeypatch.setattr(schemacheck.Recorded, "read", staticmethod(counted_schema))
    with api.connect(project, url=url) as vault:
        for index in (0, 1, 2, 3, 4):
            source, file = V1_BATCHES[index]
            assert vault.load(source, project / "data" / file).ok
        state = vault.query_state("customer_details", ["C002"], at=None)
        history = vault.history("customer", ["C002"])
        listed = vault.batches()
        quarantined = vault.quarantined(source="shop_orders")
        built, _ = vault.build_marts(["customers"])
    assert reads == {"project": 1, "schema": 1}
    assert [b.batch.batch_id for b in listed] == [5, 4, 3, 2, 1]
    assert len(quarantined.rows) == 1 and built[0].mart == "customers"
    # the module functions answer the same, each with a session of its own
    assert api.query_state(project, "customer_details", ["C002"], url=url).rows == state.rows
    assert api.query_history(project, "customer", ["C002"], url=url).rows == history.rows


def test_a_session_checks_each_command_against_what_it_touches(example_project: Path,
                                                               db_url: str) -> None:
    project, url = example_project, migrated(example_project, db_url)
    _new_satellite(project)
    with api.connect(project, url=url) as vault:
        assert vault.load("crm_customers", project / "data" / V1_BATCHES[0][1]).ok
        with pytest.raises(DatavaultError, match="for source shop_orders"):
            vault.load("shop_orders", project / "data" / V1_BATCHES[4][1])
        with pytest.raises(DatavaultError, match="for satellite order_placed"):
            vault.query_state("order_placed")
        assert vault.query_state("customer_details").rows


def test_an_empty_database_says_to_migrate(example_project: Path, db_url: str) -> None:
    with api.connect(example_project, url=db_url) as vault:
        for ask in (lambda: vault.query_state("customer"), vault.batches, vault.quarantined,
                    lambda: vault.load("crm_customers",
                                       example_project / "data" / V1_BATCHES[0][1])):
            with pytest.raises(DatavaultError, match="has no vault yet"):
                ask()
    engine = sa.create_engine(db_url)
    assert sa.inspect(engine).get_table_names() == []
    engine.dispose()


# ---- the project's heads, read without importing its migrations ----------------------------
def _migration_file(folder: Path, revision: str, down: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{revision}.py").write_text(
        f'"""{revision}\n\nRevision ID: {revision}\nRevises: {down}\n"""\n'
        "from collections.abc import Sequence\n\n"
        f"revision: str = {revision!r}\n"
        f"down_revision: str | Sequence[str] | None = {down}\n"
        "branch_labels = None\ndepends_on = None\n\n\n"
        "def upgrade() -> None:\n    pass\n\n\ndef downgrade() -> None:\n    pass\n",
        encoding="utf-8")


def test_the_heads_are_read_from_the_migration_files(tmp_path: Path) -> None:
    versions = tmp_path / "migrations" / "versions"
    _migration_file(versions, "a1", "None")
    _migration_file(versions, "b2", "'a1'")
    _migration_file(versions, "c3", "'a1'")
    assert schemacheck.migration_heads(tmp_path / "migrations") == {"b2", "c3"}
    _migration_file(versions, "d4", "('b2', 'c3')")  # a merge
    assert schemacheck.migration_heads(tmp_path / "migrations") == {"d4"}
    _migration_file(versions, "e5", "str('d4')")  # not a literal: Alembic reads it
    assert schemacheck.migration_heads(tmp_path / "migrations") == {"e5"}
    assert schemacheck.migration_heads(tmp_path / "nothing") == frozenset()
