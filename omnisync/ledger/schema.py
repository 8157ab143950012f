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


def _v3(conn: sqlite3.Connection) -> None:
    """Each order's line effects on its row (`omnisync.ledger.effects`), summed once from the
    movements; the by-line movement index that summed them on every run is dropped.

    Movements of an order with no row (none are written so; kept all the same) get a row
    that says only that it is pending, so its effects stay recorded until the channel sends it.
    """
    conn.execute("ALTER TABLE orders ADD COLUMN effects TEXT")
    try:
        _v3_effects_in_sql(conn)
    except sqlite3.OperationalError:
        # A SQLite older than 3.38 without its JSON functions: the same sums in Python, at
        # twice the time.
        conn.execute("DROP TABLE IF EXISTS temp.line_sums")
        _v3_effects_in_python(conn)
    # Updated at the earliest time there is: schema 2 applied any version of such an order
    # the channel sent, and so must the next run (a version older than the movements, such as
    # a late cancellation, is not stale to a row that never held one).
    conn.execute(
        "INSERT INTO orders (channel, order_id, status, created_at, updated_at, first_run, "
        "last_run, effects) SELECT channel, order_id, 'pending', first_time, "
        "'0001-01-01T00:00:00.000000Z', first_run, first_run, effects FROM temp.line_sums s "
        "WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.channel = s.channel AND "
        "o.order_id = s.order_id)"
    )
    conn.execute("DROP TABLE temp.line_sums")
    conn.execute("DROP INDEX movements_by_line")


def _v3_effects_in_sql(conn: sqlite3.Connection) -> None:
    # One pass of the table (NOT INDEXED: through the by-line index every row is a random
    # read, 5 s instead of 3 on 1,000,000 movements), summed per line, SKU and location.
    conn.execute(
        "CREATE TEMP TABLE line_sums AS SELECT channel, order_id, "
        "json_group_array(json_array(line_id, sku, location, on_hand, committed)) AS effects, "
        "min(first_time) AS first_time, min(first_run) AS first_run FROM ("
        "SELECT channel, order_id, line_id, sku, location, sum(on_hand) AS on_hand, "
        "sum(committed) AS committed, min(time) AS first_time, min(run_id) AS first_run "
        "FROM movements NOT INDEXED WHERE channel IS NOT NULL "
        "GROUP BY channel, order_id, line_id, sku, location "
        "HAVING sum(on_hand) != 0 OR sum(committed) != 0 "
        "ORDER BY channel, order_id, line_id, sku, location) GROUP BY channel, order_id"
    )
    conn.execute(
        "UPDATE orders SET effects = s.effects FROM temp.line_sums AS s "
        "WHERE orders.channel = s.channel AND orders.order_id = s.order_id"
    )


def _v3_effects_in_python(conn: sqlite3.Connection) -> None:
    from omnisync.ledger.effects import encode
    from omnisync.models import Effect

    sums: dict[tuple[str, str], dict[tuple[str, str, str], Effect]] = {}
    first: dict[tuple[str, str], tuple[str, int | None]] = {}
    for channel, order_id, line_id, sku, location, on_hand, committed, time, run_id in conn.execute(
        "SELECT channel, order_id, line_id, sku, location, on_hand, committed, time, "
        "run_id FROM movements WHERE channel IS NOT NULL ORDER BY id"
    ):
        lines = sums.setdefault((channel, order_id), {})
        first.setdefault((channel, order_id), (time, run_id))
        key = (line_id, sku, location)
        total = lines.get(key)
        lines[key] = Effect(on_hand, committed) + total if total else Effect(on_hand, committed)
    conn.execute(
        "CREATE TEMP TABLE line_sums (channel TEXT, order_id TEXT, effects TEXT, "
        "first_time TEXT, first_run INTEGER, PRIMARY KEY (channel, order_id))"
    )
    conn.executemany(
        "INSERT INTO temp.line_sums VALUES (?, ?, ?, ?, ?)",
        [
            (channel, order_id, text, *first[(channel, order_id)])
            for (channel, order_id), lines in sums.items()
            if (text := encode(lines)) is not None
        ],
    )
    conn.execute(
        "UPDATE orders SET effects = (SELECT s.effects FROM temp.line_sums s "
        "WHERE s.channel = orders.channel AND s.order_id = orders.order_id) "
        "WHERE EXISTS (SELECT 1 FROM temp.line_sums s "
        "WHERE s.channel = orders.channel AND s.order_id = orders.order_id)"
    )


# Append only; never edit a migration that has shipped.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_v1, _v2, _v3]
SCHEMA_VERSION = len(MIGRATIONS)
