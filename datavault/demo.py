"""The demo: the example project on an embedded engine (SQLite unless asked), with a late
batch and a correction, a customer's phone numbers as sets, and an order moved between
customers and back (its link rows, and the spans of the relationship in effect), explained."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from datavault import api, query
from datavault import model as m
from datavault.diagnostics import DatavaultError
from datavault.dialects import DEFAULT
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
    ("crm_phones", "data/crm_phones_2026-01-01.csv",
     "The CRM's extract of phone numbers of 1 January arrives: Alice (C001) has a mobile and a "
     "home number, Bob (C002) a mobile."),
    ("crm_phones", "data/crm_phones_2026-02-01.csv",
     "The phone extract of 1 February: the same numbers, in another row order."),
    ("crm_phones", "data/crm_phones_2026-03-01.csv",
     "The phone extract of 1 March: Alice's home number is gone, Bob has a work number too."),
    ("shop_orders", "data/shop_orders_2026-03-05.csv",
     "The web shop's next changes: customer service moved order O-1002 from Bob (C002) to "
     "Carol (C003) on 5 March, and back to Bob on 6 March; it shipped on 7 March. One status "
     "is misspelt, which the source's check of accepted values catches."),
]
#: a file the demo writes: changes of the web shop ten years and more before the demo runs
ARCHIVE = "data/shop_orders_archive.csv"
ARCHIVE_AGE = dt.timedelta(days=4018)
#: the step that loads the reordered phone extract of 1 February (1-based)
REORDERED = 7


def _prepare(target: Path, engine: str) -> None:
    if target.exists() and any(target.iterdir()):
        if not (target / MARKER).exists():
            raise DatavaultError(f"{target} is not empty; choose a new folder for the demo")
        import shutil

        shutil.rmtree(target)
    api.init_project(target, engine=engine)
    (target / MARKER).write_text("built by `datavault demo`; safe to delete\n", encoding="utf-8")


def run_demo(target: Path | str, say: Say, table: Table,
             engine: str = DEFAULT) -> list[LoadResult]:
    """Build the example project in ``target``, load its batches on an embedded ``engine``,
    show the history."""
    target = Path(target)
    dialect = api.embedded_engine(engine)
    _prepare(target, engine)
    url = dialect.default_url(target.resolve())
    vault_file = target / str(dialect.default_file)
    api.migrate_upgrade(target, url=url)
    session = api.open_session(target, url=url)
    results = []
    try:
        say(f"Example project written to {target}; the vault is {vault_file}, "
            "its tables made by the project's migrations (migrations/).")
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
            say(f"{number}. {story}\n   batch {result.batch_id}: {_rows(result.rows_read)} read, "
                f"{_rows(inserted)} inserted, {quarantined} quarantined." + _checks(result))
        results.append(_archive(session, target, say))
        with session.engine.connect() as connection:
            rows = query.history(connection, session.project.model, "customer_details").records()
            table(
                "What the vault knows: customer_details, every version, both time axes",
                ["customer", "applied", "loaded", "email", "city"],
                [[r["customer_number"], _time(r["applied"]), _batch_of(r["loaded"], results),
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
        with session.engine.connect() as connection:
            _phones(connection, session.project.model, results, say, table)
            _order_links(connection, results, say, table)
            _order_customer(connection, session.project.model, say, table)
        built, _ = api.build_marts(target, url=url)
        say(f"{len(STEPS) + 2}. The marts of models/marts/ are built: "
            f"{', '.join(r.mart for r in built)}, each a table and three views (_current, "
            "_history, _snapshot) for plain SQL.")
        with session.engine.connect() as connection:
            rows = connection.exec_driver_sql(
                "SELECT snapshot_at, customer_number, email, city FROM customers_snapshot "
                "WHERE customer_number = 'C002' ORDER BY snapshot_at").all()
        table("customers_snapshot, customer C002: the start of each month, as known now",
              ["snapshot_at", "customer", "email", "city"],
              [[_time(dt.datetime.fromisoformat(str(r[0]))), *r[1:]] for r in rows])
        with session.engine.connect() as connection:
            rows = connection.exec_driver_sql(
                "SELECT snapshot_at, order_number, customer_number FROM customer_orders_snapshot "
                "WHERE order_number = 'O-1002' ORDER BY snapshot_at").all()
        table("customer_orders_snapshot, order O-1002: its customer on each day, as known now",
              ["snapshot_at", "order", "customer"],
              [[_time(dt.datetime.fromisoformat(str(r[0]))), *r[1:]] for r in rows])
        say("The bridge customer_orders follows order_customer_eff (effective: in its file), "
            "so on each day O-1002 shows under the one customer it was booked to then.")
    finally:
        session.close()
    return results


def _checks(result: LoadResult) -> str:
    """The checks of a demo batch that did not pass quietly, one line each."""
    lines = []
    for outcome in result.checks:
        if outcome.status in ("pass", "skip"):
            continue
        label = {"quarantined": "", "warn": "warning: ", "stop": "stopped the batch: "}
        lines.append(f"\n   check {outcome.check.name}: {label[outcome.status]}"
                     f"{outcome.message}")
    return "".join(lines)


def _archive(session: Any, target: Path, say: Say) -> LoadResult:
    """A file of changes dated long before now, which the freshness check of shop_orders
    (severity stop) refuses before any entity load."""
    changed = (dt.datetime.now(dt.UTC) - ARCHIVE_AGE).strftime("%Y-%m-%dT%H:%M:%S")
    (target / ARCHIVE).write_text(
        "order_id,customer_ref,status,amount,ordered_at,changed_at\n"
        f"O-0042,C001,delivered,12.00,{changed},{changed}\n", encoding="utf-8")
    result = session.loader.load("shop_orders", open_input(str(target / ARCHIVE)))
    say(f"{len(STEPS) + 1}. A file from the web shop's archive turns up among the new ones: "
        f"its changes are {ARCHIVE_AGE.days // 365} years old.\n   batch {result.batch_id}: "
        f"{result.status}, nothing of it loaded." + _checks(result)
        + f"\n   (datavault -p {target} checks --batch {result.batch_id} lists every check "
        "run.)")
    return result


def _rows(number: int) -> str:
    return f"{number} row{'' if number == 1 else 's'}"


def _phones(connection: sa.Connection, model: m.Model, results: list[LoadResult], say: Say,
            table: Table) -> None:
    """What the multi-active satellite customer_phones answers: each customer's set of numbers
    at three days, and that the reordered extract stored nothing."""
    days = [dt.datetime(2026, 1, 15), dt.datetime(2026, 2, 15), dt.datetime(2026, 3, 15)]
    states = [query.state(connection, model, "customer_phones", at=d).records() for d in days]
    members = sorted({(r["customer_number"], r["phone_type"]) for s in states for r in s})
    table(
        "customer_phones: each customer's set of numbers, as of three days",
        ["customer", "type", *[f"{d.day} {d:%B}" for d in days]],
        [[customer, kind, *[next((r["phone_number"] for r in s if r["customer_number"] == customer
                                 and r["phone_type"] == kind), "") for s in states]]
         for customer, kind in members],
    )
    reordered = results[REORDERED - 1]
    stored = sum(e.rows_inserted for e in reordered.entities if e.entity == "customer_phones")
    applied = sorted({_time(r["applied"]) for r in states[1]})
    say(f"A multi-active satellite keeps sets: batch {reordered.batch_id}, the same numbers in "
        f"another order, stored {stored} rows, so on 15 February each set is still the one "
        f"applied at {', '.join(applied)}. In March, Alice's set lost a member and Bob's gained "
        "one: each is a new version, stored whole (datavault history customer_phones).")


def _order_links(connection: sa.Connection, results: list[LoadResult], say: Say,
                 table: Table) -> None:
    """The link rows of order O-1002: every customer it was ever linked to."""
    rows = connection.exec_driver_sql(
        "SELECT o.order_number, c.customer_number, l.load_ts, l.record_source "
        "FROM link_order_customer l "
        "JOIN hub_order o ON o.order_hk = l.order_hk "
        "JOIN hub_customer c ON c.customer_hk = l.customer_hk "
        "WHERE o.order_number = 'O-1002' ORDER BY l.load_ts, c.customer_number").all()
    table("link_order_customer, order O-1002: the customers it was linked to",
          ["order", "customer", "loaded", "record_source"],
          [[r[0], r[1], _batch_of(_timestamp(r[2]), results), r[3]] for r in rows])
    say("A link holds every relationship it was sent, once: the move to C003 added a row, the "
        "move back to C002 none, as C002's was there already.")


def _order_customer(connection: sa.Connection, model: m.Model, say: Say,
                    table: Table) -> None:
    """What the effectivity satellite order_customer_eff answers for order O-1002: which
    customer it was booked to, from when to when."""
    spans = query.spans(connection, model, "order_customer_eff", keys=["O-1002"]).records()
    table("order_customer_eff, order O-1002: the customer in effect, from when to when",
          ["order", "customer", "start", "end"],
          [[r["order.order_number"], r["customer.customer_number"], _moment(r["start"]),
            _moment(r["end"]) if r["end"] else ""] for r in spans])
    say(f"An effectivity satellite says which of them is in effect: {len(spans)} spans, the "
        "return to C002 a span of its own, not the first one reopened "
        "(datavault history order_customer_eff).")


def _moment(value: object) -> str:
    return _timestamp(value).strftime("%Y-%m-%d %H:%M")


def _timestamp(value: object) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))


def _time(value: dt.datetime) -> str:
    """A point in time as the demo shows it: to the minute (an extract applied at 06:00 is
    not yet in a snapshot taken at midnight of the same day)."""
    return value.strftime("%Y-%m-%d %H:%M")


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
