"""Errors that are protocol: each carries what its answer needs.

* :class:`HttpError`: a whole HTTP request fails with ``status`` and a
  plain-text ``message`` (the API, the API endpoint's own checks, the
  admin login).
"""
from __future__ import annotations


class HttpError(Exception):
    """A request fails as a whole: HTTP ``status`` with the plain ``message``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status} {message}")
        self.status = status
        self.message = message
