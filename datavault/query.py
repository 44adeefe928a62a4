"""As-of answers over satellites: the state of keys at an applied time, as known at a load time."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from datavault import model as m
from datavault import schema
from datavault.diagnostics import DatavaultError, did_you_mean


def _tables(
    model: m.Model, sat_name: str, metadata: sa.MetaData
) -> tuple[m.Satellite, sa.Table, sa.Table | None]:
    if sat_name not in model.satellites:
        hint = did_you_mean(sat_name, model.satellites) or "see models/satellites/"
        raise DatavaultError(f"unknown satellite {sat_name!r}; {hint}")
    sat = model.satellites[sat_name]
    table = metadata.tables[model.sat_table(sat.name)]
    parent = metadata.tables[model.hub_table(sat.parent)] if sat.parent_kind == "hub" else None
    return sat, table, parent


def history(connection: sa.Connection, model: m.Model, sat_name: str) -> list[dict]:
    """Every row of a satellite with its parent's business key, ordered by key and both times."""
    md = schema.build_metadata(model)
    sat, table, parent = _tables(model, sat_name, md)
    key = table.c[schema.sat_key_column(sat)]
    columns = [table.c.applied_ts, table.c.load_ts] + [table.c[c.name] for c in sat.payload]
    if parent is not None:
        bk = [parent.c[p.name] for p in model.hubs[sat.parent].key]
        query = sa.select(*bk, *columns).select_from(
            table.join(parent, parent.c[schema.hub_key_column(sat.parent)] == key)
        ).order_by(*bk, table.c.applied_ts, table.c.load_ts)
    else:
        query = sa.select(key, *columns).order_by(key, table.c.applied_ts, table.c.load_ts)
    return [dict(row._mapping) for row in connection.execute(query)]


def state_at(connection: sa.Connection, model: m.Model, sat_name: str,
             at: dt.datetime | None = None, known_at: dt.datetime | None = None) -> list[dict]:
    """Per key: the payload of the row with the greatest (applied, loaded) at or before both."""
    md = schema.build_metadata(model)
    sat, table, parent = _tables(model, sat_name, md)
    key = table.c[schema.sat_key_column(sat)]
    conditions = []
    if at is not None:
        conditions.append(table.c.applied_ts <= at)
    if known_at is not None:
        conditions.append(table.c.load_ts <= known_at)
    ranked = sa.select(
        table,
        sa.func.row_number().over(
            partition_by=key, order_by=(table.c.applied_ts.desc(), table.c.load_ts.desc())
        ).label("dv_rank"),
    ).where(*conditions).subquery()
    columns = [ranked.c.applied_ts, ranked.c.load_ts] + [ranked.c[c.name] for c in sat.payload]
    rkey = ranked.c[schema.sat_key_column(sat)]
    if parent is not None:
        bk = [parent.c[p.name] for p in model.hubs[sat.parent].key]
        query = sa.select(*bk, *columns).select_from(
            ranked.join(parent, parent.c[schema.hub_key_column(sat.parent)] == rkey)
        ).where(ranked.c.dv_rank == 1).order_by(*bk)
    else:
        query = sa.select(rkey, *columns).where(ranked.c.dv_rank == 1).order_by(rkey)
    return [dict(row._mapping) for row in connection.execute(query)]
