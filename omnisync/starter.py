"""The starter config that `omnisync init` writes."""

from __future__ import annotations

import shutil
from pathlib import Path

from omnisync.errors import UsageError

STARTER = """\
# omnisync config. Every key is described in the README.
# Secrets never go in this file: write "${VAR}" and export VAR in the environment.

[ledger]
path = "inventory.db"       # relative to this file

[sync]
overlap = "10m"             # orders re-read before each cursor, for late updates
restock_returns = true      # returned goods go back on the shelf
max_change = 0.5            # refuse a push that zeroes more than half a channel's listings

# One table per channel; the table's key is the channel's name. Uncomment and fill in.

# [channels.shop]
# type = "shopify"
# store = "example.myshopify.com"
# token = "${SHOPIFY_TOKEN}"
# location = "gid://shopify/Location/1"
# buffer = 2                # hold back units from this channel
# share = 1.0               # offer this fraction of available stock here

# [channels.web]
# type = "woocommerce"
# url = "https://shop.example.com"
# key = "${WOO_KEY}"
# secret = "${WOO_SECRET}"

# [channels.test]
# type = "fake"             # a JSON file standing in for a channel (CI, rehearsals)
# path = "fake/test.json"

# [mapping.shop]            # channel SKU -> your SKU, where they differ
# "SHP-TEE-M" = "TEE-M"

# [bundles]                 # a listing made of several SKUs
# "GIFT-SET" = { "MUG" = 1, "TEE-M" = 1 }
"""


def write_starter(path: Path, *, force: bool) -> Path | None:
    """Write the starter config at `path`; refuse to overwrite one unless `force`.

    A config overwritten with `force` is first copied to `NAME.bak` (its channels, mapping
    and secrets' variable names are a seller's work): returns that copy's path, if any.
    """
    if path.exists() and not force:
        raise UsageError(f"{path} already exists; pass --force to overwrite it")
    backup = path.with_name(path.name + ".bak") if path.exists() else None
    try:
        if backup is not None:
            shutil.copy2(path, backup)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(STARTER, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{path}: cannot write the config: {exc.strerror}") from None
    return backup
