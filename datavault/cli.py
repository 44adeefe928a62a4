"""The `datavault` command: a thin click layer over datavault.api."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import json
import logging
import math
import os
import sys
import traceback
import uuid
from decimal import Decimal
from pathlib import Path

import click
import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

from datavault import api, database, query, values
from datavault.diagnostics import DatavaultError, ModelError
from datavault.dialects import DEFAULT, DIALECTS
from datavault.kinds import KINDS
from datavault.load import REFUSED, STATES, Batch, CheckRun, LoadResult
from datavault.quality import PASS, QUARANTINED, SKIP, STOP, WARN, Outcome

console = Console()
errors = Console(stderr=True)
# piped or redirected output (cron, CI, a script): tables at their own width, so that a row
# is one line, never wrapped, folded or cut at the 80 columns rich assumes without a terminal
wide = Console(width=1_000_000)
FORMATS = click.Choice(["table", "csv", "json"])
JSON_HELP = "json: one JSON object on standard output, and nothing else there."
text_or_json = click.option("--format", "fmt", type=click.Choice(["text", "json"]),
                            default="text", show_default=True, help=JSON_HELP)


#: engines whose database is a file in the project: a vault without a server
EMBEDDED = sorted(name for name, d in DIALECTS.items() if d.file_database)


class Timestamp(click.ParamType):
    """A timestamp option: ISO 8601 date or date-time; with a zone it is converted to UTC."""

    name = "timestamp"

    def convert(self, value, param, ctx):  # type: ignore[no-untyped-def]
        if isinstance(value, dt.datetime):
            return value
        try:
            return values.parse(value, "timestamp")
        except values.ParseError:
            self.fail(f"{value!r} is not a timestamp (use e.g. 2026-02-01 or "
                      "2026-02-01T06:00:00+01:00)", param, ctx)


class KnownAt(Timestamp):
    """A load time: a timestamp, a batch id (that batch's load time), or ``now``."""

    name = "load time"

    def convert(self, value, param, ctx):  # type: ignore[no-untyped-def]
        if isinstance(value, (dt.datetime, int)):
            return value
        if value.strip().lower() == "now":
            return values.utcnow()
        if value.strip().isdigit():
            return int(value)
        return super().convert(value, param, ctx)


KNOWN_AT_HELP = ("Load time: as the vault knew it then; a timestamp, a batch id (its load "
                 "time) or now. Default: the latest load time up to which every batch has "
                 "finished loading.")


class DatavaultGroup(click.Group):
    """Turns every error a user can cause into one message and exit code 1."""

    def invoke(self, ctx: click.Context):  # type: ignore[no-untyped-def]
        try:
            return super().invoke(ctx)
        except ModelError as exc:
            for problem in exc.problems:
                errors.print(database.redact(str(problem)), markup=False, highlight=False,
                             soft_wrap=True)
            count = len(exc.problems)
            errors.print(f"{count} problem{'s' if count != 1 else ''} found", style="red",
                         soft_wrap=True)
            sys.exit(1)
        except DatavaultError as exc:
            _fail(ctx, f"error: {exc}")
        except sa.exc.SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            _fail(ctx, f"database error: {reason}")
        except OSError as exc:
            _fail(ctx, f"error: {exc}")


class _Notices(logging.Handler):
    """What the toolkit's modules tell while a command works (warnings of the ``datavault``
    logger: a DuckDB file that another process has open, ...): a line each on standard
    error, timestamped where that is not a terminal, as a load's steps are."""

    def emit(self, record: logging.LogRecord) -> None:
        text = database.redact(record.getMessage())
        if sys.stderr.isatty():
            errors.print(text, markup=False, highlight=False, soft_wrap=True)
            return
        stamp = dt.datetime.now().astimezone().isoformat(timespec="seconds")
        try:
            sys.stderr.write(f"{stamp} {text}\n")
            sys.stderr.flush()
        except OSError:  # standard error closed: the command goes on, its notices unread
            pass


def _show_notices() -> None:
    notices = logging.getLogger("datavault")
    if not any(isinstance(h, _Notices) for h in notices.handlers):
        notices.addHandler(_Notices(logging.WARNING))
        notices.propagate = False  # not twice where a migration's logging has a handler


def _fail(ctx: click.Context, message: str) -> None:
    """One error message (with --debug, the traceback first), with any secret masked."""
    if ctx.find_root().params.get("debug"):
        sys.stderr.write(database.redact(traceback.format_exc()))
    errors.print(database.redact(message), style="red", markup=False, highlight=False,
                 soft_wrap=True)
    sys.exit(1)


EXIT_CODES = """\b
Exit codes:
  0  success
  1  failure: an error (one message on standard error), a load that failed,
     problems found by validate, a database that does not match (migrate check)
  2  a usage error: an unknown command or option, a missing argument
  3  partly loaded: an entity load of the batch failed (load, load --resume)
\b
With --format json, standard output holds one JSON document or nothing: an error
goes to standard error as one message, with exit code 1."""


@click.group(cls=DatavaultGroup, context_settings={"help_option_names": ["-h", "--help"]},
             epilog=EXIT_CODES)
@click.option("--project", "-p", default=".", show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="The project folder (the one holding models/ and config/).")
@click.option("--url", envvar="DATAVAULT_URL", show_envvar=True,
              help="Database URL, e.g. postgresql://user@host/db or duckdb:///vault.duckdb. "
                   "Else the config's profile, else vault.sqlite in the project.")
@click.option("--profile", envvar="DATAVAULT_PROFILE", show_envvar=True,
              help="A connection profile from config/datavault.yml.")
@click.option("--debug", is_flag=True, help="Show a traceback on errors.")
@click.version_option(package_name="datavault")
@click.pass_context
def main(ctx: click.Context, project: Path, url: str | None, profile: str | None,
         debug: bool) -> None:
    """Data Vault 2.0 from YAML: validate the model, generate SQL, load batches.

    \b
    Start here:
      datavault demo               build and load an example vault on SQLite
      datavault init my_vault      write a small working project to edit
      datavault -p my_vault validate
      datavault -p my_vault load crm_customers my_vault/data/crm_customers_2026-01-01.csv
      datavault -p my_vault migrate --help    after a change of the model
    """
    ctx.obj = {"project": project, "url": url, "profile": profile}
    _show_notices()


@main.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--no-upgrade", is_flag=True,
              help="Do not create the tables; run `datavault migrate upgrade` later.")
@click.option("--engine", type=click.Choice(EMBEDDED), default=DEFAULT, show_default=True,
              help="The embedded engine of the project's local profile (its vault a file in "
                   "DIRECTORY); a server's database is named by --url or a profile.")
