"""The exceptions omnisync raises, and the exit code each one means.

    OmnisyncError (exit 1)
    ├── UsageError (exit 2)           the command line or an input file (CSV, ...) is wrong
    │   └── ConfigError                   the config file is wrong (names file, line, key)
    ├── LedgerError (exit 3)          the ledger file cannot be used
    │   └── LedgerLockedError (exit 75)   another run holds the ledger
    └── ChannelError (exit 1)         one channel failed; the engine reports it and goes on
        ├── ChannelAuthError              credentials refused or expired
        ├── ChannelUnavailableError       network, timeouts, 5xx, throttled past the budget
        └── ChannelResponseError          the channel answered something we cannot use

Domain problems (oversold SKUs, unmapped lines, refused pushes) are not exceptions: they are
collected in the run report, and the command line turns them into exit 1.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes, as SPEC.md lists them."""

    OK = 0
    NEEDS_ATTENTION = 1
    USAGE = 2
    LEDGER = 3
    LOCKED = 75
    INTERRUPTED = 130  # Ctrl-C, as shells report it (128 + SIGINT); not in SPEC.md


class OmnisyncError(Exception):
    """Base of every error omnisync raises on purpose."""

    exit_code: ExitCode = ExitCode.NEEDS_ATTENTION


class UsageError(OmnisyncError):
    """The command line or a file the user handed in is wrong; nothing was done."""

    exit_code = ExitCode.USAGE


class ConfigError(UsageError):
    """The config file is wrong."""


class LedgerError(OmnisyncError):
    """The ledger file cannot be used."""

    exit_code = ExitCode.LEDGER


class LedgerLockedError(LedgerError):
    """Another omnisync process holds the ledger."""

    exit_code = ExitCode.LOCKED


class ChannelError(OmnisyncError):
    """A channel could not be read or written.

    `http_status` and `code` (the channel's own error code from the body: Woo's `code`,
    Shopee's `error`, Lazada's and TikTok's `code`) say what the channel answered, for an
    adapter that must decide what to do next; they are never shown to users on their own.
    """

    def __init__(
        self,
        channel: str,
        message: str,
        *,
        http_status: int | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(f"{channel}: {message}")
        self.channel = channel
        self.message = message
        self.http_status = http_status
        self.code = code


class ChannelAuthError(ChannelError):
    """The channel refused the credentials."""


class ChannelUnavailableError(ChannelError):
    """The channel could not be reached in time."""

    def __init__(
        self,
        channel: str,
        message: str,
        *,
        http_status: int | None = None,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(channel, message, http_status=http_status, code=code)
        # Seconds the channel asked to be left alone (Retry-After on a refusal), when it said.
        self.retry_after = retry_after


class ChannelResponseError(ChannelError):
    """The channel answered with something omnisync cannot use."""
