"""The wheel's build hook; the metadata is in setup.cfg.

Building (``pip wheel .``, ``pip install .``) copies the JavaScript clients
sockhub serves from ``node_modules/`` into the packages (app.jsclients lists
them) and fails, naming the missing files, when ``npm ci`` has not been run:
a wheel without them would answer 404 for the browser clients.  Editable
installs skip the copy (``make js`` makes it in the source tree).
"""
from __future__ import annotations

import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))  # app.jsclients uses the standard library only

from app.jsclients import NpmFilesMissing, copy_npm_files  # noqa: E402


class BuildPyWithJsClients(build_py):
    """build_py, then the npm files into the build's packages."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        try:
            copies = copy_npm_files(ROOT / "node_modules", Path(self.build_lib))
        except NpmFilesMissing as exc:
            sys.exit(f"sockhub build: error: {exc}")
        for copy in copies:
            print(f"sockhub build: copied {copy}")


setup(cmdclass={"build_py": BuildPyWithJsClients})
