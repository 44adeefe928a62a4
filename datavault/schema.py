"""Model to SQLAlchemy MetaData: the one description of every table, for DDL and Alembic."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from datavault import kinds
from datavault import model as m
from datavault.dialects.types import column_type, declared_type, hash_type  # noqa: F401
from datavault.model import (  # noqa: F401  (naming rules, re-exported)
    hub_key_column,
    link_key_column,
    role_key_column,
    stage_hash_diff,
    stage_hub_key,
    stage_link_key,
    stage_role_key,
)

BATCH_TABLE = "dv_batch"
# The states of a batch in dv_batch (datavault.load.batches says what each means).
BATCH_STAGING, BATCH_STAGED, BATCH_LOADING = "staging", "staged", "loading"
BATCH_LOADED, BATCH_PARTLY, BATCH_FAILED = "loaded", "partly loaded", "failed"
#: the vault may hold part of such a batch: readers answer as known before it
BATCH_UNFINISHED = (BATCH_STAGING, BATCH_STAGED, BATCH_LOADING, BATCH_PARTLY)
AUDIT_TABLE = "dv_load_audit"
QUARANTINE_TABLE = "dv_quarantine"
CONTRACT_TABLE = "dv_contract"
CHECK_TABLE = "dv_check"

def sat_key_column(sat: m.Satellite) -> str:
    """The column of a satellite's parent hash key."""
    return sat.key_column


_CACHE: dict[int, tuple[m.Model, sa.MetaData]] = {}


def metadata_for(model: m.Model) -> sa.MetaData:
    """The MetaData of a model, built once per model object (models are frozen), so that
    SQLAlchemy's statement cache works across calls."""
    hit = _CACHE.get(id(model))
    if hit is None or hit[0] is not model:
        if len(_CACHE) > 16:
            _CACHE.clear()
        hit = _CACHE[id(model)] = (model, build_metadata(model))
    return hit[1]


def build_metadata(model: m.Model) -> sa.MetaData:
    """Every table of the vault: hubs, links, satellites and their logs, stages, bookkeeping."""
    md = sa.MetaData()
    _bookkeeping(md)
    if any(source.checks for source in model.sources.values()):
        _check_results(md)
    for kind in kinds.KINDS.values():
        for _, entity in sorted(model.group(kind.name).items()):
            kind.define_tables(model, entity, md)
    for source in sorted(model.sources.values(), key=lambda s: s.name):
        stage_table(model, source, md)
    return md


def with_kept(table: sa.Table, kept: Sequence[m.Column]) -> sa.Table:
    """A satellite's table with the payload columns the database keeps that the model no
    longer declares (``contract.kept_payload``), in a MetaData of its own."""
    if not kept:
        return table
    table = table.to_metadata(sa.MetaData())
    for column in kept:
        table.append_column(sa.Column(column.name, column_type(column.type)))
    return table


def table_shapes(model: m.Model,
                 kept: Mapping[str, Sequence[m.Column]] | None = None) -> dict[str, str]:
    """Per table of the model, a digest of its shape: each column's name, type (with every
    dialect's variant), NOT NULL and primary key, and its indexes and unique constraints; not
    its comment, nor the order of its columns, which no migration changes. ``kept``: per
    satellite, the payload columns its table keeps although the model no longer declares
    them. A migration records these shapes (``contract.SHAPE``), so that a command can tell
    that a table is as the model wants it without reflecting it."""
    md = metadata_for(model)
    kept = kept or {}
    extra = {model.sat_table(sat): columns for sat, columns in kept.items()}
    texts: dict[int, str] = {}

    def type_text(type_: Any) -> str:
        text = texts.get(id(type_))
        if text is None:
            variants = getattr(type_, "_variant_mapping", {})
            text = texts[id(type_)] = repr(type_) + "".join(
                f" {name}:{variants[name]!r}" for name in sorted(variants))
        return text

    shapes = {}
    for table in md.tables.values():
        lines = [f"{c.name} {type_text(c.type)}{'' if c.nullable else ' not null'}"
                 f"{' pk' if c.primary_key else ''}" for c in table.columns]
        lines += [f"{c.name} {type_text(column_type(c.type))}"
                  for c in extra.get(table.name, ())]
        lines.sort()
        lines += sorted(f"index {i.name} {','.join(c.name for c in i.columns)}"
                        f"{' unique' if i.unique else ''}" for i in table.indexes)
        lines += sorted(f"unique {','.join(c.name for c in u.columns)}"
                        for u in table.constraints if isinstance(u, sa.UniqueConstraint))
        shapes[table.name] = hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]
    return shapes


