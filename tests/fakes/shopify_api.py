"""A stateful fake of Shopify's Admin GraphQL API, as much of it as omnisync speaks.

It answers the operations the adapter sends (recognised by operation name, shaped by their
variables), keeps inventory per item and location, enforces the 1,000-point single-query
limit and the leaky cost bucket (THROTTLED in an HTTP 200), compare-and-set through
`changeFromQuantity`, `@idempotent` keys, scopes and the access token.
"""

from __future__ import annotations

import base64
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.server import FakeApp, Request, Response

TOKEN = "shpat_fake_token_0123456789abcdef"
LOCATION = "gid://shopify/Location/1"
ALL_SCOPES = ("read_orders", "read_all_orders", "read_products", "write_inventory")
_OPERATION = re.compile(r"^\s*(query|mutation)\s+(\w+)")
_SEARCH = re.compile(r"updated_at:(>=|<)'([^']+)'")


def _cursor(value: Any) -> str:
    return base64.b64encode(json.dumps(value).encode()).decode()


def _uncursor(text: str) -> Any:
    return json.loads(base64.b64decode(text))


def _objects(value: Any) -> int:
    """The actual cost of an answer: one point per object in it."""
    if isinstance(value, dict):
        return 1 + sum(_objects(item) for item in value.values())
    if isinstance(value, list):
        return sum(_objects(item) for item in value)
    return 0


@dataclass
class Variant:
    id: str
    sku: str | None
    name: str
    item: str
    tracked: bool = True


@dataclass
class Bucket:
    maximum: float = 2000.0
    rate: float = 100.0
    available: float = 2000.0
    stamp: float = field(default_factory=time.monotonic)

    def refill(self) -> None:
        now = time.monotonic()
        self.available = min(self.maximum, self.available + (now - self.stamp) * self.rate)
        self.stamp = now

    def status(self) -> dict[str, float]:
        return {
            "maximumAvailable": self.maximum,
            "currentlyAvailable": round(self.available, 3),
            "restoreRate": self.rate,
        }


