#!/usr/bin/env bash
# The JetStream relay benchmark of issue 6 (docs/PERFORMANCE.md "Events:
# JetStream relay (issue 6)"): starts a nats-server with JetStream on a free
# loopback port and a throwaway storage folder, fills a SQLite log with N
# events and measures the relay draining it beside a plain JetStream publish
# loop of the same envelopes with the same ack discipline, async and sync.
# Needs: apt-get install -y nats-server libnats-dev (scripts/deps.sh).
#
#   scripts/bench_relay.sh | tee build/helper-nats/bench_relay.txt
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${BUILD_DIR:-build/helper-nats}
N=${N:-50000}
BATCH=${BATCH:-256}
REPEAT=${REPEAT:-3}
NATS_SERVER=${NATS_SERVER:-$(command -v nats-server || echo /usr/sbin/nats-server)}

cmake -S . -B "$BUILD_DIR" -G Ninja -DBVER_BENCH=ON >/dev/null
cmake --build "$BUILD_DIR" -j1 --target nats_relay_bench >&2

WORK=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$NATS_SERVER" -a 127.0.0.1 -p "$PORT" -js -sd "$WORK/js" >"$WORK/nats.log" 2>&1 &
NATS_PID=$!
trap 'kill $NATS_PID 2>/dev/null; wait $NATS_PID 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
  sleep 0.1
done

echo "== machine"; nproc; uname -srm; date -u +%FT%TZ; "$NATS_SERVER" --version
echo "== relay vs plain JetStream publish: N=$N events, batch $BATCH, SQLite (WAL, synchronous FULL), store and nats-server on this machine"
"$BUILD_DIR/bench/nats_relay_bench" --url "nats://127.0.0.1:$PORT" --events "$N" --batch "$BATCH" \
  --repeat "$REPEAT" --dir "$WORK/store"
