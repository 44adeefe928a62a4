"""Deterministic batches of the example source ``shop_orders``, of any size, without holding
them in memory.

    python bench/generate.py --keys 1000000 --out /tmp/orders

writes ``initial.csv`` (one row per order: N keys), then one batch per ``--batches`` of
``--rate`` x N rows each, with the chosen shares of new orders, of late rows and of corrections.
The same options always give the same bytes.

The timeline of each order: it is placed on day 0 (``placed``, at a second of that day taken
from its number). Batch b (1, 2, ...) is applied on day b. Its rows are

* **new orders** (share ``--new``): orders N+1, N+2, ... placed on day b;
* **changes** (in order): an order's status or amount changes on day b, after everything the
  vault holds of it;
* **late rows** (share ``--late``): an order changed by batch b-1 is observed on day b-1 at
  noon, before that batch's change (which lands at the end of day b-1): the row falls in the
  middle of the order's history. In batch 1 they fall between the placing and day 1;
* **corrections** (share ``--correction``): an order's placing is restated at its very
  applied time with another amount;
* **repeats** (share ``--repeat``): an order that has not changed since it was placed is
  observed again on day b with the same payload (batch 1 repeats orders of the initial batch,
  batch b the orders that batch b-1 placed): the vault stores no row for it.

Orders are picked by a multiplicative permutation, so no list of N keys is ever built.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import math
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

COLUMNS = ["order_id", "customer_ref", "status", "amount", "ordered_at", "changed_at"]
DAY0 = dt.datetime(2026, 1, 1)
STATUSES = ["paid", "packed", "shipped", "delivered", "returned"]


@dataclass(frozen=True)
class Batch:
    """What one generated batch holds: its number, its size and the shares of its rows."""

    number: int  # 0: the initial batch (one row per key)
    rows: int
    new: float = 0.0
    late: float = 0.0
    correction: float = 0.0
    repeat: float = 0.0


def _permuted(position: int, keys: int, salt: int) -> int:
    """The order (1..keys) at ``position`` of a fixed pseudo-random permutation."""
    step = 2_654_435_761 + 2 * salt
    while math.gcd(step, keys) != 1:
        step += 1
    return (position * step + salt) % keys + 1


def order_id(number: int) -> str:
    return f"O{number:010d}"


def customer_ref(number: int, keys: int) -> str:
    return f"C{(number * 7_919) % max(1, keys // 10) + 1:09d}"


def placed_at(number: int) -> dt.datetime:
    return DAY0 + dt.timedelta(seconds=(number * 4_099) % 86_000)


def amount(number: int, version: int = 0) -> str:
    return f"{((number * 37 + version * 101) % 100_000) / 100 + 1:.2f}"


def stamp(value: dt.datetime) -> str:
    return value.isoformat()


def rows(keys: int, batch: Batch) -> Iterator[list[str]]:
    """The rows of one batch for a source of ``keys`` orders, in file order."""
    if batch.number == 0:
        for position in range(keys):
            number = _permuted(position, keys, 0)
            at = stamp(placed_at(number))
            yield [order_id(number), customer_ref(number, keys), "placed", amount(number),
                   at, at]
        return
    b = batch.number
    new = round(batch.rows * batch.new)
    late = round(batch.rows * batch.late)
    correction = round(batch.rows * batch.correction)
    repeat = round(batch.rows * batch.repeat)
    changes = batch.rows - new - late - correction - repeat
    day = DAY0 + dt.timedelta(days=b)
    for i in range(new):
        number = keys + (b - 1) * batch.rows + i + 1
        at = stamp(day + dt.timedelta(seconds=(number * 4_099) % 86_000))
        yield [order_id(number), customer_ref(number, keys), "placed", amount(number), at, at]
    for i in range(changes):
        number = _permuted(i, keys, b)
        at = stamp(day + dt.timedelta(seconds=86_000 + i % 300))  # the end of day b
        yield [order_id(number), customer_ref(number, keys), STATUSES[b % len(STATUSES)],
               amount(number, b), stamp(placed_at(number)), at]
    for i in range(late):
        number = _permuted(i, keys, b - 1)  # changed by batch b-1 (or placed, for b = 1)
        at = stamp(DAY0 + dt.timedelta(days=b - 1, hours=12 if b > 1 else 23, seconds=i % 300))
        yield [order_id(number), customer_ref(number, keys), "on hold", amount(number, -b),
               stamp(placed_at(number)), at]
    for i in range(correction):
        number = _permuted(keys - 1 - i, keys, b)
        at = stamp(placed_at(number))
        yield [order_id(number), customer_ref(number, keys), "placed", amount(number, 1000 + b),
               at, at]


    for i in range(repeat):
        if b == 1:
            number = _permuted(i, keys, 7_777)
            placed = placed_at(number)
        else:  # placed by batch b-1, whose new orders come first (it must have placed enough)
            number = keys + (b - 2) * batch.rows + i + 1
            placed = day - dt.timedelta(days=1, seconds=-((number * 4_099) % 86_000))
        at = stamp(day + dt.timedelta(hours=1, seconds=i % 300))
        yield [order_id(number), customer_ref(number, keys), "placed", amount(number),
               stamp(placed), at]


def write(path: Path, keys: int, batch: Batch) -> int:
    """Write one batch as CSV; the number of rows."""
    count = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(COLUMNS)
        for row in rows(keys, batch):
            writer.writerow(row)
            count += 1
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keys", type=int, default=100_000, help="orders in the initial batch")
    parser.add_argument("--out", required=True, help="folder for the CSV files")
    parser.add_argument("--batches", type=int, default=1, help="batches after the initial one")
    parser.add_argument("--rate", type=float, default=0.01,
                        help="rows of each later batch, as a share of the keys")
    parser.add_argument("--new", type=float, default=0.5, help="share of new orders")
    parser.add_argument("--late", type=float, default=0.0, help="share of late rows")
    parser.add_argument("--correction", type=float, default=0.0,
                        help="share of corrections of an applied time already loaded")
    parser.add_argument("--repeat", type=float, default=0.0,
                        help="share of unchanged orders observed again")
    args = parser.parse_args(argv)
    if args.new + args.late + args.correction + args.repeat > 1:
        parser.error("--new, --late, --correction and --repeat add up to more than 1")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    count = write(out / "initial.csv", args.keys, Batch(0, args.keys))
    print(f"{out / 'initial.csv'}: {count:,} rows")
    for number in range(1, args.batches + 1):
        batch = Batch(number, max(1, round(args.keys * args.rate)), args.new, args.late,
                      args.correction, args.repeat)
        path = out / f"batch_{number}.csv"
        print(f"{path}: {write(path, args.keys, batch):,} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
