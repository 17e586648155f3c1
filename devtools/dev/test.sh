# devtools/dev/test.sh — the test runner.
# Sourced by ./dev (see its header); not run on its own.
# shellcheck shell=bash

# ---------------------------------------------------------------- tests

run_ctest() {  # prints the summary; sets CT_PASS CT_FAIL
  CT_PASS=0; CT_FAIL=0
  local out rc=0
  # pure tests run in milliseconds; a loaded 2-core box can still stretch one past Check's 4 s default
  out=$(CK_DEFAULT_TIMEOUT="${CK_DEFAULT_TIMEOUT:-60}" ctest --test-dir "$BUILD" --output-on-failure 2>&1) || rc=$?
  printf '%s\n' "$out"
  local line total failed
  line=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' <<<"$out" | tail -1 || true)
  if [[ -n "$line" ]]; then
    failed=$(sed -E 's/.*passed, ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
    total=$(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$line")
    CT_FAIL=$failed; CT_PASS=$((total - failed))
  elif grep -q 'No tests were found' <<<"$out"; then
    echo "ctest: no unit tests yet"
  elif (( rc != 0 )); then
    CT_FAIL=1
  fi
  (( rc != 0 && CT_FAIL == 0 )) && CT_FAIL=1
  return 0
}

run_pytest() {  # sets PY_PASS PY_FAIL
  PY_PASS=0; PY_FAIL=0
  local out rc=0 last
  set -a
  # shellcheck disable=SC1091
  . "$RUN/env"
  set +a
  # tee to a file, not /dev/stderr: reopening stderr would truncate a redirected log.
  # Default target tests/integration unless the arguments name test files/dirs.
  local targets=(tests/integration) a
  for a in "$@"; do
    if [[ "$a" != -* && -e "$REPO/${a%%::*}" ]]; then targets=(); break; fi
  done
  (cd "$REPO" && "$PY" -m pytest -q -p no:cacheprovider "${targets[@]}" "$@" 2>&1) \
    | tee "$RUN/pytest.log" || rc=$?
  out=$(cat "$RUN/pytest.log")
  last=$(grep -E '[0-9]+ (passed|failed|error)' <<<"$out" | tail -1 || true)
  if [[ "$last" =~ ([0-9]+)\ passed ]]; then PY_PASS=${BASH_REMATCH[1]}; fi
  if [[ "$last" =~ ([0-9]+)\ failed ]]; then PY_FAIL=${BASH_REMATCH[1]}; fi
  if [[ "$last" =~ ([0-9]+)\ error ]]; then PY_FAIL=$((PY_FAIL + BASH_REMATCH[1])); fi
  # 5 = no tests collected: not a failure of itself.
  (( rc != 0 && rc != 5 && PY_FAIL == 0 )) && PY_FAIL=1
  return 0
}

cmd_test() {
  local unit=0 nounit=0 pyargs=()
  while (( $# )); do
    case "$1" in
      --unit) unit=1 ;;
      --no-unit) nounit=1 ;;   # integration tests only (e.g. a second cluster shape)
      --) shift; pyargs=("$@"); break ;;
      *) pyargs+=("$1") ;;
    esac
    shift
  done
  local extra_fail=0 up_rc=0
  if (( unit )); then
    ensure_packages
    do_build
  else
    "$REPO/dev" up || up_rc=$?
    if (( up_rc == 3 )); then BUILD_FAILED=1; elif (( up_rc != 0 )); then log "dev: ./dev up failed (rc $up_rc)"; extra_fail=1; fi
  fi
  (( BUILD_FAILED )) && extra_fail=1

  CT_PASS=0; CT_FAIL=0
  if (( ! nounit )); then
    echo "== unit tests (ctest, $BUILD) =="
    run_ctest
    echo "ctest: $CT_PASS passed, $CT_FAIL failed"
  fi
  PY_PASS=0; PY_FAIL=0
  if (( ! unit )); then
    echo "== integration tests (pytest) =="
    if [[ -f "$RUN/env" ]]; then
      run_pytest "${pyargs[@]}"
    else
      PY_FAIL=1
    fi
    echo "pytest: $PY_PASS passed, $PY_FAIL failed"
  fi
  (( extra_fail )) && echo "(+1 failure: cluster/build not healthy)"
  local p=$((CT_PASS + PY_PASS)) f=$((CT_FAIL + PY_FAIL + extra_fail))
  echo "$p passed, $f failed"
  (( f == 0 ))
}

