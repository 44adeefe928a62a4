"""The docs site: static HTML pages of a model, readable offline, with column lineage.

One page per source, entity (every kind) and mart, with its description, its tables'
columns (types, keys) and where each column comes from (``datavault.lineage``), cross-linked;
an index with the entity-relationship diagram, drawn by Graphviz's ``dot`` (a mature layout
engine: the toolkit lays out no graph itself); and, where the database can be reached, each
source's recent batches from the ledger. Pages come from the Jinja templates of
``site_templates/`` beside this module, shipped in the package.
"""

from __future__ import annotations

import html
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datavault import kinds, quality
from datavault import model as m
from datavault.diagnostics import DatavaultError
from datavault.lineage import ColumnLineage, Lineage, Ref, lineage

TEMPLATES = Path(__file__).resolve().parent / "site_templates"
#: how to get what draws the diagram, when it is missing
GRAPHVIZ_HINT = ("install Graphviz to draw it: `apt-get install graphviz` (or your system's "
                 "package) and `pip install 'datavault[docs]'`")


@dataclass
class Site:
    """What ``build_site`` wrote: the pages (relative to the folder), and what it left out
    and why (no diagram without Graphviz, no batches without a database)."""

    out: Path
    pages: list[str] = field(default_factory=list)
    diagram: bool = False
    notes: list[str] = field(default_factory=list)


def page_name(kind: str, name: str) -> str:
    """The file of the page of a source (kind ``source``), an entity or a mart (``mart``)."""
    return f"{kind}-{name}.html"


def quality_results(runs: Sequence[Any]) -> list[dict[str, Any]]:
    """The recorded runs of a source's checks at entry (``load.checks.CheckRun``, newest
    batch first), one entry per batch and check, for the ``quality`` block of its page."""
    return [{"batch": r.batch_id, "check": r.name, "test": r.test, "status": r.status,
             "measured": r.measured or "", "expected": r.expected or "",
             "message": r.message or ""} for r in runs]


def build_site(model: m.Model, out: Path | str, *,
               batches: Mapping[str, Sequence[Any]] | None = None,
               batches_note: str = "",
               checks: Mapping[str, Sequence[Any]] | None = None) -> Site:
    """Write the site of ``model`` into ``out`` (made if missing; the pages it writes are
    replaced). ``batches``: per source, its recent batches (None: no database was reached,
    ``batches_note`` says why); ``checks``: per source, the runs of its checks in those
    batches."""
    out = Path(out)
    try:
        return _write_site(model, out, batches, batches_note, checks or {})
    except OSError as exc:
        raise DatavaultError(f"cannot write the site into {out}: "
                             f"{exc.strerror or exc} ({exc.filename or out})") from None


def _write_site(model: m.Model, out: Path, batches: Mapping[str, Sequence[Any]] | None,
                batches_note: str, checks: Mapping[str, Sequence[Any]]) -> Site:
    import jinja2

    out.mkdir(parents=True, exist_ok=True)
    site = Site(out)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    lin = lineage(model)
    sources, pages, mart_pages = _pages(model)
    svg, why = er_diagram(model, sources, pages)
    site.diagram = svg is not None
    if why:
        site.notes.append(why)
    if batches is None and batches_note:
        site.notes.append(batches_note)
    helpers = {"model": model, "pages": pages, "source_pages": sources, "mart_pages": mart_pages,
               "lin": lin, "link_of": _linker(lin, sources, pages, mart_pages),
               "anchor": anchor, "rule": quality.rule,
               "notes": site.notes}

    def write(name: str, template: str, **context: Any) -> None:
        text = env.get_template(template).render(**helpers, **context)
        (out / name).write_text(text, encoding="utf-8")
        site.pages.append(name)

    write("index.html", "index.html.j2", svg=svg,
          groups=_groups(model, sources, pages, mart_pages))
    for source in model.sources.values():
        listed = None if batches is None else list(batches.get(source.name, ()))
        write(sources[source.name], "source.html.j2", source=source, batches=listed,
              batches_note=batches_note,
              quality=quality_results(checks.get(source.name, ())),
              tables=_tables(lin, "source", source.name))
    for name, entity in model.entities.items():
        kind = kinds.kind_of(model, name)
        write(pages[name], "entity.html.j2", entity=entity, kind=kind,
              about=_about(model, entity, sources, pages, mart_pages),
              tables=_tables(lin, entity.kind, name))
    for mart in model.marts.values():
        write(mart_pages[mart.name], "mart.html.j2", mart=mart,
              tables=_tables(lin, "mart", mart.name))
    static = out / "site.css"
    shutil.copyfile(TEMPLATES / "site.css", static)
    return site


def _pages(model: m.Model) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """The pages of sources, of entities and of marts, by name (a source may have the name
    of the hub it feeds)."""
    return ({name: page_name("source", name) for name in model.sources},
            {name: page_name(e.kind, name) for name, e in model.entities.items()},
            {name: page_name("mart", name) for name in model.marts})


def _groups(model: m.Model, sources: Mapping[str, str], pages: Mapping[str, str],
            mart_pages: Mapping[str, str]) -> list[tuple[str, list[tuple[str, str, str]]]]:
    """The index's lists of (name, page, description): sources, then each kind that has
    entities, then marts."""
    groups = [("Sources", [(s.name, sources[s.name], s.description)
                           for s in model.sources.values()])]
    for kind in kinds.KINDS.values():
        members = [(e.name, pages[e.name], e.description)
                   for e in model.group(kind.name).values()]
        if members:
            groups.append((kind.folder.replace("_", " ").capitalize(), members))
    if model.marts:
        groups.append(("Marts", [(mt.name, mart_pages[mt.name], mt.description)
                                 for mt in model.marts.values()]))
    return groups


