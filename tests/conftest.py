"""Shared fixtures: the engines every load test runs on, and small projects to load into."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("DATAVAULT_TEST_PG", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _pg_available() -> str | None:
    try:
        engine = sa.create_engine(PG_URL)
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
        engine.dispose()
        return None
    except Exception as exc:  # any failure means: no server to test against
        return str(exc).strip().splitlines()[0]


_PG_PROBLEM = _pg_available()


def need_postgres() -> None:
    """Skip without a PostgreSQL server, except under CI where that is a failure."""
    if _PG_PROBLEM is None:
        return
    message = f"PostgreSQL at {PG_URL} is not reachable: {_PG_PROBLEM}"
    if IN_CI:
        pytest.fail("CI must run the PostgreSQL tests; " + message)
    pytest.skip(message)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL schema (dropped afterwards), as a URL whose search_path is it."""
    need_postgres()
    name = f"dvtest_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE SCHEMA {name}")
    separator = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{separator}options=-csearch_path%3D{name}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f"DROP SCHEMA {name} CASCADE")
    admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'vault.sqlite'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each load test runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'vault.sqlite'}"
    else:
        yield request.getfixturevalue("pg_url")


@pytest.fixture
def example_project(tmp_path: Path) -> Path:
    """A copy of the repository's example warehouse."""
    target = tmp_path / "project"
    for part in ("models", "config", "data"):
        shutil.copytree(ROOT / part, target / part)
    return target


def write_project(root: Path, files: dict[str, str]) -> Path:
    """Write a project from {relative path: text}."""
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root
