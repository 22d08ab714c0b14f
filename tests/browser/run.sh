#!/bin/sh
# Real-browser tests of the dashboard: Playwright (PyPI, in .venv) driving Debian's chromium against the real
# `demoforge serve`. Builds nothing: expects .build/debug/demoforge (`swift build` first).
# Never runs `playwright install`: the browser is /usr/bin/chromium (override with CHROMIUM=...).
set -eu
cd "$(dirname "$0")/../.."
bin="${DEMOFORGE_BIN:-.build/debug/demoforge}"
if [ ! -x "$bin" ]; then
  echo "tests/browser: $bin is missing; run 'swift build' first" >&2
  echo "0 passed, 1 failed"
  exit 1
fi
if [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
  echo "tests/browser: ${CHROMIUM:-/usr/bin/chromium} is missing (apt-get install chromium)" >&2
  echo "0 passed, 1 failed"
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
if ! .venv/bin/python -c "import playwright" 2>/dev/null; then
  .venv/bin/pip install --quiet --disable-pip-version-check playwright
fi
exec .venv/bin/python tests/browser/test_dashboard.py
