#!/usr/bin/env bash
# Builds the libFuzzer targets with the "fuzz" preset (clang, ASan + UBSan,
# build dir build/fuzz) and runs each for a bounded time on a scratch copy of
# its seed corpus (fuzz/corpus/<name>/), so the checked-in seeds never change.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# SECONDS is the time per target (default 30); TARGET defaults to every
# fuzzer (pointer, canonical_json, matpower, psse). Exits non-zero when a target crashes,
# leaks, hangs (10 s per input) or fails to build; the input that did it is
# kept in build/fuzz/artifacts/. Set BVER_FUZZ_JOBS to change build
# parallelism (default 1).
set -euo pipefail

seconds="${1:-30}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(pointer canonical_json matpower psse)
fi
case "$seconds" in
  ''|*[!0-9]*) echo "fuzz.sh: SECONDS must be a whole number, got '$seconds'" >&2; exit 2 ;;
esac

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
build=build/fuzz
artifacts="$root/$build/artifacts"

cmake --preset fuzz >/dev/null
bins=()
for t in "${targets[@]}"; do bins+=("${t}_fuzzer"); done
cmake --build "$build" -j "${BVER_FUZZ_JOBS:-1}" --target "${bins[@]}"

scratch="$(mktemp -d "${TMPDIR:-/tmp}/bver-fuzz.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$artifacts"

status=0
for t in "${targets[@]}"; do
  corpus="$scratch/$t"
  mkdir -p "$corpus"
  if [ -d "fuzz/corpus/$t" ]; then cp -R "fuzz/corpus/$t/." "$corpus/"; fi
  dict=()
  if [ -f "fuzz/$t.dict" ]; then dict=("-dict=fuzz/$t.dict"); fi
  log="$scratch/$t.log"
  echo "fuzz.sh: running ${t}_fuzzer for ${seconds}s" >&2
  set +e
  "$build/fuzz/${t}_fuzzer" "$corpus" "${dict[@]}" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$artifacts/${t}-" >"$log" 2>&1
  rc=$?
  set -e
  if [ $rc -ne 0 ]; then
    echo "fuzz.sh: ${t}_fuzzer FAILED (exit $rc); input kept in $artifacts/" >&2
    tail -n 60 "$log" >&2
    status=1
  else
    runs="$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' || true)"
    cov="$(grep -Eo 'cov: [0-9]+' "$log" | tail -n 1 || true)"
    echo "fuzz.sh: ${t}_fuzzer ok: ${runs:-?} runs in ${seconds}s, ${cov:-cov: ?}" >&2
  fi
done
exit $status
