"""Shared fixtures: the engines every load test runs on, and small projects to load into."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("DATAVAULT_TEST_PG", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _pg_available() -> str | None:
    try:
        engine = sa.create_engine(PG_URL)
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
        engine.dispose()
        return None
    except Exception as exc:  # any failure means: no server to test against
        return str(exc).strip().splitlines()[0]


_PG_PROBLEM = _pg_available()


def need_postgres() -> None:
    """Skip without a PostgreSQL server, except under CI where that is a failure."""
    if _PG_PROBLEM is None:
        return
    message = f"PostgreSQL at {PG_URL} is not reachable: {_PG_PROBLEM}"
    if IN_CI:
        pytest.fail("CI must run the PostgreSQL tests; " + message)
    pytest.skip(message)


# the system catalogs that making and dropping a schema of tables, indexes and views churns
CHURNED_CATALOGS = ("pg_attribute", "pg_class", "pg_type", "pg_depend", "pg_index",
                    "pg_constraint", "pg_attrdef", "pg_statistic", "pg_namespace",
                    "pg_rewrite", "pg_sequence", "pg_description", "pg_shdepend")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The property tests first, those on PostgreSQL before the others: they are the longest,
    and a long test that starts last keeps one worker busy after the others are done (each
    pytest-xdist worker takes a run of the list, and steals from the end of another's)."""
    def weight(item: pytest.Item) -> int:
        prop = hasattr(getattr(item, "obj", None), "hypothesis")
        return (0 if prop else 2) + (0 if "postgresql" in item.name else 1)

    items.sort(key=weight)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The tests make and drop hundreds of schemas; on a server whose autovacuum is off, the
    dead rows they leave in the system catalogs would pile up run after run and slow every
    catalog lookup. A VACUUM of those catalogs after the run lets the next one reuse the
    space. Under pytest-xdist only the controlling process does it, once every worker is
    done."""
    if _PG_PROBLEM is not None or hasattr(session.config, "workerinput"):
        return
    engine = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql(
            "VACUUM " + ", ".join(f"pg_catalog.{name}" for name in CHURNED_CATALOGS))
    engine.dispose()


@pytest.fixture
def make_pg_url() -> Iterator:
    """Makes fresh PostgreSQL schemas (dropped afterwards), as URLs whose search_path is one.
    Their sessions commit without waiting for the server's disk (``synchronous_commit``
    off): what a test checks is what a transaction holds, not whether the server keeps it
    through a crash of its own, and the property suites commit thousands of times."""
    need_postgres()
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    made: list[str] = []

    def make() -> str:
        name = f"dvtest_{uuid.uuid4().hex[:12]}"
        with admin.connect() as connection:
            connection.exec_driver_sql(f"CREATE SCHEMA {name}")
        made.append(name)
        separator = "&" if "?" in PG_URL else "?"
        return f"{PG_URL}{separator}options=-csearch_path%3D{name}%20-csynchronous_commit%3Doff"

    yield make
    with admin.connect() as connection:
        for name in made:
            connection.exec_driver_sql(f"DROP SCHEMA {name} CASCADE")
    admin.dispose()


@pytest.fixture
def pg_url(make_pg_url) -> str:
    """A fresh PostgreSQL schema, as a URL whose search_path is it."""
    return make_pg_url()


def need_driver(engine: str) -> None:
    """Skip where the engine's Python driver is not installed, except under CI where that is
    a failure."""
    from datavault.dialects import get_dialect

    problem = get_dialect(engine).missing_driver()
    if problem is None:
        return
    if IN_CI:
        pytest.fail(f"CI must run the {engine} tests; {problem}")
    pytest.skip(problem)


def _engines() -> list[str]:
    """Every engine the toolkit knows, or those named in ``DATAVAULT_TEST_ENGINES``
    (comma-separated), to run the suites on one engine at a time."""
    from datavault.dialects import DIALECTS

    known = list(DIALECTS)
    asked = [e.strip() for e in os.environ.get("DATAVAULT_TEST_ENGINES", "").split(",")
             if e.strip()]
    unknown = sorted(set(asked) - set(known))
    if unknown:
        raise pytest.UsageError(f"DATAVAULT_TEST_ENGINES names unknown engines {unknown}; "
                                f"known: {', '.join(known)}")
    return asked or known


#: every engine the tests run on: the hashing contract holds on each
ALL_ENGINES = _engines()


def _has_all(engine: str) -> bool:
    from datavault.dialects import get_dialect

    dialect = get_dialect(engine)
    return not dialect.lacking(dialect.CAPABILITIES)


#: the engines that run every kind's loads and the marts: most suites run on each
ENGINES = [engine for engine in ALL_ENGINES if _has_all(engine)]
#: every engine: each loads hubs, links and satellites (kinds that need nothing more,
#: ``Kind.engine_needs``), so the suites of those run on each
CORE_ENGINES = ALL_ENGINES


def file_url_maker(engine: str, folder: Path):
    """Makes URLs of fresh database files of an embedded engine in ``folder``."""
    need_driver(engine)
    counter = iter(range(1_000_000))
    return lambda: f"{engine}:///{folder / f'vault{next(counter)}.{engine}'}"


@pytest.fixture(scope="session")
def spark_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of the tests' local Spark session: one per test process (a process runs
    one local session), each test in a schema of its own."""
    need_driver("spark")
    return tmp_path_factory.mktemp("spark-warehouse")


