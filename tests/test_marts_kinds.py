"""Marts over satellites of other kinds: a PIT points into a multi-active satellite (a version
is several rows of one applied and load time), and its views show one row per member; a
bridge's ``require:`` takes one. Checked on SQLite and PostgreSQL against ``query``, which the
property tests check against the plain-Python reference.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest

from datavault import api, query
from datavault.load import open_input
from tests.conftest import migrated, write_project
from tests.test_validate import problems

DAY0 = dt.datetime(2026, 1, 1)
SNAPSHOTS = [DAY0 + dt.timedelta(days=d) for d in range(5)]

PROJECT = {
    "models/sources/phones.yml": """
applied_at: day
columns:
  k: text
  day: timestamp
  kind: text
  number: text
""",
    "models/sources/names.yml": """
applied_at: day
columns:
  k: text
  day: timestamp
  name: text
""",
    "models/hubs/person.yml": """
business_key:
  k: text
sources:
  phones:
  names:
""",
    "models/satellites/person_name.yml": """
parent: person
source: names
payload: [name]
""",
    "models/multi_active_satellites/person_phones.yml": """
parent: person
source: phones
payload: [kind, number]
child_key: [kind]
""",
    "models/marts/people.yml": """
pit: person
satellites: [person_name, person_phones]
spine:
  dates: [2026-01-01, 2026-01-02, 2026-01-03, 2026-01-04, 2026-01-05]
