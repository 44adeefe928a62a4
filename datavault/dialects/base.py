"""What every dialect provides: capability flags and the few SQL fragments that differ."""

from __future__ import annotations

import contextlib
import logging
import math
import re
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Protocol

import sqlalchemy as sa

from datavault.dialects.syntax import Syntax
from datavault.hashing import digest, zero_key

_CONTROL = re.compile(r"([\x00-\x08\x0b-\x1f\x7f]+)")


class Wait:
    """A wait for something another process holds (a database file, a catalog): after
    ``TELL_AFTER`` seconds of it, it is said once, as a warning of the ``datavault`` logger
    (which the CLI shows); ``over`` says when ``limit`` seconds have passed."""

    TELL_AFTER = 1.0

    def __init__(self, limit: float, logger: logging.Logger, message: str, *args: object):
        self.limit, self.logger, self.message, self.args = limit, logger, message, args
        self.started = time.monotonic()
        self.told = False

    def over(self, ahead: float = 0.0) -> bool:
        """Whether the wait has lasted (or would, ``ahead`` seconds on) ``limit`` seconds."""
        return time.monotonic() + ahead - self.started > self.limit

    def still(self, *args: object) -> None:
        """Still waiting: say so, once, when it has lasted long enough (``args``: the
        message's, where only now known)."""
        if not self.told and time.monotonic() - self.started >= self.TELL_AFTER:
            self.told = True
            self.logger.warning(self.message, *(args or self.args))


class LoadLock(Protocol):
    """A lock held across transactions by one loader, released when its process ends."""

    #: what the lock covers, for people: "source shop_orders" or "the database"
    scope: str

    def acquire(self, blocking: bool) -> bool:
        """Take the lock: wait for it, or return False at once when another loader holds it."""

    def release(self) -> None:
        """Let the next loader in."""


