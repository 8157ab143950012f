"""A stateful fake of the Lazada Open Platform (LazOP) for one seller: products, orders,
returns, stock updates, tokens.

Every rule below states the platform's behaviour with its source; "docs" means
lazykern/ecommerce-api-docs@eba059e3 (raw JSON of open.lazada.com API pages under
data/raw/lazada/apis/, guides under data/processed/lazada/guides/). The fake is built from
those pages, not from the adapter.

- Gateway paths are the API paths themselves (`/orders/get`); the adapter's `base_url`
  stands for both `https://api.lazada.co.id/rest` and `https://auth.lazada.com/rest`.
- Every call is signed: HMAC-SHA256(app_secret, path + sorted name+value of every parameter
  but `sign`), upper-case hex (guides/developers-guide/call-api-with-http-requests/
  signature-algorithm.md). Parameters come from the query and, on POST, from a form body
  (lazop-sdk-python posts business parameters as form data). A wrong sign answers
  `IncompleteSignature` "The request signature does not conform to lazop standards"
  (system-api/generateaccesstoken.json error list).
- `timestamp` (ms, or ISO) more than 7200 s from the platform's clock is refused
  (calling-parameters.md). Which code the gateway answers is UNVERIFIED; the one documented
  code about it, `OPEN_API_TIMESTAMP_INVALID` "The input timestamp is invalid"
  (lazada-wallet-corporate-top-up-api/giftcoderequest.json), is used. Every answer carries
  an HTTP `Date` header, as any HTTP server's.
- Answers are HTTP 200 with `code` a string, "0" for success, else `type`, `message`,
  `request_id` (guides/developers-guide/error-messages.md; the Ruby client's sample error
  body `{"code": "501", "type": "ISP", "message": ..., "detail": [...], "request_id": ...}`).
- Access tokens expire (`IllegalAccessToken` "The specified access token is invalid or
  expired", seller-api/getseller.json); `/auth/token/refresh` answers new tokens at the top
  level with `expires_in` and `refresh_expires_in` as digit strings and the sellers in
  `country_user_info_list` (system-api/refreshaccesstoken.json; `/auth/token/create` names
  it `country_user_info`, country in capitals: generateaccesstoken.json). "The duration of
  the access token will be reset, but the duration of the refresh token will not be reset"
  (seller-authorization-introduction.md): the new refresh token keeps the old one's end.
  A used or expired refresh token gets `IllegalRefreshToken`. That the old refresh token
  dies on use is UNVERIFIED for Lazada ("You must save the latest refresh_token"); the fake
  is strict about it.
- `/auth/token/create` takes a `code` "valid for half an hour and can only be used once"
  (seller-authorization-introduction.md), else `InvalidCode`.
- `/products/get`: `limit` ≤ 50 (E019 "The maximum value of limit is 50"), `offset` ≤ 10000
  (E014), `filter`, `sku_seller_list` JSON array matching whole SellerSkus; answers
  `data.total_products` (item level, a digit string as in the sample) and
  `data.products[]` with `item_id` (a string in the sample) and `skus[]` (product-api/
  getproducts.json). Stock per SKU follows inventory-calculation-logic.md: a buyer's order
  moves units from sellable to withhold (unpaid) and occupy (paid), ready-to-ship takes them
  out of the total. `quantity` is the total ("quantity: same as totalQuantity",
  overview/lazop-2-0-overview.md), `Available` the sellable, and `multiWarehouseInventories`
  (with `warehouses=True`) gives `sellableQuantity` per warehouse.
- `/orders/get`: `update_after`/`update_before` inclusive ISO 8601 with offset (E017
  otherwise), `sort_by`, `sort_direction`, `limit` ≤ 100 (E019), `offset` ≤ 4500 (E014; the
  API page's parameter rule "Max Size:4500", stricter than get-order.md's 5000);
  `data.count`, `data.countTotal`, `data.orders[]` with ISO `created_at`/`updated_at` and
  `statuses[]` (order-api/getorders.json). `legacy_shapes` answers as public captures of
  the live API do: numbers for ids and counts, times as "2018-05-17 09:23:36 +0800".
- `/orders/items/get`: `order_ids` "[1,2]" (E056 otherwise), at most 50 (E038 "Too many
  orders were requested"), an id not in the shop fails the call (E037); one item per unit
  with `order_item_id`, `sku`, `sku_id`, `status`, ms-epoch `created_at`/`updated_at`,
  `reverse_order_id` (order-api/getmultipleorderitems.json).
- `/order/reverse/return/detail/list`: `data.request_type` CANCEL / RETURN / ONLY_REFUND;
  an unknown id answers `106` "ROC internal error"
  (return-and-refund-api/getreverseorderdetail.json).
- `/product/stock/sellable/update`: form `payload` XML, at most 50 SKUs (E204 "Too many SKU
  in one request"); sets SellableQuantity (the total becomes sellable + withhold + occupy);
  a SKU below its campaign lock fails (4170,
  updatesellablequantity.json) and the answer is the overview `501` with `detail`
  (UNVERIFIED: which key names the SKU, and whether the other SKUs were applied; the fake
  applies the others unless `atomic_failures`); negative quantities fail with 212.
- Throttling: the inventory API allows 50 calls a second per seller (inventory-management-
  api.md); beyond that, and beyond any per-API `qps` a test sets, code `901` "API level
  QPS limiting flow, please retry in the next second" (updatesellablequantity.json). The
  reads omnisync makes (GetProducts, GetOrders, GetMultipleOrderItems) are held to 50 a
  second each too: Lazada says its limits are per API and differ ("each API will have a
  different traffic limit", create-update-product-q-a.md Q10) but publishes no figure for
  these, so 50 is an assumption (the one the adapter keeps to: omnisync.channels.lazada.api
  .QPS), not Lazada's word.
  `call_cap` models a used-up call allowance: `OPEN_API_CALL_EXCEED_LIMIT` "Open Api call
  times exceeds: apiName_limitType" (lazada-wallet-corporate-top-up-api error lists).
"""

