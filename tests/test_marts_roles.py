"""A bridge step through a link that joins one hub twice (SEMANTICS.md section 4, with the
edges of section 10), on SQLite and PostgreSQL, against the plain-Python reference
(``tests/reference.py``).

Parts and their parents: a hierarchy fed by full daily bills of materials, with an
effectivity satellite whose driving key is the child (so one parent per part at a time, a
part a bill lacks has none), and a catalog whose full extracts make each part live or not.
After any sequence of extracts and builds, the bridge from child to parent with the
effectivity satellite holds at each snapshot exactly the edges in effect whose two parts are
live, as the reference answers from the extracts; the same step without it holds every edge
ever loaded between live parts; the step walked from parent to child, built in full, holds
the same edges the other way (so the refreshed bridge equals a full build); ``_current`` is
the reference now and ``_history`` its maximal spans. Then: the explicit cases (a parent that
changes and returns; a duplicate customer, and a path of three places of one hub), validation
with places, and a role bridge over a link the hub names twice next to a plain one.
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
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from datavault import api, marts
from datavault.diagnostics import ModelError
from datavault.load import open_input
from tests.conftest import migrated, write_project
from tests.reference import (
    batch_observations,
    bridge_step,
    edges_in_effect,
    live_state,
    runs,
    snapshot_deletions,
)
from tests.test_kind_same_as import PROJECT as SAME_AS_PROJECT
from tests.test_kind_same_as import ROLE_BRIDGES
from tests.test_marts_effective import Vault as EffectiveVault
from tests.test_validate import problems
from tests.test_validate_fuzz import DATA as FUZZ_DATA

#: 50 at CI's setting (1000)
EXAMPLES = max(int(os.environ.get("DATAVAULT_PROPERTY_EXAMPLES", "100")) // 20, 5)
DAY0 = dt.datetime(2026, 1, 1)
PARTS = ["A", "B", "C", "D"]
END = float("inf")  # as known after every batch (batch i is loaded at i)
NOW = dt.datetime.now(dt.UTC).replace(tzinfo=None)
_SPINE = "spine: {every: day, from: 2026-01-01, to: 2026-01-08}\n"

PROJECT = {
    "models/sources/catalog.yml": """
batch: snapshot
applied_at: day
columns: {p: text, name: text, day: timestamp}
""",
    "models/sources/bom.yml": """
batch: snapshot
applied_at: day
columns: {child: text, parent: text, day: timestamp}
""",
    "models/hubs/part.yml": "business_key: {p: text}\nsources:\n  catalog:\n",
    "models/satellites/part_name.yml": "parent: part\nsource: catalog\npayload: [name]\n",
    "models/links/part_hierarchy.yml": """
hubs:
  - child: part
  - parent: part
hierarchy: {child: child, parent: parent}
sources:
  bom: {child: child, parent: parent}
""",
    "models/effectivity_satellites/parent_of.yml": """
link: part_hierarchy
driving_key: [child]
source: bom
""",
    # the parent of each part as in effect at each snapshot
    "models/marts/parents.yml": """
bridge:
  - part
  - part_hierarchy: {from: child, to: parent}
  - part
