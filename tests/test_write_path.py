"""The ledger's write path: orders stored as last seen, and a finished run in the file itself."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from omnisync.ledger import Ledger
from omnisync.models import Order, OrderLine, Status

PLACED = datetime(2026, 11, 20, 9, tzinfo=UTC)


def test_a_line_edited_on_the_channel_is_stored_as_edited_and_the_others_kept(
    tmp_path: Path,
) -> None:
    first = Order(
        "1001",
        Status.PAID,
        PLACED,
        PLACED,
        (
            OrderLine("1", "TEE-M", 2, unit_price=Decimal("19.90"), currency="IDR"),
            OrderLine("2", "MUG", 1),
            OrderLine("3", "CAP", 1),
        ),
    )
    # The buyer took one tee instead of two, the mug line was removed, and a scarf came in.
    second = Order(
        "1001",
        Status.SHIPPED,
        PLACED,
        datetime(2026, 11, 21, tzinfo=UTC),
        (
            OrderLine("1", "TEE-M", 1, unit_price=Decimal("19.90"), currency="IDR"),
            OrderLine("3", "CAP", 1),
            OrderLine("4", "SCARF", 1),
        ),
    )
    with Ledger.open(tmp_path / "inventory.db", write=True, create=True) as ledger:
        with ledger.atomic():
            ledger.save_orders("web", [first], unmapped=set(), run_id=1)
        with ledger.atomic():
            ledger.save_orders("web", [second], unmapped={("1001", "4")}, run_id=2, known={"1001"})
        assert ledger.stored_orders("web", ["1001"]) == [second]
        assert ledger.unmapped_lines() == [("web", "SCARF", "1001", "shipped", 1)]


def test_a_closed_writer_leaves_its_writes_in_the_ledger_file(tmp_path: Path) -> None:
    """A backup that copies only inventory.db, taken after a command ends, holds what it did,
    even while another process (a `stock` in another terminal) still has the ledger open."""
    path = tmp_path / "inventory.db"
    Ledger.open(path, write=True, create=True).close()
    reader = sqlite3.connect(path)
    try:
        reader.execute("SELECT count(*) FROM skus").fetchone()
        with Ledger.open(path, write=True) as ledger, ledger.atomic():
            ledger.conn.executemany(
                "INSERT INTO skus (sku, name, created_at) VALUES (?, '', '2026-12-01T00:00:00Z')",
                [(f"SKU-{n:05d}",) for n in range(3_000)],
            )
        backup = tmp_path / "backup.db"
        shutil.copyfile(path, backup)
    finally:
        reader.close()
    with sqlite3.connect(backup) as copy:
        assert copy.execute("SELECT count(*) FROM skus").fetchone()[0] == 3_000
