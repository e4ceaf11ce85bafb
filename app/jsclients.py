"""The npm files sockhub serves to browsers, and their copy into the packages.

The JavaScript clients come from npm (package.json pins their versions) and
are never committed: ``make js`` (``npm ci``, then ``python -m app.jsclients``)
and the wheel build (setup.py) copy the files listed in :data:`NPM_FILES` from
``node_modules/`` into the package folders named there, which git ignores.
At run time the server finds them with :mod:`importlib.resources` like any
other package data (app.resources), in a checkout and in an installed wheel
alike.

This module uses the standard library only: setup.py imports it before any
dependency is installed.  A file to serve from npm is one more row here.
"""
from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path


@dataclass(frozen=True)
class NpmFile:
    """One file of an npm package, copied to ``<package>/<folder>/<its name>``."""

    source: str  #: path under node_modules/
    package: str  #: the Python package whose data it becomes
    folder: str  #: folder inside that package
    #: the copy's name when not the source's (two npm versions of one file side by side)
    rename: str = ""

    @property
    def name(self) -> str:
        return self.rename or Path(self.source).name

    @property
    def target(self) -> Path:
        """Where the copy goes, relative to the folder holding the packages."""
        return Path(self.package, self.folder, self.name)


#: transports/clientjs: sockjs-client, the script the SockJS iframe page loads
#: (``/connection/static/sockjs.min.js``), also served as ``/static/js/sockjs*``.
#: app/static/js: everything else served under ``/static/js/``.
#: app/static/uplot: the admin page's chart library (``/static/uplot/``, beside the page).
NPM_FILES: tuple[NpmFile, ...] = (
    NpmFile("sockjs-client/dist/sockjs.min.js", "transports", "clientjs"),
    NpmFile("sockjs-client/dist/sockjs.min.js.map", "transports", "clientjs"),
    NpmFile("sockjs-client/dist/sockjs.js", "transports", "clientjs"),
    NpmFile("sockjs-client/dist/sockjs.js.map", "transports", "clientjs"),
    NpmFile("centrifuge/centrifuge.js", "app", "static/js"),
    NpmFile("centrifuge/centrifuge.min.js", "app", "static/js"),
    # centrifuge-js 5.x (protocol v2; the npm alias centrifuge5), JSON and protobuf builds
    NpmFile("centrifuge5/dist/centrifuge.js", "app", "static/js", "centrifuge5.js"),
    NpmFile("centrifuge5/dist/centrifuge.protobuf.js", "app", "static/js", "centrifuge5.protobuf.js"),
    NpmFile("uplot/dist/uPlot.iife.min.js", "app", "static/uplot"),
    NpmFile("uplot/dist/uPlot.min.css", "app", "static/uplot"),
)


class NpmFilesMissing(Exception):
    """node_modules/ lacks files of NPM_FILES (``npm ci`` not run)."""


def copy_npm_files(node_modules: Path, packages_root: Path) -> list[Path]:
    """Copy every file of NPM_FILES from ``node_modules`` to its place under
    ``packages_root`` (the source tree or a build's lib folder); the copies
    made.  Raises NpmFilesMissing, naming the files, before copying any
    when one is missing."""
    missing = [f.source for f in NPM_FILES if not (node_modules / f.source).is_file()]
    if missing:
        raise NpmFilesMissing(
            f"{node_modules}: missing {', '.join(missing)}; install the JavaScript clients "
            "first with `npm ci` (package.json pins their versions) or `make js`")
    copies = []
    for npm_file in NPM_FILES:
        target = packages_root / npm_file.target
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(node_modules / npm_file.source, target)
        copies.append(target)
    return copies


def missing_npm_files() -> list[str]:
    """The files of NPM_FILES the installed packages lack (``package/folder/name``)."""
    return [str(f.target) for f in NPM_FILES if not files(f.package).joinpath(f.folder, f.name).is_file()]


def main(argv: list[str]) -> int:
    """``python -m app.jsclients [NODE_MODULES]``: copy into this source tree."""
    root = Path(__file__).resolve().parent.parent
    node_modules = Path(argv[0]) if argv else root / "node_modules"
    try:
        copies = copy_npm_files(node_modules, root)
    except NpmFilesMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"copied {len(copies)} npm files into {', '.join(sorted({f.package for f in NPM_FILES}))}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