@click.pass_obj
def init(obj: dict, directory: Path, no_upgrade: bool, engine: str) -> None:
    """Write a small, working example project into DIRECTORY (new or empty), and bring its
    database up to the project's latest migration.

    It holds three sources, two hubs, a link, two satellites, a multi-active and an
    effectivity satellite, three marts, sample batches, and its Alembic environment
    (alembic.ini, migrations/) with the migrations that create the tables. The database is
    the one `datavault` uses: --url or DATAVAULT_URL, else the local profile's file inside
    (vault.sqlite, or vault.duckdb with --engine duckdb).
    """
    api.init_project(directory, engine=engine)
    say = _say
    say(f"Project written to {directory}.")
    # a database named by --url is named again in each next step (not shown: it may hold a
    # password); one from DATAVAULT_URL is the next commands' too
    given = (click.get_current_context().find_root().get_parameter_source("url")
             == click.core.ParameterSource.COMMANDLINE)
    dv = f"datavault -p {directory}" + (" --url URL" if given else "")
    upgraded = False
    if not no_upgrade:
        try:
            steps = api.migrate_upgrade(directory, url=obj["url"], profile=obj["profile"])
        except DatavaultError as exc:
            say(f"The database was not set up ({database.redact(str(exc))}); run "
                f"`{dv} migrate upgrade` when it can be reached.")
        else:
            upgraded = True
            say(f"Database ready: {len(steps)} migration{'s' if len(steps) != 1 else ''} "
                "applied.")
    upgrade = "" if upgraded else f"  {dv} migrate upgrade\n"
    say(f"Next{' (URL: the --url given here)' if given else ''}:\n{upgrade}"
        f"  {dv} validate\n"
        f"  {dv} load crm_customers {directory / 'data' / 'crm_customers_2026-01-01.csv'}\n"
        f"  {dv} marts build\n"
        f"After a model change: {dv} migrate --help")


def _say(text: str, *, wrap: bool = False) -> None:
    """A line on standard output, never wrapped when piped (``wrap``: prose, word-wrapped
    to the width of a terminal)."""
    console.print(text, soft_wrap=not (wrap and console.is_terminal), markup=False,
                  highlight=False)


def _table(table: Table, title: str = "") -> None:
    """A table on standard output, under its title: fitted to a terminal; piped, at its own
    width, so that each row is one line."""
    if title:
        _say(title)
    (console if console.is_terminal else wide).print(table)


def _json(value: object) -> None:
    """One JSON document on standard output."""
    click.echo(json.dumps(value, ensure_ascii=False, indent=2, default=_json_value))


def _json_value(value: object) -> object:
    if isinstance(value, dt.datetime):
        return _stamp(value)
    if isinstance(value, (dt.date, Decimal, uuid.UUID, Path)):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"{type(value).__name__} is not JSON")


@main.command()
@text_or_json
@click.pass_obj
def validate(obj: dict, fmt: str) -> None:
    """Check every model file and cross-reference; list all problems as path:line:col.

    With --format json: {"ok", "problems": [{"path", "line", "column", "message",
    "hint"}], and the counts of entities when ok}; exit 1 when there are problems.
    """
    try:
        model = api.validate(obj["project"]).model
    except ModelError as exc:
        if fmt != "json":
            raise
        _json({"ok": False, "problems": [
            {"path": p.path, "line": p.line, "column": p.col, "message": p.message,
             "hint": p.hint or None} for p in exc.problems]})
        sys.exit(1)
    counts = {"sources": len(model.sources),
              **{k.folder: len(model.group(k.name)) for k in KINDS.values()},
              "marts": len(model.marts)}
    if fmt == "json":
        _json({"ok": True, "problems": [], **counts})
    else:
        # the kinds every project has are counted always, the others when it has some
        always = {"sources", "hubs", "links", "satellites", "marts"}
        units = {"sources": "source", **{k.folder: k.unit for k in KINDS.values()},
                 "marts": "mart"}
        _say("ok: " + ", ".join(_count(n, units[group]) for group, n in counts.items()
                                if n or group in always))


@main.command()
@click.option("--dialect", type=click.Choice(sorted(DIALECTS)), default=DEFAULT,
              show_default=True, help="The database engine to write SQL for.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("generated"),
              show_default=True, help="Folder for the SQL files.")
@click.pass_obj
def generate(obj: dict, dialect: str, out: Path) -> None:
    """Write the DDL and every staging and load statement as SQL files.

    \b
    OUT/ddl.sql                  CREATE TABLE and CREATE INDEX for the whole vault
    OUT/stage/SOURCE.sql         hashes a landed batch into the staging table
    OUT/load/SOURCE/ENTITY.sql   loads one hub, link or satellite from the staged batch
    The files are the same bytes on every run. A load file runs in the engine's own SQL
    client, as its first lines say; where they say nothing, it is for reading only.
    """
    written = api.generate(obj["project"], dialect, out)
    _say(f"wrote {len(written)} files to {out}")


LOAD_EXIT_CODES = """\b
Exit codes: 0 loaded (or skipped: an identical input was loaded before); 1 failed (nothing
of the batch was loaded: refused as a mass deletion, or an error); 3 partly loaded (an
entity load failed: its staged rows are kept, and `datavault load --resume BATCH` runs the
loads that did not succeed); 4 stopped by a check of severity stop (nothing of the batch
was loaded; `datavault checks --batch BATCH` says why)."""


@main.command(epilog=LOAD_EXIT_CODES)
@click.argument("source", required=False)
@click.argument("input_spec", metavar="INPUT", required=False)
@click.option("--resume", type=int, metavar="BATCH",
              help="Run again the entity loads of BATCH that have not succeeded, from its "
                   "staged rows (after a failure, a crash or a kill). No SOURCE or INPUT.")
@click.option("--force", is_flag=True,
              help="Load INPUT even when an identical file was already loaded for SOURCE "
                   "(a new batch, which inserts nothing the vault holds).")
@click.option("--applied-at", type=Timestamp(),
              help="Applied time of every row, for sources without an applied_at column "
                   "(default: the load time).")
@click.option("--only", multiple=True, metavar="ENTITY",
              help="Load only this hub, link or satellite (repeatable).")
@click.option("--allow-mass-delete", is_flag=True,
              help="Accept a snapshot that would delete more than its source's max_deletes "
                   "(default 50%) of the keys a satellite holds; without it such a batch is "
                   "refused and nothing of it is loaded.")
@click.option("--table", help="With a database URL as INPUT: the table to read "
                              "(default: the source's name).")
@click.option("--query", help="With a database URL as INPUT: the query to read.")
@click.option("--openlineage", is_flag=True, envvar="DATAVAULT_OPENLINEAGE", show_envvar=True,
              help="Emit OpenLineage run events (START, then COMPLETE or FAIL) with the input, "
                   "the tables written, their row counts and column lineage, through the "
                   "client OpenLineage's settings configure (OPENLINEAGE_URL, "
                   "OPENLINEAGE_CONFIG or openlineage.yml); needs the lineage extra.")
