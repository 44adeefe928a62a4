"""SQLAlchemy's way into Spark SQL: a DB-API (PEP 249) over a PySpark session, and the
SQLAlchemy dialect that speaks Spark SQL through it.

PySpark reaches Spark two ways with one client API: a session in this process (``local``
mode, the engine in a JVM the session starts) and Spark Connect (``sc://host:port``, a
cluster's server, the protocol Databricks Connect speaks too). Both run SQL with
``SparkSession.sql(text, args)``. No released SQLAlchemy dialect reaches either (PyHive and
Databricks' dialect speak the Thrift server protocol), so this module is that bridge:

- a DB-API connection is a Spark session of its own (``newSession()`` of the process's one
  local session, or a new Spark Connect session), so that its current schema, temporary views
  and settings are its own, as a database connection's are;
- Spark has no transactions: a statement is applied when it runs, ``commit`` has nothing to
  do and ``rollback`` nothing to undo (``SparkDialect.transactions`` tells the toolkit);
- ``CACHE TABLE name AS query`` makes a snapshot: a temporary view of the rows the query
  gives when it runs, which later statements do not change (Spark's own cache would compute
  them again when a table they came from changes); the loads' scratch relations are these;
- ``DELETE FROM table`` (every row) runs as ``TRUNCATE TABLE``; ``UPDATE`` and ``DELETE``
  (which Spark's Parquet tables lack) of SQLAlchemy's constructs,
  which only the toolkit's own small tables take (the batch ledger, the contract, Alembic's
  version), run as a rewrite of the table: its rows as they would be, into a scratch table,
  then ``INSERT OVERWRITE`` from it (``SparkSQLDialect.do_execute``); the vault itself is
  insert-only;
- the URL is ``spark:///WAREHOUSE`` for a local session whose tables are kept in the folder
  WAREHOUSE (a Derby metastore beside them, one process at a time, as an embedded engine),
  or ``spark://HOST:PORT`` for Spark Connect; ``?schema=NAME`` picks the schema (Spark's
  database), made when missing.
"""

from __future__ import annotations

import datetime
import logging
import os
import re
import threading
import time
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import default
from sqlalchemy.sql import compiler

from datavault.dialects.base import Wait

# ---- PEP 249 ------------------------------------------------------------------------------
apilevel = "2.0"
threadsafety = 1
paramstyle = "named"
# the type constructors: Spark takes Python's own values as parameters
Binary = bytes
Date = datetime.date
Timestamp = datetime.datetime
STRING, BINARY, NUMBER, DATETIME, ROWID = "string", "binary", "number", "datetime", "rowid"


class Warning(Exception):  # noqa: A001 - PEP 249 names it so
    pass


class Error(Exception):
    pass


class InterfaceError(Error):
    pass


class DatabaseError(Error):
    pass


class DataError(DatabaseError):
    pass


class OperationalError(DatabaseError):
    pass


class IntegrityError(DatabaseError):
    pass


class InternalError(DatabaseError):
    pass


class ProgrammingError(DatabaseError):
    pass


class NotSupportedError(DatabaseError):
    pass


_LOCK = threading.Lock()
#: the log of a local session: errors only (Spark's default prints warnings on every start)
_LOG_CONFIG = Path(__file__).with_name("spark-log4j2.properties")
# PySpark 4 warns on every session that it is not yet tested with pandas 3; it converts nothing
# through pandas here (rows go in and out as Arrow tables)
warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas",
                        category=FutureWarning)
_log = logging.getLogger(__name__)
#: how long a local session waits for another process to let go of the warehouse's catalog
#: (an embedded Derby database: one process at a time)
CATALOG_WAIT_SECONDS = 600
#: what Spark says when another process has the catalog's Derby database open
_CATALOG_HELD = ("Another instance of Derby may have already booted the database",
                 "Unable to instantiate org.apache.hadoop.hive.ql.metadata."
                 "SessionHiveMetaStoreClient",
                 "Failed to start database")
#: the process's local session, by warehouse folder: a JVM holds one, for the process's life
_LOCAL: dict[str, Any] = {}


