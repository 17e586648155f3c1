# devtools/dev/cluster.sh — up / down / status.
# Sourced by ./dev (see its header); not run on its own.
# shellcheck shell=bash

answers() {  # answers NAME → 0 when the component answers its protocol
  local name=$1 port
  port=$(port_of "$name")
  if is_db "$name"; then
    timeout 3 mariadb-admin --no-defaults --skip-ssl --protocol=tcp -h127.0.0.1 -P"$port" -u"$ADMIN_USER" \
      -p"$ADMIN_PW" --connect-timeout=2 ping >/dev/null 2>&1
    return
  fi
  case "$name" in
    redis) [[ "$(redis_cli_t 3 ping 2>/dev/null)" == PONG ]] ;;
    kafka|kafka[1-3]) kafka_answers "$name" ;;
    daemon[1-9]) [[ "$(curl -s -o /dev/null -w '%{http_code}' -m 2 "http://127.0.0.1:$port/healthz" 2>/dev/null)" == 200 ]] ;;
    lb) lb_answers ;;
    mirror) pid_of mirror >/dev/null ;;  # no protocol of its own: alive = answers
  esac
}

wait_answers() {
  local name=$1 deadline=$((SECONDS + $2))
  while (( SECONDS < deadline )); do
    answers "$name" && return 0
    if ! is_daemon "$name" && [[ "$name" != mirror ]] && ! pid_of "$name" >/dev/null; then
      return 1
    fi
    sleep 0.1
  done
  answers "$name"
}

# ---------------------------------------------------------------- lock

take_lock() {
  mkdir -p "$RUN"
  exec 9>"$RUN/.lock"
  flock -w 300 9 || die "another ./dev holds $RUN/.lock"
}

# ---------------------------------------------------------------- commands

# ensure_running NAME — running+answering: leave alone; stopped: SIGCONT;
# gone: start with its data. Does not wait.
STARTED=()
ensure_running() {
  local name=$1 pid
  if pid=$(pid_of "$name"); then
    is_stopped "$pid" && { log "dev: $name was stopped; SIGCONT"; kill -CONT "$pid"; }
    return 0
  fi
  case "$name" in
    redis) start_redis ;;
    kafka|kafka[1-3]) start_kafka "$name" ;;
    daemon[1-9]) start_daemon "${name#daemon}" ;;
    lb) start_lb ;;
    mirror) start_mirror ;;
    *) start_db "$name" ;;
  esac
  STARTED+=("$name")
}

wait_or_die() {  # wait_or_die NAME SECONDS
  wait_answers "$1" "$2" && return 0
  if pid_of "$1" >/dev/null; then
    log "dev: $1 does not answer after $2 s; last lines of $(logfile "$1"):"
  else
    log "dev: $1 exited; last lines of $(logfile "$1"):"
  fi
  tail -20 "$(logfile "$1")" >&2 || true
  return 1
}

