"""The GraphQL documents the Shopify adapter sends, and the page sizes their cost allows."""

from __future__ import annotations

MAX_QUERY_COST = 1000  # Shopify refuses a single query that requests more (MAX_COST_EXCEEDED)
# The first page is sized to this share of the limit: Shopify's own count of a query can
# differ from one made by hand (research section 8). Its answer's `requestedQueryCost` then
# sizes the next pages to the whole limit (`page_from_count`).
COST_MARGIN = 0.9
COST_TARGET = int(MAX_QUERY_COST * COST_MARGIN)
# Shopify refuses to page a search past 25,000 objects (https://shopify.dev/api/usage/limits):
# a longer history is walked as a new search from the last `updatedAt` reached.
MAX_PAGINATION = 25_000
MAX_PAGE = 250  # Shopify's cap on `first` and on input arrays
MUTATION_COST = 10
# inventorySetQuantities calls in flight at once, and the client's connection pool. Shopify's
# only documented GraphQL limit is the cost bucket (research section 1.5), which CostBucket
# paces request by request, so this only has to cover latency: 4 mutations of up to 250
# quantities are 40 points, well inside the smallest documented bucket (1,000), so a burst of
# writes never drains what the reads need. 10 measured no faster (the benchmark's push is
# bound by the other channels), so it stays 4. (Reads are two chains of cursor pages, the
# orders beside the listings: two at once.)
PUSH_CONCURRENCY = 4

