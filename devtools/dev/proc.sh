# devtools/dev/proc.sh — processes: launch, pid tracking, stop.
# Sourced by ./dev (see its header); not run on its own.
# shellcheck shell=bash

# ---------------------------------------------------------------- processes

pidfile() { echo "$RUN/pids/$1.pid"; }
logfile() { echo "$RUN/log/$1.log"; }

# The marker a component's command line must contain for its pid to be trusted.
marker_of() {
  case "$1" in
    mirror) echo "skipstore-mirror" ;;
    daemon[1-9]) echo "--listen 127.0.0.1:$(port_of "$1")" ;;
    lb) echo "$RUN/haproxy.cfg" ;;
    kafka|kafka[1-3]) kafka_marker "$1" ;;
    *) echo "$(port_of "$1")" ;;
  esac
}

# proc_state PID → R/S/D/T/Z/... or empty when gone
proc_state() {
  local s
  [[ -r "/proc/$1/stat" ]] || return 0
  s=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
  s=${s##*) }
  printf '%s' "${s%% *}"
}

# pid_of NAME → pid if the recorded process is alive (not a zombie) and is ours
pid_of() {
  local f pid st
  f=$(pidfile "$1")
  [[ -f "$f" ]] || return 1
  pid=$(cat "$f" 2>/dev/null) || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  st=$(proc_state "$pid")
  [[ -n "$st" && "$st" != Z && "$st" != X ]] || return 1
  { tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null | grep -qF -- "$(marker_of "$1")" || return 1
  echo "$pid"
}

is_stopped() { [[ "$(proc_state "$1")" == T || "$(proc_state "$1")" == t ]]; }

# launch NAME CMD... — start detached, stdio to the log, record the pid.
launch() {
  local name=$1; shift
  mkdir -p "$RUN/pids" "$RUN/log"
  # setsid: not in our process group (a Ctrl-C of a test run must not kill the
  # cluster). In a non-interactive shell a background child is not a group leader,
  # so setsid execs in place and $! is the server's own pid. fd 9 (our lock) is closed.
  setsid "$@" </dev/null >>"$(logfile "$name")" 2>&1 9>&- &
  local pid=$! n=250 st
  echo "$pid" >"$(pidfile "$name")"
  # Until the child has exec'd, its command line is ours ("bash ./dev ..."), and
  # pid_of would call it a stranger: wait for the exec (or for an early death).
  while (( n-- > 0 )); do
    pid_of "$name" >/dev/null && return 0
    st=$(proc_state "$pid")
    [[ -z "$st" || "$st" == Z || "$st" == X ]] && return 0
    sleep 0.02
  done
}

# wait_gone PID SECONDS
wait_gone() {
  local pid=$1 n=$(( $2 * 20 )) st
  while (( n-- > 0 )); do
    st=$(proc_state "$pid")
    [[ -z "$st" || "$st" == Z || "$st" == X ]] && return 0
    sleep 0.05
  done
  return 1
}

# stop_component NAME — SIGCONT, SIGTERM, wait, SIGKILL.
stop_component() {
  local name=$1 pid
  pid=$(pid_of "$name") || { rm -f "$(pidfile "$name")"; return 0; }
  kill -CONT "$pid" 2>/dev/null || true
  kill -TERM "$pid" 2>/dev/null || true
  if ! wait_gone "$pid" 20; then
    log "dev: $name (pid $pid) ignored SIGTERM for 20 s; SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    wait_gone "$pid" 5 || true
  fi
  rm -f "$(pidfile "$name")"
}

