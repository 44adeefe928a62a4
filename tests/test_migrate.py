"""Schema evolution: the model changes, the warehouse follows, and no row of history is lost.

The story runs on SQLite and PostgreSQL through the `datavault` command: model v1 with batches,
v2 (a new source, hub, link and satellite, and a new payload column), v3 (a payload column
removed from the YAML, a type widened). After every step `migrate check` is clean and every
earlier answer of `datavault query` / `history` is unchanged.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from datavault import api
from datavault.cli import main
from datavault.database import connect
from datavault.load import open_input
from tests.conftest import CORE_ENGINES, migrated, url_maker, write_project
from tests.test_history import EXAMPLES

V1_BATCHES = [
    ("crm_customers", "crm_customers_2026-01-01.csv"),
    ("crm_customers", "crm_customers_2026-03-01.csv"),
    ("crm_customers", "crm_customers_2026-02-01.csv"),
    ("crm_customers", "crm_customers_2026-01-01_fix.csv"),
    ("shop_orders", "shop_orders_2026-03-02.csv"),
]
ENTITIES = ("customer_details", "order_status", "customer", "order")
TIMES = ("2026-01-01T12:00:00", "2026-02-15", "2026-12-31")

PAYMENTS = {
    "models/sources/shop_payments.yml": (
        "record_source: shop.payments\nbatch: delta\napplied_at: paid_at\n"
        "columns:\n  payment_id: text\n  order_id: text\n  method: text\n"
        "  amount_cents: integer\n  paid_at: timestamp\n"),
    "models/hubs/payment.yml": (
        "business_key:\n  payment_number: text\nsources:\n  shop_payments:\n"
        "    payment_number: payment_id\n"),
    "models/links/payment_order.yml": (
        "hubs: [payment, order]\nsources:\n  shop_payments:\n    payment: payment_id\n"
        "    order: order_id\n"),
    "models/satellites/payment_details.yml": (
        "parent: payment\nsource: shop_payments\npayload: [method, amount_cents]\n"),
}
PAYMENTS_CSV = ("payment_id,order_id,method,amount_cents,paid_at\n"
                "P-1,O-1001,card,12050,2026-03-02T09:20:00\n"
                "P-2,O-1002,invoice,4000,2026-03-05T10:00:00\n")


# ---- helpers ------------------------------------------------------------------------------
def dv(project: Path, url: str, *args: str, ok: bool = True) -> Result:
    result = CliRunner().invoke(main, ["-p", str(project), "--url", url, *args])
    assert "Traceback" not in result.output, result.output
    if ok:
        assert result.exit_code == 0, f"{args}: {result.output}{result.exception!r}"
    return result


def edit(project: Path, relative: str, old: str, new: str) -> None:
    path = project / relative
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {relative}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def add_phone(project: Path) -> None:
    """v2: crm_customers gets a phone column, and customer_details carries it."""
    edit(project, "models/sources/crm_customers.yml", "  city: text\n",
         "  city: text\n  phone: text\n")
    edit(project, "models/satellites/customer_details.yml", "payload: [name, email, city]",
         "payload: [name, email, city, phone]")


def with_phone(source: Path, target: Path, phones: dict[str, str] | None = None,
               day: str | None = None) -> Path:
    """A CRM extract with a phone column (empty unless given), optionally for another day."""
    lines = source.read_text(encoding="utf-8").splitlines()
    out = [lines[0] + ",phone"]
    for line in lines[1:]:
        if day:
            line = line.replace(line.rsplit(",", 1)[1][:10], day)
        out.append(line + "," + (phones or {}).get(line.split(",")[0], ""))
    target.write_text("\n".join(out) + "\n", encoding="utf-8")
    return target


def load_times(url: str) -> list[str]:
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        times = [str(t) for t, in connection.exec_driver_sql(
            "SELECT loaded_at FROM dv_batch ORDER BY batch_id")]
    engine.dispose()
    return times


def count(url: str, table: str) -> int:
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        value = connection.exec_driver_sql(f"SELECT COUNT(*) FROM {table}").scalar_one()
    engine.dispose()
    return value


def columns(url: str, table: str) -> list[str]:
    engine, _ = connect(url)  # as the toolkit reads its engine's catalog
    names = [c["name"] for c in sa.inspect(engine).get_columns(table)]
    engine.dispose()
    return names


def answers(project: Path, url: str, entities=ENTITIES, known: list[str | None] | None = None,
            ) -> dict[tuple, list[dict]]:
    """Every answer the vault gives about ``entities``: each one's history, and its state at
    several applied times as known now and at the given load times."""
    found = {}
    for entity in entities:
        found[("history", entity)] = json.loads(
            dv(project, url, "history", entity, "--format", "json").stdout)
        for at in TIMES:
            for k in known if known is not None else [None]:
                args = ["query", entity, "--at", at, "--format", "json"]
                if k is not None:
                    args += ["--known-at", k]
                found[("query", entity, at, k)] = json.loads(dv(project, url, *args).stdout)
    return found


def same_value(old: object, new: object) -> bool:
    """Equal, or the same number written as a wider type (JSON shows decimals as text)."""
    if old == new:
        return True
    if isinstance(old, int | float) and not isinstance(old, bool) and isinstance(new, str):
        try:
            return Decimal(str(old)) == Decimal(new)
        except ArithmeticError:
            return False
    return False


def assert_unchanged(before: dict[tuple, list[dict]], after: dict[tuple, list[dict]]) -> None:
    """Every earlier answer is given again: the same rows with the same values; columns the
    model gained since are empty in them."""
    assert sum(len(rows) for rows in before.values()) > 0
    for question, rows in before.items():
        again = after[question]
        assert len(again) == len(rows), question
        for old, new in zip(rows, again):
            assert set(old) <= set(new), (question, set(old) - set(new))
            changed = {k: (v, new[k]) for k, v in old.items() if not same_value(v, new[k])}
            assert not changed, (question, changed)
            assert all(new[k] is None for k in set(new) - set(old)), (question, new)


def as_known_then(found: dict[tuple, list[dict]]) -> dict[tuple, list[dict]]:
    """The answers as known at a past load time: no later batch may change them."""
    return {question: rows for question, rows in found.items()
            if question[0] == "query" and question[3] is not None}


def check_is_clean(project: Path, url: str) -> str:
    result = dv(project, url, "migrate", "check")
    assert "ok: the database matches the model" in result.stdout
    return result.stdout


# ---- the story ----------------------------------------------------------------------------
def test_three_model_versions_keep_every_answer(example_project: Path, db_url: str,
                                                tmp_path: Path) -> None:
    project, url = example_project, db_url
    data = project / "data"

    # v1: the project's first migration, five batches
    assert "applied base -> " in dv(project, url, "migrate", "upgrade").stdout
    check_is_clean(project, url)
    for source, file in V1_BATCHES:
        dv(project, url, "load", source, str(data / file))
    v1_loads = load_times(url)
    v1 = answers(project, url, known=[None, v1_loads[1], v1_loads[3]])
    v1_project = tmp_path / "v1"
    shutil.copytree(project, v1_project)

    # v2: new source, hub, link and satellite; a new payload column
    for relative, text in PAYMENTS.items():
        (project / relative).write_text(text, encoding="utf-8")
    add_phone(project)
    differs = dv(project, url, "migrate", "check", ok=False)
    assert differs.exit_code == 1
    assert "table hub_payment is missing" in differs.stdout
    assert "column sat_customer_details.phone is missing" in differs.stdout
    refused = dv(project, url, "load", "crm_customers", str(data / V1_BATCHES[0][1]), ok=False)
    assert refused.exit_code == 1 and "datavault migrate upgrade" in refused.output
    assert len(load_times(url)) == 5, "a refused load wrote a batch"

    made = dv(project, url, "migrate", "revision", "-m", "payments and phone numbers").stdout
    for change in ("add table hub_payment", "add table link_payment_order",
                   "add table sat_payment_details", "add table stg_shop_payments",
                   "add column sat_customer_details.phone", "add column stg_crm_customers.phone"):
        assert change in made, made
    assert "kept" not in made
    dv(project, url, "migrate", "upgrade")
    check_is_clean(project, url)
    assert_unchanged(v1, answers(project, url, known=[None, v1_loads[1], v1_loads[3]]))

    # an additive step downgrades cleanly: back to exactly v1, then up again
    assert "undid" in dv(project, url, "migrate", "downgrade", "-1").stdout
    check_is_clean(v1_project, url)
    assert_unchanged(v1, answers(v1_project, url, known=[None, v1_loads[1], v1_loads[3]]))
    dv(project, url, "migrate", "upgrade")
    check_is_clean(project, url)

    # hash diffs survive the new column: unchanged rows (phone empty) make no new version
    sat_rows = count(url, "sat_customer_details")
    for source, file in V1_BATCHES[1:4]:  # (the first file again would undo the correction)
        dv(project, url, "load", source, str(with_phone(data / file, tmp_path / file)))
    assert count(url, "sat_customer_details") == sat_rows
    # a new extract where one customer has a phone: one new version, for that customer only
    april = with_phone(data / "crm_customers_2026-03-01.csv", tmp_path / "april.csv",
                       {"C001": "+33 1 23 45 67 89"}, day="2026-04-01")
    dv(project, url, "load", "crm_customers", str(april))
    assert count(url, "sat_customer_details") == sat_rows + 1
    latest = json.loads(dv(project, url, "query", "customer_details", "--format",
                           "json").stdout)
    assert {r["customer_number"]: r["phone"] for r in latest}["C001"] == "+33 1 23 45 67 89"
    assert sum(r["phone"] is not None for r in latest) == 1
    payments = tmp_path / "payments.csv"
    payments.write_text(PAYMENTS_CSV, encoding="utf-8")
    dv(project, url, "load", "shop_payments", str(payments))
    v2_loads = load_times(url)
    everything = (*ENTITIES, "payment_details", "payment")
    v2 = answers(project, url, everything, known=[None, v1_loads[3], v2_loads[-1]])
    assert_unchanged(as_known_then(v1), answers(project, url, known=[v1_loads[1], v1_loads[3]]))

    # v3: city leaves the YAML (its history stays), amount_cents widens to decimal
    edit(project, "models/satellites/customer_details.yml", "[name, email, city, phone]",
         "[name, email, phone]")
    edit(project, "models/sources/shop_payments.yml", "amount_cents: integer",
         "amount_cents: decimal")
    made = dv(project, url, "migrate", "revision", "-m", "city leaves, cents widen").stdout
    assert "kept column sat_customer_details.city" in made
    assert "alter column sat_payment_details.amount_cents" in made
    assert "satellite payment_details.amount_cents: integer -> decimal" in made
    assert "DROP" not in made
    dv(project, url, "migrate", "upgrade")
    kept = check_is_clean(project, url)
    assert "kept column sat_customer_details.city" in kept
    assert "city" in columns(url, "sat_customer_details")
    assert_unchanged(v2, answers(project, url, everything,
                                 known=[None, v1_loads[3], v2_loads[-1]]))
    assert_unchanged(as_known_then(v1), answers(project, url, known=[v1_loads[1], v1_loads[3]]))

    # v3 loads: a fractional amount fits the widened column
    payments.write_text(PAYMENTS_CSV.replace("4000,2026-03-05T10:00:00",
                                             "4000.5,2026-03-06T10:00:00"), encoding="utf-8")
    dv(project, url, "load", "shop_payments", str(payments))
    p2 = json.loads(dv(project, url, "query", "payment_details", "--key", "P-2", "--format",
                       "json").stdout)
    assert [float(r["amount_cents"]) for r in p2] == [4000.5]
    assert_unchanged(as_known_then(v2),
                     answers(project, url, everything, known=[v1_loads[3], v2_loads[-1]]))
    check_is_clean(project, url)


# ---- changes that would break stored keys or lose data ------------------------------------
BREAKING = {
    "hash algorithm": ("config/datavault.yml", "hash: md5", "hash: sha256", "hash"),
    "table naming": ("config/datavault.yml", "hub: hub_{name}", "hub: h_{name}", "naming"),
    "business key type": ("models/hubs/customer.yml", "customer_number: text",
                          "customer_number: integer", "hub customer"),
    "business key part": ("models/hubs/customer.yml", "  customer_number: text\n",
                          "  customer_number: text\n  region: text\n", "hub customer"),
    "link hub order": ("models/links/order_customer.yml", "hubs: [order, customer]",
                       "hubs: [customer, order]", "link order_customer"),
    "decimal to integer": ("models/sources/shop_orders.yml", "amount: decimal",
                           "amount: integer", "satellite order_status.amount"),
    "text to uuid": ("models/sources/shop_orders.yml", "status: text", "status: uuid",
                     "satellite order_status.status"),
    "timestamp to date": ("models/sources/shop_orders.yml", "ordered_at: timestamp",
                          "ordered_at: date", "satellite order_status.ordered_at"),
    "decimal to text": ("models/sources/shop_orders.yml", "amount: decimal",
                        "amount: text", "satellite order_status.amount"),
}


def _break(project: Path, change: str) -> str:
    relative, old, new, item = BREAKING[change]
    if change in ("text to uuid", "decimal to text"):  # the checks of the column's old type
        edit(project, relative, "  - accepted_values: {column: status, values: [placed, "
             "shipped, delivered, cancelled]}\n", "")
        edit(project, relative, "  - range: {column: amount, min: 0}\n", "")
    if change == "business key type":  # the sources' key columns change with it
        edit(project, "models/sources/crm_customers.yml", "customer_id: text",
             "customer_id: integer")
        edit(project, "models/sources/shop_orders.yml", "customer_ref: text",
             "customer_ref: integer")
        edit(project, "models/sources/crm_phones.yml", "customer_id: text",
             "customer_id: integer")
    if change == "business key part":  # each feed must then name the new part's column
        edit(project, relative, "  crm_customers:\n    customer_number: customer_id\n",
             "  crm_customers:\n    customer_number: customer_id\n    region: city\n")
        edit(project, relative, "  crm_phones:\n    customer_number: customer_id\n",
             "  crm_phones:\n    customer_number: customer_id\n    region: phone_type\n")
        edit(project, relative, "    customer_number: customer_ref\n",
             "    customer_number: customer_ref\n    region: status\n")
        edit(project, "models/links/order_customer.yml", "    customer: customer_ref\n",
             "    customer: [customer_ref, status]\n")
    edit(project, relative, old, new)
    return item


def versions(project: Path) -> list[str]:
    return sorted(p.name for p in (project / "migrations" / "versions").glob("*.py"))


@pytest.mark.parametrize("change", sorted(BREAKING))
def test_a_change_that_would_break_loaded_data_is_refused(
    change: str, example_project: Path, db_url: str
) -> None:
    project, url = example_project, migrated(example_project, db_url)
    dv(project, url, "load", "shop_orders", str(project / "data" / V1_BATCHES[4][1]))
    before = versions(project)
    item = _break(project, change)
    assert "ok:" in dv(project, url, "validate").stdout

    refused = dv(project, url, "migrate", "revision", "-m", change, ok=False)
    assert refused.exit_code == 1
    assert "refused" in refused.output and f"{item}: " in refused.output, refused.output
    assert versions(project) == before, "a refused revision wrote a file"
    reason = refused.output.split(f"{item}: ", 1)[1]
    if change in ("hash algorithm", "business key type", "business key part",
                  "link hub order"):
        assert "rehash" in reason and "every" in reason
    elif change in ("decimal to integer", "text to uuid", "timestamp to date"):
        assert "only widening is allowed" in reason
    elif change == "decimal to text":  # wider, but the engines would write other text
        assert "differently on SQLite and PostgreSQL" in reason

    checked = dv(project, url, "migrate", "check", ok=False)
    assert checked.exit_code == 1 and f"contract {item}" in checked.stdout
    loaded = dv(project, url, "load", "shop_orders",
                str(project / "data" / V1_BATCHES[4][1]), ok=False)
    assert loaded.exit_code == 1 and len(load_times(url)) == 1


def test_before_any_load_a_business_key_may_still_change(example_project: Path,
                                                        db_url: str) -> None:
    project, url = example_project, migrated(example_project, db_url)
    _break(project, "business key type")
    made = dv(project, url, "migrate", "revision", "-m", "customer numbers are integers").stdout
    assert "contract hub customer: customer_number text -> customer_number integer" in made
    dv(project, url, "migrate", "upgrade")
    check_is_clean(project, url)
    batch = project / "numbered.csv"
    batch.write_text("customer_id,name,email,city,extracted_at\n"
                     "17,Ann,ann@example.com,Oslo,2026-01-01T06:00:00\n", encoding="utf-8")
    dv(project, url, "load", "crm_customers", str(batch))
    rows = json.loads(dv(project, url, "query", "customer", "--format", "json").stdout)
    assert [r["customer_number"] for r in rows] == [17]


def test_a_link_cannot_change_its_hubs_even_before_any_load(example_project: Path,
                                                            db_url: str) -> None:
    """Its table is keyed by the old roles; the message says how to start it over."""
    project, url = example_project, migrated(example_project, db_url)
    _break(project, "link hub order")
    refused = dv(project, url, "migrate", "revision", "-m", "reorder", ok=False)
    assert refused.exit_code == 1 and "holds loaded data" not in refused.output
    assert "link order_customer" in refused.output and "--drop-removed" in refused.output


def test_a_step_made_on_an_empty_database_is_refused_where_data_is_loaded(
    example_project: Path, make_db_url
) -> None:
    project = example_project
    empty, loaded = migrated(project, make_db_url()), migrated(project, make_db_url())
    dv(project, loaded, "load", "shop_orders", str(project / "data" / V1_BATCHES[4][1]))
    hub_before = count(loaded, "hub_order")
    _break(project, "hash algorithm")
    dv(project, empty, "migrate", "revision", "-m", "sha256")
    dv(project, empty, "migrate", "upgrade")

    refused = dv(project, loaded, "migrate", "upgrade", ok=False)
    assert refused.exit_code == 1
    assert "refused" in refused.output and "hash: md5 -> sha256" in refused.output
    assert "not the latest" in dv(project, loaded, "migrate", "current").stdout
    assert count(loaded, "hub_order") == hub_before
    engine = sa.create_engine(loaded)
    with engine.connect() as connection:
        assert connection.exec_driver_sql(
            "SELECT definition FROM dv_contract WHERE item = 'hash'").scalar_one() == "md5"
    engine.dispose()


def test_a_widening_is_not_undone_once_data_is_loaded(tmp_path: Path, db_url: str) -> None:
    project = write_project(tmp_path / "feed", FEED_V1)
    url = migrated(project, db_url)
    edit(project, "models/sources/feed.yml", "n: integer", "n: decimal")
    dv(project, url, "migrate", "revision", "-m", "n widens")
    dv(project, url, "migrate", "upgrade")
    batch = tmp_path / "feed.csv"
    batch.write_text("k,day,v,d,n\nA,2026-01-01,x,1.5,2.25\n", encoding="utf-8")
    dv(project, url, "load", "feed", str(batch))
    refused = dv(project, url, "migrate", "downgrade", "-1", ok=False)
    assert refused.exit_code == 1
    assert "satellite thing_state.n: decimal -> integer" in refused.output
    assert count(url, "sat_thing_state") == 1
    check_is_clean(project, url)


def test_a_new_satellite_on_a_loaded_source_migrates_and_loads(example_project: Path,
                                                              db_url: str) -> None:
    """Its hash diff is a new NOT NULL staging column: the migration empties staging first."""
    project, url = example_project, migrated(example_project, db_url)
    dv(project, url, "load", "shop_orders", str(project / "data" / V1_BATCHES[4][1]))
    (project / "models" / "satellites" / "order_placed.yml").write_text(
        "parent: order\nsource: shop_orders\npayload: [ordered_at]\n", encoding="utf-8")
    made = dv(project, url, "migrate", "revision", "-m", "order placed").stdout
    assert "empty stg_shop_orders" in made
    assert "add column stg_shop_orders.dv_hd_order_placed" in made
    dv(project, url, "migrate", "upgrade")
    check_is_clean(project, url)
    dv(project, url, "load", "shop_orders", str(project / "data" / V1_BATCHES[4][1]))
    assert count(url, "sat_order_placed") == 2


@pytest.fixture(params=CORE_ENGINES)
def core_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database of every engine, those that keep no constraints (Spark) too."""
    return url_maker(request, request.param, tmp_path)()


