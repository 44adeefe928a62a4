"""Marts that look up codes of a reference table keep SEMANTICS.md section 4, checked on SQLite
and PostgreSQL against the plain-Python reference (``looked_up`` and ``code_list`` of
tests/reference.py, on ``live_state``).

Things, whose satellite holds a code of two parts (an integer, spelt ``7`` or ``007``, and a
text, ``mm`` or ``Mm``, either NULL) and which a change feed's marked rows delete, look the code
up in a reference table of units fed by full snapshots, each of which retires the codes it
lacks: a PIT by the satellite's columns, a bridge to a hub whose business key is the code.
Random batches of both sources arrive in random orders (late descriptions, corrections,
conflicts, retirements, deletions), with builds at random points. After every batch the
snapshot views show, at each snapshot, the description as known at the mart's last build (not
at the loads after it); at the end a refresh equals a full build, and the current and history
views show the descriptions as known now, each history span one description for the whole of
it. Then explicit cases, validation with places, and the schema check's scope.
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import os
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from datavault import api, marts, schemacheck
from datavault.load import open_input
from tests.conftest import PG_URL, migrated, need_postgres, write_project
from tests.reference import (
    DELETED,
    batch_observations,
    code_list,
    live_state,
    looked_up,
    reference_code,
    snapshot_deletions,
)

SETTING = int(os.environ.get("DATAVAULT_PROPERTY_EXAMPLES", "100"))
DAY0 = dt.datetime(2020, 1, 1)
DAYS = 5
SPINE = [DAY0 + dt.timedelta(days=d) for d in range(DAYS + 1)]
NOW = dt.datetime(9999, 1, 1)

PROJECT = {
    "models/sources/things.yml": "applied_at: day\ndeleted: {column: op, values: [d]}\n"
                                 "columns: {k: text, day: timestamp, c: integer, u: text, "
                                 "op: text}\n",
    "models/sources/units.yml": "batch: snapshot\napplied_at: day\n"
                                "columns: {c: integer, u: text, day: timestamp, name: text}\n",
    "models/hubs/thing.yml": "business_key: {k: text}\nsources:\n  things:\n",
    "models/satellites/thing_details.yml": "parent: thing\nsource: things\npayload: [c, u]\n",
    "models/reference_tables/unit.yml": "source: units\ncode: {c: integer, u: text}\n"
                                        "payload: {name: text}\n",
    # the code as a hub's business key, which a bridge looks up (c or u NULL: no hub key)
    "models/hubs/measure.yml": "business_key: {c: integer, u: text}\nsources:\n  things:\n",
    "models/links/thing_measure.yml": "hubs: [thing, measure]\nsources:\n  things:\n",
    "models/marts/thing_units.yml": "bridge: [thing, thing_measure, measure]\n"
                                    "require: [thing_details]\n"
                                    "codes:\n  unit: {columns: {c: measure.c, u: measure.u}, "
                                    "prefix: ''}\n"
                                    "spine: {every: day, from: 2020-01-01, to: 2020-01-06}\n",
    # a code whose text part is the thing's own business key
    "models/marts/thing_keys.yml": "pit: thing\ncodes:\n  unit: {columns: {c: thing_details.c, "
                                   "u: thing.k}, prefix: key_}\n"
                                   "spine: {every: day, from: 2020-01-01, to: 2020-01-06}\n",
    "models/marts/things.yml": "pit: thing\nsatellites: [thing_details]\n"
                               "codes:\n  unit: {columns: {c: thing_details.c, "
                               "u: thing_details.u}, prefix: ''}\n"
                               "spine: {every: day, from: 2020-01-01, to: 2020-01-06}\n",
}


def day(n: int) -> dt.datetime:
    return DAY0 + dt.timedelta(days=n)


def _ts(value):
    """A value as both engines give it: a timestamp as a datetime, bytes as bytes."""
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-":
        return dt.datetime.fromisoformat(value)
    return bytes(value) if isinstance(value, memoryview) else value


def code_of(payload: tuple) -> tuple | None:
    """The code a thing's payload (c, u) holds."""
    c, u = payload
    return None if c is None or u is None else reference_code([(c, "integer"), (u, "text")])


