"""`omnisync demo`: a seller's warehouse and shop on three channels, synced once, explained."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import random
import shlex
import shutil
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from omnisync.config import load_config
from omnisync.errors import UsageError
from omnisync.ledger import Balance, Ledger
from omnisync.queries import shown_by_sku
from omnisync.report import RunReport
from omnisync.stock import import_stock, move_stock
from omnisync.sync import SyncOptions, run_sync
from omnisync.timeparse import to_iso, utcnow

# (SKU, name, counted on hand). A batik and coffee shop in Yogyakarta.
PRODUCTS = [
    ("BATIK-PRG-M", "Kemeja batik parang, M", 14),
    ("BATIK-PRG-L", "Kemeja batik parang, L", 9),
    ("BATIK-PRG-XL", "Kemeja batik parang, XL", 2),
    ("BATIK-KWG-M", "Kemeja batik kawung, M", 11),
    ("BATIK-KWG-L", "Kemeja batik kawung, L", 17),
    ("KAIN-TULIS-01", "Kain batik tulis", 5),
    ("SELENDANG-SG", "Selendang sogan", 12),
    ("KOPI-GAYO-250", "Kopi Gayo 250 g", 40),
    ("KOPI-TORAJA-250", "Kopi Toraja 250 g", 25),
    ("KOPI-KINTAMANI-250", "Kopi Kintamani 250 g", 18),
    ("KOPI-LUWAK-100", "Kopi luwak 100 g", 3),
    ("MUG-BATIK", "Mug motif batik", 30),
    ("TOTE-LURIK", "Tas tote lurik", 16),
    ("DOMPET-BATIK", "Dompet batik", 20),
    ("MASKER-BATIK", "Masker kain batik", 60),
    ("TEH-JAWA-100", "Teh tubruk Jawa 100 g", 35),
    ("GULA-AREN-500", "Gula aren 500 g", 22),
    ("SAMBAL-BAWANG", "Sambal bawang", 28),
    ("KERIPIK-TEMPE", "Keripik tempe", 45),
    ("WAYANG-KULIT-S", "Wayang kulit kecil", 4),
]
BUNDLE = ("PAKET-KOPI", {"KOPI-GAYO-250": 1, "MUG-BATIK": 1})
# Shopee lists some products under its own codes: the [mapping.shopee] table links them.
SHOPEE_CODES = {"BATIK-PRG-M": "SHP-PRG-M", "BATIK-PRG-L": "SHP-PRG-L", "KOPI-GAYO-250": "SHP-GAYO"}
CHANNELS = {
    "shopee": "Shopee shop",
    "tokopedia": "Tokopedia shop",
    "toko": "the till of the shop on Jalan Malioboro",
}
# The shop's till is a `csv` channel at the shop's own location; the marketplaces ship from
# the warehouse (main) and may sell what the shop holds too.
TILL = "toko"
TILL_HEADER = ("order_id", "sku", "quantity", "status", "created_at", "unit_price", "currency")
NOT_IN_THE_SHOP = ("KAIN-TULIS-01",)
# Listing and order ids start with these, as each channel's own numbering would.
PREFIX = {"shopee": "SHP", "tokopedia": "TKP", "toko": "TKO"}
STATUSES = ["pending", "paid", "paid", "shipped", "shipped", "completed", "completed", "cancelled"]
# Marks a folder as the demo's: only such a folder (or a new, empty one) is written again.
MARKER = ".omnisync-demo"
OWN_FILES = (
    "omnisync.toml",
    "inventory.db",
    "inventory.db-wal",
    "inventory.db-shm",
    "stock-take.csv",
)


def _config_text() -> str:
    mapping = "\n".join(f'"{code}" = "{sku}"' for sku, code in SHOPEE_CODES.items())
    components = ", ".join(f'"{sku}" = {count}' for sku, count in BUNDLE[1].items())
    return f"""\
# The omnisync demo: three fake channels (JSON files under fake/) standing in for a
# Shopee shop, a Tokopedia shop and the physical store.

[ledger]
path = "inventory.db"

[sync]
overlap = "10m"
restock_returns = true
max_change = 0.5

[locations]
main = "Gudang (the warehouse)"
store = "Toko Malioboro (the shop)"

