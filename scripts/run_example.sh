#!/usr/bin/env bash
# `make run`: serves the substation example (examples/substation) with
# `bver up` in the foreground, after saying how to try it. Ctrl-C (or
# `bver -C examples/substation down` from another terminal) stops it.
#   PORT=8081 make run     another port (default 8080)
set -euo pipefail
cd "$(dirname "$0")/.."
BVER=${BVER:-build/default/apps/bver/bver}
PORT=${PORT:-8080}
EXAMPLE=examples/substation
URL="http://127.0.0.1:$PORT"

"$BVER" -C "$EXAMPLE" compile
# The example's two plugins, as built now (--replace keeps them current).
"$BVER" -C "$EXAMPLE" plugins install --replace "$(realpath "$(dirname "$BVER")/../../plugins/substation-starter")" >/dev/null
"$BVER" -C "$EXAMPLE" plugins install --replace "$(realpath plugins/substation-checks)" >/dev/null
if "$BVER" -C "$EXAMPLE" status >/dev/null 2>&1; then
  echo "run: a server already runs for $EXAMPLE:" >&2
  "$BVER" -C "$EXAMPLE" status >&2
  echo "run: stop it with: $BVER -C $EXAMPLE down" >&2
  exit 1
fi

cat <<HINTS

BVER serves the substation example at $URL   (stop: Ctrl-C, or $BVER -C $EXAMPLE down)

  Create a site:
    curl -s -X POST $URL/v1/refs/sites/site -H 'Content-Type: application/json' \\
         -d '{"name":"North","voltage_levels_kv":[132,33]}'
  List sites:                        curl -s $URL/v1/refs/sites/site
  Watch every event as it happens (Server-Sent Events), in another terminal:
    curl -sN $URL/v1/events/stream
  Create a substation: the trigger new_substation runs the orchestrator design_site
  (generate the skeleton, validate it, mark the site ready):
    curl -s -X POST '$URL/v1/refs/sites/site?kind=power.substation&id=north' -H 'Content-Type: application/json' \\
         -d '{"name":"North","voltage_levels_kv":[132,33],"fault_level_ka":25}'
    curl -s $URL/v1/orchestrators/runs                  # the run and each step's state
    curl -s $URL/v1/refs/sites/site/north               # status: ready
  Run a job by hand:
    curl -s -X POST '$URL/v1/jobs/sanity?wait=30' -H 'Content-Type: application/json' -d '{"site":"bver://sites/site/north"}'
  Index Document metadata from a durable consumer:
    node examples/substation/subscribers/doc_indexer.mjs --url $URL
  Read an attribute by pointer:      curl -s '$URL/v1/resolve?pointer=bver://sites/site/ID@name'
  API reference (try any request):   $URL/docs
  Every operation from the CLI:      $BVER -C $EXAMPLE call --list --server $URL
  OpenAPI 3.1 document:              $URL/v1/openapi.json
  MCP over Streamable HTTP:          $URL/mcp
  MCP over stdio:                    $BVER -C $EXAMPLE mcp
  Metrics (Prometheus):              $URL/metrics

HINTS
exec "$BVER" -C "$EXAMPLE" up --listen "127.0.0.1:$PORT"