class Vault:
    """The project above on one database, emptied between examples."""

    def __init__(self, root: Path, url: str, files: dict[str, str] | None = None):
        write_project(root, files or PROJECT)
        self.root = root
        self.session = api.open_session(root, url=migrated(root, url))
        self.model = self.session.project.model
        self.builder = marts.MartBuilder(self.model, self.session.engine,
                                         self.session.loader.renderer)
        self.folder = root / "batches"
        self.folder.mkdir()
        self.files = itertools.count()

    def reset(self) -> None:
        with self.session.engine.begin() as connection:
            for table in api.schema.build_metadata(self.model).sorted_tables:
                connection.exec_driver_sql(f"DELETE FROM {table.name}")
            if sa.inspect(connection).has_table(marts.MART_TABLE):
                connection.exec_driver_sql(f"DELETE FROM {marts.MART_TABLE}")
                connection.exec_driver_sql(f"DELETE FROM {marts.SPINE_TABLE}")

    def load(self, source: str, rows: list[tuple]):
        """Load rows of the source's columns, a day number where a timestamp goes (a row
        shorter than the columns: empty fields after it)."""
        columns = self.model.sources[source].columns
        path = self.folder / f"batch_{next(self.files)}.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow([c.name for c in columns])
            writer.writerows([day(v).isoformat() if c.type == "timestamp" else v
                              for c, v in itertools.zip_longest(columns, row, fillvalue="")]
                             for row in rows)
        result = self.session.loader.load(source, open_input(str(path)), force=True,
                                          allow_mass_delete=True)
        assert result.ok, [e.message for e in result.entities]
        return result

    def build(self, name: str = "things", full: bool = False) -> marts.MartResult:
        return self.builder.build(self.model.marts[name], full=full, today=dt.date(2020, 2, 1))

    def sql(self, text: str) -> list[tuple]:
        with self.session.engine.connect() as connection:
            return [tuple(_ts(v) for v in r) for r in connection.exec_driver_sql(text)]