def test_an_additive_change_migrates_and_checks_clean_on_every_engine(example_project: Path,
                                                                     core_url: str) -> None:
    """A new satellite (a new table, a new staging column): `migrate check` is clean before
    and after, and the revision asks for nothing an engine cannot hold (an engine without
    NOT NULL or indexes reflects none: no difference)."""
    project, url = example_project, migrated(example_project, core_url)
    check_is_clean(project, url)
    (project / "models" / "satellites" / "order_placed.yml").write_text(
        "parent: order\nsource: shop_orders\npayload: [ordered_at]\n", encoding="utf-8")
    made = dv(project, url, "migrate", "revision", "-m", "order placed").stdout
    assert "add table sat_order_placed" in made, made
    assert "add column stg_shop_orders.dv_hd_order_placed" in made, made
    assert "alter column" not in made and "index" not in made, made
    dv(project, url, "migrate", "upgrade")
    check_is_clean(project, url)


# ---- removed columns: kept, or dropped when asked ----------------------------------------
def test_drop_removed_drops_a_column_only_when_asked(example_project: Path, db_url: str) -> None:
    project, url = example_project, migrated(example_project, db_url)
    dv(project, url, "load", "crm_customers", str(project / "data" / V1_BATCHES[0][1]))
    edit(project, "models/satellites/customer_details.yml", "[name, email, city]",
         "[name, email]")
    check = dv(project, url, "migrate", "check").stdout
    assert "kept column sat_customer_details.city" in check
    assert "nothing to migrate" in dv(project, url, "migrate", "revision", "-m", "x").stdout

    made = dv(project, url, "migrate", "revision", "-m", "drop city", "--drop-removed").stdout
    assert "dropping column sat_customer_details.city: its history will be lost" in made
    assert "DROP column sat_customer_details.city" in made
    dv(project, url, "migrate", "upgrade")
    assert "city" not in columns(url, "sat_customer_details")
    assert "kept" not in check_is_clean(project, url)


