"""Reading exports: CSV (or ``|``-separated) files streamed row by row, whatever their size.

- Encoding: a UTF-8 byte order mark means UTF-8 (the mark is dropped); otherwise the first MiB is
  tried as UTF-8 and, when that fails, the file is read as Windows-1252 (what Excel on Windows
  writes). ``--encoding`` overrides. A file that turns out not to be UTF-8 further on stops the
  import with `TableError` naming the line and the option to use.
- Delimiter: the one of ``;`` ``,`` and tab that occurs most in the header line (Dutch Excel
  writes ``;``), unless given.
- Memory: the file is read through a buffered text stream and the csv module, one row at a time;
  nothing keeps rows, so a 1 GB export takes as much memory as a small one.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Final

__all__ = ["Table", "TableError", "detect_encoding"]

SAMPLE_BYTES: Final = 1 << 20
DELIMITERS: Final = (";", ",", "\t")


class TableError(ValueError):
    """The file cannot be read as a table; the message says what to do."""


def detect_encoding(sample: bytes) -> str:
    """``utf-8-sig`` (a byte order mark), ``utf-8`` (the sample decodes) or ``cp1252``."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8"


class Table:
    """One delimited file, read row by row. ``header=False`` for files without a header line."""

    def __init__(
        self,
        path: Path,
        *,
        encoding: str | None = None,
        delimiter: str | None = None,
        header: bool = True,
    ) -> None:
        self.path = path
        self._raw: IO[bytes] = path.open("rb")
        try:
            self.encoding = encoding or detect_encoding(self._raw.read(SAMPLE_BYTES))
            self._raw.seek(0)
            try:
                codecs.lookup(self.encoding)
            except LookupError:
                raise TableError(f"--encoding {self.encoding!r} is not an encoding") from None
            self._text = io.TextIOWrapper(self._raw, encoding=self.encoding, newline="")
            first = self._text.readline() if header else ""
            self.delimiter = delimiter or (
                max(DELIMITERS, key=first.count) if header and first else "|"
            )
            self.header: list[str] = (
                next(csv.reader([first], delimiter=self.delimiter)) if first.strip() else []
            )
            if header and not self.header:
                raise TableError(f"{path} is empty: it has no header line")
            self._reader = (  # queue_log is not quoted
                csv.reader(self._text, delimiter=self.delimiter)
                if header
                else csv.reader(self._text, delimiter=self.delimiter, quoting=csv.QUOTE_NONE)
            )
        except BaseException:
            self._raw.close()
            raise

    @property
    def position(self) -> int:
        """Bytes of the file read so far (the text layer reads ahead in chunks)."""
        return self._raw.tell()

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """``(line number, fields)`` of every non-empty row after the header."""
        reader = self._reader
        try:
            for row in reader:
                if row and (len(row) > 1 or row[0].strip()):
                    yield reader.line_num + (1 if self.header else 0), row
        except UnicodeDecodeError:
            raise TableError(
                f"{self.path} is not {self.encoding} after line "
                f"{reader.line_num + 1}: give its encoding with --encoding (e.g. cp1252)"
            ) from None
        except csv.Error as error:
            raise TableError(f"{self.path} line {reader.line_num}: {error}") from None

    def close(self) -> None:
        self._text.close()