def _vault(request: pytest.FixtureRequest, folder: Path, files: dict[str, str]):
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
    v = Vault(folder / "project", url, files)
    yield v
    v.session.close()
    if schema:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def shared(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """One vault per engine for the module (migrating one costs more than a test)."""
    yield from _vault(request, tmp_path_factory.mktemp("vault"), PROJECT)


@pytest.fixture
def vault(shared: Vault) -> Vault:
    shared.reset()
    return shared


# ---- the reference ---------------------------------------------------------------------------
class Model:
    """What the batches loaded so far observed, for the reference."""

    def __init__(self) -> None:
        self.things: list[tuple] = []
        self.units: list[tuple] = []
        self.snapshots: list[tuple] = []
        self.keys: dict[str, dt.datetime] = {}  # each hub key, with when it was first loaded

    def take(self, source: str, loaded: dt.datetime, rows: list[tuple]) -> None:
        if source == "things":
            given = [(k, day(d), DELETED if op == "d" else (int(c) if c else None, u or None))
                     for k, d, c, u, op in (tuple(r) + ("",) * (5 - len(r)) for r in rows)]
            for k, *_ in rows:
                self.keys.setdefault(k, loaded)
            self.things += batch_observations(loaded, given)[0]
        else:
            given = [(reference_code([(int(c), "integer"), (u, "text")]), day(d), (name,))
                     for c, u, d, name in rows]
            self.units += batch_observations(loaded, given)[0]
            self.snapshots.append((loaded, max(day(r[2]) for r in rows), {g[0] for g in given}))

    @property
    def descriptions(self) -> list[tuple]:
        """The code list's observations: its rows', and the retirements of its snapshots."""
        return self.units + snapshot_deletions(self.snapshots)

    def name_of(self, c: int, u: str, at: dt.datetime, known_at: dt.datetime) -> str | None:
        """The description of the code (c, u) at ``at`` as known at ``known_at``."""
        listed = code_list(self.descriptions, at, known_at)
        found = listed.get(reference_code([(c, "integer"), (u, "text")]))
        return found[0] if found else None

    def row(self, key: str, at: dt.datetime, known_at: dt.datetime) -> tuple:
        """(c, u, name) that a view shows for ``key`` at ``at`` as known at ``known_at``."""
        state = live_state(self.things, key, at, known_at)
        described = looked_up(self.things, self.descriptions, key, code_of, at, known_at)
        return (*(state or (None, None)), described[0] if described else None)


# ---- the checks --------------------------------------------------------------------------------
def check_snapshot(vault: Vault, model: Model, built: dt.datetime | None) -> None:
    """The snapshot view as the reference says at each snapshot, as known at the last build
    (``built``: its load time; None: no build yet)."""
    if built is None:
        return
    shown = sorted(vault.sql("SELECT k, snapshot_at, c, u, name FROM things_snapshot"), key=repr)
    keys = {k for k, loaded in model.keys.items() if loaded <= built}
    expected = sorted(((k, at, *model.row(k, at, built)) for k in keys for at in SPINE), key=repr)
    assert shown == expected


def check_live_views(vault: Vault, model: Model) -> None:
    """The current view at the current time and each history span, as known now; each span
    shows one description for the whole of it, and begins at a satellite row or at a row of
    the description history of the code it holds."""
    current = sorted(vault.sql("SELECT k, c, u, name FROM things_current"))
    wall = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    expected = sorted((k, *model.row(k, wall, NOW)) for k in sorted(model.keys)
                      if live_state(model.things, k, wall, NOW) is not None)
    assert current == expected
    history = sorted(vault.sql("SELECT k, valid_from, valid_to, c, u, name FROM things_history"))
    satellite = set(vault.sql("SELECT h.k, s.applied_ts FROM sat_thing_details s "
                              "JOIN hub_thing h ON h.thing_hk = s.thing_hk"))
    described = set(vault.sql("SELECT r.c, r.u, d.applied_ts FROM ref_unit__desc d "
                              "JOIN ref_unit r ON r.dv_code = d.dv_code"))
    assert {(k, start) for k, start, *_ in history} >= satellite
    for key, spans in itertools.groupby(history, key=lambda r: r[0]):
        spans = list(spans)
        assert [r[2] for r in spans[:-1]] == [r[1] for r in spans[1:]], f"{key}: gaps"
        assert spans[-1][2] is None
        for _, start, end, c, u, name in spans:
            if (key, start) not in satellite:  # a description of its code changed there
                assert (c, u, start) in described, (key, start)
            inside = [start] + [day(d) for d in range(-1, DAYS + 1)
                                if start < day(d) and (end is None or day(d) < end)]
            for at in inside:
                assert (c, u, name) == model.row(key, at, NOW), (key, start, at)


def _paths(vault: Vault) -> list[tuple]:
    """(k, c, u, loaded) of every row of the link, with its hubs' business keys as stored."""
    return vault.sql("SELECT h.k, m.c, m.u, l.load_ts FROM link_thing_measure l "
                     "JOIN hub_thing h ON h.thing_hk = l.thing_hk "
                     "JOIN hub_measure m ON m.measure_hk = l.measure_hk")


def check_bridge_snapshot(vault: Vault, model: Model, built: dt.datetime | None) -> None:
    """The bridge's snapshot view: each path live at a snapshot, with the description of
    the code its hub's business key is, as known at the last build."""
    if built is None:
        return
    shown = sorted(vault.sql("SELECT k, snapshot_at, c, u, name FROM thing_units_snapshot"),
                   key=repr)
    expected = sorted(((k, at, c, u, model.name_of(c, u, at, built))
                       for k, c, u, loaded in _paths(vault) if loaded <= built for at in SPINE
                       if live_state(model.things, k, at, built) is not None), key=repr)
    assert shown == expected


def check_bridge_live_views(vault: Vault, model: Model) -> None:
    wall = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    paths = _paths(vault)
    assert sorted(vault.sql("SELECT k, c, u, name FROM thing_units_current"), key=repr) == sorted(
        ((k, c, u, model.name_of(c, u, wall, NOW)) for k, c, u, _ in paths
         if live_state(model.things, k, wall, NOW) is not None), key=repr)
    history = vault.sql("SELECT k, c, u, valid_from, valid_to, name FROM thing_units_history")
    satellite = set(vault.sql("SELECT h.k, s.applied_ts FROM sat_thing_details s "
                              "JOIN hub_thing h ON h.thing_hk = s.thing_hk"))
    described = set(vault.sql("SELECT r.c, r.u, d.applied_ts FROM ref_unit__desc d "
                              "JOIN ref_unit r ON r.dv_code = d.dv_code"))
    grid = [day(d) for d in range(-1, DAYS + 1)]
    for k, c, u, _ in paths:
        spans = [r[3:] for r in history if r[:3] == (k, c, u)]
        for at in grid:  # each time the path is live is in exactly one span
            covering = [s for s in spans if s[0] <= at and (s[1] is None or at < s[1])]
            live = live_state(model.things, k, at, NOW) is not None
            assert len(covering) == (1 if live else 0), (k, c, u, at)
        for start, end, name in spans:
            assert (k, start) in satellite or (c, u, start) in described, (k, c, u, start)
            for at in [start] + [g for g in grid if start < g and (end is None or g < end)]:
                assert live_state(model.things, k, at, NOW) is not None
                assert name == model.name_of(c, u, at, NOW), (k, c, u, start, at)


# ---- the property ------------------------------------------------------------------------------
thing_row = st.tuples(st.sampled_from(("A", "B")), st.integers(0, DAYS - 1),
                      st.sampled_from(("7", "007", "8", "")), st.sampled_from(("mm", "Mm", "")),
                      st.sampled_from(("", "", "d")))
unit_row = st.tuples(st.sampled_from(("7", "007", "8")), st.sampled_from(("mm", "Mm")),
                     st.sampled_from(("metre", "Metre")))


@st.composite
def snapshot(draw) -> list[tuple]:
    """A snapshot of the code list at one day: rows of a few codes."""
    d = draw(st.integers(0, DAYS - 1))
    return [(c, u, d, name) for c, u, name in draw(st.lists(unit_row, min_size=1, max_size=3))]


batch = st.one_of(st.tuples(st.just("things"), st.lists(thing_row, min_size=1, max_size=4)),
                  st.tuples(st.just("units"), snapshot()))


@st.composite
def plans(draw):
    """Batches in an arrival order, each followed by a build or not."""
    made = draw(st.lists(batch, min_size=1, max_size=6))
    order = draw(st.permutations(range(len(made))))
    builds = draw(st.lists(st.booleans(), min_size=len(made), max_size=len(made)))
    return [(made[i], build) for i, build in zip(order, builds)]


# An example loads some six batches and builds a few times (about a second on PostgreSQL): a
# fortieth of the setting, at least 5, so that CI's 1000 runs 25 per engine.
EXAMPLES = max(SETTING // 40, 5)


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(plan=plans())
@example(plan=[  # a code retired, then a late description before the retirement
    (("units", [("7", "mm", 0, "metre")]), False),
    (("things", [("A", 1, "007", "mm"), ("B", 1, "7", "Mm")]), True),
    (("units", [("8", "mm", 2, "metre")]), True),
    (("units", [("7", "mm", 1, "Metre"), ("7", "Mm", 1, "metre")]), False),
])
def test_the_views_show_the_reference_descriptions(shared: Vault, plan) -> None:
    shared.reset()
    model = Model()
    built = None
    for (source, rows), build in plan:
        result = shared.load(source, rows)
        model.take(source, result.loaded_at, rows)
        if build:
            shared.build()
            shared.build("thing_units")
            built = result.loaded_at
        check_snapshot(shared, model, built)
        check_bridge_snapshot(shared, model, built)
    shared.build()
    shared.build("thing_units")
    check_snapshot(shared, model, result.loaded_at)
    check_bridge_snapshot(shared, model, result.loaded_at)
    tables = ("pit_things", "things_snapshot", "bridge_thing_units", "thing_units_snapshot")
    refreshed = [sorted(shared.sql(f"SELECT * FROM {name}"), key=repr) for name in tables]
    shared.build(full=True)
    shared.build("thing_units", full=True)
    assert [sorted(shared.sql(f"SELECT * FROM {name}"), key=repr)
            for name in tables] == refreshed
    check_live_views(shared, model)
    check_bridge_live_views(shared, model)


# ---- explicit cases ----------------------------------------------------------------------------
def _snapshot(vault: Vault, at: int) -> dict[str, tuple]:
    return {k: tuple(rest) for k, when, *rest in vault.sql(
        "SELECT k, snapshot_at, c, u, name FROM things_snapshot") if when == day(at)}


def test_a_code_is_found_by_its_canonical_text_and_an_unknown_one_shows_null(
        vault: Vault) -> None:
    """007 in an integer column finds the code 7; mm is not Mm; a code the list does not know,
    and a NULL part, show no description, and their rows stay."""
    vault.load("units", [("7", "mm", 0, "millimetre"), ("007", "Mm", 0, "megametre")])
    vault.load("things", [("A", 0, "007", "mm"), ("B", 0, "7", "Mm"), ("C", 0, "8", "mm"),
                          ("D", 0, "7", ""), ("E", 0, "7", "MM")])
    vault.build()
    assert _snapshot(vault, 1) == {"A": (7, "mm", "millimetre"), "B": (7, "Mm", "megametre"),
                                   "C": (8, "mm", None), "D": (7, None, None),
                                   "E": (7, "MM", None)}
    assert sorted(vault.sql("SELECT k, name FROM things_current")) == [
        ("A", "millimetre"), ("B", "megametre"), ("C", None), ("D", None), ("E", None)]


def test_a_late_description_shows_in_the_snapshot_view_after_the_next_build(
        vault: Vault) -> None:
    """The snapshot view answers as known at the build: a late description waits for the
    next build, which rewrites no row of the PIT (the view reads the descriptions)."""
    vault.load("units", [("7", "mm", 0, "metre")])
    vault.load("things", [("A", 0, "7", "mm")])
    vault.build()
    vault.load("units", [("7", "mm", 2, "Metre")])
    vault.load("units", [("7", "mm", 1, "mètre")])  # late, between the two
    assert [_snapshot(vault, d)["A"][2] for d in range(4)] == ["metre"] * 4
    assert vault.sql("SELECT name FROM things_current") == [("Metre",)]  # read when queried
    result = vault.build()
    assert (result.touched, result.rows_deleted, result.rows_inserted) == (0, 0, 0)
    assert [_snapshot(vault, d)["A"][2] for d in range(4)] == ["metre", "mètre", "Metre",
                                                               "Metre"]


def test_a_retired_code_shows_null_until_it_comes_back(vault: Vault) -> None:
    vault.load("units", [("7", "mm", 0, "metre"), ("8", "mm", 0, "inch")])
    vault.load("units", [("8", "mm", 2, "inch")])  # 7 retired on day 2
    vault.load("units", [("7", "mm", 4, "metre"), ("8", "mm", 4, "inch")])  # and back on day 4
    vault.load("things", [("A", 0, "7", "mm")])
    vault.build()
    assert [_snapshot(vault, d)["A"] for d in (1, 2, 3, 4)] == [
        (7, "mm", "metre"), (7, "mm", None), (7, "mm", None), (7, "mm", "metre")]
    assert vault.sql("SELECT k, valid_from, valid_to, name FROM things_history ORDER BY 2") == [
        ("A", day(0), day(2), "metre"), ("A", day(2), day(4), None), ("A", day(4), None, "metre")]


def test_history_spans_split_where_a_description_changes(vault: Vault) -> None:
    """A span of the history view begins where its satellite changes and where the
    description of its code changes inside it; the description of a code the key no longer
    holds splits nothing."""
    vault.load("units", [("7", "mm", 0, "metre"), ("8", "mm", 0, "inch")])
    vault.load("units", [("7", "mm", 2, "Metre"), ("8", "mm", 2, "inch")])
    vault.load("units", [("7", "mm", 4, "METRE"), ("8", "mm", 4, "Inch")])
    vault.load("things", [("A", 1, "7", "mm"), ("A", 3, "8", "mm")])
    vault.build()  # makes the views (the module's vault may not have built them yet)
    assert vault.sql("SELECT valid_from, valid_to, c, name FROM things_history ORDER BY 1") == [
        (day(1), day(2), 7, "metre"), (day(2), day(3), 7, "Metre"),
        (day(3), day(4), 8, "inch"), (day(4), None, 8, "Inch")]


def test_the_live_views_leave_out_descriptions_from_the_first_unfinished_batch(
        vault: Vault, tmp_path: Path) -> None:
    """A description loaded after a batch that has not finished is left out of the current
    and history views (no span begins at it) until that batch has finished."""
    vault.load("units", [("7", "mm", 0, "metre")])
    vault.load("things", [("A", 1, "7", "mm")])
    vault.build()
    path = tmp_path / "things.csv"
    path.write_text(f"k,day,c,u,op\nB,{day(1).isoformat()},7,mm,\n", encoding="utf-8")
    staged = vault.session.loader.stage("things", open_input(str(path)))
    vault.load("units", [("7", "mm", 2, "Metre")])
    assert vault.sql("SELECT k, name FROM things_current") == [("A", "metre")]
    assert vault.sql("SELECT k, valid_from, valid_to, name FROM things_history") == [
        ("A", day(1), None, "metre")]
    vault.build()
    assert _snapshot(vault, 3)["A"] == (7, "mm", "metre")
    assert vault.session.loader.resume(staged.batch_id).ok
    assert sorted(vault.sql("SELECT k, name FROM things_current")) == [("A", "Metre"),
                                                                       ("B", "Metre")]
    assert ("A", day(2), None, "Metre") in vault.sql(
        "SELECT k, valid_from, valid_to, name FROM things_history")
    vault.build()
    assert _snapshot(vault, 3)["A"] == (7, "mm", "Metre")


# ---- validation --------------------------------------------------------------------------------
GOLDEN_PROJECT = Path(__file__).parent / "projects" / "reference_table"
MART = "models/marts/orders.yml"
LOOKUP = "  currency: {column: order_details.currency_code}"
UNIT = "    columns: {unit_system: order_details.weight_system, symbol: order_details.weight_unit}"
PROBLEMS = {
    "unknown reference table": (
        LOOKUP, "  curency: {column: order_details.currency_code}",
        f"{MART}:5:3: unknown reference table 'curency' (did you mean 'currency'?)"),
    "a lookup named otherwise": (
        LOOKUP, "  price: {column: order_details.currency_code}",
        f"{MART}:5:3: unknown reference table 'price' (a lookup is named by its reference "
        "table, or names it under reference_table:; the reference tables are currency, unit)"),
    "not a reference table": (
        LOOKUP, "  currency: {reference_table: order_details, column: order_details.currency_code}",
        f"{MART}:5:31: 'order_details' is a satellite, not a reference table (the reference "
        "tables are currency, unit)"),
    "unknown column": (
        LOOKUP, "  currency: {column: order_details.currency_cod}",
        f"{MART}:5:22: satellite 'order_details' has no column 'currency_cod' (did you mean "
        "'currency_code'?)"),
    "unknown satellite": (
        LOOKUP, "  currency: {column: order_detail.currency_code}",
        f"{MART}:5:22: 'order_detail' is no satellite or hub of this mart (did you mean "
        "'order_details'?)"),
    "no owner": (
        LOOKUP, "  currency: {column: currency_code}",
        f"{MART}:5:22: 'currency_code' names no column (write OWNER.COLUMN, where OWNER is one "
        "of order_details, order)"),
    "a clash of columns": (
        LOOKUP, LOOKUP + "\n  money: {reference_table: currency, column: "
        "order_details.currency_code, prefix: currency_}",
        f"{MART}:6:83: code lookup money would show a column 'currency_numeric_code', which "
        "the views have already: the description 'numeric_code' of code lookup currency (give "
        "the lookup a prefix: of its own (now 'currency_'))"),
    "a bad prefix": (
        LOOKUP, "  currency: {column: order_details.currency_code, prefix: Cur}",
        f"{MART}:5:59: prefix 'Cur' cannot begin a column name (use lower-case letters, digits "
        "and _, starting with a letter; or \"\" for the description columns' own names)"),
    "neither column nor columns": (
        LOOKUP, "  currency: {}",
        f"{MART}:5:3: code lookup currency needs exactly one of column: or columns: (write "
        "column: SATELLITE.COLUMN, the column that holds the code)"),
    "one column for two parts": (
        UNIT, "    column: order_details.weight_unit",
        f"{MART}:7:5: the code of reference table 'unit' has 2 parts (unit_system, symbol); "
        "column: gives one (give the column of each part: columns: {unit_system: "
        "SATELLITE.COLUMN, symbol: SATELLITE.COLUMN})"),
    "a part left out": (
        UNIT, "    columns: {unit_system: order_details.weight_system}",
        f"{MART}:7:5: columns: gives no column for code part 'symbol' of reference table "
        "'unit' (write columns: {unit_system: SATELLITE.COLUMN, symbol: SATELLITE.COLUMN})"),
    "an unknown part": (
        UNIT, "    columns: {unit_system: order_details.weight_system, symbl: "
        "order_details.weight_unit}",
        f"{MART}:7:57: reference table 'unit' has no code part 'symbl' (did you mean "
        "'symbol'?)"),
    "codes a list": (
        LOOKUP + "\n  unit:\n" + UNIT + "\n    prefix: weight_", "  - currency",
        f"{MART}:5:3: codes must be a mapping of code lookups (for example codes: {{currency: "
        "{column: order_details.currency_code}})"),
}


@pytest.mark.parametrize(("old", "new", "expected"), PROBLEMS.values(), ids=PROBLEMS.keys())
def test_each_problem_of_a_code_lookup_is_placed(tmp_path: Path, old: str, new: str,
                                                 expected: str) -> None:
    import shutil

    from tests.test_validate import problems

    root = tmp_path / "project"
    shutil.copytree(GOLDEN_PROJECT, root)
    path = root / MART
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), encoding="utf-8")
    assert problems(root) == [expected]


