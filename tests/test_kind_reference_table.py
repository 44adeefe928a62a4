"""Reference tables keep SEMANTICS.md section 9, checked against the plain-Python reference
(``reference_code`` and ``code_list`` of tests/reference.py, on the history rule of sections 2,
3 and 5) on SQLite and PostgreSQL.

Random batches of a code list of two parts (an integer, spelt ``7`` or ``007``, and a text,
``mm`` or ``Mm``, or only white space: missing), loaded in random arrival orders with repeats
(loaded again with force=True, as a new batch): deltas with corrections and conflicts, and full
snapshots that retire the codes they lack. After every batch the descriptions are exact at
every applied time as known at every load time; at the end they are minimal, `query` gives the
code list and `history` every stored version, the codes table holds each code once from the
first batch that gave it, the quarantine holds every row with a missing code and every
conflict, and a batch loaded again inserts nothing. Then the regression cases of section 9,
validation with places, the golden files of tests/projects/reference_table and migrations.
"""

from __future__ import annotations

import collections
import csv
import datetime as dt
import itertools
import os
import shutil
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from datavault import api, contract, hashing, query
from datavault import model as m
from datavault.database import connect
from datavault.load import open_input
from tests.conftest import ENGINES, PG_URL, migrated, need_postgres, write_project
from tests.reference import (
    DELETED,
    batch_observations,
    code_list,
    condensed_history,
    live_state,
    reference_code,
    snapshot_deletions,
)

SETTING = int(os.environ.get("DATAVAULT_PROPERTY_EXAMPLES", "100"))
DAY0 = dt.datetime(2026, 1, 1)
END = dt.datetime.max
HERE = Path(__file__).parent
GOLDEN = HERE / "golden_kinds" / "reference_table"
GOLDEN_PROJECT = HERE / "projects" / "reference_table"
UPDATE = os.environ.get("DATAVAULT_UPDATE_GOLDEN") == "1"
ZERO = bytes(16)

COLUMNS = "columns:\n  c: integer\n  u: text\n  day: timestamp\n  name: text\n"
REF = "source: {source}\ncode:\n  c: integer\n  u: text\npayload:\n  name: text\n"
PROJECT = {
    "models/sources/deltas.yml": "applied_at: day\n" + COLUMNS,
    "models/sources/snaps.yml": "batch: snapshot\napplied_at: day\n" + COLUMNS,
    "models/reference_tables/unit.yml": REF.format(source="deltas"),
    "models/reference_tables/unit_list.yml": REF.format(source="snaps"),
}
TABLES = {"deltas": "unit", "snaps": "unit_list"}

# spellings of the code's parts: "7" and "007" are one integer; "mm" and "Mm" two texts; a
# text of white space only is missing
NUMBERS = ("7", "007", "8")
TEXTS = ("mm", "Mm", " \t", "m|m\\")
NAMES = ("metre", "Metre", None)


def code_of(c: str, u: str) -> tuple | None:
    """The reference's identity of a code as a source row spells it (None: missing)."""
    return reference_code([(int(c), "integer"), (u, "text")])


def day(n: int) -> dt.datetime:
    return DAY0 + dt.timedelta(days=n)


def _ts(value) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)


