"""Change events from Kafka, loaded in micro-batches with at-least-once delivery.

A consumer of one topic (``confluent-kafka``, the ``datavault[kafka]`` extra) gathers events
until a micro-batch is full (``max_events``) or old enough (``max_seconds``), loads it as one
batch of the source through the same path as ``datavault load`` (the events' values are the
batch's input, read as the source's change events), and only then commits the offsets of
exactly those messages, synchronously. A process stopped anywhere before that commit leaves
its events to be delivered again; loading them again is an identical observation, which
inserts nothing (SEMANTICS.md section 3, property 2), so a crash loses nothing and adds
nothing. Offsets are never committed by the client on its own (``enable.auto.commit``
false).

SIGINT and SIGTERM stop the stream cleanly: a micro-batch being gathered is abandoned (its
offsets not committed), one being loaded is finished and committed first.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from datavault.diagnostics import DatavaultError, did_you_mean
from datavault.load import BatchInput, LoadResult
from datavault.session import Vault

_log = logging.getLogger(__name__)

#: what a stop after so many batches may be, or a stop once the topic has nothing new
IDLE = "idle"
#: how long the brokers have to answer the first metadata request
CONNECT_SECONDS = 15.0
#: the longest wait for messages between checks for a stop
POLL_SECONDS = 0.5
#: the commit failures that say the group moved the partitions on: the events are simply
#: delivered again to whichever consumer holds them now
_REBALANCED = ("REBALANCE_IN_PROGRESS", "ILLEGAL_GENERATION", "UNKNOWN_MEMBER_ID",
               "_ASSIGNMENT_LOST", "_STATE")


@dataclass
class Span:
    """The messages of one partition in a micro-batch: the first and last offsets."""

    topic: str
    partition: int
    first: int
    last: int

    def __str__(self) -> str:
        return f"{self.topic}[{self.partition}]@{self.first}-{self.last}"


@dataclass
class StreamBatch:
    """One micro-batch: its events, where they were in the topic, and its load."""

    number: int  # 1, 2, ... in this run
    events: int
    spans: list[Span]
    result: LoadResult
    seconds: float  # loading it
    committed: bool = False

    def line(self) -> str:
        """One line for a terminal and a log."""
        result = self.result
        inserted = sum(e.rows_inserted + e.rows_deleted for e in result.entities)
        state = ("offsets committed" if self.committed
                 else "offsets NOT committed: its events will be delivered again")
        return (f"micro-batch {self.number}: {self.events:,} events "
                f"({', '.join(map(str, self.spans))}) -> batch {result.batch_id} "
                f"{result.status} in {self.seconds:.2f} s: {result.rows_staged:,} rows "
                f"staged, {result.rows_quarantined:,} quarantined, {inserted:,} rows "
                f"inserted; {state}")


@dataclass
class StreamSummary:
    """What a run of ``stream`` did, and why it stopped."""

    batches: list[StreamBatch] = field(default_factory=list)
    stopped_by: str = ""

    @property
    def events(self) -> int:
        return sum(b.events for b in self.batches)


def stop_after(text: str | None) -> int | str | None:
    """A ``--stop-after`` value: a number of micro-batches, or ``idle``."""
    if text is None or text == IDLE:
        return text
    try:
        count = int(text)
    except ValueError:
        count = 0
    if count < 1:
        raise DatavaultError(f"--stop-after takes a number of micro-batches (1 or more) or "
                             f"{IDLE}, not {text!r}")
    return count


class _Errors:
    """What the Kafka client reports on its own (broker connections lost, and the like):
    kept to explain a failure to connect; once streaming, each new one is a notice (the
    client reconnects by itself)."""

    #: client errors after which the brokers are not to be reached by waiting
    UNREACHABLE = ("_ALL_BROKERS_DOWN", "_RESOLVE", "_AUTHENTICATION", "_SSL")

    def __init__(self) -> None:
        self.seen: list[Any] = []
        self.streaming = False

    def __call__(self, error: Any) -> None:
        if self.streaming and (not self.seen or self.seen[-1].str() != error.str()):
            _log.warning("Kafka: %s", error.str())
        self.seen = [*self.seen[-20:], error]

    def unreachable(self) -> bool:
        return any(e.name() in self.UNREACHABLE for e in self.seen)

    def reason(self) -> str:
        detail = [e for e in self.seen if e.name() != "_ALL_BROKERS_DOWN"]
        return f" ({detail[-1].str()})" if detail else ""


def consumer_options(brokers: str, group: str, options: Mapping[str, str],
                     errors: _Errors) -> dict[str, Any]:
    """The consumer's configuration: the brokers, the group, offsets committed only by this
    module, the first run of a group reading the topic from its start; ``options`` (any
    librdkafka setting: security, timeouts) over these, but for the commit settings. The
    client's own log is left unprinted: what matters of it reaches ``errors``."""
    fixed = {"enable.auto.commit": False, "enable.auto.offset.store": False}
    for key in fixed:
        if key in options:
            raise DatavaultError(f"--kafka-option {key} cannot be set: offsets are committed "
                                 "only once a micro-batch is loaded")
    return {"bootstrap.servers": brokers, "group.id": group, "auto.offset.reset": "earliest",
            **options, **fixed, "error_cb": errors, "logger": _quiet}


