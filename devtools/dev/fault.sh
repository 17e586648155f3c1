# devtools/dev/fault.sh — fault injection.
# Sourced by ./dev (see its header); not run on its own.
# shellcheck shell=bash

usage_fault() {
  echo "usage: ./dev fault TARGET ACTION" >&2
  echo "  TARGET: gN | gNrM | redis | kafka (= kafka1) | kafkaN | mirror | daemonN | daemon (= daemon1) | lb | merchantdb" >&2
  echo "          (this cluster: $(components | tr '\n' ' '))" >&2
  echo "  ACTION: kill | stop | cont | start | readonly | writable (DB targets only)" >&2
  echo "          partition | heal (nftables: every packet to and from the target dropped; targets with a port)" >&2
  exit 2
}

cmd_fault() {
  (( $# == 2 )) || usage_fault
  local target=$1 action=$2 pid
  [[ "$target" == daemon ]] && target=daemon1   # the one-daemon name of old scripts
  # kafka = broker 1; kafka1 names the single broker too
  if is_kafka "$target"; then
    target=$(kafka_canon "$target") || { echo "dev: no broker '$1' in this cluster ($KAFKA_NB broker(s))" >&2; usage_fault; }
  fi
  valid_component "$target" || { echo "dev: unknown target '$target'" >&2; usage_fault; }
  case "$action" in
    kill|stop|cont|start) ;;
    readonly|writable) is_db "$target" || { echo "dev: $action applies to DB targets only" >&2; usage_fault; } ;;
    partition|heal) ;;
    *) echo "dev: unknown action '$action'" >&2; usage_fault ;;
  esac
  [[ -f "$RUN/cluster.conf" ]] || die "no cluster in $RUN (./dev up first)"
  take_lock
  case "$action" in
    kill)
      pid=$(pid_of "$target") || { echo "$target already down"; return 0; }
      kill -KILL "$pid"
      wait_gone "$pid" 10 || die "$target (pid $pid) survived SIGKILL"
      echo "$target killed (pid $pid)"
      ;;
    stop)
      pid=$(pid_of "$target") || die "$target is not running"
      kill -STOP "$pid"
      local n=100
      until is_stopped "$pid"; do (( n-- > 0 )) || die "$target did not stop"; sleep 0.02; done
      echo "$target stopped (pid $pid)"
      ;;
    cont)
      pid=$(pid_of "$target") || die "$target is not running"
      kill -CONT "$pid"
      local n=100
      while is_stopped "$pid"; do (( n-- > 0 )) || die "$target did not continue"; sleep 0.02; done
      if nft_is_partitioned "$target"; then
        log "dev: $target is partitioned; not waiting for it to answer"
      else
        wait_answers "$target" 10 || log "dev: warning: $target continued but does not answer yet"
      fi
      echo "$target continued (pid $pid)"
      ;;
    start)
      if pid=$(pid_of "$target"); then
        is_stopped "$pid" && kill -CONT "$pid"
      else
        case "$target" in
          redis) start_redis ;;
          kafka|kafka[1-3]) start_kafka "$target" ;;
          daemon[1-9]) [[ -x "$BUILD/skipstored" ]] || die "skipstored is not built"; start_daemon "${target#daemon}" ;;
          lb) start_lb ;;
          mirror) [[ -x "$BUILD/skipstore-mirror" ]] || die "skipstore-mirror is not built"; start_mirror ;;
          *) start_db "$target" ;;
        esac
      fi
      if nft_is_partitioned "$target"; then
        # the new process is cut off like the old one (its outbound connections too)
        nft_adopt "$target"
        echo "$target started (pid $(pid_of "$target")), still partitioned: not waiting for it to answer"
        return 0
      fi
      if is_daemon "$target"; then
        wait_daemon "${target#daemon}" || die "$target did not come back"
      else
        wait_or_die "$target" 180 || die "$target did not come back"
      fi
      if [[ "$(db_role "$target")" == replica ]]; then setup_replica "$target"; fi
      echo "$target started (pid $(pid_of "$target"))"
      ;;
    readonly|writable)
      local v=1; [[ "$action" == writable ]] && v=0
      sql_admin "$(port_of "$target")" "SET GLOBAL read_only=$v" || die "$target: SET GLOBAL read_only=$v failed"
      [[ "$(sql_admin "$(port_of "$target")" "SELECT @@global.read_only")" == "$v" ]] || die "$target: read_only did not change"
      echo "$target $action"
      ;;
    partition) nft_partition "$target" ;;
    heal) nft_heal "$target" ;;
  esac
}