def _tables(lin: Lineage, kind: str, owner: str) -> list[tuple[str, list[ColumnLineage]]]:
    return [(table, lin.table(table)) for table in lin.tables[(kind, owner)]]


def anchor(ref: Ref) -> str:
    """The id of a column's row on its owner's page."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", f"col-{ref.table}-{ref.column}")


def _linker(lin: Lineage, sources: Mapping[str, str], pages: Mapping[str, str],
            mart_pages: Mapping[str, str]):  # noqa: ANN202 (a template helper)
    """The link to a column's row on the page of its table's owner."""
    page_of = {("source", name): page for name, page in sources.items()}
    page_of.update({("mart", name): page for name, page in mart_pages.items()})
    by_table = {table: page_of.get(owner) or pages[owner[1]]
                for owner, tables in lin.tables.items() for table in tables}

    def link_of(ref: Ref) -> str:
        return f"{by_table[ref.table]}#{anchor(ref)}"
    return link_of


def _about(model: m.Model, entity: Any, sources: Mapping[str, str], pages: Mapping[str, str],
           mart_pages: Mapping[str, str]) -> list[tuple[str, list[tuple[str, str]]]]:
    """What an entity's page says of it besides its columns: the names it refers to, each
    with its page, by what they are to it."""
    about: list[tuple[str, list[tuple[str, str]]]] = []
    for label, attr in (("parent", "parent"), ("link", "link")):
        value = getattr(entity, attr, None)
        if value:
            about.append((label, [(value, pages[value])]))
    roles = getattr(entity, "roles", ())
    if roles:
        about.append(("hubs", [(r.hub, pages[r.hub]) for r in roles]))
    fed = [name for name in model.sources if entity.fed_by(name)]
    about.append(("sources", [(name, sources[name]) for name in fed]))
    described = [name for name, e in model.entities.items()
                 if entity.name in (getattr(e, "parent", None), getattr(e, "link", None))]
    if described:
        about.append(("described by", [(name, pages[name]) for name in described]))
    marts = [mt.name for mt in model.marts.values()
             if entity.name in (mt.parent, *mt.path, *mt.satellites, *mt.effective)]
    if marts:
        about.append(("marts", [(name, mart_pages[name]) for name in marts]))
    return about


# ---- the entity-relationship diagram ----------------------------------------------------------
#: per kind of node: Graphviz shape, fill colour
_STYLE = {"source": ("note", "#eeeeee"), "hub": ("box", "#9ecae1"), "link": ("box", "#a1d99b")}
_SATELLITE_STYLE = ("box", "#fdd0a2")


def er_diagram(model: m.Model, sources: Mapping[str, str], pages: Mapping[str, str]
               ) -> tuple[str | None, str]:
    """The diagram as SVG (its nodes link to their pages): hubs, links, satellites of every
    kind, and the sources feeding them; or None and why it could not be drawn."""
    try:
        import graphviz
    except ImportError:
        return None, f"the entity-relationship diagram was not drawn: {GRAPHVIZ_HINT}"
    graph = graphviz.Digraph("vault", graph_attr={"rankdir": "LR", "fontname": "Helvetica",
                                                  "bgcolor": "white"},
                             node_attr={"style": "filled,rounded", "fontname": "Helvetica",
                                        "fontsize": "11"},
                             edge_attr={"fontname": "Helvetica", "fontsize": "9"})
    for name in model.sources:
        _node(graph, name, "source", sources[name])
    for name, entity in model.entities.items():
        _node(graph, name, entity.kind, pages[name])
        for role in getattr(entity, "roles", ()):
            graph.edge(_id(entity.kind, name), _id("hub", role.hub),
                       label=role.role if role.role != role.hub else "")
        parent = getattr(entity, "parent", None) or getattr(entity, "link", None)
        if parent:
            graph.edge(_id(entity.kind, name), _id(str(model.entity_kind(parent)), parent),
                       arrowhead="odot")
        for source in model.sources:
            if entity.fed_by(source):
                graph.edge(_id("source", source), _id(entity.kind, name), style="dashed",
                           color="#888888")
    try:
        svg = graph.pipe(format="svg", encoding="utf-8")
    except graphviz.ExecutableNotFound:
        return None, f"the entity-relationship diagram was not drawn: {GRAPHVIZ_HINT}"
    except graphviz.CalledProcessError as exc:
        raise DatavaultError(f"Graphviz could not draw the diagram: {exc.stderr!r}") from None
    return svg[svg.index("<svg"):], ""


def _node(graph: Any, name: str, kind: str, page: str) -> None:
    shape, colour = _STYLE.get(kind, _SATELLITE_STYLE)
    words = kind.replace("_", " ")
    graph.node(_id(kind, name), label=f"{name}\n({words})", shape=shape, fillcolor=colour,
               href=page, tooltip=html.escape(f"{words} {name}"))


def _id(kind: str, name: str) -> str:
    """A node's id in the DOT source (a colon there would name a port)."""
    return f"{kind}__{name}"
