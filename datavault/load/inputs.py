"""Batch inputs: files (CSV in any dialect and encoding, gzip or zstd, Parquet, JSON Lines),
standard input, Arrow tables and pandas DataFrames from Python, and tables or queries on a
database named by URL.

Files are read with pyarrow. A reader gives the source's columns as text, in declared
order, with each row's number in the input (1 = the first data row), in Arrow record batches;
rows that cannot be read as rows at all (a wrong number of fields, bytes that are not text in
the declared encoding, a NUL character, a line that is not JSON) are handed back apart with
the reason, for quarantine. Typing every text is staging's work, by the rules of
``datavault.values``; database rows keep their own types.
"""

from __future__ import annotations

import array
import codecs
import collections
import concurrent.futures
import csv
import hashlib
import io
import json
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import sqlalchemy as sa

from datavault import model as m
from datavault.database import redact, shown_url, with_driver
from datavault.diagnostics import DatavaultError
from datavault.dialects import get_dialect
from datavault.load import changes

CHUNK = 20_000
T = TypeVar("T")
#: how much of a file the CSV reader parses at once; a row longer than this is read by
#: trying again with a larger block. Its thread reads up to 32 blocks ahead of the rows
#: taken from it, so this is also what keeps a large file's reading in a few dozen MiB.
BLOCK = 1 << 20
LARGEST_BLOCK = 1 << 30
_MAGIC = {b"\x1f\x8b": "gzip", b"\x28\xb5\x2f\xfd": "zstd", b"BZh": "bz2"}
_SUFFIX_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl",
                   ".ndjson": "jsonl"}


@dataclass
class Rejected:
    """A row that is not a row of the source's columns: its number, reason and content."""

    number: int
    reason: str
    data: dict[str, Any]


class Reader:
    """The rows of one input, read once: ``batches()`` yields Arrow record batches of a
    ``dv_row`` number column and the source's columns as text (declared order);
    ``rejected`` collects the rows that could not be read, taken by ``take_rejected``."""

    typed = False

    def __init__(self, description: str, total_bytes: int | None = None):
        self.description = description
        self.total_bytes = total_bytes
        self.bytes_read = 0
        self.rejected: list[Rejected] = []

    def batches(self) -> Iterator[pa.RecordBatch]:
        raise NotImplementedError

    def take_rejected(self) -> list[Rejected]:
        taken, self.rejected = self.rejected, []
        return taken

    def close(self) -> None:
        """Free what the reader holds (files, connections)."""


@dataclass
class BatchInput:
    """Where a batch comes from. ``open(source)`` gives its reader."""

    description: str
    kind: str  # "file", "arrow", "database" or "events" (change events from a stream)
    path: Path | None = None
    url: str | None = field(default=None, repr=False)  # may hold a password: not shown
    query: str | None = None
    table: Any = None  # an Arrow table (from a DataFrame too); events: their values
    _fingerprint: tuple[str, int] | None = field(default=None, repr=False, compare=False)

    @property
    def typed(self) -> bool:
        """Database rows carry typed values; every other input is text for the parser."""
        return self.kind == "database"

    def fingerprint(self) -> tuple[str, int] | None:
        """The SHA-256 of a file's bytes (hex) and its size, which tell a re-delivered file;
        None for other inputs, whose rows are read anew each time."""
        if self.kind != "file":
            return None
        if self._fingerprint is None:
            assert self.path is not None
            digest = hashlib.sha256()
            size = 0
            with self.path.open("rb") as handle:
                while block := handle.read(1 << 22):
                    digest.update(block)
                    size += len(block)
            self._fingerprint = (digest.hexdigest(), size)
        return self._fingerprint

    def open(self, source: m.Source) -> Reader:
        """A reader of this input's rows for ``source``; a DatavaultError when the input
        lacks a column of the source or cannot be read at all."""
        if self.kind == "database":
            return _DatabaseReader(self.description, self.url or "", self.query or "", source)
        if self.kind == "arrow":
            return _ArrowReader(self.description, self.table, source)
        if self.kind == "events":
            if source.input.format != "debezium":
                raise DatavaultError(f"source {source.name} does not read change events: "
                                     f"declare input: {{format: debezium}} in "
                                     f"models/sources/{source.name}.yml")
            return _ChangeEventReader(self.description, lambda: iter(self.table), source)
        assert self.path is not None
        form = source.input.format or _SUFFIX_FORMATS.get(_plain_suffix(self.path), "csv")
        if form == "parquet":
            return _ParquetReader(self.description, self.path, source)
        if form == "jsonl":
            return _JsonLinesReader(self.description, self.path, source)
        if form == "debezium":
            return _ChangeEventReader(self.description, _lines(self.path), source,
                                      self.path.stat().st_size)
        return _CsvReader(self.description, self.path, source)


