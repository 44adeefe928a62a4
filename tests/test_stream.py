"""`datavault stream` against librdkafka's mock cluster (no broker to install).

The same change events as a JSON Lines file are produced to a topic; a stream in a child
process is killed between a micro-batch's load and its offset commit (its ``after_load``
callback ends the process there); a new stream takes the uncommitted events again and the
rest, and stops when idle. The vault then answers as the vault loaded from the file does, and
the group's committed offsets are the topic's ends. Also: clear errors for a broker that
cannot be reached, an unknown topic, and a source that does not read change events.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from datavault import api, query
from tests import change_events as ce
from tests.conftest import ALL_ENGINES, migrated, url_maker

TOPIC = "crm.public.customers"
GROUP = "vault"
# a consumer killed without leaving its group holds its partitions this long
OPTIONS = {"session.timeout.ms": "6000", "heartbeat.interval.ms": "500"}
KILLED = 17

# a stream whose after_load callback ends the process once the given micro-batch is loaded,
# before its offsets are committed
CHILD = """
import os, sys
from datavault import api
project, url, brokers, topic, group, options, stop_at = sys.argv[1:8]
loads = []
def crash(result):
    loads.append(result.batch_id)
    print("loaded", result.batch_id, flush=True)
    if len(loads) == int(stop_at):
        os._exit(17)
api.stream(project, "customers_cdc", brokers, topic, group=group, max_events=7,
           max_seconds=1.0, options=dict(o.split("=", 1) for o in options.split(",")),
           url=url, after_load=crash)
