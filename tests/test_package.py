"""The installed wheel works from an unrelated folder, and the modules depend one way only."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGE = ROOT / "datavault"

# What each module may import from the toolkit (DESIGN.md: dependencies point one way).
ALLOWED = {
    "model": set(),
    "hashing": set(),
    "diagnostics": set(),
    "values": {"hashing"},
    "metadata": {"model", "diagnostics", "metadata"},
    "dialects": {"dialects", "hashing", "values", "diagnostics"},
    "schema": {"model", "dialects"},
    "render": {"model", "schema", "dialects", "resources"},
    "load": {"model", "schema", "values", "diagnostics", "dialects", "render", "database"},
    "contract": {"model"},
    "migrate": {"contract", "database", "schema", "model", "diagnostics", "metadata", "marts"},
    "marts": {"model", "schema", "values", "diagnostics", "render"},
    "query": {"hashing", "schema", "values", "model", "diagnostics", "contract"},
    "schemacheck": {"contract", "schema", "model", "diagnostics", "migrate"},
    "session": {"database", "marts", "query", "schema", "schemacheck", "diagnostics",
                "dialects", "load", "metadata", "render"},
}


def _toolkit_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("datavault"):
            parts = node.module.split(".")
            if len(parts) > 1:
                found.add(parts[1])
            else:
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("datavault."):
                    found.add(alias.name.split(".")[1])
    return found


@pytest.mark.parametrize("module", sorted(ALLOWED))
def test_dependencies_point_one_way(module: str) -> None:
    paths = [PACKAGE / f"{module}.py"] if (PACKAGE / f"{module}.py").exists() else sorted(
        (PACKAGE / module).glob("*.py"))
    imported = set().union(*(_toolkit_imports(p) for p in paths))
    assert imported <= ALLOWED[module] | {module}, (
        f"{module} imports {sorted(imported - ALLOWED[module] - {module})}"
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir",
                    str(out), str(ROOT)], check=True, capture_output=True)
    return next(out.glob("datavault-*.whl"))


def test_wheel_ships_templates_and_example(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "datavault/_shipped/templates/base/satellite.sql.j2" in names
    assert "datavault/_shipped/templates/postgresql/satellite.sql.j2" in names
    assert "datavault/_shipped/example/models/hubs/customer.yml" in names
    assert "datavault/_shipped/example/data/crm_customers_2026-01-01.csv" in names
    assert "datavault/_shipped/example/alembic.ini" in names
    assert "datavault/_shipped/example/migrations/env.py" in names
    assert any(n.startswith("datavault/_shipped/example/migrations/versions/") and
               n.endswith("_first_model.py") for n in names)


def test_installed_wheel_works_from_an_unrelated_folder(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--target", str(target), str(wheel)], check=True, capture_output=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target)}
    env.pop("DATAVAULT_URL", None)

    def run(*args: str) -> str:
        done = subprocess.run([str(target / "bin" / "datavault"), *args], cwd=elsewhere,
                              env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    where = subprocess.run([sys.executable, "-c", "import datavault; print(datavault.__file__)"],
                           cwd=elsewhere, env=env, capture_output=True, text=True).stdout
    assert where.startswith(str(target)), f"imported {where}, not the installed wheel"
    assert "applied" in run("init", "vault")
    assert "ok:" in run("-p", "vault", "validate")
    assert "ok:" in run("-p", "vault", "migrate", "check")
    loaded = run("-p", "vault", "load", "crm_customers", "vault/data/crm_customers_2026-01-01.csv")
    assert "customer_details" in loaded
    assert (elsewhere / "vault" / "vault.sqlite").exists()
