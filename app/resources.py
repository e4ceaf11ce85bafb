"""Folders of package data as file-system paths (Tornado's StaticFileHandler
serves from a folder).

Found with :mod:`importlib.resources`, never relative to the repository:
the same lookup works in a checkout and in an installed wheel.  sockhub's
packages are always installed as folders (never run from a zip archive).
"""
from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def package_folder(package: str, *parts: str) -> Path:
    """``<package>/<parts...>`` of the installed ``package``, as a path."""
    ref = files(package).joinpath(*parts)
    if not isinstance(ref, Path):  # a zip import: Tornado cannot serve from it
        raise RuntimeError(f"{package}: installed as an archive; sockhub needs it as files on disk")
    return ref


def demo_folder() -> Path:
    """The demo page (``/demo/``)."""
    return package_folder("app", "static", "demo")


def admin_folder() -> Path:
    """The built-in admin page (``--web``; ``web_path`` serves another)."""
    return package_folder("app", "static", "admin")


def js_folder() -> Path:
    """The npm files served under ``/static/js/`` (app.jsclients)."""
    return package_folder("app", "static", "js")


def uplot_folder() -> Path:
    """The admin page's chart library (``/static/uplot/``, app.jsclients)."""
    return package_folder("app", "static", "uplot")
