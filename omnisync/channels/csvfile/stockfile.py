"""The stock file the till imports: `sku,quantity` rows, read back and replaced atomically."""

from __future__ import annotations

import csv
import io
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from omnisync.csvtext import delimiter_of
from omnisync.errors import ChannelResponseError, ChannelUnavailableError

HEADER = ("sku", "quantity")


class StockFile:
    """One channel's stock file. omnisync is its only writer; the till only reads it."""

    def __init__(self, channel: str, path: Path, *, shown: str) -> None:
        self.channel = channel
        self.path = path
        self.shown = shown  # the path as messages give it

    def read(self) -> dict[str, int]:
        """SKU -> quantity as the file says now; empty when there is no file yet.

        Anything but a file of our shape is an error, so a `stock_file` that points at some
        other file fails the channel instead of being overwritten.
        """
        try:
            text = self.path.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError) as exc:
            raise ChannelUnavailableError(
                self.channel, f"{self.shown}: cannot read it: {exc}"
            ) from None
        first = next((line for line in text.splitlines() if line.strip()), None)
        if first is None:
            return {}
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter_of(first))
        header = [cell.strip().casefold() for cell in next(reader)]
        if tuple(header) != HEADER:
            raise self._not_ours(f"its header is {','.join(header)!r}, not 'sku,quantity'")
        stock: dict[str, int] = {}
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            cells = [cell.strip() for cell in row]
            if len(cells) != 2 or not cells[0] or not cells[1].isdigit():
                raise self._not_ours(f"line {reader.line_num} is not 'SKU,QUANTITY'")
            stock[cells[0]] = int(cells[1])
        return stock

    def write(self, stock: Mapping[str, int]) -> None:
        """Replace the file with `stock`, sorted by SKU: a temp file in the same folder,
        then a rename, so the till never reads half a file."""
        folder = self.path.parent
        if not folder.is_dir():
            raise ChannelUnavailableError(self.channel, f"{folder}: no such folder")
        try:
            mode: int | None = self.path.stat().st_mode & 0o777
        except FileNotFoundError:
            mode = None  # a new file: as the umask says, like any file the user makes
        # A name the sales glob cannot take for an export (hidden, and not .csv).
        temp = folder / f".{self.path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        try:
            handle = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except OSError as exc:
            raise ChannelUnavailableError(
                self.channel, f"{folder}: cannot write there: {exc.strerror}"
            ) from None
        try:
            if mode is not None:
                os.chmod(temp, mode)  # the mode the user gave the file stays
            with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
                writer = csv.writer(out)  # RFC 4180: commas, CRLF, quotes where needed
                writer.writerow(HEADER)
                writer.writerows(sorted(stock.items()))
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, self.path)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise

    def _not_ours(self, why: str) -> ChannelResponseError:
        return ChannelResponseError(
            self.channel,
            f"{self.shown}: not a stock file omnisync wrote ({why}); it is left as it is: "
            f"point `stock_file` at a file of its own",
        )
