#!/usr/bin/env bash
# The event log benchmark of issue 6 (docs/PERFORMANCE.md "Events (issue
# 6)"): appends, delivery to a durable consumer, end-to-end latency and a
# replay of 1M events on SQLite, each beside a plain SQLite floor measured in
# the same run. The JetStream relay has its own: scripts/bench_relay.sh.
#
#   scripts/bench_events.sh                 # REPLAY=1000000 DELIVER=200000 SECONDS=10
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build/default}
cmake --preset default >/dev/null
cmake --build "$BUILD_DIR" -j2 --target events_bench >&2
echo "== machine"; nproc; uname -srm; date -u +%FT%TZ
echo "== events: SQLite (WAL, synchronous FULL), one process, this machine"
"$BUILD_DIR/bench/events_bench" --replay "${REPLAY:-1000000}" --deliver "${DELIVER:-200000}" --seconds "${SECONDS_PER_PHASE:-10}"
