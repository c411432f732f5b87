#!/usr/bin/env bash
# The main job (README): host packages, venv, then `switchboard demo`: a seeded demo
# database, the sandbox Asterisk 22 loaded with the generated configuration, the engine.
# Run as root (the sandbox is a chroot). Extra arguments go to `switchboard demo`
# (e.g. --reset to start again from a fresh demo database).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/host-packages.sh
./scripts/venv.sh
exec .venv/bin/switchboard demo "$@"
