"""Alembic with the model as its target metadata, and the rules that protect history.

A project's ``migrations/env.py`` calls :func:`run_environment`, so ``datavault migrate ...`` and
the plain ``alembic`` command run the same environment. The hooks here:

- keep what the model no longer has: a table the vault made (named in ``dv_contract``) or a
  column of one is left alone unless the user asks to drop it (``--drop-removed``, or
  ``alembic -x drop_removed=true``); staging follows the model; other tables are never touched;
- judge every change of the key contract (:mod:`datavault.contract`) and refuse, with the reason,
  one that would break stored keys or lose data once the vault holds data;
- record the model's contract in ``dv_contract`` as the last step of a migration's upgrade, and
  the previous one as the first step of its downgrade (``op.record_contract``).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata, renderers
from alembic.migration import MigrationContext
from alembic.operations import MigrateOperation, Operations, ops
from alembic.util import CommandError

from datavault import contract as dv_contract
from datavault import database, marts, schema
from datavault import model as m
from datavault.diagnostics import DatavaultError
from datavault.dialects import DIALECTS, get_dialect

STATE = "datavault"  # key of the shared state in alembic's Config.attributes


class SchemaRefused(DatavaultError, CommandError):
    """A model change that would break stored keys or lose data (alembic prints it as FAILED)."""


# ---- the contract in the database ---------------------------------------------------------
def read_contract(connection: sa.Connection) -> dict[str, str] | None:
    """The stored contract, or None when the database has no contract table."""
    if not sa.inspect(connection).has_table(schema.CONTRACT_TABLE):
        return None
    table = _contract_table()
    return {item: value for item, value in connection.execute(
        sa.select(table.c.item, table.c.definition))}


def holds_data(connection: sa.Connection) -> bool:
    """Whether any batch was ever loaded into this vault."""
    if not sa.inspect(connection).has_table(schema.BATCH_TABLE):
        return False
    return connection.exec_driver_sql(
        f"SELECT 1 FROM {schema.BATCH_TABLE} LIMIT 1").first() is not None


def _contract_table() -> sa.Table:
    md = sa.MetaData()
    schema.contract_table(md)
    return md.tables[schema.CONTRACT_TABLE]


def refuse_if_breaking(changes: list[dv_contract.Change], connection: sa.Connection | None,
                       doing: str) -> None:
    loaded = connection is None or holds_data(connection)
    breaking = [c for c in changes if c.refused(loaded)]
    if breaking:
        lines = "\n".join(f"  - {c}" for c in breaking)
        why = "the vault holds loaded data, and " if loaded else ""
        raise SchemaRefused(
            f"{doing} refused: {why}{len(breaking)} "
            f"change{'s' if len(breaking) != 1 else ''} would break the vault:\n{lines}")


@Operations.register_operation("record_contract")
class RecordContractOp(MigrateOperation):
    """Store the key contract that the schema matches after this step."""

    def __init__(self, contract: dict[str, str]):
        self.contract = dict(contract)

    def to_diff_tuple(self) -> tuple[str, int]:
        return ("record_contract", len(self.contract))

    @classmethod
    def record_contract(cls, operations: Operations, contract: dict[str, str]) -> None:
        """``op.record_contract({...})`` in a migration script."""
        operations.invoke(cls(contract))


@Operations.implementation_for(RecordContractOp)
def _record_contract(operations: Operations, operation: RecordContractOp) -> None:
    table = _contract_table()
    context = operations.get_context()
    if not context.as_sql:
        connection = operations.get_bind()
        stored = read_contract(connection) or {}
        changes = dv_contract.compare(stored, operation.contract)
        refuse_if_breaking(changes, connection, "this migration step")
    operations.execute(table.delete())
    if operation.contract:
        operations.bulk_insert(table, [{"item": k, "definition": v}
                                       for k, v in sorted(operation.contract.items())])


@renderers.dispatch_for(RecordContractOp)
def _render_record_contract(_autogen_context: Any, op: RecordContractOp) -> list[str]:
    items = [f"    {k!r}: {v!r}," for k, v in sorted(op.contract.items())]
    return ["op.record_contract({", *items, "})"]


class CastingAlterColumnOp(ops.AlterColumnOp):
    """A change of a column's type that also tells each engine that needs it how to convert
    stored values (``Dialect.alter_type_options``)."""


@renderers.dispatch_for(CastingAlterColumnOp)
def _render_casting_alter(autogen_context: Any, op: CastingAlterColumnOp) -> str:
    text = renderers.dispatch(ops.AlterColumnOp)(autogen_context, op)
    options = {}
    for name in sorted(DIALECTS):
        options.update(get_dialect(name).alter_type_options(op.column_name, op.modify_type))
    if not options:
        return text
    written = "".join(f",\n{' ' * 11}{key}={value!r}" for key, value in options.items())
    return f"{text[:-1]}{written})"


def _with_casts(operations: list[Any]) -> None:
    for op in operations:
        if isinstance(op, ops.ModifyTableOps):
            _with_casts(op.ops)
        elif isinstance(op, ops.AlterColumnOp) and op.modify_type is not None:
            op.__class__ = CastingAlterColumnOp


def _empty_staging_first(operations: list[Any], staging: set[str]) -> None:
    """Empty a staging table before its columns change: it holds no history, only batches
    not yet fully loaded (which then cannot be resumed: the loader says so, and their input is
    loaded again), and a new NOT NULL hash column cannot be added to rows that lack it."""
    for position in range(len(operations) - 1, -1, -1):
        op = operations[position]
        if isinstance(op, ops.ModifyTableOps) and op.table_name in staging:
            operations.insert(position, ops.ExecuteSQLOp(f"DELETE FROM {op.table_name}"))


def stale_staging(connection: sa.Connection, model: m.Model,
                  tables: Collection[str] | None = None) -> dict[str, list[str]]:
    """Staging tables (of all, or of ``tables``) whose primary key is not the model's, with
    the key they have (autogenerate compares no primary keys): a migration makes them again,
    as they hold no history."""
    inspector = sa.inspect(connection)
    existing = set(inspector.get_table_names())
    metadata = schema.metadata_for(model)
    stale = {}
    for source in sorted(model.sources):
        name = model.stage_table(source)
        if name in existing and (tables is None or name in tables):
            found = inspector.get_pk_constraint(name).get("constrained_columns") or []
            wanted = [c.name for c in metadata.tables[name].primary_key.columns]
            if list(found) != wanted:
                stale[name] = list(found)
    return stale


def _remake_staging(connection: sa.Connection, model: m.Model, upgrade: Any,
                    downgrade: Any) -> list[str]:
    """Drop and create again each stale staging table (see ``stale_staging``)."""
    stale = stale_staging(connection, model)
    metadata = schema.metadata_for(model)
    for name, old_key in stale.items():
        new = metadata.tables[name]
        old = sa.Table(name, sa.MetaData(), *[
            sa.Column(c.name, c.type, nullable=c.nullable, autoincrement=False,
                      primary_key=c.name in old_key) for c in new.columns])
        for container in (upgrade, downgrade):
            container.ops[:] = [op for op in container.ops if not (
                isinstance(op, ops.ModifyTableOps) and op.table_name == name)]
        upgrade.ops += [ops.DropTableOp.from_table(old), ops.CreateTableOp.from_table(new)]
        downgrade.ops += [ops.DropTableOp.from_table(new), ops.CreateTableOp.from_table(old)]
    return list(stale)


# ---- what is ours, and what is kept -------------------------------------------------------
@dataclass
class Hooks:
    """Autogenerate's filters and rewriters for one model; what they found is kept here."""

    model: m.Model
    drop_removed: bool = False
    stored: dict[str, str] = field(default_factory=dict)  # the database's contract
    kept: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    changes: list[dv_contract.Change] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)
    allow_empty: bool = False
    #: record the tables' shapes even when nothing else changes (`migrate revision --empty`)
    record_shapes: bool = False
    #: the engine keeps NOT NULL, primary keys and indexes (``Dialect.constraints``);
    #: without, the comparison leaves them out, as the engine cannot hold them
    constraints: bool = True

    def include_object(self, obj: Any, name: str | None, type_: str, reflected: bool,
                       compare_to: Any) -> bool:
        if type_ in ("index", "unique_constraint") and not self.constraints:
            return False  # the engine keeps none
        if not (reflected and compare_to is None):
            return True
        if type_ == "table":
            owner = dv_contract.owned_tables(self.stored, self.model.settings.naming).get(
                name or "")
            if owner == "staging":
                return True  # a staging table holds the latest batch only: no history to keep
            ours = owner is not None
            where = f"table {name}"
        elif type_ == "column":
            if obj.table.name in self._stage_tables():
                return True
            ours = True
            where = f"column {obj.table.name}.{name}"
        else:  # indexes and constraints that someone added by hand are theirs
            return False
        if ours and self.drop_removed:
            self.dropped.append(where)
            return True
        if ours:
            self.kept.append(where)
        return False

    def _stage_tables(self) -> set[str]:
        owned = dv_contract.owned_tables(self.stored, self.model.settings.naming)
        return {self.model.stage_table(s) for s in self.model.sources} | {
            t for t, kind in owned.items() if kind == "staging"}

    def process_revision_directives(self, context: MigrationContext, _revision: Any,
                                    directives: list[Any]) -> None:
        script = directives[0]
        connection = context.connection
        stored = (read_contract(connection) if connection is not None else None) or {}
        wanted = dv_contract.contract(self.model)
        self.changes = dv_contract.compare(stored, wanted)
        refuse_if_breaking(self.changes, connection, "this model change")
        after = recorded(self.model, stored, self.drop_removed)
        upgrade, downgrade = script.upgrade_ops, script.downgrade_ops
        if not self.constraints:
            for container in (upgrade, downgrade):
                container.ops[:] = _without_nullability(container.ops)
        remade = _remake_staging(connection, self.model, upgrade, downgrade) \
            if connection is not None and self.constraints else []
        for container in (upgrade, downgrade):
            _with_casts(container.ops)
            _empty_staging_first(container.ops, self._stage_tables())
        self.summary = describe(upgrade.ops, self._stage_tables() | set(remade))
        if _only_shapes_differ(after, stored) and upgrade.is_empty() and not self.record_shapes:
            # the tables already are what the model wants, but their recorded shapes do not
            # say so (a database migrated before shapes were recorded): nothing to migrate;
            # commands compare such tables in full, and `revision --empty` records them
            after = stored
        if after != stored:
            # first when the table exists already (so a refusal comes before any change);
            # last when this step creates it
            if stored:
                upgrade.ops.insert(0, RecordContractOp(after))
                downgrade.ops.insert(0, RecordContractOp(stored))
            else:
                upgrade.ops.append(RecordContractOp(after))
        if upgrade.is_empty() and not self.allow_empty:
            directives[:] = []

    def configure_options(self) -> dict[str, Any]:
        return {
            "target_metadata": schema.build_metadata(self.model),
            "include_object": self.include_object,
            "process_revision_directives": self.process_revision_directives,
            "render_as_batch": True,  # SQLite needs batch mode to alter; PostgreSQL ignores it
            "compare_type": True,
        }


