"""A bridge restricted to the relationships in effect (SEMANTICS.md section 4), on SQLite and
PostgreSQL, against the plain-Python reference of section 6 (``tests/reference.py``).

Orders are booked to customers by full daily extracts (a late extract, a correction of a day
already seen, an order that an extract lacks: its relationship ends). After any sequence of
extracts and builds, the bridge that names the effectivity satellite under ``effective:``
holds at each snapshot exactly the relationship in effect for each order then, as the
reference answers from the extracts; a refreshed bridge equals a full rebuild; ``_current``
is the reference at the current time and ``_history`` its spans.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from datavault import api, marts, query
from datavault.load import open_input
from tests.conftest import migrated, write_project
from tests.reference import batch_observations, effectivity_spans, live_state, snapshot_deletions
from tests.test_validate import problems

EXAMPLES = int(os.environ.get("DATAVAULT_PROPERTY_EXAMPLES", "100")) // 4
DAY0 = dt.datetime(2026, 1, 1)
ORDERS = ["O1", "O2", "O3"]
CUSTOMERS = ["A", "B", "C"]
#: as known after every batch (batch i is loaded at i)
END = float("inf")
NOW = dt.datetime.now(dt.UTC).replace(tzinfo=None)
_SPINE = "spine: {every: day, from: 2026-01-01, to: 2026-01-08}\n"

PROJECT = {
    "models/sources/bookings.yml": """
batch: snapshot
applied_at: day
columns: {o: text, c: text, day: timestamp}
""",
    "models/hubs/order.yml": "business_key: {o: text}\nsources:\n  bookings:\n",
    "models/hubs/customer.yml": "business_key: {c: text}\nsources:\n  bookings:\n",
    "models/links/booking.yml": """
hubs: [order, customer]
sources:
  bookings: {order: o, customer: c}
""",
    "models/effectivity_satellites/booking_eff.yml": """
link: booking
driving_key: [order]
source: bookings
""",
    "models/marts/booked.yml": "bridge: [customer, booking, order]\neffective: [booking_eff]\n"
                               + _SPINE,
    "models/marts/booked_full.yml":
        "bridge: [order, booking, customer]\neffective: booking_eff\n" + _SPINE,
    # a driving key of every role: a relationship is in effect from a row that names it to
    # an end (here: an extract that lacks it)
    "models/effectivity_satellites/booking_pair.yml": """
