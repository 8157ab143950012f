"""Reading Shopee orders and returns changed in a window, 15 days at a time.

- `GET /api/v2/order/get_order_list`, time_range_field=update_time, over windows of at most
  15 days ("The maximum date range that may be specified with the time_from and time_to fields
  is 15 days"; a wider one answers order.order_list_invalid_time), cursor paging (page_size
  1..100, `more`, `next_cursor` "" on the last page), every status in one walk
  (request_order_status_pending=true opts into PENDING).
- `GET /api/v2/returns/get_return_list` by update_time over the same windows (page_no from 0,
  "Default is 0"; page_size ≤ 100; `more`).
- `GET /api/v2/order/get_order_detail`, order_sn_list of 1..50, with
  response_optional_fields=item_list (item fields are optional: without it, no lines).

An order read because it changed, whose items show units returned (`returned_qty`, same
schema) while no finished return of it is in the window, has its returns looked up by
creation time from the order's own creation (at most RETURN_LOOKBACK back): otherwise a
restock read in an earlier run would be undone by this run's re-read of the order.

Sources: congminh1254/shopee-sdk@cb231e9b: schemas/v2.order.get_order_list.json,
v2.order.get_order_detail.json, v2.returns.get_return_list.json.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from omnisync.channels.base import ReadProblem
from omnisync.channels.shopee.mapping import RETURN_DONE, ReturnRecord, map_order, parse_return
from omnisync.errors import ChannelResponseError
from omnisync.models import Order
from omnisync.payload import payload_path, validation_message

PAGE = 100  # get_order_list, get_return_list (and get_item_list): page_size ≤ 100
DETAIL_BATCH = 50  # get_order_detail order_sn_list [1, 50] (and get_item_base_info ≤ 50)
WINDOW = timedelta(days=15)
RETURN_LOOKBACK = timedelta(days=90)  # how far back a return of a re-read order is sought
DETAIL_FIELDS = "item_list,pay_time,cancel_by,cancel_reason"

# (path, params, context) -> the answer's `response` object
Getter = Callable[[str, dict[str, Any], str], Awaitable[dict[str, Any]]]
Returns = dict[str, dict[str, ReturnRecord]]  # order_sn -> return_sn -> record


def windows(since: datetime, until: datetime) -> list[tuple[int, int]]:
    """[since, until) as Unix-second ranges of at most 15 days (time_to inclusive)."""
    start = int(since.timestamp())
    end = int(until.timestamp())
    if until.timestamp() > end:
        end += 1
    step = int(WINDOW.total_seconds())
    result: list[tuple[int, int]] = []
    while start < end:
        stop = min(start + step, end)
        result.append((start, stop))
        start = stop
    return result


class OrderReader:
    """The order side of one Shopee channel: which orders changed, with lines and returns."""

    def __init__(self, name: str, get: Getter) -> None:
        self.name = name
        self._get = get
        self.problems: list[ReadProblem] = []  # orders the last read could not map

    async def read(
        self,
        since: datetime,
        until: datetime,
        skus_by_id: Callable[[], Mapping[str, str]],
        listed: asyncio.Event | None = None,
    ) -> AsyncIterator[Order]:
        """The orders of [since, until); lines without a SKU are matched through
        `skus_by_id()`, asked once `listed` (the listings read beside this, if any) is set."""
        self.problems = []
        spans = windows(since, until)
        # Each page's details are asked for as soon as the page comes in, while the cursor
        # chain goes on: the pages depend on each other, their details do not.
        asked: set[str] = set()
        tasks: list[asyncio.Task[list[dict[str, Any]]]] = []

        def detail(order_sns: Iterable[str]) -> None:
            new = [sn for sn in dict.fromkeys(order_sns) if sn not in asked]
            asked.update(new)
            tasks.extend(
                asyncio.create_task(self._details(new[start : start + DETAIL_BATCH]))
                for start in range(0, len(new), DETAIL_BATCH)
            )

        by_order: Returns = defaultdict(dict)
        try:
            _, returned = await asyncio.gather(
                asyncio.gather(*(self._order_sns(span, detail) for span in spans)),
                asyncio.gather(*(self._returns(span, "update_time") for span in spans)),
            )
            _index(by_order, (record for group in returned for record in group))
            detail(sorted(by_order))  # orders with a return in the window but no other change
            details = [order for group in await asyncio.gather(*tasks) for order in group]
        finally:
            for task in tasks:
                task.cancel()
        low, high = since.timestamp(), until.timestamp()
        await self._older_returns(details, by_order, until)
        if listed is not None:
            await listed.wait()
        skus = skus_by_id()
        for raw in details:
            sn = raw.get("order_sn")
            order_sn = str(sn).strip() if isinstance(sn, str | int) and str(sn).strip() else None
            returns = list(by_order.get(order_sn or "", {}).values())
            try:
                # No upper bound: an order dated after the window (a clock ahead) still counts.
                in_window = low <= int(raw["update_time"])
                order = map_order(raw, returns, skus_by_id=skus, channel=self.name)
            except (KeyError, TypeError, ValueError) as exc:
                # One garbled order fails itself (kept as unreadable), never the channel.
                self.problems.append(_unreadable(order_sn, raw, exc))
                continue
            if in_window or any(
                r.status in RETURN_DONE and low <= r.update_time < high for r in returns
            ):
                yield order

    async def _older_returns(
        self, details: Iterable[dict[str, Any]], by_order: Returns, until: datetime
    ) -> None:
        """Returns, finished before this window, of orders whose items show returned units."""
        missing: dict[str, int] = {}
        for raw in details:
            order_sn = str(raw.get("order_sn"))
            items = raw.get("item_list") or ()
            shown = sum(int(i.get("returned_qty") or 0) for i in items if isinstance(i, dict))
            known = sum(
                amount
                for r in by_order.get(order_sn, {}).values()
                if r.status in RETURN_DONE
                for _, _, amount in r.items
            )
            if shown > known:
                missing[order_sn] = int(raw.get("create_time") or 0)
        if not missing:
            return
        oldest = max(datetime.fromtimestamp(min(missing.values()), UTC), until - RETURN_LOOKBACK)
        spans = windows(oldest, until)
        found = await asyncio.gather(*(self._returns(span, "create_time") for span in spans))
        _index(
            by_order,
            (record for group in found for record in group if record.order_sn in missing),
        )

    async def _order_sns(
        self, span: tuple[int, int], detail: Callable[[list[str]], None]
    ) -> list[str]:
        """The order numbers changed in the span; `detail` is handed each page's as it comes."""
        found: list[str] = []
        cursor = ""
        while True:
            page = await self._get(
                "/api/v2/order/get_order_list",
                {
                    "time_range_field": "update_time",
                    "time_from": span[0],
                    "time_to": span[1],
                    "page_size": PAGE,
                    "cursor": cursor,
                    "response_optional_fields": "order_status",
                    "request_order_status_pending": True,
                },
                "reading the order list",
            )
            sns = [str(order["order_sn"]) for order in page.get("order_list") or ()]
            asked, cursor = cursor, str(page.get("next_cursor") or "")
            # A page that repeats orders, or says `more` without a new cursor to get them, is
            # a list not read completely: the channel fails this run, its cursor stays.
            if set(sns) & set(found) or (page.get("more") and cursor in ("", asked)):
                raise ChannelResponseError(
                    self.name,
                    "get_order_list: a page repeats orders or says more follow without a new "
                    "next_cursor; not read completely, tried again next run",
                )
            found += sns
            detail(sns)
            if not page.get("more"):
                return found

    async def _returns(self, span: tuple[int, int], field: str) -> list[ReturnRecord]:
        """Returns whose `field` (update_time or create_time) falls in the span."""
        found: list[ReturnRecord] = []
        page_no = 0
        while True:
            page = await self._get(
                "/api/v2/returns/get_return_list",
                {
                    "page_no": page_no,
                    "page_size": PAGE,
                    f"{field}_from": span[0],
                    f"{field}_to": span[1],
                },
                "reading returns",
            )
            for raw in page.get("return") or ():
                try:
                    found.append(parse_return(raw))
                except (KeyError, TypeError, ValueError):
                    raise ChannelResponseError(
                        self.name, "get_return_list: a return without return_sn / order_sn"
                    ) from None
            if not page.get("more"):
                return found
            page_no += 1

    async def _details(self, order_sns: Sequence[str]) -> list[dict[str, Any]]:
        response = await self._get(
            "/api/v2/order/get_order_detail",
            {
                "order_sn_list": ",".join(order_sns),
                "response_optional_fields": DETAIL_FIELDS,
                "request_order_status_pending": True,
            },
            "reading order details",
        )
        return [o for o in response.get("order_list") or () if isinstance(o, dict)]


def _index(by_order: Returns, records: Iterable[ReturnRecord]) -> None:
    for record in records:
        by_order[record.order_sn][record.return_sn] = record


def _unreadable(order_sn: str | None, raw: Any, exc: Exception) -> ReadProblem:
    """The problem for an order of get_order_detail that does not map, named by its field."""
    if isinstance(exc, ValidationError):
        error = exc.errors(include_url=False)[0]
        field = payload_path(["order_list[]", *error["loc"]])
        message = validation_message(exc, root="order_list[]")
        value = json.dumps(error.get("input"), default=str)[:80]
    else:
        field, value = "order_list[]", ""
        message = "order_list[]: lacks order_status, create_time, update_time or item_list"
    return ReadProblem(f"order {order_sn}", message, order_sn, field, value)
