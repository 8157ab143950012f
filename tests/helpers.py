"""Builders for tests: fake channel files, configs, and running the CLI in-process."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from omnisync.cli import app
from omnisync.ledger import Ledger


def order(
    order_id: str,
    status: str,
    lines: list[tuple[str, int]],
    *,
    created: str = "2026-11-20T09:00:00Z",
    updated: str = "2026-11-20T09:05:00Z",
) -> dict[str, Any]:
    """An order in the fake channel's JSON shape: `order("1001", "paid", [("TEE-M", 2)])`."""
    return {
        "id": order_id,
        "status": status,
        "created_at": created,
        "updated_at": updated,
        "lines": [
            {"id": str(number), "sku": sku, "quantity": quantity}
            for number, (sku, quantity) in enumerate(lines, start=1)
        ],
    }


def listing(listing_id: str, sku: str, quantity: int) -> dict[str, Any]:
    return {"id": listing_id, "sku": sku, "quantity": quantity}


class Shop:
    """A config and fake channel files in a temporary folder, for CLI and engine tests."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.config = root / "omnisync.toml"
        self.ledger = root / "inventory.db"
        (root / "fake").mkdir(exist_ok=True)

    def channel_path(self, name: str) -> Path:
        return self.root / "fake" / f"{name}.json"

    def write_channel(
        self,
        name: str,
        *,
        listings: list[dict[str, Any]] | None = None,
        orders: list[dict[str, Any]] | None = None,
        **extra: Any,
    ) -> None:
        content = {"listings": listings or [], "orders": orders or [], **extra}
        self.channel_path(name).write_text(json.dumps(content, indent=2))

    def read_channel(self, name: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.channel_path(name).read_text())
        return data

    def quantities(self, name: str) -> dict[str, int]:
        """Listing id -> quantity the fake channel shows now."""
        return {item["id"]: item["quantity"] for item in self.read_channel(name)["listings"]}

    def write_config(
        self, channels: dict[str, dict[str, Any]], extra: str = "", *, init: bool = True
    ) -> None:
        """`channels` maps a name to its keys besides type/path (a fake channel each); with
        `init`, the ledger is made too, as `omnisync init` would."""
        parts = ['[ledger]\npath = "inventory.db"\n']
        for name, keys in channels.items():
            parts.append(f'[channels.{name}]\ntype = "fake"\npath = "fake/{name}.json"')
            for key, value in keys.items():
                parts.append(f"{key} = {json.dumps(value)}")
            parts.append("")
        parts.append(extra)
        self.config.write_text("\n".join(parts) + "\n")
        # As `omnisync init` leaves a shop: only init (demo, stock import) makes a ledger.
        if init and not self.ledger.exists():
            Ledger.open(self.ledger, write=True, create=True).close()


def invoke(runner: CliRunner, shop: Shop, *args: str, **kwargs: Any) -> Any:
    """Run `omnisync --config <shop> ARGS…` in-process."""
    return runner.invoke(app, ["--config", str(shop.config), *args], **kwargs)
