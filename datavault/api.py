"""One public function per command; the CLI is a thin layer over these."""

from __future__ import annotations

import csv
import datetime as dt
import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.schema import CreateIndex, CreateTable

from datavault import database, query, schema
from datavault.diagnostics import DatavaultError
from datavault.dialects import get_dialect
from datavault.inputs import open_input
from datavault.loader import Loader, LoadResult, Progress, ensure_schema
from datavault.metadata import load_project
from datavault.metadata.project import Project
from datavault.render import Renderer
from datavault.resources import example_dir

EXAMPLE_PARTS = ("models", "config", "data")


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
        shutil.copytree(source / part, target / part, dirs_exist_ok=True)
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
        write(f"load/{source.name}/{entity}.sql", rendered.text)
    return written


def open_session(project_dir: Path | str = ".", url: str | None = None,
                 profile: str | None = None) -> Session:
    """Validate a project and connect to its database (creating missing tables)."""
    project = validate(project_dir)
    resolved = database.resolve_url(project.root, project.model.settings, url, profile)
    engine, dialect = database.connect(resolved)
    ensure_schema(engine, project.model)
    renderer = Renderer(project.model, dialect, project.root / "templates")
    return Session(project, engine, Loader(project.model, engine, dialect, renderer))


def load(project_dir: Path | str, source: str, input_spec: str, *, url: str | None = None,
         profile: str | None = None, applied_at: dt.datetime | None = None,
         only: Sequence[str] = (), table: str | None = None, query: str | None = None,
         progress: Progress | None = None) -> LoadResult:
    """Stage one batch of ``source`` from a CSV file or a database, and load what it feeds."""
    batch = open_input(input_spec, table=table, query=query, default_table=source)
    session = open_session(project_dir, url, profile)
    try:
        kwargs = {"progress": progress} if progress else {}
        return session.loader.load(source, batch, applied_at=applied_at, only=only, **kwargs)
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
                at: dt.datetime | None = None, known_at: dt.datetime | None = None,
                url: str | None = None, profile: str | None = None) -> query.Answer:
    """The state of keys of a satellite, hub or link at ``at`` as known at ``known_at``."""
    return _session_call(project_dir, url, profile, lambda model, c: query.state(
        c, model, entity, list(keys) or None, at=at, known_at=known_at))


def query_history(project_dir: Path | str, entity: str, keys: Sequence[str] = (), *,
                  url: str | None = None, profile: str | None = None) -> query.Answer:
    """Every version of keys of a satellite, hub or link, with both time axes."""
    return _session_call(project_dir, url, profile, lambda model, c: query.history(
        c, model, entity, list(keys) or None))


def quarantined(project_dir: Path | str, *, batch: int | None = None,
                source: str | None = None, url: str | None = None,
                profile: str | None = None) -> query.Answer:
    """Rows that were not loaded, with the batch, source, entity, row number and reason."""
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
        return query.Answer(list(result.keys()), [tuple(r) for r in result])
    return _session_call(project_dir, url, profile, work)


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
            data = json.loads(record["data"] or "{}")
            writer.writerow(["" if data.get(name) is None else _csv_text(data.get(name))
                             for name in header])
    return len(seen)


def _csv_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
