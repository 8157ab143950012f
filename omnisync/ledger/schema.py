"""The ledger's schema as ordered migrations; `PRAGMA user_version` counts the ones applied."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

# 'OMNI' in ASCII: marks a SQLite file as an omnisync ledger.
APPLICATION_ID = 0x4F4D4E49

_V1 = """
CREATE TABLE skus (
    sku         TEXT PRIMARY KEY,
    name        TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL
);

-- Append-only: every change of stock is a new row; a correction is another row.
CREATE TABLE movements (
    id          INTEGER PRIMARY KEY,
    time        TEXT NOT NULL,
    kind        TEXT NOT NULL,            -- order | count | adjust
    sku         TEXT NOT NULL REFERENCES skus (sku),
    location    TEXT NOT NULL DEFAULT 'main',
    on_hand     INTEGER NOT NULL,
    committed   INTEGER NOT NULL,
    channel     TEXT,
    order_id    TEXT,
    line_id     TEXT,
    run_id      INTEGER,
    reason      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX movements_by_line ON movements (channel, order_id, line_id)
    WHERE channel IS NOT NULL;
CREATE INDEX movements_by_sku ON movements (sku, id);

CREATE TRIGGER movements_are_never_changed BEFORE UPDATE ON movements
BEGIN
    SELECT RAISE(ABORT, 'the ledger is append-only: a movement cannot be changed');
END;
CREATE TRIGGER movements_are_never_deleted BEFORE DELETE ON movements
BEGIN
    SELECT RAISE(ABORT, 'the ledger is append-only: a movement cannot be deleted');
END;

-- Running totals of movements per SKU and location, kept by Ledger._insert_movements in the
-- same transaction as the movements it inserts (the only way movements are written), one
-- summed upsert per SKU: a per-row trigger cost a fifth of a big run's reconcile.
CREATE TABLE balances (
    sku         TEXT NOT NULL REFERENCES skus (sku),
    location    TEXT NOT NULL,
    on_hand     INTEGER NOT NULL,
    committed   INTEGER NOT NULL,
    PRIMARY KEY (sku, location)
) WITHOUT ROWID;
-- SKUs below zero somewhere, found without reading every balance.
CREATE INDEX balances_short ON balances (sku) WHERE on_hand < committed;

-- Orders and lines as last seen on their channel.
CREATE TABLE orders (
    channel     TEXT NOT NULL,
    order_id    TEXT NOT NULL,
    status      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    first_run   INTEGER,
    last_run    INTEGER,
    PRIMARY KEY (channel, order_id)
) WITHOUT ROWID;
CREATE TABLE order_lines (
    channel     TEXT NOT NULL,
    order_id    TEXT NOT NULL,
    line_id     TEXT NOT NULL,
    channel_sku TEXT NOT NULL,
    quantity    INTEGER NOT NULL,
    status      TEXT,
    unit_price  TEXT,
    currency    TEXT,
    unmapped    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (channel, order_id, line_id)
) WITHOUT ROWID;
CREATE INDEX order_lines_unmapped ON order_lines (channel, order_id) WHERE unmapped = 1;

CREATE TABLE channel_state (
    channel     TEXT PRIMARY KEY,
    type        TEXT NOT NULL,
    start_time  TEXT,
    cursor      TEXT,
    tokens      TEXT NOT NULL DEFAULT '{}',
    last_run    INTEGER,
    last_status TEXT,
    last_error  TEXT,
    plan_key    TEXT,           -- what the last plan's targets depended on besides stock
    planned_through INTEGER     -- the last movement id those targets saw
);

-- Each listing as last read and last pushed; `shown` is what the channel shows as far as
-- omnisync knows (the later of the two).
CREATE TABLE listings (
    channel         TEXT NOT NULL,
    listing_id      TEXT NOT NULL,
    channel_sku     TEXT NOT NULL,
    last_read       INTEGER,
    last_pushed     INTEGER,
    last_pushed_at  TEXT,
    shown           INTEGER,
    target          INTEGER,   -- the target last planned for it; NULL while it maps nowhere
    PRIMARY KEY (channel, listing_id)
) WITHOUT ROWID;

CREATE TABLE runs (
    run_id      INTEGER PRIMARY KEY,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    dry_run     INTEGER NOT NULL DEFAULT 0,
    exit_code   INTEGER,
    report      TEXT
);
"""


def _v1(conn: sqlite3.Connection) -> None:
    for statement in split_statements(_V1):
        conn.execute(statement)


def split_statements(script: str) -> list[str]:
    """Split a script into statements where SQLite itself sees one end (trigger bodies whole).

    Not `executescript`: it commits first, and a migration must land in the same transaction
    as its version bump.
    """
    statements: list[str] = []
    current = ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    if current.strip():
        raise ValueError(f"unterminated SQL statement in a migration: {current.strip()!r}")
    return statements


# Orders a channel sent that could not be read (issue 12): kept, and reported on every run,
# until the channel sends a readable version of the same order.
_V2 = """
CREATE TABLE unreadable_orders (
    channel     TEXT NOT NULL,
    order_id    TEXT NOT NULL,
    field       TEXT NOT NULL,      -- path into the payload: orders[3].line_items[0].quantity
    value       TEXT NOT NULL,      -- what came there, as JSON text
    message     TEXT NOT NULL,
    first_run   INTEGER,
    last_run    INTEGER,
    PRIMARY KEY (channel, order_id)
) WITHOUT ROWID;
"""


def _v2(conn: sqlite3.Connection) -> None:
    for statement in split_statements(_V2):
        conn.execute(statement)


# Append only; never edit a migration that has shipped.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_v1, _v2]
SCHEMA_VERSION = len(MIGRATIONS)