link: booking
driving_key: [order, customer]
source: bookings
""",
    "models/marts/pairs.yml": "bridge: [customer, booking, order]\neffective: [booking_pair]\n"
                              + _SPINE,
    # the customer in effect for each order, at each snapshot
    "models/marts/orders.yml": "pit: order\nsatellites: [booking_eff]\n" + _SPINE,
    "models/marts/orders_full.yml": "pit: order\nsatellites: [booking_eff]\n" + _SPINE,
    # the same path without effective: every relationship ever booked, at every snapshot
    "models/marts/ever.yml": "bridge: [customer, booking, order]\n" + _SPINE,
}


class Vault:
    def __init__(self, root: Path, url: str):
        write_project(root, PROJECT)
        self.root = root
        self.session = api.open_session(root, url=migrated(root, url))
        self.model = self.session.project.model
        self.builder = marts.MartBuilder(self.model, self.session.engine,
                                         self.session.loader.renderer)
        self.md = marts.metadata(self.model)
        self.batches = 0

    def load(self, rows: list[dict]) -> None:
        self.batches += 1
        path = self.root / f"batch_{self.batches}.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, ["o", "c", "day"])
            writer.writeheader()
            writer.writerows(rows)
        # force: an extract identical to one loaded before is loaded again as a new batch,
        # as the reference takes it (without force it would be skipped as a re-delivery)
        result = self.session.loader.load("bookings", open_input(str(path)),
                                          allow_mass_delete=True, force=True)
        assert result.ok and not result.skipped, [e.message for e in result.entities]

    def build(self, name: str, full: bool = False) -> marts.MartResult:
        return self.builder.build(self.model.marts[name], full=full, today=DAY0.date())

    def select(self, sql: str) -> list[dict]:
        with self.session.engine.connect() as connection:
            return [{k: _ts(v) for k, v in r._mapping.items()}
                    for r in connection.exec_driver_sql(sql)]


def _ts(value):
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] == " ":
        return dt.datetime.fromisoformat(value)
    return value


@pytest.fixture
def vault(tmp_path: Path, db_url: str):
    v = Vault(tmp_path / "project", db_url)
    yield v
    v.session.close()


def _reference(extracts: list[tuple[int, dict[str, str]]]) -> list[tuple]:
    """The observations of section 6 that the extracts make, batch i loaded at i."""
    observations: list[tuple] = []
    for loaded, (day, booked) in enumerate(extracts, 1):
        at = DAY0 + dt.timedelta(days=day)
        observations += batch_observations(loaded, [(o, at, c) for o, c in booked.items()])[0]
    observations += snapshot_deletions(
        [(loaded, DAY0 + dt.timedelta(days=day), list(booked))
         for loaded, (day, booked) in enumerate(extracts, 1)])
    return observations


def _pair_reference(extracts: list[tuple[int, dict[str, str]]]) -> list[tuple]:
    """The same, for the driving key of both roles: each (order, customer) an extract holds
    is in effect, one it lacks ends."""
    observations: list[tuple] = []
    for loaded, (day, booked) in enumerate(extracts, 1):
        at = DAY0 + dt.timedelta(days=day)
        observations += [((o, c), at, loaded, "in") for o, c in booked.items()]
    observations += snapshot_deletions(
        [(loaded, DAY0 + dt.timedelta(days=day), list(booked.items()))
         for loaded, (day, booked) in enumerate(extracts, 1)])
    return observations


def check(vault: Vault, extracts: list[tuple[int, dict[str, str]]]) -> None:
    observations = _reference(extracts)
    pairs = _pair_reference(extracts)
    for mart in ("booked", "ever", "pairs", "orders"):
        vault.build(mart)
    vault.build("booked_full", full=True)
    vault.build("orders_full", full=True)
    pit = sorted(tuple(bytes(v) if isinstance(v, (bytes, memoryview)) else v for v in r.values())
                 for r in vault.select("SELECT * FROM pit_orders"))
    assert pit == sorted(tuple(bytes(v) if isinstance(v, (bytes, memoryview)) else v
                               for v in r.values())
                         for r in vault.select("SELECT * FROM pit_orders_full")), (
        "a refreshed PIT differs from a full build")
    # the PIT's views: the customer in effect (NULL: none), by the customer's business key
    for r in vault.select("SELECT * FROM orders_snapshot"):
        assert r["c"] == live_state(observations, r["o"], r["snapshot_at"], END), r
    assert {(r["o"], r["c"]) for r in vault.select("SELECT * FROM orders_current")} == {
        (o, live_state(observations, o, NOW, END)) for o in ORDERS
        if live_state(observations, o, NOW, END) is not None}
    for r in vault.select("SELECT * FROM orders_history"):
        assert r["c"] == live_state(observations, r["o"], r["valid_from"], END), r
    booked = {(r["snapshot_at"], r["c"], r["o"]) for r in vault.select(
        "SELECT * FROM booked_snapshot")}
    other_way = {(r["snapshot_at"], r["c"], r["o"]) for r in vault.select(
        "SELECT * FROM booked_full_snapshot")}
    assert booked == other_way, "a refreshed bridge differs from a full build"
    every = {(c, o) for _, booked_ in extracts for o, c in booked_.items()}
    for day in range(8):
        at = DAY0 + dt.timedelta(days=day)
        want = {(at, live_state(observations, o, at, END), o) for o in ORDERS}
        want = {row for row in want if row[1] is not None}
        assert {row for row in booked if row[0] == at} == want, f"booked at {at}"
        assert {(r["c"], r["o"]) for r in vault.select("SELECT * FROM ever_snapshot")
                if r["snapshot_at"] == at} == every, f"ever at {at}"
        assert {(r["c"], r["o"]) for r in vault.select("SELECT * FROM pairs_snapshot")
                if r["snapshot_at"] == at} == {
            (c, o) for c, o in every if live_state(pairs, (o, c), at, END)}, f"pairs at {at}"
    # one customer per order and snapshot, whatever the moves
    assert len({(at, o) for at, _, o in booked}) == len(booked)
    current = {(r["c"], r["o"]) for r in vault.select("SELECT * FROM booked_current")}
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    assert current == {(live_state(observations, o, now, END), o) for o in ORDERS
                       if live_state(observations, o, now, END) is not None}
    assert {(r["c"], r["o"]) for r in vault.select("SELECT * FROM pairs_current")} == {
        (c, o) for c, o in every if live_state(pairs, (o, c), now, END)}
    assert {(r["c"], r["o"], r["valid_from"], r["valid_to"]) for r in vault.select(
        "SELECT * FROM pairs_history")} == {
        (c, o, start, end) for c, o in every
        for _, start, end in effectivity_spans(pairs, (o, c), END)}
    history = {(r["c"], r["o"], r["valid_from"], r["valid_to"]) for r in vault.select(
        "SELECT * FROM booked_history")}
    assert history == {(c, o, start, end) for o in ORDERS
                       for c, start, end in effectivity_spans(observations, o, END)}


extract = st.tuples(st.integers(0, 7), st.dictionaries(
    st.sampled_from(ORDERS), st.sampled_from(CUSTOMERS), min_size=1, max_size=3))
plan = st.lists(st.one_of(extract, st.just("build")), min_size=1, max_size=8)


@settings(max_examples=max(EXAMPLES, 5), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(steps=plan)
# an extract that ends two relationships, corrected by one identical to an earlier extract
@example(steps=[(0, {"O1": "A"}), (1, {"O2": "A", "O1": "A", "O3": "B"}), (1, {"O1": "A"}),
                (1, {"O2": "A", "O1": "A", "O3": "B"})])
def test_a_bridge_holds_the_relationships_in_effect(vault: Vault, steps) -> None:
    with vault.session.engine.begin() as connection:  # a fresh vault per example
        for table in list(api.schema.build_metadata(vault.model).tables) + list(
                vault.md.tables):
            if sa.inspect(connection).has_table(table):
                connection.exec_driver_sql(f"DELETE FROM {table}")
    extracts: list[tuple[int, dict[str, str]]] = []
    for step in steps:
        if step == "build":
            vault.build("booked")
            continue
        day, booked = step
        extracts.append((day, booked))
        stamp = (DAY0 + dt.timedelta(days=day)).isoformat()
        vault.load([{"o": o, "c": c, "day": stamp} for o, c in booked.items()])
    check(vault, extracts)


def test_an_order_that_moves_and_comes_back(vault: Vault) -> None:
    """A to B and back to A: at each snapshot the order is under one customer; a late
    extract that moves it in between is taken in by a refresh."""
    extracts = [(1, {"O1": "A"}), (3, {"O1": "B"}), (5, {"O1": "A"})]
    for day, booked in extracts:
        vault.load([{"o": o, "c": c, "day": (DAY0 + dt.timedelta(days=day)).isoformat()}
                    for o, c in booked.items()])
    vault.build("booked")
    shown = [(r["snapshot_at"].day, r["c"]) for r in vault.select(
        "SELECT * FROM booked_snapshot ORDER BY snapshot_at")]
    assert shown == [(2, "A"), (3, "A"), (4, "B"), (5, "B"), (6, "A"), (7, "A"), (8, "A")]
    check(vault, extracts)
    late = (4, {"O1": "C"})
    extracts.append(late)
    vault.load([{"o": "O1", "c": "C", "day": (DAY0 + dt.timedelta(days=4)).isoformat()}])
    refreshed = vault.build("booked")
    # A's snapshots from the 5th on and B's of the 5th are rewritten; C gains the 5th
    assert (refreshed.rows_deleted, refreshed.rows_inserted) == (4, 4)
    check(vault, extracts)


@pytest.mark.parametrize(("text", "message"), [
    ("bridge: [customer, booking, order]\neffective: [booking]\n" + _SPINE,
     "models/marts/m.yml:2:13: 'booking' is a link, not an effectivity satellite (effective: "
     "names effectivity satellites of the links on the path: booking_eff, booking_pair)"),
    ("bridge: [customer, booking, order]\neffective: [booking_ef]\n" + _SPINE,
     "models/marts/m.yml:2:13: unknown effectivity satellite 'booking_ef' (did you mean "
     "'booking_eff'?)"),
    ("bridge: [customer, booking, order]\neffective: [booking_eff, booking_eff]\n" + _SPINE,
     "models/marts/m.yml:2:26: 'booking_eff' is listed twice (a relationship is in effect by "
     "one satellite's account: name one)"),
    ("bridge: [customer, booking, order]\neffective: []\n" + _SPINE,
     "models/marts/m.yml:2:12: effective must be a list of effectivity satellites "
     "(effective: [booking_eff])"),
    ("pit: order\neffective: [booking_eff]\n" + _SPINE,
     "models/marts/m.yml:2:1: effective: is for bridges (a bridge names under effective: the "
     "effectivity satellites that say which relationship of a link on its path is in effect)"),
])
def test_a_bridge_names_effectivity_satellites_of_its_links(tmp_path: Path, text: str,
                                                            message: str) -> None:
    files = {k: v for k, v in PROJECT.items() if not k.startswith("models/marts/")}
    files["models/sources/notes.yml"] = "columns: {o: text, n: text}\n"
    files["models/hubs/order.yml"] = ("business_key: {o: text}\nsources:\n  bookings:\n"
                                      "  notes:\n")
    files["models/satellites/order_note.yml"] = "parent: order\nsource: notes\npayload: [n]\n"
    files["models/marts/m.yml"] = text
    root = write_project(tmp_path / "p", files)
    assert problems(root) == [message]


def test_the_examples_moved_order_shows_under_one_customer_a_day(example_project: Path,
                                                                 db_url: str) -> None:
    """O-1002 of the example moves from C002 to C003 on 5 March and back on 6 March: the
    bridge customer_orders shows it under the customer it was booked to on each day, as the
    effectivity satellite's spans say, never under both."""
    url = migrated(example_project, db_url)
    session = api.open_session(example_project, url=url)
    try:
        for source, name in [("crm_customers", "crm_customers_2026-01-01.csv"),
                             ("crm_customers", "crm_customers_2026-03-01.csv"),
                             ("shop_orders", "shop_orders_2026-03-02.csv"),
                             ("shop_orders", "shop_orders_2026-03-05.csv")]:
            result = session.loader.load(source, open_input(str(example_project / "data" / name)))
            assert result.ok, [e.message for e in result.entities]
        api.build_marts(example_project, url=url)
        model = session.project.model
        with session.engine.connect() as connection:
            shown = [(_ts(at).day, c) for at, c in connection.exec_driver_sql(
                "SELECT snapshot_at, customer_number FROM customer_orders_snapshot "
                "WHERE order_number = 'O-1002' ORDER BY snapshot_at").all()]
            spans = query.spans(connection, model, "order_customer_eff",
                                keys=["O-1002"]).records()
        assert [(s["customer.customer_number"], s["start"].day) for s in spans] == [
            ("C002", 2), ("C003", 5), ("C002", 6)]
        assert shown == [(3, "C002"), (4, "C002"), (5, "C002"), (6, "C003"), (7, "C002")]
    finally:
        session.close()


