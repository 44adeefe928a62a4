"""Loads of several sources, their steps interleaved as the load locks allow, give the vault
that one loader gives, on SQLite and PostgreSQL.

Three sources share a hub; one of them also feeds a second hub, a link between the two and
the link's satellite. Each source gets a few small random batches (overlapping keys,
corrections of days seen before, conflicting rows, rows without a key, a row whose time does
not parse). Each batch is loaded by a loader of its own, one of:

- a **whole** load, `Loader.load`: one call that holds its source's lock from numbering the
  batch to its end, and first finishes an earlier batch of the source that a stopped loader
  left;
- a **step-wise** load: `Loader.stage`, `Loader.load_entity` for each entity it feeds in a
  random order, `Loader.finish`;
- a **stopped** load: `stage` and some of the entity loads (perhaps `finish` too, which finds
  the batch partly loaded), then nothing: its batch is finished later by `Loader.resume` or
  by the next whole load of its source.

A deterministic scheduler interleaves the steps of the loaders through that public API, with
choices drawn by hypothesis. The batches of one source load one after another (a satellite
takes them in load-time order), though a later step-wise or stopped loader may stage its batch
while the ones before it load or wait for their resume, as an orchestrator staging ahead does
(not past a whole load, which numbers its batch only when it runs); loaders of different
sources interleave freely. Inside a whole load, a resume or a stage, wherever the loader
reports progress between two of its transactions, the scheduler runs steps of other loaders
whose lock is free: on PostgreSQL, where each source has its own lock, whole loads of other
sources too; on SQLite, whose lock covers the database, only entity loads (they take no
lock).

The property: the vault equals the one a single loader makes loading the same batches one by
one in batch-id order: satellites and their `__obs` logs row for row (load times and batch
ids as the batch's rank), hubs and links by key set (which batch inserted a key first may
differ), the same rows in `dv_quarantine`; every batch is `loaded` and the staging tables are
empty; and every satellite state equals the plain-Python reference of SEMANTICS.md section 2
at every applied time as known at every batch's load time. Besides the random plans, a few
interleavings are checked every time: a batch staged ahead, a stopped batch finished by the
next whole load, a resume with the next batch staged, a load inside another source's.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from datavault import api, hashing, schema
from datavault.load import Loader, LoadResult, open_input
from tests.conftest import migrated, write_project
from tests.reference import reference_state

EXAMPLES = max(int(os.environ.get("DATAVAULT_PROPERTY_EXAMPLES", "100")) // 5, 5)
DAY0 = dt.datetime(2026, 1, 1)

PROJECT = {
    "models/sources/crm.yml": "applied_at: day\ncolumns: {k: text, day: timestamp, v: text}\n",
    "models/sources/web.yml": "applied_at: day\ncolumns: {k: text, day: timestamp, v: text}\n",
    "models/sources/shop.yml":
        "applied_at: day\ncolumns: {k: text, g: text, day: timestamp, w: text}\n",
    "models/hubs/thing.yml": "business_key: {k: text}\nsources:\n  crm:\n  web:\n  shop:\n",
    "models/hubs/team.yml": "business_key: {g: text}\nsources:\n  shop:\n",
    "models/links/thing_team.yml": "hubs: [thing, team]\nsources:\n  shop: {thing: k, team: g}\n",
    "models/satellites/thing_crm.yml": "parent: thing\nsource: crm\npayload: [v]\n",
    "models/satellites/thing_web.yml": "parent: thing\nsource: web\npayload: [v]\n",
    "models/satellites/thing_team_state.yml":
        "parent: thing_team\nsource: shop\npayload: [w]\n",
}
#: what each source feeds, in the order a whole load loads it
ENTITIES = {"crm": ["thing", "thing_crm"], "web": ["thing", "thing_web"],
            "shop": ["thing", "team", "thing_team", "thing_team_state"]}
#: satellite: (source, payload column, whether it describes the link)
SATELLITES = {"thing_crm": ("crm", "v", False), "thing_web": ("web", "v", False),
              "thing_team_state": ("shop", "w", True)}
KEYS = ["A", "B", "C"]
TEAMS = ["T1", "T2"]
DAYS = [0, 1, 2, 3]
#: where a loader reports progress between two of its transactions: other loaders may go on
BETWEEN_TRANSACTIONS = {"resuming", "batch", "staged", "entity-start", "entity"}
MAX_DEPTH = 2

# Few keys, days and values, so that batches overlap and correct one another. An empty key is
# quarantined by the hub and the satellite, a day that is not a time while staging, and two
# rows of one batch for one key and day with other values by the satellite (a conflict).
key = st.sampled_from(KEYS * 3 + [""])
day = st.sampled_from(DAYS * 4 + [None])
value = st.sampled_from(["x", "y", "z"])
ROWS = {
    "crm": st.fixed_dictionaries({"k": key, "day": day, "v": value}),
    "web": st.fixed_dictionaries({"k": key, "day": day, "v": value}),
    "shop": st.fixed_dictionaries({"k": st.sampled_from(KEYS), "g": st.sampled_from(TEAMS),
                                   "day": day, "w": value}),
}


@dataclass
class Plan:
    """One loader: its batch's rows and how it loads them."""

    source: str
    rows: list[dict]
    kind: str  # whole | steps | stop
    order: list[str]  # the entity loads of a step-wise or stopped loader, in order
    done: int = 0  # a stopped loader: how many of them it runs
    finish: bool = False  # a stopped loader: whether it calls finish before stopping
    resumed_by: str = ""  # a stopped loader: "resume", or "next" (the next whole load)


