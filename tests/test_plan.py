"""`datavault plan`: the steps an orchestrator runs, from the model alone."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from datavault import api
from datavault.cli import main
from tests.conftest import ROOT, write_project
from tests.test_kind_nonhistorized_link import TWO_SOURCES


def test_every_source_is_a_load_of_what_it_feeds_in_the_loaders_order() -> None:
    plan = api.plan(ROOT)
    model = api.validate(ROOT).model
    assert [s.name for s in plan.loads] == [f"load {s}" for s in sorted(model.sources)]
    for step in plan.loads:
        assert step.entities == tuple(model.entities_of(step.target))
        assert (step.after, step.stage, step.sources, step.lock) == (
            (), 1, (step.target,), (step.target,))
    assert plan.step("load shop_orders").entities == (
        "customer", "order", "order_customer", "order_status", "order_customer_eff")


def test_a_mart_comes_after_the_loads_of_every_source_feeding_what_it_reads() -> None:
    plan = api.plan(ROOT)
    # orders: a PIT over the hub order, which only shop_orders feeds
    orders = plan.step("build orders")
    assert orders.entities == ("order", "order_status", "order_customer_eff")
    assert orders.after == ("load shop_orders",)
    # customers: a PIT over the hub customer, which every source feeds
    assert plan.step("build customers").after == (
        "load crm_customers", "load crm_phones", "load shop_orders")
    # the bridge reads the hubs and the link of its path and the satellites it requires
    bridge = plan.step("build customer_orders")
    assert {"customer", "order", "order_customer"} <= set(bridge.entities)
    assert plan.stages == (("load crm_customers", "load crm_phones", "load shop_orders"),
                           ("build customer_orders", "build customers", "build orders"))
    assert plan.exclusive == ()


def test_a_pit_over_a_link_reads_the_links_hubs(tmp_path: Path) -> None:
    """A PIT over order_customer reads the hubs whose keys make the link's keys: it comes
    after the loads of every source feeding those hubs, not only the link's source."""
    root = tmp_path / "project"
    for part in ("models", "config"):
        for path in (ROOT / part).rglob("*.yml"):
            target = root / path.relative_to(ROOT)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    (root / "models" / "satellites" / "order_customer_amount.yml").write_text(
        "parent: order_customer\nsource: shop_orders\npayload:\n  amount: amount\n",
        encoding="utf-8")
    (root / "models" / "marts" / "links.yml").write_text(
        "pit: order_customer\nspine:\n  dates: [2026-03-01]\n", encoding="utf-8")
    step = api.plan(root).step("build links")
    assert step.entities[:3] == ("customer", "order", "order_customer")
    assert step.after == ("load crm_customers", "load crm_phones", "load shop_orders")


def test_sources_of_one_entity_in_load_time_order_share_one_lock(tmp_path: Path) -> None:
    """Two sources of one non-historized link: their loads take turns under one lock, which
    the plan says, as the loader takes it."""
    root = write_project(tmp_path / "two", TWO_SOURCES)
    plan = api.plan(root)
    assert plan.step("load feed").lock == plan.step("load other").lock == ("feed", "other")
    assert plan.exclusive == (("load feed", "load other"),)
    text = CliRunner().invoke(main, ["-p", str(root), "plan"]).stdout.splitlines()
    assert text[-1] == "one at a time (one load lock): load feed, load other"
    session = api.connect(root, url=f"sqlite:///{tmp_path / 'vault.sqlite'}")
    try:
        assert session.loader._lock_name("feed") == "feed and other"
    finally:
        session.close()


def test_plan_json_for_scripts_and_text_for_logs() -> None:
    runner = CliRunner()
    done = runner.invoke(main, ["-p", str(ROOT), "plan", "--format", "json"])
    assert done.exit_code == 0, done.output
    data = json.loads(done.stdout)
    assert set(data) == {"steps", "stages", "exclusive"}
    assert data == api.plan(ROOT).as_json()
    assert set(data["steps"][0]) == {"step", "action", "target", "stage", "after", "entities",
                                     "sources", "lock"}
    assert [s["step"] for s in data["steps"] if s["action"] == "build"] == data["stages"][1]
    text = runner.invoke(main, ["-p", str(ROOT), "plan"])
    assert text.exit_code == 0, text.output
    lines = text.stdout.splitlines()
    assert lines[0] == "3 loads, 3 mart builds in 2 stages"
    assert "  build orders: reads order, order_status, order_customer_eff; after load " \
           "shop_orders" in lines


def test_plan_of_a_broken_project_is_one_error(tmp_path: Path) -> None:
    done = CliRunner().invoke(main, ["-p", str(tmp_path / "missing"), "plan", "--format", "json"])
    assert done.exit_code == 1
    assert done.stdout == ""
    assert "does not exist" in done.stderr
