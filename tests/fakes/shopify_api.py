"""A stateful fake of Shopify's Admin GraphQL API, as much of it as omnisync speaks.

It answers the operations the adapter sends (recognised by operation name, shaped by their
variables), keeps inventory per item and location, enforces the 1,000-point single-query
limit and the leaky cost bucket (THROTTLED in an HTTP 200), compare-and-set through
`changeFromQuantity`, `@idempotent` keys, scopes and the access token.

Sources for the rules below are cited beside each (research = ../shared/research/
marketplace-apis.md, whose section 8 was checked against schemas captured from a live store).
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl

from tests.fakes.server import FakeApp, Request, Response
from tests.fakes.shopify_inventory import LOCATION as LOCATION
from tests.fakes.shopify_inventory import Bucket as Bucket
from tests.fakes.shopify_inventory import (
    InventoryOps,
    Variant,
    cursor,
    objects,
    uncursor,
)

TOKEN = "shpat_fake_token_0123456789abcdef"
CLIENT_ID = "fake0client0id0123456789abcdef01"
CLIENT_SECRET = "shpss_fake_client_secret_0123456789"
OTHER_LOCATION = "gid://shopify/Location/2"
ALL_SCOPES = (
    "read_orders",
    "read_all_orders",
    "write_inventory",  # grants read_inventory too
    "read_locations",
)
# The scope each operation needs (research section 8): orders read_orders; inventory levels
# and quantities read_inventory; inventorySetQuantities write_inventory; Location fields but
# `id` read_locations (since 2024-07). currentAppInstallation and shop need none.
NEEDED = {
    "Orders": ("read_orders", "orders"),
    "OrderLines": ("read_orders", "order"),
    "OrderRefunds": ("read_orders", "order"),
    "Listings": ("read_inventory", "inventoryLevels"),
    "Levels": ("read_inventory", "inventoryLevel"),
    "SetQuantities": ("write_inventory", "inventorySetQuantities"),
    "ProbeLocation": ("read_locations", "location"),
}
_OPERATION = re.compile(r"^\s*(query|mutation)\s+(\w+)")
_SEARCH = re.compile(r"updated_at:(>=|<)'([^']+)'")


class FakeShopify(InventoryOps, FakeApp):
    """One shop. Build state with `add_variant` / `add_order`, then point the adapter at it."""

    def __init__(
        self,
        *,
        token: str = TOKEN,
        api_version: str = "2026-10",
        scopes: tuple[str, ...] = ALL_SCOPES,
        bucket: Bucket | None = None,
        latency: float = 0.0,
        all_or_nothing: bool = True,
        served_as: str | None = None,
        cost_factor: float = 1.0,
        max_objects: int = 25_000,
    ) -> None:
        super().__init__(latency=latency)
        # A pinned version Shopify no longer supports is served as the oldest supported one,
        # and only the X-Shopify-API-Version header says so (research section 8).
        self.served_as = served_as or api_version
        # Shopify's own count of a query's cost, which a count by hand can miss (research 8:
        # "query cost estimated by hand can differ from Shopify's"): the documented formula
        # times this factor.
        self.cost_factor = cost_factor
        # Shopify refuses to page a search past 25,000 objects (research 1.2,
        # https://shopify.dev/api/usage/limits); tests lower it to stay fast.
        self.max_objects = max_objects
        # Dev Dashboard apps: client-credentials grant, tokens valid 86399 s (research 8).
        self.client_id, self.client_secret = CLIENT_ID, CLIENT_SECRET
        self.granted: dict[str, float] = {}  # token -> expiry (time.time())
        self.grants = 0
        # Whether one refused item sinks a whole inventorySetQuantities call is not
        # documented (research 1.4: "UNVERIFIED"; the payload has one adjustment group), so
        # the fake does either: refuse it all (the default), or apply the items without an
        # error and answer their adjustment group beside the userErrors.
        self.all_or_nothing = all_or_nothing
        self.token = token
        self.api_version = api_version
        self.scopes = scopes
        self.bucket = bucket or Bucket()
        self.locations = {LOCATION: "Main warehouse", OTHER_LOCATION: "Second store"}
        self.variants: list[Variant] = []
        self.items: set[str] = set()
        self.levels: dict[tuple[str, str], int] = {}
        self.orders: dict[str, dict[str, Any]] = {}
        self.idempotency: dict[str, tuple[str, dict[str, Any]]] = {}
        self.adjustments: list[dict[str, Any]] = []  # every applied inventorySetQuantities input
        self.operations: list[tuple[str, dict[str, Any]]] = []
        self.throttled = 0  # requests answered THROTTLED
        self.spent = 0.0  # points actually charged (after refunds), for the benchmark's floor
        # Called with the operation name before it runs: a test "sells" or edits here.
        self.before: list[Any] = []
        # A caching proxy: the next this-many order pages asked with a cursor are answered
        # with the previous page's answer (issue 12's dropped pages).
        self.repeat_order_pages = 0
        self._last_orders: dict[str, Any] | None = None
        # Order id -> the updatedAt the search index still holds. Shopify's search filter
        # reads an index that can trail the order itself (research 1.2: an `updated_at`
        # window "returning incomplete data"; "treat windows as leaky"), so a search can
        # match an order by an older time than the `updatedAt` it then shows.
        self.indexed: dict[str, str] = {}

    # -- building state -----------------------------------------------------------------

    def add_variant(
        self,
        sku: str | None,
        available: int,
        *,
        tracked: bool = True,
        location: str | None = LOCATION,
        name: str = "",
    ) -> str:
        number = len(self.variants) + 1
        item = f"gid://shopify/InventoryItem/{47000 + number}"
        self.items.add(item)
        self.variants.append(
            Variant(
                f"gid://shopify/ProductVariant/{44000 + number}",
                sku,
                name or f"Item {number}",
                item,
                tracked,
            )
        )
        if location is not None:
            self.levels[(item, location)] = available
        return item

    def item_for(self, sku: str) -> str:
        return next(v.item for v in self.variants if v.sku == sku)

    def available(self, sku: str, location: str = LOCATION) -> int:
        return self.levels[(self.item_for(sku), location)]

    def add_order(
        self,
        number: int,
        lines: list[tuple[str, int]],
        *,
        updated: str,
        created: str | None = None,
        financial: str = "PAID",
        fulfilment: str = "UNFULFILLED",
        cancelled: bool = False,
        closed: bool = False,
        price: str = "10.00",
        sold_at: str | None = None,
        fulfilled_from: str | None = None,
    ) -> dict[str, Any]:
        """An order; `sold_at` a POS location (`retailLocation`), `fulfilled_from` the location
        its fulfillment left from (`Fulfillment.location`)."""
        order_id = f"gid://shopify/Order/{number}"
        if fulfilled_from is None and fulfilment in ("FULFILLED", "PARTIALLY_FULFILLED"):
            fulfilled_from = sold_at or LOCATION
        order = {
            "id": order_id,
            "name": f"#{number}",
            "createdAt": created or updated,
            "updatedAt": updated,
            "cancelledAt": updated if cancelled else None,
            "closedAt": updated if closed else None,
            "displayFinancialStatus": financial,
            "displayFulfillmentStatus": fulfilment,
            # Orders from every location come back from `orders` (research section 8).
            "retailLocation": {"id": sold_at} if sold_at else None,
            "fulfillments": [{"location": {"id": fulfilled_from}}] if fulfilled_from else [],
            "lineItems": [
                {
                    "id": f"gid://shopify/LineItem/{number * 100 + index}",
                    "sku": sku,
                    "quantity": quantity,
                    "currentQuantity": quantity,
                    "unfulfilledQuantity": 0 if fulfilment == "FULFILLED" else quantity,
                    "originalUnitPriceSet": {"shopMoney": {"amount": price, "currencyCode": "USD"}},
                }
                for index, (sku, quantity) in enumerate(lines, start=1)
            ],
            "refunds": [],
        }
        self.orders[order_id] = order
        return order

    def cancel(self, order: dict[str, Any], *, updated: str) -> None:
        """Cancel as Shopify does: units not yet fulfilled are removed (a CANCEL refund line,
        restocked); units already fulfilled stay fulfilled (research section 8)."""
        order["cancelledAt"] = order["updatedAt"] = updated
        removed = []
        for line in order["lineItems"]:
            if line["unfulfilledQuantity"]:
                removed.append((line["id"], line["unfulfilledQuantity"], "CANCEL", True))
                line["currentQuantity"] -= line["unfulfilledQuantity"]
                line["unfulfilledQuantity"] = 0
        if removed:
            number = len(order["refunds"]) + 1
            order["refunds"].append({"id": f"gid://shopify/Refund/{number}", "lines": removed})

    def sell(self, sku: str, quantity: int) -> None:
        """A sale on Shopify itself: the level drops, as Shopify does when an order comes."""
        key = (self.item_for(sku), LOCATION)
        self.levels[key] -= quantity

    # -- HTTP ---------------------------------------------------------------------------

    def label(self, request: Request) -> str:
        try:
            match = _OPERATION.match(request.json()["query"])
        except (ValueError, KeyError, TypeError):
            return request.path
        return match.group(2) if match else request.path

    def _grant(self, request: Request) -> Response:
        # POST /admin/oauth/access_token, form-encoded client_credentials (research section 8;
        # https://shopify.dev/docs/apps/build/authentication-authorization/client-secrets).
        # A refusal answers as OAuth 2.0 does (RFC 6749 section 5.2: 400 invalid_client);
        # Shopify's exact wording is not documented.
        form = dict(parse_qsl(request.body.decode()))
        if form.get("grant_type") != "client_credentials":
            return Response(400, {"error": "unsupported_grant_type"})
        if (form.get("client_id"), form.get("client_secret")) != (
            self.client_id,
            self.client_secret,
        ):
            return Response(
                400,
                {
                    "error": "invalid_client",
                    "error_description": "Client authentication failed due to unknown "
                    "client, no client authentication included, or unsupported method.",
                },
            )
        self.grants += 1
        token = f"shpat_granted_{self.grants:04d}_{uuid.uuid4().hex}"
        self.granted[token] = time.time() + 86399
        return Response(
            200, {"access_token": token, "scope": ",".join(self.scopes), "expires_in": 86399}
        )

    def _token_ok(self, token: str | None) -> bool:
        if token is not None and token == self.token:
            return True
        expiry = self.granted.get(token or "")
        return expiry is not None and expiry > time.time()

    async def handle(self, request: Request) -> Response:
        if request.method == "POST" and request.path == "/admin/oauth/access_token":
            return self._grant(request)
        if (
            request.method != "POST"
            or request.path != f"/admin/api/{self.api_version}/graphql.json"
        ):
            return Response(404, {"errors": "Not Found"})
        response = await self._graphql(request)
        response.headers.setdefault("X-Shopify-API-Version", self.served_as)
        return response

    async def _graphql(self, request: Request) -> Response:
        if not self._token_ok(request.headers.get("x-shopify-access-token")):
            return Response(
                401,
                {
                    "errors": "[API] Invalid API key or access token "
                    "(unrecognized login or wrong password)"
                },
            )
        try:
            body = request.json()
            query, variables = body["query"], body.get("variables") or {}
            operation = _OPERATION.match(query).group(2)  # type: ignore[union-attr]
        except (ValueError, KeyError, TypeError, AttributeError):
            return Response(400, {"errors": [{"message": "Parse error on request body"}]})
        with self.lock:
            return self._run(operation, query, variables)

    def _run(self, operation: str, query: str, variables: dict[str, Any]) -> Response:
        requested = self._requested_cost(operation, variables)
        if requested > 1000:
            return Response(
                200,
                {
                    "errors": [
                        {
                            "message": f"Query cost is {requested}, which exceeds the single "
                            "query max cost limit (1000).",
                            "extensions": {
                                "code": "MAX_COST_EXCEEDED",
                                "cost": requested,
                                "maxCost": 1000,
                            },
                        }
                    ]
                },
            )
        self.bucket.refill()
        if self.bucket.available < requested:
            self.throttled += 1
            return Response(
                200,
                {
                    "errors": [
                        {
                            "message": "Throttled",
                            "extensions": {
                                "code": "THROTTLED",
                                "documentation": "https://shopify.dev/api/usage/rate-limits",
                            },
                        }
                    ],
                    "extensions": {
                        "cost": {
                            "requestedQueryCost": requested,
                            "actualQueryCost": None,
                            "throttleStatus": self.bucket.status(),
                        }
                    },
                },
            )
        needed, field_name = NEEDED.get(operation, ("", ""))
        # A write scope grants its read scope.
        have = set(self.scopes) | {
            "read_" + s.removeprefix("write_") for s in self.scopes if s.startswith("write_")
        }
        if needed and needed not in have:
            return Response(
                200,
                {
                    # The shape of Shopify's answer as captured from live stores in public
                    # code (message, path, extensions.requiredAccess).
                    "errors": [
                        {
                            "message": f"Access denied for {field_name} field. "
                            f"Required access: `{needed}` access scope.",
                            "path": [field_name],
                            "extensions": {
                                "code": "ACCESS_DENIED",
                                "documentation": "https://shopify.dev/api/usage/access-scopes",
                                "requiredAccess": f"`{needed}` access scope.",
                            },
                        }
                    ]
                },
            )
        for hook in list(self.before):
            hook(operation, variables)
        self.operations.append((operation, variables))
        handler = getattr(self, f"_op_{operation}", None)
        if handler is None:
            return Response(200, {"errors": [{"message": f"Field '{operation}' doesn't exist"}]})
        data = handler(query, variables)
        if "__error__" in data:  # a top-level error instead of data
            error: dict[str, Any] = {"message": data["__error__"]}
            if "__code__" in data:
                error["extensions"] = {"code": data["__code__"]}
            return Response(200, {"errors": [error]})
        self.bucket.available -= requested
        # A mutation costs Shopify's flat 10 points whatever it returns; a query is refunded
        # down to the objects it actually returned.
        if operation == "SetQuantities":
            actual = requested
        else:
            actual = min(requested, max(1, objects(data)))
        self.bucket.available += requested - actual  # Shopify refunds the unused part
        self.spent += actual
        return Response(
            200,
            {
                "data": data,
                "extensions": {
                    "cost": {
                        "requestedQueryCost": requested,
                        "actualQueryCost": actual,
                        "throttleStatus": self.bucket.status(),
                    }
                },
            },
        )

    def _requested_cost(self, operation: str, v: dict[str, Any]) -> int:
        return int(FakeShopify._cost(operation, v) * self.cost_factor)

    @staticmethod
    def _cost(operation: str, v: dict[str, Any]) -> Any:
        """Shopify's worst-case cost: objects 1, connections 2 + first × node."""
        if operation == "Listings":
            return 1 + 2 + v["first"] * 3
        if operation == "Orders":
            refund = 1 + 2 + v["refundLines"] * 2
            # retailLocation 1; fulfillments a list of (fulfillment 1 + location 1).
            places = 1 + v.get("fulfillments", 0) * 2
            node = 1 + places + (2 + v["lines"] * 3) + (2 + v["refunds"] * refund)
            return 2 + v["first"] * node
        if operation == "OrderLines":
            return 1 + 2 + v["lines"] * 3
        if operation == "OrderRefunds":
            return 1 + 2 + v["refunds"] * (1 + 2 + v["refundLines"] * 2)
        if operation == "Levels":
            return 2 + len(v["ids"]) * 3
        if operation == "SetQuantities":
            return 10
        return 3

    # -- operations -----------------------------------------------------------------------

    def _op_Probe(self, query: str, v: dict[str, Any]) -> dict[str, Any]:
        return {
            "shop": {"name": "Fake shop"},
            "currentAppInstallation": {"accessScopes": [{"handle": s} for s in self.scopes]},
        }

    def _op_ProbeLocation(self, query: str, v: dict[str, Any]) -> dict[str, Any]:
        name = self.locations.get(v["location"])
        return {"location": {"id": v["location"], "name": name, "isActive": True} if name else None}

    def _lines(self, order: dict[str, Any], first: int, after: int) -> dict[str, Any]:
        lines = order["lineItems"][after : after + first]
        end = after + len(lines)
        return {
            "pageInfo": {"hasNextPage": end < len(order["lineItems"]), "endCursor": cursor(end)},
            "nodes": lines,
        }

    def _refunds(self, order: dict[str, Any], first: int, lines: int) -> list[dict[str, Any]]:
        return [
            {
                "id": refund["id"],
                "refundLineItems": {
                    "pageInfo": {"hasNextPage": len(refund["lines"]) > lines},
                    "nodes": [
                        {
                            "quantity": line[1],
                            "restockType": line[2],
                            # Whether the units went back to stock: a RETURN can be refunded
                            # without them (research section 8); given, or by the type.
                            "restocked": line[3] if len(line) > 3 else line[2] != "NO_RESTOCK",
                            "lineItem": {"id": line[0]},
                        }
                        for line in refund["lines"][:lines]
                    ],
                },
            }
            for refund in order["refunds"][:first]
        ]

    def _op_Orders(self, query: str, v: dict[str, Any]) -> dict[str, Any]:
        if self.repeat_order_pages and v.get("after") and self._last_orders is not None:
            self.repeat_order_pages -= 1
            return self._last_orders
        self._last_orders = self._orders_page(query, v)
        return self._last_orders

    def _orders_page(self, query: str, v: dict[str, Any]) -> dict[str, Any]:
        assert "sortKey: UPDATED_AT" in query, "omnisync must sort orders by UPDATED_AT"
        bounds = dict((op, value) for op, value in _SEARCH.findall(v["query"]))
        rows = sorted(self.orders.values(), key=lambda o: (o["updatedAt"], o["id"]))

        def searched(order: dict[str, Any]) -> str:
            return str(self.indexed.get(order["id"], order["updatedAt"]))

        if ">=" in bounds:
            rows = [o for o in rows if searched(o) >= bounds[">="]]
        if "<" in bounds:
            rows = [o for o in rows if searched(o) < bounds["<"]]
        served = 0
        if v.get("after"):
            # A keyset cursor, as Shopify's: the sort key of the last order served, and how
            # many this search has paged through.
            *last, served = uncursor(v["after"])
            if served + v["first"] > self.max_objects:
                return {
                    "__error__": f"Pagination is limited to {self.max_objects} objects; "
                    "narrow the search"
                }
            rows = [o for o in rows if (o["updatedAt"], o["id"]) > tuple(last)]
        page = rows[: v["first"]]
        nodes = [
            {
                **{k: o[k] for k in o if k not in ("lineItems", "refunds")},
                "lineItems": self._lines(o, v["lines"], 0),
                "refunds": self._refunds(o, v["refunds"], v["refundLines"]),
            }
            for o in page
        ]
        end_cursor = (
            cursor([page[-1]["updatedAt"], page[-1]["id"], served + len(page)]) if page else None
        )
        return {
            "orders": {
                "pageInfo": {"hasNextPage": len(rows) > len(page), "endCursor": end_cursor},
                "nodes": nodes,
            }
        }

    def _op_OrderLines(self, query: str, v: dict[str, Any]) -> dict[str, Any]:
        order = self.orders.get(v["id"])
        if order is None:
            return {"order": None}
        after = uncursor(v["after"]) if v.get("after") else 0
        return {"order": {"lineItems": self._lines(order, v["lines"], after)}}

    def _op_OrderRefunds(self, query: str, v: dict[str, Any]) -> dict[str, Any]:
        order = self.orders.get(v["id"])
        if order is None:
            return {"order": None}
        return {"order": {"refunds": self._refunds(order, v["refunds"], v["refundLines"])}}
