"""The wheel is the whole product.

The wheel is built (``pip wheel --no-deps``, with build isolation, as a user's
``pip install .`` does) from a copy of the checkout's files that has no copies
of the JS clients yet, only ``node_modules/`` as ``npm ci`` leaves it.  It is
installed with its dependencies into a fresh venv outside the repository on
each supported Python (3.11-3.13) found on the machine, and that venv's
``sockhub --insecure --web`` started from an empty folder must serve every
web file (served_urls): the demo and the admin page with their favicons and
scripts, every npm file of app.jsclients (sockjs-client, centrifuge 1.5.0,
centrifuge-js 5.8.0's JSON and protobuf builds, uPlot) and the script of both
SockJS iframe pages (1.x ``/connection``, v2 ``/connection/sockjs``), byte
for byte as package.json's npm packages and app/static have them.
"""
from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path
from typing import Iterator

import pytest

import app
from app.jsclients import NPM_FILES
from tests.support.net import free_port

ROOT = Path(__file__).resolve().parents[2]
NODE_MODULES = ROOT / "node_modules"
SUPPORTED = ("3.11", "3.12", "3.13")

pytestmark = pytest.mark.slow


def clean_env() -> dict[str, str]:
    """The environment without what points Python at the checkout (the
    suite runs with PYTHONPATH=<checkout>) or at coverage."""
    drop = ("PYTHONPATH", "PYTHONHOME", "COVERAGE_PROCESS_START", "COVERAGE_PROCESS_CONFIG", "VIRTUAL_ENV")
    return {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("SOCKHUB_")}


def run(args: list[str], cwd: Path | None = None, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, capture_output=True, text=True, cwd=cwd, env=clean_env(), timeout=timeout)
    assert result.returncode == 0, f"{args} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result


def find_python(version: str) -> str | None:
    """An interpreter of ``version`` (pyenv's or on PATH), or None."""
    pyenv = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    candidates = sorted(glob.glob(f"{pyenv}/versions/{version}.*/bin/python{version}"))
    candidates += [p for p in [shutil.which(f"python{version}")] if p]
    for candidate in candidates:
        probe = subprocess.run([candidate, "-c", "import sys, venv; print('%d.%d' % sys.version_info[:2])"],
                               capture_output=True, text=True, env=clean_env())
        if probe.returncode == 0 and probe.stdout.strip() == version:
            return candidate
    return None


def checkout_copy(dest: Path) -> Path:
    """The checkout's tracked and unignored files (no .venv, no copies of
    the JS clients), with node_modules/ linked in as ``npm ci`` made it."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_symlink() or not source.is_file():  # .venv, node_modules: links to shared folders
            continue
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    (dest / "node_modules").symlink_to(NODE_MODULES.resolve())
    return dest


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("wheel")
    source = checkout_copy(base / "src")
    assert not (source / "app" / "static" / "js").exists()  # only the build makes the copies
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(base / "dist"), str(source)])
    (built,) = (base / "dist").glob("sockhub-*.whl")
    return built


def test_the_wheel_holds_every_web_file(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    tracked = subprocess.run(["git", "ls-files", "app/static"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    assert tracked and set(tracked) <= names, set(tracked) - names
    assert {str(f.target) for f in NPM_FILES} <= names
    assert f"sockhub-{app.__version__}.dist-info/METADATA" in names
    assert {"sockhub/__main__.py", "app/cli.py", "transports/router.py"} <= names
    assert not any(n.startswith(("tests/", "bench/", "node_modules/")) for n in names)


def test_a_build_without_node_modules_fails_naming_the_files(tmp_path: Path) -> None:
    source = checkout_copy(tmp_path / "src")
    (source / "node_modules").unlink()
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(tmp_path / "dist"),
                             str(source)], capture_output=True, text=True, env=clean_env(), timeout=240)
    assert result.returncode != 0
    assert "missing sockjs-client/dist/sockjs.min.js" in result.stdout + result.stderr
    assert "npm ci" in result.stdout + result.stderr
    assert not list(tmp_path.glob("dist/*.whl"))


def fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.fixture(scope="module", params=SUPPORTED)
def installed(request: pytest.FixtureRequest, wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv of one supported Python with the wheel installed."""
    python = find_python(request.param)
    if python is None:
        pytest.skip(f"no Python {request.param} on this machine")
    venv = tmp_path_factory.mktemp(f"venv{request.param}")
    run([python, "-m", "venv", str(venv)])
    run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel)])
    return venv


@pytest.fixture()
def served(installed: Path, tmp_path: Path) -> Iterator[str]:
    """The installed sockhub serving with --insecure --web, started from an
    empty folder (no config.json, not the checkout); its base URL."""
    port = free_port()
    log = tmp_path / "sockhub.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(installed / "bin" / "sockhub"), "--insecure", "--web", "--port", str(port),
                                 "--address", "127.0.0.1"], cwd=tmp_path, env=clean_env(),
                                stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while fetch_status(url + "/health") != 200:
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(15)
    text = log.read_text()
    assert "is missing" not in text and "Traceback" not in text, text


