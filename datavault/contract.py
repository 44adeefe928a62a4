"""The key contract: what in a model decides the bytes and the meaning of stored history.

A database schema does not show everything that stored rows depend on: the hash algorithm, the
parts and types of a business key, a link's hubs and a payload column's declared type are not
visible in column types. The contract names each of these as one item, so that a migration can
record it in the database (table ``dv_contract``) and a model change can be judged against it:
additive and widening changes go ahead, changes that would break every key or lose data are
refused with the reason.

Beside the contract, a migration records the *shape* of each table it leaves (an item ``table
NAME`` whose definition is a digest of the table's columns and indexes, from
``schema.table_shapes``): a command compares those with the model's instead of reflecting the
database. Shapes are bookkeeping, not contract: ``compare`` leaves them out.
"""

from __future__ import annotations

from dataclasses import dataclass

from datavault import model as m
from datavault.kinds import KINDS
from datavault.kinds.base import REHASH

# Declared types a stored value converts to exactly, with the same text on every engine.
WIDENINGS: dict[str, frozenset[str]] = {
    "integer": frozenset({"decimal", "text"}),
    "uuid": frozenset({"text"}),
    "date": frozenset({"text"}),
}
# Wider in meaning, but the engines convert stored values to other text than the canonical
# one, each in its own way (SQLite's CAST turns '2026-03-02' into 2026 as a timestamp).
NOT_PORTABLE: dict[str, frozenset[str]] = {
    "decimal": frozenset({"text"}),
    "float": frozenset({"text"}),
    "boolean": frozenset({"text"}),
    "timestamp": frozenset({"text"}),
    "date": frozenset({"timestamp"}),
}
STAGING = "staging table"  # the definition of a source's item: only its table is recorded
SHAPE = "table "  # the prefix of the items that record a table's shape



def contract(model: m.Model) -> dict[str, str]:
    """The contract items of a model: item name -> definition."""
    items = {"hash": model.settings.hash, "naming": naming_item(model.settings.naming)}
    for source in model.sources.values():
        items[f"source {source.name}"] = STAGING
    for entity in model.entities.values():
        items.update(KINDS[entity.kind].contract_items(model, entity))
    return items


def naming_item(naming: m.Naming) -> str:
    """The naming item: the patterns of the hub, link and satellite tables, then those of
    any other kind that differ from the default (so that a kind added to the toolkit leaves
    the item of every vault made before it as it was)."""
    default = m.Naming()
    others = "".join(f" {name}={getattr(naming, name)}" for name in m.Naming.__dataclass_fields__
                     if name not in ("hub", "link", "satellite", "stage")
                     and getattr(naming, name) != getattr(default, name))
    return f"hub={naming.hub} link={naming.link} satellite={naming.satellite}{others}"


@dataclass(frozen=True)
class Change:
    """One item whose definition differs between the stored contract and the model."""

    item: str
    before: str | None  # None: new in the model
    after: str | None  # None: no longer in the model
    kind: str  # added | removed | widened | breaking
    reason: str = ""
    always: bool = False  # breaking even in a vault without data: the tables cannot follow

    def refused(self, holds_data: bool) -> bool:
        """Whether a migration must refuse this change."""
        return self.kind == "breaking" and (self.always or holds_data)

    def __str__(self) -> str:
        if self.kind == "added":
            return f"{self.item}: added ({self.after})"
        if self.kind == "removed":
            return f"{self.item}: no longer in the model (kept in the database)"
        text = f"{self.item}: {self.before} -> {self.after}"
        return f"{text}: {self.reason}" if self.reason else text


def is_shape(item: str) -> bool:
    """Whether an item records a table's shape rather than a contract item."""
    return item.startswith(SHAPE)


def shape_item(table: str) -> str:
    """The item that records the shape of ``table``."""
    return SHAPE + table


