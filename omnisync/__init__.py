"""omnisync: one inventory ledger, every sales channel kept in step."""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