@st.composite
def plans(draw) -> dict[str, list[Plan]]:
    """Per source, its loaders in the order of their batches."""
    result = {}
    for source, most in (("crm", 3), ("shop", 3), ("web", 2)):
        loaders: list[Plan] = []
        count = draw(st.integers(1 if source == "crm" else 0, most))
        for number in range(count):
            rows = draw(st.lists(ROWS[source], max_size=5))
            previous = loaders[-1] if loaders else None
            if previous is not None and previous.resumed_by == "next":
                kind = "whole"
            else:
                kind = draw(st.sampled_from(["whole", "steps", "stop"]))
            order = draw(st.permutations(ENTITIES[source]))
            plan = Plan(source, rows, kind, list(order))
            if kind == "stop":
                plan.done = draw(st.integers(0, len(order) - 1))
                plan.finish = draw(st.booleans())
                last = number == count - 1
                plan.resumed_by = "resume" if last or draw(st.booleans()) else "next"
            loaders.append(plan)
        result[source] = loaders
    return result


@dataclass
class Actor:
    """A loader at work: the steps it has left."""

    plan: Plan
    path: str
    loader: Loader
    steps: list[str]
    target: Actor | None = None  # a resume: the stopped loader whose batch it finishes
    staged: LoadResult | None = None
    batch_id: int | None = None
    busy: bool = False
    resumed: list[int] = field(default_factory=list)

    @property
    def source(self) -> str:
        return self.plan.source

    @property
    def kind(self) -> str:
        return "resume" if self.target is not None else self.plan.kind


