"""PostgreSQL: the production target. Hashing in SQL, staging through COPY."""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from typing import Any

import pyarrow.csv as pacsv
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from datavault import values
from datavault.dialects.base import Dialect

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


# Source texts SQL reads itself: a strict subset of what datavault.values.parse accepts, on
# which PostgreSQL's cast gives the same value. Anything else goes through the parser.
# (PostgreSQL's regular expressions slow down a lot with bounded repeats such as {1,200}: the
# lengths are checked apart.)
_PLAIN = {
    "integer": r"^[+-]?[0-9]+$",
    "decimal": r"^[+-]?[0-9]+(\.[0-9]+)?$",
    "float": r"^[+-]?[0-9]+(\.[0-9]+)?$",  # correctly rounded by both
    "date": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
    "timestamp": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?)?$",
    "boolean": r"^(true|t|yes|y|1|false|f|no|n|0|TRUE|T|YES|Y|FALSE|F|NO|N|True|Yes|False|No)$",
    "uuid": r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
}
# the longest text of each form: 18 digits and a sign (no 64-bit overflow), numbers far
# from the limits of numeric and float8 (no overflow, no error), fractions of a second to
# the microsecond (PostgreSQL rounds where the parser cuts)
_LONGEST = {"integer": 19, "decimal": 1000, "float": 300, "timestamp": 26}
_CASTS = {"integer": "bigint", "decimal": "numeric", "float": "float8", "date": "date",
          "timestamp": "timestamp", "boolean": "boolean", "uuid": "uuid"}


def _valid_date(e: str) -> str:
    """True when the YYYY-MM-DD at the start of ``e`` (digits already checked) is a date."""
    year = f"substr({e}, 1, 4)::int"
    leap = f"({year} % 4 = 0 AND ({year} % 100 <> 0 OR {year} % 400 = 0))"
    last = (f"CASE substr({e}, 6, 2) WHEN '02' THEN CASE WHEN {leap} THEN '29' ELSE '28' END "
            f"WHEN '04' THEN '30' WHEN '06' THEN '30' WHEN '09' THEN '30' WHEN '11' THEN '30' "
            f"ELSE '31' END")
    return (f"substr({e}, 1, 4) <> '0000' AND substr({e}, 6, 2) BETWEEN '01' AND '12' "
            f"AND substr({e}, 9, 2) BETWEEN '01' AND {last}")


def text_check(e: str, type_name: str) -> str:
    """SQL: true when source text ``e`` is empty or in a form of ``_PLAIN`` that is a value."""
    if type_name == "text":
        return "TRUE"
    extra = "TRUE"
    if type_name == "date":
        extra = _valid_date(e)
    elif type_name == "timestamp":
        extra = (f"{_valid_date(e)} AND (length({e}) = 10 OR (substr({e}, 12, 2) <= '23' "
                 f"AND substr({e}, 15, 2) <= '59' AND (length({e}) = 16 "
                 f"OR substr({e}, 18, 2) <= '59')))")
    if type_name == "integer":
        extra = f"(length({e}) < 19 OR substr({e}, 1, 1) IN ('+', '-'))"
    longest = f"length({e}) <= {_LONGEST[type_name]} AND " if type_name in _LONGEST else ""
    # CASE: the checks that read digits run only on text the pattern let through
    return (f"({e} IS NULL OR {e} = '' OR CASE WHEN {longest}{e} ~ '{_PLAIN[type_name]}' "
            f"THEN {extra} ELSE FALSE END)")


def text_value(e: str, type_name: str) -> str:
    """SQL: the typed value of source text ``e`` that passed ``text_check``."""
    if type_name == "text":
        return f"NULLIF({e}, '')"
    value = f"CAST(NULLIF({e}, '') AS {_CASTS[type_name]})"
    # the parser keeps no trailing fraction zeros (a decimal is stored as its canonical text)
    if type_name == "decimal":
        return f"trim_scale({value})"
    if type_name == "float":
        return f"({value} + 0)"  # -0 is 0, as the parser has it
    return value


def escape(expr: str) -> str:
    return f"replace(replace({expr}, '\\', '\\\\'), '|', '\\|')"


def key_part(expr: str, type_name: str) -> str:
    """A business key part's text, or NULL when it is missing.

    Under the "C" collation ``upper`` folds ASCII a-z only and leaves every other character
    as it is, in every server encoding (their multi-byte characters use bytes above 127):
    the portable folding of SEMANTICS.md, at a fraction of ``translate``'s cost.
    """
    trimmed = f"btrim({canonical(expr, type_name)}, {_SPACE})"
    return escape(f"NULLIF(upper({trimmed} COLLATE \"C\"), '')")


class PostgresDialect(Dialect):
    name = "postgresql"
    supports_copy = True
    type_overrides = {"uuid": postgresql.UUID(as_uuid=True)}

    def binary_literal(self, data: bytes) -> str:
        return f"'\\x{data.hex()}'::bytea"

    def sqlalchemy_dialect(self) -> sa.Dialect:
        return postgresql.dialect()

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
        pieces = [f"'{name}=' || {escape(canonical(expr, t))}" for name, expr, t in sorted(items)]
        return self._digest(f"concat_ws('|', {', '.join(pieces)})", algorithm)

    def json_object(self, pairs: Iterable[tuple[str, str]]) -> str:
        return "json_build_object(" + ", ".join(f"'{k}', {e}" for k, e in pairs) + ")::text"

    def serialize_writers(self, connection: sa.Connection, table: str) -> None:
        connection.exec_driver_sql(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")

    def run_hint(self, file: str, parameter: str, value: str) -> str:
        return f"-- Run with: psql -v ON_ERROR_STOP=1 -v {parameter}={value} -f {file}\n"

    def empty_table(self, table: str) -> str:
        return f"TRUNCATE {table}"  # frees the rows at once (DELETE leaves them to VACUUM)

    def load_lock(self, engine: sa.Engine, source: str) -> _AdvisoryLock:
        return _AdvisoryLock(engine, source)

    def utc_now(self) -> str:
        return "(CURRENT_TIMESTAMP AT TIME ZONE 'UTC')"

    def timestamp_literal(self, text: str) -> str:
        return f"TIMESTAMP '{text}'"

    def timestamp_param(self, name: str) -> str:
        return f"CAST(:{name} AS timestamp)"

    def prepare_connection(self, dbapi_connection: Any) -> None:
        # shortest round-trip float text, whatever the server's default
        autocommit = dbapi_connection.autocommit
        dbapi_connection.autocommit = True
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET extra_float_digits = 1")
            # Each load statement runs once per batch: compiling it (JIT) costs more than it
            # saves, about half a second per statement from some ten thousand rows on.
            cursor.execute("SET jit = off")
        dbapi_connection.autocommit = autocommit

    def refresh_statistics(self, connection: sa.Connection, table: str, inserted: int) -> None:
        # Autovacuum analyzes a table only once a tenth of it changed, some time later: a big
        # first load would leave the next batch planned for an empty table.
        if inserted < 10_000:
            return
        known = connection.exec_driver_sql(
            "SELECT reltuples FROM pg_class WHERE oid = to_regclass(%s)", (table,)).scalar()
        if known is None or known < 0 or inserted > known / 10:
            connection.exec_driver_sql(f"ANALYZE {table}")

    def text_check(self, expr: str, type_name: str) -> str | None:
        return text_check(expr, type_name)

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
                f"COPY {table} ({', '.join(batch.schema.names)}) FROM STDIN WITH (FORMAT csv)",
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
                f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)", buffer
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
