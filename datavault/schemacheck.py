"""Does the database fit the model, for what one command touches? Answered without
reflecting the database's tables.

Every migration records, in ``dv_contract``, the key contract it leaves (``contract.py``) and
the shape of every table of the model (``schema.table_shapes``); Alembic records its revision
in ``alembic_version``. A command reads those two small tables once, and names its *scope*:
the tables it reads or writes and the contract items its answers depend on. The scope fits
when the stored contract items of its entities (and the hash algorithm and naming) are the
model's and each of its tables has the shape the model wants. A table whose recorded shape
differs, or that has none (a database migrated before shapes were recorded), is compared in
full (Alembic's autogenerate, for that table only), so nothing that a migration would change
goes unnoticed; ``datavault migrate check`` compares everything.

So a read keeps answering for the entities whose tables match while an unrelated model change
waits for its migration, and refuses, saying what to run, when the entity asked about is
affected. A load refuses any mismatch in what it writes, a database that is not at the
project's latest migration, and a pending change that a migration may make only while the
vault holds no batch.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from datavault import contract, kinds, schema
from datavault import model as m
from datavault.diagnostics import DatavaultError

VERSION_TABLE = "alembic_version"
GLOBAL_ITEMS = ("hash", "naming")  # every scope depends on these
NO_VAULT = ("the database has no vault yet: run `datavault migrate upgrade` (a new project: "
            "`datavault migrate revision -m \"first model\"` first)")


@dataclass(frozen=True)
class Scope:
    """What one command touches: tables, and the contract items its rows depend on."""

    what: str  # for people: "satellite customer_details", "source crm_customers"; "" for all
    tables: frozenset[str]
    items: frozenset[str]  # "satellite S" stands for its payload items "satellite S.COL" too
    load: bool = False  # the command loads batches
    whole: bool = False  # the whole model: also what it no longer has that a migration drops


def _parent(model: m.Model, parent: str) -> tuple[set[str], set[str]]:
    """The tables and items of a hub, or of a link and the hubs whose keys name its keys."""
    if parent not in model.entities:
        return set(), set()
    return kinds.kind_of(model, parent).scope(model, model.entities[parent])


def _satellites(model: m.Model, names: Iterable[str]) -> tuple[set[str], set[str]]:
    """The tables and items of satellites that a command reads (not their logs)."""
    tables, items = set(), set()
    for name in names:
        kind = kinds.kind_of(model, name)
        tables.add(kind.table_names(model.settings.naming, name)[0])
        items.add(f"{kind.name} {name}")
    return tables, items


def entity_scope(model: m.Model, name: str) -> Scope:
    """What ``query`` and ``history`` read for a hub, link or satellite: its table, its
    parent's (a link's hubs too) and the satellites it answers from, and the ledger."""
    kind = model.entity_kind(name)
    if kind is None:  # the query itself says that there is no such entity
        return table_scope(name, schema.BATCH_TABLE)
    reader = kinds.kind_of(model, name)
    parent, sats = reader.answers(model, model.entities[name])
    tables, items = _parent(model, parent)
    sat_tables, sat_items = _satellites(
        model, [*sats, *reader.reads_also(model, model.entities[name])])
    return Scope(f"{kind} {name}", frozenset(tables | sat_tables | {schema.BATCH_TABLE}),
                 frozenset(items | sat_items))


def source_scope(model: m.Model, source: str) -> Scope:
    """What a load of ``source`` writes: its staging table, every hub, link and satellite it
    feeds (with the satellites' logs), and the ledger, audit and quarantine tables (and the
    check results, where it has checks); its items
    take in the hubs whose keys make a link's keys."""
    tables = {model.stage_table(source), schema.BATCH_TABLE, schema.AUDIT_TABLE,
              schema.QUARANTINE_TABLE}
    if model.sources[source].checks:
        tables.add(schema.CHECK_TABLE)
    items = {f"source {source}"}
    for name in model.entities_of(source):
        more_tables, more_items = kinds.kind_of(model, name).scope(model, model.entities[name])
        tables |= more_tables
        items |= more_items
    return Scope(f"source {source}", frozenset(tables), frozenset(items), load=True)