# the start of something meant as a URL (a scheme of two letters or more, then a colon; one
# letter is a Windows drive)
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]+:")


def open_input(spec: str, table: str | None = None, query: str | None = None,
               default_table: str | None = None) -> BatchInput:
    """A file path, ``-`` for standard input, or a database URL (with a table or query;
    default: the source's name)."""
    if "://" in spec:
        if table and query:
            raise DatavaultError("give --table or --query, not both")
        try:
            parsed = with_driver(spec)
        except DatavaultError as exc:
            raise DatavaultError(f"INPUT looks like a URL but is {exc}") from None
        # a --table is written as given (it may name a schema); the source's name is a name
        sql = query or f"SELECT * FROM {table or _quoted(parsed, default_table or '')}"
        shown = shown_url(parsed)
        missing = _missing_database(parsed)
        if missing:  # else the engine would make an empty file and report "no such table"
            raise DatavaultError(f"input database file {missing} does not exist")
        return BatchInput(f"{shown} [{sql}]", "database", url=spec, query=sql)
    if table or query:
        raise DatavaultError("--table and --query only go with a database URL as INPUT")
    if spec == "-":
        return BatchInput("standard input", "file", path=_spool(sys.stdin.buffer))
    path = Path(spec)
    if not path.is_file():
        if _SCHEME.match(spec):  # a URL mistyped, perhaps with its password: not repeated
            raise DatavaultError("INPUT is not a file, nor a database URL (one reads "
                                 "dialect+driver://user@host:port/database); it is not "
                                 "shown, as it may hold a password")
        if path.is_dir():
            raise DatavaultError(f"{spec} is a folder: INPUT is one batch, a file (load each "
                                 "file of the folder as a batch of its own)")
        raise DatavaultError(f"input file {spec} does not exist (INPUT is a file, - for "
                             "standard input, or a database URL)")
    return BatchInput(str(path), "file", path=path)


def _missing_database(url: sa.URL) -> str | None:
    """The file of an input database URL that does not exist, for an engine the toolkit
    knows (another engine's connection reports its own errors)."""
    try:
        dialect = get_dialect(url.get_backend_name())
    except DatavaultError:
        return None
    return dialect.missing_database(url)


def _quoted(url: sa.URL, name: str) -> str:
    """A table name as the input database's SQL writes it (quoted if a reserved word)."""
    try:
        return url.get_dialect()().identifier_preparer.quote(name)
    except Exception:  # an unknown dialect: the connection reports it
        return name


def arrow_input(data: Any, description: str = "") -> BatchInput:
    """An input from Python: a pyarrow Table or RecordBatch, or a pandas DataFrame."""
    if isinstance(data, pa.RecordBatch):
        data = pa.Table.from_batches([data])
    elif not isinstance(data, pa.Table):
        if type(data).__module__.split(".")[0] != "pandas":
            raise DatavaultError(f"cannot load a {type(data).__name__}: give a pyarrow Table "
                                 "or a pandas DataFrame")
        data = pa.Table.from_pandas(data, preserve_index=False)
    shown = description or f"{type(data).__name__} of {data.num_rows:,} rows"
    return BatchInput(shown, "arrow", table=data)


def _spool(stream: Any) -> Path:
    """Standard input copied to a file of its own (read once; checksummed and read like any
    file), removed when the process ends."""
    handle = tempfile.NamedTemporaryFile(prefix="datavault-stdin-", delete=False)
    with handle:
        shutil.copyfileobj(stream, handle, 1 << 22)
    import atexit
    import os

    atexit.register(lambda: os.path.exists(handle.name) and os.unlink(handle.name))
    return Path(handle.name)


