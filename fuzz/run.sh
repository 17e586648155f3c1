#!/usr/bin/env bash
# fuzz/run.sh — build the libFuzzer harnesses with clang and run each one.
#
#   fuzz/run.sh [SECONDS] [HARNESS...]     default: 60 s each, every harness
#
# Env: SKIP_FUZZ_BUILD (build dir, default <repo>/build-fuzz),
#      SKIP_FUZZ_OUT (work dir, default <repo>/build-fuzz/out): per harness a
#        growing corpus (corpus/NAME), crash/leak/timeout inputs (crashes/NAME)
#        and the log (NAME.log);
#      SKIP_FUZZ_RUNS (stop after this many executions instead of SECONDS),
#      SKIP_FUZZ_JOBS (parallel harnesses, default 1), SKIP_FUZZ_FLAGS (extra
#        libFuzzer flags), SKIP_FUZZ_NICE (nice level, default 10: shared box),
#      SKIP_FUZZ_TIMEOUT (seconds one input may take, default 10; a long run at
#        nice 10 on a saturated box needs more: a starved process is not a hang).
# Exit: 0 when no harness found anything; 1 and the crashing inputs listed
# otherwise. Reproduce one with: build-fuzz/fuzz_NAME CRASH_FILE
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SECS="${1:-60}"
shift || true
BUILD="${SKIP_FUZZ_BUILD:-$REPO/build-fuzz}"
OUT="${SKIP_FUZZ_OUT:-$BUILD/out}"
NICE="${SKIP_FUZZ_NICE:-10}"
JOBS="${SKIP_FUZZ_JOBS:-1}"

all=()
for f in "$REPO"/fuzz/fuzz_*.c; do n=${f##*/fuzz_}; all+=("${n%.c}"); done
harnesses=("$@")
(( ${#harnesses[@]} )) || harnesses=("${all[@]}")

command -v clang >/dev/null || { echo "fuzz: clang not found (apt-get install clang libclang-rt-14-dev)" >&2; exit 2; }
echo "fuzz: building ${harnesses[*]} in $BUILD"
CC=clang cmake -S "$REPO" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSKIP_FUZZ=ON >/dev/null
targets=()
for h in "${harnesses[@]}"; do targets+=("fuzz_$h"); done
nice -n "$NICE" cmake --build "$BUILD" -j "$(nproc)" --target "${targets[@]}" >"$BUILD/fuzz-build.log" 2>&1 ||
  { tail -n 40 "$BUILD/fuzz-build.log" >&2; exit 2; }

mkdir -p "$OUT"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

run_one() {  # run_one NAME -> 0 clean, 1 found something
  local h=$1 corpus="$OUT/corpus/$1" crashes="$OUT/crashes/$1" log="$OUT/$1.log" dict=() stop=()
  mkdir -p "$corpus" "$crashes"
  [[ -f "$REPO/fuzz/$h.dict" ]] && dict=(-dict="$REPO/fuzz/$h.dict")
  if [[ -n "${SKIP_FUZZ_RUNS:-}" ]]; then stop=(-runs="$SKIP_FUZZ_RUNS"); else stop=(-max_total_time="$SECS"); fi
  local t0=$SECONDS rc=0
  # first corpus dir is written to (new coverage); the repo's seeds are read only
  nice -n "$NICE" "$BUILD/fuzz_$h" "$corpus" "$REPO/fuzz/corpus/$h" "${dict[@]}" "${stop[@]}" \
    -artifact_prefix="$crashes/" -print_final_stats=1 -timeout="${SKIP_FUZZ_TIMEOUT:-10}" -rss_limit_mb=2048 -max_len=8192 \
    ${SKIP_FUZZ_FLAGS:-} >"$log" 2>&1 || rc=$?
  local execs rate cov
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1 || true)
  printf 'fuzz: %-10s rc=%d execs=%s exec/s=%s %s time=%ss\n' "$h" "$rc" "${execs:-?}" "${rate:-?}" \
    "${cov:-}" $((SECONDS - t0))
  if (( rc != 0 )) || compgen -G "$crashes/*" >/dev/null; then
    echo "fuzz: $h FOUND SOMETHING (log $log):" >&2
    grep -m 5 -E 'ERROR|property failed|runtime error|SUMMARY' "$log" >&2 || tail -n 20 "$log" >&2
    ls -1 "$crashes" >&2
    return 1
  fi
  return 0
}

# results per harness in $OUT/result.NAME (0 clean, 1 found something)
rm -f "$OUT"/result.*
one() { local r=0; run_one "$1" || r=1; echo "$r" > "$OUT/result.$1"; }
if (( JOBS > 1 )); then
  for h in "${harnesses[@]}"; do
    one "$h" &
    while (( $(jobs -rp | wc -l) >= JOBS )); do wait -n || true; done
  done
  wait
else
  for h in "${harnesses[@]}"; do one "$h"; done
fi
pass=0 fail=0
for h in "${harnesses[@]}"; do
  if [[ "$(cat "$OUT/result.$h" 2>/dev/null)" == 0 ]]; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
done
if (( fail )); then echo "fuzz: FAILED (crash inputs under $OUT/crashes)"; else echo "fuzz: OK"; fi
echo "$pass passed, $fail failed"   # closing line, one per harness (CI's grand total counts it)
(( fail == 0 ))
