#!/usr/bin/env bash
# Sets up everything the tests need, then runs the linters and the whole test suite.
#   bash scripts/test.sh [PYTEST ARGS...]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
.venv/bin/ruff check .
.venv/bin/lint-imports
export QT_QPA_PLATFORM=offscreen
status=0
# Two workers: most of the suite waits on slow lines, kills and servers, not on the CPU, so on
# CI's two cores it takes ~9 instead of ~15 minutes. The timing tests hold with margin beside a
# busy worker (household: p95 23.5 ms against a 50 ms bound next to the frozen-bundle build).
# BACKBEAT_TEST_WORKERS=0 runs everything in this process (for a debugger).
.venv/bin/python -m pytest -n "${BACKBEAT_TEST_WORKERS:-2}" "$@" || status=$?
if [ "$status" = 5 ]; then
  echo "error: pytest collected no tests" >&2
  exit 1
fi
exit "$status"