@text_or_json
@click.pass_obj
def load(obj: dict, source: str | None, input_spec: str | None, resume: int | None,
         force: bool, applied_at: dt.datetime | None, only: tuple[str, ...],
         allow_mass_delete: bool, table: str | None, query: str | None, openlineage: bool,
         fmt: str) -> None:
    """Load one batch of SOURCE from INPUT into every entity it feeds.

    INPUT is a file (CSV with a header row unless the source says otherwise; Parquet;
    JSON Lines; any of them gzip, zstd or bzip2 compressed), - for standard input, or a database
    URL (with --table or --query). How a source's CSV files are written (delimiter, quote,
    escape, encoding, header) is its input: in models/sources/SOURCE.yml.
    Rows that cannot be loaded go to the dv_quarantine table with the reason; every entity
    load is audited in dv_load_audit, every batch listed by `datavault batches`.

    \b
    Loads of one source wait for each other (they say so); a load first finishes any
    earlier batch of its source that a stopped load left unfinished. A file identical to
    one already loaded for SOURCE is skipped (--force loads it again, inserting nothing).
    A snapshot that would delete more than its source's max_deletes of the keys a
    satellite holds is refused before anything is written (--allow-mass-delete accepts it).

    \b
    The source's checks run on the batch (its checks: in models/sources/SOURCE.yml): a row
    that fails a row check is quarantined; a batch check that fails warns, or, with
    severity stop, refuses the batch before any entity load.
    """
    if resume is not None:
        if source or input_spec or only or applied_at or table or query or force:
            raise click.UsageError("--resume BATCH takes no SOURCE, INPUT or other option "
                               "but --allow-mass-delete and --format")
    elif not (source and input_spec):
        raise click.UsageError("give SOURCE and INPUT, or --resume BATCH")
    shown = _progress(live=fmt != "json")
    try:
        with shown as report:
            if resume is not None:
                result = api.resume(obj["project"], resume, url=obj["url"],
                                    profile=obj["profile"], progress=report,
                                    allow_mass_delete=allow_mass_delete)
            else:
                assert source is not None and input_spec is not None
                result = api.load(obj["project"], source, input_spec, url=obj["url"],
                                  profile=obj["profile"], applied_at=applied_at, only=only,
                                  table=table, query=query, force=force,
                                  allow_mass_delete=allow_mass_delete, progress=report,
                                  openlineage=openlineage)
    except KeyboardInterrupt:
        batch = shown.batch
        name = f"batch {batch.batch_id} of {batch.source}" if batch is not None else ""
        if batch is None:
            shown.last("interrupted")
        elif batch.status == "loaded":
            shown.last(f"interrupted: {name} is loaded (its entity loads had all ended)")
        elif batch.status == "failed":
            shown.last(f"interrupted: {name} failed ({batch.message}); load its input again")
        else:
            shown.last(f"interrupted: {name} is {batch.status}; `datavault load --resume "
                       f"{batch.batch_id}` (or the next load of its source) finishes it")
        sys.exit(INTERRUPTED)
    if fmt == "json":
        _json(_load_json(result))
    else:
        for earlier in result.resumed:
            _summary(earlier)
        _summary(result)
    sys.exit(_exit_code(result))


#: the exit code of a command stopped by Ctrl-C (SIGINT), as shells give it
INTERRUPTED = 130


#: the exit code of a load that a check of severity stop refused
STOPPED = 4


def _exit_code(result: LoadResult) -> int:
    if result.ok:
        return 0
    if result.stopped_by:
        return STOPPED
    return 3 if result.status == "partly loaded" else 1


def _stamp(value: dt.datetime | None) -> str | None:
    """A load time at full precision: what --known-at takes back."""
    return None if value is None else value.isoformat(sep=" ", timespec="microseconds")


def _load_json(result: LoadResult) -> dict:
    batch = result.batch
    return {
        "batch": batch.batch_id, "source": batch.source, "status": batch.status,
        "skipped": result.skipped, "loaded_at": _stamp(batch.loaded_at),
        "input": batch.input, "checksum": batch.checksum, "read_by": result.read_by or None,
        "rows": {"read": batch.rows_read, "staged": batch.rows_staged,
                 "quarantined": batch.rows_quarantined},
        "message": batch.message,
        "entities": [{"entity": e.entity, "kind": e.kind, "inserted": e.rows_inserted,
                      "deleted": e.rows_deleted, "quarantined": e.rows_quarantined,
                      "seconds": round(e.seconds, 3),
                      "status": e.status, "message": e.message or None}
                     for e in result.entities],
        "checks": [_outcome_json(o) for o in result.checks],
        "resumed": [_load_json(r) for r in result.resumed],
        "exit_code": _exit_code(result),
    }


def _outcome_json(outcome: Outcome) -> dict:
    check = outcome.check
    return {"check": check.name, "test": check.test,
            "severity": None if check.per_row else check.severity, "status": outcome.status,
            "measured": outcome.value, "expected": outcome.expected, "rows": outcome.rows,
            "message": outcome.message or None}


@main.command("batches")
@click.option("--source", help="Only this source's batches.")
@click.option("--state", type=click.Choice(list(STATES)), help="Only batches in this state.")
@click.option("--limit", type=int, default=50, show_default=True,
              help="The newest this many batches (0: all).")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.pass_obj
def batches_command(obj: dict, source: str | None, state: str | None, limit: int,
                    fmt: str) -> None:
    """The batch ledger, newest first: each batch's source, input and its checksum, state,
    row counts and times.

    \b
    States: staging, staged, loading (work under way, or "(interrupted)" when no load is
    at it: the next load of the source, or `load --resume BATCH`, finishes it); loaded;
    partly loaded (an entity load failed: `load --resume BATCH`); failed (nothing of it
    is left to load: see its message).
    """
    listed = api.batches(obj["project"], source=source, status=state, limit=limit or None,
                         url=obj["url"], profile=obj["profile"])
    columns = ["batch", "source", "state", "read", "staged", "quarantined", "loaded_at",
               "started_at", "finished_at", "input", "bytes", "checksum", "message"]
    rows = []
    for item in listed:
        b = item.batch
        rows.append((b.batch_id, b.source, item.state, b.rows_read, b.rows_staged,
                     b.rows_quarantined, _stamp(b.loaded_at), _stamp(b.started_at),
                     _stamp(b.finished_at), b.input, b.input_bytes,
                     b.checksum if fmt != "table" or not b.checksum else b.checksum[:12],
                     b.message))
    stopped = [item.batch.batch_id for item in listed if "(interrupted)" in item.state]
    note = (f"{'batches' if len(stopped) > 1 else 'batch'} "
            f"{', '.join(map(str, stopped))} {'were' if len(stopped) > 1 else 'was'} "
            "interrupted: the next load of the source finishes "
            f"{'them' if len(stopped) > 1 else 'it'}, or `datavault load --resume "
            f"{stopped[0]}` now" if stopped else "")
    _emit(query.Answer(columns, rows, note), fmt, "batches")


@main.command("checks")
@click.option("--batch", type=int, metavar="BATCH", help="Only this batch's check runs.")
@click.option("--source", help="Only this source's check runs.")
@click.option("--limit", type=int, default=20, show_default=True,
              help="The newest this many batches with check runs (0: all).")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.pass_obj
