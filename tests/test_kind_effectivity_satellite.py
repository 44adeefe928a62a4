"""Effectivity satellites keep SEMANTICS.md section 6, checked against the plain-Python
reference (``tests/reference.py``) on SQLite and PostgreSQL.

Orders are booked to customers; the effectivity satellite of the link order_customer with the
driving key ``order`` says which customer each order is booked to along applied time. The
property loads random batches of a delta source and of a full-snapshot source in random
arrival orders, with repeats (a batch again, as a new batch, with force), gap fills and
corrections; after every batch the relationship of every order at every applied time as known
at every load time so far must be the reference's, every stored row must be needed, and
`query` and `history` must give the reference's spans. Then: the regression cases of section 6,
the null-key policies, the generated SQL against golden files, validation with places, and a
migration that adds an effectivity satellite to a vault that holds data.
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from datavault import api, hashing, query
from datavault.load import open_input
from tests.conftest import migrated, write_project
from tests.reference import DELETED, batch_observations, effectivity_spans, live_state

# Each example loads up to eight batches (some 0.1 s each on SQLite, 0.5 s on PostgreSQL): a
# tenth of the setting, 100 at the CI's 1000, keeps each property within a few minutes there.
SETTING = int(os.environ.get("DATAVAULT_PROPERTY_EXAMPLES", "100"))
EXAMPLES = max(SETTING // 10, 5)
DAY0 = dt.datetime(2026, 1, 1)
ORDERS = ["O1", "O2", "O3"]
CUSTOMERS = ["A", "B", "C"]
ZERO = bytes(16)

PROJECT = {
    "models/sources/bookings.yml": """
applied_at: day
sequence: seq
columns:
  order_no: text
  customer_id: text
  day: timestamp
  seq: integer
""",
    "models/sources/extract.yml": """
batch: snapshot
applied_at: day
columns:
  order_no: text
  customer_id: text
  day: timestamp
""",
    "models/hubs/order.yml": """
business_key:
  order_no: text
sources:
  bookings:
  extract:
""",
    "models/hubs/customer.yml": """
business_key:
  customer_id: text
sources:
  bookings:
  extract:
""",
    "models/links/order_customer.yml": """
hubs: [order, customer]
sources:
  bookings:
    order: order_no
    customer: customer_id
  extract:
    order: order_no
    customer: customer_id
""",
    "models/effectivity_satellites/booked.yml": """
description: The customer each order is booked to
link: order_customer
driving_key: [order]
source: bookings
""",
    "models/effectivity_satellites/extracted.yml": """
link: order_customer
driving_key: order
source: extract
""",
}


def day(n: int) -> dt.datetime:
    return DAY0 + dt.timedelta(days=n)


def _ts(value) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)


def _key(text: str | None) -> bytes:
    return hashing.hash_key([(text, "text")], "md5")


# ---- the vault -------------------------------------------------------------------------------
class Vault:
    """The project above on one database, emptied between examples."""

    def __init__(self, root: Path, url: str, files: dict[str, str] | None = None):
        write_project(root, files or PROJECT)
        self.session = api.open_session(root, url=migrated(root, url))
        self.model = self.session.project.model
        self.folder = root / "batches"
        self.folder.mkdir()
        self.files = itertools.count()

    def reset(self) -> None:
        with self.session.engine.begin() as connection:
            for table in api.schema.build_metadata(self.model).sorted_tables:
                connection.exec_driver_sql(f"DELETE FROM {table.name}")

    def write(self, source: str, rows) -> str:
        """A CSV file of (order, customer, day[, seq]) rows; None is an empty field."""
        path = self.folder / f"{source}_{next(self.files)}.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["order_no", "customer_id", "day"]
                            + (["seq"] if source == "bookings" else []))
            for order, customer, d, *rest in rows:
                writer.writerow(["" if order is None else order,
                                 "" if customer is None else customer,
                                 day(d).isoformat(), *["" if v is None else v for v in rest]])
        return str(path)

    def load(self, source: str, rows, **options):
        result = self.session.loader.load(source, open_input(self.write(source, rows)),
                                          force=True, allow_mass_delete=True, **options)
        assert result.ok, [e.message for e in result.entities]
        return result

    def rows(self, eff: str) -> list[tuple]:
        """(order, applied, loaded, relationship or DELETED) of every stored row, after
        checking that its hash diff is its link key and its payload that link's."""
        with self.session.engine.connect() as connection:
            stored = connection.exec_driver_sql(
                "SELECT e.driving_hk, e.applied_ts, e.load_ts, e.hash_diff, e.order_customer_hk, "
                f"e.customer_hk, o.order_no, c.customer_id FROM eff_{eff} e "
                "LEFT JOIN link_order_customer l ON l.order_customer_hk = e.order_customer_hk "
                "LEFT JOIN hub_order o ON o.order_hk = l.order_hk "
                "LEFT JOIN hub_customer c ON c.customer_hk = l.customer_hk").all()
        orders = {_key(o): o for o in ORDERS}
        rows = []
        for dk, applied, loaded, hd, lk, ck, order, customer in stored:
            dk, hd = bytes(dk), bytes(hd)
            where = f"{eff} row {dk.hex()} {applied} {loaded}"
            if hd == ZERO:
                assert (lk, ck) == (None, None), where
                rows.append((orders[dk], _ts(applied), _ts(loaded), DELETED))
                continue
            assert bytes(lk) == hd and bytes(ck) == _key(customer), where
            assert dk == _key(order), where
            rows.append((order, _ts(applied), _ts(loaded), customer))
        return rows

    def counts(self) -> tuple[int, ...]:
        with self.session.engine.connect() as connection:
            return tuple(connection.exec_driver_sql(f"SELECT COUNT(*) FROM {t}").scalar_one()
                         for t in ("eff_booked", "eff_booked__obs", "eff_extracted",
                                   "eff_extracted__obs"))

    def spans(self, eff: str, known_at=None, at=None) -> dict[str, list[tuple]]:
        """`history` (or `query` with ``at``): per order, its spans (customer, start, end)."""
        with self.session.engine.connect() as connection:
            if at is None:
                answer = query.history(connection, self.model, eff, known_at=known_at)
            else:
                answer = query.state(connection, self.model, eff, at=at, known_at=known_at)
        found: dict[str, list[tuple]] = {}
        for r in answer.records():
            end = None if r["end"] is None else _ts(r["end"])
            found.setdefault(r["order.order_no"], []).append(
                (r["customer.customer_id"], _ts(r["start"]), end))
        return found

    def quarantined(self) -> list[tuple]:
        with self.session.engine.connect() as connection:
            return [tuple(r) for r in connection.exec_driver_sql(
                "SELECT batch_id, entity, row_number, reason FROM dv_quarantine "
                "ORDER BY batch_id, entity, row_number")]


@pytest.fixture
def vault(tmp_path: Path, db_url: str):
    v = Vault(tmp_path / "project", db_url)
    yield v
    v.session.close()