class FakeShopify(FakeApp):
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
    ) -> None:
        super().__init__(latency=latency)
        # Whether one refused item sinks a whole inventorySetQuantities call is not
        # documented (research 1.4: "UNVERIFIED"; the payload has one adjustment group), so
        # the fake does either: refuse it all (the default), or apply the items without an
        # error and answer their adjustment group beside the userErrors.
        self.all_or_nothing = all_or_nothing
        self.token = token
        self.api_version = api_version
        self.scopes = scopes
        self.bucket = bucket or Bucket()
        self.locations = {LOCATION: "Main warehouse"}
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
    ) -> dict[str, Any]:
        order_id = f"gid://shopify/Order/{number}"
        order = {
            "id": order_id,
            "name": f"#{number}",
            "createdAt": created or updated,
            "updatedAt": updated,
            "cancelledAt": updated if cancelled else None,
            "closedAt": updated if closed else None,
            "displayFinancialStatus": financial,
            "displayFulfillmentStatus": fulfilment,
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

    async def handle(self, request: Request) -> Response:
        if (
            request.method != "POST"
            or request.path != f"/admin/api/{self.api_version}/graphql.json"
        ):
            return Response(404, {"errors": "Not Found"})
        if request.headers.get("x-shopify-access-token") != self.token:
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
        needed = {
            "Orders": "read_orders",
            "OrderLines": "read_orders",
            "OrderRefunds": "read_orders",
            "Listings": "read_products",
            "Levels": "read_products",
            "SetQuantities": "write_inventory",
        }.get(operation)
        if needed and needed not in self.scopes:
            return Response(
                200,
                {
                    "errors": [
                        {
                            "message": f"Access denied for {operation}. "
                            f"Required access: `{needed}` access scope.",
                            "extensions": {"code": "ACCESS_DENIED"},
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
        self.bucket.available -= requested
        actual = min(requested, max(1, _objects(data)))
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

    @staticmethod
    def _requested_cost(operation: str, v: dict[str, Any]) -> int:
        return int(FakeShopify._cost(operation, v))

    @staticmethod
    def _cost(operation: str, v: dict[str, Any]) -> Any:
        """Shopify's worst-case cost: objects 1, connections 2 + first × node."""
        if operation == "Listings":
            return 1 + 2 + v["first"] * 3
        if operation == "Orders":
            refund = 1 + 2 + v["refundLines"] * 2
            node = 1 + (2 + v["lines"] * 3) + (2 + v["refunds"] * refund)
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
        name = self.locations.get(v["location"])
        return {
            "shop": {"name": "Fake shop"},
            "location": {"id": v["location"], "name": name, "isActive": True} if name else None,
            "currentAppInstallation": {"accessScopes": [{"handle": s} for s in self.scopes]},
        }

    def _op_Listings(self, query: str, v: dict[str, Any]) -> dict[str, Any]:
        if v["location"] not in self.locations:
            return {"location": None}
        stocked = [x for x in self.variants if (x.item, v["location"]) in self.levels]
        start = _uncursor(v["after"]) if v.get("after") else 0
        page = stocked[start : start + v["first"]]
        nodes = [
            {
                "quantities": [
                    {"name": "available", "quantity": self.levels[(x.item, v["location"])]}
                ],
                "item": {"id": x.item, "sku": x.sku, "tracked": x.tracked},
            }
            for x in page
        ]
        end = start + len(page)
        return {
            "location": {
                "inventoryLevels": {
                    "pageInfo": {"hasNextPage": end < len(stocked), "endCursor": _cursor(end)},
                    "nodes": nodes,
                }
            }
        }

    def _lines(self, order: dict[str, Any], first: int, after: int) -> dict[str, Any]:
        lines = order["lineItems"][after : after + first]
        end = after + len(lines)
        return {
            "pageInfo": {"hasNextPage": end < len(order["lineItems"]), "endCursor": _cursor(end)},
            "nodes": lines,
        }

    def _refunds(self, order: dict[str, Any], first: int, lines: int) -> list[dict[str, Any]]:
        return [
            {
                "id": refund["id"],
                "refundLineItems": {
                    "pageInfo": {"hasNextPage": len(refund["lines"]) > lines},
                    "nodes": [
                        {"quantity": q, "restockType": r, "lineItem": {"id": line}}
                        for line, q, r in refund["lines"][:lines]
                    ],
                },
            }
            for refund in order["refunds"][:first]
        ]

    def _op_Orders(self, query: str, v: dict[str, Any]) -> dict[str, Any]:
        assert "sortKey: UPDATED_AT" in query, "omnisync must sort orders by UPDATED_AT"
        bounds = dict((op, value) for op, value in _SEARCH.findall(v["query"]))
        rows = sorted(self.orders.values(), key=lambda o: (o["updatedAt"], o["id"]))

        def searched(order: dict[str, Any]) -> str:
            return str(self.indexed.get(order["id"], order["updatedAt"]))

        if ">=" in bounds:
            rows = [o for o in rows if searched(o) >= bounds[">="]]
        if "<" in bounds:
            rows = [o for o in rows if searched(o) < bounds["<"]]
        if v.get("after"):
            # A keyset cursor, as Shopify's: the sort key of the last order served.
            last = tuple(_uncursor(v["after"]))
            rows = [o for o in rows if (o["updatedAt"], o["id"]) > last]
        page = rows[: v["first"]]
        nodes = [
            {
                **{k: o[k] for k in o if k not in ("lineItems", "refunds")},
                "lineItems": self._lines(o, v["lines"], 0),
                "refunds": self._refunds(o, v["refunds"], v["refundLines"]),
            }
            for o in page
        ]
        end_cursor = _cursor([page[-1]["updatedAt"], page[-1]["id"]]) if page else None
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
        after = _uncursor(v["after"]) if v.get("after") else 0
        return {"order": {"lineItems": self._lines(order, v["lines"], after)}}

    def _op_OrderRefunds(self, query: str, v: dict[str, Any]) -> dict[str, Any]:
        order = self.orders.get(v["id"])
        if order is None:
            return {"order": None}
        return {"order": {"refunds": self._refunds(order, v["refunds"], v["refundLines"])}}

    def _op_Levels(self, query: str, v: dict[str, Any]) -> dict[str, Any]:
        nodes: list[dict[str, Any] | None] = []
        for item in v["ids"]:
            level = self.levels.get((item, v["location"]))
            known = item in self.items
            nodes.append(
                None
                if not known
                else {
                    "id": item,
                    "inventoryLevel": None
                    if level is None
                    else {"quantities": [{"name": "available", "quantity": level}]},
                }
            )
        return {"nodes": nodes}

    def _op_SetQuantities(self, query: str, v: dict[str, Any]) -> dict[str, Any]:
        if "@idempotent(key: $key)" not in query:
            return self._set_payload(
                None, [{"code": None, "field": None, "message": "Idempotency key required"}]
            )
        key, payload = v["key"], v["input"]
        fingerprint = json.dumps(payload, sort_keys=True)
        if key in self.idempotency:
            seen, answer = self.idempotency[key]
            if seen != fingerprint:
                return self._set_payload(
                    None,
                    [
                        {
                            "code": "IDEMPOTENCY_KEY_PARAMETER_MISMATCH",
                            "field": None,
                            "message": "Key reused with other parameters",
                        }
                    ],
                )
            return answer  # the original result; applied once
        answer = self._apply(payload)
        self.idempotency[key] = (fingerprint, answer)
        return answer

    def _apply(self, payload: dict[str, Any]) -> dict[str, Any]:
        errors: list[dict[str, Any]] = []
        if payload.get("name") != "available":
            errors.append(
                {"code": "INVALID_NAME", "field": ["input", "name"], "message": "bad name"}
            )
        if not payload.get("reason"):
            errors.append(
                {"code": "INVALID_REASON", "field": ["input", "reason"], "message": "bad reason"}
            )
        quantities = payload.get("quantities") or []
        if len(quantities) > 250:
            errors.append(
                {
                    "code": None,
                    "field": ["input", "quantities"],
                    "message": "The input array size is greater than the maximum allowed of 250.",
                }
            )
        for index, q in enumerate(quantities):
            field_path = ["input", "quantities", str(index)]
            key = (q["inventoryItemId"], q["locationId"])
            if q["locationId"] not in self.locations:
                errors.append(
                    {
                        "code": "INVALID_LOCATION",
                        "field": [*field_path, "locationId"],
                        "message": "The specified location could not be found.",
                    }
                )
            elif q["inventoryItemId"] not in self.items:
                errors.append(
                    {
                        "code": "INVALID_INVENTORY_ITEM",
                        "field": [*field_path, "inventoryItemId"],
                        "message": "The specified inventory item could not be found.",
                    }
                )
            elif key not in self.levels:
                errors.append(
                    {
                        "code": "ITEM_NOT_STOCKED_AT_LOCATION",
                        "field": [*field_path, "inventoryItemId"],
                        "message": "The specified inventory item is not stocked at the location.",
                    }
                )
            elif "changeFromQuantity" not in q:
                # Mandatory on every quantity from 2026-04; omitting it is an error.
                errors.append(
                    {
                        "code": "COMPARE_QUANTITY_REQUIRED",
                        "field": [*field_path, "changeFromQuantity"],
                        "message": "changeFromQuantity is required",
                    }
                )
            elif (
                q["changeFromQuantity"] is not None and q["changeFromQuantity"] != self.levels[key]
            ):
                errors.append(
                    {
                        "code": "CHANGE_FROM_QUANTITY_STALE",
                        "field": [*field_path, "changeFromQuantity"],
                        "message": "The changeFromQuantity value does not match persisted value.",
                    }
                )
            elif q["quantity"] < 0:
                errors.append(
                    {
                        "code": "INVALID_QUANTITY_NEGATIVE",
                        "field": [*field_path, "quantity"],
                        "message": "negative",
                    }
                )
        refused = {int(e["field"][2]) for e in errors if e["field"] and len(e["field"]) > 2}
        whole = any(not e["field"] or len(e["field"]) <= 2 for e in errors)
        if errors and (self.all_or_nothing or whole):
            # One bad quantity (or a bad input) and nothing is set.
            return self._set_payload(None, errors)
        applied = [q for index, q in enumerate(quantities) if index not in refused]
        if not applied:
            return self._set_payload(None, errors)
        for q in applied:
            self.levels[(q["inventoryItemId"], q["locationId"])] = q["quantity"]
        self.adjustments.append(payload | {"quantities": applied})
        return self._set_payload(
            {"id": f"gid://shopify/InventoryAdjustmentGroup/{len(self.adjustments)}"}, errors
        )

    @staticmethod
    def _set_payload(group: dict[str, Any] | None, errors: list[dict[str, Any]]) -> dict[str, Any]:
        return {"inventorySetQuantities": {"inventoryAdjustmentGroup": group, "userErrors": errors}}
