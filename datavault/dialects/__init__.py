"""One small class per engine; nothing else in the toolkit branches on an engine's name."""

from __future__ import annotations

from datavault.diagnostics import DatavaultError
from datavault.dialects.base import Dialect
from datavault.dialects.postgresql import PostgresDialect
from datavault.dialects.sqlite import SQLiteDialect

DIALECTS: dict[str, type[Dialect]] = {d.name: d for d in (SQLiteDialect, PostgresDialect)}


def get_dialect(name: str) -> Dialect:
    """The dialect registered under an engine name (``sqlite``, ``postgresql``)."""
    try:
        return DIALECTS[name]()
    except KeyError:
        raise DatavaultError(
            f"unsupported database {name!r}; supported: {', '.join(sorted(DIALECTS))}"
        ) from None


__all__ = ["DIALECTS", "Dialect", "get_dialect"]
