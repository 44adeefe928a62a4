"""The SQL type of each declared column type, with every dialect's variant, and of hashes."""

from __future__ import annotations

from functools import cache
from typing import Any

import sqlalchemy as sa

from datavault.dialects import DIALECTS

_GENERIC: dict[str, Any] = {
    "text": sa.Text(),
    "integer": sa.BigInteger(),
    "decimal": sa.Numeric(),
    "date": sa.Date(),
    "timestamp": sa.DateTime(),
    "boolean": sa.Boolean(create_constraint=False),
    "uuid": sa.Text(),
    "float": sa.Float(precision=53),
}


@cache
def column_type(type_name: str) -> Any:
    """The SQLAlchemy type of a declared column type, with each dialect's variant (one
    object per type name: columns share it)."""
    result = _GENERIC[type_name]
    for name, dialect in sorted(DIALECTS.items()):
        override = dialect.type_overrides.get(type_name)
        if override is not None:
            result = result.with_variant(override, name)
    return result


def declared_type(sa_type: object) -> str | None:
    """The declared column type whose ``column_type`` is ``sa_type`` (None: no such one)."""
    return next((t for t in _GENERIC if column_type(t) is sa_type), None)


def hash_type() -> Any:
    return sa.LargeBinary()
