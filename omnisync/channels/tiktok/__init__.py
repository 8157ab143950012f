"""TikTok Shop / Tokopedia (TikTok Shop Partner API 202309+): the `tiktok` channel type."""

from __future__ import annotations

from omnisync.channels.base import ChannelType
from omnisync.channels.tiktok.auth import TikTokAuthorizer
from omnisync.channels.tiktok.channel import TikTokChannel, open_channel
from omnisync.channels.tiktok.settings import TikTokSettings

CHANNEL_TYPE = ChannelType(settings=TikTokSettings, open=open_channel, authorize=TikTokAuthorizer)

__all__ = ["CHANNEL_TYPE", "TikTokAuthorizer", "TikTokChannel", "TikTokSettings"]
