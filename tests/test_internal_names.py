"""A payload column may take any name the model accepts, including every name the load SQL
uses for its own aliases and temporary-table columns: the stored values are the source's, late
batches and reloads included, on both engines. The names are read from the rendered SQL, so a
name a template starts using later is covered too."""

from __future__ import annotations

import re
from pathlib import Path

import sqlalchemy as sa

from datavault import api
from datavault.dialects import get_dialect
from datavault.load import open_input
from datavault.metadata.checks import RESERVED_COLUMNS
from datavault.render import Renderer
from tests.conftest import migrated, write_project

# Names the satellite load used for itself before its own names took the dv_ prefix.
KNOWN = {"applied", "hk", "hd", "loaded"}


def _project(root: Path, payload: list[str], batch: str) -> Path:
    columns = "".join(f"  {name}: text\n" for name in payload)
    return write_project(root, {
        "config/datavault.yml": 'hash: md5\nnaming:\n  hub: "{name}"\n  satellite: "{name}"\n',
        "models/sources/s.yml": f"batch: {batch}\napplied_at: at\nsequence: seq\n"
                                f"columns:\n  k: text\n  at: timestamp\n  seq: integer\n{columns}",
        "models/hubs/h.yml": "business_key:\n  k: text\nsources:\n  s:\n    k: k\n",
        "models/satellites/d.yml": f"parent: h\nsource: s\npayload: [{', '.join(payload)}]\n",
    })


def _names_the_load_sql_uses(tmp_path: Path) -> set[str]:
    """Every alias and temporary-table column the hub and satellite loads write (the snapshot
    source with a sequence renders every optional part)."""
    model = api.validate(_project(tmp_path / "probe", ["p"], "snapshot")).model
    source = model.sources["s"]
    names: set[str] = set()
    for engine in ("sqlite", "postgresql"):
        renderer = Renderer(model, get_dialect(engine))
        scripts = [renderer.load(source, entity).script() for entity in ("h", "d")]
        scripts.append(renderer.snapshot_deletions(source, "d", 1).script())
        for sql in scripts:
            sql = re.sub(r"--[^\n]*", "", sql)
            names.update(re.findall(r"\bAS\s+\"?(\w+)", sql, re.IGNORECASE))
            for listed in re.findall(r"INSERT INTO \w+ \(([^)]*)\)", sql):
                names.update(n.strip().strip('"') for n in listed.split(","))
    return {n.lower() for n in names}


def _accepted(name: str) -> bool:
    return not (name.startswith("dv_") or name.endswith("_hk") or name in RESERVED_COLUMNS
                or name in {"k", "at", "seq", "p"})


BATCHES = [  # (file, applied day): the February batch arrives late, then again
    ("jan.csv", "2026-01-01"), ("mar.csv", "2026-03-01"), ("feb.csv", "2026-02-01"),
    ("feb.csv", "2026-02-01"),
]


def test_payload_named_like_the_load_sqls_own_names_keeps_the_source_values(
        make_db_url, tmp_path: Path) -> None:
    found = _names_the_load_sql_uses(tmp_path)
    assert {"dv_hk", "dv_applied", "dv_hd"} <= found  # the parse sees the load's names
    payload = sorted({n for n in found if _accepted(n)} | KNOWN)
    assert {"desired", "shown", "in_batch"} <= set(payload)
    root = _project(tmp_path / "project", payload, "delta")
    api.validate(root)
    url = migrated(root, make_db_url())
    session = api.open_session(root, url=url)

    data = tmp_path / "data"
    data.mkdir()
    expected = set()
    for file, day in BATCHES:
        # k1 changes in every batch; k2's March state is its January one (logged, not
        # stored) until the late February changes it in between: then March is restored
        # from the stored January row
        rows = [(key, [f"{name}-{key}-{file if key == 'k1' else file == 'feb.csv'}"
                       for name in payload]) for key in ("k1", "k2")]
        text = "k,at,seq," + ",".join(payload) + "\n" + "".join(
            f"{key},{day},1,{','.join(values)}\n" for key, values in rows)
        (data / file).write_text(text, encoding="utf-8")
        assert session.loader.load("s", open_input(str(data / file))).ok
        expected |= {(key, day, tuple(values)) for key, values in rows}

    engine = sa.create_engine(url)
    quote = get_dialect(engine.dialect.name).quote
    listed = ", ".join(f"d.{quote(n)}" for n in payload)
    with engine.connect() as connection:
        stored = [(r[0], str(r[1])[:10], tuple(r[2:])) for r in connection.exec_driver_sql(
            f"SELECT h.k, d.applied_ts, {listed} FROM d JOIN h ON h.h_hk = d.h_hk "
            "ORDER BY h.k, d.applied_ts, d.load_ts")]
    engine.dispose()
    # every stored row holds the source's values at its applied time, and the reload added
    # nothing
    assert set(stored) <= expected
    assert [(k, day) for k, day, _ in stored] == [
        (k, day) for k in ("k1", "k2") for day in ("2026-01-01", "2026-02-01", "2026-03-01")]
