"""PostgreSQL: the production target. Hashing in SQL, staging through COPY."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import pyarrow.csv as pacsv
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from datavault import values
from datavault.dialects.base import Dialect
from datavault.dialects.syntax import Syntax

_SPACE = r"E' \t\r\n\f\x0B'"


# float8::text is the shortest round-trip text except for some integer-valued doubles of
# magnitude 2^53 or more, where PostgreSQL prints 17 digits when fewer read back the same.
# There, take the exact integer from the IEEE bits and keep the fewest significant digits
# that read back to the same double (the nearest such, as Python's repr does).
# A zero is 0 whatever its sign, as in datavault.hashing.float_text.
_FLOAT_BIG = """CASE WHEN {e} = 0 THEN '0'
WHEN abs({e}) >= 9007199254740992 AND abs({e}) < 'Infinity'::float8 THEN (
    SELECT CASE WHEN {e} < 0 THEN '-' ELSE '' END || substr(c.digits, 1, 1)
           || CASE WHEN length(c.digits) > 1 THEN '.' || substr(c.digits, 2) ELSE '' END
           || 'e+' || (c.width - 1)::text
    FROM (
        SELECT rtrim(r.v::text, '0') AS digits, length(r.v::text) AS width, r.p
        FROM (
            SELECT round(x.exact, p - length(x.exact::text)) AS v, p
            FROM (
                SELECT trunc(((((get_byte(y.b, 1) & 15)::bigint << 48)
                         | (get_byte(y.b, 2)::bigint << 40) | (get_byte(y.b, 3)::bigint << 32)
                         | (get_byte(y.b, 4)::bigint << 24)
                         | (get_byte(y.b, 5)::bigint << 16) | (get_byte(y.b, 6)::bigint << 8)
                         | get_byte(y.b, 7)::bigint) + 4503599627370496)::numeric
                       * power(2::numeric, (get_byte(y.b, 0) & 127) * 16
                                           + (get_byte(y.b, 1) >> 4) - 1075)) AS exact
                FROM (SELECT float8send({e}) AS b) y
            ) x, generate_series(1, 17) p
        ) r
        WHERE CASE WHEN r.v < power(2::numeric, 1024) - power(2::numeric, 970)
                   THEN r.v::float8 = abs({e}) ELSE FALSE END
    ) c
    ORDER BY c.p LIMIT 1)