def _things(tmp_path: Path, mart: str, **more: str) -> list[str]:
    from tests.test_validate import problems

    return problems(write_project(tmp_path / "p", {**PROJECT, "models/marts/things.yml": mart,
                                                   **more}))


SPINE_LINE = "spine: {dates: [2020-01-01]}\n"


def test_a_column_of_another_type_than_its_code_part_is_refused(tmp_path: Path) -> None:
    assert _things(tmp_path, "pit: thing\ncodes:\n  unit: {columns: {c: thing_details.u, "
                   "u: thing_details.u}}\n" + SPINE_LINE) == [
        "models/marts/things.yml:3:23: column thing_details.u is text, but code part 'c' of "
        "reference table 'unit' is integer (a code is found by the typed values of its parts "
        "(section 9 compares their canonical text), so a column must have its part's type)"]


def test_a_description_column_that_clashes_with_a_satellite_column_is_refused(
        tmp_path: Path) -> None:
    more = {"models/sources/things.yml": "applied_at: day\ncolumns: {k: text, day: timestamp, "
            "c: integer, u: text, name: text}\n",
            "models/satellites/thing_details.yml": "parent: thing\nsource: things\n"
            "payload: [c, u, name]\n"}
    mart = ("pit: thing\ncodes:\n  unit: {columns: {c: thing_details.c, u: thing_details.u}, "
            "prefix: ''}\n" + SPINE_LINE)
    assert _things(tmp_path, mart, **more) == [
        "models/marts/things.yml:3:69: code lookup unit would show a column 'name', which the "
        "views have already: the column 'name' of thing_details (give the lookup a prefix: of "
        "its own (now ''))"]