"""


def _events() -> list:
    """Inserts, updates, deletes, out of order and delivered twice, with tombstones and a
    broken event."""
    changes = ce.history(40, keys=6, seed=3)
    events: list = [ce.event(k, n, name, lsn, wrapped=lsn % 3 == 0, op="c" if lsn % 2 else "u")
                    for k, n, name, lsn in changes]
    events[5], events[9] = events[9], events[5]  # out of order
    events[20:20] = events[14:17]  # delivered again
    events.insert(11, None)
    events.insert(30, None)
    events.insert(25, {"op": "t", "ts_ms": 0, "source": {"lsn": 1}})
    return events


def _answers(root: Path, url: str) -> list:
    """Every key's live name at every day, as known now (a deleted key has none, whether a
    deletion row says so or no row: which of them depends on what each load knew)."""
    with api.connect(root, url=url) as vault, vault.engine.connect() as connection:
        return [sorted((r["id"], r["name"])
                       for r in query.state(connection, vault.model, "customer_name",
                                            at=ce.day(n)).records() if not r["deleted"])
                for n in range(10)]


def _stream(root: Path, url: str, brokers: str, *args: str,
            topic: str = TOPIC) -> subprocess.CompletedProcess:
    options = [f"--kafka-option={k}={v}" for k, v in OPTIONS.items()]
    return subprocess.run(
        [sys.executable, "-m", "datavault", "-p", str(root), "--url", url, "stream",
         ce.SOURCE, "--kafka", brokers, "--topic", topic, "--group", GROUP, *options, *args],
        capture_output=True, text=True, timeout=180)


# the stream loads through the load's path, which every engine's tests cover; these run the
# engines whose processes start in a moment (each stream here is a process of its own)
STREAM_ENGINES = [engine for engine in ("sqlite", "postgresql") if engine in ALL_ENGINES] or [
    pytest.param("none", marks=pytest.mark.skip(
        reason="the stream tests run on sqlite and postgresql: DATAVAULT_TEST_ENGINES names "
               "neither"))]


@pytest.fixture(params=STREAM_ENGINES)
def make_url(request: pytest.FixtureRequest, tmp_path: Path):
    return url_maker(request, request.param, tmp_path)


@pytest.fixture
def kafka():
    ce.need_kafka()
    with ce.mock_cluster() as (brokers, producer):
        yield brokers, producer


def test_a_stream_killed_before_its_commit_ends_as_the_file_does(
        tmp_path: Path, make_url, kafka) -> None:
    brokers, producer = kafka
    events = _events()
    # the vault loaded from the file
    by_file = ce.write(tmp_path / "file")
    file_url = migrated(by_file, make_url())
    loaded = api.load(by_file, ce.SOURCE,
                      ce.write_jsonl(tmp_path / "events.jsonl", events), url=file_url)
    assert loaded.ok and loaded.rows_quarantined == 1
    # the same events through Kafka
    ce.produce(producer, TOPIC, events)
    root = ce.write(tmp_path / "stream")
    url = migrated(root, make_url())
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(root), url, brokers, TOPIC, GROUP,
         ",".join(f"{k}={v}" for k, v in OPTIONS.items()), "2"],
        capture_output=True, text=True, timeout=180)
    assert child.returncode == KILLED, child.stderr
    assert child.stdout.split() == ["loaded", "1", "loaded", "2"]
    # batch 2 is loaded, its offsets not committed: the next stream gets its events again
    second = _stream(root, url, brokers, "--max-events", "7", "--max-seconds", "1",
                     "--stop-after", "idle", "--format", "json")
    assert second.returncode == 0, second.stderr
    said = [json.loads(line) for line in second.stdout.splitlines()]
    batches, summary = said[:-1], said[-1]
    assert summary["stopped_by"].startswith("idle")
    assert all(b["committed"] and b["load"]["status"] == "loaded" for b in batches)
    # the killed stream's first micro-batch was committed, its second was not: this stream
    # had every event but the first seven
    assert summary["events"] == len(events) - 7
    assert _answers(root, url) == _answers(by_file, file_url)
    with api.connect(root, url=url) as vault, vault.engine.connect() as connection:
        quarantined = connection.exec_driver_sql(
            "SELECT COUNT(*) FROM dv_quarantine").scalar_one()
    assert quarantined >= 1  # the broken event, once per delivery
    # the group's committed offsets are the topic's ends
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": brokers, "group.id": GROUP})
    try:
        partitions = [TopicPartition(TOPIC, p) for p in
                      consumer.list_topics(TOPIC, timeout=10).topics[TOPIC].partitions]
        committed = consumer.committed(partitions, timeout=10)
        ends = [consumer.get_watermark_offsets(p, timeout=10)[1] for p in partitions]
    finally:
        consumer.close()
    assert [c.offset for c in committed] == ends
    # a third stream finds nothing new; a fourth, with new events, stops at SIGTERM
    third = _stream(root, url, brokers, "--max-seconds", "1", "--stop-after", "idle")
    assert third.returncode == 0, third.stderr
    assert third.stdout.splitlines()[-1] == ("stopped (idle: no event for 1 s): "
                                             "0 micro-batches, 0 events loaded")
    ce.produce(producer, TOPIC, [ce.event("Z", 20 + n, "z", 9000 + n) for n in range(30)])
    fourth = subprocess.Popen(
        [sys.executable, "-m", "datavault", "-p", str(root), "--url", url, "stream",
         ce.SOURCE, "--kafka", brokers, "--topic", TOPIC, "--group", GROUP, "--max-events",
         "5", *[f"--kafka-option={k}={v}" for k, v in OPTIONS.items()]],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert fourth.stdout is not None
    for line in fourth.stdout:
        if " micro-batch 1: " in line:
            break
    fourth.send_signal(signal.SIGTERM)
    rest, errors = fourth.communicate(timeout=60)
    assert fourth.returncode == 0, errors
    assert rest.splitlines()[-1].startswith("stopped (SIGTERM")


def test_clear_errors(tmp_path: Path, make_url, kafka) -> None:
    brokers, _ = kafka
    root = ce.write(tmp_path / "project")
    url = migrated(root, make_url())
    down = _stream(root, url, "127.0.0.1:1")
    assert down.returncode == 1
    assert down.stderr.startswith("error: cannot reach Kafka at 127.0.0.1:1: ")
    assert "check --kafka" in down.stderr and len(down.stderr.splitlines()) == 1
    other = subprocess.run(
        [sys.executable, "-m", "datavault", "-p", str(root), "--url", url, "stream",
         "customers", "--kafka", brokers, "--topic", TOPIC], capture_output=True, text=True)
    assert other.returncode == 1
    assert other.stderr.strip() == "error: unknown source 'customers'; did you mean " \
        "'customers_cdc'?"
    missing = _stream(root, url, brokers, topic="nosuch")
    assert missing.returncode == 1
    assert missing.stderr.startswith("error: topic 'nosuch' is not on the Kafka brokers at ")
    wrong = _stream(root, url, brokers, "--stop-after", "0")
    assert wrong.stderr.strip() == ("error: --stop-after takes a number of micro-batches "
                                    "(1 or more) or idle, not '0'")
    fixed = _stream(root, url, brokers, "--kafka-option", "enable.auto.commit=true")
    assert "enable.auto.commit cannot be set" in fixed.stderr and fixed.returncode == 1
