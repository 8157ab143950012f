"""What a SKU and a quantity may be, checked in one place wherever they enter omnisync."""

from __future__ import annotations

import unicodedata

# No real shop counts a billion units of one thing; a bigger number is a typo or garbage, and
# far below SQLite's 64-bit integers, so sums of many movements can never overflow either.
MAX_QUANTITY = 10**9

# Unicode categories a SKU must not hold: control and format characters, surrogates,
# unassigned code points, and line or paragraph separators (they break CSV and terminals).
_FORBIDDEN = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def sku_problem(value: str) -> str | None:
    """Why `value` (already cleaned by `clean_sku`'s rules) cannot be a SKU, or None."""
    if not value:
        return "expected a SKU"
    for char in value:
        if unicodedata.category(char) in _FORBIDDEN:
            return f"a SKU cannot hold the control character U+{ord(char):04X}"
    return None


def normal_sku(value: str) -> str:
    """The one spelling of a SKU: Unicode NFC, without surrounding blanks.

    Channels and spreadsheets send the same text composed or decomposed (é as one code point
    or as e + ´) and with stray spaces; compared raw, such a SKU would map to nothing. Case is
    kept: `cap` and `CAP` are different SKUs, and guessing would mix up two products.
    """
    if value.isascii():
        return value.strip()  # the common case, without the normalisation's cost
    return unicodedata.normalize("NFC", value).strip()


def clean_sku(value: str) -> str:
    """`value` as a SKU, or ValueError saying what is wrong with it (the caller adds where)."""
    sku = normal_sku(value)
    problem = sku_problem(sku)
    if problem:
        raise ValueError(problem)
    return sku


def quantity_problem(value: int) -> str | None:
    """Why `value` cannot be a quantity (beyond what any shop holds), or None."""
    if -MAX_QUANTITY <= value <= MAX_QUANTITY:
        return None
    return f"expected a quantity between -{MAX_QUANTITY:,} and {MAX_QUANTITY:,}, got {value}"
