#!/usr/bin/env bash
# Create .venv and install the service (CPU torch 2.13.0, the pinned dependencies).
# With --test: also the test tools and the optional Ray extra (its cluster tests run in CI), Debian's Chromium for
# the editor page's browser tests and Debian's redis-server for the shared translation memory's tests.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
if [ "${1:-}" != "--test" ]; then
  .venv/bin/python -m pip install -q -e .
  exit 0
fi
.venv/bin/python -m pip install -q -e '.[test,ray]'  # the Ray cluster tests run in CI too
# Playwright drives the system's Chromium: its own browser download is never used.
missing=()
command -v chromium >/dev/null || missing+=(chromium fonts-lohit-deva)
command -v redis-server >/dev/null || missing+=(redis-server)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "note: the browser and Redis tests need: apt-get install ${missing[*]}" >&2
  fi
fi
