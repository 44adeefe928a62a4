"""The validated model: frozen, typed, no I/O. Everything downstream reads only this."""

from __future__ import annotations

import calendar
import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import ClassVar, Protocol

COLUMN_TYPES = ("text", "integer", "decimal", "date", "timestamp", "boolean", "uuid", "float")
KEY_TYPES = tuple(t for t in COLUMN_TYPES if t != "float")
HASH_ALGORITHMS = ("md5", "sha256")
NULL_KEY_POLICIES = ("reject", "zero_key")
BATCH_KINDS = ("snapshot", "delta")
MART_KINDS = ("pit", "bridge")
SPINE_STEPS = ("day", "week", "month")
#: the share (percent) of a satellite's live keys one snapshot may delete, unless a source says
DEFAULT_MAX_DELETES = Decimal(50)


@dataclass(frozen=True)
class Column:
    """A named, typed column."""

    name: str
    type: str


INPUT_FORMATS = ("csv", "parquet", "jsonl", "debezium")
#: the fields of a Debezium change event's envelope a source column may take (``input:
#: fields:``): the operation, the times, the log position read by the connector's fields; and
#: any field under these prefixes, by its dotted path
CHANGE_FIELDS = ("op", "ts_ms", "ts_us", "ts_ns", "position")
CHANGE_FIELD_PREFIXES = ("source.", "transaction.")


@dataclass(frozen=True)
class InputFormat:
    """How a source's files are read (its ``input:`` in YAML)."""

    format: str | None = None  # csv, parquet or jsonl; None: by the file's name, else csv
    delimiter: str = ","
    quote: str | None = '"'  # None: fields are never quoted
    escape: str | None = None  # None: a quote inside a quoted field is doubled
    encoding: str = "utf-8"
    header: bool = True  # False: the columns are the source's, in declared order
    #: format debezium: the columns taken from the event's envelope, each with its field
    #: (CHANGE_FIELDS); every other column is read from the row (``after``, ``before``)
    fields: tuple[tuple[str, str], ...] = ()

    def field_of(self, column: str) -> str | None:
        """The envelope field a column of a change event source takes, if one."""
        return next((f for c, f in self.fields if c == column), None)


@dataclass(frozen=True)
class DeleteMarker:
    """How a row of a delta source says its record was deleted (SEMANTICS.md section 5): the
    value of ``column`` is one of ``values`` (canonical texts of section 1, compared as they
    are: no trimming, no case folding). ``ends``: the hubs and links whose satellites a marked
    row deletes (empty: every parent the source's satellites hang off; validation allows that
    only where there is one)."""

    column: str
    values: tuple[str, ...]
    ends: tuple[str, ...] = ()


#: checks that judge each row (a failing row is quarantined), then those that judge a batch
ROW_CHECKS = ("not_null", "accepted_values", "range", "pattern", "length")
BATCH_CHECKS = ("unique", "freshness", "volume", "drift")
CHECK_SEVERITIES = ("warn", "stop")


@dataclass(frozen=True)
class Check:
    """A data-quality check of a source's batches (SEMANTICS.md section 11). Values read from
    YAML are kept as canonical texts of their column's type (``values``: accepted values or a
    drift check's bin edges; ``low``/``high``: a range's bounds, or a length's or a volume's
    counts as integers)."""

    name: str
    test: str
    columns: tuple[str, ...] = ()
    values: tuple[str, ...] = ()
    low: str | None = None
    high: str | None = None
    exclusive: bool = False
    pattern: str | None = None
    #: a batch check's: warn (record and load) or stop (refuse the batch)
    severity: str = "warn"
    max_age: dt.timedelta | None = None
    #: volume: the largest difference from the recent mean, a percentage
    within: Decimal | None = None
    #: volume and drift: how many recent loaded batches make the baseline, and the fewest
    batches: int = 7
    min_batches: int = 3
    #: drift: the population stability index above which the check fails
    threshold: Decimal = Decimal("0.2")

    @property
    def per_row(self) -> bool:
        return self.test in ROW_CHECKS