def mart_scope(model: m.Model, mart: m.Mart) -> Scope:
    """What ``marts build`` reads for a mart: the hubs and links it follows, the satellites
    it points at, the reference tables whose codes it looks up, and the ledger."""
    tables, items = set(), set()
    for parent in (mart.parent, *mart.path):
        if parent:
            more_tables, more_items = _parent(model, parent)
            tables |= more_tables
            items |= more_items
    sat_tables, sat_items = _satellites(model, mart.satellites)
    for lookup in mart.codes:  # the views read its codes and descriptions
        table = model.entities[lookup.reference_table]
        codes, descriptions, _ = kinds.kind_of(model, table.name).table_names(
            model.settings.naming, table.name)
        tables |= {codes, descriptions}
        items.add(f"{table.kind} {table.name}")
    return Scope(f"mart {mart.name}", frozenset(tables | sat_tables | {schema.BATCH_TABLE}),
                 frozenset(items | sat_items))


def table_scope(what: str, *tables: str) -> Scope:
    """Bookkeeping tables only (``batches``: the ledger; ``quarantine``: its table)."""
    return Scope(what, frozenset(tables), frozenset())


def model_scope(model: m.Model) -> Scope:
    """Every table and item of the model, and the staging tables of sources it no longer
    has (a migration drops them)."""
    return Scope("", frozenset(schema.metadata_for(model).tables),
                 frozenset(contract.contract(model)), whole=True)


@dataclass(frozen=True)
class Recorded:
    """What a database records about its schema."""

    tables: frozenset[str]
    revisions: frozenset[str]  # Alembic's
    stored: dict[str, str] | None  # dv_contract: the key contract and the tables' shapes

    @classmethod
    def read(cls, connection: sa.Connection) -> Recorded:
        """Three small reads: the table names, Alembic's revision, ``dv_contract``."""
        tables = frozenset(sa.inspect(connection).get_table_names())
        revisions = frozenset(r for r, in connection.exec_driver_sql(
            f"SELECT version_num FROM {VERSION_TABLE}")) if VERSION_TABLE in tables else \
            frozenset()
        stored = None
        if schema.CONTRACT_TABLE in tables:
            stored = dict(connection.exec_driver_sql(
                f"SELECT item, definition FROM {schema.CONTRACT_TABLE}").all())
        return cls(tables, revisions, stored)


