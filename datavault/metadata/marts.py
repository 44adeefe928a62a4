"""Validation of ``models/marts/*.yml``: PIT and bridge marts and their snapshot spines.

Marts are read after every hub, link and satellite, so a mart is checked against the valid
parts of the model only (a broken satellite file is reported once, in that file).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from datavault import model as m
from datavault.diagnostics import did_you_mean
from datavault.kinds import KINDS, Described, described
from datavault.metadata.yamlfile import LList, LMap

SPINE_HINT = ("give dates: [2026-01-31, ...], or every: day|week|month with from: (and to:), "
              "or ladder: [{every: day, for: 30}, {every: week, for: 52}, {every: month}]")


def read_mart(name: str, doc: Any, data: LMap, model: m.Model, broken: set[str]) -> m.Mart | None:
    """A mart from its file, or None after reporting its problems to ``doc``.

    ``broken`` names hubs, links and satellites whose own files have problems: references to
    them are not reported again.
    """
    doc.keys(data, ("description", "pit", "bridge", "satellites", "require", "effective",
                    "spine"), ("spine",))
    description = doc.description(data)
    if ("pit" in data) == ("bridge" in data):
        doc.at((data.line, data.col), "a mart needs exactly one of pit: or bridge:",
               "pit: HUB_OR_LINK follows one key over time; "
               "bridge: [HUB, LINK, HUB] follows a path between hubs")
        return None
    spine = _spine(doc, data) if "spine" in data else None
    if spine is not None:
        try:
            # a spine without to: grows by the day; marts build checks it again
            spine.check(dt.datetime.now(dt.UTC).date())
        except m.SpineError as exc:
            doc.at(data.value_at("spine"), exc.message, exc.hint)
            spine = None
    if "pit" in data:
        mart = _pit(name, doc, data, model, broken, description, spine)
    else:
        mart = _bridge(name, doc, data, model, broken, description, spine)
    return mart if spine is not None else None


# ---- PIT ----------------------------------------------------------------------------------
def _pit(name: str, doc: Any, data: LMap, model: m.Model, broken: set[str], description: str,
         spine: m.Spine | None) -> m.Mart | None:
    if "require" in data:
        doc.at(data.key_at("require"), "require: is for bridges",
               "a PIT lists the satellites it points at under satellites:")
    if "effective" in data:
        doc.at(data.key_at("effective"), "effective: is for bridges",
               "a bridge names under effective: the effectivity satellites that say which "
               "relationship of a link on its path is in effect")
    parent = doc.word(data["pit"], data.value_at("pit"), "pit")
    if parent is None:
        return None
    targets = described(model)
    if parent in model.hubs:
        kind = "hub"
    elif parent in model.links:
        kind = "link"
    else:
        if parent in targets:
            doc.at(data.value_at("pit"), f"pit must name a hub or a link; {parent!r} is a "
                   f"{_kind_words(model, parent)}", f"write pit: {targets[parent].parent} and "
                   f"list {parent} under satellites:")
        elif parent in model.entities:
            doc.at(data.value_at("pit"), f"pit must name a hub or a link; {parent!r} is "
                   f"{_a(_kind_words(model, parent))}",
                   KINDS[str(model.entity_kind(parent))].not_in_marts)
        elif parent not in broken:
            doc.at(data.value_at("pit"), f"unknown hub or link {parent!r}",
                   did_you_mean(parent, list(model.hubs) + list(model.links))
                   or "a PIT follows a hub or a link")
        return None
    if "satellites" in data:
        chosen = _satellite_list(doc, data, "satellites", model, broken, {parent})
        if chosen is None:
            return None
        several = [name for name in chosen if targets[name].multi_row]
        if len(several) > 1:
            doc.at(data.value_at("satellites"),
                   f"a PIT points at one multi-active satellite at most, not "
                   f"{len(several)} ({', '.join(several)})",
                   "its views have a row per member of the set, and two sets would pair every "
                   "member of one with every member of the other; make a PIT for each")
            return None
    else:
        chosen = _single_rows(targets, {parent})
        if not chosen:
            many = sorted(n for n, t in targets.items() if t.parent == parent)
            doc.at(data.value_at("pit"), f"{kind} {parent!r} has no satellites to point at",
                   f"list the multi-active satellite under satellites: [{many[0]}]" if many
                   else "a PIT points at satellite rows; add a satellite whose parent is "
                   f"{parent}")
            return None
    if spine is None:
        return None
    return m.Mart(name, "pit", spine, parent=parent, parent_kind=kind, satellites=chosen,
                  description=description)


def _satellite_list(doc: Any, data: LMap, key: str, model: m.Model, broken: set[str],
                    parents: set[str]) -> tuple[str, ...] | None:
    """The satellites (of any kind that marts see) listed under ``key``, each of a parent in
    ``parents``."""
    targets = described(model)
    value = data[key]
    if not isinstance(value, LList) or not value:
        doc.at(data.value_at(key), f"{key} must be a list of satellites",
               f"for example {key}: [{next(iter(sorted(targets)), 'details')}]")
        return None
    result: list[str] = []
    ok = True
    for index, item in enumerate(value):
        where = value.item_at(index)
        if doc.word(item, where, f"item {index + 1} of {key}") is None:
            ok = False
            continue
        if item not in targets:
            ok = False
            if item in model.entities:
                doc.at(where, f"{item!r} is {_a(_kind_words(model, item))}, which a mart "
                       "cannot point at", KINDS[str(model.entity_kind(item))].not_in_marts)
            elif item not in broken:
                doc.at(where, f"unknown satellite {item!r}",
                       did_you_mean(str(item), targets) or "see models/satellites/")
            continue
        sat = targets[item]
        if sat.parent not in parents:
            ok = False
            doc.at(where, f"{_kind_words(model, item)} {item!r} describes "
                   f"{model.entity_kind(sat.parent)} {sat.parent}, "
                   f"not {' or '.join(sorted(parents))}")
            continue
        if item in result:
            ok = False
            doc.at(where, f"satellite {item!r} is listed twice")
            continue
        result.append(item)
    return tuple(result) if ok else None


def _single_rows(targets: dict[str, Described], parents: set[str]) -> tuple[str, ...]:
    """What a mart that lists no satellites uses: every satellite of ``parents`` whose state is
    one row (a multi-active satellite changes the grain of a PIT's views to one row per member,
    so a mart uses it when it lists it)."""
    return tuple(sorted(n for n, t in targets.items()
                        if t.parent in parents and not t.multi_row and t.by_default))


def _kind_words(model: m.Model, name: str) -> str:
    return str(model.entity_kind(name)).replace("_", " ")


def _a(words: str) -> str:
    """``words`` with its indefinite article."""
    return ("an " if words[:1] in tuple("aeiou") else "a ") + words


# ---- bridge -------------------------------------------------------------------------------
def _bridge(name: str, doc: Any, data: LMap, model: m.Model, broken: set[str],
            description: str, spine: m.Spine | None) -> m.Mart | None:
    if "satellites" in data:
        doc.at(data.key_at("satellites"), "satellites: is for PITs",
               "a bridge lists the satellites that make each step live under require:")
    raw = data["bridge"]
    where = data.value_at("bridge")
    shape_hint = "write the path as [HUB, LINK, HUB], or longer: [HUB, LINK, HUB, LINK, HUB]"
    if not isinstance(raw, LList) or len(raw) < 3 or len(raw) % 2 == 0:
        doc.at(where, "bridge must be a path of hubs joined by links", shape_hint)
        return None
    path, roles = _path(doc, raw, model, broken, shape_hint)
    if path is None or roles is None:
        return None
    on_path = set(path)
    if "require" in data:
        required = _satellite_list(doc, data, "require", model, broken, on_path)
        if required is None:
            return None
    else:
        required = _single_rows(described(model), on_path)
    effective: tuple[str, ...] = ()
    if "effective" in data:
        chosen = _effective(doc, data, model, broken, path)
        if chosen is None:
            return None
        effective = chosen
    if spine is None:
        return None
    return m.Mart(name, "bridge", spine, parent=path[0], parent_kind="hub",
                  satellites=required, path=tuple(path), description=description,
                  effective=effective, roles=roles)


ROLE_STEP = "LINK: {from: ROLE, to: ROLE}"


def _path(doc: Any, raw: LList, model: m.Model, broken: set[str], shape_hint: str
          ) -> tuple[list[str] | None, tuple[tuple[str, str], ...] | None]:
    """The names of a bridge's path, and per link the roles its step goes from and to; (None,
    None) after reporting its problems. A link step is a link's name, or a mapping of the
    link's name to the roles ``{from: ROLE, to: ROLE}``."""
    path: list[str] = []
    written: dict[int, LMap] = {}  # link steps given with their roles
    ok = True
    for index, item in enumerate(raw):
        want, group = ("hub", model.hubs) if index % 2 == 0 else ("link", model.links)
        at = raw.item_at(index)
        if index % 2 == 1 and isinstance(item, LMap):
            if len(item) != 1:
                ok = False
                doc.at(at, f"step {index + 1} of the path names one link with its roles, not "
                       f"{len(item)} keys", f"write {ROLE_STEP}")
                continue
            (item,) = item
            written[index] = raw[index]
            at = raw[index].key_at(item)
        if doc.word(item, at, f"step {index + 1} of the path") is None:
            ok = False
            continue
        path.append(item)
        if item not in group:
            ok = False
            if item not in broken:
                other = model.entity_kind(str(item))
                hint = (f"{item!r} is a {other}; {shape_hint}" if other else
                        did_you_mean(str(item), group) or shape_hint)
                doc.at(at, f"step {index + 1} of the path must be a {want}; "
                       f"unknown {want} {item!r}", hint)
        elif want == "link" and item in path[:-1]:
            ok = False
            doc.at(at, f"link {item!r} appears twice in the path",
                   "a step walks one link once; `datavault query LINK --key K` walks a "
                   "same-as link or a hierarchy to any depth")
    if not ok:
        return None, None
    roles: list[tuple[str, str]] = []
    for index in range(1, len(path), 2):
        step = _step_roles(doc, raw, index, written.get(index), model.links[path[index]],
                           path[index - 1], path[index + 1])
        if step is None:
            ok = False
        else:
            roles.append(step)
    if not ok:
        return None, None
    places = m.bridge_places(tuple(path), tuple(roles))
    for index, place in enumerate(places):
        first = places.index(place)
        if first == index:
            continue
        ok = False
        hub = path[index]
        if path[first] == hub:
            doc.at(raw.item_at(index), f"hub {hub!r} appears twice in the path in the role "
                   f"{place!r}", "a hub that a path names more than once is named by its role "
                   "in each place (in the link before it; the first place, in the link after "
                   "it), so each place needs a role of its own")
        else:
            doc.at(raw.item_at(index), f"hub {hub!r} in the role {place!r} would be named "
                   f"like step {first + 1} of the path, {path[first]!r}",
                   "a hub that a path names more than once is named by its role in each "
                   "place, and no two places of a path may share a name")
    return (path, tuple(roles)) if ok else (None, None)