def _plain_suffix(path: Path) -> str:
    """The file's suffix without a compression suffix (orders.jsonl.gz: .jsonl)."""
    suffixes = [s.lower() for s in path.suffixes]
    while suffixes and suffixes[-1] in (".gz", ".gzip", ".zst", ".zstd", ".bz2"):
        suffixes.pop()
    return suffixes[-1] if suffixes else ""


def _compression(path: Path) -> str | None:
    with path.open("rb") as handle:
        head = handle.read(4)
    return next((kind for magic, kind in _MAGIC.items() if head.startswith(magic)), None)


def _stream(path: Path) -> pa.NativeFile:
    """The file's bytes, decompressed when it is gzip, zstd or bzip2 (told by its first
    bytes, whatever its name)."""
    return pa.input_stream(str(path), compression=_compression(path))


def _match_columns(source: m.Source, names: list[str], shown: str) -> list[int]:
    """Where each of the source's columns is among an input's column names: by name, in any
    case and with surrounding space."""
    folded: dict[str, int] = {}
    for position, name in enumerate(names):
        key = str(name).strip().lower()
        if key in folded:
            raise DatavaultError(f"{shown} has two columns named {name!r} (names are matched "
                                 "in any case)")
        folded[key] = position
    missing = [c.name for c in source.columns if c.name.lower() not in folded]
    if missing:
        hint = ""
        if len(names) == 1 and any(mark in str(names[0]) for mark in ",;|\t"):
            hint = ("; its header was read as one column: check the delimiter in the "
                    f"source's input: (models/sources/{source.name}.yml)")
        raise DatavaultError(
            f"{shown} lacks column(s) {', '.join(missing)} of source {source.name}; "
            f"it has: {', '.join(map(str, names))}{hint}")
    return [folded[c.name.lower()] for c in source.columns]


# ---- text rows: checks that every reader applies ------------------------------------------
class _TextBatches:
    """Numbers rows and sets apart the ones no database can store as text."""

    def __init__(self, reader: Reader, source: m.Source):
        self.reader = reader
        self.names = ["dv_row"] + [c.name for c in source.columns]
        self.next_number = 1

    def make(self, columns: list[pa.Array], numbers: pa.Array | None = None,
             raw: list[str] | None = None) -> pa.RecordBatch | None:
        """A record batch of ``columns`` (any type: cast to text), numbered on from the last
        (or by ``numbers``); rows with a NUL character are rejected. ``raw``: the input's
        column names for the rejected rows' data."""
        length = len(columns[0]) if columns else 0
        if numbers is None:
            numbers = _numbers(range(self.next_number, self.next_number + length))
        if length:
            self.next_number = int(pc.max(numbers).as_py()) + 1
        texts = [_as_text(column) for column in columns]
        bad = None
        for text in texts:
            has_nul = pc.fill_null(pc.match_substring(text, "\x00"), False)
            bad = has_nul if bad is None else pc.or_(bad, has_nul)
        if bad is not None and pc.any(bad).as_py():
            names = raw or self.names[1:]
            for index in pc.indices_nonzero(bad).to_pylist():
                row = {name: text[index].as_py() for name, text in zip(names, texts)}
                where = [n for n, v in row.items() if v is not None and "\x00" in v]
                self.reader.rejected.append(Rejected(
                    int(numbers[index].as_py()),
                    f"{', '.join(where)}: a NUL character, which no database stores in text",
                    {k: (v.replace("\x00", "\\0") if isinstance(v, str) else v)
                     for k, v in row.items()}))
            keep = pc.invert(bad)
            numbers = pc.filter(numbers, keep)
            texts = [pc.filter(text, keep) for text in texts]
        if not len(numbers):
            return None
        return pa.RecordBatch.from_arrays([numbers, *texts], names=self.names)


def _numbers(numbers: Sequence[int]) -> pa.Array:
    """Row numbers as an Arrow array, built from the bytes of a C array (``pa.array`` of a
    Python list would first import pandas, where it is installed, to look for its types)."""
    data = array.array("q", numbers)
    return pa.Array.from_buffers(pa.int64(), len(data), [None, pa.py_buffer(data)])


