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

# What each module may import from the toolkit (DESIGN.md: dependencies point one way). The
# metadata package is two layers: reading YAML and the checks all files share, under the
# kinds; the reader of a project, which drives the kinds, and of its marts (which ask the kinds
# how a mart sees an entity), over them.
ALLOWED = {
    "model": set(),
    "hashing": set(),
    "diagnostics": set(),
    "values": {"hashing"},
    "metadata.yamlfile": {"diagnostics"},
    "metadata.checks": {"model", "diagnostics", "metadata.yamlfile"},
    "kinds": {"model", "diagnostics", "dialects", "metadata.checks", "metadata.yamlfile"},
    "metadata.marts": {"model", "diagnostics", "kinds", "metadata.yamlfile"},
    # hashing and values (leaves): a source's check values and delete marker values are read
    # as typed values of their column and kept as canonical text, at the place the YAML
    # gives them
    "metadata.quality": {"model", "diagnostics", "metadata.checks", "metadata.yamlfile",
                         "hashing", "values"},
    "metadata.project": {"model", "diagnostics", "kinds", "metadata.checks",
                         "metadata.yamlfile", "metadata.marts", "metadata.quality"},
    "metadata.__init__": {"metadata.project"},
    "dialects": {"dialects", "hashing", "values", "diagnostics"},
    "schema": {"model", "dialects", "kinds"},
    # the rules of a source's checks: their SQL by dialect, and the statistics of batch checks
    "quality": {"model", "dialects", "values"},
    "render": {"model", "schema", "dialects", "resources", "kinds", "quality"},
    "load": {"model", "schema", "values", "diagnostics", "dialects", "render", "database",
             "kinds", "quality"},
    "contract": {"model", "kinds"},
    "migrate": {"contract", "database", "dialects", "schema", "model", "diagnostics",
                "metadata.__init__",
                "marts"},
    "marts": {"model", "schema", "values", "diagnostics", "render", "kinds"},
    "query": {"hashing", "schema", "values", "model", "diagnostics", "contract", "kinds"},
    "schemacheck": {"contract", "schema", "model", "diagnostics", "migrate", "kinds"},
    "session": {"database", "marts", "query", "schema", "schemacheck", "diagnostics",
                "dialects", "load", "metadata.__init__", "metadata.project", "render"},
    # column lineage from the model alone: the tables of schema and marts, no database
    "lineage": {"model", "kinds", "marts", "schema", "dialects"},
    "docs": {"model", "kinds", "diagnostics", "lineage", "quality"},
    "lineage_events": {"model", "kinds", "lineage", "database", "diagnostics"},
    # a Kafka consumer over a session: each micro-batch a load
    "stream": {"session", "load", "diagnostics"},
    # the run plan is computed from the model alone; the orchestrators' integrations use the
    # toolkit through its public api and the plan only
    "plan": {"model", "kinds"},
    "integrations": {"api", "plan", "diagnostics"},
}


def _unit(dotted: str) -> str:
    """The entry of ALLOWED that ``datavault.<dotted>`` belongs to: a module, a package, or
    a module of a package whose modules are listed one by one."""
    parts = dotted.split(".")
    if len(parts) > 1 and f"{parts[0]}.{parts[1]}" in ALLOWED:
        return f"{parts[0]}.{parts[1]}"
    if len(parts) == 1 and f"{dotted}.__init__" in ALLOWED:
        return f"{dotted}.__init__"
    return parts[0]


def _toolkit_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("datavault"):
            parts = node.module.split(".")
            if len(parts) > 1:
                found.add(_unit(".".join(parts[1:])))
            else:
                found.update(_unit(alias.name) for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("datavault."):
                    found.add(_unit(alias.name.split(".", 1)[1]))
    return found


def _paths(unit: str) -> list[Path]:
    """The files of an entry of ALLOWED (a package listed module by module is not one)."""
    path = PACKAGE / (unit.replace(".", "/") + ".py")
    if path.exists():
        return [path]
    return [p for p in sorted((PACKAGE / unit).glob("*.py"))
            if f"{unit}.{p.stem}" not in ALLOWED]


@pytest.mark.parametrize("module", sorted(ALLOWED))
def test_dependencies_point_one_way(module: str) -> None:
    paths = _paths(module)
    assert paths, f"{module} has no files"
    imported = set().union(*(_toolkit_imports(p) for p in paths))
    allowed = ALLOWED[module] | {module, module.split(".")[0]}
    assert imported <= allowed, f"{module} imports {sorted(imported - allowed)}"


def test_the_core_never_imports_the_integrations() -> None:
    """An orchestrator is optional: no module outside integrations/ imports one."""
    for path in PACKAGE.rglob("*.py"):
        if "integrations" not in path.relative_to(PACKAGE).parts:
            assert "integrations" not in _toolkit_imports(path), path


def test_every_module_is_in_the_picture() -> None:
    units = {_unit(p.relative_to(PACKAGE).with_suffix("").as_posix().replace("/", "."))
             for p in PACKAGE.rglob("*.py") if "_shipped" not in p.parts}
    listed = {u for u in units if u in ALLOWED}
    for package in {u.split(".")[0] for u in ALLOWED if "." in u}:
        assert {u for u in units if u.startswith(package + ".")} <= listed, (
            f"every module of {package}/ is listed on its own")


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
    assert "datavault/site_templates/index.html.j2" in names
    assert "datavault/site_templates/site.css" in names
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
    assert "wrote" in run("-p", "vault", "docs", "--out", "site")
    assert "crm_customers" in (elsewhere / "site" / "source-crm_customers.html").read_text()
