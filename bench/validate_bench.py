"""How long `validate` takes on model files of some megabytes.

Each case writes the example project with one file grown to about ``--mb`` megabytes (many
columns, a long payload, many link hubs, a long list of mart satellites or spine dates, one
huge list, many profiles), then times `api.validate` on it, which reads every file and
reports every problem. Prints seconds (wall and CPU: on a busy machine the CPU time is the
fairer figure) per case and the problems found.

    python bench/validate_bench.py [--mb 5]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from datavault import api  # noqa: E402
from datavault.diagnostics import ModelError  # noqa: E402


def _grow(head: str, line: Callable[[int], str], size: int, tail: str = "") -> str:
    parts, total, i = [head], len(head), 0
    while total < size:
        part = line(i)
        parts.append(part)
        total += len(part)
        i += 1
    return "".join(parts) + tail


CASES: dict[str, tuple[str, Callable[[int], str]]] = {
    "source with many columns": ("models/sources/crm_customers.yml", lambda n: _grow(
        "record_source: crm\napplied_at: extracted_at\nbatch: snapshot\ncolumns:\n"
        "  customer_id: text\n  name: text\n  email: text\n  city: text\n"
        "  extracted_at: timestamp\n",
        lambda i: f"  column_{i:07d}: text\n", n)),
    "satellite with a long payload": ("models/satellites/customer_details.yml", lambda n: _grow(
        "parent: customer\nsource: crm_customers\npayload:\n",
        lambda i: f"  - payload_{i:07d}\n", n)),
    "link joining many hubs": ("models/links/order_customer.yml", lambda n: _grow(
        "hubs: [order, customer",
        lambda i: f", role_{i:07d}: customer", n,
        "]\nsources:\n  shop_orders: {order: order_id, customer: customer_ref}\n")),
    "mart with many satellites": ("models/marts/customers.yml", lambda n: _grow(
        "pit: customer\nspine: {every: month, from: 2026-01-01, to: 2026-04-01}\n"
        "satellites: [customer_details",
        lambda i: ", customer_details", n, "]\n")),
    "mart with many spine dates": ("models/marts/customers.yml", lambda n: _grow(
        "pit: customer\nspine:\n  dates: [2026-01-01",
        lambda i: f", {2030 + i // 40000}-{i // 3000 % 12 + 1:02d}-{i % 28 + 1:02d} "
                  f"{i % 24:02d}:00:00", n, "]\n")),
    "one huge list": ("models/hubs/order.yml", lambda n: _grow(
        "business_key: {order_number: text}\nsources: {shop_orders: {order_number: order_id}}\n"
        "description: [0", lambda i: f", {i}", n, "]\n")),
    "config with many profiles": ("config/datavault.yml", lambda n: _grow(
        "hash: md5\nprofiles:\n", lambda i: f"  p{i:07d}: {{url: 'sqlite:///v{i}.db'}}\n", n)),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=5.0, help="size of the grown file")
    args = parser.parse_args()
    size = int(args.mb * 1_000_000)
    print(f"validate, one model file of {args.mb:g} MB, the rest the example project")
    print(f"{'case':32} {'bytes':>10} {'seconds':>8} {'cpu s':>8}  problems")
    with tempfile.TemporaryDirectory() as folder:
        for name, (relative, make) in CASES.items():
            root = Path(folder) / "project"
            shutil.rmtree(root, ignore_errors=True)
            for part in ("models", "config"):
                shutil.copytree(ROOT / part, root / part)
            text = make(size)
            (root / relative).write_text(text, encoding="utf-8")
            started, cpu = time.perf_counter(), time.process_time()
            try:
                api.validate(root)
                found = 0
            except ModelError as error:
                found = len(error.problems)
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
            print(f"{name:32} {len(text):>10,} {seconds:>8.2f} {cpu:>8.2f}  {found:,}")


if __name__ == "__main__":
    main()