_quiet = logging.getLogger("datavault.stream.kafka")
_quiet.addHandler(logging.NullHandler())
_quiet.propagate = False


class _Stop:
    """SIGINT and SIGTERM as a request to stop (the main thread only; a second signal while
    a batch loads stops at once, as Ctrl-C does a load)."""

    def __init__(self) -> None:
        self.reason = ""
        self.saved: dict[int, Any] = {}

    def __enter__(self) -> _Stop:
        if threading.current_thread() is threading.main_thread():
            for number in (signal.SIGINT, signal.SIGTERM):
                self.saved[number] = signal.signal(number, self._handle)
        return self

    def _handle(self, number: int, _frame: object) -> None:
        if self.reason:
            raise KeyboardInterrupt
        self.reason = signal.Signals(number).name

    def __exit__(self, *_exc: object) -> None:
        for number, handler in self.saved.items():
            signal.signal(number, handler)


def stream(vault: Vault, source: str, brokers: str, topic: str, *, group: str | None = None,
           max_events: int = 10_000, max_seconds: float = 5.0,
           stop: int | str | None = None, options: Mapping[str, str] | None = None,
           on_batch: Callable[[StreamBatch], None] | None = None,
           after_load: Callable[[LoadResult], None] | None = None,
           on_start: Callable[[], None] | None = None) -> StreamSummary:
    """Consume ``topic`` and load its change events into ``source`` in micro-batches, each
    committed after its load (see the module). ``stop``: a number of micro-batches, or
    ``idle`` (the first micro-batch time, once the group has given this consumer its
    partitions, without an event), else until a signal.
    ``on_start`` is called once the source and the topic are found; ``on_batch`` is told of
    each micro-batch once committed; ``after_load`` is called after each load and before its
    commit (a program's own bookkeeping)."""
    try:
        from confluent_kafka import Consumer, KafkaException, TopicPartition
    except ImportError:
        raise DatavaultError("streaming from Kafka needs confluent-kafka: pip install "
                             "'datavault[kafka]'") from None
    if source not in vault.model.sources:
        raise DatavaultError(f"unknown source {source!r}; " + (
            did_you_mean(source, vault.model.sources) or "see models/sources/"))
    if vault.model.sources[source].input.format != "debezium":
        raise DatavaultError(f"source {source} does not read change events: declare input: "
                             f"{{format: debezium}} in models/sources/{source}.yml")
    if max_events < 1 or max_seconds <= 0:
        raise DatavaultError("--max-events must be 1 or more and --max-seconds more than 0")
    errors = _Errors()
    try:
        consumer = Consumer(consumer_options(brokers, group or f"datavault-{source}",
                                             options or {}, errors))
    except KafkaException as exc:
        raise DatavaultError(f"cannot configure the Kafka consumer: {exc.args[0]}") from None
    summary = StreamSummary()
    try:
        _check_topic(consumer, brokers, topic, errors, KafkaException)
        if on_start is not None:
            on_start()
        errors.streaming = True
        assigned: list[float] = []  # when the group last gave this consumer partitions
        consumer.subscribe([topic], on_assign=lambda *_: assigned.append(time.monotonic()))
        with _Stop() as stopping:
            while True:
                started = time.monotonic()
                messages = _gather(consumer, max_events, max_seconds, stopping)
                if stopping.reason:
                    summary.stopped_by = f"{stopping.reason}" + (
                        f" ({len(messages):,} events gathered and not loaded: they will be "
                        "delivered again)" if messages else "")
                    break
                if not messages:
                    if stop == IDLE and assigned and assigned[-1] <= started:
                        summary.stopped_by = f"idle: no event for {max_seconds:g} s"
                        break
                    continue
                batch = _load(vault, source, messages, len(summary.batches) + 1)
                if after_load is not None:
                    after_load(batch.result)
                if not batch.result.ok:
                    raise DatavaultError(
                        f"{batch.line()}; {batch.result.batch.message or ''} (stream stopped)")
                batch.committed = _commit(consumer, batch.spans, TopicPartition,
                                          KafkaException)
                summary.batches.append(batch)
                if on_batch is not None:
                    on_batch(batch)
                if stopping.reason:
                    summary.stopped_by = stopping.reason
                    break
                if isinstance(stop, int) and len(summary.batches) >= stop:
                    summary.stopped_by = f"{stop} micro-batches"
                    break
    finally:
        consumer.close()
    return summary


