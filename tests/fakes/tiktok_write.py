"""The fake TikTok Shop's stock write: Update Inventory, refusing what TikTok refuses."""

# Rules from update-inventory.spec.json (lazykern/ecommerce-api-docs@eba059e3:data/raw/tiktok/
# api-reference/products/), cited beside each.

from __future__ import annotations

from typing import Any

from tests.fakes.server import Request, Response
from tests.fakes.tiktok_protocol import envelope, error


class InventoryWrites:
    """The write half of FakeTikTok: its products, promotion floors and a log of updates."""

    products: dict[str, dict[str, Any]]
    locked: dict[str, int]  # sku id -> promotion floor (12052393)
    updates: list[dict[str, Any]]

    def _update(self, request: Request, pid: str) -> Response:
        product = self.products.get(pid)
        if product is None:
            return error(400, 12052032, "The product does not exist")
        if product["status"] != "ACTIVATE":  # "belonging to a product in the ACTIVATE status"
            return error(
                400,
                12052048,
                "You cannot edit the specified product(s) as it isn't listed in "
                "your account or shop. ",
            )
        skus = (request.json() or {}).get("skus") or []
        if len(skus) > 100:
            return error(400, 12052050, "A single product cannot have more than 100 different SKUs")
        self.updates.append({"product_id": pid, "skus": skus})
        own = {s["id"]: s for s in product["skus"]}
        errors = []
        for entry in skus:
            problem = self._check_sku(own.get(str(entry.get("id"))), entry)
            if problem is not None:
                code, message, extra = problem
                errors.append(
                    {
                        "code": code,
                        "message": message,
                        "detail": {"sku_id": str(entry.get("id")), "extra_errors": extra},
                    }
                )
                continue
            row = own[str(entry["id"])]
            for item in entry["inventory"]:
                key = item.get("warehouse_id") or next(iter(row["warehouses"]))
                row["warehouses"][key] = int(item["quantity"])
        # Partial failure: HTTP 200, code 0, the refused SKUs in data.errors (response sample)
        return Response(200, envelope({"errors": errors} if errors else {}))

    def _check_sku(
        self, row: dict[str, Any] | None, entry: dict[str, Any]
    ) -> tuple[int, str, list[dict[str, Any]]] | None:
        if row is None:
            return 12052556, "The SKU id not exist.", []
        inventory = entry.get("inventory") or []
        given = [i.get("warehouse_id") for i in inventory]
        assigned = set(row["warehouses"])
        if len(assigned) > 1 and set(given) != assigned:
            if not set(given) <= assigned:  # 12052533: no adding or changing warehouses
                return (
                    12052533,
                    "Removal, addition, and change of warehouses are not permitted.",
                    [],
                )
            # "You must include all warehouse IDs assigned to this SKU ... Do not omit any"
            return (
                12019028,
                "Multiple warehouses detected. Include all warehouse IDs and the corresponding "
                "details and try again.",
                [],
            )
        extra = []
        for item in inventory:
            warehouse = item.get("warehouse_id")
            if warehouse is not None and warehouse not in assigned:
                extra.append(
                    {
                        "warehouse_id": warehouse,
                        "code": 12052097,
                        "message": "The warehouse does not exist",
                    }
                )
        if extra:
            return 12052990, "Check failed", extra
        for item in inventory:
            quantity = item.get("quantity")
            # The doc says "Valid range: [1, 99,999]"; integrations set 0 to sell out and
            # TikTok takes it (UNVERIFIED in the docs): 0 is accepted here, above 99,999 not.
            if not isinstance(quantity, int) or not 0 <= quantity <= 99999:
                return (
                    12052055,
                    "The SKU inventory quantity for the warehouse must be within allowed limits.",
                    [],
                )
            floor = self.locked.get(row["id"])
            if floor is not None and quantity < floor:
                return (
                    12052393,
                    "Product locked for Promotion and stock can't be updated below current stock",
                    [],
                )
        return None