def _step_roles(doc: Any, raw: LList, index: int, written: LMap | None, link: m.Link,
                before: str, after: str) -> tuple[str, str] | None:
    """The roles a link step goes from and to: as written, or the one role in which the link
    joins each neighbour hub."""
    hubs = [r.hub for r in link.roles]
    hub_of = {r.role: r.hub for r in link.roles}
    example = (f"{link.name}: {{from: {link.roles[0].role}, to: {link.roles[1].role}}}"
               if len(link.roles) > 1 else ROLE_STEP)
    if written is None:
        found = []
        for neighbour in (before, after):
            joined = [r.role for r in link.roles if r.hub == neighbour]
            if len(joined) != 1:
                doc.at(raw.item_at(index),
                       f"link {link.name!r} joins {', '.join(hubs)}; " + (
                           f"it does not join {neighbour!r}" if not joined else
                           f"it joins {neighbour!r} in {len(joined)} roles, so the path is "
                           "ambiguous"),
                       "a bridge step goes hub, link, hub through hubs the link joins; where it "
                       f"joins one hub twice, name the roles: {example}" if joined else
                       "a bridge step goes hub, link, hub through hubs the link joins")
                return None
            found += joined
        if found[0] == found[1]:
            doc.at(raw.item_at(index), f"link {link.name!r} joins {before!r} in one role "
                   f"({found[0]}), so a step through it cannot go from {before!r} to "
                   f"{after!r}", "a step goes from one role of the link to another")
            return None
        return found[0], found[1]
    spec = written[link.name]
    at = written.value_at(link.name)
    if not isinstance(spec, LMap):
        doc.at(at, f"the roles of step {index + 1} of the path must be a mapping",
               f"write {example}")
        return None
    doc.keys(spec, ("from", "to"), ("from", "to"))
    if set(spec) - {"from", "to"} or not {"from", "to"} <= set(spec):
        return None
    chosen = []
    for key, hub in (("from", before), ("to", after)):
        role = doc.word(spec[key], spec.value_at(key), key)
        if role is None:
            return None
        if role not in hub_of:
            doc.at(spec.value_at(key), f"link {link.name!r} has no role {role!r}",
                   did_you_mean(str(role), hub_of))
            return None
        if hub_of[role] != hub:
            side = "before" if key == "from" else "after"
            doc.at(spec.value_at(key), f"role {role!r} of link {link.name!r} is a "
                   f"{hub_of[role]}, not the {hub} {side} the step",
                   "a step goes from a role of the hub before it to a role of the hub after it")
            return None
        chosen.append(role)
    if chosen[0] == chosen[1]:
        doc.at(spec.value_at("to"), f"step {index + 1} of the path goes from role "
               f"{chosen[0]!r} to itself", "a step goes from one role of the link to another")
        return None
    return chosen[0], chosen[1]