class Scheduler:
    """Runs the loaders' steps one at a time, where the load locks let them run, in the
    order that ``choose`` says: ``choose(n)`` picks one of the ``n`` loaders ready to go on,
    or how many steps of others (0 to ``n - 1``) run where a loader's call reports
    progress."""

    def __init__(self, vault: Vault, queues: dict[str, list[Actor]],
                 choose: Callable[[int], int], note: Callable[[str], None]):
        self.vault = vault
        self.queues = queues
        self.choose = choose
        self.note = note  # what happened, for hypothesis's statistics
        self.depth = 0

    def run(self) -> None:
        while any(self.queues.values()):
            ready = self.ready()
            assert ready, "no loader can go on"
            self.step(ready[self.choose(len(ready))])

    def ready(self) -> list[Actor]:
        """The loaders whose next step may run now: the first of each source, and a later
        step-wise or stopped one whose batch is the next to stage, to stage it ahead (no
        whole load is before it: that would number its batch later)."""
        found = []
        for queue in self.queues.values():
            for place, actor in enumerate(queue):
                if actor.busy or not self.lock_free(actor):
                    break
                if place == 0 or actor.steps[0] == "stage":
                    found.append(actor)
                if actor.kind == "whole" or (actor.kind != "resume" and actor.batch_id is None):
                    break
        return found

    def lock_free(self, actor: Actor) -> bool:
        """Whether the actor's next step can take the lock it needs (inside another
        loader's call, that loader holds its own)."""
        if self.depth == 0 or actor.steps[0].startswith("entity:"):
            return True
        return not actor.loader.is_running(actor.source)

    def progress(self, event: str, **_: object) -> None:
        """Called by a whole load, a resume or a stage: let other loaders go on."""
        assert event != "waiting", "a step waited for a lock that was free when it began"
        if event not in BETWEEN_TRANSACTIONS or self.depth >= MAX_DEPTH:
            return
        self.depth += 1
        try:
            for _ in range(self.choose(3)):
                ready = self.ready()
                if not ready:
                    break
                self.step(ready[self.choose(len(ready))])
        finally:
            self.depth -= 1

    def step(self, actor: Actor) -> None:
        step = actor.steps.pop(0)
        queue = self.queues[actor.source]
        if step == "stage" and queue[0] is not actor:
            self.note("a batch staged while the one before it loads")
        if self.depth:
            self.note(f"a step inside another loader's call: {step.split(':')[0]}")
        model = self.vault.model
        actor.busy = True
        try:
            if step == "stage":
                actor.staged = actor.loader.stage(actor.source, open_input(actor.path),
                                                  progress=self.progress)
                actor.batch_id = actor.staged.batch_id
            elif step.startswith("entity:"):
                assert actor.staged is not None
                outcome = actor.loader.load_entity(model.sources[actor.source],
                                                   step.split(":", 1)[1], actor.staged)
                assert outcome.status == "ok", outcome.message
            elif step == "finish":
                assert actor.batch_id is not None
                state = actor.loader.finish(actor.batch_id)
                assert state == ("loaded" if actor.kind == "steps" else "partly loaded")
            elif step == "load":
                result = actor.loader.load(actor.source, open_input(actor.path), force=True,
                                           progress=self.progress)
                assert result.ok, [e.message for e in result.entities]
                actor.batch_id = result.batch_id
                actor.resumed = [r.batch_id for r in result.resumed]
            else:
                assert actor.target is not None and actor.target.batch_id is not None
                result = actor.loader.resume(actor.target.batch_id, progress=self.progress)
                assert result.ok and result.batch_id == actor.target.batch_id
        finally:
            actor.busy = False
        if not actor.steps:
            self.queues[actor.source].remove(actor)



def _write(path: Path, source: str, rows: list[dict]) -> str:
    columns = ["k", "g", "day", "w"] if source == "shop" else ["k", "day", "v"]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "day": "not a day" if row["day"] is None
                             else (DAY0 + dt.timedelta(days=row["day"])).isoformat()})
    return str(path)


