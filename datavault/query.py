"""Answers over the vault's history: the state of keys at an applied time as known at a load
time, and a key's whole timeline on both time axes.

The SQL is plain and the same on every engine (SQLAlchemy Core); README.md shows its shape
for analysts. Keys are found by their hash key, so any spelling of a business key that the
vault would load as the same key (case, surrounding space) finds it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from datavault import contract, hashing, kinds, schema, values
from datavault import model as m
from datavault.diagnostics import DatavaultError, did_you_mean

_PART_SPLIT = re.compile(r"(?<!\\)((?:\\\\)*)\|")


@dataclass
class Answer:
    """A small result table: column names and rows, and a note for people (such as the load
    time it answers as known at, when a batch is still loading)."""

    columns: list[str]
    rows: list[tuple]
    note: str = ""

    def records(self) -> list[dict]:
        return [dict(zip(self.columns, row)) for row in self.rows]


# ---- keys ---------------------------------------------------------------------------------
def key_columns(model: m.Model, parent: str) -> list[tuple[str, m.Column]]:
    """The business key parts that name a key of ``parent`` (a hub: its key's; a link: every
    hub's in role order; other kinds as their kind says: ``Kind.key_columns``)."""
    return kinds.kind_of(model, parent).key_columns(model, model.entities[parent])


def parse_key(model: m.Model, parent: str, text: str) -> bytes:
    """The hash key of a business key written as its parts joined by ``|``.

    A ``|`` or ``\\`` inside a part is written ``\\|`` or ``\\\\``, as in a key string.
    """
    parts = [_unescape(p) for p in _split(text)]
    expected = key_columns(model, parent)
    if len(parts) != len(expected):
        names = "|".join(f"{owner}.{c.name}" if owner != parent else c.name
                         for owner, c in expected)
        raise DatavaultError(
            f"key {text!r} has {len(parts)} part(s); {parent} needs {len(expected)}: {names}"
        )
    typed = []
    for part, (_, column) in zip(parts, expected):
        try:
            typed.append((values.parse(part, column.type), column.type))
        except values.ParseError as exc:
            raise DatavaultError(f"key part {column.name}: {exc}") from None
    return hashing.hash_key(typed, model.settings.hash)


def _split(text: str) -> list[str]:
    parts, start = [], 0
    for match in _PART_SPLIT.finditer(text):
        end = match.end() - 1
        parts.append(text[start:end])
        start = match.end()
    parts.append(text[start:])
    return parts


def _unescape(part: str) -> str:
    return re.sub(r"\\(.)", r"\1", part)


# ---- tables -------------------------------------------------------------------------------
Kept = Mapping[str, Sequence[m.Column]]  # per satellite, payload columns only the table has


class _Vault:
    """The tables of a model, and the business key columns that name a parent's keys."""

    def __init__(self, model: m.Model, connection: sa.Connection, kept: Kept | None = None):
        self.model = model
        self.md = schema.metadata_for(model)
        self.connection = connection
        self.kept = kept if kept is not None else kept_columns(connection, model)
        self._sats: dict[str, sa.Table] = {}

    def answered(self, name: str) -> tuple[kinds.Kind, str, list[m.Satellite]]:
        """The kind of the entity ``name``, the hub or link whose keys its answers list, and
        the satellites they show (DatavaultError: there is no such entity)."""
        kind = _kind(self.model, name)
        parent, sats = kind.answers(self.model, self.model.entities[name])
        return kind, parent, [self.model.entities[s] for s in sorted(sats)]

    def table(self, name: str) -> sa.Table:
        """The table of a satellite (of any kind), as the model declares it."""
        kind = kinds.kind_of(self.model, name)
        return self.md.tables[kind.table_names(self.model.settings.naming, name)[0]]

    def sat(self, name: str) -> sa.Table:
        """A satellite's table, with the columns the database keeps that the model no longer
        declares (their history stays queryable)."""
        if name not in self._sats:
            self._sats[name] = schema.with_kept(self.table(name), self.kept.get(name, ()))
        return self._sats[name]

    def payload(self, sat: m.Satellite) -> list[str]:
        """The payload columns of a satellite: the model's, then the kept ones."""
        declared = self.table(sat.name).c
        return [c.name for c in sat.payload] + [
            c.name for c in self.sat(sat.name).c if c.name not in declared]

    def key_source(self, parent: str) -> tuple[sa.FromClause, sa.ColumnElement, list]:
        """A FROM clause with the parent's hash key and its business key columns, labelled."""
        if parent in self.model.hubs:
            hub = self.md.tables[self.model.hub_table(parent)]
            return hub, hub.c[schema.hub_key_column(parent)], [
                hub.c[c.name].label(c.name) for c in self.model.hubs[parent].key]
        link = self.model.links[parent]
        table = self.md.tables[self.model.link_table(parent)]
        joined: sa.FromClause = table
        labels = []
        for role in link.roles:
            hub = self.md.tables[self.model.hub_table(role.hub)].alias(f"h_{role.role}")
            joined = joined.join(hub, hub.c[schema.hub_key_column(role.hub)]
                                 == table.c[schema.role_key_column(role.role)])
            labels += [hub.c[c.name].label(f"{role.role}.{c.name}")
                       for c in self.model.hubs[role.hub].key]
        return joined, table.c[schema.link_key_column(parent)], labels


def _kind(model: m.Model, name: str) -> kinds.Kind:
    """The kind of the entity ``name`` (DatavaultError: there is no such entity)."""
    if name not in model.entities:
        raise DatavaultError(f"unknown hub, link or satellite {name!r}; "
                             + (did_you_mean(name, list(model.entities)) or "see models/"))
    return kinds.kind_of(model, name)


def kept_columns(connection: sa.Connection, model: m.Model) -> dict[str, list[m.Column]]:
    """Per satellite, the payload columns its table keeps although the model no longer
    declares them, as the stored key contract lists them (one small read)."""
    table = schema.metadata_for(model).tables[schema.CONTRACT_TABLE]
    stored = dict(connection.execute(sa.select(table.c.item, table.c.definition).where(
        table.c.item.like("satellite %.%"))).all())
    return contract.kept_payload(stored, model)


def _latest(vault: _Vault, sat: m.Satellite, keys: list[bytes] | None, at: dt.datetime,
            known_at: dt.datetime) -> sa.Subquery:
    """Per key, the row with the greatest (applied, loaded) at or before both times (every
    row of it, where a state is several rows)."""
    table = vault.sat(sat.name)
    key = table.c[schema.sat_key_column(sat)]
    conditions = [table.c.applied_ts <= at, table.c.load_ts <= known_at]
    if keys is not None:
        conditions.append(key.in_(keys))
    number = sa.func.rank if kinds.kind_of(vault.model, sat.name).multi_row else \
        sa.func.row_number
    return sa.select(
        table,
        number().over(
            partition_by=key, order_by=(table.c.applied_ts.desc(), table.c.load_ts.desc())
        ).label("dv_rank"),
    ).where(*conditions).subquery()


# ---- what is known ------------------------------------------------------------------------
ONE_MICROSECOND = dt.timedelta(microseconds=1)


@dataclass
class Known:
    """The load time an answer is given as known at, and why."""

    at: dt.datetime
    note: str = ""  # says so when it is not now


def known_as_of(connection: sa.Connection, model: m.Model,
             asked: dt.datetime | int | None) -> Known:
    """The load time to answer as known at: the one asked (a time, or a batch id: that
    batch's load time), else the latest up to which every batch has finished all its
    entity loads, so that no answer shows part of a batch (else now)."""
    batches = schema.metadata_for(model).tables[schema.BATCH_TABLE]
    if isinstance(asked, int):
        loaded_at = connection.execute(sa.select(batches.c.loaded_at).where(
            batches.c.batch_id == asked)).scalar()
        if loaded_at is None:
            raise DatavaultError(f"there is no batch {asked}; `datavault batches` lists them")
        return Known(values.read_timestamp(loaded_at))
    if asked is not None:
        return Known(asked)
    first = connection.execute(
        sa.select(batches.c.batch_id, batches.c.source, batches.c.status, batches.c.loaded_at)
        .where(batches.c.status.in_(schema.BATCH_UNFINISHED))
        .order_by(batches.c.batch_id).limit(1)).first()
    if first is None:
        return Known(values.utcnow())
    batch_id, source, status, loaded_at = first
    at = values.read_timestamp(loaded_at) - ONE_MICROSECOND
    return Known(at, f"batch {batch_id} of {source} is {status}: answering as known before it "
                     f"({at.isoformat(sep=' ', timespec='microseconds')}); --known-at "
                     "now shows what is loaded so far")



def _read_rows(names: list[str], rows, declared: Mapping[str, object]) -> list[tuple]:
    """Rows of an answer, each float and decimal payload value in the one Python form every
    engine answers with (``values.read_value``): ``declared`` gives a column's SQLAlchemy
    type by its label."""
    types = {i: schema.declared_type(declared[name]) for i, name in enumerate(names)
             if name in declared}
    types = {i: type_ for i, type_ in types.items() if type_ in ("float", "decimal")}
    if not types:
        return [tuple(r) for r in rows]
    return [tuple(values.read_value(v, types[i]) if i in types else v for i, v in enumerate(r))
            for r in rows]


# The columns of `state` and `history` answers besides keys and payload (for a hub or link,
# after each satellite's name and a dot in `state`).
ANSWER_COLUMNS = ("satellite", "applied", "loaded", "batch", "record_source", "replaced",
                  "deleted")


def _deletes(model: m.Model, sat: m.Satellite) -> bool:
    """Whether the satellite can hold deletion rows: of a full snapshot source, or of a source
    whose delete markers reach its parent (SEMANTICS.md section 5)."""
    source = model.sources[sat.source]
    return source.batch == "snapshot" or source.deletes(sat.parent)


def _payload_labels(keys: Sequence[sa.Label], columns: Sequence[tuple[m.Satellite, str]],
                    prefixed: bool) -> dict[tuple[str, str], str]:
    """The output name of each (satellite, payload column): the column's name (after the
    satellite's name and a dot in a hub's or link's answer), with the satellite's name and a
    dot put in front again while the name is one of the answer's business key columns or
    ``ANSWER_COLUMNS`` (in a hub's or link's answer, after a satellite's name), or another
    payload column's: every column of an answer has a name of its own, the same in `query`
    and `history`."""
    taken = {key.name for key in keys} | set(ANSWER_COLUMNS)
    if prefixed:
        taken |= {f"{sat.name}.{name}" for sat, _ in columns for name in ANSWER_COLUMNS}
    labels = {}
    for sat, name in columns:
        label = f"{sat.name}.{name}" if prefixed else name
        while label in taken:
            label = f"{sat.name}.{label}"
        taken.add(label)
        labels[(sat.name, name)] = label
    return labels


def _members_order(vault: _Vault, kind: kinds.Kind, sats: Sequence[m.Satellite],
                   names: dict[tuple[str, str], str]) -> list[str]:
    """The answer columns that order the rows of one state of several rows (the members of
    a set): its payload columns; none for other kinds."""
    if not kind.multi_row:
        return []
    return [names[(sat.name, name)] for sat in sats for name in vault.payload(sat)]


# ---- answers ------------------------------------------------------------------------------
@dataclass
class _Readings(kinds.Readings):
    """The readings a kind answers `query` and `history` with (``kinds.Readings``), over one
    connection, as known at one load time (``known_at`` as ``state`` takes it)."""

    connection: sa.Connection
    model: m.Model
    known_at: dt.datetime | int | None
    kept: Kept | None

    def states(self, entity: str, keys: Sequence[str] | None, at: dt.datetime) -> Answer:
        return _states(self.connection, self.model, entity, keys, at, self.known_at, self.kept)

    def timeline(self, entity: str, keys: Sequence[str] | None) -> Answer:
        return _timeline(self.connection, self.model, entity, keys, self.known_at, self.kept)

    def events(self, entity: str, keys: Sequence[str] | None, at: dt.datetime | None) -> Answer:
        return events(self.connection, self.model, entity, keys, at, self.known_at)

    def last_seen(self, entity: str, keys: Sequence[str] | None,
                  at: dt.datetime | None) -> Answer:
        return last_seen(self.connection, self.model, entity, keys, at, self.known_at)

    def spans(self, entity: str, keys: Sequence[str] | None, at: dt.datetime | None) -> Answer:
        return spans(self.connection, self.model, entity, keys, at, self.known_at)

    def codes(self, entity: str, keys: Sequence[str] | None, at: dt.datetime | None) -> Answer:
        return codes(self.connection, self.model, entity, keys, at, self.known_at)

    def relationships(self, entity: str, keys: Sequence[str] | None,
                      at: dt.datetime | None) -> Answer:
        return relationships(self.connection, self.model, entity, keys, at, self.known_at)

    def walk(self, entity: str, keys: Sequence[str], at: dt.datetime) -> Answer:
        return walk_edges(self.connection, self.model, entity, keys, at, self.known_at)


def state(connection: sa.Connection, model: m.Model, entity: str,
          keys: Sequence[str] | None = None, at: dt.datetime | None = None,
          known_at: dt.datetime | int | None = None, kept: Kept | None = None) -> Answer:
    """The state of ``keys`` (default: every key) of a satellite, or of a hub or link with all
    its satellites side by side, at applied time ``at`` as known at load time ``known_at``
    (``at`` defaults to now, ``known_at`` to what ``known_as_of`` says; a batch id stands for
    its load time). Keys without any state are left out; a key that a full snapshot no longer
    holds, or that a delete marker deleted, shows ``deleted`` true and no payload.
    ``kept``: the payload columns the tables keep that the model no longer declares
    (default: read from the stored contract). Each kind answers as ``Kind.query_state``
    says (the events of a non-historized link, the code list of a reference table, ...)."""
    kind = _kind(model, entity)
    return kind.query_state(_Readings(connection, model, known_at, kept), entity, keys,
                            at or values.utcnow())


def _states(connection: sa.Connection, model: m.Model, entity: str,
            keys: Sequence[str] | None, at: dt.datetime,
            known_at: dt.datetime | int | None, kept: Kept | None) -> Answer:
    """``state`` of an entity whose answer is the state of satellites (``Kind.answers``)."""
    vault = _Vault(model, connection, kept)
    kind, parent, sats = vault.answered(entity)
    side_by_side = kind.is_parent  # a hub's or link's satellites, each under its name
    known = known_as_of(connection, model, known_at)
    known_at = known.at
    hashed = [parse_key(model, parent, k) for k in keys] if keys else None
    source, parent_key, labels = vault.key_source(parent)
    deleted = hashing.zero_key(model.settings.hash)
    if not sats:
        raise DatavaultError(f"{kind.name} {entity} has no satellites to answer from")
    joined = source
    columns: list = list(labels)
    declared: dict[str, object] = {}
    present = []
    names = _payload_labels(labels, [(s, name) for s in sats for name in vault.payload(s)],
                            side_by_side)
    for sat in sats:
        latest = _latest(vault, sat, hashed, at, known_at).alias(f"s_{sat.name}")
        joined = joined.outerjoin(latest, sa.and_(
            latest.c[schema.sat_key_column(sat)] == parent_key, latest.c.dv_rank == 1))
        prefix = f"{sat.name}." if side_by_side else ""
        columns += [latest.c.applied_ts.label(f"{prefix}applied"),
                    latest.c.load_ts.label(f"{prefix}loaded"),
                    latest.c.record_source.label(f"{prefix}record_source")]
        if _deletes(model, sat):
            columns.append((latest.c.hash_diff == deleted).label(f"{prefix}deleted"))
        columns += [latest.c[name].label(names[(sat.name, name)]) for name in vault.payload(sat)]
        declared.update((names[(sat.name, name)], latest.c[name].type)
                        for name in vault.payload(sat))
        present.append(latest.c.applied_ts.is_not(None))
    query = sa.select(*columns).select_from(joined).where(sa.or_(*present))
    if hashed is not None:
        query = query.where(parent_key.in_(hashed))
    members = set(_members_order(vault, kind, sats, names))
    query = query.order_by(*labels, *[c for c in columns if c.name in members])
    result = connection.execute(query)
    output = list(result.keys())
    return Answer(output, _read_rows(output, result, declared), known.note)


def history(connection: sa.Connection, model: m.Model, entity: str,
            keys: Sequence[str] | None = None,
            known_at: dt.datetime | int | None = None, kept: Kept | None = None) -> Answer:
    """Every satellite row of ``keys`` (default: all): when it was true (applied), when the
    vault learned it (loaded, batch) and from where (record_source), and when a later batch
    replaced it for the same applied time (replaced); for a hub or link, the rows of all its
    satellites. Rows loaded after ``known_at`` (default: as ``known_as_of`` says) are left
    out; ``kept`` as in ``state``. Each kind answers as ``Kind.query_history`` says (every
    event of a non-historized link, every span of an effectivity satellite, ...)."""
    kind = _kind(model, entity)
    return kind.query_history(_Readings(connection, model, known_at, kept), entity, keys)


def _timeline(connection: sa.Connection, model: m.Model, entity: str,
              keys: Sequence[str] | None, known_at: dt.datetime | int | None,
              kept: Kept | None) -> Answer:
    """``history`` of an entity whose answer is the rows of satellites (``Kind.answers``)."""
    known = known_as_of(connection, model, known_at)
    vault = _Vault(model, connection, kept)
    kind, parent, sats = vault.answered(entity)
    side_by_side = kind.is_parent  # a hub's or link's satellites, each under its name
    hashed = [parse_key(model, parent, k) for k in keys] if keys else None
    source, parent_key, labels = vault.key_source(parent)
    if not sats:
        raise DatavaultError(f"{kind.name} {entity} has no satellites to answer from")
    payload_names = [(s, name) for s in sats for name in vault.payload(s)]
    names = _payload_labels(labels, payload_names, side_by_side)
    declared = {names[(s.name, name)]: vault.sat(s.name).c[name].type for s, name in payload_names}
    selects = []
    for sat in sats:
        table = vault.sat(sat.name)
        key = table.c[schema.sat_key_column(sat)]
        replaced: sa.ColumnElement = sa.func.lead(table.c.load_ts).over(
            partition_by=(key, table.c.applied_ts), order_by=table.c.load_ts)
        if kinds.kind_of(model, sat.name).multi_row:  # the next version, not the next row
            later = table.alias("dv_later")
            replaced = sa.select(sa.func.min(later.c.load_ts)).where(
                later.c[schema.sat_key_column(sat)] == key,
                later.c.applied_ts == table.c.applied_ts, later.c.load_ts > table.c.load_ts,
                later.c.load_ts <= known.at).scalar_subquery()
        conditions = [table.c.load_ts <= known.at]
        if hashed is not None:  # inside the window's subquery: it reads only these keys
            conditions.append(key.in_(hashed))
        inner = sa.select(table, replaced.label("dv_replaced")).where(*conditions).subquery()
        ikey = inner.c[schema.sat_key_column(sat)]
        payload = [
            (inner.c[name] if owner is sat else sa.null()).label(names[(owner.name, name)])
            for owner, name in payload_names
        ]
        query = sa.select(
            *labels, *([sa.literal(sat.name).label("satellite")] if side_by_side else []),
            inner.c.applied_ts.label("applied"), inner.c.load_ts.label("loaded"),
            inner.c.batch_id.label("batch"), inner.c.record_source.label("record_source"),
            inner.c.dv_replaced.label("replaced"),
            (inner.c.hash_diff == hashing.zero_key(model.settings.hash)).label("deleted"),
            *payload,
        ).select_from(source.join(inner, ikey == parent_key))
        if hashed is not None:
            query = query.where(parent_key.in_(hashed))
        selects.append(query)
    union = sa.union_all(*selects).subquery() if len(selects) > 1 else selects[0].subquery()
    ordered = sa.select(union).order_by(
        *[union.c[label.name] for label in labels], union.c.applied, union.c.loaded,
        *([union.c.satellite] if side_by_side else []),
        *[union.c[label] for label in _members_order(vault, kind, sats, names)])
    result = connection.execute(ordered)
    columns = list(result.keys())
    return Answer(columns, _read_rows(columns, result, declared), known.note)


# ---- non-historized links ----------------------------------------------------------------
def events(connection: sa.Connection, model: m.Model, entity: str,
           keys: Sequence[str] | None = None, at: dt.datetime | None = None,
           known_at: dt.datetime | int | None = None) -> Answer:
    """The events of a non-historized link (SEMANTICS.md section 8) with applied time at or
    before ``at`` (None: whatever their applied time), as known at ``known_at`` (as in
    ``state``): each with its roles' business keys, its event key columns, its applied and
    load time, batch and record source, and its payload, in key order. An event has one
    version, so ``state`` and ``history`` both answer with this. ``keys``: event keys, the
    roles' key parts and then the event key's, joined with ``|``."""
    nhl = model.entities[entity]
    assert isinstance(nhl, m.NonHistorizedLink)
    known = known_as_of(connection, model, known_at)
    md = schema.metadata_for(model)
    table = md.tables[model.settings.naming.nonhistorized_link_table(entity)]
    key = table.c[schema.link_key_column(entity)]
    joined: sa.FromClause = table
    labels, order = [], []
    for role in nhl.roles:  # a hub whose load has not run yet leaves its key NULL here
        hub = md.tables[model.hub_table(role.hub)].alias(f"h_{role.role}")
        joined = joined.outerjoin(hub, hub.c[schema.hub_key_column(role.hub)]
                                  == table.c[schema.role_key_column(role.role)])
        for part in model.hubs[role.hub].key:
            labels.append(hub.c[part.name].label(f"{role.role}.{part.name}"))
            order.append(hub.c[part.name].asc().nulls_first())
    taken = {label.name for label in labels} | set(ANSWER_COLUMNS)
    names: dict[str, str] = {}
    for column in (*nhl.event_key, *nhl.payload):
        label = column.name
        while label in taken:
            label = f"{entity}.{label}"
        taken.add(label)
        names[column.name] = label
    conditions = [table.c.load_ts <= known.at]
    if at is not None:
        conditions.append(table.c.applied_ts <= at)
    if keys:
        conditions.append(key.in_([parse_key(model, entity, k) for k in keys]))
    query = sa.select(
        *labels, *[table.c[c.name].label(names[c.name]) for c in nhl.event_key],
        table.c.applied_ts.label("applied"), table.c.load_ts.label("loaded"),
        table.c.batch_id.label("batch"), table.c.record_source.label("record_source"),
        *[table.c[c.name].label(names[c.name]) for c in nhl.payload],
    ).select_from(joined).where(*conditions).order_by(
        *order, *[table.c[c.name].asc().nulls_first() for c in nhl.event_key],
        table.c.applied_ts, key)
    result = connection.execute(query)
    output = list(result.keys())
    declared = {names[c.name]: table.c[c.name].type for c in (*nhl.event_key, *nhl.payload)}
    return Answer(output, _read_rows(output, result, declared), known.note)


def last_seen(connection: sa.Connection, model: m.Model, entity: str,
              keys: Sequence[str] | None = None, at: dt.datetime | None = None,
              known_at: dt.datetime | int | None = None) -> Answer:
    """Record tracking (SEMANTICS.md section 5): when the source last saw each key, at applied
    time ``at`` as known at ``known_at`` (as in ``state``): the greatest applied time at or
    before ``at`` of its rows loaded by then (``last_seen``), with the load time, batch and
    record source of that row, in key order; a key the source has not seen is left out.
    With ``at`` None (``history``), every applied time at which it saw each key instead."""
    rts = model.entities[entity]
    assert isinstance(rts, m.RecordTracking)
    known = known_as_of(connection, model, known_at)
    vault = _Vault(model, connection, {})
    source, parent_key, labels = vault.key_source(rts.parent)
    table = vault.md.tables[model.settings.naming.record_tracking_table(entity)]
    key = table.c[rts.key_column]
    conditions = [table.c.load_ts <= known.at]
    if at is not None:
        conditions.append(table.c.applied_ts <= at)
    if keys:
        conditions.append(key.in_([parse_key(model, rts.parent, k) for k in keys]))
    rows = sa.select(
        table, sa.func.row_number().over(
            partition_by=key, order_by=table.c.applied_ts.desc()).label("dv_rank"),
    ).where(*conditions).subquery("r")
    picked = [rows.c.dv_rank == 1] if at is not None else []
    query = sa.select(
        *labels,
        rows.c.applied_ts.label("last_seen" if at is not None else "applied"),
        rows.c.load_ts.label("loaded"), rows.c.batch_id.label("batch"),
        rows.c.record_source.label("record_source"),
    ).select_from(source.join(rows, rows.c[rts.key_column] == parent_key)).where(
        *picked).order_by(*[c.element for c in labels], rows.c.applied_ts)
    result = connection.execute(query)
    return Answer(list(result.keys()), [tuple(r) for r in result], known.note)


# ---- effectivity satellites --------------------------------------------------------------
def spans(connection: sa.Connection, model: m.Model, entity: str,
          keys: Sequence[str] | None = None, at: dt.datetime | None = None,
          known_at: dt.datetime | int | None = None) -> Answer:
    """The relationships of an effectivity satellite's driving keys (SEMANTICS.md section 6),
    as known at ``known_at`` (as in ``state``): each span with the business keys of every role
    of the link (the driving roles' first), ``start`` (included) and ``end`` (excluded; None
    while it lasts), and the ``loaded`` time, ``batch`` and ``record_source`` of the row that
    begins it (when and from where the vault learned of that start). With ``at``, only the
    span in effect at that applied time, per driving key (``query``); without, every span
    (``history``). ``keys``: driving keys, the driving roles' key parts joined with ``|``.
    A span has no ``replaced``: it is read from the latest-loaded row at each applied time,
    which no batch loaded by ``known_at`` replaced.

    The spans are the stored rows read by the rule of section 2: per driving key and applied
    time the latest-loaded row, and a span from each such row whose relationship differs from
    the one before it, to the next one that differs (an end begins no span)."""
    eff = model.entities[entity]
    assert isinstance(eff, m.EffectivitySatellite)
    known = known_as_of(connection, model, known_at)
    md = schema.metadata_for(model)
    table = md.tables[model.settings.naming.eff_table(entity)]
    key = table.c[eff.key_column]
    link_key = table.c[m.link_key_column(eff.link)]
    deleted = hashing.zero_key(model.settings.hash)
    conditions = [table.c.load_ts <= known.at]
    if keys:
        conditions.append(key.in_([parse_key(model, entity, k) for k in keys]))
    ranked = sa.select(
        key.label("dk"), table.c.applied_ts, table.c.hash_diff, link_key.label("lk"),
        table.c.load_ts, table.c.batch_id, table.c.record_source,
        sa.func.row_number().over(partition_by=(key, table.c.applied_ts),
                                  order_by=table.c.load_ts.desc()).label("dv_pick"),
    ).where(*conditions).subquery("dv_ranked")
    points = sa.select(
        ranked.c.dk, ranked.c.applied_ts, ranked.c.hash_diff, ranked.c.lk, ranked.c.load_ts,
        ranked.c.batch_id, ranked.c.record_source,
        sa.func.lag(ranked.c.hash_diff).over(partition_by=ranked.c.dk,
                                             order_by=ranked.c.applied_ts).label("dv_prev"),
    ).where(ranked.c.dv_pick == 1).subquery("dv_points")
    # the points where the state changes: the first point, or one whose state differs from
    # the one before (an end as the first point begins no span and ends none)
    changes = sa.select(
        points.c.dk, points.c.applied_ts, points.c.hash_diff, points.c.lk, points.c.load_ts,
        points.c.batch_id, points.c.record_source,
        sa.type_coerce(sa.func.lead(points.c.applied_ts).over(
            partition_by=points.c.dk, order_by=points.c.applied_ts), sa.DateTime()
        ).label("dv_end"),
    ).where(sa.or_(points.c.dv_prev.is_(None), points.c.dv_prev != points.c.hash_diff)
            ).subquery("dv_changes")
    link = model.links[eff.link]
    link_table = md.tables[model.link_table(eff.link)]
    joined: sa.FromClause = changes.join(
        link_table, link_table.c[m.link_key_column(eff.link)] == changes.c.lk)
    labels, order = [], []
    roles = sorted(link.roles, key=lambda r: r.role not in eff.driving_key)  # stable
    for role in roles:
        hub = md.tables[model.hub_table(role.hub)].alias(f"h_{role.role}")
        joined = joined.join(hub, hub.c[schema.hub_key_column(role.hub)]
                             == link_table.c[schema.role_key_column(role.role)])
        for part in model.hubs[role.hub].key:
            labels.append(hub.c[part.name].label(f"{role.role}.{part.name}"))
            if role.role in eff.driving_key:
                order.append(hub.c[part.name])
    where = [changes.c.hash_diff != deleted]
    if at is not None:
        where += [changes.c.applied_ts <= at,
                  sa.or_(changes.c.dv_end.is_(None), changes.c.dv_end > at)]
    query = sa.select(
        *labels, changes.c.applied_ts.label("start"), changes.c.dv_end.label("end"),
        changes.c.load_ts.label("loaded"), changes.c.batch_id.label("batch"),
        changes.c.record_source.label("record_source"),
    ).select_from(joined).where(*where).order_by(*order, changes.c.applied_ts)
    result = connection.execute(query)
    output = list(result.keys())
    return Answer(output, [tuple(r) for r in result], known.note)
# ---- reference tables --------------------------------------------------------------------
def parse_code(model: m.Model, entity: str, text: str) -> str:
    """The text of a reference table's code (``hashing.code_text``) written as its parts
    joined by ``|`` (a ``|`` or ``\\`` inside a part written ``\\|`` or ``\\\\``)."""
    ref = model.entities[entity]
    assert isinstance(ref, m.ReferenceTable)
    parts = [_unescape(p) for p in _split(text)]
    if len(parts) != len(ref.code):
        raise DatavaultError(f"code {text!r} has {len(parts)} part(s); {entity} needs "
                             f"{len(ref.code)}: {'|'.join(c.name for c in ref.code)}")
    typed = []
    for part, column in zip(parts, ref.code):
        try:
            typed.append((values.parse(part, column.type), column.type))
        except values.ParseError as exc:
            raise DatavaultError(f"code part {column.name}: {exc}") from None
    code = hashing.code_text(typed)
    if code is None:
        raise DatavaultError(f"code {text!r} has a missing part, so no row has it")
    return code


def codes(connection: sa.Connection, model: m.Model, entity: str,
          keys: Sequence[str] | None = None, at: dt.datetime | None = None,
          known_at: dt.datetime | int | None = None) -> Answer:
    """A reference table (SEMANTICS.md section 9). With ``at``: the code list at applied time
    ``at`` as known at ``known_at`` (as in ``state``): every code whose description is live
    there, with that description. Without: every version of every code's description as
    known at ``known_at``, deletions (a snapshot that lacked the code) included, with when a
    later batch replaced it for the same applied time. Each row gives the code's parts, its
    applied and load time, batch and record source, and the description columns; ``keys``
    are codes, their parts joined with ``|``."""
    ref = model.entities[entity]
    assert isinstance(ref, m.ReferenceTable)
    known = known_as_of(connection, model, known_at)
    md = schema.metadata_for(model)
    naming = model.settings.naming
    codes_table = md.tables[naming.ref_table(entity)]
    desc = md.tables[naming.ref_desc_table(entity)]
    deleted = hashing.zero_key(model.settings.hash)
    conditions = [desc.c.load_ts <= known.at]
    if keys:
        conditions.append(desc.c[m.CODE_COLUMN].in_([parse_code(model, entity, k) for k in keys]))
    if at is not None:
        conditions.append(desc.c.applied_ts <= at)
        pick = sa.func.row_number().over(partition_by=desc.c[m.CODE_COLUMN], order_by=(
            desc.c.applied_ts.desc(), desc.c.load_ts.desc()))
    else:
        pick = sa.func.lead(desc.c.load_ts).over(
            partition_by=(desc.c[m.CODE_COLUMN], desc.c.applied_ts), order_by=desc.c.load_ts)
    inner = sa.select(desc, pick.label("dv_pick")).where(*conditions).subquery()
    taken = {c.name for c in ref.code} | set(ANSWER_COLUMNS)
    names: dict[str, str] = {}
    for column in ref.payload:
        label = column.name
        while label in taken:
            label = f"{entity}.{label}"
        taken.add(label)
        names[column.name] = label
    code_labels = [codes_table.c[c.name].label(c.name) for c in ref.code]
    columns = [*code_labels, inner.c.applied_ts.label("applied"),
               inner.c.load_ts.label("loaded"), inner.c.batch_id.label("batch"),
               inner.c.record_source.label("record_source")]
    if at is None:
        columns += [inner.c.dv_pick.label("replaced"),
                    (inner.c.hash_diff == deleted).label("deleted")]
    columns += [inner.c[c.name].label(names[c.name]) for c in ref.payload]
    query = sa.select(*columns).select_from(codes_table.join(
        inner, inner.c[m.CODE_COLUMN] == codes_table.c[m.CODE_COLUMN]))
    if at is not None:  # the code list: the live codes only
        query = query.where(inner.c.dv_pick == 1, inner.c.hash_diff != deleted)
    query = query.order_by(*[codes_table.c[c.name] for c in ref.code], inner.c.applied_ts,
                           inner.c.load_ts)
    result = connection.execute(query)
    output = list(result.keys())
    declared = {names[c.name]: desc.c[c.name].type for c in ref.payload}
    return Answer(output, _read_rows(output, result, declared), known.note)


# ---- links without satellites; same-as links and hierarchies -------------------------------
def relationships(connection: sa.Connection, model: m.Model, entity: str,
                  keys: Sequence[str] | None = None, at: dt.datetime | None = None,
                  known_at: dt.datetime | int | None = None) -> Answer:
    """The relationships of a link (its rows), each with its roles' business keys, load
    time, batch and record source, in key order, as known at ``known_at`` (as in
    ``state``). With ``at`` (``query``) of a same-as link or hierarchy whose edges an
    effectivity satellite says are in effect (SEMANTICS.md section 10): only those in effect
    at ``at``; otherwise every row loaded by then. ``keys``: link keys, every role's parts
    joined with ``|``."""
    link = model.links[entity]
    known = known_as_of(connection, model, known_at)
    md = schema.metadata_for(model)
    table = md.tables[model.link_table(entity)]
    key = table.c[schema.link_key_column(entity)]
    joined: sa.FromClause = table
    labels, order = [], []
    for role in link.roles:  # a hub whose load has not run yet leaves its key NULL here
        hub = md.tables[model.hub_table(role.hub)].alias(f"h_{role.role}")
        joined = joined.outerjoin(hub, hub.c[schema.hub_key_column(role.hub)]
                                  == table.c[schema.role_key_column(role.role)])
        for part in model.hubs[role.hub].key:
            labels.append(hub.c[part.name].label(f"{role.role}.{part.name}"))
            order.append(hub.c[part.name].asc().nulls_first())
    conditions = [table.c.load_ts <= known.at]
    if keys:
        conditions.append(key.in_([parse_key(model, entity, k) for k in keys]))
    eff = model.edge_effectivity(entity) if link.edge else None
    if at is not None and eff is not None:
        conditions.append(key.in_(_Edges(connection, model, entity, at, known.at).effective()))
    query = sa.select(*labels, table.c.load_ts.label("loaded"), table.c.batch_id.label("batch"),
                      table.c.record_source.label("record_source")).select_from(joined).where(
        *conditions).order_by(*order, key)
    result = connection.execute(query)
    return Answer(list(result.keys()), [tuple(r) for r in result], known.note)


#: why a key resolves to itself although it has a survivor (SEMANTICS.md section 10)
SEVERAL_SURVIVORS = "several survivors"
CYCLE = "cycle"


class _Edges:
    """The edges of a same-as link or hierarchy in effect at applied time ``at`` as known at
    ``known_at`` (SEMANTICS.md section 10), read a few keys at a time by the tables' indexes."""

    def __init__(self, connection: sa.Connection, model: m.Model, link: str,
                 at: dt.datetime, known_at: dt.datetime):
        self.connection, self.model, self.at, self.known_at = connection, model, at, known_at
        self.link = model.links[link]
        md = schema.metadata_for(model)
        # an alias, so that a query of the link itself may take the edges as a subquery
        self.table = md.tables[model.link_table(link)].alias("dv_edge")
        first, second = self.link.edge
        self.first = self.table.c[schema.role_key_column(first)]
        self.second = self.table.c[schema.role_key_column(second)]
        self.eff = model.edge_effectivity(link)
        if self.eff is not None:
            self.eff_table = md.tables[model.settings.naming.eff_table(self.eff.name)]

    def _states(self, firsts: sa.ColumnElement | None) -> sa.Subquery:
        """Per first key (of those ``firsts`` selects), its effectivity satellite's latest row
        at ``at`` as known at ``known_at``."""
        eff = self.eff_table
        key = eff.c[m.DRIVING_KEY_COLUMN]
        conditions = [eff.c.applied_ts <= self.at, eff.c.load_ts <= self.known_at]
        if firsts is not None:
            conditions.append(key.in_(firsts))
        return sa.select(
            key.label("dv_first"), eff.c.hash_diff,
            eff.c[m.link_key_column(self.link.name)].label("dv_link_key"),
            sa.func.row_number().over(partition_by=key, order_by=(
                eff.c.applied_ts.desc(), eff.c.load_ts.desc())).label("dv_rank"),
        ).where(*conditions).subquery("dv_states")

    def _in_effect(self, firsts: sa.ColumnElement | None) -> sa.Select:
        """(first key, second key, link key) of the edges in effect from the first keys."""
        t = self.table
        if self.eff is None:
            condition = [t.c.load_ts <= self.known_at]
            if firsts is not None:
                condition.append(self.first.in_(firsts))
            return sa.select(self.first, self.second,
                             t.c[schema.link_key_column(self.link.name)]).where(*condition)
        states = self._states(firsts)
        # the relationship in effect is the row's link key (never an end's zero hash diff)
        return sa.select(self.first, self.second,
                         t.c[schema.link_key_column(self.link.name)]).select_from(
            states.join(t, t.c[schema.link_key_column(self.link.name)]
                        == states.c.dv_link_key)).where(
            states.c.dv_rank == 1, t.c.load_ts <= self.known_at)

    def effective(self) -> sa.Select:
        """The link keys of the edges in effect, as a query."""
        return self._in_effect(None).with_only_columns(
            self.table.c[schema.link_key_column(self.link.name)])

    def targets(self, keys: set[bytes]) -> dict[bytes, set[bytes]]:
        """Per key, the keys its edges in effect go to (survivors, parents)."""
        found: dict[bytes, set[bytes]] = {}
        query = self._in_effect(sa.bindparam("dv_keys", sorted(keys), expanding=True))
        for a, b, _ in self.connection.execute(query):
            if bytes(a) != bytes(b):
                found.setdefault(bytes(a), set()).add(bytes(b))
        return found

    def sources(self, keys: set[bytes]) -> dict[bytes, set[bytes]]:
        """Per key, the keys whose edges in effect come to it (children)."""
        t = schema.metadata_for(self.model).tables[self.model.link_table(self.link.name)]
        first, second = (t.c[c.name] for c in (self.first, self.second))
        candidates = sa.select(first).where(second.in_(sorted(keys)),
                                            t.c.load_ts <= self.known_at)
        found: dict[bytes, set[bytes]] = {}
        for a, b, _ in self.connection.execute(self._in_effect(candidates)):
            if bytes(b) in keys and bytes(a) != bytes(b):
                found.setdefault(bytes(b), set()).add(bytes(a))
        return found


def resolve(edges: _Edges, key: bytes) -> tuple[bytes, int, str | None]:
    """The survivor of ``key`` (SEMANTICS.md section 10): (survivor, steps, conflict)."""
    passed = [key]
    current = key
    while True:
        targets = edges.targets({current}).get(current, set())
        if not targets:
            return current, len(passed) - 1, None
        if len(targets) > 1:
            return key, 0, SEVERAL_SURVIVORS
        (current,) = targets
        if current in passed:
            return key, 0, CYCLE
        passed.append(current)


def ancestors(edges: _Edges, key: bytes, up: bool = True) -> dict[bytes, int]:
    """The keys reached from ``key`` along the edges in effect (``up``: child to parent, its
    ancestors; else parent to child, its descendants), each with the length of the shortest
    way to it; not ``key`` itself."""
    depths: dict[bytes, int] = {}
    frontier, depth = {key}, 0
    while frontier:
        depth += 1
        step = edges.targets(frontier) if up else edges.sources(frontier)
        reached = {b for bs in step.values() for b in bs} - set(depths) - {key}
        depths.update((b, depth) for b in reached)
        frontier = reached
    return depths


def _hub_parts(connection: sa.Connection, model: m.Model, hub: str,
               hashed: set[bytes]) -> dict[bytes, tuple]:
    """The business key parts of hub keys (a key the hub does not hold yet: no entry)."""
    table = schema.metadata_for(model).tables[model.hub_table(hub)]
    key = table.c[schema.hub_key_column(hub)]
    parts = [table.c[c.name] for c in model.hubs[hub].key]
    rows = connection.execute(sa.select(key, *parts).where(key.in_(sorted(hashed)))) \
        if hashed else []
    return {bytes(r[0]): tuple(r[1:]) for r in rows}


def walk_edges(connection: sa.Connection, model: m.Model, entity: str, keys: Sequence[str],
               at: dt.datetime | None = None,
               known_at: dt.datetime | int | None = None) -> Answer:
    """Of a same-as link: each key's survivor at ``at`` as known at ``known_at`` (as in
    ``state``), with the steps to it and the conflict that kept it from resolving (SEMANTICS.md
    section 10). Of a hierarchy: each key's ancestors, nearest first (the key as child, the
    ancestor as parent), then its descendants (the descendant as child, the key as parent),
    each with its depth.
    ``keys``: business keys of the link's hub (its parts joined with ``|``)."""
    link = model.links[entity]
    first, second = (next(r for r in link.roles if r.role == role) for role in link.edge)
    hub = first.hub
    known = known_as_of(connection, model, known_at)
    edges = _Edges(connection, model, entity, at or values.utcnow(), known.at)
    asked = [parse_key(model, hub, k) for k in keys]
    names = [c.name for c in model.hubs[hub].key]
    columns = [f"{first.role}.{n}" for n in names] + [f"{second.role}.{n}" for n in names]
    found: list[tuple[bytes, bytes, int, str | None]] = []
    if link.same_as:
        columns += ["steps", "conflict"]
        found = [(k, *resolve(edges, k)) for k in asked]
    else:
        columns.append("depth")
        for k in asked:
            up = sorted(ancestors(edges, k).items(), key=lambda i: (i[1], i[0]))
            down = sorted(ancestors(edges, k, up=False).items(), key=lambda i: (i[1], i[0]))
            found += [(k, a, d, None) for a, d in up] + [(a, k, d, None) for a, d in down]
    parts = _hub_parts(connection, model, hub, {k for f in found for k in f[:2]})
    missing = (None,) * len(names)
    rows = []
    for k, other, number, conflict in found:
        rows.append((*parts.get(k, missing), *parts.get(other, missing), number,
                     *([conflict] if link.same_as else [])))
    return Answer(columns, rows, known.note)
