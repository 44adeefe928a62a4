"""Same-as links and hierarchies keep SEMANTICS.md section 10, checked against the plain-Python
reference (``tests/reference.py``) on SQLite and PostgreSQL.

Customers merge: the link customer_same_as (a duplicate customer and its survivor) has an
effectivity satellite whose driving key is the duplicate, so a merge is in effect from its
applied time and ends with a delete marker; customer_merged_plain has the same rows and none,
so every row loaded is in effect from the start of time; customer_tree reads them as a
hierarchy. The property loads random edges in random arrival orders, with repeats, and checks
every key's survivor (and ancestors) at every applied time as known at every load time so far,
through `query` and through the resolution view. Then: the regression cases, validation with
places, and the view's SQL against golden files.
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import os
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from datavault import api, query
from datavault.cli import main
from datavault.diagnostics import ModelError
from datavault.load import open_input
from tests.conftest import ENGINES, migrated, write_project
from tests.reference import DELETED, edges_in_effect, survivor, walk
from tests.test_validate_fuzz import DATA as FUZZ_DATA

SETTING = int(os.environ.get("DATAVAULT_PROPERTY_EXAMPLES", "100"))
EXAMPLES = max(SETTING // 10, 5)
DAY0 = dt.datetime(2026, 1, 1)
KEYS = ["A", "B", "C", "D"]

PROJECT = {
    "models/sources/customers.yml": """
columns:
  customer_id: text
""",
    "models/sources/merges.yml": """
applied_at: day
deleted:
  column: op
  values: [d]
columns:
  dup_id: text
  surv_id: text
  day: timestamp
  op: text
""",
    "models/hubs/customer.yml": """
business_key:
  customer_id: text
sources:
  customers:
""",
    "models/links/customer_same_as.yml": """
description: A duplicate customer and the one that stands for it
hubs:
  - duplicate: customer
  - survivor: customer
same_as: {duplicate: duplicate, survivor: survivor}
sources:
  merges:
    duplicate: dup_id
    survivor: surv_id
""",
    "models/links/customer_merged_plain.yml": """
hubs:
  - duplicate: customer
  - survivor: customer
same_as:
  duplicate: duplicate
  survivor: survivor
sources:
  merges:
    duplicate: dup_id
    survivor: surv_id
""",
    "models/links/customer_tree.yml": """
hubs:
  - child: customer
  - parent: customer
hierarchy: {child: child, parent: parent}
sources:
  merges:
    child: dup_id
    parent: surv_id
""",
    "models/links/customer_tree_eff.yml": """
hubs:
  - child: customer
  - parent: customer
hierarchy: {child: child, parent: parent}
sources:
  merges:
    child: dup_id
    parent: surv_id
""",
    "models/effectivity_satellites/parent_of.yml": """
link: customer_tree_eff
driving_key: [child]
source: merges
""",
    "models/effectivity_satellites/merged.yml": """
link: customer_same_as
driving_key: [duplicate]
source: merges
""",
}


def day(n: int) -> dt.datetime:
    return DAY0 + dt.timedelta(days=n)


def _ts(value) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)


def _at(spans: list[tuple], at: dt.datetime) -> tuple:
    """The (survivor, steps, conflict) of the view's row that holds at ``at``."""
    (held,) = [s[:3] for s in spans if s[3] <= at and (s[4] is None or at < s[4])]
    return held


