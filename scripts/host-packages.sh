#!/usr/bin/env bash
# Host packages Switchboard's demo and tests need, installed only when missing (needs root).
#   debootstrap   builds the Debian sid chroot holding Asterisk 22 (engine/pbx/sandbox.py)
#   sip-tester    sipp: the phones and callers in end-to-end tests and the demo hint
#   tcpdump       captures the RTP a phone receives on loopback (audio tests)
#   iproute2, util-linux   `ip` and `unshare` for `switchboard config check`'s throw-away Asterisk
#   chromium      browser tests (playwright drives /usr/bin/chromium; never a downloaded browser)
#   postgresql    tests against a real PostgreSQL (tests/pg_helpers.py)
#   python3-venv  the project's virtualenv
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
need=()
have() { command -v "$1" >/dev/null 2>&1; }
have debootstrap || need+=(debootstrap)
have sipp || need+=(sip-tester)
have tcpdump || need+=(tcpdump)
have ip || need+=(iproute2)
have unshare || need+=(util-linux)
have chromium || need+=(chromium)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv python3-pip)
if [ "${#need[@]}" -eq 0 ]; then
    echo "host packages: all present"
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "error: missing host packages (${need[*]}); run as root or: apt-get install ${need[*]}" >&2
    exit 1
fi
echo "host packages: installing ${need[*]}"
log=$(mktemp /tmp/switchboard-apt.XXXXXX)
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" ca-certificates; } >"$log" 2>&1; then
    echo "error: apt-get could not install ${need[*]}; last lines of $log:" >&2
    tail -n 20 "$log" >&2
    exit 1
fi
echo "host packages: installed (log: $log)"