ELSE ({e})::text END"""


def canonical(expr: str, type_name: str) -> str:
    """SQL for the canonical text of a typed expression (SEMANTICS.md section 1)."""
    if type_name == "text":
        return expr
    if type_name == "float":
        return _FLOAT_BIG.format(e=expr)
    if type_name in ("integer", "uuid"):
        return f"({expr})::text"
    if type_name == "decimal":
        return f"trim_scale({expr})::text"
    if type_name == "date":
        return f"to_char({expr}, 'YYYY-MM-DD')"
    if type_name == "timestamp":
        return f"to_char({expr}, 'YYYY-MM-DD\"T\"HH24:MI:SS.US')"
    if type_name == "boolean":
        return f"CASE {expr} WHEN TRUE THEN 'true' WHEN FALSE THEN 'false' END"
    raise ValueError(f"unknown column type {type_name!r}")


_CASTS = {"integer": "bigint", "decimal": "numeric", "float": "float8", "date": "date",
          "timestamp": "timestamp", "boolean": "boolean", "uuid": "uuid"}


def text_value(e: str, type_name: str) -> str:
    """SQL: the typed value of source text ``e`` that passed ``plain_text``."""
    if type_name == "text":
        return f"NULLIF({e}, '')"
    value = f"CAST(NULLIF({e}, '') AS {_CASTS[type_name]})"
    # the parser keeps no trailing fraction zeros (a decimal is stored as its canonical text)
    if type_name == "decimal":
        return f"trim_scale({value})"
    if type_name == "float":
        return f"({value} + 0)"  # -0 is 0, as the parser has it
    return value


def escape(expr: str, type_name: str = "text") -> str:
    """The hashed form of a canonical text: ``\\`` and ``|`` escaped. Only a text can hold
    them: the canonical forms of the other types are digits, letters, signs, ``.``, ``:``
    and ``-`` (SEMANTICS.md section 1), which are hashed as they are."""
    if type_name != "text":
        return expr
    return f"replace(replace({expr}, '\\', '\\\\'), '|', '\\|')"


def key_part(expr: str, type_name: str) -> str:
    """A business key part's text, or NULL when it is missing.

    Under the "C" collation ``upper`` folds ASCII a-z only and leaves every other character
    as it is, in every server encoding (their multi-byte characters use bytes above 127):
    the portable folding of SEMANTICS.md, at a fraction of ``translate``'s cost.
    """
    trimmed = f"btrim({canonical(expr, type_name)}, {_SPACE})"
    return escape(f"NULLIF(upper({trimmed} COLLATE \"C\"), '')", type_name)


# A table whose indexes a first load may set aside and build again as they were: the
# loader's role owns it (only an owner may), a plain table (not partitioned, inherited or a
# partition), no foreign key to or from it, its replica identity not an index, and no index
# or constraint of it with what a rebuild from its definition would not give back: a
# tablespace, storage options, the cluster mark, a comment, an object that depends on it.
_REBUILDABLE = """
SELECT pg_has_role(c.relowner, 'USAGE') AND c.relkind = 'r' AND c.relreplident <> 'i'
   AND NOT c.relhassubclass AND NOT c.relispartition
   AND NOT EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = c.oid)
   AND NOT EXISTS (SELECT 1 FROM pg_constraint f
                   WHERE f.contype = 'f' AND (f.conrelid = c.oid OR f.confrelid = c.oid))
   AND NOT EXISTS (
       SELECT 1 FROM pg_index i JOIN pg_class x ON x.oid = i.indexrelid
       LEFT JOIN pg_constraint k ON k.conindid = x.oid AND k.conrelid = c.oid
       WHERE i.indrelid = c.oid
         AND (x.reltablespace <> 0 OR x.reloptions IS NOT NULL OR i.indisclustered
              OR obj_description(x.oid, 'pg_class') IS NOT NULL
              OR obj_description(k.oid, 'pg_constraint') IS NOT NULL
              OR EXISTS (SELECT 1 FROM pg_depend d WHERE d.deptype = 'n'
                         AND ((d.refclassid = 'pg_class'::regclass AND d.refobjid = x.oid)
                              OR (d.refclassid = 'pg_constraint'::regclass
                                  AND d.refobjid = k.oid)))))
