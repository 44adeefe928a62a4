"""Point-in-time marts: snapshot spines, PIT and bridge tables, and the views over them.

Marts are derived from the vault and can always be rebuilt from it, so they are owned by
`datavault marts build`, not by migrations: their tables and views are created, refreshed and
replaced here, and a change of a mart's definition rebuilds it. What a mart last saw is kept
in ``dv_mart`` (its definition and the last batch it took in) and its snapshots in
``dv_mart_spine``; a refresh rewrites only the keys that batches since then touched, from the
earliest applied time that changed (SEMANTICS.md section 4).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from datavault import model as m
from datavault import schema, values
from datavault.diagnostics import DatavaultError, did_you_mean
from datavault.kinds import main_table
from datavault.render import GHOST_TEXT, Renderer

MART_TABLE = m.MART_TABLE
SPINE_TABLE = "dv_mart_spine"
GHOST_TIME = dt.datetime(1, 1, 1)
#: the stored definition of a mart while a build of it is under way, on an engine whose
#: statements do not roll back as a unit: a build that stops partway leaves it, and the next
#: build then rebuilds the mart
UNDER_WAY = "(a build under way)"
#: bumped when the SQL that fills a mart changes meaning, so stored marts are rebuilt
FORMAT = 1


# ---- spines -------------------------------------------------------------------------------
def snapshots(spine: m.Spine, today: dt.date) -> list[dt.datetime]:
    """The snapshot times of a spine, oldest first; ``today`` ends a spine without ``to``.

    ``validate`` refuses a spine that reaches outside the calendar or makes more than
    ``model.MAX_SNAPSHOTS`` snapshots; one without ``to:`` grows with the days, so a build
    checks again.
    """
    try:
        return spine.snapshots(today)
    except m.SpineError as exc:
        raise DatavaultError(f"{exc.message}; {exc.hint}") from None


# ---- tables -------------------------------------------------------------------------------
def bookkeeping(md: sa.MetaData) -> tuple[sa.Table, sa.Table]:
    """``dv_mart`` (one row per built mart) and ``dv_mart_spine`` (its snapshots)."""
    marts = sa.Table(
        MART_TABLE, md,
        sa.Column("mart", sa.Text(), primary_key=True),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("views_digest", sa.Text()),  # of the views' SQL, to know when to remake them
        sa.Column("last_batch_id", sa.BigInteger(), nullable=False),
        sa.Column("last_loaded_at", sa.DateTime()),
        sa.Column("built_at", sa.DateTime(), nullable=False),
        sa.Column("refreshed_at", sa.DateTime(), nullable=False),
        comment="the marts built by `datavault marts build`, and the last batch each took in",
    )
    spine = sa.Table(
        SPINE_TABLE, md,
        sa.Column("mart", sa.Text(), primary_key=True),
        sa.Column("snapshot_ts", sa.DateTime(), primary_key=True),
        sa.Column("position", sa.BigInteger(), nullable=False),
        comment="the snapshot times of each mart, numbered from 1",
    )
    return marts, spine


def mart_table(model: m.Model, mart: m.Mart, md: sa.MetaData) -> sa.Table:
    """The PIT or bridge table of a mart."""
    if mart.kind == "pit":
        columns = [sa.Column(model.parent_key(mart.parent), schema.hash_type(), primary_key=True),
                   sa.Column("snapshot_ts", sa.DateTime(), primary_key=True)]
        for sat in mart.satellites:
            columns += [sa.Column(f"{sat}_hk", schema.hash_type(), nullable=False),
                        sa.Column(f"{sat}_applied_ts", sa.DateTime(), nullable=False),
                        sa.Column(f"{sat}_load_ts", sa.DateTime(), nullable=False)]
        comment = f"PIT of {mart.parent_kind} {mart.parent}: " + ", ".join(mart.satellites)
    else:
        columns = [sa.Column(f"{name}_hk", schema.hash_type(), nullable=False,
                             primary_key=n % 2 == 1) for n, name in enumerate(mart.places)]
        columns.append(sa.Column("snapshot_ts", sa.DateTime(), primary_key=True))
        comment = "bridge " + mart.shown_path
    return sa.Table(mart.table, md, *columns, comment=comment)


def metadata(model: m.Model) -> sa.MetaData:
    """The tables of every mart of a model, and the marts' bookkeeping."""
    md = sa.MetaData()
    bookkeeping(md)
    for mart in sorted(model.marts.values(), key=lambda x: x.name):
        mart_table(model, mart, md)
    return md