def _without_nullability(operations: list[Any]) -> list[Any]:
    """``operations`` less their changes of nullability (an engine that keeps no NOT NULL
    reflects every column nullable), and less the table steps that held nothing else."""
    kept = []
    for op in operations:
        if isinstance(op, ops.ModifyTableOps):
            op.ops[:] = _without_nullability(op.ops)
            if not op.ops:
                continue
        elif isinstance(op, ops.AlterColumnOp):
            op.modify_nullable = None
            if not any(getattr(op, f"modify_{what}") not in (None, False) for what in
                       ("type", "server_default", "comment", "name")):
                continue
        kept.append(op)
    return kept


def recorded(model: m.Model, stored: dict[str, str], dropping: bool) -> dict[str, str]:
    """What a migration from the ``stored`` contract records: the model's contract (with the
    items of what it keeps although the model no longer has it, unless ``dropping``) and the
    shape of every table of the model as the migration leaves it."""
    after = dv_contract.record(stored, dv_contract.contract(model), dropping)
    shapes = schema.table_shapes(model, dv_contract.kept_payload(after, model))
    return {**after, **{dv_contract.shape_item(t): d for t, d in shapes.items()}}


def _only_shapes_differ(after: dict[str, str], stored: dict[str, str]) -> bool:
    items = set(after) | set(stored)
    return any(after.get(i) != stored.get(i) for i in items) and all(
        dv_contract.is_shape(i) for i in items if after.get(i) != stored.get(i))