cmd_up() {
  local nobuild=0 a
  for a in "$@"; do
    case "$a" in
      --no-build) nobuild=1 ;;
      *) die "up: unknown option $a" ;;
    esac
  done
  ensure_packages
  kafka_fetch_bg   # first time only: Maven fetches the Kafka jars while we build
  (( nobuild )) || do_build
  [[ "$KAFKA_MODE" == mock && ! -x "$BUILD/skip-kafka-mock" ]] && build_kafkamock
  phase "packages and build checked"
  if [[ -n "$KAFKA_FETCH_PID" ]]; then
    kafka_fetch_wait || die "no Kafka jars (SKIP_KAFKA_MODE=mock runs without them)"
    phase "kafka $KAFKA_VERSION jars fetched"
  fi
  take_lock
  mkdir -p "$RUN/pids" "$RUN/log" "$RUN/db" "$SOCK"
  # daemons beyond SKIP_DAEMONS (an earlier up with more) go first, and a daemon
  # of the one-daemon layout (pid file daemon.pid) that holds base+0, HAProxy's port
  local f k pid
  if [[ -f "$RUN/pids/daemon.pid" ]]; then
    pid=$(cat "$RUN/pids/daemon.pid" 2>/dev/null || true)
    if [[ "$pid" =~ ^[0-9]+$ ]] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF skipstored; then
      log "dev: stopping the single daemon of the old layout (pid $pid)"
      kill -CONT "$pid" 2>/dev/null || true
      kill -TERM "$pid" 2>/dev/null || true
      wait_gone "$pid" 20 || kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$RUN/pids/daemon.pid"
  fi
  for f in "$RUN"/pids/daemon[1-9].pid; do
    [[ -f "$f" ]] || continue
    k=$(basename "$f" .pid); k=${k#daemon}
    (( k > ND )) && { log "dev: SKIP_DAEMONS=$ND; stopping daemon$k"; stop_component "daemon$k"; }
  done
  printf 'C_BASE=%s\nC_NG=%s\nC_NR=%s\nC_ND=%s\nC_TLS=%s\nC_KMODE=%s\nC_KNB=%s\nC_KTLS=%s\n' "$BASE" "$NG" "$NR" "$ND" \
    "$TLS_MODE" "$KAFKA_MODE" "$KAFKA_NB" "$KAFKA_TLS" >"$RUN/cluster.conf"
  make_keys
  ensure_tls
  ensure_secrets
  kafka_prepare
  write_config
  write_lb_config
  write_env

  # A partitioned component would never answer: up brings the whole cluster back.
  nft_heal_all
  local name fresh=()
  for name in $(db_names); do
    if [[ ! -d "$(datadir_of "$name")/mysql" ]]; then
      make_template
      rm -rf "$(datadir_of "$name")" "$(datadir_of "$name").tmp"
      cp -a "$RUN/template/data" "$(datadir_of "$name").tmp"
      mv "$(datadir_of "$name").tmp" "$(datadir_of "$name")"
      fresh+=("$name")
    fi
  done
  (( ${#fresh[@]} )) && phase "datadirs created from the template"
  # Servers started before the dev PKI existed, or with another Redis setup (password,
  # TLS mode), are restarted with their data; the daemon and the mirror follow, since
  # their Redis settings are read at start only.
  local restart_clients=$TLS_CHANGED
  for name in $(db_names); do
    if db_stale "$name"; then log "dev: $name runs without TLS; restarting it"; stop_component "$name"; fi
  done
  if write_redis_conf && pid_of redis >/dev/null; then
    log "dev: redis settings changed; restarting it"
    stop_component redis
    restart_clients=1
  fi
  if (( restart_clients )); then
    for name in $(daemon_names) mirror; do
      pid_of "$name" >/dev/null && { log "dev: restarting $name for the new backend settings"; stop_component "$name"; }
    done
  fi
  for name in $(db_names) redis $(kafka_names); do ensure_running "$name"; done

  local failed=0
  for name in $(db_names) redis; do wait_or_die "$name" 60 || failed=1; done
  # a first start formats the broker's storage too (a JVM each), on a shared 2-core box
  for name in $(kafka_names); do wait_or_die "$name" 180 || failed=1; done
  (( failed )) && die "cluster did not come up"
  phase "databases, redis, kafka answer"
  kafka_ensure_topic || die "kafka topic $KAFKA_TOPIC not ready"

  # Replication first, then the schema: it is binlogged on the primaries and reaches
  # the replicas through replication (semi-sync acks included).
  for name in $(db_names); do
    if [[ "$(db_role "$name")" == replica ]]; then setup_replica "$name"; fi
  done
  for name in $(db_names); do
    if [[ "$name" == merchantdb ]]; then
      apply_schema merchantdb merchant "$MERCHANT_DB_NAME"
    elif [[ "$(db_role "$name")" == primary ]]; then
      apply_schema "$name" group "$DB_NAME"
    fi
  done
  db_require_tls

  # A running daemon re-reads a changed config on SIGHUP (all-or-nothing reload).
  if (( CONFIG_CHANGED )); then
    for name in $(daemon_names); do
      if pid=$(pid_of "$name"); then
        log "dev: config changed; SIGHUP $name"
        kill -HUP "$pid"
      fi
    done
  fi
  phase "replication configured, schema applied"
  # A daemon still running a binary that the build has since replaced would make
  # `./dev test` test old code: restart it (and the mirror, the mock) on the new one.
  # Daemons go one at a time, each drained in HAProxy first and UP again in it
  # before the next (restart_daemon): the cluster keeps serving throughout.
  # (Apache Kafka is not one of our binaries; the opt-in mock is.)
  local rebuilt=(mirror)
  [[ "$KAFKA_MODE" == mock ]] && rebuilt=(kafka mirror)
  for name in "${rebuilt[@]}"; do
    if pid=$(pid_of "$name") && [[ "$(readlink "/proc/$pid/exe" 2>/dev/null)" == *" (deleted)" ]]; then
      log "dev: $name runs a binary that was rebuilt; restarting it"
      stop_component "$name"
      [[ "$name" == kafka ]] && { ensure_running kafka; wait_or_die kafka 20 || failed=1; }
    fi
  done
  # HAProxy first: a new config (SKIP_DAEMONS changed) needs a restart of it.
  if (( LB_CONFIG_CHANGED )) && pid_of lb >/dev/null; then
    log "dev: haproxy.cfg changed; restarting haproxy"
    stop_component lb
  fi
  ensure_running lb
  wait_or_die lb 20 || failed=1
  for name in $(daemon_names); do
    if pid=$(pid_of "$name") && [[ "$(readlink "/proc/$pid/exe" 2>/dev/null)" == *" (deleted)" ]]; then
      log "dev: $name runs a binary that was rebuilt; rolling restart"
      restart_daemon "${name#daemon}" || failed=1
    fi
  done
  for name in $(daemon_names) mirror; do ensure_running "$name"; done
  for name in $(daemon_names); do wait_daemon "${name#daemon}" || failed=1; done
  [[ -x "$BUILD/skipstored" ]] && phase "skipstored x $ND answer, UP in HAProxy"
  if [[ -x "$BUILD/skipstore-mirror" ]]; then
    sleep 0.3
    pid_of mirror >/dev/null || { log "dev: skipstore-mirror exited; see $(logfile mirror)"; tail -5 "$(logfile mirror)" >&2; failed=1; }
  fi
  wait_replication || failed=1
  phase "replication healthy"

  cmd_status
  (( failed )) && die "not ready (see above)"
  (( BUILD_FAILED )) && { log "dev: cluster is up but the build FAILED (running older binaries)"; echo ready; exit 3; }
  echo ready
}

cmd_down() {
  local purge=0 a
  for a in "$@"; do
    case "$a" in
      --purge) purge=1 ;;
      *) die "down: unknown option $a" ;;
    esac
  done
  [[ -d "$RUN" ]] || { echo "down (nothing running)"; return 0; }
  take_lock
  # Partitions first: a component shutting down must be able to say goodbye.
  nft_down
  local name pids=()
  # the balancer, the daemons and the mirror first (they talk to the rest), then
  # everything else in parallel.
  stop_component lb
  for name in $(daemon_names) mirror; do stop_component "$name" & pids+=($!); done
  for a in "${pids[@]}"; do wait "$a" || true; done
  pids=()
  for name in $(kafka_names) redis $(db_names); do
    stop_component "$name" &
    pids+=($!)
  done
  for a in "${pids[@]}"; do wait "$a" || true; done
  # Anything else with a pid file (e.g. a component from a larger earlier topology).
  local f
  for f in "$RUN"/pids/*.pid; do
    [[ -f "$f" ]] || continue
    name=$(basename "$f" .pid)
    [[ "$name" == *.mariadb ]] && { rm -f "$f"; continue; }
    { valid_component "$name" || is_daemon "$name"; } && stop_component "$name"
  done
  # skipstored/skipstore-mirror/redis-server started by tests with configs under this
  # run dir (extra daemons on base+100.., the TLS Redis on base+9) that a crashed test
  # run left behind.
  local p cl
  for p in /proc/[0-9]*; do
    cl=$( { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null) || continue
    [[ "$cl" == *"$RUN/"* && ( "$cl" == *skipstored* || "$cl" == *skipstore-mirror* || "$cl" == haproxy* || "$cl" == redis-server* ) ]] || continue
    log "dev: stopping leftover ${p#/proc/}: $cl"
    kill -CONT "${p#/proc/}" 2>/dev/null || true
    kill -TERM "${p#/proc/}" 2>/dev/null || true
    wait_gone "${p#/proc/}" 10 || kill -KILL "${p#/proc/}" 2>/dev/null || true
  done
  if (( purge )); then
    exec 9>&-
    rm -rf "$RUN"
    [[ "$SOCK" == /tmp/skipsock-* ]] && rm -rf "$SOCK"
    echo "down (purged $RUN)"
  else
    echo down
  fi
}

# state NAME → up | down | stopped | partitioned | unresponsive | absent (binary not built)
# (PARTITIONED: the ports cut off by ./dev fault ... partition, one a line)
PARTITIONED=""
state_of() {
  local name=$1 pid
  if ! pid=$(pid_of "$name"); then
    if { is_daemon "$name" || [[ "$name" == mirror ]]; } && [[ ! -x "$(binary_of "$name")" ]]; then
      echo absent
    else
      echo down
    fi
    return
  fi
  if is_stopped "$pid"; then echo stopped; return; fi
  if [[ -n "$PARTITIONED" ]] && grep -qx "$(port_of "$name")" <<<"$PARTITIONED"; then echo partitioned; return; fi
  if answers "$name"; then echo up; else echo unresponsive; fi
}

cmd_status() {
  local name pid port addr tmp
  PARTITIONED=$(nft_partitioned_ports)
  tmp=$(mktemp -d)
  # Probe every component at once: a status is the slowest probe, not their sum.
  # (wait on these pids only: servers launched by this shell are its children too)
  local waits=() w
  for name in $(components); do
    ( state_of "$name" >"$tmp/$name" ) &
    waits+=($!)
  done
  for w in "${waits[@]}"; do wait "$w" || true; done
  for name in $(components); do
    pid=$(pid_of "$name" || echo -)
    port=$(port_of "$name")
    if [[ "$port" == - ]]; then addr=-; else addr="127.0.0.1:$port"; fi
    local role=""
    is_db "$name" && [[ "$name" != merchantdb ]] && role=$(db_role "$name")
    printf '%-11s %-8s %-16s %s%s\n' "$name" "$pid" "$addr" "$(cat "$tmp/$name")" "${role:+ ($role)}"
  done
  rm -rf "$tmp"
}