def _effective(doc: Any, data: LMap, model: m.Model, broken: set[str], path: list[str]
               ) -> tuple[str, ...] | None:
    """The effectivity satellites under a bridge's ``effective:``, each of a link on the path,
    at most one per link."""
    value = data["effective"]
    links = [str(step) for step in path[1::2]]
    kind = "effectivity_satellite"
    mine = sorted(n for n, e in model.entities.items()
                  if e.kind == kind and getattr(e, "link", None) in links)
    example = f"effective: [{mine[0] if mine else 'ORDER_CUSTOMER_EFF'}]"
    if isinstance(value, str):
        value_list = [(value, data.value_at("effective"))]
    elif isinstance(value, LList) and value:
        value_list = [(item, value.item_at(i)) for i, item in enumerate(value)]
    else:
        doc.at(data.value_at("effective"), "effective must be a list of effectivity satellites",
               example)
        return None
    result: list[str] = []
    ok = True
    for index, (item, where) in enumerate(value_list):
        if doc.word(item, where, f"item {index + 1} of effective") is None:
            ok = False
            continue
        entity = model.entities.get(item)
        if entity is None or entity.kind != kind:
            ok = False
            if entity is not None:
                doc.at(where, f"{item!r} is {_a(_kind_words(model, item))}, not an effectivity "
                       "satellite", "effective: names effectivity satellites of the links on "
                       "the path" + (f": {', '.join(mine)}" if mine else ""))
            elif item not in broken:
                everyone = [n for n, e in model.entities.items() if e.kind == kind]
                doc.at(where, f"unknown effectivity satellite {item!r}",
                       did_you_mean(str(item), everyone)
                       or "see models/effectivity_satellites/")
            continue
        link = getattr(entity, "link", "")
        if link not in links:
            ok = False
            doc.at(where, f"effectivity satellite {item!r} follows link {link}, which is not "
                   "on the path", f"the path's links are {', '.join(links)}")
            continue
        twice = next((n for n in result if getattr(model.entities[n], "link", "") == link),
                     None)
        if twice is not None:
            ok = False
            doc.at(where, f"link {link!r} has an effectivity satellite here already "
                   f"({twice})" if twice != item else f"{item!r} is listed twice",
                   "a relationship is in effect by one satellite's account: name one")
            continue
        result.append(item)
    return tuple(result) if ok else None


