"""Secrets in database URLs never leave the process in clear.

A password given as ``user:password@`` or as a query parameter (``?password=``, ``sslpassword``,
``token``, ...) is masked wherever a URL is printed, logged or stored: command output in text
and JSON, error messages (also those wrapped from the driver), the load progress and summary,
the batch ledger (``dv_batch.input`` names a database input by its URL), files the commands
write, and what the plain ``alembic`` command logs. The end-to-end test runs every command with
a canary password and looks for it everywhere; PostgreSQL's trust authentication accepts any
password, so the commands work with it.
"""

from __future__ import annotations

import io
import logging
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from datavault import database
from datavault.cli import main
from datavault.diagnostics import DatavaultError
from tests.conftest import PG_URL

MASK = "***"


# ---- the masking function ---------------------------------------------------------------
@pytest.mark.parametrize(("url", "shown"), [
    ("postgresql://u:s3cret@h:5432/db", "postgresql://u:***@h:5432/db"),
    ("postgresql://u@h/db?password=s3cret", "postgresql://u@h/db?password=***"),
    ("postgresql://u@h/db?sslmode=require&PASSWORD=s3cret",
     "postgresql://u@h/db?PASSWORD=***&sslmode=require"),
    ("postgresql://u:s3cret@h/db?Password=s3cret&options=-csearch_path%3Dx",
     "postgresql://u:***@h/db?Password=***&options=-csearch_path%3Dx"),
    ("postgresql+psycopg2://u@h/db?passwd=a&pwd=b&sslpassword=c&secret=d",
     "postgresql+psycopg2://u@h/db?passwd=***&pwd=***&secret=***&sslpassword=***"),
    ("snowflake://u@acct/db?token=a&access_token=b&api_key=c&Key=d&client_secret=e",
     "snowflake://u@acct/db?Key=***&access_token=***&api_key=***&client_secret=***&token=***"),
])
def test_shown_url_masks_every_form_of_secret(url: str, shown: str) -> None:
    assert database.shown_url(url) == shown
    assert database.shown_url(sa.make_url(url)) == shown


@pytest.mark.parametrize(("url", "shown", "secret"), [
    ("postgresql://u:p%40ss%2Fw%3Ard%25@h/db", "postgresql://u:***@h/db", "p@ss/w:rd%"),
    ("postgresql://u@h/db?password=p%40ss%26w%3Drd", "postgresql://u@h/db?password=***",
     "p@ss&w=rd"),
    ("postgresql://u@h/db?password=p%40ss+w", "postgresql://u@h/db?password=***", "p@ss w"),
])
def test_shown_url_masks_percent_encoded_secrets(url: str, shown: str, secret: str) -> None:
    assert database.shown_url(url) == shown
    # a message that repeats the secret, as it was given or decoded, is masked too
    encoded = url.split("password=")[-1] if "password=" in url else url[15:url.index("@")]
    for form in (secret, encoded):
        assert database.redact(f"failed: {form}!") == "failed: ***!"


@pytest.mark.parametrize("url", [
    "postgresql://u@h:5432/db",
    "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres?options=-csearch_path%3Ddv_x",
    "postgresql://u@h/db?sslmode=require&application_name=vault",
    "sqlite:////tmp/vault.sqlite",
    "sqlite:///:memory:",
])
def test_shown_url_leaves_a_url_without_secrets_as_it_was(url: str) -> None:
    assert database.shown_url(url) == url


@pytest.mark.parametrize("url", [
    "postgresql://u:canary-1@h:port/db",  # a port that is not a number
    "postgres ql://u:canary-1@h/db",
    "not a url canary-1",
])
def test_a_malformed_url_is_never_echoed(url: str) -> None:
    assert "canary" not in database.shown_url(url)
    with pytest.raises(DatavaultError) as caught:
        database.with_driver(url)
    assert "canary" not in str(caught.value)