class Vault:
    """The project above on one database, emptied between examples."""

    def __init__(self, root: Path, url: str):
        write_project(root, PROJECT)
        self.session = api.open_session(root, url=migrated(root, url))
        self.model = self.session.project.model
        self.metadata = schema.metadata_for(self.model)

    def loader(self) -> Loader:
        """A loader of its own, as another process would have."""
        s = self.session
        return Loader(self.model, s.engine, s.loader.dialect, s.loader.renderer)

    def reset(self) -> None:
        with self.session.engine.begin() as connection:
            for table in self.metadata.sorted_tables:
                if table.name != schema.CONTRACT_TABLE:
                    connection.execute(table.delete())

    def rows(self, table: str) -> list[dict]:
        t = self.metadata.tables[table]
        with self.session.engine.connect() as connection:
            return [dict(r._mapping) for r in connection.execute(sa.select(t))]

    def contents(self) -> dict[str, list]:
        """Every table a load writes, with each load time and batch id as the batch's rank,
        and hubs and links as their keys."""
        batches = sorted(self.rows(schema.BATCH_TABLE), key=lambda b: b["batch_id"])
        rank = {b["batch_id"]: n for n, b in enumerate(batches)}
        rank_at = {_ts(b["loaded_at"]): n for n, b in enumerate(batches)}
        result: dict[str, list] = {}
        for name in self.metadata.tables:
            if name in (schema.BATCH_TABLE, schema.AUDIT_TABLE, schema.CONTRACT_TABLE):
                continue
            rows = []
            for row in self.rows(name):
                if name.startswith(("hub_", "link_")):
                    for column in ("load_ts", "batch_id", "record_source"):
                        del row[column]
                if "load_ts" in row:
                    row["load_ts"] = rank_at[_ts(row["load_ts"])]
                if "batch_id" in row:
                    row["batch_id"] = rank[row["batch_id"]]
                rows.append(tuple(sorted(row.items())))
            result[name] = sorted(rows, key=repr)
        return result


def _ts(value) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))


@pytest.fixture
def vaults(tmp_path: Path, make_db_url):
    made = [Vault(tmp_path / "interleaved", make_db_url()),
            Vault(tmp_path / "one_loader", make_db_url())]
    yield made
    for vault in made:
        vault.session.close()


def _actors(vault: Vault, plans_: dict[str, list[Plan]], folder: Path) -> dict[str, list]:
    """Each source's loaders, in order: a stopped loader's batch is finished by a resume right
    after it, or by the next loader (a whole load)."""
    queues: dict[str, list[Actor]] = {}
    for source, loaders in plans_.items():
        queue = queues.setdefault(source, [])
        for number, plan in enumerate(loaders):
            path = _write(folder / f"{source}_{number}.csv", source, plan.rows)
            entities = [f"entity:{e}" for e in plan.order]
            steps = {"whole": ["load"], "steps": ["stage", *entities, "finish"],
                     "stop": ["stage", *entities[:plan.done]]
                     + (["finish"] if plan.finish else [])}[plan.kind]
            actor = Actor(plan, path, vault.loader(), steps)
            queue.append(actor)
            if plan.resumed_by == "resume":
                queue.append(Actor(plan, path, vault.loader(), ["resume"], target=actor))
    return queues


def _observations(batches: list[tuple[str, dt.datetime, list[dict]]]) -> dict[str, list]:
    """SEMANTICS.md section 2's observations of each satellite: per batch, one per key and
    day; rows without a key or a time are not observations, and rows of one batch that give
    one key and day different values are a conflict and none is."""
    result: dict[str, list] = {}
    for sat, (source, column, of_link) in SATELLITES.items():
        observations = result.setdefault(sat, [])
        for batch_source, loaded_at, rows in batches:
            if batch_source != source:
                continue
            seen: dict[tuple, set] = defaultdict(set)
            for row in rows:
                if row["day"] is None or not row["k"]:
                    continue
                k = (row["k"], row["g"]) if of_link else row["k"]
                seen[k, row["day"]].add(row[column])
            observations += [(k, DAY0 + dt.timedelta(days=d), loaded_at, next(iter(found)))
                             for (k, d), found in seen.items() if len(found) == 1]
    return result


