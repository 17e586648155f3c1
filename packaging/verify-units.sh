#!/bin/sh
# packaging/verify-units.sh BUILD_DIR — `systemd-analyze verify` on the units
# as installed, without installing anything on this machine and without a
# running systemd: `cmake --install` into a scratch root, the host's own units
# (targets the ours depend on) copied beside ours, then
#   systemd-analyze verify --root=ROOT   (ExecStart/ExecReload binaries found in ROOT)
# with MANPATH=ROOT/usr/share/man        (Documentation=man:... pages found in ROOT).
# verify exits 0 on unknown keys and bad values (it only warns), so any output
# at all is a failure. Registered with ctest (cmake/package.cmake).
set -eu
BUILD=$1
command -v systemd-analyze >/dev/null || { echo "verify-units: systemd-analyze missing (apt-get install systemd)"; exit 1; }
ROOT=$(mktemp -d /tmp/skipstore-units.XXXXXX)
trap 'rm -rf "$ROOT"' EXIT
DESTDIR=$ROOT cmake --install "$BUILD" --prefix /usr >"$ROOT.log" 2>&1 || { cat "$ROOT.log"; rm -f "$ROOT.log"; exit 1; }
rm -f "$ROOT.log"
for d in /lib/systemd/system /usr/lib/systemd/system; do
  [ -d "$d" ] && mkdir -p "$ROOT$d" && cp -an "$d/." "$ROOT$d/"
done
units="skipstored.service skipstore-mirror.service"
paths=""
for u in $units; do
  [ -f "$ROOT/lib/systemd/system/$u" ] || { echo "verify-units: $u not installed to /lib/systemd/system"; exit 1; }
  paths="$paths /lib/systemd/system/$u"
done
# shellcheck disable=SC2086
out=$(MANPATH="$ROOT/usr/share/man" systemd-analyze verify --root="$ROOT" $paths 2>&1) || {
  printf 'verify-units: systemd-analyze verify failed:\n%s\n' "$out"
  exit 1
}
if [ -n "$out" ]; then
  printf 'verify-units: systemd-analyze verify warned:\n%s\n' "$out"
  exit 1
fi
echo "verify-units: ok ($units; $(systemd-analyze --version | head -1))"