def test_redact_masks_urls_inside_text_and_the_secrets_of_urls_seen() -> None:
    database.with_driver("postgresql://u:canary-seen-9@h/db?token=canary-token-9")
    text = ("could not reach postgresql://v@k/db?password=canary-other-9 [SELECT 1]; "
            "dsn user=u password=canary-seen-9 token=canary-token-9")
    redacted = database.redact(text)
    assert "canary" not in redacted
    assert "postgresql://v@k/db?password=***" in redacted and "[SELECT 1]" in redacted
    assert database.redact("nothing secret here: sqlite:////tmp/x.sqlite") == \
        "nothing secret here: sqlite:////tmp/x.sqlite"
    # a message made of shown URLs reads the same when redacted again, its punctuation kept
    shown = f"cannot connect to {database.shown_url('postgresql://u@h/db?password=x')}: refused"
    assert shown == "cannot connect to postgresql://u@h/db?password=***: refused"
    assert database.redact(shown) == shown
    # a URL that cannot be read is hidden only when a part of it may be a secret
    assert database.redact("expected dialect+driver://user@host:port/database") == \
        "expected dialect+driver://user@host:port/database"
    assert "canary" not in database.redact("at postgresql://u:canary-x-1@h:port/db, failed")


def test_a_secret_is_masked_as_a_word_not_inside_longer_ones() -> None:
    database.with_driver("postgresql://u:wordsecret7@h/db")
    assert database.redact("user=u password=wordsecret7; wordsecret7s xwordsecret7") == \
        "user=u password=***; wordsecret7s xwordsecret7"


