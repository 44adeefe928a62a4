"""Loads at once and loads killed half-way, through the real command in processes of their
own, on SQLite and PostgreSQL.

Eight processes load overlapping batches of one source at the same moment (the same file
twice among them); loads are killed with SIGKILL at random moments and then finished by a
plain re-run or by `--resume`. Each time the vault must equal the plain-Python reference of
SEMANTICS.md section 2 for every key, applied time and batch load time: no row lost, none
twice, every batch loaded or clearly failed.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from datavault.database import connect
from tests.conftest import migrated, write_project
from tests.reference import reference_state

PROJECT = {
    "models/sources/feed.yml": """
applied_at: day
columns:
  k: text
  day: timestamp
  v: text
  w: integer
""",
    "models/hubs/thing.yml": """
business_key:
  k: text
sources:
  feed:
""",
    "models/satellites/thing_state.yml": """
parent: thing
source: feed
payload: [v, w]
""",
    "models/satellites/thing_weight.yml": """
parent: thing
source: feed
payload: [w]
""",
}
DAY0 = dt.datetime(2026, 1, 1)
DAYS = 6
KEYS = [f"K{i:03d}" for i in range(500)]


def _write(path: Path, rows: list[tuple[str, int, str, int]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["k", "day", "v", "w"])
        for key, day, v, w in rows:
            writer.writerow([key, (DAY0 + dt.timedelta(days=day)).isoformat(), v, w])
    return path


def _batches(folder: Path, count: int, size: int, seed: int) -> dict[Path, list[tuple]]:
    """Batches of distinct (key, day) cells each, overlapping one another: the same cell in
    two batches with another payload is a correction, and the later-loaded one wins."""
    chance = random.Random(seed)
    files = {}
    for number in range(count):
        cells = chance.sample([(k, d) for k in KEYS for d in range(DAYS)], size)
        rows = [(k, d, chance.choice("xyz"), chance.randint(1, 2)) for k, d in cells]
        files[_write(folder / f"batch_{number}.csv", rows)] = rows
    return files


def _cli(project: Path, url: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", "from datavault.cli import main; main()",
         "-p", str(project), "--url", url, *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "COLUMNS": "200"})


def _ts(value) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))


class Vault:
    def __init__(self, root: Path, url: str):
        self.root = write_project(root, PROJECT)
        self.url = migrated(root, url)
        # the toolkit's engine: on DuckDB it holds the file only while it reads
        self.engine, _ = connect(url)

    def query(self, sql: str) -> list[tuple]:
        with self.engine.connect() as connection:
            return [tuple(r) for r in connection.exec_driver_sql(sql)]

    def check(self, files: dict[Path, list[tuple]]) -> None:
        """Every file loaded exactly once as a batch that is over, nothing staged, and every
        state the reference's, as known at every batch's load time."""
        batches = self.query("SELECT batch_id, input, status, loaded_at, rows_read, checksum "
                             "FROM dv_batch ORDER BY batch_id")
        loaded = [b for b in batches if b[2] == "loaded"]
        assert all(b[2] in ("loaded", "failed") for b in batches), batches
        assert sorted(Path(b[1]).name for b in loaded) == sorted(p.name for p in files), batches
        assert len({b[5] for b in loaded}) == len(loaded)
        assert self.query("SELECT COUNT(*) FROM stg_feed") == [(0,)]
        by_name = {p.name: rows for p, rows in files.items()}
        observations = []
        for _, name, _, loaded_at, rows_read, _ in loaded:
            rows = by_name[Path(name).name]
            assert rows_read == len(rows)
            observations += [(k, DAY0 + dt.timedelta(days=d), _ts(loaded_at), (v, w))
                             for k, d, v, w in rows]
        stored = [(k, _ts(a), _ts(lt), (v, w)) for k, a, lt, v, w in self.query(
            "SELECT h.k, s.applied_ts, s.load_ts, s.v, s.w FROM sat_thing_state s "
            "JOIN hub_thing h ON h.thing_hk = s.thing_hk")]
        assert self.query("SELECT COUNT(*) FROM hub_thing") == [
            (len({o[0] for o in observations}),)]
        expected: dict[str, list] = {}
        got: dict[str, list] = {}
        for group, items in ((expected, observations), (got, stored)):
            for item in items:
                group.setdefault(item[0], []).append(item)
        wrong = 0
        for known_at in [_ts(b[3]) for b in loaded]:
            for key in KEYS:
                for day in range(-1, DAYS + 1):
                    at = DAY0 + dt.timedelta(days=day)
                    if (reference_state(got.get(key, []), key, at, known_at)
                            != reference_state(expected.get(key, []), key, at, known_at)):
                        wrong += 1
        assert wrong == 0, f"{wrong} states differ from the reference"


@pytest.fixture
def vault(tmp_path: Path, db_url: str):
    v = Vault(tmp_path / "project", db_url)
    yield v
    v.engine.dispose()


def test_eight_loads_at_once_lose_nothing(vault: Vault, tmp_path: Path) -> None:
    files = _batches(tmp_path, 7, 1500, seed=7)
    paths = list(files) + [next(iter(files))]  # the same file twice
    processes = [_cli(vault.root, vault.url, "load", "feed", str(p)) for p in paths]
    outputs = [p.communicate(timeout=300) for p in processes]
    for process, (out, err) in zip(processes, outputs):
        assert process.returncode == 0, out + err
    assert sum("skipped" in out for out, _ in outputs) == 1
    assert any("waiting for another load" in err for _, err in outputs)
    vault.check(files)


#: where a load is killed: at the first progress line that holds the text, then after a delay
KILL_POINTS = [
    ("staging", 0.05),  # in the middle of staging
    ("staged", 0.0),  # staged, before any entity load
    ("loading thing_state", 0.02),  # in the middle of the satellite's load
    ("hub thing ok", 0.0),  # between two entity loads
    ("satellite thing_weight ok", 0.0),  # every load done, the batch not yet closed
    ("loading thing", 0.0),  # as the hub load begins
]


def _kill_at(process: subprocess.Popen, text: str, delay: float) -> str:
    """Kill the load when its progress reaches ``text``; what it printed until then."""
    assert process.stderr is not None
    seen = []
    for line in process.stderr:
        seen.append(line)
        if text in line:
            time.sleep(delay)
            process.send_signal(signal.SIGKILL)
            break
    process.communicate(timeout=120)
    return "".join(seen)


def test_loads_killed_at_any_moment_are_finished_by_the_next(vault: Vault,
                                                             tmp_path: Path) -> None:
    files = _batches(tmp_path, len(KILL_POINTS), 2000, seed=11)
    for number, (path, (text, delay)) in enumerate(zip(files, KILL_POINTS)):
        process = _cli(vault.root, vault.url, "load", "feed", str(path))
        printed = _kill_at(process, text, delay)
        assert process.returncode == -signal.SIGKILL, printed
        # no entity load is ever seen in part: a satellite holds rows of a batch only
        # once its load of that batch succeeded
        partial = vault.query(
            "SELECT s.batch_id FROM sat_thing_state s WHERE NOT EXISTS (SELECT 1 FROM "
            "dv_load_audit a WHERE a.batch_id = s.batch_id AND a.entity = 'thing_state' "
            "AND a.status = 'ok')")
        assert partial == [], (text, partial)
        listing = _cli(vault.root, vault.url, "batches", "--format", "json")
        out, err = listing.communicate(timeout=60)
        assert listing.returncode == 0, err
        newest = json.loads(out)[0]
        assert newest["state"].endswith("(interrupted)") or newest["state"] in (
            "loaded", "failed"), (text, newest)
        resumable = newest["state"].split(" (")[0] in ("staged", "loading", "partly loaded")
        if resumable and number % 2:
            again = _cli(vault.root, vault.url, "load", "--resume", str(newest["batch"]))
            out, err = again.communicate(timeout=300)
            assert again.returncode == 0, out + err
        # a plain re-run of the same input finishes its batch (and skips it), or loads it
        again = _cli(vault.root, vault.url, "load", "feed", str(path))
        out, err = again.communicate(timeout=300)
        assert again.returncode == 0, out + err
    vault.check(files)


def test_a_reader_never_sees_part_of_a_batch(vault: Vault, tmp_path: Path) -> None:
    from datavault import api

    files = list(_batches(tmp_path, 2, 2500, seed=5))
    first = _cli(vault.root, vault.url, "load", "feed", str(files[0]))
    assert first.wait(timeout=300) == 0

    def answer() -> tuple:
        found = api.query_history(vault.root, "thing", url=vault.url)  # both satellites
        return tuple(sorted((r["k"], r["satellite"], str(r["applied"]), r["replaced"] is None,
                             r["thing_state.v"], r["thing_weight.w"])
                            for r in found.records()))

    before = answer()
    loading = _cli(vault.root, vault.url, "load", "feed", str(files[1]))
    seen = []
    while loading.poll() is None:
        seen.append(answer())
    out, err = loading.communicate()
    assert loading.returncode == 0, out + err
    after = answer()
    assert after != before and len(seen) > 2
    assert all(a in (before, after) for a in seen), "a reader saw part of a batch"


def test_a_batch_whose_staged_rows_are_gone_is_not_loaded(example_project: Path,
                                                         db_url: str) -> None:
    """A migration that makes a staging table again loses the rows of a batch not yet fully
    loaded: resuming it must not load too few rows (a snapshot would delete every key)."""
    from datavault import api
    from datavault.diagnostics import DatavaultError
    from datavault.load import open_input

    session = api.open_session(example_project, url=migrated(example_project, db_url))
    loader = session.loader
    data = example_project / "data"
    assert loader.load("crm_customers", open_input(str(data / "crm_customers_2026-01-01.csv"))).ok
    staged = loader.stage("crm_customers", open_input(str(data / "crm_customers_2026-02-01.csv")))
    source = session.project.model.sources["crm_customers"]
    assert loader.load_entity(source, "customer", staged).status == "ok"
    with session.engine.begin() as connection:
        connection.exec_driver_sql("DELETE FROM stg_crm_customers")
        before = connection.exec_driver_sql("SELECT COUNT(*) FROM sat_customer_details").scalar()
    with pytest.raises(DatavaultError, match="staged rows are gone"):
        loader.resume(staged.batch_id)
    batch = loader.ledger.get(staged.batch_id)
    assert batch is not None and batch.status == "failed"
    with session.engine.connect() as connection:
        after = connection.exec_driver_sql("SELECT COUNT(*) FROM sat_customer_details").scalar()
    assert after == before
    session.close()


def test_a_local_spark_session_waits_while_another_process_has_the_catalog(
        tmp_path: Path) -> None:
    """A local Spark session's catalog is an embedded Derby database, which one process at a
    time opens (Derby holds a lock on its ``dbex.lck`` while it has it booted). A session
    about to start waits while another process holds that lock, and says so after a
    second, instead of failing with the metastore's stack traces."""
    import logging

    from datavault.dialects import sparksql

    metastore = tmp_path / "metastore_db"
    metastore.mkdir()
    (metastore / "dbex.lck").write_bytes(b"")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, os, sys, time; f = os.open(sys.argv[1], os.O_RDWR); "
         "fcntl.lockf(f, fcntl.LOCK_EX); print('held', flush=True); time.sleep(4)",
         str(metastore / "dbex.lck")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        assert sparksql._held(metastore)
        records: list[logging.LogRecord] = []
        handler = logging.Handler(logging.WARNING)
        handler.emit = records.append  # type: ignore[method-assign]
        sparksql._log.addHandler(handler)
        started = time.monotonic()
        try:
            sparksql._wait_while_held(metastore, str(tmp_path))
        finally:
            sparksql._log.removeHandler(handler)
        waited = time.monotonic() - started
    finally:
        holder.wait(30)
    assert 1.0 < waited < 10, waited
    told = [r.getMessage() for r in records]
    assert told == [f"the Spark warehouse {tmp_path} is in use by another process (a local "
                    "session's catalog is one process's at a time); waiting up to 600 s for "
                    "it"]
    assert not sparksql._held(metastore)