def _local_session(warehouse: str) -> Any:
    """The process's local Spark session over ``warehouse`` (started on first use)."""
    from pyspark.sql import SparkSession

    with _LOCK:
        if warehouse in _LOCAL:
            return _LOCAL[warehouse]
        if _LOCAL:
            raise OperationalError(
                f"this process already runs a local Spark session over {next(iter(_LOCAL))}; "
                f"a process has one local session, so it cannot also open {warehouse}")
        Path(warehouse).mkdir(parents=True, exist_ok=True)
        metastore = Path(warehouse) / "metastore_db"
        _wait_while_held(metastore, warehouse)
        os.environ.setdefault("PYSPARK_PYTHON", os.sys.executable)  # type: ignore[attr-defined]
        builder = (
            SparkSession.builder.master(os.environ.get("DATAVAULT_SPARK_MASTER", "local[2]"))
            .appName("datavault")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.warehouse.dir", str(Path(warehouse).resolve()))
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.shuffle.partitions", "4")
            # every connection is a session of its own: a session that kept a table's
            # files from before another session wrote to it would read the old rows
            .config("spark.sql.filesourceTableRelationCacheSize", "0")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.driver.extraJavaOptions",
                    f"-Dderby.system.home={Path(warehouse).resolve()} "
                    f"-Dlog4j2.configurationFile={_LOG_CONFIG.as_uri()}")
            .config("spark.hadoop.javax.jdo.option.ConnectionURL",
                    f"jdbc:derby:;databaseName={metastore.resolve()};create=true")
            .enableHiveSupport()
        )
        session = builder.getOrCreate()
        session.sparkContext.setLogLevel("ERROR")
        _wait_for_catalog(session, warehouse)
        _LOCAL[warehouse] = session
        return session


def _held(metastore: Path) -> bool:
    """Whether another process has the catalog's Derby database open: Derby holds a lock on
    its file ``dbex.lck`` (an OS record lock, as Java's file locks are) while it does."""
    import fcntl

    try:
        handle = os.open(metastore / "dbex.lck", os.O_RDWR)
    except OSError:  # no catalog yet, or none booted since it was made
        return False
    try:
        fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    else:
        fcntl.lockf(handle, fcntl.LOCK_UN)
        return False
    finally:
        os.close(handle)


def _wait_while_held(metastore: Path, warehouse: str) -> None:
    """Before a local session starts: wait while another process has the warehouse's
    catalog open, up to ``CATALOG_WAIT_SECONDS``, and say so after a second of it."""
    wait = _catalog_wait(warehouse)
    while _held(metastore):
        if wait.over():
            raise OperationalError(_HELD_TOO_LONG.format(warehouse=warehouse,
                                                         seconds=CATALOG_WAIT_SECONDS))
        wait.still()
        time.sleep(0.5)


def _catalog_wait(warehouse: str) -> Wait:
    return Wait(CATALOG_WAIT_SECONDS, _log, _WAITING, warehouse, CATALOG_WAIT_SECONDS)


_WAITING = ("the Spark warehouse %s is in use by another process (a local session's catalog "
            "is one process's at a time); waiting up to %d s for it")
_HELD_TOO_LONG = ("the catalog of the Spark warehouse {warehouse} is still in use by another "
                  "process after {seconds} s (a local session's catalog is one process's at a "
                  "time; a Spark Connect server takes several)")


def _wait_for_catalog(session: Any, warehouse: str) -> None:
    """Open the warehouse's catalog, waiting while another process has it open (one that
    took it after ``_wait_while_held`` looked), as that does. Spark's own log of each failed
    attempt (stack traces of the metastore client) is silenced meanwhile."""
    wait = _catalog_wait(warehouse)
    pause = 0.5
    context = session.sparkContext
    context.setLogLevel("OFF")
    try:
        while True:
            try:
                session.sql("SHOW DATABASES").collect()
                return
            except Exception as exc:
                if not any(text in str(exc) for text in _CATALOG_HELD):
                    raise
                if wait.over(ahead=pause):
                    raise OperationalError(_HELD_TOO_LONG.format(
                        warehouse=warehouse, seconds=CATALOG_WAIT_SECONDS)) from None
                wait.still()
            time.sleep(pause)
            pause = min(pause * 2, 5.0)
    finally:
        context.setLogLevel("ERROR")


def connect(warehouse: str | None = None, remote: str | None = None,
            schema: str | None = None) -> Connection:
    """A connection: a Spark session of its own, on the local engine over ``warehouse`` or
    on the Spark Connect server ``remote`` (``sc://host:port``)."""
    try:
        if remote is not None:
            from pyspark.sql import SparkSession

            session = SparkSession.builder.remote(remote).create()
        else:
            assert warehouse is not None
            session = _local_session(warehouse).newSession()
        session.conf.set("spark.sql.session.timeZone", "UTC")
        if schema:
            if not session.catalog.databaseExists(schema):  # else the metastore logs an error
                session.sql(f"CREATE DATABASE IF NOT EXISTS `{schema}`")
            session.sql(f"USE `{schema}`")
    except Error:
        raise
    except Exception as exc:
        raise OperationalError(_message(exc)) from exc
    return Connection(session)


