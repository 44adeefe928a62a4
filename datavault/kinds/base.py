"""What a kind of entity is: every question the toolkit asks of one, answered in one place.

A kind's module (``hub.py``, ``link.py``, ``satellite.py``) subclasses ``Kind`` and registers
an instance (``datavault.kinds.register``). The project reader, the schema, the contract, the
renderer, the loader, ``query`` and the schema check ask the kind of an entity and never test
its name.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import sqlalchemy as sa

from datavault import model as m
from datavault.dialects import Dialect
from datavault.metadata.checks import Doc, Known
from datavault.metadata.yamlfile import LMap

#: what a refused change of a key says to do instead
REHASH = ("A rehash is a separate, deliberate operation: build it as a new vault (or a new "
          "hub under a new name) and load it from the sources, and keep this one as it is.")
#: how to start over an entity whose table is keyed by an old definition
RECREATE = (" (its table is keyed by the old definition: to start it over, remove the {kind} "
            "from the YAML, `datavault migrate revision --drop-removed` and upgrade, then "
            "declare {name} anew)")


@dataclass(frozen=True)
class Described:
    """What a mart sees of an entity that describes a hub or link: a PIT points at its rows, a
    bridge's ``require:`` asks whether its state is live. Its rows are keyed by ``key`` (the
    hash key of ``parent``), each has ``applied_ts``, ``load_ts`` and ``hash_diff`` (the zero
    hash diff: a deletion), and a state is one row, or several of one (applied_ts, load_ts)
    when ``multi_row`` (the members of a set)."""

    parent: str
    table: str
    key: str
    payload: tuple[str, ...]
    multi_row: bool = False
    #: a mart that lists no satellites takes it (else only when it lists it)
    by_default: bool = True
    #: payload names that are business key parts looked up in a hub: (name, the stored
    #: column of that hub's hash key, the hub, the key part)
    hub_keys: tuple[tuple[str, str, str, str], ...] = ()
    #: the declared type of each payload column (a mart's code lookup compares it)
    types: tuple[str, ...] = ()


class Readings(Protocol):
    """The readings of the vault's tables that ``query`` offers a kind to answer `query` and
    `history` with (``datavault.query`` holds them: kinds read no tables). Each answers for
    the entity named ``entity``, for ``keys`` (their text, as the kind's ``key_columns``
    name them; None: every key), as known at the load time the reading was made for."""

    #: the model the readings answer from
    model: m.Model

    def states(self, entity: str, keys: Sequence[str] | None, at: dt.datetime) -> Any:
        """Per key, the latest row at applied time ``at`` of each satellite the kind's
        ``answers`` name (``query.state``)."""

    def timeline(self, entity: str, keys: Sequence[str] | None) -> Any:
        """Every row of those satellites (``query.history``)."""

    def events(self, entity: str, keys: Sequence[str] | None, at: dt.datetime | None) -> Any:
        """The events of a non-historized link (``query.events``)."""

    def last_seen(self, entity: str, keys: Sequence[str] | None,
                  at: dt.datetime | None) -> Any:
        """When a record tracking table's source saw each key (``query.last_seen``)."""

    def spans(self, entity: str, keys: Sequence[str] | None, at: dt.datetime | None) -> Any:
        """The relationships of an effectivity satellite (``query.spans``)."""

    def codes(self, entity: str, keys: Sequence[str] | None, at: dt.datetime | None) -> Any:
        """The codes of a reference table (``query.codes``)."""

    def relationships(self, entity: str, keys: Sequence[str] | None,
                      at: dt.datetime | None) -> Any:
        """The rows of a link (``query.relationships``): with ``at``, of a same-as link or
        hierarchy, those in effect there."""

    def walk(self, entity: str, keys: Sequence[str], at: dt.datetime) -> Any:
        """Of a same-as link, each key's survivor; of a hierarchy, its ancestors
        (``query.walk_edges``)."""