@pytest.mark.parametrize(("text", "message"), [
    ("pit: order\nsatellites: [order_seen]\n" + _SPINE,
     "models/marts/m.yml:2:14: 'order_seen' is a record tracking, which a mart cannot point "
     "at (its rows say when a source last saw a key, not a state that holds until the next "
     "one, so a PIT has no row of it to point at; ask `datavault query NAME --at T` when a "
     "key was last seen)"),
    ("bridge: [customer, booking, order]\nrequire: [status_codes]\n" + _SPINE,
     "models/marts/m.yml:2:11: 'status_codes' is a reference table, which a mart cannot point "
     "at (a code list is keyed by its codes, not by the keys of a hub or link, so no PIT row "
     "or bridge step holds its keys; a mart looks its codes up under codes: (README: Code "
     "lists in marts))"),
    ("pit: order\nsatellites: [booking_pair]\n" + _SPINE,
     "models/marts/m.yml:2:14: 'booking_pair' is an effectivity satellite, which a mart cannot "
     "point at (with a driving key of several roles, its rows are keyed by no hub's or link's "
     "key; a bridge over the link follows it when it names it under effective:)"),
    ("pit: customer\nsatellites: [booking_eff]\n" + _SPINE,
     "models/marts/m.yml:2:14: effectivity satellite 'booking_eff' describes hub order, not "
     "customer"),
    ("pit: status_codes\n" + _SPINE,
     "models/marts/m.yml:1:6: pit must name a hub or a link; 'status_codes' is a reference "
     "table (a code list is keyed by its codes, not by the keys of a hub or link, so no PIT "
     "row or bridge step holds its keys; a mart looks its codes up under codes: (README: "
     "Code lists in marts))"),
])
def test_a_mart_says_why_it_cannot_point_at_an_entity(tmp_path: Path, text: str,
                                                      message: str) -> None:
    files = {k: v for k, v in PROJECT.items() if not k.startswith("models/marts/")}
    files["models/sources/codes.yml"] = "batch: snapshot\ncolumns: {code: text, label: text}\n"
    files["models/reference_tables/status_codes.yml"] = (
        "source: codes\ncode: {code: text}\npayload: {label: text}\n")
    files["models/record_tracking/order_seen.yml"] = "parent: order\nsource: bookings\n"
    files["models/marts/m.yml"] = text
    root = write_project(tmp_path / "p", files)
    assert problems(root) == [message]