def checks_command(obj: dict, batch: int | None, source: str | None, limit: int,
                   fmt: str) -> None:
    """The runs of the sources' checks at entry, newest batch first: each check's status,
    what it measured and what that was held against.

    \b
    A source declares its checks in models/sources/SOURCE.yml, under checks:
      row checks (not_null, accepted_values, range, pattern, length): a row that fails
        one is quarantined with the reason "check: NAME" (`datavault quarantine`);
        status pass or quarantined, with the rows it failed;
      batch checks (unique, freshness, volume, drift): status pass, warn, stop (the batch
        was refused before any entity load) or skip (not enough history yet).
    """
    runs = api.checks(obj["project"], batch=batch, source=source,
                      limit=None if batch is not None or not limit else limit,
                      url=obj["url"], profile=obj["profile"])
    if fmt == "table":  # what fits a terminal; csv and json give every field
        columns = ["batch", "source", "check", "status", "measured", "expected", "message"]
        rows = [(r.batch_id, r.source, r.name, r.status, r.measured, r.expected, r.message)
                for r in runs]
    else:
        columns = ["batch", "source", "check", "test", "severity", "status", "measured",
                   "expected", "rows", "message", "checked_at"]
        rows = [(r.batch_id, r.source, r.name, r.test, r.severity, r.status, r.measured,
                 r.expected, r.rows_failed, r.message, _stamp(r.checked_at)) for r in runs]
    if fmt == "json":
        _json([_run_json(r) for r in runs])
        return
    note = "" if runs else (f"no check has run on batch {batch}" if batch is not None
                            else "no check has run yet")
    _emit(query.Answer(columns, rows, note), fmt, "checks")


def _run_json(run: CheckRun) -> dict:
    return {"batch": run.batch_id, "source": run.source, "check": run.name, "test": run.test,
            "severity": run.severity, "status": run.status, "measured": run.measured,
            "expected": run.expected, "rows": run.rows_failed, "message": run.message,
            "checked_at": _stamp(run.checked_at), "profile": run.profile}


@main.group()
def migrate() -> None:
    """Evolve the database schema with the model (Alembic, in migrations/).

    \b
    After editing the YAML:
      datavault migrate revision -m "add payments"   write a migration from the difference
      datavault migrate upgrade                      apply it
      datavault migrate check                        does the database match the model?
    \b
    New hubs, links, satellites, payload columns and indexes migrate by themselves; a
    type may widen (integer -> decimal -> text, date -> timestamp). What would lose history
    is refused with the reason: narrowing a type, changing a business key or the hash
    algorithm once data is loaded. A column or table removed from the YAML stays in the
    database, with its history, unless `revision --drop-removed` is given.
    The plain `alembic` command works on the same migrations/ folder.
    """


@migrate.command("revision")
@click.option("-m", "--message", required=True, help="What the change is, e.g. 'add payments'.")
@click.option("--drop-removed", is_flag=True,
              help="Drop the tables and columns the model no longer has (their history "
                   "is lost). Without it they are kept.")
@click.option("--empty", is_flag=True,
              help="Write a revision even when nothing differs, for a step written by hand.")
@text_or_json
@click.pass_obj
def migrate_revision(obj: dict, message: str, drop_removed: bool, empty: bool,
                     fmt: str) -> None:
    """Write a migration from the difference between the model and the database.

    The database must be at the latest migration (`migrate upgrade`). Nothing is written
    when they already match, or when a change is refused.

    \b
    --format json: {"path" (null: nothing written), "changes", "contract", "kept",
    "dropped", "environment_written"}.
    """
    result = api.migrate_revision(obj["project"], message, url=obj["url"],
                                  profile=obj["profile"], drop_removed=drop_removed,
                                  empty=empty)
    if fmt == "json":
        _json(dataclasses.asdict(result))
        return
    if result.environment_written:
        _say("wrote the Alembic environment: alembic.ini, migrations/")
    for line in result.kept:
        rows = "its history stays in the database" + (
            " and `datavault query` shows it" if line.startswith("column") else "")
        _say(f"kept {line}: the model no longer has it; {rows} "
             "(`revision --drop-removed` drops it)")
    for line in result.dropped:
        _say(f"dropping {line}: its history will be lost")
    if result.path is None:
        _say("nothing to migrate: the database matches the model")
        return
    for line in result.changes:
        _say(f"  {line}")
    for line in result.contract:
        _say(f"  contract {line}")
    _say(f"wrote {result.path}\nreview it, then: datavault migrate upgrade")


STEPS_JSON = """\b
--format json: {"steps": [{"from", "to", "message"}], "views_dropped"};
"from" and "to" are lists of revisions, [] for base."""


@migrate.command("upgrade", epilog=STEPS_JSON)
@click.argument("revision", default="head")
@text_or_json
@click.pass_obj
def migrate_upgrade(obj: dict, revision: str, fmt: str) -> None:
    """Apply migrations up to REVISION (default: head, the latest)."""
    steps = api.migrate_upgrade(obj["project"], revision, url=obj["url"], profile=obj["profile"])
    if fmt == "json":
        _json(_steps_json(steps))
        return
    for step in steps:
        _say(f"applied {step}")
    if not steps:
        _say("already up to date")
    _views_dropped(steps)


def _count(number: int, unit: str) -> str:
    return f"{number:,} {unit}{'' if number == 1 else 's'}"


def _steps_json(steps: api.Steps) -> dict:
    return {"steps": [{"from": list(s.before), "to": list(s.after), "message": s.message}
                      for s in steps],
            "views_dropped": steps.views_dropped}


def _views_dropped(steps: api.Steps) -> None:
    if steps.views_dropped:
        _say(f"dropped {len(steps.views_dropped)} mart views so the tables under them could "
             "change; `datavault marts build` makes them again")


@migrate.command("downgrade", context_settings={"ignore_unknown_options": True},
                 epilog=STEPS_JSON)
@click.argument("revision")
@text_or_json
@click.pass_obj
def migrate_downgrade(obj: dict, revision: str, fmt: str) -> None:
    """Undo migrations down to REVISION (a revision id, -1 for one step, base for all).

    Undoing a step drops what it added, with the rows in it.
    """
    steps = api.migrate_downgrade(obj["project"], revision, url=obj["url"],
                                  profile=obj["profile"])
    if fmt == "json":
        _json(_steps_json(steps))
        return
    for step in steps:
        _say(f"undid {step}")
    if not steps:
        _say("nothing to undo")
    _views_dropped(steps)


@migrate.command("current")
@text_or_json
@click.pass_obj
def migrate_current(obj: dict, fmt: str) -> None:
    """Show the revision the database is at, and whether it is the latest.

    --format json: {"current", "heads", "latest"}.
    """
    check = api.migrate_check(obj["project"], url=obj["url"], profile=obj["profile"])
    if fmt == "json":
        _json({"current": check.current, "heads": check.heads,
               "latest": set(check.current) == set(check.heads)})
        return
    current = ", ".join(check.current) or "none (no migration applied)"
    latest = "the latest" if set(check.current) == set(check.heads) else (
        f"not the latest ({', '.join(check.heads) or 'no migrations'})")
    _say(f"{current}: {latest}")


@migrate.command("history")
@text_or_json
@click.pass_obj
def migrate_history(obj: dict, fmt: str) -> None:
    """List the project's migrations, newest first.

    --format json: {"migrations": [{"revision", "revises" ([] for the first), "message"}]}.
    """
    rows = api.migrate_history(obj["project"])
    if fmt == "json":
        _json({"migrations": [m._asdict() for m in rows]})
        return
    if not rows:
        _say("no migrations yet")
    for revision, revises, message in rows:
        _say(f"{revision}  (revises {', '.join(revises) or '(first)'})  {message}")


