#!/usr/bin/env bash
# Runs the whole suite; pytest's exit code 5 (no tests collected) is a failure here,
# because a suite that collects nothing proves nothing.
set -u
cd "$(dirname "$0")/.."
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests" >&2
  exit 1
fi
exit "$rc"