def test_logging_shows_no_secret(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("tests.secrets")
    handler = logging.StreamHandler(io.StringIO())
    handler.addFilter(database.RedactingFilter())
    logger.addHandler(handler)
    try:
        logger.warning("connecting to %s", "postgresql://u@h/db?sslpassword=canary-log-1")
    finally:
        logger.removeHandler(handler)
    assert handler.stream.getvalue() == "connecting to postgresql://u@h/db?sslpassword=***\n"


# ---- every command, with a canary password ---------------------------------------------
def _with_canary(url: str, canary: str, form: str) -> str:
    """``url`` with the canary as password: ``userinfo`` (user:password@), ``query``
    (?password=), or ``both``."""
    parsed = sa.make_url(url)
    if form in ("userinfo", "both"):
        parsed = parsed.set(password=canary)
    if form in ("query", "both"):
        parsed = parsed.update_query_dict({"password": canary})
    return parsed.render_as_string(hide_password=False)


def _port(url: str, port: int) -> str:
    return sa.make_url(url).set(port=port).render_as_string(hide_password=False)


class Run:
    """Runs commands and keeps all they printed, to look for the canary afterwards."""

    def __init__(self, canary: str, env: dict[str, str]):
        self.canary = canary
        self.env = env
        self.outputs: list[tuple[str, str]] = []

    def __call__(self, *args: str, code: int | None = 0,
                 env: dict[str, str | None] | None = None) -> Result:
        result = CliRunner().invoke(main, list(args), env={**self.env, **(env or {})})
        self.outputs.append((" ".join(args), result.stdout + result.stderr))
        assert "Traceback" not in result.output or "--debug" in args, result.output
        if code is not None:
            assert result.exit_code == code, (f"{args}: {result.output}"
                                              f"{result.exception!r}")
        return result

    def process(self, *args: str, cwd: Path) -> None:
        done = subprocess.run(args, cwd=cwd, capture_output=True, text=True,
                              env={**os.environ, **self.env})
        self.outputs.append((" ".join(args), done.stdout + done.stderr))
        assert done.returncode == 0, done.stdout + done.stderr

    def leaks(self) -> list[str]:
        return [f"{command}: {text}" for command, text in self.outputs if self.canary in text]


def _files_holding(folder: Path, canary: str) -> list[str]:
    found = []
    for path in folder.rglob("*"):
        if path.is_file() and canary.encode() in path.read_bytes():
            found.append(str(path))
    return found


def _rows_holding(url: str, canary: str) -> list[str]:
    """Every value of every row of every table the vault's schema holds that has the canary."""
    engine = sa.create_engine(database.with_driver(url))
    found = []
    try:
        with engine.connect() as connection:
            names = sa.inspect(connection).get_table_names()
            assert "dv_batch" in names and len(names) > 10, names
            for name in names:
                table = sa.Table(name, sa.MetaData(), autoload_with=connection)
                for row in connection.execute(sa.select(table)):
                    found += [f"{name}: {row}" for value in row
                              if value is not None and canary in str(value)]
    finally:
        engine.dispose()
    return found


@pytest.fixture
def canary() -> str:
    return f"canary-{secrets.token_hex(8)}"


@pytest.fixture
def input_url(make_pg_url) -> Iterator[str]:
    """A PostgreSQL schema (another database, for the load) holding crm_input, a table with
    the columns of the crm_customers source."""
    url = make_pg_url()
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "CREATE TABLE crm_input (customer_id text, name text, email text, city text, "
            "extracted_at timestamp)")
        connection.exec_driver_sql(
            "INSERT INTO crm_input VALUES ('C001', 'Alice Martin', 'alice@example.com', "
            "'Lyon', '2026-01-01 06:00:00'), ('C002', 'Bob Stone', 'bob@example.com', "
            "'Leeds', '2026-01-01 06:00:00')")
    engine.dispose()
    yield url


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_no_command_shows_logs_or_stores_a_password(
        engine: str, canary: str, input_url: str, make_pg_url, tmp_path: Path) -> None:
    project = tmp_path / "vault"
    if engine == "postgresql":
        plain = make_pg_url()
        url = _with_canary(plain, canary, "both")
    else:
        plain = url = f"sqlite:///{project / 'vault.sqlite'}"
    run = Run(canary, env={"DATAVAULT_URL": url})
    inputs = {form: _with_canary(input_url, canary, form)
              for form in ("userinfo", "query", "both")}
    unreachable = [_port(_with_canary(PG_URL, canary, form), 1) for form in ("userinfo",
                                                                               "query")]
    wrong_db = _with_canary(sa.make_url(PG_URL).set(database="no_such_db_x").render_as_string(
        hide_password=False), canary, "both")
    malformed = [f"postgresql://postgres:{canary}@127.0.0.1:port{canary}/postgres",
                 f"postgresql://postgres@127.0.0.1:port/postgres?password={canary}",
                 f"postgres ql://postgres:{canary}@127.0.0.1/postgres",
                 f"postgresql:/postgres:{canary}@127.0.0.1/postgres",
                 f"postgresql://postgres:Pw@{canary}x@127.0.0.1/postgres"]  # an @ unescaped

    # a project and its database; init with an unreachable database says so, masked
    run("--url", unreachable[1], "init", str(tmp_path / "unreachable"))
    run("--help")
    for command in ("init", "load", "query", "migrate", "batches", "quarantine"):
        run(command, "--help")
    run("init", str(project))
    p = ("-p", str(project))
    run(*p, "validate")
    run(*p, "validate", "--format", "json")
    for dialect in ("sqlite", "postgresql"):
        run(*p, "generate", "--dialect", dialect, "--out", str(project / "generated" / dialect))

    # migrations
    for fmt in ("text", "json"):
        run(*p, "migrate", "upgrade", "--format", fmt)
        run(*p, "migrate", "check", "--format", fmt)
        run(*p, "migrate", "current", "--format", fmt)
        run(*p, "migrate", "history", "--format", fmt)
    run(*p, "migrate", "revision", "--empty", "-m", "nothing", "--format", "json")
    run(*p, "migrate", "upgrade")
    run(*p, "migrate", "downgrade", "-1")
    run(*p, "migrate", "upgrade", "--format", "json")
    run.process(str(Path(sys.executable).parent / "alembic"), "-x", f"url={url}", "current",
                cwd=project)
    run.process(str(Path(sys.executable).parent / "alembic"), "-x", f"url={url}", "check",
                cwd=project)

    # loads: files, a database table and a query, with the canary in the input's URL
    data = project / "data"
    run(*p, "load", "crm_customers", str(data / "crm_customers_2026-01-01.csv"))
    run(*p, "load", "crm_customers", str(data / "crm_customers_2026-02-01.csv"),
        "--format", "json")
    run(*p, "load", "crm_customers", inputs["userinfo"], "--table", "crm_input")
    run(*p, "load", "crm_customers", inputs["query"], "--query",
        "SELECT * FROM crm_input WHERE customer_id = 'C001'", "--allow-mass-delete", "--format",
        "json")
    run(*p, "load", "crm_customers", inputs["both"], "--table", "crm_input")
    orders = tmp_path / "orders.csv"
    orders.write_text("order_id,customer_ref,status,amount,ordered_at,changed_at\n"
                      "O-9,,placed,12.50,2026-03-05T12:00:00,2026-03-05T12:00:00\n",
                      encoding="utf-8")
    run(*p, "load", "shop_orders", str(orders))
    run(*p, "load", "--resume", "1")
    run(*p, "load", "--resume", "2", "--format", "json")

    # loads that fail: an input database that cannot be reached, that does not exist, a
    # malformed input URL, a query that the input database refuses
    for bad in (*[_port(u, 1) for u in inputs.values()], wrong_db, *malformed):
        for fmt in ("text", "json"):
            run(*p, "load", "crm_customers", bad, "--table", "crm_input", "--format", fmt,
                code=1)
    run(*p, "load", "crm_customers", inputs["both"], "--query", "SELECT nonsense FROM nowhere",
        code=1)
    for bad in malformed:
        run(*p, "load", "crm_customers", bad, code=1)

    # the vault itself unreachable, missing or malformed: every command says so, masked
    for bad in (*unreachable, wrong_db, *malformed):
        run("--url", bad, *p, "query", "customer", code=1)
        run("--url", bad, *p, "batches", "--format", "json", code=1)
        run("--url", bad, *p, "migrate", "upgrade", code=1)
        run("--url", bad, *p, "load", "crm_customers", str(data / "crm_customers_2026-03-01.csv"),
            code=1)
    run("--url", unreachable[1], "--debug", *p, "history", "customer", code=1)
    run("--url", unreachable[0], *p, "marts", "build", "--format", "json", code=1)
    run("--url", unreachable[1], *p, "migrate", "check", "--format", "json", code=1)
    for bad in (unreachable[0], malformed[0]):  # a profile's URL from the environment
        run(*p, "--profile", "production", "batches", code=1,
            env={"DATAVAULT_URL": None, "DATAVAULT_PROD_URL": bad})

    # questions and listings
    for fmt in ("table", "csv", "json"):
        run(*p, "batches", "--format", fmt)
        run(*p, "query", "customer", "--format", fmt)
        run(*p, "history", "customer", "--format", fmt)
        run(*p, "quarantine", "--format", fmt)
    run(*p, "quarantine", "--source", "shop_orders", "--export", str(tmp_path / "fix.csv"))
    run(*p, "quarantine", "--source", "shop_orders", "--export", str(tmp_path / "fix2.csv"),
        "--format", "json")
    run(*p, "marts", "build")
    run(*p, "marts", "build", "--full", "--format", "json")
    run("demo", str(tmp_path / "demo"))

    # the commands worked: the database inputs were loaded and are listed, masked
    listing = run(*p, "batches", "--format", "json").stdout
    assert listing.count("[SELECT * FROM crm_input]") == 2, listing
    assert listing.count("password=***") == 2 and listing.count(f"postgres:{MASK}@") == 2
    failed = run("--url", unreachable[1], *p, "query", "customer", code=1).stderr
    assert "password=***" in failed and "127.0.0.1:1" in failed, failed

    leaks = run.leaks() + _files_holding(tmp_path, canary) + _rows_holding(plain, canary)
    assert not leaks, "\n".join(leaks)


