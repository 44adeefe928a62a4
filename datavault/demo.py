"""The demo: the example project on SQLite, with a late batch and a correction, explained."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from datavault import api, query
from datavault.diagnostics import DatavaultError
from datavault.load import LoadResult, open_input

MARKER = ".datavault-demo"
Say = Callable[[str], None]
Table = Callable[[str, list[str], list[list[object]]], None]

STEPS = [
    ("crm_customers", "data/crm_customers_2026-01-01.csv",
     "The CRM's extract of 1 January arrives."),
    ("crm_customers", "data/crm_customers_2026-03-01.csv",
     "The extract of 1 March arrives: Alice moved to Paris, Dan is new."),
    ("crm_customers", "data/crm_customers_2026-02-01.csv",
     "LATE: the extract of 1 February arrives only now. Bob had a new e-mail address in "
     "February; one row has no customer id."),
    ("crm_customers", "data/crm_customers_2026-01-01_fix.csv",
     "CORRECTION: the CRM re-sends 1 January: Carol's e-mail address had a typo that day."),
    ("shop_orders", "data/shop_orders_2026-03-02.csv",
     "The web shop sends its order changes; one amount is not a number."),
]


def _prepare(target: Path) -> None:
    if target.exists() and any(target.iterdir()):
        if not (target / MARKER).exists():
            raise DatavaultError(f"{target} is not empty; choose a new folder for the demo")
        import shutil

        shutil.rmtree(target)
    api.init_project(target)
    (target / MARKER).write_text("built by `datavault demo`; safe to delete\n", encoding="utf-8")


def run_demo(target: Path | str, say: Say, table: Table) -> list[LoadResult]:
    """Build the example project in ``target``, load five batches on SQLite, show the history."""
    target = Path(target)
    _prepare(target)
    url = f"sqlite:///{(target / 'vault.sqlite').resolve()}"
    api.migrate_upgrade(target, url=url)
    session = api.open_session(target, url=url)
    results = []
    try:
        say(f"Example project written to {target}; the vault is {target / 'vault.sqlite'}, "
            "its tables made by the project's first migration (migrations/).")
        for number, (source, path, story) in enumerate(STEPS, 1):
            result = session.loader.load(source, open_input(str(target / path)))
            results.append(result)
            failed = [e for e in result.entities if e.status != "ok"]
            if failed:
                raise DatavaultError(
                    f"demo batch {result.batch_id}: load of {failed[0].entity} failed: "
                    f"{failed[0].message}"
                )
            inserted = sum(e.rows_inserted for e in result.entities)
            quarantined = result.rows_quarantined + sum(e.rows_quarantined for e in result.entities)
            say(f"{number}. {story}\n   batch {result.batch_id}: {result.rows_read} rows read, "
                f"{inserted} rows inserted, {quarantined} quarantined.")
        with session.engine.connect() as connection:
            rows = query.history(connection, session.project.model, "customer_details").records()
            table(
                "What the vault knows: customer_details, every version, both time axes",
                ["customer", "applied", "loaded", "email", "city"],
                [[r["customer_number"], _day(r["applied"]), _batch_of(r["loaded"], results),
                  r["email"], r["city"]] for r in rows],
            )
            feb = dt.datetime(2026, 2, 15)
            before_late = results[1].loaded_at
            model = session.project.model
            now = query.state(connection, model, "customer_details", at=feb).records()
            then = query.state(connection, model, "customer_details", at=feb,
                               known_at=before_late).records()
            table(
                "Customers as of 15 February: as known now, and as known before the late batch",
                ["customer", "email now", "email as known then", "city now"],
                _side_by_side(now, then),
            )
        say("Nothing was overwritten: the late February extract slotted in between January and "
            "March (March is still March), the corrected January address replaced the typo from "
            "its load time on, and the earlier answer can still be reproduced with known_at. "
            "Rejected rows are in the dv_quarantine table with their reasons.")
        built, _ = api.build_marts(target, url=url)
        say(f"6. The marts of models/marts/ are built: {', '.join(r.mart for r in built)}, "
            "each a table and three views (_current, _history, _snapshot) for plain SQL.")
        with session.engine.connect() as connection:
            rows = connection.exec_driver_sql(
                "SELECT snapshot_at, customer_number, email, city FROM customers_snapshot "
                "WHERE customer_number = 'C002' ORDER BY snapshot_at").all()
        table("customers_snapshot, customer C002: the start of each month, as known now",
              ["snapshot_at", "customer", "email", "city"],
              [[_day(dt.datetime.fromisoformat(str(r[0]))), *r[1:]] for r in rows])
    finally:
        session.close()
    return results


def _day(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%d")


def _batch_of(load_ts: dt.datetime, results: list[LoadResult]) -> str:
    for result in results:
        if result.loaded_at == load_ts:
            return f"batch {result.batch_id}"
    return str(load_ts)


def _side_by_side(now: list[dict], then: list[dict]) -> list[list[object]]:
    earlier = {r["customer_number"]: r for r in then}
    rows = []
    for row in now:
        old = earlier.get(row["customer_number"])
        rows.append([row["customer_number"], row["email"], old["email"] if old else "(unknown)",
                     row["city"]])
    return rows