def definition(model: m.Model, mart: m.Mart) -> str:
    """What a mart's rows depend on: a change rebuilds it."""
    shape = {
        "format": FORMAT, "kind": mart.kind, "parent": mart.parent,
        "satellites": list(mart.satellites), "path": list(mart.path),
        "hash": model.settings.hash,
        "tables": [main_table(model, s) for s in mart.satellites]
        + [model.parent_table(p) for p in (mart.path or (mart.parent,))],
    }
    if mart.effective:  # absent otherwise, so that marts built before it are not rebuilt
        shape["effective"] = [main_table(model, e) for e in mart.effective]
    if mart.places != mart.path:  # a hub in more than one place: the roles of each step
        shape["roles"] = [list(step) for step in mart.roles]
    return json.dumps(shape, sort_keys=True)


def _quote(connection: sa.Connection, name: str) -> str:
    return connection.dialect.identifier_preparer.quote(name)


def drop_views(connection: sa.Connection, marts: Sequence[str] | None = None) -> list[str]:
    """Drop the views of the built marts named (default: all; a migration may change the
    tables under them, and the next `marts build` creates them again). Returns the views
    dropped."""
    inspector = sa.inspect(connection)
    if MART_TABLE not in inspector.get_table_names():
        return []
    if marts is None:
        marts = [r[0] for r in connection.execute(sa.text(f"SELECT mart FROM {MART_TABLE}"))]
    existing = set(inspector.get_view_names())
    dropped = [f"{name}_{which}" for name in marts for which in m.MART_VIEWS
               if f"{name}_{which}" in existing]
    for view in dropped:
        connection.exec_driver_sql(f"DROP VIEW {_quote(connection, view)}")
    return dropped


# ---- building -----------------------------------------------------------------------------
@dataclass
class MartResult:
    """What one mart build or refresh did."""

    mart: str
    kind: str
    full: bool
    reason: str
    snapshots: int
    snapshots_added: int
    snapshots_removed: int
    touched: int
    since: dt.datetime | None
    rows_deleted: int
    rows_inserted: int
    after_batch: int
    upto_batch: int
    held_by: int | None  # the first unfinished batch, if any: it and later ones are left out
    seconds: float


#: what building a mart needs of an engine (``Dialect`` flags): nothing beyond inserts and
#: queries (its steps meet in scratch relations; where the engine has no DELETE, a refresh
#: writes the rows it keeps over the table, templates/spark/)
MART_NEEDS: tuple[str, ...] = ()


def engine_needs(model: m.Model, names: Sequence[str] | None = None
                 ) -> dict[str, tuple[str, ...]]:
    """What building the marts ``names`` (default: every one) needs of an engine, by mart
    as people name it: for ``Dialect.check_needs``."""
    return {f"mart {name}": MART_NEEDS for name in (model.marts if names is None else names)}