def test_a_removed_satellite_keeps_its_tables_and_answers(example_project: Path,
                                                          db_url: str) -> None:
    project, url = example_project, migrated(example_project, db_url)
    dv(project, url, "load", "shop_orders", str(project / "data" / V1_BATCHES[4][1]))
    rows = count(url, "sat_order_status")
    (project / "models" / "satellites" / "order_status.yml").unlink()
    for mart in ("orders", "customer_orders"):  # the marts built on it go with it
        (project / "models" / "marts" / f"{mart}.yml").unlink()
    check = dv(project, url, "migrate", "check", ok=False).stdout
    assert "kept table sat_order_status " in check and "kept table sat_order_status__obs" in check
    assert "staging column stg_shop_orders.dv_hd_order_status is no longer" in check
    made = dv(project, url, "migrate", "revision", "-m", "order_status leaves").stdout
    assert made.count("kept table") == 2
    assert "drop column stg_shop_orders.dv_hd_order_status (staging: no history)" in made
    assert "DROP" not in made
    dv(project, url, "migrate", "upgrade")
    check = check_is_clean(project, url)
    assert "kept table sat_order_status " in check and "kept table sat_order_status__obs" in check
    dv(project, url, "load", "shop_orders", str(project / "data" / V1_BATCHES[4][1]))
    assert count(url, "sat_order_status") == rows

    made = dv(project, url, "migrate", "revision", "-m", "drop", "--drop-removed").stdout
    assert "DROP table sat_order_status" in made and "DROP table sat_order_status__obs" in made
    assert "hub_" not in made and "link_" not in made
    dv(project, url, "migrate", "upgrade")
    engine = sa.create_engine(url)
    assert "sat_order_status" not in sa.inspect(engine).get_table_names()
    engine.dispose()
    assert "kept" not in check_is_clean(project, url)


