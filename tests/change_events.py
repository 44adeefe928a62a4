"""Debezium change events for the tests and the stream benchmark: a project whose source reads
them, events in both envelope shapes, JSON Lines files of them, and a Kafka mock cluster.

The mock cluster is librdkafka's own (``test.mock.num.brokers``), started inside a producer
of this process: no broker to install. Its brokers listen on local ports, so a consumer in
another process reaches them by the address the producer's metadata gives.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import IN_CI, write_project
from tests.reference import DELETED

DAY0 = dt.datetime(2026, 1, 1)
SOURCE = "customers_cdc"

PROJECT = {
    "config/datavault.yml": "hash: md5\nnull_keys: reject\n",
    f"models/sources/{SOURCE}.yml": """
applied_at: changed_at
sequence: lsn
deleted: {column: op, values: [d]}
input:
  format: debezium
  fields: {changed_at: ts_ms, lsn: position, op: op}
columns:
  id: text
  name: text
  changed_at: timestamp
  lsn: text
  op: text
""",
    "models/hubs/customer.yml": f"business_key:\n  id: text\nsources:\n  {SOURCE}:\n",
    "models/satellites/customer_name.yml": f"""
parent: customer
source: {SOURCE}
payload: [name]
""",
}


def write(root: Path) -> Path:
    """The project above at ``root``."""
    return write_project(root, PROJECT)


def day(n: int) -> dt.datetime:
    return DAY0 + dt.timedelta(days=n)


def event(key: str, n: int, name: object, lsn: int, wrapped: bool = False,
          op: str | None = None) -> dict:
    """The change event of customer ``key`` at day ``n`` (its ``ts_ms``): its name, or its
    deletion (``DELETED``: op d, the row in ``before``), at PostgreSQL log position ``lsn``;
    ``wrapped``: inside the JSON converter's schema/payload wrapper."""
    ts_ms = int((day(n) - dt.datetime(1970, 1, 1)).total_seconds() * 1000)
    if name is DELETED:
        body = {"before": {"id": key, "name": "before image"}, "after": None, "op": "d"}
    else:
        body = {"before": None, "after": {"id": key, "name": name}, "op": op or "u"}
    body.update(ts_ms=ts_ms, source={"connector": "postgresql", "lsn": lsn, "db": "crm"})
    if wrapped:
        return {"schema": {"type": "struct", "name": "crm.public.customers.Envelope"},
                "payload": body}
    return body


def lines(events: Iterable[dict | None]) -> list[str]:
    """One JSON text per event; None, a tombstone, as ``null``."""
    return [json.dumps(e) for e in events]


def write_jsonl(path: Path, events: Iterable[dict | None]) -> Path:
    path.write_text("".join(line + "\n" for line in lines(events)), encoding="utf-8")
    return path


def history(count: int, keys: int, seed: int = 7) -> list[tuple]:
    """A source's changes in log order: (key, day, name or DELETED, lsn), days rising."""
    rng = random.Random(seed)
    changes = []
    for index in range(count):
        key = f"C{rng.randrange(keys):06d}"
        state = DELETED if rng.random() < 0.1 else f"name {rng.randrange(1000)}"
        changes.append((key, index // max(keys, 1), state, 1000 + index))
    return changes


def need_kafka() -> None:
    """Skip without confluent-kafka, except under CI where that is a failure."""
    try:
        import confluent_kafka  # noqa: F401
    except ImportError:
        message = "confluent-kafka is not installed (pip install -e '.[kafka]')"
        if IN_CI:
            pytest.fail("CI must run the Kafka tests; " + message)
        pytest.skip(message)


@contextmanager
def mock_cluster() -> Iterator[tuple[str, object]]:
    """A Kafka mock cluster: its bootstrap address and a producer (a topic is made, with
    several partitions, by the first message to it)."""
    from confluent_kafka import Producer

    producer = Producer({"test.mock.num.brokers": 1, "bootstrap.servers": "unused",
                         "log_level": 3})
    brokers = producer.list_topics(timeout=10).brokers
    address = ",".join(f"{b.host}:{b.port}" for b in brokers.values())
    try:
        yield address, producer
    finally:
        producer.flush(10)


def produce(producer, topic: str, events: Iterable[dict | None]) -> None:
    """Each event as a message keyed by its row's id (so one row's events keep their order
    in one partition); a tombstone keyed like the event before it."""
    key = b""
    for item in events:
        if item is not None:
            body = item.get("payload", item)
            row = body.get("after") or body.get("before") or {}
            key = str(row.get("id", "")).encode()
        producer.produce(topic, key=key, value=None if item is None else json.dumps(item))
        producer.poll(0)
    left = producer.flush(300)  # every event in the topic before a consumer starts
    if left:
        raise RuntimeError(f"{left} events were not delivered to the mock cluster")
