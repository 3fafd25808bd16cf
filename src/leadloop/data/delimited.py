"""Delimited text as users export it: its encoding and delimiter, its record structure (every
row holds as many fields as the header, no quote is left open across rows) and decimal commas.

Everything here works on bytes already read (``data.reading`` reads each file once, so the
digest it records describes exactly what was parsed).
"""

from __future__ import annotations

import codecs
import csv
import io as io_module
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import charset_normalizer
import numpy as np
import pandas as pd

from leadloop.errors import InputError

DELIMITERS = ",;\t|"
SNIFF_BYTES = 64 * 1024
BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
WESTERN = "cp1252"
# A number written with a decimal comma, optionally with '.' grouping thousands: 1,5  1.234,56
DECIMAL_COMMA = re.compile(r"[+-]?(?:\d{1,3}(?:\.\d{3})+|\d+)(?:,\d+)?")
DECIMAL_SAMPLE = 1000  # values looked at before a whole column is tested
MAX_ROWS_NAMED = 1000  # rows collected for a structure error (the message shows five)


@dataclass(frozen=True)
class Sniffed:
    """A text table's encoding, delimiter and header cells, found from its first bytes."""

    encoding: str
    delimiter: str
    header: list[str]
    sample: str


def sniff(head: bytes, *, source: str) -> Sniffed:
    """The encoding, delimiter and header of a text table from its first bytes."""
    encoding = encoding_of(head)
    if encoding is None:
        raise InputError(
            "is not a text table (binary content, no text encoding fits); expected CSV",
            path=source,
        )
    sample = head.decode(encoding, errors="replace")
    delimiter = _delimiter(sample)
    header = next(csv.reader(io_module.StringIO(sample), delimiter=delimiter), [])
    return Sniffed(encoding, delimiter, header, sample)


def encoding_of(head: bytes) -> str | None:
    """The encoding of a text file from its first bytes, or None when it is not text.

    A byte-order mark decides; then UTF-8; then charset-normalizer. Code pages that decode the
    bytes identically are ranked arbitrarily by the detector, so Windows-1252 (what Excel and
    most Western CRMs write) is chosen whenever it reads the bytes as cleanly as the best guess:
    its euro sign and curly quotes are control characters in Latin-1. NUL bytes outside UTF-16
    or UTF-32 mean binary content.
    """
    for bom, name in BOMS:
        if head.startswith(bom):
            return name
    if b"\x00" not in head and _is_utf8(head):
        return "utf-8-sig"
    matches = charset_normalizer.from_bytes(head)
    best = matches.best()
    if best is None:
        return None
    if b"\x00" in head and not best.encoding.startswith(("utf_16", "utf_32")):
        return None
    western = any(WESTERN in m.could_be_from_charset and m.chaos <= best.chaos for m in matches)
    return WESTERN if western else str(best.encoding)


def _is_utf8(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as err:
        return err.reason == "unexpected end of data"  # a character cut at the sample's end
    return True


def _delimiter(sample: str) -> str:
    lines = [line for line in sample.splitlines()[:50] if line.strip()]
    if not lines:
        return ","
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=DELIMITERS).delimiter
    except csv.Error:
        counts = {d: lines[0].count(d) for d in DELIMITERS}
        return max(counts, key=lambda d: counts[d]) if max(counts.values()) else ","