_DESCRIPTIONS: dict[type, Any] = {
    ops.CreateTableOp: lambda op: f"add table {op.table_name}",
    ops.DropTableOp: lambda op: f"DROP table {op.table_name}",
    ops.AddColumnOp: lambda op: f"add column {op.table_name}.{op.column.name}",
    ops.DropColumnOp: lambda op: f"DROP column {op.table_name}.{op.column_name}",
    ops.AlterColumnOp: lambda op: f"alter column {op.table_name}.{op.column_name}",
    ops.CreateIndexOp: lambda op: f"add index {op.index_name} ({op.table_name})",
    ops.DropIndexOp: lambda op: f"DROP index {op.index_name} ({op.table_name})",
}


def describe(operations: list[Any], staging: set[str] = frozenset()) -> list[str]:
    """One line per schema change of a migration, for people."""
    lines: list[str] = []
    for op in operations:
        if isinstance(op, ops.ModifyTableOps):
            lines += describe(op.ops, staging)
        elif isinstance(op, ops.DropColumnOp) and op.table_name in staging:
            lines.append(f"drop column {op.table_name}.{op.column_name} (staging: no history)")
        elif isinstance(op, ops.DropTableOp) and op.table_name in staging:
            lines.append(f"drop table {op.table_name} (staging: no history)")
        elif isinstance(op, ops.ExecuteSQLOp):
            lines.append(f"empty {str(op.sqltext).split()[-1]} (staging: no history)")
        elif not isinstance(op, RecordContractOp):
            kind = next((k for k in _DESCRIPTIONS if isinstance(op, k)), None)
            lines.append(_DESCRIPTIONS[kind](op) if kind else type(op).__name__)
    return lines