class Dialect:
    """Base class. Subclasses override only what differs on their engine.

    The class attributes below are the engine's capabilities: the templates read them from
    the render context and the loader from the dialect; nothing outside ``dialects/`` and
    ``templates/<engine>/`` asks which engine it runs on. ARCHITECTURE.md lists them.
    """

    name = "base"
    #: URL schemes (SQLAlchemy backend names) this engine answers, and the driver a URL
    #: without one gets (the one the toolkit installs)
    schemes: tuple[str, ...] = ()
    default_driver: str | None = None
    #: the URL's database is a file: a relative path is taken relative to the project, and a
    #: file that does not exist is not read as an input (the engine would make an empty one)
    file_database = False
    #: the file a project's vault is in when no URL is given (engines with ``file_database``)
    default_file: str | None = None
    #: the longest table, column, index or constraint name the engine keeps as written
    #: (None: no limit a model reaches); the model's names fit the shortest of every engine's
    #: (``metadata.checks.MAX_IDENTIFIER``), so a model moves between engines unchanged
    max_identifier_length: int | None = None
    #: the Python packages the engine's driver needs, and the extra that installs them
    requires: tuple[str, ...] = ()
    extra: str | None = None
    #: the engine takes a batch's source text in bulk (``copy_text``: ``COPY`` on PostgreSQL,
    #: an Arrow table on DuckDB) and types in SQL the texts of ``plain_text`` forms
    #: (``text_value``); else every value goes through the parser and ``bulk_insert``
    supports_copy = False
    #: ``SELECT DISTINCT ON (key) ... ORDER BY key, ...`` keeps the first row of each key (a
    #: sort and a comparison of neighbours, cheaper than numbering every row in a window)
    distinct_on = False
    #: ``LEFT JOIN LATERAL (SELECT ... LIMIT 1) x ON ...``: a row's latest version in one
    #: lookup; without, its times are found by a row-value comparison with a correlated
    #: subquery, ``(a, b) = (SELECT ...)``, and the row by them
    lateral_joins = False
    #: a correlated subquery runs as a lookup per outer row (an index probe), so the latest
    #: row of a key before a time, ``(SELECT ... WHERE key = o.key AND applied_ts < o.t
    #: ORDER BY ... LIMIT 1)``, reads a few rows; without, the engine turns subqueries into
    #: joins, and one whose correlation is not all equalities into a nested loop over the
    #: whole table, so the same is asked by a join and a window
    correlated_lookups = True
    #: a correlated subquery may refer to the query two levels out (a subquery inside a
    #: correlated one); without, a bridge's live view finds the relationships in effect by
    #: one uncorrelated subquery over the effectivity satellite
    nested_correlation = True
    #: a statement says how many rows it wrote (the DB-API's ``rowcount``); without, what a
    #: load or a mart build wrote is counted in its tables afterwards
    counts_rows = True
    #: the tables keep NOT NULL, primary keys and indexes; without (Spark's Parquet tables),
    #: the loads keep keys unique themselves, and a comparison of the database with the
    #: model (``migrate check``, ``migrate revision``) leaves nullability and indexes out
    constraints = True
    #: how many entity loads of one batch may run at once, each on its own connection (1:
    #: one after the other, as an engine with one writer at a time must)
    concurrent_loads = 1
    #: a transaction can roll back to a savepoint (``begin_nested``); without, staging
    #: deletes what it wrote to read an input again
    savepoints = True
    #: a connection reads a result in parts while it runs other statements (a server-side
    #: cursor); without, staging reads the rows for the parser a chunk per query
    interleaved_results = True
    #: statements run in transactions that roll back as a unit (a load's rows appear
    #: together or not at all); without, each statement's rows are kept when it runs
    transactions = True
    #: ``UPDATE``, ``DELETE`` and ``INSERT ... ON CONFLICT`` on the vault's tables, which the
    #: loads' SQL uses today (closing an effectivity, numbering a batch, the ledger's state)
    row_updates = True
    #: ``CREATE TEMPORARY TABLE`` (a connection's own tables, with inserts, deletes and
    #: indexes), in which staging keeps a batch's rows while the loads read them
    temporary_tables = True
    #: the fewest rows of a batch for which a load into empty tables sets their indexes
    #: aside (``without_indexes``): for fewer, index entries row by row cost less than
    #: dropping and building the indexes, which also leaves catalog rows behind each time
    bulk_rows = 10_000
    #: column types that differ from the generic SQLAlchemy ones, by declared type
    type_overrides: dict[str, Any] = {}
    #: words the engine reserves that SQLAlchemy's quoting does not know: a name equal to one
    #: is quoted too (``adapt``)
    reserved_words: frozenset[str] = frozenset()

    #: where the engine's literals and comments end, for splitting rendered SQL
    syntax = Syntax()
    #: the SQL function that gives the character of a code point
    char_function = "char"

    #: the capabilities a part of a model may need (``Kind.engine_needs``, marts), each
    #: with what it is, for the message that names what an engine lacks
    CAPABILITIES = {
        "transactions": "transactions that roll back as a unit",
        "row_updates": "UPDATE, DELETE and INSERT ... ON CONFLICT",
        "temporary_tables": "temporary tables",
    }

    def lacking(self, needs: Iterable[str]) -> list[str]:
        """Of the capability flags ``needs``, those this engine lacks, as words for people
        (empty: it has them all)."""
        return [self.CAPABILITIES[flag] for flag in needs if not getattr(self, flag)]

    def check_needs(self, what: str, needs: dict[str, Sequence[str]]) -> None:
        """Refuse ``what`` (``generate``, a load, a mart build) by name, before any SQL
        reaches the engine, where it lacks what a part of the model needs: ``needs`` maps
        each part, as people name it (``multi-active satellite customer_phones``), to the
        capability flags its SQL needs."""
        refused = {part: self.lacking(flags) for part, flags in needs.items()}
        refused = {part: words for part, words in refused.items() if words}
        if not refused:
            return
        from datavault.diagnostics import DatavaultError

        lacking = list(dict.fromkeys(w for words in refused.values() for w in words))
        raise DatavaultError(
            f"{what}: the {self.name} engine cannot run {', '.join(refused)} yet: "
            f"{'it needs' if len(refused) == 1 else 'they need'} what the engine lacks: "
            f"{'; '.join(lacking)}")

    # ---- literals and names -------------------------------------------------------------
    def text_literal(self, text: str) -> str:
        """A text constant: every character as it is, a quote doubled (so that a ``;``, line
        break, ``--``, ``%`` or ``:name`` in it stays inside; ``Rendered.statements`` reads
        literals as the engine does). Control characters other than tab and line feed are
        written as ``char_function(code)`` joined to the rest: a SQL client reading a file
        line by line may drop a carriage return before a line break."""
        if not _CONTROL.search(text):
            return self.string_literal(text)
        pieces = []
        for part in _CONTROL.split(text):
            if not part:
                continue
            if _CONTROL.fullmatch(part):
                pieces += [f"{self.char_function}({ord(c)})" for c in part]
            else:
                pieces.append(self.string_literal(part))
        return "(" + " || ".join(pieces) + ")"

    def string_literal(self, text: str) -> str:
        """A quoted string of characters other than control characters: a quote doubled."""
        return "'" + text.replace("'", "''") + "'"

    def quote(self, name: str) -> str:
        """A table or column name as SQL: as it is, or quoted where the engine would not read
        it as a name (a reserved word such as ``order`` or ``user``), by SQLAlchemy's
        ``IdentifierPreparer``, as the DDL SQLAlchemy writes quotes it."""
        preparer = self.__dict__.get("_preparer")
        if preparer is None:
            preparer = self.__dict__["_preparer"] = self.sqlalchemy_dialect().identifier_preparer
        return preparer.quote(name)

    def adapt(self, sa_dialect: sa.Dialect) -> sa.Dialect:
        """SQLAlchemy's dialect (of an engine, or for DDL), made to quote ``reserved_words``
        as well, so that the DDL SQLAlchemy writes and the SQL of the templates agree."""
        preparer = sa_dialect.identifier_preparer
        if not self.reserved_words <= preparer.reserved_words:
            preparer.reserved_words = preparer.reserved_words | self.reserved_words
            preparer._strings.clear()  # its cache of quoted names
        return sa_dialect

    def binary_literal(self, data: bytes) -> str:
        raise NotImplementedError

    def zero_key(self, algorithm: str) -> str:
        return self.binary_literal(zero_key(algorithm))

    def utc_now(self) -> str:
        """SQL for the current time as the vault stores timestamps (naive UTC), for views."""
        raise NotImplementedError

    def greatest(self, exprs: Sequence[str]) -> str:
        """SQL for the greatest of non-NULL expressions."""
        return exprs[0] if len(exprs) == 1 else f"GREATEST({', '.join(exprs)})"

    def least(self, exprs: Sequence[str]) -> str:
        """SQL for the least of non-NULL expressions."""
        return exprs[0] if len(exprs) == 1 else f"LEAST({', '.join(exprs)})"

    def timestamp_literal(self, text: str) -> str:
        """A timestamp constant, from its stored text (``YYYY-MM-DD HH:MM:SS.ffffff``)."""
        return self.text_literal(text)

    def date_literal(self, text: str) -> str:
        """A date constant, from its text (``YYYY-MM-DD``)."""
        return f"DATE '{text}'"

    # ---- checks at entry (SEMANTICS.md section 11) --------------------------------------
    def compare(self, expr: str, type_name: str, op: str, text: str) -> str:
        """SQL that is true where the non-NULL value ``expr`` of a number, date or timestamp
        type stands in ``op`` (``<``, ``<=``, ``>=``, ``>``) to the value whose canonical
        text is ``text``: as numbers (a decimal exactly, a float NaN in no relation), dates
        or timestamps."""
        if type_name == "decimal":
            return f"{self.decimal_order(expr, text)} {op} 0"
        if type_name == "float":
            return (f"({self.canonical_text(expr, 'float')} <> 'NaN' AND "
                    f"{expr} {op} {self.float_literal(text)})")
        if type_name == "date":
            return f"{expr} {op} {self.date_literal(text)}"
        if type_name == "timestamp":
            return f"{expr} {op} {self.timestamp_literal(text.replace('T', ' '))}"
        return f"{expr} {op} {int(text)}"

    def float_literal(self, text: str) -> str:
        """A double constant from its canonical text (``Infinity`` and ``-Infinity`` too)."""
        if text in ("Infinity", "-Infinity"):
            return f"CAST('{text}' AS DOUBLE)"
        return text

    def decimal_order(self, expr: str, text: str) -> str:
        """SQL for -1, 0 or 1 as the decimal ``expr`` is less than, equal to or greater than
        the decimal whose canonical text is ``text``. Here a decimal is stored as its
        canonical text (no exponent, no padding zeros: SEMANTICS.md section 1). Most values
        are told apart by their doubles (``decimal_double``) with a margin far wider than a
        double's rounding; the others are compared exactly, by sign, then the length and
        digits of the whole part, then the fraction's digits (with no trailing zeros, text
        order is number order)."""
        exact = self._decimal_text_order(expr, text)
        bound = float(text)
        if not math.isfinite(bound):
            return exact
        margin = 1e-9 * max(1.0, abs(bound))
        double = self.decimal_double(expr)
        return (f"CASE WHEN {double} < {bound - margin!r} THEN -1 "
                f"WHEN {double} > {bound + margin!r} THEN 1 ELSE {exact} END")

    def decimal_double(self, expr: str) -> str:
        """SQL for the nearest double of a decimal stored as its canonical text (NULL or an
        infinity where it has none)."""
        return f"TRY_CAST({expr} AS DOUBLE)"

    def _decimal_text_order(self, expr: str, text: str) -> str:
        sign = -1 if text.startswith("-") else (0 if text == "0" else 1)
        whole, _, fraction = text.lstrip("-").partition(".")
        absolute = f"CASE WHEN substr({expr}, 1, 1) = '-' THEN substr({expr}, 2) ELSE {expr} END"
        point = f"instr({absolute}, '.')"
        whole_x = (f"CASE WHEN {point} > 0 THEN substr({absolute}, 1, {point} - 1) "
                   f"ELSE {absolute} END")
        fraction_x = f"CASE WHEN {point} > 0 THEN substr({absolute}, {point} + 1) ELSE '' END"
        magnitude = (f"CASE WHEN length({whole_x}) <> {len(whole)} THEN "
                     f"CASE WHEN length({whole_x}) > {len(whole)} THEN 1 ELSE -1 END "
                     f"WHEN {whole_x} <> '{whole}' THEN CASE WHEN {whole_x} > '{whole}' THEN 1 "
                     f"ELSE -1 END "
                     f"WHEN {fraction_x} <> '{fraction}' THEN CASE WHEN {fraction_x} > "
                     f"'{fraction}' THEN 1 ELSE -1 END ELSE 0 END")
        sign_x = f"CASE WHEN substr({expr}, 1, 1) = '-' THEN -1 WHEN {expr} = '0' THEN 0 ELSE 1 END"
        if sign == 0:
            return sign_x
        return (f"CASE WHEN {sign_x} <> {sign} THEN CASE WHEN {sign_x} > {sign} THEN 1 ELSE -1 "
                f"END ELSE {sign} * ({magnitude}) END")

    def text_length(self, expr: str) -> str:
        """SQL for the number of characters (code points) of a text."""
        return f"length({expr})"

    def full_match(self, expr: str, pattern: str) -> str:
        """SQL that is true where the whole text ``expr`` matches the regular expression
        ``pattern`` (of the syntax ``metadata.quality`` allows)."""
        raise NotImplementedError

    # ---- hashing (SEMANTICS.md section 1) -----------------------------------------------
    def hash_key(self, parts: Sequence[tuple[str, str]], algorithm: str) -> str:
        """SQL for the hash key of (expression, type) parts; the zero key when all missing."""
        raise NotImplementedError

    def hash_diff(self, items: Sequence[tuple[str, str, str]], algorithm: str) -> str:
        """SQL for the hash diff of (name, expression, type) payload columns."""
        raise NotImplementedError

    def canonical_text(self, expr: str, type_name: str) -> str:
        """SQL for the canonical text (SEMANTICS.md section 1) of a typed expression, NULL
        for NULL: neither trimmed nor case-folded (a delete marker compares it as it is)."""

    def empty_hash_diff(self, algorithm: str) -> str:
        """The hash diff of a row without payload columns (the hash of the empty text), a
        constant."""
        return self.binary_literal(digest("", algorithm))

    def code_text(self, parts: Sequence[tuple[str, str]]) -> str:
        """SQL for the text of a reference table's code of (expression, type) parts
        (``hashing.code_text``): NULL when a part is missing."""
        raise NotImplementedError

    def set_hash_diff(self, expr: str, algorithm: str) -> str:
        """SQL for an aggregate: the hash diff of a set (SEMANTICS.md section 7) whose
        members' hash diffs are ``expr`` over the rows of a group (repeats and order do not
        matter); the zero hash diff for no rows."""
        raise NotImplementedError

    def json_object(self, pairs: Iterable[tuple[str, str]]) -> str:
        """SQL for a JSON text object of (key, expression) pairs, for quarantine rows."""
        raise NotImplementedError

    def serialize_writers(self, connection: sa.Connection, table: str) -> None:
        """Make the rest of ``connection``'s transaction the only writer of ``table`` (for a
        read-then-write such as numbering the next batch)."""

    def load_lock(self, engine: sa.Engine, source: str) -> LoadLock:
        """The lock a load of ``source`` holds from its batch's creation to its end, so that
        loads of one source never interleave (see ``datavault.load``)."""
        raise NotImplementedError

    # ---- URLs and connections -------------------------------------------------------------
    def kept_open(self, engine: sa.Engine) -> contextlib.AbstractContextManager[Any]:
        """Within it, this process keeps ``engine``'s database open, for an engine that opens
        a database per connection at a cost (DuckDB); elsewhere nothing to do."""
        return contextlib.nullcontext()

    def default_url(self, project_root: Any) -> str:
        """The URL of a project's vault on this engine when none is given."""
        return f"{self.name}:///{project_root / self.default_file}"

    def resolve_url(self, url: sa.URL, project_root: Any) -> sa.URL:
        """``url`` as this engine reads it from a project: a relative database file path
        taken relative to the project folder."""
        from pathlib import Path

        if self.file_database and url.database and not url.database.startswith(":memory:"):
            path = Path(url.database)
            if not path.is_absolute():
                return url.set(database=str(Path(project_root) / path))
        return url

    def missing_database(self, url: sa.URL) -> str | None:
        """The file of an input database URL that does not exist (connecting would make an
        empty one), else None."""
        from pathlib import Path

        if (self.file_database and "uri" not in url.query
                and url.database not in (None, "", ":memory:")
                and not Path(url.database).is_file()):
            return url.database
        return None

    def alter_type_options(self, column: str, new_type: Any) -> dict[str, str]:
        """Options of Alembic's ``alter_column`` that tell this engine how to convert a
        column's stored values to ``new_type`` (a migration carries every engine's; each
        engine reads only those named after it)."""
        return {}

    def prepare_migrations(self) -> None:
        """Make Alembic ready to migrate this engine (register its implementation where
        Alembic ships none). Nothing by default."""

    def missing_driver(self) -> str | None:
        """Why the engine's driver cannot be used here (a package not installed), else
        None."""
        import importlib.util

        missing = [p for p in self.requires if importlib.util.find_spec(p) is None]
        if not missing:
            return None
        return (f"the {self.name} engine needs the Python package {', '.join(missing)}: "
                f"pip install 'datavault[{self.extra}]'")

    def prepare_connection(self, dbapi_connection: Any) -> None:
        """Called on every new DB-API connection (register functions, set session options)."""

    def sqlalchemy_dialect(self) -> sa.Dialect:
        """SQLAlchemy's dialect, to compile DDL without a connection."""
        raise NotImplementedError

    def engine_options(self) -> dict[str, Any]:
        return {}

    def bulk_insert(self, connection: sa.Connection, table: str, columns: Sequence[str],
                    types: Sequence[str], rows: list[Sequence[object]]) -> None:
        """Insert typed Python rows into ``table`` as fast as the engine allows."""
        raise NotImplementedError

    def plain_text(self, text: Any, type_name: str) -> Any:
        """For an Arrow column of source text: true where the text is in a form this engine
        reads as ``type_name`` exactly as ``values.parse`` does (other texts go through the
        parser): those of ``sourcetext``. Only for dialects with ``supports_copy``."""
        from datavault.dialects import sourcetext

        return sourcetext.plain_text(text, type_name)

    def text_value(self, expr: str, type_name: str) -> str | None:
        """SQL for the typed value of a source text that passed ``plain_text``."""
        return None

    def copy_text(self, connection: sa.Connection, table: str, batch: Any) -> None:
        """Load an Arrow record batch of text columns into ``table`` (same column names and
        order). Only for dialects with ``supports_copy``."""
        raise NotImplementedError

    def refresh_statistics(self, connection: sa.Connection, table: str, inserted: int) -> None:
        """After ``inserted`` rows went into ``table``: bring the planner's statistics up to
        date where they would mislead the next load (nothing by default)."""

    def empty_tables(self, connection: sa.Connection, tables: Sequence[str]) -> list[str]:
        """Of an entity's ``tables`` (its main table first), those its next load may fill
        with their indexes set aside (``without_indexes``): every empty one when the main
        table is empty, else none. Reading them takes locks that last until the
        connection's transaction ends: an entity load asks before its transaction begins;
        staging asks inside its own, as only the source's loads, one at a time, use its
        staging table. None by default."""
        return []

    @contextlib.contextmanager
    def without_indexes(self, connection: sa.Connection,
                        tables: Sequence[str]) -> Iterator[None]:
        """Run the block (statements of ``connection``'s transaction that fill ``tables``,
        from ``empty_tables``) with those tables' indexes and unique constraints set aside,
        and build them again when it ends: one sorted build instead of an index entry per
        row. A table another transaction has filled meanwhile keeps its indexes. If the
        block raises, the transaction's rollback restores them. Nothing by default."""
        yield

    def subquery_fence(self) -> str:
        """A clause that keeps a subquery from being folded into the query around it."""
        return "OFFSET 0"

    def script_parameter(self, name: str) -> str | None:
        """How a generated file names its parameter ``name`` for the engine's own client
        (None: as ``:name``, which the client binds)."""
        return None

    def run_hint(self, file: str, parameter: str, value: str) -> str:
        """Comment lines that say how this engine's own client runs a generated file with
        a value for its named parameter."""
        return ""

    def empty_table(self, table: str) -> str:
        """A statement that removes every row of ``table`` (in a transaction)."""
        return f"DELETE FROM {self.quote(table)}"

    def raw_table_prefixes(self, connection: sa.Connection) -> list[str]:
        """The prefixes of ``CREATE TABLE`` for the table a batch's text is copied into
        (``schema.raw_table``), made and dropped in the staging transaction."""
        return ["TEMPORARY"]

    def timestamp_param(self, name: str) -> str:
        """A bound timestamp parameter (passed as its stored text) in a SELECT list."""
        return f":{name}"
