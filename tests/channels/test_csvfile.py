"""The POS channel on its own: sales files to orders, problems, listings and the stock file."""

from __future__ import annotations

import asyncio
import os
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from omnisync.channels.csvfile import CsvChannel
from omnisync.config import load_config
from omnisync.errors import ChannelResponseError, ConfigError
from omnisync.models import Order, QuantityChange, Status

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FAR = datetime(2100, 1, 1, tzinfo=UTC)
HEADER = "order_id,sku,quantity,created_at\n"


def till(root: Path, **options: object) -> CsvChannel:
    (root / "pos").mkdir(exist_ok=True)
    return CsvChannel(
        "pos",
        sales="pos/*.csv",
        stock_file=root / "pos" / "stock.csv",
        base_dir=root,
        **options,  # type: ignore[arg-type]
    )


def fetch(channel: CsvChannel, since: datetime = EPOCH, until: datetime = FAR) -> dict[str, Order]:
    async def collect() -> dict[str, Order]:
        return {
            order.id: order
            async for order in channel.fetch_orders(updated_since=since, updated_until=until)
        }

    return asyncio.run(collect())


def problems(channel: CsvChannel) -> list[str]:
    return [str(problem) for problem in channel.read_problems()]


def lines(order: Order) -> list[tuple[str, str, int, Status]]:
    return [
        (line.id, line.channel_sku, line.quantity, order.line_status(line)) for line in order.lines
    ]


def later_than_now(path: Path) -> None:
    """Let the file system's clock tick, so the next write gets a later change time."""
    before = path.stat().st_ctime_ns if path.exists() else 0
    while time.time_ns() <= before + 20_000_000:
        time.sleep(0.005)


# -- sales files to orders --------------------------------------------------------------------


def test_rows_are_lines_of_orders_grouped_by_order_id(tmp_path: Path) -> None:
    channel = till(tmp_path, zone=ZoneInfo("Asia/Jakarta"))
    (tmp_path / "pos" / "day1.csv").write_text(
        "order_id,sku,quantity,created_at,status\n"
        "R1,TEE-M,2,2026-12-01,\n"
        "R1,MUG,1,2026-12-01,completed\n"
        "R2,TEE-M,1,2026-12-01T10:00:00,Cancelled\n"
    )
    (tmp_path / "pos" / "day2.csv").write_text(
        "created_at,quantity,sku,order_id\n2026-12-02T09:30:00+01:00,3,MUG,R3\n"
    )
    orders = fetch(channel)
    assert sorted(orders) == ["R1", "R2", "R3"]
    # Line ids are each row's place within its order; no status is a completed sale.
    assert lines(orders["R1"]) == [
        ("1", "TEE-M", 2, Status.COMPLETED),
        ("2", "MUG", 1, Status.COMPLETED),
    ]
    assert lines(orders["R2"]) == [("1", "TEE-M", 1, Status.CANCELLED)]
    assert lines(orders["R3"]) == [("1", "MUG", 3, Status.COMPLETED)]
    # A date alone is midnight in the till's time zone (UTC+7); a time without an offset is
    # local time there too; a time with an offset is that time.
    assert orders["R1"].created_at == datetime(2026, 11, 30, 17, 0, tzinfo=UTC)
    assert orders["R2"].created_at == datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
    assert orders["R3"].created_at == datetime(2026, 12, 2, 8, 30, tzinfo=UTC)
    assert problems(channel) == []


