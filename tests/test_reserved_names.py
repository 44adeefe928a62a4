"""Names that are SQL reserved words (source columns, business key parts, payload columns, link
roles, the applied-time and sequence columns, the tables named after entities, mart columns)
work in every command on both engines: every name the toolkit writes into SQL is quoted where
the engine needs it. Ordinary names are written as they are (the golden files show it)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import sqlalchemy as sa
from click.testing import CliRunner

from datavault import api
from datavault.cli import main
from datavault.database import connect
from datavault.dialects import get_dialect
from datavault.load import open_input
from datavault.render import Renderer
from tests.conftest import migrated, write_project
from tests.test_generate import _run_plain

# "lateral" is reserved on PostgreSQL, "returning" on SQLite, and SQLAlchemy knows neither.
# Tables are named after their entities alone, so that they too are reserved words: hubs
# "user" and "table", link "group", satellites "default" (of user) and "desc" (of group),
# staging table "select".
PROJECT = {
    "config/datavault.yml": """
hash: md5
null_keys: reject
naming:
  hub: "{name}"
  link: "{name}"
  satellite: "{name}"
  stage: "{name}"
""",
    "models/sources/select.yml": """
record_source: "select; from"
batch: snapshot
max_deletes: 99%   # (the mass-delete check runs its query)
applied_at: primary
sequence: desc
columns:
  order: text
  from: text
  limit: decimal
  using: text
  primary: timestamp
  desc: integer
  check: text
  default: boolean
  lateral: text
  returning: text
""",
    "models/hubs/user.yml": """
business_key:
  order: text
sources:
  select:
    order: order
""",
    "models/hubs/table.yml": """
business_key:
  from: text
sources:
  select:
    from: from
""",
    "models/links/group.yml": """
hubs:
  - order: user
  - from: table
sources:
  select:
    order: order
    from: from
""",
    "models/satellites/default.yml": """
parent: user
source: select
payload: [limit, using, check, default, lateral, returning]
""",
    "models/satellites/desc.yml": """
parent: group
source: select
payload:
  select: check
  limit: limit
""",
    "models/marts/users.yml": """
pit: user
satellites: [default]
spine:
  dates: [2026-01-15, 2026-02-15, 2026-03-15]
""",
    "models/marts/paths.yml": """
bridge: [user, group, table]
require: [default]
spine:
  dates: [2026-01-15, 2026-03-15]
