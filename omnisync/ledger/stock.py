"""SKUs, their append-only movements, and the balances kept from them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter
from typing import Any

from omnisync.ledger import effects as line_effects
from omnisync.ledger.connection import LedgerBase, execute_in
from omnisync.ledger.effects import LineEffects
from omnisync.locations import MAIN_LOCATION as MAIN_LOCATION  # re-exported
from omnisync.models import LineMovement
from omnisync.timeparse import to_iso

_SKU = itemgetter(2)  # a movement row's SKU

# The `kind` of the two movements `stock move` writes.
TRANSFER = "transfer"


def _at(locations: Sequence[str] | None) -> tuple[str, list[str]]:
    """A `location IN (...)` filter and its values; no filter for None (every location)."""
    if locations is None:
        return "", []
    return f" AND location IN ({', '.join('?' * len(locations))})", list(locations)


@dataclass(frozen=True, slots=True)
class Balance:
    """A SKU's stock summed over its locations."""

    sku: str
    name: str
    on_hand: int
    committed: int

    @property
    def available(self) -> int:
        return self.on_hand - self.committed


def _all_skus(conn: Any) -> frozenset[str]:
    # One text read and split in C: a row per SKU costs twice as much on 100,000 SKUs. A SKU
    # never holds a line break (`omnisync.skus` refuses control characters); should an old
    # ledger hold one, the count tells, and the rows are read one by one.
    count, joined = conn.execute(
        "SELECT count(*), group_concat(sku, char(10)) FROM skus"
    ).fetchone()
    if not count:
        return frozenset()
    names = joined.split("\n")
    if len(names) == count:  # a line break inside a SKU would make one more
        return frozenset(names)
    return frozenset(row[0] for row in conn.execute("SELECT sku FROM skus"))


class KnownSkus:
    """`sku in known` for the ledger's SKUs, read as asked: a run that touches a thousand SKUs
    of 100,000 looks up those (together, when told which: `expect_skus`), and one that asks
    about very many reads the whole table once.

    Valid while no SKU is added (a sync adds none); SKUs are never removed.
    """

    # Past this many lookups (3 µs each) one read of every SKU (18 ms per 100,000) is cheaper.
    _SINGLE_LOOKUPS = 4_000
    # Looked up together, in slices of 500, a SKU costs 0.75 µs (9 ms for 12,000; a read of
    # every SKU 25 ms): past this many at once the whole read is cheaper.
    _BATCH_LOOKUPS = 30_000

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self._seen: dict[str, bool] = {}
        self._single = 0  # SKUs looked up one by one
        self._all: frozenset[str] | None = None

    def read_all(self) -> None:
        """So many SKUs are about to be asked that one read of every SKU is cheaper."""
        if self._all is None:
            self._all = _all_skus(self._conn)

    def expect_skus(self, skus: Iterable[str]) -> None:
        """These SKUs are about to be asked: looked up now, together (or, past 30,000 of them,
        by one read of every SKU)."""
        if self._all is not None:
            return
        new = sorted({sku for sku in skus if sku not in self._seen})
        if len(new) >= self._BATCH_LOOKUPS:
            self.read_all()
            return
        found = {
            row[0]
            for row in execute_in(self._conn, "SELECT sku FROM skus WHERE sku IN ({marks})", new)
        }
        for sku in new:
            self._seen[sku] = sku in found

    def __contains__(self, sku: object) -> bool:
        if self._all is not None:
            return sku in self._all
        if not isinstance(sku, str):
            return False
        found = self._seen.get(sku)
        if found is None:
            if self._single >= self._SINGLE_LOOKUPS:
                self._all = _all_skus(self._conn)
                return sku in self._all
            self._single += 1
            row = self._conn.execute("SELECT 1 FROM skus WHERE sku = ?", (sku,)).fetchone()
            found = self._seen[sku] = row is not None
        return found


