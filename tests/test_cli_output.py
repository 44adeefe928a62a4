"""What the commands write for scripts and for logs, on SQLite and PostgreSQL alike.

`--format json` gives one JSON document on standard output and nothing else there, or nothing
at all with an error (which goes to standard error, exit code 1). Output that is piped is never
wrapped, folded or cut to a terminal's width: the last tests run the command in a process of
its own with its output piped and `COLUMNS=60`, as cron or a CI job would.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from datavault.cli import main
from datavault.marts import MartResult
from tests.conftest import ROOT, migrated, need_driver

CRM = ("crm_customers_2026-01-01.csv", "crm_customers_2026-03-01.csv",
       "crm_customers_2026-02-01.csv")  # the last one is late
ORDERS = "shop_orders_2026-03-02.csv"
# a row without its customer: quarantined by the hub customer and the link, typed and staged
NO_CUSTOMER = ("order_id,customer_ref,status,amount,ordered_at,changed_at\n"
               "O-9,,placed,12345678901234567.50,2026-03-05T12:00:00,2026-03-05T12:00:00\n")
STAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$")  # full precision, as _stamp
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d \S")


def dv(project: Path, url: str, *args: str, code: int = 0) -> Result:
    result = CliRunner().invoke(main, ["-p", str(project), "--url", url, *args])
    assert "Traceback" not in result.output, result.output
    assert result.exit_code == code, f"{args}: {result.output}{result.exception!r}"
    return result


def as_json(result: Result) -> object:
    """The whole of standard output as one JSON document."""
    return json.loads(result.stdout)


def assert_error_only(result: Result, needle: str) -> None:
    """A user error with --format json: nothing on standard output, one line on standard
    error, exit code 1."""
    assert isinstance(result.exception, SystemExit) and result.exit_code == 1, result.output
    assert result.stdout == ""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0], result.stderr


def load(project: Path, url: str, source: str, path: Path) -> None:
    dv(project, url, "load", source, str(path))


# ---- marts build ---------------------------------------------------------------------------
def test_marts_build_json_holds_every_field_of_each_mart_and_the_marts_dropped(
        example_project: Path, db_url: str) -> None:
    url = migrated(example_project, db_url)
    data = example_project / "data"
    for name in CRM[:2]:
        load(example_project, url, "crm_customers", data / name)
    first = as_json(dv(example_project, url, "marts", "build", "--format", "json"))
    assert set(first) == {"marts", "dropped"} and first["dropped"] == []
    fields = [f.name for f in dataclasses.fields(MartResult)]
    assert [list(m) for m in first["marts"]] == [fields] * 3
    by_name = {m["mart"]: m for m in first["marts"]}
    assert sorted(by_name) == ["customer_orders", "customers", "orders"]
    customers = by_name["customers"]
    assert customers["kind"] == "pit" and customers["full"] is True
    assert customers["reason"] == "first build"
    assert (customers["touched"], customers["snapshots"], customers["rows_inserted"]) == (4, 4, 16)
    assert (customers["after_batch"], customers["upto_batch"]) == (0, 2)
    assert customers["held_by"] is None and isinstance(customers["seconds"], float)

    load(example_project, url, "crm_customers", data / CRM[2])  # late: February
    (example_project / "models/marts/orders.yml").unlink()
    again = as_json(dv(example_project, url, "marts", "build", "--format", "json"))
    assert again["dropped"] == ["orders"]
    refreshed = {m["mart"]: m for m in again["marts"]}["customers"]
    assert refreshed["full"] is False and refreshed["touched"] > 0
    assert STAMP.match(refreshed["since"]), refreshed["since"]
    assert dt.datetime.fromisoformat(refreshed["since"]) == dt.datetime(2026, 2, 1, 6)
    assert (refreshed["after_batch"], refreshed["upto_batch"]) == (2, 3)


# ---- migrate -------------------------------------------------------------------------------
def test_migrate_commands_give_one_json_object_each(example_project: Path,
                                                    db_url: str) -> None:
    p, url = example_project, db_url
    before = as_json(dv(p, url, "migrate", "current", "--format", "json"))
    assert before["current"] == [] and before["latest"] is False and len(before["heads"]) == 1
    unmigrated = as_json(dv(p, url, "migrate", "check", "--format", "json", code=1))
    assert unmigrated["ok"] is False and unmigrated["current"] == []
    assert unmigrated["heads"] == before["heads"] and unmigrated["differences"]

    history = as_json(dv(p, url, "migrate", "history", "--format", "json"))["migrations"]
    assert len(history) >= 2 and history[-1]["message"] == "first model"
    assert history[-1]["revises"] == []  # newest first, each revising the one after it
    assert all(m["revises"] == [older["revision"]] for m, older in zip(history, history[1:]))
    ledger = history[0]["revision"]  # the latest

    up = as_json(dv(p, url, "migrate", "upgrade", "--format", "json"))
    assert up == {"steps": [{"from": [older["revision"]] if older else [],
                             "to": [m["revision"]], "message": m["message"]}
                            for m, older in zip(reversed(history), [None, *reversed(history)])],
                  "views_dropped": []}
    assert as_json(dv(p, url, "migrate", "check", "--format", "json")) == {
        "ok": True, "current": [ledger], "heads": [ledger], "differences": [], "kept": []}
    assert as_json(dv(p, url, "migrate", "current", "--format", "json"))["latest"] is True

    load(p, url, "crm_customers", p / "data" / CRM[0])
    dv(p, url, "marts", "build")
    source = p / "models/sources/crm_customers.yml"
    source.write_text(source.read_text().replace("  city: text", "  city: text\n  phone: text"),
                      encoding="utf-8")
    satellite = p / "models/satellites/customer_details.yml"
    satellite.write_text(satellite.read_text().replace("city]", "city, phone]"),
                         encoding="utf-8")
    changed = as_json(dv(p, url, "migrate", "check", "--format", "json", code=1))
    assert changed["ok"] is False and changed["current"] == changed["heads"] == [ledger]
    assert "column sat_customer_details.phone is missing" in changed["differences"]

    revision = as_json(dv(p, url, "migrate", "revision", "-m", "phones", "--format", "json"))
    assert Path(revision["path"]).is_file() and revision["path"].endswith("_phones.py")
    assert "add column sat_customer_details.phone" in revision["changes"]
    assert revision["contract"] == ["satellite customer_details.phone: added (text)"]
    assert (revision["kept"], revision["dropped"], revision["environment_written"]) == (
        [], [], False)
    phones = Path(revision["path"]).name.split("_")[1]

    up = as_json(dv(p, url, "migrate", "upgrade", "--format", "json"))
    assert up["steps"] == [{"from": [ledger], "to": [phones], "message": "phones"}]
    assert sorted(up["views_dropped"]) == sorted(
        f"{mart}_{view}" for mart in ("customer_orders", "customers", "orders")
        for view in ("current", "history", "snapshot"))
    down = as_json(dv(p, url, "migrate", "downgrade", "-1", "--format", "json"))
    assert down == {"steps": [{"from": [phones], "to": [ledger], "message": "phones"}],
                    "views_dropped": []}

    nothing = as_json(dv(p, url, "migrate", "upgrade", ledger, "--format", "json"))
    assert nothing == {"steps": [], "views_dropped": []}


def test_migrate_history_text_names_the_first_migration(example_project: Path) -> None:
    lines = dv(example_project, "sqlite://", "migrate", "history").stdout.splitlines()
    assert lines[-1].endswith("(revises (first))  first model"), lines


# ---- errors with --format json ---------------------------------------------------------------
def test_a_user_error_with_json_leaves_standard_output_empty(example_project: Path,
                                                             db_url: str) -> None:
    p, url = example_project, migrated(example_project, db_url)
    assert_error_only(dv(p, url, "marts", "build", "custmers", "--format", "json", code=1),
                      "did you mean 'customers'")
    assert_error_only(dv(p, url, "load", "crm_customer", str(p / "data" / CRM[0]),
                         "--format", "json", code=1), "crm_customers")
    assert_error_only(dv(p, url, "migrate", "downgrade", "0123abcd", "--format", "json",
                         code=1), "0123abcd")
    assert_error_only(dv(p, url, "batches", "--source", "shop_order", "--format", "json",
                         code=1), "unknown source 'shop_order'")


# ---- quarantine ----------------------------------------------------------------------------
def test_quarantine_json_gives_each_rows_data_as_an_object(example_project: Path, db_url: str,
                                                           tmp_path: Path) -> None:
    p, url = example_project, migrated(example_project, db_url)
    load(p, url, "shop_orders", p / "data" / ORDERS)
    no_customer = tmp_path / "no_customer.csv"
    no_customer.write_text(NO_CUSTOMER, encoding="utf-8")
    load(p, url, "shop_orders", no_customer)

    rows = as_json(dv(p, url, "quarantine", "--format", "json"))
    assert [(r["batch"], r["entity"], r["row"]) for r in rows] == [
        (1, "", 4), (2, "customer", 1), (2, "order_customer", 1), (2, "order_customer_eff", 1)]
    assert all(isinstance(r["data"], dict) for r in rows)
    assert rows[0]["data"]["amount"] == "not-a-number"
    assert rows[0]["data"]["customer_ref"] == "c003 "
    for row in rows[1:]:  # typed and staged: a decimal keeps every digit on both engines
        assert row["data"]["order_id"] == "O-9" and row["data"]["customer_ref"] is None
        assert row["data"]["amount"] == "12345678901234567.5"

    listed = list(csv.DictReader(io.StringIO(dv(p, url, "quarantine", "--format",
                                                "csv").stdout)))
    assert [json.loads(r["data"]) for r in listed] == [r["data"] for r in rows]
    table = dv(p, url, "quarantine", "--batch", "1").stdout
    assert json.dumps(rows[0]["data"]) in table

    exported = tmp_path / "fixed.csv"
    done = as_json(dv(p, url, "quarantine", "--batch", "2", "--source", "shop_orders",
                      "--export", str(exported), "--format", "json"))
    assert done == {"exported": 1, "file": str(exported)}
    assert list(csv.DictReader(exported.open(encoding="utf-8")))[0]["amount"] == \
        "12345678901234567.5"


# ---- validate ------------------------------------------------------------------------------
def test_validate_json_lists_problems_as_objects(example_project: Path) -> None:
    ok = as_json(dv(example_project, "sqlite://", "validate", "--format", "json"))
    assert ok == {"ok": True, "problems": [], "sources": 3, "hubs": 2, "links": 1,
                  "satellites": 2, "nonhistorized_links": 0, "multi_active_satellites": 1,
                  "record_tracking": 0, "effectivity_satellites": 1, "reference_tables": 0,
                  "marts": 3}
    link = example_project / "models/links/order_customer.yml"
    link.write_text(link.read_text().replace("hubs: [order, customer]", "hubs: [ordr, customer]"),
                    encoding="utf-8")
    result = dv(example_project, "sqlite://", "validate", "--format", "json", code=1)
    assert result.stderr == ""
    found = as_json(result)
    assert found["ok"] is False
    assert found["problems"][0] == {
        "path": "models/links/order_customer.yml", "line": 2, "column": 8,
        "message": "unknown hub 'ordr'", "hint": "did you mean 'order'?"}
    assert all(set(p) == {"path", "line", "column", "message", "hint"}
               for p in found["problems"])


# ---- piped output --------------------------------------------------------------------------
def piped(project: Path | None, url: str | None, *args: str, code: int = 0
          ) -> subprocess.CompletedProcess:
    """The command in a process of its own, its output piped, on a 60-column 'terminal'."""
    env = {**os.environ, "COLUMNS": "60",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    env.pop("DATAVAULT_URL", None)
    where = (["-p", str(project)] if project else []) + (["--url", url] if url else [])
    done = subprocess.run([sys.executable, "-m", "datavault", *where, *args],
                          capture_output=True, text=True, env=env)
    assert done.returncode == code, done.stdout + done.stderr
    return done


def test_a_json_load_prints_json_alone_and_its_progress_on_standard_error(
        example_project: Path, db_url: str) -> None:
    p = example_project
    url = migrated(p, db_url)
    loaded = piped(p, url, "load", "shop_orders", str(p / "data" / ORDERS), "--format", "json")
    assert json.loads(loaded.stdout)["status"] == "loaded"
    log = loaded.stderr.splitlines()
    assert log and all(LOG_LINE.match(line) for line in log), loaded.stderr
    assert any("satellite order_status ok: 3 inserted" in line for line in log), log


def test_a_load_goes_on_when_its_standard_error_is_closed(example_project: Path,
                                                         db_url: str) -> None:
    """A log reader gone (``2>&1 >out | head -1``) must not stop a load half way."""
    p = example_project
    url = migrated(p, db_url)
    env = {**os.environ,
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    reader, writer = os.pipe()
    os.close(reader)  # every write to standard error fails
    try:
        done = subprocess.run([sys.executable, "-m", "datavault", "-p", str(p), "--url", url,
                               "load", "shop_orders", str(p / "data" / ORDERS)],
                              stdout=subprocess.PIPE, stderr=writer, text=True, env=env)
    finally:
        os.close(writer)
    assert done.returncode == 0, done.stdout
    assert done.stdout.startswith("batch 1 of shop_orders: loaded;"), done.stdout


def test_a_resume_that_only_marks_a_batch_loaded_says_so(example_project: Path,
                                                         db_url: str) -> None:
    """A batch left partly loaded after its entity loads had all succeeded (the loader
    stopped before its finish): a resume marks it loaded, and says it did; a second resume
    has nothing to do."""
    p = example_project
    url = migrated(p, db_url)
    dv(p, url, "load", "shop_orders", str(p / "data" / ORDERS))
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE dv_batch SET status = 'partly loaded'")
    engine.dispose()
    assert "marked loaded now" in dv(p, url, "load", "--resume", "1").stdout
    assert "nothing to resume" in dv(p, url, "load", "--resume", "1").stdout


def test_loading_a_stopped_loads_input_again_finishes_its_batch(example_project: Path,
                                                               db_url: str) -> None:
    """A load stopped after staging leaves its batch unfinished, which `batches` points out
    with what finishes it; loading the same file again finishes that batch and shows it
    once, as the load's result (not as a skip of the file as loaded before)."""
    from datavault import api
    from datavault.load import open_input

    p = example_project
    url = migrated(p, db_url)
    orders = str(p / "data" / ORDERS)
    session = api.open_session(p, url=url)
    try:
        session.loader.stage("shop_orders", open_input(orders))
    finally:
        session.close()
    listed = dv(p, url, "batches")
    assert ("batch 1 was interrupted: the next load of the source finishes it, or "
            "`datavault load --resume 1` now") in listed.stderr, listed.stderr
    shown = dv(p, url, "load", "shop_orders", orders).stdout
    assert "skipped" not in shown, shown
    assert shown.count("batch 1 of shop_orders: loaded;") == 1, shown
    assert "batch 2" not in shown, shown
    listed = json.loads(dv(p, url, "batches", "--format", "json").stdout)
    assert [(b["batch"], b["state"]) for b in listed] == [(1, "loaded")]
    assert "interrupted" not in dv(p, url, "batches").stderr