def _check_topic(consumer: Any, brokers: str, topic: str, errors: _Errors,
                 failure: type[Exception]) -> None:
    """Fail clearly where the brokers cannot be reached or do not have the topic: at once
    where the client says they are all down, else after ``CONNECT_SECONDS``."""
    deadline = time.monotonic() + CONNECT_SECONDS
    while True:
        try:
            metadata = consumer.list_topics(topic, timeout=1.0)
            break
        except failure as exc:
            consumer.poll(0)  # serves the client's error reports
            if errors.unreachable() or time.monotonic() > deadline:
                error = exc.args[0].str() if exc.args else str(exc)
                raise DatavaultError(
                    f"cannot reach Kafka at {brokers}: {error}{errors.reason()}; check "
                    "--kafka (host:port, comma separated) and that the brokers run") from None
    found = metadata.topics.get(topic)
    if found is None or found.error is not None:
        reason = f": {found.error.str()}" if found is not None and found.error else ""
        raise DatavaultError(f"topic {topic!r} is not on the Kafka brokers at "
                             f"{brokers}{reason}; check --topic")


def _gather(consumer: Any, max_events: int, max_seconds: float, stopping: _Stop
            ) -> list[Any]:
    """The messages of one micro-batch: until ``max_events``, ``max_seconds`` or a stop."""
    messages: list[Any] = []
    deadline = time.monotonic() + max_seconds
    while len(messages) < max_events and not stopping.reason:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        for message in consumer.consume(min(max_events - len(messages), 10_000),
                                        timeout=min(left, POLL_SECONDS)):
            error = message.error()
            if error is None:
                messages.append(message)
            elif error.fatal():
                raise DatavaultError(f"Kafka: {error.str()}")
            elif error.name() != "_PARTITION_EOF":
                _log.warning("Kafka: %s", error.str())
    return messages


def _load(vault: Vault, source: str, messages: list[Any], number: int) -> StreamBatch:
    spans: dict[tuple[str, int], Span] = {}
    for message in messages:
        where = (message.topic(), message.partition())
        span = spans.get(where)
        if span is None:
            spans[where] = Span(*where, message.offset(), message.offset())
        else:
            span.first = min(span.first, message.offset())
            span.last = max(span.last, message.offset())
    ordered = sorted(spans.values(), key=lambda s: (s.topic, s.partition))
    events = BatchInput(f"kafka {', '.join(map(str, ordered))}", "events",
                        table=[message.value() for message in messages])
    started = time.perf_counter()
    result = vault.load(source, events)
    return StreamBatch(number, len(messages), ordered, result, time.perf_counter() - started)


def _commit(consumer: Any, spans: list[Span], partition: type, failure: type[Exception]
            ) -> bool:
    """Commit the offsets after each partition's last message of the batch, and wait for
    the answer. False where the group moved the partitions meanwhile (those events come
    again, which changes nothing)."""
    try:
        consumer.commit(offsets=[partition(s.topic, s.partition, s.last + 1) for s in spans],
                        asynchronous=False)
    except failure as exc:
        error = exc.args[0] if exc.args else None
        if error is not None and error.name() in _REBALANCED:
            _log.warning("offsets not committed (%s): the group moved the partitions; their "
                         "events will be delivered again, which inserts nothing", error.str())
            return False
        raise DatavaultError(f"cannot commit the Kafka offsets: {exc}") from None
    return True