def _as_text(column: pa.Array) -> pa.Array:
    """A column as text: text stays, typed values become the text ``values.parse`` reads
    back as the same value (a zone-aware timestamp as its UTC time)."""
    kind = column.type
    if pa.types.is_string(kind):
        return column
    if pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        return column.cast(pa.string())
    if pa.types.is_dictionary(kind):
        return _as_text(column.dictionary_decode())
    if pa.types.is_timestamp(kind) and kind.tz is not None:
        column = column.cast(pa.timestamp(kind.unit))  # the same instant, in UTC
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
        return column.cast(pa.string())  # checked as UTF-8 by the cast
    if pa.types.is_fixed_size_binary(kind) and kind.byte_width == 16:  # a UUID's bytes
        return pa.array([None if v is None else v.hex() for v in column.to_pylist()],
                        pa.string())
    try:
        return column.cast(pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise DatavaultError(f"a column of type {kind} cannot be read as a value") from None


# ---- CSV ----------------------------------------------------------------------------------
_END = object()


def read_ahead(items: Iterator[T], depth: int = 2) -> Iterator[T]:
    """The items of ``items``, produced in a thread of its own up to ``depth`` ahead of the
    consumer: reading and checking the next block of an input (Arrow lets go of the GIL)
    while the database copies this one. The producer's exception is raised to the
    consumer, at the item where it happened."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pending = collections.deque(pool.submit(next, items, _END) for _ in range(depth))
        while True:
            item = pending.popleft().result()
            if item is _END:
                return
            pending.append(pool.submit(next, items, _END))
            yield item


class ReadAgain(Exception):
    """A row longer than the reader's blocks: read the input again from the start (the
    reader now uses larger blocks); what was read of it so far is to be discarded."""


class _CsvReader(Reader):
    def __init__(self, description: str, path: Path, source: m.Source):
        super().__init__(description, path.stat().st_size)
        self.path = path
        self.source = source
        self.block = BLOCK
        options = source.input
        self.parse_options = dict(delimiter=options.delimiter,
                                  quote_char=options.quote or False,
                                  double_quote=options.quote is not None and not options.escape,
                                  escape_char=options.escape or False, newlines_in_values=True,
                                  ignore_empty_lines=True)
        self.encoding = options.encoding
        #: read as Latin-1, every byte one character, then given back its own bytes: the CSV
        #: parser cannot show a UTF-8 file's row with the wrong number of fields and bytes
        #: that are not UTF-8 to the row handler, so such a file is read again this way
        self.lossless = False
        self.skipped: set[int] = set()  # numbers of the rows the CSV parser set apart
        self.unclosed: int | None = None
        self._raw: pa.NativeFile | None = None
        if options.header:
            self.header = self._names()
        else:
            width = len(self._names(autogenerate_column_names=True))
            declared = [c.name for c in source.columns]
            if width == len(declared) + 1:  # a delimiter at the end of every line (.tbl)
                declared.append("dv_trailing")
            elif width != len(declared):
                raise DatavaultError(
                    f"{description} has no header (input: header: false), and its first row "
                    f"has {width} fields where source {source.name} declares {len(declared)} "
                    "columns")
            self.header = declared
        self.positions = _match_columns(source, self.header, description)

    def _open(self, **read: Any) -> Any:
        kind = _compression(self.path)
        self._raw = pa.OSFile(str(self.path))
        stream = pa.CompressedInputStream(self._raw, kind) if kind else self._raw
        names = read.get("column_names") or getattr(self, "header", None) or []
        encoding = self.encoding
        if self.lossless:
            names = [_as_latin1(n) for n in names]
            read = {**read, "column_names": [_as_latin1(n) for n in read["column_names"]]
                    } if "column_names" in read else read
            encoding = "latin-1"
        return pacsv.open_csv(
            stream,
            read_options=pacsv.ReadOptions(use_threads=False, block_size=self.block,
                                           encoding=encoding, **read),
            parse_options=pacsv.ParseOptions(**self.parse_options,
                                             invalid_row_handler=self._invalid),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.binary() for n in names},
                strings_can_be_null=False, quoted_strings_can_be_null=False))

    def _names(self, **read: Any) -> list[str]:
        """The header's names (or, for a file without one, as many names as fields), from
        a small first block (a long first row: from larger ones)."""
        block, self.block = self.block, 1 << 16
        try:
            while True:
                try:
                    with self._open(**read) as reader:
                        return [_from_latin1(n) if self.lossless else n
                                for n in reader.schema.names]
                except pa.ArrowInvalid as exc:
                    if self._read_lossless(exc):
                        continue
                    if "straddles" not in str(exc) or self.block >= LARGEST_BLOCK:
                        raise
                    self.block *= 16
        except pa.ArrowInvalid as exc:
            if "Empty CSV file" in str(exc):
                if read:
                    return []
                raise DatavaultError(f"{self.description} is empty: a CSV batch starts with a "
                                     "header row (or declare input: header: false)") from None
            raise DatavaultError(f"{self.description} is not a readable CSV file: "
                                 f"{exc}") from None
        finally:
            self.block = block
            self.close()

    def _invalid(self, row: Any) -> str:
        # the parser numbers rows from 1 with the header as row 1; blank lines don't count
        number = (row.number or 0) - (1 if self.source.input.header else 0)
        text = _from_latin1(row.text) if self.lossless else row.text
        quote = self.source.input.quote
        if row.actual_columns < row.expected_columns and quote and text.count(quote) % 2:
            reason = (f"an unclosed quote: the field runs to the end of the file "
                      f"({text.count(chr(10)) + 1:,} lines)")
        else:
            reason = (f"the row has {row.actual_columns} fields, the header "
                      f"{row.expected_columns}")
        self.skipped.add(number)
        self.rejected.append(Rejected(number, reason, {"line": text[:10_000]}))
        return "skip"

    def _read_lossless(self, error: pa.ArrowInvalid) -> bool:
        """Whether ``error`` is the CSV parser failing to show a row with the wrong number
        of fields to the row handler (its bytes are not UTF-8): the file is then to be read
        again, losslessly."""
        if (self.lossless or "columns, got" not in str(error)
                or codecs.lookup(self.encoding).name != "utf-8"):
            return False
        self.lossless = True
        return True

    def _unclosed_quote(self) -> int | None:
        """The number of the row whose quoted field the file ends in, if one is (the CSV
        reader would take the rest of the file as that field). Only a file with an odd
        number of quote characters can hold one; only such a file is read twice."""
        quote = self.source.input.quote
        if not quote:
            return None
        count = 0
        with _stream(self.path) as stream:
            while block := stream.read(1 << 22):
                count += block.count(quote.encode())
        if count % 2 == 0:
            return None
        options = self.source.input
        with _stream(self.path) as stream:
            handle = io.TextIOWrapper(stream, encoding=options.encoding, errors="replace",
                                      newline="")
            reader = csv.reader(handle, delimiter=options.delimiter, quotechar=quote,
                                escapechar=options.escape, doublequote=not options.escape,
                                strict=True)
            number = -1 if options.header else 0
            limit = csv.field_size_limit(sys.maxsize)  # a long field is no problem here
            try:
                for row in reader:
                    if row:
                        number += 1
            except csv.Error as exc:
                if "end of data" in str(exc):  # the file ended inside a quoted field
                    return number + 1
            finally:
                csv.field_size_limit(limit)
        return None

    def skipped_from(self, number: int) -> list[int]:
        """The rows set apart by the CSV parser from row ``number`` on."""
        return [n for n in self.skipped if n >= number]

    def batches(self) -> Iterator[pa.RecordBatch]:
        self.skipped = set()
        self.rejected = []
        self.unclosed = self._unclosed_quote()
        try:
            yield from self._batches()
        except pa.ArrowInvalid as exc:
            if self._read_lossless(exc):
                raise ReadAgain() from None
            if "straddles" in str(exc) and self.block < LARGEST_BLOCK:
                self.block *= 8
                raise ReadAgain() from None
            raise DatavaultError(f"{self.description} cannot be read: {exc}") from None
        finally:
            self.close()

    def _batches(self) -> Iterator[pa.RecordBatch]:
        text = _TextBatches(self, self.source)
        header = self.source.input.header
        reader = self._open() if header else self._open(column_names=self.header)
        next_number = 1
        with reader:
            for batch in reader:
                numbers = range(next_number, next_number + batch.num_rows)
                if any(n in self.skipped for n in self.skipped_from(next_number)):
                    numbers = []  # type: ignore[assignment]
                    while len(numbers) < batch.num_rows:
                        if next_number not in self.skipped:
                            numbers.append(next_number)  # type: ignore[attr-defined]
                        next_number += 1
                else:
                    next_number += batch.num_rows
                if self.lossless:
                    batch = pa.RecordBatch.from_arrays(
                        [_latin1_bytes(c) for c in batch.columns], names=batch.schema.names)
                texts, bad, flags = _utf8([batch.column(p) for p in self.positions])
                numbered = _numbers(numbers)
                if self.unclosed in numbers:
                    index = numbers.index(self.unclosed)
                    row = {name: _shown(batch.column(i)[index].as_py())
                           for i, name in enumerate(self.header) if name != "dv_trailing"}
                    self.rejected.append(Rejected(
                        self.unclosed, "an unclosed quote: a field of this row runs to the end "
                        "of the file", {k: v[:1000] if isinstance(v, str) else v
                                        for k, v in row.items()}))
                    flag = pc.equal(numbered, self.unclosed)
                    bad = flag if bad is None else pc.or_(bad, flag)
                if bad is not None:
                    for index in pc.indices_nonzero(bad).to_pylist():
                        if numbers[index] == self.unclosed:
                            continue
                        row = {name: _shown(batch.column(i)[index].as_py())
                               for i, name in enumerate(self.header) if name != "dv_trailing"}
                        where = [self.source.columns[i].name for i, flag in flags.items()
                                 if flag[index].as_py()]
                        self.rejected.append(Rejected(
                            numbers[index], f"not {self.encoding} text: {', '.join(where)}",
                            row))
                    keep = pc.invert(bad)
                    numbered = pc.filter(numbered, keep)
                    texts = [pc.filter(t, keep) for t in texts]
                if self._raw is not None and not self._raw.closed:
                    self.bytes_read = self._raw.tell()
                made = text.make(texts, numbered) if len(numbered) else None
                if made is not None:
                    yield made
        self.bytes_read = self.total_bytes or self.bytes_read

    def close(self) -> None:
        if self._raw is not None and not self._raw.closed:
            self._raw.close()


def _quiet(hook: Any) -> Any:
    """``hook`` without the one exception the CSV parser reports on its own when it cannot
    show ``_CsvReader._invalid`` a row: the reader then reads the file again, losslessly."""
    def unraisable(report: Any) -> None:
        if not (isinstance(report.exc_value, UnicodeDecodeError)
                and getattr(report.object, "__func__", None) is _CsvReader._invalid):
            hook(report)
    return unraisable


sys.unraisablehook = _quiet(sys.unraisablehook)


def _utf8(columns: list[pa.Array]
          ) -> tuple[list[pa.Array], pa.Array | None, dict[int, pa.Array]]:
    """Binary columns as text, which rows are not valid UTF-8 (None: all are), and where:
    for each column that has such rows, by its index, which of its values are not."""
    texts, bad, flags = [], None, {}
    for number, column in enumerate(columns):
        try:
            texts.append(column.cast(pa.string()))
        except pa.ArrowInvalid:
            valid = pa.array([_valid_utf8(v) for v in column.to_pylist()], pa.bool_())
            flags[number] = flag = pc.invert(valid)
            bad = flag if bad is None else pc.or_(bad, flag)
            texts.append(pa.array([v.decode("utf-8") if ok else None
                                   for v, ok in zip(column.to_pylist(), valid.to_pylist())],
                                  pa.string()))
    return texts, bad, flags


def _as_latin1(name: str) -> str:
    """A text as a UTF-8 file's bytes read as Latin-1 show it."""
    return name.encode("utf-8").decode("latin-1")


