"""Validation of ``models/marts/*.yml``: PIT and bridge marts and their snapshot spines.

Marts are read after every hub, link and satellite, so a mart is checked against the valid
parts of the model only (a broken satellite file is reported once, in that file).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from typing import Any

from datavault import model as m
from datavault.diagnostics import closest, did_you_mean
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
                    "codes", "spine"), ("spine",))
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
    if mart is not None and "codes" in data:  # checked against the rest of a valid mart
        codes = _mart_codes(doc, data, model, broken, mart)
        mart = None if codes is None else dataclasses.replace(mart, codes=codes)
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


# ---- code lookups -------------------------------------------------------------------------
CODES_HINT = "for example codes: {currency: {column: order_details.currency_code}}"
PREFIX = re.compile(r"^([a-z][a-z0-9_]*)?$")


def _mart_codes(doc: Any, data: LMap, model: m.Model, broken: set[str], mart: m.Mart
                ) -> tuple[m.CodeLookup, ...] | None:
    """The code lookups of a mart otherwise valid: a PIT's in the columns of its satellites
    and its hub's business key, a bridge's in the business keys of the hubs on its path."""
    targets = described(model)
    if mart.kind == "pit":
        owners = {sat: dict(zip(targets[sat].payload, targets[sat].types))
                  for sat in mart.satellites}
        if mart.parent_kind == "hub":
            owners[mart.parent] = {c.name: c.type for c in model.hubs[mart.parent].key}
        listable = {sat: f"satellite {sat!r} is not listed in this mart (list it under "
                    "satellites:, whose columns the views show)" for sat, t in targets.items()
                    if t.parent == mart.parent and sat not in mart.satellites}
        labels = _pit_labels(model, mart.parent, mart.satellites)
    else:
        hubs = mart.path[::2]
        owners = {hub: {c.name: c.type for c in model.hubs[hub].key} for hub in hubs}
        listable = {sat: f"a bridge shows no column of {_kind_words(model, sat)} {sat!r}, so "
                    "it looks up no code there (it looks up codes in the business keys of the "
                    f"hubs on its path, {', '.join(hubs)}; a PIT of {t.parent} shows the "
                    "satellite's columns)"
                    for sat, t in targets.items() if t.parent in mart.path}
        for hub in {h for h in hubs if hubs.count(h) > 1}:
            # which place's key a lookup of such a hub means is not said, so none is taken
            del owners[hub]
            roles = ", ".join(p for h, p in zip(mart.path, mart.places) if h == hub)
            listable[hub] = (f"hub {hub!r} has several places on this path ({roles}), and a "
                             "code lookup does not say which place's key it looks up: look "
                             "the code up in a PIT of the hub")
        labels = _bridge_labels(model, mart.path)
    return _codes(doc, data, model, broken, owners, listable, labels)


def _pit_labels(model: m.Model, parent: str, chosen: tuple[str, ...]) -> dict[str, str]:
    """The columns of a PIT's views, each with what it shows (to tell a clash)."""
    if parent in model.hubs:
        keys = [c.name for c in model.hubs[parent].key]
    else:
        keys = [f"{r.role}_{c.name}" for r in model.links[parent].roles
                for c in model.hubs[r.hub].key]
    labels = {key: "a business key column" for key in keys}
    targets = described(model)
    pairs = [(sat, column) for sat in chosen for column in targets[sat].payload]
    for (sat, column), label in zip(pairs, m.view_labels(pairs, taken=keys)):
        labels[label] = f"the column {column!r} of {sat}"
    return labels


def _bridge_labels(model: m.Model, path: tuple[str, ...]) -> dict[str, str]:
    pairs = [(hub, c.name) for hub in path[::2] for c in model.hubs[hub].key]
    return {label: f"the business key column {column!r} of {hub}"
            for (hub, column), label in zip(pairs, m.view_labels(pairs))}


def _codes(doc: Any, data: LMap, model: m.Model, broken: set[str],
           owners: dict[str, dict[str, str]], listable: dict[str, str],
           labels: dict[str, str]) -> tuple[m.CodeLookup, ...] | None:
    """The code lookups under ``codes:``. ``owners``: the satellites and hubs whose columns
    may hold a code, each with its columns' types; ``listable``: entities a lookup may not
    name, with why; ``labels``: the views' columns so far, with what each shows."""
    value = data["codes"]
    if not isinstance(value, LMap) or not value:
        doc.at(data.value_at("codes"), "codes must be a mapping of code lookups", CODES_HINT)
        return None
    shown = {**{c: "a column of their own" for c in m.VIEW_COLUMNS}, **labels}
    result: list[m.CodeLookup] = []
    ok = True
    for name in value:
        at = value.key_at(name)
        if not doc.name(name, at, "code lookup"):
            ok = False
            continue
        spec = doc.mapping(value[name], value.value_at(name), f"code lookup {name}")
        if spec is None:
            ok = False
            continue
        lookup = _lookup(doc, str(name), at, spec, model, broken, owners, listable)
        if lookup is None:
            ok = False
            continue
        where = spec.value_at("prefix") if "prefix" in spec else at
        table = model.entities[lookup.reference_table]
        for column in table.payload:
            label = lookup.label(column.name)
            if label in shown:
                doc.at(where, f"code lookup {name} would show a column {label!r}, which the "
                       f"views have already: {shown[label]}",
                       f"give the lookup a prefix: of its own (now {lookup.prefix!r})")
                ok = False
                break
            before = len(doc.problems.items)
            doc.identifier_length(where, f"a description column of code lookup {name}", label)
            if len(doc.problems.items) > before:
                ok = False
                break
            shown[label] = f"the description {column.name!r} of code lookup {name}"
        else:
            result.append(lookup)
    return tuple(result) if ok else None