def _message(exc: Exception) -> str:
    """Spark's message without the JVM's stack trace."""
    text = str(exc).strip()
    return text.split("\n\tat ", 1)[0].split("\nJVM stacktrace:", 1)[0].strip()


def _error(exc: Exception) -> Error:
    """The PEP 249 error for an exception of Spark's."""
    name = type(exc).__name__
    if name in ("ParseException", "AnalysisException"):
        return ProgrammingError(_message(exc))
    if name in ("ArithmeticException", "NumberFormatException", "SparkNumberFormatException",
                "DateTimeException", "SparkArithmeticException"):
        return DataError(_message(exc))
    return OperationalError(_message(exc))


class Connection:
    """A DB-API connection: one Spark session. Spark applies each statement as it runs."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.closed = False

    def cursor(self) -> Cursor:
        if self.closed:
            raise InterfaceError("the connection is closed")
        return Cursor(self)

    def commit(self) -> None:
        """Nothing to do: a statement's changes are kept when it runs."""

    def rollback(self) -> None:
        """Nothing to undo: Spark has no transactions (the toolkit knows it)."""

    def close(self) -> None:
        if not self.closed and hasattr(self.session, "stop") and _is_remote(self.session):
            self.session.stop()
        self.closed = True


def _is_remote(session: Any) -> bool:
    return type(session).__module__.startswith("pyspark.sql.connect")


#: a statement that removes every row of a table: ``TRUNCATE TABLE`` on Spark
_EMPTY = re.compile(r"\s*DELETE\s+FROM\s+(?P<table>[\w`.]+)\s*;?\s*\Z", re.IGNORECASE)
#: a statement that makes a snapshot relation (``Cursor._snapshot``)
_SNAPSHOT = re.compile(r"\s*CACHE\s+TABLE\s+(?P<name>\w+)\s+AS\s+(?P<query>.*)\Z",
                       re.IGNORECASE | re.DOTALL)


class Cursor:
    """A DB-API cursor: a statement's rows, collected when it runs."""

    arraysize = 1000

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.description: list[tuple] | None = None
        self.rowcount = -1
        self._rows: Iterator[tuple] = iter(())

    def execute(self, operation: str, parameters: Any = None) -> Cursor:
        session = self.connection.session
        args = dict(parameters) if parameters else None
        try:
            snapshot = _SNAPSHOT.match(operation)
            if snapshot:
                self._snapshot(snapshot["name"], snapshot["query"], args)
                self.description, self.rowcount, self._rows = None, -1, iter(())
                return self
            frame = session.sql(operation, args=args)
            fields = frame.schema.fields
            rows = [tuple(row) for row in frame.collect()] if fields else []
        except Exception as exc:
            raise _error(exc) from exc
        if fields and [f.name for f in fields] != ["num_affected_rows"]:
            self.description = [(f.name, f.dataType.simpleString(), None, None, None, None,
                                 f.nullable) for f in fields]
            self.rowcount = len(rows)
        else:
            self.description = None
            self.rowcount = rows[0][0] if rows and fields else -1
            rows = []
        self._rows = iter(rows)
        return self

    def _snapshot(self, name: str, query: str, args: dict | None) -> None:
        """``CACHE TABLE name AS query``: ``name`` becomes a temporary view of the rows the
        query gives now, kept (a local checkpoint) until the view is dropped. Spark's own
        cache would compute them again whenever a table the query reads changes, as the
        statements of a load that read the relation change those tables."""
        session = self.connection.session
        session.sql(query, args=args).localCheckpoint(eager=True) \
            .createOrReplaceTempView(name)

    def executemany(self, operation: str, seq_of_parameters: Sequence[Any]) -> None:
        for parameters in seq_of_parameters:
            self.execute(operation, parameters)

    def fetchone(self) -> tuple | None:
        return next(self._rows, None)

    def fetchmany(self, size: int | None = None) -> list[tuple]:
        return [row for _, row in zip(range(size or self.arraysize), self._rows, strict=False)]

    def fetchall(self) -> list[tuple]:
        return list(self._rows)

    def close(self) -> None:
        self._rows = iter(())

    def setinputsizes(self, sizes: Any) -> None:
        pass

    def setoutputsize(self, size: Any, column: Any = None) -> None:
        pass