@migrate.command("check", short_help="Does the database match the model? Exit 1 if not.")
@text_or_json
@click.pass_obj
def migrate_check(obj: dict, fmt: str) -> None:
    """Exit 1, listing each difference, when the database does not match the migrations and
    the model; tables and columns kept from earlier models are listed but are no difference.

    \b
    --format json: {"ok", "current", "heads", "differences", "kept"}; still exit 1
    when not ok.
    """
    check = api.migrate_check(obj["project"], url=obj["url"], profile=obj["profile"])
    if fmt == "json":
        _json({"ok": check.ok, "current": check.current, "heads": check.heads,
               "differences": check.differences, "kept": check.kept})
        sys.exit(0 if check.ok else 1)
    for line in check.kept:
        _say(f"kept {line} (no longer in the model)")
    if not check.current and check.heads:
        _say(f"the database has no migration applied ({len(check.differences)} tables and "
             "indexes missing): run `datavault migrate upgrade`")
        sys.exit(1)
    if set(check.current) != set(check.heads):
        _say(f"the database is at {', '.join(check.current) or 'no revision'}, the latest "
             f"migration is {', '.join(check.heads) or 'none'}: run `datavault migrate upgrade`")
    for line in check.differences:
        _say(line if line.startswith("refused:") else f"differs: {line}")
    if any(line.startswith("refused:") for line in check.differences):
        _say("a refused change must be undone in the YAML; the others migrate with "
             "`datavault migrate revision -m MESSAGE`, then `migrate upgrade`")
    elif check.differences:
        _say("to migrate: `datavault migrate revision -m MESSAGE`, then `migrate upgrade`")
    if not check.ok:
        sys.exit(1)
    _say("ok: the database matches the model")
    if check.unrecorded:
        count = len(check.unrecorded)
        _say(f"note: the database records no shape for {count} table{'s' if count != 1 else ''}"
             f" as the model has {'them' if count != 1 else 'it'} (e.g. {check.unrecorded[0]}),"
             " so every command compares those in full; `datavault migrate revision --empty -m "
             "\"record table shapes\"`, then `migrate upgrade`, records them")


@main.command()
@click.argument("directory", required=False, default="datavault-demo",
                type=click.Path(file_okay=False, path_type=Path))
@click.option("--engine", type=click.Choice(EMBEDDED), default=DEFAULT, show_default=True,
              help="The embedded engine the demo's vault is on (a file in DIRECTORY).")
def demo(directory: Path, engine: str) -> None:
    """Build the example project in DIRECTORY, load nine batches on an embedded engine (SQLite
    unless --engine says otherwise) and show history.

    One batch arrives late and one corrects an earlier day: the output shows that the vault
    keeps both exactly, and can still answer as it would have before. A customer's phone
    numbers are kept as sets (a multi-active satellite), and an order moved from one customer
    to another and back shows what a link holds.
    """
    from datavault.demo import run_demo

    def say(text: str) -> None:
        _say(text, wrap=True)

    def table(title: str, columns: list[str], rows: list[list[object]]) -> None:
        t = Table()
        for column in columns:
            t.add_column(column)
        for row in rows:
            t.add_row(*["" if v is None else str(v) for v in row])
        _table(t, title)

    run_demo(directory, say, table, engine)


@main.group()
def marts() -> None:
    """Point-in-time marts for analysts: PIT and bridge tables with views over them.

    \b
    Declared in models/marts/NAME.yml; each mart gets a table (pit_NAME or bridge_NAME)
    and three views: NAME_current, NAME_history (valid_from, valid_to) and NAME_snapshot
    (one row per key and snapshot of its spine). Run `datavault marts build` after loads.
    """


@marts.command("build")
@click.argument("names", nargs=-1, metavar="[MART]...")
@click.option("--full", is_flag=True,
              help="Rebuild from scratch instead of refreshing what batches changed.")
@click.option("--today", type=Timestamp(),
              help="The day that ends spines without to: (default: today, UTC).")
@text_or_json
@click.pass_obj
def marts_build(obj: dict, names: tuple[str, ...], full: bool, today, fmt: str) -> None:
    """Build or refresh marts (default: all), after loads.

    A refresh rewrites only the keys that batches loaded since the last build touched, from
    the earliest applied time they changed, so a late or correcting batch reaches back to
    the snapshots it changes and a batch that changes nothing rewrites nothing. A mart whose
    definition changed is rebuilt; without MART names, marts no longer declared in
    models/marts/ are dropped.

    \b
    datavault marts build
    datavault marts build customers --full
    \b
    --format json: {"marts": [{"mart", "kind", "full", "reason", "snapshots",
    "snapshots_added", "snapshots_removed", "touched", "since", "rows_deleted",
    "rows_inserted", "after_batch", "upto_batch", "held_by", "seconds"}], "dropped"}.
    """
    def report(r) -> None:
        unit = "key" if r.kind == "pit" else "path"
        if r.full:
            what = (f"built in full ({r.reason}): {_count(r.touched, unit)} x "
                    f"{_count(r.snapshots, 'snapshot')}, {_count(r.rows_inserted, 'row')}")
        elif r.touched == 0:
            what = "up to date: no batch since the last build changed it" + (
                f"; {r.snapshots_removed:,} snapshots dropped ({r.rows_deleted:,} rows)"
                if r.snapshots_removed else "")
        else:
            since = "the first snapshot" if r.since is None or r.since.year == 1 else \
                _cell(r.since)
            what = (f"refreshed {_count(r.touched, unit)} from "
                    f"{since} on: {r.rows_deleted:,} rows deleted, {r.rows_inserted:,} written")
            if r.snapshots_added or r.snapshots_removed:
                what += (f" ({r.snapshots_added:,} snapshots added, "
                         f"{r.snapshots_removed:,} dropped)")
        batches = (f"batches {r.after_batch + 1}-{r.upto_batch}" if r.upto_batch > r.after_batch
                   else "no new batch")
        _say(f"{r.kind} {r.mart}: {what}; {batches}; {r.seconds:.2f} s")
        if r.held_by is not None:
            _say(f"  batch {r.held_by} has not finished all its entity loads (`datavault "
                 "batches` shows its state): its rows and those of later batches are left out "
                 "until it has")

    day = today.date() if today else None
    built, dropped = api.build_marts(obj["project"], names, full=full, url=obj["url"],
                                     profile=obj["profile"], today=day,
                                     progress=None if fmt == "json" else report)
    if fmt == "json":
        _json({"marts": [{**dataclasses.asdict(r), "seconds": round(r.seconds, 3)}
                         for r in built],
               "dropped": dropped})
        return
    for name in dropped:
        _say(f"dropped mart {name}: it is no longer in models/marts/")


@main.command("query")
@click.argument("entity")
@click.option("--key", "keys", multiple=True, metavar="VALUE",
              help="A business key, or a reference table's code (repeatable; default: "
                   "every key). Parts of a key of several parts are joined with |, as in "
                   "'A17|2026-01-01'.")
@click.option("--at", type=Timestamp(), help="Applied time: the state as of then "
                                             "(default: now).")