""",
}


def _write(folder: Path, name: str, header: list[str], rows: list[tuple]) -> str:
    path = folder / f"{name}.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return str(path)


def _day(day: float) -> str:
    return (DAY0 + dt.timedelta(days=day)).isoformat()


def _ts(value) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))


@pytest.fixture
def vault(tmp_path: Path, db_url: str):
    root = write_project(tmp_path / "project", PROJECT)
    url = migrated(root, db_url)
    session = api.open_session(root, url=url)
    folder = tmp_path / "batches"
    folder.mkdir()
    batches = [
        ("phones", ["k", "day", "kind", "number"],
         [("A", _day(0.5), "home", "1"), ("A", _day(0.5), "work", "2"),
          ("B", _day(0.5), "home", "7")]),
        ("names", ["k", "day", "name"], [("A", _day(0.5), "Ann"), ("C", _day(1.5), "Cy")]),
        # A's work number goes on day 2; B's set in another order is no change
        ("phones", ["k", "day", "kind", "number"],
         [("A", _day(2.5), "home", "1"), ("B", _day(2.5), "home", "7")]),
        # late: on day 1 A had a new home number
        ("phones", ["k", "day", "kind", "number"],
         [("A", _day(1.5), "home", "3"), ("A", _day(1.5), "work", "2")]),
        ("names", ["k", "day", "name"], [("A", _day(3.5), "Anne")]),
    ]
    for number, (source, header, rows) in enumerate(batches):
        result = session.loader.load(source, open_input(
            _write(folder, f"{source}_{number}", header, rows)))
        assert result.ok, [e.message for e in result.entities]
    yield root, url, session
    session.close()


def _expected(connection, model, at: dt.datetime, every_key: bool = False) -> set[tuple]:
    """The rows a PIT view over person_name and person_phones must show at ``at``: each
    person's name beside each member of its phone set (NULLs where there is no state); with
    ``every_key``, also each person that has no state there (as a PIT's snapshots do)."""
    names = {r["k"]: r["name"] for r in query.state(connection, model, "person_name",
                                                    at=at).records() if not r.get("deleted")}
    phones: dict[str, list[tuple]] = {}
    for r in query.state(connection, model, "person_phones", at=at).records():
        if not r.get("deleted"):
            phones.setdefault(r["k"], []).append((r["kind"], r["number"]))
    keys = set(names) | set(phones) | ({"A", "B", "C"} if every_key else set())
    return {(k, names.get(k), kind, number)
            for k in keys
            for kind, number in phones.get(k, [(None, None)])}


def test_a_pit_points_into_a_multi_active_satellite(vault) -> None:
    root, url, session = vault
    api.build_marts(root, url=url)
    model = session.project.model
    with session.engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT snapshot_at, k, name, kind, number FROM people_snapshot").all()
        shown: dict[dt.datetime, set[tuple]] = {}
        for at, *rest in rows:
            shown.setdefault(_ts(at), set()).add(tuple(rest))
        for at in SNAPSHOTS:
            assert shown.get(at, set()) == _expected(connection, model, at, every_key=True), at
        # the late set of day 1 is in the snapshot of day 2, as known now
        assert shown[SNAPSHOTS[2]] >= {("A", "Ann", "home", "3"), ("A", "Ann", "work", "2")}
        now = dt.datetime(2030, 1, 1)
        current = set(map(tuple, connection.exec_driver_sql(
            "SELECT k, name, kind, number FROM people_current").all()))
        assert current == _expected(connection, model, now)
        history = connection.exec_driver_sql(
            "SELECT k, valid_from, valid_to, name, kind, number FROM people_history").all()
        for k, valid_from, valid_to, *rest in history:
            at = _ts(valid_from)
            assert (k, *rest) in _expected(connection, model, at)
            if valid_to is not None:
                assert _ts(valid_to) > at
        # every version of A is there, each with all its members
        spans = sorted({(_ts(r[1]), r[4], r[5]) for r in history if r[0] == "A"})
        assert spans == [(DAY0 + dt.timedelta(days=0.5), "home", "1"),
                         (DAY0 + dt.timedelta(days=0.5), "work", "2"),
                         (DAY0 + dt.timedelta(days=1.5), "home", "3"),
                         (DAY0 + dt.timedelta(days=1.5), "work", "2"),
                         (DAY0 + dt.timedelta(days=2.5), "home", "1"),
                         (DAY0 + dt.timedelta(days=3.5), "home", "1")]


def test_a_pit_lists_a_multi_active_satellite_by_name(tmp_path: Path) -> None:
    files = {name: text for name, text in PROJECT.items() if "person_name" not in name}
    files["models/marts/people.yml"] = "pit: person\nspine: {dates: [2026-01-01]}\n"
    root = write_project(tmp_path / "p", files)
    assert problems(root) == [
        "models/marts/people.yml:1:6: hub 'person' has no satellites to point at (list the "
        "multi-active satellite under satellites: [person_phones])"]
    (root / "models/marts/people.yml").write_text(
        "pit: person\nsatellites: [person_phones]\nspine: {dates: [2026-01-01]}\n")
    assert api.validate(root).model.marts["people"].satellites == ("person_phones",)


def test_a_pit_points_at_one_multi_active_satellite_at_most(tmp_path: Path) -> None:
    files = dict(PROJECT)
    files["models/multi_active_satellites/person_mails.yml"] = (
        "parent: person\nsource: phones\npayload: [kind, number]\n")
    files["models/marts/people.yml"] = (
        "pit: person\nsatellites: [person_phones, person_name, person_mails]\n"
        "spine: {dates: [2026-01-01]}\n")
    root = write_project(tmp_path / "p", files)
    assert problems(root) == [
        "models/marts/people.yml:2:13: a PIT points at one multi-active satellite at most, "
        "not 2 (person_phones, person_mails) (its views have a row per member of the set, and "
        "two sets would pair every member of one with every member of the other; make a PIT "
        "for each)"]


def test_a_multi_active_satellite_is_not_a_pit_parent(tmp_path: Path) -> None:
    files = dict(PROJECT)
    files["models/marts/people.yml"] = "pit: person_phones\nspine: {dates: [2026-01-01]}\n"
    root = write_project(tmp_path / "p", files)
    assert problems(root) == [
        "models/marts/people.yml:1:6: pit must name a hub or a link; 'person_phones' is a "
        "multi active satellite (write pit: person and list person_phones under satellites:)"]


def test_a_refresh_after_a_late_set_equals_a_full_build(vault, tmp_path: Path) -> None:
    root, url, session = vault
    api.build_marts(root, url=url)
    late = _write(tmp_path, "late", ["k", "day", "kind", "number"],
                  [("A", _day(0.75), "home", "9"), ("B", _day(3.5), "work", "8"),
                   ("B", _day(3.5), "home", "7")])
    assert session.loader.load("phones", open_input(late)).ok

    def snapshot() -> list[tuple]:
        with session.engine.connect() as connection:
            return sorted((bytes(hk), *rest) for hk, *rest in connection.exec_driver_sql(
                "SELECT person_hk, snapshot_ts, person_phones_applied_ts, person_phones_load_ts,"
                " person_name_applied_ts FROM pit_people").all())

    api.build_marts(root, url=url)
    refreshed = snapshot()
    api.build_marts(root, url=url, full=True)
    assert refreshed == snapshot()
    with session.engine.connect() as connection:
        shown = {tuple(rest) for at, *rest in connection.exec_driver_sql(
            "SELECT snapshot_at, k, kind, number FROM people_snapshot").all()
            if _ts(at) == SNAPSHOTS[1]}
    # the late set of day 0.75 replaced A's whole set from then on: its work number is gone
    assert shown == {("A", "home", "9"), ("B", "home", "7"), ("C", None, None)}
