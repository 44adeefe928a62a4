"""Property 5 of SEMANTICS.md section 3: the hub, link and satellite loads of a batch can run
in any order, or at once, and give the same tables (example warehouse, both engines)."""

from __future__ import annotations

import threading
from pathlib import Path

import sqlalchemy as sa

from datavault import api, kinds
from datavault.load import open_input
from tests.conftest import migrated

BATCHES = [
    ("shop_orders", "shop_orders_2026-03-02.csv"),
    ("crm_customers", "crm_customers_2026-03-01.csv"),
    ("crm_customers", "crm_customers_2026-01-01.csv"),  # late
    ("crm_customers", "crm_customers_2026-01-01_fix.csv"),  # a correction
    ("crm_phones", "crm_phones_2026-03-01.csv"),
    ("crm_phones", "crm_phones_2026-01-01.csv"),  # late: a multi-active satellite's sets
]
CORRECTION = (
    "order_id,customer_ref,status,amount,ordered_at,changed_at\n"
    "O-1001,C001,returned,120.50,2026-03-02T09:15:00,2026-03-02T09:15:00\n"  # correction
    "O-1004, c002,placed,9.99,2026-03-04T10:00:00,2026-03-04T10:00:00\n"
    # no customer: quarantined by the entities keyed by one, with every digit of its times
    "O-1005,,placed,1.25,2026-03-04T10:00:00.654321,2026-03-04T10:00:00.000001\n"
)


def table_names(model) -> list[str]:
    """Every vault table of ``model``'s entities, and the quarantine."""
    return sorted([table for name in model.entities for table in
                   kinds.kind_of(model, name).table_names(model.settings.naming, name)]
                  + ["dv_quarantine"])


def _tables(session) -> dict[str, list[tuple]]:
    """Every vault table without its load times (which differ from run to run)."""
    names = table_names(session.project.model)
    result = {}
    with session.engine.connect() as connection:
        inspector = sa.inspect(connection)
        for name in names:
            keep = ", ".join(c["name"] for c in inspector.get_columns(name)
                             if c["name"] != "load_ts")
            result[name] = [tuple(r) for r in connection.exec_driver_sql(
                f"SELECT {keep} FROM {name} ORDER BY {keep}")]
    return result


def _reset(session) -> None:
    with session.engine.begin() as connection:
        for table in reversed(api.schema.build_metadata(session.project.model).sorted_tables):
            connection.exec_driver_sql(f"DELETE FROM {table.name}")


def _load_all(session, batches, run) -> dict[str, list[tuple]]:
    """Stage each batch, then load its entities with ``run(loader, source, entities, staged)``."""
    _reset(session)
    loader = session.loader
    for source_name, path in batches:
        staged = loader.stage(source_name, open_input(str(path)))
        source = session.project.model.sources[source_name]
        run(loader, source, session.project.model.entities_of(source_name), staged)
    return _tables(session)


def _batches(project: Path) -> list[tuple[str, Path]]:
    correction = project / "data" / "shop_orders_correction.csv"
    correction.write_text(CORRECTION, encoding="utf-8")
    return [(s, project / "data" / f) for s, f in BATCHES] + [("shop_orders", correction)]


def _orders(count: int) -> list[tuple[int, ...]]:
    """Orders of ``count`` entity loads in which each load runs first once and last once, and
    each two loads run in both orders: the rotations of one order and of its reverse. (An
    entity load reads the staged batch and writes its own tables; one that read another's
    would differ by which of the two ran first.)"""
    ahead = list(range(count))
    return [tuple(ahead[i:] + ahead[:i]) for i in range(count)] + [
        tuple(reversed(ahead[i:] + ahead[:i])) for i in range(count)]


def test_entity_loads_in_each_order_give_the_same_tables(example_project: Path,
                                                         db_url: str) -> None:
    session = api.open_session(example_project, url=migrated(example_project, db_url))
    batches = _batches(example_project)
    entities = session.project.model.entities_of("shop_orders")
    assert len(entities) == 5  # two hubs, a link, a satellite, an effectivity one: ten orders
    outcomes = {}
    # the steps are called one by one, outside a load (which keeps the database open where
    # opening it per connection costs: DuckDB)
    with session.loader.dialect.kept_open(session.engine):
        for order in _orders(len(entities)):
            def run(loader, source, fed, staged, order=order):
                names = ([fed[i] for i in order] if len(fed) == len(order)
                         else list(reversed(fed)))
                for name in names:
                    assert loader.load_entity(source, name, staged).status == "ok"
            outcomes[order] = _load_all(session, batches, run)
    session.close()
    first = next(iter(outcomes.values()))
    assert sum(len(rows) for rows in first.values()) > 20
    for order, tables in outcomes.items():
        assert tables == first, f"entity order {[entities[i] for i in order]}"