@dataclass(frozen=True)
class Source:
    """A source of batches: its columns, record source name and how applied time is found."""

    name: str
    record_source: str
    columns: tuple[Column, ...]
    batch: str = "delta"
    applied_at: str | None = None  # a column name; None means the batch's load time
    sequence: str | None = None  # orders observations of one key and applied time in a batch
    description: str = ""
    input: InputFormat = field(default_factory=InputFormat)
    #: a snapshot source: the largest share (percent, 0 to 100) of the keys a satellite holds
    #: live that one batch may delete; 100 turns the check off
    max_deletes: Decimal = DEFAULT_MAX_DELETES
    #: how a row says its record was deleted; None: no row does
    deleted: DeleteMarker | None = None
    #: data-quality checks of its batches, in declared order
    checks: tuple[Check, ...] = ()

    @property
    def row_checks(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.per_row)

    @property
    def batch_checks(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.per_row)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    def deletes(self, parent: str) -> bool:
        """Whether a marked row of this source deletes the key it gives the satellites of
        ``parent`` (a hub or link)."""
        return self.deleted is not None and (not self.deleted.ends or parent in self.deleted.ends)


@dataclass(frozen=True)
class HubFeed:
    """The source columns that carry a hub's business key parts, in key order."""

    source: str
    columns: tuple[str, ...]


@dataclass(frozen=True)
class Hub:
    """A hub: a business key (one or more typed parts) fed by one or more sources."""

    kind: ClassVar[str] = "hub"
    name: str
    key: tuple[Column, ...]
    feeds: tuple[HubFeed, ...]
    description: str = ""

    def feed(self, source: str) -> HubFeed | None:
        return next((f for f in self.feeds if f.source == source), None)

    def fed_by(self, source: str) -> bool:
        return self.feed(source) is not None


@dataclass(frozen=True)
class LinkRole:
    """One hub that a link joins, under a role name (the hub's name unless given)."""

    role: str
    hub: str


@dataclass(frozen=True)
class LinkFeed:
    """Per role, the source columns that carry that hub's key parts."""

    source: str
    columns: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Link:
    """A link: a relationship between two or more hubs."""

    kind: ClassVar[str] = "link"
    name: str
    roles: tuple[LinkRole, ...]
    feeds: tuple[LinkFeed, ...]
    description: str = ""
    #: a same-as link (SEMANTICS.md section 10): (duplicate role, survivor role); () if not
    same_as: tuple[str, ...] = ()
    #: a hierarchy (SEMANTICS.md section 10): (child role, parent role); () if not
    hierarchy: tuple[str, ...] = ()

    @property
    def edge(self) -> tuple[str, ...]:
        """The roles an edge of a same-as link or hierarchy goes from and to; () if neither."""
        return self.same_as or self.hierarchy

    def feed(self, source: str) -> LinkFeed | None:
        return next((f for f in self.feeds if f.source == source), None)

    def fed_by(self, source: str) -> bool:
        return self.feed(source) is not None


@dataclass(frozen=True)
class PayloadColumn:
    """A satellite column and the source column it comes from."""

    name: str
    source_column: str
    type: str


@dataclass(frozen=True)
class Satellite:
    """Descriptive history of a hub or link key, fed by one source."""

    kind: ClassVar[str] = "satellite"
    name: str
    parent: str
    parent_kind: str  # "hub" or "link"
    source: str
    payload: tuple[PayloadColumn, ...]
    description: str = ""

    def fed_by(self, source: str) -> bool:
        return self.source == source

    @property
    def key_column(self) -> str:
        """The column of its parent's hash key, in its tables."""
        return (hub_key_column(self.parent) if self.parent_kind == "hub"
                else link_key_column(self.parent))

    @property
    def stage_key(self) -> str:
        """The column of its parent's hash key in the staging table."""
        return (stage_hub_key(self.parent) if self.parent_kind == "hub"
                else stage_link_key(self.parent))


