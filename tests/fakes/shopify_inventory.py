"""The inventory half of the Shopify fake: levels per item and location, and
`inventorySetQuantities` with compare-and-set, `@idempotent` keys and its user errors."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from typing import Any

LOCATION = "gid://shopify/Location/1"


def cursor(value: Any) -> str:
    return base64.b64encode(json.dumps(value).encode()).decode()


def uncursor(text: str) -> Any:
    return json.loads(base64.b64decode(text))


def objects(value: Any) -> int:
    """The actual cost of an answer: one point per object in it."""
    if isinstance(value, dict):
        return 1 + sum(objects(item) for item in value.values())
    if isinstance(value, list):
        return sum(objects(item) for item in value)
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


class InventoryOps:
    """Operations on inventory; FakeShopify holds the state they read and change."""

    variants: list[Variant]
    items: set[str]
    levels: dict[tuple[str, str], int]
    locations: dict[str, str]
    idempotency: dict[str, tuple[str, dict[str, Any]]]
    adjustments: list[dict[str, Any]]
    all_or_nothing: bool

    def _op_Listings(self, query: str, v: dict[str, Any]) -> dict[str, Any]:
        if v["location"] not in self.locations:
            return {"location": None}
        stocked = [x for x in self.variants if (x.item, v["location"]) in self.levels]
        start = uncursor(v["after"]) if v.get("after") else 0
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
                    "pageInfo": {"hasNextPage": end < len(stocked), "endCursor": cursor(end)},
                    "nodes": nodes,
                }
            }
        }

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
            # Mandatory from 2026-04: a missing key is a top-level BAD_REQUEST (research 8).
            return {
                "__error__": "The @idempotent directive is required for this mutation.",
                "__code__": "BAD_REQUEST",
            }
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
