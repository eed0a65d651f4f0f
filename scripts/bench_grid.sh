#!/usr/bin/env bash
# The electrical pack's benchmarks (docs/PERFORMANCE.md "Power flow (issue 11)",
# "Short circuit and N-1 (issue 13)"):
#   1. powerflow_bench: the AC power flow alone (the network in memory), one
#      thread, MATPOWER cases of 118 to 10,000 buses, 5 repetitions, medians;
#   2. grid_jobs_bench: the jobs through the runtime on SQLite (WAL, FULL)
#      with the real plugin: import of case9241pegase, the powerflow job
#      (no cache), a cache hit, and the solve of the same run as the floor.
# Builds both in $BUILD_DIR (RelWithDebInfo, as make test) with one compile job.
#
#   scripts/bench_grid.sh | tee build/bench_grid.txt
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${BUILD_DIR:-build/default}
RUNS=${RUNS:-5}
HITS=${HITS:-200}

bash scripts/deps.sh
bash scripts/web_deps.sh
[ -f "$BUILD_DIR/build.ninja" ] || cmake --preset default >/dev/null
cmake --build "$BUILD_DIR" -j1 --target powerflow_bench grid_jobs_bench electrical_plugin >&2

echo "== machine"; nproc; uname -srm; date -u +%FT%TZ
echo "== the AC power flow alone (network in memory, one thread)"
"$BUILD_DIR/bench/powerflow_bench" --benchmark_repetitions=5 --benchmark_report_aggregates_only=true 2>&1 |
  grep -E "median|^Benchmark"
echo "== the jobs through the runtime (SQLite WAL FULL, in process)"
for c in case118 case9241pegase case_ACTIVSg10k; do
  "$BUILD_DIR/bench/grid_jobs_bench" --case "$c" --runs "$RUNS" --hits "$HITS"
done

# Issue 13: the short circuit and the N-1 (set N1_LARGE=1 for case9241pegase,
# about 7 minutes with one thread and 4 with two).
cmake --build "$BUILD_DIR" -j1 --target shortcircuit_bench contingency_bench >&2
echo "== the three-phase short circuit at every bus (network in memory, one thread)"
"$BUILD_DIR/bench/shortcircuit_bench" --benchmark_repetitions=3 --benchmark_report_aggregates_only=true 2>&1 |
  grep -E "median|^Benchmark"
echo "== N-1: every in-service branch and generator out (threads 1 and 2)"
"$BUILD_DIR/bench/contingency_bench" --benchmark_filter='case118|case2383wp' --benchmark_repetitions=3 \
  --benchmark_report_aggregates_only=true 2>&1 | grep -E "median|^Benchmark"
if [ "${N1_LARGE:-0}" = 1 ]; then
  "$BUILD_DIR/bench/contingency_bench" --benchmark_filter='case9241pegase' 2>&1 | grep -E "case9241|^Benchmark"
fi