@dataclass(frozen=True)
class NonHistorizedLink:
    """A non-historized (transactional) link: events that never change once they happened
    (SEMANTICS.md section 8), each under its event key (the link key of its roles, then the
    event key columns), inserted once with its payload; the first one loaded stands."""

    kind: ClassVar[str] = "nonhistorized_link"
    name: str
    roles: tuple[LinkRole, ...]
    feeds: tuple[LinkFeed, ...]
    #: the columns that tell events of the same roles apart (business key parts), as stored
    event_key: tuple[PayloadColumn, ...]
    payload: tuple[PayloadColumn, ...]
    description: str = ""

    def feed(self, source: str) -> LinkFeed | None:
        return next((f for f in self.feeds if f.source == source), None)

    def fed_by(self, source: str) -> bool:
        return self.feed(source) is not None


@dataclass(frozen=True)
class RecordTracking:
    """When a source last saw each key of a hub or link it feeds (SEMANTICS.md section 5): one
    row per key and applied time of the source's unmarked rows, with the load time of the
    first batch that gave it."""

    kind: ClassVar[str] = "record_tracking"
    name: str
    parent: str
    parent_kind: str  # "hub" or "link"
    source: str
    description: str = ""

    def fed_by(self, source: str) -> bool:
        return self.source == source

    @property
    def key_column(self) -> str:
        """The column of its parent's hash key, in its table."""
        return (hub_key_column(self.parent) if self.parent_kind == "hub"
                else link_key_column(self.parent))

    @property
    def stage_key(self) -> str:
        """The column of its parent's hash key in the staging table."""
        return (stage_hub_key(self.parent) if self.parent_kind == "hub"
                else stage_link_key(self.parent))


@dataclass(frozen=True)
class MultiActiveSatellite:
    """Several rows per parent key and applied time, fed by one source (SEMANTICS.md section
    7): the rows of a key and applied time are one set of members, a version stored whole.
    ``child_key``: payload columns that tell the members of one set apart (none: a plain
    set)."""

    kind: ClassVar[str] = "multi_active_satellite"
    name: str
    parent: str
    parent_kind: str  # "hub" or "link"
    source: str
    payload: tuple[PayloadColumn, ...]
    child_key: tuple[str, ...] = ()
    description: str = ""

    def fed_by(self, source: str) -> bool:
        return self.source == source

    @property
    def key_column(self) -> str:
        """The column of its parent's hash key, in its tables."""
        return (hub_key_column(self.parent) if self.parent_kind == "hub"
                else link_key_column(self.parent))

    @property
    def stage_key(self) -> str:
        """The column of its parent's hash key in the staging table."""
        return (stage_hub_key(self.parent) if self.parent_kind == "hub"
                else stage_link_key(self.parent))


@dataclass(frozen=True)
class EffectivitySatellite:
    """Which relationship of a link is in effect for each driving key, along applied time
    (SEMANTICS.md section 6), fed by one source of the link: a satellite keyed by the
    driving key (the key strings of ``driving_key``'s roles, hashed as a link key is) whose
    hash diff is the link key of the relationship, the other roles' hub keys its payload."""

    kind: ClassVar[str] = "effectivity_satellite"
    name: str
    link: str
    #: the roles of the link that make the driving key, in the link's role order
    driving_key: tuple[str, ...]
    #: the link's other roles, in its order
    other_roles: tuple[str, ...]
    source: str
    description: str = ""

    def fed_by(self, source: str) -> bool:
        return self.source == source

    @property
    def key_column(self) -> str:
        """The column of the driving key, in its tables."""
        return DRIVING_KEY_COLUMN

    @property
    def stage_key(self) -> str:
        """The column of the driving key in the staging table."""
        return stage_hub_key(self.name)


#: the column of an effectivity satellite's driving key
DRIVING_KEY_COLUMN = "driving_hk"