class SchemaCheck:
    """The database's recorded schema against one model, read once; each scope is judged
    from it (and, for a table whose shape is not the one recorded, by comparing that table)."""

    def __init__(self, model: m.Model, engine: sa.Engine, migrations: Path):
        self.model = model
        self.engine = engine
        self.migrations = migrations
        with engine.connect() as connection:
            self.recorded = Recorded.read(connection)
        stored = self.recorded.stored or {}
        #: per satellite, the payload columns its table keeps that the model no longer has
        self.kept = contract.kept_payload(stored, model)
        self.shapes = schema.table_shapes(model, self.kept)
        self.changes = [c for c in contract.compare(stored, contract.contract(model))
                        if c.kind != "removed"]  # a removed item's table or column is kept
        #: staging tables of sources the model no longer has: a migration drops them
        self.gone = sorted(t for t, kind in contract.owned_tables(
            stored, model.settings.naming).items()
            if kind == "staging" and t not in self.shapes and t in self.recorded.tables)
        self._loaded: bool | None = None
        self._heads: frozenset[str] | None = None
        self._compared: dict[tuple[str, ...], list[str]] = {}
        self._verdicts: dict[Scope, str | None] = {}

    # ---- the verdict --------------------------------------------------------------------
    def require(self, scope: Scope) -> None:
        """Raise DatavaultError, saying what to run, unless the database fits ``scope``."""
        problem = self.problem(scope)
        if problem:
            raise DatavaultError(problem)

    def problem(self, scope: Scope) -> str | None:
        """Why the database does not fit ``scope`` (None: it fits)."""
        if scope not in self._verdicts:
            self._verdicts[scope] = self._judge(scope)
        return self._verdicts[scope]

    def pending(self, scope: Scope) -> tuple[list[contract.Change], list[str]]:
        """What the cheap facts say differs for ``scope``: the contract changes of its items
        (and of the hash algorithm and naming), and its tables whose recorded shape is not
        the model's (or that have none)."""
        items = scope.items | set(GLOBAL_ITEMS)
        stored = self.recorded.stored or {}
        return ([c for c in self.changes if _covers(items, c.item)],
                sorted(t for t in scope.tables
                       if stored.get(contract.shape_item(t)) != self.shapes.get(t))
                + (self.gone if scope.whole else []))

    @property
    def compared(self) -> set[str]:
        """The tables compared in full so far (those whose recorded shape did not say)."""
        return {t for tables in self._compared for t in tables}

    def _judge(self, scope: Scope) -> str | None:
        recorded = self.recorded
        if recorded.stored is None or schema.BATCH_TABLE not in recorded.tables:
            return NO_VAULT
        mine, unsure = self.pending(scope)
        breaking = [c for c in self.changes if c.kind == "breaking"]
        if breaking:
            refused = [c for c in mine if c.refused(self.loaded)]
            if refused:
                return (f"the model changes what the loaded data depends on "
                        f"({refused[0].item}), which no migration may do: undo that change "
                        "in the YAML; `datavault migrate check` says why")
            coming = [c for c in breaking if not c.refused(self.loaded)]
            if scope.load and coming:
                return (f"the model changes {coming[0].item}, which a migration may do only "
                        "while the vault holds no batch, and a load would make it one: run "
                        "`datavault migrate revision -m MESSAGE` and `datavault migrate "
                        "upgrade` first (or undo that change in the YAML)")
        differences = self._compare(unsure) + [f"contract {c}" for c in mine]
        if differences:
            behind = recorded.revisions != self.heads
            count = f"{len(differences)} difference{'s' if len(differences) != 1 else ''}"
            where = f" for {scope.what}" if scope.what else ""
            run = ("run `datavault migrate upgrade`, or `datavault migrate revision -m "
                   "MESSAGE` first if no migration has this change yet" if behind else
                   "no migration has this change yet: run `datavault migrate revision -m "
                   "MESSAGE`, then `datavault migrate upgrade`")
            return (f"the database does not match the model{where} ({count}, e.g. "
                    f"{differences[0]}): {run}; `datavault migrate check` lists every "
                    "difference")
        if scope.load and recorded.revisions != self.heads:
            at = ", ".join(sorted(recorded.revisions)) or "no migration"
            return (f"the database is at {at}, not at the project's latest migration "
                    f"({', '.join(sorted(self.heads)) or 'none'}): run `datavault migrate "
                    "upgrade` before loading")
        return None

    # ---- what is read only when needed ---------------------------------------------------
    @property
    def loaded(self) -> bool:
        """Whether any batch was ever loaded into this vault."""
        if self._loaded is None:
            with self.engine.connect() as connection:
                self._loaded = connection.exec_driver_sql(
                    f"SELECT 1 FROM {schema.BATCH_TABLE} LIMIT 1").first() is not None
        return self._loaded

    @property
    def heads(self) -> frozenset[str]:
        """The latest revisions of the project's migrations."""
        if self._heads is None:
            self._heads = migration_heads(self.migrations)
        return self._heads

    def _compare(self, tables: list[str]) -> list[str]:
        """Alembic's comparison of these tables with the model."""
        if not tables:
            return []
        key = tuple(tables)
        if key not in self._compared:
            from datavault import migrate  # Alembic is imported only when tables are compared

            with self.engine.connect() as connection:
                self._compared[key] = migrate.compare_tables(
                    connection, self.model, tables).differences
        return self._compared[key]


def _covers(items: set[str] | frozenset[str], item: str) -> bool:
    return item in items or item.partition(".")[0] in items


# ---- the project's migrations, without importing them ----------------------------------------
_ASSIGNMENT = re.compile(r"^(revision|down_revision)\s*(?::[^=\n]*)?=\s*(.+)$", re.MULTILINE)


def migration_heads(migrations: Path) -> frozenset[str]:
    """The heads of the migrations in ``migrations/versions``: the revisions no other one
    revises. Read from each file's ``revision`` and ``down_revision`` lines (Alembic's
    template writes them as literals); a file written otherwise is left to Alembic."""
    folder = migrations / "versions"
    files = sorted(folder.glob("*.py")) if folder.is_dir() else []
    revisions, revised = set(), set()
    for path in files:
        found = dict(m.groups() for m in _ASSIGNMENT.finditer(path.read_text(encoding="utf-8")))
        try:
            revision = ast.literal_eval(found["revision"].strip())
            down = ast.literal_eval(found["down_revision"].strip())
        except (KeyError, ValueError, SyntaxError):
            return _alembic_heads(migrations)
        revisions.add(revision)
        revised.update([down] if isinstance(down, str) else down or ())
    return frozenset(revisions - revised)


def _alembic_heads(migrations: Path) -> frozenset[str]:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(migrations))
    return frozenset(ScriptDirectory.from_config(config).get_heads())