FROM pg_class c WHERE c.oid = to_regclass(%(t)s)
"""


class PostgresDialect(Dialect):
    name = "postgresql"
    schemes = ("postgresql", "postgres")  # the second is the scheme libpq and Heroku write
    # SQLAlchemy 2.1 would pick psycopg 3 for a plain postgresql:// URL
    default_driver = "postgresql+psycopg2"
    max_identifier_length = 63  # it cuts longer names, and SQLAlchemy refuses such indexes
    supports_copy = True
    distinct_on = True
    lateral_joins = True
    concurrent_loads = 4
    syntax = Syntax(dollar_quotes=True, escape_strings=True, nested_comments=True)
    char_function = "chr"
    # reserved (or reserved as a column name) in pg_get_keywords(), unknown to SQLAlchemy
    reserved_words = frozenset({"collation", "concurrently", "lateral", "tablesample"})
    type_overrides = {"uuid": postgresql.UUID(as_uuid=True)}

    def binary_literal(self, data: bytes) -> str:
        return f"'\\x{data.hex()}'::bytea"

    def alter_type_options(self, column: str, new_type: Any) -> dict[str, str]:
        # PostgreSQL converts text to a number only when told to
        cast = new_type.compile(dialect=postgresql.dialect())
        return {"postgresql_using": f'"{column}"::{cast}'}

    def sqlalchemy_dialect(self) -> sa.Dialect:
        return self.adapt(postgresql.dialect())

    def _digest(self, text_sql: str, algorithm: str) -> str:
        data = f"convert_to({text_sql}, 'UTF8')"
        if algorithm == "md5":
            return f"decode(md5({data}), 'hex')"
        return f"sha256({data})"

    def hash_key(self, parts: Sequence[tuple[str, str]], algorithm: str) -> str:
        # Each part is written once: the digest of NULL is NULL, which becomes the zero key.
        texts = [key_part(expr, type_name) for expr, type_name in parts]
        if len(texts) == 1:
            return f"COALESCE({self._digest(texts[0], algorithm)}, {self.zero_key(algorithm)})"
        joined = " || '|' || ".join(f"COALESCE({t}, '\\N')" for t in texts)
        # every part missing: the joined text is \N|\N..., which no other key gives
        # (a part's own backslash is escaped)
        every_missing = "|".join(["\\N"] * len(texts))
        text = f"NULLIF({joined}, '{every_missing}')"
        return f"COALESCE({self._digest(text, algorithm)}, {self.zero_key(algorithm)})"

    def hash_diff(self, items: Sequence[tuple[str, str, str]], algorithm: str) -> str:
        # 'name=' || NULL is NULL, and concat_ws leaves NULLs out
        pieces = [f"{self.text_literal(name + '=')} || {escape(canonical(expr, t), t)}"
                  for name, expr, t in sorted(items)]
        if not pieces:  # no payload (a status tracking satellite): the empty text's hash
            return self._digest("''", algorithm)
        return self._digest(f"concat_ws('|', {', '.join(pieces)})", algorithm)

    def canonical_text(self, expr: str, type_name: str) -> str:
        return canonical(expr, type_name)

    def code_text(self, parts: Sequence[tuple[str, str]]) -> str:
        # NULL when a part is NULL (|| gives NULL) or text of ASCII white space only
        texts = []
        for expr, type_name in parts:
            text = escape(canonical(expr, type_name), type_name)
            if type_name == "text":
                text = f"CASE WHEN btrim({expr}, {_SPACE}) = '' THEN NULL ELSE {text} END"
            texts.append(text)
        return " || '|' || ".join(texts) if len(texts) > 1 else texts[0]

    def set_hash_diff(self, expr: str, algorithm: str) -> str:
        # The hexadecimal texts sorted byte by byte (the "C" collation), as Python sorts them
        texts = f"encode({expr}, 'hex') COLLATE \"C\""
        joined = f"string_agg(DISTINCT {texts}, '|' ORDER BY {texts})"
        return f"COALESCE({self._digest(joined, algorithm)}, {self.zero_key(algorithm)})"

    def json_object(self, pairs: Iterable[tuple[str, str]]) -> str:
        return ("json_build_object(" + ", ".join(f"{self.text_literal(k)}, {e}" for k, e in pairs)
                + ")::text")

    def serialize_writers(self, connection: sa.Connection, table: str) -> None:
        connection.exec_driver_sql(f"LOCK TABLE {self.quote(table)} IN SHARE ROW EXCLUSIVE MODE")

    def run_hint(self, file: str, parameter: str, value: str) -> str:
        return f"-- Run with: psql -v ON_ERROR_STOP=1 -v {parameter}={value} -f {file}\n"

    def empty_table(self, table: str) -> str:
        # frees the rows at once (DELETE leaves them to VACUUM)
        return f"TRUNCATE {self.quote(table)}"

    def load_lock(self, engine: sa.Engine, source: str) -> _AdvisoryLock:
        return _AdvisoryLock(engine, source)

    def utc_now(self) -> str:
        return "(CURRENT_TIMESTAMP AT TIME ZONE 'UTC')"

    def timestamp_literal(self, text: str) -> str:
        return f"TIMESTAMP '{text}'"

    def float_literal(self, text: str) -> str:
        return f"'{text}'::float8" if text in ("Infinity", "-Infinity") else text

    def decimal_order(self, expr: str, text: str) -> str:
        # a numeric column: compared exactly with a numeric constant
        return f"sign({expr} - {text})"

    def full_match(self, expr: str, pattern: str) -> str:
        # an advanced regular expression, anchored; a line feed never matches (section 11)
        return (f"(strpos({expr}, chr(10)) = 0 AND "
                f"{expr} ~ {self.text_literal('^(?:' + pattern + ')$')})")

    def timestamp_param(self, name: str) -> str:
        return f"CAST(:{name} AS timestamp)"

    def prepare_connection(self, dbapi_connection: Any) -> None:
        # shortest round-trip float text, whatever the server's default
        autocommit = dbapi_connection.autocommit
        dbapi_connection.autocommit = True
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET extra_float_digits = 1")
            # a backslash in a '...' literal is itself (literals and the hash SQL rely on it)
            cursor.execute("SET standard_conforming_strings = on")
            # Each load statement runs once per batch: compiling it (JIT) costs more than it
            # saves, about half a second per statement from some ten thousand rows on.
            cursor.execute("SET jit = off")
        dbapi_connection.autocommit = autocommit

    def refresh_statistics(self, connection: sa.Connection, table: str, inserted: int) -> None:
        # Autovacuum analyzes a table only once a tenth of it changed, some time later: a big
        # first load would leave the next batch planned for an empty table.
        if inserted < 10_000:
            return
        name = self.quote(table)
        known = connection.exec_driver_sql(
            "SELECT reltuples FROM pg_class WHERE oid = to_regclass(%s)", (name,)).scalar()
        if known is None or known < 0 or inserted > known / 10:
            connection.exec_driver_sql(f"ANALYZE {name}")

    def raw_table_prefixes(self, connection: sa.Connection) -> list[str]:
        # Parallel workers read no temporary table: an unlogged one, where the role may
        # make one in the schema, lets the typing and hashing of a batch use them. Made in
        # the staging transaction, it is never seen by another, even after a crash.
        may = connection.exec_driver_sql(
            "SELECT COALESCE(has_schema_privilege(current_schema(), 'CREATE'), FALSE)").scalar()
        return ["UNLOGGED"] if may else ["TEMPORARY"]

    def empty_tables(self, connection: sa.Connection, tables: Sequence[str]) -> list[str]:
        empty = [t for t in tables if not connection.exec_driver_sql(
            f"SELECT EXISTS (SELECT 1 FROM {self.quote(t)})").scalar()]
        if not tables or empty[:1] != [tables[0]]:
            empty = []
        return [t for t in empty if connection.exec_driver_sql(
            _REBUILDABLE, {"t": self.quote(t)}).scalar()]

    @contextlib.contextmanager
    def without_indexes(self, connection: sa.Connection,
                        tables: Sequence[str]) -> Iterator[None]:
        # Each table is locked against every other reader and writer until the commit, if no
        # one uses it now (else it keeps its indexes: no one waits for the other), and only
        # then found empty (a load of another source may have filled it since
        # ``empty_tables``).
        ddl = {"no_parameters": True}  # a catalog definition may hold a %
        rebuild: list[str] = []
        for table in tables:
            name = self.quote(table)
            savepoint = connection.begin_nested()
            try:
                connection.exec_driver_sql(f"LOCK TABLE {name} IN ACCESS EXCLUSIVE MODE NOWAIT")
            except sa.exc.OperationalError:  # in use
                savepoint.rollback()
                continue
            savepoint.commit()  # the lock stays with the transaction
            if connection.exec_driver_sql(f"SELECT EXISTS (SELECT 1 FROM {name})").scalar():
                continue
            # unique and primary-key constraints by their definition, other indexes by theirs
            for constraint, index, definition in connection.exec_driver_sql(
                    "SELECT c.conname, NULL, pg_get_constraintdef(c.oid) FROM pg_constraint c"
                    " WHERE c.conrelid = to_regclass(%(t)s) AND c.contype IN ('p', 'u')"
                    " UNION ALL"
                    " SELECT NULL, i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)"
                    " FROM pg_index i WHERE i.indrelid = to_regclass(%(t)s) AND NOT EXISTS ("
                    "     SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
                    {"t": name}).all():
                if constraint is not None:
                    connection.exec_driver_sql(
                        f"ALTER TABLE {name} DROP CONSTRAINT {self.quote(constraint)}",
                        execution_options=ddl)
                    rebuild.append(f"ALTER TABLE {name} ADD CONSTRAINT "
                                   f"{self.quote(constraint)} {definition}")
                else:
                    connection.exec_driver_sql(f"DROP INDEX {index}", execution_options=ddl)
                    rebuild.append(definition)
        yield
        for statement in rebuild:
            connection.exec_driver_sql(statement, execution_options=ddl)

    def text_value(self, expr: str, type_name: str) -> str | None:
        return text_value(expr, type_name)

    def copy_text(self, connection: sa.Connection, table: str, batch: Any) -> None:
        buffer = io.BytesIO()
        pacsv.write_csv(batch, buffer, pacsv.WriteOptions(include_header=False))
        buffer.seek(0)
        raw = connection.connection.dbapi_connection
        assert raw is not None
        with raw.cursor() as cursor:
            cursor.copy_expert(
                f"COPY {self.quote(table)} ({', '.join(map(self.quote, batch.schema.names))}) "
                "FROM STDIN WITH (FORMAT csv)",
                buffer, size=1 << 20)

    def bulk_insert(self, connection: sa.Connection, table: str, columns: Sequence[str],
                    types: Sequence[str], rows: list[Sequence[object]]) -> None:
        if not rows:
            return
        buffer = io.StringIO()
        write = buffer.write
        for row in rows:
            write(",".join(_copy_field(v, t) for v, t in zip(row, types)))
            write("\n")
        buffer.seek(0)
        raw = connection.connection.dbapi_connection
        assert raw is not None
        with raw.cursor() as cursor:
            cursor.copy_expert(
                f"COPY {self.quote(table)} ({', '.join(map(self.quote, columns))}) "
                "FROM STDIN WITH (FORMAT csv)", buffer
            )


class _AdvisoryLock:
    """A session-level advisory lock per schema and source, on a connection of its own that
    is kept open while the lock is held (the server releases it when that connection ends,
    so a killed loader leaves no lock behind)."""

    #: the first key of every advisory lock the toolkit takes ('dvlt')
    CLASS_ID = 0x64766C74

    def __init__(self, engine: sa.Engine, source: str):
        self.engine = engine
        self.source = source
        self.scope = f"source {source}"
        self.connection: sa.Connection | None = None

    def acquire(self, blocking: bool) -> bool:
        connection = self.engine.connect()
        function = "pg_advisory_lock" if blocking else "pg_try_advisory_lock"
        try:
            got = connection.exec_driver_sql(
                f"SELECT {function}(%(class)s, hashtext(current_schema() || '.' || %(source)s))",
                {"class": self.CLASS_ID, "source": self.source}).scalar()
            connection.commit()  # the lock outlives the transaction; a snapshot must not
        except BaseException:
            connection.close()
            raise
        if got is False:
            connection.close()
            return False
        self.connection = connection
        return True

    def release(self) -> None:
        if self.connection is None:
            return
        try:
            self.connection.exec_driver_sql(
                "SELECT pg_advisory_unlock(%(class)s, hashtext(current_schema() || '.' || "
                "%(source)s))", {"class": self.CLASS_ID, "source": self.source})
            self.connection.commit()
        finally:
            self.connection.close()
            self.connection = None


def _copy_field(value: object, type_name: str) -> str:
    if value is None:
        return ""
    text = value if type_name == "text" else values.to_text(value, type_name)
    return '"' + str(text).replace('"', '""') + '"'