# ---- a password with an unescaped @; masking that leaves what is not secret alone --------
@pytest.fixture
def forget_secrets() -> Iterator[None]:
    """Forgets afterwards the secrets the test made the process remember (words such as
    ``postgres`` would else be masked in every later test's messages)."""
    seen, pattern = set(database._seen_secrets), database._seen_pattern
    yield
    database._seen_secrets.clear()
    database._seen_secrets.update(seen)
    database._seen_pattern = pattern


@pytest.mark.parametrize(("password", "fragments"), [
    ("Canary7@Pw1234", ["Canary7", "Pw1234"]),
    ("Canary7@Pw1234:x@y/z", ["Canary7", "Pw1234:x", "y/z"]),
])
def test_a_password_with_an_unescaped_at_is_malformed_and_secret(
        password: str, fragments: list[str], forget_secrets: None) -> None:
    url = f"postgresql://postgres:{password}@127.0.0.1:5439/x?application_name=a@b"
    assert database.shown_url(url) == database.MALFORMED
    with pytest.raises(DatavaultError) as caught:
        database.with_driver(url)
    assert "%40" in str(caught.value)
    assert not any(f in str(caught.value) for f in fragments)
    # a driver's message repeating the password, or its parts, is masked
    for text in (f"could not translate host name \"{fragments[1]}@127.0.0.1\"",
                 f"password {password} refused", f"at {url}, failed"):
        redacted = database.redact(text)
        assert not any(f in redacted for f in fragments), redacted