class Vault:
    """The project above on one database, emptied between examples."""

    def __init__(self, root: Path, url: str, files: dict[str, str] | None = None):
        write_project(root, files or PROJECT)
        self.session = api.open_session(root, url=migrated(root, url))
        self.model = self.session.project.model
        self.folder = root / "batches"
        self.folder.mkdir()
        self.files = itertools.count()

    def reset(self) -> None:
        with self.session.engine.begin() as connection:
            for table in api.schema.build_metadata(self.model).sorted_tables:
                connection.exec_driver_sql(f"DELETE FROM {table.name}")

    def write(self, rows) -> str:
        """A CSV file of (c, u, day, name) rows; None is an empty field."""
        path = self.folder / f"batch_{next(self.files)}.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["c", "u", "day", "name"])
            for c, u, d, name in rows:
                writer.writerow([c, u, day(d).isoformat(), "" if name is None else name])
        return str(path)

    def load(self, source: str, rows):
        result = self.session.loader.load(source, open_input(self.write(rows)), force=True,
                                          allow_mass_delete=True)
        assert result.ok, [e.message for e in result.entities]
        return result

    def sql(self, text: str) -> list[tuple]:
        with self.session.engine.connect() as connection:
            return [tuple(r) for r in connection.exec_driver_sql(text)]

    def codes(self, name: str) -> dict[tuple, tuple]:
        """code -> (load time, batch) of every row of the codes table, checking that its
        text is the code's and that no code is there twice."""
        rows = self.sql(f"SELECT dv_code, c, u, load_ts, batch_id FROM ref_{name}")
        found = {}
        for text, c, u, loaded, batch in rows:
            code = code_of(str(c), u)
            assert text == hashing.code_text([(int(c), "integer"), (u, "text")]), text
            assert code not in found, f"code {code} stored twice"
            found[code] = (_ts(loaded), batch)
        return found

    def versions(self, name: str) -> list[tuple]:
        """Every stored description as an observation (code, applied, loaded, payload or
        DELETED); a deletion has the zero hash diff and no payload."""
        by_text = {hashing.code_text([(int(c), "integer"), (u, "text")]): code_of(str(c), u)
                   for c, u in self.sql(f"SELECT c, u FROM ref_{name}")}
        versions = []
        for text, applied, loaded, diff, payload in self.sql(
                f"SELECT dv_code, applied_ts, load_ts, hash_diff, name FROM ref_{name}__desc"):
            assert text in by_text, f"a description of {text!r}, which is no stored code"
            if bytes(diff) == ZERO:
                assert payload is None
                versions.append((by_text[text], _ts(applied), _ts(loaded), DELETED))
            else:
                assert bytes(diff) == hashing.hash_diff([("name", payload, "text")], "md5")
                versions.append((by_text[text], _ts(applied), _ts(loaded), (payload,)))
        return versions

    def counts(self, name: str) -> tuple[int, ...]:
        return tuple(self.sql(f"SELECT COUNT(*) FROM ref_{name}{t}")[0][0]
                     for t in ("", "__desc", "__obs"))

    def quarantined(self, name: str) -> list[tuple]:
        return self.sql("SELECT batch_id, row_number, reason FROM dv_quarantine "
                        f"WHERE entity = '{name}' ORDER BY batch_id, row_number")

    def code_list(self, name: str, at: dt.datetime, known_at=None) -> dict:
        with self.session.engine.connect() as connection:
            records = query.state(connection, self.model, name, at=at,
                                  known_at=known_at).records()
        assert all(set(r) == {"c", "u", "applied", "loaded", "batch", "record_source", "name"}
                   for r in records)
        listed = [code_of(str(r["c"]), r["u"]) for r in records]
        assert len(set(listed)) == len(listed), "a code listed twice"
        return {code_of(str(r["c"]), r["u"]): (r["name"],) for r in records}

    def history(self, name: str, known_at=None) -> list[dict]:
        with self.session.engine.connect() as connection:
            return query.history(connection, self.model, name, known_at=known_at).records()


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


# ---- the checks against the reference --------------------------------------------------------
def observe(loaded: dt.datetime, rows, snapshot: bool = False) -> tuple[list, list, set]:
    """A batch's observations, its conflicts (code, applied, loaded, payload) and the codes it
    gives (None: a row with a missing code, which observes nothing)."""
    given = [(code_of(c, u), day(d), (name,)) for c, u, d, name in rows]
    observations, conflicts = batch_observations(
        loaded, [g for g in given if g[0] is not None])
    return observations, conflicts, {g[0] for g in given if g[0] is not None}


def _grid_codes(observations) -> list:
    return sorted({o[0] for o in observations}, key=repr)


def check_exact(versions: list[tuple], observations: list[tuple],
                load_times: list[dt.datetime]) -> None:
    for code, d, known_at in itertools.product(_grid_codes(observations), range(-1, 5),
                                                load_times):
        expected = live_state(observations, code, day(d), known_at)
        actual = live_state(versions, code, day(d), known_at)
        assert actual == expected, (
            f"code {code} at day {d}, known at load {load_times.index(known_at) + 1}: "
            f"vault {actual}, reference {expected}")


def check_minimal(versions: list[tuple]) -> None:
    """Every stored row is needed: without it, a state as known at its load time differs."""
    for version in versions:
        code, applied, loaded, state = version
        others = [v for v in versions if v is not version]
        assert live_state(others, code, applied, loaded) != (
            None if state is DELETED else state), f"{version} changes no state"


def check_readers(vault: Vault, name: str, observations: list[tuple],
                  load_times: list[dt.datetime]) -> None:
    """`query` is the reference's code list; `history` every stored version."""
    for d, known_at in itertools.product((0, 1, 3), (load_times[0], load_times[-1])):
        assert vault.code_list(name, day(d), known_at) == code_list(
            observations, day(d), known_at), (d, known_at)
    stored = collections.Counter(vault.versions(name))
    read = collections.Counter()
    for r in vault.history(name):
        code = code_of(str(r["c"]), r["u"])
        assert not r["deleted"] or r["name"] is None
        read[(code, _ts(r["applied"]), _ts(r["loaded"]),
              DELETED if r["deleted"] else (r["name"],))] += 1
        later = [lt for c, a, lt, _ in stored if (c, a) == (code, _ts(r["applied"]))
                 and lt > _ts(r["loaded"])]
        assert (_ts(r["replaced"]) if r["replaced"] else None) == (min(later) if later else None)
    assert read == stored


