"""The run plan of a project, from its model alone: which loads and mart builds an
orchestrator runs, what each must come after, and which may run at once.

A step is ``load SOURCE`` (a batch of the source, into every entity it feeds, in the
loader's order) or ``build MART``. Loads of different sources are independent (each batch is
loaded on its own, SEMANTICS.md section 3), except that sources feeding one entity that takes
batches in load-time order share one load lock (``kinds.load_lock_group``): the loader runs
their loads one after another, so an orchestrator gains nothing by starting them together. A
mart is built after the loads of every source that feeds an entity it reads (its hub or link,
a link's hubs, its path, the satellites it points at, the effectivity satellites and reference
tables it reads). The stages are waves: every step of a stage may start once the stages
before it are done. Nothing here touches a database.
"""

from __future__ import annotations

from dataclasses import dataclass

from datavault import model as m
from datavault.kinds import load_lock_group

LOAD = "load"
BUILD = "build"


@dataclass(frozen=True)
class Step:
    """One thing an orchestrator runs: a load of a source, or a build of a mart."""

    action: str  # LOAD or BUILD
    target: str  # the source or the mart
    #: a load: the entities it feeds, in load order; a build: the entities the mart reads
    entities: tuple[str, ...]
    #: the steps it must come after, by name
    after: tuple[str, ...]
    #: the wave it belongs to, from 1: every step of a stage may run at once
    stage: int
    #: a load: its source; a build: the sources whose loads it comes after
    sources: tuple[str, ...]
    #: a load: the sources whose loads share its load lock, itself included (sorted); a
    #: build: none
    lock: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """``load SOURCE`` or ``build MART``."""
        return step_name(self.action, self.target)


@dataclass(frozen=True)
class Plan:
    """Every step of a project, loads first (sources by name), then builds (marts by name)."""

    steps: tuple[Step, ...]

    def step(self, name: str) -> Step:
        return next(s for s in self.steps if s.name == name)

    @property
    def loads(self) -> tuple[Step, ...]:
        return tuple(s for s in self.steps if s.action == LOAD)

    @property
    def builds(self) -> tuple[Step, ...]:
        return tuple(s for s in self.steps if s.action == BUILD)

    @property
    def stages(self) -> tuple[tuple[str, ...], ...]:
        """The steps of each stage, by name, stage 1 first."""
        last = max((s.stage for s in self.steps), default=0)
        return tuple(tuple(s.name for s in self.steps if s.stage == n)
                     for n in range(1, last + 1))

    @property
    def exclusive(self) -> tuple[tuple[str, ...], ...]:
        """Groups of load steps that never run at once (they share a load lock)."""
        groups = sorted({s.lock for s in self.loads if len(s.lock) > 1})
        return tuple(tuple(step_name(LOAD, source) for source in group) for group in groups)


    def as_json(self) -> dict:
        """The plan in JSON types, with the keys ``datavault plan --format json`` prints."""
        return {"steps": [{"step": s.name, "action": s.action, "target": s.target,
                           "stage": s.stage, "after": list(s.after),
                           "entities": list(s.entities), "sources": list(s.sources),
                           "lock": list(s.lock)} for s in self.steps],
                "stages": [list(stage) for stage in self.stages],
                "exclusive": [list(group) for group in self.exclusive]}


def step_name(action: str, target: str) -> str:
    return f"{action} {target}"


def mart_entities(model: m.Model, mart: m.Mart) -> tuple[str, ...]:
    """The entities a mart reads, in the model's order: its hub or link (a link's hubs too),
    its path, the satellites it points at or requires, the effectivity satellites and the
    reference tables it reads."""
    read = {mart.parent, *mart.path, *mart.satellites, *mart.effective,
            *(lookup.reference_table for lookup in mart.codes)}
    for name in list(read):
        link = model.links.get(name)
        if link is not None:
            read |= {role.hub for role in link.roles}
    return tuple(name for name in model.entities if name in read)


def plan(model: m.Model) -> Plan:
    """The steps of ``model``: a load per source, a build per mart after the loads of the
    sources it reads."""
    steps = [Step(LOAD, source, tuple(model.entities_of(source)), (), 1, (source,),
                  load_lock_group(model, source))
             for source in sorted(model.sources)]
    for name in sorted(model.marts):
        entities = mart_entities(model, model.marts[name])
        sources = tuple(s for s in sorted(model.sources)
                        if any(model.entities[e].fed_by(s) for e in entities))
        after = tuple(step_name(LOAD, s) for s in sources)
        steps.append(Step(BUILD, name, entities, after, 2 if after else 1, sources))
    return Plan(tuple(steps))
