"""The JSON-file channel reads its file strictly: a mistake in it fails the channel, by name."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from omnisync.channels.fake import FakeChannel
from omnisync.errors import ChannelResponseError
from omnisync.models import Order, QuantityChange
from tests.helpers import listing, order

SINCE = datetime(2026, 11, 1, tzinfo=UTC)
UNTIL = datetime(2026, 12, 1, tzinfo=UTC)


def channel(tmp_path: Path, content: dict[str, Any]) -> FakeChannel:
    path = tmp_path / "web.json"
    path.write_text(json.dumps(content, indent=2))
    return FakeChannel("web", path)


def read_all(fake: FakeChannel) -> tuple[list[Any], list[Order]]:
    async def both() -> tuple[list[Any], list[Order]]:
        listings = await fake.list_listings()
        orders = [o async for o in fake.fetch_orders(updated_since=SINCE, updated_until=UNTIL)]
        return listings, orders

    return asyncio.run(both())


def push(fake: FakeChannel, *changes: QuantityChange) -> list[Any]:
    return asyncio.run(fake.push_quantities(changes, run_id=1))


def _misspelt_line_status() -> dict[str, Any]:
    cancelled = order("1001", "paid", [("TEE-M", 2)])
    cancelled["lines"][0]["stauts"] = "cancelled"
    return {"listings": [listing("L1", "TEE-M", 5)], "orders": [cancelled]}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(
            {"listings": [{**listing("L1", "TEE-M", 5), "qty": 4}], "orders": []},
            "listings[0].qty: extra inputs are not permitted",
            id="unknown-listing-field",
        ),
        pytest.param(
            {"listings": [], "orders": [], "sales_during_synk": []},
            "sales_during_synk: unknown field (expected one of: listings, orders, "
            "sales_during_sync)",
            id="misspelt-top-level-key",
        ),
        pytest.param(
            # Read as 5, it would be compared with the "5" still in the file before every
            # write: a conflict on each run, and the listing never written.
            {"listings": [{"id": "L1", "sku": "TEE-M", "quantity": "5"}], "orders": []},
            "listings[0].quantity: input should be a valid integer",
            id="quantity-as-text",
        ),
    ],
)
def test_a_mistake_in_the_file_fails_the_channel_naming_where(
    tmp_path: Path, content: dict[str, Any], message: str
) -> None:
    fake = channel(tmp_path, content)
    with pytest.raises(ChannelResponseError) as caught:
        read_all(fake)
    assert str(caught.value) == f"web: {fake.path}: {message}"


def test_a_mistake_in_one_order_makes_that_order_unreadable_and_the_others_read(
    tmp_path: Path,
) -> None:
    # Issue 12: a bad order fails itself, named by its field, never the channel.
    content = _misspelt_line_status()
    content["orders"].append(order("1002", "paid", [("TEE-M", 1)]))
    fake = channel(tmp_path, content)
    _, orders = read_all(fake)
    assert [o.id for o in orders] == ["1002"]
    [problem] = fake.read_problems()
    assert (problem.order_id, problem.field) == ("1001", "orders[0].lines[0].stauts")
    assert "extra inputs are not permitted" in problem.message


def test_a_malformed_sale_during_sync_fails_the_push_and_writes_nothing(tmp_path: Path) -> None:
    sale = order("1002", "paid", [("TEE-M", 1)])
    del sale["lines"][0]["quantity"]
    fake = channel(tmp_path, {"listings": [listing("L1", "TEE-M", 5)], "sales_during_sync": [sale]})
    before = fake.path.read_bytes()
    with pytest.raises(ChannelResponseError) as caught:
        push(fake, QuantityChange("L1", "TEE-M", expected=5, target=3))
    assert str(caught.value) == (
        f"web: {fake.path}: sales_during_sync[0].lines[0].quantity: field required"
    )
    assert fake.path.read_bytes() == before


def test_sales_during_sync_land_between_the_read_and_the_write(tmp_path: Path) -> None:
    sold = order("1002", "paid", [("TEE-M", 2)])
    cancelled = order("1003", "cancelled", [("TEE-M", 1)])
    fake = channel(
        tmp_path,
        {
            "listings": [listing("L1", "TEE-M", 5), listing("L2", "MUG", 4)],
            "sales_during_sync": [sold, cancelled],
        },
    )
    [listed_tee, _] = read_all(fake)[0]
    assert listed_tee.quantity == 5

    results = push(
        fake,
        QuantityChange("L1", "TEE-M", expected=5, target=1),
        QuantityChange("L2", "MUG", expected=4, target=2),
    )

    # The paid sale took 2 of the 5 read: the write against 5 is refused; a cancelled one
    # takes nothing, and the other listing is written.
    outcomes = {r.listing_id: (r.outcome, r.current) for r in results}
    assert outcomes == {"L1": ("conflict", 3), "L2": ("written", None)}
    listings, orders = read_all(fake)
    assert {item.id: item.quantity for item in listings} == {"L1": 3, "L2": 2}
    assert [o.id for o in orders] == ["1002", "1003"]
    assert "sales_during_sync" not in json.loads(fake.path.read_text())


def test_a_run_parses_the_file_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = channel(tmp_path, {"listings": [listing("L1", "TEE-M", 5)], "orders": []})
    loads = 0
    parse = json.loads

    def counted(text: str) -> Any:
        nonlocal loads
        loads += 1
        return parse(text)

    monkeypatch.setattr(json, "loads", counted)
    read_all(fake)
    assert push(fake, QuantityChange("L1", "TEE-M", expected=5, target=3))[0].outcome == "written"
    assert loads == 1  # listings, orders and the write's re-read share one parse
    # The write changed the file: the next read parses it again and sees what was written.
    assert [item.quantity for item in read_all(fake)[0]] == [3]
    assert loads == 2


def test_a_file_written_by_someone_else_after_the_read_is_read_again(tmp_path: Path) -> None:
    fake = channel(tmp_path, {"listings": [listing("L1", "TEE-M", 5)], "orders": []})
    assert [item.quantity for item in read_all(fake)[0]] == [5]
    # Another program sells one between omnisync's read and its write, rewriting the file
    # in place at the same size (so likely within the same file timestamp too).
    changed = {"listings": [listing("L1", "TEE-M", 4)], "orders": []}
    fake.path.write_text(json.dumps(changed, indent=2))

    [result] = push(fake, QuantityChange("L1", "TEE-M", expected=5, target=3))

    assert (result.outcome, result.current) == ("conflict", 4)