# ---- SQLAlchemy ---------------------------------------------------------------------------
class SparkIdentifierPreparer(compiler.IdentifierPreparer):
    def __init__(self, dialect: sa.Dialect) -> None:
        super().__init__(dialect, initial_quote="`", escape_quote="`")


class SparkTypeCompiler(compiler.GenericTypeCompiler):
    """Spark SQL's names of the vault's column types. Timestamps are ``TIMESTAMP_NTZ`` (the
    vault's are naive UTC); exact decimals and UUIDs are kept as their canonical text, as on
    SQLite and DuckDB: a vault decimal may be wider than Spark's 38 digits."""

    def visit_string(self, type_: Any, **kw: Any) -> str:
        return "STRING"

    visit_VARCHAR = visit_CHAR = visit_TEXT = visit_text = visit_unicode = visit_string
    visit_NVARCHAR = visit_NCHAR = visit_unicode_text = visit_string

    def visit_uuid(self, type_: Any, **kw: Any) -> str:
        return "STRING"

    visit_UUID = visit_uuid

    def visit_numeric(self, type_: Any, **kw: Any) -> str:
        return "STRING"

    visit_NUMERIC = visit_DECIMAL = visit_decimal = visit_numeric

    def visit_float(self, type_: Any, **kw: Any) -> str:
        return "DOUBLE"

    visit_FLOAT = visit_DOUBLE = visit_double = visit_REAL = visit_DOUBLE_PRECISION = visit_float

    def visit_integer(self, type_: Any, **kw: Any) -> str:
        return "INT"

    def visit_big_integer(self, type_: Any, **kw: Any) -> str:
        return "BIGINT"

    visit_BIGINT = visit_big_integer

    def visit_datetime(self, type_: Any, **kw: Any) -> str:
        return "TIMESTAMP_NTZ"

    visit_DATETIME = visit_TIMESTAMP = visit_datetime

    def visit_large_binary(self, type_: Any, **kw: Any) -> str:
        return "BINARY"

    visit_BLOB = visit_BINARY = visit_VARBINARY = visit_LargeBinary = visit_large_binary


class SparkDDLCompiler(compiler.DDLCompiler):
    """Spark's session catalog keeps no keys or constraints: a table is its columns, stored
    as Parquet (``USING parquet``); the loads keep keys unique themselves (SEMANTICS.md)."""

    def visit_create_table(self, create: Any, **kw: Any) -> str:
        # Spark's temporary tables are views without storage, which take no inserts: a
        # connection's own table (a batch's landing table) is a table of the catalog,
        # dropped by whoever made it
        sql = super().visit_create_table(create, **kw)
        return sql.replace("CREATE TEMPORARY TABLE", "CREATE TABLE", 1)

    def create_table_constraints(self, table: sa.Table, **kw: Any) -> str:
        return ""

    def visit_primary_key_constraint(self, constraint: Any, **kw: Any) -> str:
        return ""

    def visit_unique_constraint(self, constraint: Any, **kw: Any) -> str:
        return ""

    def visit_foreign_key_constraint(self, constraint: Any, **kw: Any) -> str:
        return ""

    def visit_check_constraint(self, constraint: Any, **kw: Any) -> str:
        return ""

    def get_column_specification(self, column: sa.Column, **kw: Any) -> str:
        types = self.dialect.type_compiler_instance
        return (f"{self.preparer.format_column(column)} "
                f"{types.process(column.type, type_expression=column)}")

    def post_create_table(self, table: sa.Table) -> str:
        return " USING parquet"

    def visit_create_index(self, create: Any, **kw: Any) -> str:
        # Spark's catalog keeps no indexes: a scan reads Parquet's column statistics
        return ""

    def visit_drop_index(self, drop: Any, **kw: Any) -> str:
        return ""


class SparkCompiler(compiler.SQLCompiler):
    pass