""",
}

HEADER = "order,from,limit,using,primary,desc,check,default,lateral,returning\n"
BATCHES = [
    ("jan.csv", "u1,t1,1.5,a,2026-01-01,1,x,true,l,r\n"
                "u1,t1,1.5,b,2026-01-01,2,x,true,l,r\n"     # the greater sequence wins
                "u2,t2,2,b,2026-01-01,1,y,false,l,r\n"
                ",t3,3,c,2026-01-01,1,z,true,l,r\n"),       # no user key: quarantined
    ("mar.csv", "u1,t1,9,b,2026-03-01,1,x,true,l,r\n"
                "u2,t2,2,b,2026-03-01,1,y,false,l,r\n"),
    ("feb.csv", "u1,t1,5,b,2026-02-01,1,w,true,l,r\n"),     # late
]


def _cli(project: Path, url: str, *args: str) -> str:
    result = CliRunner().invoke(main, ["-p", str(project), "--url", url, *args])
    assert "Traceback" not in result.output
    assert result.exit_code == 0, result.output
    return result.stdout


def _data(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, rows in BATCHES:
        (folder / name).write_text(HEADER + rows, encoding="utf-8")
        paths.append(folder / name)
    return paths


def _tables(url: str) -> dict[str, list[tuple]]:
    engine, _ = connect(url)  # the toolkit's engine reads each engine's catalog
    quote = get_dialect(engine.dialect.name).quote
    found = {}
    with engine.connect() as connection:
        for name in ("user", "table", "group", "default", "desc", "default__obs", "desc__obs"):
            columns = [c["name"] for c in sa.inspect(connection).get_columns(name)
                       if c["name"] != "load_ts"]
            listed = ", ".join(map(quote, columns))
            found[name] = [tuple(r) for r in connection.exec_driver_sql(
                f"SELECT {listed} FROM {quote(name)} ORDER BY {listed}")]
    engine.dispose()
    return found


def test_reserved_words_as_names_work_in_every_command(make_db_url, tmp_path: Path) -> None:
    root = write_project(tmp_path / "project", PROJECT)
    api.validate(root)
    url = migrated(root, make_db_url())
    for path in _data(tmp_path / "data"):
        _cli(root, url, "load", "select", str(path))
    _cli(root, url, "load", "select", str(tmp_path / "data" / "mar.csv"))  # again: nothing new

    now = json.loads(_cli(root, url, "query", "user", "--at", "2026-02-15", "--format", "json"))
    # the late February snapshot lacks u2: deleted then
    assert {r["order"]: (r["default.deleted"], r["default.limit"], r["default.check"])
            for r in now} == {"u1": (False, "5", "w"), "u2": (True, None, None)}
    history = json.loads(_cli(root, url, "history", "default", "--key", "u1",
                              "--format", "json"))
    assert [(r["applied"][:10], r["limit"], r["using"]) for r in history] == [
        ("2026-01-01", "1.5", "b"), ("2026-02-01", "5", "b"), ("2026-03-01", "9", "b")]
    links = json.loads(_cli(root, url, "query", "desc", "--format", "json"))
    assert sorted((r["order.order"], r["from.from"], r["select"]) for r in links) == [
        ("u1", "t1", "x"), ("u2", "t2", "y")]
    quarantined = json.loads(_cli(root, url, "quarantine", "--format", "json"))
    assert sorted(r["entity"] for r in quarantined) == ["default", "group", "user"]

    _cli(root, url, "marts", "build")
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        current = connection.execute(sa.text(
            'SELECT "order", "limit", "using", "check", "default", "lateral", "returning" '
            'FROM users_current ORDER BY "order"')).all()
        snapshot = connection.execute(sa.text(
            'SELECT "order", "limit" FROM users_snapshot ORDER BY snapshot_at, "order"')).all()
        paths = connection.execute(sa.text(
            'SELECT "order", "from" FROM paths_current ORDER BY "order"')).all()
    engine.dispose()
    assert [tuple(map(str, r[:2])) + tuple(r[5:]) for r in current] == [
        ("u1", "9", "l", "r"), ("u2", "2", "l", "r")]
    assert [(r[0], str(r[1])) for r in snapshot] == [
        ("u1", "1.5"), ("u2", "2"), ("u1", "5"), ("u2", "None"), ("u1", "9"), ("u2", "2")]
    assert [tuple(r) for r in paths] == [("u1", "t1"), ("u2", "t2")]
    _cli(root, url, "marts", "build")  # a refresh with nothing new
    _cli(root, url, "migrate", "check")


def test_generated_files_with_reserved_names_run_in_a_plain_client(
        make_db_url, tmp_path: Path) -> None:
    root = write_project(tmp_path / "project", PROJECT)
    by_loader, by_client = make_db_url(), make_db_url()
    loader = api.open_session(root, url=migrated(root, by_loader))
    client = api.open_session(root, url=migrated(root, by_client))
    dialect = client.loader.dialect.name
    api.generate(root, dialect, tmp_path / "sql")
    try:
        for path in _data(tmp_path / "data"):
            assert loader.loader.load("select", open_input(str(path))).ok
            staged = client.loader.stage("select", open_input(str(path)))
            for entity in client.project.model.entities_of("select"):
                for _ in range(2):  # a file run again adds nothing
                    _run_plain(by_client, tmp_path / "sql" / "load" / "select" / f"{entity}.sql",
                               staged.batch_id)
    finally:
        loader.close()
        client.close()
    loaded, plain = _tables(by_loader), _tables(by_client)
    assert sum(len(rows) for rows in loaded.values()) > 10
    assert plain == loaded
    assert os.path.getsize(tmp_path / "sql" / "ddl.sql") > 0


def test_a_source_named_by_a_reserved_word_loads_from_its_table_of_another_database(
        db_url: str, tmp_path: Path) -> None:
    root = write_project(tmp_path / "project", PROJECT)
    url = migrated(root, db_url)
    columns = HEADER.strip().split(",")
    names = ", ".join(f'"{c}"' for c in columns)
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'input.sqlite'}")
    with engine.begin() as connection:
        connection.exec_driver_sql(f'CREATE TABLE "select" ({names})')
        for line in BATCHES[0][1].splitlines():
            connection.exec_driver_sql(f'INSERT INTO "select" ({names}) VALUES '
                                       f'({", ".join("?" * len(columns))})',
                                       tuple(v or None for v in line.split(",")))
    engine.dispose()
    source = f"sqlite:///{tmp_path / 'input.sqlite'}"
    _cli(root, url, "load", "select", source)  # the source's table: "select"
    # a query is run as written: ':x' and '%' in it are its own
    _cli(root, url, "load", "select", source, "--query",
         """SELECT * FROM "select" WHERE "using" <> ':x' AND "check" NOT LIKE '%z%'""")
    rows = json.loads(_cli(root, url, "batches", "--format", "json"))
    rows.sort(key=lambda r: r["batch"])
    assert [(r["read"], r["state"]) for r in rows] == [(4, "loaded"), (3, "loaded")]


def test_names_are_quoted_only_where_the_engine_needs_it(tmp_path: Path) -> None:
    model = api.validate(write_project(tmp_path / "project", PROJECT)).model
    for engine, reserved in (("sqlite", "returning"), ("postgresql", "lateral")):
        dialect = get_dialect(engine)
        assert [dialect.quote(n) for n in ("order", "user_hk", reserved, "name")] == [
            '"order"', "user_hk", f'"{reserved}"', "name"]
        # a project's own templates quote their names with the filter ident
        renderer = Renderer(model, dialect)
        assert renderer.env.from_string("{{ 'table' | ident }}.{{ 'x' | ident }}").render() == (
            '"table".x')
        load = renderer.load(model.sources["select"], "default").text
        assert 'INSERT INTO "default" (user_hk, applied_ts, load_ts, hash_diff, "limit"' in load