# ---- spine --------------------------------------------------------------------------------
def _spine(doc: Any, data: LMap) -> m.Spine | None:
    spec = doc.mapping(data.get("spine"), data.value_at("spine"), "spine")
    if spec is None:
        return None
    doc.keys(spec, ("dates", "every", "from", "to", "ladder"))
    forms = [k for k in ("dates", "every", "ladder") if k in spec]
    if len(forms) != 1:
        doc.at(data.value_at("spine"), "a spine needs exactly one of dates:, every: or ladder:",
               SPINE_HINT)
        return None
    start = _date(doc, spec, "from")
    end = _date(doc, spec, "to")
    if start is False or end is False:
        return None
    if start and end and start > end:
        doc.at(spec.value_at("from"), f"from: {start} is after to: {end}")
        return None
    if "dates" in spec:
        for key in ("from", "to"):
            if key in spec:
                doc.at(spec.key_at(key), f"{key}: has no use with dates:",
                       "the dates are the snapshots")
        return _dates(doc, spec)
    if "every" in spec:
        step = _step(doc, spec, "every")
        if step is None:
            return None
        if start is None:
            doc.at(data.value_at("spine"), "every: needs from:, the first snapshot's date",
                   "to: is optional; without it the spine runs to the day of the build")
            return None
        return m.Spine(every=step, start=start, end=end)
    ladder = spec["ladder"]
    if not isinstance(ladder, LList) or not ladder:
        doc.at(spec.value_at("ladder"), "ladder must be a list of steps", SPINE_HINT)
        return None
    steps: list[tuple[str, int | None]] = []
    for index, item in enumerate(ladder):
        rung = doc.mapping(item, ladder.item_at(index), f"step {index + 1} of the ladder")
        if rung is None:
            return None
        doc.keys(rung, ("every", "for"), ("every",))
        step = _step(doc, rung, "every")
        count = rung.get("for")
        last = index == len(ladder) - 1
        if count is None and not (last and start is not None):
            doc.at(rung.key_at("every") if "every" in rung else ladder.item_at(index),
                   f"step {index + 1} of the ladder needs for: (how many {step or 'step'}s)",
                   "only the last step may leave it out, and then the spine needs from:")
            return None
        if count is not None and (isinstance(count, bool) or not isinstance(count, int)
                                  or count < 1):
            doc.at(rung.value_at("for"), f"for: must be a whole number of at least 1, "
                   f"not {count!r}")
            return None
        if step is None:
            return None
        steps.append((step, count))
    return m.Spine(start=start, end=end, ladder=tuple(steps))


