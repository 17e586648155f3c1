#!/usr/bin/env bash
# bench/db_bound.sh — skipbench --baseline with the group databases on a core
# of their own, as in production where skipstored and the databases run on
# different hosts (issue 13). The group MariaDB servers (primaries and
# replicas) are pinned to the last CPU; everything else of the cluster
# (daemons, Redis, Kafka, the mirror and its store, HAProxy) and skipbench
# to the others. Each phase then shows which side limits it, and the
# database CPU per order — the work group commit saves — is measured
# directly: busy time of the database core ÷ orders written.
#
#   SKIP_PORT_BASE=17000 bench/db_bound.sh [RUNS [DURATION_S [CONCURRENCY]]]
#
# Needs a running ./dev cluster of that base and at least 2 CPUs. Restores
# every process's CPU affinity at the end (also on error or Ctrl-C).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUNS=${1:-3}
DUR=${2:-15}
CONC=${3:-16}
export SKIP_PORT_BASE=${SKIP_PORT_BASE:-17000}
eval "$("$REPO/dev" env)"
RUN=${SKIP_RUN_DIR:-$(dirname "$SKIP_CONFIG")}
BIN=${SKIP_BUILD_DIR:-$REPO/build}
NCPU=$(nproc)
if [ "$NCPU" -lt 2 ]; then
    echo "db_bound: needs at least 2 CPUs" >&2
    exit 2
fi
DBCPU=$((NCPU - 1))
REST="0-$((DBCPU - 1))"
ALL="0-$DBCPU"
URL=${SKIP_DAEMON_URLS%% *}

pin() { # pin CPUS PIDFILE...
    local cpus=$1
    shift
    for f in "$@"; do
        [ -f "$f" ] && taskset -a -p -c "$cpus" "$(cat "$f")" >/dev/null 2>&1 || true
    done
}
restore() { pin "$ALL" "$RUN"/pids/*.pid; }
trap restore EXIT

# busy jiffies of one CPU (user+nice+system+irq+softirq+steal)
busy() { awk -v c="cpu$1" '$1 == c { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
total() { awk -v c="cpu$1" '$1 == c { s = 0; for (i = 2; i <= 9; i++) s += $i; print s }' /proc/stat; }

# the group servers (g1, g1r1, ...: each also has a g*.pid naming the same process)
dbpids=" $(cat "$RUN"/pids/g*.mariadb.pid | tr '\n' ' ') "
others=()
for f in "$RUN"/pids/*.pid; do
    case "$dbpids" in *" $(cat "$f") "*) ;; *) others+=("$f") ;; esac
done
pin "$REST" "${others[@]}"
pin "$DBCPU" "$RUN"/pids/g*.mariadb.pid
HZ=$(getconf CLK_TCK)
echo "db_bound: group databases on CPU $DBCPU, the rest on CPU $REST; skipbench --baseline --mix create --concurrency $CONC --duration $DUR, $RUNS runs"
for i in $(seq 1 "$RUNS"); do
    out="$RUN/db_bound.$i.txt"
    # sample the database core while each phase runs (the phases follow each other)
    taskset -c "$REST" stdbuf -oL "$BIN/skipbench" --url "$URL" --baseline --mix create --concurrency "$CONC" \
        --duration "$DUR" >"$out" 2>&1 &
    bp=$!
    sleep 2
    b0=$(busy "$DBCPU"); t0=$(total "$DBCPU")
    sleep $((DUR - 4))
    b1=$(busy "$DBCPU"); t1=$(total "$DBCPU")
    # the direct phase starts when the daemon phase's report is out
    while ! grep -q '^daemon:' "$out" && kill -0 $bp 2>/dev/null; do sleep 0.2; done
    sleep 2
    b2=$(busy "$DBCPU"); t2=$(total "$DBCPU")
    sleep $((DUR - 4))
    b3=$(busy "$DBCPU"); t3=$(total "$DBCPU")
    wait $bp
    dr=$(awk '/^daemon:/ { print $(NF-1) }' "$out")
    br=$(awk '/^direct:/ { print $(NF-1) }' "$out")
    ratio=$(awk '/^daemon\/direct:/ { print $3 }' "$out")
    awk -v i="$i" -v dr="$dr" -v br="$br" -v ratio="$ratio" -v hz="$HZ" \
        -v db="$((b1 - b0))" -v dt="$((t1 - t0))" -v xb="$((b3 - b2))" -v xt="$((t3 - t2))" 'BEGIN {
        du = db / dt; xu = xb / xt
        # database CPU ms per order: busy share of the core x 1000 / orders per second
        dms = du * 1000 / dr; xms = xu * 1000 / br
        printf "run %d: daemon %.1f ok/s (db core %.0f%% busy, %.3f ms db CPU/order)  direct %.1f ok/s (db core %.0f%%, %.3f ms/order)  throughput %s  db CPU/order daemon/direct %.2f\n",
            i, dr, 100 * du, dms, br, 100 * xu, xms, ratio, dms / xms
    }'
done