def compare(stored: dict[str, str], wanted: dict[str, str]) -> list[Change]:
    """Every difference between a stored contract and a model's, each classified (the
    recorded table shapes are not compared)."""
    changes = []
    for item in sorted(set(stored) | set(wanted)):
        if is_shape(item):
            continue
        before, after = stored.get(item), wanted.get(item)
        if before == after:
            continue
        if before is None:
            changes.append(Change(item, None, after, "added"))
        elif after is None:
            changes.append(Change(item, before, None, "removed"))
        else:
            changes.append(_changed(item, before, after))
    return changes


def _changed(item: str, before: str, after: str) -> Change:
    kind, _, rest = item.partition(" ")
    if item == "hash":
        return Change(item, before, after, "breaking", (
            f"every hash key and hash diff in the vault is {before}; under {after} no stored "
            "key would match a newly computed one, so every hub would get each key a second "
            "time and every satellite a new version of every row. " + REHASH))
    if item == "naming":
        return Change(item, before, after, "breaking", (
            "every table of the vault is named by these patterns; new patterns would start "
            "empty tables beside the ones that hold the history. Rename the tables in a "
            "migration of your own if that is what you mean"), always=True)
    if kind in KINDS:
        broken = KINDS[kind].breaking(rest, before, after)
        if broken is not None:
            reason, always = broken
            return Change(item, before, after, "breaking", reason, always=always)
    if after in WIDENINGS.get(before, frozenset()):
        return Change(item, before, after, "widened")
    if after in NOT_PORTABLE.get(before, frozenset()):
        return Change(item, before, after, "breaking", (
            f"converting stored {before} values to {after} would change their text, and "
            f"differently on SQLite and PostgreSQL, so earlier answers would change; only "
            f"exact widenings are allowed ({_widenings_text(before)}). Add a new column "
            "for the new type instead"))
    return Change(item, before, after, "breaking", (
        f"a {before} column cannot become {after} without losing or rejecting stored "
        f"values; only widening is allowed ({_widenings_text(before)}). Add a new column "
        "for the new type instead"))


def _widenings_text(type_name: str) -> str:
    targets = sorted(WIDENINGS.get(type_name, ()))
    if not targets:
        return f"{type_name} cannot widen"
    return f"{type_name} can become {' or '.join(targets)}"


def record(stored: dict[str, str], wanted: dict[str, str], dropping: bool) -> dict[str, str]:
    """The contract to store after a migration: the model's, plus the items of anything the
    migration keeps in the database although the model no longer has it."""
    if dropping:
        return dict(wanted)
    kept = {item: value for item, value in stored.items()
            if item not in wanted and not item.startswith("source ")  # staging is dropped
            and not is_shape(item)}  # the caller records the shapes the migration leaves
    return {**kept, **wanted}


def kept_payload(stored: dict[str, str], model: m.Model) -> dict[str, list[m.Column]]:
    """Per satellite of the model, the payload columns its table keeps that the model no
    longer declares (their items stay in the stored contract until a migration drops them),
    with their declared types: their history stays queryable."""
    kept: dict[str, list[m.Column]] = {}
    for item, definition in stored.items():
        kind, _, rest = item.partition(" ")
        sat, dot, column = rest.partition(".")
        if kind != "satellite" or not dot or sat not in model.satellites:
            continue
        if all(c.name != column for c in model.satellites[sat].payload):
            kept.setdefault(sat, []).append(m.Column(column, definition))
    return {sat: sorted(columns, key=lambda c: c.name) for sat, columns in kept.items()}


def owned_tables(stored: dict[str, str], naming: m.Naming) -> dict[str, str]:
    """The tables a stored contract says the vault made: table name -> "history" or
    "staging". Any other table in the database is someone else's and is never touched."""
    owned = {}
    for item in stored:
        kind, _, name = item.partition(" ")
        if kind in KINDS:
            owned.update((table, "history") for table in KINDS[kind].owned_tables(naming, name))
        elif kind == "source":
            owned[naming.stage_table(name)] = "staging"
    return owned