[channels.shopee]
type = "fake"
path = "fake/shopee.json"
buffer = 1                  # hold one unit back from Shopee
sell_from = ["main", "store"]   # ships from the warehouse, may sell the shop's stock too

[channels.tokopedia]
type = "fake"
path = "fake/tokopedia.json"
sell_from = ["main", "store"]

[channels.toko]             # the shop's till: its sales exports in, a stock file out
type = "csv"
sales = "till/sales-*.csv"
stock_file = "till/stock.csv"
location = "store"          # its sales leave the shop's shelves; it offers only those
timezone = "Asia/Jakarta"

[mapping.shopee]
{mapping}

[bundles]
"{BUNDLE[0]}" = {{ {components} }}

[report]
timezone = "Asia/Jakarta"   # the shop's days, for the report's daily figures
"""


def _channel_files(rng: random.Random, now: datetime) -> dict[str, dict[str, Any]]:
    files: dict[str, dict[str, Any]] = {}
    skus = [sku for sku, _, _ in PRODUCTS]
    for channel in CHANNELS:
        listings = []
        for number, sku in enumerate(skus, start=1):
            if channel == "toko" and sku.startswith("KAIN"):
                continue  # not on the shop floor
            code = SHOPEE_CODES.get(sku, sku) if channel == "shopee" else sku
            listings.append(
                {
                    "id": f"{PREFIX[channel]}-{number:03d}",
                    "sku": code,
                    "quantity": rng.randint(3, 30),
                }
            )
        if channel != "toko":
            listings.append({"id": f"{PREFIX[channel]}-B01", "sku": BUNDLE[0], "quantity": 10})
        files[channel] = {"listings": listings, "orders": []}

    def order(
        channel: str, number: int, status: str, lines: list[tuple[str, int]], hours_ago: float
    ) -> None:
        created = now - timedelta(hours=hours_ago)
        updated = created + timedelta(minutes=rng.randint(5, 90))
        updated = min(updated, now - timedelta(minutes=1))
        files[channel]["orders"].append(
            {
                "id": f"{PREFIX[channel]}{number:05d}",
                "status": status,
                "created_at": to_iso(created),
                "updated_at": to_iso(updated),
                "lines": [
                    {
                        "id": str(i),
                        "sku": sku,
                        "quantity": qty,
                        "unit_price": "85000",
                        "currency": "IDR",
                    }
                    for i, (sku, qty) in enumerate(lines, start=1)
                ],
            }
        )

    number = 10000
    plain = [sku for sku in skus if sku not in ("BATIK-PRG-XL", "WAYANG-KULIT-S", "KOPI-LUWAK-100")]
    for channel in CHANNELS:
        for _ in range(11):
            number += 1
            # The till sells what is on the shop's shelves.
            choices = [sku for sku in plain if channel != TILL or sku not in NOT_IN_THE_SHOP]
            picks = rng.sample(choices, rng.randint(1, 3))
            lines = [
                (SHOPEE_CODES.get(sku, sku) if channel == "shopee" else sku, rng.randint(1, 2))
                for sku in picks
            ]
            # A sale at the till is done at the counter: completed (or voided).
            status = rng.choice(STATUSES)
            if channel == TILL and status != "cancelled":
                status = "completed"
            order(channel, number, status, lines, rng.uniform(2, 40))
    # A bundle sold on Tokopedia, and a gift set cancelled on Shopee.
    order("tokopedia", 20001, "paid", [(BUNDLE[0], 2)], 5)
    order("shopee", 20002, "cancelled", [(BUNDLE[0], 1)], 6)
    # The last two XL shirts sold twice over: once in the shop, once on each marketplace.
    order("toko", 20003, "completed", [("BATIK-PRG-XL", 1)], 4)
    order("tokopedia", 20004, "paid", [("BATIK-PRG-XL", 1)], 3)
    order("shopee", 20005, "paid", [("BATIK-PRG-XL", 1)], 2)
    # A return that goes back on the shelf, and a product nobody has entered yet.
    order("tokopedia", 20006, "returned", [("KOPI-TORAJA-250", 1)], 30)
    order("tokopedia", 20007, "paid", [("SCARF-SUTRA-01", 1)], 1)
    # A sale at the till brought back the next day: the export shows its row as returned.
    order(TILL, 20008, "returned", [("MUG-BATIK", 1)], 26)
    # A Shopee sale that lands while omnisync is running: its push must not overwrite it.
    files["shopee"]["sales_during_sync"] = [
        {
            "id": "SHP30001",
            "status": "paid",
            "created_at": to_iso(now),
            "updated_at": to_iso(now),
            "lines": [{"id": "1", "sku": "SHP-PRG-L", "quantity": 1}],
        }
    ]
    return files


def _demo_folder(directory: Path) -> bool:
    """True when `directory` may take the demo: new, empty, or an earlier demo's.

    The demo replaces its own config and ledger; in any other folder those could be a real
    shop's (`omnisync demo .` in a shop's folder), so it never touches one.
    """
    if not directory.is_dir():
        return True  # a new folder; or a file, which mkdir then refuses with its own words
    if (directory / MARKER).is_file():
        return True
    try:
        # Demos written before the marker existed start their config with this line.
        first = (directory / "omnisync.toml").read_text(encoding="utf-8").split("\n", 1)[0]
        if first == _config_text().split("\n", 1)[0]:
            return True
    except (OSError, UnicodeDecodeError):
        pass
    return not any(directory.iterdir())


def write_demo(directory: Path, *, now: datetime) -> Path:
    """Write the demo's config, fake channel files and stock-take; return the config path."""
    if not _demo_folder(directory):
        raise UsageError(
            f"{directory}: this folder holds other files; the demo writes only into a new or "
            f"empty folder, or an earlier demo's, so that it never replaces a shop's config or "
            f"ledger. Name another folder, such as `omnisync demo omnisync-demo`"
        )
    directory.mkdir(parents=True, exist_ok=True)
    (directory / MARKER).write_text(
        "This folder is an omnisync demo: `omnisync demo` rewrites it.\n"
    )
    for name in OWN_FILES:
        (directory / name).unlink(missing_ok=True)
    (directory / "inventory.db.lock").unlink(missing_ok=True)
    fake = directory / "fake"
    fake.mkdir(exist_ok=True)
    rng = random.Random(2026)
    (fake / f"{TILL}.json").unlink(missing_ok=True)  # an earlier demo's fake till
    files = _channel_files(rng, now)
    _write_till(directory / "till", files.pop(TILL)["orders"])
    for channel, content in files.items():
        (fake / f"{channel}.json").write_text(json.dumps(content, indent=2) + "\n")
    with (directory / "stock-take.csv").open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(("sku", "on_hand", "name"))
        writer.writerows((sku, qty, name) for sku, name, qty in PRODUCTS)
    config = directory / "omnisync.toml"
    config.write_text(_config_text())
    return config