def test_a_satellite_that_the_mart_does_not_list_is_named(tmp_path: Path) -> None:
    more = {"models/satellites/thing_notes.yml": "parent: thing\nsource: things\n"
            "payload: [c, u]\n"}
    mart = ("pit: thing\nsatellites: [thing_details]\ncodes:\n  unit: {columns: "
            "{c: thing_notes.c, u: thing_details.u}}\n" + SPINE_LINE)
    assert _things(tmp_path, mart, **more) == [
        "models/marts/things.yml:4:23: satellite 'thing_notes' is not listed in this mart "
        "(list it under satellites:, whose columns the views show)"]


def test_the_default_prefix_is_the_lookup_name_and_a_hub_key_may_hold_a_code(
        tmp_path: Path) -> None:
    mart = ("pit: thing\ncodes:\n  unit: {columns: {c: thing_details.c, u: thing_details.u}}\n"
            "  again: {reference_table: unit, columns: {c: thing_details.c, u: thing.k}}\n"
            + SPINE_LINE)
    root = write_project(tmp_path / "p", {**PROJECT, "models/marts/things.yml": mart})
    model = api.validate(root).model
    first, second = model.marts["things"].codes
    assert (first.prefix, first.label("name")) == ("unit_", "unit_name")
    assert second.columns == (("c", "thing_details", "c"), ("u", "thing", "k"))
    scope = schemacheck.mart_scope(model, model.marts["things"])
    assert {"ref_unit", "ref_unit__desc"} <= scope.tables
    assert "reference_table unit" in scope.items