@click.option("--known-at", type=KnownAt(), help=KNOWN_AT_HELP)
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.pass_obj
def query_command(obj: dict, entity: str, keys: tuple[str, ...], at, known_at, fmt: str) -> None:
    """The state of keys of a satellite, or of a hub or link with all its satellites; of a
    reference table, its code list: every live code with its description.

    Of an effectivity satellite: per driving key, the relationship in effect (every role's
    business key) and since when (start); --key takes driving keys.

    Of a link without satellites: its relationships (of a same-as link or hierarchy, those in
    effect at --at); with --key (keys of its hub), each key's survivor (same-as) or its
    ancestors and descendants with their depth (hierarchy).

    \b
    datavault query customer_details --at 2026-02-15
    datavault query currency --at 2026-02-15
    datavault query customer --key C002 --at 2026-02-15 --known-at 2026-03-01T12:00
    datavault query order_customer_eff --key O1 --at 2026-01-03
    """
    answer = api.query_state(obj["project"], entity, keys, at=at, known_at=known_at,
                             url=obj["url"], profile=obj["profile"])
    known = (f"batch {known_at}" if isinstance(known_at, int) else known_at) or (
        "the last finished batch" if answer.note else "now")
    _emit(answer, fmt, f"{entity} as of {at or 'now'}, as known at {known}")


@main.command("history")
@click.argument("entity")
@click.option("--key", "keys", multiple=True, metavar="VALUE",
              help="A business key, or a reference table's code (repeatable; default: "
                   "every key).")
@click.option("--known-at", type=KnownAt(), help=KNOWN_AT_HELP)
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.pass_obj
def history_command(obj: dict, entity: str, keys: tuple[str, ...], known_at, fmt: str) -> None:
    """Every version of a key: when it was true (applied) and when the vault learned it
    (loaded, batch); `replaced` is when a later batch corrected that applied time.

    Of an effectivity satellite: every span of each driving key's relationships, with its
    start and end (empty while it lasts) as known at --known-at. Of a link without
    satellites: every relationship it holds, with its load time and batch."""
    answer = api.query_history(obj["project"], entity, keys, known_at=known_at,
                               url=obj["url"], profile=obj["profile"])
    _emit(answer, fmt, f"history of {entity}")


@main.command("quarantine")
@click.option("--batch", type=int, help="Only this batch.")
@click.option("--source", help="Only this source.")
@click.option("--export", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the rejected rows of one source as a CSV in its columns: fix them "
                   "and load the file as a new batch.")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True,
              help="json: data, the row's values, is an object; csv and table show it as "
                   "JSON text.")
@click.pass_obj
def quarantine_command(obj: dict, batch: int | None, source: str | None, export: Path | None,
                       fmt: str) -> None:
    """Rows that were not loaded, with their batch, row number, reason and values."""
    answer = api.quarantined(obj["project"], batch=batch, source=source, url=obj["url"],
                             profile=obj["profile"])
    if export:
        exported = api.export_quarantined_rows(answer, obj["project"], export)
        count = exported.written
        if exported.unmapped and fmt != "json":
            _say(f"left out {_count(exported.unmapped, 'quarantined line')} with too many or "
                 "too few fields or an unclosed quote (not rows of the source's columns): "
                 "see `datavault quarantine`")
        if fmt == "json":
            _json({"exported": count, "file": export})
            return
        _say(f"wrote {_count(count, 'row')} to {export}; fix them, then: datavault load "
             f"{answer.rows[0][1] if answer.rows else 'SOURCE'} {export}")
        return
    _emit(answer, fmt, "quarantined rows")


@main.command("docs")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="The folder to write the site into (made if missing; its pages replaced).")
@click.option("--batches", "batches_shown", type=click.IntRange(min=0), default=10,
              show_default=True, help="How many of each source's newest batches to list.")
@text_or_json
@click.pass_obj
def docs_command(obj: dict, out: Path, batches_shown: int, fmt: str) -> None:
    """Write a static HTML site of the model into --out: open OUT/index.html in a browser,
    no server needed.

    \b
    The site has:
      index.html          every source, entity and mart, and the entity-relationship
                          diagram (hubs, links, satellites, and the sources feeding them)
      a page for each     source, hub, link, satellite (every kind) and mart: its
                          description and its tables' (or views') columns with types and
                          keys, and each column's lineage: the columns it is made of, how
                          (copied, hashed business key, hash diff, applied time, load
                          time, record source ...), and the path from the source columns
                          through the satellites to the marts
      on source pages     the newest batches from the ledger, when the database (-p,
                          --url, --profile, as for every command) can be reached; without
                          it the site is written without them, and the command says so

    \b
    The diagram is drawn by Graphviz: without it (`apt-get install graphviz`, and
    `pip install 'datavault[docs]'`) the site is written without the diagram, and the
    command says so.

    \b
    Example:
      datavault -p . docs --out build/docs && xdg-open build/docs/index.html

    With --format json: {"out", "pages", "diagram", "notes"}.
    """
    site = api.docs(obj["project"], out, url=obj["url"], profile=obj["profile"],
                    batches_shown=batches_shown)
    if fmt == "json":
        _json({"out": site.out, "pages": site.pages, "diagram": site.diagram,
               "notes": site.notes})
        return
    for note in site.notes:
        errors.print(f"note: {note}", markup=False, highlight=False, soft_wrap=True)
    _say(f"wrote {_count(len(site.pages), 'page')} to {site.out}; open "
         f"{site.out / 'index.html'}")


def _cell(value: object, number: bool = False) -> object:
    """A value of an answer in JSON types (a dict stays a dict): a float or a decimal as its
    canonical text (``values.display``), or with ``number`` a finite float as a JSON number
    (the same double gives the same number)."""
    if number and isinstance(value, float) and math.isfinite(value):
        return value + 0.0
    value = values.display(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (dt.date, Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    return value


def _text(value: object) -> str:
    """A cell of a table or CSV file: a dict as JSON text, None as nothing."""
    if value is None:
        return ""
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, default=_json_value)
    return str(value)


# a table shows each row on one line: line breaks and tabs in a value as escapes (CSV and
# JSON keep them as they are)
_ONE_LINE = str.maketrans({"\n": "\\n", "\r": "\\r", "\t": "\\t"})


def _emit(answer, fmt: str, title: str) -> None:  # type: ignore[no-untyped-def]
    if getattr(answer, "note", ""):
        errors.print(f"note: {answer.note}", markup=False, highlight=False, soft_wrap=True)
    rows = [[_cell(v, fmt == "json") for v in row] for row in answer.rows]
    if fmt == "json":
        _json([dict(zip(answer.columns, r)) for r in rows])
    elif fmt == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(answer.columns)
        writer.writerows([_text(v) for v in r] for r in rows)
    else:
        table = Table()
        for column in answer.columns:
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*[_text(v).translate(_ONE_LINE) for v in row])
        _table(table, f"{title}: {_count(len(rows), 'row')}")


