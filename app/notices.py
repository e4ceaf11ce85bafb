"""What the start-up log tells an operator beyond "listening": where the
admin page is and how to log in to it (or why one cannot)."""
from __future__ import annotations

from app.config import ENV_PREFIX, ConfigSource
from app.options import Options

#: Addresses that mean "every interface": the URL names localhost instead.
ANY_ADDRESS = frozenset({"", "0.0.0.0", "::", "[::]"})


def admin_url(options: Options) -> str:
    """The admin page's URL on this machine (admin_port when set)."""
    scheme = "https" if options.ssl else "http"
    host = "localhost" if options.address in ANY_ADDRESS else options.address
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{options.admin_port or options.port}{options.http_prefix}/"


def password_origin(source: ConfigSource | None) -> str:
    """Where the admin password was set, for the operator to read it."""
    if source is not None:
        if source.flags and "admin_password" in source.flags:
            return "given with --admin_password"
        if source.environ and ENV_PREFIX + "ADMIN_PASSWORD" in source.environ:
            return f"in {ENV_PREFIX}ADMIN_PASSWORD"
        if source.path:
            return f"admin_password in {source.path}"
    return "the admin_password option"


def admin_notice(options: Options, source: ConfigSource | None) -> str | None:
    """One log line about the admin page, or None without ``--web``."""
    if not options.web:
        return None
    url = admin_url(options)
    if options.insecure_admin:
        return f"admin: {url} (insecure_admin: no login)"
    if options.admin_password and options.admin_secret:
        return f"admin: {url} (password: {password_origin(source)})"
    return (f"admin: {url} (login disabled: set admin_password and admin_secret, "
            "e.g. in a file written by sockhub genconfig)")