# ---- the environment that env.py runs -----------------------------------------------------
@dataclass
class EnvironmentState:
    """What ``datavault migrate`` hands the environment through alembic's Config."""

    model: m.Model
    url: str = field(repr=False)  # may hold a password
    hooks: Hooks
    applied: list[Step] = field(default_factory=list)
    migrating: str = ""  # "upgrade" or "downgrade" ("" for revision and check)
    views_dropped: list[str] = field(default_factory=list)


def migration_context(connection: sa.Connection, opts: dict | None = None) -> MigrationContext:
    """Alembic's migration context on ``connection``, its engine made ready first."""
    get_dialect(connection.dialect.name).prepare_migrations()
    return MigrationContext.configure(connection, opts=opts or {})


def run_environment() -> None:
    """Run the migrations of a project: called by its ``migrations/env.py``."""
    from alembic import context

    config = context.config
    state: EnvironmentState | None = config.attributes.get(STATE)
    if state is None:  # the plain alembic command
        state = _state_from_alembic_command(config, context.get_x_argument(as_dictionary=True))
    state.hooks.constraints = get_dialect(
        database.with_driver(state.url).get_backend_name()).constraints
    options = state.hooks.configure_options()

    def on_version_apply(*, step: Any, **_kw: Any) -> None:
        state.applied.append(_step(step))

    url = database.with_driver(state.url)
    get_dialect(url.get_backend_name()).prepare_migrations()
    if context.is_offline_mode():
        context.configure(url=url, literal_binds=True,
                          on_version_apply=on_version_apply, **options)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    get_dialect(engine.dialect.name).adapt(engine.dialect)  # its quoting of names
    try:
        with engine.connect() as connection:
            state.hooks.stored = read_contract(connection) or {}
            if state.migrating and _pending(config, connection, state.migrating):
                # views over the vault's tables block their changes (PostgreSQL refuses to
                # alter a column a view reads; SQLite's table copies trip over them):
                # `datavault marts build` makes them again
                state.views_dropped = marts.drop_views(connection)
                connection.commit()
            connection.rollback()  # end the read's transaction: alembic begins its own
            context.configure(connection=connection, on_version_apply=on_version_apply,
                              transaction_per_migration=True, **options)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


def _pending(config: Any, connection: sa.Connection, direction: str) -> bool:
    """Whether a step may run: an upgrade below the heads, or a downgrade above the base."""
    from alembic.script import ScriptDirectory

    current = set(migration_context(connection).get_current_heads())
    if direction == "downgrade":
        return bool(current)
    return current != set(ScriptDirectory.from_config(config).get_heads())


@dataclass(frozen=True)
class Step:
    """One migration step run: the revisions before and after it (none: base), and the
    message of the migration it applied or undid."""

    before: tuple[str, ...]
    after: tuple[str, ...]
    message: str
    upgrade: bool

    def __str__(self) -> str:
        """``base -> 1a2b3c (first model)``; undone: ``1a2b3c (first model) -> base``."""
        doc = f" ({self.message})" if self.message else ""
        before = ", ".join(self.before) or "base"
        after = ", ".join(self.after) or "base"
        return f"{before} -> {after}{doc}" if self.upgrade else f"{before}{doc} -> {after}"


def _step(step: Any) -> Step:
    script = step.up_revision
    return Step(tuple(step.source_revision_ids), tuple(step.destination_revision_ids),
                (script.doc or "") if script is not None else "", bool(step.is_upgrade))


def _state_from_alembic_command(config: Any, x: dict[str, str]) -> EnvironmentState:
    from logging.config import fileConfig

    from datavault.metadata import load_project

    if config.config_file_name and Path(config.config_file_name).exists():
        fileConfig(config.config_file_name, disable_existing_loggers=False)
        database.redact_logging()  # what alembic and SQLAlchemy log shows no secret
    root = Path(config.config_file_name or ".").resolve().parent
    project = load_project(root)
    url = database.resolve_url(root, project.model.settings, x.get("url"), x.get("profile"))
    drop = x.get("drop_removed", "").lower() in ("1", "true", "yes")
    # alembic's own commands expect the directives kept (check reads them; revision writes
    # an empty script when nothing differs, as alembic users know it)
    hooks = Hooks(project.model, drop_removed=drop, allow_empty=True)
    command = getattr(getattr(config, "cmd_opts", None), "cmd", None)
    name = getattr(command[0], "__name__", "") if command else ""
    return EnvironmentState(project.model, url, hooks,
                            migrating=name if name in ("upgrade", "downgrade") else "")


