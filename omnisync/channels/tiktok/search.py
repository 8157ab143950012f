"""TikTok Shop's endpoints and their documented sizes, the walk of a search's pages, and
how a read started beside another is stopped."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any, TypeVar

from omnisync.channels.tiktok import payloads
from omnisync.channels.tiktok.client import TikTokApi
from omnisync.errors import ChannelResponseError

P = TypeVar("P", bound=payloads.Page)

# See the table in channel.py's docstring for where each one is documented.
PRODUCTS_PATH = "/product/202502/products/search"
ORDERS_PATH = "/order/202309/orders/search"
ORDER_DETAIL_PATH = "/order/202507/orders"
RETURNS_PATH = "/return_refund/202309/returns/search"
INVENTORY_PATH = "/product/202309/inventory/search"
UPDATE_PATH = "/product/202309/products/{product_id}/inventory/update"

PRODUCT_PAGE = 100  # search-products: page_size [1-100]
ORDER_PAGE = 100  # get-order-list: page_size [1-100]
RETURN_PAGE = 50  # search-returns: page_size [10-50]
DETAIL_IDS = 50  # get-order-detail: ids, max 50
INVENTORY_SKUS = 600  # inventory-search: sku_ids, max 600
UPDATE_SKUS = 100  # update-inventory: 12052050, at most 100 SKUs of one product
# update-inventory: `quantity` "Valid range: [1, 99,999]" per warehouse; above it 12052055.
# 0 is written to sell out (the doc's lower bound is UNVERIFIED in practice, see the docs).
MAX_QUANTITY = 99_999


async def pages(
    api: TikTokApi,
    path: str,
    body: dict[str, Any],
    size: int,
    model: type[P],
    *,
    context: str,
    sort: bool = False,
) -> AsyncGenerator[P, None]:
    """Every page of a search, following `next_page_token` until it comes back empty."""
    token = ""
    while True:
        query: dict[str, str | int] = {"page_size": size}
        if sort:
            query |= {"sort_field": "update_time", "sort_order": "ASC"}
        if token:
            query["page_token"] = token
        data = await api.call("POST", path, model, query=query, body=body, context=context)
        yield data
        asked, token = token, data.next_page_token or ""
        if token and token == asked:
            # The same page again: following it would loop or skip what comes after.
            raise ChannelResponseError(
                api.name,
                f"{context}: the next page token is the one just asked; not read "
                f"completely, tried again next run",
            )
        if not token:
            return


async def stopped(*tasks: asyncio.Future[Any]) -> None:
    """Cancel `tasks` and wait until each has stopped: a task only asked to stop may still
    send a request, and its failure, if any, is not the caller's to report."""
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def ahead(source: AsyncGenerator[P, None]) -> AsyncGenerator[P, None]:
    """`source`'s pages, each next one asked for as soon as the one before is in, so what is
    done with a page (its orders' returns looked up) overlaps the next one's round trip.

    Walk it inside `contextlib.aclosing`: a reader that stops early (its own failure, a
    cancellation) must close it, or the next page's request goes on without anyone waiting
    for it until the generator is collected."""
    coming = asyncio.ensure_future(anext(source, None))
    try:
        while (page := await coming) is not None:
            coming = asyncio.ensure_future(anext(source, None))
            yield page
    finally:
        # Let go early (a failure, or the reader stopped): the page asked for is not waited
        # for, and its own failure, if any, is not reported twice.
        await stopped(coming)
        await source.aclose()