class StockStore(LedgerBase):
    """SKUs, movements and balances: every movement is written through `_insert_movements`."""

    def known_skus(self) -> frozenset[str]:
        return _all_skus(self.conn)

    def sku_lookup(self) -> KnownSkus:
        """The ledger's SKUs as a lazy `in` test (see `KnownSkus`), for a catalog."""
        return KnownSkus(self.conn)

    def add_sku(self, sku: str, *, name: str = "", now: datetime) -> None:
        self.conn.execute(
            "INSERT INTO skus (sku, name, created_at) VALUES (?, ?, ?) "
            "ON CONFLICT (sku) DO UPDATE SET name = CASE WHEN excluded.name != '' "
            "THEN excluded.name ELSE skus.name END",
            (sku, name, to_iso(now)),
        )

    def balances(
        self, skus: Iterable[str] | None = None, *, locations: Sequence[str] | None = None
    ) -> dict[str, Balance]:
        """on_hand and committed per SKU, summed over `locations` (None: all); every SKU, or
        those asked."""
        where, values = _at(locations)
        # The filter is part of the join: a SKU never held at those locations still shows, as 0.
        query = (
            "SELECT s.sku, s.name, coalesce(sum(b.on_hand), 0), coalesce(sum(b.committed), 0) "
            "FROM skus s LEFT JOIN balances b ON b.sku = s.sku"
            + where.replace(" location", " b.location")
        )
        if skus is None:
            rows: Iterable[Any] = self.conn.execute(
                query + " GROUP BY s.sku ORDER BY s.sku", values
            )
        else:
            rows = execute_in(
                self.conn,
                query + " WHERE s.sku IN ({marks}) GROUP BY s.sku ORDER BY s.sku",
                list(dict.fromkeys(skus)),
                leading=values,
            )
        return {
            sku: Balance(sku, name, on_hand, committed) for sku, name, on_hand, committed in rows
        }

    def by_location(self, skus: Iterable[str] | None = None) -> dict[str, dict[str, Balance]]:
        """Each SKU's stock at each location that ever held any: SKU → location → Balance."""
        query = (
            "SELECT b.sku, s.name, b.location, b.on_hand, b.committed "
            "FROM balances b JOIN skus s ON s.sku = b.sku"
        )
        if skus is None:
            rows: Iterable[Any] = self.conn.execute(query + " ORDER BY b.sku, b.location")
        else:
            rows = execute_in(
                self.conn,
                query + " WHERE b.sku IN ({marks}) ORDER BY b.sku, b.location",
                list(dict.fromkeys(skus)),
            )
        table: dict[str, dict[str, Balance]] = {}
        for sku, name, location, on_hand, committed in rows:
            table.setdefault(sku, {})[location] = Balance(sku, name, on_hand, committed)
        return table

    def stock_locations(self) -> list[str]:
        """Every location any movement was ever recorded at."""
        return [row[0] for row in self.conn.execute("SELECT DISTINCT location FROM balances")]

    def _stock_places(self) -> set[str]:
        """`stock_locations()`, read once per open ledger (a scan of every balance), with the
        locations of movements held by `movements_together`, as if already written."""
        if self._places is None:
            self._places = set(self.stock_locations())
            self._places.update(row[3] for row in self._held or ())
        return self._places

    def last_order_location(self, channel: str) -> str | None:
        """Where the channel's newest order movement took stock from; None before any."""
        # Walked back from the newest movement (no index by channel: a run writes none), which
        # ends at once for a channel that sells; one that never stored an order is not walked.
        if (
            self.conn.execute(
                "SELECT 1 FROM orders WHERE channel = ? LIMIT 1", (channel,)
            ).fetchone()
            is None
        ):
            return None
        row = self.conn.execute(
            "SELECT location FROM movements WHERE channel = ? ORDER BY id DESC LIMIT 1",
            (channel,),
        ).fetchone()
        return None if row is None else str(row[0])

    def skus_at(self, locations: Sequence[str]) -> frozenset[str]:
        """SKUs that ever had a movement at one of `locations`: what a shop there sells.

        A SKU with no movement anywhere yet (created at 0) is at `main`, where every SKU
        starts, so a single-location shop sells every SKU it knows.
        """
        where, values = _at(locations)
        query = "SELECT sku FROM balances WHERE 1" + where
        if MAIN_LOCATION in locations:
            query += " UNION SELECT sku FROM skus WHERE sku NOT IN (SELECT sku FROM balances)"
        return frozenset(row[0] for row in self.conn.execute(query, values))

    def available(self, locations: Sequence[str] | None = None) -> dict[str, int]:
        """on_hand − committed for every SKU over `locations` (None: all), the number every
        target starts from."""
        where, values = _at(locations)
        # One row per SKU while every movement is at one location: dict() straight from the
        # cursor then, which on 100,000 SKUs costs half of a GROUP BY.
        rows = self.conn.execute(
            "SELECT sku, on_hand - committed FROM balances WHERE 1" + where, values
        ).fetchall()
        available = dict(rows)
        if len(available) != len(rows):
            available = {}
            for sku, units in rows:
                available[sku] = available.get(sku, 0) + units
        return available

    def available_for(
        self, skus: Iterable[str], locations: Sequence[str] | None = None
    ) -> dict[str, int]:
        """on_hand − committed for the SKUs asked (those with any movement) over `locations`."""
        where, values = _at(locations)
        available: dict[str, int] = {}
        for sku, units in execute_in(
            self.conn,
            "SELECT sku, on_hand - committed FROM balances WHERE sku IN ({marks})" + where,
            sorted(set(skus)),
            trailing=values,
        ):
            available[sku] = available.get(sku, 0) + units
        return available

    def oversold(self) -> dict[str, int]:
        """SKUs whose available is below zero, with it; read through a partial index."""
        return dict(
            self.conn.execute(
                "SELECT sku, sum(on_hand) - sum(committed) FROM balances WHERE sku IN "
                "(SELECT sku FROM balances WHERE on_hand < committed) "
                "GROUP BY sku HAVING sum(on_hand) < sum(committed) ORDER BY sku"
            )
        )

    def last_movement_id(self) -> int:
        row = self.conn.execute("SELECT max(id) FROM movements").fetchone()
        return int(row[0] or 0)

    def skus_moved_since(self, movement_id: int) -> set[str]:
        # A rowid range read, deduplicated here: with DISTINCT SQLite walks the whole by-SKU
        # index instead.
        return {
            row[0]
            for row in self.conn.execute("SELECT sku FROM movements WHERE id > ?", (movement_id,))
        }

    def movement_sums(self) -> dict[str, tuple[int, int]]:
        """on_hand and committed per SKU summed from the movements themselves (for checks)."""
        return {
            sku: (on_hand, committed)
            for sku, on_hand, committed in self.conn.execute(
                "SELECT sku, sum(on_hand), sum(committed) FROM movements GROUP BY sku"
            )
        }

    def add_skus(self, skus: Iterable[tuple[str, str]], *, now: datetime) -> None:
        """`add_sku` for many (SKU, name) pairs in one statement (a stock-take of 100,000)."""
        stamp = to_iso(now)
        self.conn.executemany(
            "INSERT INTO skus (sku, name, created_at) VALUES (?, ?, ?) "
            "ON CONFLICT (sku) DO UPDATE SET name = CASE WHEN excluded.name != '' "
            "THEN excluded.name ELSE skus.name END",
            [(sku, name, stamp) for sku, name in skus],
        )

    def add_counts(
        self, counts: Iterable[tuple[str, str, int]], *, reason: str, now: datetime
    ) -> None:
        """Count movements for many (SKU, location, on_hand change) at once, as `add_movement`
        writes one."""
        stamp = to_iso(now)
        self._insert_movements(
            [
                (stamp, "count", sku, location, change, 0, None, None, None, None, reason)
                for sku, location, change in counts
            ]
        )

    def add_movement(
        self,
        *,
        kind: str,
        sku: str,
        on_hand: int,
        committed: int = 0,
        reason: str = "",
        now: datetime,
        run_id: int | None = None,
        location: str = MAIN_LOCATION,
    ) -> None:
        """Append one movement not tied to an order line (a count or an adjustment)."""
        row = (to_iso(now), kind, sku, location, on_hand, committed)
        self._insert_movements([(*row, None, None, None, run_id, reason)])

    def transfer(
        self, sku: str, quantity: int, *, source: str, destination: str, reason: str, now: datetime
    ) -> None:
        """Move units between locations: two movements of kind `transfer`, both or neither."""
        stamp = to_iso(now)
        self._insert_movements(
            [
                (stamp, TRANSFER, sku, source, -quantity, 0, None, None, None, None, reason),
                (stamp, TRANSFER, sku, destination, quantity, 0, None, None, None, None, reason),
            ]
        )

    def write_line_movements(
        self,
        channel: str,
        movements: Sequence[LineMovement],
        *,
        run_id: int | None,
        now: datetime,
        location: str = MAIN_LOCATION,
        line_locations: Mapping[tuple[str, str], str] | None = None,
        effects: dict[str, LineEffects] | None = None,
        save_effects: bool = True,
    ) -> set[str]:
        """Append the movements reconciling a channel's order lines called for, at `location`
        (a line in `line_locations`, (order id, line id) → location, at its own), and keep
        each order's line effects (`omnisync.ledger.effects`) equal to them; return the ids
        of the orders whose effects changed.

        `effects`, when the caller read them already (order id → line effects, as
        `effects.read` returns them for at least these orders), is brought up to date in place.
        With `save_effects` False the caller stores them itself, in the same transaction, with
        `save_orders(effects=...)` for every order returned: one write of each order's row.

        A line being corrected that still holds units committed at another location (the
        channel's location changed since it was placed, or the order is now fulfilled from
        elsewhere) has that commitment released there and made again at its location: the
        order is now fulfilled from there. Units that already left (on_hand) stay where they
        left from; nothing recorded is rewritten.
        """
        if not movements:
            return set()
        stamp = to_iso(now)
        placed = line_locations or {}
        if effects is None:
            effects = line_effects.read(self.conn, channel, sorted({m.order_id for m in movements}))
        rows = [
            (
                stamp,
                "order",
                m.sku,
                placed.get((m.order_id, m.line_id), location) if placed else location,
                m.effect.on_hand,
                m.effect.committed,
                channel,
                m.order_id,
                m.line_id,
                run_id,
                "",
            )
            for m in movements
        ]
        here = {row[3] for row in rows}
        if len(here) > 1 or not self._stock_places() <= here:
            # Stock was recorded somewhere else than where a line goes (with lines going to
            # two places, each is elsewhere for the other's lines): a line may still hold
            # units committed there.
            rows += self._relocations(rows, effects)
        # In SKU order: the by-SKU index is then written page by page.
        rows.sort(key=_SKU)
        self._insert_movements(rows)
        changed = line_effects.add(effects, rows)
        if save_effects:
            line_effects.write(self.conn, channel, effects, changed, stamp=stamp, run_id=run_id)
        return changed

    @staticmethod
    def _relocations(
        rows: Sequence[tuple[Any, ...]], effects: Mapping[str, LineEffects]
    ) -> list[tuple[Any, ...]]:
        """Movement rows moving what the lines in `rows` still hold committed at another
        location to the location they move at now: released there, committed here."""
        stamp, _, _, _, _, _, channel, _, _, run_id, reason = rows[0]  # the same on every row
        target = {(row[7], row[8], row[2]): row[3] for row in rows}
        moved = []
        for (order_id, line_id, sku), here in sorted(target.items()):
            for (line, line_sku, place), effect in sorted(effects.get(order_id, {}).items()):
                if line != line_id or line_sku != sku or place == here or not effect.committed:
                    continue
                for where, committed in ((place, -effect.committed), (here, effect.committed)):
                    moved.append(
                        (stamp, "order", sku, where, 0, committed, channel, order_id, line_id)
                        + (run_id, reason)
                    )
        return moved

    @contextmanager
    def movements_together(self) -> Iterator[None]:
        """Hold back every movement written inside, and insert them all as it ends, in one pass
        in SKU order, inside the transaction that must already be open.

        The by-SKU index takes each movement at a random place: a run that applied four
        channels' orders one channel at a time walked its pages four times (15,000 movements
        touch most of its 7,000 pages, more than the page cache holds), reading them back
        each time; in one pass the movement and balance writes of the core benchmark's
        10,000-order run took 0.02-0.04 s less. Movements and balances read inside the block
        do not show the held movements yet: only writers of order movements belong in it
        (the engine applies every channel's orders in one).
        """
        if not self.in_transaction:
            # Held rows must land in the transaction that writes the orders they belong to.
            raise RuntimeError("movements_together needs an open transaction (atomic())")
        if self._held is not None:
            yield  # already holding: the outer block inserts them
            return
        self._held = []
        try:
            yield
            held, self._held = self._held, None
            held.sort(key=_SKU)
            self._insert_movements(held)
        finally:
            self._held = None

    def _insert_movements(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Append movements and add them to the balances, both or neither.

        Each row: (time, kind, sku, location, on_hand, committed, channel, order_id, line_id,
        run_id, reason). Every movement goes through here, so balances always equal the sum of
        the movements (the tests hold it to that). Inside `movements_together` they are held
        and inserted as it ends.
        """
        if self._held is not None:
            self._held.extend(rows)
            if self._places is not None:
                self._places.update(row[3] for row in rows)
            return
        totals: dict[tuple[str, str], list[int]] = {}
        for row in rows:
            total = totals.setdefault((row[2], row[3]), [0, 0])
            total[0] += row[4]
            total[1] += row[5]
        if self._places is not None:
            self._places.update(location for _, location in totals)
        with self.atomic():
            self.conn.executemany(
                "INSERT INTO movements (time, kind, sku, location, on_hand, committed, channel, "
                "order_id, line_id, run_id, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            self.conn.executemany(
                "INSERT INTO balances (sku, location, on_hand, committed) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (sku, location) DO UPDATE SET on_hand = on_hand + "
                "excluded.on_hand, committed = committed + excluded.committed",
                [(sku, location, oh, co) for (sku, location), (oh, co) in sorted(totals.items())],
            )
