"""`omnisync auth NAME`: connect a marketplace shop by its OAuth flow, tokens into the ledger."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import parse_qsl, urlsplit

from omnisync.budget import Budget
from omnisync.channels import CHANNEL_TYPES
from omnisync.channels.base import AuthResult, ChannelConfig, ChannelContext, ShopAuthorizer
from omnisync.config import Config
from omnisync.errors import UsageError
from omnisync.ledger import Ledger


def authorizer_for(
    config: Config, name: str, *, ledger: Ledger | None, context: ChannelContext | None = None
) -> ShopAuthorizer:
    """The OAuth flow of channel `name`, or a UsageError saying why it has none."""
    channel = _channel(config, name)
    channel_type = CHANNEL_TYPES[channel.type]
    if channel_type.authorize is None and not channel_type.http:
        raise UsageError(
            f"{config.path}: [channels.{name}] is a {channel.type} channel, which reads and "
            f"writes local files: it needs no connecting and has no credentials"
        )
    if channel_type.authorize is None:
        raise UsageError(
            f"{config.path}: [channels.{name}] is a {channel.type} channel, which is not "
            f"connected with `omnisync auth`: its credentials go in the config (see the README)"
        )
    if context is None:
        context = ChannelContext(budget=Budget(name, channel.timeout), tokens=ledger)
    return channel_type.authorize(channel, context)


def callback_answer(
    address: str | None, *, code: str | None, shop_id: str | None
) -> dict[str, str] | None:
    """What the platform sent back: the query of the address the browser landed on, or the
    `--code` (and `--shop-id`) the seller copied from it. None when nothing was given."""
    answer: dict[str, str] = {}
    if address:
        text = address.strip()
        query = urlsplit(text).query if "?" in text or "://" in text else text
        answer.update(parse_qsl(query, keep_blank_values=False))
        if not answer:
            raise UsageError(
                f"{address!r}: expected the whole address the browser was sent back to "
                f"(with ?code=...), or --code CODE"
            )
    if code:
        answer["code"] = code.strip()
    if shop_id:
        answer["shop_id"] = shop_id.strip()
    return answer or None


async def exchange_code(
    config: Config, name: str, answer: Mapping[str, str], *, ledger: Ledger
) -> AuthResult:
    """Trade the platform's code for tokens and store them in the ledger."""
    if "code" not in answer and "error" in answer:
        shown = "; ".join(
            f"{key}: {answer[key][:200]}" for key in ("error", "error_description") if key in answer
        )
        raise UsageError(
            f"{name}: the seller declined, or the platform refused, to connect the shop "
            f"({shown}). Nothing was stored; run `omnisync auth {name}` again for a new address "
            f"to approve"
        )
    if "code" not in answer:
        raise UsageError(
            "the platform's answer has no 'code': pass the whole address the browser was "
            "sent back to, or --code CODE"
        )
    authorizer = authorizer_for(config, name, ledger=ledger)
    try:
        return await authorizer.exchange(answer)
    finally:
        await authorizer.aclose()


def _channel(config: Config, name: str) -> ChannelConfig:
    if name not in config.channels:
        known = ", ".join(sorted(config.channels)) or "none"
        raise UsageError(f"{config.path}: no channel named {name!r} (configured: {known})")
    return config.channels[name]
