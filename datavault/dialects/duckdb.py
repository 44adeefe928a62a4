"""DuckDB: the embedded analytics engine. Hashing in SQL, rows landed as Arrow tables."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import logging
import re
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa

from datavault import values
from datavault.dialects.base import Dialect, Wait
from datavault.dialects.sqlite import FileLock
from datavault.dialects.syntax import Syntax

# ASCII white space (SEMANTICS.md section 1), as characters: DuckDB's plain literals keep a
# backslash as it is
_SPACE = "(' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13))"
_LOWER = "'abcdefghijklmnopqrstuvwxyz'"
#: how long a connection waits for another process to close the database file
BUSY_SECONDS = 30
_log = logging.getLogger(__name__)
#: the holder in DuckDB's message: 'Conflicting lock is held in PROGRAM (PID N)'
_HOLDER = re.compile(r"held in (?P<program>\S+) \(PID (?P<pid>\d+)\)")
_UPPER = "'ABCDEFGHIJKLMNOPQRSTUVWXYZ'"


def _float_text(e: str) -> str:
    """SQL for the canonical text of a double (``hashing.float_text``). DuckDB prints a
    double's shortest round-trip digits in a layout of its own (``100.0``, ``1e+20``); the
    digits and the decimal exponent of the first one are read back from that text and laid
    out as the canonical text has them."""
    t = f"CAST(abs({e}) AS VARCHAR)"
    m = f"regexp_extract({t}, '^[0-9.]+')"
    x = f"CAST(COALESCE(NULLIF(regexp_extract({t}, 'e([-+]?[0-9]+)$', 1), ''), '0') AS INTEGER)"
    before = f"(CASE WHEN strpos({m}, '.') > 0 THEN strpos({m}, '.') - 1 ELSE length({m}) END)"
    every = f"replace({m}, '.', '')"
    zeros = f"(length({every}) - length(ltrim({every}, '0')))"
    d = f"rtrim(ltrim({every}, '0'), '0')"
    p = f"({before} - 1 + {x} - {zeros})"
    fixed = (f"CASE WHEN {p} < 0 THEN '0.' || repeat('0', -{p} - 1) || {d} "
             f"WHEN {p} + 1 >= length({d}) THEN {d} || repeat('0', {p} + 1 - length({d})) "
             f"ELSE substr({d}, 1, {p} + 1) || '.' || substr({d}, {p} + 2) END")
    scientific = (f"substr({d}, 1, 1) || CASE WHEN length({d}) > 1 THEN '.' || substr({d}, 2) "
                  f"ELSE '' END || 'e' || CASE WHEN {p} < 0 THEN '-' ELSE '+' END "
                  f"|| CASE WHEN abs({p}) < 10 THEN '0' ELSE '' END || CAST(abs({p}) AS VARCHAR)")
    return (f"CASE WHEN isnan({e}) THEN 'NaN' WHEN isinf({e}) AND {e} > 0 THEN 'Infinity' "
            f"WHEN isinf({e}) THEN '-Infinity' WHEN {e} = 0 THEN '0' "
            f"ELSE CASE WHEN {e} < 0 THEN '-' ELSE '' END || "
            f"CASE WHEN {p} BETWEEN -4 AND 14 THEN {fixed} ELSE {scientific} END END")


def canonical(expr: str, type_name: str) -> str:
    """SQL for the canonical text of a typed expression (SEMANTICS.md section 1). Decimals
    and UUIDs are stored as their canonical text already (``_type_compiler``)."""
    if type_name in ("text", "decimal", "uuid"):
        return expr
    if type_name == "float":
        return _float_text(expr)
    if type_name == "integer":
        return f"CAST({expr} AS VARCHAR)"
    if type_name == "date":
        return f"strftime({expr}, '%Y-%m-%d')"
    if type_name == "timestamp":
        return f"strftime({expr}, '%Y-%m-%dT%H:%M:%S.%f')"
    if type_name == "boolean":
        return f"CASE {expr} WHEN TRUE THEN 'true' WHEN FALSE THEN 'false' END"
    raise ValueError(f"unknown column type {type_name!r}")


def escape(expr: str, type_name: str = "text") -> str:
    """The hashed form of a canonical text: ``\\`` and ``|`` escaped (only a text holds
    them)."""
    if type_name != "text":
        return expr
    return f"replace(replace({expr}, '\\', '\\\\'), '|', '\\|')"


def key_part(expr: str, type_name: str) -> str:
    """A business key part's text, or NULL when it is missing: trimmed of ASCII white space
    and ASCII letters upper-cased. ``upper`` maps every Unicode letter, so it folds only a
    text of ASCII characters alone (as many bytes as characters); another is translated
    letter by letter, which costs ten times as much."""
    trimmed = f"trim({canonical(expr, type_name)}, {_SPACE})"
    folded = (f"CASE WHEN strlen({trimmed}) = length({trimmed}) THEN upper({trimmed}) "
              f"ELSE translate({trimmed}, {_LOWER}, {_UPPER}) END")
    return escape(f"NULLIF({folded}, '')", type_name)


_CASTS = {"integer": "BIGINT", "float": "DOUBLE", "date": "DATE", "timestamp": "TIMESTAMP"}
_TRUE = "('true', 't', 'yes', 'y', '1')"


def _text_value(e: str, type_name: str) -> str:
    """SQL: the typed value of source text ``e`` that passed ``plain_text`` (a form of
    ``sourcetext``), as the parser reads it."""
    t = f"NULLIF({e}, '')"
    if type_name == "text":
        return t
    if type_name == "float":
        return f"(CAST({t} AS DOUBLE) + 0)"  # -0 is 0, as the parser has it
    if type_name in _CASTS:
        return f"CAST({t} AS {_CASTS[type_name]})"
    if type_name == "boolean":
        return f"CASE WHEN {t} IS NULL THEN NULL ELSE lower({t}) IN {_TRUE} END"
    if type_name == "uuid":
        return f"lower({t})"
    if type_name == "decimal":  # its canonical text: no sign on zero, no padding zeros
        body = f"ltrim({t}, '+-')"
        whole = f"COALESCE(NULLIF(ltrim(split_part({body}, '.', 1), '0'), ''), '0')"
        fraction = f"rtrim(split_part({body}, '.', 2), '0')"
        magnitude = f"({whole} || CASE WHEN {fraction} = '' THEN '' ELSE '.' || {fraction} END)"
        return (f"CASE WHEN {t} IS NULL THEN NULL WHEN {magnitude} = '0' THEN '0' "
                f"WHEN {t} LIKE '-%' THEN '-' || {magnitude} ELSE {magnitude} END")
    raise ValueError(f"unknown column type {type_name!r}")


# Arrow types of the landed columns, by declared type (decimals and UUIDs as their text)
def _arrow_type(type_name: str) -> Any:
    import pyarrow as pa

    return {"integer": pa.int64(), "float": pa.float64(), "boolean": pa.bool_(),
            "date": pa.date32(), "timestamp": pa.timestamp("us")}.get(type_name, pa.string())


def _landed(value: object, type_name: str) -> object:
    if value is None or type_name in ("integer", "text", "boolean", "date"):
        return value
    if type_name == "float":
        return float(value)  # type: ignore[arg-type]
    if type_name == "timestamp":
        assert isinstance(value, dt.datetime)
        return values.to_utc(value)
    return values.to_text(value, type_name)


class DuckDBDialect(Dialect):
    name = "duckdb"
    schemes = ("duckdb",)
    file_database = True
    default_file = "vault.duckdb"
    requires = ("duckdb", "duckdb_engine")
    extra = "duckdb"
    supports_copy = True
    distinct_on = True
    lateral_joins = True
    savepoints = False
    interleaved_results = False  # one result per connection at a time
    syntax = Syntax(dollar_quotes=True, escape_strings=True)
    char_function = "chr"
    # exact decimals (wider than DuckDB's 38 digits) are stored as their canonical text, as on
    # SQLite, by the type compiler (``_type_compiler``): a type variant of its own would
    # change the shape every migration recorded before DuckDB was an engine
    # reserved, or not a column name ("type_function"), in duckdb_keywords(), unknown to
    # SQLAlchemy's PostgreSQL quoting that DuckDB's dialect uses
    reserved_words = frozenset({
        "anti", "asof", "at", "by", "collation", "columns", "concurrently", "describe",
        "generated", "glob", "lambda", "lateral", "map", "pivot", "pivot_longer",
        "pivot_wider", "positional", "qualify", "semi", "show", "struct", "summarize",
        "tablesample", "try_cast", "tuple", "unpack", "unpivot"})

    def binary_literal(self, data: bytes) -> str:
        return f"from_hex('{data.hex()}')"

    def adapt(self, sa_dialect: sa.Dialect) -> sa.Dialect:
        sa_dialect = super().adapt(sa_dialect)
        if not getattr(sa_dialect, "_vault_catalog", False):
            sa_dialect.__class__ = _reflecting(type(sa_dialect))
            types = _type_compiler(type(sa_dialect.type_compiler_instance))(sa_dialect)
            sa_dialect.type_compiler_instance = sa_dialect.type_compiler = types  # type: ignore
        return sa_dialect

    def sqlalchemy_dialect(self) -> sa.Dialect:
        from duckdb_engine import Dialect as DuckDBEngine

        return self.adapt(DuckDBEngine())

    def _digest(self, text_sql: str, algorithm: str) -> str:
        function = "md5" if algorithm == "md5" else "sha256"
        return f"from_hex({function}({text_sql}))"

    def hash_key(self, parts: Sequence[tuple[str, str]], algorithm: str) -> str:
        texts = [key_part(expr, type_name) for expr, type_name in parts]
        if len(texts) == 1:
            return f"COALESCE({self._digest(texts[0], algorithm)}, {self.zero_key(algorithm)})"
        joined = " || '|' || ".join(f"COALESCE({t}, '\\N')" for t in texts)
        every_missing = "|".join(["\\N"] * len(texts))
        text = f"NULLIF({joined}, '{every_missing}')"
        return f"COALESCE({self._digest(text, algorithm)}, {self.zero_key(algorithm)})"

    def hash_diff(self, items: Sequence[tuple[str, str, str]], algorithm: str) -> str:
        pieces = [f"{self.text_literal(name + '=')} || {escape(canonical(expr, t), t)}"
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
                text = f"CASE WHEN trim({expr}, {_SPACE}) = '' THEN NULL ELSE {text} END"
            texts.append(text)
        return " || '|' || ".join(texts) if len(texts) > 1 else texts[0]

    def set_hash_diff(self, expr: str, algorithm: str) -> str:
        texts = f"lower(hex({expr}))"
        joined = f"string_agg(DISTINCT {texts}, '|' ORDER BY {texts})"
        return f"COALESCE({self._digest(joined, algorithm)}, {self.zero_key(algorithm)})"

    def json_object(self, pairs: Iterable[tuple[str, str]]) -> str:
        return ("CAST(json_object(" + ", ".join(f"{self.text_literal(k)}, {e}" for k, e in pairs)
                + ") AS VARCHAR)")

    def utc_now(self) -> str:
        return "CAST(now() AT TIME ZONE 'UTC' AS TIMESTAMP)"

    def timestamp_literal(self, text: str) -> str:
        return f"TIMESTAMP '{text}'"

    def full_match(self, expr: str, pattern: str) -> str:
        # RE2; a line feed never matches (SEMANTICS.md section 11)
        return (f"(strpos({expr}, chr(10)) = 0 AND "
                f"regexp_full_match({expr}, {self.text_literal(pattern)}))")

    def timestamp_param(self, name: str) -> str:
        return f"CAST(:{name} AS TIMESTAMP)"

    def script_parameter(self, name: str) -> str | None:
        # DuckDB's shell binds no parameters in a script: a file reads a variable set first
        return f"getvariable({self.text_literal(name)})"

    def run_hint(self, file: str, parameter: str, value: str) -> str:
        return f"-- Run with: duckdb -cmd \"SET VARIABLE {parameter} = {value}\" -f {file} VAULT\n"

    def load_lock(self, engine: sa.Engine, source: str) -> Any:
        return _OpenWhileHeld(self, engine)

    @contextlib.contextmanager
    def kept_open(self, engine: sa.Engine) -> Iterator[None]:
        # DuckDB opens a database file once per process and gives every later connection that
        # instance: with one connection held, the others skip reading the file's catalog
        held = engine.raw_connection()
        try:
            yield
        finally:
            held.close()

    def engine_options(self) -> dict[str, Any]:
        # DuckDB lets one process at a time open a database file: a connection is closed
        # when returned, so that the file is free for another process between commands'
        # steps (a pool would hold it open as long as the engine lives)
        return {"poolclass": sa.pool.NullPool}

    def prepare_migrations(self) -> None:
        _alembic_impl()

    def prepare_connection(self, dbapi_connection: Any) -> None:
        cursor = dbapi_connection.cursor()
        # now() and timestamps without a zone are UTC, whatever the machine's zone
        cursor.execute("SET TimeZone = 'UTC'")
        cursor.close()

    def text_value(self, expr: str, type_name: str) -> str | None:
        return _text_value(expr, type_name)

    def copy_text(self, connection: sa.Connection, table: str, batch: Any) -> None:
        self._insert_arrow(connection, table, batch.schema.names, batch)

    def _insert_arrow(self, connection: sa.Connection, table: str, columns: Sequence[str],
                      data: Any) -> None:
        """Insert an Arrow table or record batch whose columns are ``columns``, in order:
        DuckDB reads it in place."""
        raw = connection.connection.dbapi_connection
        assert raw is not None
        raw.register("dv_landed", data)
        try:
            names = ", ".join(map(self.quote, columns))
            raw.execute(f"INSERT INTO {self.quote(table)} ({names}) "
                        f"SELECT {names} FROM dv_landed")
        finally:
            raw.unregister("dv_landed")

    def bulk_insert(self, connection: sa.Connection, table: str, columns: Sequence[str],
                    types: Sequence[str], rows: list[Sequence[object]]) -> None:
        if not rows:
            return
        import pyarrow as pa

        arrays = [pa.array([_landed(row[i], t) for row in rows], _arrow_type(t))
                  for i, t in enumerate(types)]
        self._insert_arrow(connection, table, columns,
                           pa.Table.from_arrays(arrays, names=list(columns)))


@functools.cache
def _alembic_impl() -> type:
    """Alembic's implementation for DuckDB, whose DDL is PostgreSQL's where migrations use
    it (Alembic finds an implementation, and the compilers of its DDL elements, by the
    SQLAlchemy dialect's name)."""
    from alembic.ddl import postgresql as alembic_pg
    from sqlalchemy.ext.compiler import compiles

    for element, visit in ((alembic_pg.PostgresqlColumnType, alembic_pg.visit_column_type),
                           (alembic_pg.RenameTable, alembic_pg.visit_rename_table),
                           (alembic_pg.ColumnComment, alembic_pg.visit_column_comment)):
        compiles(element, "duckdb")(visit)

    class DuckDBImpl(alembic_pg.PostgresqlImpl):
        __dialect__ = "duckdb"
        transactional_ddl = True

        def alter_column(self, table_name: str, column_name: str, **kw: Any) -> None:
            # PostgreSQL's conversion names PostgreSQL's types; DuckDB's own cast turns a
            # number into its canonical text (a decimal is stored as text here)
            kw.pop("postgresql_using", None)
            super().alter_column(table_name, column_name, **kw)

    return DuckDBImpl


class _Catalog:
    """What SQLAlchemy's inspector (and so Alembic's comparison) reads of a DuckDB table,
    from DuckDB's own catalog functions (``duckdb_columns()``, ``duckdb_constraints()``,
    ``duckdb_indexes()``): the PostgreSQL catalog queries DuckDB's SQLAlchemy dialect
    inherits need catalog tables and types DuckDB does not have."""

    def _rows(self, connection: Any, sql: str, **params: Any) -> list[Any]:
        return list(connection.execute(sa.text(sql), params))

    def get_columns(self, connection: Any, table_name: str, schema: str | None = None,
                    **kw: Any) -> list[dict]:
        rows = self._rows(
            connection,
            "SELECT column_name, data_type, is_nullable, column_default, comment "
            "FROM duckdb_columns() WHERE table_name = :t AND schema_name = "
            "COALESCE(:s, current_schema()) ORDER BY column_index", t=table_name, s=schema)
        if not rows:
            raise sa.exc.NoSuchTableError(table_name)
        return [{"name": name, "type": _sa_type(data_type), "nullable": nullable,
                 "default": default, "comment": comment, "autoincrement": False}
                for name, data_type, nullable, default, comment in rows]

    def _constraints(self, connection: Any, table_name: str, schema: str | None,
                     kind: str) -> list[tuple[str, list[str]]]:
        return [(name, list(columns)) for name, columns in self._rows(
            connection,
            "SELECT constraint_name, constraint_column_names FROM duckdb_constraints() "
            "WHERE table_name = :t AND schema_name = COALESCE(:s, current_schema()) "
            "AND constraint_type = :k ORDER BY constraint_index",
            t=table_name, s=schema, k=kind)]

    def get_pk_constraint(self, connection: Any, table_name: str, schema: str | None = None,
                          **kw: Any) -> dict:
        found = self._constraints(connection, table_name, schema, "PRIMARY KEY")
        if not found:
            return {"constrained_columns": [], "name": None}
        return {"constrained_columns": found[0][1], "name": found[0][0]}

    def get_unique_constraints(self, connection: Any, table_name: str,
                               schema: str | None = None, **kw: Any) -> list[dict]:
        return [{"name": name, "column_names": columns}
                for name, columns in self._constraints(connection, table_name, schema,
                                                       "UNIQUE")]

    def get_foreign_keys(self, connection: Any, table_name: str, schema: str | None = None,
                         **kw: Any) -> list[dict]:
        return []  # the vault declares none

    def get_check_constraints(self, connection: Any, table_name: str,
                              schema: str | None = None, **kw: Any) -> list[dict]:
        return []

    def get_indexes(self, connection: Any, table_name: str, schema: str | None = None,
                    **kw: Any) -> list[dict]:
        indexes = []
        for name, unique, expressions in self._rows(
                connection,
                "SELECT index_name, is_unique, expressions FROM duckdb_indexes() "
                "WHERE table_name = :t AND schema_name = COALESCE(:s, current_schema()) "
                "ORDER BY index_name", t=table_name, s=schema):
            columns = [e.strip().strip('"') for e in _listed(expressions)]
            indexes.append({"name": name, "unique": bool(unique), "column_names": columns})
        return indexes

    def get_table_options(self, connection: Any, table_name: str, schema: str | None = None,
                          **kw: Any) -> dict:
        return {}

    def get_table_comment(self, connection: Any, table_name: str, schema: str | None = None,
                          **kw: Any) -> dict:
        found = self._rows(
            connection,
            "SELECT comment FROM duckdb_tables() WHERE table_name = :t AND schema_name = "
            "COALESCE(:s, current_schema())", t=table_name, s=schema)
        return {"text": found[0][0] if found else None}

    # every multi-table reflection by the single-table ones above
    def _each(self, single: str, connection: Any, schema: str | None,
              filter_names: Any, **kw: Any) -> list[tuple[tuple[str | None, str], Any]]:
        names = filter_names or self.get_table_names(connection, schema)  # type: ignore[attr-defined]
        reflect = getattr(self, single)
        found = []
        for name in names:
            try:
                found.append(((schema, name), reflect(connection, name, schema)))
            except sa.exc.NoSuchTableError:
                continue
        return found

    def get_multi_columns(self, connection: Any, schema: str | None = None,
                          filter_names: Any = None, **kw: Any) -> Any:
        return self._each("get_columns", connection, schema, filter_names)

    def get_multi_pk_constraint(self, connection: Any, schema: str | None = None,
                                filter_names: Any = None, **kw: Any) -> Any:
        return self._each("get_pk_constraint", connection, schema, filter_names)

    def get_multi_unique_constraints(self, connection: Any, schema: str | None = None,
                                     filter_names: Any = None, **kw: Any) -> Any:
        return self._each("get_unique_constraints", connection, schema, filter_names)

    def get_multi_foreign_keys(self, connection: Any, schema: str | None = None,
                               filter_names: Any = None, **kw: Any) -> Any:
        return self._each("get_foreign_keys", connection, schema, filter_names)

    def get_multi_check_constraints(self, connection: Any, schema: str | None = None,
                                    filter_names: Any = None, **kw: Any) -> Any:
        return self._each("get_check_constraints", connection, schema, filter_names)

    def get_multi_table_options(self, connection: Any, schema: str | None = None,
                                filter_names: Any = None, **kw: Any) -> Any:
        return self._each("get_table_options", connection, schema, filter_names)

    def get_multi_table_comment(self, connection: Any, schema: str | None = None,
                                filter_names: Any = None, **kw: Any) -> Any:
        return self._each("get_table_comment", connection, schema, filter_names)

    def get_multi_indexes(self, connection: Any, schema: str | None = None,
                          filter_names: Any = None, **kw: Any) -> Any:
        return self._each("get_indexes", connection, schema, filter_names)


def _listed(expressions: object) -> list[str]:
    """The column expressions of ``duckdb_indexes()``: a list, or its text ``[a, b]``."""
    if isinstance(expressions, (list, tuple)):
        return [str(e) for e in expressions]
    text = str(expressions or "").strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    return [part for part in text.split(",") if part.strip()]


_TYPES: dict[str, Any] = {
    "BIGINT": sa.BigInteger(), "INTEGER": sa.Integer(), "SMALLINT": sa.SmallInteger(),
    "VARCHAR": sa.Text(), "BLOB": sa.LargeBinary(), "DOUBLE": sa.Float(precision=53),
    "FLOAT": sa.Float(), "TIMESTAMP": sa.DateTime(), "DATE": sa.Date(),
    "BOOLEAN": sa.Boolean(), "UUID": sa.Uuid(),
}


def _sa_type(data_type: str) -> Any:
    """The SQLAlchemy type of a DuckDB column type's name."""
    if data_type.startswith("DECIMAL("):
        precision, scale = data_type[8:-1].split(",")
        return sa.Numeric(int(precision), int(scale))
    return _TYPES.get(data_type, sa.types.NullType())


class _DecimalText(sa.Numeric):  # type: ignore[type-arg]
    """A declared ``decimal`` as DuckDB holds it (``_type_compiler``): its canonical text,
    read back as it is (``values.read_value`` makes it a Decimal), a Decimal bound as its
    canonical text."""

    def result_processor(self, dialect: Any, coltype: Any) -> None:
        return None

    def bind_processor(self, dialect: Any) -> Any:
        def process(value: object) -> object:
            if value is None or isinstance(value, str):
                return value
            return values.to_text(value, "decimal")

        return process


class _OpenWhileHeld(FileLock):
    """The load lock of a DuckDB database: SQLite's lock on a file beside it (one load at a
    time per database), and while it is held, the database is kept open in this process
    (``DuckDBDialect.kept_open``): a load's steps each open a connection and close it, and reading
    the file's catalog for each was half of a small load's time. Another process waits for
    the file while a load holds it (``BUSY_SECONDS``), as another load waits for its lock."""

    def __init__(self, dialect: Dialect, engine: sa.Engine):
        super().__init__(engine.url.database)
        self._kept = dialect.kept_open(engine)

    def acquire(self, blocking: bool) -> bool:
        if not super().acquire(blocking):
            return False
        try:
            self._kept.__enter__()
        except BaseException:
            super().release()
            raise
        return True

    def release(self) -> None:
        try:
            self._kept.__exit__(None, None, None)
        finally:
            super().release()


@functools.cache
def _reflecting(base: type) -> type:
    """DuckDB's SQLAlchemy dialect class with the vault's reflection (``_Catalog``) and
    DDL compiler (``_ddl_compiler``)."""
    # the methods are copied in (a class swap needs the same layout, which a mixin base
    # would change)
    methods = {k: v for k, v in vars(_Catalog).items() if not k.startswith("__")}

    def connect(self: Any, *cargs: Any, **cparams: Any) -> Any:
        """Open the database, waiting while another process has it open (DuckDB lets one
        process at a time open a file; the toolkit's connections close when returned),
        up to ``BUSY_SECONDS``, as SQLite waits for its write lock."""
        import duckdb

        wait = Wait(BUSY_SECONDS, _log, "%s is open in another process%s; waiting up to %d s "
                    "for it")
        pause = 0.01
        while True:
            attempt = {k: dict(v) if isinstance(v, dict) else v for k, v in cparams.items()}
            try:
                return base.connect(self, *cargs, **attempt)
            except duckdb.IOException as exc:
                if "lock" not in str(exc) or wait.over(ahead=pause):
                    raise
                holder = _HOLDER.search(str(exc))
                by = (f" ({holder['program'].rsplit('/', 1)[-1]}, PID {holder['pid']})"
                      if holder else "")
                wait.still(cparams.get("database", "the database file"), by, BUSY_SECONDS)
            time.sleep(pause)
            pause = min(pause * 2, 0.2)

    methods["connect"] = connect
    return type(f"Vault{base.__name__}", (base,),
                {**methods, "__slots__": (), "_vault_catalog": True,
                 "supports_statement_cache": False,
                 "colspecs": {**base.colspecs, sa.Float: sa.Float, sa.Numeric: _DecimalText},
                 "ddl_compiler": _ddl_compiler(base.ddl_compiler)})


@functools.cache
def _type_compiler(base: type) -> type:
    """DuckDB's type compiler, with the declared ``decimal`` (a NUMERIC of no precision:
    any number of digits) as VARCHAR, which holds its canonical text: DuckDB's own DECIMAL
    has at most 38 digits, and without a precision 18 digits and 3 after the point. TEXT,
    DuckDB's other name of VARCHAR, is written VARCHAR too, as DuckDB's catalog names it: a
    reflected column and the model's then compile to one text."""

    class TypeCompiler(base):  # type: ignore[misc, valid-type]
        def visit_NUMERIC(self, type_: Any, **kw: Any) -> str:
            if type_.precision is None:
                return "VARCHAR"
            return super().visit_NUMERIC(type_, **kw)

        def visit_TEXT(self, type_: Any, **kw: Any) -> str:
            return "VARCHAR"

    return TypeCompiler


@functools.cache
def _ddl_compiler(base: type) -> type:
    """The DDL compiler of DuckDB's SQLAlchemy dialect, which is PostgreSQL's, without its
    serial types: a single integer primary key (of a migration written before its column
    said ``autoincrement=False``) is a plain integer, as the vault numbers its rows itself
    and DuckDB knows no ``BIGSERIAL``."""

    class Compiler(base):  # type: ignore[misc, valid-type]
        def get_column_specification(self, column: Any, **kwargs: Any) -> str:
            spec = self.preparer.format_column(column) + " " + (
                self.dialect.type_compiler_instance.process(
                    column.type, type_expression=column, identifier_preparer=self.preparer))
            default = self.get_column_default_string(column)
            if default is not None:
                spec += " DEFAULT " + default
            return spec if column.nullable else spec + " NOT NULL"

    return Compiler
