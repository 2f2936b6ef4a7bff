#!/usr/bin/env bash
# Create .venv and install the service with its test tools (CPU torch 2.13.0, the pinned dependencies).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'
