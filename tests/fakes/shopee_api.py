"""A stateful fake of Shopee Open Platform v2, as much of it as omnisync speaks.

Built from Shopee's own API-doc JSON (congminh1254/shopee-sdk@cb231e9b: schemas/<api>.json,
fetched from open.shopee.com) and the guide "Authorization and Authentication"
(lazykern/ecommerce-api-docs@67148d16: data/processed/shopee/guides/getting-started/
authorization-and-authentication.md), not from the adapter:

- Every call carries partner_id, timestamp, sign (+ access_token, shop_id for shop APIs) in
  the query; the sign is checked byte for byte (shop: partner_id+path+timestamp+access_token+
  shop_id, public: partner_id+path+timestamp; HMAC-SHA256, lower hex). Errors and their texts
  are the `common_error_list` ones: "There is no partner_id in query.", "Timestamp is
  expired." (older than 5 minutes), "Wrong sign.", "Invalid access_token.".
- Tokens: the access token lives `expire_in` = 14400 s; each refresh token works once
  ("can only be used once") and a used one answers error_auth "Invalid refresh_token."
  (v2.public.refresh_access_token error_example); codes are single-use ("Invalid code").
- get_order_list / get_return_list refuse a range over 15 days
  (order.order_list_invalid_time "Start time must be earlier than end time and diff in
  15days."); page_size 1..100; get_order_detail and get_item_base_info take ≤ 50 ids;
  update_stock one item and 1..50 models, answering success_list / failure_list, a model below
  its promotion-reserved stock failing alone ("Total stock must be more than reserved stock.");
  when every model fails, error_busi_update_stock_failed ("please check failure_list for
  detailed reason") with the failure_list still in `response`. A shop with warehouses
  (`location_id`) refuses a write without one ("Lack of location_id"), one without refuses a
  location ("You do not have right to use seller location_id") (update_stock error_list).
- Items and models fulfilled by Shopee carry is_fulfillment_by_shopee and only shopee_stock.
- Returns end refunded in ACCEPTED (Data Definition "ReturnStatus" has no REFUND_PAID); a main
  account approval comes back with main_account_id and token/get answers shop_id_list.
- Throttling: error_rate_limit past `rate` calls in any one second, the shop's calls of every
  API together; error_limit past `daily_cap` calls. Shopee documents both codes
  (common_error_list) but no figure for the rate: the default 50 is an assumption, the one the
  adapter keeps to (omnisync.channels.shopee.client.QPS, where the reasons are), not Shopee's
  word. A call answered error_rate_limit does not count toward the second (as in the
  Lazada and TikTok fakes).

UNVERIFIED (no source gives them): the HTTP status of error answers. This fake sends 403 for
auth / sign / daily-limit errors, 400 for parameter errors and update_stock's all-failed
answer, and 429 for error_rate_limit; the adapter reads the `error` field whatever the status,
as Shopee's SDK does (src/fetch.ts). Also UNVERIFIED: how item_id_list is spelled (the doc's
samples disagree), so every spelling is accepted.
"""

from __future__ import annotations

import email.utils
import hmac
import itertools
import secrets
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any
from urllib.parse import parse_qsl, urlencode

from tests.fakes.quota import Quota, arrive
from tests.fakes.server import FakeApp, Receive, Request, Response, Scope, Send
from tests.fakes.shopee_orders import OrderApis
from tests.fakes.shopee_state import (
    PARTNER_ID,
    PARTNER_KEY,
    FakeOrder,
    FakeReturn,
    Item,
    Model,
    OrderLine,
    ShopeeError,
    id_list,
    page_size,
    sign,
)

__all__ = ["PARTNER_ID", "PARTNER_KEY", "FakeShopee"]

SHOP_ID = 14701711
ACCESS_TOKEN = "fake-access-59777174636562737266615546704c6d"
REFRESH_TOKEN = "fake-refresh-4c7259534969484e71734d695a6e6d55"
ACCESS_LIFETIME = 14400  # "expires after 4 hours"
REFRESH_LIFETIME = 30 * 86400

PUBLIC = {"/api/v2/shop/auth_partner", "/api/v2/auth/token/get", "/api/v2/auth/access_token/get"}
_RAW_QUERY: ContextVar[tuple[tuple[str, str], ...]] = ContextVar("_RAW_QUERY", default=())
RATE = 50  # calls a second for the shop: an assumption (see the docstring)
STATUS = {
    "error_param": 400,
    "order.order_list_invalid_time": 400,
    "error_rate_limit": 429,
    "error_busi_update_stock_failed": 400,
}


