"""Engines: URL resolution, per-connection preparation, and readable connection errors."""

from __future__ import annotations

import os
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url

from datavault.diagnostics import DatavaultError
from datavault.dialects import Dialect, get_dialect
from datavault.model import Settings

DEFAULT_SQLITE = "vault.sqlite"


def resolve_url(project_root: Path, settings: Settings, url: str | None,
                profile: str | None = None) -> str:
    """The database URL: --url, else DATAVAULT_URL, else the config's profile, else SQLite.

    Every place that was tried is named when none gives a URL.
    """
    if url:
        return _relative_sqlite(url, project_root)
    if os.environ.get("DATAVAULT_URL"):
        return _relative_sqlite(os.environ["DATAVAULT_URL"], project_root)
    profiles = dict(settings.profiles)
    chosen = profile or os.environ.get("DATAVAULT_PROFILE") or settings.profile
    if chosen:
        if chosen not in profiles:
            raise DatavaultError(
                f"unknown profile {chosen!r}; config/datavault.yml defines: "
                f"{', '.join(profiles) or 'none'}"
            )
        body = dict(profiles[chosen])
        if "url" in body:
            return _relative_sqlite(body["url"], project_root)
        variable = body["url_env"]
        if not os.environ.get(variable):
            raise DatavaultError(
                f"profile {chosen!r} reads its URL from ${variable}, which is not set; "
                f"set it, or pass --url, or set DATAVAULT_URL"
            )
        return _relative_sqlite(os.environ[variable], project_root)
    return f"sqlite:///{project_root / DEFAULT_SQLITE}"


def _relative_sqlite(url: str, project_root: Path) -> str:
    """A relative SQLite path in a URL is taken relative to the project folder."""
    parsed = with_driver(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        path = Path(parsed.database)
        if not path.is_absolute():
            return parsed.set(database=str(project_root / path)).render_as_string(
                hide_password=False)
    return url


# The driver a URL without one gets: the one the toolkit installs (SQLAlchemy 2.1 would pick
# psycopg 3 for a plain postgresql:// URL).
DEFAULT_DRIVERS = {"postgresql": "postgresql+psycopg2"}


def with_driver(url: str) -> sa.URL:
    """Parse a URL, giving it the installed driver when it names none.

    A malformed URL is reported without repeating it: it may hold a password.
    """
    try:
        parsed = make_url(url)
    except (sa.exc.ArgumentError, ValueError) as exc:
        raise DatavaultError(f"not a database URL ({exc})") from None
    if parsed.drivername in DEFAULT_DRIVERS:
        parsed = parsed.set(drivername=DEFAULT_DRIVERS[parsed.drivername])
    return parsed


def connect(url: str) -> tuple[sa.Engine, Dialect]:
    """An engine whose connections are prepared by the URL's dialect, checked by one query."""
    parsed = with_driver(url)
    dialect = get_dialect(parsed.get_backend_name())
    try:
        engine = sa.create_engine(parsed, **dialect.engine_options())
    except Exception as exc:
        raise DatavaultError(f"cannot use database URL {parsed!r}: {exc}") from None
    dialect.adapt(engine.dialect)

    @event.listens_for(engine, "connect")
    def _prepare(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        dialect.prepare_connection(dbapi_connection)

    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
    except sa.exc.OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise DatavaultError(
            f"cannot connect to {parsed.render_as_string(hide_password=True)}: {reason}"
        ) from None
    return engine, dialect
