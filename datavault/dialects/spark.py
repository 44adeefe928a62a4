"""Spark SQL: the engine for warehouses that outgrow one machine. Hashing in SQL; the
connection is ``sparksql``'s DB-API over a PySpark session (local, or Spark Connect)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from datavault import values
from datavault.dialects.base import Dialect
from datavault.dialects.syntax import Syntax

sa.dialects.registry.register("spark", "datavault.dialects.sparksql", "SparkSQLDialect")

# ASCII white space (SEMANTICS.md section 1)
_SPACE = "concat(' ', char(9), char(10), char(11), char(12), char(13))"
_LOWER = "'abcdefghijklmnopqrstuvwxyz'"
_UPPER = "'ABCDEFGHIJKLMNOPQRSTUVWXYZ'"
#: Jackson's Schubfach (a library inside Spark): the shortest digits that read back to a
#: double, the nearest such, as Python's ``repr``. Spark's own text of a double is Java's
#: ``Double.toString``, which before Java 19 sometimes has more digits than needed.
_SHORTEST = "'com.fasterxml.jackson.core.io.schubfach.DoubleToDecimal'"


def _let(value: str, name: str, body: str) -> str:
    """SQL: ``body`` with ``name`` bound to ``value`` (computed once)."""
    return f"transform(array({value}), {name} -> {body})[0]"


def _layout(d: str, p: str) -> str:
    """The canonical layout of a double's digits ``d`` (no zero at either end) whose first
    digit has the decimal exponent ``p`` (``hashing.float_text``)."""
    fixed = (f"CASE WHEN {p} < 0 THEN concat('0.', repeat('0', -{p} - 1), {d}) "
             f"WHEN {p} + 1 >= length({d}) THEN concat({d}, repeat('0', {p} + 1 - length({d}))) "
             f"ELSE concat(substr({d}, 1, {p} + 1), '.', substr({d}, {p} + 2)) END")
    scientific = (f"concat(substr({d}, 1, 1), CASE WHEN length({d}) > 1 THEN "
                  f"concat('.', substr({d}, 2)) ELSE '' END, 'e', "
                  f"CASE WHEN {p} < 0 THEN '-' ELSE '+' END, "
                  f"CASE WHEN abs({p}) < 10 THEN '0' ELSE '' END, CAST(abs({p}) AS STRING))")
    return f"CASE WHEN {p} BETWEEN -4 AND 14 THEN {fixed} ELSE {scientific} END"


def _float_text(e: str) -> str:
    """SQL for the canonical text of a double (``hashing.float_text``).

    Schubfach's text (``1.0E22``, ``0.001``, ``4.9E-324``) gives the digits and the decimal
    exponent of the first one. Java's text has at least two digits: where the second is not
    0, a single digit may read back too (``5e-324``), and is then the shortest; the nearer
    of the two one-digit numbers around the pair is tried first, as the nearest is taken."""
    m = "regexp_extract(dv_j, '^[0-9.]+', 0)"
    x = "CAST(coalesce(nullif(regexp_extract(dv_j, 'E(-?[0-9]+)$', 1), ''), '0') AS INT)"
    every = f"replace({m}, '.', '')"
    before = f"(CASE WHEN instr({m}, '.') > 0 THEN instr({m}, '.') - 1 ELSE length({m}) END)"
    lead = f"regexp_replace({every}, '^0+', '')"
    p = f"({before} - 1 + {x} - (length({every}) - length({lead})))"
    digits = f"regexp_replace({lead}, '0+$', '')"
    # one digit: the first rounded to the nearer, and the other neighbour
    first = "CAST(substr(dv_f.d, 1, 1) AS INT)"
    up = f"({first} + CASE WHEN substr(dv_f.d, 2, 1) >= '5' THEN 1 ELSE 0 END)"
    down = f"({first} + CASE WHEN substr(dv_f.d, 2, 1) >= '5' THEN 0 ELSE 1 END)"

    def reads_back(one: str) -> str:
        text = f"concat(CAST({one} AS STRING), 'E', CAST(dv_f.p AS STRING))"
        return f"CAST({text} AS DOUBLE) = dv_f.a"

    def single(one: str) -> str:
        return (f"named_struct('d', CASE WHEN {one} = 10 THEN '1' ELSE CAST({one} AS STRING) END, "
                f"'p', dv_f.p + CASE WHEN {one} = 10 THEN 1 ELSE 0 END)")

    chosen = (f"CASE WHEN length(dv_f.d) = 2 AND {reads_back(up)} THEN {single(up)} "
              f"WHEN length(dv_f.d) = 2 AND {reads_back(down)} THEN {single(down)} "
              f"ELSE named_struct('d', dv_f.d, 'p', dv_f.p) END")
    parsed = _let(f"named_struct('a', abs({e}), 'd', {digits}, 'p', {p})", "dv_f",
                  _let(chosen, "dv_g", _layout("dv_g.d", "dv_g.p")))
    body = _let(f"java_method({_SHORTEST}, 'toString', abs({e}))", "dv_j", parsed)
    return (f"CASE WHEN {e} IS NULL THEN NULL WHEN isnan({e}) THEN 'NaN' "
            f"WHEN {e} = double('inf') THEN 'Infinity' "
            f"WHEN {e} = double('-inf') THEN '-Infinity' WHEN {e} = 0 THEN '0' "
            f"ELSE concat(CASE WHEN {e} < 0 THEN '-' ELSE '' END, {body}) END")


def canonical(expr: str, type_name: str) -> str:
    """SQL for the canonical text of a typed expression (SEMANTICS.md section 1). Decimals
    and UUIDs are stored as their canonical text already (``SparkTypeCompiler``)."""
    if type_name in ("text", "decimal", "uuid"):
        return expr
    if type_name == "float":
        return _float_text(expr)
    if type_name == "integer":
        return f"CAST({expr} AS STRING)"
    if type_name == "date":
        return f"date_format({expr}, 'yyyy-MM-dd')"
    if type_name == "timestamp":
        return f"date_format({expr}, 'yyyy-MM-dd''T''HH:mm:ss.SSSSSS')"
    if type_name == "boolean":
        return f"CASE {expr} WHEN TRUE THEN 'true' WHEN FALSE THEN 'false' END"
    raise ValueError(f"unknown column type {type_name!r}")


def escape(expr: str, type_name: str = "text") -> str:
    """The hashed form of a canonical text: ``\\`` and ``|`` escaped (only a text holds
    them). Spark reads a backslash in a literal as an escape, hence four for one."""
    if type_name != "text":
        return expr
    return f"replace(replace({expr}, '\\\\', '\\\\\\\\'), '|', '\\\\|')"


def key_part(expr: str, type_name: str) -> str:
    """A business key part's text, or NULL when it is missing: trimmed of ASCII white space
    and ASCII letters upper-cased. Spark's ``upper`` maps every Unicode letter (``ß`` to
    ``SS``), so it folds only a text of ASCII characters alone (as many bytes as
    characters); another is translated letter by letter."""
    folded = ("CASE WHEN octet_length(dv_t) = length(dv_t) THEN upper(dv_t) "
              f"ELSE translate(dv_t, {_LOWER}, {_UPPER}) END")
    trimmed = f"trim(BOTH {_SPACE} FROM {canonical(expr, type_name)})"
    return escape(f"NULLIF({_let(trimmed, 'dv_t', folded)}, '')", type_name)


def _arrow_type(type_name: str) -> Any:
    import pyarrow as pa

    return {"integer": pa.int64(), "float": pa.float64(), "boolean": pa.bool_(),
            "date": pa.date32(), "timestamp": pa.timestamp("us"),
            "binary": pa.binary()}.get(type_name, pa.string())


def _landed(value: object, type_name: str) -> object:
    if value is None or type_name in ("integer", "text", "boolean", "date", "binary"):
        return value
    if type_name == "float":
        return float(value)  # type: ignore[arg-type]
    if type_name == "timestamp":
        assert isinstance(value, dt.datetime)
        return values.to_utc(value)
    return values.to_text(value, type_name)


class SparkDialect(Dialect):
    name = "spark"
    schemes = ("spark",)
    default_file = "spark-warehouse"
    requires = ("pyspark",)
    extra = "spark"
    transactions = False
    row_updates = False
    temporary_tables = False
    # a row's latest version by LEFT JOIN LATERAL (... LIMIT 1): Spark has no row-value
    # comparison with a subquery
    lateral_joins = True
    # Spark plans ``t.applied_ts < o.applied`` of a correlated subquery as a nested loop of
    # every distinct outer time against the whole table
    correlated_lookups = False
    # Spark resolves a correlated subquery's outer columns one level out only
    nested_correlation = False
    counts_rows = False
    constraints = False
    savepoints = False
    concurrent_loads = 1
    # '...' and "..." are both strings, in which a backslash escapes the next character
    syntax = Syntax(backslash_strings=True)

    def missing_driver(self) -> str | None:
        """PySpark, and a Java runtime for a local session (``JAVA_HOME`` or ``java`` on
        the PATH)."""
        import os
        import shutil

        problem = super().missing_driver()
        if problem is None and not (os.environ.get("JAVA_HOME") or shutil.which("java")):
            return ("the spark engine's local session needs a Java 17 or 21 runtime: "
                    "none is on the PATH and JAVA_HOME is not set")
        return problem

    def string_literal(self, text: str) -> str:
        return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"

    def load_lock(self, engine: sa.Engine, source: str) -> Any:
        """One load at a time per vault (a schema): a lock file beside a local session's
        warehouse; for a Spark Connect server, one in this machine's temporary folder (loads
        from other machines are not held back by it)."""
        import tempfile

        from datavault.dialects.sqlite import FileLock

        url = engine.url
        schema = url.query.get("schema", "default")
        if url.host:
            name = f"datavault-spark-{url.host}-{url.port or 15002}-{schema}"
            return FileLock(str(Path(tempfile.gettempdir()) / name))
        return FileLock(f"{Path(url.database or self.default_file).resolve()}.{schema}")

    def prepare_migrations(self) -> None:
        _alembic_impl()

    def binary_literal(self, data: bytes) -> str:
        return f"X'{data.hex()}'"

    def sqlalchemy_dialect(self) -> sa.Dialect:
        from datavault.dialects.sparksql import SparkSQLDialect

        return self.adapt(SparkSQLDialect())

    def default_url(self, project_root: Any) -> str:
        return f"spark:///{Path(project_root) / self.default_file}"

    def resolve_url(self, url: sa.URL, project_root: Any) -> sa.URL:
        """A local session's warehouse folder is taken relative to the project."""
        if not url.host and url.database and not Path(url.database).is_absolute():
            return url.set(database=str(Path(project_root) / url.database))
        return url

    def missing_database(self, url: sa.URL) -> str | None:
        if not url.host and url.database and not Path(url.database).is_dir():
            return url.database
        return None

    def _digest(self, text_sql: str, algorithm: str) -> str:
        if algorithm == "md5":
            return f"unhex(md5({text_sql}))"
        return f"unhex(sha2({text_sql}, 256))"

    def hash_key(self, parts: Sequence[tuple[str, str]], algorithm: str) -> str:
        texts = [key_part(expr, type_name) for expr, type_name in parts]
        if len(texts) == 1:
            return f"COALESCE({self._digest(texts[0], algorithm)}, {self.zero_key(algorithm)})"
        missing = self.text_literal("\\N")
        joined = "concat_ws('|', " + ", ".join(f"COALESCE({t}, {missing})" for t in texts) + ")"
        every_missing = self.text_literal("|".join(["\\N"] * len(texts)))
        text = f"NULLIF({joined}, {every_missing})"
        return f"COALESCE({self._digest(text, algorithm)}, {self.zero_key(algorithm)})"

    def hash_diff(self, items: Sequence[tuple[str, str, str]], algorithm: str) -> str:
        pieces = [f"concat({self.text_literal(name + '=')}, {escape(canonical(expr, t), t)})"
                  for name, expr, t in sorted(items)]
        if not pieces:
            return self._digest("''", algorithm)
        return self._digest(f"concat_ws('|', {', '.join(pieces)})", algorithm)

    def canonical_text(self, expr: str, type_name: str) -> str:
        return canonical(expr, type_name)

    def code_text(self, parts: Sequence[tuple[str, str]]) -> str:
        texts = []
        for expr, type_name in parts:
            text = escape(canonical(expr, type_name), type_name)
            if type_name == "text":
                text = f"CASE WHEN trim(BOTH {_SPACE} FROM {expr}) = '' THEN NULL ELSE {text} END"
            texts.append(text)
        return f"concat({', '.join(texts)})" if len(texts) == 1 else (
            "concat(" + ", '|', ".join(texts) + ")")

    def set_hash_diff(self, expr: str, algorithm: str) -> str:
        joined = f"NULLIF(array_join(array_sort(collect_set(lower(hex({expr})))), '|'), '')"
        return f"COALESCE({self._digest(joined, algorithm)}, {self.zero_key(algorithm)})"

    def json_object(self, pairs: Iterable[tuple[str, str]]) -> str:
        """A timestamp with every digit of its microseconds (Spark's own format stops at
        milliseconds)."""
        fields = ", ".join(f"{self.text_literal(k)}, {e}" for k, e in pairs)
        micros = self.text_literal("yyyy-MM-dd'T'HH:mm:ss.SSSSSS")
        return (f"to_json(named_struct({fields}), map('ignoreNullFields', 'false', "
                f"'timestampNTZFormat', {micros}, 'timestampFormat', {micros}))")

    def utc_now(self) -> str:
        return "CAST(current_timestamp() AS TIMESTAMP_NTZ)"

    def timestamp_literal(self, text: str) -> str:
        return f"TIMESTAMP_NTZ '{text}'"

    def decimal_double(self, expr: str) -> str:
        return f"try_cast({expr} AS DOUBLE)"

    def full_match(self, expr: str, pattern: str) -> str:
        # Java's regular expressions: DOTALL, so that `.` matches every character but the
        # line feed that never matches (SEMANTICS.md section 11) as Python's does, and \z,
        # the end of the text (`$` would also match before a final line terminator)
        return (f"(instr({expr}, char(10)) = 0 AND "
                f"{expr} RLIKE {self.text_literal('(?s)^(?:' + pattern + ')' + chr(92) + 'z')})")

    def timestamp_param(self, name: str) -> str:
        return f"CAST(:{name} AS TIMESTAMP_NTZ)"

    def raw_table_prefixes(self, connection: sa.Connection) -> list[str]:
        return []

    def empty_table(self, table: str) -> str:
        return f"TRUNCATE TABLE {self.quote(table)}"

    def subquery_fence(self) -> str:
        return ""

    def bulk_insert(self, connection: sa.Connection, table: str, columns: Sequence[str],
                    types: Sequence[str], rows: list[Sequence[object]]) -> None:
        """The rows as an Arrow table, a temporary view of the connection's session, copied
        into ``table`` by one ``INSERT ... SELECT``."""
        if not rows:
            return
        import pyarrow as pa

        arrays = [pa.array([_landed(row[i], t) for row in rows], _arrow_type(t))
                  for i, t in enumerate(types)]
        raw = connection.connection.dbapi_connection
        assert raw is not None
        session = raw.session  # type: ignore[attr-defined]
        session.createDataFrame(pa.Table.from_arrays(arrays, names=list(columns))) \
            .createOrReplaceTempView("dv_landed")
        names = ", ".join(map(self.quote, columns))
        try:
            session.sql(f"INSERT INTO {self.quote(table)} ({names}) SELECT {names} FROM dv_landed")
        finally:
            session.catalog.dropTempView("dv_landed")


def _alembic_impl() -> type:
    """Alembic's implementation for Spark: DDL is not transactional; everything else is
    Alembic's default (its version table's ``UPDATE`` runs as a rewrite, see ``sparksql``)."""
    from alembic.ddl.impl import DefaultImpl

    class SparkImpl(DefaultImpl):
        __dialect__ = "spark"
        transactional_ddl = False

    return SparkImpl