def check_codes(vault: Vault, name: str, given: list[tuple[dt.datetime, int, set]]) -> None:
    """One row per code, from the first loaded batch that gives it."""
    first: dict = {}
    for loaded, batch, codes in given:
        for code in codes:
            first.setdefault(code, (loaded, batch))
    assert vault.codes(name) == first


def check_quarantine(vault: Vault, name: str, loads: list[tuple]) -> None:
    """Every row with a missing code, and every row of a conflict, with its reason."""
    expected = collections.Counter()
    got = collections.Counter()
    for batch, loaded, rows in loads:
        _, conflicts, _ = observe(loaded, rows)
        conflicted = collections.Counter((c[0], c[1], c[3]) for c in conflicts)
        for c, u, d, payload in rows:
            code = code_of(c, u)
            if code is None:
                expected[(batch, "missing")] += 1
            elif conflicted[(code, day(d), (payload,))]:
                expected[(batch, "conflict")] += 1
    for batch, _, reason in vault.quarantined(name):
        got[(batch, "missing" if reason.startswith("missing code") else
             "conflict" if reason.startswith("conflict") else reason)] += 1
    assert got == expected


# ---- the properties --------------------------------------------------------------------------
row = st.tuples(st.sampled_from(NUMBERS), st.sampled_from(TEXTS), st.integers(0, 3),
                st.sampled_from(NAMES))


@st.composite
def arrivals(draw, batches):
    """Distinct batches, then an arrival order that repeats up to two of them."""
    made = draw(st.lists(batches, min_size=1, max_size=5))
    order = draw(st.permutations(range(len(made))))
    repeats = draw(st.lists(st.integers(0, len(made) - 1), max_size=2))
    return made, list(order) + repeats


@st.composite
def snapshot(draw):
    """A snapshot at one day: rows of a few codes (any spelling, a row repeated)."""
    d = draw(st.integers(0, 3))
    rows = [(c, u, d, name) for c, u, _, name in draw(st.lists(row, min_size=1, max_size=4))]
    if draw(st.booleans()):
        rows.append(rows[0])
    return rows


