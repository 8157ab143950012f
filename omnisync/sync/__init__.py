"""The sync engine: fetch every channel, reconcile into the ledger, push what changed.

The only package that sequences I/O. Channels are read and written concurrently; the ledger is
written from this one thread, in transactions that never span a network call:

0. begin (`run.py`): the run, and each new channel's start time (`--since`), are committed
   before anything is fetched, so a run killed at any point shows as interrupted in `runs`
   and the next run keeps the start time asked for.
1. fetch (`channel.py`): per channel, listings first, then orders updated in
   `[max(start, cursor − overlap), now)`. Listings are read before the window closes, so any
   sale a listing's quantity already reflects is inside the window too.
2. reconcile and plan (`apply.py`, rules in `omnisync.planning`): the run's main transaction
   writes every channel's movements, its orders as last seen, its new cursor, the listings
   read and the targets planned. A crash before the commit leaves the ledger as it was and the
   next run re-reads the same window; a crash after it loses nothing either, since pushes are
   recomputed from the ledger every run.
3. push (`push.py`): only listings whose quantity differs from their target, each with the
   quantity read in step 1 as the expected one. Each round of writes is committed in a small
   transaction as soon as the channel answers. A listing that moved in between (a sale on the
   channel) is a conflict: that channel's orders are fetched and reconciled (one more small
   transaction) and the recomputed target is pushed against the new quantity, a bounded number
   of times.
4. record (`run.py`): channel outcomes and the run report, in one last small transaction.

Tokens a channel rotates are committed by the token store the moment they arrive, whatever the
phase. `--dry-run` runs steps 1–2 inside a transaction that is rolled back and skips 3 and 4:
the preview is the same code as the real thing.
"""

from __future__ import annotations

from omnisync.sync.run import ChannelOpener, SyncOptions, run_sync, select_channels

__all__ = ["ChannelOpener", "SyncOptions", "run_sync", "select_channels"]
