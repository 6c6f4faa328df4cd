#!/usr/bin/env bash
# The libFuzzer targets in fuzz/ (docs/FUZZING.md):
#
#   bash scripts/fuzz.sh build                  # build-fuzz/: clang, ASan + UBSan
#   bash scripts/fuzz.sh run SECONDS [TARGET…]  # each target SECONDS, two at a time
#   bash scripts/fuzz.sh list
#
# `run` starts every target from its seeds (checked in under fuzz/seeds/ and taken from
# tests/fixtures and examples/) and the corpus earlier runs left in build-fuzz/corpus/,
# prints one line per target (executions, exec/s, cov, ft, corpus, crashes) and a total
# ("fuzz: N passed, M failed"), and exits non-zero when any target crashed, leaked, hung
# or ran out of memory; the reproducer is kept in build-fuzz/artifacts/TARGET/.
# Environment: FUZZ_BUILD_DIR (build-fuzz), FUZZ_PARALLEL (2 targets at once),
# FUZZ_TIMEOUT_S (10: one input slower than this is a finding), FUZZ_ARGS (more flags).
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD="${FUZZ_BUILD_DIR:-build-fuzz}"
PARALLEL="${FUZZ_PARALLEL:-2}"
TIMEOUT_S="${FUZZ_TIMEOUT_S:-10}"
# Symbolized stack traces in the reports, wherever llvm-symbolizer is not on PATH.
if [ -z "${ASAN_SYMBOLIZER_PATH:-}" ] && [ -x /usr/lib/llvm-14/bin/llvm-symbolizer ]; then
  export ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-14/bin/llvm-symbolizer
fi
TARGETS=(spec task_json trace_azure trace_alibaba trace_jsonl prices skus jwt sse_usage iac_lint
         http_request)

# Seed files of a target (fuzz/seeds/TARGET/ is added to these).
seeds_of() {
  case "$1" in
    spec) ls examples/*.yaml tests/fixtures/serve/*.yaml ;;
    trace_azure) ls tests/fixtures/traces/azure-*.csv tests/fixtures/traces/bad-azure-*.csv ;;
    trace_alibaba) ls tests/fixtures/traces/alibaba-*.csv ;;
    prices) ls tests/fixtures/prices/*.json ;;
    skus) ls tests/fixtures/skus/*.json ;;
    iac_lint) find tests/fixtures/iac -name '*.tf' -o -name '*.bicep' ;;
  esac
}

dict_of() {
  case "$1" in
    spec) echo fuzz/dict/yaml.dict ;;
    trace_azure | trace_alibaba) echo fuzz/dict/csv.dict ;;
    iac_lint) echo fuzz/dict/hcl.dict ;;
    http_request) echo fuzz/dict/http.dict ;;
    *) echo fuzz/dict/json.dict ;;
  esac
}

build() {
  local start=$SECONDS
  if [ ! -f "$BUILD/build.ninja" ]; then
    CC=clang CXX=clang++ cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCODEFLEET_FUZZ=ON -DCODEFLEET_TESTS=OFF -DCODEFLEET_BENCHMARKS=OFF >/dev/null
  fi
  cmake --build "$BUILD" --target codefleet_fuzz -j "${JOBS:-$(nproc)}"
  echo "fuzz: built in $((SECONDS - start)) s"
}

# Runs one target; its log is $BUILD/logs/TARGET.log.
run_one() {
  local target=$1 seconds=$2
  local bin="$BUILD/fuzz/${target}_fuzz"
  local corpus="$BUILD/corpus/$target" seeds="$BUILD/seeds/$target"
  local artifacts="$BUILD/artifacts/$target" log="$BUILD/logs/$target.log"
  rm -rf "$seeds"
  mkdir -p "$corpus" "$seeds" "$artifacts" "$BUILD/logs"
  local f
  for f in $(seeds_of "$target"); do cp "$f" "$seeds/$(echo "$f" | tr / _)"; done
  if [ -d "fuzz/seeds/$target" ]; then cp fuzz/seeds/"$target"/* "$seeds/"; fi
  # shellcheck disable=SC2086
  "$bin" -max_total_time="$seconds" -timeout="$TIMEOUT_S" -print_final_stats=1 \
    -dict="$(dict_of "$target")" -artifact_prefix="$artifacts/" ${FUZZ_ARGS:-} \
    "$corpus" "$seeds" >"$log" 2>&1
}

# One line from a finished target's log.
report() {
  local target=$1 rc=$2 log="$BUILD/logs/$1.log"
  local done_line execs rate cov ft corp crash
  done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 || true)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(echo "$done_line" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
  ft=$(echo "$done_line" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
  corp=$(echo "$done_line" | sed -n 's/.* corp: \([^ ]*\).*/\1/p')
  if [ "$rc" -eq 0 ]; then
    printf 'fuzz: %-14s ok      %10s execs %7s exec/s  cov %6s  ft %6s  corpus %-12s crashes 0\n' \
      "$target" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}"
  else
    crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
    printf 'fuzz: %-14s FAILED (exit %s) after %s execs; reproducer: %s; log: %s\n' \
      "$target" "$rc" "${execs:-?}" "${crash:-none written}" "$log"
    grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error|  what\(\))' "$log" | head -5 | sed 's/^/fuzz:   /'
  fi
}

run() {
  local seconds=$1
  shift
  local targets=("$@")
  [ ${#targets[@]} -gt 0 ] || targets=("${TARGETS[@]}")
  local t
  for t in "${targets[@]}"; do
    [ -x "$BUILD/fuzz/${t}_fuzz" ] || { echo "fuzz: no $BUILD/fuzz/${t}_fuzz: run 'bash scripts/fuzz.sh build'" >&2; exit 2; }
  done
  echo "fuzz: ${#targets[@]} targets, ${seconds} s each, ${PARALLEL} at a time"
  local passed=0 failed=0 running=() i
  declare -A pid_of=()
  for t in "${targets[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$PARALLEL" ]; do wait -n || true; done
    run_one "$t" "$seconds" &
    pid_of[$t]=$!
    running+=("$t")
  done
  for t in "${running[@]}"; do
    local rc=0
    wait "${pid_of[$t]}" || rc=$?
    report "$t" "$rc"
    if [ "$rc" -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
  done
  echo "fuzz: $passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}

case "${1:-}" in
  build) build ;;
  run)
    [ $# -ge 2 ] || { echo "usage: $0 run SECONDS [TARGET...]" >&2; exit 2; }
    shift
    run "$@"
    ;;
  list) printf '%s\n' "${TARGETS[@]}" ;;
  *)
    echo "usage: $0 build | run SECONDS [TARGET...] | list" >&2
    exit 2
    ;;
esac
