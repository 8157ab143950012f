"""The inventory ledger: one SQLite file holding SKUs, movements, orders, channels and runs."""

from __future__ import annotations

from omnisync.ledger.channel_state import ChannelState, ChannelStore
from omnisync.ledger.listings import ListingStore
from omnisync.ledger.orders import OrderStore
from omnisync.ledger.problems import ProblemStore, UnreadableOrder
from omnisync.ledger.runs import RunStore
from omnisync.ledger.stock import MAIN_LOCATION, Balance, StockStore
from omnisync.ledger.views import LedgerViews

__all__ = ["MAIN_LOCATION", "Balance", "ChannelState", "Ledger", "UnreadableOrder"]


class Ledger(
    StockStore,
    OrderStore,
    ChannelStore,
    ListingStore,
    RunStore,
    ProblemStore,
    LedgerViews,
):
    """An open ledger file. Write through `atomic()`; a writer holds the lock beside the file.

    Each base class holds the queries of one part of the schema; all share the connection,
    the lock and the one transaction of `connection.LedgerBase`. Open with `Ledger.open`.
    The report's reads are functions over it in `ledger.analytics`, imported by `report`
    alone: every sync would load them otherwise.
    """