# Requested cost of one node, by Shopify's rules: an object costs 1, a connection 2 plus
# `first` times its node, scalars 0.
# location.inventoryLevels node: level + quantities + item = 3 (the item carries the SKU;
# the variant's title would cost a fourth point per listing, a third more, so it is not read).
LISTING_NODE_COST = 3
LISTING_PAGE = min(MAX_PAGE, (MAX_QUERY_COST - 2 - 1) // LISTING_NODE_COST)  # 250
LISTINGS_COST = 2 + 1 + LISTING_PAGE * LISTING_NODE_COST
# Order node: the order 1; retailLocation 1; fulfillments FULFILLMENTS × (fulfillment 1 +
# location 1); lineItems 2 + LINES × (line 1 + originalUnitPriceSet 1 + shopMoney 1); refunds
# 2 + REFUNDS × (refund 1 + refundLineItems 2 + REFUND_LINES × (refundLineItem 1 + lineItem
# 1)). Sized for the common order (a few lines, at most two refunds) so a page holds 19
# orders; bigger orders get a follow-up query each.
ORDER_LINES = 5
ORDER_REFUNDS = 2
ORDER_REFUND_LINES = 3
ORDER_FULFILLMENTS = 5  # a list, not a connection: no page info; orders rarely ship in more


def order_node_cost(lines: int, refunds: int, refund_lines: int) -> int:
    locations = 1 + ORDER_FULFILLMENTS * 2
    return 1 + locations + (2 + lines * 3) + (2 + refunds * (1 + 2 + refund_lines * 2))


def order_page(node_cost: float) -> int:
    """How many orders a page may hold when one costs `node_cost`, within the margin."""
    return max(1, min(MAX_PAGE, int((COST_TARGET - 2) // max(node_cost, 1))))


def page_from_count(first: int, requested: float) -> int:
    """How many orders a page may hold, from Shopify's own count of a page of `first`.

    Shopify counts a connection as a constant plus `first` times its node (2 + first × node by
    its documented rules), the same for the same query and variables. Taking the whole count
    as `first` nodes overstates the node by constant / first, which leaves the next page at
    most 998 + constant × (1 − 998 / requested) points: within the limit for any count
    Shopify accepted (requested ≤ 1,000), so no margin is needed once Shopify has counted.
    """
    node = requested / max(first, 1)
    return max(1, min(MAX_PAGE, int((MAX_QUERY_COST - 2) // max(node, 1))))


ORDER_PAGE = order_page(order_node_cost(ORDER_LINES, ORDER_REFUNDS, ORDER_REFUND_LINES))
ORDERS_COST = 2 + ORDER_PAGE * order_node_cost(ORDER_LINES, ORDER_REFUNDS, ORDER_REFUND_LINES)
# Follow-ups for one big order: `order` 1 + lineItems 2 + 250 × 3 = 753.
FOLLOW_LINES = 250
FOLLOW_LINES_COST = 1 + 2 + FOLLOW_LINES * 3
# Lines of one order read at most (each follow-up page gets its own time, see _more_lines):
# far beyond any real order, so a corrupted one cannot keep a run going for hours.
MAX_ORDER_LINES = 50_000
# order 1 + refunds 2 + 10 × (1 + 2 + 45 × 2) = 933.
FOLLOW_REFUNDS, FOLLOW_REFUND_LINES = 10, 45
FOLLOW_REFUNDS_COST = 1 + 2 + FOLLOW_REFUNDS * (1 + 2 + FOLLOW_REFUND_LINES * 2)
# nodes(ids:) on inventory items: item + inventoryLevel + quantities = 3 each.
LEVELS_PAGE = min(MAX_PAGE, (MAX_QUERY_COST - 2) // 3)
PROBE_COST = 5


def levels_cost(items: int) -> int:
    return 2 + items * 3


LINE_FIELDS = """
  id sku quantity currentQuantity unfulfilledQuantity
  originalUnitPriceSet { shopMoney { amount currencyCode } }
"""
REFUND_FIELDS = """
  id
  refundLineItems(first: $refundLines) {
    pageInfo { hasNextPage }
    nodes { quantity restockType restocked lineItem { id } }
  }
"""
ORDERS_QUERY = f"""
query Orders($first: Int!, $after: String, $query: String!, $lines: Int!, $refunds: Int!,
             $refundLines: Int!, $fulfillments: Int!) {{
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {{
    pageInfo {{ hasNextPage endCursor }}
    nodes {{
      id name createdAt updatedAt cancelledAt closedAt
      displayFinancialStatus displayFulfillmentStatus
      retailLocation {{ id }}
      fulfillments(first: $fulfillments) {{ location {{ id }} }}
      lineItems(first: $lines) {{
        pageInfo {{ hasNextPage endCursor }}
        nodes {{ {LINE_FIELDS} }}
      }}
      refunds(first: $refunds) {{ {REFUND_FIELDS} }}
    }}
  }}
}}
"""
ORDER_LINES_QUERY = f"""
query OrderLines($id: ID!, $after: String, $lines: Int!) {{
  order(id: $id) {{
    lineItems(first: $lines, after: $after) {{
      pageInfo {{ hasNextPage endCursor }}
      nodes {{ {LINE_FIELDS} }}
    }}
  }}
}}
"""
ORDER_REFUNDS_QUERY = f"""
query OrderRefunds($id: ID!, $refunds: Int!, $refundLines: Int!) {{
  order(id: $id) {{
    refunds(first: $refunds) {{ {REFUND_FIELDS} }}
  }}
}}
"""
LISTINGS_QUERY = """
query Listings($first: Int!, $after: String, $location: ID!) {
  location(id: $location) {
    inventoryLevels(first: $first, after: $after) {
      pageInfo { hasNextPage endCursor }
      nodes {
        quantities(names: ["available"]) { name quantity }
        item { id sku tracked }
      }
    }
  }
}
"""
LEVELS_QUERY = """
query Levels($ids: [ID!]!, $location: ID!) {
  nodes(ids: $ids) {
    ... on InventoryItem {
      id
      inventoryLevel(locationId: $location) {
        quantities(names: ["available"]) { name quantity }
      }
    }
  }
}
"""
# `@idempotent` exists from 2026-01; a store pinned to an older version cannot take it.
SET_MUTATION = """
mutation SetQuantities($input: InventorySetQuantitiesInput!, $key: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $key) {
    inventoryAdjustmentGroup { id }
    userErrors { code field message }
  }
}
"""
SET_MUTATION_UNKEYED = """
mutation SetQuantities($input: InventorySetQuantitiesInput!) {
  inventorySetQuantities(input: $input) {
    inventoryAdjustmentGroup { id }
    userErrors { code field message }
  }
}
"""
PROBE_QUERY = """
query Probe {
  shop { name }
  currentAppInstallation { accessScopes { handle } }
}
"""
# Location fields other than `id` need the read_locations scope (since 2024-07).
PROBE_LOCATION_QUERY = """
query ProbeLocation($location: ID!) {
  location(id: $location) { id name isActive }
}
"""