def table_rows(text: str) -> list[str]:
    """The row lines of the box tables in ``text``."""
    return [line for line in text.splitlines() if line.startswith("│")]


def assert_whole(text: str) -> None:
    """Nothing cut short with an ellipsis."""
    assert "…" not in text, text


def test_piped_output_is_never_wrapped_or_cut(example_project: Path, db_url: str,
                                              tmp_path: Path) -> None:
    p = example_project
    url = migrated(p, db_url)
    loaded = piped(p, url, "load", "shop_orders", str(p / "data" / ORDERS))
    lines = loaded.stdout.splitlines()
    assert re.fullmatch(r"batch 1 of shop_orders: loaded; 4 rows read, 3 staged, "
                        r"1 quarantined while reading and checking rows; "
                        r"load time [-0-9: .]+", lines[0]), lines
    assert len(table_rows(loaded.stdout)) == 5  # one line per entity
    # the source's checks: those that passed on one line, each of the others on its own
    assert "checks passed: accepted_values_status, range_amount, freshness" in lines
    log = loaded.stderr.splitlines()
    assert log and all(LOG_LINE.match(line) for line in log), loaded.stderr
    assert any(line.endswith(f"staging {p / 'data' / ORDERS} (load time "
                             f"{lines[0].rsplit('load time ', 1)[1]})") for line in log), log

    quarantine = piped(p, url, "quarantine").stdout
    assert quarantine.splitlines()[0] == "quarantined rows: 1 row"
    rows = table_rows(quarantine)
    assert len(rows) == 1 and "amount: 'not-a-number' is not a valid decimal" in rows[0]
    assert '"changed_at": "2026-03-02T12:00:00"}' in rows[0]

    batches = piped(p, url, "batches").stdout
    assert len(table_rows(batches)) == 1 and str(p / "data" / ORDERS) in batches
    history = piped(p, url, "history", "order_status", "--key", "O-1001").stdout
    assert history.splitlines()[0] == "history of order_status: 2 rows"
    assert len(table_rows(history)) == 2
    for text in (quarantine, batches, history):
        assert_whole(text)

    out = tmp_path / ("a-folder-whose-name-is-longer-than-a-line-of-sixty-columns" * 2)
    generated = piped(p, url, "generate", "--out", str(out)).stdout
    assert generated.splitlines() == [f"wrote 20 files to {out}"]


