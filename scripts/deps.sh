#!/usr/bin/env bash
# Installs what BVER needs to build and test, from Debian's packages only.
# Idempotent and non-interactive: packages already present are skipped, so a
# second run costs one dpkg query.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config clang libclang-rt-14-dev
  nlohmann-json3-dev libyaml-cpp-dev libcli11-dev libssl-dev libsqlite3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libpq-dev postgresql
  libboost1.81-dev
  nats-server libnats-dev  # the JetStream relay of the event log (src/events/nats_relay) and its tests
  chromium imagemagick  # the study report rendered headless and checked not blank (tests/grid)
  libjemalloc-dev  # the bver binary's allocator (CMakeLists.txt BVER_JEMALLOC)
  libsuitesparse-dev  # KLU (sparse LU) for the electrical pack's power flow (packs/electrical)
  curl  # the serve tests and `make run` talk HTTP with it
  nodejs  # the MCP SDK client tests (tests/mcp); npm below when node does not bring it
  python3  # the substation-checks exec plugin and the Python SDK's test (tests/sdk), Debian's 3.11 at /usr/bin
)
command -v npm >/dev/null 2>&1 || PACKAGES+=(npm)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "deps: installing ${missing[*]}" >&2
if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: done" >&2
