"""Read models for the CLI's listings and `--json`: orders, movements and runs as dicts."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from typing import Any

from omnisync.ledger import effects as line_effects
from omnisync.ledger.connection import LedgerBase
from omnisync.timeparse import to_iso


class LedgerViews(LedgerBase):
    """Queries shaped for display: plain dicts of JSON-ready values, newest first."""

    def order_channels(self) -> list[str]:
        """The channels the ledger holds orders of, sorted: a channel removed from the config
        keeps its history."""
        return [
            row[0] for row in self.conn.execute("SELECT DISTINCT channel FROM orders ORDER BY 1")
        ]

    def list_orders(
        self,
        *,
        channels: Sequence[str] = (),
        status: str | None = None,
        since: datetime | None = None,
        resolve: Callable[[str, str], Collection[str] | None] | None = None,
    ) -> list[dict[str, Any]]:
        """Stored orders with their lines, last updated first; each line names its SKU(s).

        A line's SKU is what its movements moved, read from the order's own line effects (a
        bundle line names its components, joined by +). A line whose movements add up to
        nothing (cancelled, restocked) holds no effect: `resolve(channel, channel SKU)`, the
        SKUs it maps to now, names it then, when given.
        """
        where, params = ["1 = 1"], []
        if channels:
            where.append(f"o.channel IN ({','.join('?' * len(channels))})")
            params += list(channels)
        if status:
            where.append("o.status = ?")
            params.append(status)
        if since:
            where.append("o.updated_at >= ?")
            params.append(to_iso(since))
        orders: dict[tuple[str, str], dict[str, Any]] = {}
        moved: dict[tuple[str, str, str], set[str]] = defaultdict(set)
        for channel, order_id, order_status, created_at, updated_at, effects in self.conn.execute(
            "SELECT channel, order_id, status, created_at, updated_at, effects FROM orders o "
            f"WHERE {' AND '.join(where)} ORDER BY updated_at DESC, channel, order_id",
            params,
        ):
            orders[(channel, order_id)] = {
                "channel": channel,
                "id": order_id,
                "status": order_status,
                "created_at": created_at,
                "updated_at": updated_at,
                "lines": [],
            }
            # From the order's own row: scanning every order movement for this took seconds
            # on a ledger of a million (7.5 s to list one day's 5,000 orders).
            for line_id, sku, _location in line_effects.decode(effects):
                moved[(channel, order_id, line_id)].add(sku)
        if not orders:
            return []
        for row in self.conn.execute(
            "SELECT l.channel, l.order_id, l.line_id, l.channel_sku, l.quantity, l.unit_price, "
            "l.currency, l.status FROM order_lines l JOIN orders o ON o.channel = l.channel "
            f"AND o.order_id = l.order_id WHERE {' AND '.join(where)} "
            "ORDER BY l.channel, l.order_id, l.line_id",
            params,
        ):
            channel, order_id, line_id, channel_sku, quantity, price, currency, status = row
            skus = moved.get((channel, order_id, line_id)) or (
                resolve(channel, channel_sku) if resolve is not None else None
            )
            orders[(channel, order_id)]["lines"].append(
                {
                    "id": line_id,
                    "sku": "+".join(sorted(skus)) if skus else None,
                    "channel_sku": channel_sku,
                    "quantity": quantity,
                    "unit_price": price,
                    "currency": currency,
                    "status": status,
                }
            )
        return list(orders.values())

    def movements(
        self, *, skus: Sequence[str] = (), since: datetime | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Movements, newest first, of the SKUs asked (all when none) since a time."""
        where, params = ["1 = 1"], []
        if skus:
            where.append(f"sku IN ({','.join('?' * len(skus))})")
            params += list(skus)
        if since:
            where.append("time >= ?")
            params.append(to_iso(since))
        query = (
            "SELECT id, time, kind, sku, location, on_hand, committed, channel, order_id, "
            f"line_id, run_id, reason FROM movements WHERE {' AND '.join(where)} "
            "ORDER BY id DESC"
        )
        if limit is not None:
            query += f" LIMIT {int(limit)}"
        columns = (
            "id time kind sku location on_hand committed channel order_id line_id run_id reason"
        ).split()
        return [dict(zip(columns, row, strict=True)) for row in self.conn.execute(query, params)]

    def runs(self, *, limit: int = 50) -> list[dict[str, Any]]:
        """The reports of the last runs, newest first; a run never finished says so."""
        reports = []
        for run_id, started_at, finished_at, dry_run, exit_code, report in self.conn.execute(
            "SELECT run_id, started_at, finished_at, dry_run, exit_code, report FROM runs "
            "ORDER BY run_id DESC LIMIT ?",
            (limit,),
        ):
            if report:
                reports.append(json.loads(report))
            else:
                # Started and never finished: the process died or was killed mid-run.
                reports.append(
                    {
                        "run_id": run_id,
                        "started_at": started_at,
                        "finished_at": finished_at,
                        "dry_run": bool(dry_run),
                        "exit_code": exit_code,
                        "interrupted": True,
                        "channels": {},
                    }
                )
        return reports