class Vault:
    """The project above on one database, emptied between examples."""

    def __init__(self, root: Path, url: str, files: dict[str, str] | None = None):
        write_project(root, files or PROJECT)
        self.root = root
        self.url = migrated(root, url)
        self.session = api.open_session(root, url=self.url)
        self.model = self.session.project.model
        self.folder = root / "batches"
        self.folder.mkdir()
        self.files = itertools.count()

    def reset(self) -> None:
        with self.session.engine.begin() as connection:
            for table in api.schema.build_metadata(self.model).sorted_tables:
                if table.name != api.schema.CONTRACT_TABLE:  # the commands check it
                    connection.exec_driver_sql(f"DELETE FROM {table.name}")
        self.load_customers()

    def load_customers(self) -> None:
        path = self.folder / f"customers_{next(self.files)}.csv"
        path.write_text("customer_id\n" + "\n".join(KEYS) + "\n", encoding="utf-8")
        assert self.session.loader.load("customers", open_input(str(path)), force=True).ok

    def load(self, rows) -> dt.datetime:
        """Rows (duplicate, survivor, day, op): op 'd' ends the duplicate's merge."""
        path = self.folder / f"merges_{next(self.files)}.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["dup_id", "surv_id", "day", "op"])
            for dup, surv, d, op in rows:
                writer.writerow([dup, surv, day(d).isoformat(), op])
        result = self.session.loader.load("merges", open_input(str(path)), force=True,
                                          allow_mass_delete=True)
        assert result.ok, [e.message for e in result.entities]
        return result.loaded_at

    def resolve(self, link: str, key: str, at, known_at) -> tuple:
        with self.session.engine.connect() as connection:
            answer = query.walk_edges(connection, self.model, link, [key], at=at,
                                      known_at=known_at)
        (row,) = answer.records()
        return (row["survivor.customer_id"], row["steps"], row["conflict"])

    def resolved(self, link: str) -> dict[str, list[tuple]]:
        """The resolution view, made by `marts build`: per key, (survivor, steps, conflict,
        valid from, valid to) in applied order."""
        self.session.build_marts()
        with self.session.engine.connect() as connection:
            rows = connection.exec_driver_sql(
                "SELECT customer_id, survivor_customer_id, steps, conflict, valid_from, "
                f"valid_to FROM {link}__resolved ORDER BY customer_id, valid_from").all()
        found: dict[str, list[tuple]] = {}
        for key, surv, steps, conflict, start, end in rows:
            found.setdefault(key, []).append((surv, steps, conflict, _ts(start),
                                              None if end is None else _ts(end)))
        return found

    def ancestors(self, key: str, at, known_at, link: str = "customer_tree") -> tuple[dict, dict]:
        """The walk of a hierarchy: (ancestors, descendants), each key with its depth."""
        with self.session.engine.connect() as connection:
            answer = query.walk_edges(connection, self.model, link, [key], at=at,
                                      known_at=known_at)
        up, down = {}, {}
        for r in answer.records():
            if r["child.customer_id"] == key and r["parent.customer_id"] not in up:
                up[r["parent.customer_id"]] = r["depth"]
            else:
                down[r["child.customer_id"]] = r["depth"]
        return up, down


@pytest.fixture
def vault(tmp_path: Path, db_url: str):
    v = Vault(tmp_path / "project", db_url)
    v.reset()
    yield v
    v.session.close()


# ---- the reference's view of a history of batches -------------------------------------------
def _observations(batches: list[tuple[dt.datetime, list]]) -> tuple[list, list]:
    """The link rows (dup, surv, loaded) and the effectivity observations (section 6, driving
    key the duplicate) of batches of rows (dup, surv, day, op)."""
    from tests.reference import batch_observations
    link_rows, eff = [], []
    for loaded, rows in batches:
        link_rows += [(dup, surv, loaded) for dup, surv, _, _ in rows]
        observed, _ = batch_observations(loaded, [
            (dup, day(d), DELETED if op == "d" else surv) for dup, surv, d, op in rows])
        eff += observed
    return link_rows, eff


