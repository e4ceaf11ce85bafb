#!/usr/bin/env bash
# `make test`: the house rules, then the whole suite under coverage.
# Each step fails the run: ruff (pyproject.toml), mypy --strict on app/ and
# transports/ (setup.cfg), pytest, and the coverage floor (setup.cfg), which
# only applies when the whole suite ran (no pytest arguments).
# pytest's exit code 5 (no tests collected) is a failure here, because a
# suite that collects nothing proves nothing.
set -u
cd "$(dirname "$0")/.."
BIN=.venv/bin

"$BIN/ruff" check app transports sockhub tests bench setup.py || exit 1
"$BIN/mypy" || exit 1

rm -f .coverage .coverage.*
"$BIN/coverage" run -m pytest -q -p no:cacheprovider --durations=25 "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests" >&2
  exit 1
fi
"$BIN/coverage" combine -q >/dev/null 2>&1
if [ "$rc" -eq 0 ] && [ "$#" -eq 0 ]; then
  "$BIN/coverage" report --precision=1 | grep "^TOTAL"
  "$BIN/coverage" report >/dev/null || { echo "coverage under the floor (setup.cfg fail_under)" >&2; exit 1; }
fi
exit "$rc"