effective: [parent_of]
""" + _SPINE,
    # the same edges walked down, in the flow form
    "models/marts/children.yml":
        "bridge: [part, part_hierarchy: {from: parent, to: child}, part]\n"
        "effective: parent_of\n" + _SPINE,
    # every edge ever loaded, at every snapshot at which both parts are live
    "models/marts/ever.yml":
        "bridge: [part, part_hierarchy: {from: child, to: parent}, part]\n" + _SPINE,
}


class Vault(EffectiveVault):
    """A vault of ``files``, whose loads name their source."""

    def __init__(self, root: Path, url: str, files: dict[str, str] = PROJECT):
        write_project(root, files)
        self.root = root
        self.session = api.open_session(root, url=migrated(root, url))
        self.model = self.session.project.model
        self.builder = marts.MartBuilder(self.model, self.session.engine,
                                         self.session.loader.renderer)
        self.md = marts.metadata(self.model)
        self.files = itertools.count()

    def load(self, source: str, header: list[str], rows: list[list[str]]) -> None:
        path = self.root / f"batch_{next(self.files)}.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(rows)
        # force: an extract identical to one loaded before is a new batch, as the reference
        # takes it
        result = self.session.loader.load(source, open_input(str(path)),
                                          allow_mass_delete=True, force=True)
        assert result.ok and not result.skipped, [e.message for e in result.entities]

    def reset(self) -> None:
        with self.session.engine.begin() as connection:
            for table in list(api.schema.build_metadata(self.model).tables) + list(
                    self.md.tables):
                if table != api.schema.CONTRACT_TABLE and sa.inspect(connection).has_table(
                        table):
                    connection.exec_driver_sql(f"DELETE FROM {table}")


def day(n: int) -> dt.datetime:
    return DAY0 + dt.timedelta(days=n)


@pytest.fixture
def vault(tmp_path: Path, db_url: str):
    v = Vault(tmp_path / "project", db_url)
    yield v
    v.session.close()


# ---- the reference ---------------------------------------------------------------------------
Step = tuple[str, int, dict[str, str]]  # (source, day, {part: name} or {child: parent})


def load(vault: Vault, step: Step) -> None:
    source, d, rows = step
    header = ["p", "name", "day"] if source == "catalog" else ["child", "parent", "day"]
    vault.load(source, header, [[k, v, day(d).isoformat()] for k, v in rows.items()])


class Reference:
    """What the extracts say, batch i loaded at i: the catalog's observations (section 5), the
    hierarchy's link rows and its effectivity satellite's observations (sections 6 and 10)."""

    def __init__(self, steps: list[Step]):
        self.catalog: list[tuple] = []
        self.link_rows: list[tuple] = []
        self.effectivity: list[tuple] = []
        snapshots: dict[str, list[tuple]] = {"catalog": [], "bom": []}
        for loaded, (source, d, rows) in enumerate(steps, 1):
            observed = batch_observations(loaded, [(k, day(d), v) for k, v in rows.items()])[0]
            if source == "catalog":
                self.catalog += observed
            else:
                self.effectivity += observed
                self.link_rows += [(c, p, loaded) for c, p in rows.items()]
            snapshots[source].append((loaded, day(d), list(rows)))
        self.catalog += snapshot_deletions(snapshots["catalog"])
        self.effectivity += snapshot_deletions(snapshots["bom"])
        self.points = sorted({o[1] for o in self.catalog + self.effectivity})

    def paths(self, at: dt.datetime, governed: bool = True) -> set[tuple]:
        """(child, parent) on a bridge of one step from child to parent at ``at``."""
        edges = edges_in_effect(self.link_rows, self.effectivity if governed else None, at, END)
        return bridge_step(edges, lambda part: live_state(self.catalog, part, at, END)
                           is not None)

    def spans(self, governed: bool = True) -> set[tuple]:
        """(child, parent, valid from, valid to): each path's maximal spans on the bridge."""
        on = {t: self.paths(t, governed) for t in self.points}
        every = {(c, p) for c, p, _ in self.link_rows}
        return {(*path, start, end) for path in every
                for start, end in runs(self.points, lambda t, path=path: path in on[t])}


def check(vault: Vault, steps: list[Step]) -> None:
    ref = Reference(steps)
    vault.build("parents")
    vault.build("ever")
    vault.build("children", full=True)
    parents = {(r["snapshot_at"], r["child_p"], r["parent_p"]) for r in vault.select(
        "SELECT * FROM parents_snapshot")}
    children = {(r["snapshot_at"], r["child_p"], r["parent_p"]) for r in vault.select(
        "SELECT * FROM children_snapshot")}
    assert parents == children, "a refreshed bridge differs from a full build walked down"
    ever = {(r["snapshot_at"], r["child_p"], r["parent_p"]) for r in vault.select(
        "SELECT * FROM ever_snapshot")}
    for d in range(8):
        at = day(d)
        assert {(c, p) for t, c, p in parents if t == at} == ref.paths(at), f"parents at {at}"
        assert {(c, p) for t, c, p in ever if t == at} == ref.paths(at, False), f"ever at {at}"
    # one parent per part and snapshot, whatever the moves
    assert len({(t, c) for t, c, _ in parents}) == len(parents)
    assert {(r["child_p"], r["parent_p"]) for r in vault.select(
        "SELECT * FROM parents_current")} == ref.paths(NOW)
    assert {(r["child_p"], r["parent_p"]) for r in vault.select(
        "SELECT * FROM ever_current")} == ref.paths(NOW, False)
    assert {(r["child_p"], r["parent_p"]) for r in vault.select(
        "SELECT * FROM children_current")} == ref.paths(NOW)
    for mart, governed in (("parents", True), ("children", True), ("ever", False)):
        assert {(r["child_p"], r["parent_p"], r["valid_from"], r["valid_to"])
                for r in vault.select(f"SELECT * FROM {mart}_history")} == ref.spans(
            governed), f"{mart}_history"


