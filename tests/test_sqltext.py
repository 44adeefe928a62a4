"""Text from the model that reaches SQL as a literal (a source's record source, descriptions)
is never split, reinterpreted or altered: the statement splitter reads literals as the engine
does, statements bind only their real parameters, and a record source of any text loads on
both engines and is stored byte for byte, by the loader and by the generated files."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from datavault import api
from datavault.dialects import get_dialect
from datavault.dialects.syntax import split
from datavault.load import open_input
from tests.conftest import migrated, write_project
from tests.test_generate import _run_plain

EXAMPLES = int(os.environ.get("DATAVAULT_PROPERTY_EXAMPLES", "100"))
# a load per example, and for the generated files a database and client runs per example:
# the split's property above takes every example, these a bounded share
PG = get_dialect("postgresql").syntax
LITE = get_dialect("sqlite").syntax

#: pieces of text that mean something to SQL, drivers, SQLAlchemy, psql, sqlite3 or Jinja
TRICKY = ["%", "%%", "%(x)s", "%s", ":name", ":batch_id", "::", "?", "?1", "$1", ";", ";\n",
          "\n", "\r\n", "--", "\n-- dv:inserted\n", "/*", "*/", "'", "''", '"', "\\", "\\'",
          "$$", "$x$", "{{ x }}", "{% if %}", "\\N", "|", "\t", "é", "日本", "🙂", "\u2028",
          "\n.read x\n", "\n\\q\n", "\\:x", " ", "BEGIN;", "COMMIT;\n", "E'", "e'\\''"]


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


texts = st.lists(
    st.one_of(st.sampled_from(TRICKY),
              st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                      max_size=6)),
    min_size=1, max_size=8).map("".join).filter(bool)


# ---- the splitter, engine-free ------------------------------------------------------------
def test_a_semicolon_line_break_and_comment_inside_a_literal_stay_in_it() -> None:
    text = ("-- a comment; with a semicolon\nSELECT 'a;\n-- kept\nb' AS x;\n\n"
            "-- dv:inserted\nINSERT INTO t VALUES ('--', \"od;d\"); SELECT 2 /* ; */;\n")
    for syntax in (PG, LITE):
        pieces = split(text, syntax)
        assert [p.sql for p in pieces] == [
            "SELECT 'a;\n-- kept\nb' AS x",
            "INSERT INTO t VALUES ('--', \"od;d\")",
            "SELECT 2"]
        assert [p.tag for p in pieces] == ["", "inserted", ""]


def test_a_guard_comment_gives_its_query_and_leaves_the_tag_alone() -> None:
    text = ("-- dv:inserted\n-- dv:if-any SELECT 1 FROM o WHERE p = 0 LIMIT 1  \n"
            "INSERT INTO t SELECT * FROM o;\n-- dv:if-any SELECT 1 FROM o\nDROP TABLE o;\n"
            "SELECT '-- dv:if-any SELECT 2';")
    pieces = split(text, LITE)
    assert [(p.tag, p.guard) for p in pieces] == [
        ("inserted", "SELECT 1 FROM o WHERE p = 0 LIMIT 1"), ("", "SELECT 1 FROM o"), ("", "")]
    assert pieces[0].sql == "INSERT INTO t SELECT * FROM o"


def test_only_colons_outside_literals_are_parameters() -> None:
    (piece,) = split("SELECT ':x', \"a:b\", CAST(:y AS text), '\\:z'", LITE)
    assert piece.bindable == "SELECT '\\:x', \"a\\:b\", CAST(:y AS text), '\\\\:z'"
    clause = sa.text(piece.bindable)
    assert sorted(clause._bindparams) == ["y"]
    assert str(clause) == "SELECT ':x', \"a:b\", CAST(:y AS text), '\\:z'"


def test_postgresql_dollar_quotes_escape_strings_and_nested_comments() -> None:
    text = ("SELECT $$a;\nb$$, $q$x$$;'$q$, E'it\\'s;', e'\\\\', 'c\\';\n"
            "/* outer /* inner; */ still; */ SELECT 2;")
    assert [p.sql for p in split(text, PG)] == [
        "SELECT $$a;\nb$$, $q$x$$;'$q$, E'it\\'s;', e'\\\\', 'c\\'", "SELECT 2"]
    # on SQLite none of these exist: a backslash escapes nothing, comments do not nest
    assert [p.sql for p in split("SELECT 'c\\'; /* a /* b */ SELECT 2;", LITE)] == [
        "SELECT 'c\\'", "SELECT 2"]


def test_a_dollar_inside_a_name_or_a_positional_parameter_opens_nothing() -> None:
    assert [p.sql for p in split("SELECT a$b$, $1; SELECT 2", PG)] == [
        "SELECT a$b$, $1", "SELECT 2"]


@settings(max_examples=EXAMPLES, deadline=None)
@given(text=texts, other=texts)
def test_any_literal_survives_the_split_on_every_engine(text: str, other: str) -> None:
    rendered = (f"-- dv:first\nSELECT {_literal(text)} AS a, {_literal(other)};\n"
                f"-- dv:second\nSELECT 2;\n")
    for syntax in (PG, LITE):
        first, second = split(rendered, syntax)
        assert first.sql == f"SELECT {_literal(text)} AS a, {_literal(other)}"
        assert (first.tag, second.tag, second.sql) == ("first", "second", "SELECT 2")


# ---- on the engines -------------------------------------------------------------------------
PROJECT = {
    "models/hubs/thing.yml": "business_key:\n  k: text\nsources:\n  feed:\n",
    "models/hubs/party.yml": "business_key:\n  p: text\nsources:\n  feed:\n",
    "models/links/thing_party.yml": "hubs: [thing, party]\nsources:\n  feed:\n",
    "models/satellites/thing_state.yml": "parent: thing\nsource: feed\npayload: [v]\n",
}


def _yaml_text(text: str) -> str:
    """``text`` as a YAML double-quoted scalar that reads back exactly."""
    out = []
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif " " <= char <= "~":
            out.append(char)
        else:
            out.append(f"\\U{ord(char):08x}")
    return '"' + "".join(out) + '"'


def _source(record_source: str) -> str:
    return (f"description: {_yaml_text('the % ' + record_source)}\n"
            f"record_source: {_yaml_text(record_source)}\n"
            "applied_at: day\ncolumns:\n  k: text\n  p: text\n  v: text\n  day: timestamp\n")


def _csv(folder: Path, name: str, rows: list[tuple[str, str, str, str]]) -> str:
    path = folder / name
    path.write_text("k,p,v,day\n" + "".join(",".join(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def _stored(url: str, batch_id: int) -> dict[str, set[str]]:
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        found = {table: {r for r, in connection.exec_driver_sql(
            f"SELECT record_source FROM {table} WHERE batch_id = {int(batch_id)}")}
            for table in ("hub_thing", "hub_party", "link_thing_party", "sat_thing_state")}
    engine.dispose()
    return found


@pytest.fixture
def text_project(tmp_path: Path, db_url: str) -> tuple[Path, str]:
    root = write_project(tmp_path / "project",
                         {**PROJECT, "models/sources/feed.yml": _source("crm 100% eu")})
    return root, migrated(root, db_url)


def test_a_record_source_with_sql_in_it_loads_and_is_stored_as_written(
        text_project: tuple[Path, str], tmp_path: Path) -> None:
    root, url = text_project
    tricky = "crm 100% eu; %(x)s :name ?\n-- dv:deleted\n/* it's \"quoted\" */ \\ $$ {{ x }}"
    (root / "models/sources/feed.yml").write_text(_source(tricky), encoding="utf-8")
    result = api.load(root, "feed", _csv(tmp_path, "a.csv", [("k1", "p1", "x", "2026-01-01")]),
                      url=url)
    assert result.ok, result
    assert _stored(url, result.batch_id) == {
        t: {tricky} for t in ("hub_thing", "hub_party", "link_thing_party", "sat_thing_state")}
    history = api.query_history(root, "thing_state", url=url)
    assert [r[history.columns.index("record_source")] for r in history.rows] == [tricky]
    state = api.query_state(root, "thing_state", url=url)
    assert [r[state.columns.index("record_source")] for r in state.rows] == [tricky]


def test_a_record_source_with_a_nul_character_is_a_validation_problem(tmp_path: Path) -> None:
    root = write_project(tmp_path / "project",
                         {**PROJECT, "models/sources/feed.yml": _source("a\x00b")})
    with pytest.raises(Exception) as raised:
        api.validate(root)
    assert "record_source" in str(raised.value) and "feed.yml" in str(raised.value)


@settings(max_examples=min(max(EXAMPLES // 4, 5), 40), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@example(record_source="crm 100% eu;\n-- dropped?\n:name %(x)s ? $$ '\"")
@given(record_source=texts)
def test_any_record_source_is_stored_byte_exact_in_hubs_links_and_satellites(
        text_project: tuple[Path, str], tmp_path: Path, record_source: str) -> None:
    root, url = text_project
    (root / "models/sources/feed.yml").write_text(_source(record_source), encoding="utf-8")
    key = f"k{abs(hash(record_source))}{os.urandom(4).hex()}"
    day = dt.date(2026, 1, 1).isoformat()
    result = api.load(root, "feed", _csv(tmp_path, "a.csv", [(key, key, "v", day)]), url=url)
    assert result.ok, result
    assert _stored(url, result.batch_id) == {
        t: {record_source}
        for t in ("hub_thing", "hub_party", "link_thing_party", "sat_thing_state")}
    history = api.query_history(root, "thing_state", [key], url=url)
    assert [r[history.columns.index("record_source")] for r in history.rows] == [record_source]


@settings(max_examples=min(max(EXAMPLES // 10, 3), 8), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@example(record_source="crm 100% eu;\n-- dropped?\n:batch_id %(x)s ? $$ '\"\n\\q\n.quit\n")
@example(record_source="\r\n")  # sqlite3 drops a raw CR before a line break
@given(record_source=texts)
def test_generated_load_files_keep_any_record_source(
        make_db_url, tmp_path: Path, record_source: str) -> None:
    folder = tmp_path / os.urandom(4).hex()
    root = write_project(folder / "project",
                         {**PROJECT, "models/sources/feed.yml": _source(record_source)})
    url = migrated(root, make_db_url())
    with api.open_session(root, url=url) as session:
        dialect = session.loader.dialect.name
        api.generate(root, dialect, folder / "sql")
        staged = session.loader.stage(
            "feed", open_input(_csv(folder, "a.csv", [("k1", "p1", "v", "2026-01-01")])))
        for entity in session.project.model.entities_of("feed"):
            _run_plain(url, folder / "sql" / "load" / "feed" / f"{entity}.sql", staged.batch_id)
    assert _stored(url, staged.batch_id) == {
        t: {record_source}
        for t in ("hub_thing", "hub_party", "link_thing_party", "sat_thing_state")}
