"""The channel types omnisync knows, by the `type` key of a `[channels.NAME]` table."""

from __future__ import annotations

import importlib
from collections.abc import Iterator, MutableMapping

from omnisync.channels.base import Channel, ChannelConfig, ChannelContext, ChannelType

# An explicit table: adding a channel type is one line here, and nothing registers itself.
# Each type's package is imported on first use, so a command pays only for the adapters its
# config names (a POS-and-fake shop never imports httpx; `--help` imports none).
_MODULES = {
    "csv": "omnisync.channels.csvfile",
    "fake": "omnisync.channels.fake",
    "lazada": "omnisync.channels.lazada",
    "shopee": "omnisync.channels.shopee",
    "shopify": "omnisync.channels.shopify",
    "tiktok": "omnisync.channels.tiktok",
    "woocommerce": "omnisync.channels.woocommerce",
}


class ChannelTypes(MutableMapping[str, ChannelType]):
    """Type name → ChannelType, importing a type's module the first time it is looked up."""

    def __init__(self, modules: dict[str, str]) -> None:
        self._modules = dict(modules)
        self._loaded: dict[str, ChannelType] = {}

    def __getitem__(self, name: str) -> ChannelType:
        loaded = self._loaded.get(name)
        if loaded is None:
            module = importlib.import_module(self._modules[name])
            loaded = self._loaded[name] = module.CHANNEL_TYPE
        return loaded

    def __setitem__(self, name: str, channel_type: ChannelType) -> None:
        self._loaded[name] = channel_type

    def __delitem__(self, name: str) -> None:
        if name not in self:
            raise KeyError(name)
        self._loaded.pop(name, None)
        self._modules.pop(name, None)

    def __contains__(self, name: object) -> bool:
        return name in self._modules or name in self._loaded

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._modules.keys() | self._loaded.keys()))

    def __len__(self) -> int:
        return len(self._modules.keys() | self._loaded.keys())


CHANNEL_TYPES = ChannelTypes(_MODULES)


def open_channel(config: ChannelConfig, context: ChannelContext) -> Channel:
    """Build the channel a config table describes."""
    return CHANNEL_TYPES[config.type].open(config, context)


__all__ = [
    "CHANNEL_TYPES",
    "Channel",
    "ChannelConfig",
    "ChannelContext",
    "ChannelType",
    "ChannelTypes",
    "open_channel",
]