def test_a_removed_source_drops_only_its_staging_and_foreign_tables_stay(
    example_project: Path, db_url: str
) -> None:
    project, url = example_project, migrated(example_project, db_url)
    engine = sa.create_engine(url)
    with engine.begin() as connection:  # someone else's tables, named like the vault's
        connection.exec_driver_sql("CREATE TABLE hub_notes (note TEXT)")
        connection.exec_driver_sql("CREATE TABLE sat_scratch (x TEXT)")
    dv(project, url, "load", "crm_customers", str(project / "data" / V1_BATCHES[0][1]))
    for relative in ("sources/crm_customers.yml", "satellites/customer_details.yml",
                     "marts/customers.yml", "marts/customer_orders.yml"):
        (project / "models" / relative).unlink()
    edit(project, "models/hubs/customer.yml",
         "  crm_customers:\n    customer_number: customer_id\n", "")
    made = dv(project, url, "migrate", "revision", "-m", "crm leaves", "--drop-removed").stdout
    assert "drop table stg_crm_customers (staging: no history)" in made
    assert "DROP table sat_customer_details" in made
    assert "hub_notes" not in made and "sat_scratch" not in made
    dv(project, url, "migrate", "upgrade")
    names = sa.inspect(engine).get_table_names()
    assert {"hub_notes", "sat_scratch"} <= set(names) and "stg_crm_customers" not in names
    engine.dispose()
    check = check_is_clean(project, url)
    assert "hub_notes" not in check and "sat_scratch" not in check


