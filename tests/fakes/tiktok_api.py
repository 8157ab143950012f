"""A stateful fake of the TikTok Shop Partner API (202309+) and its token service.

Every rule below is TikTok's, cited beside it. "docs" is partner.tiktokshop.com as scraped in
lazykern/ecommerce-api-docs@eba059e3 (data/raw/tiktok/...): `developer-guide/tiktok-shop-api-
concepts/{sign-your-api-request,common-errors,rate-limits}.json`, `developer-guide/get-started/
authorization/authorization-overview-202407.json`, and the API specs under `api-reference/`
(`authorization/get-authorized-shops`, `products/{search-products,inventory-search,update-
inventory}`, `orders/{get-order-list,get-order-detail}`, `return-and-refund/search-returns`).

HTTP statuses of refusals are not documented: a public field report (17/09/2026, seen through
the code search index) saw HTTP 400 with code 36009004 for a bad app_key and HTTP 404 with
36009009 for an unknown path; a captured answer to a bad sign is HTTP 401 with 106001 and
`"data": null` (https://tiktok-api.gemyno-lab.fr/scripts/get_shops.php); 401 for an expired
or unknown token is an assumption, so the adapter must (and does) decide by the body's
`code`, whatever the status. The token host answers a refused grant with HTTP 200 and a code
(observed live: 36004004 bad auth code, 36004005 "can not find related auth record" for an
unknown refresh token; EcomPHP/tiktokshop-php#15: 36004001 "rt has expired").
"""

from __future__ import annotations

import email.utils
import hmac
import time
from collections.abc import Callable
from typing import Any

from tests.fakes.quota import Quota, arrive
from tests.fakes.server import FakeApp, Receive, Request, Response, Scope, Send
from tests.fakes.tiktok_protocol import envelope, error, expected_sign, page_offset, page_token
from tests.fakes.tiktok_write import InventoryWrites

APP_KEY = "6abc1fake2key"
APP_SECRET = "fake0tiktok0secret0e59af819cc0123"
SHOP_CIPHER = "ROW_fakeCipherAAAB8tKAVoAqsMTjsQZF"
SHOP_ID = "7494105515082810525"
AUTH_CODE = "TTP_fakeAuthCodeFeBoANmHP3yqdoUI9fZOCw"

# Shop-scoped paths need `shop_cipher` (common-errors.json 106013); the shops list and the
# token service do not.
UNSCOPED = ("/authorization/202309/shops", "/api/v2/token/get", "/api/v2/token/refresh")
ACCESS_LIFETIME = 7 * 86400  # "default expiration time set to seven days" (authorization-overview)
REFRESH_LIFETIME = 60 * 86400  # not documented; long enough not to matter unless a test says so