from __future__ import annotations

import email.utils
import functools
import hashlib
import hmac
import itertools
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

from tests.fakes.lazada_shop import LazadaShop, spaced
from tests.fakes.quota import Quota, arrive
from tests.fakes.server import FakeApp, Receive, Request, Response, Scope, Send

APP_KEY = "104857"
APP_SECRET = "lzd-fake-secret-Qm9vb2tzIGFyZSBnb29k"
ACCESS_TOKEN = "50000601c30atpedfgu3LVvik87Ixlsvle3mSoB7701ceb156fPunYZ43GBg"
REFRESH_TOKEN = "500016000300bwa2WteaQyfwBMnPxurcA0mXGhQdTt18356663CfcDTYpWoi"
CODE = "0_100132_2DL4DV3jcU1UOT7WGI1A4rY91"
INVENTORY_QPS = 50  # inventory-management-api.md: "50 times per second" per seller
READ_QPS = 50  # per read API and seller: an assumption, Lazada publishes no figure
READS = ("/products/get", "/orders/get", "/orders/items/get")
MAX_ORDERS_OFFSET = 4500  # getorders.json: offset "Max Size:4500"
AUTH_PATHS = {"/auth/token/create", "/auth/token/refresh"}


@functools.lru_cache(maxsize=1 << 16)
def _seconds(iso: str) -> float:
    # An orders page filters and sorts the whole shop: 2,000 orders' times parsed and compared
    # as aware datetimes took 2.4 ms a call, which the fake's other requests queued behind.
    return datetime.fromisoformat(iso).timestamp()


def sign(secret: str, path: str, params: dict[str, str]) -> str:
    """The platform's signature (signature-algorithm.md), written here independently."""
    text = path + "".join(k + params[k] for k in sorted(params) if k != "sign")
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest().upper()


