"""One public function per command; the CLI is a thin layer over these.

The commands that work on a database open a session (``connect``: one project read, one
engine, one read of the recorded schema), run one method of it and close it; a program that
asks many questions keeps one session open instead (README: From Python). Alembic is
imported only by the ``migrate_*`` functions.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from sqlalchemy.schema import CreateIndex, CreateTable

from datavault import database, kinds, lineage_events, marts, query, schema
from datavault import docs as docs_site
from datavault import model as m
from datavault import plan as run_plan
from datavault import stream as streaming
from datavault.diagnostics import DatavaultError
from datavault.dialects import DEFAULT, DIALECTS, Dialect, get_dialect
from datavault.load import CheckRun, LoadResult, Progress
from datavault.metadata import load_project
from datavault.metadata.project import Project
from datavault.render import Renderer
from datavault.resources import example_dir
from datavault.session import MIGRATIONS, BatchState, Vault, connect

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory

    from datavault.migrate import EnvironmentState

__all__ = ["BatchState", "Vault", "connect"]  # and one function per command below

EXAMPLE_PARTS = ("models", "config", "data", "migrations")
ALEMBIC_INI = "alembic.ini"
ENVIRONMENT_FILES = ("env.py", "script.py.mako")


def validate(project_dir: Path | str = ".") -> Project:
    """Read and validate a project; raises ModelError with every problem."""
    return load_project(project_dir)


def plan(project_dir: Path | str = ".") -> run_plan.Plan:
    """The steps an orchestrator runs for a project, from its model alone (no database): a
    load per source, a build per mart after the loads of the sources it reads, the stages
    of steps that may run at once, and the loads that share a load lock."""
    return run_plan.plan(validate(project_dir).model)


def embedded_engine(engine: str) -> Dialect:
    """The dialect of an engine whose database is a file in the project (a project's own
    vault without a server), usable here: its driver installed."""
    dialect = get_dialect(engine)
    if not dialect.file_database:
        embedded = sorted(n for n, d in DIALECTS.items() if d.file_database)
        raise DatavaultError(f"{engine} keeps its database on a server, not in the project: "
                             f"give its URL with --url (a project's own file: "
                             f"{', '.join(embedded)})")
    missing = dialect.missing_driver()
    if missing:
        raise DatavaultError(missing)
    return dialect


def init_project(target: Path | str, engine: str | None = None) -> Path:
    """Write the small, working example project into ``target`` (new or empty); with
    ``engine`` (one whose database is a file), its local profile's vault is on that engine."""
    target = Path(target)
    if target.exists() and any(target.iterdir()):
        raise DatavaultError(f"{target} is not empty; choose a new or empty folder")
    dialect = embedded_engine(engine or DEFAULT)
    source = example_dir()
    for part in EXAMPLE_PARTS:
        shutil.copytree(source / part, target / part, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copyfile(source / ALEMBIC_INI, target / ALEMBIC_INI)
    templates = target / "templates"
    templates.mkdir(parents=True, exist_ok=True)
    (templates / "README.md").write_text(
        "Templates placed here override the shipped ones of the same name: "
        "`base/NAME.sql.j2` for every database, `ENGINE/NAME.sql.j2` for one ("
        + ", ".join(f"`{name}`" for name in sorted(DIALECTS)) + ").\n",
        encoding="utf-8",
    )
    default = get_dialect(DEFAULT)
    if dialect.name != default.name:  # the local profile's vault, a file in the project
        config = target / "config" / "datavault.yml"
        old = f"url: {default.name}:///{default.default_file}"
        text = config.read_text(encoding="utf-8")
        assert old in text, "the example's local profile names the default engine's file"
        config.write_text(text.replace(
            old, f"url: {dialect.name}:///{dialect.default_file}"), encoding="utf-8")
    (target / ".gitignore").write_text(f"{dialect.default_file}*\n", encoding="utf-8")
    return target


def generate(project_dir: Path | str, dialect_name: str, out: Path | str) -> list[Path]:
    """Write the DDL and every staging and load statement for one dialect; returns the files."""
    project = validate(project_dir)
    dialect = get_dialect(dialect_name)
    dialect.check_needs(f"generate --dialect {dialect.name}",
                        {**kinds.engine_needs(project.model), **marts.engine_needs(project.model)})
    renderer = Renderer(project.model, dialect, project.root / "templates")
    try:  # the SQL is compiled by the engine's SQLAlchemy dialect, from its driver package
        sa_dialect = dialect.sqlalchemy_dialect()
    except ImportError as exc:
        raise DatavaultError(dialect.missing_driver() or f"generate --dialect {dialect.name}: "
                             f"{exc}") from None
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
        write(f"stage/{source.name}.sql",
              renderer.stage(source).file_text(dialect.script_parameter))
    for source, entity, rendered in renderer.all_loads():
        file = f"load/{source.name}/{entity}.sql"
        write(file, rendered.script(dialect.run_hint(file, "batch_id", "N"),
                                    dialect.script_parameter))
    if project.model.marts:
        mart_md = marts.metadata(project.model)
        ddl = [f"-- Tables of the marts ({dialect_name}), made by `datavault marts build`.\n"]
        for table in sorted(mart_md.tables.values(), key=lambda t: t.name):
            ddl.append(str(CreateTable(table).compile(dialect=sa_dialect)).strip() + ";\n")
        write("marts/ddl.sql", "\n".join(ddl))
        for mart in sorted(project.model.marts.values(), key=lambda x: x.name):
            write(f"marts/{mart.name}.sql", renderer.mart(mart).text)
            write(f"marts/{mart.name}_views.sql", renderer.mart_views(mart).text)
    for link in sorted(n for n, lk in project.model.links.items() if lk.same_as):
        write(f"marts/{m.resolution_view(link)}.sql", renderer.resolution_view(link).text)
    return written


def open_session(project_dir: Path | str = ".", url: str | None = None,
                 profile: str | None = None, check: bool = True) -> Vault:
    """``connect``, and with ``check`` make sure that every table of the model is as the
    database records it before anything is written (else: run `datavault migrate upgrade`)."""
    vault = connect(project_dir, url, profile)
    if check:
        try:
            vault.check()
        except BaseException:
            vault.close()
            raise
    return vault


def load(project_dir: Path | str, source: str, input_spec: object, *, url: str | None = None,
         profile: str | None = None, applied_at: dt.datetime | None = None,
         only: Sequence[str] = (), table: str | None = None, query: str | None = None,
         force: bool = False, allow_mass_delete: bool = False,
         progress: Progress | None = None, openlineage: bool = False) -> LoadResult:
    """Stage one batch of ``source`` and load what it feeds. ``input_spec``: a file's path
    (CSV, Parquet or JSON Lines, compressed or not; ``-`` for standard input), a database
    URL (with ``table`` or ``query``), or a pyarrow Table or pandas DataFrame.

    A file identical to one already loaded for ``source`` is skipped unless ``force``. A
    snapshot that would delete more than the source's ``max_deletes`` of a satellite's live
    keys is refused (the result's status is ``failed``, nothing is written to the vault)
    unless ``allow_mass_delete``.

    With ``openlineage``, the load emits OpenLineage run events (``datavault.lineage_events``:
    START, then COMPLETE or FAIL) through the client configured by OpenLineage's own settings.
    """
    with connect(project_dir, url, profile) as vault:
        def run() -> LoadResult:
            return vault.load(source, input_spec, applied_at=applied_at, only=only,
                              table=table, query=query, force=force,
                              allow_mass_delete=allow_mass_delete, progress=progress)

        if not openlineage or source not in vault.model.sources:
            return run()
        inputs = lineage_events.input_dataset(input_spec, source, table, query)
        with lineage_events.around_load(vault.model, source, vault.engine.url,
                                        inputs) as events:
            result = run()
        rows = lineage_events.written(result)
        if result.ok:
            events.complete(rows, result.checks)
        else:
            events.fail(result.batch.message or result.status, rows, result.checks)
        return result


def resume(project_dir: Path | str, batch_id: int, *, url: str | None = None,
           profile: str | None = None, progress: Progress | None = None,
           allow_mass_delete: bool = False) -> LoadResult:
    """Run the entity loads of a batch that have not succeeded, from its staged rows (a
    batch none of whose loads has begun is checked for mass deletion, as in ``load``)."""
    with connect(project_dir, url, profile) as vault:
        return vault.resume(batch_id, progress=progress, allow_mass_delete=allow_mass_delete)


def batches(project_dir: Path | str, *, source: str | None = None,
            status: str | None = None, limit: int | None = 50, url: str | None = None,
            profile: str | None = None) -> list[BatchState]:
    """The batches in the ledger, newest first, each with whether a load is working on it
    now (a batch under way that no loader holds was interrupted)."""
    with connect(project_dir, url, profile) as vault:
        return vault.batches(source=source, status=status, limit=limit)


def build_marts(project_dir: Path | str, names: Sequence[str] = (), *, full: bool = False,
                url: str | None = None, profile: str | None = None,
                today: dt.date | None = None,
                progress=None) -> tuple[list[marts.MartResult], list[str]]:
    """Refresh the marts named (default: all) after loads, or rebuild them with ``full``.

    Returns what each did, and the marts dropped because the model no longer declares them.
    ``today`` ends the spines that have no ``to:`` (default: the current UTC date).
    """
    with connect(project_dir, url, profile) as vault:
        return vault.build_marts(names, full=full, today=today, progress=progress)


def query_state(project_dir: Path | str, entity: str, keys: Sequence[str] = (), *,
                at: dt.datetime | None = None, known_at: dt.datetime | int | None = None,
                url: str | None = None, profile: str | None = None) -> query.Answer:
    """The state of keys of a satellite, hub or link at ``at`` as known at ``known_at`` (a
    load time or a batch id; default: before the first batch that has not finished)."""
    with connect(project_dir, url, profile) as vault:
        return vault.query_state(entity, keys, at=at, known_at=known_at)


def query_history(project_dir: Path | str, entity: str, keys: Sequence[str] = (), *,
                  known_at: dt.datetime | int | None = None, url: str | None = None,
                  profile: str | None = None) -> query.Answer:
    """Every version of keys of a satellite, hub or link, with both time axes, as known at
    ``known_at`` (as in ``query_state``)."""
    with connect(project_dir, url, profile) as vault:
        return vault.history(entity, keys, known_at=known_at)


def quarantined(project_dir: Path | str, *, batch: int | None = None,
                source: str | None = None, url: str | None = None,
                profile: str | None = None) -> query.Answer:
    """Rows that were not loaded, with the batch, source, entity, row number, reason and
    the row's values (``data``: a dict of column to value, or None)."""
    with connect(project_dir, url, profile) as vault:
        return vault.quarantined(batch=batch, source=source)


def checks(project_dir: Path | str, *, batch: int | None = None, source: str | None = None,
           limit: int | None = None, url: str | None = None,
           profile: str | None = None) -> list[CheckRun]:
    """The recorded runs of the sources' checks at entry: of one ``batch``, of one
    ``source``, or of the ``limit`` newest batches that ran any; newest batch first."""
    with connect(project_dir, url, profile) as vault:
        return vault.checks(batch=batch, source=source, limit=limit)


def export_quarantine(answer: query.Answer, model_dir: Path | str, out: Path | str) -> int:
    """Write quarantined rows of one source as a file in the source's columns and declared
    CSV dialect, to fix and load again as a new batch; returns the number of rows written.
    A line that was not a row (too many or too few fields, an unclosed quote) has no
    columns to write: it is left out (``Exported.unmapped`` counts those)."""
    return export_quarantined_rows(answer, model_dir, out).written


@dataclass
class Exported:
    """What ``export_quarantined_rows`` wrote."""

    written: int
    unmapped: int  # quarantined lines that were not rows of the source's columns


def export_quarantined_rows(answer: query.Answer, model_dir: Path | str,
                            out: Path | str) -> Exported:
    """As ``export_quarantine``, with the number of lines left out."""
    records = answer.records()
    sources = {r["source"] for r in records}
    if len(sources) > 1:
        raise DatavaultError("the rows come from several sources; choose one with --source")
    if not records:
        Path(out).write_text("", encoding="utf-8")
        return Exported(0, 0)
    source = validate(model_dir).model.sources[sources.pop()]
    form = source.input
    header = [c.name for c in source.columns]
    seen: set[tuple[int, int]] = set()
    unmapped = 0
    with Path(out).open("w", newline="", encoding=form.encoding) as handle:
        writer = csv.writer(handle, delimiter=form.delimiter, quotechar=form.quote or '"',
                            quoting=csv.QUOTE_MINIMAL if form.quote else csv.QUOTE_NONE,
                            escapechar=form.escape, doublequote=form.escape is None,
                            lineterminator="\n")
        if form.header:
            writer.writerow(header)
        for record in records:
            if (record["batch"], record["row"]) in seen:
                continue  # one row can be rejected by several entities
            seen.add((record["batch"], record["row"]))
            data = {str(k).strip().lower(): v for k, v in (record["data"] or {}).items()}
            if not any(name in data for name in header):
                unmapped += 1
                continue
            values = [data.get(name) for name in header]
            writer.writerow(["" if v is None else _csv_text(v) for v in values])
    return Exported(len(seen) - unmapped, unmapped)


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
    #: tables that match the model although the shape recorded for them is not the model's
    #: (a database migrated before shapes were recorded): commands compare them in full
    unrecorded: list[str] = field(default_factory=list)

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
    from alembic.config import Config

    from datavault import migrate

    project = validate(project_dir)
    if not migrate.environment_ready(project.root / MIGRATIONS):
        raise DatavaultError(
            f"{project.root / MIGRATIONS} has no Alembic environment; "
            "`datavault migrate revision -m MESSAGE` writes one with the first migration")
    resolved = database.resolve_url(project.root, project.model.settings, url, profile)
    database.vault_dialect(resolved)
    engine, _ = database.connect(resolved)  # a readable error when it is unreachable
    engine.dispose()
    ini = project.root / ALEMBIC_INI
    config = Config(str(ini) if ini.is_file() else None, stdout=_Discard())
    config.set_main_option("script_location", str(project.root / MIGRATIONS))
    config.cmd_opts = argparse.Namespace(quiet=True, x=None)  # datavault prints its own lines
    hooks = migrate.Hooks(project.model, drop_removed=drop_removed, allow_empty=allow_empty,
                          record_shapes=allow_empty)
    state = migrate.EnvironmentState(project.model, resolved, hooks)
    config.attributes[migrate.STATE] = state
    return project, config, state


class _Discard:
    def write(self, _text: str) -> None:
        pass


def _alembic(call, *args, **kwargs):
    """Run an alembic command, its errors as one readable line."""
    from alembic.util import CommandError

    from datavault import migrate

    try:
        return call(*args, **kwargs)
    except migrate.SchemaRefused:
        raise
    except CommandError as exc:
        message = database.redact(str(exc))
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
    from alembic import command

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


def _steps(state: EnvironmentState) -> Steps:
    steps = Steps(state.applied)
    steps.views_dropped = state.views_dropped
    return steps


def migrate_upgrade(project_dir: Path | str, revision: str = "head", *, url: str | None = None,
                    profile: str | None = None) -> Steps:
    """Apply migrations up to ``revision`` (default: the latest); returns the steps run.

    The views of built marts are dropped first when a step will run (`marts build` makes
    them again)."""
    from alembic import command

    from datavault import migrate

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
    from alembic import command

    _, config, state = _migration(project_dir, url, profile)
    state.migrating = "downgrade"
    _alembic(command.downgrade, config, revision)
    return _steps(state)


def _script_directory(root: Path) -> ScriptDirectory:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

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
    from datavault import migrate

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

    from datavault import migrate

    project = validate(project_dir)
    heads = []
    if migrate.environment_ready(project.root / MIGRATIONS):
        heads = list(_alembic(lambda: _script_directory(project.root).get_heads()))
    resolved = database.resolve_url(project.root, project.model.settings, url, profile)
    database.vault_dialect(resolved)
    engine, _ = database.connect(resolved)
    try:
        with engine.connect() as connection:
            current = list(migrate.migration_context(connection).get_current_heads())
            compared = migrate.compare_database(connection, project.model)
            unrecorded = [] if compared.differences else migrate.unrecorded_shapes(
                connection, project.model)
            return Check(current, heads, compared.differences, compared.kept, unrecorded)
    finally:
        engine.dispose()


def docs(project_dir: Path | str, out: Path | str, *, url: str | None = None,
         profile: str | None = None, batches_shown: int = 10) -> docs_site.Site:
    """Write the project's docs site into ``out`` (``datavault.docs``): a page per source,
    entity and mart with columns and lineage, and the entity-relationship diagram. Where the
    database can be reached, each source's page lists its newest ``batches_shown`` batches;
    where it cannot, the site is written without them and its ``notes`` say why."""
    project = validate(project_dir)
    shown: dict[str, list[BatchState]] | None = None
    runs: dict[str, list[CheckRun]] = {}
    note = ""
    try:
        with connect(project_dir, url, profile) as vault:
            shown = {name: vault.batches(source=name, limit=batches_shown)
                     for name in project.model.sources}
            for name, source in project.model.sources.items():
                if source.checks and shown[name]:
                    oldest = min(item.batch.batch_id for item in shown[name])
                    runs[name] = [r for r in vault.checks(source=name, limit=batches_shown)
                                  if r.batch_id >= oldest]
    except DatavaultError as exc:
        note = f"no batches shown: the database was not read ({database.redact(str(exc))})"
    return docs_site.build_site(project.model, out, batches=shown, batches_note=note,
                                checks=runs)


def stream(project_dir: Path | str, source: str, brokers: str, topic: str, *,
           group: str | None = None, max_events: int = 10_000, max_seconds: float = 5.0,
           stop_after: int | str | None = None, options: dict[str, str] | None = None,
           url: str | None = None, profile: str | None = None,
           on_batch: Callable[[streaming.StreamBatch], None] | None = None,
           after_load: Callable[[LoadResult], None] | None = None,
           on_start: Callable[[], None] | None = None) -> streaming.StreamSummary:
    """Consume Debezium change events of ``source`` from the Kafka ``topic`` at ``brokers``
    and load them in micro-batches (closed at ``max_events`` or after ``max_seconds``), the
    offsets of each committed once it is loaded. ``stop_after``: a number of micro-batches,
    or ``"idle"`` (stop at the first micro-batch time without an event); else until SIGINT
    or SIGTERM. ``on_start`` is called once the source and the topic are found;
    ``on_batch`` is told of each committed micro-batch; ``after_load`` is called after each
    load, before its commit."""
    with connect(project_dir, url, profile) as vault:
        return streaming.stream(vault, source, brokers, topic, group=group,
                                max_events=max_events, max_seconds=max_seconds,
                                stop=stop_after, options=options, on_batch=on_batch,
                                after_load=after_load, on_start=on_start)
