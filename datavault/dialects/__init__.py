"""One small class per engine; nothing else in the toolkit branches on an engine's name."""

from __future__ import annotations

from datavault.diagnostics import DatavaultError
from datavault.dialects.base import Dialect
from datavault.dialects.duckdb import DuckDBDialect
from datavault.dialects.postgresql import PostgresDialect
from datavault.dialects.spark import SparkDialect
from datavault.dialects.sqlite import SQLiteDialect

DIALECTS: dict[str, type[Dialect]] = {
    d.name: d for d in (SQLiteDialect, PostgresDialect, DuckDBDialect, SparkDialect)}
#: the embedded engine a project's vault is on when no URL is given (no server needed)
DEFAULT = "sqlite"
#: the engine of each URL scheme
_BY_SCHEME = {scheme: d.name for d in DIALECTS.values() for scheme in d.schemes}


def get_dialect(name: str) -> Dialect:
    """The dialect registered under an engine name (``sqlite``, ``postgresql``), or under a
    URL scheme that names it (``postgres``)."""
    try:
        return DIALECTS[_BY_SCHEME.get(name, name)]()
    except KeyError:
        raise DatavaultError(
            f"unsupported database {name!r}; supported: {', '.join(sorted(DIALECTS))}"
        ) from None


__all__ = ["DEFAULT", "DIALECTS", "Dialect", "get_dialect"]