def _check_states(vault: Vault, batches: list[tuple[str, dt.datetime, list[dict]]]) -> None:
    """Every satellite state, at every applied time as known at every batch's load time, is
    the reference's."""
    algorithm = vault.model.settings.hash
    business = {hashing.hash_key([(k, "text")], algorithm): k for k in KEYS}
    business.update({hashing.hash_key([(k, "text"), (g, "text")], algorithm): (k, g)
                     for k in KEYS for g in TEAMS})
    load_times = [loaded_at for _, loaded_at, _ in batches]
    grid = [DAY0 + dt.timedelta(days=d) for d in range(-1, len(DAYS) + 1)]
    expected = _observations(batches)
    for sat, (_, column, of_link) in SATELLITES.items():
        key_column = schema.sat_key_column(vault.model.satellites[sat])
        stored = [(business[bytes(r[key_column])], _ts(r["applied_ts"]), _ts(r["load_ts"]),
                   r[column]) for r in vault.rows(vault.model.sat_table(sat))]
        keys = [(k, g) for k in KEYS for g in TEAMS] if of_link else KEYS
        for k in keys:
            for at in grid:
                for known_at in load_times:
                    want = reference_state(expected[sat], k, at, known_at)
                    got = reference_state(stored, k, at, known_at)
                    assert got == want, (
                        f"{sat} {k} at {at:%Y-%m-%d} as known at batch "
                        f"{load_times.index(known_at) + 1}: {got}, the reference says {want}")


def _check(vaults: list[Vault], folder: Path, plan: dict[str, list[Plan]],
           choose: Callable[[int], int], note: Callable[[str], None]) -> None:
    """Load the plan's batches interleaved as ``choose`` says into the first vault, one by
    one into the second, and check that they agree and that the first keeps the reference."""
    interleaved, one_loader = vaults
    for vault in vaults:
        vault.reset()
    queues = _actors(interleaved, plan, folder)
    actors = [a for queue in queues.values() for a in queue if a.target is None]
    Scheduler(interleaved, queues, choose, note).run()

    ledger = sorted(interleaved.rows(schema.BATCH_TABLE), key=lambda b: b["batch_id"])
    assert [b["status"] for b in ledger] == ["loaded"] * len(actors), (
        "not every batch is loaded: "
        + ", ".join(f"{b['batch_id']} of {b['source']} {b['status']}" for b in ledger))
    for table in interleaved.metadata.tables:
        if table.startswith("stg_"):
            assert interleaved.rows(table) == [], f"{table} is not empty"
    by_batch = {a.batch_id: a for a in actors}
    assert sorted(by_batch) == [b["batch_id"] for b in ledger]
    for actor in actors:
        if actor.plan.resumed_by:
            note("a stopped batch finished by "
                  + ("resume" if actor.plan.resumed_by == "resume" else "the next whole load"))
        if actor.plan.resumed_by == "next":  # and it was the whole load that finished it
            after = next(a for a in actors if a.source == actor.source
                         and a.batch_id > actor.batch_id)
            assert actor.batch_id in after.resumed

    loader = one_loader.loader()
    for batch in ledger:
        actor = by_batch[batch["batch_id"]]
        result = loader.load(actor.source, open_input(actor.path), force=True)
        assert result.ok, [e.message for e in result.entities]
    got, want = interleaved.contents(), one_loader.contents()
    for table in want:
        assert got[table] == want[table], f"{table} differs from one loader's"
    _check_states(interleaved, [(by_batch[b["batch_id"]].source, _ts(b["loaded_at"]),
                                 by_batch[b["batch_id"]].plan.rows) for b in ledger])


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(plan=plans(), data=st.data())
def test_interleaved_loads_give_the_vault_of_one_loader(vaults, tmp_path_factory, plan,
                                                        data) -> None:
    _check(vaults, tmp_path_factory.mktemp("batches"), plan,
           lambda among: data.draw(st.integers(0, among - 1)), event)


def _batch(source: str, kind: str, *rows: tuple, **how) -> Plan:
    """A plan of one loader: rows (key, day, value), or (key, team, day, value) for shop."""
    names = ["k", "g", "day", "w"] if source == "shop" else ["k", "day", "v"]
    return Plan(source, [dict(zip(names, r)) for r in rows], kind,
                how.pop("order", ENTITIES[source]), **how)


