"""Who may subscribe, publish, and ask presence and history in protocol v2:
Centrifugo v5's permission switches (the ``allow_*`` channel options, all
off by default) beside the 1.x channel options.

Two modes (``v2_permissions``; docs/config-v5.md):

* **v5** (``"v5"``, or ``"auto"`` with no ``secret``: a Centrifugo v5
  config has none): the switches alone decide, as in Centrifugo v5.  A
  subscription token grants its channel; without one, a channel needs
  ``allow_subscribe_for_client`` (and ``allow_subscribe_for_anonymous`` for
  an anonymous connection), or ``allow_user_limited_channels`` with the
  user named after ``#``.  Publish needs ``allow_publish_for_client``, or
  ``allow_publish_for_subscriber`` and the channel held; presence and
  history likewise; anonymous connections need the ``..._for_anonymous``
  switch too.  ``insecure`` (v5's ``client_insecure``) allows everything.
* **1.x** (``"1.x"``, or ``"auto"`` with a ``secret``): the 1.x channel
  options decide (``anonymous``, ``publish`` for subscribers, presence and
  history for subscribers, user-limited channels; ``insecure`` as in 1.x),
  and a switch that is on grants more.  A 1.x config has no switches, so
  nothing changes for it.

The 1.x dialect never reads the switches: 1.x clients follow the 1.x
channel options in either mode.  Protocol v1 clients (Centrifugo 2.x's
protocol) always get the 1.x mode, the switches granting more: a
Centrifugo 2.x file has no ``secret``, and its channel options are the 1.x
ones (docs/config-2x.md).
"""
from __future__ import annotations

from app.core.client import Client
from app.core.context import Context
from app.core.subscriptions import check_client_query, denied
from app.options import ChannelOptions, Options


#: The dialect whose clients always follow the 1.x mode: protocol v1 is
#: Centrifugo 2.x's, whose rules are the 1.x channel options (with 2.x's
#: ``server_side``, ``..._disable_for_client``), whatever the file's mode.
LEGACY_DIALECT = "v1"


def v5_rules(options: Options, client: Client) -> bool:
    """Whether the v5 mode is on for ``client``: never for a protocol v1
    client (a Centrifugo 2.x file has no ``secret`` to say "1.x")."""
    if getattr(client.dialect, "name", "") == LEGACY_DIALECT:
        return False
    mode = options.v2_permissions
    return mode == "v5" or mode == "auto" and not options.secret


def _granted(client: Client, for_client: bool, for_anonymous: bool) -> bool:
    """A ``..._for_client`` switch, which needs its ``..._for_anonymous``
    one for a connection without a user."""
    return for_client and (bool(client.user) or for_anonymous)


def check_subscribe(ctx: Context, client: Client, channel: str, options: ChannelOptions) -> None:
    """A subscribe without a subscription token (a private channel was
    refused before); 103 unless allowed."""
    settings, v5 = ctx.options, v5_rules(ctx.options, client)
    if v5 and settings.insecure:
        return
    user_allowed = ctx.rules.user_allowed(channel, client.user)
    if _granted(client, options.allow_subscribe_for_client, options.allow_subscribe_for_anonymous):
        if user_allowed:
            return
    if options.allow_user_limited_channels and client.user and user_allowed and _names_user(ctx, channel):
        return
    if not v5 and user_allowed and (options.anonymous or client.user or settings.insecure):
        return  # the 1.x rules, in their order (app.core.subscriptions.check_subscribe)
    raise denied()


def _names_user(ctx: Context, channel: str) -> bool:
    """Whether ``channel`` is user-limited (names its users after ``#``)."""
    return ctx.options.user_channel_boundary in channel


def check_publish(ctx: Context, client: Client, channel: str, options: ChannelOptions) -> None:
    """A client's publish; 103 unless allowed."""
    held, v5, insecure = channel in client.channels, v5_rules(ctx.options, client), ctx.options.insecure
    if v5 and insecure or _granted(client, options.allow_publish_for_client, options.allow_publish_for_anonymous):
        return
    if held and options.allow_publish_for_subscriber and (client.user or options.allow_publish_for_anonymous):
        return
    if not v5 and held and (options.publish or insecure):
        return  # the 1.x rule (app.core.publisher.publish_from_client)
    raise denied()


def check_presence(ctx: Context, client: Client, channel: str, options: ChannelOptions) -> None:
    """presence and presence_stats; 108 when the channel keeps them from
    clients (Centrifugo 2.x's ``presence_disable_for_client``), 103 unless
    allowed."""
    check_client_query(options, presence=True)
    _check_read(ctx, client, channel, options.allow_presence_for_subscriber, options.allow_presence_for_client,
                options.allow_presence_for_anonymous)


def check_history(ctx: Context, client: Client, channel: str, options: ChannelOptions) -> None:
    """history; 108 when the channel keeps it from clients (Centrifugo
    2.x's ``history_disable_for_client``; recovery is not a history
    command), 103 unless allowed."""
    check_client_query(options, presence=False)
    _check_read(ctx, client, channel, options.allow_history_for_subscriber, options.allow_history_for_client,
                options.allow_history_for_anonymous)


def _check_read(ctx: Context, client: Client, channel: str, for_subscriber: bool, for_client: bool,
                for_anonymous: bool) -> None:
    held, v5 = channel in client.channels, v5_rules(ctx.options, client)
    if v5 and ctx.options.insecure or _granted(client, for_client, for_anonymous):
        return
    if held and (for_subscriber and (client.user or for_anonymous) or not v5):
        return  # the 1.x rule: for subscribers
    raise denied()