def _from_latin1(text: str) -> str:
    """Bytes read as Latin-1 given back as UTF-8 (bytes that are not: escaped)."""
    return text.encode("latin-1").decode("utf-8", errors="backslashreplace")


def _latin1_bytes(column: pa.Array) -> pa.Array:
    """A binary column read as Latin-1 (each byte of the file one character, stored in
    UTF-8) back to the file's own bytes."""
    if pc.all(pc.string_is_ascii(column.cast(pa.string()))).as_py() is not False:
        return column
    return pa.array([None if v is None else v.decode("utf-8").encode("latin-1")
                     for v in column.to_pylist()], pa.binary())


def _valid_utf8(value: bytes | None) -> bool:
    if value is None:
        return True
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _shown(value: object) -> object:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="backslashreplace")
    return value


# ---- Parquet, JSON Lines, Arrow -----------------------------------------------------------
class _ParquetReader(Reader):
    def __init__(self, description: str, path: Path, source: m.Source):
        super().__init__(description, path.stat().st_size)
        try:
            self.file = pq.ParquetFile(str(path))
        except (pa.ArrowInvalid, OSError) as exc:
            raise DatavaultError(f"{description} is not a readable Parquet file: "
                                 f"{exc}") from None
        self.names = list(self.file.schema_arrow.names)
        self.positions = _match_columns(source, self.names, description)
        self.source = source

    def batches(self) -> Iterator[pa.RecordBatch]:
        text = _TextBatches(self, self.source)
        columns = [self.names[p] for p in self.positions]
        done = 0
        for batch in self.file.iter_batches(batch_size=CHUNK * 5, columns=columns):
            done += 1
            self.bytes_read = int((self.total_bytes or 0) * done / max(self.file.num_row_groups,
                                                                        1))
            made = text.make([batch.column(i) for i in range(len(columns))])
            if made is not None:
                yield made