# ---- the property ----------------------------------------------------------------------------
# each part is in a catalog extract, under one of two names, or not (then it is deleted)
catalog = st.tuples(st.just("catalog"), st.integers(0, 7), st.fixed_dictionaries(
    {p: st.sampled_from(["bolt", "nut", ""]) for p in PARTS}).map(
    lambda names: {p: name for p, name in names.items() if name}).filter(bool))
bom = st.tuples(st.just("bom"), st.integers(0, 7), st.dictionaries(
    st.sampled_from(PARTS), st.sampled_from(PARTS), min_size=1, max_size=3))
# each extract, and whether the marts are built (and checked) after it
plan = st.lists(st.tuples(st.one_of(catalog, bom), st.booleans()), min_size=1, max_size=6)


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(steps=plan)
# a part its own parent (no edge), a parent that changes and returns, a part that leaves the
# catalog for a while, a late bill between two others
@example(steps=[(("catalog", 0, {"A": "bolt", "B": "nut", "C": "nut"}), False),
                (("bom", 1, {"A": "B", "C": "C"}), True), (("bom", 4, {"A": "C"}), False),
                (("catalog", 3, {"A": "bolt", "B": "nut"}), True),
                (("bom", 6, {"A": "B"}), False),
                (("catalog", 5, {"A": "bolt", "B": "nut", "C": "nut"}), False),
                (("bom", 2, {"A": "C"}), False)])
def test_a_role_bridge_holds_the_edges_in_effect_between_live_parts(vault: Vault,
                                                                     steps) -> None:
    """Every refresh (after the extracts that ask for one, and after the last) equals the
    reference."""
    vault.reset()  # a fresh vault per example
    loaded: list[Step] = []
    for index, (step, build) in enumerate(steps):
        load(vault, step)
        loaded.append(step)
        if build or index == len(steps) - 1:
            check(vault, loaded)


# ---- explicit cases --------------------------------------------------------------------------
def test_a_parent_that_changes_and_returns(vault: Vault) -> None:
    steps: list[Step] = [("catalog", 0, {"A": "wheel", "B": "car", "C": "van", "D": "bike"}),
                         ("bom", 1, {"A": "B"}), ("bom", 3, {"A": "C"}), ("bom", 5, {"A": "B"})]
    for step in steps:
        load(vault, step)
    vault.build("parents")
    vault.build("ever")
    shown = [(r["snapshot_at"].day, r["child_p"], r["parent_p"]) for r in vault.select(
        "SELECT * FROM parents_snapshot ORDER BY snapshot_at")]
    assert shown == [(2, "A", "B"), (3, "A", "B"), (4, "A", "C"), (5, "A", "C"),
                     (6, "A", "B"), (7, "A", "B"), (8, "A", "B")]
    assert sorted((r["parent_p"], r["valid_from"].day, r["valid_to"] and r["valid_to"].day)
                  for r in vault.select("SELECT * FROM parents_history")) == [
        ("B", 2, 4), ("B", 6, None), ("C", 4, 6)]
    # without effective: both parents at every snapshot, from the catalog's first day
    assert {(r["snapshot_at"].day, r["parent_p"]) for r in vault.select(
        "SELECT * FROM ever_snapshot")} == {(d, p) for d in range(1, 9) for p in "BC"}
    check(vault, steps)
    late = ("bom", 4, {"A": "D"})  # D on the 5th instead of C, B again from the 6th
    steps.append(late)
    load(vault, late)
    refreshed = vault.build("parents")
    # A's row of the 5th is rewritten (C to D); nothing before it
    assert (refreshed.rows_deleted, refreshed.rows_inserted) == (4, 4)
    check(vault, steps)
    dropped = ("catalog", 6, {"A": "wheel", "C": "van", "D": "bike"})  # B leaves the catalog
    steps.append(dropped)
    load(vault, dropped)
    check(vault, steps)
    assert [r["snapshot_at"].day for r in vault.select(
        "SELECT * FROM parents_snapshot WHERE parent_p = 'B' ORDER BY snapshot_at")] == [
        2, 3, 6]


