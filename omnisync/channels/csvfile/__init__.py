"""The offline shop (`type = "csv"`): a till's CSV sales exports in, a stock file out.

A shop's till exports its sales as CSV files; omnisync reads them like any channel's orders
and writes a stock file the till can import. Nothing in the till's folder is ever moved,
renamed or deleted: the only file written is `stock_file`.

Sales files (`sales`, a glob relative to the config's folder, `**` allowed):
- A header row is required; column order is free and names are compared case-insensitively.
  Columns: `order_id`, `sku`, `quantity`, `created_at` (required), `line_id`, `status`,
  `unit_price`, `currency` (optional; a row without it is priced in the channel's
  `currency` setting, if any). `columns = { order_id = "Receipt No" }` maps the
  till's own names. The delimiter, `,` or `;`, is whichever splits the header into more
  fields; the text is UTF-8, with or without a BOM.
- `status`: `completed` (also an empty cell or no column), `returned`, `cancelled` (or
  `canceled`): the normalised statuses of the same names, so a return restocks or not as
  `[sync] restock_returns` says. A negative quantity is refused: a return is the sale's row
  rewritten with status `returned`.
- `created_at`: ISO 8601; a time without an offset, or a date alone (midnight), is local time
  in the channel's `timezone` (an IANA name, default UTC).
- `unit_price`: a decimal number with a point; in a `;` file a comma is the decimal separator
  (`12,50`), since that is why such files use `;`. A `,` file cannot hold one unquoted anyway,
  and "1,250" there would be ambiguous, so it is refused.

Orders. Rows with the same `order_id` are one order; each row is a line, whose id is
`line_id` or else the row's position among that order's rows in the file (1, 2, ...), which
appending rows never changes. The same (order, line) in several files (a till that exports
"the last 7 days" daily) is one line: the row in the file changed last wins. Give a
`line_id` column if an order's rows can be split across files. An order's `created_at` is
its earliest row's; its status is its lines' when they agree, else `completed` (each line
keeps its own status either way).

Change detection, without any state of our own: an order's `updated_at` is the latest change
time (the later of mtime and ctime, so a file copied in with its old mtime is still seen) of
any file holding a row of it, capped just below the end of the fetch window. So:
- a file read again unchanged yields no order newer than the cursor, or, within the
  overlap, orders the ledger already holds: nothing changes;
- a file that grows yields its orders again, and only the new rows write movements;
- a row rewritten with a new status (a return) comes with a newer `updated_at`, so the
  engine applies it as a status change; a row the till deletes is a line the order lost, and
  its effect is undone, as on any channel.
Every file is read on every fetch (an order may span files, and an order must come whole or
its missing lines would be undone), but only orders in the window are built: a year of daily
exports (365 files, 110,000 rows) takes 0.6 s when one file changed, 1.1 s when all did.

Unreadable rows (a bad quantity, no SKU, a bad date, a status we do not know) are skipped
and reported as `file:line:column: column: why` through `read_problems()`, which the engine
files in the run report (exit 1); every other order applies. An order with an unreadable row
is held back whole until the row is fixed, so a row that turned unreadable never undoes a
sale already counted. A bad `unit_price` is reported but the sale still counts. Problems
are reported on every run until the file is fixed.

Listings and the stock file. The channel's listings are the SKUs it sells: `skus` (SKUs and
globs over the ledger's SKUs), else every SKU held at its `sell_from` locations (at its own
`location` by default; a SKU no movement has touched yet is at `main`). A listing's id and
channel SKU are the SKU; its quantity is what `stock_file` says (0 when absent), its target
the available summed over `sell_from`. A push rewrites the
whole file, `sku,quantity` for every listing, sorted, atomically (temp file in the same
folder, fsync, rename). omnisync is that file's only writer, so compare-and-set is the file
holding what was read: a value someone changed in between is a `conflict`. A `stock_file`
that is not of that shape is never overwritten: the channel fails instead.
"""

from __future__ import annotations

from omnisync.channels.base import ChannelType
from omnisync.channels.csvfile.channel import CsvChannel, open_channel
from omnisync.channels.csvfile.settings import CsvSettings

CHANNEL_TYPE = ChannelType(settings=CsvSettings, open=open_channel, http=False)

__all__ = ["CHANNEL_TYPE", "CsvChannel", "CsvSettings"]