def test_a_pit_looks_up_a_code_part_in_its_hubs_business_key(vault: Vault) -> None:
    vault.load("units", [("7", "mm", 0, "metre"), ("7", "A", 0, "ampere")])
    vault.load("units", [("7", "mm", 2, "Metre"), ("7", "A", 2, "ampere")])
    vault.load("things", [("mm", 1, "7", "x"), ("A", 1, "7", "x"), ("B", 1, "007", "x")])
    vault.build("thing_keys")
    assert vault.sql("SELECT k, snapshot_at, key_name FROM thing_keys_snapshot "
                     "WHERE snapshot_at >= '2020-01-02' AND snapshot_at < '2020-01-03 12:00' "
                     "ORDER BY 1, 2") == [
        ("A", day(1), "ampere"), ("A", day(2), "ampere"), ("B", day(1), None),
        ("B", day(2), None), ("mm", day(1), "metre"), ("mm", day(2), "Metre")]
    assert vault.sql("SELECT k, valid_from, valid_to, key_name FROM thing_keys_history "
                     "ORDER BY 1, 2") == [
        ("A", day(1), None, "ampere"), ("B", day(1), None, None),
        ("mm", day(1), day(2), "metre"), ("mm", day(2), None, "Metre")]
    assert vault.sql("SELECT k, key_name FROM thing_keys_current ORDER BY 1") == [
        ("A", "ampere"), ("B", None), ("mm", "Metre")]