def _step(doc: Any, spec: LMap, key: str) -> str | None:
    if key not in spec:
        return None  # reported as a missing key
    value = doc.word(spec[key], spec.value_at(key), key)
    if value is None:
        return None
    if value not in m.SPINE_STEPS:
        doc.at(spec.value_at(key), f"unknown step {value!r}",
               did_you_mean(str(value), m.SPINE_STEPS) or "use day, week or month")
        return None
    return value


def _date(doc: Any, spec: LMap, key: str) -> dt.date | None | bool:
    """The date under ``key`` (None when absent; False after reporting a bad one)."""
    if key not in spec:
        return None
    value = spec[key]
    if isinstance(value, dt.datetime):
        doc.at(spec.value_at(key), f"{key}: must be a date, not a timestamp",
               "spines step by whole days; write YYYY-MM-DD")
        return False
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        doc.at(spec.value_at(key), f"{key}: {value!r} is not a date", "write YYYY-MM-DD")
        return False


def _dates(doc: Any, spec: LMap) -> m.Spine | None:
    value = spec["dates"]
    if not isinstance(value, LList) or not value:
        doc.at(spec.value_at("dates"), "dates must be a list of dates or timestamps",
               "for example dates: [2026-01-31, 2026-02-28]")
        return None
    result: set[dt.datetime] = set()
    for index, item in enumerate(value):
        stamp = _timestamp(item)
        if stamp is None:
            doc.at(value.item_at(index), f"{item!r} is not a date or a timestamp",
                   "write YYYY-MM-DD or YYYY-MM-DD HH:MM:SS (UTC unless it has an offset)")
            return None
        if stamp in result:
            doc.at(value.item_at(index), f"{item} is listed twice")
            return None
        result.add(stamp)
    return m.Spine(dates=tuple(sorted(result)))


def _timestamp(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        stamp = value
    elif isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    else:
        try:
            stamp = dt.datetime.fromisoformat(str(value))
        except ValueError:
            return None
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(dt.UTC).replace(tzinfo=None)
    return stamp
