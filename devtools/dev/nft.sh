# devtools/dev/nft.sh — network partitions: `./dev fault TARGET partition|heal`.
# Sourced by ./dev (see its header); not run on its own.
# shellcheck shell=bash
#
# A partition is a pulled cable: every packet to and from the component is dropped
# silently, both directions — no RST, no ICMP — so a connect hangs until the caller's
# own timeout and an established connection just goes quiet. Everything runs on
# loopback, where a packet passes the output hook (sender) and then the input hook
# (receiver); the rules drop in both, ahead of conntrack (priority -300) and without
# looking at connection state, so established connections die as surely as new ones.
#
# What "to and from the component" covers:
#   - its listening ports (set `ports`): the one ./dev knows it by (port_of) and every
#     other port its process listens on (a Kafka broker's KRaft controller port);
#     every connection to them, new or established;
#   - the connections it opened itself (set `conns`, exact port pairs taken from `ss`
#     when the partition starts), e.g. a replica's replication link to its primary;
#   - connections it would open while partitioned: the process is moved into the
#     cgroup v2 `skipstore_<base>` and its new sockets are dropped by a `socket
#     cgroupv2` rule (output hook). Where no writable cgroup v2 exists (e.g. a container
#     with a read-only /sys/fs/cgroup), this part is skipped with a warning: a replica
#     then re-dials its primary after slave_net_timeout (10 s) and gets through.
#
# Everything lives in `table inet skipstore_<base>` (one table a cluster, so a CI
# cluster on another base never sees ours) and cgroup `skipstore_<base>`; `heal`
# removes one component's elements and moves its process back, `down` deletes the
# table and the cgroup. Nothing else is touched: no flush, no other table.
# State of a partition (port, port pairs, original cgroup) is in $RUN/partitions/NAME.

NFT_TABLE="skipstore_$BASE"
NFT_STATE="$RUN/partitions"

# nft ARGS... — as root, else through passwordless sudo; dies with nft's own message.
nft_run() {
  local out sudo=()
  (( EUID == 0 )) || sudo=(sudo -n)
  command -v nft >/dev/null || die "nft not found: partitions need the nftables package (./dev up installs it)"
  if ! out=$("${sudo[@]}" nft "$@" 2>&1); then
    die "nft $* failed: ${out:-no message} (partitions need nf_tables in the kernel and CAP_NET_ADMIN: root or passwordless sudo)"
  fi
  [[ -z "$out" ]] || printf '%s\n' "$out"
}

# the same, quiet and without dying: for looks that may fail (no table yet, no rights)
nft_try() {
  local sudo=()
  (( EUID == 0 )) || sudo=(sudo -n)
  command -v nft >/dev/null || return 1
  "${sudo[@]}" nft "$@" 2>/dev/null
}

nft_table_exists() { nft_try list table inet "$NFT_TABLE" >/dev/null; }

# ---------------------------------------------------------------- cgroup (new outbound connections)

