#!/usr/bin/env bash
# Installs what CodeFleet needs to build and test on Debian 12. Idempotent: packages
# already present are not fetched again, so a second run needs no network.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config
  nlohmann-json3-dev libyaml-cpp-dev libcli11-dev libfmt-dev libexpected-dev
  googletest libgtest-dev libgmock-dev libbenchmark-dev libboost1.81-dev
  libsqlite3-dev libpq-dev postgresql libcpp-httplib-dev libssl-dev prometheus-cpp-dev
  prometheus wrk sqlite3 libcurl4-openssl-dev
  nodejs npm chromium
  # The fuzz targets (scripts/fuzz.sh): clang, libFuzzer and the sanitizer runtimes
  # (libclang-rt-14-dev), llvm-symbolizer for their stack traces (llvm-14).
  clang libclang-rt-14-dev llvm-14
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# node and npm may come from elsewhere than Debian (a newer Node.js): keep those.
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  kept=()
  for p in "${missing[@]}"; do
    [ "$p" = nodejs ] || [ "$p" = npm ] || kept+=("$p")
  done
  missing=("${kept[@]}")
fi

# kubectl for the Kubernetes client's tests: Debian's kubernetes-client, unless a kubectl is
# already on the PATH (another distribution's would clash with its files).
if ! command -v kubectl >/dev/null 2>&1; then
  missing+=(kubernetes-client)
fi

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all Debian packages present"
else
  echo "setup: installing ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# npm packages (Chart.js for the HTML reports, playwright-core for the browser test),
# pinned by package-lock.json; reinstalled only when the lock file changed.
cd "$(dirname "$0")/.."
if [ ! -f node_modules/.package-lock.json ] || ! cmp -s package-lock.json node_modules/.codefleet-lock; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.codefleet-lock
else
  echo "setup: npm packages present"
fi