def test_the_demo_piped_is_never_wrapped_or_cut(tmp_path: Path) -> None:
    shown = piped(None, None, "demo", str(tmp_path / "demo")).stdout
    assert_whole(shown)
    lines = shown.splitlines()
    assert ("3. LATE: the extract of 1 February arrives only now. Bob had a new e-mail "
            "address in February; one row has no customer id.") in lines
    assert "What the vault knows: customer_details, every version, both time axes" in lines
    assert any(line.startswith("│ C002 ") and "bob.stone@example.com" in line
               for line in lines)
    # applied and snapshot times are shown as times: the extracts are applied at 06:00, after
    # the snapshot taken at midnight of the same day
    assert any(line.startswith("│ C002 ") and "│ 2026-02-01 06:00 │ batch 3 │" in line
               for line in lines)
    assert any(line.startswith("│ 2026-02-01 00:00 │ C002 ") for line in lines)
    # the reordered phone extract stores nothing; C001's home number is gone by 15 March
    step = lines.index("7. The phone extract of 1 February: the same numbers, in another row "
                       "order.")
    assert lines[step + 1] == "   batch 7: 3 rows read, 0 rows inserted, 0 quarantined."
    phones = lines.index("customer_phones: each customer's set of numbers, as of three days")
    assert [c.strip() for c in lines[phones + 2].split("┃")[1:-1]] == [
        "customer", "type", "15 January", "15 February", "15 March"]
    members = [[c.strip() for c in line.split("│")[1:-1]] for line in lines[phones + 4:phones + 8]]
    assert members == [
        ["C001", "home", "+33 4 78 00 11 22", "+33 4 78 00 11 22", ""],
        ["C001", "mobile", "+33 6 12 34 56 78", "+33 6 12 34 56 78", "+33 6 12 34 56 78"],
        ["C002", "mobile", "+44 7700 900123", "+44 7700 900123", "+44 7700 900123"],
        ["C002", "work", "", "", "+44 113 496 0000"],
    ]
    links = lines.index("link_order_customer, order O-1002: the customers it was linked to")
    assert [[c.strip() for c in line.split("│")[1:-1]] for line in lines[links + 4:links + 6]] == [
        ["O-1002", "C002", "batch 5", "shop.orders"], ["O-1002", "C003", "batch 9", "shop.orders"]]
    assert lines[links + 6].startswith("└")


