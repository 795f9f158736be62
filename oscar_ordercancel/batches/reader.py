"""Read the rows of an uploaded CSV or XLSX file, streaming, after checking the whole file.

:func:`open_rows` checks a file first (size, type, encoding, header, row count)
and raises :class:`FileRefused` with a message staff can act on, before any row
is processed; the rows it then yields are dicts keyed by normalised column
names. The file is read twice, never held in memory whole.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass

from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from oscar_ordercancel import limits
from oscar_ordercancel.batches.safecsv import FORMULA_STARTS
from oscar_ordercancel.conf import get_setting

#: Columns per batch kind: (required, optional).
OPTIONAL_COLUMNS = ("reason", "note", "force", "refund")
COLUMNS = {
    "orders": (("order_number",), OPTIONAL_COLUMNS),
    "lines": (("order_number", "sku", "quantity"), OPTIONAL_COLUMNS),
}
#: Columns we write into error CSVs: accepted (and ignored) when such a file comes back.
IGNORED_COLUMNS = ("error",)
SNIFF_BYTES = 64 * 1024
XLSX_MAGIC = b"PK\x03\x04"


class FileRefused(Exception):
    """The file as a whole cannot be used; nothing was processed."""

    def __init__(self, message: str) -> None:
        self.message = str(message)
        super().__init__(self.message)


@dataclass
class RowSource:
    """A checked file: its format, columns and number of data rows; iterate for the rows."""

    stream: object
    kind: str
    is_xlsx: bool
    columns: list[str | None]
    row_count: int
    dialect: type[csv.Dialect] | None = None

    def __iter__(self) -> Iterator[tuple[int, dict[str, str]]]:
        """``(row number, {column: text})`` per data row; the header is row 1."""
        named = [(i, name) for i, name in enumerate(self.columns) if name]
        for number, cells in _data_rows(self._cells()):
            width = len(cells)
            yield number, {name: _clean(cells[i]) if i < width else "" for i, name in named}

    def _cells(self) -> Iterator[list[str]]:
        self.stream.seek(0)
        rows = _xlsx_rows(self.stream) if self.is_xlsx else _csv_rows(self.stream, self.dialect)
        next(rows, None)  # the header
        return rows


def normalise_header(name: str) -> str:
    """``" Order Number "`` → ``"order_number"``: any case and spacing."""
    return re.sub(r"[\s\-]+", "_", str(name).replace("\ufeff", "").strip().lower())


def _clean(value: str) -> str:
    text = value.strip()
    if text.startswith("'") and text[1:2] in FORMULA_STARTS and text[1:2]:  # our own neutralising
        text = text[1:]
    return text  # whole: a value over its column's limit refuses its row, it is never cut


def _data_rows(rows: Iterator[list[str]]) -> Iterator[tuple[int, list[str]]]:
    """The rows with a value in any cell, numbered as the spreadsheet shows them."""
    for index, cells in enumerate(rows, start=2):
        if "".join(map(str, cells)).strip():
            yield index, cells


def _size_of(stream) -> int:
    stream.seek(0, io.SEEK_END)
    size = stream.tell()
    stream.seek(0)
    return size


def open_rows(stream, file_name: str, kind: str) -> RowSource:
    """Check ``stream`` (binary, seekable) completely and return its rows; or raise ``FileRefused``."""
    max_size = int(get_setting("OSCAR_ORDERCANCEL_BATCH_MAX_FILE_SIZE"))
    size = _size_of(stream)
    if size > max_size:
        raise FileRefused(_("The file is %(size)s MB; files of up to %(limit)s MB are accepted.")
                          % {"size": f"{size / 1048576:.1f}", "limit": f"{max_size / 1048576:g}"})
    if size == 0:
        raise FileRefused(_("The file is empty."))
    head = stream.read(SNIFF_BYTES)
    stream.seek(0)
    is_xlsx = head.startswith(XLSX_MAGIC) or file_name.lower().endswith(".xlsx")
    if is_xlsx:
        header, dialect = _xlsx_header(stream), None
    else:
        dialect = _check_text(stream, head)
        rows = _csv_rows(stream, dialect)
        try:
            header = next(rows, None)
        finally:
            rows.close()
    if header is None or not any(str(cell).strip() for cell in header):
        raise FileRefused(_("The file is empty: the first row must name the columns."))
    columns = _check_header(header, kind)
    stream.seek(0)
    source = RowSource(stream, kind, is_xlsx, columns, 0, dialect)
    limit = int(get_setting("OSCAR_ORDERCANCEL_BATCH_MAX_ROWS"))
    count = 0
    for __ in _data_rows(source._cells()):
        count += 1
        if count > limit:
            raise FileRefused(
                ngettext("The file has more than %(limit)d row; at most %(limit)d rows are "
                         "accepted at once. Split it into smaller files.",
                         "The file has more than %(limit)d rows; at most %(limit)d rows are "
                         "accepted at once. Split it into smaller files.", limit)
                % {"limit": limit})
    if count == 0:
        raise FileRefused(_("The file has a header but no rows to cancel."))
    source.row_count = count
    return source


def _other_encoding(head: bytes) -> str | None:
    """``"UTF-16"`` or ``"UTF-32"`` when the file's first bytes look like that encoding."""
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "UTF-32"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "UTF-16"
    sample = head[:4096]
    sample = sample[:len(sample) // 2 * 2]
    if len(sample) < 4:
        return None
    # Mostly ASCII text in UTF-16 without a byte-order mark: every other byte is NUL.
    even, odd = sample[0::2], sample[1::2]
    for zeros, text in ((odd, even), (even, odd)):  # little-endian, big-endian
        if zeros.count(0) >= 0.9 * len(zeros) and text.count(0) <= 0.1 * len(text):
            return "UTF-16"
    return None


def _check_text(stream, head: bytes) -> type[csv.Dialect]:
    """Refuse binary and non-UTF-8 files (the whole file is decoded); return the CSV dialect."""
    encoding = _other_encoding(head)
    if encoding:
        raise FileRefused(_("The file is not UTF-8 (it looks like %(encoding)s). Save it as "
                            "“CSV UTF-8” (or upload the .xlsx workbook) and try again.")
                          % {"encoding": encoding})
    if b"\x00" in head:
        raise FileRefused(_("The file is not a CSV file (it contains binary data). "
                            "Upload a .csv file saved as UTF-8, or an .xlsx workbook."))
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        while chunk := stream.read(1024 * 1024):
            if b"\x00" in chunk:
                raise FileRefused(_("The file is not a CSV file (it contains binary data). "
                                    "Upload a .csv file saved as UTF-8, or an .xlsx workbook."))
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        raise FileRefused(_("The file is not UTF-8 text. Save it as “CSV UTF-8” (or upload the "
                            ".xlsx workbook) and try again.")) from exc
    finally:
        stream.seek(0)
    sample = head.decode("utf-8-sig", errors="ignore")
    if "\n" in sample:
        sample = sample[:sample.rindex("\n")]  # no cut-off last line
    first = sample.split("\n", 1)[0]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
        # Spreadsheets write a quote inside a quoted cell as two quotes; the sniffer
        # sometimes guesses otherwise and would keep both (and the closing quote) in the value.
        dialect.doublequote = True
        if dialect.delimiter in first or not any(d in first for d in ",;\t"):
            return dialect
    except csv.Error:
        pass

    class Dialect(csv.excel):
        """The delimiter the header line uses most (a one-column file: comma)."""

    Dialect.delimiter = max(",;\t", key=first.count) if any(d in first for d in ",;\t") else ","
    return Dialect


def _csv_rows(stream, dialect) -> Iterator[list[str]]:
    """The records of a CSV file; a record that cannot be read refuses the file, naming its line."""
    stream.seek(0)
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    # Quotes as spreadsheets write them ("" inside a quoted cell), whatever the sniffer guessed
    # from the first lines; strict, so that a broken quote refuses the file instead of
    # silently joining rows.
    reader = csv.reader(text, dialect, strict=True, quotechar='"', doublequote=True)
    try:
        while True:
            first_line = reader.line_num + 1  # where the next record starts
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise FileRefused(_csv_error(exc, first_line, reader.line_num)) from exc
            yield cells
    finally:
        text.detach()  # leave the caller's stream open


def _csv_error(exc: csv.Error, first_line: int, last_line: int) -> str:
    """What is wrong with the record that starts on ``first_line``, in words staff can act on."""
    error = str(exc)
    if "field larger than field limit" in error:
        return _("Line %(line)d has a cell of more than %(limit)s characters, far more than any "
                 "column takes (a note takes at most %(note)s). If a quote (\") on that line is "
                 "never closed, close it; otherwise check that this is the right file.") % {
            "line": first_line, "limit": number_format(csv.field_size_limit(), force_grouping=True),
            "note": number_format(limits.NOTE, force_grouping=True)}
    if "unexpected end of data" in error:
        return _("The quote (\") opened on line %(line)d is never closed, so the rest of the file "
                 "would be read as one cell. Close the quote (or remove it) and upload the file "
                 "again.") % {"line": first_line}
    if "expected after" in error:
        return _("Line %(line)d has a quote (\") in the middle of a cell or text right after a "
                 "closing quote. A cell that contains quotes must be quoted as a whole, with each "
                 "quote inside doubled (\"\"), as spreadsheet programs save it.") % {
            "line": last_line}
    return _("The file is not a readable CSV file: line %(line)d: %(error)s.") % {
        "line": last_line, "error": error}


def _check_header(header: list, kind: str) -> list[str | None]:
    required, optional = COLUMNS[kind]
    names = [normalise_header(cell) if str(cell or "").strip() else None for cell in header]
    names = [None if name in IGNORED_COLUMNS else name for name in names]
    known = set(required) | set(optional)
    unknown = [n for n in names if n and n not in known]
    accepted = ", ".join(required + optional)
    if unknown:
        raise FileRefused(_("Unknown column %(names)s. The columns of this file are: %(accepted)s.")
                          % {"names": ", ".join(f"“{n[:40]}”" for n in unknown[:5]),
                             "accepted": accepted})
    duplicates = sorted({n for n in names if n and names.count(n) > 1})
    if duplicates:
        raise FileRefused(_("The column %(names)s appears more than once.")
                          % {"names": ", ".join(duplicates)})
    missing = [n for n in required if n not in names]
    if missing:
        raise FileRefused(_("Missing column %(names)s. The columns of this file are: %(accepted)s.")
                          % {"names": ", ".join(missing), "accepted": accepted})
    return names


def _xlsx_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _load_xlsx(stream):
    try:
        import openpyxl
    except ImportError as exc:  # the ``xlsx`` extra
        raise FileRefused(_("Excel files need the xlsx extra (pip install "
                            "oscar-ordercancel[xlsx]); upload a CSV file instead.")) from exc
    stream.seek(0)
    try:
        return openpyxl.load_workbook(stream, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds on a broken workbook
        raise FileRefused(_("The file is not a readable .xlsx workbook.")) from exc


def _xlsx_rows(stream) -> Iterator[list[str]]:
    workbook = _load_xlsx(stream)
    try:
        sheet = workbook.worksheets[0]
        for row in sheet.iter_rows(values_only=True):
            yield [_xlsx_cell(value) for value in row]
    except FileRefused:
        raise
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds on a broken workbook
        raise FileRefused(_("The file is not a readable .xlsx workbook.")) from exc
    finally:
        workbook.close()


def _xlsx_header(stream) -> list[str] | None:
    rows = _xlsx_rows(stream)
    try:
        return next(rows, None)
    except IndexError as exc:
        raise FileRefused(_("The workbook has no sheet.")) from exc
    finally:
        rows.close()