def test_the_bridge_tables_and_views_name_each_place_by_its_role(vault: Vault) -> None:
    vault.build("parents")
    vault.build("children")
    with vault.session.engine.connect() as connection:
        inspector = sa.inspect(connection)
        columns = {name: [c["name"] for c in inspector.get_columns(name)] for name in (
            "bridge_parents", "bridge_children", "parents_snapshot", "children_current",
            "parents_history")}
    assert columns == {
        "bridge_parents": ["child_hk", "part_hierarchy_hk", "parent_hk", "snapshot_ts"],
        "bridge_children": ["parent_hk", "part_hierarchy_hk", "child_hk", "snapshot_ts"],
        "parents_snapshot": ["snapshot_at", "child_p", "parent_p"],
        "children_current": ["parent_p", "child_p"],
        "parents_history": ["child_p", "parent_p", "valid_from", "valid_to"]}


SAME_AS = {
    **SAME_AS_PROJECT, **ROLE_BRIDGES,
    "models/marts/merged.yml": """
bridge:
  - customer
  - customer_same_as: {from: duplicate, to: survivor}
  - customer
effective: [merged]
spine: {every: day, from: 2026-01-01, to: 2026-01-06}
""",
}


def test_a_duplicate_customer_stands_beside_its_survivor_one_edge_at_a_time(
        tmp_path: Path, db_url: str) -> None:
    """A same as B from day 0, B same as C from day 1, A's merge ended on day 3: the bridge
    holds A beside B and B beside C, never A beside its survivor C (no closure)."""
    v = Vault(tmp_path / "project", db_url, SAME_AS)
    try:
        v.load("customers", ["customer_id"], [[k] for k in PARTS])
        v.load("merges", ["dup_id", "surv_id", "day", "op"],
               [["A", "B", day(0).isoformat(), ""], ["B", "C", day(1).isoformat(), ""]])
        v.load("merges", ["dup_id", "surv_id", "day", "op"],
               [["A", "B", day(3).isoformat(), "d"]])
        v.build("merged")
        v.build("merged_parent")
        shown = {(r["snapshot_at"].day, r["duplicate_customer_id"], r["survivor_customer_id"])
                 for r in v.select("SELECT * FROM merged_snapshot")}
        assert shown == {(1, "A", "B"), (2, "A", "B"), (3, "A", "B"),
                         (2, "B", "C"), (3, "B", "C"), (4, "B", "C"), (5, "B", "C"),
                         (6, "B", "C")}
        assert [(r["duplicate_customer_id"], r["survivor_customer_id"]) for r in v.select(
            "SELECT * FROM merged_current")] == [("B", "C")]
        assert sorted((r["duplicate_customer_id"], r["survivor_customer_id"],
                       r["valid_from"], r["valid_to"]) for r in v.select(
            "SELECT * FROM merged_history")) == [("A", "B", day(0), day(3)),
                                                 ("B", "C", day(1), None)]
        # the tree has every row loaded, from the start of time: A's survivor B, its parent C
        three = {(r["snapshot_at"].day, r["duplicate_customer_id"], r["survivor_customer_id"],
                  r["parent_customer_id"]) for r in v.select(
            "SELECT * FROM merged_parent_snapshot")}
        assert three == {(1, "A", "B", "C"), (2, "A", "B", "C"), (3, "A", "B", "C")}
        assert v.select("SELECT * FROM merged_parent_current") == []
    finally:
        v.session.close()


# ---- validation ------------------------------------------------------------------------------
M = "models/marts/m.yml"