class SparkSQLDialect(default.DefaultDialect):
    """SQLAlchemy's dialect for Spark SQL over ``sparksql``'s DB-API."""

    name = "spark"
    driver = "pyspark"
    supports_statement_cache = True
    supports_alter = True
    supports_sequences = False
    supports_native_boolean = True
    supports_native_decimal = True
    supports_multivalues_insert = True
    # an executemany of an INSERT (the contract, a mart's spine) as one statement of many rows
    use_insertmanyvalues = True
    use_insertmanyvalues_wo_returning = True
    postfetch_lastrowid = False
    default_paramstyle = "named"
    preparer = SparkIdentifierPreparer
    type_compiler_cls = SparkTypeCompiler
    ddl_compiler = SparkDDLCompiler
    statement_compiler = SparkCompiler

    @classmethod
    def import_dbapi(cls) -> Any:
        import datavault.dialects.sparksql as module

        return module

    def create_connect_args(self, url: sa.URL) -> tuple[list, dict]:
        schema = url.query.get("schema")
        if url.host:
            remote = f"sc://{url.host}" + (f":{url.port}" if url.port else "")
            extra = {k: v for k, v in url.query.items() if k != "schema"}
            if extra:
                remote += "/;" + ";".join(f"{k}={v}" for k, v in extra.items())
            return [], {"remote": remote, "schema": schema}
        return [], {"warehouse": url.database or "spark-warehouse", "schema": schema}

    def do_execute(self, cursor: Any, statement: str, parameters: Any,
                   context: Any = None) -> None:
        """Run a statement; an ``UPDATE`` or ``DELETE`` construct as a rewrite of its table
        (``_rewrite``), as Spark's Parquet tables have neither."""
        compiled = getattr(context, "compiled", None)
        node = getattr(compiled, "statement", None)
        if isinstance(node, (sa.Update, sa.Delete)):
            # the construct may be the one a cached compilation was made from: its bound
            # values are this execution's parameters, by the names it compiled them to
            # (an UPDATE's new values are bound by their columns' names)
            bound = {bind: parameters[name] for bind, name in compiled.bind_names.items()
                     if name in (parameters or {})}
            cursor.rowcount = self._rewrite(cursor, node, bound, parameters or {})
            return
        if not statement.strip():  # DDL Spark has no counterpart of (an index)
            return
        emptied = _EMPTY.match(statement)
        if emptied:  # every row of a table (a migration empties a staging table so)
            cursor.execute(f"TRUNCATE TABLE {emptied['table']}")
            return
        cursor.execute(statement, parameters)

    def _rewrite(self, cursor: Any, node: sa.Update | sa.Delete, bound: dict,
                 parameters: dict) -> int:
        """Apply ``node`` by writing the table's rows as they would be after it into a
        scratch table, then over the table (Spark refuses to overwrite a table that the
        same statement reads). Returns how many rows it changed or removed."""
        table = node.table
        condition = node.whereclause if node.whereclause is not None else sa.true()
        matched = sa.func.coalesce(condition, False)
        count = self._run(cursor, sa.select(sa.func.count()).select_from(table).where(matched),
                          bound=bound)
        changed = count.fetchone()[0]
        if not changed:
            return 0
        if isinstance(node, sa.Delete) and node.whereclause is None:
            self._run(cursor, f"TRUNCATE TABLE {self._name(table)}")
            return changed
        # the columns as the table has them, in its order (which a migration that added a
        # column may have made another than the model's), those the model does not know too
        described = cursor.execute(f"DESCRIBE TABLE {self._name(table)}").fetchall()
        stored = []
        for column, _type, _comment in described:
            if not column or column.startswith("#"):
                break
            stored.append(column)
        # an UPDATE's new values: bound values by their columns' names, or SQL expressions
        values = {} if isinstance(node, sa.Delete) else {
            (k if isinstance(k, str) else k.key): v
            for k, v in node._values.items()}  # noqa: SLF001 - SQLAlchemy's own
        columns = []
        for name in stored:
            column = (table.c[name] if name in table.c
                      else sa.literal_column(self.identifier_preparer.quote(name)))
            if name in values:
                value = values[name]
                if name in parameters or isinstance(value, sa.BindParameter):
                    value = sa.bindparam(f"dv_set_{len(columns)}", parameters.get(name),
                                         type_=column.type)
                column = sa.case((matched, value), else_=column).label(name)
            columns.append(column)
        after = sa.select(*columns).select_from(table)
        if isinstance(node, sa.Delete):
            after = after.where(sa.not_(matched))
        scratch = self.identifier_preparer.quote(f"{table.name}__dv_rewrite")
        self._run(cursor, f"DROP TABLE IF EXISTS {scratch}")
        self._run(cursor, after, into=scratch, bound=bound)
        self._run(cursor, f"INSERT OVERWRITE TABLE {self._name(table)} SELECT * FROM {scratch}")
        self._run(cursor, f"DROP TABLE {scratch}")
        return changed

    def _name(self, table: sa.Table) -> str:
        return self.identifier_preparer.format_table(table)

    def _run(self, cursor: Any, statement: Any, into: str | None = None,
             bound: dict | None = None) -> Any:
        """Run SQL text, or a SQLAlchemy select (``into``: as ``CREATE TABLE into AS``) with
        the values of ``bound`` (by bind parameter) for its parameters that it has."""
        if isinstance(statement, str):
            return cursor.execute(statement)
        compiled = statement.compile(dialect=self)
        sql = str(compiled)
        if into is not None:
            sql = f"CREATE TABLE {into} USING parquet AS {sql}"
        params = compiled.params
        for bind, name in compiled.bind_names.items():
            if bound and bind in bound:
                params[name] = bound[bind]
        return cursor.execute(sql, params)

    def do_rollback(self, dbapi_connection: Any) -> None:
        dbapi_connection.rollback()

    def do_commit(self, dbapi_connection: Any) -> None:
        dbapi_connection.commit()

    def _get_default_schema_name(self, connection: Any) -> str:
        return connection.exec_driver_sql("SELECT current_database()").scalar()

    def _get_server_version_info(self, connection: Any) -> tuple:
        version = connection.exec_driver_sql("SELECT version()").scalar() or ""
        return tuple(int(p) for p in version.split()[0].split(".")[:3] if p.isdigit())

    def get_isolation_level(self, dbapi_connection: Any) -> str:
        return "AUTOCOMMIT"

    def has_table(self, connection: Any, table_name: str, schema: str | None = None,
                  **kw: Any) -> bool:
        return table_name in self.get_table_names(connection, schema)

    def get_schema_names(self, connection: Any, **kw: Any) -> list[str]:
        return [row[0] for row in connection.exec_driver_sql("SHOW DATABASES")]

    def get_table_names(self, connection: Any, schema: str | None = None,
                        **kw: Any) -> list[str]:
        sql = "SHOW TABLES" + (f" IN {self.identifier_preparer.quote(schema)}" if schema else "")
        # (namespace, name, is temporary): temporary views are not the schema's tables
        return [row[1] for row in connection.exec_driver_sql(sql) if not row[2]]

    def get_view_names(self, connection: Any, schema: str | None = None, **kw: Any) -> list[str]:
        sql = "SHOW VIEWS" + (f" IN {self.identifier_preparer.quote(schema)}" if schema else "")
        return [row[1] for row in connection.exec_driver_sql(sql) if not row[2]]

    def get_columns(self, connection: Any, table_name: str, schema: str | None = None,
                    **kw: Any) -> list[dict]:
        name = self.identifier_preparer.quote(table_name)
        if schema:
            name = f"{self.identifier_preparer.quote(schema)}.{name}"
        try:
            rows = list(connection.exec_driver_sql(f"DESCRIBE TABLE {name}"))
        except sa.exc.ProgrammingError:
            raise sa.exc.NoSuchTableError(table_name) from None
        columns = []
        for column, data_type, _comment in rows:
            if not column or column.startswith("#"):
                break  # partitioning and detail sections follow the columns
            columns.append({"name": column, "type": _sa_type(data_type), "nullable": True,
                            "default": None, "autoincrement": False})
        return columns

    def get_pk_constraint(self, connection: Any, table_name: str, schema: str | None = None,
                          **kw: Any) -> dict:
        return {"constrained_columns": [], "name": None}

    def get_foreign_keys(self, connection: Any, table_name: str, schema: str | None = None,
                         **kw: Any) -> list:
        return []

    def get_indexes(self, connection: Any, table_name: str, schema: str | None = None,
                    **kw: Any) -> list:
        return []

    def get_unique_constraints(self, connection: Any, table_name: str,
                               schema: str | None = None, **kw: Any) -> list:
        return []


_TYPES = {"string": sa.Text, "bigint": sa.BigInteger, "int": sa.Integer,
          "double": sa.Float, "boolean": sa.Boolean, "date": sa.Date,
          "timestamp_ntz": sa.DateTime, "timestamp": sa.DateTime, "binary": sa.LargeBinary}


def _sa_type(data_type: str) -> Any:
    return _TYPES.get(data_type.lower(), sa.types.NullType)()