def test_a_semicolon_file_with_a_bom_and_the_tills_own_column_names(tmp_path: Path) -> None:
    channel = till(
        tmp_path,
        columns={
            "order_id": "Receipt No",
            "line_id": "Pos",
            "sku": "Article",
            "quantity": "Qty",
            "created_at": "Date",
            "unit_price": "Price",
        },
    )
    text = (
        "RECEIPT NO;Pos;Article;Qty;Date;Price;Currency\n"
        "B-7;10;TEE-M;2;2026-12-01T10:00:00Z;12,50;EUR\n"
        "B-7;20;MUG;1;2026-12-01T10:00:00Z;8;EUR\n"
    )
    (tmp_path / "pos" / "export.csv").write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    order = fetch(channel)["B-7"]
    assert [(line.id, line.channel_sku, line.quantity) for line in order.lines] == [
        ("10", "TEE-M", 2),
        ("20", "MUG", 1),
    ]
    # In a `;` file a comma is the decimal separator.
    assert [line.unit_price for line in order.lines] == [Decimal("12.50"), Decimal("8")]
    assert [line.currency for line in order.lines] == ["EUR", "EUR"]
    assert problems(channel) == []


def test_a_price_that_cannot_be_read_is_reported_and_the_sale_still_counts(
    tmp_path: Path,
) -> None:
    channel = till(tmp_path)
    (tmp_path / "pos" / "day.csv").write_text(
        'order_id,sku,quantity,created_at,unit_price\nR1,TEE-M,2,2026-12-01,"12,50"\n'
    )
    order = fetch(channel)["R1"]
    assert lines(order) == [("1", "TEE-M", 2, Status.COMPLETED)]
    assert order.lines[0].unit_price is None
    # A comma in a `,` file could be a thousands separator: refused, not guessed.
    assert problems(channel) == ["pos/day.csv:2:5: unit_price: '12,50' is not a price (12.50)"]


def test_unreadable_rows_are_reported_by_file_line_and_column_and_the_rest_applies(
    tmp_path: Path,
) -> None:
    channel = till(tmp_path)
    (tmp_path / "pos" / "day.csv").write_text(
        "order_id,sku,quantity,created_at,status\n"
        "R1,TEE-M,two,2026-12-01,\n"
        "R2,,1,2026-12-01,\n"
        "R3,MUG,1,yesterday,\n"
        "R4,MUG,1,2026-12-01,lost\n"
        "R5,MUG,-1,2026-12-01,\n"
        ",MUG,1,2026-12-01,\n"
        "\n"
        "R6,MUG,1,2026-12-01,\n"
        "R7,TEE-M,1,2026-12-01,\n"
        "R7,MUG,x,2026-12-01,\n"
    )
    orders = fetch(channel)
    # Only the good order applies; R7 has a good row, but waits whole for its bad one.
    assert sorted(orders) == ["R6"]
    assert problems(channel) == [
        "pos/day.csv:2:3: quantity: 'two' is not a whole number of units",
        "pos/day.csv:3:2: sku: empty",
        "pos/day.csv:4:4: created_at: 'yesterday' is not an ISO 8601 time "
        "(2026-11-20T09:00:00+07:00, or 2026-11-20)",
        "pos/day.csv:5:5: status: 'lost' is not a status (expected completed, returned or "
        "cancelled)",
        "pos/day.csv:6:3: quantity: '-1' is negative: a return is the sale's row with status "
        "'returned'",
        "pos/day.csv:7:1: order_id: empty",
        "pos/day.csv:11:3: quantity: 'x' is not a whole number of units",
        "pos/day.csv:2: order R1 is held back until this row is fixed",
        "pos/day.csv:3: order R2 is held back until this row is fixed",
        "pos/day.csv:4: order R3 is held back until this row is fixed",
        "pos/day.csv:5: order R4 is held back until this row is fixed",
        "pos/day.csv:6: order R5 is held back until this row is fixed",
        "pos/day.csv:11: order R7 is held back until this row is fixed",
    ]


def test_an_unquoted_delimiter_inside_a_value_is_not_guessed_around(tmp_path: Path) -> None:
    channel = till(tmp_path)
    (tmp_path / "pos" / "day.csv").write_text(
        "order_id,sku,quantity,created_at,unit_price\nR1,TEE-M,1,2026-12-01,12,50\n"
    )
    assert fetch(channel) == {}
    assert problems(channel) == [
        "pos/day.csv:2: 6 fields where the header has 5 (a ',' inside a value must be quoted)",
        "pos/day.csv:2: order R1 is held back until this row is fixed",
    ]