@pytest.mark.parametrize(("text", "message"), [
    ("bridge: [part, part_hierarchy, part]\n",
     f"{M}:1:16: link 'part_hierarchy' joins part, part; it joins 'part' in 2 roles, so the "
     "path is ambiguous (a bridge step goes hub, link, hub through hubs the link joins; where "
     "it joins one hub twice, name the roles: part_hierarchy: {from: child, to: parent})"),
    ("bridge: [part, part_hierarchy: {from: kid, to: parent}, part]\n",
     f"{M}:1:39: link 'part_hierarchy' has no role 'kid' (expected one of: child, parent)"),
    ("bridge: [part, part_hierarchy: {from: chld, to: parent}, part]\n",
     f"{M}:1:39: link 'part_hierarchy' has no role 'chld' (did you mean 'child'?)"),
    ("bridge: [part, part_hierarchy: {from: child, to: child}, part]\n",
     f"{M}:1:50: step 2 of the path goes from role 'child' to itself (a step goes from one "
     "role of the link to another)"),
    ("bridge: [part, part_hierarchy: {from: child}, part]\n",
     f"{M}:1:32: missing required key 'to'"),
    ("bridge: [part, part_hierarchy: {from: child, to: parent, up: 1}, part]\n",
     f"{M}:1:58: unknown key 'up' (expected one of: from, to)"),
    ("bridge: [part, part_hierarchy: [child, parent], part]\n",
     f"{M}:1:32: the roles of step 2 of the path must be a mapping (write part_hierarchy: "
     "{from: child, to: parent})"),
    ("bridge: [part, {part_hierarchy: {from: child, to: parent}, ever: 1}, part]\n",
     f"{M}:1:16: step 2 of the path names one link with its roles, not 2 keys (write LINK: "
     "{from: ROLE, to: ROLE})"),
    ("bridge: [part, part_hierarchie: {from: child, to: parent}, part]\n",
     f"{M}:1:16: step 2 of the path must be a link; unknown link 'part_hierarchie' (did you "
     "mean 'part_hierarchy'?)"),
    ("bridge: [part, part_hierarchy: {from: child, to: parent}, part, part_hierarchy: "
     "{from: child, to: parent}, part]\n",
     f"{M}:1:65: link 'part_hierarchy' appears twice in the path (a step walks one link once; "
     "`datavault query LINK --key K` walks a same-as link or a hierarchy to any depth)"),
    ("bridge: [part, part_hierarchy: {from: child, to: parent}, part, part_copy: "
     "{from: copy, to: parent}, part]\n",
     f"{M}:1:102: hub 'part' appears twice in the path in the role 'parent' (a hub that a "
     "path names more than once is named by its role in each place (in the link before it; "
     "the first place, in the link after it), so each place needs a role of its own)"),
    ("bridge: [part, part_hierarchy: {from: child, to: parent}, part, part_copy: "
     "{from: parent, to: part_hierarchy}, part]\n",
     f"{M}:1:112: hub 'part' in the role 'part_hierarchy' would be named like step 2 of the "
     "path, 'part_hierarchy' (a hub that a path names more than once is named by its role in "
     "each place, and no two places of a path may share a name)"),
    ("bridge: [part, supplied_by: {from: supplier, to: part}, supplier]\n",
     f"{M}:1:36: role 'supplier' of link 'supplied_by' is a supplier, not the part before "
     "the step (a step goes from a role of the hub before it to a role of the hub after it)"),
    ("bridge: [part, supplied_by, part]\n",
     f"{M}:1:16: link 'supplied_by' joins 'part' in one role (part), so a step through it "
     "cannot go from 'part' to 'part' (a step goes from one role of the link to another)"),
])
def test_a_role_step_is_checked_with_its_place(tmp_path: Path, text: str, message: str) -> None:
    files = {k: v for k, v in PROJECT.items() if not k.startswith("models/marts/")}
    files["models/sources/supply.yml"] = "columns: {p: text, s: text, c: text, q: text}\n"
    files["models/hubs/supplier.yml"] = "business_key: {s: text}\nsources:\n  supply:\n"
    files["models/links/supplied_by.yml"] = ("hubs: [part, supplier]\nsources:\n"
                                             "  supply: {part: p, supplier: s}\n")
    files["models/links/part_copy.yml"] = (
        "hubs:\n  - copy: part\n  - parent: part\n  - part_hierarchy: part\nsources:\n"
        "  supply: {copy: c, parent: p, part_hierarchy: q}\n")
    files[M] = text + _SPINE
    root = write_project(tmp_path / "p", files)
    assert problems(root) == [message]