@dataclass(frozen=True)
class ReferenceTable:
    """A code list (SEMANTICS.md section 9): codes of one or more typed parts, stored as they
    are and not hashed (one row per code, the first batch that gives it), and the history of
    each code's description columns, keyed by the code's text (``hashing.code_text``)."""

    kind: ClassVar[str] = "reference_table"
    name: str
    source: str
    #: the code's parts, each a column of the source under its own name
    code: tuple[Column, ...]
    #: the description columns (possibly none), each a column of the source
    payload: tuple[PayloadColumn, ...]
    description: str = ""

    def fed_by(self, source: str) -> bool:
        return self.source == source

    @property
    def stage_code(self) -> str:
        """The staging column of each row's code text (NULL: a part is missing)."""
        return f"dv_code_{self.name}"


#: the column of a reference table's code text, the key of its tables
CODE_COLUMN = "dv_code"


@dataclass(frozen=True)
class Spine:
    """The snapshot times of a mart, in applied time (a date means its midnight, UTC).

    Exactly one form is set: explicit ``dates``; a calendar range (``every`` step from
    ``start`` to ``end``); or a retention ``ladder`` of (step, count) reaching back from
    ``end``. ``end`` None means the day the mart is built.
    """

    dates: tuple[dt.datetime, ...] = ()
    every: str | None = None
    start: dt.date | None = None
    end: dt.date | None = None
    ladder: tuple[tuple[str, int | None], ...] = ()

    def count(self, today: dt.date) -> int:
        """How many snapshots the spine makes (as of ``today`` without ``end``), counted
        without making them; SpineError when it reaches outside the calendar."""
        try:
            if self.dates:
                return len(self.dates)
            if self.every:
                assert self.start is not None
                return _every_count(self.start, self.end or today, self.every)
            return sum(_aligned_count(first, last, step)
                       for first, last, step in self._rungs(today))
        except (ValueError, OverflowError):
            raise SpineError("the spine reaches outside the calendar (years 1 to 9999)",
                             "check its from:, to: and the ladder's for:") from None

    def check(self, today: dt.date) -> int:
        """The number of snapshots; SpineError when it is more than MAX_SNAPSHOTS or the
        spine reaches outside the calendar."""
        count = self.count(today)
        if count > MAX_SNAPSHOTS:
            raise SpineError(f"the spine makes {count:,} snapshots, more than "
                             f"{MAX_SNAPSHOTS:,}",
                             "a mart holds a row per key and snapshot; "
                             + ("list fewer dates" if self.dates
                                else "check from:, to: and the step"))
        return count

    def snapshots(self, today: dt.date) -> list[dt.datetime]:
        """The snapshot times, oldest first; ``today`` ends a spine without ``end``.
        SpineError when there would be more than MAX_SNAPSHOTS of them."""
        count = self.check(today)
        if self.dates:
            return sorted(self.dates)
        days: set[dt.date] = set()
        if self.every:
            assert self.start is not None
            days.update(_shift(self.start, self.every, n) for n in range(count))
        for first, last, step in [] if self.every else self._rungs(today):
            day = first
            while day < last:
                if _aligned(day, step):
                    days.add(day)
                day += dt.timedelta(days=1)
        return sorted(dt.datetime(d.year, d.month, d.day) for d in days)

    def _rungs(self, today: dt.date) -> list[tuple[dt.date, dt.date, str]]:
        """The ladder's spans, (first day, day after the last, step), from the latest back;
        they do not overlap."""
        spans = []
        span_end = (self.end or today) + dt.timedelta(days=1)  # exclusive
        for step, count in self.ladder:
            span_start = self.start if count is None else _shift(span_end, step, -count)
            assert span_start is not None
            if self.start and span_start < self.start:
                span_start = self.start
            spans.append((span_start, span_end, step))
            span_end = span_start
            if self.start and span_end <= self.start:
                break
        return spans


MAX_SNAPSHOTS = 100_000


