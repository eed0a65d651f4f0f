#!/usr/bin/env bash
# The job engine benchmark of issue 5 (docs/PERFORMANCE.md "Jobs (issue 5)"):
#   1. no-op jobs end to end with 2 in-process workers on SQLite (WAL, FULL);
#   2. the same with two `bver worker` processes on a throwaway PostgreSQL
#      cluster (the submitting process runs no worker);
#   3. cache-hit latency p50/p99 on SQLite;
#   4. Celery 5.2 on Redis from Debian's packages (../shared/peers/celery),
#      in the same run, for the ratios.
# Builds jobs_bench, bver and the no-op native plugin in $BUILD_DIR with one
# compile job. Needs: apt-get install -y redis-server python3-celery python3-redis
#
#   scripts/bench_jobs.sh | tee build/helper-jobs/bench_jobs.txt
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${BUILD_DIR:-build/helper-jobs}
N=${N:-10000}      # BVER jobs per SQLite run
PG_N=${PG_N:-2000} # per PostgreSQL run (every write holds the store's one writer lock: slow, see PERFORMANCE.md)
CELERY_N=${CELERY_N:-20000}
PEERS=${PEERS:-../shared/peers}

cmake -S . -B "$BUILD_DIR" -G Ninja -DBVER_BENCH=ON >/dev/null
cmake --build "$BUILD_DIR" -j1 --target jobs_bench bver bench_noop_plugin >&2

echo "== machine"; nproc; uname -srm; date -u +%FT%TZ
echo "== BVER: in-process workers, SQLite (WAL, synchronous FULL): the default 2 threads, then 32"
"$BUILD_DIR/bench/jobs_bench" --what throughput --jobs "$N" --workers 2 --submitters 4
"$BUILD_DIR/bench/jobs_bench" --what throughput --jobs "$N" --workers 32 --submitters 8
echo "== BVER: two bver worker processes (8 threads each), PostgreSQL"
"$BUILD_DIR/bench/jobs_bench" --what throughput --jobs "$PG_N" --workers 0 --submitters 8 --pg 1 \
  --spawn-workers 2 --worker-threads 8 --bver "$BUILD_DIR/apps/bver/bver"
echo "== BVER: cache hits, SQLite"
"$BUILD_DIR/bench/jobs_bench" --what cache --cache-samples 2000 --workers 1
echo "== BVER: 32 in-process workers and cache hits, SQLite durability=fast (WAL NORMAL: survives a crash of the process, not of the machine)"
FAST=$(mktemp -d)
"$BUILD_DIR/bench/jobs_bench" --dir "$FAST" --store "sqlite:$FAST/bver.db?durability=fast" --what all --jobs "$N" \
  --workers 32 --submitters 8 --cache-samples 2000
rm -rf "$FAST"
if [ -x "$PEERS/celery/run_celery.sh" ] && /usr/bin/python3 -c "import celery, redis" 2>/dev/null; then
  echo "== Celery on Redis ($PEERS/celery/run_celery.sh, N=$CELERY_N)"
  N="$CELERY_N" "$PEERS/celery/run_celery.sh" 2>&1 | grep -E "throughput|latency|celery |Redis server"
else
  echo "== Celery: skipped (apt-get install -y redis-server python3-celery python3-redis)"
fi
