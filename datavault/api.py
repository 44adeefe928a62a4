"""One public function per command; the CLI is a thin layer over these."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.schema import CreateIndex, CreateTable

from datavault import database, marts, migrate, query, schema
from datavault.diagnostics import DatavaultError
from datavault.dialects import get_dialect
from datavault.load import (
    STATES,
    Batch,
    Loader,
    LoadResult,
    Progress,
    arrow_input,
    open_input,
)
from datavault.load.batches import UNDER_WAY
from datavault.metadata import load_project
from datavault.metadata.project import Project
from datavault.render import Renderer
from datavault.resources import example_dir

EXAMPLE_PARTS = ("models", "config", "data", "migrations")
MIGRATIONS = "migrations"
ALEMBIC_INI = "alembic.ini"
ENVIRONMENT_FILES = ("env.py", "script.py.mako")


@dataclass
class Session:
    """A project opened against a database."""

    project: Project
    engine: sa.Engine
    loader: Loader

    def close(self) -> None:
        self.engine.dispose()


def validate(project_dir: Path | str = ".") -> Project:
    """Read and validate a project; raises ModelError with every problem."""
    return load_project(project_dir)


def init_project(target: Path | str) -> Path:
    """Write the small, working example project into ``target`` (new or empty)."""
    target = Path(target)
    if target.exists() and any(target.iterdir()):
        raise DatavaultError(f"{target} is not empty; choose a new or empty folder")
    source = example_dir()
    for part in EXAMPLE_PARTS:
        shutil.copytree(source / part, target / part, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copyfile(source / ALEMBIC_INI, target / ALEMBIC_INI)
    templates = target / "templates"
    templates.mkdir(parents=True, exist_ok=True)
    (templates / "README.md").write_text(
        "Templates placed here override the shipped ones of the same name: "
        "`base/NAME.sql.j2` for every database, `postgresql/NAME.sql.j2` or "
        "`sqlite/NAME.sql.j2` for one.\n",
        encoding="utf-8",
    )
    (target / ".gitignore").write_text("vault.sqlite*\n", encoding="utf-8")
    return target


def generate(project_dir: Path | str, dialect_name: str, out: Path | str) -> list[Path]:
    """Write the DDL and every staging and load statement for one dialect; returns the files."""
    project = validate(project_dir)
    dialect = get_dialect(dialect_name)
    renderer = Renderer(project.model, dialect, project.root / "templates")
    sa_dialect = dialect.sqlalchemy_dialect()
    out = Path(out)
    written: list[Path] = []

    def write(relative: str, text: str) -> None:
        path = out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")
        written.append(path)

    metadata = schema.build_metadata(project.model)
    ddl = [f"-- Tables of the vault ({dialect_name}), generated from the model.\n"]
    for table in sorted(metadata.tables.values(), key=lambda t: t.name):
        ddl.append(str(CreateTable(table).compile(dialect=sa_dialect)).strip() + ";\n")
        for index in sorted(table.indexes, key=lambda i: i.name or ""):
            ddl.append(str(CreateIndex(index).compile(dialect=sa_dialect)).strip() + ";\n")
    write("ddl.sql", "\n".join(ddl))
    for source in sorted(project.model.sources.values(), key=lambda s: s.name):
        write(f"stage/{source.name}.sql", renderer.stage(source).text)
    for source, entity, rendered in renderer.all_loads():
        file = f"load/{source.name}/{entity}.sql"
        write(file, rendered.script(dialect.run_hint(file, "batch_id", "N")))
    if project.model.marts:
        mart_md = marts.metadata(project.model)
        ddl = [f"-- Tables of the marts ({dialect_name}), made by `datavault marts build`.\n"]
        for table in sorted(mart_md.tables.values(), key=lambda t: t.name):
            ddl.append(str(CreateTable(table).compile(dialect=sa_dialect)).strip() + ";\n")
        write("marts/ddl.sql", "\n".join(ddl))
        for mart in sorted(project.model.marts.values(), key=lambda x: x.name):
            write(f"marts/{mart.name}.sql", renderer.mart(mart).text)
            write(f"marts/{mart.name}_views.sql", renderer.mart_views(mart).text)
    return written


def open_session(project_dir: Path | str = ".", url: str | None = None,
                 profile: str | None = None, check: bool = True) -> Session:
    """Validate a project and connect to its database; with ``check``, make sure the schema
    matches the model before anything is written (else: run `datavault migrate upgrade`)."""
    project = validate(project_dir)
    resolved = database.resolve_url(project.root, project.model.settings, url, profile)
    engine, dialect = database.connect(resolved)
    if check:
        try:
            with engine.connect() as connection:
                _require_matching_schema(connection, project.model)
        except BaseException:
            engine.dispose()
            raise
    renderer = Renderer(project.model, dialect, project.root / "templates")
    return Session(project, engine, Loader(project.model, engine, dialect, renderer))


def load(project_dir: Path | str, source: str, input_spec: object, *, url: str | None = None,
         profile: str | None = None, applied_at: dt.datetime | None = None,
         only: Sequence[str] = (), table: str | None = None, query: str | None = None,
         force: bool = False, allow_mass_delete: bool = False,
         progress: Progress | None = None) -> LoadResult:
    """Stage one batch of ``source`` and load what it feeds. ``input_spec``: a file's path
    (CSV, Parquet or JSON Lines, compressed or not; ``-`` for standard input), a database
    URL (with ``table`` or ``query``), or a pyarrow Table or pandas DataFrame.

    A file identical to one already loaded for ``source`` is skipped unless ``force``. A
    snapshot that would delete more than the source's ``max_deletes`` of a satellite's live
    keys is refused (the result's status is ``failed``, nothing is written to the vault)
    unless ``allow_mass_delete``.
    """
    if isinstance(input_spec, (str, Path)):
        batch = open_input(str(input_spec), table=table, query=query, default_table=source)
    else:
        batch = arrow_input(input_spec)
    session = open_session(project_dir, url, profile)
    try:
        kwargs = {"progress": progress} if progress else {}
        return session.loader.load(source, batch, applied_at=applied_at, only=only,
                                   force=force, allow_mass_delete=allow_mass_delete, **kwargs)
    finally:
        session.close()


def resume(project_dir: Path | str, batch_id: int, *, url: str | None = None,
           profile: str | None = None, progress: Progress | None = None,
           allow_mass_delete: bool = False) -> LoadResult:
    """Run the entity loads of a batch that have not succeeded, from its staged rows (a
    batch none of whose loads has begun is checked for mass deletion, as in ``load``)."""
    session = open_session(project_dir, url, profile)
    try:
        kwargs = {"progress": progress} if progress else {}
        return session.loader.resume(batch_id, allow_mass_delete=allow_mass_delete, **kwargs)
    finally:
        session.close()


def batches(project_dir: Path | str, *, source: str | None = None,
            status: str | None = None, limit: int | None = 50, url: str | None = None,
            profile: str | None = None) -> list[BatchState]:
    """The batches in the ledger, newest first, each with whether a load is working on it
    now (a batch under way that no loader holds was interrupted)."""
    session = open_session(project_dir, url, profile, check=False)
    try:
        model = session.project.model
        if source is not None and source not in model.sources:
            raise DatavaultError(f"unknown source {source!r}")
        if status is not None and status not in STATES:
            raise DatavaultError(f"unknown state {status!r}; the states are {', '.join(STATES)}")
        loader = session.loader
        listed = loader.ledger.listing(source, status, limit)
        running: dict[str, bool] = {}
        result = []
        for batch in listed:
            alive = None
            if batch.status in UNDER_WAY:
                if batch.source not in running:
                    running[batch.source] = loader.is_running(batch.source)
                alive = running[batch.source]
            result.append(BatchState(batch, alive))
        return result
    finally:
        session.close()


@dataclass
class BatchState:
    """A batch of the ledger, and for one under way whether its loader is still at work."""

    batch: Batch
    running: bool | None  # None: not under way

    @property
    def state(self) -> str:
        """The state for people: an interrupted batch says so."""
        if self.running is False:
            return f"{self.batch.status} (interrupted)"
        return self.batch.status


def build_marts(project_dir: Path | str, names: Sequence[str] = (), *, full: bool = False,
                url: str | None = None, profile: str | None = None,
                today: dt.date | None = None,
                progress=None) -> tuple[list[marts.MartResult], list[str]]:
    """Refresh the marts named (default: all) after loads, or rebuild them with ``full``.

    Returns what each did, and the marts dropped because the model no longer declares them.
    ``today`` ends the spines that have no ``to:`` (default: the current UTC date).
    """
    session = open_session(project_dir, url, profile)
    try:
        builder = marts.MartBuilder(session.project.model, session.engine,
                                    session.loader.renderer)
        dropped = builder.drop_stale() if not names else []
        if dropped and not session.project.model.marts:
            return [], dropped
        chosen = builder.select(list(names))
        results = []
        for mart in chosen:
            result = builder.build(mart, full=full, today=today)
            if progress:
                progress(result)
            results.append(result)
        return results, dropped
    finally:
        session.close()


def _session_call(project_dir, url, profile, work):
    session = open_session(project_dir, url, profile)
    try:
        with session.engine.connect() as connection:
            return work(session.project.model, connection)
    finally:
        session.close()


def query_state(project_dir: Path | str, entity: str, keys: Sequence[str] = (), *,
                at: dt.datetime | None = None, known_at: dt.datetime | int | None = None,
                url: str | None = None, profile: str | None = None) -> query.Answer:
    """The state of keys of a satellite, hub or link at ``at`` as known at ``known_at`` (a
    load time or a batch id; default: before the first batch that has not finished)."""
    return _session_call(project_dir, url, profile, lambda model, c: query.state(
        c, model, entity, list(keys) or None, at=at, known_at=known_at))


def query_history(project_dir: Path | str, entity: str, keys: Sequence[str] = (), *,
                  known_at: dt.datetime | int | None = None, url: str | None = None,
                  profile: str | None = None) -> query.Answer:
    """Every version of keys of a satellite, hub or link, with both time axes, as known at
    ``known_at`` (as in ``query_state``)."""
    return _session_call(project_dir, url, profile, lambda model, c: query.history(
        c, model, entity, list(keys) or None, known_at=known_at))


def quarantined(project_dir: Path | str, *, batch: int | None = None,
                source: str | None = None, url: str | None = None,
                profile: str | None = None) -> query.Answer:
    """Rows that were not loaded, with the batch, source, entity, row number, reason and
    the row's values (``data``: a dict of column to value, or None)."""
    def work(model, connection):
        table = schema.build_metadata(model).tables[schema.QUARANTINE_TABLE]
        select = sa.select(table.c.batch_id.label("batch"), table.c.source,
                           table.c.entity, table.c.row_number.label("row"), table.c.reason,
                           table.c.data)
        if batch is not None:
            select = select.where(table.c.batch_id == batch)
        if source is not None:
            if source not in model.sources:
                raise DatavaultError(f"unknown source {source!r}")
            select = select.where(table.c.source == source)
        result = connection.execute(select.order_by(table.c.batch_id, table.c.row_number,
                                                    table.c.entity))
        return query.Answer(list(result.keys()), [(*r[:-1], _row_data(r[-1])) for r in result])
    return _session_call(project_dir, url, profile, work)


def _row_data(text: str | None) -> dict | None:
    """A quarantined row's values as stored (JSON text), as a dict; a number with a fraction
    is a Decimal, so none of its digits is lost."""
    return None if text is None else json.loads(text, parse_float=Decimal)


def export_quarantine(answer: query.Answer, model_dir: Path | str, out: Path | str) -> int:
    """Write quarantined rows of one source as a CSV in the source's columns, to fix and load
    again as a new batch; returns the number of rows written."""
    records = answer.records()
    sources = {r["source"] for r in records}
    if len(sources) > 1:
        raise DatavaultError("the rows come from several sources; choose one with --source")
    if not records:
        Path(out).write_text("", encoding="utf-8")
        return 0
    source = validate(model_dir).model.sources[sources.pop()]
    header = [c.name for c in source.columns]
    seen: set[tuple[int, int]] = set()
    with Path(out).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for record in records:
            if (record["batch"], record["row"]) in seen:
                continue  # one row can be rejected by several entities
            seen.add((record["batch"], record["row"]))
            data = record["data"] or {}
            writer.writerow(["" if data.get(name) is None else _csv_text(data.get(name))
                             for name in header])
    return len(seen)


def _csv_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# ---- schema evolution (datavault migrate ...) ---------------------------------------------
@dataclass
class Revision:
    """What ``migrate revision`` wrote, and what it found."""

    path: Path | None  # None: the database already matches the model, nothing written
    changes: list[str]  # one line per schema change
    contract: list[str]  # key contract items added or widened
    kept: list[str]  # tables and columns the model no longer has, left in the database
    dropped: list[str]  # the same, dropped because the user asked
    environment_written: bool = False


@dataclass
class Check:
    """Whether a database matches a project's model and migrations."""

    current: list[str]  # revisions the database is at
    heads: list[str]  # latest revisions of the project's migrations
    differences: list[str]
    kept: list[str]

    @property
    def ok(self) -> bool:
        return not self.differences and set(self.current) == set(self.heads)


def write_migration_environment(project_dir: Path | str) -> bool:
    """Write ``alembic.ini`` and ``migrations/`` (env.py, script template, versions/) into a
    project that has none; returns whether anything was written."""
    root = Path(project_dir)
    migrations = root / MIGRATIONS
    wrote = False
    if not (root / ALEMBIC_INI).is_file():
        shutil.copyfile(example_dir() / ALEMBIC_INI, root / ALEMBIC_INI)
        wrote = True
    (migrations / "versions").mkdir(parents=True, exist_ok=True)
    for name in ENVIRONMENT_FILES:
        if not (migrations / name).is_file():
            shutil.copyfile(example_dir() / MIGRATIONS / name, migrations / name)
            wrote = True
    return wrote


def _migration(project_dir: Path | str, url: str | None, profile: str | None,
               drop_removed: bool = False, allow_empty: bool = False):
    """The project, alembic's Config for it, and the state its env.py will run with."""
    project = validate(project_dir)
    if not migrate.environment_ready(project.root / MIGRATIONS):
        raise DatavaultError(
            f"{project.root / MIGRATIONS} has no Alembic environment; "
            "`datavault migrate revision -m MESSAGE` writes one with the first migration")
    resolved = database.resolve_url(project.root, project.model.settings, url, profile)
    engine, _ = database.connect(resolved)  # a readable error when it is unreachable
    engine.dispose()
    ini = project.root / ALEMBIC_INI
    config = Config(str(ini) if ini.is_file() else None, stdout=_Discard())
    config.set_main_option("script_location", str(project.root / MIGRATIONS))
    config.cmd_opts = argparse.Namespace(quiet=True, x=None)  # datavault prints its own lines
    hooks = migrate.Hooks(project.model, drop_removed=drop_removed, allow_empty=allow_empty)
    state = migrate.EnvironmentState(project.model, resolved, hooks)
    config.attributes[migrate.STATE] = state
    return project, config, state


class _Discard:
    def write(self, _text: str) -> None:
        pass


def _alembic(call, *args, **kwargs):
    """Run an alembic command, its errors as one readable line."""
    try:
        return call(*args, **kwargs)
    except migrate.SchemaRefused:
        raise
    except CommandError as exc:
        message = str(exc)
        if "not up to date" in message:
            message = ("the database is not at the latest migration: run "
                       "`datavault migrate upgrade` first, then make the revision")
        elif "Can't locate revision" in message or "No such revision" in message:
            message += "; `datavault migrate history` lists the revisions"
        raise DatavaultError(message) from None


def migrate_revision(project_dir: Path | str, message: str, *, url: str | None = None,
                     profile: str | None = None, drop_removed: bool = False,
                     empty: bool = False) -> Revision:
    """Write a migration from the difference between the model and the database.

    Tables and columns the model no longer has are kept unless ``drop_removed``; a change that
    would break stored keys or lose data is refused (SchemaRefused) and nothing is written.
    ``empty`` writes a revision even when nothing differs (for a hand-written step)."""
    wrote = write_migration_environment(project_dir)
    _, config, state = _migration(project_dir, url, profile, drop_removed, allow_empty=empty)
    script = _alembic(command.revision, config, message=message, autogenerate=True)
    hooks = state.hooks
    scripts = script if isinstance(script, list) else [script] if script else []
    return Revision(
        path=Path(scripts[0].path) if scripts else None,
        changes=hooks.summary,
        contract=[str(c) if c.kind != "breaking" else
                  f"{c.item}: {c.before} -> {c.after} (allowed while no batch is loaded)"
                  for c in hooks.changes if c.kind != "removed"],
        kept=hooks.kept, dropped=hooks.dropped, environment_written=wrote)


class Steps(list):
    """The migration steps run (``migrate.Step``; ``str()`` of one is its line), and the mart
    views dropped before them."""

    views_dropped: list[str]


def _steps(state: migrate.EnvironmentState) -> Steps:
    steps = Steps(state.applied)
    steps.views_dropped = state.views_dropped
    return steps


def migrate_upgrade(project_dir: Path | str, revision: str = "head", *, url: str | None = None,
                    profile: str | None = None) -> Steps:
    """Apply migrations up to ``revision`` (default: the latest); returns the steps run.

    The views of built marts are dropped first when a step will run (`marts build` makes
    them again)."""
    project, config, state = _migration(project_dir, url, profile)
    if not migrate.versions_of(project.root / MIGRATIONS):
        raise DatavaultError("there are no migrations yet: `datavault migrate revision -m "
                             "MESSAGE` writes the first one from the model")
    state.migrating = "upgrade"
    _alembic(command.upgrade, config, revision)
    return _steps(state)


def migrate_downgrade(project_dir: Path | str, revision: str, *, url: str | None = None,
                      profile: str | None = None) -> Steps:
    """Undo migrations down to ``revision`` (``-1`` for one step, ``base`` for all)."""
    _, config, state = _migration(project_dir, url, profile)
    state.migrating = "downgrade"
    _alembic(command.downgrade, config, revision)
    return _steps(state)


def _script_directory(root: Path) -> ScriptDirectory:
    config = Config()
    config.set_main_option("script_location", str(root / MIGRATIONS))
    return ScriptDirectory.from_config(config)


class Migration(NamedTuple):
    """A migration of the project: its revision, the ones it revises (none: the first), and
    its message."""

    revision: str
    revises: tuple[str, ...]
    message: str


def migrate_history(project_dir: Path | str) -> list[Migration]:
    """Every migration of the project, newest first."""
    project = validate(project_dir)
    if not migrate.environment_ready(project.root / MIGRATIONS):
        return []
    scripts = _alembic(lambda: list(_script_directory(project.root).walk_revisions()))
    return [Migration(s.revision, _revisions(s.down_revision), s.doc or "") for s in scripts]


def _revisions(revisions: str | Sequence[str] | None) -> tuple[str, ...]:
    if revisions is None:
        return ()
    return (revisions,) if isinstance(revisions, str) else tuple(revisions)


def migrate_check(project_dir: Path | str, *, url: str | None = None,
                  profile: str | None = None) -> Check:
    """Compare the database with the project's migrations and its model."""
    project = validate(project_dir)
    heads = []
    if migrate.environment_ready(project.root / MIGRATIONS):
        heads = list(_alembic(lambda: _script_directory(project.root).get_heads()))
    engine, _ = database.connect(
        database.resolve_url(project.root, project.model.settings, url, profile))
    try:
        with engine.connect() as connection:
            current = list(MigrationContext.configure(connection).get_current_heads())
            compared = migrate.compare_database(connection, project.model)
            return Check(current, heads, compared.differences, compared.kept)
    finally:
        engine.dispose()


def _require_matching_schema(connection: sa.Connection, model) -> None:
    if not sa.inspect(connection).has_table(schema.BATCH_TABLE):
        raise DatavaultError("the database has no vault yet: run `datavault migrate upgrade` "
                             "(a new project: `datavault migrate revision -m \"first model\"` "
                             "first)")
    found = migrate.compare_database(connection, model).differences
    refused = [line for line in found if line.startswith("refused:")]
    if refused:
        item = refused[0].removeprefix("refused: contract ").split(": ")[0]
        raise DatavaultError(
            f"the model changes what the loaded data depends on ({item}), which no migration "
            "may do: undo that change in the YAML; `datavault migrate check` says why")
    if found:
        count = f"{len(found)} difference{'s' if len(found) != 1 else ''}"
        raise DatavaultError(
            f"the database does not match the model ({count}, e.g. {found[0]}): run "
            "`datavault migrate upgrade`, or `datavault migrate revision -m MESSAGE` first if no "
            "migration has this change yet; `datavault migrate check` lists every difference")
