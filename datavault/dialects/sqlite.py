"""SQLite: the embedded default. Hashing runs as Python functions registered per connection."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from datavault import hashing, values
from datavault.dialects.base import Dialect

if TYPE_CHECKING:
    import filelock


def _hash_key(algorithm: str, *args: object) -> bytes:
    parts = [(values.from_stored(args[i + 1], args[i]), args[i]) for i in range(0, len(args), 2)]
    return hashing.hash_key(parts, algorithm)  # type: ignore[arg-type]


def _hash_diff(algorithm: str, *args: object) -> bytes:
    items = [
        (args[i], values.from_stored(args[i + 2], args[i + 1]), args[i + 1])
        for i in range(0, len(args), 3)
    ]
    return hashing.hash_diff(items, algorithm)  # type: ignore[arg-type]


def _canonical(type_name: str, value: object) -> str | None:
    if value is None:
        return None
    return hashing.canonical(values.from_stored(value, type_name), type_name)


def _full_match(pattern: str, value: object) -> int | None:
    return None if value is None else int(values.full_match(pattern, str(value)))


def _code_text(*args: object) -> str | None:
    parts = [(values.from_stored(args[i + 1], args[i]), args[i]) for i in range(0, len(args), 2)]
    return hashing.code_text(parts)  # type: ignore[arg-type]


class _SetHashDiff:
    """The aggregate ``dv_set_hash_diff(algorithm, member hash diff)``: the hash diff of the
    set of a group's members (``hashing.set_hash_diff``). SQLite gives NULL for no rows,
    without asking it (``Dialect.set_hash_diff`` makes that the zero hash diff)."""

    def __init__(self) -> None:
        self.algorithm = ""
        self.members: set[bytes] = set()

    def step(self, algorithm: str, member: bytes | None) -> None:
        self.algorithm = algorithm
        if member is not None:
            self.members.add(bytes(member))

    def finalize(self) -> bytes:
        return hashing.set_hash_diff(self.members, self.algorithm)


class SQLiteDialect(Dialect):
    name = "sqlite"
    schemes = ("sqlite",)
    file_database = True
    default_file = "vault.sqlite"
    # exact decimals and canonical UUID text are stored as TEXT
    type_overrides = {"decimal": sa.Text(), "uuid": sa.Text()}
    # SQLite's keywords (sqlite3_keyword_name) that SQLAlchemy does not quote; most are read
    # as names where a name fits, some (nothing, returning) are not
    reserved_words = frozenset({
        "abort", "action", "always", "current", "do", "exclude", "filter", "first", "following",
        "generated", "groups", "last", "materialized", "no", "nothing", "nulls", "others",
        "over", "partition", "preceding", "range", "recursive", "regexp", "release",
        "returning", "rows", "savepoint", "ties", "unbounded", "window", "with", "without"})

    def binary_literal(self, data: bytes) -> str:
        return f"X'{data.hex()}'"

    def greatest(self, exprs: Sequence[str]) -> str:
        return exprs[0] if len(exprs) == 1 else f"MAX({', '.join(exprs)})"  # the scalar max

    def least(self, exprs: Sequence[str]) -> str:
        return exprs[0] if len(exprs) == 1 else f"MIN({', '.join(exprs)})"

    def utc_now(self) -> str:
        # stored timestamps are text that sorts as it compares: the same form, to the ms
        return "strftime('%Y-%m-%d %H:%M:%f', 'now')"

    def sqlalchemy_dialect(self) -> sa.Dialect:
        from sqlalchemy.dialects import sqlite

        return self.adapt(sqlite.dialect())

    def hash_key(self, parts: Sequence[tuple[str, str]], algorithm: str) -> str:
        lit = self.text_literal
        args = ", ".join(f"{lit(type_name)}, {expr}" for expr, type_name in parts)
        return f"dv_hash_key({lit(algorithm)}, {args})"

    def hash_diff(self, items: Sequence[tuple[str, str, str]], algorithm: str) -> str:
        lit = self.text_literal
        args = "".join(f", {lit(name)}, {lit(t)}, {expr}" for name, expr, t in items)
        return f"dv_hash_diff({lit(algorithm)}{args})"

    def canonical_text(self, expr: str, type_name: str) -> str:
        if type_name == "text":  # a text is its own canonical text: no call per row
            return expr
        return f"dv_canonical({self.text_literal(type_name)}, {expr})"

    def code_text(self, parts: Sequence[tuple[str, str]]) -> str:
        args = ", ".join(f"{self.text_literal(type_name)}, {expr}" for expr, type_name in parts)
        return f"dv_code_text({args})"

    def set_hash_diff(self, expr: str, algorithm: str) -> str:
        aggregate = f"dv_set_hash_diff({self.text_literal(algorithm)}, {expr})"
        return f"COALESCE({aggregate}, {self.zero_key(algorithm)})"

    def serialize_writers(self, connection: sa.Connection, table: str) -> None:
        # SQLite has one writer at a time: take the write lock before the first read, so that
        # the read sees what the write builds on (its driver begins only at the first write)
        if not connection.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    def run_hint(self, file: str, parameter: str, value: str) -> str:
        return (f"-- Run with: sqlite3 -cmd \".parameter set :{parameter} {value}\" VAULT "
                f"\".read {file}\"\n")

    def load_lock(self, engine: sa.Engine, source: str) -> FileLock:
        return FileLock(engine.url.database)

    def subquery_fence(self) -> str:
        return "LIMIT -1 OFFSET 0"  # SQLite folds no subquery that has a LIMIT

    def json_object(self, pairs: Iterable[tuple[str, str]]) -> str:
        return "json_object(" + ", ".join(f"{self.text_literal(k)}, {e}" for k, e in pairs) + ")"

    def date_literal(self, text: str) -> str:
        return self.text_literal(text)  # a date is stored as its text here

    def float_literal(self, text: str) -> str:
        return {"Infinity": "9e999", "-Infinity": "-9e999"}.get(text, text)

    def decimal_double(self, expr: str) -> str:
        return f"CAST({expr} AS REAL)"  # never fails: the digits it reads, as a double

    def full_match(self, expr: str, pattern: str) -> str:
        return f"dv_full_match({self.text_literal(pattern)}, {expr})"

    def prepare_connection(self, dbapi_connection: Any) -> None:
        dbapi_connection.create_function("dv_hash_key", -1, _hash_key, deterministic=True)
        dbapi_connection.create_function("dv_hash_diff", -1, _hash_diff, deterministic=True)
        dbapi_connection.create_function("dv_code_text", -1, _code_text, deterministic=True)
        dbapi_connection.create_aggregate("dv_set_hash_diff", 2, _SetHashDiff)
        dbapi_connection.create_function("dv_canonical", 2, _canonical, deterministic=True)
        dbapi_connection.create_function("dv_full_match", 2, _full_match, deterministic=True)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    def bulk_insert(self, connection: sa.Connection, table: str, columns: Sequence[str],
                    types: Sequence[str], rows: list[Sequence[object]]) -> None:
        if not rows:
            return
        stored = [
            tuple(_store(v, t) for v, t in zip(row, types)) for row in rows
        ]
        sql = (f"INSERT INTO {self.quote(table)} ({', '.join(map(self.quote, columns))}) "
               f"VALUES ({', '.join('?' * len(columns))})")
        connection.exec_driver_sql(sql, stored)


class FileLock:
    """One load at a time per SQLite database (it has one writer at a time anyway, and a
    load's transactions would otherwise wait on another's): a lock on a file beside it,
    which the operating system releases when the loader's process ends."""

    scope = "the database"

    def __init__(self, database: str | None):
        self._lock: filelock.BaseFileLock | threading.Lock
        self._file = bool(database and database != ":memory:"
                          and not database.startswith("file:"))
        if self._file:
            import filelock  # only loads take it: other commands need not import it

            self._lock = filelock.FileLock(f"{database}.load-lock")
        else:  # a database of this process alone
            self._lock = threading.Lock()

    def acquire(self, blocking: bool) -> bool:
        if not self._file:
            return self._lock.acquire(blocking)
        import filelock

        try:
            self._lock.acquire(timeout=-1 if blocking else 0)
        except filelock.Timeout:
            return False
        return True

    def release(self) -> None:
        self._lock.release()


def _store(value: object, type_name: str) -> object:
    if value is None or type_name in ("integer", "text"):
        return value
    if type_name == "float":
        return values.stored_float(value)  # type: ignore[arg-type]
    if type_name == "boolean":
        return 1 if value else 0
    return values.to_text(value, type_name)