def _lookup(doc: Any, name: str, at: tuple[int, int], spec: LMap, model: m.Model,
            broken: set[str], owners: dict[str, dict[str, str]], listable: dict[str, str]
            ) -> m.CodeLookup | None:
    doc.keys(spec, ("reference_table", "column", "columns", "prefix"))
    where = spec.value_at("reference_table") if "reference_table" in spec else at
    ref = doc.word(spec.get("reference_table", name), where, "reference_table")
    if ref is None:
        return None
    kind = "reference_table"
    table = model.entities.get(ref)
    every = sorted(n for n, e in model.entities.items() if e.kind == kind)
    if table is None or table.kind != kind:
        if table is not None:
            doc.at(where, f"{ref!r} is {_a(_kind_words(model, ref))}, not a reference table",
                   f"the reference tables are {', '.join(every)}" if every
                   else "declare one in models/reference_tables/")
        elif ref not in broken:
            close = closest(ref, every)
            doc.at(where, f"unknown reference table {ref!r}", f"did you mean {close!r}?"
                   if close else "a lookup is named by its reference table, or names it under "
                   f"reference_table:; the reference tables are {', '.join(every)}" if every
                   else "declare it in models/reference_tables/")
        return None
    assert isinstance(table, m.ReferenceTable)
    parts = {c.name: c for c in table.code}
    example = ", ".join(f"{p}: SATELLITE.COLUMN" for p in parts)
    if ("column" in spec) == ("columns" in spec):
        doc.at(at, f"code lookup {name} needs exactly one of column: or columns:",
               f"write columns: {{{example}}}" if len(parts) > 1
               else "write column: SATELLITE.COLUMN, the column that holds the code")
        return None
    if "column" in spec:
        if len(parts) > 1:
            doc.at(spec.key_at("column"), f"the code of reference table {ref!r} has "
                   f"{len(parts)} parts ({', '.join(parts)}); column: gives one",
                   f"give the column of each part: columns: {{{example}}}")
            return None
        given = [(table.code[0], spec["column"], spec.value_at("column"))]
    else:
        mapping = spec["columns"]
        if not isinstance(mapping, LMap) or not mapping:
            doc.at(spec.value_at("columns"), "columns must be a mapping of code parts to "
                   "columns", f"write columns: {{{example}}}")
            return None
        for part in mapping:
            if part not in parts:
                doc.at(mapping.key_at(part), f"reference table {ref!r} has no code part "
                       f"{part!r}", did_you_mean(str(part), parts)
                       or f"its code parts are {', '.join(parts)}")
                return None
        missing = [p for p in parts if p not in mapping]
        if missing:
            doc.at(spec.key_at("columns"), f"columns: gives no column for code part "
                   f"{missing[0]!r} of reference table {ref!r}", f"write columns: {{{example}}}")
            return None
        given = [(part, mapping[part.name], mapping.value_at(part.name))
                 for part in table.code]
    columns: list[tuple[str, str, str]] = []
    for part, text, place in given:
        word = doc.word(text, place, f"the column of code part {part.name}")
        if word is None:
            return None
        owner, _, column = word.partition(".")
        if not column:
            doc.at(place, f"{word!r} names no column", "write OWNER.COLUMN, where OWNER is "
                   f"one of {', '.join(owners)}")
            return None
        if owner not in owners:
            if owner in listable:
                doc.at(place, listable[owner])
            elif owner not in broken:
                doc.at(place, f"{owner!r} is no satellite or hub of this mart",
                       did_you_mean(owner, owners) or f"this mart's are {', '.join(owners)}")
            return None
        types = owners[owner]
        if column not in types:
            doc.at(place, f"{_kind_words(model, owner)} {owner!r} has no column {column!r}",
                   did_you_mean(column, types) or f"its columns are {', '.join(types)}")
            return None
        if types[column] != part.type:
            doc.at(place, f"column {owner}.{column} is {types[column]}, but code part "
                   f"{part.name!r} of reference table {ref!r} is {part.type}",
                   "a code is found by the typed values of its parts (section 9 compares their "
                   "canonical text), so a column must have its part's type")
            return None
        columns.append((part.name, owner, column))
    prefix = spec.get("prefix", f"{name}_")
    if prefix is None:
        prefix = ""
    if not isinstance(prefix, str) or not PREFIX.match(prefix):
        doc.at(spec.value_at("prefix"), f"prefix {prefix!r} cannot begin a column name",
               "use lower-case letters, digits and _, starting with a letter; or \"\" for "
               "the description columns' own names")
        return None
    return m.CodeLookup(name, ref, tuple(columns), prefix)
