"""Throttling of admin logins (``POST /auth/``) per client address.

The ``max_failures``-th wrong password in a row from one address locks it out
for ``backoff`` seconds, and each further one (tried once the lockout ended)
for twice as long as the one before, up to ``backoff_max``.  While an address
is locked out every login from it, the right password included, is answered
429 without looking at the password, so guessing gains nothing.  A successful
login forgets the address.

The table is bounded: an address is forgotten ``backoff_max`` seconds after
its last failure or lockout ended, expired entries are pruned as new failures
arrive, and past ``max_addresses`` the address whose last failure is the
oldest is evicted, so an attacker rotating addresses cannot grow memory.

The policy is read through a callable at each use, so a SIGHUP reload of the
``admin_login_*`` options applies at once.  There is no module-level state: one
:class:`LoginThrottle` is built with the admin routes and passed to the handler.
"""
from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

from app.options import Options

logger = logging.getLogger("sockhub.admin_throttle")

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class LoginPolicy:
    """How failed logins are throttled (see the module docstring)."""

    max_failures: int = 5
    backoff: float = 1.0
    backoff_max: float = 300.0
    max_addresses: int = 10000

    def delay(self, failures: int) -> float:
        """The lockout after ``failures`` wrong passwords in a row (0.0: none):
        ``backoff`` at the ``max_failures``-th, doubling with each further one."""
        over = failures - max(self.max_failures, 1)
        if over < 0 or self.backoff <= 0:
            return 0.0
        return min(self.backoff * 2.0 ** min(over, 64), max(self.backoff_max, self.backoff))


def login_policy(options: Options) -> LoginPolicy:
    """The policy of the ``admin_login_*`` options."""
    return LoginPolicy(max_failures=options.admin_login_max_failures,
                       backoff=options.admin_login_backoff,
                       backoff_max=options.admin_login_backoff_max,
                       max_addresses=options.admin_login_max_addresses)


@dataclass(slots=True)
class _Entry:
    failures: int
    locked_until: float
    forget_at: float


class LoginThrottle:
    """Failed logins per address, bounded in size (see the module docstring)."""

    def __init__(self, policy: Callable[[], LoginPolicy], clock: Clock = time.monotonic) -> None:
        self._policy = policy
        self._clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def retry_after(self, address: str) -> float:
        """Seconds ``address`` stays locked out (0.0 when it may try now)."""
        entry = self._entries.get(address)
        if entry is None:
            return 0.0
        return max(0.0, entry.locked_until - self._clock())

    def retry_after_header(self, address: str) -> int:
        """:meth:`retry_after` as a ``Retry-After`` value: whole seconds, at least 1."""
        return max(1, math.ceil(self.retry_after(address)))

    def failure(self, address: str) -> float:
        """Count a wrong password from ``address``; returns the lockout it starts (0.0: none)."""
        now, policy = self._clock(), self._policy()
        entry = self._entries.pop(address, None)
        failures = entry.failures + 1 if entry is not None else 1
        delay = policy.delay(failures)
        locked_until = now + delay
        self._prune(now, policy.max_addresses - 1)
        self._entries[address] = _Entry(failures, locked_until, locked_until + policy.backoff_max)
        if delay:
            logger.warning("admin login from %s locked out for %.1f s after %d wrong passwords",
                           address, delay, failures)
        return delay

    def success(self, address: str) -> None:
        """A right password from ``address`` (not locked out): forget it."""
        self._entries.pop(address, None)

    def _prune(self, now: float, room: int) -> None:
        """Drop expired entries from the oldest end, then evict the oldest
        until at most ``room`` are left."""
        entries = self._entries
        while entries:
            address, entry = next(iter(entries.items()))
            if entry.forget_at > now and len(entries) <= room:
                break
            del entries[address]