class SpineError(ValueError):
    """A spine that cannot be made: too many snapshots, or days outside the calendar."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message, self.hint = message, hint


def _shift(day: dt.date, step: str, n: int) -> dt.date:
    """``day`` moved by ``n`` steps; a month step keeps the day of the month where it can."""
    if step == "day":
        return day + dt.timedelta(days=n)
    if step == "week":
        return day + dt.timedelta(weeks=n)
    month = day.month - 1 + n
    year = day.year + month // 12
    month = month % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _aligned(day: dt.date, step: str) -> bool:
    """Ladder snapshots fall on calendar boundaries (every day, Mondays, first days of
    months), so most of them stay put as the days go by."""
    return step == "day" or (step == "week" and day.weekday() == 0) or (
        step == "month" and day.day == 1)


def _every_count(start: dt.date, end: dt.date, step: str) -> int:
    """How many of ``start`` + n steps (n = 0, 1, ...) are on or before ``end``."""
    if end < start:
        return 0
    if step == "day":
        return (end - start).days + 1
    if step == "week":
        return (end - start).days // 7 + 1
    months = (end.year - start.year) * 12 + end.month - start.month
    return months + (1 if _shift(start, step, months) <= end else 0)


def _aligned_count(first: dt.date, last: dt.date, step: str) -> int:
    """How many ``step``-aligned days (see _aligned) are from ``first`` up to ``last``,
    excluded."""
    if last <= first:
        return 0
    if step == "day":
        return (last - first).days
    if step == "week":
        monday = first + dt.timedelta(days=-first.weekday() % 7)
        return max(0, ((last - monday).days + 6) // 7)
    months = (last.year - first.year) * 12 + last.month - first.month
    return months + (1 if first.day == 1 else 0) - (1 if last.day == 1 else 0)


@dataclass(frozen=True)
class CodeLookup:
    """A mart's lookup of a code in a reference table (SEMANTICS.md section 4): the columns
    of its rows that hold the code's parts, and the prefix of the description columns its
    views show."""

    name: str
    reference_table: str
    #: per code part, in the code's order: (the part, the satellite or hub whose column
    #: holds it, that column)
    columns: tuple[tuple[str, str, str], ...]
    prefix: str

    def label(self, column: str) -> str:
        """The views' name of one of the reference table's description columns."""
        return f"{self.prefix}{column}"


@dataclass(frozen=True)
class Mart:
    """A point-in-time mart: a PIT over a hub or link and some of its satellites, or a
    bridge along a hub-link-hub path; both at the snapshots of a spine."""

    name: str
    kind: str  # "pit" or "bridge"
    spine: Spine
    parent: str = ""  # pit: the hub or link whose keys it follows
    parent_kind: str = ""  # "hub" or "link"
    satellites: tuple[str, ...] = ()  # pit: pointed at; bridge: what makes a step live
    path: tuple[str, ...] = ()  # bridge: hub, link, hub[, link, hub ...]
    description: str = ""
    #: reference tables whose descriptions the views show beside the codes the rows hold
    codes: tuple[CodeLookup, ...] = ()
    #: bridge: effectivity satellites of links on the path; a row of such a link is on the
    #: bridge at a snapshot when its relationship is the one in effect then
    effective: tuple[str, ...] = ()
    #: bridge: per link of the path, the roles its step goes from and to (the hub before it
    #: and the hub after it); () for a mart made without them, whose hubs appear once
    roles: tuple[tuple[str, str], ...] = ()

    @property
    def places(self) -> tuple[str, ...]:
        """A bridge's name for each place of its path (``bridge_places``)."""
        return bridge_places(self.path, self.roles)

    @property
    def shown_path(self) -> str:
        """The path for people: ``part (child) -> part_hierarchy -> part (parent)``."""
        return " -> ".join(name if place == name else f"{name} ({place})"
                           for name, place in zip(self.path, self.places))

    @property
    def table(self) -> str:
        """The mart's table: ``pit_NAME`` or ``bridge_NAME``."""
        return f"{self.kind}_{self.name}"

    def view(self, which: str) -> str:
        """One of the mart's views for people: ``NAME_current``, ``_history``, ``_snapshot``."""
        return f"{self.name}_{which}"


MART_VIEWS = ("current", "history", "snapshot")
#: the marts built, and the last batch each took in (``datavault.marts``)
MART_TABLE = "dv_mart"
#: the columns the views add themselves
VIEW_COLUMNS = frozenset({"snapshot_at", "valid_from", "valid_to"})


