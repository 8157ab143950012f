"""The POS channel itself: sales files in, the stock file out (see the package docstring)."""

from __future__ import annotations

import glob
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from fnmatch import fnmatchcase
from pathlib import Path

from omnisync.channels.base import ChannelConfig, ChannelContext, ReadProblem
from omnisync.channels.csvfile.reader import parse_sales
from omnisync.channels.csvfile.sales import SalesFile, assemble
from omnisync.channels.csvfile.settings import CsvSettings
from omnisync.channels.csvfile.stockfile import StockFile
from omnisync.models import ChannelProbe, Listing, Order, PushResult, QuantityChange

# Problems listed one by one in a run's report; past this many, a count says the rest.
PROBLEMS_SHOWN = 20
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TICK = timedelta(microseconds=1)
_GLOB_CHARACTERS = frozenset("*?[")


class CsvChannel:
    """An offline shop's till: reads its sales exports, writes the stock file it imports."""

    concurrency = 1  # local files, read and written in turn: nothing runs side by side

    def __init__(
        self,
        name: str,
        *,
        sales: str,
        stock_file: Path,
        base_dir: Path,
        columns: Mapping[str, str] | None = None,
        zone: tzinfo = UTC,
        currency: str | None = None,
        skus: Sequence[str] | None = None,
        known_skus: Callable[[], frozenset[str]] | None = None,
    ) -> None:
        self.name = name
        self.base_dir = base_dir
        self.sales = sales
        self.columns = dict(columns or {})
        self.zone = zone
        self.currency = currency
        self.patterns = tuple(skus) if skus is not None else None
        self.known_skus = known_skus
        self.stock = StockFile(name, stock_file, shown=self._shown(stock_file))
        self._problems: list[ReadProblem] = []
        self._listed: list[str] | None = None  # this run's listings, for the file's rows

    # -- sales ---------------------------------------------------------------------------

    def sales_paths(self) -> list[Path]:
        """The files the `sales` glob matches now, the stock file excepted, in name order."""
        own = self.stock.path.resolve()
        # root_dir, not a joined pattern: a `[` in the config's folder is no glob (an
        # absolute `sales` ignores it).
        found = glob.glob(self.sales, root_dir=self.base_dir, recursive=True)
        paths = (self.base_dir / name for name in found)
        return sorted(path for path in paths if path.is_file() and path.resolve() != own)

    def read_sales(self) -> list[SalesFile]:
        """Every sales file, parsed; a file that cannot be read at all is one problem."""
        files = []
        for path in self.sales_paths():
            shown = self._shown(path)
            try:
                # The time first: a change made while we read is then seen again next run.
                info = path.stat()
                data = path.read_bytes()
            except OSError as exc:
                self._problems.append(ReadProblem(shown, f"cannot read it: {exc.strerror}"))
                continue
            try:
                text = data.decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                line = data.count(b"\n", 0, exc.start) + 1
                self._problems.append(
                    ReadProblem(f"{shown}:{line}", "not UTF-8 text (export it as UTF-8)")
                )
                continue
            # ctime as well as mtime: a file copied in with its old mtime kept (cp -p, a
            # sync tool, an unzip) would otherwise fall behind the cursor and be missed.
            changed_ns = max(info.st_mtime_ns, info.st_ctime_ns)
            parsed = parse_sales(
                text, name=shown, columns=self.columns, zone=self.zone, currency=self.currency
            )
            self._problems.extend(parsed.problems)
            files.append(
                SalesFile(shown, _EPOCH + timedelta(microseconds=changed_ns // 1000), parsed)
            )
        return files

    def read_problems(self) -> Sequence[ReadProblem]:
        """What the last `fetch_orders` could not read, at most PROBLEMS_SHOWN and a count."""
        if len(self._problems) <= PROBLEMS_SHOWN:
            return list(self._problems)
        more = len(self._problems) - PROBLEMS_SHOWN
        return [
            *self._problems[:PROBLEMS_SHOWN],
            ReadProblem(self.sales, f"and {more} more problems"),
        ]

    # -- the Channel protocol --------------------------------------------------------------

    async def list_listings(self) -> list[Listing]:
        stock = self.stock.read()
        self._listed = self._skus_sold(stock)
        return [
            Listing(id=sku, channel_sku=sku, quantity=stock.get(sku, 0)) for sku in self._listed
        ]

    async def fetch_orders(
        self, *, updated_since: datetime, updated_until: datetime
    ) -> AsyncIterator[Order]:
        self._problems = []
        orders, held = assemble(self.read_sales(), changed_since=updated_since)
        for order_id, where in sorted(held.items()):
            self._problems.append(
                ReadProblem(where, f"order {order_id} is held back until this row is fixed")
            )
        latest = updated_until - _TICK
        for order in orders:
            if order.updated_at > latest:
                # A file stamped after the window closes (written during the run, or by a
                # till whose clock runs ahead) counts as changed now; later runs re-read it.
                order = _updated(order, latest)
            if updated_since <= order.updated_at < updated_until:
                yield order

    async def push_quantities(
        self, changes: Sequence[QuantityChange], *, run_id: int
    ) -> list[PushResult]:
        # omnisync is the file's only writer, so a value other than the one read this run
        # means someone edited the file in between: a conflict, as a sale would be.
        current = self.stock.read()
        listed = self._listed if self._listed is not None else self._skus_sold(current)
        rows = {sku: current.get(sku, 0) for sku in listed}
        results = []
        for change in changes:
            shown = current.get(change.listing_id, 0)
            if change.listing_id not in rows:
                results.append(
                    PushResult(change.listing_id, "failed", "not a SKU this channel sells")
                )
            elif shown != change.expected:
                results.append(
                    PushResult(
                        change.listing_id,
                        "conflict",
                        f"the stock file says {shown}, expected {change.expected}",
                        current=shown,
                    )
                )
            else:
                rows[change.listing_id] = change.target
                results.append(PushResult(change.listing_id, "written"))
        self.stock.write(rows)
        return results

    async def probe(self) -> ChannelProbe:
        self._problems = []
        files = self.read_sales()
        rows = sum(len(file.parsed.rows) for file in files)
        messages = [f"{self.sales}: {_count(len(files), 'sales file')}, {_count(rows, 'row')} read"]
        messages += [str(problem) for problem in self.read_problems()]
        stock = self.stock.read()
        folder_ok = self.stock.path.parent.is_dir()
        if not folder_ok:
            messages.append(f"{self.stock.path.parent}: no such folder for the stock file")
        else:
            messages.append(f"{self.stock.shown}: {len(stock)} SKUs")
        return ChannelProbe(ok=folder_ok, messages=tuple(messages))

    async def aclose(self) -> None:
        return None

    # -- helpers ---------------------------------------------------------------------------

    def _skus_sold(self, stock: Mapping[str, int]) -> list[str]:
        """The SKUs this till sells, sorted: `skus` (names and globs), else the ledger's at
        its `sell_from` locations (`ChannelContext.skus`).

        Outside a sync (no ledger at hand) the ledger's are what the stock file last held.
        """
        known = self.known_skus() if self.known_skus is not None else frozenset(stock)
        if self.patterns is None:
            return sorted(known)
        chosen: set[str] = set()
        for pattern in self.patterns:
            if _GLOB_CHARACTERS & set(pattern):
                chosen.update(sku for sku in known if fnmatchcase(sku, pattern))
            else:
                chosen.add(pattern)
        return sorted(chosen)

    def _shown(self, path: Path) -> str:
        """A path as messages give it: relative to the config's folder when inside it."""
        try:
            return str(path.relative_to(self.base_dir))
        except ValueError:
            return str(path)


def _count(number: int, thing: str) -> str:
    return f"{number} {thing}" if number == 1 else f"{number} {thing}s"


def _updated(order: Order, updated_at: datetime) -> Order:
    return Order(order.id, order.status, order.created_at, updated_at, order.lines)


def open_channel(config: ChannelConfig, context: ChannelContext) -> CsvChannel:
    settings = config.settings
    assert isinstance(settings, CsvSettings)
    stock_file = Path(settings.stock_file)
    if not stock_file.is_absolute():
        stock_file = config.base_dir / stock_file
    return CsvChannel(
        config.name,
        sales=settings.sales,
        stock_file=stock_file,
        base_dir=config.base_dir,
        columns=settings.columns,
        zone=settings.zone(),
        currency=settings.currency,
        skus=settings.sku_patterns(),
        known_skus=context.skus,
    )