# ---- loads and the schema ----------------------------------------------------------------
def test_a_load_into_a_database_without_the_vault_says_what_to_run(example_project: Path,
                                                                  db_url: str) -> None:
    result = dv(example_project, db_url, "load", "crm_customers",
                str(example_project / "data" / V1_BATCHES[0][1]), ok=False)
    assert result.exit_code == 1
    assert result.stderr.strip().count("\n") == 0
    assert "datavault migrate upgrade" in result.stderr
    engine = sa.create_engine(db_url)
    assert sa.inspect(engine).get_table_names() == []
    engine.dispose()


def test_a_project_without_migrations_gets_its_environment_and_first_revision(
    example_project: Path, db_url: str
) -> None:
    project = example_project
    shutil.rmtree(project / "migrations")
    (project / "alembic.ini").unlink()
    assert "migrate revision" in dv(project, db_url, "migrate", "upgrade", ok=False).output
    made = dv(project, db_url, "migrate", "revision", "-m", "first model").stdout
    assert "wrote the Alembic environment" in made and "add table hub_customer" in made
    assert len(versions(project)) == 1
    dv(project, db_url, "migrate", "upgrade")
    check_is_clean(project, db_url)
    assert "first model" in dv(project, db_url, "migrate", "history").stdout
    assert "nothing to migrate" in dv(project, db_url, "migrate", "revision", "-m", "x").stdout
    assert "wrote" in dv(project, db_url, "migrate", "revision", "-m", "by hand",
                         "--empty").stdout
    assert len(versions(project)) == 2


