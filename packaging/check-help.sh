#!/bin/sh
# packaging/check-help.sh BIN_DIR — every program (and skipctl command) keeps
# the conventions of common/help.h, checked on the built binaries:
#   PROG --help          exit 0, man-style text on stdout (NAME, SYNOPSIS,
#                        DESCRIPTION, EXIT STATUS), nothing on stderr
#   PROG --no-such-opt   exit 2, nothing on stdout, a usage on stderr
# Registered with ctest (cmake/package.cmake).
set -u
BIN=$1
fails=0
OUT=$(mktemp)
ERR=$(mktemp)
trap 'rm -f "$OUT" "$ERR"' EXIT

fail() { echo "check-help: $*"; fails=$((fails + 1)); }

check() {  # check LABEL COMMAND... (without the option)
  label=$1
  shift
  "$@" --help >"$OUT" 2>"$ERR" </dev/null
  rc=$?
  [ "$rc" -eq 0 ] || fail "$label --help: exit $rc, want 0"
  [ -s "$ERR" ] && fail "$label --help: wrote to stderr: $(head -c 200 "$ERR")"
  for s in NAME SYNOPSIS DESCRIPTION "EXIT STATUS"; do
    grep -qx "$s" "$OUT" || fail "$label --help: no $s section"
  done
  "$@" --no-such-option >"$OUT" 2>"$ERR" </dev/null
  rc=$?
  [ "$rc" -eq 2 ] || fail "$label --no-such-option: exit $rc, want 2"
  [ -s "$OUT" ] && fail "$label --no-such-option: wrote to stdout: $(head -c 200 "$OUT")"
  grep -qi "usage" "$ERR" || fail "$label --no-such-option: no usage on stderr"
}

check skipstored "$BIN/skipstored"
check skipstore-mirror "$BIN/skipstore-mirror"
check skipbench "$BIN/skipbench"
check skipctl "$BIN/skipctl"
n=0
for cmd in $("$BIN/skipctl" help --pages | awk '$2 != "-" {print $2}'); do
  case $cmd in
  config) check "skipctl config check" "$BIN/skipctl" config check ;;
  order-no) check "skipctl order-no parse" "$BIN/skipctl" order-no parse ;;
  group) check "skipctl group add" "$BIN/skipctl" group add ;;
  *) check "skipctl $cmd" "$BIN/skipctl" "$cmd" ;;
  esac
  n=$((n + 1))
done
[ "$n" -ge 7 ] || fail "skipctl help --pages lists $n commands, want >= 7"
# skipctl help CMD is the same page as skipctl CMD --help
"$BIN/skipctl" help drill >"$OUT" 2>&1
"$BIN/skipctl" drill --help | cmp -s - "$OUT" || fail "skipctl help drill differs from skipctl drill --help"

if [ "$fails" -ne 0 ]; then
  echo "check-help: $fails failure(s)"
  exit 1
fi
echo "check-help: ok (4 programs, $n skipctl commands)"
