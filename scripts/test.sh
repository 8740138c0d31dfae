#!/usr/bin/env bash
# Runs every test: installs what the suite needs (Deno from npm, Mosquitto, openssl, Redis,
# Prometheus's promtool and Chromium from Debian when missing and we are root), runs `deno task test`, and ends with one line
# "N passed, N failed". Exit status is the test run's.
set -uo pipefail
cd "$(dirname "$0")/.."

deno=node_modules/.bin/deno
[ -x "$deno" ] || npm ci --no-audit --no-fund
"$deno" install --frozen >/dev/null || { echo "deno install --frozen failed"; exit 1; }

missing=""
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || missing="$missing mosquitto"
# openssl makes the certificates of the TLS tests (tests/_support/tls.ts; they skip without it).
command -v openssl >/dev/null 2>&1 || missing="$missing openssl"
# redis-server answers the load client over TLS (tests/integration/load_tls_test.ts skips without it).
command -v redis-server >/dev/null 2>&1 || missing="$missing redis-server"
# promtool checks /metrics (tests/integration/observability_test.ts skips that check without it).
command -v promtool >/dev/null 2>&1 || missing="$missing prometheus"
# Chromium runs the status page (tests/integration/status_page_test.ts skips without it).
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || missing="$missing chromium"
# libfaketime skews node processes' clocks (tests/integration/conflict_skew_test.ts skips without it).
command -v faketime >/dev/null 2>&1 || missing="$missing faketime"
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing:$missing"
    apt-get update -qq >/dev/null && apt-get install -y -qq $missing >/dev/null
  else
    echo "missing:$missing (install with: apt-get install -y$missing)"
  fi
fi

log=$(mktemp)
NO_COLOR=1 "$deno" task test "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
summary=$(sed -E 's/\x1b\[[0-9;]*m//g' "$log" | grep -E '^(ok|FAILED) \| [0-9]+ passed' | tail -1)
passed=$(echo "$summary" | sed -nE 's/.* ([0-9]+) passed.*/\1/p')
failed=$(echo "$summary" | sed -nE 's/.* ([0-9]+) failed.*/\1/p')
rm -f "$log"
if [ -z "$passed" ]; then
  echo "0 passed, 1 failed"
  exit 1
fi
echo "${passed} passed, ${failed:-0} failed"
exit "$status"