class _ArrowReader(Reader):
    def __init__(self, description: str, table: pa.Table, source: m.Source):
        super().__init__(description)
        self.table = table
        self.positions = _match_columns(source, list(table.column_names), description)
        self.source = source

    def batches(self) -> Iterator[pa.RecordBatch]:
        text = _TextBatches(self, self.source)
        for batch in self.table.to_batches(max_chunksize=CHUNK * 5):
            made = text.make([batch.column(p) for p in self.positions])
            if made is not None:
                yield made


class _JsonLinesReader(Reader):
    """One JSON object per line; a line that is not one is rejected with the reason."""

    def __init__(self, description: str, path: Path, source: m.Source):
        super().__init__(description, path.stat().st_size)
        self.path = path
        self.source = source
        self.names = [c.name for c in source.columns]

    def batches(self) -> Iterator[pa.RecordBatch]:
        text = _TextBatches(self, self.source)
        folded = {n.lower(): n for n in self.names}
        rows: list[list[str | None]] = []
        numbers: list[int] = []
        seen_any: set[str] = set()
        with _stream(self.path) as raw:
            handle = io.TextIOWrapper(raw, encoding=self.source.input.encoding, newline="\n")
            number = 0
            for line in handle:
                if not line.strip():
                    continue
                number += 1
                try:
                    record = json.loads(line)
                    problem = (None if isinstance(record, dict) else
                               f"a JSON {type(record).__name__}, not an object")
                except ValueError as exc:
                    problem = f"not JSON: {exc}"
                if problem:
                    self.rejected.append(Rejected(number, problem,
                                                  {"line": line.rstrip("\n")[:10_000]}))
                    continue
                values: dict[str, str | None] = {}
                problem = None
                for key, value in record.items():
                    name = folded.get(str(key).strip().lower())
                    if name is None:
                        continue
                    seen_any.add(name)
                    if isinstance(value, (dict, list)):
                        problem = f"{name}: a JSON {type(value).__name__}, not a value"
                    values[name] = changes.json_text(value)
                if problem:
                    self.rejected.append(Rejected(number, problem, record))
                    continue
                rows.append([values.get(n) for n in self.names])
                numbers.append(number)
                if len(rows) >= CHUNK:
                    yield from self._emit(text, rows, numbers)
                    rows, numbers = [], []
            if rows:
                yield from self._emit(text, rows, numbers)

    def _emit(self, text: _TextBatches, rows: list, numbers: list[int]
              ) -> Iterator[pa.RecordBatch]:
        return _text_rows(text, rows, numbers, len(self.names))