def fetch_status(url: str) -> int | None:
    try:
        return fetch(url)[0]
    except OSError:
        return None


def test_installed_package_runs_from_the_venv(installed: Path, tmp_path: Path) -> None:
    python = str(installed / "bin" / "python")
    where = run([python, "-c", "import app, transports; print(app.__file__); print(transports.__file__)"],
                cwd=tmp_path).stdout.split()
    assert all(Path(p).is_relative_to(installed) for p in where), where
    expected = f"sockhub {app.__version__}"
    assert run([python, "-m", "sockhub", "version"], cwd=tmp_path).stdout.strip() == expected
    assert run([str(installed / "bin" / "sockhub"), "--version"], cwd=tmp_path).stdout.strip() == expected
    metadata = run([python, "-c", "import importlib.metadata as m; d = m.metadata('sockhub'); "
                    "print(d['Version']); print(d['Requires-Python']); print(*d.get_all('Classifier'), sep='\\n')"],
                   cwd=tmp_path).stdout.splitlines()
    assert metadata[0] == app.__version__ and metadata[1] == ">=3.11"
    version = run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"]).stdout.strip()
    assert f"Programming Language :: Python :: {version}" in metadata[2:]
    # genconfig, then checkconfig of what it wrote, in a folder of the user's
    assert run([python, "-m", "sockhub", "genconfig"], cwd=tmp_path).returncode == 0
    assert run([python, "-m", "sockhub", "checkconfig"], cwd=tmp_path).stdout.strip() == "config.json: ok"


def served_urls() -> dict[str, Path]:
    """Every URL a browser loads from sockhub (``--web``), and the file it must
    serve: each tracked file of the admin page and the demo, and each npm
    file (app.jsclients.NPM_FILES) at the URL its folder is served under; a
    new NPM_FILES row in a folder with no route fails here until it has one."""
    urls: dict[str, Path] = {}
    tracked = subprocess.run(["git", "ls-files", "app/static"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    for name in tracked:
        folder, file = Path(name).parent.name, Path(name).name
        assert folder in ("admin", "demo"), name  # a web folder this test does not know yet
        urls[("/" if folder == "admin" else "/demo/") + file] = ROOT / name
    for npm_file in NPM_FILES:
        source = NODE_MODULES / npm_file.source
        if npm_file.folder == "clientjs":  # sockjs-client: /static/js/, and the iframe page's copy
            urls["/static/js/" + npm_file.name] = source
            if npm_file.name.startswith("sockjs.min.js"):
                urls["/connection/static/" + npm_file.name] = source
        else:
            assert npm_file.folder in ("static/js", "static/uplot"), npm_file
            urls["/" + npm_file.folder + "/" + npm_file.name] = source
    urls["/"] = ROOT / "app/static/admin/index.html"
    urls["/demo/"] = ROOT / "app/static/demo/index.html"
    return urls


def test_installed_server_serves_every_web_file(served: str) -> None:
    expected = served_urls()
    for must in ("/static/js/centrifuge.js", "/static/js/centrifuge5.js", "/static/js/centrifuge5.protobuf.js",
                 "/static/js/sockjs.min.js", "/connection/static/sockjs.min.js", "/static/uplot/uPlot.iife.min.js",
                 "/favicon.svg", "/demo/favicon.svg", "/admin.js", "/charts.js", "/events.js"):
        assert must in expected, must
    for path, source in expected.items():
        assert fetch(served + path) == (200, source.read_bytes()), path
    # the script each SockJS iframe page (1.x /connection, v2 /connection/sockjs) loads, by the URL it names
    sockjs = (NODE_MODULES / "sockjs-client/dist/sockjs.min.js").read_bytes()
    for endpoint in ("/connection", "/connection/sockjs"):
        status, page = fetch(served + endpoint + "/iframe.html")
        (src,) = re.findall(rb'<script src="([^"]+)"', page)
        assert status == 200 and fetch(urllib.parse.urljoin(served + endpoint + "/", src.decode())) == (200, sockjs)
    assert fetch(served + "/static/js/nothing.js")[0] == 404


def test_a_tree_without_the_js_clients_says_so_at_start(tmp_path: Path) -> None:
    """Issue 16: the server answered 404 for the JS clients "with no warning".
    The checkout's files without `make js`'s copies, run from another folder:
    one warning per missing npm file, naming it."""
    source = checkout_copy(tmp_path / "src")
    (source / "node_modules").unlink()
    port = free_port()
    log = tmp_path / "sockhub.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "sockhub", "--insecure", "--port", str(port),
                                 "--address", "127.0.0.1"], cwd=tmp_path, env={**clean_env(), "PYTHONPATH": str(source)},
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while fetch_status(f"http://127.0.0.1:{port}/health") != 200:
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        assert fetch(f"http://127.0.0.1:{port}/static/js/centrifuge.js")[0] == 404
    finally:
        proc.terminate()
        proc.wait(15)
    warned = re.findall(r"WARNING .*?(\S+) is missing: the browser clients cannot load it", log.read_text())
    assert sorted(warned) == sorted(str(f.target) for f in NPM_FILES), log.read_text()
