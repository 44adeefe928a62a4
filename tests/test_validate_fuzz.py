"""`validate` on mutated model files: it ends in success or in problems with their places,
never in another exception; a model that validates also generates its SQL on every engine.

Tier: engine-free. Starting from the example project and the project `datavault init`
writes, hypothesis breaks one file at a time, as text (values replaced by odd scalars, tags,
lists, mappings, huge numbers, deep nesting, unicode, nothing; lines deleted, duplicated,
swapped; the file cut short; bytes, non-UTF-8 bytes, a byte order mark or a tab put in) or as
data (a key removed, renamed or given another value), and checks that every problem names a
file or folder of the project and, in a file, a line and column inside it. A few fixed nasty
files go through the real command line as well. The spine count that `validate` checks
agrees with the snapshots a build makes.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from datavault import api
from datavault import model as m
from datavault.diagnostics import ModelError
from tests.conftest import ROOT

EXAMPLES = int(os.environ.get("DATAVAULT_PROPERTY_EXAMPLES", "100"))
# validate reads a whole project per example (some 20 ms): half the setting, at most 400,
# keeps this under a minute at the CI's 1000
SETTINGS = settings(max_examples=min(max(EXAMPLES // 2, 20), 400), deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow, HealthCheck.data_too_large])

NAMES = ["customer", "order", "order_customer", "customer_details", "order_status",
         "crm_customers", "shop_orders", "customer_id", "customer_ref", "order_id", "status",
         "text", "integer", "decimal", "timestamp", "snapshot", "delta", "md5", "day", "month",
         "hub_{name}", "local", "csv", "tab"]
NASTY = [
    "!!bool maybe", "!!int x", "!!int ''", "!!float x", "!!null x", "!!timestamp x",
    "!!str 1", "!foo bar", "!!set {a, b}", "!!omap [{a: 1}]", "!!binary aGk=",
    "!!python/object:os.system x", "!!map x", "!!seq x", "!<tag:x> y", "!e!x y",
    "~", "", "null", "''", "[]", "{}", "[a, [b, {c: d}]]", "{a: [1, 2], b: {c: ~}}",
    "&a x", "*a", "*nowhere", "&b [*b]", "{<<: {a: 1}}", "{<<: [x]}", "<<",
    "2026-02-30", "2026-01-01 10:00:00+02:00", "0001-01-01", "9999-12-31",
    "1e999", "-.inf", ".nan", "0x1F", "0o17", "017", "1_000", "1:30", "+12", "-0",
    "1" * 5000, "-" + "9" * 4400, "0x" + "f" * 5000, "1:" * 3000 + "1", "1." + "5" * 5000,
    "[" * 300 + "]" * 300, "{a: " * 150 + "x" + "}" * 150,
    "'unclosed", '"\\q"', '"\\x00"', "a: b: c", "{a: 1, a: 2}", "? [a]\n: b",
    "---\nx: 1", "...", "%YAML 1.1", "- a\n- b", "|\n  text", ">-\n  folded",
    "yes", "no", "on", "off", "true", "True", "FALSE", "50%", "150%", "-5%", "100 %",
    "é", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "\u200b", "\ufeff", "x" * 5000, "a\x00b", "\x85", "\u2028",
]
SNIPPET = st.one_of(
    st.sampled_from(NASTY), st.sampled_from(NAMES), st.text(max_size=12),
    st.integers().map(str), st.floats().map(repr),
)
DATA = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.sampled_from(NAMES) | st.text(max_size=8) | st.dates().map(str),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(NAMES) | st.text(max_size=6), inner, max_size=3),
    max_leaves=8)


def _project(kind: str, target: Path) -> Path:
    if kind == "init":
        return api.init_project(target)
    for part in ("models", "config"):
        shutil.copytree(ROOT / part, target / part)
    return target


@pytest.fixture(scope="module", params=["example", "init"])
def base(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = _project(request.param, tmp_path_factory.mktemp(request.param) / "project")
    api.validate(root)  # the starting point is valid
    return root


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*.yml")
                  if "migrations" not in p.parts and "templates" not in p.parts)


# ---- mutations ------------------------------------------------------------------------------
def _mutate_text(data: st.DataObject, text: str) -> bytes:
    lines = text.split("\n")
    how = data.draw(st.sampled_from([
        "value", "value", "value", "key", "delete", "duplicate", "swap", "truncate",
        "bytes", "non-utf8", "bom", "tab", "indent"]), label="text mutation")
    index = data.draw(st.integers(0, max(len(lines) - 1, 0)), label="line")
    line = lines[index] if lines else ""
    if how == "value" and ":" in line:
        head = line.split(":", 1)[0]
        lines[index] = f"{head}: {data.draw(SNIPPET, label='value')}"
    elif how == "key" and ":" in line:
        indent = len(line) - len(line.lstrip(" "))
        rest = line.split(":", 1)[1]
        lines[index] = " " * indent + data.draw(SNIPPET, label="key") + ":" + rest
    elif how == "delete" and lines:
        del lines[index]
    elif how == "duplicate" and lines:
        lines.insert(index, line)
    elif how == "swap" and len(lines) > 1:
        other = data.draw(st.integers(0, len(lines) - 1), label="other line")
        lines[index], lines[other] = lines[other], lines[index]
    elif how == "indent":
        lines[index] = " " * data.draw(st.integers(1, 4), label="spaces") + line
    elif how == "tab":
        lines[index] = "\t" + line
    raw = "\n".join(lines).encode("utf-8")
    at = data.draw(st.integers(0, len(raw)), label="position")
    if how == "truncate":
        return raw[:at]
    if how == "bytes":
        return raw[:at] + data.draw(st.binary(min_size=1, max_size=8), label="bytes") + raw[at:]
    if how == "non-utf8":
        return raw[:at] + data.draw(st.sampled_from([b"\xff", b"\xe9", b"\xc3", b"\x80"]),
                                    label="byte") + raw[at:]
    if how == "bom":
        return (b"\xef\xbb\xbf" + raw) if data.draw(st.booleans(), label="at start") else (
            raw[:at] + "\ufeff".encode() + raw[at:])
    return raw


def _paths(value: object, prefix: tuple = ()) -> list[tuple]:
    """Every key path of a loaded YAML value (mappings and lists)."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, prefix + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, prefix + (index,))
    return found