def test_a_role_step_through_a_link_of_two_hubs_is_the_plain_step(tmp_path: Path) -> None:
    files = {k: v for k, v in PROJECT.items() if not k.startswith("models/marts/")}
    files["models/sources/supply.yml"] = "columns: {p: text, s: text}\n"
    files["models/hubs/supplier.yml"] = "business_key: {s: text}\nsources:\n  supply:\n"
    files["models/links/supplied_by.yml"] = ("hubs: [part, supplier]\nsources:\n"
                                             "  supply: {part: p, supplier: s}\n")
    files["models/marts/plain.yml"] = "bridge: [part, supplied_by, supplier]\n" + _SPINE
    files["models/marts/roles.yml"] = (
        "bridge: [part, supplied_by: {from: part, to: supplier}, supplier]\n" + _SPINE)
    model = api.validate(write_project(tmp_path / "p", files)).model
    plain, roles = model.marts["plain"], model.marts["roles"]
    assert plain.roles == roles.roles == (("part", "supplier"),)
    assert plain.places == roles.places == plain.path
    assert marts.definition(model, plain) == marts.definition(model, roles)


_COUNTER = itertools.count()
ROLE = st.sampled_from(["child", "parent", "part", "x"])


@settings(max_examples=max(int(os.environ.get("DATAVAULT_PROPERTY_EXAMPLES", "100")) // 4, 20),
          deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                HealthCheck.too_slow])
@given(step=st.one_of(
    st.fixed_dictionaries({"part_hierarchy": st.one_of(
        st.fixed_dictionaries({}, optional={"from": ROLE | FUZZ_DATA, "to": ROLE | FUZZ_DATA,
                                            "up": FUZZ_DATA}), FUZZ_DATA)}),
    FUZZ_DATA), ends=st.lists(st.sampled_from(["part", "part_hierarchy", "x"]) | FUZZ_DATA,
                              min_size=2, max_size=4))
def test_validation_of_a_bridge_path_never_crashes(tmp_path: Path, step, ends) -> None:
    """Whatever stands in a path, `validate` answers with problems that have their places."""
    files = {k: v for k, v in PROJECT.items() if not k.startswith("models/marts/")}
    files[M] = yaml.safe_dump({"bridge": [ends[0], step, *ends[1:]]}) + _SPINE
    root = write_project(tmp_path / f"p{next(_COUNTER)}", files)
    try:
        api.validate(root)
    except ModelError as exc:
        for problem in exc.problems:
            assert problem.line >= 1 and problem.message, problem


def test_the_roles_of_a_step_are_part_of_a_bridges_definition(tmp_path: Path) -> None:
    """A step walked the other way is another bridge: a change of its roles rebuilds it."""
    model = api.validate(write_project(tmp_path / "p", PROJECT)).model
    parents, children = model.marts["parents"], model.marts["children"]
    assert parents.path == children.path and parents.effective == children.effective
    assert parents.roles == (("child", "parent"),) and children.roles == (("parent", "child"),)
    assert marts.definition(model, parents) != marts.definition(model, children)


def test_a_code_lookup_in_a_hub_of_several_places_is_refused(tmp_path: Path) -> None:
    """Which place's key (the child's or the parent's) a lookup means is not said: refused,
    never the first place taken silently."""
    files = {k: v for k, v in PROJECT.items() if not k.startswith("models/marts/")}
    files["models/sources/kinds.yml"] = "batch: snapshot\ncolumns: {p: text, label: text}\n"
    files["models/reference_tables/part_kind.yml"] = (
        "source: kinds\ncode: {p: text}\npayload: {label: text}\n")
    files[M] = ("bridge: [part, part_hierarchy: {from: child, to: parent}, part]\n"
                "codes:\n  part_kind: {column: part.p}\n" + _SPINE)
    root = write_project(tmp_path / "p", files)
    assert problems(root) == [
        f"{M}:3:23: hub 'part' has several places on this path (child, parent), and a code "
        "lookup does not say which place's key it looks up: look the code up in a PIT of the "
        "hub"]