# ---- output helpers --------------------------------------------------------------------
class _progress:
    """What a load is doing: a live line on a terminal; without one (cron, CI, an
    orchestrator's log), one timestamped line per phase and entity on standard error; those
    lines too when not ``live`` (``--format json``: its standard output is the JSON alone)."""

    def __init__(self, live: bool = True) -> None:
        self.live = live
        self.batch: Batch | None = None  # the batch last reported on
        self.log = True  # standard error takes the log lines (a closed pipe does not)
        self.staging = ""  # the batch being staged
        self.running: list[str] = []  # its entity loads under way

    def __enter__(self):  # type: ignore[no-untyped-def]
        self.bar = None
        if errors.is_terminal and self.live:
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self.bar = Progress(SpinnerColumn(), TextColumn("{task.description}"),
                                TimeElapsedColumn(), console=errors, transient=True)
            self.bar.__enter__()
            self.task = self.bar.add_task("starting", total=None)
        return self.report

    def say(self, text: str, *, keep: bool = False) -> None:
        """A step: the live line on a terminal (printed above it when ``keep``), else a
        timestamped log line."""
        if self.bar is not None:
            if keep:
                self.bar.console.print(text, markup=False, highlight=False, soft_wrap=True)
            self.bar.update(self.task, description=text)
        elif self.log:
            stamp = dt.datetime.now().astimezone().isoformat(timespec="seconds")
            try:  # not through rich, which ends the process when a pipe's reader is gone
                sys.stderr.write(f"{stamp} {text}\n")
                sys.stderr.flush()
            except OSError:  # standard error closed: the load goes on, its messages unread
                self.log = False
                sys.stderr = open(os.devnull, "w")  # for the rest of the run

    def last(self, text: str) -> None:
        """The last line, once the live line is gone: as the log's lines, without one."""
        if self.bar is not None:
            errors.print(text, markup=False, highlight=False, soft_wrap=True)
        else:
            self.say(text)

    def report(self, event: str, **data) -> None:  # type: ignore[no-untyped-def]
        batch = data.get("batch")
        if batch is not None:
            self.batch = batch
        name = f"batch {batch.batch_id} of {batch.source}" if batch is not None else ""
        if event == "waiting":
            holder = data.get("holder")
            by = (f" (batch {holder.batch_id} of {holder.source}, {holder.status} since "
                  f"{holder.started_at:%H:%M:%S} UTC)" if holder and holder.started_at else "")
            self.say(f"waiting for another load of {data['scope']} to finish{by}", keep=True)
        elif event == "waited":
            self.say("the other load is over; going on")
        elif event == "skipped":
            self.say(f"skipped: the same file was loaded as {name} at "
                     f"{_stamp(batch.loaded_at)}; --force loads it again", keep=True)
        elif event == "resuming":
            self.say(f"resuming {name} ({batch.status}): its entity loads that have not "
                     "succeeded", keep=True)
        elif event == "abandoned":
            self.say(f"{name} was interrupted while staging: nothing of it was loaded, "
                     "marked failed", keep=True)
        elif event == "batch":
            self.staging = name
            self.say(f"{name}: staging {batch.input} (load time {_stamp(batch.loaded_at)})")
        elif event == "read":
            if self.bar is not None:
                done, total = data.get("bytes"), data.get("total")
                share = f" ({min(done / total, 1):.0%} of the input)" if done and total else ""
                self.say(f"staging {self.staging}: {data['rows']:,} rows read{share}")
        elif event == "staged":
            self.say(f"{name}: staged {_count(batch.rows_staged or 0, 'row')}, quarantined "
                     f"{batch.rows_quarantined:,}, in {data['seconds']:.2f} s")
        elif event == "entity-start":
            self.running.append(data["entity"])
            self.say(f"{name}: loading {', '.join(self.running) if self.bar else data['entity']}")
        elif event == "stopping":
            left = (f"; not started: {', '.join(data['waiting'])}" if data["waiting"] else "")
            if data["running"]:
                self.say(f"{name}: interrupted: no other load starts; waiting for "
                         f"{', '.join(data['running'])} to end{left}", keep=True)
            else:  # a load run in this process's own thread stops with it
                self.say(f"{name}: interrupted while loading {data['stopped']}, which is rolled "
                         f"back unless it had ended{left}", keep=True)
        elif event == "checked":
            self.say(f"{name}: batch checks: " + ", ".join(
                f"{o.check.name} {o.status}" for o in data["outcomes"]))
        elif event == "refused":
            self.say(f"{name} {batch.message}")
        elif event == "entity":
            r = data["result"]
            if r.entity in self.running:
                self.running.remove(r.entity)
            deleted = f"{r.rows_deleted:,} deleted, " if r.rows_deleted else ""
            line = (f"{name}: {r.kind} {r.entity} {r.status}: {r.rows_inserted:,} inserted, "
                    f"{deleted}{r.rows_quarantined:,} quarantined, {r.seconds:.2f} s")
            if r.message:
                line += f" ({r.message})"
            if self.bar is None:
                self.say(line)
            elif self.running:  # loads of the batch that run at once
                self.say(f"{name}: loading {', '.join(self.running)}")

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)


def _checks_summary(result: LoadResult) -> None:
    """A line for the checks that passed, and one for each that did not."""
    if not result.checks:
        return
    passed = [o for o in result.checks if o.status == PASS]
    if passed:
        _say(f"checks passed: {', '.join(o.check.name for o in passed)}", wrap=True)
    for o in result.checks:
        if o.status == QUARANTINED:
            _say(f"check {o.check.name}: {o.message}")
        elif o.status != PASS:
            label = {SKIP: "skipped", WARN: "warning", STOP: "stopped the batch"}[o.status]
            _say(f"check {o.check.name} {label}: {o.message}", wrap=True)


def _summary(result: LoadResult) -> None:
    batch = result.batch
    if result.skipped:
        _say(f"skipped: {batch.input} is identical to batch {batch.batch_id} of {batch.source}, "
             f"loaded at {_stamp(batch.loaded_at)}; nothing to do (--force loads it again)")
        return
    if not result.entities and batch.status == "loaded":
        _say(f"batch {batch.batch_id} of {batch.source} is loaded: every entity load of it "
             + ("had succeeded; it is marked loaded now, its staged rows removed"
                if result.closed else "succeeded; nothing to resume"))
        return
    title = (f"batch {batch.batch_id} of {batch.source}: {batch.status}; "
             f"{_count(result.rows_read, 'row')} read, {result.rows_staged:,} staged, "
             f"{result.rows_quarantined:,} quarantined while reading"
             f"{' and checking rows' if any(o.check.per_row for o in result.checks) else ''}; "
             f"load time {_stamp(batch.loaded_at)}")
    numbers = ("inserted", "deleted", "quarantined", "seconds")
    table = Table()
    for column in ("entity", "kind", *numbers, "status"):
        table.add_column(column, justify="right" if column in numbers else "left")
    for e in result.entities:
        status = e.status if not e.message else f"{e.status}: {e.message}"
        table.add_row(e.entity, e.kind, f"{e.rows_inserted:,}", f"{e.rows_deleted:,}",
                      f"{e.rows_quarantined:,}", f"{e.seconds:.2f}", status)
    if result.entities or batch.status != "failed":
        _table(table, title)
    else:  # refused before any entity load: the title alone
        _say(title)
    _checks_summary(result)
    if result.rows_quarantined or any(e.rows_quarantined for e in result.entities):
        _say(f"rejected rows and reasons: datavault quarantine --batch {batch.batch_id}")
    if result.stopped_by:
        _say(f"every check of the batch: datavault checks --batch {batch.batch_id}; correct "
             f"the input (or the check, in models/sources/{batch.source}.yml) and load it "
             "again", wrap=True)
    if batch.status == "partly loaded":
        _say(f"{batch.message}; when the cause is fixed: datavault load --resume "
             f"{batch.batch_id}")
    elif batch.status == "failed":
        what = batch.message or "failed"
        errors.print(f"error: batch {batch.batch_id} of {batch.source} "
                     + (what if what.startswith(REFUSED) else f"failed: {what}"),
                     style="red", markup=False, highlight=False, soft_wrap=True)