def test_entity_loads_at_once_give_the_same_tables(example_project: Path, db_url: str) -> None:
    session = api.open_session(example_project, url=migrated(example_project, db_url))
    batches = _batches(example_project)

    def one_by_one(loader, source, fed, staged):
        for name in fed:
            assert loader.load_entity(source, name, staged).status == "ok"

    def at_once(loader, source, fed, staged):
        results = {}
        barrier = threading.Barrier(len(fed))

        def work(name):
            barrier.wait()
            results[name] = loader.load_entity(source, name, staged)

        threads = [threading.Thread(target=work, args=(name,)) for name in fed]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert all(r.status == "ok" for r in results.values()), [
            (n, r.message) for n, r in results.items() if r.status != "ok"]

    expected = _load_all(session, batches, one_by_one)
    for _ in range(3):
        assert _load_all(session, batches, at_once) == expected
    session.close()


def test_the_loader_runs_a_batchs_entity_loads_at_once_where_the_engine_can(
        example_project: Path, db_url: str) -> None:
    """On an engine with ``concurrent_loads``, a load that waits for its table does not hold
    up the other loads of the batch: here the hub order waits for a lock held by another
    transaction while every other entity of shop_orders loads; then it loads too."""
    session = api.open_session(example_project, url=migrated(example_project, db_url))
    if session.dialect.concurrent_loads == 1:
        session.close()
        return  # one writer at a time: the loads run one after the other (tests above)
    fed = session.project.model.entities_of("shop_orders")
    blocked = "order"
    assert blocked in fed and len(fed) > session.dialect.concurrent_loads > 1
    outcome = {}
    path = example_project / "data" / "shop_orders_2026-03-02.csv"

    def load() -> None:
        outcome["result"] = session.loader.load("shop_orders", open_input(str(path)))

    def loaded_others(connection) -> set[str]:
        return {e for (e,) in connection.exec_driver_sql(
            "SELECT entity FROM dv_load_audit WHERE status = 'ok'")}

    holder = sa.create_engine(db_url)
    with holder.connect() as lock:
        lock.exec_driver_sql("BEGIN")
        lock.exec_driver_sql("LOCK TABLE hub_order IN ACCESS EXCLUSIVE MODE")
        thread = threading.Thread(target=load)
        thread.start()
        with holder.connect() as watch:
            for _ in range(600):
                done = loaded_others(watch)
                watch.rollback()
                if done == set(fed) - {blocked}:
                    break
                threading.Event().wait(0.05)
        assert done == set(fed) - {blocked}, "the other loads waited for the hub"
        assert thread.is_alive()
        lock.exec_driver_sql("ROLLBACK")
    thread.join(60)
    holder.dispose()
    result = outcome["result"]
    assert result.ok and [e.entity for e in result.entities] == fed
    session.close()


def test_an_interrupted_load_lets_the_loads_under_way_end_and_starts_no_other(
        example_project: Path, db_url: str) -> None:
    """Ctrl-C while a batch's entity loads run (here raised by the progress report of the
    first load to end): the loads under way end and are reported, the others never start,
    the batch is partly loaded, and a resume runs only what is left."""
    session = api.open_session(example_project, url=migrated(example_project, db_url))
    fed = session.project.model.entities_of("shop_orders")
    path = example_project / "data" / "shop_orders_2026-03-02.csv"
    events: list[tuple[str, object]] = []

    def progress(event: str, **data) -> None:
        if event == "stopping":
            events.append((event, (data["running"], data["waiting"])))
        elif event in ("entity-start", "entity"):
            events.append((event, data.get("entity") or data["result"].entity))
            if event == "entity" and not any(e == "stopping" for e, _ in events):
                raise KeyboardInterrupt

    try:
        session.loader.load("shop_orders", open_input(str(path)), progress=progress)
    except KeyboardInterrupt:
        pass
    else:
        raise AssertionError("the interrupt did not reach the caller")
    started = [name for event, name in events if event == "entity-start"]
    ended = [name for event, name in events if event == "entity"]
    at_once = session.dialect.concurrent_loads
    assert started == fed[:min(at_once, len(fed))] if at_once > 1 else started == fed[:1]
    assert sorted(ended) == sorted(started)  # every load started was seen to its end
    if at_once > 1:
        [(running, waiting)] = [value for event, value in events if event == "stopping"]
        assert sorted(running + [ended[0]]) == sorted(started)
        assert waiting == fed[len(started):]
    [batch] = session.loader.ledger.listing(limit=1)
    assert batch.status == "partly loaded" and batch.message == "interrupted while loading"
    assert set(session.loader.ledger.succeeded(batch.batch_id)) == set(started)
    resumed = session.loader.resume(batch.batch_id)
    assert resumed.ok and [e.entity for e in resumed.entities] == fed[len(started):]
    session.close()