def _check(vault: Vault, batches: list[tuple[dt.datetime, list]]) -> None:
    link_rows, eff = _observations(batches)
    for known_at in [loaded for loaded, _ in batches]:
        for d in range(-1, 5):
            at = day(d)
            governed = edges_in_effect(link_rows, eff, at, known_at)
            plain = edges_in_effect(link_rows, None, at, known_at)
            for key in KEYS:
                where = f"{key} at day {d} as known at {known_at}"
                assert vault.resolve("customer_same_as", key, at, known_at) == \
                    survivor(governed, key), where
                assert vault.resolve("customer_merged_plain", key, at, known_at) == \
                    survivor(plain, key), where
                assert vault.ancestors(key, at, known_at) == (
                    walk(plain, key), walk(plain, key, up=False)), where
                assert vault.ancestors(key, at, known_at, "customer_tree_eff") == (
                    walk(governed, key), walk(governed, key, up=False)), where
    last = batches[-1][0]
    views = {link: vault.resolved(link) for link in ("customer_same_as",
                                                     "customer_merged_plain")}
    for d in range(-1, 5):
        governed = edges_in_effect(link_rows, eff, day(d), last)
        plain = edges_in_effect(link_rows, None, day(d), last)
        for key in KEYS:
            where = f"the view of {key} at day {d}"
            assert _at(views["customer_same_as"][key], day(d)) == survivor(governed, key), where
            assert _at(views["customer_merged_plain"][key], day(d)) == survivor(plain, key), \
                where
    for link, spans in views.items():  # no two rows of a key hold the same answer in a row
        for key, rows in spans.items():
            assert all(a[:3] != b[:3] and a[4] == b[3] for a, b in zip(rows, rows[1:])), (
                link, key, rows)


# ---- the properties --------------------------------------------------------------------------
@st.composite
def merge_batch(draw):
    """Merges of a few keys and days, some ended; one row per duplicate and day (two are a
    conflict of the effectivity satellite, quarantined there)."""
    cells = draw(st.dictionaries(st.tuples(st.sampled_from(KEYS), st.integers(0, 3)),
                                 st.tuples(st.sampled_from(KEYS), st.sampled_from(["", "d"])),
                                 min_size=1, max_size=4))
    return [(dup, surv, d, op) for (dup, d), (surv, op) in cells.items()]


