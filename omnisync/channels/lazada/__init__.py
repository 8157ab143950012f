"""Lazada (Open Platform, LazOP): the `lazada` channel type and its `omnisync auth` flow."""

from __future__ import annotations

from omnisync.channels.base import ChannelConfig, ChannelContext, ChannelType
from omnisync.channels.lazada.auth import LazadaAuthorizer
from omnisync.channels.lazada.channel import LazadaChannel
from omnisync.channels.lazada.settings import LazadaSettings


def _open(config: ChannelConfig, context: ChannelContext) -> LazadaChannel:
    settings = config.settings
    assert isinstance(settings, LazadaSettings)
    return LazadaChannel(config.name, settings, context=context, base_url=config.base_url)


def _authorize(config: ChannelConfig, context: ChannelContext) -> LazadaAuthorizer:
    settings = config.settings
    assert isinstance(settings, LazadaSettings)
    return LazadaAuthorizer(config.name, settings, context=context, base_url=config.base_url)


CHANNEL_TYPE = ChannelType(settings=LazadaSettings, open=_open, authorize=_authorize)

__all__ = ["CHANNEL_TYPE", "LazadaAuthorizer", "LazadaChannel", "LazadaSettings"]
