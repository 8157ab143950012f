"""Secrets that cannot be printed by accident, and a scrubber for the ones that escape."""

from __future__ import annotations

import logging
import threading
from typing import Any


class Secret:
    """A credential. Prints as '***'; `.reveal()` is called only where a request is signed."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        REDACTOR.add(value)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __bool__(self) -> bool:
        return bool(self._value)


class Redactor:
    """Replaces every known secret value in a text with '***'.

    Every Secret registers itself here when it is made, so a token that reaches an error
    message (an echoed URL, a channel's error body) is still scrubbed before anyone sees it.
    """

    # Short values would turn ordinary words into '***' and say nothing secret.
    MIN_LENGTH = 4

    def __init__(self) -> None:
        self._values: set[str] = set()
        # Longest first, so a secret that contains another is hidden whole. Sorted as values
        # arrive, not per text: a big run's report scrubs 40,000 strings (half its 20 ms).
        self._longest_first: tuple[str, ...] = ()
        self._lock = threading.Lock()

    def add(self, value: str) -> None:
        if len(value) >= self.MIN_LENGTH:
            with self._lock:
                self._values.add(value)
                self._longest_first = tuple(sorted(self._values, key=len, reverse=True))

    def scrub(self, text: str) -> str:
        for value in self._longest_first:
            if value in text:
                text = text.replace(value, "***")
        return text

    def scrub_any(self, value: Any) -> Any:
        """Scrub strings inside nested lists and dicts (a JSON report before it is printed)."""
        if not self._longest_first:
            return value  # no secret known to this process: nothing to copy (stock, orders, log)
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, list | tuple):
            # A tuple becomes a JSON array just like a list: scrub it the same way.
            return [self.scrub_any(item) for item in value]
        if isinstance(value, dict):
            return {key: self.scrub_any(item) for key, item in value.items()}
        return value


REDACTOR = Redactor()


class RedactingFilter(logging.Filter):
    """A logging filter that scrubs secrets from every record's final message."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = REDACTOR.scrub(record.getMessage())
        record.args = None
        return True