def test_a_long_list_of_problems_ends_with_a_count(tmp_path: Path) -> None:
    channel = till(tmp_path)
    bad = "".join(f"R{number},TEE-M,x,2026-12-01\n" for number in range(25))
    (tmp_path / "pos" / "day.csv").write_text(HEADER + bad)
    fetch(channel)
    shown = problems(channel)
    # 25 rows, each also holding its order back: 50 problems, 20 of them listed.
    assert len(shown) == 21
    assert shown[-1] == "pos/*.csv: and 30 more problems"


def test_a_file_without_the_required_columns_or_not_utf8_is_one_problem(tmp_path: Path) -> None:
    channel = till(tmp_path)
    (tmp_path / "pos" / "a.csv").write_text("Receipt,Article,Qty,Date\nR1,TEE-M,1,2026-12-01\n")
    (tmp_path / "pos" / "b.csv").write_bytes(b"order_id,sku,quantity,created_at\nR2,CAF\xe9,1,x\n")
    (tmp_path / "pos" / "c.csv").write_text(HEADER + "R3,MUG,1,2026-12-01\n")
    assert sorted(fetch(channel)) == ["R3"]
    assert problems(channel) == [
        "pos/a.csv:1: the header has no 'order_id', 'sku', 'quantity', 'created_at' column "
        "(it has: Receipt, Article, Qty, Date); name the till's own columns in the channel's "
        "`columns` table",
        "pos/b.csv:2: not UTF-8 text (export it as UTF-8)",
    ]


def test_a_growing_file_keeps_its_line_ids_and_adds_only_new_rows(tmp_path: Path) -> None:
    channel = till(tmp_path)
    sales = tmp_path / "pos" / "today.csv"
    sales.write_text(HEADER + "R1,TEE-M,1,2026-12-01\nR1,MUG,1,2026-12-01\n")
    first = fetch(channel)["R1"]
    later_than_now(sales)
    with sales.open("a") as till_appends:
        till_appends.write("R2,MUG,2,2026-12-01\nR1,CAP,1,2026-12-01\n")
    again = fetch(channel)
    assert lines(again["R1"]) == [
        ("1", "TEE-M", 1, Status.COMPLETED),
        ("2", "MUG", 1, Status.COMPLETED),
        ("3", "CAP", 1, Status.COMPLETED),
    ]
    assert lines(again["R2"]) == [("1", "MUG", 2, Status.COMPLETED)]
    # Newer than what the ledger holds, so the engine applies the new rows.
    assert again["R1"].updated_at > first.updated_at


def test_a_row_rewritten_as_returned_is_a_newer_version_of_its_order(tmp_path: Path) -> None:
    channel = till(tmp_path)
    sales = tmp_path / "pos" / "today.csv"
    sales.write_text(HEADER.replace("\n", ",status\n") + "R1,TEE-M,1,2026-12-01,completed\n")
    sold = fetch(channel)["R1"]
    later_than_now(sales)
    sales.write_text(HEADER.replace("\n", ",status\n") + "R1,TEE-M,1,2026-12-01,returned\n")
    returned = fetch(channel)["R1"]
    assert lines(returned) == [("1", "TEE-M", 1, Status.RETURNED)]
    assert returned.status is Status.RETURNED
    assert returned.updated_at > sold.updated_at


def test_files_unchanged_since_the_window_opened_yield_nothing(tmp_path: Path) -> None:
    channel = till(tmp_path)
    (tmp_path / "pos" / "day.csv").write_text(HEADER + "R1,TEE-M,1,2026-12-01\n")
    after = datetime.now(UTC) + timedelta(seconds=5)
    assert fetch(channel, since=after, until=after + timedelta(hours=1)) == {}