# An example loads some five batches of a handful of codes (under a second on PostgreSQL): a
# twentieth of the setting, at least 10, so that CI's 1000 runs 50 per engine and test. Each
# mutant of the load and the readers that was planted (no snapshot deletions, no restore, the
# timeline from after the batch's first point, the earliest-loaded observation desired, white
# space only a code, codes case-folded, the code list at < T or with retired codes, `replaced`
# from the earlier load, a missing code not quarantined) failed at that count, most within
# the first ten examples.
EXAMPLES = max(SETTING // 20, 10)
SETTINGS = settings(max_examples=EXAMPLES, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


def run_history(vault: Vault, source: str, batches, arrival) -> None:
    name = TABLES[source]
    observations: list[tuple] = []
    load_times: list[dt.datetime] = []
    given: list[tuple] = []
    loads: list[tuple] = []
    snaps: list[tuple] = []
    for index in arrival:
        rows = batches[index]
        result = vault.load(source, rows)
        load_times.append(result.loaded_at)
        found, _, codes = observe(result.loaded_at, rows)
        given.append((result.loaded_at, result.batch_id, codes))
        loads.append((result.batch_id, result.loaded_at, rows))
        observations += found
        if source == "snaps":
            snaps.append((result.loaded_at, max(day(r[2]) for r in rows), codes))
            every = observations + snapshot_deletions(snaps)
        else:
            every = observations
        check_exact(vault.versions(name), every, load_times)
    check_minimal(vault.versions(name))
    check_readers(vault, name, every, load_times)
    check_codes(vault, name, given)
    check_quarantine(vault, name, loads)
    before = vault.counts(name)
    result = vault.load(source, batches[arrival[-1]])  # the last batch again: nothing new
    assert vault.counts(name) == before, "loading a batch again inserted rows"


@SETTINGS
@given(history=arrivals(st.lists(row, max_size=6)))
@example(history=(  # a late description between two, then a correction of it
    [[("7", "mm", 0, "metre"), ("7", "mm", 2, "metre")], [("007", "mm", 1, "Metre")],
     [("7", "mm", 1, "metre")]], [0, 1, 2, 1]))
@example(history=(  # a conflict, then the code given one description; a missing code
    [[("7", "mm", 1, "metre"), ("7", "mm", 1, "Metre"), ("8", " \t", 1, "x")],
     [("007", "mm", 1, "metre")]], [0, 1]))
def test_delta_descriptions_equal_the_reference(shared: Vault, history) -> None:
    shared.reset()
    run_history(shared, "deltas", *history)


@SETTINGS
@given(history=arrivals(snapshot()))
@example(history=(  # a snapshot that lacks a code retires it; a later one brings it back
    [[("7", "mm", 0, "metre"), ("8", "mm", 0, "x")], [("8", "mm", 1, "x")],
     [("7", "mm", 2, "metre"), ("8", "mm", 2, "x")]], [0, 1, 2]))
@example(history=(  # the same, arriving late and out of order
    [[("7", "mm", 0, "metre"), ("8", "mm", 0, "x")], [("8", "mm", 1, "x")],
     [("7", "mm", 2, "metre"), ("8", "mm", 2, "x")]], [2, 0, 1, 1]))
@example(history=(  # a snapshot holds a code in conflict; an earlier one, loaded later, gives it
    [[("7", "mm", 1, "metre"), ("7", "mm", 1, "Metre")], [("7", "mm", 0, "metre")],
     [("8", "mm", 2, "x")]], [0, 1, 2]))
def test_snapshot_descriptions_equal_the_reference(shared: Vault, history) -> None:
    shared.reset()
    run_history(shared, "snaps", *history)


def test_a_code_held_by_a_conflict_is_not_lacking_there(vault: Vault) -> None:
    """SEMANTICS.md section 5: a snapshot that gives a code only in conflicting rows holds it;
    a snapshot of an earlier time, loaded after it, gives its description there, and the
    code stays live at the first snapshot's time."""
    vault.load("snaps", [("7", "mm", 1, "metre"), ("7", "mm", 1, "Metre")])
    vault.load("snaps", [("7", "mm", 0, "metre")])
    assert vault.code_list("unit_list", day(1)) == {code_of("7", "mm"): ("metre",)}


@settings(max_examples=max(EXAMPLES // 2, 5), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(names=st.lists(st.sampled_from(NAMES), min_size=1, max_size=6))
def test_descriptions_in_applied_order_store_the_condensed_history(shared: Vault, names
                                                                    ) -> None:
    shared.reset()
    observations: list[tuple] = []
    for d, name in enumerate(names):
        result = shared.load("deltas", [("7", "mm", d, name)])
        observations += observe(result.loaded_at, [("7", "mm", d, name)])[0]
    code = code_of("7", "mm")
    expected = condensed_history(observations, code, END)
    assert [(a, s) for _, a, _, s in sorted(shared.versions("unit"))] == expected


# ---- the regression cases of section 9 -------------------------------------------------------
def _list(vault: Vault, name: str = "unit", at: int = 9) -> dict:
    return vault.code_list(name, day(at))


def test_007_and_7_are_one_integer_code(vault: Vault) -> None:
    vault.load("deltas", [("007", "mm", 0, "metre")])
    vault.load("deltas", [("7", "mm", 1, "Metre"), ("7", "mm", 2, "Metre")])
    assert vault.counts("unit") == (1, 2, 1)
    assert vault.sql("SELECT dv_code, c, u FROM ref_unit") == [("7|mm", 7, "mm")]
    assert _list(vault) == {code_of("7", "mm"): ("Metre",)}
    with vault.session.engine.connect() as connection:  # either spelling finds it
        for spelling in ("7|mm", "007|mm"):
            assert len(query.history(connection, vault.model, "unit", [spelling]).rows) == 2


def test_mm_and_Mm_are_two_codes(vault: Vault) -> None:  # noqa: N802 (the units' names)
    vault.load("deltas", [("7", "mm", 0, "millimetre"), ("7", "Mm", 0, "megametre")])
    assert sorted(vault.sql("SELECT dv_code FROM ref_unit")) == [("7|Mm",), ("7|mm",)]
    assert _list(vault) == {code_of("7", "mm"): ("millimetre",),
                            code_of("7", "Mm"): ("megametre",)}
    with vault.session.engine.connect() as connection:
        answer = query.state(connection, vault.model, "unit", ["7|Mm"], at=day(9))
    assert [r["name"] for r in answer.records()] == ["megametre"]


def test_a_code_text_is_escaped_so_parts_never_run_together(vault: Vault) -> None:
    vault.load("deltas", [("7", "a|b", 0, "x"), ("7", "a\\|b", 0, "y")])
    assert sorted(vault.sql("SELECT dv_code FROM ref_unit")) == [("7|a\\\\\\|b",), ("7|a\\|b",)]
    assert len(_list(vault)) == 2


def test_a_snapshot_that_lacks_a_code_retires_it_and_a_later_one_brings_it_back(
        vault: Vault) -> None:
    vault.load("snaps", [("7", "mm", 0, "metre"), ("8", "mm", 0, "x")])
    vault.load("snaps", [("8", "mm", 1, "x")])
    assert _list(vault, "unit_list", 1) == {code_of("8", "mm"): ("x",)}
    assert _list(vault, "unit_list", 0) == {code_of("7", "mm"): ("metre",),
                                            code_of("8", "mm"): ("x",)}
    result = vault.load("snaps", [("7", "mm", 2, "metre"), ("8", "mm", 2, "x")])
    assert _list(vault, "unit_list", 2) == {code_of("7", "mm"): ("metre",),
                                            code_of("8", "mm"): ("x",)}
    loads = {e.entity: (e.rows_inserted, e.rows_deleted) for e in result.entities}
    assert loads == {"unit_list": (1, 0)}  # the return of 7, the same description again
    history = [(r["u"], r["c"], (_ts(r["applied"]) - DAY0).days, r["deleted"], r["name"])
               for r in vault.history("unit_list")]
    assert history == [("mm", 7, 0, False, "metre"), ("mm", 7, 1, True, None),
                       ("mm", 7, 2, False, "metre"), ("mm", 8, 0, False, "x")]
    assert vault.counts("unit_list")[0] == 2  # a code row stays when its code is retired


@pytest.mark.parametrize("policy", ["reject", "zero_key"])
def test_a_missing_code_part_is_quarantined_under_either_policy(
        policy: str, tmp_path: Path) -> None:
    files = {**PROJECT, "config/datavault.yml": f"null_keys: {policy}\n"}
    v = Vault(tmp_path / "project", f"sqlite:///{tmp_path / 'v.sqlite'}", files)
    try:
        result = v.load("deltas", [("7", " \t", 0, "blank"), ("7", "", 0, "empty"),
                                   ("", "mm", 0, "no number"), ("7", "mm", 0, "metre")])
        unit = next(e for e in result.entities if e.entity == "unit")
        assert (unit.rows_inserted, unit.rows_quarantined) == (2, 3)  # the code, its row
        assert [r[1:] for r in v.quarantined("unit")] == [
            (n, "missing code of reference table unit (c, u): a part is empty")
            for n in (1, 2, 3)]
        assert v.counts("unit") == (1, 1, 0)
    finally:
        v.session.close()


def test_a_batch_loaded_again_inserts_nothing_and_quarantines_nothing_new(vault: Vault
                                                                          ) -> None:
    rows = [("7", "mm", 0, "metre"), ("7", "mm", 0, "Metre"), ("8", " ", 0, "x"),
            ("8", "mm", 1, None)]
    vault.load("deltas", rows)
    before = (vault.counts("unit"), len(vault.quarantined("unit")))
    result = vault.load("deltas", rows)
    unit = next(e for e in result.entities if e.entity == "unit")
    assert (unit.rows_inserted, unit.rows_deleted) == (0, 0)
    assert vault.counts("unit") == before[0]
    assert len(vault.quarantined("unit")) == before[1] + 3  # the new batch's rows, reported


def test_a_description_without_payload_columns(tmp_path: Path) -> None:
    """A code list of codes only: each code is live from a snapshot that holds it to one
    that lacks it."""
    files = {**PROJECT, "models/reference_tables/unit_list.yml":
             "source: snaps\ncode:\n  c: integer\n  u: text\npayload:\n"}
    v = Vault(tmp_path / "project", f"sqlite:///{tmp_path / 'v.sqlite'}", files)
    try:
        v.load("snaps", [("7", "mm", 0, "x"), ("8", "mm", 0, "y")])
        v.load("snaps", [("8", "mm", 1, "z")])
        with v.session.engine.connect() as connection:
            listed = query.state(connection, v.model, "unit_list", at=day(1)).records()
        assert [(r["c"], r["u"]) for r in listed] == [(8, "mm")]
        assert set(listed[0]) == {"c", "u", "applied", "loaded", "batch", "record_source"}
        assert v.counts("unit_list") == (2, 3, 1)  # 7, 8; 7 retired; 8 seen again
    finally:
        v.session.close()


# ---- validation ------------------------------------------------------------------------------
REFFILE = "models/reference_tables/currency.yml"


def _problems(root: Path) -> list[str]:
    from click.testing import CliRunner

    from datavault.cli import main

    result = CliRunner().invoke(main, ["-p", str(root), "validate"])
    assert "Traceback" not in result.output
    assert result.exit_code == 1, result.output
    *lines, count = result.stderr.splitlines()
    assert count == f"{len(lines)} problem{'s' if len(lines) != 1 else ''} found"
    return lines


@pytest.fixture
def project(tmp_path: Path) -> Path:
    target = tmp_path / "project"
    shutil.copytree(GOLDEN_PROJECT, target)
    return target


def test_the_golden_project_is_valid_and_counted(project: Path) -> None:
    from click.testing import CliRunner

    from datavault.cli import main

    model = api.validate(project).model
    currency = model.entities["currency"]
    assert isinstance(currency, m.ReferenceTable)
    assert [(c.name, c.type) for c in currency.code] == [("currency_code", "text")]
    assert [c.name for c in currency.payload] == ["numeric_code", "currency_name", "minor_units"]
    result = CliRunner().invoke(main, ["-p", str(project), "validate"])
    assert result.output.strip().endswith(", 2 reference tables, 2 marts")
    result = CliRunner().invoke(main, ["-p", str(project), "validate", "--format", "json"])
    assert '"reference_tables": 2' in result.output


PROBLEMS = {
    "float code": ("  currency_code: text", "  currency_code: float",
                   f"{REFFILE}:4:18: code part 'currency_code' is a float (a float has no "
                   "exact text and cannot be part of a code; use decimal or integer)"),
    "unknown type": ("  currency_code: text", "  currency_code: txt",
                     f"{REFFILE}:4:18: unknown type 'txt' for code part 'currency_code' "
                     "(did you mean 'text'?)"),
    "no such column": ("  currency_code: text", "  currency_cod: text",
                       f"{REFFILE}:4:3: source 'currencies' has no column 'currency_cod' "
                       "(did you mean 'currency_code'?)"),
    "another type": ("  minor_units: integer", "  minor_units: text",
                     f"{REFFILE}:8:16: description column 'minor_units' is declared text, but "
                     "source 'currencies' declares it integer (write minor_units: integer, "
                     "or change the source)"),
    "empty code": ("code:\n  currency_code: text", "code: {}",
                   f"{REFFILE}:3:7: a code needs at least one part (for example: code: "
                   "{currency_code: text})"),
    "code a list": ("code:\n  currency_code: text", "code: [currency_code]",
                    f"{REFFILE}:3:7: code must be a mapping of `source_column: type` lines, "
                    "not a list (for example: code: {currency_code: text})"),
    "unknown key": ("payload:", "payloads:",
                    f"{REFFILE}:5:1: unknown key 'payloads' (did you mean 'payload'?)"),
    "unknown source": ("source: currencies", "source: currencys",
                       f"{REFFILE}:2:9: unknown source 'currencys' (did you mean "
                       "'currencies'?)"),
    "code in payload": ("  currency_name: text", "  currency_code: text",
                        f"{REFFILE}:7:3: column 'currency_code' is a code part and a "
                        "description column (a code part is the key: leave it out of "
                        "payload:)"),
    "reserved": ("  currency_code: text", "  load_ts: text",
                 f"{REFFILE}:4:3: code part name 'load_ts' is reserved (names ending in _hk "
                 "or starting with dv_, and applied_ts, batch_id, hash_diff, load_ts, "
                 "record_source are the toolkit's; rename it in the source)"),
}


@pytest.mark.parametrize(("old", "new", "expected"), PROBLEMS.values(), ids=PROBLEMS.keys())
def test_each_problem_of_a_reference_table_file_is_placed(
        project: Path, old: str, new: str, expected: str) -> None:
    path = project / REFFILE
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), encoding="utf-8")
    problems = _problems(project)
    if new == "source: currencys":  # and the source now feeds nothing
        assert problems[1].startswith("models/sources/currencies.yml:1:1: source 'currencies' "
                                      "feeds no")
        problems = problems[:1]
    assert problems == [expected]


def test_a_missing_code_is_reported(project: Path) -> None:
    (project / REFFILE).write_text("source: currencies\n", encoding="utf-8")
    assert _problems(project) == [f"{REFFILE}:1:1: missing required key 'code'"]


def test_a_naming_pattern_names_its_tables_and_enters_the_contract(project: Path) -> None:
    model = api.validate(project).model
    assert contract.contract(model)["naming"] == (
        "hub=hub_{name} link=link_{name} satellite=sat_{name}")
    (project / "config").mkdir(exist_ok=True)
    (project / "config" / "datavault.yml").write_text(
        "naming:\n  reference_table: code_{name}\n", encoding="utf-8")
    model = api.validate(project).model
    tables = set(api.schema.build_metadata(model).tables)
    assert {"code_currency", "code_currency__desc", "code_currency__obs"} <= tables
    assert not {t for t in tables if t.startswith("ref_")}
    assert contract.contract(model)["naming"].endswith(" reference_table=code_{name}")


def test_the_key_contract_of_a_reference_table(project: Path) -> None:
    items = contract.contract(api.validate(project).model)
    assert items["reference_table unit"] == "unit_system text, symbol text"
    assert items["reference_table currency.minor_units"] == "integer"
    changes = contract.compare({**items, "reference_table unit": "symbol text"}, items)
    assert [(c.item, c.kind) for c in changes] == [("reference_table unit", "breaking")]


# ---- generated SQL: golden files, and a migration that adds the kind -----------------------
def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*.sql"))}


@pytest.mark.parametrize("dialect", ENGINES)
def test_generated_sql_matches_the_golden_files(dialect: str, tmp_path: Path) -> None:
    api.generate(GOLDEN_PROJECT, dialect, tmp_path)
    generated = _files(tmp_path)
    if UPDATE:
        for relative, data in generated.items():
            target = GOLDEN / dialect / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    expected = _files(GOLDEN / dialect)
    assert sorted(generated) == sorted(expected)
    for relative in expected:
        assert generated[relative] == expected[relative], (
            f"{dialect}/{relative} differs from tests/golden_kinds (DATAVAULT_UPDATE_GOLDEN=1 "
            "after a wanted change)")


def test_a_migration_adds_a_reference_table_to_a_loaded_vault(example_project: Path,
                                                              db_url: str) -> None:
    from tests.test_migrate import V1_BATCHES, check_is_clean, count, dv

    project, url = example_project, migrated(example_project, db_url)
    dv(project, url, "load", "crm_customers", str(project / "data" / V1_BATCHES[0][1]))
    (project / "models" / "reference_tables").mkdir()
    (project / "models" / "reference_tables" / "city.yml").write_text(
        "source: crm_customers\ncode:\n  city: text\npayload:\n", encoding="utf-8")
    made = dv(project, url, "migrate", "revision", "-m", "cities").stdout
    assert "ref_city" in made
    dv(project, url, "migrate", "upgrade")
    check_is_clean(project, url)
    dv(project, url, "load", "crm_customers", str(project / "data" / V1_BATCHES[2][1]))
    assert count(url, "ref_city") == count(url, "ref_city__desc") > 0
    assert count(url, "sat_customer_details") > 0


def test_query_and_history_from_the_command_line(project: Path, db_url: str) -> None:
    """The code list and every version through the CLI, with the schema check of each
    command; a code asked by any spelling of its typed parts."""
    import json

    from tests.test_migrate import dv

    url = migrated(project, db_url)
    header = "currency_code,numeric_code,currency_name,minor_units,extracted_at\n"
    for n, body in enumerate(["EUR,978,Euro,2,2026-01-01\nDEM,276,Mark,2,2026-01-01\n",
                              "EUR,978,Euro,2,2026-01-02\n"]):
        path = project / f"currencies_{n}.csv"
        path.write_text(header + body, encoding="utf-8")
        dv(project, url, "load", "currencies", str(path))
    units = project / "units.csv"
    units.write_text("unit_system,symbol,unit_name,changed_at\nSI,mm,millimetre,2026-01-01\n"
                     "SI,Mm,megametre,2026-01-01\nSI, ,blank,2026-01-01\n", encoding="utf-8")
    dv(project, url, "load", "units", str(units))

    listed = json.loads(dv(project, url, "query", "currency", "--at", "2026-01-02",
                           "--format", "json").stdout)
    assert [(r["currency_code"], r["currency_name"]) for r in listed] == [
        ("EUR", "Euro")]
    listed = json.loads(dv(project, url, "query", "currency", "--at", "2026-01-01T12:00",
                           "--format", "json").stdout)
    assert [r["currency_code"] for r in listed] == ["DEM", "EUR"]
    versions = json.loads(dv(project, url, "history", "currency", "--key", "DEM",
                             "--format", "json").stdout)
    assert [(r["applied"][:10], r["deleted"], r["currency_name"])
            for r in versions] == [("2026-01-01", False, "Mark"),
                                           ("2026-01-02", True, None)]
    mega = json.loads(dv(project, url, "query", "unit", "--key", "SI|Mm",
                         "--format", "json").stdout)
    assert [r["unit_name"] for r in mega] == ["megametre"]
    wrong = dv(project, url, "query", "unit", "--key", "SI", ok=False)
    assert "code 'SI' has 1 part(s); unit needs 2: unit_system|symbol" in wrong.output


def test_the_mass_delete_check_counts_the_live_codes(vault: Vault) -> None:
    vault.load("snaps", [(str(c), "mm", 0, "x") for c in range(1, 5)])
    refused = vault.session.loader.load("snaps", open_input(vault.write([("1", "mm", 1, "x")])),
                                        force=True)
    assert refused.batch.status == "failed"
    assert "would delete 3 of 4 keys (75%) of unit_list" in refused.batch.message
    assert vault.counts("unit_list") == (4, 4, 0)


CURRENCIES = [  # snapshots: DEM retired on the 2nd, back on the 3rd; a blank code quarantined
    "currency_code,numeric_code,currency_name,minor_units,extracted_at\n"
    "EUR,978,Euro,2,2026-01-01\nDEM,276,Mark,2,2026-01-01\n ,0,blank,0,2026-01-01\n",
    "currency_code,numeric_code,currency_name,minor_units,extracted_at\n"
    "EUR,978,Euro,2,2026-01-03\nDEM,276,Deutsche Mark,2,2026-01-03\n",
    "currency_code,numeric_code,currency_name,minor_units,extracted_at\n"  # late
    "EUR,978,Euro,2,2026-01-02\n",
]


def _tables(url: str) -> dict[str, list[tuple]]:
    engine, _ = connect(url)  # the toolkit's engine reads each engine's catalog
    result = {}
    with engine.connect() as connection:
        for name in ("ref_currency", "ref_currency__desc", "ref_currency__obs",
                     "dv_quarantine"):
            columns = [c["name"] for c in sa.inspect(connection).get_columns(name)
                       if c["name"] not in ("load_ts", "batch_id")]
            keep = ", ".join(columns)
            result[name] = [tuple(r) for r in connection.exec_driver_sql(
                f"SELECT {keep} FROM {name} ORDER BY {keep}")]
    engine.dispose()
    return result


def test_generated_load_files_run_in_a_plain_client(make_db_url, tmp_path: Path) -> None:
    """The generated load of a reference table, run by the engine's own client (twice: the
    second run adds nothing), gives the loader's tables."""
    from tests.test_generate import _run_plain

    root = tmp_path / "project"
    shutil.copytree(GOLDEN_PROJECT, root)
    by_loader, by_client = make_db_url(), make_db_url()
    loader_session = api.open_session(root, url=migrated(root, by_loader))
    client_session = api.open_session(root, url=migrated(root, by_client))
    api.generate(root, client_session.loader.dialect.name, tmp_path / "sql")
    try:
        for number, text in enumerate(CURRENCIES):
            path = tmp_path / f"currencies_{number}.csv"
            path.write_text(text, encoding="utf-8")
            assert loader_session.loader.load("currencies", open_input(str(path))).ok
            staged = client_session.loader.stage("currencies", open_input(str(path)))
            for _ in range(2):
                _run_plain(by_client, tmp_path / "sql" / "load" / "currencies" / "currency.sql",
                           staged.batch_id)
        loaded, plain = _tables(by_loader), _tables(by_client)
    finally:
        loader_session.close()
        client_session.close()
    assert [r[0] for r in loaded["ref_currency"]] == ["DEM", "EUR"]
    assert [(r[0], str(r[1])[:10], r[4]) for r in loaded["ref_currency__desc"]] == [
        ("DEM", "2026-01-01", "Mark"), ("DEM", "2026-01-02", None),
        ("DEM", "2026-01-03", "Deutsche Mark"), ("EUR", "2026-01-01", "Euro")]
    assert len(loaded["dv_quarantine"]) == 1
    assert plain == loaded


def test_the_plain_sql_join_of_the_readme(project: Path, db_url: str) -> None:
    """README's join of a code list: the description live at each order's time, none where
    the code was retired then."""
    session = api.open_session(project, url=migrated(project, db_url))
    try:
        for number, text in enumerate([CURRENCIES[0], CURRENCIES[2]]):  # DEM retired on the 2nd
            path = project / f"currencies_{number}.csv"
            path.write_text(text, encoding="utf-8")
            assert session.loader.load("currencies", open_input(str(path))).ok
        zero = session.loader.dialect.zero_key("md5")
        with session.engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE orders (order_no INTEGER, currency TEXT, "
                                       "ordered_at TIMESTAMP)")
            connection.exec_driver_sql(
                "INSERT INTO orders VALUES (1, 'DEM', '2026-01-01 12:00:00'), "
                "(2, 'DEM', '2026-01-02 12:00:00'), (3, 'EUR', '2026-01-04 00:00:00')")
            rows = connection.exec_driver_sql(f"""
SELECT o.order_no, d.currency_name
FROM orders o
JOIN ref_currency r ON r.currency_code = o.currency
JOIN ref_currency__desc d ON d.dv_code = r.dv_code
WHERE d.applied_ts = (SELECT MAX(x.applied_ts) FROM ref_currency__desc x
                      WHERE x.dv_code = r.dv_code AND x.applied_ts <= o.ordered_at)
  AND d.load_ts = (SELECT MAX(x.load_ts) FROM ref_currency__desc x
                   WHERE x.dv_code = r.dv_code AND x.applied_ts = d.applied_ts)
  AND d.hash_diff <> {zero}
ORDER BY o.order_no""").all()
            connection.exec_driver_sql("DROP TABLE orders")
    finally:
        session.close()
    # the snapshot of the 2nd lacked DEM: order 2, made that day, finds no live description
    assert [tuple(r) for r in rows] == [(1, "Mark"), (3, "Euro")]
