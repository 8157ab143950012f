"""The seller's shop behind the fake Lazada: products, stock, orders, returns (no HTTP).

Stock follows Lazada's inventory model (lazykern/ecommerce-api-docs@eba059e3:data/processed/
lazada/guides/api-best-practice/product-operation/product-inventory-management/
inventory-calculation-logic.md): an order moves units from sellable to withhold (unpaid) or
occupy (paid); ready-to-ship takes them out of the total. GetProducts shows `quantity` as the
total ("quantity | same as totalQuantity", guides/overview/lazop-2-0-overview.md),
`Available` as the sellable, and with `warehouses=True` a `multiWarehouseInventories` entry
for the default `dropshipping` warehouse.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

JAKARTA = timezone(timedelta(hours=7))


def _iso(moment: datetime) -> str:
    # Lazada writes local time with an offset (getorders.json: 2018-02-09T22:44:30+08:00).
    return moment.astimezone(JAKARTA).replace(microsecond=0).isoformat()


def spaced(iso: str) -> str:
    # The form public captures of the live API show: "2018-05-17 09:23:36 +0800".
    return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M:%S %z")


class LazadaShop:
    """One seller's state. Build it with `add_product`, `add_order`; read `stock`."""

    def __init__(self, *, now: Callable[[], datetime] | None = None) -> None:
        self.now = now or (lambda: datetime.now(UTC))
        self.products: dict[int, dict[str, Any]] = {}
        self.orders: dict[str, dict[str, Any]] = {}
        self.reverse_orders: dict[str, str] = {}  # reverse order id -> request_type
        self.locks: dict[int, int] = {}  # SkuId -> campaign-locked sellable quantity
        self.held: dict[int, list[int]] = {}  # SkuId -> [withhold, occupy]
        # SkuId -> its product's item_id: a gateway answers in its latency whatever the shop's
        # size, and a scan of 5,000 products for each of a stock update's 50 SKUs (13 ms a
        # call) queued every other request behind it: arrivals late and bunched, which the
        # quota then counted as a burst the client never sent.
        self._item_of: dict[int, int] = {}
        self._items_of_sku: dict[str, set[int]] = {}  # SellerSku -> item_ids, likewise
        self._ids = itertools.count(100001)

    def add_product(
        self, skus: list[tuple[str, int]], *, name: str = "", warehouses: bool = False
    ) -> tuple[int, list[int]]:
        """A product with SKUs (SellerSku, sellable); an empty SellerSku is allowed here to
        model old listings, though Lazada requires one for new products."""
        item_id = next(self._ids) * 10
        sku_ids = []
        rows = []
        for seller_sku, quantity in skus:
            sku_id = next(self._ids)
            sku_ids.append(sku_id)
            row: dict[str, Any] = {
                "Status": "active",
                "SkuId": sku_id,
                "SellerSku": seller_sku,
                "ShopSku": f"{item_id}_ID-{sku_id}",
                "price": 150000,
            }
            if warehouses:
                row["multiWarehouseInventories"] = [{"warehouseCode": "dropshipping"}]
            self.held[sku_id] = [0, 0]
            self._item_of[sku_id] = item_id
            self._items_of_sku.setdefault(seller_sku, set()).add(item_id)
            rows.append(row)
            self._show(row, quantity)
        self.products[item_id] = {
            # Long in the field table, a string in the sample answer (getproducts.json).
            "item_id": str(item_id),
            "attributes": {"name": name or f"Product {skus[0][0]}"},
            "skus": rows,
            "status": "Active",
            "created_time": str(int(self.now().timestamp() * 1000)),
        }
        return item_id, sku_ids

    def items_with(self, seller_skus: set[str]) -> set[int]:
        """The item_ids of the products having any of these SellerSkus."""
        return {
            item_id
            for sku in seller_skus
            for item_id in self._items_of_sku.get(sku, ())
            if any(row["SellerSku"] == sku for row in self.products[item_id]["skus"])
        }

    def _sku(self, sku_id: int) -> dict[str, Any]:
        known = self.products.get(self._item_of.get(sku_id, 0))
        for row in known["skus"] if known else ():
            if row["SkuId"] == sku_id:
                return row  # type: ignore[no-any-return]
        for product in self.products.values():  # a product a test put in by hand
            for row in product["skus"]:
                if row["SkuId"] == sku_id:
                    return row  # type: ignore[no-any-return]
        raise KeyError(sku_id)

    def _show(self, row: dict[str, Any], sellable: int) -> None:
        """Write a SKU's stock the way GetProducts shows it (inventory-calculation-logic.md,
        lazop-2-0-overview.md): `quantity` the total, `Available` the sellable."""
        withhold, occupy = self.held[row["SkuId"]]
        total = sellable + withhold + occupy
        row["quantity"] = total
        row["Available"] = sellable
        for entry in row.get("multiWarehouseInventories") or ():
            entry.update(
                quantity=total,
                totalQuantity=total,
                sellableQuantity=sellable,
                withholdQuantity=withhold,
                occupyQuantity=occupy,
            )

    def stock(self, sku_id: int) -> int:
        """The SKU's sellable quantity (what UpdateSellableQuantity sets)."""
        return int(self._sku(sku_id)["Available"])

    def total(self, sku_id: int) -> int:
        return int(self._sku(sku_id)["quantity"])

    def set_stock(self, sku_id: int, quantity: int) -> None:
        self._show(self._sku(sku_id), quantity)

    def sell(self, sku_id: int, quantity: int = 1, *, paid: bool = False) -> None:
        """A buyer orders units: they move from sellable to withhold (unpaid) or occupy
        (paid); the total stays (inventory-calculation-logic.md)."""
        self.held[sku_id][1 if paid else 0] += quantity
        self.set_stock(sku_id, self.stock(sku_id) - quantity)

    def ready_to_ship(self, sku_id: int, quantity: int = 1) -> None:
        """Paid units leave the warehouse: out of occupy, and so out of the total."""
        self.held[sku_id][1] -= quantity
        self.set_stock(sku_id, self.stock(sku_id))

    def add_order(
        self,
        items: list[tuple[str, int, str]],
        *,
        updated: datetime,
        created: datetime | None = None,
        order_id: str | None = None,
        reverse: dict[int, tuple[str, str]] | None = None,
        with_sku: bool = True,
    ) -> str:
        """An order of one unit per (SellerSku, SkuId, item status); `reverse` maps an item
        index to (reverse order id, request_type)."""
        oid = order_id or str(next(self._ids) * 1000 + 1)
        created = created or updated
        rows = []
        for n, (seller_sku, sku_id, status) in enumerate(items):
            row: dict[str, Any] = {
                "order_item_id": str(int(oid) * 10 + n),
                "order_id": oid,
                "sku": seller_sku if with_sku else "",
                "sku_id": str(sku_id),
                "shop_sku": f"SHOP-{sku_id}",
                "status": status,
                "item_price": "150000.00",
                "paid_price": "150000.00",
                "currency": "IDR",
                "warehouse_code": "dropshipping",
                "created_at": str(int(created.timestamp() * 1000)),
                "updated_at": str(int(updated.timestamp() * 1000)),
                "return_status": "",
                "reason": "",
                "name": f"Product {seller_sku}",
            }
            if reverse and n in reverse:
                rid, kind = reverse[n]
                row["reverse_order_id"] = rid
                self.reverse_orders[rid] = kind
            rows.append(row)
        self.orders[oid] = {
            "order_id": oid,
            "order_number": oid,
            "created_at": _iso(created),
            "updated_at": _iso(updated),
            "price": "150000.00",
            "items_count": str(len(rows)),
            "payment_method": "COD",
            "items": rows,
        }
        return oid

    def set_item_status(self, order_id: str, index: int, status: str, *, updated: datetime) -> None:
        order = self.orders[order_id]
        order["items"][index]["status"] = status
        order["items"][index]["updated_at"] = str(int(updated.timestamp() * 1000))
        order["updated_at"] = _iso(updated)
