"""What the movements of each order line add up to, kept on the order's own row.

Reconciling an order asks what its lines already did to stock (SPEC: the movement written is
`desired − sum already recorded`). Summing the movements per line needed an index over every
movement by (channel, order, line), written at a random place for every movement of a run: a
quarter of a big run's page writes. The sums live instead in `orders.effects`, on the row that
applying the order rewrites anyway, and are read with it by its primary key.

They are kept by `StockStore.write_line_movements`, the only writer of order movements, in the
same transaction as the movements; the tests hold them equal to the movements' own sums
(`Ledger.effects_from_movements`).

Stored as JSON, `[[line id, SKU, location, on_hand, committed], ...]` sorted, without zeros;
NULL for an order whose lines hold nothing.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from json.encoder import encode_basestring as _text  # json.dumps's, ensure_ascii=False
from typing import Any

from omnisync.ledger.connection import execute_in
from omnisync.models import Effect

# (line id, SKU, location) → what the line's movements there add up to.
LineEffects = dict[tuple[str, str, str], Effect]


def decode(text: str | None) -> LineEffects:
    if not text:
        return {}
    return {
        (line_id, sku, location): Effect(on_hand, committed)
        for line_id, sku, location, on_hand, committed in json.loads(text)
    }


def encode(effects: Mapping[tuple[str, str, str], Effect]) -> str | None:
    if len(effects) == 1:
        # Most orders hold one line at one SKU: written out directly, with the string encoder
        # json.dumps itself uses, at a third of its cost (the tests hold the two equal).
        (((line_id, sku, location), effect),) = effects.items()
        if not effect:
            return None
        return (
            f"[[{_text(line_id)},{_text(sku)},{_text(location)},"
            f"{int(effect.on_hand)},{int(effect.committed)}]]"
        )
    items = sorted(effects.items())
    rows = [
        [line_id, sku, location, effect.on_hand, effect.committed]
        for (line_id, sku, location), effect in items
        if effect
    ]
    return json.dumps(rows, separators=(",", ":"), ensure_ascii=False) if rows else None


def add(effects: dict[str, LineEffects], rows: Iterable[Sequence[Any]]) -> set[str]:
    """Add movement rows (as `_insert_movements` takes them) to `effects`, order id → line
    effects; return the ids of the orders they changed."""
    changed: set[str] = set()
    for row in rows:
        sku, location, on_hand, committed, order_id, line_id = (
            row[2],
            row[3],
            row[4],
            row[5],
            row[7],
            row[8],
        )
        lines = effects.setdefault(order_id, {})
        key = (line_id, sku, location)
        total = lines.get(key)
        # One Effect made per row, not two (a big run adds 15,000 rows).
        lines[key] = (
            Effect(on_hand, committed)
            if total is None
            else Effect(total.on_hand + on_hand, total.committed + committed)
        )
        changed.add(order_id)
    return changed


def read(
    conn: sqlite3.Connection, channel: str, order_ids: Sequence[str]
) -> dict[str, LineEffects]:
    """The line effects of these orders of one channel (an order not stored has none)."""
    return {
        order_id: decode(text)
        for order_id, text in execute_in(
            conn,
            "SELECT order_id, effects FROM orders WHERE channel = ? AND order_id IN ({marks}) "
            "AND effects IS NOT NULL",
            list(order_ids),
            leading=[channel],
        )
    }


def write(
    conn: sqlite3.Connection,
    channel: str,
    effects: Mapping[str, LineEffects],
    order_ids: Iterable[str],
    *,
    stamp: str,
    run_id: int | None,
) -> None:
    """Store the effects of these orders on their rows.

    An order not stored yet (movements written before the order itself) gets a row saying
    only that it is pending; `OrderStore.save_orders` then writes what the channel sent.
    """
    conn.executemany(
        "INSERT INTO orders (channel, order_id, status, created_at, updated_at, first_run, "
        "last_run, effects) VALUES (?, ?, 'pending', ?, ?, ?, ?, ?) "
        "ON CONFLICT (channel, order_id) DO UPDATE SET effects = excluded.effects",
        [
            (channel, order_id, stamp, stamp, run_id, run_id, encode(effects.get(order_id, {})))
            for order_id in sorted(order_ids)
        ],
    )
