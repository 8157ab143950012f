"""What every CSV a seller hands in shares: `,` or `;` as the spreadsheet saved it."""

from __future__ import annotations

import csv


def delimiter_of(header: str) -> str:
    """`;` when the header splits into more fields on it than on `,`; else `,`.

    A spreadsheet saves CSV with its locale's list separator: `;` wherever the decimal
    separator is a comma (Indonesia, most of Europe), so a file exported by omnisync with `,`
    and saved again in Excel comes back with `;`.
    """
    commas = next(csv.reader([header], delimiter=","), [])
    semicolons = next(csv.reader([header], delimiter=";"), [])
    return ";" if len(semicolons) > len(commas) else ","
