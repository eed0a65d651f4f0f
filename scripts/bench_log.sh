#!/usr/bin/env bash
# The cost of bver up's request log: GET of one reference over HTTP (wrk, one
# thread, 32 keep-alive connections, 10 s per run) with the default log (a
# JSON line per request in .bver/logs/bver.jsonl and a readable line on the
# terminal), with --quiet (the file only) and with --log-level warn (no line
# for a successful request), alternated ROUNDS times in one run.
#   scripts/bench_log.sh [ROUNDS]     default 2; needs wrk (apt-get install wrk)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-2}
B=$(realpath build/default/apps/bver/bver)
command -v wrk >/dev/null || { echo "bench_log: needs wrk (apt-get install -y wrk)" >&2; exit 1; }
WORK=$(mktemp -d /tmp/bver-bench-log.XXXXXX)
trap 'kill $PID 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"' EXIT
PID=
cat > "$WORK/bver.yaml" <<'YAML'
bver: 1
platform: { id: people, version: 1.0.0 }
namespaces:
  org:
    repos:
      person:
        schema: { type: object, properties: { name: { type: string } } }
YAML
PORT=18191
run() {
  local label=$1; shift
  (cd "$WORK" && exec "$B" up --listen 127.0.0.1:$PORT "$@" >up.out 2>up.err) & PID=$!
  for _ in $(seq 100); do curl -sf http://127.0.0.1:$PORT/healthz >/dev/null && break; sleep 0.1; done
  curl -s -X POST http://127.0.0.1:$PORT/v1/ops/refs.person.create -H 'Content-Type: application/json' \
       -d '{"id":"ada","body":{"name":"Ada"}}' >/dev/null || true
  local rps
  rps=$(wrk -t1 -c32 -d10s http://127.0.0.1:$PORT/v1/refs/org/person/ada 2>&1 | awk '/Requests\/sec/ {print $2}')
  kill $PID; wait $PID 2>/dev/null || true; PID=
  echo "$label $rps"
}
for r in $(seq "$ROUNDS"); do
  run default
  run quiet --quiet
  run warn --log-level warn
done | awk '{sum[$1]+=$2; n[$1]++} END {
  w = sum["warn"]/n["warn"];
  for (k in sum) printf "%-8s %9.0f req/s  %.2fx of --log-level warn\n", k, sum[k]/n[k], (sum[k]/n[k])/w }'