def _write_till(folder: Path, orders: list[dict[str, Any]]) -> None:
    """The till's exports: a CSV file of sales per day, a row per line, as tills write them."""
    folder.mkdir(exist_ok=True)
    # An earlier demo's exports and stock file; the till's folder is the demo's own.
    for old in [*folder.glob("sales-*.csv"), folder / "stock.csv"]:
        old.unlink(missing_ok=True)
    days: dict[str, list[tuple[str, ...]]] = {}
    for sale in sorted(orders, key=lambda o: (o["created_at"], o["id"])):
        for line in sale["lines"]:
            days.setdefault(sale["created_at"][:10], []).append(
                (
                    sale["id"],
                    line["sku"],
                    str(line["quantity"]),
                    sale["status"],
                    sale["created_at"],
                    line["unit_price"],
                    line["currency"],
                )
            )
    for day, rows in days.items():
        with (folder / f"sales-{day}.csv").open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(TILL_HEADER)
            writer.writerows(rows)


def _stock_the_shop(ledger: Ledger, *, now: datetime) -> None:
    """The shop's shelves are filled from the warehouse: a transfer per product."""
    for sku, _, counted in PRODUCTS:
        if sku in NOT_IN_THE_SHOP:
            continue
        # Half of each product (the last XL shirt but one) goes to the shop.
        quantity = 1 if sku == "BATIK-PRG-XL" else max(1, counted // 2)
        move_stock(
            ledger,
            sku,
            quantity,
            source="main",
            destination="store",
            reason="stocking the shop",
            now=now,
        )


def invoked_as() -> str:
    """How to run omnisync again, for the commands the demo suggests: `omnisync` when it is on
    PATH, else as it was run now (`.venv/bin/omnisync demo` with the venv not activated)."""
    if shutil.which("omnisync"):
        return "omnisync"
    script = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if script is not None and script.stem == "omnisync":
        return shlex.quote(os.path.abspath(script))
    return f"{shlex.quote(sys.executable)} -m omnisync"


@dataclass(frozen=True, slots=True)
class DemoRun:
    """What the demo did, for the CLI to show: its folder, the sync's report, the stock after."""

    directory: Path
    config_path: Path
    report: RunReport
    balances: list[Balance]
    shown: dict[str, dict[str, int]]  # SKU -> channel -> quantity its listing shows
    channels: list[str]
    by_location: dict[str, dict[str, Balance]]  # SKU -> location -> its stock there
    locations: list[str]

    def intro(self) -> str:
        return (
            f"Demo shop written to {self.directory}/: {len(PRODUCTS)} SKUs counted in "
            f"(stock-take.csv) at the warehouse, half of most moved to the shop, and three "
            f"channels — "
            + ", ".join(f"{name} ({label})" for name, label in CHANNELS.items())
            + ".\nThe marketplaces (fake channels under fake/) show their own, out-of-step "
            "quantities and a couple of days of orders; the till's exports are in till/.\n"
            "Running `omnisync sync --since 3d` on it:\n"
        )

    def explanation(self, program: str | None = None) -> str:
        cfg = f"{program or invoked_as()} --config {self.config_path}"
        return (
            "\nWhat happened: every order moved stock in one ledger. Marketplace orders are "
            "held at the warehouse (main) and the till's sales left the shop (store); a mug "
            "sold at the till and brought back is on the shelf again. The marketplaces offer "
            "what is available at both places (less Shopee's buffer of 1); the till's stock "
            "file, till/stock.csv, lists what the shop holds. The XL shirt sold three times "
            "with two in stock: it is reported as oversold and pushed 0 everywhere. A Shopee "
            "sale that arrived mid-run was noticed before its listing was overwritten. One "
            "Tokopedia order names a SKU the ledger does not know: it waits, unapplied, until "
            "it is mapped.\n\nTry next:\n"
            f"  {cfg} stock\n"
            f"  {cfg} stock move MUG-BATIK 5 --from main --to store\n"
            f"  {cfg} orders --status paid\n"
            f"  {cfg} log --sku BATIK-PRG-XL\n"
            f"  {cfg} stock add SCARF-SUTRA-01 5 --new && {cfg} sync\n"
            f"  {cfg} runs\n\n"
            "And to see how each channel sells:\n"
            f"  {cfg} report --html {self.directory / 'report.html'}\n"
            "prints orders, units and revenue per channel against the month before, the best "
            "sellers with their days of cover, what to reorder and the oversold XL shirt; and "
            "writes report.html, one page that opens in any browser, offline, on a phone too, "
            "with charts of units per day and channel, each channel's share of revenue, the top "
            "SKUs, days of cover and hours out of stock."
        )


def run_demo(directory: Path) -> DemoRun:
    """Write the demo, count the stock in, and run one sync on it."""
    now = utcnow()
    try:
        config_path = write_demo(directory, now=now)
    except OSError as exc:  # DIR is a file, or not writable: the command line is wrong
        raise UsageError(f"{directory}: cannot write the demo there: {exc.strerror}") from None
    config = load_config(config_path)
    with Ledger.open(config.ledger_path, write=True, create=True) as ledger:
        import_stock(ledger, directory / "stock-take.csv", now=now - timedelta(days=3))
        _stock_the_shop(ledger, now=now - timedelta(days=3))
        report = asyncio.run(run_sync(config, ledger, SyncOptions(since=now - timedelta(days=3))))
        balances = list(ledger.balances().values())
        shown = shown_by_sku(ledger, config)
        by_location = ledger.by_location()
    return DemoRun(
        directory,
        config_path,
        report,
        balances,
        shown,
        list(CHANNELS),
        by_location,
        list(config.locations),
    )
