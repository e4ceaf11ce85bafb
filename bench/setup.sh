#!/usr/bin/env bash
# `make bench`: installs the peers bench/run.py compares sockhub with, outside
# the package (sockhub never imports them):
#   - npm sockjs 0.3.24 and ws 8.23.0 into bench/node_modules (bench/package.json, exact versions);
#   - the venv's `bench` extra (sockjs-tornado 1.0.7, websockets, py-spy, psutil);
#   - Centrifuge 0.8.4 (Tornado 4.2, needs an old Python) into bench/.peers/centrifuge,
#     a Python 3.6 env (PY36, default pyenv's 3.6.15); skipped, with the reason, if none.
set -euo pipefail
cd "$(dirname "$0")/.."

npm ci --prefix bench --no-audit --no-fund --loglevel=error
.venv/bin/pip install -q -e '.[bench]'

PY36="${PY36:-/root/.pyenv/versions/3.6.15/bin/python}"
if [ -x "$PY36" ]; then
  if [ ! -x bench/.peers/centrifuge/bin/python ]; then
    "$PY36" -m venv bench/.peers/centrifuge
  fi
  bench/.peers/centrifuge/bin/pip install -q centrifuge==0.8.4
else
  echo "bench: no Python 3.6 at $PY36 (set PY36=...): Centrifuge 0.8.4 will be skipped" >&2
fi
