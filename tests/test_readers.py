"""Readers are never blocked by a load: while a load of a source holds whatever locks it holds
in each of its phases (staging, a satellite's load, removing its staged rows), `query`,
`history`, `batches`, `quarantine`, `migrate check`, opening a session (with its schema check
of every table, staging tables included) and, on PostgreSQL, `marts build` answer.

The load is a real one, paused inside its transaction by a listener on its engine (the test's
own), at the statement that takes the phase's locks. Each reader runs in a thread that must
finish within a deadline; on PostgreSQL the readers also connect with a `lock_timeout`, so a
reader that waits for a lock fails with the lock it waited for instead of hanging.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from datavault import api
from tests.conftest import migrated

#: how long a reader may take before it counts as blocked (it takes well under a second)
DEADLINE = 60
#: the statement of the load at which it pauses, by phase: its transaction is open and holds
#: that statement's locks (and every earlier one's in the same transaction)
PHASES = {
    "staging": "INSERT INTO stg_crm_customers",
    "satellite": "INSERT INTO sat_customer_details ",
    "removing staged rows": "stg_crm_customers",  # TRUNCATE, or DELETE FROM
}


class PausedLoad:
    """A load of crm_customers in a thread, paused at the first statement whose text starts
    with (or, for removing staged rows, is a TRUNCATE or DELETE of) the phase's pattern."""

    def __init__(self, root: Path, url: str, phase: str):
        self.vault = api.connect(root, url=url)
        self.phase = phase
        self.paused = threading.Event()
        self.go = threading.Event()
        self.error: BaseException | None = None
        sa.event.listen(self.vault.engine, "after_cursor_execute", self._after)
        self.thread = threading.Thread(target=self._load, daemon=True)

    def _matches(self, statement: str) -> bool:
        text = " ".join(statement.split())
        pattern = PHASES[self.phase]
        if self.phase == "removing staged rows":
            return text.startswith(("TRUNCATE", "DELETE")) and pattern in text
        return text.startswith(pattern)

    def _after(self, _conn, _cursor, statement, _params, _context, _many) -> None:
        if not self.paused.is_set() and self._matches(statement):
            self.paused.set()
            self.go.wait(DEADLINE * 10)

    def _load(self) -> None:
        try:
            result = self.vault.load("crm_customers",
                                     str(self.vault.project.root / "data" /
                                         "crm_customers_2026-02-01.csv"))
            assert result.ok, result
        except BaseException as exc:  # reported by finish()
            self.error = exc

    def __enter__(self) -> PausedLoad:
        self.thread.start()
        assert self.paused.wait(DEADLINE), f"the load never reached {self.phase}"
        return self

    def __exit__(self, *_exc: object) -> None:
        self.go.set()
        self.thread.join(DEADLINE)
        self.vault.close()
        assert not self.thread.is_alive(), "the load did not finish"
        if self.error is not None:
            raise self.error


def _within_deadline(call: Callable[[], object]) -> str | None:
    """None when ``call`` returned within the deadline; else what happened."""
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(DEADLINE)
    if thread.is_alive():
        return f"still waiting after {DEADLINE} s"
    if "error" in outcome:
        return f"{type(outcome['error']).__name__}: {outcome['error']}"
    return None


def _reader_url(url: str) -> str:
    """On PostgreSQL, the same database for readers that give up on a lock after 10 s."""
    if not url.startswith("postgresql"):
        return url
    separator = "%20" if "options=" in url else ("&" if "?" in url else "?") + "options="
    return f"{url}{separator}-clock_timeout%3D10000"


@pytest.mark.parametrize("phase", list(PHASES))
def test_readers_answer_while_a_load_holds_its_locks(example_project: Path, db_url: str,
                                                     phase: str) -> None:
    root = example_project
    url = migrated(root, db_url)
    assert api.load(root, "crm_customers", str(root / "data" / "crm_customers_2026-01-01.csv"),
                    url=url).ok
    assert api.load(root, "shop_orders", str(root / "data" / "shop_orders_2026-03-02.csv"),
                    url=url).ok
    assert api.build_marts(root, url=url)[0]
    reader = _reader_url(url)
    readers: dict[str, Callable[[], object]] = {
        "open a session (schema check of every table)":
            lambda: api.open_session(root, url=reader, check=True).close(),
        "query": lambda: api.query_state(root, "customer", ["C001"], url=reader),
        "history": lambda: api.query_history(root, "customer_details", ["C001"], url=reader),
        "batches": lambda: api.batches(root, url=reader),
        "quarantine": lambda: api.quarantined(root, url=reader),
        "migrate check": lambda: api.migrate_check(root, url=reader),
    }
    if url.startswith("postgresql"):  # on SQLite a build writes, and waits for the writer
        readers["marts build"] = lambda: api.build_marts(root, url=reader)
    with PausedLoad(root, url, phase):
        blocked = {name: why for name, call in readers.items()
                   if (why := _within_deadline(call)) is not None}
        newest = api.batches(root, source="crm_customers", limit=1, url=reader)[0]
    assert blocked == {}, f"while the load is {phase}"
    assert newest.state in ("staging", "loading"), newest.state  # and it was under way