# ---- does a database match a model? -------------------------------------------------------
@dataclass
class Comparison:
    """A database against a model."""

    differences: list[str]  # what a migration would change; refused contract changes first
    kept: list[str]  # tables and columns only the database has (no difference: they are kept)


def compare_database(connection: sa.Connection, model: m.Model) -> Comparison:
    """What a migration would have to change for the database to match the model, and what
    the database keeps that the model no longer has. A contract change that a migration would
    refuse starts with ``refused:``."""
    comparison = compare_tables(connection, model)
    stored = read_contract(connection)
    if stored is not None:
        loaded = holds_data(connection)
        for change in dv_contract.compare(stored, dv_contract.contract(model)):
            if change.refused(loaded):
                comparison.differences.insert(0, f"refused: contract {change}")
            elif change.kind != "removed":
                comparison.differences.append(f"contract {change}")
    return comparison


def compare_tables(connection: sa.Connection, model: m.Model,
                   tables: Collection[str] | None = None) -> Comparison:
    """What a migration would have to change in the model's tables (or only in ``tables``,
    which are the only ones reflected then): Alembic's autogenerate comparison, and the
    staging tables whose primary key is not the model's."""
    constraints = get_dialect(connection.dialect.name).constraints
    hooks = Hooks(model, stored=read_contract(connection) or {}, constraints=constraints)
    opts: dict[str, Any] = {"compare_type": True, "include_object": hooks.include_object}
    metadata = schema.metadata_for(model)
    if tables is not None:
        wanted = set(tables)
        opts["include_name"] = lambda name, type_, _parents: type_ != "table" or name in wanted
        scoped = sa.MetaData()
        for name in sorted(wanted & set(metadata.tables)):  # the others: no longer in it
            metadata.tables[name].to_metadata(scoped)
        metadata = scoped
    context = migration_context(connection, opts)
    found = compare_metadata(context, metadata)
    if not constraints:  # every column reflects nullable: not a difference
        found = [kept for d in found if (kept := _not_nullability(d))]
    lines = [_diff_text(d) for d in found]
    if constraints:
        lines += [f"staging table {name} has another primary key than the model's"
                  for name in stale_staging(connection, model, tables)]
    return Comparison(lines, hooks.kept)


def unrecorded_shapes(connection: sa.Connection, model: m.Model) -> list[str]:
    """The model's tables whose shape the database does not record as the model's."""
    stored = read_contract(connection) or {}
    shapes = schema.table_shapes(model, dv_contract.kept_payload(stored, model))
    return sorted(t for t, shape in shapes.items()
                  if stored.get(dv_contract.shape_item(t)) != shape)


def _not_nullability(diff: Any) -> Any:
    """An autogenerate difference less its changes of nullability (None: nothing else)."""
    if isinstance(diff, list):
        rest = [d for d in diff if not (isinstance(d, tuple) and d[0] == "modify_nullable")]
        return rest or None
    return diff


def _diff_text(diff: Any) -> str:
    if isinstance(diff, list):  # column modifications come as a list of one
        return "; ".join(_diff_text(d) for d in diff)
    kind = diff[0]
    if kind == "add_table":
        return f"table {diff[1].name} is missing"
    if kind == "add_column":
        return f"column {diff[2]}.{diff[3].name} is missing"
    if kind == "remove_column":
        return f"staging column {diff[2]}.{diff[3].name} is no longer in the model"
    if kind == "add_index":
        return f"index {diff[1].name} is missing"
    if kind == "modify_type":
        return f"column {diff[2]}.{diff[3]} is {diff[5]}, the model has {diff[6]}"
    if kind == "modify_nullable":
        return f"column {diff[2]}.{diff[3]} differs in NOT NULL"
    return " ".join(str(part) for part in diff if not isinstance(part, dict))


def environment_ready(migrations: Path) -> bool:
    """Whether a migrations folder holds an Alembic environment."""
    return (migrations / "env.py").is_file()


def versions_of(migrations: Path) -> list[Path]:
    """The migration files of a migrations folder."""
    folder = migrations / "versions"
    return sorted(folder.glob("*.py")) if folder.is_dir() else []