class MartBuilder:
    """Builds and refreshes the marts of one model in one database."""

    def __init__(self, model: m.Model, engine: sa.Engine, renderer: Renderer):
        self.model = model
        self.engine = engine
        self.renderer = renderer
        self.md = metadata(model)
        self.marts_table, self.spine_table = (self.md.tables[MART_TABLE],
                                              self.md.tables[SPINE_TABLE])

    def select(self, names: Sequence[str]) -> list[m.Mart]:
        """The marts named (all when none), checking each name."""
        if not self.model.marts:
            raise DatavaultError("the project has no marts; declare them in models/marts/ "
                                 "(see README: Marts for analysts)")
        for name in names:
            if name not in self.model.marts:
                raise DatavaultError(f"unknown mart {name!r}; "
                                     + (did_you_mean(name, self.model.marts)
                                        or f"the marts are {', '.join(sorted(self.model.marts))}"))
        chosen = names or sorted(self.model.marts)
        return [self.model.marts[n] for n in chosen]

    def build(self, mart: m.Mart, full: bool = False, today: dt.date | None = None) -> MartResult:
        """Refresh one mart; rebuild it with ``full``, or when its definition changed or the
        vault's batches are not the ones it was built from."""
        self.renderer.dialect.check_needs("mart build", engine_needs(self.model, [mart.name]))
        started = time.perf_counter()
        try:
            spine = snapshots(mart.spine, today or values.utcnow().date())
        except DatavaultError as exc:
            raise DatavaultError(f"mart {mart.name}: {exc}") from None
        wanted = definition(self.model, mart)
        table = self.md.tables[mart.table]
        rendered = self.renderer.mart(mart)
        views = self.renderer.mart_views(mart)
        with self.engine.begin() as connection:
            self.md.create_all(connection, tables=[self.marts_table, self.spine_table])
            # two builds must not interleave (on SQLite the DDL below is then part of this
            # transaction too)
            self.renderer.dialect.serialize_writers(connection, MART_TABLE)
            stored = connection.execute(sa.select(self.marts_table).where(
                self.marts_table.c.mart == mart.name)).one_or_none()
            reason = self._rebuild_reason(connection, mart, stored, wanted, full)
            rebuild = bool(reason)
            if stored is not None and not self.renderer.dialect.transactions:
                connection.execute(self.marts_table.update().where(
                    self.marts_table.c.mart == mart.name).values(definition=UNDER_WAY))
            watermark, held_by = self._watermark(connection)
            after = -1 if rebuild else stored.last_batch_id
            upto = max(watermark, after, 0)
            # rows of batches after ``upto`` (an unfinished one, and any after it) are left
            # out: they are read by the next build, which starts after ``upto``
            known_at = self._loaded_at(connection, upto)
            old_spine = [] if rebuild else [values.read_timestamp(r[0]) for r in connection.execute(
                sa.select(self.spine_table.c.snapshot_ts)
                .where(self.spine_table.c.mart == mart.name))]
            added = sorted(set(spine) - set(old_spine))
            removed = sorted(set(old_spine) - set(spine))
            # Views are made again only when they changed or are missing: a DROP VIEW would
            # lock out their readers for the whole build, and fail under views built on them.
            digest = hashlib.sha256(views.text.encode()).hexdigest()
            present = set(sa.inspect(connection).get_view_names())
            remake = rebuild or stored.views_digest != digest or any(
                mart.view(v) not in present for v in m.MART_VIEWS)
            if remake:
                for statement in views.statements():
                    if statement.sql.startswith("DROP VIEW"):
                        statement.execute(connection)
            if rebuild:
                if stored is not None and stored.kind != mart.kind:  # pit became bridge
                    connection.exec_driver_sql(
                        f"DROP TABLE IF EXISTS {_quote(connection, f'{stored.kind}_{mart.name}')}")
                table.drop(connection, checkfirst=True)
                table.create(connection)
            self._write_spine(connection, mart, spine, changed=rebuild or added or removed)
            counts_rows = self.renderer.dialect.counts_rows
            before = 0 if counts_rows or rebuild else connection.execute(
                sa.select(sa.func.count()).select_from(table)).scalar()
            deleted = 0
            if removed and not rebuild:
                deleted = connection.execute(table.delete().where(table.c.snapshot_ts.not_in(
                    sa.select(self.spine_table.c.snapshot_ts)
                    .where(self.spine_table.c.mart == mart.name)))).rowcount
            params = {
                "after_batch": after,
                "known_at": values.timestamp_text(known_at),
                "refresh_all": 1 if (rebuild or added) else 0,
                "since_all": GHOST_TEXT if rebuild or not added
                else values.timestamp_text(added[0]),
            }
            touched, since, inserted = 0, None, 0
            for statement in rendered.statements():
                result = statement.execute(connection, params)
                if statement.tag == "touched":
                    touched, since = result.one()
                elif statement.tag == "deleted":  # a DELETE, or a count of the rows removed
                    deleted += (result.scalar() or 0) if result.returns_rows else max(
                        result.rowcount, 0)
                elif statement.tag == "inserted":
                    inserted += max(result.rowcount, 0)
            if not counts_rows:  # the rows it holds now, less those it kept
                inserted = connection.execute(
                    sa.select(sa.func.count()).select_from(table)).scalar() - (before - deleted)
            if remake:
                for statement in views.statements():
                    if not statement.sql.startswith("DROP VIEW"):
                        statement.execute(connection)
            self._record(connection, mart, stored, wanted, digest, upto, rebuild)
        return MartResult(
            mart.name, mart.kind, rebuild, reason, len(spine), 0 if rebuild else len(added),
            len(removed), touched or 0, values.read_timestamp(since) if touched else None, deleted,
            inserted, max(after, 0), upto, held_by, time.perf_counter() - started)

    def _rebuild_reason(self, connection: sa.Connection, mart: m.Mart, stored: Any,
                        wanted: str, full: bool) -> str:
        """Why the mart must be built from scratch ('' when a refresh will do)."""
        if full:
            return "--full"
        if stored is None:
            return "first build"
        if stored.definition == UNDER_WAY:
            return "its last build stopped partway"
        if stored.definition != wanted or stored.kind != mart.kind:
            return "its definition changed"
        if not sa.inspect(connection).has_table(mart.table):
            return "its table was missing"
        if stored.last_batch_id > 0:
            batches = schema.metadata_for(self.model).tables[schema.BATCH_TABLE]
            loaded_at = connection.execute(sa.select(batches.c.loaded_at).where(
                batches.c.batch_id == stored.last_batch_id)).scalar()
            last = values.read_timestamp(stored.last_loaded_at)
            if loaded_at is None or values.read_timestamp(loaded_at) != last:
                return "the vault's batches are not the ones it was built from"
        return ""

    def _record(self, connection: sa.Connection, mart: m.Mart, stored: Any, wanted: str,
                digest: str, upto: int, rebuild: bool) -> None:
        batches = schema.metadata_for(self.model).tables[schema.BATCH_TABLE]
        loaded_at = connection.execute(sa.select(batches.c.loaded_at).where(
            batches.c.batch_id == upto)).scalar()
        now = values.utcnow()
        changes = {"kind": mart.kind, "definition": wanted, "views_digest": digest,
                   "last_batch_id": upto,
                   "last_loaded_at": loaded_at, "refreshed_at": now}
        if stored is None:
            connection.execute(self.marts_table.insert().values(
                mart=mart.name, built_at=now, **changes))
            return
        if rebuild:
            changes["built_at"] = now
        connection.execute(self.marts_table.update().where(
            self.marts_table.c.mart == mart.name).values(**changes))

    def _loaded_at(self, connection: sa.Connection, batch_id: int) -> dt.datetime:
        """The load time of batch ``batch_id`` (of the last one before it, were it missing;
        the earliest time when there is none)."""
        batches = schema.metadata_for(self.model).tables[schema.BATCH_TABLE]
        loaded_at = connection.execute(sa.select(sa.func.max(batches.c.loaded_at)).where(
            batches.c.batch_id <= batch_id)).scalar()
        return values.read_timestamp(loaded_at) if loaded_at is not None else GHOST_TIME

    def _watermark(self, connection: sa.Connection) -> tuple[int, int | None]:
        """The last batch whose loads are over with none before it unfinished, and the first
        unfinished batch (a build takes in rows up to the first one's load time; its rows and
        later ones are read by the next build, as they may not all be written yet)."""
        batches = schema.metadata_for(self.model).tables[schema.BATCH_TABLE]
        running = connection.execute(sa.select(sa.func.min(batches.c.batch_id)).where(
            batches.c.status.in_(schema.BATCH_UNFINISHED))).scalar()
        if running is not None:
            return running - 1, running
        last = connection.execute(sa.select(sa.func.max(batches.c.batch_id))).scalar()
        return last or 0, None

    def _write_spine(self, connection: sa.Connection, mart: m.Mart,
                     spine: list[dt.datetime], changed: bool) -> None:
        if not changed:
            return
        connection.execute(self.spine_table.delete().where(
            self.spine_table.c.mart == mart.name))
        if spine:  # a spine may be empty, e.g. every month from a date still to come
            connection.execute(self.spine_table.insert(), [
                {"mart": mart.name, "snapshot_ts": t, "position": i}
                for i, t in enumerate(spine, 1)])

    def resolution_views(self) -> list[str]:
        """Make again the view ``LINK__resolved`` of every same-as link (SEMANTICS.md section
        10): it reads the vault when queried, so it holds no rows to refresh. Returns the
        views made."""
        made = []
        wanted = sorted(n for n, lk in self.model.links.items() if lk.same_as)
        for link in wanted:
            with self.engine.begin() as connection:
                for statement in self.renderer.resolution_view(link).statements():
                    statement.execute(connection)
            made.append(m.resolution_view(link))
        with self.engine.begin() as connection:  # of links no longer declared same-as
            for view in sa.inspect(connection).get_view_names():
                if view.endswith("__resolved") and view not in made:
                    connection.exec_driver_sql(f"DROP VIEW {_quote(connection, view)}")
        return made

    def drop_stale(self) -> list[str]:
        """Drop the tables and views of marts that the model no longer declares."""
        dropped = []
        with self.engine.begin() as connection:
            if not sa.inspect(connection).has_table(MART_TABLE):
                return []
            built = connection.execute(
                sa.select(self.marts_table.c.mart, self.marts_table.c.kind)).all()
            for name, kind in built:
                if name in self.model.marts:
                    continue
                drop_views(connection, [name])
                connection.exec_driver_sql(
                    f"DROP TABLE IF EXISTS {_quote(connection, f'{kind}_{name}')}")
                for table in (self.spine_table, self.marts_table):
                    connection.execute(table.delete().where(table.c.mart == name))
                dropped.append(name)
        return dropped