def test_a_table_shows_a_value_with_line_breaks_on_one_line(example_project: Path,
                                                             db_url: str) -> None:
    """A value holding a line break or a tab is one line in a table (escaped), and exact in
    CSV and JSON."""
    p = example_project
    url = migrated(p, db_url)
    data = p / "one.csv"
    data.write_text('customer_id,name,email,city,extracted_at\n'
                    'C001,"Alice\r\nMartin",a@example.com,"Ly\ton",2026-01-01T06:00:00\n',
                    encoding="utf-8", newline="")
    dv(p, url, "load", "crm_customers", str(data), "--allow-mass-delete")
    shown = piped(p, url, "query", "customer_details", "--key", "C001")
    [row] = table_rows(shown.stdout)
    assert "Alice\\r\\nMartin" in row and "Ly\\ton" in row, shown.stdout
    [record] = as_json(dv(p, url, "query", "customer_details", "--key", "C001",
                          "--format", "json"))
    assert record["name"] == "Alice\r\nMartin" and record["city"] == "Ly\ton"


def test_the_demo_tells_the_same_story_on_every_embedded_engine(tmp_path: Path) -> None:
    """`demo --engine duckdb` loads the same batches into vault.duckdb and prints what the
    SQLite demo prints, but for the file's name and the times of day it ran."""
    need_driver("duckdb")

    def story(engine: str) -> list[str]:
        folder = tmp_path / engine
        shown = piped(None, None, "demo", str(folder), "--engine", engine).stdout
        assert (folder / f"vault.{engine}").is_file()
        return [re.sub(r"\d+\.\d+ s\b|\d\d:\d\d:\d\d(\.\d+)?", "T",
                       line.replace(str(folder), "DIR").replace(f"vault.{engine}", "VAULT"))
                for line in shown.splitlines()]

    duck, lite = story("duckdb"), story("sqlite")
    assert len(duck) > 80 and duck == lite