#: interleavings that must come out right every time: the plan, the choices that make them,
#: and what the scheduler must have seen happen (inside a whole load: where the sources'
#: locks are separate)
CASES = {
    # the second batch of crm is staged while the first loads: each load reads only its own
    # batch's rows (A on day 0 is x, then y: not a conflict between the two)
    "staged ahead": ({"crm": [
        _batch("crm", "steps", ("A", 0, "x"), ("", 1, "x")),
        _batch("crm", "steps", ("A", 0, "y"), ("B", 1, "x"), order=["thing_crm", "thing"])]},
        [0, 0, 0, 1],  # stage the first (nothing inside it), then stage the second
        "a batch staged while the one before it loads"),
    # a batch stopped after its satellite's load and found partly loaded is finished by the
    # next whole load of its source, before that load's own batch
    "finished by the next load": ({"crm": [
        _batch("crm", "stop", ("A", 0, "x"), order=["thing_crm", "thing"], done=1,
               finish=True, resumed_by="next"),
        _batch("crm", "whole", ("A", 1, "y"))]},
        [], "a stopped batch finished by the next whole load"),
    # a stopped batch is resumed while the next one is staged already
    "resumed with the next staged": ({"web": [
        _batch("web", "stop", ("A", 0, "x"), ("B", 2, "y"), done=1, resumed_by="resume"),
        _batch("web", "steps", ("A", 0, "y"), ("B", 2, "x"))]},
        [0, 0, 0, 1],  # stage the stopped one, then stage the next before the resume
        "a batch staged while the one before it loads"),
    # inside a whole load of shop, as soon as its batch is numbered, crm stages and loads its
    # hub (on SQLite, whose lock the whole load holds, crm waits for it)
    "inside a whole load": ({
        "crm": [_batch("crm", "steps", ("A", 0, "x"), ("C", 1, "y"))],
        "shop": [_batch("shop", "whole", ("A", "T1", 0, "x"), ("C", "T2", 1, "y"))]},
        [1, 2], "a step inside another loader's call: stage"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_interleavings_that_must_come_out_right(vaults, tmp_path: Path, case: str) -> None:
    plan, choices, expected = CASES[case]
    given_choices = iter(choices)
    seen: list[str] = []
    _check(vaults, tmp_path, {s: plan.get(s, []) for s in ENTITIES},
           lambda among: next(given_choices, 0) % among, seen.append)
    loader = vaults[0].loader()
    scopes = {loader.dialect.load_lock(loader.engine, s).scope for s in ENTITIES}
    if "inside" not in expected or len(scopes) > 1:
        assert expected in seen, f"the case did not happen: {seen}"
    else:
        assert not any("inside" in note for note in seen), seen


def test_a_satellite_waits_for_an_earlier_batch_that_has_not_loaded_it(vaults,
                                                                      tmp_path: Path) -> None:
    """An orchestrator stages and loads a batch while an earlier one of its source, stopped
    after staging, has not loaded the satellite yet: the satellite refuses the later batch
    (taking it would refuse the earlier one for ever), and once the earlier batch is resumed
    the later one loads, and the vault is one loader's."""
    interleaved, one_loader = vaults
    crm = interleaved.model.sources["crm"]
    paths = [_write(tmp_path / f"crm_{n}.csv", "crm", [{"k": "A", "day": n, "v": v}])
             for n, v in enumerate("xy")]
    loader = interleaved.loader()
    first = loader.stage("crm", open_input(paths[0]))
    second = loader.stage("crm", open_input(paths[1]))
    assert loader.load_entity(crm, "thing", second).status == "ok"
    refused = loader.load_entity(crm, "thing_crm", second)
    assert refused.status == "failed"
    assert refused.message == (
        f"thing_crm must load batch {first.batch_id} of crm (staged) before batch "
        f"{second.batch_id}: finish it first (`datavault load --resume {first.batch_id}`), "
        f"then load batch {second.batch_id}'s thing_crm")
    assert loader.finish(second.batch_id) == "partly loaded"
    assert loader.resume(first.batch_id).ok
    assert loader.resume(second.batch_id).ok
    for path in paths:
        assert one_loader.loader().load("crm", open_input(path)).ok
    assert interleaved.contents() == one_loader.contents()