# ---- stream -------------------------------------------------------------------------------
class KafkaOption(click.ParamType):
    """A librdkafka setting, KEY=VALUE."""

    name = "KEY=VALUE"

    def convert(self, value, param, ctx):  # noqa: ANN001 - click's signature
        key, sep, setting = str(value).partition("=")
        if not sep or not key.strip():
            self.fail(f"{value!r} is not KEY=VALUE (e.g. security.protocol=SSL)", param, ctx)
        return key.strip(), setting


@main.command()
@click.argument("source")
@click.option("--kafka", "brokers", required=True, metavar="BROKERS",
              help="The Kafka brokers to start from: host:port, comma separated.")
@click.option("--topic", required=True, help="The topic of SOURCE's change events.")
@click.option("--group", help="The consumer group, whose committed offsets say where the "
                              "stream goes on.  [default: datavault-SOURCE]")
@click.option("--max-events", type=click.IntRange(min=1), default=10_000, show_default=True,
              help="A micro-batch is loaded once it holds this many events ...")
@click.option("--max-seconds", type=click.FloatRange(min=0, min_open=True), default=5.0,
              show_default=True, help="... or once it is this old (seconds).")
@click.option("--stop-after", metavar="N|idle",
              help="Stop after N micro-batches, or (idle) at the first micro-batch time "
                   "without an event. Default: run until SIGINT or SIGTERM.")
@click.option("--kafka-option", "kafka_options", type=KafkaOption(), multiple=True,
              help="A librdkafka consumer setting, e.g. security.protocol=SSL (repeatable).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="json: one JSON object per line on standard output, "
                                      "one per micro-batch, then one of the whole run.")
@click.pass_obj
def stream(obj: dict, source: str, brokers: str, topic: str, group: str | None,
           max_events: int, max_seconds: float, stop_after: str | None,
           kafka_options: tuple[tuple[str, str], ...], fmt: str) -> None:
    """Load SOURCE's Debezium change events from a Kafka topic, in micro-batches.

    SOURCE declares input: {format: debezium, fields: ...} (see the README, Change events).
    Each micro-batch is loaded as one batch, as `datavault load SOURCE events.jsonl` loads
    a file of the same events, and only then are its offsets committed. One line per
    micro-batch tells its events, their offsets and what the load did.

    \b
    At least once, and safe: a stream stopped anywhere before a commit (a crash, a
    kill) gets those events again when it restarts; loading an event again is an
    identical observation, which inserts nothing. SIGINT (Ctrl-C) or SIGTERM stops
    cleanly: a micro-batch being gathered is left uncommitted, one being loaded is
    finished and committed first.

    \b
    Examples:
      datavault stream customers_cdc --kafka broker1:9092 --topic crm.public.customers
      datavault stream customers_cdc --kafka localhost:9092 --topic crm.public.customers \\
          --max-events 500 --max-seconds 2 --stop-after idle
    """
    from datavault import stream as streaming

    def said(batch: streaming.StreamBatch) -> None:
        if fmt == "json":
            click.echo(json.dumps({
                "micro_batch": batch.number, "events": batch.events,
                "offsets": [{"topic": s.topic, "partition": s.partition, "first": s.first,
                             "last": s.last} for s in batch.spans],
                "seconds": round(batch.seconds, 3), "committed": batch.committed,
                "load": _load_json(batch.result)}, ensure_ascii=False,
                default=_json_value), nl=True)
            return
        stamp = dt.datetime.now().astimezone().isoformat(timespec="seconds")
        _say(f"{stamp} {batch.line()}")

    def started() -> None:
        if fmt != "json":
            _say(f"streaming {topic} from {brokers} into {source} (micro-batches of up to "
                 f"{max_events:,} events or {max_seconds:g} s; Ctrl-C stops)")

    try:
        summary = api.stream(obj["project"], source, brokers, topic, group=group,
                             max_events=max_events, max_seconds=max_seconds,
                             stop_after=streaming.stop_after(stop_after),
                             options=dict(kafka_options), url=obj["url"],
                             profile=obj["profile"], on_batch=said, on_start=started)
    except KeyboardInterrupt:  # a second signal while a micro-batch loaded
        errors.print("interrupted: the micro-batch being loaded is not committed, so its "
                     "events will be delivered again; the next load of the source finishes "
                     "its batch first", markup=False, highlight=False, soft_wrap=True)
        sys.exit(INTERRUPTED)
    if fmt == "json":
        click.echo(json.dumps({"stopped_by": summary.stopped_by,
                               "micro_batches": len(summary.batches),
                               "events": summary.events}))
    else:
        count = len(summary.batches)
        _say(f"stopped ({summary.stopped_by}): {count:,} micro-batch"
             f"{'' if count == 1 else 'es'}, {summary.events:,} events loaded")
    if summary.stopped_by.startswith(("SIGINT", "SIGTERM")):
        sys.exit(INTERRUPTED if summary.stopped_by.startswith("SIGINT") else 0)


@main.command("plan")
@text_or_json
@click.pass_obj
def plan_command(obj: dict, fmt: str) -> None:
    """The steps an orchestrator runs, from the model alone (no database is opened).

    A step is `load SOURCE` (a batch into every entity the source feeds, in this order) or
    `build MART` (after the loads of every source feeding an entity the mart reads). Every
    step of a stage may start when the stages before it are done; loads that share a load
    lock (sources of one entity taking batches in load-time order) run one after another
    whatever the orchestrator does, the loader waiting for the lock. Dagster assets and an
    Airflow DAG follow this plan: see README, Orchestrators.

    \b
    datavault plan
    datavault plan --format json
    \b
    --format json: {"steps": [{"step", "action", "target", "stage", "after", "entities",
    "sources", "lock"}], "stages": [[STEP, ...], ...], "exclusive": [[STEP, ...], ...]}.
    """
    plan = api.plan(obj["project"])
    if fmt == "json":
        _json(plan.as_json())
        return
    _say(f"{_count(len(plan.loads), 'load')}, {_count(len(plan.builds), 'mart build')} in "
         f"{_count(len(plan.stages), 'stage')}")
    for number, names in enumerate(plan.stages, start=1):
        _say(f"stage {number}: {_count(len(names), 'step')} that may run at once")
        for step in (plan.step(name) for name in names):
            if step.action == "load":
                _say(f"  {step.name}: loads {', '.join(step.entities)}")
            else:
                _say(f"  {step.name}: reads {', '.join(step.entities)}; after "
                     + (", ".join(step.after) or "nothing"))
    for group in plan.exclusive:
        _say(f"one at a time (one load lock): {', '.join(group)}")