def _mutate_data(data: st.DataObject, text: str) -> bytes:
    tree = yaml.safe_load(text)
    paths = _paths(tree)
    if not paths:
        return text.encode()
    path = data.draw(st.sampled_from(paths), label="key path")
    *parents, last = path
    holder = tree
    for step in parents:
        holder = holder[step]
    how = data.draw(st.sampled_from(["replace", "replace", "delete", "rename"]),
                    label="data mutation")
    if how == "replace":
        holder[last] = data.draw(DATA, label="new value")
    elif how == "delete":
        del holder[last]
    elif isinstance(holder, dict):
        holder[data.draw(st.sampled_from(NAMES) | st.text(max_size=6), label="new key")] = (
            holder.pop(last))
    flow = data.draw(st.booleans(), label="flow style")
    return yaml.safe_dump(tree, default_flow_style=flow, allow_unicode=True,
                          sort_keys=False).encode()


# ---- the property ---------------------------------------------------------------------------
def _check(root: Path, changed: str, raw: bytes) -> None:
    try:
        api.validate(root)
        # a model that validates also generates, on every engine
        for dialect in ("sqlite", "postgresql"):
            api.generate(root, dialect, root / "generated" / dialect)
    except ModelError as error:
        assert error.problems
        lines = raw.decode("utf-8", "replace").split("\n")
        for problem in error.problems:
            where = root / problem.path
            assert where.exists(), problem
            assert problem.line >= 1 and problem.col >= 1, problem
            assert problem.message, problem
            if problem.path == changed:
                assert problem.line <= len(lines), problem
                assert problem.col <= len(lines[problem.line - 1]) + 1, problem
            elif where.is_file():
                assert (problem.line, problem.col) == (1, 1) or problem.line <= len(
                    where.read_text(encoding="utf-8").split("\n")), problem


@SETTINGS
@given(data=st.data())
def test_validate_ends_in_success_or_placed_problems(base: Path, data: st.DataObject) -> None:
    changed = data.draw(st.sampled_from(_files(base)), label="file")
    path = base / changed
    original = path.read_bytes()
    text = original.decode("utf-8")
    if data.draw(st.booleans(), label="as data"):
        raw = _mutate_data(data, text)
    else:
        raw = _mutate_text(data, text)
        if data.draw(st.booleans(), label="twice"):
            raw = _mutate_text(data, raw.decode("utf-8", "replace"))
    path.write_bytes(raw)
    try:
        _check(base, changed, raw)
    finally:
        path.write_bytes(original)


# ---- fixed nasty files through the command line -------------------------------------------
NASTY_FILES = {
    "models/sources/crm_customers.yml": b"columns:\n  customer_id: !!bool maybe\n",
    "models/sources/shop_orders.yml": b"columns: " + b"1" * 5000 + b"\n",
    "models/hubs/order.yml": b"description: " + b"[" * 5000 + b"]" * 5000 + b"\n",
    "models/links/order_customer.yml": b"hubs: [\xff]\n",
    "models/marts/customers.yml": ("\n".join(
        [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}' if i else 'x'] * 10)}]" for i in range(10)])
        + "\n").encode(),
    "models/marts/orders.yml": "".join(f"{' ' * i}k{i}:\n" for i in range(5000)).encode(),
    "models/satellites/order_status.yml": b"parent: !foo order\nsource: *nowhere\n",
    "config/datavault.yml": b"\xef\xbb\xbfhash: !!int x\n",
}


def test_nasty_files_through_the_command_line(tmp_path: Path) -> None:
    root = _project("example", tmp_path / "project")
    for relative, raw in NASTY_FILES.items():
        (root / relative).write_bytes(raw)
    done = subprocess.run([sys.executable, "-m", "datavault", "-p", str(root), "validate"],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    *lines, count = done.stderr.splitlines()
    assert count == f"{len(lines)} problems found"
    places = {}
    for line in lines:
        match = re.match(r"^([\w/.]+):(\d+):(\d+): ", line)
        assert match, line
        places.setdefault(match.group(1), line)
    assert sorted(places) == sorted(NASTY_FILES), lines


# ---- the spine count validate checks is the count a build makes ---------------------------
DAYS = st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2040, 12, 31))
STEPS = st.sampled_from(m.SPINE_STEPS)


@settings(max_examples=min(max(EXAMPLES, 20), 300), deadline=None)
@given(st.one_of(
    st.builds(lambda step, start, days: m.Spine(every=step, start=start,
                                                end=start + dt.timedelta(days=days)),
              STEPS, DAYS, st.integers(-3, 800)),
    st.builds(lambda step, start: m.Spine(every=step, start=start), STEPS, DAYS),
    st.builds(lambda rungs, last, start, end: m.Spine(
        ladder=tuple(rungs) + ((last, None),) if start else tuple(rungs) + ((last, 2),),
        start=start, end=end),
        st.lists(st.tuples(STEPS, st.integers(1, 40)), max_size=3), STEPS,
        st.none() | DAYS, st.none() | DAYS),
), DAYS)
def test_the_spine_count_is_the_number_of_snapshots(spine: m.Spine, today: dt.date) -> None:
    assert spine.count(today) == len(spine.snapshots(today))
