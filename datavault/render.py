"""Render load SQL from Jinja templates: one template per load pattern, per-dialect overrides.

Search order for a template NAME: the project's ``templates/<dialect>/NAME``, the project's
``templates/base/NAME``, then the shipped ``<dialect>/NAME`` and ``base/NAME``. Rendering
never connects to a database.

Every table and column name a context gives is SQL as written: quoted by ``Dialect.quote``
where the engine needs it (a reserved word); every text from the model is a literal of
``Dialect.text_literal``. Names that templates put together from pieces (``{sat}_hk``) end
in a suffix no engine reserves.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from datavault import kinds, quality, schema
from datavault import model as m
from datavault.dialects import Dialect
from datavault.dialects.syntax import Syntax, split, with_parameters
from datavault.resources import templates_dir

if TYPE_CHECKING:
    import jinja2

#: the time of a ghost pointer: earlier than any applied or load time the vault holds
GHOST_TEXT = "0001-01-01 00:00:00.000000"
#: the end of an open span, inside views (shown as NULL)
FAR_TEXT = "9999-12-31 00:00:00.000000"
#: the batch a load file reads when it is not rendered for one batch: a named parameter, which
#: psql fills from ``-v batch_id=N`` and sqlite3 from ``.parameter set :batch_id N``
BATCH_PARAM = ":batch_id"


@dataclass(frozen=True)
class Statement:
    """One SQL statement and what its row count means (inserted, quarantined, logged, or '').

    ``bindable`` is the statement for SQLAlchemy's ``text()``: the same, with every ``:``
    inside a literal escaped, so that only real parameters are bound and a literal's ``%``,
    ``:name`` or ``?`` reaches the database as written, on every driver.

    ``guard`` (from a ``-- dv:if-any QUERY`` comment; empty: none) is a query that gives a
    row wherever the statement can change something: a loader may leave the statement out
    where it gives none, and a script that runs it anyway ends the same."""

    sql: str
    tag: str
    bindable: str = ""
    guard: str = ""

    def execute(self, connection: sa.Connection, params: dict | None = None,
                **options: object) -> sa.CursorResult:
        """Run the statement on ``connection`` with its named parameters (``options``:
        SQLAlchemy execution options)."""
        clause = sa.text(self.bindable or self.sql)
        if options:
            clause = clause.execution_options(**options)
        return connection.execute(clause, params or {})


@dataclass(frozen=True)
class Rendered:
    """The SQL of one load step: its text as written to a file, and its statements."""

    name: str
    text: str
    #: how the engine reads the text: where its literals and comments end
    syntax: Syntax = Syntax()

    def script(self, header: str = "", parameter: Callable[[str], str | None] | None = None
               ) -> str:
        """The text as a file that a SQL client runs in one transaction (``header``: comment
        lines to put first; ``parameter``: how the client names a parameter, as
        ``Dialect.script_parameter``)."""
        return f"{header}BEGIN;\n\n{self.file_text(parameter)}\nCOMMIT;\n"

    def file_text(self, parameter: Callable[[str], str | None] | None = None) -> str:
        """The text as a file holds it: each named parameter as ``parameter`` names it."""
        if parameter is None:
            return self.text
        return with_parameters(self.text, self.syntax, lambda name: parameter(name) or f":{name}")

    def statements(self) -> list[Statement]:
        """The statements of the text, each tagged by its ``-- dv:TAG`` comment; a ``;``,
        line break or ``--`` inside a literal is part of the literal."""
        return list(_statements(self.text, self.syntax))


@functools.lru_cache(maxsize=256)
def _statements(text: str, syntax: Syntax) -> tuple[Statement, ...]:
    """The statements of a text, split once: a loader renders the same load for each batch
    (the batch is a parameter), so each later batch finds its statements here."""
    return tuple(Statement(p.sql, p.tag, p.bindable, p.guard) for p in split(text, syntax))


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    """Jinja's per-user cache of compiled templates (a process that loads a batch compiles
    the templates it renders only the first time), or none where it cannot be made."""
    import jinja2

    class QuietCache(jinja2.FileSystemBytecodeCache):
        def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
            try:
                super().dump_bytecode(bucket)
            except OSError:  # a cache that cannot be written is only slower
                pass

    try:
        return QuietCache(pattern="datavault-%s.cache")
    except (OSError, RuntimeError):
        return None


class Renderer:
    """Renders every load step of a model for one dialect."""

    def __init__(self, model: m.Model, dialect: Dialect, project_templates: Path | None = None):
        self.model = model
        self.dialect = dialect
        self._rendered: dict[tuple[str, ...], Rendered] = {}
        self._roots = [p for p in (project_templates, templates_dir()) if p and p.is_dir()]
        self._env: jinja2.Environment | None = None

    @property
    def env(self) -> jinja2.Environment:
        """The Jinja environment, made when the first template is rendered (a command that
        renders nothing does not import Jinja). Compiled templates are cached in the user's
        temporary folder, as Jinja does it, and are compiled again when their text changed."""
        if self._env is None:
            import jinja2

            self._env = jinja2.Environment(
                loader=jinja2.FileSystemLoader([str(p) for p in self._roots]),
                undefined=jinja2.StrictUndefined,
                trim_blocks=True,
                lstrip_blocks=True,
                keep_trailing_newline=True,
                autoescape=False,
                bytecode_cache=_bytecode_cache(),
            )
            # a project's own templates quote names they write themselves with it; the
            # names in every context are already as SQL needs them
            self._env.filters["ident"] = self.dialect.quote
        return self._env

    def _render(self, name: str, context: dict) -> str:
        template = self.env.select_template([f"{self.dialect.name}/{name}", f"base/{name}"])
        text = template.render(**context)
        return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"

    def _common(self, source: m.Source, entity: str, batch_id: int | None) -> dict:
        d = self.dialect
        q = d.quote
        batch = BATCH_PARAM if batch_id is None else str(int(batch_id))
        described = self.model.entities.get(entity)
        parent = None if described is None else kinds.KINDS[described.kind].parent_of(described)
        marked = f"s.{q(m.STAGE_DELETED)} = 1" if source.deleted is not None else None
        return {
            # a staged row `s` whose delete marker says deleted: of any key (`marked`), and
            # of this entity's parent, whose satellites the marked rows delete (`marker`)
            "marked": marked,
            "marker": marked if parent is not None and source.deletes(parent) else None,
            "batch": batch,
            "this_batch": f"s.dv_batch_id = {batch}",
            "source": source.name,
            "stage": q(self.model.stage_table(source.name)),
            "record_source": d.text_literal(source.record_source),
            "zero_key": d.zero_key(self.model.settings.hash),
            # the held mark of a satellite's log (templates/base/_history.sql.j2)
            "held": d.binary_literal(b""),
            "reject": self.model.settings.null_keys == "reject",
            "distinct_on": d.distinct_on,
            **self._capabilities(),
            "entity_literal": d.text_literal(entity),
            "source_literal": d.text_literal(source.name),
            "stage_row_json": d.json_object([(c.name, f"s.{q(c.name)}") for c in source.columns]),
        }

    # ---- staging ------------------------------------------------------------------------
    def stage(self, source: m.Source, raw: bool = False) -> Rendered:
        """Hash a landed batch into the source's staging table.

        With ``raw`` (the batch copied as text into ``schema.raw_table``, whose column ``c{i}``
        holds source column i, and ``dv_ok`` whether every text is one the database reads
        exactly as the parser would: ``Dialect.plain_text``), those rows are typed in SQL;
        the others are first selected (tag ``parse``) for the loader to parse into the
        landing table.
        """
        d = self.dialect
        q = d.quote
        hashes: list[tuple[str, str]] = []
        after: list[str] = []
        if source.deleted is not None:
            hashes.append((q(m.STAGE_DELETED), self.delete_flag(source)))
        for name in self.model.entities_of(source.name):
            kind, entity = kinds.kind_of(self.model, name), self.model.entities[name]
            hashes += kind.stage_hashes(self.model, entity, source, d)
            after += kind.stage_after(self.model, entity, source, d, BATCH_PARAM)
        # A link's role keys are its hubs' keys: each distinct hash is computed once, in a
        # subquery the engine does not fold into the outer one (which would copy it back).
        unique = list(dict.fromkeys(expr for _, expr in hashes))
        computed: list[tuple[str, str]] = []
        if len(unique) < len(hashes):
            computed = [(f"dv_h{i}", expr) for i, expr in enumerate(unique)]
            hashes = [(name, f"l.dv_h{unique.index(expr)}") for name, expr in hashes]
        text = self._render("stage.sql.j2", {
            "source": source.name,
            "stage": q(self.model.stage_table(source.name)),
            "land": q(schema.landing_table(source).name),
            "columns": [q(c.name) for c in source.columns],
            "hashes": hashes,
            "computed": computed,
            "fence": d.subquery_fence(),
            "batch_id_param": BATCH_PARAM,
            "loaded_at_param": d.timestamp_param("loaded_at"),
            "applied_at_param": d.timestamp_param("applied_at"),
            "raw": self._raw(source) if raw else None,
            "after": after,
            **self._row_checks(source),
        })
        return Rendered(f"stage_{source.name}", text, self.dialect.syntax)

    def _row_checks(self, source: m.Source) -> dict:
        """The stage template's row checks (SEMANTICS.md section 11) over a landed row ``l``:
        the condition of a row that fails any and marks no deletion (``checked``, None
        without row checks), its
        quarantine reason and data (the row's columns as canonical text, which reads back as
        the same values, NaN and infinities too)."""
        d = self.dialect
        if not source.row_checks:
            return {"checked": None}
        checked = " OR ".join(c for _, c in quality.row_failures(source, d, "l"))
        if source.deleted is not None:  # a deletion's payload is not read: not judged
            checked = f"{self.delete_flag(source)} = 0 AND ({checked})"
        return {
            "checked": checked,
            "check_reason": quality.reason(source, d, "l"),
            "source_literal": d.text_literal(source.name),
            "land_row_json": d.json_object([
                (c.name, d.canonical_text(f"l.{d.quote(c.name)}", c.type))
                for c in source.columns]),
        }

    def batch_check(self, source: m.Source, check: m.Check) -> Rendered:
        """The query that measures a batch check on the staged batch ``:batch_id``: for
        ``unique``, one row with the number of duplicated value combinations; for ``drift``,
        the rows per bin (``quality.drift_bin``), at most ``quality.MAX_VALUES`` + 1 bins."""
        d = self.dialect
        q = d.quote
        context = {"test": check.test, "stage": q(self.model.stage_table(source.name)),
                   "batch": BATCH_PARAM,
                   "columns": [f"s.{q(c)}" for c in check.columns],
                   "limit": quality.MAX_VALUES + 1}
        if check.test == "drift":
            column = source.column(check.columns[0])
            context["bin"] = quality.drift_bin(check, column, d, f"s.{q(column.name)}")
        text = self._render("batch_check.sql.j2", context)
        return Rendered(f"{source.name}__check_{check.name}", text, d.syntax)

    def delete_flag(self, source: m.Source) -> str:
        """SQL over a landed row ``l``: 1 where its delete marker column holds one of the
        declared values (compared by canonical text, SEMANTICS.md section 5), else 0 (NULL
        included)."""
        marker = source.deleted
        assert marker is not None
        text = self.dialect.canonical_text(f"l.{self.dialect.quote(marker.column)}",
                                           source.column(marker.column).type)
        listed = ", ".join(self.dialect.text_literal(v) for v in marker.values)
        return f"CASE WHEN {text} IN ({listed}) THEN 1 ELSE 0 END"

    def _raw(self, source: m.Source) -> dict:
        d = self.dialect
        typed: list[str] = []
        applied = "CAST(NULL AS timestamp)"
        for position, column in enumerate(source.columns):
            value = d.text_value(f"r.c{position}", column.type)
            if value is None:
                raise ValueError(f"dialect {d.name} does not read source text in SQL")
            typed.append(value)
            if column.name == source.applied_at:
                applied = value if column.type == "timestamp" else f"CAST({value} AS timestamp)"
        return {
            "table": d.quote(schema.raw_table(source).name),
            "columns": [f"r.c{i}" for i in range(len(source.columns))],
            "applied": applied,
            "typed": typed,
        }

    # ---- entity loads -------------------------------------------------------------------
    def load(self, source: m.Source, entity: str, batch_id: int | None = None) -> Rendered:
        """The load of one hub, link or satellite from one batch staged for ``source``:
        batch ``batch_id``, or the batch named by the parameter ``:batch_id`` (the form
        `generate` writes, which psql fills from ``-v batch_id=N``)."""
        key = ("load", source.name, entity, batch_id)
        if key not in self._rendered:
            if len(self._rendered) > 512:
                self._rendered.clear()
            self._rendered[key] = self._load(source, entity, batch_id)
        return self._rendered[key]

    def _load(self, source: m.Source, entity: str, batch_id: int | None) -> Rendered:
        kind = kinds.kind_of(self.model, entity)
        context = kind.load_context(self.model, self.dialect, source,
                                    self.model.entities[entity],
                                    self._common(source, entity, batch_id))
        text = self._render(kind.template, context)
        return Rendered(f"{source.name}__{entity}", text, self.dialect.syntax)

    def snapshot_deletions(self, source: m.Source, satellite: str,
                           batch_id: int | None = None) -> Rendered:
        """One query, one row (``live_keys``, ``lacking_keys``): the keys of a satellite whose
        current state is not a deletion, and how many of them the staged batch ``batch_id``
        of a snapshot source (or the one the parameter ``:batch_id`` names) lacks (the keys
        its load would delete)."""
        sat = self.model.entities[satellite]
        context = kinds.KINDS[sat.kind].history_context(
            self.model, self.dialect, sat, self._common(source, sat.name, batch_id))
        text = self._render("snapshot_deletions.sql.j2", context)
        return Rendered(f"{source.name}__{satellite}__deletions", text,
                        self.dialect.syntax)

    def all_loads(self) -> list[tuple[m.Source, str, Rendered]]:
        """Every (source, entity) load of the model, in a stable order."""
        result = []
        for source in sorted(self.model.sources.values(), key=lambda s: s.name):
            for entity in self.model.entities_of(source.name):
                result.append((source, entity, self.load(source, entity)))
        return result

    # ---- marts --------------------------------------------------------------------------
    def _mart_common(self, mart: m.Mart) -> dict:
        d = self.dialect
        return {
            "mart": mart.name,
            "table": d.quote(mart.table),
            "mart_literal": d.text_literal(mart.name),
            "ghost_key": d.zero_key(self.model.settings.hash),
            "deleted": d.zero_key(self.model.settings.hash),
            "ghost_ts": d.timestamp_literal(GHOST_TEXT),
            "since_all": d.timestamp_param("since_all"),
            # what a build takes in: rows loaded up to the last batch before the first
            # unfinished one (MartBuilder.build passes its load time)
            "known_at": d.timestamp_param("known_at"),
            # what the live views read: rows loaded before the first unfinished batch
            "unfinished_from": self._mart_common_unfinished(),
            "now": d.utc_now(),
            "lateral_joins": d.lateral_joins,
            **self._capabilities(),
        }

    def _capabilities(self) -> dict:
        """What the engine has (``Dialect``) that templates choose SQL by, never by its name."""
        return {"temporary_tables": self.dialect.temporary_tables,
                "row_updates": self.dialect.row_updates,
                "correlated_lookups": self.dialect.correlated_lookups,
                "nested_correlation": self.dialect.nested_correlation}

    def _mart_common_unfinished(self) -> str:
        """The load time of the first batch that has not finished (far in the future: none),
        read when a view is queried: the live views read the rows loaded before it."""
        d = self.dialect
        return (f"COALESCE((SELECT MIN(b.loaded_at) FROM {schema.BATCH_TABLE} b "
                f"WHERE b.status IN ({', '.join(map(d.text_literal, schema.BATCH_UNFINISHED))})), "
                f"{d.timestamp_literal(FAR_TEXT)})")

    def _sat_context(self, name: str, index: int) -> dict:
        sat = kinds.kind_of(self.model, name).described(self.model, self.model.entities[name])
        q = self.dialect.quote
        lookups = {label: (column, hub, part) for label, column, hub, part in sat.hub_keys}
        shown = {}  # payload name -> SQL of its value, "{a}" standing for the row's alias
        for name_ in sat.payload:
            if name_ in lookups:
                column, hub, part = lookups[name_]
                shown[name_] = (f"(SELECT dv_k.{q(part)} FROM {q(self.model.hub_table(hub))} dv_k "
                                f"WHERE dv_k.{q(schema.hub_key_column(hub))} = {{a}}.{q(column)})")
            else:
                shown[name_] = f"{{a}}.{q(name_)}"
        return {"name": name, "n": index, "table": q(sat.table), "key": q(sat.key),
                "parent": sat.parent, "payload": list(sat.payload), "shown": shown}

    def mart(self, mart: m.Mart) -> Rendered:
        """The refresh of a PIT or bridge table as known at ``:known_at``: the keys touched
        by batches after ``:after_batch`` (every key when ``:refresh_all`` is 1, from
        ``:since_all``) are rewritten from their earliest changed applied time on, from the
        rows loaded up to ``:known_at``."""
        key = ("mart", mart.name)
        if key not in self._rendered:
            if mart.kind == "pit":
                text = self._render("pit.sql.j2", self._pit_context(mart))
            else:
                text = self._render("bridge.sql.j2", self._bridge_context(mart))
            self._rendered[key] = Rendered(f"mart_{mart.name}", text, self.dialect.syntax)
        return self._rendered[key]

    def mart_views(self, mart: m.Mart) -> Rendered:
        """The views for people over a mart: current, history and snapshot."""
        key = ("views", mart.name)
        if key not in self._rendered:
            if mart.kind == "pit":
                text = self._render("pit_views.sql.j2", self._pit_context(mart))
            else:
                context = self._bridge_context(mart)
                text = self._render("bridge_views.sql.j2", context)
            self._rendered[key] = Rendered(f"views_{mart.name}", text, self.dialect.syntax)
        return self._rendered[key]

    def resolution_view(self, link: str) -> Rendered:
        """The view ``LINK__resolved`` of a same-as link: each key of its hub with its
        survivor along applied time (SEMANTICS.md section 10), made again by `marts build`."""
        d = self.dialect
        q = d.quote
        entity = self.model.links[link]
        first, second = entity.same_as
        hub = next(r.hub for r in entity.roles if r.role == first)
        eff = self.model.edge_effectivity(link)
        parts = [c.name for c in self.model.hubs[hub].key]
        context = {
            "link": link,
            "hub": hub,
            "view": q(m.resolution_view(link)),
            "table": q(self.model.link_table(link)),
            "key": q(schema.link_key_column(link)),
            "first": q(schema.role_key_column(first)),
            "second": q(schema.role_key_column(second)),
            "eff": eff and {
                "table": q(self.model.settings.naming.eff_table(eff.name)),
                "key": q(eff.key_column),
                "link_key": q(schema.link_key_column(link)),
            },
            "hub_table": q(self.model.hub_table(hub)),
            "hub_key": q(schema.hub_key_column(hub)),
            "parts": [(q(p), q(p)) for p in parts],
            "survivor_key": q("survivor_hk"),
            "survivor_parts": [(q(p), q(f"survivor_{p}")) for p in parts],
            "deleted": d.zero_key(self.model.settings.hash),
            "ghost_ts": d.timestamp_literal(GHOST_TEXT),
            "unfinished_from": self._mart_common_unfinished(),
            "several": d.text_literal("several survivors"),
            "cycle": d.text_literal("cycle"),
        }
        return Rendered(f"resolved_{link}", self._render("same_as_view.sql.j2", context),
                        d.syntax)

    def _pit_context(self, mart: m.Mart) -> dict:
        context = self._mart_common(mart)
        q = self.dialect.quote
        context.update({
            "parent_table": q(self.model.parent_table(mart.parent)),
            "pk": q(self.model.parent_key(mart.parent)),
            "sats": [self._sat_context(s, i) for i, s in enumerate(mart.satellites, 1)],
            "views": {v: q(mart.view(v)) for v in m.MART_VIEWS},
        })
        pk = context["pk"]
        key_labels = self._key_joins(mart.parent, "k")[1]
        context["key_labels"] = [f"{expr} AS {q(label)}" for expr, label in key_labels]
        context["key_joins"] = {
            alias: self._key_joins(mart.parent, expr)[0]
            for alias, expr in (("pit", f"k.{pk}"), ("parent", f"p.{pk}"), ("hk", "k.hk"))}
        keys = {label for _, label in key_labels}
        payload = [(sat["name"], column) for sat in context["sats"] for column in sat["payload"]]
        labels = iter(_friendly(payload, taken=keys))
        for sat in context["sats"]:
            sat["labels"] = [(sat["shown"][column], q(next(labels))) for column in sat["payload"]]
        by_name = {sat["name"]: sat for sat in context["sats"]}

        def expression(owner: str, column: str) -> tuple[str, int | None]:
            if owner in by_name:
                sat = by_name[owner]
                return sat["shown"][column].replace("{a}", f"{{p}}{sat['n']}"), sat["n"]
            return f"h.{q(column)}", None  # the business key of the PIT's hub

        context.update(self._codes_context(mart, expression))
        return context

    def _codes_context(self, mart: m.Mart,
                       expression: Callable[[str, str], tuple[str, int | None]]) -> dict:
        """A mart's code lookups for ``base/_mart``'s ``code_joins``: per lookup its code and
        description tables, each part's column there beside the SQL of the row's value
        (``expression`` of its owner and column: the SQL, ``{p}`` standing for the alias prefix,
        and the number of the satellite it reads, or None), and the description columns with
        their labels; ``built``: the load time up to which the mart's last build read."""
        q = self.dialect.quote
        naming = self.model.settings.naming
        codes = []
        for n, lookup in enumerate(mart.codes, 1):
            table = self.model.entities[lookup.reference_table]
            assert isinstance(table, m.ReferenceTable)
            parts = [(part, *expression(owner, column)) for part, owner, column in lookup.columns]
            codes.append({
                "n": n, "name": lookup.name,
                "codes": q(naming.ref_table(lookup.reference_table)),
                "desc": q(naming.ref_desc_table(lookup.reference_table)),
                "key": q(m.CODE_COLUMN),
                "parts": [(q(part), expr) for part, expr, _ in parts],
                "sats": sorted({sat for _, _, sat in parts if sat is not None}),
                "hub": any(sat is None for _, _, sat in parts),
                "labels": [(q(c.name), q(lookup.label(c.name))) for c in table.payload],
            })
        built = (f"(SELECT dv_m.last_loaded_at FROM {q(m.MART_TABLE)} dv_m "
                 f"WHERE dv_m.mart = {self.dialect.text_literal(mart.name)})")
        return {"codes": codes, "built": built}

    def _key_joins(self, parent: str, key_expr: str
                   ) -> tuple[list[str], list[tuple[str, str]]]:
        """JOIN clauses from a hash key expression to the business key, and its parts as
        (expression, label)."""
        q = self.dialect.quote
        pk = q(self.model.parent_key(parent))
        if parent in self.model.hubs:
            table = q(self.model.hub_table(parent))
            return ([f"JOIN {table} h ON h.{pk} = {key_expr}"],
                    [(f"h.{q(c.name)}", c.name) for c in self.model.hubs[parent].key])
        link = self.model.links[parent]
        joins = [f"JOIN {q(self.model.link_table(parent))} l ON l.{pk} = {key_expr}"]
        labels = []
        for role in link.roles:
            joins.append(f"JOIN {q(self.model.hub_table(role.hub))} h_{role.role} "
                         f"ON h_{role.role}.{q(schema.hub_key_column(role.hub))} = "
                         f"l.{q(schema.role_key_column(role.role))}")
            labels += [(f"h_{role.role}.{q(c.name)}", f"{role.role}_{c.name}")
                       for c in self.model.hubs[role.hub].key]
        return joins, labels

    def _bridge_context(self, mart: m.Mart) -> dict:
        context = self._mart_common(mart)
        q = self.dialect.quote
        path = mart.path
        elements = []
        for n, (name, place) in enumerate(zip(path, mart.places)):
            kind = "hub" if n % 2 == 0 else "link"
            elements.append({
                "n": n, "name": name, "place": place, "kind": kind, "column": q(f"{place}_hk"),
                "table": q(self.model.hub_table(name) if kind == "hub"
                           else self.model.link_table(name)),
                "key": q(schema.hub_key_column(name) if kind == "hub"
                         else schema.link_key_column(name)),
                "required": [],
            })
        links = []
        for n in range(1, len(path), 2):
            link = self.model.links[path[n]]
            role_of = {r.hub: r.role for r in link.roles}
            left, right = (mart.roles[n // 2] if mart.roles
                           else (role_of[path[n - 1]], role_of[path[n + 1]]))
            links.append({"n": n, "alias": f"l{n}", "table": q(self.model.link_table(link.name)),
                          "key": q(schema.link_key_column(link.name)),
                          "left": q(schema.role_key_column(left)),
                          "right": q(schema.role_key_column(right)),
                          # an edge from a key to itself says nothing (SEMANTICS.md section 10)
                          "edge": set(link.edge) == {left, right}})
        required = []
        for i, name in enumerate(mart.satellites, 1):
            sat = self._sat_context(name, i)
            # every place of its parent on the path: a hub in two places is live in each
            sat["elements"] = [e["n"] for e in elements if e["name"] == sat["parent"]]
            sat["cand_keys"] = " UNION ALL ".join(f"SELECT c.e{n} FROM dv_cand c"
                                                  for n in sat["elements"])
            for n in sat["elements"]:
                elements[n]["required"].append(sat)
            required.append(sat)
        hub_columns = [(e, c.name) for e in elements if e["kind"] == "hub"
                       for c in self.model.hubs[e["name"]].key]
        key_labels = [(e["n"], q(column), q(label)) for (e, column), label in zip(
            hub_columns, _friendly([(e["place"], column) for e, column in hub_columns]))]
        effective = [self._effective_context(name, path) for name in mart.effective]
        starts = [f"i{e['n']}.valid_from" for e in elements if e["required"]] + [
            f"eff{f['n']}.valid_from" for f in effective]
        ends = [f"i{e['n']}.valid_to" for e in elements if e["required"]] + [
            f"eff{f['n']}.valid_to" for f in effective]
        d = self.dialect
        context.update({
            "far_ts": d.timestamp_literal(FAR_TEXT),
            "greatest": d.greatest(starts) if starts else "",
            "least": d.least(ends) if ends else "",
            "elements": elements, "links": links, "required": required,
            "touches": [(sat, n) for sat in required for n in sat["elements"]],
            "effective": effective,
            "link_elements": [e for e in elements if e["kind"] == "link"],
            "key_labels": key_labels,
            "views": {v: q(mart.view(v)) for v in m.MART_VIEWS},
        })

        def expression(hub: str, column: str) -> tuple[str, int | None]:
            return f"h{path.index(hub)}.{q(column)}", None  # a business key of a hub on it

        context.update(self._codes_context(mart, expression))
        return context

    def _effective_context(self, name: str, path: tuple[str, ...]) -> dict:
        """An effectivity satellite that a bridge follows for the link of its path it
        describes: its table and driving key column, the column of its relationship's link
        key, and ``driving``: SQL for the driving key of the relationship whose link key is
        ``{lk}`` (one driving role: that role's hub key in the link row, by the link's
        primary key; several: the driving key of a row of the satellite that names it)."""
        eff = self.model.entities[name]
        assert isinstance(eff, m.EffectivitySatellite)
        q = self.dialect.quote
        table = q(self.model.settings.naming.eff_table(name))
        link_col = q(schema.link_key_column(eff.link))
        if len(eff.driving_key) == 1:
            driving = (f"(SELECT z.{q(schema.role_key_column(eff.driving_key[0]))} "
                       f"FROM {q(self.model.link_table(eff.link))} z "
                       f"WHERE z.{link_col} = {{lk}})")
        else:
            # every row that names the relationship has its driving key: any one will do
            driving = (f"(SELECT z.{q(eff.key_column)} FROM {table} z "
                       f"WHERE z.{link_col} = {{lk}} LIMIT 1)")
        return {"name": name, "n": path.index(eff.link), "link": eff.link, "table": table,
                "key": q(eff.key_column), "link_col": link_col, "driving": driving}


#: the columns the views add themselves, and the labels of (owner, column) pairs in them
VIEW_COLUMNS = m.VIEW_COLUMNS
_friendly = m.view_labels
