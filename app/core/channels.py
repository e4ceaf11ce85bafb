"""Channel name rules and channel options (docs/protocol-1x.md §7).

A :class:`ChannelRules` is built from one :class:`~app.options.Options` and
never changes; a reload builds a new one.  Special characters come from the
options (``private_channel_prefix``, ``namespace_channel_boundary``,
``user_channel_boundary``, ``user_channel_separator``,
``client_channel_boundary``).
"""
from __future__ import annotations

from app.core.engine import HistoryOptions
from app.core.errors import NAMESPACE_NOT_FOUND, ProtocolError
from app.options import ChannelOptions, Options


class ChannelRules:
    """Answers every question about a channel name."""

    def __init__(self, options: Options) -> None:
        self._options = options
        self._namespaces: dict[str, ChannelOptions] = {ns.name: ns.options for ns in options.namespaces}

    def namespace_name(self, channel: str) -> str:
        """The namespace of ``channel``: after stripping one leading private
        prefix, the text before the first boundary; "" for top level."""
        prefix = self._options.private_channel_prefix
        if prefix and channel.startswith(prefix):
            channel = channel[len(prefix):]
        boundary = self._options.namespace_channel_boundary
        if boundary and boundary in channel:
            return channel.split(boundary, 1)[0]
        return ""

    def options(self, channel: str) -> ChannelOptions:
        """The channel's options; ProtocolError(namespace not found, fix) when
        its namespace is not configured."""
        name = self.namespace_name(channel)
        if not name:
            return self._options.channel
        found = self._namespaces.get(name)
        if found is None:
            raise ProtocolError(NAMESPACE_NOT_FOUND, "fix")
        return found

    def history(self, channel: str) -> HistoryOptions:
        """What the engine needs to know to keep the channel's history."""
        opts = self.options(channel)
        return HistoryOptions(opts.history_size, opts.history_lifetime, opts.history_drop_inactive)

    def is_private(self, channel: str) -> bool:
        prefix = self._options.private_channel_prefix
        return bool(prefix) and channel.startswith(prefix)

    def too_long(self, channel: str) -> bool:
        """Longer than ``max_channel_length`` bytes (UTF-8, as Go counts)."""
        limit = self._options.max_channel_length
        return limit > 0 and len(channel.encode("utf-8", "surrogatepass")) > limit

    def user_allowed(self, channel: str, user: str) -> bool:
        """A ``#``-limited channel lists its users after the last ``#``."""
        boundary = self._options.user_channel_boundary
        if not boundary or boundary not in channel:
            return True
        listed = channel.rsplit(boundary, 1)[1]
        separator = self._options.user_channel_separator
        return user in (listed.split(separator) if separator else [listed])

    def client_allowed(self, channel: str, client: str) -> bool:
        """A ``&``-limited channel names its only connection after the last ``&``."""
        boundary = self._options.client_channel_boundary
        if not boundary or boundary not in channel:
            return True
        return channel.rsplit(boundary, 1)[1] == client
