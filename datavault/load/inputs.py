"""Batch inputs: a CSV file with a header row, or a table or query on a database named by URL."""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from datavault.database import with_driver
from datavault.diagnostics import DatavaultError

CHUNK = 20_000


@dataclass
class BatchInput:
    """Where a batch comes from; ``open()`` yields the header, then row chunks."""

    description: str
    kind: str  # "csv" or "database"
    path: Path | None = None
    url: str | None = None
    query: str | None = None
    _scan: tuple[str, int, bool] | None = field(default=None, repr=False, compare=False)

    def chunks(self) -> Iterator[list[str] | list[list[object]]]:
        if self.kind == "csv":
            yield from _csv_chunks(self.path)  # type: ignore[arg-type]
        else:
            yield from _db_chunks(self.url, self.query)  # type: ignore[arg-type]

    def plain_csv(self) -> bool:
        """True for a CSV file in the plainest form: no quote character, no carriage return,
        no blank line and no backslash-dot anywhere. Every CSV reader splits such a file the
        same way (lines, then commas), so a database may read it itself."""
        return self.kind == "csv" and self._scanned()[2]

    def fingerprint(self) -> tuple[str, int] | None:
        """The SHA-256 of a file's bytes (hex) and its size, which tell a re-delivered file;
        None for a database input, whose rows are read anew each time."""
        if self.kind != "csv":
            return None
        checksum, size, _ = self._scanned()
        return checksum, size

    def _scanned(self) -> tuple[str, int, bool]:
        """One pass over the file: its checksum, its size, and whether it is plain."""
        if self._scan is None:
            assert self.path is not None
            digest = hashlib.sha256()
            size = 0
            plain = True
            previous = b""
            with self.path.open("rb") as handle:
                while block := handle.read(1 << 22):
                    digest.update(block)
                    size += len(block)
                    if plain:
                        seam = previous + block[:1]
                        if (b'"' in block or b"\r" in block or b"\\." in block
                                or b"\n\n" in block or seam in (b"\n\n", b"\\.")):
                            plain = False
                        previous = block[-1:]
            self._scan = (digest.hexdigest(), size, plain)
        return self._scan

    @property
    def typed(self) -> bool:
        """Database rows carry typed values; CSV rows carry text."""
        return self.kind == "database"


def open_input(spec: str, table: str | None = None, query: str | None = None,
               default_table: str | None = None) -> BatchInput:
    """A CSV path, or a database URL (with a table or query; default: the source's name)."""
    if "://" in spec:
        if table and query:
            raise DatavaultError("give --table or --query, not both")
        sql = query or f"SELECT * FROM {table or default_table}"
        try:
            parsed = with_driver(spec)
        except DatavaultError as exc:
            raise DatavaultError(f"INPUT looks like a URL but is {exc}") from None
        shown = parsed.render_as_string(hide_password=True)
        if (parsed.get_backend_name() == "sqlite" and "uri" not in parsed.query
                and parsed.database not in (None, "", ":memory:")
                and not Path(parsed.database).is_file()):
            # else SQLite would create an empty database file and report "no such table"
            raise DatavaultError(f"input database file {parsed.database} does not exist")
        return BatchInput(f"{shown} [{sql}]", "database", url=spec, query=sql)
    if table or query:
        raise DatavaultError("--table and --query only go with a database URL as INPUT")
    path = Path(spec)
    if not path.is_file():
        raise DatavaultError(f"input file {spec} does not exist (INPUT is a CSV file or a URL)")
    return BatchInput(str(path), "csv", path=path)


def _csv_chunks(path: Path) -> Iterator[list]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            try:
                header = next(reader)
            except StopIteration:
                raise DatavaultError(
                    f"{path} is empty: a CSV batch starts with a header row"
                ) from None
            yield [h.strip() for h in header]
            chunk: list[list[object]] = []
            for row in reader:
                if not row:
                    continue
                chunk.append(row)
                if len(chunk) >= CHUNK:
                    yield chunk
                    chunk = []
            if chunk:
                yield chunk
    except UnicodeDecodeError as exc:
        raise DatavaultError(f"{path} is not UTF-8 text: {exc}") from None
    except csv.Error as exc:
        raise DatavaultError(f"{path} is not a readable CSV file: {exc}") from None


def _db_chunks(url: str, query: str) -> Iterator[list]:
    try:
        engine = sa.create_engine(with_driver(url))
    except (sa.exc.SQLAlchemyError, ImportError) as exc:  # ImportError: its driver is missing
        shown = sa.engine.make_url(url).render_as_string(hide_password=True)
        reason = str(exc).strip().splitlines()[0]
        raise DatavaultError(f"cannot use input URL {shown}: {reason}") from None
    try:
        with engine.connect() as connection:
            result = connection.execution_options(stream_results=True, yield_per=CHUNK).execute(
                sa.text(query)
            )
            yield list(result.keys())
            for part in result.partitions(CHUNK):
                yield [list(row) for row in part]
    except sa.exc.SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise DatavaultError(f"cannot read the input batch ({query}): {reason}") from None
    finally:
        engine.dispose()
