"""Turn a statement file's bytes into text and rows: encoding, delimiter, CSV cells."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass

from spendsense_dagster.lib.ingest.sources import IngestError

# What mapping.json may name; without it, UTF-8 is tried first, then Windows-1252.
ENCODINGS = ("utf-8", "windows-1252")
DELIMITERS = (",", ";", "\t")
_UTF8_BOM = b"\xef\xbb\xbf"


class StatementFileError(IngestError):
    """A statement file cannot be read (encoding, delimiter, headers, mapping.json); names the file."""


@dataclass(frozen=True)
class DecodedStatement:
    encoding: str
    delimiter: str
    header: list[str]
    # (1-based physical line where the row starts, its cells, the row's original text)
    rows: list[tuple[int, list[str], str]]


def decode_bytes(data: bytes, encoding: str | None = None) -> tuple[str, str]:
    """(text, encoding): the given encoding, else UTF-8, else Windows-1252; a UTF-8 byte-order mark
    is dropped either way (spreadsheet tools write one in front of 1252 text too).

    Windows-1252 is the last resort because nearly any byte string decodes as it: a file that is
    valid UTF-8 is never read as 1252. The five bytes 1252 leaves undefined fail the file.
    """
    body = data.removeprefix(_UTF8_BOM)
    bom = "-sig" if len(body) < len(data) else ""
    if encoding is not None:
        return body.decode(encoding), encoding
    try:
        return body.decode("utf-8"), f"utf-8{bom}"
    except UnicodeDecodeError:
        return body.decode("windows-1252"), f"windows-1252{bom}"


def sniff_delimiter(header_line: str) -> str:
    """The delimiter the header line uses most (comma, semicolon or tab); a comma on a tie or none."""
    counts = {delimiter: header_line.count(delimiter) for delimiter in DELIMITERS}
    best = max(DELIMITERS, key=lambda delimiter: counts[delimiter])
    return best if counts[best] > 0 else ","


def decode_statement(
    data: bytes, *, encoding: str | None = None, delimiter: str | None = None
) -> DecodedStatement:
    """Header and rows of a CSV statement; blank lines are skipped, line numbers are the file's."""
    text, used_encoding = decode_bytes(data, encoding)
    lines = text.splitlines(keepends=True)
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:  # an export of a period without transactions
        return DecodedStatement(used_encoding, delimiter or ",", [], [])
    used_delimiter = delimiter or sniff_delimiter(lines[first])
    reader = csv.reader(io.StringIO("".join(lines[first:])), delimiter=used_delimiter)
    rows: list[tuple[int, list[str], str]] = []
    header: list[str] | None = None
    consumed = 0  # physical lines read so far, from `first`
    for cells in _checked(reader):
        start = first + consumed + 1
        consumed = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        if header is None:
            header = cells
            continue
        original = "".join(lines[start - 1 : first + consumed]).rstrip("\r\n")
        rows.append((start, cells, original))
    return DecodedStatement(used_encoding, used_delimiter, header or [], rows)


def _checked(reader: Iterator[list[str]]) -> Iterator[list[str]]:
    """The reader's rows; a CSV it cannot parse (a NUL byte, a runaway quoted field) fails the file."""
    try:
        yield from reader
    except csv.Error as error:
        raise StatementFileError(f"not a readable CSV file: {error}") from error