def view_labels(columns: list[tuple[str, str]], taken: Iterable[str] = frozenset()) -> list[str]:
    """View labels of (owner, column) pairs: the column's own name, or ``OWNER_COLUMN`` where
    two owners share it or the view already has a column of that name."""
    counts = Counter(column for _, column in columns)
    taken = set(taken) | VIEW_COLUMNS
    return [column if counts[column] == 1 and column not in taken else f"{owner}_{column}"
            for owner, column in columns]


def bridge_places(path: tuple[str, ...], roles: tuple[tuple[str, str], ...]
                  ) -> tuple[str, ...]:
    """A bridge's name for each place of its ``path``, given the roles each link step goes
    from and to: the name of its column ``NAME_hk`` in the bridge table, and the owner of its
    business key columns in the views. A link, and a hub that the path names once, are named
    by their own name; a hub that it names more than once by its role in each place (in the
    link before it; the first place, in the link after it)."""
    hubs = path[::2]
    names = []
    for n, name in enumerate(path):
        if n % 2 or hubs.count(name) == 1 or not roles:
            names.append(name)
        else:
            names.append(roles[n // 2 - 1][1] if n else roles[0][0])
    return tuple(names)


def resolution_view(link: str) -> str:
    """The view of a same-as link that resolves each key to its survivor along applied time
    (SEMANTICS.md section 10)."""
    return f"{link}__resolved"


@dataclass(frozen=True)
class Naming:
    """Table name patterns; ``{name}`` is the entity's name."""

    hub: str = "hub_{name}"
    link: str = "link_{name}"
    satellite: str = "sat_{name}"
    stage: str = "stg_{name}"
    nonhistorized_link: str = "nhl_{name}"
    multi_active_satellite: str = "msat_{name}"
    record_tracking: str = "rts_{name}"
    effectivity_satellite: str = "eff_{name}"
    reference_table: str = "ref_{name}"

    def hub_table(self, hub: str) -> str:
        return self.hub.format(name=hub)

    def link_table(self, link: str) -> str:
        return self.link.format(name=link)

    def sat_table(self, sat: str) -> str:
        return self.satellite.format(name=sat)

    def sat_log_table(self, sat: str) -> str:
        """The narrow log of observations that did not become satellite rows."""
        return f"{self.sat_table(sat)}__obs"

    def stage_table(self, source: str) -> str:
        return self.stage.format(name=source)

    def nonhistorized_link_table(self, name: str) -> str:
        return self.nonhistorized_link.format(name=name)

    def msat_table(self, msat: str) -> str:
        return self.multi_active_satellite.format(name=msat)

    def record_tracking_table(self, name: str) -> str:
        return self.record_tracking.format(name=name)

    def msat_log_table(self, msat: str) -> str:
        """The narrow log of observations of sets that did not become rows."""
        return f"{self.msat_table(msat)}__obs"

    def eff_table(self, eff: str) -> str:
        return self.effectivity_satellite.format(name=eff)

    def eff_log_table(self, eff: str) -> str:
        """The narrow log of observations of relationships that did not become rows."""
        return f"{self.eff_table(eff)}__obs"

    def ref_table(self, name: str) -> str:
        """A reference table's codes."""
        return self.reference_table.format(name=name)

    def ref_desc_table(self, name: str) -> str:
        """The history of a reference table's descriptions."""
        return f"{self.ref_table(name)}__desc"

    def ref_log_table(self, name: str) -> str:
        """The narrow log of description observations that did not become rows."""
        return f"{self.ref_table(name)}__obs"


# Column names of the vault's own columns: one rule each, used by validation and schema alike.
def hub_key_column(hub: str) -> str:
    return f"{hub}_hk"


def link_key_column(link: str) -> str:
    return f"{link}_hk"


def role_key_column(role: str) -> str:
    return f"{role}_hk"


def stage_hub_key(hub: str) -> str:
    return f"dv_hk_{hub}"


def stage_link_key(link: str) -> str:
    return f"dv_hk_{link}"


def stage_role_key(link: str, role: str) -> str:
    return f"dv_hk_{link}__{role}"


def stage_hash_diff(sat: str) -> str:
    return f"dv_hd_{sat}"


#: the staging column that flags a row of a source with delete markers: 1 marked, else 0
STAGE_DELETED = "dv_deleted"


@dataclass(frozen=True)
class Settings:
    """Project settings from ``config/``."""

    hash: str = "md5"
    null_keys: str = "reject"
    naming: Naming = field(default_factory=Naming)
    profiles: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()
    profile: str | None = None


class Entity(Protocol):
    """What every entity of the model is, whatever its kind (``datavault.kinds``)."""

    kind: ClassVar[str]
    name: str
    description: str

    def fed_by(self, source: str) -> bool: ...


@dataclass(frozen=True)
class Model:
    """A whole validated project model.

    ``entities``: every hub, link, satellite (and entity of any other kind) by name, in the
    order of their kinds' registration (``datavault.kinds.KINDS``: the order a batch loads
    them in), then of their names; names are unique across kinds."""

    settings: Settings
    sources: dict[str, Source]
    entities: dict[str, Entity]
    marts: dict[str, Mart] = field(default_factory=dict)

    def group(self, kind: str) -> dict:
        """The entities of one kind, by name."""
        return {n: e for n, e in self.entities.items() if e.kind == kind}

    @cached_property
    def hubs(self) -> dict[str, Hub]:
        return self.group("hub")

    @cached_property
    def links(self) -> dict[str, Link]:
        return self.group("link")

    @cached_property
    def satellites(self) -> dict[str, Satellite]:
        return self.group("satellite")

    # ---- naming -------------------------------------------------------------------------
    def hub_table(self, hub: str) -> str:
        return self.settings.naming.hub_table(hub)

    def link_table(self, link: str) -> str:
        return self.settings.naming.link_table(link)

    def sat_table(self, sat: str) -> str:
        return self.settings.naming.sat_table(sat)

    def sat_log_table(self, sat: str) -> str:
        return self.settings.naming.sat_log_table(sat)

    def stage_table(self, source: str) -> str:
        return self.settings.naming.stage_table(source)

    def parent_table(self, parent: str) -> str:
        """The table of a hub or a link."""
        return self.hub_table(parent) if parent in self.hubs else self.link_table(parent)

    def parent_key(self, parent: str) -> str:
        """The hash key column of a hub or a link."""
        return hub_key_column(parent) if parent in self.hubs else link_key_column(parent)

    def entity_kind(self, name: str) -> str | None:
        """The kind of an entity (``hub``, ``link``, ``satellite``, ...); None: no such one."""
        entity = self.entities.get(name)
        return None if entity is None else entity.kind

    # ---- who feeds what -----------------------------------------------------------------
    def edge_effectivity(self, link: str) -> EffectivitySatellite | None:
        """The effectivity satellite that says when the edges of a same-as link or hierarchy
        are in effect (its driving key the edge's first role alone; SEMANTICS.md section 10),
        or None: every edge loaded is in effect from the start of time."""
        edge = self.links[link].edge
        return next((e for e in self.entities.values()
                     if isinstance(e, EffectivitySatellite) and e.link == link and edge
                     and e.driving_key == edge[:1]), None)

    def hubs_of(self, source: str) -> list[Hub]:
        return [h for h in self.hubs.values() if h.fed_by(source)]

    def links_of(self, source: str) -> list[Link]:
        return [lk for lk in self.links.values() if lk.fed_by(source)]

    def satellites_of(self, source: str) -> list[Satellite]:
        return [s for s in self.satellites.values() if s.fed_by(source)]

    def entities_of(self, source: str) -> list[str]:
        """Every entity a source feeds, in load order (hubs, then links, then satellites)."""
        return [e.name for e in self.entities.values() if e.fed_by(source)]

    def key_of_hub_role(self, link: Link, role: LinkRole) -> tuple[Column, ...]:
        return self.hubs[role.hub].key
