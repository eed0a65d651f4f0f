#!/usr/bin/env bash
# Installs the npm packages the tests use (every tests/*/package.json: the
# official MCP SDK client and conformance runner, the OpenAPI validators)
# into test-only folders, idempotently: nothing is fetched when
# node_modules already matches the lock file. Fails (never skips) when node
# or npm is missing or the install fails: run scripts/deps.sh first.
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in node npm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "npm_test_deps: '$tool' is missing; run scripts/deps.sh (Debian packages nodejs and npm)" >&2
    exit 1
  fi
done

for manifest in tests/*/package.json; do
  dir=$(dirname "$manifest")
  stamp="$dir/node_modules/.bver-installed"
  if [ -f "$stamp" ] && [ "$stamp" -nt "$dir/package-lock.json" ] && [ "$stamp" -nt "$dir/package.json" ]; then
    continue
  fi
  echo "npm_test_deps: installing $dir/package-lock.json" >&2
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  touch "$stamp"
done