class Kind:
    """One kind of entity. Subclasses set the class attributes and answer the methods."""

    #: the kind's name, in messages, contract items (``hub NAME``) and ``dv_load_audit.kind``
    name: ClassVar[str]
    #: the folder under ``models/`` whose files declare entities of this kind
    folder: ClassVar[str]
    #: what one entity of the kind is called in counts (``3 hubs``), in the singular
    unit: ClassVar[str]
    #: what its YAML file needs at least (for the message about an empty file)
    needs: ClassVar[str]
    #: the load template (``templates/<dialect>/`` or ``base/``)
    template: ClassVar[str]
    #: satellites and marts hang off its keys (hubs and links)
    is_parent: ClassVar[bool] = False
    #: it keeps history along applied time: its batches must come in load-time order, a
    #: snapshot's deletions are checked against it (the mass-delete check), and ``query``
    #: answers from it
    keeps_history: ClassVar[bool] = False
    #: its batches must come in load-time order although it keeps no history along applied
    #: time (what the first loaded batch stores stands)
    in_load_order: ClassVar[bool] = False
    #: a state is several rows (the members of a set), all of one (applied, loaded): readers
    #: take every row of the latest version, not one
    multi_row: ClassVar[bool] = False
    #: the capabilities of an engine (``Dialect`` flags) its load needs beyond inserts and
    #: queries: an engine that lacks one is told so by name before any of its SQL runs
    engine_needs: ClassVar[tuple[str, ...]] = ()

    # ---- the YAML file ----------------------------------------------------------------------
    def read(self, name: str, doc: Doc, data: LMap, known: Known) -> m.Entity | None:
        """The entity a file declares, or None: every problem is added to ``doc``, with its
        line and column. ``known`` holds what the files read before declare (kinds are read
        in registration order)."""
        raise NotImplementedError

    def note(self, known: Known, name: str, data: LMap, entity: m.Entity | None) -> None:
        """Record in ``known`` what the files read after this one may refer to (the file of
        each name is noted whether it is valid or not)."""

    def sources_named(self, data: LMap) -> set[str] | None:
        """The sources a file names as feeding it (None: the file cannot tell, so a source
        that seems to feed nothing is not reported)."""
        raise NotImplementedError

    # ---- names and tables -------------------------------------------------------------------
    def table_names(self, naming: m.Naming, name: str) -> list[str]:
        """The tables of an entity of this name, its main table first."""
        raise NotImplementedError

    def define_tables(self, model: m.Model, entity: Any, md: sa.MetaData) -> None:
        """Add the entity's tables to ``md``."""
        raise NotImplementedError

    def stage_columns(self, model: m.Model, entity: Any) -> list[sa.Column]:
        """The columns the entity adds to the staging table of a source that feeds it."""
        return []

    def stage_hashes(self, model: m.Model, entity: Any, source: m.Source,
                     dialect: Dialect) -> list[tuple[str, str]]:
        """(staging column, SQL expression over the landed row ``l``) for each of those
        columns: the hash keys and hash diffs staging computes."""
        return []

    def stage_after(self, model: m.Model, entity: Any, source: m.Source, dialect: Dialect,
                    batch: str) -> list[str]:
        """SQL statements staging runs once every row of the batch (``batch``: the SQL of its
        id) is in the staging table: values of a staging column computed over several rows,
        such as a set's hash diff."""
        return []

    def parent_of(self, entity: Any) -> str | None:
        """The hub or link whose keys the entity's rows are about, so whose deletions (a delete
        marker that ends it, SEMANTICS.md section 5) its loads record; None (this default):
        none, its rows are keyed by its own keys (a hub, a link, a reference table)."""
        return None

    # ---- the key contract -------------------------------------------------------------------
    def contract_items(self, model: m.Model, entity: Any) -> dict[str, str]:
        """What the entity's stored keys and rows depend on, as contract items: item name
        (``KIND NAME`` or ``KIND NAME.PART``) -> definition."""
        raise NotImplementedError

    def breaking(self, rest: str, before: str, after: str) -> tuple[str, bool] | None:
        """Why a change of the item ``KIND rest`` from ``before`` to ``after`` breaks stored
        history, and whether it does so even in a vault without data (the tables cannot
        follow); None: judge it as a column type change."""
        raise NotImplementedError

    def owned_tables(self, naming: m.Naming, rest: str) -> list[str]:
        """The tables that a stored contract item ``KIND rest`` says the vault made."""
        return [] if "." in rest else self.table_names(naming, rest)

    # ---- loading ----------------------------------------------------------------------------
    def load_context(self, model: m.Model, dialect: Dialect, source: m.Source, entity: Any,
                     common: dict) -> dict:
        """The template's context for a load of ``entity`` from ``source``: ``common`` (the
        batch, the staging table, the record source ...) and the kind's own names, every
        name quoted by the dialect and every text a literal."""
        raise NotImplementedError

    def history_context(self, model: m.Model, dialect: Dialect, entity: Any,
                        common: dict) -> dict:
        """A kind that keeps history: what every template over that history takes (its
        tables and keys), such as the mass-delete check of a snapshot."""
        raise NotImplementedError

    # ---- reading ----------------------------------------------------------------------------
    def answers(self, model: m.Model, entity: Any) -> tuple[str, Sequence[str]]:
        """What ``query`` and ``history`` of the entity read: the hub or link whose keys
        they list, and the satellites whose states they show."""
        raise NotImplementedError

    def key_columns(self, model: m.Model, entity: Any) -> list[tuple[str, m.Column]]:
        """The business key parts that name one of the entity's keys in ``query`` (a key
        written as its parts joined by ``|``), in order, each with its owner: the entity's
        name, or the role of a link whose hub's key it is. Only the kinds whose keys
        ``query`` takes answer (a hub, a link, and the kinds keyed by keys of their own)."""
        raise NotImplementedError

    def query_state(self, read: Readings, entity: str, keys: Sequence[str] | None,
                    at: dt.datetime) -> Any:
        """The answer of ``query`` for ``keys`` at applied time ``at`` (``query.state``);
        this default: the state of the satellites ``answers`` names, per key."""
        return read.states(entity, keys, at)

    def query_history(self, read: Readings, entity: str, keys: Sequence[str] | None) -> Any:
        """The answer of ``history`` for ``keys`` (``query.history``); this default: every
        row of the satellites ``answers`` names."""
        return read.timeline(entity, keys)

    def reads_also(self, model: m.Model, entity: Any) -> Sequence[str]:
        """The entities besides those ``answers`` names whose tables ``query`` and
        ``history`` of the entity read (the effectivity satellite that says when the edges
        of a same-as link are in effect)."""
        return ()

    def scope(self, model: m.Model, entity: Any) -> tuple[set[str], set[str]]:
        """The tables and contract items that a load of the entity writes."""
        raise NotImplementedError

    # ---- marts ------------------------------------------------------------------------------
    #: why a mart cannot point at an entity of this kind (when ``described`` says None), and
    #: what to do instead: the hint where a mart names one among its satellites
    not_in_marts: ClassVar[str] = "a mart points at satellites of the hub or link it follows"

    def described(self, model: m.Model, entity: Any) -> Described | None:
        """How marts see the entity's rows, or None: marts cannot point at it."""
        return None


def system_columns(with_load_ts: bool = True) -> list[sa.Column]:
    """The columns every vault table ends with: when and from where a row came."""
    columns = [sa.Column("load_ts", sa.DateTime(), nullable=False)] if with_load_ts else []
    return columns + [
        sa.Column("record_source", sa.Text(), nullable=False),
        sa.Column("batch_id", sa.BigInteger(), nullable=False),
    ]