def _text_rows(text: _TextBatches, rows: list, numbers: list[int], width: int
               ) -> Iterator[pa.RecordBatch]:
    """Rows of texts (each a list, the source's columns in order) as a record batch."""
    columns = [pa.array([r[i] for r in rows], pa.string()) for i in range(width)]
    made = text.make(columns, _numbers(numbers))
    if made is not None:
        yield made


class _ChangeEventReader(Reader):
    """Debezium change events (``datavault.load.changes``), one per line of a JSON Lines
    file or one per message of a stream, numbered from 1 in that order; a tombstone (a null
    value) is skipped, and an event that is not a row's change is rejected with the reason."""

    def __init__(self, description: str, events: Callable[[], Iterable[bytes | None]],
                 source: m.Source, total_bytes: int | None = None):
        super().__init__(description, total_bytes)
        self.events = events
        self.source = source

    def batches(self) -> Iterator[pa.RecordBatch]:
        text = _TextBatches(self, self.source)
        rows: list[list[str | None]] = []
        numbers: list[int] = []
        for number, value in enumerate(self.events(), 1):
            try:
                envelope = changes.decode(value)
                if envelope is None:
                    continue
                rows.append(changes.row_values(envelope, self.source))
                numbers.append(number)
            except changes.NotAnEvent as exc:
                shown = value.decode("utf-8", "backslashreplace") if isinstance(
                    value, bytes) else str(value)
                self.rejected.append(Rejected(number, f"not a change event: {exc}",
                                              {"event": shown.rstrip("\n")[:10_000]}))
            if len(rows) >= CHUNK:
                yield from _text_rows(text, rows, numbers, len(self.source.columns))
                rows, numbers = [], []
        if rows:
            yield from _text_rows(text, rows, numbers, len(self.source.columns))
        self.bytes_read = self.total_bytes or 0