# ---- the plain alembic command ------------------------------------------------------------
def test_the_plain_alembic_command_works_on_the_same_folder(example_project: Path,
                                                           db_url: str) -> None:
    project = example_project
    alembic = Path(sys.executable).parent / "alembic"
    env = {**os.environ, "DATAVAULT_URL": db_url}

    def run(*args: str) -> subprocess.CompletedProcess:
        done = subprocess.run([str(alembic), *args], cwd=project, env=env,
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
        return done

    run("upgrade", "head")
    add_phone(project)
    pending = subprocess.run([str(alembic), "check"], cwd=project, env=env,
                             capture_output=True, text=True)
    assert pending.returncode != 0 and "Traceback" not in pending.stderr, pending.stderr
    assert "New upgrade operations detected" in pending.stdout + pending.stderr
    run("revision", "--autogenerate", "-m", "phone")
    assert any(name.endswith("_phone.py") for name in versions(project))
    run("upgrade", "head")
    assert "No new upgrade operations detected" in run("check").stdout
    check_is_clean(project, db_url)
    assert "(head)" in run("current").stdout


# ---- property: a new column that is empty leaves every hash diff as it was ---------------
FEED_V1 = {
    "config/datavault.yml": "hash: md5\n",
    "models/sources/feed.yml": (
        "record_source: test.feed\nbatch: delta\napplied_at: day\n"
        "columns:\n  k: text\n  day: date\n  v: text\n  d: decimal\n  n: integer\n"),
    "models/hubs/thing.yml": "business_key:\n  k: text\nsources:\n  feed:\n",
    "models/satellites/thing_state.yml": "parent: thing\nsource: feed\npayload: [v, d, n]\n",
}
FEED_V2 = {
    **FEED_V1,
    "models/sources/feed.yml": FEED_V1["models/sources/feed.yml"] + "  w: text\n",
    "models/satellites/thing_state.yml": "parent: thing\nsource: feed\npayload: [v, d, n, w]\n",
}
cell_text = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=6)
payload_rows = st.lists(st.tuples(
    st.sampled_from(["A", "B", "C"]),
    st.one_of(st.none(), cell_text.filter(lambda t: t.strip() == t and t)),
    st.one_of(st.none(), st.decimals(allow_nan=False, allow_infinity=False, places=3,
                                     min_value=-10**6, max_value=10**6)),
    st.one_of(st.none(), st.integers(-2**40, 2**40)),
), min_size=1, max_size=6)