@pytest.fixture
def make_spark_url(spark_warehouse: Path) -> Iterator:
    """Makes fresh schemas of the local Spark session (dropped afterwards), as URLs."""
    made: list[str] = []

    def make() -> str:
        name = f"dvtest_{uuid.uuid4().hex[:12]}"
        made.append(name)
        return f"spark:///{spark_warehouse}?schema={name}"

    yield make
    if made:
        from datavault.database import connect

        engine, _ = connect(f"spark:///{spark_warehouse}")
        with engine.connect() as connection:
            for name in made:
                connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} CASCADE")
        engine.dispose()


@pytest.fixture(scope="session")
def spark_connect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Spark Connect server for this test process, as a URL: Spark's own server class,
    started by ``spark-submit`` from the PySpark package, listening where a cluster's would
    (a port on this machine). Stopped when the tests end."""
    need_driver("spark")
    import signal
    import socket
    import subprocess
    import time

    import pyspark

    home = Path(pyspark.__file__).parent
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    folder = tmp_path_factory.mktemp("spark-connect")
    log = folder / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(home / "bin" / "spark-submit"), "--class",
             "org.apache.spark.sql.connect.service.SparkConnectServer", "--master", "local[2]",
             "--conf", "spark.connect.grpc.binding.address=127.0.0.1",
             "--conf", f"spark.connect.grpc.binding.port={port}",
             "--conf", "spark.ui.enabled=false", "--conf", "spark.sql.shuffle.partitions=4",
             "--conf", "spark.sql.filesourceTableRelationCacheSize=0",
             "--conf", f"spark.sql.warehouse.dir={folder / 'warehouse'}"],
            env={**os.environ, "SPARK_HOME": str(home)}, cwd=folder, stdout=output,
            stderr=subprocess.STDOUT, start_new_session=True)
    from datavault.dialects import sparksql

    deadline = time.monotonic() + 180
    while True:
        try:
            sparksql.connect(remote=f"sc://127.0.0.1:{port}").close()
            _forget_connect_mode()
            break
        except sparksql.Error:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                tail = log.read_text(errors="replace").splitlines()[-20:]
                pytest.fail("the Spark Connect server did not start:\n" + "\n".join(tail))
            time.sleep(1)
    yield f"spark://127.0.0.1:{port}"
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(60)


@pytest.fixture
def make_spark_connect_url(spark_connect_server: str) -> Iterator:
    """Makes fresh schemas on the tests' Spark Connect server (dropped afterwards)."""
    made: list[str] = []

    def make() -> str:
        name = f"dvtest_{uuid.uuid4().hex[:12]}"
        made.append(name)
        return f"{spark_connect_server}?schema={name}"

    yield make
    if made:
        from datavault.database import connect

        engine, _ = connect(spark_connect_server)
        with engine.connect() as connection:
            for name in made:
                connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} CASCADE")
        engine.dispose()
    _forget_connect_mode()


def _forget_connect_mode() -> None:
    """A Spark Connect session marks its process as one of Spark Connect's
    (``SPARK_CONNECT_MODE_ENABLED``), after which PySpark starts no local session in it. A
    command's process uses one URL; a test process runs both kinds, so the mark is taken
    back once a test's Spark Connect sessions are done."""
    os.environ.pop("SPARK_CONNECT_MODE_ENABLED", None)


def url_maker(request: pytest.FixtureRequest, engine: str, folder: Path):
    """Makes fresh, empty databases of ``engine`` for one test, as URLs (``spark-connect``:
    Spark through a Spark Connect server rather than a session in the test process)."""
    if engine == "postgresql":
        return request.getfixturevalue("make_pg_url")
    if engine == "spark":
        return request.getfixturevalue("make_spark_url")
    if engine == "spark-connect":
        return request.getfixturevalue("make_spark_connect_url")
    return file_url_maker(engine, folder)


@pytest.fixture(params=ENGINES)
def make_db_url(request: pytest.FixtureRequest, tmp_path: Path):
    """Makes fresh databases of one engine; each test using it runs on every engine."""
    return url_maker(request, request.param, tmp_path)


@pytest.fixture
def db_url(make_db_url) -> str:
    """A fresh database; each test using it runs once on every engine."""
    return make_db_url()


def copy_example(target: Path) -> Path:
    """A copy of the repository's example warehouse at ``target``."""
    for part in ("models", "config", "data", "migrations"):
        shutil.copytree(ROOT / part, target / part,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copyfile(ROOT / "alembic.ini", target / "alembic.ini")
    return target


@pytest.fixture
def example_project(tmp_path: Path) -> Path:
    """A copy of the repository's example warehouse."""
    return copy_example(tmp_path / "project")


def migrated(root: Path, url: str) -> str:
    """Bring the database at ``url`` up to the project's model, the way a user does: the
    project's migrations (written first from the model if it has none), then upgrade."""
    from datavault import api

    if not list((root / "migrations" / "versions").glob("*.py")):
        api.migrate_revision(root, "model", url=url)
    api.migrate_upgrade(root, url=url)
    return url


def write_project(root: Path, files: dict[str, str]) -> Path:
    """Write a project from {relative path: text}."""
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root