def stage_table(model: m.Model, source: m.Source, md: sa.MetaData) -> sa.Table:
    """The staging table of a source: the rows of its batches that are staged and not yet
    loaded by every entity they feed, with hash keys and hash diffs. Each batch reads only
    its own rows (``dv_batch_id``), which are removed once all its entity loads succeeded."""
    columns = [
        sa.Column("dv_batch_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("dv_row", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("dv_loaded_at", sa.DateTime(), nullable=False),
        sa.Column("dv_applied_at", sa.DateTime(), nullable=False),
        *[sa.Column(c.name, column_type(c.type)) for c in source.columns],
    ]
    if source.deleted is not None:  # 1 where the row's delete marker says deleted, else 0
        # (nullable: a migration that adds a marker to a source adds the column to a
        # staging table that may hold an unfinished batch)
        columns.append(sa.Column(m.STAGE_DELETED, sa.SmallInteger()))
    for name in model.entities_of(source.name):
        columns += kinds.kind_of(model, name).stage_columns(model, model.entities[name])
    return sa.Table(model.stage_table(source.name), md, *columns,
                    comment=f"staged batches of source {source.name} not yet fully loaded")


def landing_table(source: m.Source) -> sa.Table:
    """The per-session temporary table a batch lands in before hashing (not in MetaData)."""
    return sa.Table(
        f"dv_land_{source.name}", sa.MetaData(),
        sa.Column("dv_row", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("dv_applied_at", sa.DateTime()),
        *[sa.Column(c.name, column_type(c.type)) for c in source.columns],
        prefixes=["TEMPORARY"],
    )


def raw_table(source: m.Source, prefixes: Sequence[str] = ("TEMPORARY",)) -> sa.Table:
    """The table a batch is copied into as text, for the staging transaction only
    (``Dialect.raw_table_prefixes`` says how it is made): its row number, whether SQL may
    type its texts, and one column per source column, in declared order (``c0``, ``c1``,
    ...)."""
    return sa.Table(
        f"dv_raw_{source.name}", sa.MetaData(),
        sa.Column("dv_row", sa.BigInteger(), nullable=False),
        sa.Column("dv_ok", sa.Boolean(), nullable=False),
        *[sa.Column(f"c{i}", sa.Text()) for i in range(len(source.columns))],
        prefixes=list(prefixes),
    )


def contract_table(md: sa.MetaData) -> sa.Table:
    """The key contract the schema was last migrated to (see datavault.contract)."""
    return sa.Table(
        CONTRACT_TABLE, md,
        sa.Column("item", sa.Text(), primary_key=True),
        sa.Column("definition", sa.Text(), nullable=False),
        comment="what stored keys and hash diffs depend on; written by migrations",
    )


def _bookkeeping(md: sa.MetaData) -> None:
    contract_table(md)
    sa.Table(
        BATCH_TABLE, md,
        sa.Column("batch_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("input", sa.Text(), nullable=False),
        sa.Column("loaded_at", sa.DateTime(), nullable=False, unique=True),
        sa.Column("applied_at", sa.DateTime()),
        sa.Column("snapshot_at", sa.DateTime()),
        sa.Column("rows_read", sa.BigInteger()),
        sa.Column("rows_staged", sa.BigInteger()),
        sa.Column("rows_quarantined", sa.BigInteger()),
        sa.Column("status", sa.Text(), nullable=False),
        # the batch ledger: what the input was, what the batch loads, how it went
        sa.Column("checksum", sa.Text()),
        sa.Column("input_bytes", sa.BigInteger()),
        sa.Column("entities", sa.Text()),
        sa.Column("started_at", sa.DateTime()),
        sa.Column("finished_at", sa.DateTime()),
        sa.Column("message", sa.Text()),
        comment="one row per batch; loaded_at increases strictly from batch to batch",
    )
    sa.Table(
        AUDIT_TABLE, md,
        sa.Column("batch_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("entity", sa.Text(), primary_key=True),
        sa.Column("started_at", sa.DateTime(), primary_key=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("rows_staged", sa.BigInteger(), nullable=False),
        sa.Column("rows_inserted", sa.BigInteger(), nullable=False),
        sa.Column("rows_quarantined", sa.BigInteger(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("message", sa.Text()),
        # satellite rows that record a deletion (not in rows_inserted); NULL before it was kept
        sa.Column("rows_deleted", sa.BigInteger()),
        comment="one row per entity load",
    )
    sa.Table(
        QUARANTINE_TABLE, md,
        sa.Column("batch_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("entity", sa.Text(), primary_key=True),
        sa.Column("row_number", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("data", sa.Text()),
        comment="rows that could not be loaded, with the reason; entity '' is the whole row",
    )


def _check_results(md: sa.MetaData) -> None:
    """The runs of checks at entry: a table of a model some of whose sources have checks."""
    sa.Table(
        CHECK_TABLE, md,
        sa.Column("batch_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("check_name", sa.Text(), primary_key=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("test", sa.Text(), nullable=False),
        # a batch check's warn or stop; NULL for a row check, which quarantines
        sa.Column("severity", sa.Text()),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("measured", sa.Text()),
        sa.Column("expected", sa.Text()),
        sa.Column("rows_failed", sa.BigInteger()),
        sa.Column("message", sa.Text()),
        # a drift check's counts per bin (JSON), which later runs pool
        sa.Column("profile", sa.Text()),
        sa.Column("checked_at", sa.DateTime(), nullable=False),
        comment="one row per run of a source's check (SEMANTICS.md section 11)",
    )
