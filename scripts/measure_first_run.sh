#!/usr/bin/env bash
# How long a new machine takes from a clone to a served example: clones this
# repository into a temporary folder, runs `make run` there with an EMPTY
# compiler cache (as on a new machine; the Debian packages scripts/deps.sh
# installs are the machine's, installed or not), and times it until the
# server answers /readyz with the example's store migrated to its bver.yaml
# (`bver doctor` says so). Stops the server and removes everything it made.
#   scripts/measure_first_run.sh [PORT]      default port 18080
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${1:-18080}
WORK=$(mktemp -d /tmp/bver-first-run.XXXXXX)
CLONE="$WORK/bver"
export CCACHE_DIR="$WORK/ccache"
LOG="$WORK/make-run.log"
cleanup() {
  if [[ -x "$CLONE/build/default/apps/bver/bver" ]]; then
    "$CLONE/build/default/apps/bver/bver" -C "$CLONE/examples/substation" down >/dev/null 2>&1 || true
  fi
  [[ -n "${RUN_PID:-}" ]] && kill "$RUN_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

start=$(date +%s)
git clone -q "$(pwd)" "$CLONE"
# The test data folder beside the clone, as in this checkout (make run does not need it).
ln -s "$(realpath ../shared)" "$WORK/shared" 2>/dev/null || true
(cd "$CLONE" && PORT=$PORT make run >"$LOG" 2>&1) &
RUN_PID=$!
until curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1; do
  if ! kill -0 "$RUN_PID" 2>/dev/null; then
    echo "first-run: make run stopped before serving; its output:" >&2
    tail -30 "$LOG" >&2
    exit 1
  fi
  sleep 2
done
served=$(date +%s)
doctor=$("$CLONE/build/default/apps/bver/bver" -C "$CLONE/examples/substation" doctor --json 2>/dev/null || true)
echo "first-run: clone -> served in $((served - start)) s ($(nproc) cores, empty ccache)"
echo "first-run: doctor: $(echo "$doctor" | head -c 400)"
