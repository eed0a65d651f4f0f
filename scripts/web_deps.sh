#!/usr/bin/env bash
# Installs the browser assets bver embeds at build time (web/package.json:
# Swagger UI for GET /docs) into web/node_modules, idempotently: nothing is
# fetched when it already matches the lock file. The binary never loads
# anything from a CDN. Fails (never skips) when npm is missing: run
# scripts/deps.sh first (make deps runs both).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v npm >/dev/null 2>&1; then
  echo "web_deps: npm is missing; run scripts/deps.sh (Debian packages nodejs and npm)" >&2
  exit 1
fi
stamp=web/node_modules/.bver-installed
if [ -f "$stamp" ] && [ "$stamp" -nt web/package-lock.json ] && [ "$stamp" -nt web/package.json ]; then
  exit 0
fi
echo "web_deps: installing web/package-lock.json" >&2
(cd web && npm ci --no-audit --no-fund --loglevel=error)
touch "$stamp"