SETTINGS = settings(max_examples=EXAMPLES, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


@SETTINGS
@given(made=st.lists(merge_batch(), min_size=1, max_size=4), data=st.data())
@example(made=[[("A", "B", 0, "")], [("B", "C", 1, "")], [("C", "A", 2, "")],
               [("A", "B", 3, "d")]], data=None)
@example(made=[[("A", "A", 0, "")],  # B's merge moves from A to C, which merges into A
               [("A", "A", 0, ""), ("B", "A", 0, ""), ("C", "A", 0, ""), ("B", "C", 1, "")]],
         data=None)
def test_resolution_equals_the_reference(vault: Vault, made, data) -> None:
    order = list(range(len(made))) if data is None else data.draw(st.permutations(
        range(len(made))))
    repeats = [] if data is None else data.draw(st.lists(st.integers(0, len(made) - 1),
                                                         max_size=1))
    vault.reset()
    batches = []
    for index in order + repeats:
        batches.append((vault.load(made[index]), made[index]))
    _check(vault, batches)


# ---- regressions -----------------------------------------------------------------------------
def test_a_chain_resolves_to_its_end(vault: Vault) -> None:
    first = vault.load([("A", "B", 0, "")])
    second = vault.load([("B", "C", 1, "")])
    assert vault.resolve("customer_same_as", "A", day(1), second) == ("C", 2, None)
    assert vault.resolve("customer_same_as", "A", day(0), second) == ("B", 1, None)
    assert vault.resolve("customer_same_as", "A", day(1), first) == ("B", 1, None)
    assert vault.resolve("customer_same_as", "a ", day(1), second) == ("C", 2, None)
    assert vault.resolve("customer_same_as", "C", day(1), second) == ("C", 0, None)
    assert vault.resolve("customer_merged_plain", "A", day(-5), second) == ("C", 2, None)


def test_a_cycle_and_two_survivors_resolve_to_the_key_itself(vault: Vault) -> None:
    vault.load([("A", "B", 0, ""), ("B", "C", 0, "")])
    loaded = vault.load([("C", "A", 1, "")])
    assert vault.resolve("customer_same_as", "A", day(0), loaded) == ("C", 2, None)
    assert vault.resolve("customer_same_as", "A", day(1), loaded) == ("A", 0, "cycle")
    assert vault.resolve("customer_same_as", "B", day(1), loaded) == ("B", 0, "cycle")
    assert vault.resolve("customer_same_as", "D", day(1), loaded) == ("D", 0, None)
    into = vault.load([("D", "A", 0, "")])  # a walk into the cycle
    assert vault.resolve("customer_same_as", "D", day(0), into) == ("C", 3, None)
    assert vault.resolve("customer_same_as", "D", day(1), into) == ("D", 0, "cycle")
    # A same as D from day 2: the governed link has one survivor per duplicate, the plain
    # one has both
    again = vault.load([("A", "D", 2, "")])
    # A same as D from day 2, and D same as A: a cycle of its own
    assert vault.resolve("customer_same_as", "A", day(2), again) == ("A", 0, "cycle")
    assert vault.resolve("customer_same_as", "B", day(2), again) == ("B", 0, "cycle")
    assert vault.resolve("customer_same_as", "A", day(2), into) == ("A", 0, "cycle")
    assert vault.resolve("customer_merged_plain", "A", day(2), again) == (
        "A", 0, "several survivors")
    assert vault.resolve("customer_merged_plain", "C", day(2), again) == (
        "C", 0, "several survivors")


def test_a_same_as_that_ends_resolves_the_key_to_itself_after(vault: Vault) -> None:
    vault.load([("A", "B", 1, "")])
    ended = vault.load([("A", "B", 3, "d")])
    assert vault.resolve("customer_same_as", "A", day(0), ended) == ("A", 0, None)
    assert vault.resolve("customer_same_as", "A", day(2), ended) == ("B", 1, None)
    assert vault.resolve("customer_same_as", "A", day(3), ended) == ("A", 0, None)
    assert vault.resolve("customer_same_as", "A", day(3), ended - dt.timedelta(
        microseconds=1)) == ("B", 1, None)


def test_a_hierarchy_walks_ancestors_with_depths(vault: Vault) -> None:
    loaded = vault.load([("A", "B", 0, ""), ("B", "C", 0, ""), ("A", "C", 1, ""),
                         ("C", "A", 1, "")])
    assert vault.ancestors("A", day(0), loaded) == ({"B": 1, "C": 1}, {"C": 1, "B": 2})
    assert vault.ancestors("B", day(0), loaded) == ({"C": 1, "A": 2}, {"A": 1, "C": 2})
    assert vault.ancestors("D", day(0), loaded) == ({}, {})


# ---- validation ------------------------------------------------------------------------------
def _problems(tmp_path: Path, changes: dict[str, str]) -> list[str]:
    root = write_project(tmp_path / "broken", {**PROJECT, **changes})
    result = CliRunner().invoke(main, ["-p", str(root), "validate"])
    assert "Traceback" not in result.output
    assert result.exit_code == 1, result.output
    return result.stderr.splitlines()[:-1]


def test_the_project_is_valid_and_the_declaration_is_in_the_model(tmp_path: Path) -> None:
    root = write_project(tmp_path / "ok", PROJECT)
    result = CliRunner().invoke(main, ["-p", str(root), "validate"])
    assert result.exit_code == 0, result.output
    model = api.validate(root).model
    assert model.links["customer_same_as"].same_as == ("duplicate", "survivor")
    assert model.links["customer_tree"].hierarchy == ("child", "parent")
    assert model.links["customer_tree"].same_as == ()
    assert model.edge_effectivity("customer_same_as").name == "merged"
    assert model.edge_effectivity("customer_merged_plain") is None


LINK = "models/links/customer_same_as.yml"
TWO_HUBS = """
business_key:
  other_id: text
sources:
  customers: customer_id
"""


@pytest.mark.parametrize(("text", "expected"), [
    ("same_as: [duplicate, survivor]",
     ["6:10: same_as must be a mapping of `name: value` lines"]),
    ("same_as: {duplicate: duplicate}",
     ["6:10: same_as needs 'survivor': the role of the survivor (for example: same_as: "
      "{duplicate: ROLE, survivor: ROLE})"]),
    ("same_as: {duplicate: duplicate, survivor: survivr}",
     ["6:43: the link has no role 'survivr' (did you mean 'survivor'?)"]),
    ("same_as: {duplicate: duplicate, survivor: duplicate}",
     ["6:43: the duplicate and the survivor are one role 'duplicate' (name the two roles of "
      "the hub, for example: hubs: [{duplicate: customer}, {survivor: customer}])"]),
    ("same_as: {duplicate: duplicate, survivor: survivor, parent: x}",
     ["6:53: unknown key 'parent' of same_as (expected one of: duplicate, survivor)"]),
    ("same_as: {duplicate: duplicate, survivor: [a]}",
     ["6:43: the survivor role must be a name, not a list"]),
    ("same_as: {duplicate: duplicate, survivor: survivor}\nhierarchy: {child: duplicate, "
     "parent: survivor}",
     ["6:10: a link is either same_as or hierarchy, not both (declare the one its rows mean)",
      "7:12: a link is either hierarchy or same_as, not both (declare the one its rows mean)"]),
    ("same_as: {duplicat: duplicate, survivor: survivor}",
     ["6:10: same_as needs 'duplicate': the role of the duplicate (for example: same_as: "
      "{duplicate: ROLE, survivor: ROLE})",
      "6:11: unknown key 'duplicat' of same_as (did you mean 'duplicate'?)"]),
])
def test_a_bad_declaration_is_reported_with_its_place(tmp_path: Path, text: str,
                                                      expected: list[str]) -> None:
    changed = PROJECT[LINK].replace(
        "same_as: {duplicate: duplicate, survivor: survivor}", text)
    found = _problems(tmp_path, {LINK: changed})
    assert sorted(found) == sorted(f"{LINK}:{e}" for e in expected)


def test_a_declaration_needs_two_roles_of_one_hub(tmp_path: Path) -> None:
    changed = PROJECT[LINK].replace("  - survivor: customer", "  - survivor: other")
    found = _problems(tmp_path, {LINK: changed, "models/hubs/other.yml": TWO_HUBS})
    assert found == [
        f"{LINK}:6:10: the duplicate role 'duplicate' is a customer and the survivor role "
        "'survivor' a other: same_as joins one hub twice (for example: hubs: [{duplicate: "
        "customer}, {survivor: customer}])"]
    three = PROJECT[LINK].replace("  - survivor: customer",
                                  "  - survivor: customer\n  - third: other").replace(
        "    survivor: surv_id", "    survivor: surv_id\n    third: dup_id")
    found = _problems(tmp_path / "3", {LINK: three, "models/hubs/other.yml": TWO_HUBS})
    assert found == [f"{LINK}:7:10: a same_as link joins exactly two roles, not 3 (declare the "
                     "other relationships in a link of their own)"]


def test_two_effectivity_satellites_of_the_duplicate_are_refused(tmp_path: Path) -> None:
    found = _problems(tmp_path, {"models/effectivity_satellites/merged_too.yml": """
link: customer_same_as
driving_key: duplicate
source: merges
"""})
    assert found == [
        "models/effectivity_satellites/merged_too.yml:3:14: effectivity satellite 'merged' "
        "already says when the edges of customer_same_as are in effect (its driving key is "
        "'duplicate' too) (one effectivity satellite of the first role says it; feed it from "
        "one source, or drop this one)"]


def test_a_corrected_merge_replaces_the_earlier_one(vault: Vault) -> None:
    first = vault.load([("A", "B", 1, "")])
    corrected = vault.load([("A", "C", 1, "")])
    assert vault.resolve("customer_same_as", "A", day(1), first) == ("B", 1, None)
    assert vault.resolve("customer_same_as", "A", day(1), corrected) == ("C", 1, None)
    assert vault.resolve("customer_merged_plain", "A", day(1), corrected) == (
        "A", 0, "several survivors")


def test_the_view_resolves_along_applied_time(vault: Vault) -> None:
    vault.load([("A", "B", 1, ""), ("B", "C", 2, "")])
    vault.load([("A", "B", 3, "d")])
    spans = vault.resolved("customer_same_as")
    start = dt.datetime(1, 1, 1)
    assert spans["A"] == [("A", 0, None, start, day(1)), ("B", 1, None, day(1), day(2)),
                          ("C", 2, None, day(2), day(3)), ("A", 0, None, day(3), None)]
    assert spans["D"] == [("D", 0, None, start, None)]  # on no edge
    vault.load([("C", "A", 2, "")])
    spans = vault.resolved("customer_same_as")
    assert spans["B"] == [("B", 0, None, start, day(2)), ("B", 0, "cycle", day(2), day(3)),
                          ("A", 2, None, day(3), None)]
    assert vault.resolved("customer_merged_plain")["B"] == [("B", 0, "cycle", start, None)]
    vault.load([("A", "D", 4, "")])
    plain = vault.resolved("customer_merged_plain")
    assert plain["B"] == [("B", 0, "several survivors", start, None)]
    assert plain["D"] == [("D", 0, None, start, None)]
    # a link no longer declared same-as loses its view at the next build
    (vault.root / "models/links/customer_merged_plain.yml").write_text(
        PROJECT["models/links/customer_merged_plain.yml"].replace(
            "same_as:\n  duplicate: duplicate\n  survivor: survivor\n", ""))
    session = api.open_session(vault.root, url=vault.url)
    session.build_marts()
    with session.engine.connect() as connection:
        views = set(sa.inspect(connection).get_view_names())
    session.close()
    assert "customer_same_as__resolved" in views
    assert "customer_merged_plain__resolved" not in views


# ---- the generated SQL -----------------------------------------------------------------------
GOLDEN = Path(__file__).parent / "golden_kinds" / "same_as"
UPDATE = os.environ.get("DATAVAULT_UPDATE_GOLDEN") == "1"


@pytest.mark.parametrize("dialect", ENGINES)
def test_generated_views_match_the_golden_files(dialect: str, tmp_path: Path) -> None:
    root = write_project(tmp_path / "project", PROJECT)
    api.generate(root, dialect, tmp_path / "out")
    for link in ("customer_same_as", "customer_merged_plain"):
        generated = (tmp_path / "out" / "marts" / f"{link}__resolved.sql").read_text()
        golden = GOLDEN / dialect / f"{link}__resolved.sql"
        if UPDATE:
            golden.parent.mkdir(parents=True, exist_ok=True)
            golden.write_text(generated, encoding="utf-8", newline="\n")
        assert generated == golden.read_text(encoding="utf-8"), f"{golden} differs"
    assert not (tmp_path / "out" / "marts" / "customer_tree__resolved.sql").exists()


#: a bridge through the same-as link and the hierarchy, each step with its roles (three
#: places of the customer; tests/test_marts_roles.py runs it), and a status of the customer
#: that the golden project's bridge requires live in each place
ROLE_BRIDGES = {
    "models/marts/merged_parent.yml": """
bridge:
  - customer
  - customer_same_as: {from: duplicate, to: survivor}
  - customer
  - customer_tree: {from: child, to: parent}
  - customer
effective: [merged]
spine: {every: day, from: 2026-01-01, to: 2026-01-06}
""",
}
STATUS = {"models/satellites/customer_status.yml": "parent: customer\nsource: customers\n"
                                                  "payload: []\n"}


@pytest.mark.parametrize("dialect", ENGINES)
def test_a_role_bridge_matches_the_golden_files(dialect: str, tmp_path: Path) -> None:
    """Each place of the hub is named by its role: its column, its business key in the
    views; the hierarchy leaves out a row from a key to itself. (The behaviour is tested in
    tests/test_marts_roles.py.)"""
    root = write_project(tmp_path / "project", {**PROJECT, **ROLE_BRIDGES, **STATUS})
    api.generate(root, dialect, tmp_path / "out")
    for name in ("merged_parent.sql", "merged_parent_views.sql", "ddl.sql"):
        generated = (tmp_path / "out" / "marts" / name).read_text()
        golden = GOLDEN / dialect / "bridge" / name
        if UPDATE:
            golden.parent.mkdir(parents=True, exist_ok=True)
            golden.write_text(generated, encoding="utf-8", newline="\n")
        assert generated == golden.read_text(encoding="utf-8"), f"{golden} differs"


# ---- query and history ---------------------------------------------------------------------
def _cli(vault: Vault, *args: str) -> str:
    result = CliRunner().invoke(main, ["-p", str(vault.root), "--url", vault.url, *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_query_and_history_of_links_without_satellites(vault: Vault) -> None:
    import json
    vault.load([("A", "B", 1, ""), ("B", "C", 2, "")])
    vault.load([("A", "B", 3, "d")])
    at = ["--at", day(2).isoformat()]
    resolved = json.loads(_cli(vault, "query", "customer_same_as", "--key", "a", "--key", "D",
                               *at, "--format", "json"))
    assert [{k: r[k] for k in ("duplicate.customer_id", "survivor.customer_id", "steps",
                               "conflict")} for r in resolved] == [
        {"duplicate.customer_id": "A", "survivor.customer_id": "C", "steps": 2, "conflict": None},
        {"duplicate.customer_id": "D", "survivor.customer_id": "D", "steps": 0, "conflict": None}]
    # the relationships in effect at day 3: A's merge ended
    listed = json.loads(_cli(vault, "query", "customer_same_as", "--at", day(3).isoformat(),
                             "--format", "json"))
    assert [(r["duplicate.customer_id"], r["survivor.customer_id"]) for r in listed] == [
        ("B", "C")]
    # without an effectivity satellite, every relationship loaded
    listed = json.loads(_cli(vault, "query", "customer_merged_plain", "--at",
                             day(0).isoformat(), "--format", "json"))
    assert [(r["duplicate.customer_id"], r["survivor.customer_id"]) for r in listed] == [
        ("A", "B"), ("B", "C")]
    history = json.loads(_cli(vault, "history", "customer_same_as", "--format", "json"))
    assert [(r["duplicate.customer_id"], r["survivor.customer_id"], r["batch"])
            for r in history] == [("A", "B", 2), ("B", "C", 2)]
    text = _cli(vault, "query", "customer_tree", "--key", "A", *at)
    assert "child.customer_id" in text and "parent.customer_id" in text and "depth" in text
    tree = json.loads(_cli(vault, "query", "customer_tree", "--key", "A", *at, "--format",
                           "json"))
    assert [(r["parent.customer_id"], r["depth"]) for r in tree] == [("B", 1), ("C", 2)]
    one = json.loads(_cli(vault, "history", "customer_tree", "--key", "A|B", "--format",
                          "json"))
    assert [(r["child.customer_id"], r["parent.customer_id"]) for r in one] == [("A", "B")]


def test_the_schema_check_of_a_query_takes_in_the_effectivity_satellite(tmp_path: Path) -> None:
    from datavault import schemacheck
    model = api.validate(write_project(tmp_path / "p", PROJECT)).model
    scope = schemacheck.entity_scope(model, "customer_same_as")
    assert {"link_customer_same_as", "hub_customer", "eff_merged"} <= scope.tables
    assert "effectivity_satellite merged" in scope.items
    assert "eff_merged" not in schemacheck.entity_scope(model, "customer_merged_plain").tables


@settings(max_examples=max(SETTING // 2, 20), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(same_as=st.one_of(st.sampled_from(["duplicate", "survivor", "child", "parent"]),
                         FUZZ_DATA),
       key=st.sampled_from(["same_as", "hierarchy"]), with_roles=st.booleans(),
       data=st.data())
def test_validation_of_a_declaration_never_crashes(tmp_path: Path, same_as, key, with_roles,
                                                   data) -> None:
    if with_roles:  # a mapping of the right keys to odd values
        names = ["duplicate", "survivor"] if key == "same_as" else ["child", "parent"]
        same_as = {n: data.draw(st.one_of(st.sampled_from(["duplicate", "survivor", "x"]),
                                          FUZZ_DATA)) for n in names}
    link = yaml.safe_load(PROJECT[LINK])
    link.pop("same_as")
    link[key] = same_as
    root = tmp_path / f"p{next(_COUNTER)}"
    write_project(root, {**PROJECT, LINK: yaml.safe_dump(link)})
    try:
        api.validate(root)
    except ModelError as exc:
        for problem in exc.problems:
            assert problem.line >= 1 and problem.message, problem


_COUNTER = itertools.count()
