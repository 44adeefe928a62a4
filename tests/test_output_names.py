"""Every column of a `query` or `history` answer has a name of its own: a payload column named
like a business key column or like one of the answer's own columns (applied, loaded, batch,
replaced, deleted, satellite) gets its satellite's name in front, in every output format, on
both engines."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

from click.testing import CliRunner

from datavault import api
from datavault.cli import main
from tests.conftest import migrated, write_project

CLASHING = ["user", "applied", "loaded", "batch", "replaced", "deleted", "satellite"]

PROJECT = {
    "config/datavault.yml": 'hash: md5\nnaming:\n  hub: "{name}"\n  satellite: "{name}"\n',
    "models/sources/s.yml": "batch: snapshot\napplied_at: at\ncolumns:\n  user: text\n"
                            "  at: timestamp\n"
                            + "".join(f"  p_{name}: text\n" for name in CLASHING),
    "models/hubs/user.yml": "business_key:\n  user: text\nsources:\n  s:\n    user: user\n",
    "models/satellites/limit.yml": "parent: user\nsource: s\npayload:\n"
                                   + "".join(f"  {name}: p_{name}\n" for name in CLASHING),
}
HEADER = "user,at," + ",".join(f"p_{name}" for name in CLASHING) + "\n"
BATCHES = [  # the second corrects u2 at the same applied time, and lacks u1: deleted
    ("one.csv", "u1,2026-01-01," + ",".join(f"{n}1" for n in CLASHING) + "\n"
                "u2,2026-01-01," + ",".join(f"{n}2" for n in CLASHING) + "\n"),
    ("two.csv", "u2,2026-01-01," + ",".join(f"{n}2b" for n in CLASHING) + "\n"),
]


def _run(root: Path, url: str, *args: str) -> str:
    result = CliRunner().invoke(main, ["-p", str(root), "--url", url, *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def _values(record: dict) -> dict:
    """The business key and payload values of a row (as loaded: a word and 1, 2 or 2b)."""
    return {k: v for k, v in record.items()
            if isinstance(v, str) and re.fullmatch(r"[a-z]+(1|2b?)", v)}


def _answers(root: Path, url: str, *args: str) -> list[dict]:
    """The answer as JSON, after checking that CSV has the same columns and values and the
    table shows every value."""
    records = json.loads(_run(root, url, *args, "--format", "json"))
    rows = list(csv.reader(io.StringIO(_run(root, url, *args, "--format", "csv"))))
    assert [rows[0]] * len(records) == [list(r) for r in records]
    assert len(rows[0]) == len(set(rows[0]))
    assert [_values(dict(zip(rows[0], row))) for row in rows[1:]] == list(map(_values, records))
    table = _run(root, url, *args)
    for record in records:
        for value in _values(record).values():
            assert value in table
    return records


def test_payload_named_like_a_key_or_an_output_column_keeps_its_own_name(
        make_db_url, tmp_path: Path) -> None:
    root = write_project(tmp_path / "project", PROJECT)
    api.validate(root)
    url = migrated(root, make_db_url())
    for name, rows in BATCHES:
        (tmp_path / name).write_text(HEADER + rows, encoding="utf-8")
        _run(root, url, "load", "s", str(tmp_path / name))

    [state] = _answers(root, url, "query", "limit", "--key", "u2")
    assert {k: state[k] for k in ("user", "record_source", "deleted")} == {
        "user": "u2", "record_source": "s", "deleted": False}
    assert state["applied"].startswith("2026-01-01") and state["loaded"].startswith("20")
    assert {k: v for k, v in state.items()
            if k not in ("user", "record_source", "deleted", "applied", "loaded")} == {
        f"limit.{n}": f"{n}2b" for n in CLASHING}

    [state] = _answers(root, url, "query", "user", "--key", "u2")
    assert state["user"] == "u2" and state["limit.applied"].startswith("2026-01-01")
    assert state["limit.loaded"].startswith("20") and state["limit.deleted"] is False
    assert {k: v for k, v in state.items() if isinstance(v, str) and v.endswith("2b")} == {
        "limit.user": "user2b",  # the hub's answer has no limit.user of its own
        **{f"limit.limit.{n}": f"{n}2b" for n in CLASHING if n != "user"}}

    history = _answers(root, url, "history", "limit", "--key", "u2")
    assert [(r["user"], r["batch"], r["replaced"] is not None, r["deleted"], r["limit.user"],
             r["limit.batch"], r["limit.replaced"], r["limit.satellite"]) for r in history] == [
        ("u2", 1, True, False, "user2", "batch2", "replaced2", "satellite2"),
        ("u2", 2, False, False, "user2b", "batch2b", "replaced2b", "satellite2b")]

    history = _answers(root, url, "history", "user", "--key", "u1")
    assert [(r["user"], r["satellite"], r["deleted"], r["limit.limit.deleted"],
             r["limit.limit.satellite"], r["limit.user"]) for r in history] == [
        ("u1", "limit", False, "deleted1", "satellite1", "user1"),
        ("u1", "limit", True, None, None, None)]
