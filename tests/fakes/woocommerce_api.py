"""A stateful fake of WooCommerce's REST API v3: products, variations, orders, batches.

Real paths under `/wp-json/wc/v3`, Basic auth (or the query-string fallback), page-numbered
collections with `X-WP-Total`, `X-WP-TotalPages` and `Link` headers, `modified_after` with
`dates_are_gmt`, `include`, and batch writes (≤ 100) answering HTTP 200 with per-item errors.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from tests.fakes.server import FakeApp, Request, Response

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
    ) -> None:
        super().__init__(latency=latency)
        self.key, self.secret = key, secret
        self.drop_auth_header = drop_auth_header  # a server that strips Authorization
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

    def add_variable(self, sku: str, variations: list[tuple[str, int]]) -> tuple[int, list[int]]:
        pid = self.add_product(sku, None, manage_stock=False, kind="variable")
        ids = []
        self.variations[pid] = {}
        for vsku, stock in variations:
            vid = self._id()
            self.variations[pid][vid] = {
                "id": vid,
                "name": f"Variation {vsku}",
                "sku": vsku,
                "manage_stock": True,
                "stock_quantity": stock,
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
                    "product_id": 1,
                    "variation_id": 0,
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

    def _authorised(self, request: Request) -> Response | None:
        credentials = None if self.drop_auth_header else request.basic_auth()
        if credentials is None and "consumer_key" in request.query:
            credentials = (request.query["consumer_key"], request.query.get("consumer_secret", ""))
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
                    return self._collection(request, list(self.variations.get(pid, {}).values()))
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
        chunk = rows[(page - 1) * per_page : page * per_page]
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
        return self._page(request, rows)

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
        return Response(200, {"update": answers})
