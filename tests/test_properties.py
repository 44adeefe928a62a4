"""Properties 4, 5 and 6 of SEMANTICS.md section 3 as hypothesis properties, on SQLite and
PostgreSQL (properties 1 to 3 are in test_history.py)."""

from __future__ import annotations

import csv
import datetime as dt
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from datavault.load import open_input
from tests.reference import reference_state
from tests.test_history import DAY0, EXAMPLES, KEYS, PAYLOADS, Vault, _write_batch

SETTINGS = settings(max_examples=max(EXAMPLES // 5, 10), deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


@pytest.fixture
def vault(tmp_path: Path, db_url: str):
    v = Vault(tmp_path / "project", db_url)
    yield v
    v.session.close()


@st.composite
def distinct_batches(draw):
    """Batches whose observations have distinct (key, applied time) across all batches."""
    cells = draw(st.lists(st.tuples(st.sampled_from(KEYS), st.integers(0, 5)), unique=True,
                          min_size=1, max_size=10))
    payloads = [draw(st.sampled_from(PAYLOADS)) for _ in cells]
    count = draw(st.integers(1, 4))
    owner = [draw(st.integers(0, count - 1)) for _ in cells]
    batches = [[(k, d, *p) for (k, d), p, o in zip(cells, payloads, owner) if o == b]
               for b in range(count)]
    return batches, draw(st.permutations(range(count))), draw(st.permutations(range(count)))


def _final_states(vault: Vault) -> dict:
    rows = vault.satellite()
    return {(k, d): reference_state(rows, k, DAY0 + dt.timedelta(days=d), dt.datetime.max)
            for k in KEYS for d in range(-1, 7)}


@SETTINGS
@given(history=distinct_batches())
def test_property_4_final_states_do_not_depend_on_arrival_order(vault: Vault, history) -> None:
    batches, first, second = history
    finals = []
    with tempfile.TemporaryDirectory() as folder:
        paths = [_write_batch(Path(folder), i, b) for i, b in enumerate(batches)]
        for order in (first, second):
            vault.reset()
            for index in order:
                vault.load(paths[index])
            finals.append(_final_states(vault))
    assert finals[0] == finals[1]


@SETTINGS
@given(batches=st.lists(st.lists(st.tuples(st.sampled_from(KEYS), st.integers(0, 4),
                                           st.sampled_from(PAYLOADS)), max_size=5),
                        min_size=1, max_size=4),
       orders=st.lists(st.booleans(), min_size=4, max_size=4))
def test_property_5_entity_loads_in_any_order_give_the_same_tables(vault: Vault, batches,
                                                                   orders) -> None:
    source = vault.session.project.model.sources["feed"]
    loader = vault.session.loader
    outcomes = []
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for i, batch in enumerate(batches):
            unique = {(k, d): (k, d, *p) for k, d, p in batch}  # no conflicts here
            paths.append(_write_batch(Path(folder), i, list(unique.values())))
        for reverse in ([False] * len(paths), orders[:len(paths)]):
            vault.reset()
            for path, backwards in zip(paths, reverse):
                staged = loader.stage("feed", open_input(path))
                names = ["thing", "thing_state"]
                for name in reversed(names) if backwards else names:
                    assert loader.load_entity(source, name, staged).status == "ok"
            outcomes.append((
                vault.rows("hub_thing", "thing_hk, k, batch_id"),
                vault.rows("sat_thing_state", "thing_hk, applied_ts, batch_id, hash_diff, v, w"),
                vault.rows("sat_thing_state__obs", "thing_hk, applied_ts, hash_diff"),
            ))
    assert outcomes[0] == outcomes[1]


cell = st.one_of(st.sampled_from(["1", "2", "x", "", "1.5"]), st.just("3"))
raw_row = st.tuples(st.sampled_from(["A", "B", "", "  "]), st.sampled_from(
    ["2026-01-01", "2026-01-02", "not a day", ""]), st.sampled_from(["x", ""]), cell,
    st.sampled_from(["1", "", "z"]))


@SETTINGS
@given(rows=st.lists(raw_row, max_size=12))
def test_property_6_no_row_is_lost_silently(vault: Vault, rows, tmp_path_factory) -> None:
    vault.reset()
    path = tmp_path_factory.mktemp("rows") / "batch.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["k", "day", "v", "w", "seq"])
        writer.writerows(rows)
    loader = vault.session.loader
    batch = loader.stage("feed", open_input(str(path)))
    with vault.session.engine.connect() as connection:
        staged = {r[0] for r in connection.exec_driver_sql("SELECT dv_row FROM stg_feed")}
    result = loader.resume(batch.batch_id)  # the entity loads, then the staged rows go
    assert result.rows_read == len(rows)
    assert result.rows_staged + result.rows_quarantined == len(rows)
    with vault.session.engine.connect() as connection:
        quarantined = connection.exec_driver_sql(
            "SELECT entity, row_number, reason FROM dv_quarantine").all()
        assert connection.exec_driver_sql("SELECT COUNT(*) FROM stg_feed").scalar() == 0
    whole_rows = {n for entity, n, _ in quarantined if entity == ""}
    assert all(reason for _, _, reason in quarantined)
    assert whole_rows | staged == set(range(1, len(rows) + 1)) and not whole_rows & staged
    for entity in ("thing", "thing_state"):
        audit = next(e for e in result.entities if e.entity == entity)
        rejected = {n for e, n, _ in quarantined if e == entity}
        assert audit.rows_quarantined == len(rejected)
        # a staged row is quarantined for an entity exactly when its key is missing
        missing = {i + 1 for i, r in enumerate(rows) if i + 1 in staged and not r[0].strip()}
        if entity == "thing":
            assert rejected == missing
        else:  # the satellite also reports conflicts: same key and day, other payload
            assert missing <= rejected
