# devtools/dev/build.sh — Debian packages and the CMake build.
# Sourced by ./dev (see its header); not run on its own.
# shellcheck shell=bash

# ---------------------------------------------------------------- packages, build

ensure_packages() {
  local missing=() p st pkgs=("${PACKAGES[@]}")
  # Apache Kafka needs a JRE (17+) and Maven; a machine that has them from elsewhere
  # (e.g. a JDK not installed from a Debian package) is left alone.
  if [[ "$KAFKA_MODE" == apache ]]; then
    command -v java >/dev/null || pkgs+=(default-jre-headless)
    command -v mvn >/dev/null || pkgs+=(maven)
  fi
  for p in "${pkgs[@]}"; do
    st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [[ "$st" == installed ]] || missing+=("$p")
  done
  (( ${#missing[@]} == 0 )) && return 0
  log "dev: installing missing packages: ${missing[*]}"
  local sudo=()
  (( EUID == 0 )) || sudo=(sudo -n)
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  # The Debian packages start their own mariadb/redis/haproxy (default ports); we do
  # not use them, so stop them (best effort, only what the packages started).
  if command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
    "${sudo[@]}" systemctl disable --now mariadb redis-server haproxy >/dev/null 2>&1 || true
  fi
}

# do_build — the CMake build (BUILD_FAILED=1 when it fails). The Kafka mock broker
# (SKIP_KAFKA_MODE=mock) is a CMake target too, or built straight with cc.
do_build() {
  mkdir -p "$BUILD"
  local blog="$BUILD/dev-build.log"
  (
    exec 8>"$BUILD/.dev-build.lock"
    flock 8   # several ./dev in one checkout share the build dir
    {
      if [[ ! -f "$BUILD/CMakeCache.txt" ]]; then
        cmake -S "$REPO" -B "$BUILD" -DCMAKE_BUILD_TYPE="$BUILD_TYPE"
      fi
      cmake --build "$BUILD" -j2
    } >"$blog" 2>&1
  ) || {
    BUILD_FAILED=1
    log "dev: BUILD FAILED ($blog):"
    grep -E "error|Error" "$blog" | head -30 >&2 || tail -30 "$blog" >&2
  }
  build_kafkamock
  (( BUILD_FAILED == 0 )) && log "dev: build ok ($BUILD)"
  return 0
}