def test_a_file_stamped_in_the_future_counts_as_changed_now(tmp_path: Path) -> None:
    channel = till(tmp_path)
    sales = tmp_path / "pos" / "day.csv"
    sales.write_text(HEADER + "R1,TEE-M,1,2026-12-01\n")
    ahead = time.time() + 86_400  # a till whose clock runs a day ahead
    os.utime(sales, (ahead, ahead))
    now = datetime.now(UTC) + timedelta(seconds=5)
    order = fetch(channel, since=now - timedelta(minutes=10), until=now)["R1"]
    assert order.updated_at < now


def test_the_same_line_in_two_exports_is_one_line_from_the_file_changed_last(
    tmp_path: Path,
) -> None:
    channel = till(tmp_path)
    older, newer = tmp_path / "pos" / "b-week.csv", tmp_path / "pos" / "a-week.csv"
    older.write_text(HEADER.replace("\n", ",status\n") + "R1,TEE-M,1,2026-12-01,completed\n")
    later_than_now(older)
    newer.write_text(
        HEADER.replace("\n", ",status\n")
        + "R1,TEE-M,1,2026-12-01,returned\nR2,MUG,1,2026-12-02,completed\n"
    )
    orders = fetch(channel)
    assert lines(orders["R1"]) == [("1", "TEE-M", 1, Status.RETURNED)]
    assert sorted(orders) == ["R1", "R2"]


# -- listings and the stock file ---------------------------------------------------------------


def push(channel: CsvChannel, *changes: tuple[str, int, int]) -> dict[str, str]:
    results = asyncio.run(
        channel.push_quantities(
            [QuantityChange(sku, sku, expected, target) for sku, expected, target in changes],
            run_id=1,
        )
    )
    return {result.listing_id: result.outcome for result in results}


def listings(channel: CsvChannel) -> dict[str, int]:
    return {item.id: item.quantity for item in asyncio.run(channel.list_listings())}


def test_listings_are_the_ledger_skus_at_what_the_stock_file_says(tmp_path: Path) -> None:
    channel = till(tmp_path, known_skus=lambda: frozenset({"TEE-M", "MUG", "CAP"}))
    assert listings(channel) == {"CAP": 0, "MUG": 0, "TEE-M": 0}  # no stock file yet
    (tmp_path / "pos" / "stock.csv").write_text("sku,quantity\nMUG,4\nTEE-M,7\n")
    assert listings(channel) == {"CAP": 0, "MUG": 4, "TEE-M": 7}


def test_skus_names_and_globs_choose_what_the_till_sells(tmp_path: Path) -> None:
    known = frozenset({"TEE-M", "TEE-L", "MUG"})
    channel = till(tmp_path, skus=["TEE-*", "GIFT-SET"], known_skus=lambda: known)
    assert listings(channel) == {"GIFT-SET": 0, "TEE-L": 0, "TEE-M": 0}


def test_a_push_rewrites_the_whole_stock_file_at_once(tmp_path: Path) -> None:
    channel = till(tmp_path, known_skus=lambda: frozenset({"TEE-M", "MUG", "CAP"}))
    stock = tmp_path / "pos" / "stock.csv"
    stock.write_text("sku,quantity\nMUG,4\nTEE-M,7\nOLD,3\n")
    stock.chmod(0o644)
    inode = stock.stat().st_ino
    assert listings(channel) == {"CAP": 0, "MUG": 4, "TEE-M": 7}
    assert push(channel, ("TEE-M", 7, 5), ("CAP", 0, 2)) == {"TEE-M": "written", "CAP": "written"}
    # Every SKU the till sells, sorted, unchanged ones as they were; a SKU it no longer
    # sells is dropped.
    assert stock.read_bytes() == b"sku,quantity\r\nCAP,2\r\nMUG,4\r\nTEE-M,5\r\n"
    # Replaced by a rename (a new file), not rewritten in place; no temp file is left.
    assert stock.stat().st_ino != inode
    assert stock.stat().st_mode & 0o777 == 0o644
    assert sorted(path.name for path in (tmp_path / "pos").iterdir()) == ["stock.csv"]


