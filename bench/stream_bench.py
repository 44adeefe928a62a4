"""Stream benchmark: Debezium change events consumed from Kafka and loaded in micro-batches,
against loading the same events from a JSON Lines file.

Run from the repository root, with the toolkit and its test extra installed (confluent-kafka
among them):

    python bench/stream_bench.py --events 200000 --engines sqlite,postgresql

For each engine, N change events of a customers table (inserts, updates, one in ten a delete,
over ``--keys`` rows; ``tests/change_events.py``) are loaded twice into fresh vaults of the
change-event test project:

1. from one JSON Lines file, with ``datavault load``'s path (one batch);
2. from a topic of librdkafka's mock cluster (in this process; the events are produced
   before the clock starts), with ``datavault stream``'s path: micro-batches of
   ``--max-events``, each loaded and then its offsets committed, until the topic is drained.

It prints events per second for both and their ratio. The stream's figure is taken from the
end of its first micro-batch to the end of its last (steady state: without the consumer
group's join, a few seconds on the mock cluster, nor the idle wait that ends the run); its
whole run, join and idle wait included, is printed beside it. This is not a test: nothing
asserts a time. See bench/README.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.change_events

from load_bench import make_target  # noqa: E402

from datavault import api  # noqa: E402
from tests import change_events as ce  # noqa: E402

TOPIC = "bench.public.customers"


def migrated_project(root: Path, url: str) -> Path:
    ce.write(root)
    api.migrate_revision(root, "model", url=url)
    api.migrate_upgrade(root, url=url)
    return root


def bench_engine(engine: str, events: list, max_events: int, workdir: Path) -> None:
    # 1. the file
    target = make_target(engine, workdir, 0)
    try:
        root = migrated_project(workdir / f"{engine}-file", target.url)
        path = ce.write_jsonl(workdir / "events.jsonl", events)
        started = time.perf_counter()
        result = api.load(root, ce.SOURCE, str(path), url=target.url)
        file_seconds = time.perf_counter() - started
        if not result.ok:
            print(f"WARN {engine}: the file's load is {result.status}")
    finally:
        target.cleanup()
    # 2. the stream
    target = make_target(engine, workdir, 0)
    try:
        root = migrated_project(workdir / f"{engine}-stream", target.url)
        with ce.mock_cluster() as (brokers, producer):
            ce.produce(producer, f"{TOPIC}.{engine}", events)
            ends: list[tuple[float, int]] = []
            started = time.perf_counter()
            summary = api.stream(
                root, ce.SOURCE, brokers, f"{TOPIC}.{engine}", max_events=max_events,
                max_seconds=1.0, stop_after="idle", url=target.url,
                on_batch=lambda b: ends.append((time.perf_counter(), b.events)))
            whole = time.perf_counter() - started
    finally:
        target.cleanup()
    loaded = summary.events
    if loaded != len(events):
        print(f"WARN {engine}: the stream loaded {loaded:,} events of {len(events):,}")
    file_rate = len(events) / file_seconds
    steady = None
    if len(ends) > 1:
        steady = sum(n for _, n in ends[1:]) / (ends[-1][0] - ends[0][0])
    print(f"{engine}:")
    print(f"  file   {len(events):>10,} events in {file_seconds:8.2f} s  "
          f"{file_rate:>10,.0f} events/s")
    print(f"  stream {loaded:>10,} events in {len(ends):,} micro-batches of up to "
          f"{max_events:,}; whole run {whole:.2f} s (group join and idle stop included)")
    if steady is not None:
        print(f"  stream steady state {steady:>10,.0f} events/s  "
              f"ratio stream/file {steady / file_rate:.2f}")
    else:
        print("  stream: one micro-batch only; raise --events or lower --max-events for a "
              "steady figure")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--keys", type=int, default=10_000)
    parser.add_argument("--max-events", type=int, default=10_000)
    parser.add_argument("--engines", default="sqlite")
    args = parser.parse_args(argv)
    events = [ce.event(k, n, name, lsn, wrapped=lsn % 2 == 0)
              for k, n, name, lsn in ce.history(args.events, args.keys)]
    print(f"stream benchmark: {args.events:,} change events over {args.keys:,} keys")
    with tempfile.TemporaryDirectory(prefix="dv-stream-bench-") as folder:
        for engine in args.engines.split(","):
            bench_engine(engine.strip(), events, args.max_events, Path(folder))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