class FakeTikTok(InventoryWrites, FakeApp):
    """One app and one shop. Build state with `add_product` / `add_order` / `add_return`."""

    def __init__(
        self,
        *,
        latency: float = 0.0,
        qps: float | None = 50.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(latency=latency)
        self.repeat_order_pages = 0  # later order pages answered with the previous page
        self._last_orders: Response | None = None
        self.clock = clock  # the platform's clock (tests move it to fake a skewed machine)
        self.qps = qps
        self.quota = Quota()  # counted by arrival, as a gateway counts
        self.throttled = 0  # requests answered 429
        self.shops = [
            {
                "id": SHOP_ID,
                "name": "Toko Fake",
                "region": "ID",
                "seller_type": "LOCAL",
                "cipher": SHOP_CIPHER,
                "code": "IDLCFAKE01",
            }
        ]
        self.access: dict[str, float] = {}  # token -> expiry (platform clock)
        self.refresh: dict[str, float] = {}
        self.codes = {AUTH_CODE: self.clock() + 1800}  # auth_code: 30 min, single use
        self.issued = 0
        self.products: dict[str, dict[str, Any]] = {}
        self.sku_product: dict[str, str] = {}
        self.orders: dict[str, dict[str, Any]] = {}
        self.returns: list[dict[str, Any]] = []
        self.locked: dict[str, int] = {}  # sku id -> promotion floor (12052393)
        self.updates: list[dict[str, Any]] = []
        self.next_id = 1729000000000000000
        self.before: list[Callable[[Request], None]] = []

    # -- state ------------------------------------------------------------------------------

    def _id(self) -> str:
        self.next_id += 1
        return str(self.next_id)

    def issue(self, *, access_ttl: float = ACCESS_LIFETIME) -> dict[str, Any]:
        """A fresh token pair, as Get Access Token / Refresh Token answer it."""
        self.issued += 1
        now = self.clock()
        access, refresh = f"TTP_access_{self.issued}_x9", f"TTP_refresh_{self.issued}_y7"
        self.access[access] = now + access_ttl
        self.refresh[refresh] = now + REFRESH_LIFETIME
        return {
            "access_token": access,
            "access_token_expire_in": int(now + access_ttl),
            "refresh_token": refresh,
            "refresh_token_expire_in": int(now + REFRESH_LIFETIME),
            "open_id": "7010736057180325637",
            "seller_name": "Toko Fake",
            "seller_base_region": "ID",
            "user_type": 0,
            "granted_scopes": ["seller.product.basic", "seller.product.write"],
        }

    def expire_access(self) -> None:
        for token in self.access:
            self.access[token] = self.clock() - 1

    def add_product(
        self, skus: list[tuple[str, dict[str, int] | int]], *, status: str = "ACTIVATE"
    ) -> str:
        """A product whose SKUs are (seller_sku, quantity or {warehouse_id: quantity})."""
        pid = self._id()
        rows = []
        for seller_sku, stock in skus:
            sid = self._id()
            warehouses = stock if isinstance(stock, dict) else {"7068517275539719942": stock}
            rows.append({"id": sid, "seller_sku": seller_sku, "warehouses": dict(warehouses)})
            self.sku_product[sid] = pid
        self.products[pid] = {
            "id": pid,
            "title": f"Product {pid}",
            "status": status,
            "skus": rows,
            "update_time": int(self.clock()),
        }
        return pid

    def sku(self, seller_sku: str) -> dict[str, Any]:
        for product in self.products.values():
            for row in product["skus"]:
                if row["seller_sku"] == seller_sku:
                    return dict(row, product_id=product["id"])
        raise KeyError(seller_sku)

    def stock(self, seller_sku: str) -> int:
        return sum(self.sku(seller_sku)["warehouses"].values())

    def sell(self, seller_sku: str, quantity: int) -> None:
        row = self.sku(seller_sku)
        target = self.products[row["product_id"]]["skus"]
        for sku in target:
            if sku["id"] == row["id"]:
                first = next(iter(sku["warehouses"]))
                sku["warehouses"][first] -= quantity

    def add_order(
        self,
        lines: list[tuple[str, int]],
        *,
        status: str = "AWAITING_SHIPMENT",
        update_time: int | None = None,
        create_time: int | None = None,
        blank_sku: bool = False,
    ) -> str:
        """An order; each (seller_sku, units) becomes `units` line items of one unit each
        (get-order-list.spec.json has no quantity field on line_items)."""
        oid = self._id()
        now = int(self.clock())
        items = []
        for seller_sku, units in lines:
            row = self.sku(seller_sku)
            for _ in range(units):
                items.append(
                    {
                        "id": self._id(),
                        "sku_id": row["id"],
                        "product_id": row["product_id"],
                        "seller_sku": "" if blank_sku else seller_sku,
                        "display_status": status,
                        "sale_price": "150000",
                        "currency": "IDR",
                        "is_gift": False,
                    }
                )
        self.orders[oid] = {
            "id": oid,
            "status": status,
            "create_time": create_time or now,
            "update_time": update_time or now,
            "line_items": items,
        }
        return oid

    def set_status(self, oid: str, status: str, *, update_time: int | None = None) -> None:
        order = self.orders[oid]
        order["status"] = status
        order["update_time"] = update_time or int(self.clock())
        for item in order["line_items"]:
            item["display_status"] = status

    def add_return(
        self,
        oid: str,
        line_ids: list[str],
        *,
        return_type: str = "RETURN_AND_REFUND",
        status: str = "RETURN_OR_REFUND_REQUEST_COMPLETE",
        update_time: int | None = None,
        keep: bool = False,
    ) -> None:
        items = {i["id"]: i for i in self.orders[oid]["line_items"]}
        self.returns.append(
            {
                "order_id": oid,
                "return_id": self._id(),
                "return_type": return_type,
                "return_status": status,
                "can_buyer_keep_item": keep,
                "create_time": update_time or int(self.clock()),
                "update_time": update_time or int(self.clock()),
                "return_line_items": [
                    {
                        "return_line_item_id": self._id(),
                        "order_line_item_id": line,
                        "sku_id": items[line]["sku_id"],
                        "seller_sku": items[line]["seller_sku"],
                    }
                    for line in line_ids
                ],
            }
        )

    # -- the gate every request passes ------------------------------------------------------

    def _date(self) -> str:
        return email.utils.formatdate(self.clock(), usegmt=True)

    def _throttled(self, path: str) -> bool:
        # rate-limits.json: 50 QPS per API for each app + shop; beyond it HTTP 429.
        if self.qps is None:
            return False
        api = path if "/inventory/update" not in path else "update"
        if self.quota.admit(api, self.qps):
            return False
        self.throttled += 1
        return True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        parent = super().__call__
        await arrive(lambda: parent(scope, receive, send))

    def _gate(self, request: Request) -> Response | None:
        q = request.query
        token_call = request.path.startswith("/api/v2/token/")
        if q.get("app_key") != APP_KEY:
            # common-errors.json: 36009004 "Invalid credentials. Invalid `app_key` query
            # parameter." (HTTP 400 in the field report cited above)
            return error(400, 36009004, "Invalid credentials. Invalid `app_key` query parameter.")
        if token_call:
            if q.get("app_secret") != APP_SECRET:
                return error(200, 36004004, "invalid app_secret")  # code UNVERIFIED
            return None
        # Every spec's request_header_param: content-type "Allowed type: application/json",
        # required; common-errors.json 36009022 for another body format.
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return error(
                400,
                36009022,
                "Invalid request format. The request body format must be `application/json` "
                "for structured data or `multipart/form-data` for binary files.",
            )
        if "sign" not in q:
            return error(
                400,
                36009004,
                "Missing credentials. The request does not include a required signature in "
                "the query.",
            )
        try:
            stamp = int(q.get("timestamp", ""))
        except ValueError:
            stamp = -1
        now = self.clock()
        # common-errors.json: timestamps "must lie within the range of 5 minutes before to
        # 30 seconds beyond the current time".
        if stamp < now - 300:
            return error(
                400,
                36009004,
                "Invalid timestamp. The value of the `timestamp` query parameter must not be "
                "earlier than 5 minutes before the current time.",
            )
        if stamp > now + 30:
            return error(
                400,
                36009004,
                "Invalid timestamp. The value of the `timestamp` query parameter must not "
                "exceed the current time by more than 30 seconds.",
            )
        if not hmac.compare_digest(
            q["sign"], expected_sign(APP_SECRET, request.path, q, request.body)
        ):
            return error(401, 106001, "Invalid credentials. The `sign` query parameter is invalid.")
        token = request.headers.get("x-tts-access-token", "")
        if token not in self.access:
            return error(
                401, 36009004, "Invalid credentials. The `x-tts-access-token` header is invalid."
            )
        if self.access[token] <= now:
            return error(
                401,
                105002,
                "Expired credentials. The `access_token` or `x-tts-access-token` "
                "header has expired.",
            )
        if request.path in UNSCOPED and "shop_cipher" in q:
            # common-errors.json: "Unexpected identifier. The `shop_cipher` query parameter
            # is not required for this request."
            return error(
                400,
                36009004,
                "Unexpected identifier. The `shop_cipher` query parameter is not required for "
                "this request.",
            )
        if request.path not in UNSCOPED:
            if not q.get("shop_cipher"):
                return error(
                    400,
                    106013,
                    "Missing identifier. The `shop_cipher` query parameter is required to "
                    "identify the target shop.",
                )
            if q["shop_cipher"] != SHOP_CIPHER:
                return error(400, 36009004, "Invalid identifier. The `shop_cipher` is invalid.")
        if self._throttled(request.path):
            return error(429, 36009002, "Too many requests.")
        return None

    async def handle(self, request: Request) -> Response:
        with self.lock:
            for hook in list(self.before):
                hook(request)
            response = self._gate(request) or self._route(request)
        response.headers.setdefault("Date", self._date())
        return response

    def _route(self, request: Request) -> Response:
        path, method = request.path, request.method
        if method == "GET" and path == "/api/v2/token/get":
            return self._token_get(request)
        if method == "GET" and path == "/api/v2/token/refresh":
            return self._token_refresh(request)
        if method == "GET" and path == "/authorization/202309/shops":
            return Response(200, envelope({"shops": self.shops}))
        if method == "POST" and path == "/product/202502/products/search":
            return self._products(request)
        if method == "POST" and path == "/product/202309/inventory/search":
            return self._inventory(request)
        if method == "POST" and path.startswith("/product/202309/products/"):
            if path.endswith("/inventory/update"):
                return self._update(request, path.split("/")[4])
        if method == "POST" and path == "/order/202309/orders/search":
            return self._orders(request)
        if method == "GET" and path == "/order/202507/orders":
            return self._order_detail(request)
        if method == "POST" and path == "/return_refund/202309/returns/search":
            return self._returns(request)
        # common-errors.json 36009009 "Invalid path" (HTTP 404 in the field report).
        return error(404, 36009009, "Invalid path.")

    # -- tokens (authorization-overview-202407.json) ----------------------------------------

    # Refusals: HTTP 200 and a code (see the module docstring); messages UNVERIFIED.

    def _token_get(self, request: Request) -> Response:
        code = request.query.get("auth_code", "")
        if request.query.get("grant_type") != "authorized_code":
            return error(200, 36004004, "grant_type must be authorized_code")
        expiry = self.codes.pop(code, None)  # "can only be used once"
        if expiry is None or expiry <= self.clock():
            return error(200, 36004004, "invalid auth_code")
        return Response(200, envelope(self.issue()))

    def _token_refresh(self, request: Request) -> Response:
        if request.query.get("grant_type") != "refresh_token":
            return error(200, 36004004, "grant_type must be refresh_token")
        token = request.query.get("refresh_token", "")
        expiry = self.refresh.pop(token, None)  # rotated: the old one is refused from now on
        if expiry is None:
            return error(200, 36004005, "can not find related auth record")
        if expiry <= self.clock():
            return error(200, 36004001, "rt has expired")
        return Response(200, envelope(self.issue()))

    # -- reads ------------------------------------------------------------------------------

    @staticmethod
    def _page(
        request: Request, rows: list[Any], low: int, high: int, default: int
    ) -> tuple[list[Any], str] | Response:
        raw = request.query.get("page_size", str(default))
        if not raw.isdigit() or not low <= int(raw) <= high:
            return error(400, 12019109, "page size is invalid")  # search-products errors
        size = int(raw)
        start = 0
        if request.query.get("page_token"):
            offset = page_offset(request.query["page_token"])
            if offset is None:
                return error(400, 12019108, "page number is invalid")
            start = offset
        chunk = rows[start : start + size]
        # next_page_token empty on the last page (UNVERIFIED whether absent or "": "" here)
        token = page_token(start + size) if start + size < len(rows) else ""
        return chunk, token

    def _products(self, request: Request) -> Response:
        body = request.json() or {}
        wanted = body.get("status")
        rows = [
            p for p in self.products.values() if wanted in (None, "ALL") or p["status"] == wanted
        ]
        if len(rows) > 10000:  # 12052180: "The total number of search results can not exceed"
            return error(400, 12052180, "The total number of search results can not exceed 10000.")
        page = self._page(request, rows, 1, 100, 20)
        if isinstance(page, Response):
            return page
        chunk, token = page
        products = [
            {
                "id": p["id"],
                "title": p["title"],
                "status": p["status"],
                "update_time": p["update_time"],
                "skus": [
                    {
                        "id": s["id"],
                        "seller_sku": s["seller_sku"],
                        "inventory": [
                            {"warehouse_id": w, "quantity": n} for w, n in s["warehouses"].items()
                        ],
                    }
                    for s in p["skus"]
                ],
            }
            for p in chunk
        ]
        data = {"products": products, "total_count": len(rows), "next_page_token": token}
        return Response(200, envelope(data))

    def _inventory(self, request: Request) -> Response:
        body = request.json() or {}
        sku_ids = [str(s) for s in body.get("sku_ids") or []]
        product_ids = [str(p) for p in body.get("product_ids") or []]
        if len(sku_ids) > 600:
            return error(400, 12019015, "The number of SKU exceed the limit")
        if len(product_ids) > 100:
            return error(400, 12019120, "The number of provided product IDs exceeds the limit.")
        wanted: dict[str, list[dict[str, Any]]] = {}
        for product in self.products.values():
            for sku in product["skus"]:
                # "If both `sku_ids` and `product_ids` are passed, `sku_ids` will take precedence"
                hit = sku["id"] in sku_ids if sku_ids else product["id"] in product_ids
                if hit:
                    wanted.setdefault(product["id"], []).append(sku)
        inventory = [
            {
                "product_id": pid,
                "skus": [
                    {
                        "id": s["id"],
                        "seller_sku": s["seller_sku"],
                        "total_available_quantity": sum(s["warehouses"].values()),
                        "total_committed_quantity": 0,
                        "warehouse_inventory": [
                            {"warehouse_id": w, "available_quantity": n, "committed_quantity": 0}
                            for w, n in s["warehouses"].items()
                        ],
                    }
                    for s in skus
                ],
            }
            for pid, skus in wanted.items()
        ]
        return Response(200, envelope({"inventory": inventory}))

    def _orders(self, request: Request) -> Response:
        if self.repeat_order_pages and request.query.get("page_token") and self._last_orders:
            # A caching proxy answers a later page with the one before (issue 12).
            self.repeat_order_pages -= 1
            return self._last_orders
        self._last_orders = self._order_page(request)
        return self._last_orders

    def _order_page(self, request: Request) -> Response:
        body = request.json() or {}
        rows = list(self.orders.values())
        if "update_time_ge" in body:  # ge inclusive, lt exclusive (get-order-list.spec.json)
            rows = [o for o in rows if o["update_time"] >= int(body["update_time_ge"])]
        if "update_time_lt" in body:
            rows = [o for o in rows if o["update_time"] < int(body["update_time_lt"])]
        field = request.query.get("sort_field", "create_time")  # default create_time, DESC
        rows.sort(key=lambda o: (o[field], o["id"]))
        if request.query.get("sort_order", "DESC") == "DESC":
            rows.reverse()
        page = self._page(request, rows, 1, 100, 20)
        if isinstance(page, Response):
            return page
        chunk, token = page
        data = {"orders": chunk, "total_count": len(rows), "next_page_token": token}
        return Response(200, envelope(data))

    def _order_detail(self, request: Request) -> Response:
        ids = [i for i in request.query.get("ids", "").split(",") if i]
        if not ids or len(ids) > 50:  # get-order-detail: ids "Max count: 50"
            return error(400, 36009004, "Invalid ids")  # code UNVERIFIED
        return Response(
            200, envelope({"orders": [self.orders[i] for i in ids if i in self.orders]})
        )

    def _returns(self, request: Request) -> Response:
        body = request.json() or {}
        rows = list(self.returns)
        if body.get("order_ids"):
            rows = [r for r in rows if r["order_id"] in set(body["order_ids"])]
        if body.get("return_types"):
            rows = [r for r in rows if r["return_type"] in set(body["return_types"])]
        if "update_time_ge" in body:
            rows = [r for r in rows if r["update_time"] >= int(body["update_time_ge"])]
        if "update_time_lt" in body:
            rows = [r for r in rows if r["update_time"] < int(body["update_time_lt"])]
        # search-returns: sort_field default create_time, sort_order default ASC.
        rows.sort(key=lambda r: r[request.query.get("sort_field", "create_time")])
        if request.query.get("sort_order", "ASC") == "DESC":
            rows.reverse()
        page = self._page(request, rows, 10, 50, 10)  # search-returns: [10-50], default 10
        if isinstance(page, Response):
            return page
        chunk, token = page
        data = {"return_orders": chunk, "total_count": len(rows), "next_page_token": token}
        return Response(200, envelope(data))