def test_a_stock_file_edited_since_it_was_read_is_a_conflict(tmp_path: Path) -> None:
    channel = till(tmp_path, known_skus=lambda: frozenset({"TEE-M", "MUG"}))
    stock = tmp_path / "pos" / "stock.csv"
    stock.write_text("sku,quantity\nMUG,4\nTEE-M,7\n")
    listings(channel)
    stock.write_text("sku,quantity\nMUG,4\nTEE-M,9\n")  # someone edits it by hand
    assert push(channel, ("TEE-M", 7, 5), ("MUG", 4, 3)) == {"TEE-M": "conflict", "MUG": "written"}
    assert stock.read_text() == "sku,quantity\nMUG,3\nTEE-M,9\n"


def test_a_stock_file_that_is_not_ours_is_never_overwritten(tmp_path: Path) -> None:
    channel = till(tmp_path, known_skus=lambda: frozenset({"TEE-M"}))
    stock = tmp_path / "pos" / "stock.csv"
    stock.write_text("order_id,sku,quantity,created_at\nR1,TEE-M,1,2026-12-01\n")
    with pytest.raises(ChannelResponseError, match="not a stock file omnisync wrote"):
        listings(channel)
    with pytest.raises(ChannelResponseError, match="not a stock file omnisync wrote"):
        push(channel, ("TEE-M", 0, 5))
    assert stock.read_text() == "order_id,sku,quantity,created_at\nR1,TEE-M,1,2026-12-01\n"


def test_nothing_in_the_tills_folder_is_moved_or_deleted(tmp_path: Path) -> None:
    channel = till(tmp_path, known_skus=lambda: frozenset({"TEE-M"}))
    folder = tmp_path / "pos"
    (folder / "day1.csv").write_text(HEADER + "R1,TEE-M,1,2026-12-01\n")
    (folder / "notes.txt").write_text("not a sales file\n")
    before = {path.name: path.read_bytes() for path in folder.iterdir()}
    listings(channel)
    fetch(channel)
    push(channel, ("TEE-M", 0, 4))
    fetch(channel)
    after = {path.name: path.read_bytes() for path in folder.iterdir()}
    assert after == before | {"stock.csv": b"sku,quantity\r\nTEE-M,4\r\n"}
    # The stock file matches `pos/*.csv` but is not read as a sales file.
    assert problems(channel) == []


# -- config ------------------------------------------------------------------------------------


def write_config(root: Path, keys: str) -> Path:
    path = root / "omnisync.toml"
    path.write_text(
        f'[channels.till]\ntype = "csv"\nsales = "pos/*.csv"\nstock_file = "pos/stock.csv"\n{keys}'
    )
    return path


def test_the_config_table_of_a_csv_channel(tmp_path: Path) -> None:
    config = load_config(
        write_config(
            tmp_path,
            'timezone = "Europe/Paris"\nskus = "TEE-*"\ncolumns = { order_id = "Receipt No" }\n',
        )
    )
    assert config.channels["till"].type == "csv"


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        (
            'columns = { receipt = "Receipt No" }\n',
            "unknown column 'receipt' (expected some of: order_id, sku, quantity, created_at, "
            "line_id, status, unit_price, currency)",
        ),
        (
            'columns = { order_id = "No", line_id = "no" }\n',
            "order_id and line_id both name the column 'no'",
        ),
        (
            'timezone = "Mars/Olympus"\n',
            "unknown time zone 'Mars/Olympus' (expected an IANA name such as Europe/Paris)",
        ),
    ],
)
def test_config_mistakes_name_the_key(tmp_path: Path, keys: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(tmp_path, keys))
    assert "[channels.till]" in str(caught.value)
    assert message in str(caught.value)
