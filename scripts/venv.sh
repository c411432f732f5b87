#!/usr/bin/env bash
# The project's virtualenv with its dependencies (shared by test.sh and demo.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install -q -e '.[test]'