class FakeLazada(LazadaShop, FakeApp):
    """One Lazada seller behind the gateway. Build state with `add_product`, `add_order`
    (`LazadaShop`); read `stock`."""

    def __init__(
        self,
        *,
        app_key: str = APP_KEY,
        app_secret: str = APP_SECRET,
        latency: float = 0.0,
        now: Callable[[], datetime] | None = None,
        access_ttl: int = 7 * 86400,
        refresh_ttl: int = 30 * 86400,
    ) -> None:
        FakeApp.__init__(self, latency=latency)
        LazadaShop.__init__(self, now=now)
        self.app_key, self.app_secret = app_key, app_secret
        self.access_ttl, self.refresh_ttl = access_ttl, refresh_ttl
        self.access_tokens: dict[str, datetime] = {ACCESS_TOKEN: self.now() + timedelta(days=7)}
        self.refresh_tokens: dict[str, datetime] = {REFRESH_TOKEN: self.now() + timedelta(days=30)}
        self.codes: dict[str, datetime] = {CODE: self.now() + timedelta(minutes=30)}
        self.token_serial = itertools.count(1)
        self.refreshes = 0
        self.seller = {"name": "Toko Fake", "seller_id": 1000123, "short_code": "ID1XYZ"}
        self.legacy_shapes = False  # numbers for ids, "YYYY-MM-DD HH:MM:SS +0700" times
        # Offsets a caching proxy answers with the previous page's orders (issue 12).
        self.stale_offsets: set[int] = set()
        self.atomic_failures = False  # a failed SKU fails the whole stock update
        # Stock updates applied whose answer is nonetheless "1000 Internal Application Error"
        # (updatesellablequantity.json lists it): the caller cannot know what was applied.
        self.ambiguous_writes = 0
        self.qps: dict[str, int] = {"/product/stock/sellable/update": INVENTORY_QPS}
        self.qps |= dict.fromkeys(READS, READ_QPS)
        self.quota = Quota()  # counted by arrival, as a gateway counts
        self.call_cap: int | None = None  # calls allowed before the allowance is used up
        self.accepted = 0
        self.throttled = 0
        self.updates: list[list[dict[str, Any]]] = []
        self.before: list[Callable[[Request], None]] = []

    # -- tokens ----------------------------------------------------------------------------

    def expire_access_tokens(self) -> None:
        for token in self.access_tokens:
            self.access_tokens[token] = self.now() - timedelta(seconds=1)

    # -- HTTP ----------------------------------------------------------------------------

    def label(self, request: Request) -> str:
        return request.path

    @staticmethod
    def _error(code: str, message: str, kind: str = "ISV", **extra: Any) -> Response:
        body = {"type": kind, "code": code, "message": message, "request_id": "0ba2887315178"}
        return Response(200, body | extra)

    @staticmethod
    def _ok(data: Any) -> Response:
        return Response(200, {"code": "0", "data": data, "request_id": "0ba2887315178178017"})

    def _params(self, request: Request) -> dict[str, str]:
        params = dict(request.query)
        kind = request.headers.get("content-type", "")
        if request.method == "POST" and kind.startswith("application/x-www-form-urlencoded"):
            params.update(parse_qsl(request.body.decode(), keep_blank_values=True))
        return params

    def _check_time(self, value: str) -> bool:
        try:
            if value.isdigit():
                moment = datetime.fromtimestamp(int(value) / 1000, tz=UTC)
            else:
                moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return False
        return abs((moment - self.now()).total_seconds()) <= 7200

    def _throttled(self, path: str) -> Response | None:
        limit = self.qps.get(path)
        if limit is None or self.quota.admit(path, limit):
            return None
        self.throttled += 1
        return self._error(
            "901",
            "Limit service request speed in server side temporarily.",
            kind="ISP",
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        parent = super().__call__
        await arrive(lambda: parent(scope, receive, send))

    async def handle(self, request: Request) -> Response:
        response = self._handle(request)
        response.headers.setdefault("Date", email.utils.format_datetime(self.now(), usegmt=True))
        return response

    def _handle(self, request: Request) -> Response:
        # The gateway is `https://api.lazada.co.id/rest` + the API path; the path alone is
        # signed and routed (api-endpoint-urls.md, signature-algorithm.md).
        path = request.path.removeprefix("/rest")
        params = self._params(request)
        if "sign" not in params:
            return self._error(
                "MissingParameter",
                "the input parameter “sign” that is mandatory for processing this request "
                "is not supplied",
            )
        if params.get("app_key") != self.app_key:
            return self._error(
                "APP_KEY_INVALID", "App key is invalid, please contact lazada tech team."
            )
        if not hmac.compare_digest(params["sign"], sign(self.app_secret, path, params)):
            return self._error(
                "IncompleteSignature", "The request signature does not conform to lazop standards"
            )
        if not self._check_time(params.get("timestamp", "")):
            return self._error("OPEN_API_TIMESTAMP_INVALID", "The input timestamp is invalid")
        with self.lock:
            if self.call_cap is not None and self.accepted >= self.call_cap:
                return self._error(
                    "OPEN_API_CALL_EXCEED_LIMIT",
                    f"Open Api call times exceeds: {path}_day",
                )
            throttled = self._throttled(path)
            if throttled is not None:
                return throttled
            self.accepted += 1
            if path == "/auth/token/create":
                return self._create(params)
            if path == "/auth/token/refresh":
                return self._refresh(params)
            token = params.get("access_token", "")
            expires = self.access_tokens.get(token)
            if expires is None or expires <= self.now():
                return self._error(
                    "IllegalAccessToken", "The specified access token is invalid or expired"
                )
            for hook in list(self.before):
                hook(request)
            route = {
                "/seller/get": self._seller,
                "/products/get": self._products,
                "/orders/get": self._orders,
                "/orders/items/get": self._items,
                "/order/reverse/return/detail/list": self._reverse,
                "/product/stock/sellable/update": self._update,
            }.get(path)
            if route is None:
                return self._error("InvalidApiPath", "The specified API path is invalid")
            return route(params)

    # -- tokens --------------------------------------------------------------------------

    def _issue(self, *, refresh_until: datetime | None = None) -> Response:
        """New tokens; `refresh_until` is the end a refreshed refresh token keeps."""
        n = next(self.token_serial)
        access = f"50000{n:03d}access{n}x{'A' * 40}"
        refresh = f"50001{n:03d}refresh{n}y{'B' * 40}"
        now = self.now()
        self.access_tokens[access] = now + timedelta(seconds=self.access_ttl)
        ends = refresh_until or now + timedelta(seconds=self.refresh_ttl)
        self.refresh_tokens[refresh] = ends
        country = "id" if refresh_until else "ID"  # create answers capitals, refresh lower case
        users = [
            {
                "country": country,
                "seller_id": str(self.seller["seller_id"]),
                "user_id": "10101",
                "short_code": self.seller["short_code"],
            }
        ]
        # Top-level fields, numbers as strings (generateaccesstoken.json and
        # refreshaccesstoken.json responseCode); the seller list's key differs between them.
        return Response(
            200,
            {
                "access_token": access,
                "refresh_token": refresh,
                "expires_in": str(self.access_ttl),
                "refresh_expires_in": str(max(0, int((ends - now).total_seconds()))),
                "country": "id",
                "account_id": "7063844",
                "account_platform": "seller_center",
                "account": "seller@example.co.id",
                ("country_user_info_list" if refresh_until else "country_user_info"): users,
                "code": "0",
                "request_id": "0ba2887315178178017221014",
            },
        )

    def _create(self, params: dict[str, str]) -> Response:
        code = params.get("code", "")
        expires = self.codes.pop(code, None)
        if expires is None or expires <= self.now():
            return self._error("InvalidCode", "Invalid authorization code")
        return self._issue()

    def _refresh(self, params: dict[str, str]) -> Response:
        token = params.get("refresh_token", "")
        expires = self.refresh_tokens.pop(token, None)
        if expires is None or expires <= self.now():
            return self._error(
                "IllegalRefreshToken", "The specified refresh token is invalid or expired"
            )
        self.refreshes += 1
        return self._issue(refresh_until=expires)

    # -- reads ---------------------------------------------------------------------------

    def _seller(self, params: dict[str, str]) -> Response:
        return self._ok(dict(self.seller) | {"status": "ACTIVE", "verified": True, "cb": False})

    def _int(self, params: dict[str, str], key: str, default: int) -> int | None:
        try:
            return int(params.get(key, default))
        except ValueError:
            return None

    def _products(self, params: dict[str, str]) -> Response:
        limit = self._int(params, "limit", 10)
        offset = self._int(params, "offset", 0)
        if limit is None or not 0 < limit <= 50:
            return self._error("19", "E019: Invalid Limit")
        if offset is None or not 0 <= offset <= 10000:
            return self._error("14", f'E014: "{params.get("offset")}" Invalid Offset')
        products = list(self.products.values())
        if "sku_seller_list" in params:
            try:
                wanted = set(json.loads(params["sku_seller_list"]))
            except ValueError:
                return self._error("70", "E070: You have corrupt data in your sku seller list.")
            found = self.items_with(wanted)
            products = [p for item_id, p in self.products.items() if item_id in found]
        page = products[offset : offset + limit]
        if "sku_seller_list" in params:
            # "A maximum of 100 SKUs can be returned" (getproducts.json): read here as an
            # answer cut after the products whose SKUs reach 100 (UNVERIFIED reading).
            shown, count = [], 0
            for product in page:
                if shown and count + len(product["skus"]) > 100:
                    break
                shown.append(product)
                count += len(product["skus"])
            page = shown
        # `total_products` is a digit string in the sample answer (getproducts.json).
        return self._ok(
            {"total_products": str(len(products)), "products": json.loads(json.dumps(page))}
        )

    def _orders(self, params: dict[str, str]) -> Response:
        limit = self._int(params, "limit", 100)
        offset = self._int(params, "offset", 0)
        if limit is None or not 0 < limit <= 100:
            return self._error("19", "E019: Invalid Limit")
        if offset is None or not 0 <= offset <= MAX_ORDERS_OFFSET:
            return self._error("14", f'E014: "{params.get("offset")}" Invalid Offset')
        try:
            after = datetime.fromisoformat(params["update_after"])
            before = (
                datetime.fromisoformat(params["update_before"])
                if "update_before" in params
                else None
            )
        except (KeyError, ValueError):
            return self._error("17", "E017: Invalid Date Format")
        if after.tzinfo is None or (before is not None and before.tzinfo is None):
            return self._error("17", "E017: Invalid Date Format")
        chosen = []
        start, end = after.timestamp(), before.timestamp() if before else float("inf")
        for order in self.orders.values():
            if start <= _seconds(order["updated_at"]) <= end:
                chosen.append(order)
        key = "updated_at" if params.get("sort_by", "created_at") == "updated_at" else "created_at"
        chosen.sort(
            key=lambda o: (_seconds(o[key]), o["order_id"]),
            reverse=params.get("sort_direction", "DESC") == "DESC",
        )
        page = []
        shown = offset - limit if offset in self.stale_offsets and offset >= limit else offset
        for order in chosen[shown : shown + limit]:
            entry = {k: v for k, v in order.items() if k != "items"}
            entry["statuses"] = sorted({row["status"] for row in order["items"]})
            if self.legacy_shapes:
                entry |= {
                    "order_id": int(entry["order_id"]),
                    "order_number": int(entry["order_number"]),
                    "items_count": int(entry["items_count"]),
                    "created_at": spaced(entry["created_at"]),
                    "updated_at": spaced(entry["updated_at"]),
                }
            page.append(entry)
        count: Any = len(page) if self.legacy_shapes else str(len(page))
        total: Any = len(chosen) if self.legacy_shapes else str(len(chosen))
        return self._ok({"count": count, "countTotal": total, "orders": page})

    def _items(self, params: dict[str, str]) -> Response:
        if "order_ids" not in params:
            return self._error("1", "E001: Parameter order_ids is mandatory")
        try:
            ids = [str(int(i)) for i in json.loads(params["order_ids"])]
        except (ValueError, TypeError):
            return self._error(
                "56", "E056: Invalid OrdersIdList format. Must use array format [1,2]"
            )
        if len(ids) > 50:
            return self._error("38", "E038: Too many orders were requested")
        if any(oid not in self.orders for oid in ids):
            return self._error("37", "E037: One or more order id in the list are incorrect")
        data = []
        for oid in ids:
            items = json.loads(json.dumps(self.orders[oid]["items"]))
            key: Any = int(oid) if self.legacy_shapes else oid
            if self.legacy_shapes:
                for item in items:
                    item["order_id"] = key
                    item["order_item_id"] = int(item["order_item_id"])
                    if item.get("reverse_order_id"):
                        item["reverse_order_id"] = int(item["reverse_order_id"])
            data.append({"order_id": key, "order_number": key, "order_items": items})
        return self._ok(data)

    def _reverse(self, params: dict[str, str]) -> Response:
        rid = params.get("reverse_order_id", "")
        if rid not in self.reverse_orders:
            return self._error("106", "ROC internal error", kind="ISP")
        return self._ok({"reverse_order_id": rid, "request_type": self.reverse_orders[rid]})

    # -- writes --------------------------------------------------------------------------

    def _update(self, params: dict[str, str]) -> Response:
        try:
            root = ET.fromstring(params["payload"])
        except (KeyError, ET.ParseError):
            return self._error("5", "E005: Invalid Request Format")
        skus = root.findall("./Product/Skus/Sku")
        if not skus:
            return self._error("30", "E030: Empty Request")
        if len(skus) > 50:
            return self._error("204", "E204: Too many SKU in one request")
        wanted: list[dict[str, Any]] = []
        for node in skus:
            try:
                wanted.append(
                    {
                        "ItemId": int(node.findtext("ItemId") or 0),
                        "SkuId": int(node.findtext("SkuId") or 0),
                        "SellerSku": node.findtext("SellerSku") or "",
                        "SellableQuantity": int(node.findtext("SellableQuantity") or ""),
                    }
                )
            except ValueError:
                return self._error("5", "E005: Invalid Request Format")
        self.updates.append(wanted)
        failures = []
        for entry in wanted:
            try:
                self._sku(entry["SkuId"])
            except KeyError:
                failures.append((entry, "SkuId", "SKU not found"))
                continue
            product = self.products.get(entry["ItemId"])
            if product is None or all(row["SkuId"] != entry["SkuId"] for row in product["skus"]):
                # A stock update names the SKU by ItemId and SkuId together (the payload demo).
                failures.append((entry, "ItemId", "SKU does not belong to this item"))
                continue
            if entry["SellableQuantity"] < 0:
                failures.append(
                    (entry, "SellableQuantity", "Sellable inventory cannot be negative")
                )
            elif entry["SellableQuantity"] < self.locks.get(entry["SkuId"], 0):
                failures.append(
                    (
                        entry,
                        "SellableQuantity",
                        "This SKU is participating in a special Campaign, so this SKU can't "
                        "be updated to set stock less than current stock.",
                    )
                )
        failed = {id(entry) for entry, _, _ in failures}
        if not (failures and self.atomic_failures):
            for entry in wanted:
                if id(entry) not in failed:
                    self.set_stock(entry["SkuId"], entry["SellableQuantity"])
        if self.ambiguous_writes > 0:
            self.ambiguous_writes -= 1
            return self._error("1000", "Internal Application Error", kind="ISP")
        if not failures:
            return self._ok({})
        detail = [
            {"seller_sku": entry["SellerSku"], "field": field, "message": message}
            for entry, field, message in failures
        ]
        return self._error("501", "E501: Update product failed", kind="ISP", detail=detail)