def _lines(path: Path) -> Callable[[], Iterator[bytes]]:
    """The lines of a file (decompressed), as bytes."""
    def lines() -> Iterator[bytes]:
        with _stream(path) as raw:
            yield from io.BufferedReader(raw, 1 << 20)
    return lines




# ---- databases ----------------------------------------------------------------------------
class _DatabaseReader(Reader):
    """Typed rows of a table or query on another database (``typed``: staging coerces
    them, it does not parse text)."""

    typed = True

    def __init__(self, description: str, url: str, query: str, source: m.Source):
        super().__init__(description)
        try:
            self.engine = sa.create_engine(with_driver(url))
        except (sa.exc.SQLAlchemyError, ImportError) as exc:  # ImportError: no driver
            reason = redact(str(exc).strip().splitlines()[0])
            raise DatavaultError(f"cannot use input URL {shown_url(url)}: {reason}") from None
        self.query = query
        self.connection = None
        try:
            self.connection = self.engine.connect()
            # run as written: a ':name' or '%' in it is the query's own, not a parameter
            self.result = self.connection.execution_options(
                stream_results=True, yield_per=CHUNK, no_parameters=True).exec_driver_sql(query)
        except sa.exc.SQLAlchemyError as exc:
            self.close()
            reason = redact(str(getattr(exc, "orig", None) or exc).strip().splitlines()[0])
            raise DatavaultError(f"cannot read the input batch from {self.description}: "
                                 f"{reason}") from None
        self.header = list(self.result.keys())
        self.positions = _match_columns(source, self.header, description)

    def rows(self) -> Iterator[list[list[object]]]:
        """Chunks of rows: each a list of the row number, then the values in the input's
        column order."""
        number = 0
        try:
            for part in self.result.partitions(CHUNK):
                chunk = []
                for row in part:
                    number += 1
                    chunk.append([number, *row])
                yield chunk
        except sa.exc.SQLAlchemyError as exc:
            reason = redact(str(getattr(exc, "orig", None) or exc).strip().splitlines()[0])
            raise DatavaultError(f"cannot read the input batch from {self.description}: "
                                 f"{reason}") from None

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
        self.engine.dispose()
