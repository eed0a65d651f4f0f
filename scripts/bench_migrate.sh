#!/usr/bin/env bash
# Builds migrate_bench (Release, in build/bench) and runs it: 100,000
# references migrated on SQLite (one field renamed) beside the same store's
# create rate, same run. Arguments go to migrate_bench (--refs N).
#
#   scripts/bench_migrate.sh | tee build/bench/migrate_bench.md
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${BUILD_DIR:-build/bench}
JOBS=${JOBS:-2}

# -Wno-error=restrict: see scripts/bench.sh (GCC bug 105329).
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBVER_BENCH=ON \
  -DCMAKE_CXX_FLAGS=-Wno-error=restrict >/dev/null
cmake --build "$BUILD_DIR" -j"$JOBS" --target migrate_bench >&2

exec "$BUILD_DIR/bench/migrate_bench" "$@"
