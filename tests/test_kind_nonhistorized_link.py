"""Non-historized (transactional) links keep SEMANTICS.md section 8, checked against the
plain-Python reference (``nonhistorized_link`` and ``nonhistorized_events`` of
tests/reference.py) on SQLite and PostgreSQL.

Random batches of events (the same event again, other payloads for it in one batch and in
later ones, late arrivals, other spellings of its keys), loaded in random arrival orders with
repeats: after every batch the stored events and the quarantine equal the reference's; at
the end, the events at every applied time as known at every load time, `query` and
`history`, what was answered as known at each load time, a re-load (nothing inserted), and
every observed payload in the vault or the quarantine. Then the regression cases of section
8, the load order, validation, and the golden files of a small project.
"""

from __future__ import annotations

import collections
import csv
import datetime as dt
import itertools
import os
import random
import shutil
import tempfile
import threading
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from datavault import api, contract, hashing, query
from datavault import model as m
from datavault.database import connect
from datavault.diagnostics import ModelError
from datavault.load import open_input
from tests.conftest import ENGINES, PG_URL, migrated, need_postgres, write_project
from tests.reference import nonhistorized_events, nonhistorized_link
from tests.test_generate import _run_plain
from tests.test_validate_fuzz import _check as check_places
from tests.test_validate_fuzz import _mutate_data, _mutate_text

EXAMPLES = int(os.environ.get("DATAVAULT_PROPERTY_EXAMPLES", "100"))
DAY0 = dt.datetime(2026, 1, 1)
END = dt.datetime.max
HERE = Path(__file__).parent
GOLDEN = HERE / "golden_kinds" / "nonhistorized_link"
GOLDEN_PROJECT = HERE / "projects" / "nonhistorized_link"
UPDATE = os.environ.get("DATAVAULT_UPDATE_GOLDEN") == "1"

SOURCE = """
applied_at: day
sequence: seq
columns:
  a: text
  b: text
  txn: integer
  day: timestamp
  v: text
  w: integer
  seq: integer
"""
PROJECT = {
    "models/sources/feed.yml": SOURCE,
    "models/hubs/customer.yml": "business_key:\n  k: text\nsources:\n  feed: {k: a}\n",
    "models/hubs/account.yml": "business_key:\n  n: text\nsources:\n  feed: {n: b}\n",
    "models/nonhistorized_links/payment.yml": """
hubs: [customer, account]
sources:
  feed:
    customer: a
    account: b
event_key: [txn]
payload: [v, w]
""",
}
TABLE = "nhl_payment"
COUNTED = (TABLE, "hub_customer", "hub_account")

# Three events, one of them under other spellings of its customer key (the same event: a
# business key is trimmed and folded to upper case); payloads with a NULL and a leading
# space, which the hash diff tells apart.
EVENTS = [(("A", "a", " A"), "X", 1), (("A",), "X", 2), (("B",), "X", 1)]
PAYLOADS = [("x", 1), ("y", 1), ("x", None), (" x", 1)]


def event_key(a: str, b: str, txn: int) -> bytes:
    """The event's hash key, as section 1 makes it: the roles' keys, then the event key."""
    return hashing.hash_key([(a, "text"), (b, "text"), (txn, "integer")], "md5")


row = st.tuples(st.integers(0, len(EVENTS) - 1), st.integers(0, 2), st.integers(0, 3),
                st.sampled_from(PAYLOADS))


@st.composite
def histories(draw):
    """Batches of rows (event, spelling, day, payload), repeats and conflicts included, then
    an arrival order that may load a batch again."""
    batches = []
    for _ in range(draw(st.integers(1, 4))):
        rows = []
        for index, spelling, day, payload in draw(st.lists(row, max_size=6)):
            spellings, b, txn = EVENTS[index]
            rows.append((spellings[spelling % len(spellings)], b, txn, day, *payload))
        if rows and draw(st.booleans()):
            rows.append(rows[0])  # the same row twice in one batch
        batches.append(rows)
    order = draw(st.permutations(range(len(batches))))
    repeats = draw(st.lists(st.integers(0, len(batches) - 1), max_size=2))
    arrival = list(order) + repeats
    # per arrival, whether the link loads before its hubs (step by step) or after them
    return batches, arrival, draw(st.lists(st.booleans(), min_size=len(arrival),
                                           max_size=len(arrival)))


def write_batch(folder: Path, number: int, rows: list[tuple], seq: int = 1) -> str:
    path = folder / f"batch_{number}.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["a", "b", "txn", "day", "v", "w", "seq"])
        for a, b, txn, day, v, w, *rest in rows:
            writer.writerow([a, b, txn, (DAY0 + dt.timedelta(days=day)).isoformat(),
                             "" if v is None else v, "" if w is None else w,
                             rest[0] if rest else seq])
    return str(path)


def observed(rows: list[tuple]) -> list[tuple]:
    """A batch's rows as the reference takes them: (event key, applied, payload)."""
    return [(event_key(a, b, txn), DAY0 + dt.timedelta(days=day), (v, w))
            for a, b, txn, day, v, w, *_ in rows]


def _ts(value) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)


