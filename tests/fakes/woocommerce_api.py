"""A stateful fake of WooCommerce's REST API v3: products, variations, orders, batches.

Real paths under `/wp-json/wc/v3` (or `/?rest_route=/wc/v3/...` on plain permalinks), Basic
auth (or the query-string fallback), page-numbered collections with `X-WP-Total`,
`X-WP-TotalPages` and `Link` headers, `modified_after` with `dates_are_gmt`, `include`, and
batch writes (≤ 100) answering HTTP 200 with per-item errors.

Rules read from WooCommerce core (woocommerce/woocommerce, plugins/woocommerce/) and research
section 8, cited beside each: live SKUs on order lines, a variation's SKU falling back to its
parent's, `manage_stock: "parent"`, `_restock_refunded_items`, auth only when `is_ssl()`.

Woo itself has no rate limit; the host may have few PHP workers (`workers`). Over them it
refuses at once, before PHP runs, as the host's front does (`over_workers`): CloudLinux LVE's
entry-process limit answers 508 "Resource Limit Is Reached", its process limits 503
(https://serversaurus.com.au/knowledge-base/understanding-cloudlinux-resource-limits/), nginx
with php-fpm's workers and queue full 502 (https://developer.upsun.com/posts/2025/when-php-
fpm-runs-out-of-workers-a-502-error-field-guide); or, `over_workers=None`, it queues the
request until a worker is free, as php-fpm's listen backlog does.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlencode

from tests.fakes.server import FakeApp, Receive, Request, Response, Scope, Send

KEY = "ck_fake_key_0123456789abcdef0123456789"
SECRET = "cs_fake_secret_abcdef0123456789abcdef01"
PREFIX = "/wp-json/wc/v3"


class FakeWoo(FakeApp):
    """One shop. Build state with `add_product` / `add_variable` / `add_order`."""

    def __init__(
        self,
        *,
        key: str = KEY,
        secret: str = SECRET,
        drop_auth_header: bool = False,
        latency: float = 0.0,
        sees_https: bool = True,
        plain_permalinks: bool = False,
        workers: int | None = None,
        over_workers: int | None = 508,
    ) -> None:
        super().__init__(latency=latency)
        # The host's PHP workers: requests served at once (None: as many as come). A request
        # holds one for its whole latency, which stands for the network and PHP alike.
        self.workers = workers
        self.over_workers = over_workers  # the status over them; None: queued (see above)
        self.busy = 0  # requests being served now
        self.peak = 0  # the most served at once
        self.refused = 0  # requests answered `over_workers` for want of a worker
        self._free = asyncio.Semaphore(workers) if workers and over_workers is None else None
        self.key, self.secret = key, secret
        self.drop_auth_header = drop_auth_header  # a server that strips Authorization
        # WC_REST_Authentication::authenticate() reads the key (header or query string) only
        # when is_ssl(): behind a proxy that ends TLS without telling WordPress, neither works.
        self.sees_https = sees_https
        # Plain permalinks: no /wp-json/ (WordPress's HTML 404); routes at ?rest_route=.
        self.plain_permalinks = plain_permalinks
        self.deleted: set[int] = set()  # product ids deleted from the shop
        # Batches applied and then answered 504 (the host's proxy gave up waiting).
        self.lose_answers = 0
        self.products: dict[int, dict[str, Any]] = {}
        self.variations: dict[int, dict[int, dict[str, Any]]] = {}
        self.orders: dict[int, dict[str, Any]] = {}
        self.next_id = 100
        self.batch_errors: dict[int, tuple[str, str]] = {}  # id -> (code, message) on write
        self.batches: list[dict[str, Any]] = []
        # Called with the request before it is answered: a test "sells" or edits here.
        self.before: list[Callable[[Request], None]] = []
        # Woo's `woocommerce_stock_amount` filter: every stock write goes through
        # wc_stock_amount(), and a plugin hooked there (decimal or capped stock) can keep
        # another number than the one sent. Identity in core.
        self.stock_amount: Callable[[int], int] = lambda quantity: quantity
        # Page numbers a caching proxy or plugin answers with the previous page's rows (the
        # headers still those of the page asked for): issue 12's dropped pages.
        self.stale_pages: set[int] = set()

    # -- building state -----------------------------------------------------------------

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id

    def add_product(
        self, sku: str, stock: int | None, *, manage_stock: bool = True, kind: str = "simple"
    ) -> int:
        pid = self._id()
        self.products[pid] = {
            "id": pid,
            "name": f"Product {sku}",
            "sku": sku,
            "type": kind,
            "manage_stock": manage_stock,
            "stock_quantity": stock if manage_stock else None,
            "stock_status": "instock",
            "variations": [],
        }
        return pid

    def add_variable(
        self,
        sku: str,
        variations: Sequence[tuple[Any, ...]],
        *,
        stock: int | None = None,
    ) -> tuple[int, list[int]]:
        """A variable product; each variation (own SKU or "", stock[, manage_stock]); `stock`
        makes the parent manage stock for variations that say "parent"."""
        pid = self.add_product(sku, stock, manage_stock=stock is not None, kind="variable")
        ids = []
        self.variations[pid] = {}
        for vsku, vstock, *manage in variations:
            vid = self._id()
            self.variations[pid][vid] = {
                "id": vid,
                "name": f"Variation {vsku or vid}",
                "sku": vsku,
                "manage_stock": manage[0] if manage else True,
                "stock_quantity": vstock,
            }
            ids.append(vid)
        self.products[pid]["variations"] = ids
        return pid, ids

    def add_order(
        self,
        lines: list[tuple[str, int]],
        *,
        status: str = "processing",
        modified: str,
        created: str | None = None,
    ) -> int:
        oid = self._id()
        self.orders[oid] = {
            "id": oid,
            "number": str(oid),
            "status": status,
            "currency": "IDR",
            "date_created_gmt": created or modified,
            "date_modified_gmt": modified,
            "line_items": [
                {
                    "id": oid * 10 + n,
                    "name": sku,
                    **dict(zip(("product_id", "variation_id"), self._ids_of(sku), strict=True)),
                    "quantity": q,
                    "sku": sku,
                    "price": 150000,
                    "meta_data": [],
                }
                for n, (sku, q) in enumerate(lines, start=1)
            ],
            "refunds": [],
        }
        return oid

    def _ids_of(self, sku: str) -> tuple[int, int]:
        """(product_id, variation_id) of the product or variation with this own SKU; a SKU
        the fake has no product for gets (0, 0) and keeps its text (a test shorthand)."""
        for pid, product in self.products.items():
            if product["sku"] == sku:
                return pid, 0
        for pid, variations in self.variations.items():
            for vid, variation in variations.items():
                if variation["sku"] == sku:
                    return pid, vid
        return 0, 0

    def live_sku(self, product_id: int, variation_id: int) -> str | None:
        """A product's SKU as REST shows it now (view context)."""
        product = self.products.get(product_id)
        if product is None:
            return None
        if variation_id:
            variation = self.variations.get(product_id, {}).get(variation_id)
            if variation is None:
                return None
            # WC_Product_Variation::get_sku('view') falls back to the parent's SKU
            # (class-wc-product-variation.php; research section 8).
            return str(variation["sku"] or product["sku"])
        return str(product["sku"])

    def delete_product(self, product_id: int) -> None:
        self.products.pop(product_id)
        self.variations.pop(product_id, None)
        self.deleted.add(product_id)

    def rename(self, sku: str, new_sku: str) -> None:
        product_id, variation_id = self._ids_of(sku)
        if variation_id:
            self.variations[product_id][variation_id]["sku"] = new_sku
        else:
            self.products[product_id]["sku"] = new_sku

    def refund(
        self, order_id: int, restocked: dict[int, int], *, status: str | None = None
    ) -> None:
        """A refund; `restocked` maps line position (from 0) to units put back in stock, as
        wc_restock_refunded_items() records them in the item meta `_restock_refunded_items`
        (wc-order-functions.php), which REST returns in the line's `meta_data`."""
        order = self.orders[order_id]
        for index, units in restocked.items():
            meta = order["line_items"][index]["meta_data"]
            meta.append(
                {"id": len(meta) + 1, "key": "_restock_refunded_items", "value": str(units)}
            )
        order["refunds"].append({"id": self._id(), "reason": "", "total": "-1.00"})
        if status is not None:
            order["status"] = status

    def stock(self, sku: str) -> int | None:
        for product in self.products.values():
            if product["sku"] == sku:
                return product["stock_quantity"]  # type: ignore[no-any-return]
        for variations in self.variations.values():
            for variation in variations.values():
                if variation["sku"] == sku:
                    return variation["stock_quantity"]  # type: ignore[no-any-return]
        raise KeyError(sku)

    def sell(self, sku: str, quantity: int) -> None:
        for product in self.products.values():
            if product["sku"] == sku:
                product["stock_quantity"] -= quantity
                return
        for variations in self.variations.values():
            for variation in variations.values():
                if variation["sku"] == sku:
                    variation["stock_quantity"] -= quantity
                    return
        raise KeyError(sku)

    # -- HTTP ---------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The host in front of WooCommerce: a PHP worker per request, if one is free."""
        if scope["type"] != "http" or self.workers is None:
            await self._served(scope, receive, send)
        elif self._free is not None:
            async with self._free:  # php-fpm's listen queue: wait for a worker
                await self._served(scope, receive, send)
        elif self.busy >= self.workers:
            # Refused before PHP runs: WordPress never sees it, nothing is written.
            self.refused += 1
            self.requests.append(Request(scope["method"], scope["path"], {}, {}, b""))
            while (await receive()).get("more_body"):
                pass
            if self.latency:
                await asyncio.sleep(self.latency)
            body = f"<html><body><h1>{self.over_workers} Resource Limit</h1></body></html>"
            await send(
                {
                    "type": "http.response.start",
                    "status": self.over_workers,
                    "headers": [(b"content-type", b"text/html")],
                }
            )
            await send({"type": "http.response.body", "body": body.encode()})
        else:
            await self._served(scope, receive, send)

    async def _served(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.busy += 1
        self.peak = max(self.peak, self.busy)
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.busy -= 1

    def _authorised(self, request: Request) -> Response | None:
        credentials = None if self.drop_auth_header else request.basic_auth()
        if "consumer_key" in request.query:  # "If the $_GET parameters are present, use those"
            credentials = (request.query["consumer_key"], request.query.get("consumer_secret", ""))
        if not self.sees_https:
            credentials = None  # neither is read unless is_ssl()
        if credentials is None:
            return Response(
                401,
                {
                    "code": "woocommerce_rest_cannot_view",
                    "message": "Sorry, you cannot list resources.",
                    "data": {"status": 401},
                },
            )
        if credentials != (self.key, self.secret):
            return Response(
                401,
                {
                    "code": "woocommerce_rest_authentication_error",
                    "message": "Consumer key is invalid.",
                    "data": {"status": 401},
                },
            )
        return None

    async def handle(self, request: Request) -> Response:
        route = request.query.get("rest_route")
        if request.path.startswith("/wp-json/") and self.plain_permalinks:
            return Response(404, b"<!DOCTYPE html><html><title>Page not found</title></html>")
        if route is not None and request.path.rstrip("/") == "":
            # /?rest_route=/wc/v3/... serves the same routes (research section 8).
            query = {k: v for k, v in request.query.items() if k != "rest_route"}
            request = dataclasses.replace(request, path="/wp-json" + route, query=query)
        if not request.path.startswith(PREFIX):
            return Response(
                404,
                {
                    "code": "rest_no_route",
                    "message": "No route was found.",
                    "data": {"status": 404},
                },
            )
        refused = self._authorised(request)
        if refused is not None:
            return refused
        for hook in list(self.before):
            hook(request)
        path = request.path[len(PREFIX) :].rstrip("/")
        parts = path.strip("/").split("/")
        with self.lock:
            if request.method == "GET" and parts == ["products"]:
                return self._collection(request, list(self.products.values()))
            if request.method == "GET" and parts == ["orders"]:
                return self._orders(request)
            if len(parts) == 3 and parts[0] == "products" and parts[2] == "variations":
                pid = int(parts[1])
                if pid not in self.products:
                    return self._invalid(pid)
                if request.method == "GET":
                    rows = [self._variation(pid, v) for v in self.variations.get(pid, {}).values()]
                    return self._collection(request, rows)
            if request.method == "POST" and parts == ["products", "batch"]:
                return self._batch(request, self.products)
            if (
                request.method == "POST"
                and len(parts) == 4
                and parts[0] == "products"
                and parts[2:] == ["variations", "batch"]
            ):
                return self._batch(request, self.variations.get(int(parts[1]), {}))
        return Response(
            404,
            {"code": "rest_no_route", "message": "No route was found.", "data": {"status": 404}},
        )

    @staticmethod
    def _invalid(item: int) -> Response:
        return Response(
            404,
            {
                "code": "woocommerce_rest_product_invalid_id",
                "message": "Invalid ID.",
                "data": {"status": 404},
            },
        )

    def _page(self, request: Request, rows: list[dict[str, Any]]) -> Response:
        per_page = int(request.query.get("per_page", 10))
        if not 1 <= per_page <= 100:
            return Response(
                400,
                {
                    "code": "rest_invalid_param",
                    "message": "Invalid parameter(s): per_page",
                    "data": {"status": 400},
                },
            )
        page = int(request.query.get("page", 1))
        total = len(rows)
        pages = max(1, math.ceil(total / per_page))
        shown = page - 1 if page in self.stale_pages and page > 1 else page
        chunk = rows[(shown - 1) * per_page : shown * per_page]
        if "_fields" in request.query:
            wanted = request.query["_fields"].split(",")
            chunk = [{k: row[k] for k in wanted if k in row} for row in chunk]
        links = []
        query = {k: v for k, v in request.query.items() if not k.startswith("consumer_")}
        base = f"https://shop.example{request.path}"
        if page < pages:
            links.append(f'<{base}?{urlencode(query | {"page": page + 1})}>; rel="next"')
        if page > 1:
            links.append(f'<{base}?{urlencode(query | {"page": page - 1})}>; rel="prev"')
        headers = {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)}
        if links:
            headers["Link"] = ", ".join(links)
        return Response(200, chunk, headers)

    def _variation(self, pid: int, variation: dict[str, Any]) -> dict[str, Any]:
        """A variation as REST shows it (view context): no own SKU shows the parent's; stock
        managed by the parent shows the parent's quantity (class-wc-product-variation.php)."""
        parent = self.products[pid]
        shown = dict(variation, sku=variation["sku"] or parent["sku"])
        if variation["manage_stock"] == "parent":
            shown["stock_quantity"] = parent["stock_quantity"]
        return shown

    def _order(self, row: dict[str, Any]) -> dict[str, Any]:
        """An order as REST shows it: each line's `sku` looked up live from its product
        (`get_order_item_data()`, class-wc-rest-orders-v2-controller.php): null once the
        product is deleted."""
        lines = []
        for line in row["line_items"]:
            if line["product_id"] in self.products or line["product_id"] in self.deleted:
                line = dict(line, sku=self.live_sku(line["product_id"], line["variation_id"]))
            lines.append(line)
        return dict(row, line_items=lines)

    def _collection(self, request: Request, rows: list[dict[str, Any]]) -> Response:
        rows = sorted(rows, key=lambda row: row["id"])
        if "include" in request.query:
            wanted = {int(x) for x in request.query["include"].split(",") if x}
            rows = [row for row in rows if row["id"] in wanted]
        return self._page(request, rows)

    def _orders(self, request: Request) -> Response:
        status = request.query.get("status", "any")
        if status == "any":  # as Woo's: every status but trash
            rows = [row for row in self.orders.values() if row["status"] != "trash"]
        else:
            wanted = set(status.split(","))
            rows = [row for row in self.orders.values() if row["status"] in wanted]
        if request.query.get("dates_are_gmt") != "true" and "modified_after" in request.query:
            return Response(
                400,
                {
                    "code": "fake_needs_gmt",
                    "message": "send dates_are_gmt=true",
                    "data": {"status": 400},
                },
            )
        if "modified_after" in request.query:
            after = request.query["modified_after"]
            rows = [row for row in rows if row["date_modified_gmt"] > after]  # exclusive
        if "modified_before" in request.query:
            before = request.query["modified_before"]
            rows = [row for row in rows if row["date_modified_gmt"] < before]
        orderby = request.query.get("orderby", "date")
        key = "id" if orderby == "id" else "date_created_gmt"
        rows.sort(
            key=lambda row: (row[key], row["id"]),
            reverse=request.query.get("order", "desc") == "desc",
        )
        return self._page(request, [self._order(row) for row in rows])

    def _batch(self, request: Request, items: dict[int, dict[str, Any]]) -> Response:
        body = request.json() or {}
        updates = body.get("update", [])
        if len(updates) + len(body.get("create", [])) + len(body.get("delete", [])) > 100:
            return Response(
                413,
                {
                    "code": "woocommerce_rest_request_entity_too_large",
                    "message": "Unable to accept more than 100 items for this request.",
                    "data": {"status": 413},
                },
            )
        self.batches.append(body)
        lose = self.lose_answers > 0
        self.lose_answers -= lose
        answers = []
        for update in updates:
            item_id = update.get("id")
            item = items.get(item_id)
            if item_id in self.batch_errors:
                code, message = self.batch_errors[item_id]
                answers.append(
                    {
                        "id": item_id,
                        "error": {"code": code, "message": message, "data": {"status": 400}},
                    }
                )
            elif item is None:
                answers.append(
                    {
                        "id": item_id,
                        "error": {
                            "code": "woocommerce_rest_product_invalid_id",
                            "message": "Invalid ID.",
                            "data": {"status": 400},
                        },
                    }
                )
            else:
                if "manage_stock" in update:
                    item["manage_stock"] = update["manage_stock"]
                # A product that does not manage stock ignores a quantity and answers
                # `stock_quantity: null` (research section 8, read from WooCommerce core).
                if "stock_quantity" in update and item["manage_stock"] is True:
                    item["stock_quantity"] = self.stock_amount(update["stock_quantity"])
                elif not item["manage_stock"]:
                    item["stock_quantity"] = None
                answers.append(dict(item))
        if lose:  # applied, but the answer never reached the client
            return Response(504, b"<html><body>504 Gateway Time-out</body></html>")
        return Response(200, {"update": answers})