class FakeShopee(OrderApis, FakeApp):
    """One Shopee shop of one partner app."""

    def __init__(
        self,
        *,
        latency: float = 0.0,
        rate: float | None = RATE,
        daily_cap: int | None = None,
        clock: Callable[[], float] = time.time,
        location_id: str | None = None,
        expired_error: tuple[str, str] = ("error_auth", "Invalid access_token."),
    ) -> None:
        super().__init__(latency=latency)
        self.clock = clock
        # get_order_list cursors a caching proxy answers with the previous page (issue 12).
        self.stale_cursors: set[str] = set()
        self.rate = rate
        self.daily_cap = daily_cap
        self.location_id = location_id  # set: a multi-warehouse seller
        # (main_account_id, its shops): the seller approves with a main account.
        self.main_account: tuple[int, list[int]] | None = None
        self.expired_error = expired_error
        self.calls = 0  # accepted calls, for the daily cap
        self.raw_queries: list[tuple[str, str]] = []  # (path, query string) as sent
        self.items: dict[int, Item] = {}
        self.orders: dict[str, FakeOrder] = {}
        self.returns: list[FakeReturn] = []
        self.shop_name = "Toko Fake"
        self.shop_status = "NORMAL"
        now = int(self.clock())
        self.access: dict[str, int] = {ACCESS_TOKEN: now + ACCESS_LIFETIME}
        self.refresh: dict[str, int] = {REFRESH_TOKEN: now + REFRESH_LIFETIME}
        self.codes: set[str] = set()
        self.refreshes = 0
        self._serial = itertools.count(100001)
        self.throttled = 0  # calls answered error_rate_limit
        self.quota = Quota()  # counted by arrival, as a gateway counts
        # Called with each request before it is answered: a test sells or edits here.
        self.before: list[Callable[[Request], None]] = []

    # -- building state ----------------------------------------------------------------

    def add_item(self, sku: str, stock: int, *, name: str = "", reserved: int = 0) -> str:
        """An item without variations; returns its listing id `ITEM/0`."""
        item_id = next(self._serial) * 1000
        model = Model(0, "", stock, reserved)
        self.items[item_id] = Item(item_id, name or sku, sku, models={0: model})
        return f"{item_id}/0"

    def add_variations(
        self, item_sku: str, models: list[tuple[str, int]], *, name: str = "", reserved: int = 0
    ) -> list[str]:
        """An item with one model per (model_sku, stock); returns their listing ids."""
        item_id = next(self._serial) * 1000
        item = Item(item_id, name or item_sku, item_sku)
        ids = []
        for sku, stock in models:
            model_id = next(self._serial)
            item.models[model_id] = Model(model_id, sku, stock, reserved, name=sku)
            ids.append(f"{item_id}/{model_id}")
        self.items[item_id] = item
        return ids

    def model(self, listing: str) -> Model:
        item, _, model = listing.partition("/")
        return self.items[int(item)].models[int(model)]

    def stock(self, listing: str) -> int:
        return self.model(listing).stock

    def add_order(
        self,
        lines: list[tuple[str, int]],
        *,
        status: str = "READY_TO_SHIP",
        updated: int | None = None,
        created: int | None = None,
        order_sn: str | None = None,
    ) -> str:
        """An order of (listing id, units) lines; Shopee's own stock is left as it is."""
        now = int(self.clock())
        sn = order_sn or f"2512{next(self._serial):06d}FAKE"
        order_lines = []
        for listing, units in lines:
            item_id, _, model_id = listing.partition("/")
            item = self.items[int(item_id)]
            model = item.models[int(model_id)]
            order_lines.append(
                OrderLine(
                    item.item_id,
                    model.model_id,
                    units,
                    next(self._serial),
                    item.item_sku,
                    model.sku,
                )
            )
        self.orders[sn] = FakeOrder(
            sn, status, created or updated or now, updated or now, order_lines
        )
        return sn

    def add_return(
        self,
        order_sn: str,
        items: list[tuple[str, int]],
        *,
        status: str = "ACCEPTED",
        updated: int | None = None,
        needs_logistics: bool = True,
        solution: int = 0,
        created: int | None = None,
    ) -> str:
        return_sn = f"R{next(self._serial)}"
        parsed = []
        for listing, amount in items:
            item_id, _, model_id = listing.partition("/")
            parsed.append((int(item_id), int(model_id), amount))
        self.returns.append(
            FakeReturn(
                return_sn,
                order_sn,
                status,
                updated or int(self.clock()),
                needs_logistics,
                solution,
                parsed,
                created or updated or int(self.clock()),
            )
        )
        return return_sn

    def expire_access_tokens(self) -> None:
        for token in self.access:
            self.access[token] = 0

    def new_code(self) -> str:
        code = secrets.token_hex(16)
        self.codes.add(code)
        return code

    # -- the API ---------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The base Request keeps one value per key; list parameters need them all.
        raw = scope.get("query_string", b"").decode() if scope.get("type") == "http" else ""
        _RAW_QUERY.set(tuple(parse_qsl(raw, keep_blank_values=True)))
        if raw:
            self.raw_queries.append((str(scope.get("path", "")), raw))
        parent = super().__call__
        await arrive(lambda: parent(scope, receive, send))

    def label(self, request: Request) -> str:
        return request.path

    async def handle(self, request: Request) -> Response:
        for hook in list(self.before):
            hook(request)
        try:
            self._authenticate(request)
            self._throttle()
            body = self._route(request)
        except ShopeeError as exc:
            return self._error(exc)
        body.setdefault("error", "")
        body.setdefault("message", "")
        body.setdefault("request_id", secrets.token_hex(16))
        return Response(200, body, self._date())

    def _date(self) -> dict[str, str]:
        return {"Date": email.utils.formatdate(self.clock(), usegmt=True)}

    def _error(self, exc: ShopeeError) -> Response:
        body = {"error": exc.error, "message": exc.message, "request_id": secrets.token_hex(16)}
        if exc.response is not None:
            body["response"] = exc.response
        return Response(STATUS.get(exc.error, 403), body, self._date())

    def _authenticate(self, request: Request) -> None:
        query = request.query
        if "partner_id" not in query:
            raise ShopeeError("error_param", "There is no partner_id in query.")
        if query["partner_id"] != str(PARTNER_ID):
            raise ShopeeError("error_auth", "partner_id is invalid")
        stamp = query.get("timestamp", "")
        if not stamp:
            raise ShopeeError("error_param", "no timestamp")
        if not stamp.isdigit():
            raise ShopeeError(
                "error_param",
                "Timestamp is invalid, should be an integer between 0 and 4294967295.",
            )
        if abs(self.clock() - int(stamp)) > 300:
            raise ShopeeError("error_param", "Timestamp is expired.")
        if "sign" not in query:
            raise ShopeeError("error_param", "There is no sign in query.")
        if request.path in PUBLIC:
            expected = sign(request.path, stamp)
        else:
            token = query.get("access_token")
            if token is None:
                raise ShopeeError("error_param", "There is no access_token in query.")
            if "shop_id" not in query:
                raise ShopeeError("error_param", "There is no shop_id in query.")
            expected = sign(request.path, stamp, token, query["shop_id"])
        if not hmac.compare_digest(expected, query["sign"]):
            raise ShopeeError("error_sign", "Wrong sign.")
        if request.path in PUBLIC:
            return
        if query["shop_id"] != str(SHOP_ID):
            raise ShopeeError("error_auth", "Invalid partner_id or shopid.")
        expires = self.access.get(query["access_token"])
        if expires is None or expires <= self.clock():
            raise ShopeeError(*self.expired_error)

    def _throttle(self) -> None:
        if self.daily_cap is not None and self.calls >= self.daily_cap:
            raise ShopeeError(
                "error_limit",
                "The total API call number made by your APP has reached the daily API call "
                "limit, please try again after 00: 00 (UTC+08:00)",
            )
        if self.rate and not self.quota.admit("shop", self.rate):
            self.throttled += 1
            raise ShopeeError(
                "error_rate_limit",
                "Too many requests. You have reached the rate limit. Please try again later.",
            )
        self.calls += 1

    def _route(self, request: Request) -> dict[str, Any]:
        routes: dict[tuple[str, str], Callable[[Request], dict[str, Any]]] = {
            ("GET", "/api/v2/shop/auth_partner"): self._auth_partner,
            ("POST", "/api/v2/auth/token/get"): self._token_get,
            ("POST", "/api/v2/auth/access_token/get"): self._token_refresh,
            ("GET", "/api/v2/shop/get_shop_info"): self._shop_info,
            ("GET", "/api/v2/product/get_item_list"): self._item_list,
            ("GET", "/api/v2/product/get_item_base_info"): self._item_base_info,
            ("GET", "/api/v2/product/get_model_list"): self._model_list,
            ("POST", "/api/v2/product/update_stock"): self._update_stock,
            ("GET", "/api/v2/order/get_order_list"): self._order_list,
            ("GET", "/api/v2/order/get_order_detail"): self._order_detail,
            ("GET", "/api/v2/returns/get_return_list"): self._return_list,
        }
        route = routes.get((request.method, request.path))
        if route is None:
            raise ShopeeError(
                "error_param",
                "Permission denied. This API is currently offline or the request path is "
                "incorrect.",
            )
        return route(request)

    # -- auth ------------------------------------------------------------------------------

    def _auth_partner(self, request: Request) -> dict[str, Any]:
        # The seller approves in the browser; the fake answers with where it would send them.
        redirect = request.query.get("redirect", "")
        if not redirect:
            raise ShopeeError("error_param", "Wrong parameters, detail: redirect is empty.")
        # A shop login comes back with shop_id, a main account login with main_account_id
        # ("Authorization and Authentication", "Using the authorization code").
        who = (
            {"main_account_id": self.main_account[0]} if self.main_account else {"shop_id": SHOP_ID}
        )
        address = f"{redirect}?{urlencode({'code': self.new_code(), **who})}"
        return {"redirect_to": address}

    def _issue(self) -> dict[str, Any]:
        now = int(self.clock())
        access = f"fake-access-{secrets.token_hex(16)}"
        refresh = f"fake-refresh-{secrets.token_hex(16)}"
        self.access[access] = now + ACCESS_LIFETIME
        self.refresh[refresh] = now + REFRESH_LIFETIME
        return {"access_token": access, "refresh_token": refresh, "expire_in": ACCESS_LIFETIME}

    def _token_get(self, request: Request) -> dict[str, Any]:
        body = request.json() or {}
        # shop_id or main_account_id: "True, input 1 only", integers.
        ids = [key for key in ("shop_id", "main_account_id") if isinstance(body.get(key), int)]
        if body.get("partner_id") != PARTNER_ID or len(ids) != 1:
            raise ShopeeError("error_param", "Wrong parameters, detail: partner_id, shop_id.")
        code = body.get("code")
        if code not in self.codes:
            raise ShopeeError("error_auth", "Invalid code")
        if ids == ["main_account_id"]:
            if not self.main_account or body["main_account_id"] != self.main_account[0]:
                raise ShopeeError(
                    "invalid_main_acount_id",
                    "The code or main_accoount_id is wrong, please check the code or the "
                    "main_account_id.",
                )
            self.codes.discard(code)
            return self._issue() | {"shop_id_list": list(self.main_account[1])}
        if body["shop_id"] != SHOP_ID:
            raise ShopeeError(
                "invalid_shop_id",
                "The code or shop_id is wrong, please check the code or the shop_id.",
            )
        self.codes.discard(code)  # "Valid for one-time use"
        return self._issue() | {"shop_id_list": [SHOP_ID]}

    def _token_refresh(self, request: Request) -> dict[str, Any]:
        body = request.json() or {}
        shops = {SHOP_ID, *(self.main_account[1] if self.main_account else ())}
        if body.get("partner_id") != PARTNER_ID or body.get("shop_id") not in shops:
            raise ShopeeError("error_param", "Wrong parameters, detail: partner_id, shop_id.")
        token = body.get("refresh_token")
        expires = self.refresh.pop(str(token), None)  # single use: gone once tried
        if expires is None:
            raise ShopeeError("error_auth", "Invalid refresh_token.")
        if expires <= self.clock():
            raise ShopeeError("refresh_token_expired", "Your refresh_token expired.")
        self.refreshes += 1
        return self._issue() | {"partner_id": PARTNER_ID, "shop_id": SHOP_ID}

    def _shop_info(self, request: Request) -> dict[str, Any]:
        now = int(self.clock())
        return {
            "shop_name": self.shop_name,
            "region": "ID",
            "status": self.shop_status,
            "auth_time": now - 86400,
            "expire_time": now + 364 * 86400,
        }

    # -- products --------------------------------------------------------------------------

    def _item_list(self, request: Request) -> dict[str, Any]:
        size = page_size(request.query)
        offset = int(request.query.get("offset", "0") or 0)
        # item_status is a list, sent as repeated keys ("item_status=NORMAL&item_status=BANNED").
        statuses = {value for key, value in _RAW_QUERY.get() if key == "item_status"}
        wanted = [i for i in sorted(self.items) if self.items[i].status in statuses or not statuses]
        page = wanted[offset : offset + size]
        more = offset + size < len(wanted)
        return {
            "response": {
                "item": [
                    {"item_id": i, "item_status": self.items[i].status, "update_time": 0}
                    for i in page
                ],
                "total_count": len(wanted),
                "has_next_page": more,
                "next_offset": offset + size if more else 0,
            },
            "warning": "",
        }

    def _stock_info(self, model: Model) -> dict[str, Any]:
        # stock_info_v2 (get_model_list / get_item_base_info): seller_stock[] per location;
        # shopee_stock[] is Shopee-warehouse stock (its `stock` a string in get_model_list).
        location = self.location_id or "IDZ"
        if model.fbs:
            seller: list[dict[str, Any]] = []
            shopee = [{"location_id": "IDG", "stock": str(model.stock)}]
        else:
            seller = [{"location_id": location, "stock": model.stock, "if_saleable": True}]
            shopee = []
        return {
            "summary_info": {
                "total_reserved_stock": model.reserved,
                "total_available_stock": model.stock,
            },
            "seller_stock": seller,
            "shopee_stock": shopee,
        }

    def _item_base_info(self, request: Request) -> dict[str, Any]:
        ids = id_list(request.query, "item_id_list", 50, repeated=_RAW_QUERY.get())
        found = []
        for text in ids:
            item = self.items.get(int(text))
            if item is None:
                continue
            info: dict[str, Any] = {
                "item_id": item.item_id,
                "item_name": item.name,
                "item_sku": item.item_sku,
                "item_status": item.status,
                "has_model": item.has_model,
                "is_fulfillment_by_shopee": not item.has_model and item.models[0].fbs,
            }
            if not item.has_model:
                info["stock_info_v2"] = self._stock_info(item.models[0])
            found.append(info)
        if not found:
            raise ShopeeError("error_item_not_found", "Item_id is not found.")
        return {"response": {"item_list": found}, "warning": ""}

    def _model_list(self, request: Request) -> dict[str, Any]:
        item = self.items.get(int(request.query.get("item_id", "0") or 0))
        if item is None:
            raise ShopeeError("error_item_not_found", "Item_id is not found.")
        models = [
            {
                "model_id": model.model_id,
                "model_sku": model.sku,
                "model_status": "MODEL_NORMAL",
                "is_fulfillment_by_shopee": model.fbs,
                "stock_info_v2": self._stock_info(model),
            }
            for model in item.models.values()
            if model.model_id
        ]
        return {"response": {"tier_variation": [], "model": models}}

    def _update_stock(self, request: Request) -> dict[str, Any]:
        body = request.json() or {}
        if not isinstance(body.get("item_id"), int):
            raise ShopeeError("product.error_param", "invalid field ItemId: value must  Not Null")
        item = self.items.get(body["item_id"])
        if item is None:
            raise ShopeeError("error_item_not_found", "Item_id is not found.")
        stock_list = body.get("stock_list")
        if not isinstance(stock_list, list) or not 1 <= len(stock_list) <= 50:
            raise ShopeeError("error_param", "Wrong parameters, detail: stock_list length 1-50.")
        success, failure = [], []
        for entry in stock_list:
            model = item.models.get(entry.get("model_id"))
            seller = entry.get("seller_stock")
            if model is None:
                failure.append(
                    {"model_id": entry.get("model_id"), "failed_reason": "model not found"}
                )
                continue
            if not isinstance(seller, list) or len(seller) != 1 or "stock" not in seller[0]:
                raise ShopeeError("error_param", "Wrong parameters, detail: seller_stock.")
            location = seller[0].get("location_id")
            # update_stock error_list: a multi-warehouse shop must name the location; one
            # without warehouses "don't need to upload this field" and may not.
            if self.location_id and location is None:
                raise ShopeeError("error_auth", "Lack of location_id, please double check.")
            if location is not None and not self.location_id:
                raise ShopeeError(
                    "error_auth",
                    "You do not have right to use seller location_id, please only fill "
                    "seller_stock filed.",
                )
            if location is not None and location != self.location_id:
                raise ShopeeError(
                    "error_auth",
                    "The location_id input is not matched the shop's location_id(more/wrong). "
                    "Please double check.",
                )
            target = int(seller[0]["stock"])
            if target < model.reserved:
                failure.append(
                    {
                        "model_id": model.model_id,
                        "failed_reason": "Total stock must be more than reserved stock.",
                    }
                )
                continue
            model.stock = target
            success.append(
                {"model_id": model.model_id, "location_id": location or "IDZ", "stock": target}
            )
        answer = {"success_list": success, "failure_list": failure}
        if failure and not success:
            # "Update stock failed, please check failure_list for detailed reason": the
            # per-model reasons still come in `response`.
            raise ShopeeError(
                "error_busi_update_stock_failed",
                "Update stock failed, please check failure_list for detailed reason",
                response=answer,
            )
        return {"response": answer, "warning": ""}