def to_utf8(data: bytes, encoding: str) -> bytes:
    """The whole file as UTF-8 bytes without a byte-order mark.

    A file that is UTF-8 in its first bytes and another code page further down is decoded with
    the encoding detected where the first undecodable byte shows.
    """
    used = encoding
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as err:
        window = data[max(0, err.start - SNIFF_BYTES // 2) : err.start + SNIFF_BYTES // 2]
        found = encoding_of(window) if encoding == "utf-8-sig" else None
        if found is None or found == encoding:
            raise
        text, used = data.decode(found), found
    if used == "utf-8-sig" and not data.startswith(codecs.BOM_UTF8):
        return data  # already UTF-8: no need for a second copy
    return text.removeprefix("\ufeff").encode("utf-8")


def check_records(data: bytes, *, delimiter: str, source: str) -> None:
    """Refuse a table whose rows do not line up with its header: a quote opened and never
    closed on its row (the rows after it vanish into one field), or rows with fewer fields than
    the header, or more (beyond empty trailing ones). ``data`` is UTF-8."""
    if b'"' in data:
        check_lines(io_module.StringIO(data.decode("utf-8"), newline=""), delimiter, source)
    else:
        _check_unquoted(data, delimiter, source)


def check_lines(lines: Iterable[str], delimiter: str, source: str) -> None:
    """``check_records`` over text lines (kept with their line ends), read as CSV."""
    physical: list[str] = []

    def feed() -> Iterator[str]:
        for line in lines:
            physical.append(line)
            yield line

    reader = csv.reader(feed(), delimiter=delimiter, skipinitialspace=True)
    header = next(reader, None)
    if header is None:
        return
    physical.clear()
    width = _width(header)
    shape = _Shape(width, delimiter)
    row = 0
    for record in reader:
        spanned, start = list(physical), reader.line_num - len(physical) + 1
        physical.clear()
        if not record or record == [""]:
            continue
        row += 1
        if len(spanned) > 1 and all(shape.whole(line) for line in spanned if line.strip()):
            opened = next((i for i, f in enumerate(record) if "\n" in f), 0)
            column = header[opened] if opened < len(header) else None
            raise _merged(row, start, len(spanned), source, column)
        shape.add(row, start, record)
    shape.finish(source)


def _check_unquoted(data: bytes, delimiter: str, source: str) -> None:
    """Field counts by counting delimiters per line (no quotes: no field can span lines)."""
    raw = np.frombuffer(data, dtype=np.uint8)
    breaks = np.flatnonzero(raw == 10)
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks, [len(raw)]])
    cuts = np.flatnonzero(raw == ord(delimiter))
    fields = np.searchsorted(cuts, ends) - np.searchsorted(cuts, starts) + 1
    cr = raw[np.maximum(ends - 1, 0)] == 13
    blank = (ends - starts) - cr <= 0
    lines = np.flatnonzero(~blank)
    if len(lines) < 2:
        return
    header = data[starts[lines[0]] : ends[lines[0]]].decode("utf-8").rstrip("\r")
    width = _width(header.split(delimiter))
    shape = _Shape(width, delimiter)
    rows = lines[1:]
    last = raw[np.maximum(ends[rows] - 1 - cr[rows], 0)]
    trailing = (fields[rows] == width + 1) & (last == ord(delimiter))  # one trailing delimiter
    for position in np.flatnonzero((fields[rows] != width) & ~trailing):
        line = rows[position]
        text = data[starts[line] : ends[line]].decode("utf-8").rstrip("\r")
        shape.add(int(position) + 1, int(line) + 1, [t.strip() for t in text.split(delimiter)])
    shape.finish(source)


def _width(header: list[str]) -> int:
    """The header's number of fields, without the empty names of trailing delimiters."""
    width = len(header)
    while width > 1 and not header[width - 1].strip():
        width -= 1
    return width


class _Shape:
    """Rows whose field count differs from the header's, grouped by what they hold."""

    def __init__(self, width: int, delimiter: str) -> None:
        self.width = width
        self.delimiter = delimiter
        self.short: list[tuple[int, int, int]] = []  # (row, line, fields)
        self.long: list[tuple[int, int, int]] = []

    def whole(self, line: str) -> bool:
        """A physical line that alone holds as many fields as a row (quotes not honoured)."""
        return line.count(self.delimiter) + 1 >= self.width

    def add(self, row: int, line: int, record: list[str]) -> None:
        found = len(record)
        if found < self.width and len(self.short) < MAX_ROWS_NAMED:
            self.short.append((row, line, found))
        elif (
            found > self.width
            and any(f.strip() for f in record[self.width :])
            and len(self.long) < MAX_ROWS_NAMED
        ):
            self.long.append((row, line, found))

    def finish(self, source: str) -> None:
        for rows, kind in ((self.long, "more"), (self.short, "fewer")):
            if rows:
                _, line, found = rows[0]
                more = f"; {len(rows):,} rows like it" if len(rows) > 1 else ""
                raise InputError(
                    f"{found} fields where the header has {self.width} (line {line} of the "
                    f"file{more}): {kind} fields than the header means a missing or extra "
                    f"'{_shown(self.delimiter)}', or one inside an unquoted value",
                    path=source,
                    rows=[r for r, _, _ in rows],
                )


def _merged(row: int, line: int, spanned: int, source: str, column: str | None) -> InputError:
    return InputError(
        f"a quote opened in row {row} (line {line} of the file) is not closed on its row, so "
        f"{spanned} lines were read as one value: a stray quote (remove it, or quote the whole "
        "value and double the quotes inside it)",
        path=source,
        column=column,
        rows=list(range(row, row + spanned)),
    )


def _shown(delimiter: str) -> str:
    return "\\t" if delimiter == "\t" else delimiter


def comma_number_columns(frame: pd.DataFrame) -> list[str]:
    """Text columns whose every value is a number written with a decimal comma (at least one
    with a comma): ``1,5``, ``-0,25``, ``1.234,56``."""
    found = []
    for column in frame.columns:
        values = frame[column]
        if not (values.dtype == object or pd.api.types.is_string_dtype(values)):
            continue
        present = values.dropna().astype(str).str.strip()
        if present.empty or not _comma_numbers(present.iloc[:DECIMAL_SAMPLE]):
            continue
        if _comma_numbers(present) and present.str.contains(",", regex=False).any():
            found.append(str(column))
    return found


def _comma_numbers(values: pd.Series) -> bool:
    return bool(values.str.fullmatch(DECIMAL_COMMA.pattern).all())


def from_decimal_comma(values: pd.Series) -> pd.Series:
    """Numbers written with a decimal comma (and '.' between thousands) as floats."""
    text = values.astype("string").str.strip()
    plain = text.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    return pd.to_numeric(plain, errors="coerce").astype("float64")