def test_init_with_an_engine_puts_the_projects_vault_on_it(tmp_path: Path) -> None:
    need_driver("duckdb")
    project = tmp_path / "p"
    shown = piped(None, None, "init", str(project), "--engine", "duckdb").stdout
    assert "Database ready" in shown
    assert "url: duckdb:///vault.duckdb" in (project / "config/datavault.yml").read_text()
    assert (project / ".gitignore").read_text() == "vault.duckdb*\n"
    # every later command uses the local profile's file
    piped(project, None, "load", "crm_customers",
          str(project / "data/crm_customers_2026-01-01.csv"))
    assert (project / "vault.duckdb").is_file() and not (project / "vault.sqlite").exists()
    # a server's engine is named by its URL, not by --engine
    refused = subprocess.run([sys.executable, "-m", "datavault", "init", str(tmp_path / "q"),
                              "--engine", "postgresql"], capture_output=True, text=True)
    assert refused.returncode == 2 and "'postgresql' is not one of" in refused.stderr


def test_a_model_part_the_engine_cannot_run_is_named_by_generate(
        example_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``generate --dialect spark`` names the parts of a model Spark cannot run and what it
    lacks (here the marts, made to need row updates), with the command's usual error exit,
    and starts no Spark."""
    from datavault import marts

    monkeypatch.setattr(marts, "MART_NEEDS", ("row_updates",))
    result = CliRunner().invoke(main, ["-p", str(example_project), "generate", "--dialect",
                                       "spark", "--out", str(tmp_path / "out")])
    assert result.exit_code == 1, result.output
    assert "the spark engine cannot run mart customer_orders" in result.output
    assert "UPDATE, DELETE" in result.output
    assert not (tmp_path / "out").exists()



def test_a_command_says_so_while_another_process_has_the_duckdb_file_open(
        tmp_path: Path) -> None:
    """DuckDB lets one process at a time open a file: a command that finds it open waits,
    and says so (after a second) on standard error, naming the process; then it answers."""
    need_driver("duckdb")
    project = tmp_path / "p"
    piped(None, None, "init", str(project), "--engine", "duckdb")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
         "print('open', flush=True); time.sleep(6)", str(project / "vault.duckdb")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "open\n"
        done = piped(project, None, "batches")
    finally:
        holder.wait(30)
    told = [line for line in done.stderr.splitlines() if "open in another process" in line]
    assert len(told) == 1, done.stderr
    assert str(project / "vault.duckdb") in told[0] and f"PID {holder.pid}" in told[0]
    assert "waiting up to 30 s" in told[0]
    assert done.stdout.startswith("batches: 0 rows"), done.stdout
