"""The table of npm files sockhub serves and their copy (app.jsclients)."""
from __future__ import annotations

from pathlib import Path

import pytest

from app.jsclients import NPM_FILES, NpmFilesMissing, copy_npm_files, missing_npm_files
from app.resources import js_folder
from transports.settings import CLIENT_JS_DIR, DEFAULT_CLIENT_JS

ROOT = Path(__file__).resolve().parents[2]


def test_copies_every_file_byte_for_byte(tmp_path: Path) -> None:
    copies = copy_npm_files(ROOT / "node_modules", tmp_path)
    assert sorted(copies) == sorted(tmp_path / f.target for f in NPM_FILES)
    for npm_file in NPM_FILES:
        assert (tmp_path / npm_file.target).read_bytes() == (ROOT / "node_modules" / npm_file.source).read_bytes()


def test_a_missing_file_is_named_and_nothing_is_copied(tmp_path: Path) -> None:
    partial = tmp_path / "node_modules"
    (partial / "centrifuge").mkdir(parents=True)
    (partial / "centrifuge" / "centrifuge.js").write_text("// not all of them")
    with pytest.raises(NpmFilesMissing) as info:
        copy_npm_files(partial, tmp_path / "out")
    assert "sockjs-client/dist/sockjs.min.js" in str(info.value) and "npm ci" in str(info.value)
    assert "centrifuge/centrifuge.js," not in str(info.value)  # that one is there
    assert not (tmp_path / "out").exists()


def test_the_server_finds_them_as_package_data() -> None:
    # the suite's session start copied them (tests/conftest.py), as `make js` does
    assert missing_npm_files() == []
    assert Path(DEFAULT_CLIENT_JS).is_file() and Path(CLIENT_JS_DIR).name == "clientjs"
    assert (js_folder() / "centrifuge.js").is_file()
    assert js_folder().is_relative_to(ROOT / "app")


def test_make_js_copies_into_the_checkout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from app.jsclients import main

    assert main([str(tmp_path / "no-node-modules")]) == 1
    assert "npm ci" in capsys.readouterr().err
    assert main([]) == 0  # what `make js` runs: the same files again, in place
    assert capsys.readouterr().out == f"copied {len(NPM_FILES)} npm files into app, transports\n"
    assert missing_npm_files() == []