def test_a_query_value_with_at_is_not_a_password(forget_secrets: None) -> None:
    url = "postgresql://u:s3cretAt@h/db?application_name=me@home"
    assert database.shown_url(url) == "postgresql://u:***@h/db?application_name=me%40home"


def test_masking_by_value_leaves_user_names_and_other_parameters_alone(
        forget_secrets: None) -> None:
    url = "postgresql://postgres:postgres@127.0.0.1/db?application_name=CanaryPw123"
    database.with_driver(url.replace("/db?", "/db2?").replace("postgres@", "CanaryPw123@"))
    shown = database.shown_url(url)
    assert shown == "postgresql://postgres:***@127.0.0.1/db?application_name=CanaryPw123"
    message = f"cannot connect to {shown}: refused"
    assert database.redact(message) == message
    # text from outside is masked by value, but not a URL's user name
    assert database.redact(f"{url} says: bad password CanaryPw123") == \
        f"{shown} says: bad password ***"


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_a_database_input_is_described_with_its_url_masked_by_structure_only(
        engine: str, make_pg_url, tmp_path: Path, forget_secrets: None) -> None:
    """A password that is also a user, table or parameter name masks only the password."""
    project = tmp_path / "vault"
    url = make_pg_url() if engine == "postgresql" else f"sqlite:///{project / 'vault.sqlite'}"
    source = make_pg_url()
    engine_ = sa.create_engine(source)
    with engine_.begin() as connection:
        connection.exec_driver_sql(
            "CREATE TABLE customers (customer_id text, name text, email text, city text, "
            "extracted_at timestamp)")
        connection.exec_driver_sql(
            "INSERT INTO customers VALUES ('C001', 'Alice', 'a@example.com', 'Lyon', "
            "'2026-01-01 06:00:00')")
    engine_.dispose()
    run = Run("never-shown", env={"DATAVAULT_URL": url})
    run("init", str(project))
    p = ("-p", str(project))
    run(*p, "migrate", "upgrade")
    inputs = [_with_canary(source, "customers", "userinfo") + "&application_name=customers",
              _with_canary(source, "postgres", "userinfo")]
    shown = [database.shown_url(u) for u in inputs]
    assert all("postgres:***@" in s for s in shown), shown
    for given, table in zip(inputs, ("customers", "customers"), strict=True):
        out = run(*p, "load", "crm_customers", given, "--table", table, "--allow-mass-delete")
        assert "***:***" not in out.output and "src.***" not in out.output, out.output
    described = [f"{s} [SELECT * FROM customers]" for s in shown]
    listing = run(*p, "batches", "--format", "json").stdout
    assert all(d in listing for d in described), listing
    assert "application_name=customers" in shown[0]
    engine_ = sa.create_engine(database.with_driver(url))
    with engine_.connect() as connection:
        stored = connection.exec_driver_sql("SELECT input FROM dv_batch ORDER BY batch_id")
        assert [row[0] for row in stored] == described
    engine_.dispose()


@pytest.mark.parametrize("debug", [(), ("--debug",)])
def test_a_url_with_an_unescaped_at_is_refused_unshown(
        debug: tuple[str, ...], tmp_path: Path, forget_secrets: None) -> None:
    project = tmp_path / "vault"
    run = Run("Pw9d41", env={})
    run("init", str(project))
    p = ("-p", str(project))
    bad = "postgresql://postgres:Canary@Pw9d41@127.0.0.1:5439/x"
    failed = [run(*debug, "--url", bad, *p, "batches", code=1),
              run(*debug, *p, "load", "crm_customers", bad, "--table", "t", code=1)]
    for result in failed:
        assert "%40" in result.output, result.output
    assert not run.leaks(), run.leaks()
