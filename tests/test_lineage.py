"""Column lineage (datavault.lineage): exact lineage of the example project's columns, every
column of every kind's tables covered, and the marts' views as the templates make them."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from datavault import api, database, kinds, lineage, marts, schema
from datavault.lineage import Derivation, Ref
from datavault.render import Renderer
from tests.conftest import ROOT, write_project
from tests.test_kind_record_tracking import PROJECT as RECORD_TRACKING

PROJECTS = sorted(p.name for p in (ROOT / "tests" / "projects").iterdir() if p.is_dir())


def src(source: str, column: str) -> Ref:
    return Ref(source, source, column)


@pytest.fixture(scope="module")
def example() -> lineage.Lineage:
    return lineage.lineage(api.validate(ROOT).model)


def test_hub_columns_come_from_every_source_that_carries_the_key(example) -> None:
    key = example.of("hub_customer", "customer_hk")
    assert (key.derivation, key.type, key.primary_key) == (Derivation.HASH_KEY, "hash", True)
    assert key.inputs == (src("crm_customers", "customer_id"), src("shop_orders", "customer_ref"),
                          src("crm_phones", "customer_id"))
    part = example.of("hub_customer", "customer_number")
    assert (part.derivation, part.type, part.primary_key) == (Derivation.COPIED, "text", False)
    assert set(part.inputs) == set(key.inputs)
    assert example.of("hub_order", "record_source").note == "'shop.orders'"


def test_satellite_columns(example) -> None:
    name = example.of("sat_customer_details", "name")
    assert (name.derivation, name.inputs) == (Derivation.COPIED,
                                              (src("crm_customers", "name"),))
    diff = example.of("sat_customer_details", "hash_diff")
    assert (diff.derivation, diff.inputs) == (Derivation.HASH_DIFF, tuple(
        src("crm_customers", c) for c in ("name", "email", "city")))
    applied = example.of("sat_order_status", "applied_ts")
    assert (applied.derivation, applied.inputs, applied.primary_key) == (
        Derivation.APPLIED_TIME, (src("shop_orders", "changed_at"),), True)
    loaded = example.of("sat_order_status", "load_ts")
    assert (loaded.derivation, loaded.inputs) == (Derivation.LOAD_TIME, ())
    assert example.of("sat_order_status", "amount").type == "decimal"
    key = example.of("sat_customer_details__obs", "customer_hk")
    assert (key.derivation, key.inputs) == (Derivation.HASH_KEY,
                                            (src("crm_customers", "customer_id"),))


def test_link_multi_active_and_effectivity_columns(example) -> None:
    link = example.of("link_order_customer", "order_customer_hk")
    assert link.inputs == (src("shop_orders", "order_id"), src("shop_orders", "customer_ref"))
    role = example.of("link_order_customer", "customer_hk")
    assert (role.derivation, role.inputs) == (Derivation.HASH_KEY,
                                              (src("shop_orders", "customer_ref"),))
    member = example.of("msat_customer_phones", "member_hash_diff")
    whole = example.of("msat_customer_phones", "hash_diff")
    assert (member.derivation, whole.derivation) == (Derivation.HASH_DIFF,
                                                     Derivation.SET_HASH_DIFF)
    assert member.inputs == whole.inputs == (src("crm_phones", "phone_type"),
                                             src("crm_phones", "phone_number"))
    driving = example.of("eff_order_customer_eff", "driving_hk")
    assert (driving.derivation, driving.inputs) == (Derivation.HASH_KEY,
                                                    (src("shop_orders", "order_id"),))
    relationship = example.of("eff_order_customer_eff", "hash_diff")
    assert relationship.inputs == link.inputs


def test_a_mart_column_back_to_its_source_column(example) -> None:
    column = example.of("customers_current", "name")
    assert (column.derivation, column.inputs) == (
        Derivation.COPIED, (Ref("customer_details", "sat_customer_details", "name"),))
    assert example.chains("customers_current", "name") == [
        (src("crm_customers", "name"), Ref("customer_details", "sat_customer_details", "name"),
         Ref("customers", "customers_current", "name"))]
    assert example.origins("customers_snapshot", "email") == [src("crm_customers", "email")]
    # a customer number a PIT of orders shows through the effectivity satellite: looked up in
    # the hub by the relationship's customer key, which the shop's customer_ref gives
    booked = example.of("orders_current", "customer_number")
    assert booked.derivation == Derivation.LOOKED_UP
    assert booked.inputs == (Ref("customer", "hub_customer", "customer_number"),
                             Ref("order_customer_eff", "eff_order_customer_eff", "customer_hk"))
    assert (src("shop_orders", "customer_ref"), Ref("order_customer_eff",
            "eff_order_customer_eff", "customer_hk"), Ref("orders", "orders_current",
            "customer_number")) in example.chains("orders_current", "customer_number")
    pointer = example.of("pit_orders", "order_status_applied_ts")
    assert (pointer.derivation, pointer.inputs) == (
        Derivation.POINTER, (Ref("order_status", "sat_order_status", "applied_ts"),))
    bridge = example.of("customer_orders_snapshot", "order_number")
    assert bridge.inputs == (Ref("order", "hub_order", "order_number"),
                             Ref("customer_orders", "bridge_customer_orders", "order_hk"))
    assert example.used_by(src("crm_customers", "city")) == [
        Ref("customer_details", "sat_customer_details", "city"),
        Ref("customer_details", "sat_customer_details", "hash_diff"),
        Ref("customer_details", "sat_customer_details__obs", "hash_diff")]


def _projects(tmp_path: Path) -> list[Path]:
    return [ROOT, *(ROOT / "tests" / "projects" / name for name in PROJECTS),
            write_project(tmp_path / "record_tracking", RECORD_TRACKING)]


def test_every_column_of_every_kind_has_lineage(tmp_path: Path) -> None:
    """Every kind has its rules, and every column of every table of every entity and mart is
    there once, with its inputs columns of the model."""
    assert set(lineage._RULES) == set(kinds.KINDS)
    seen_kinds = set()
    for project in _projects(tmp_path):
        model = api.validate(project).model
        found = lineage.lineage(model)
        refs = [(c.ref.table, c.ref.column) for c in found.columns]
        assert len(refs) == len(set(refs))
        expected = {(t.name, c.name) for md in (schema.build_metadata(model),
                                                marts.metadata(model))
                    for t in md.tables.values() for c in t.columns
                    if any(t.name in tables for (kind, _), tables in found.tables.items()
                           if kind != "source")}
        assert expected <= set(refs), sorted(expected - set(refs))
        for column in found.columns:
            for ref in column.inputs:
                assert found.of(ref.table, ref.column).ref == ref
        seen_kinds |= {e.kind for e in model.entities.values()}
    assert seen_kinds == set(kinds.KINDS)


def _view_columns(model, root: Path) -> dict[str, list[str]]:
    """The columns of every mart view as SQLite makes them from the templates."""
    engine, dialect = database.connect(f"sqlite:///{root / 'vault.sqlite'}")
    schema.build_metadata(model).create_all(engine)
    marts.metadata(model).create_all(engine)
    renderer = Renderer(model, dialect)
    columns = {}
    with engine.begin() as connection:
        for mart in model.marts.values():
            for statement in renderer.mart_views(mart).statements():
                connection.exec_driver_sql(statement.sql)
            for which in ("current", "history", "snapshot"):
                result = connection.exec_driver_sql(f"SELECT * FROM {mart.view(which)} LIMIT 0")
                columns[mart.view(which)] = list(result.keys())
    engine.dispose()
    return columns


@pytest.mark.parametrize("project", ["example", "reference_table"])  # those with marts
def test_the_views_columns_are_those_the_templates_select(project: str, tmp_path: Path) -> None:
    root = ROOT if project == "example" else ROOT / "tests" / "projects" / project
    model = api.validate(root).model
    found = lineage.lineage(model)
    made = _view_columns(model, tmp_path)
    assert made
    for view, columns in made.items():
        assert [c.ref.column for c in found.table(view)] == columns, view
    tables = marts.metadata(model).tables
    for mart in model.marts.values():
        assert [c.ref.column for c in found.table(mart.table)] == [
            c.name for c in tables[mart.table].columns]
        assert isinstance(tables[mart.table], sa.Table)