# The cgroup v2 mount as nft names cgroups: relative to /sys/fs/cgroup ("" on a pure v2
# host, "unified/" on a hybrid one). Fails when there is none nft can name.
nft_cg_prefix() {
  local mnt
  mnt=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
  case "$mnt" in
    /sys/fs/cgroup) echo "" ;;
    /sys/fs/cgroup/*) echo "${mnt#/sys/fs/cgroup/}/" ;;
    *) return 1 ;;
  esac
}
nft_cg_dir() { local p; p=$(nft_cg_prefix) || return 1; echo "/sys/fs/cgroup/${p}$NFT_TABLE"; }

# cgroup v2 path of PID ("/" or "/user.slice/..."), for moving it back on heal
nft_cg_of() { sed -n 's/^0::\(.*\)$/\1/p' "/proc/$1/cgroup" 2>/dev/null; }

# nft_cg_move PID CGROUP_DIR — all its threads (cgroup.procs moves the thread group)
nft_cg_move() { echo "$1" >"$2/cgroup.procs" 2>/dev/null; }

# Creates the cgroup and proves the rule drops a connect made from inside it (the rule
# names its cgroup by level, which is wrong inside a cgroup namespace). 0 when usable.
nft_cg_selftest() {
  local dir=$1 rc=0
  # bash moves itself in, then tries a connect to a port of ours: blocked → hangs → 124
  timeout 2 bash -c 'echo $$ >"$1/cgroup.procs" || exit 3; timeout 0.5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$2" 2>/dev/null; exit $?' \
    _ "$dir" "$((BASE + 99))" || rc=$?
  (( rc == 124 ))
}

# ---------------------------------------------------------------- the table

# nft_setup — the table, its two sets and two chains; once a cluster (idempotent).
NFT_CG_OK=0
nft_setup() {
  local dir="" cgrule=""
  if nft_table_exists; then
    local out
    out=$(nft_try list chain inet "$NFT_TABLE" output) || true   # not piped into grep -q: SIGPIPE under pipefail
    [[ "$out" == *"socket cgroupv2"* ]] && NFT_CG_OK=1
    return 0
  fi
  local rules
  rules=$(cat <<EOF
add table inet $NFT_TABLE
add set inet $NFT_TABLE ports { type inet_service; }
add set inet $NFT_TABLE conns { type inet_service . inet_service; }
add chain inet $NFT_TABLE input { type filter hook input priority -300; policy accept; }
add chain inet $NFT_TABLE output { type filter hook output priority -300; policy accept; }
add rule inet $NFT_TABLE input meta l4proto { tcp, udp } th dport @ports counter drop
add rule inet $NFT_TABLE input meta l4proto { tcp, udp } th sport @ports counter drop
add rule inet $NFT_TABLE input tcp sport . tcp dport @conns counter drop
add rule inet $NFT_TABLE output meta l4proto { tcp, udp } th dport @ports counter drop
add rule inet $NFT_TABLE output meta l4proto { tcp, udp } th sport @ports counter drop
add rule inet $NFT_TABLE output tcp sport . tcp dport @conns counter drop
EOF
)
  nft_run -f - <<<"$rules" >/dev/null
  # the cgroup only once the table exists (a failed nft leaves nothing behind)
  if dir=$(nft_cg_dir) && { [[ -d "$dir" ]] || mkdir "$dir" 2>/dev/null; }; then
    cgrule="socket cgroupv2 level 1 \"$(nft_cg_prefix)$NFT_TABLE\" counter drop"
  fi
  if [[ -n "$cgrule" ]]; then
    if nft_try add rule inet "$NFT_TABLE" output $cgrule && nft_cg_selftest "$dir"; then
      NFT_CG_OK=1
    else
      log "dev: warning: the cgroup v2 rule does not take here; a partitioned component's new outbound connections are not blocked"
      local h
      h=$(nft_try -a list chain inet "$NFT_TABLE" output | sed -n 's/.*socket cgroupv2.*# handle \([0-9]*\)$/\1/p') || true
      [[ -n "$h" ]] && nft_try delete rule inet "$NFT_TABLE" output handle "$h"
      rmdir "$dir" 2>/dev/null || true
    fi
  else
    log "dev: warning: no writable cgroup v2; a partitioned component's new outbound connections are not blocked"
  fi
  return 0
}

# ports in the `ports` set, one a line (nothing when there is no table or no rights)
nft_partitioned_ports() {
  nft_try -j list set inet "$NFT_TABLE" ports | jq -r '.nftables[].set.elem[]? | numbers' 2>/dev/null || true
}

nft_is_partitioned() { [[ -f "$NFT_STATE/$1" ]]; }

# The TCP sockets of PID, one line each: "listen PORT" for a listening socket, and
# "conn LOCAL . PEER" + "conn PEER . LOCAL" for a connection. Found by socket inode in
# /proc/PID/fd (`ss -p` would walk every process's fds: slow on a busy box).
nft_sockets_of() {
  local inodes
  inodes=$(find "/proc/$1/fd" -lname 'socket:*' -printf '%l\n' 2>/dev/null | tr -dc '0-9\n')
  [[ -n "$inodes" ]] || return 0
  ss -Htane 2>/dev/null | awk -v inodes="$inodes" '
    BEGIN { n = split(inodes, a, "\n"); for (i = 1; i <= n; i++) if (a[i] != "") mine[a[i]] = 1 }
    {
      ino = ""
      for (i = 6; i <= NF; i++) if ($i ~ /^ino:/) { ino = substr($i, 5); break }
      if (!(ino in mine)) next
      n = split($4, l, ":"); lport = l[n]; n = split($5, p, ":"); pport = p[n]
      if (lport !~ /^[0-9]+$/) next
      if ($1 == "LISTEN") print "listen " lport
      else if (pport ~ /^[0-9]+$/) { print "conn " lport " . " pport; print "conn " pport " . " lport }
    }' | sort -u
}

# ---------------------------------------------------------------- partition / heal

nft_partition() {
  local name=$1 port pid="" cg="" ports=() conns=() dir line p
  port=$(port_of "$name")
  [[ "$port" =~ ^[0-9]+$ ]] || die "$name has no port of its own to cut (it only dials out); partition what it talks to instead (e.g. kafka, merchantdb)"
  mkdir -p "$NFT_STATE"
  nft_setup
  if nft_is_partitioned "$name"; then echo "$name already partitioned (port $port)"; return 0; fi
  ports=("$port")
  # Order matters: into the cgroup first (sockets it opens from now on are dropped),
  # then the snapshot of what it already holds, then both sets in one transaction.
  if pid=$(pid_of "$name"); then
    if (( NFT_CG_OK )) && dir=$(nft_cg_dir); then
      cg=$(nft_cg_of "$pid")
      nft_cg_move "$pid" "$dir" || { log "dev: warning: could not move $name (pid $pid) into $dir"; cg=""; }
    fi
    local listen=()
    while IFS= read -r line; do
      case "$line" in
        listen\ *) p=${line#listen }; [[ "$p" == "$port" ]] || { ports+=("$p"); listen+=("$p"); } ;;
        conn\ *) conns+=("${line#conn }") ;;
      esac
    done < <(nft_sockets_of "$pid")
    # connections to its own listening ports are covered by `ports`
    local keep=() c
    for c in "${conns[@]}"; do
      p=${c%% *}
      [[ " $port ${listen[*]} " == *" $p "* || " $port ${listen[*]} " == *" ${c##* } "* ]] || keep+=("$c")
    done
    conns=("${keep[@]}")
  else
    pid=""
  fi
  local tx
  tx="add element inet $NFT_TABLE ports { $(IFS=,; echo "${ports[*]}") }"
  (( ${#conns[@]} )) && tx+=$'\n'"add element inet $NFT_TABLE conns { $(IFS=,; echo "${conns[*]}") }"
  nft_run -f - <<<"$tx" >/dev/null
  {
    printf 'port=%s\n' "${ports[@]}"
    printf 'pid=%s\ncgroup=%s\n' "$pid" "$cg"
    (( ${#conns[@]} )) && printf 'conn=%s\n' "${conns[@]}"
  } >"$NFT_STATE/$name"
  local how="port ${ports[*]}"
  (( ${#ports[@]} > 1 )) && how="ports ${ports[*]}"
  (( ${#conns[@]} )) && how+=", $(( ${#conns[@]} / 2 )) connection(s) of its own"
  [[ -n "$cg" ]] && how+=", new outbound connections"
  echo "$name partitioned ($how: every packet dropped, both directions)"
}

# nft_adopt NAME — a partitioned component was started again: its new process goes
# into the cgroup too, so it cannot dial out either.
nft_adopt() {
  local name=$1 f="$NFT_STATE/$1" pid dir cg
  pid=$(pid_of "$name") || return 0
  grep -qx "pid=$pid" "$f" && return 0
  nft_setup
  (( NFT_CG_OK )) && dir=$(nft_cg_dir) || return 0
  cg=$(nft_cg_of "$pid")
  nft_cg_move "$pid" "$dir" || { log "dev: warning: could not move $name (pid $pid) into $dir"; return 0; }
  sed -i -e "s|^pid=.*|pid=$pid|" -e "s|^cgroup=.*|cgroup=$cg|" "$f"
}

# nft_heal NAME [quiet]
nft_heal() {
  local name=$1 f="$NFT_STATE/$1" pid="" cg="" line have tx="" dir p
  local ports=() conns=()
  if [[ -f "$f" ]]; then
    while IFS= read -r line; do
      case "$line" in
        port=?*) ports+=("${line#port=}") ;;
        pid=*) pid=${line#pid=} ;;
        cgroup=*) cg=${line#cgroup=} ;;
        conn=?*) conns+=("${line#conn=}") ;;
      esac
    done <"$f"
  else
    p=$(port_of "$name" 2>/dev/null || true)
    [[ -n "$p" ]] && ports=("$p")
  fi
  if nft_table_exists; then
    # delete only what is there: `delete element` of a missing one fails the transaction
    have=$(nft_try -j list table inet "$NFT_TABLE" | jq -r '.nftables[].set? | select(. != null) |
      .name as $s | .elem[]? | if type == "object" then "\($s) \(.concat[0]) . \(.concat[1])" else "\($s) \(.)" end') || true
    for p in "${ports[@]}"; do
      grep -qx "ports $p" <<<"$have" && tx+="delete element inet $NFT_TABLE ports { $p }"$'\n'
    done
    for line in "${conns[@]}"; do
      grep -qxF "conns $line" <<<"$have" && tx+="delete element inet $NFT_TABLE conns { $line }"$'\n'
    done
    [[ -n "$tx" ]] && nft_run -f - <<<"$tx" >/dev/null
  fi
  # back to its own cgroup, if it is still the process we moved and still in ours
  if [[ -n "$pid" && -n "$cg" ]] && dir=$(nft_cg_dir) && [[ "$(nft_cg_of "$pid")" == "/$NFT_TABLE" ]]; then
    nft_cg_move "$pid" "$(dirname "$dir")$cg" || log "dev: warning: could not move pid $pid back to cgroup $cg"
  fi
  rm -f "$f"
  [[ "${2:-}" == quiet ]] || { if [[ -n "$tx" || -n "$cg" ]]; then echo "$name healed"; else echo "$name was not partitioned"; fi; }
}

# every partition of this cluster healed (./dev up brings the whole cluster back)
nft_heal_all() {
  local f
  [[ -d "$NFT_STATE" ]] || return 0
  for f in "$NFT_STATE"/*; do
    [[ -f "$f" ]] || continue
    log "dev: healing the partition of $(basename "$f")"
    nft_heal "$(basename "$f")" quiet
  done
}

# ./dev down: heal, then the table and the cgroup go.
nft_down() {
  local dir
  nft_heal_all
  if nft_table_exists; then nft_run delete table inet "$NFT_TABLE" >/dev/null; fi
  if dir=$(nft_cg_dir) && [[ -d "$dir" ]]; then
    rmdir "$dir" 2>/dev/null || log "dev: warning: $dir still holds processes; left in place"
  fi
  rm -rf "$NFT_STATE"
}