@pytest.fixture
def feeds(make_db_url, tmp_path: Path):
    sessions = []
    for name, files in (("v1", FEED_V1), ("v2", FEED_V2)):
        root = write_project(tmp_path / name, files)
        sessions.append(api.open_session(root, url=migrated(root, make_db_url())))
    yield sessions
    for session in sessions:
        session.close()


def _stage_hash_diffs(session, path: Path) -> list[bytes]:
    session.loader.stage("feed", open_input(str(path)))
    with session.engine.connect() as connection:
        return [bytes(h) for h, in connection.exec_driver_sql(
            "SELECT dv_hd_thing_state FROM stg_feed ORDER BY dv_row")]


@settings(max_examples=max(EXAMPLES // 5, 20), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(rows=payload_rows)
def test_property_an_empty_new_column_leaves_every_hash_diff_as_it_was(feeds, tmp_path: Path,
                                                                       rows) -> None:
    v1, v2 = feeds
    before, after = tmp_path / "v1.csv", tmp_path / "v2.csv"
    with before.open("w", newline="", encoding="utf-8") as b, \
            after.open("w", newline="", encoding="utf-8") as a:
        old, new = csv.writer(b), csv.writer(a)
        old.writerow(["k", "day", "v", "d", "n"])
        new.writerow(["k", "day", "v", "d", "n", "w"])
        for key, v, d, n in rows:
            cells = [key, "2026-01-01", "" if v is None else v, "" if d is None else str(d),
                     "" if n is None else str(n)]
            old.writerow(cells)
            new.writerow([*cells, ""])
    assert _stage_hash_diffs(v1, before) == _stage_hash_diffs(v2, after)