class Vault:
    """The small project above, opened on one database, emptied between examples."""

    def __init__(self, root: Path, url: str, files: dict[str, str] | None = None):
        write_project(root, files or PROJECT)
        self.session = api.open_session(root, url=migrated(root, url))
        self.model = self.session.project.model
        self.tables = list(api.schema.build_metadata(self.model).tables)

    def reset(self) -> None:
        with self.session.engine.begin() as connection:
            for table in self.tables:
                connection.exec_driver_sql(f"DELETE FROM {table}")

    def load(self, path: str, link_first: bool = False):
        """Load a file as a new batch (also one identical to a loaded one); ``link_first``:
        step by step, the link's load before its hubs'. Returns the batch."""
        loader = self.session.loader
        if not link_first:
            result = loader.load("feed", open_input(path), force=True)
            assert result.ok, [e.message for e in result.entities]
            return result
        staged = loader.stage("feed", open_input(path))
        for entity in ("payment", "account", "customer"):
            outcome = loader.load_entity(self.model.sources["feed"], entity, staged)
            assert outcome.status == "ok", outcome.message
        assert loader.finish(staged.batch_id) == "loaded"
        return staged

    def sql(self, text: str) -> list[tuple]:
        with self.session.engine.connect() as connection:
            return [tuple(r) for r in connection.exec_driver_sql(text)]

    def stored(self) -> dict[bytes, tuple]:
        """event key -> (applied, loaded, payload) of every stored event."""
        return {bytes(k): (_ts(a), _ts(lt), (v, w)) for k, a, lt, v, w in self.sql(
            f"SELECT payment_hk, applied_ts, load_ts, v, w FROM {TABLE}")}

    def quarantine(self) -> list[tuple]:
        """(batch, row number, reason) of every row the link quarantined."""
        return self.sql("SELECT batch_id, row_number, reason FROM dv_quarantine "
                        "WHERE entity = 'payment' ORDER BY batch_id, row_number")

    def counts(self) -> tuple[int, ...]:
        return tuple(self.sql(f"SELECT COUNT(*) FROM {t}")[0][0] for t in COUNTED)

    def answer(self, at: dt.datetime | None, known_at: dt.datetime | None,
               history: bool = False) -> dict[bytes, tuple]:
        """`query` (or `history`) of the link: event key -> (applied, loaded, payload)."""
        with self.session.engine.connect() as connection:
            if history:
                answer = query.history(connection, self.model, "payment", known_at=known_at)
            else:
                answer = query.state(connection, self.model, "payment", at=at,
                                     known_at=known_at)
        records = answer.records()
        assert all(set(r) == {"customer.k", "account.n", "txn", "applied", "loaded", "batch",
                              "record_source", "v", "w"} for r in records)
        return {event_key(r["customer.k"], r["account.n"], r["txn"]):
                (_ts(r["applied"]), _ts(r["loaded"]), (r["v"], r["w"])) for r in records}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def shared(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """One vault per engine for the whole module (migrating one costs more than a test)."""
    folder = tmp_path_factory.mktemp("vault")
    schema = None
    if request.param == "postgresql":
        need_postgres()
        schema = f"dvtest_{uuid.uuid4().hex[:12]}"
        admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
        url = f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"
    else:
        url = f"sqlite:///{folder / 'vault.sqlite'}"
    v = Vault(folder / "project", url)
    yield v
    v.session.close()
    if schema:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


@pytest.fixture
def vault(shared: Vault) -> Vault:
    """The module's vault of one engine, emptied."""
    shared.reset()
    return shared


def _reason(text: str, stored_batch: dict[bytes, int], key: bytes) -> str:
    """The reference's name of a quarantine reason; a conflict with a stored event must name
    the batch that stored it."""
    if text.startswith("conflict: other rows of this batch"):
        return "conflict"
    assert text.startswith(f"conflict: batch {stored_batch[key]} stored another payload"), text
    return "conflict with stored"


def _check(vault: Vault, loads: list[tuple[int, dt.datetime, list[tuple]]]) -> dict:
    """The vault against the reference after ``loads`` (batch id, load time, rows)."""
    stored, quarantined = nonhistorized_link([(lt, observed(rows)) for _, lt, rows in loads])
    assert vault.stored() == stored
    rows_of = {batch_id: observed(rows) for batch_id, _, rows in loads}
    loaded_at = {batch_id: lt for batch_id, lt, _ in loads}
    stored_batch = {bytes(k): b for k, b in vault.sql(f"SELECT payment_hk, batch_id FROM {TABLE}")}
    got = collections.Counter(
        (*rows_of[b][n - 1][:2], loaded_at[b], rows_of[b][n - 1][2],
         _reason(reason, stored_batch, rows_of[b][n - 1][0]))
        for b, n, reason in vault.quarantine())
    assert got == collections.Counter(quarantined)
    return stored


# An example loads some five batches (about a second on PostgreSQL, half that on SQLite): a
# tenth of the setting, at least 20, so that CI's 1000 runs 100 per engine. The histories are
# small (three events, four payloads): each mutant of the load's rule that was tried (the
# latest applied time, no conflict check, a conflict only from three payloads, stored events
# quarantined as batch conflicts) failed within the first 15 examples.
@settings(max_examples=max(EXAMPLES // 10, 20), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(history=histories())
@example(history=(  # a conflict in the first batch, then the event with one payload, late
    [[("A", "X", 1, 2, "x", 1), (" a", "X", 1, 3, "y", 1)], [("A", "X", 1, 1, "y", 1)],
     [("a", "X", 1, 0, "y", 1), ("A", "X", 1, 0, "x", 1)]],
    [0, 1, 2, 0], [False, True, False, True],
))
def test_events_equal_the_reference(shared: Vault, history) -> None:
    vault = shared
    vault.reset()
    batches, arrival, link_first = history
    loads: list[tuple[int, dt.datetime, list[tuple]]] = []
    answered: list[dict] = []
    with tempfile.TemporaryDirectory() as folder:
        paths = [write_batch(Path(folder), i, b) for i, b in enumerate(batches)]
        for index, first in zip(arrival, link_first):
            result = vault.load(paths[index], first)
            loads.append((result.batch_id, result.loaded_at, batches[index]))
            stored = _check(vault, loads)
            answered.append(vault.answer(END, None))  # as known now, which is its load time
        load_times = [lt for _, lt, _ in loads]
        # `history` as known at every load time: the events at every applied time are the
        # reference's, and what `query` answered then
        for known_at, then in zip(load_times, answered):
            known = vault.answer(None, known_at, history=True)
            assert known == then
            for day in range(-1, 5):
                at = DAY0 + dt.timedelta(days=day)
                assert ({k: v[2] for k, v in known.items() if v[0] <= at}
                        == nonhistorized_events(stored, at, known_at))
        # `query` at an applied time, as known at the first and the last load time
        for day, known_at in itertools.product((0, 2), (load_times[0], load_times[-1])):
            at = DAY0 + dt.timedelta(days=day)
            got = vault.answer(at, known_at)
            assert {k: v[2] for k, v in got.items()} == nonhistorized_events(stored, at, known_at)
            assert all(stored[k] == v for k, v in got.items())
        assert vault.answer(None, None, history=True) == stored
        # every payload observed is stored or quarantined
        observed_pairs = {(k, p) for _, _, rows in loads for k, _, p in observed(rows)}
        rows_of = {batch_id: observed(rows) for batch_id, _, rows in loads}
        quarantined_pairs = {(rows_of[b][n - 1][0], rows_of[b][n - 1][2])
                             for b, n, _ in vault.quarantine()}
        assert {(k, v[2]) for k, v in stored.items()} | quarantined_pairs == observed_pairs
        # minimal: one row per event the reference stores, and a re-load inserts none
        before = vault.counts()
        assert before[0] == len(stored)
        result = vault.load(paths[arrival[-1]])
        loads.append((result.batch_id, result.loaded_at, batches[arrival[-1]]))
        assert vault.counts() == before, "loading a batch again inserted rows"
        assert _check(vault, loads) == stored


# ---- the regression cases of section 8 ------------------------------------------------------
def _payments(vault: Vault) -> list[tuple]:
    """(customer, account, txn, applied day, load batch, v, w) of every stored event."""
    return sorted((c, a, txn, (_ts(applied) - DAY0).days, batch, v, w)
                  for c, a, txn, applied, batch, v, w in vault.sql(
        "SELECT h.k, g.n, p.txn, p.applied_ts, p.batch_id, p.v, p.w FROM nhl_payment p "
        "JOIN hub_customer h ON h.customer_hk = p.customer_hk "
        "JOIN hub_account g ON g.account_hk = p.account_hk"))


def _audit(result) -> tuple[int, int]:
    link = next(e for e in result.entities if e.entity == "payment")
    assert link.kind == "nonhistorized_link"
    return link.rows_inserted, link.rows_quarantined


def test_a_duplicate_of_a_stored_event_inserts_nothing(vault: Vault, tmp_path: Path) -> None:
    first = vault.load(write_batch(tmp_path, 0, [("A", "X", 1, 2, "x", 1)]))
    # the same event again, at an earlier applied time and under another spelling
    again = vault.load(write_batch(tmp_path, 1, [(" a", "x", 1, 0, "x", 1)] * 2))
    assert _audit(first) == (1, 0) and _audit(again) == (0, 0)
    assert _payments(vault) == [("A", "X", 1, 2, first.batch_id, "x", 1)]
    assert vault.quarantine() == []


def test_another_payload_for_a_stored_event_is_quarantined_naming_its_batch(
    vault: Vault, tmp_path: Path
) -> None:
    first = vault.load(write_batch(tmp_path, 0, [("A", "X", 1, 0, "x", 1)]))
    later = vault.load(write_batch(tmp_path, 1, [("A", "X", 1, 0, "x", 1),   # a duplicate
                                                 ("A", "X", 1, 0, "x", None),  # a correction
                                                 ("B", "X", 1, 0, "y", 1)]))
    assert _audit(later) == (1, 1)
    assert _payments(vault) == [("A", "X", 1, 0, first.batch_id, "x", 1),
                                ("B", "X", 1, 0, later.batch_id, "y", 1)]
    quarantined = vault.session.quarantined(batch=later.batch_id)
    (record,) = quarantined.records()
    assert record["row"] == 2 and record["entity"] == "payment"
    assert record["reason"] == (
        f"conflict: batch {first.batch_id} stored another payload for this event of payment; "
        "an event is stored once and never changed (a correction is an event of its own)")
    assert record["data"]["v"] == "x" and record["data"]["w"] is None
    assert record["data"]["a"] == "A" and record["data"]["txn"] == 1


def test_different_payloads_in_one_batch_quarantine_every_row_of_the_event(
    vault: Vault, tmp_path: Path
) -> None:
    clash = vault.load(write_batch(tmp_path, 0, [("A", "X", 1, 0, "x", 1),
                                                 ("A", "X", 1, 1, "x", 1),
                                                 ("B", "X", 1, 0, "y", 1),
                                                 ("a", "X", 1, 1, "y", 1)]))
    assert _audit(clash) == (1, 3)
    assert [r[1] for r in vault.quarantine()] == [1, 2, 4]
    assert all(r[2].startswith("conflict: other rows of this batch give another payload for "
                               "the same event of payment, so none is stored")
               for r in vault.quarantine())
    assert [p[0] for p in _payments(vault)] == ["B"]
    # a later batch that gives the event one payload stores it, with its own times
    later = vault.load(write_batch(tmp_path, 1, [("A", "X", 1, 3, "y", 1)]))
    assert _audit(later) == (1, 0)
    assert _payments(vault)[0] == ("A", "X", 1, 3, later.batch_id, "y", 1)


def test_an_event_takes_the_earliest_applied_time_of_its_first_batch(
    vault: Vault, tmp_path: Path
) -> None:
    first = vault.load(write_batch(tmp_path, 0, [("A", "X", 1, 3, "x", 1),
                                                 ("A", "X", 1, 1, "x", 1)]))
    vault.load(write_batch(tmp_path, 1, [("A", "X", 1, 0, "x", 1)]))  # earlier, loaded later
    assert _payments(vault) == [("A", "X", 1, 1, first.batch_id, "x", 1)]


def test_a_declared_sequence_does_not_order_the_payloads_of_an_event(
    vault: Vault, tmp_path: Path
) -> None:
    rows = [("A", "X", 1, 0, "late", 1, 2), ("A", "X", 1, 0, "early", 1, 1)]
    result = vault.load(write_batch(tmp_path, 0, rows))
    assert _audit(result) == (0, 2) and _payments(vault) == []


def test_the_event_key_tells_events_of_the_same_roles_apart(vault: Vault, tmp_path: Path) -> None:
    vault.load(write_batch(tmp_path, 0, [("A", "X", 1, 0, "x", 1), ("A", "X", 2, 0, "y", 1),
                                         ("A", "X", 0o7, 0, "z", 1)]))
    assert [(p[2], p[5]) for p in _payments(vault)] == [(1, "x"), (2, "y"), (7, "z")]


def test_loading_a_batch_again_inserts_nothing_and_reports_its_conflicts_again(
    vault: Vault, tmp_path: Path
) -> None:
    path = write_batch(tmp_path, 0, [("A", "X", 1, 0, "x", 1), ("A", "X", 1, 0, "y", 1),
                                     ("B", "X", 1, 0, "y", 1)])
    first = vault.load(path)
    again = vault.load(path)
    assert _audit(first) == (1, 2) and _audit(again) == (0, 2)
    assert vault.counts() == (1, 2, 1)
    assert [r[0] for r in vault.quarantine()] == [first.batch_id] * 2 + [again.batch_id] * 2
    # without force, an identical file is not loaded a second time at all
    assert vault.session.loader.load("feed", open_input(path)).skipped


def test_as_known_at_k_the_events_are_those_of_the_batches_loaded_by_k(
    vault: Vault, tmp_path: Path
) -> None:
    one = vault.load(write_batch(tmp_path, 0, [("A", "X", 1, 2, "x", 1)]))
    two = vault.load(write_batch(tmp_path, 1, [("B", "X", 1, 0, "y", 1),  # late
                                               ("A", "X", 1, 2, "z", 1)]))  # refused
    a, b = event_key("A", "X", 1), event_key("B", "X", 1)
    assert set(vault.answer(DAY0 + dt.timedelta(days=1), None)) == {b}
    assert set(vault.answer(END, one.loaded_at)) == {a}
    assert set(vault.answer(DAY0 + dt.timedelta(days=1), one.loaded_at)) == set()
    assert vault.answer(END, two.loaded_at)[a][2] == ("x", 1)
    assert set(vault.answer(None, one.loaded_at, history=True)) == {a}
    # by event key: the roles' keys, then the event key, in any spelling the load takes
    with vault.session.engine.connect() as connection:
        answer = query.state(connection, vault.model, "payment", keys=[" a|x|1"])
        assert [(r["customer.k"], r["txn"], r["v"]) for r in answer.records()] == [("A", 1, "x")]
        answer = query.history(connection, vault.model, "payment", keys=["B|X|01"])
        assert [r["batch"] for r in answer.records()] == [two.batch_id]
        with pytest.raises(api.DatavaultError, match=r"needs 3: customer\.k\|account\.n\|txn"):
            query.state(connection, vault.model, "payment", keys=["A|X"])


def test_entity_loads_in_any_order_give_the_same_tables(vault: Vault, tmp_path: Path) -> None:
    batches = [[("A", "X", 1, 1, "x", 1), ("B", "X", 1, 0, "y", 1), ("B", "X", 1, 0, "z", 1)],
               [("A", "X", 1, 0, "y", 1), ("B", "X", 1, 2, "y", 1), ("A", "X", 2, 0, "x", 1)]]
    paths = [write_batch(tmp_path, i, b) for i, b in enumerate(batches)]
    loader = vault.session.loader
    source = vault.model.sources["feed"]
    outcomes = []
    for entities in (["customer", "account", "payment"], ["payment", "account", "customer"]):
        vault.reset()
        for path in paths:
            staged = loader.stage("feed", open_input(path))
            for entity in entities:
                assert loader.load_entity(source, entity, staged).status == "ok"
        outcomes.append((
            vault.sql("SELECT customer_hk, k, batch_id FROM hub_customer ORDER BY 1"),
            vault.sql("SELECT payment_hk, customer_hk, account_hk, txn, applied_ts, hash_diff, "
                      "v, w, batch_id FROM nhl_payment ORDER BY 1"),
            vault.sql("SELECT batch_id, row_number, reason FROM dv_quarantine ORDER BY 1, 2"),
        ))
    assert outcomes[0] == outcomes[1]
    # B:1 is a conflict in the first batch and stored by the second, where A:1 is one
    assert len(outcomes[0][1]) == 3 and len(outcomes[0][2]) == 3


def test_a_batch_older_than_one_the_link_holds_is_refused(vault: Vault, tmp_path: Path) -> None:
    """Batches are taken in load order: a batch loaded later with an earlier load time would
    change what the vault answered as known at that time."""
    loader = vault.session.loader
    source = vault.model.sources["feed"]
    older = loader.stage("feed", open_input(write_batch(tmp_path, 0, [("A", "X", 1, 0, "x", 1)])),
                         only=["customer", "account"])
    newer = loader.stage("feed", open_input(write_batch(tmp_path, 1, [("A", "X", 1, 0, "y", 1)])))
    for entity in ("customer", "account", "payment"):
        assert loader.load_entity(source, entity, newer).status == "ok"
    outcome = loader.load_entity(source, "payment", older)
    assert outcome.status == "failed" and "already holds a batch" in outcome.message
    assert _payments(vault) == [("A", "X", 1, 0, newer.batch_id, "y", 1)]


def _variant(tmp_path: Path, url: str, source: str = SOURCE, config: str = "") -> Vault:
    files = {**PROJECT, "models/sources/feed.yml": source}
    if config:
        files["config/datavault.yml"] = config
    return Vault(tmp_path / "variant", url, files)


def test_without_applied_at_the_first_delivery_keeps_its_load_time(
    db_url: str, tmp_path: Path
) -> None:
    vault = _variant(tmp_path, db_url, SOURCE.replace("applied_at: day\n", ""))
    try:
        first = vault.load(write_batch(tmp_path, 0, [("A", "X", 1, 0, "x", 1)]))
        vault.load(write_batch(tmp_path, 1, [("A", "X", 1, 0, "x", 1), ("B", "X", 1, 0, "x", 1)]))
        stored = vault.stored()
        assert stored[event_key("A", "X", 1)][:2] == (first.loaded_at, first.loaded_at)
        assert len(stored) == 2
    finally:
        vault.session.close()


def test_a_snapshot_that_lacks_an_event_deletes_nothing(db_url: str, tmp_path: Path) -> None:
    vault = _variant(tmp_path, db_url, "batch: snapshot\nmax_deletes: 0%\n" + SOURCE)
    try:
        vault.load(write_batch(tmp_path, 0, [("A", "X", 1, 0, "x", 1), ("B", "X", 1, 0, "x", 1)]))
        result = vault.load(write_batch(tmp_path, 1, [("A", "X", 2, 1, "x", 1)]))
        assert result.batch.status == "loaded"
        assert [(p[0], p[2]) for p in _payments(vault)] == [("A", 1), ("A", 2), ("B", 1)]
        assert set(vault.answer(END, None)) == {event_key("A", "X", 1), event_key("B", "X", 1),
                                                event_key("A", "X", 2)}
    finally:
        vault.session.close()


@pytest.mark.parametrize("policy", ["reject", "zero_key"])
def test_a_missing_hub_key_follows_the_null_key_policy(db_url: str, tmp_path: Path,
                                                       policy: str) -> None:
    vault = _variant(tmp_path, db_url, config=f"null_keys: {policy}\n")
    try:
        result = vault.load(write_batch(tmp_path, 0, [(" ", "X", 1, 0, "x", 1),
                                                      ("A", "X", None, 0, "x", 1)]))
        zero = hashing.zero_key("md5")
        rows = vault.sql("SELECT customer_hk, txn FROM nhl_payment")
        a = hashing.hash_key([("A", "text")], "md5")
        # a missing event key part is written \N, as in any key; it is no hub's key
        if policy == "reject":
            assert _audit(result) == (1, 1)
            assert [(bytes(k), txn) for k, txn in rows] == [(a, None)]
            (reason,) = [r[2] for r in vault.quarantine()]
            assert reason == ("missing business key of a hub of non-historized link payment "
                              "(customer: a; account: b)")
        else:
            assert _audit(result) == (2, 0)
            assert sorted((bytes(k), txn or 0) for k, txn in rows) == sorted([(a, 0), (zero, 1)])
        assert event_key("A", "X", None) in vault.stored()
    finally:
        vault.session.close()


# the project with a second source, other, that feeds the hubs and the link as feed does
TWO_SOURCES = {
    **PROJECT,
    "models/sources/other.yml": SOURCE,
    "models/hubs/customer.yml": "business_key:\n  k: text\nsources:\n  feed: {k: a}\n"
                                "  other: {k: a}\n",
    "models/hubs/account.yml": "business_key:\n  n: text\nsources:\n  feed: {n: b}\n"
                               "  other: {n: b}\n",
    "models/nonhistorized_links/payment.yml": PROJECT[
        "models/nonhistorized_links/payment.yml"].replace(
        "    account: b\n", "    account: b\n  other:\n    customer: a\n    account: b\n"),
}


def test_two_sources_feed_one_link_and_its_first_loaded_payload_stands(
    db_url: str, tmp_path: Path
) -> None:
    files = {**TWO_SOURCES, "models/sources/other.yml": SOURCE.replace("applied_at: day\n", "")}
    vault = Vault(tmp_path / "two", db_url, files)
    try:
        first = vault.load(write_batch(tmp_path, 0, [("A", "X", 1, 0, "x", 1)]))
        path = write_batch(tmp_path, 1, [("A", "X", 1, 0, "y", 1), ("B", "X", 1, 0, "y", 1)])
        other = vault.session.loader.load("other", open_input(path))
        assert other.ok
        stored = vault.stored()
        assert stored[event_key("A", "X", 1)] == (DAY0, first.loaded_at, ("x", 1))
        assert stored[event_key("B", "X", 1)] == (other.loaded_at, other.loaded_at, ("y", 1))
        assert vault.sql("SELECT source, batch_id FROM dv_quarantine") == [
            ("other", other.batch_id)]
    finally:
        vault.session.close()


# ---- validation -----------------------------------------------------------------------------
NHL = "models/nonhistorized_links/payment.yml"
PAYMENTS = "models/sources/payments.yml"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the small project of tests/projects/nonhistorized_link."""
    root = tmp_path / "project"
    shutil.copytree(GOLDEN_PROJECT, root)
    return root


def _edit(root: Path, relative: str, old: str, new: str) -> None:
    path = root / relative
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} is not in {relative} exactly once"
    path.write_text(text.replace(old, new), encoding="utf-8")


def _problems(root: Path) -> list[str]:
    with pytest.raises(ModelError) as raised:
        api.validate(root)
    return [f"{p.path}:{p.line}:{p.col}: {p.message}" + (f" ({p.hint})" if p.hint else "")
            for p in raised.value.problems]


def test_the_project_is_valid_and_reads_into_the_model(project: Path) -> None:
    model = api.validate(project).model
    payment = model.entities["payment"]
    assert payment.kind == "nonhistorized_link"
    assert [(r.role, r.hub) for r in payment.roles] == [("customer", "customer"),
                                                        ("account", "account")]
    assert [(c.name, c.source_column, c.type) for c in payment.event_key] == [
        ("payment_number", "payment_no", "text")]
    assert [(c.name, c.type) for c in payment.payload] == [
        ("amount", "decimal"), ("currency", "text"), ("note", "text")]
    assert model.entities_of("payments") == ["account", "customer", "payment"]


ONE_EDIT = {
    "a typo of a key": (
        NHL, "payload:", "payloads:",
        f"{NHL}:9:1: unknown key 'payloads' (did you mean 'payload'?)"),
    "no payload": (
        NHL, "payload: [amount, currency, note]\n", "",
        f"{NHL}:1:1: missing required key 'payload'"),
    "a payload that is one name": (
        NHL, "payload: [amount, currency, note]", "payload: amount",
        f"{NHL}:9:10: payload must be a list of source columns (or a mapping "
        "`stored_column: source_column`)"),
    "an empty payload": (
        NHL, "payload: [amount, currency, note]", "payload: []",
        f"{NHL}:9:10: a non-historized link needs at least one payload column"),
    "a payload column the source lacks": (
        NHL, "[amount, currency, note]", "[amount, currency, notes]",
        f"{NHL}:9:29: source 'payments' has no column 'notes' (did you mean 'note'?)"),
    "a payload column named like the toolkit's": (
        NHL, "payload: [amount, currency, note]", "payload: {amount: amount, load_ts: note}",
        f"{NHL}:9:27: payload column name 'load_ts' is reserved (names ending in _hk or "
        "starting with dv_, and applied_ts, batch_id, hash_diff, load_ts, record_source are "
        "the toolkit's; rename it)"),
    "a payload column without its source column": (
        NHL, "payload: [amount, currency, note]", "payload: {amount: amount, memo: }",
        f"{NHL}:9:27: payload column 'memo' names no source column (write `memo: "
        "SOURCE_COLUMN`, or use a list when the names are equal)"),
    "an empty event key": (
        NHL, "  payment_number: payment_no   # two payments", "  # two payments",
        f"{NHL}:7:11: event_key is empty (list the source columns that tell events of the "
        "same roles apart, or leave event_key out when the roles' keys do)"),
    "an event key column the source lacks": (
        NHL, "payment_number: payment_no", "payment_number: payment_id",
        f"{NHL}:8:19: source 'payments' has no column 'payment_id' (did you mean "
        "'payment_no'?)"),
    "an event key column that is also a payload column": (
        NHL, "payload: [amount, currency, note]", "payload: [amount, currency, note, "
        "payment_number]",
        f"{NHL}:9:35: column 'payment_number' appears twice in event_key and payload (every "
        "stored column needs a name of its own)"),
    "an event key that is one name": (
        NHL, "event_key:\n  payment_number: payment_no   # two payments of one customer into "
        "one account differ by it\n", "event_key: payment_no\n",
        f"{NHL}:7:12: event_key must be a list of source columns (or a mapping "
        "`stored_column: source_column`)"),
    "one hub": (
        NHL, "hubs: [customer, account]", "hubs: [customer]",
        f"{NHL}:2:7: a non-historized link joins at least two hubs (for a hub joined to "
        "itself, name the roles: hubs: [{employee: person}, {manager: person}])"),
    "an unknown hub": (
        NHL, "hubs: [customer, account]", "hubs: [customer, acount]",
        f"{NHL}:2:18: unknown hub 'acount' (did you mean 'account'?)"),
    "a role named like the link": (
        NHL, "hubs: [customer, account]", "hubs: [customer, payment: account]",
        f"{NHL}:2:18: hub role 'payment' has the name of the non-historized link itself (its "
        "key column would be the non-historized link's own key column payment_hk; name the "
        "role, for example - buyer: account)"),
    "a source without the columns of a role": (
        NHL, "    account: account_no\n", "",
        f"{NHL}:4:3: source 'payments': no columns given for hub 'account' (add `account: "
        "COLUMN` under payments:)"),
    "an unknown source": (
        NHL, "  payments:", "  paymnts:",
        f"{NHL}:4:3: unknown source 'paymnts' (did you mean 'payments'?)"),
    "sources that are not a mapping": (
        NHL, "sources:\n  payments:\n    customer: customer_id\n    account: account_no\n",
        "sources: [payments]\n",
        f"{NHL}:3:10: sources must be a mapping of `name: value` lines"),
}


@pytest.mark.parametrize(("relative", "old", "new", "expected"), ONE_EDIT.values(),
                         ids=ONE_EDIT.keys())
def test_one_edit_gives_one_exact_problem(project: Path, relative: str, old: str, new: str,
                                          expected: str) -> None:
    _edit(project, relative, old, new)
    assert _problems(project) == [expected]


def test_an_event_key_column_may_not_be_a_float(project: Path) -> None:
    _edit(project, PAYMENTS, "  note: text\n", "  note: text\n  rate: float\n")
    _edit(project, NHL, "payment_number: payment_no", "rate: rate")
    assert _problems(project) == [
        f"{NHL}:8:9: event key column 'rate' is a float and cannot tell events apart (floats "
        "have no exact text; declare it as decimal or integer in the source)"]


def test_every_source_gives_each_column_with_one_type(project: Path) -> None:
    refunds = (project / PAYMENTS).read_text(encoding="utf-8").replace(
        "  amount: decimal\n", "  amount: text\n").replace("  note: text\n", "")
    (project / "models/sources/refunds.yml").write_text(refunds, encoding="utf-8")
    _edit(project, NHL, "    account: account_no\n",
          "    account: account_no\n  refunds:\n    customer: customer_id\n"
          "    account: account_no\n")
    assert _problems(project) == [
        f"{NHL}:12:11: column 'amount' has other types in other sources (decimal in payments, "
        "text in refunds) (declare it with one type in every source)",
        f"{NHL}:12:29: source 'refunds' has no column 'note' (expected one of: account_no, "
        "amount, currency, customer_id, paid_at, payment_no)",
    ]


def test_a_naming_pattern_for_the_links_tables(project: Path) -> None:
    (project / "config").mkdir()
    (project / "config/datavault.yml").write_text(
        "naming:\n  nonhistorized_link: hub_{name}_x\n", encoding="utf-8")
    (project / "models/hubs/payment_x.yml").write_text(
        "business_key:\n  payment_no: text\nsources:\n  payments:\n", encoding="utf-8")
    assert _problems(project) == [
        f"{NHL}:1:1: table name 'hub_payment_x' of nonhistorized_link 'payment' is also the "
        "table of hub 'payment_x' (rename one of them, or change naming: in "
        "config/datavault.yml)"]
    (project / "models/hubs/payment_x.yml").unlink()
    model = api.validate(project).model
    assert model.settings.naming.nonhistorized_link_table("payment") == "hub_payment_x"
    assert "hub_payment_x" in api.schema.build_metadata(model).tables


# validate (and generate) a project per example: a tenth of the setting, 20 to 100
FUZZ = settings(max_examples=min(max(EXAMPLES // 10, 20), 100), deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def fuzz_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fuzz") / "project"
    shutil.copytree(GOLDEN_PROJECT, root)
    api.validate(root)
    return root


@FUZZ
@given(data=st.data())
def test_validate_of_a_mutated_link_ends_in_success_or_placed_problems(
    fuzz_base: Path, data: st.DataObject
) -> None:
    changed = data.draw(st.sampled_from([NHL, NHL, PAYMENTS]), label="file")
    path = fuzz_base / changed
    original = path.read_bytes()
    text = original.decode("utf-8")
    raw = (_mutate_data(data, text) if data.draw(st.booleans(), label="as data")
           else _mutate_text(data, text))
    path.write_bytes(raw)
    try:
        check_places(fuzz_base, changed, raw)
        try:
            api.validate(fuzz_base)
        except ModelError:
            return
        for dialect in ("sqlite", "postgresql"):  # a model that validates also generates
            api.generate(fuzz_base, dialect, fuzz_base.parent / "generated" / dialect)
    finally:
        path.write_bytes(original)


# ---- generated SQL --------------------------------------------------------------------------
def _sql_files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*.sql"))}


@pytest.mark.parametrize("dialect", ENGINES)
def test_generated_sql_matches_the_golden_files(dialect: str, tmp_path: Path) -> None:
    api.generate(GOLDEN_PROJECT, dialect, tmp_path)
    generated = _sql_files(tmp_path)
    expected_dir = GOLDEN / dialect
    if UPDATE:
        shutil.rmtree(expected_dir, ignore_errors=True)
        for relative, data in generated.items():
            target = expected_dir / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    expected = _sql_files(expected_dir)
    assert sorted(generated) == sorted(expected)
    for relative in expected:
        assert generated[relative] == expected[relative], (
            f"{dialect}/{relative} differs from tests/golden_kinds/nonhistorized_link "
            "(DATAVAULT_UPDATE_GOLDEN=1 after a wanted change)")


DELIVERIES = [
    "payment_no,customer_id,account_no,paid_at,amount,currency,note\n"
    "P-1,C1,ACC-9,2026-03-01T10:00:00,12.50,EUR,coffee\n"
    "P-2,C1,ACC-9,2026-03-01T11:00:00,3.00,EUR,\n"
    "P-3,C2,ACC-9,2026-03-02T09:00:00,7.00,EUR,first\n"
    "P-3,C2,ACC-9,2026-03-02T09:00:00,7.00,EUR,second\n"   # a conflict in the batch
    "P-4,,ACC-9,2026-03-02T09:30:00,1.00,EUR,\n",          # no customer: quarantined
    "payment_no,customer_id,account_no,paid_at,amount,currency,note\n"
    "p-1, c1,acc-9,2026-03-01T10:00:00,12.5,EUR,coffee\n"  # P-1 again: a duplicate
    "P-2,C1,ACC-9,2026-03-01T11:00:00,3.10,EUR,\n"         # P-2 corrected: refused
    "P-3,C2,ACC-9,2026-03-02T09:00:00,7.00,EUR,second\n"   # P-3 with one payload: stored
    "P-5,C1,ACC-7,2026-02-27T08:00:00,99,USD,late\n",
]


def _tables(url: str) -> dict[str, list[tuple]]:
    engine, _ = connect(url)  # the toolkit's engine reads each engine's catalog
    result = {}
    with engine.connect() as connection:
        for name in ("hub_customer", "hub_account", "nhl_payment", "dv_quarantine"):
            columns = [c["name"] for c in sa.inspect(connection).get_columns(name)
                       if c["name"] != "load_ts"]
            keep = ", ".join(columns)
            result[name] = [tuple(r) for r in connection.exec_driver_sql(
                f"SELECT {keep} FROM {name} ORDER BY {keep}")]
    engine.dispose()
    return result


def test_generated_load_files_run_in_a_plain_client(make_db_url, tmp_path: Path) -> None:
    root = tmp_path / "project"
    shutil.copytree(GOLDEN_PROJECT, root)
    by_loader, by_client = make_db_url(), make_db_url()
    loader_session = api.open_session(root, url=migrated(root, by_loader))
    client_session = api.open_session(root, url=migrated(root, by_client))
    dialect = client_session.loader.dialect.name
    api.generate(root, dialect, tmp_path / "sql")
    try:
        for number, text in enumerate(DELIVERIES):
            path = tmp_path / f"payments_{number}.csv"
            path.write_text(text, encoding="utf-8")
            assert loader_session.loader.load("payments", open_input(str(path))).ok
            staged = client_session.loader.stage("payments", open_input(str(path)))
            for entity in client_session.project.model.entities_of("payments"):
                for _ in range(2):  # running a file again inserts and quarantines nothing more
                    _run_plain(by_client, tmp_path / "sql" / "load" / "payments" /
                               f"{entity}.sql", staged.batch_id)
        loaded, plain = _tables(by_loader), _tables(by_client)
    finally:
        loader_session.close()
        client_session.close()
    assert len(loaded["nhl_payment"]) == 4
    # P-4 by the hub and the link, P-3's two rows, and P-2's correction
    assert sorted((e, row) for _, e, row, *_ in loaded["dv_quarantine"]) == [
        ("customer", 5), ("payment", 2), ("payment", 3), ("payment", 4), ("payment", 5)]
    assert plain == loaded


def test_loads_of_two_sources_at_once_take_turns_in_load_time_order(
    db_url: str, tmp_path: Path
) -> None:
    """Two sources of one link loaded at the same moment: they share a load lock, so every
    batch loads the link in load-time order and none is refused as older than one it holds;
    the link equals the reference taken in load-time order."""
    root = tmp_path / "two"
    vault = Vault(root, db_url, TWO_SOURCES)
    chance = random.Random(7)
    batches = {source: [[(chance.choice("AB"), "X", chance.randint(1, 3), chance.randint(0, 3),
                          chance.choice("xy"), 1) for _ in range(4)] for _ in range(6)]
               for source in ("feed", "other")}
    loaded: list[tuple] = []
    barrier = threading.Barrier(2)

    def run(source: str) -> None:
        session = api.open_session(root, url=db_url)
        try:
            barrier.wait()
            for number, rows in enumerate(batches[source]):
                path = write_batch(tmp_path, number + (100 if source == "other" else 0), rows)
                result = session.loader.load(source, open_input(path))
                loaded.append((result.ok, [e.message for e in result.entities],
                               result.batch_id, result.loaded_at, rows))
        finally:
            session.close()

    threads = [threading.Thread(target=run, args=(s,)) for s in batches]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert all(ok for ok, *_ in loaded), [messages for ok, messages, *_ in loaded if not ok]
        loads = sorted((batch_id, at, rows) for _, _, batch_id, at, rows in loaded)
        assert [at for _, at, _ in loads] == sorted(at for _, at, _ in loads)
        assert len(loads) == 12
        _check(vault, loads)
    finally:
        vault.session.close()


def test_the_key_contract_refuses_another_event_key_and_adds_payload(project: Path) -> None:
    before = contract.contract(api.validate(project).model)
    assert before["nonhistorized_link payment"] == (
        "customer=customer, account=account; event key payment_number text")
    assert before["nonhistorized_link payment.amount"] == "decimal"
    assert contract.owned_tables(before, m.Naming())["nhl_payment"] == "history"
    # another event key: every stored event key would change
    _edit(project, NHL, "  payment_number: payment_no ", "  payment_number: payment_no\n"
          "  day: paid_at ")
    changes = contract.compare(before, contract.contract(api.validate(project).model))
    assert [(c.item, c.kind, c.always) for c in changes] == [
        ("nonhistorized_link payment", "breaking", True)]
    assert "every stored event key would stop matching" in changes[0].reason
    # a payload column more: added
    _edit(project, NHL, "  payment_number: payment_no\n  day: paid_at ",
          "  payment_number: payment_no ")
    _edit(project, NHL, "[amount, currency, note]", "[amount, currency, note, paid_at]")
    changes = contract.compare(before, contract.contract(api.validate(project).model))
    assert [(c.item, c.kind) for c in changes] == [
        ("nonhistorized_link payment.paid_at", "added")]


def test_a_batch_of_one_source_waits_for_an_unfinished_earlier_one_of_another(
    db_url: str, tmp_path: Path
) -> None:
    """An earlier batch of another source that has yet to load the link comes first: the
    later one is refused until it has (else the earlier one would be refused for ever)."""
    vault = Vault(tmp_path / "two", db_url, TWO_SOURCES)
    loader = vault.session.loader
    try:
        early = loader.stage("feed", open_input(write_batch(tmp_path, 0, [
            ("A", "X", 1, 0, "x", 1)])))
        later = loader.load("other", open_input(write_batch(tmp_path, 1, [
            ("A", "X", 1, 0, "y", 1), ("B", "X", 1, 0, "y", 1)])))
        link = next(e for e in later.entities if e.entity == "payment")
        assert link.status == "failed" and link.message.startswith(
            f"payment must load batch {early.batch_id} of feed (staged) before batch "
            f"{later.batch_id}")
        assert vault.stored() == {}
        assert loader.resume(early.batch_id).ok and loader.resume(later.batch_id).ok
        _check(vault, [(early.batch_id, early.loaded_at, [("A", "X", 1, 0, "x", 1)]),
                       (later.batch_id, later.loaded_at, [("A", "X", 1, 0, "y", 1),
                                                          ("B", "X", 1, 0, "y", 1)])])
    finally:
        vault.session.close()


def test_reserved_words_as_names(make_db_url, tmp_path: Path) -> None:
    """Names that are reserved words (the link's table, its roles, event key and payload
    columns, the source's columns) load, answer and run from the generated file alike."""
    files = {
        "config/datavault.yml": 'naming:\n  nonhistorized_link: "{name}"\n',
        "models/sources/select.yml": "applied_at: primary\ncolumns:\n  order: text\n"
                                     "  from: text\n  lateral: integer\n  primary: timestamp\n"
                                     "  returning: text\n  limit: decimal\n",
        "models/hubs/user.yml": "business_key:\n  order: text\nsources:\n  select:\n",
        "models/hubs/table.yml": "business_key:\n  from: text\nsources:\n  select:\n",
        "models/nonhistorized_links/group.yml": "hubs: [{where: user}, {having: table}]\n"
                                                "sources:\n  select:\n    where: order\n"
                                                "    having: from\n"
                                                "event_key: {check: lateral}\n"
                                                "payload: {default: returning, limit: limit}\n",
    }
    root = write_project(tmp_path / "reserved", files)
    csv_text = ("order,from,lateral,primary,returning,limit\n"
                "a,b,1,2026-01-01T00:00:00,x,1.5\na,b,1,2026-01-01T00:00:00,y,1.5\n"
                "a,b,2,2026-01-02T00:00:00,x,2\n")
    (tmp_path / "batch.csv").write_text(csv_text, encoding="utf-8")
    by_loader, by_client = make_db_url(), make_db_url()
    loader_session = api.open_session(root, url=migrated(root, by_loader))
    client_session = api.open_session(root, url=migrated(root, by_client))
    try:
        assert loader_session.loader.load("select", open_input(str(tmp_path / "batch.csv"))).ok
        answer = loader_session.query_state("group", ["A|B|2"])
        assert [(r["where.order"], r["check"], r["default"]) for r in answer.records()] == [
            ("a", 2, "x")]
        api.generate(root, client_session.loader.dialect.name, tmp_path / "sql")
        staged = client_session.loader.stage("select", open_input(str(tmp_path / "batch.csv")))
        for entity in ("table", "user", "group"):
            _run_plain(by_client, tmp_path / "sql" / "load" / "select" / f"{entity}.sql",
                       staged.batch_id)
        rows = []
        for url in (by_loader, by_client):
            engine = sa.create_engine(url)
            with engine.connect() as connection:
                rows.append([tuple(r) for r in connection.exec_driver_sql(
                    'SELECT "check", "default", "limit" FROM "group" ORDER BY "check"')])
            engine.dispose()
        assert rows[0] == rows[1] and len(rows[0]) == 1  # event 1 is a conflict
    finally:
        loader_session.close()
        client_session.close()