def test_a_bridge_that_requires_no_satellite_looks_up_codes(tmp_path: Path,
                                                           db_url: str) -> None:
    """Every path of such a bridge is live from the start of time: its history spans begin
    where the descriptions of its hub's code change."""
    files = {
        "models/sources/pairs.yml": "applied_at: day\n"
                                    "columns: {k: text, c: integer, u: text, day: timestamp}\n",
        "models/sources/units.yml": PROJECT["models/sources/units.yml"],
        "models/hubs/thing.yml": "business_key: {k: text}\nsources:\n  pairs:\n",
        "models/hubs/measure.yml": "business_key: {c: integer, u: text}\nsources:\n  pairs:\n",
        "models/links/thing_measure.yml": "hubs: [thing, measure]\nsources:\n  pairs:\n",
        "models/reference_tables/unit.yml": PROJECT["models/reference_tables/unit.yml"],
        "models/marts/pairs.yml": "bridge: [thing, thing_measure, measure]\n"
                                  "codes:\n  unit: {columns: {c: measure.c, u: measure.u}}\n"
                                  "spine: {dates: [2020-01-02, 2020-01-04]}\n",
    }
    v = Vault(tmp_path / "project", db_url, files)
    try:
        v.load("units", [("7", "mm", 1, "metre")])
        v.load("units", [("7", "mm", 3, "Metre")])
        v.load("pairs", [("A", "007", "mm", 0), ("B", "8", "mm", 0)])
        v.build("pairs")
        assert v.sql("SELECT k, c, u, snapshot_at, unit_name FROM pairs_snapshot "
                     "ORDER BY 1, 4") == [("A", 7, "mm", day(1), "metre"),
                                          ("A", 7, "mm", day(3), "Metre"),
                                          ("B", 8, "mm", day(1), None),
                                          ("B", 8, "mm", day(3), None)]
        assert v.sql("SELECT k, valid_from, valid_to, unit_name FROM pairs_history "
                     "ORDER BY 1, 2") == [("A", dt.datetime(1, 1, 1), day(1), None),
                                          ("A", day(1), day(3), "metre"),
                                          ("A", day(3), None, "Metre"),
                                          ("B", dt.datetime(1, 1, 1), None, None)]
        assert v.sql("SELECT k, unit_name FROM pairs_current ORDER BY 1") == [
            ("A", "Metre"), ("B", None)]
    finally:
        v.session.close()


def test_a_description_column_name_too_long_for_a_database_is_refused(tmp_path: Path) -> None:
    prefix = "p" * 60
    mart = ("pit: thing\ncodes:\n  unit: {columns: {c: thing_details.c, u: thing_details.u}, "
            f"prefix: {prefix}}}\n" + SPINE_LINE)
    assert _things(tmp_path, mart) == [
        f"models/marts/things.yml:3:69: a description column of code lookup unit would be "
        f"'{prefix}name', longer than 63 characters (databases cut or refuse such names; use "
        "a shorter name)"]


def test_a_bridge_names_no_satellite_column(tmp_path: Path) -> None:
    mart = ("bridge: [thing, thing_measure, measure]\ncodes:\n  unit: {columns: "
            "{c: thing_details.c, u: measure.u}}\n" + SPINE_LINE)
    assert _things(tmp_path, mart) == [
        "models/marts/things.yml:3:23: a bridge shows no column of satellite 'thing_details', "
        "so it looks up no code there (it looks up codes in the business keys of the hubs on "
        "its path, thing, measure; a PIT of thing shows the satellite's columns)"]
