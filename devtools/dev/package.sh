# devtools/dev/package.sh — the Debian package: build, cpack -G DEB, checks.
# Sourced by ./dev (see its header); not run on its own.
# shellcheck shell=bash

# ./dev package: build, `cpack -G DEB` in the build dir, then
# packaging/check-deb.sh (contents, control, lintian, install in a throwaway
# root). Prints the .deb's path last. lintian is installed on demand: only
# this command needs it.
cmd_package() {
  ensure_packages
  if ! command -v lintian >/dev/null; then
    local sudo=()
    (( EUID == 0 )) || sudo=(sudo -n)
    log "dev: installing lintian"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends lintian >/dev/null
  fi
  do_build
  (( BUILD_FAILED == 0 )) || die "build failed"
  rm -f "$BUILD"/skipstore_*.deb
  (cd "$BUILD" && cpack -G DEB >"$BUILD/cpack.log" 2>&1) || { tail -30 "$BUILD/cpack.log" >&2; die "cpack failed ($BUILD/cpack.log)"; }
  local deb
  deb=$(ls "$BUILD"/skipstore_*.deb)
  phase "cpack -G DEB: $(basename "$deb")"
  bash "$REPO/packaging/check-deb.sh" "$deb"
  phase "package checked"
  echo "$deb"
}
