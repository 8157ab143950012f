"""What Shopify answers to the queries in `queries.py`, as models (the fields omnisync reads)."""

from __future__ import annotations

from typing import Any

from omnisync.payload import Id, Money, Payload, UtcTime
from omnisync.payload import Quantity as Units

# -- the envelope ---------------------------------------------------------------------------


class ThrottleStatus(Payload):
    maximumAvailable: float
    currentlyAvailable: float
    restoreRate: float


class Cost(Payload):
    requestedQueryCost: float | None = None
    actualQueryCost: float | None = None
    throttleStatus: ThrottleStatus | None = None


class Extensions(Payload):
    cost: Cost | None = None


class ErrorExtensions(Payload):
    code: str | None = None
    cost: float | None = None  # MAX_COST_EXCEEDED: what the query would have cost


class GraphQLError(Payload):
    message: str = ""
    extensions: ErrorExtensions | None = None

    @property
    def code(self) -> str | None:
        return self.extensions.code if self.extensions else None


# -- orders ---------------------------------------------------------------------------------


class PageInfo(Payload):
    hasNextPage: bool
    endCursor: str | None = None


class ShopMoney(Payload):
    amount: Money | None = None
    currencyCode: str | None = None


class PriceSet(Payload):
    shopMoney: ShopMoney | None = None


class LineItem(Payload):
    id: Id
    sku: str | None = None
    quantity: Units
    currentQuantity: Units
    unfulfilledQuantity: Units
    originalUnitPriceSet: PriceSet | None = None


class LineItems(Payload):
    pageInfo: PageInfo
    nodes: list[LineItem]


class LineRef(Payload):
    id: Id


class RefundLineItem(Payload):
    quantity: Units
    restockType: str | None = None  # RETURN, NO_RESTOCK, CANCEL, LEGACY_RESTOCK
    restocked: bool | None = None  # whether the units really went back to stock
    lineItem: LineRef | None = None


class RefundLineItems(Payload):
    pageInfo: PageInfo
    nodes: list[RefundLineItem]


class Refund(Payload):
    id: Id
    refundLineItems: RefundLineItems


class LocationRef(Payload):
    id: Id


class Fulfillment(Payload):
    location: LocationRef | None = None


class OrderNode(Payload):
    id: Id
    createdAt: UtcTime
    updatedAt: UtcTime
    cancelledAt: UtcTime | None = None
    closedAt: UtcTime | None = None
    displayFinancialStatus: str | None = None
    displayFulfillmentStatus: str | None = None
    lineItems: LineItems
    refunds: list[Refund]
    retailLocation: LocationRef | None = None  # where a POS order was sold
    fulfillments: list[Fulfillment] = []


class Orders(Payload):
    pageInfo: PageInfo
    # Each read as an OrderNode on its own: one order Shopify garbled must not stop the others.
    nodes: list[Any]


class OrdersData(Payload):
    orders: Orders


class OrderLines(Payload):
    lineItems: LineItems


class OrderLinesData(Payload):
    order: OrderLines | None


class OrderRefunds(Payload):
    refunds: list[Refund]


class OrderRefundsData(Payload):
    order: OrderRefunds | None


# -- inventory ------------------------------------------------------------------------------


class Quantity(Payload):
    name: str
    quantity: int


def available(quantities: list[Quantity]) -> int | None:
    """The `available` quantity among those a level reports, if it is there."""
    return next((q.quantity for q in quantities if q.name == "available"), None)


class InventoryItem(Payload):
    id: Id
    sku: str | None = None
    tracked: bool


class InventoryLevel(Payload):
    quantities: list[Quantity]
    item: InventoryItem


class InventoryLevels(Payload):
    pageInfo: PageInfo
    nodes: list[InventoryLevel]


class ListingsLocation(Payload):
    inventoryLevels: InventoryLevels


class ListingsData(Payload):
    location: ListingsLocation | None  # null: no such location


class LevelQuantities(Payload):
    quantities: list[Quantity]


class LevelsNode(Payload):
    # `nodes(ids:)` answers null for an unknown id and {} for a node of another type.
    id: Id | None = None
    inventoryLevel: LevelQuantities | None = None  # null: not stocked at the location


class LevelsData(Payload):
    nodes: list[LevelsNode | None]


class UserError(Payload):
    code: str | None = None
    field: list[str] | None = None
    message: str = ""

    @property
    def quantity_index(self) -> int | None:
        """The item this error is about: field ["input", "quantities", "3", ...] → 3."""
        field = self.field or []
        if len(field) >= 3 and field[1] == "quantities" and field[2].isdigit():
            return int(field[2])
        return None


class AdjustmentGroup(Payload):
    id: Id | None = None


class SetQuantities(Payload):
    inventoryAdjustmentGroup: AdjustmentGroup | None = None
    userErrors: list[UserError]


class SetData(Payload):
    inventorySetQuantities: SetQuantities


# -- probe ----------------------------------------------------------------------------------


class ShopName(Payload):
    name: str = "?"


class ProbeLocation(Payload):
    id: Id
    name: str = ""
    isActive: bool = True


class Scope(Payload):
    handle: str


class Installation(Payload):
    accessScopes: list[Scope] = []


class ProbeData(Payload):
    shop: ShopName | None = None
    currentAppInstallation: Installation | None = None


class ProbeLocationData(Payload):
    location: ProbeLocation | None = None
