#!/usr/bin/env bash
# The test command (README): venv + dependencies, the Asterisk sandbox, then pytest.
# Tests that need Asterisk fail (never skip) when CI=true and it cannot start.
# Extra arguments go to pytest, e.g. ./scripts/test.sh tests/unit -x
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/host-packages.sh

./scripts/venv.sh

if [ "$(id -u)" = 0 ]; then
    echo "== Asterisk sandbox (built once per machine, about a minute the first time)"
    .venv/bin/python - <<'PY'
import sys, time
from engine.pbx.sandbox import Sandbox, SandboxError
from engine.settings import load_settings
sandbox = Sandbox(load_settings())
started = time.monotonic()
try:
    built = sandbox.ensure_built()
except SandboxError as exc:
    print(f"error: {exc}", file=sys.stderr)
    sys.exit(1)
print(f"sandbox {'built' if built else 'ready'} at {sandbox.root} ({time.monotonic() - started:.1f}s)")
PY
elif [ "${CI:-}" = "true" ]; then
    echo "error: CI=true needs root: the Asterisk sandbox is a chroot" >&2
    exit 1
else
    echo "note: not root, tests that need the Asterisk sandbox will be skipped" >&2
fi

echo "== pytest"
CI="${CI:-}" exec .venv/bin/python -m pytest -q "$@"
