"""One command's steps, each timed, in a process of its own (``bench/command_cost.py`` runs
it): importing, reading the project, connecting, the schema check, the command itself; or the
full comparison that every command made before. Prints the times as JSON.

    python bench/command_steps.py '{"project": ..., "url": ..., "command": ..., "args": [...]}'

Only the standard library is imported before the toolkit, so that its import is timed whole.
"""

from __future__ import annotations

import json
import sys
import time


def child(spec_text: str) -> None:
    """Run one command's steps as the CLI does, print their times as JSON."""
    spec = json.loads(spec_text)
    started = time.perf_counter()
    import datavault.cli  # noqa: F401  (what a command imports)
    from datavault import database, schemacheck, session
    from datavault.metadata import load_project

    imported = time.perf_counter()
    project = load_project(spec["project"])
    read = time.perf_counter()
    times = {"import": imported - started, "read the project": read - imported}
    if spec["command"] == "validate":
        print(json.dumps(times))
        return
    engine, dialect = database.connect(
        database.resolve_url(project.root, project.model.settings, spec["url"]))
    connected = time.perf_counter()
    checking = {"seconds": 0.0}

    def timed(function):
        def run(*args, **kwargs):
            begun = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                checking["seconds"] += time.perf_counter() - begun
        return run

    schemacheck.SchemaCheck.__init__ = timed(schemacheck.SchemaCheck.__init__)
    schemacheck.SchemaCheck.problem = timed(schemacheck.SchemaCheck.problem)
    vault = session.Vault(project, engine, dialect)
    command, args = spec["command"], spec["args"]
    if command == "load (1 row)":
        vault.load(*args)
    elif command == "query --key":
        vault.query_state(args[0], [args[1]])
    elif command == "history --key":
        vault.history(args[0], [args[1]])
    elif command == "batches":
        vault.batches()
    elif command == "full comparison":
        from datavault import migrate

        alembic = time.perf_counter()
        times["import Alembic"] = alembic - connected
        with engine.connect() as connection:
            migrate.compare_database(connection, project.model)
        times["compare every table"] = time.perf_counter() - alembic
        print(json.dumps(times))
        return
    finished = time.perf_counter()
    vault.close()
    times["connect"] = connected - read
    times["schema check"] = checking["seconds"]
    times["the command"] = finished - connected - checking["seconds"]
    print(json.dumps(times))


if __name__ == "__main__":
    child(sys.argv[1])
