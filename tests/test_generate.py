"""Generated SQL: golden files for the example warehouse on both dialects, and the proof that
the generated load files, run by a plain SQL client against a staged batch, give exactly the
tables the loader gives."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from datavault import api, kinds
from datavault.database import connect
from datavault.diagnostics import DatavaultError
from datavault.load import open_input
from tests.conftest import CORE_ENGINES, ROOT, migrated

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("DATAVAULT_UPDATE_GOLDEN") == "1"


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*.sql"))}


@pytest.mark.parametrize("dialect", CORE_ENGINES)
def test_generated_sql_matches_the_golden_files(dialect: str, tmp_path: Path) -> None:
    api.generate(ROOT, dialect, tmp_path)
    generated = _files(tmp_path)
    expected_dir = GOLDEN / dialect
    if UPDATE:
        for relative, data in generated.items():
            target = expected_dir / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    expected = _files(expected_dir)
    assert sorted(generated) == sorted(expected)
    for relative in expected:
        assert generated[relative] == expected[relative], (
            f"{dialect}/{relative} differs from tests/golden (make golden after a wanted change)"
        )


def test_an_engine_that_cannot_run_part_of_a_model_is_told_so_by_name(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where a part of a model needs what an engine lacks (no part of today's kinds and marts
    does on any engine: here the marts are made to need row updates, which Spark lacks),
    ``generate`` names each such part and what the engine lacks, and writes nothing."""
    from datavault import marts

    monkeypatch.setattr(marts, "MART_NEEDS", ("row_updates",))
    with pytest.raises(DatavaultError) as raised:
        api.generate(ROOT, "spark", tmp_path / "out")
    assert str(raised.value) == (
        "generate --dialect spark: the spark engine cannot run mart customer_orders, mart "
        "customers, mart orders yet: they need what the engine lacks: UPDATE, DELETE and "
        "INSERT ... ON CONFLICT")
    assert not (tmp_path / "out").exists()
    api.generate(ROOT, "postgresql", tmp_path / "pg")  # an engine that has it


def test_generation_is_byte_identical_from_run_to_run(tmp_path: Path) -> None:
    api.generate(ROOT, "postgresql", tmp_path / "a")
    api.generate(ROOT, "postgresql", tmp_path / "b")
    assert _files(tmp_path / "a") == _files(tmp_path / "b")


def _run_plain(url: str, file: Path, batch_id: int) -> None:
    """Run a generated file the way a person would: the engine's own client, no toolkit, no
    registered functions, as the file's first line says."""
    parsed = make_url(url)
    hint = file.read_text(encoding="utf-8").splitlines()[0]
    assert hint.startswith("-- Run with: ")
    if parsed.get_backend_name() == "sqlite":
        command = ["sqlite3", "-bail", "-cmd", f".parameter set :batch_id {batch_id}",
                   parsed.database, f".read {file}"]
        env = dict(os.environ)
    elif parsed.get_backend_name() == "duckdb":
        # as the hint says, run by DuckDB's Python client in a process of its own (its shell
        # reads only files of its own version)
        assert hint.startswith("-- Run with: duckdb -cmd \"SET VARIABLE batch_id = N\""), hint
        script = ("import sys, duckdb\n"
                  "connection = duckdb.connect(sys.argv[1])\n"
                  "connection.execute(f'SET VARIABLE batch_id = {int(sys.argv[3])}')\n"
                  "connection.execute(open(sys.argv[2]).read())\n")
        command = [sys.executable, "-c", script, parsed.database, str(file), str(batch_id)]
        env = dict(os.environ)
    else:
        command = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-v", f"batch_id={batch_id}",
                   "-h", parsed.host, "-p", str(parsed.port or 5432), "-U", parsed.username,
                   "-d", parsed.database, "-f", str(file)]
        env = {**os.environ, "PGOPTIONS": parsed.query.get("options", "")}
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    assert done.returncode == 0 and "error" not in done.stderr.lower(), done.stderr


def _vault_tables(url: str, session) -> dict[str, list[tuple]]:
    model = session.project.model
    names = [table for name in model.entities
             for table in kinds.kind_of(model, name).table_names(model.settings.naming, name)]
    names.append("dv_quarantine")
    engine, _ = connect(url)  # the toolkit's engine reads each engine's catalog
    result = {}
    with engine.connect() as connection:
        for name in names:
            columns = [c for c in sa.inspect(connection).get_columns(name)]
            keep = ", ".join(c["name"] for c in columns if c["name"] not in ("load_ts",))
            result[name] = [tuple(r) for r in connection.exec_driver_sql(
                f"SELECT {keep} FROM {name} ORDER BY {keep}")]
    engine.dispose()
    return result


def test_generated_load_files_run_in_a_plain_client(make_db_url, example_project: Path,
                                                    tmp_path: Path) -> None:
    batches = [("crm_customers", "crm_customers_2026-01-01.csv"),
               ("crm_customers", "crm_customers_2026-03-01.csv"),
               ("crm_customers", "crm_customers_2026-02-01.csv"),   # late
               ("shop_orders", "shop_orders_2026-03-02.csv"),
               ("crm_phones", "crm_phones_2026-01-01.csv"),
               ("crm_phones", "crm_phones_2026-03-01.csv"),
               ("crm_phones", "crm_phones_2026-02-01.csv"),         # late, the same set
               ("shop_orders", "shop_orders_2026-03-05.csv")]
    by_loader, by_client = make_db_url(), make_db_url()
    loader_session = api.open_session(example_project, url=migrated(example_project, by_loader))
    client_session = api.open_session(example_project, url=migrated(example_project, by_client))
    dialect = client_session.loader.dialect.name
    api.generate(example_project, dialect, tmp_path / "sql")
    for source, file in batches:
        path = str(example_project / "data" / file)
        assert loader_session.loader.load(source, open_input(path)).ok
        # hashes only, no entity loads
        staged = client_session.loader.stage(source, open_input(path))
        for entity in client_session.project.model.entities_of(source):
            for _ in range(2):  # running a file again inserts and quarantines nothing more
                _run_plain(by_client, tmp_path / "sql" / "load" / source / f"{entity}.sql",
                           staged.batch_id)
    loaded, plain = _vault_tables(by_loader, loader_session), _vault_tables(by_client,
                                                                           client_session)
    loader_session.close()
    client_session.close()
    assert sum(len(rows) for rows in loaded.values()) > 20
    assert plain == loaded


def test_generate_for_an_engine_whose_driver_is_missing_says_what_to_install(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The SQL is compiled by the engine's SQLAlchemy dialect, from its driver's package:
    where that is not installed, one error names the extra that installs it."""
    import importlib.util

    from datavault.dialects.duckdb import DuckDBDialect

    def not_installed(self):
        raise ModuleNotFoundError("No module named 'duckdb_engine'")

    real = importlib.util.find_spec
    monkeypatch.setattr(DuckDBDialect, "sqlalchemy_dialect", not_installed)
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "duckdb_engine" else real(name, *a))
    with pytest.raises(DatavaultError) as raised:
        api.generate(ROOT, "duckdb", tmp_path / "out")
    assert str(raised.value) == ("the duckdb engine needs the Python package duckdb_engine: "
                                 "pip install 'datavault[duckdb]'")
