# devtools/dev/mariadb.sh — MariaDB instances: template datadir, start, schema, replication.
# Sourced by ./dev (see its header); not run on its own.
# shellcheck shell=bash

# ---------------------------------------------------------------- probes

# The admin account's CLI sessions are plaintext on loopback (--skip-ssl): the 10.11
# client otherwise negotiates TLS with every server, which costs ~0.1 s of CPU per
# call — too much for `./dev status` probing a dozen servers at once on a busy box.
sql_admin() {  # sql_admin PORT SQL  (prints tab-separated rows, no headers)
  timeout 10 mariadb --no-defaults --skip-ssl --protocol=tcp -h127.0.0.1 -P"$1" -u"$ADMIN_USER" -p"$ADMIN_PW" \
    --connect-timeout=2 -N -B -e "$2"
}

slave_status() {  # slave_status PORT → "Field: value" lines of SHOW SLAVE STATUS
  timeout 10 mariadb --no-defaults --skip-ssl --protocol=tcp -h127.0.0.1 -P"$1" -u"$ADMIN_USER" -p"$ADMIN_PW" \
    --connect-timeout=2 -e "SHOW SLAVE STATUS\G" | sed 's/^ *//'
}

# ---------------------------------------------------------------- MariaDB

DB_FLUSH="${SKIP_DB_FLUSH:-2}"
DB_SYNC_BINLOG="${SKIP_DB_SYNC_BINLOG:-0}"

datadir_of() { echo "$RUN/db/$1"; }

# server_id: the port is unique within one cluster; replicas differ from their primary.
# Every server has the dev server certificate: TLS is always available; who must use it
# is the accounts' business (db_require_tls in tls.sh).
start_db() {
  local name=$1 port extra=()
  port=$(port_of "$name")
  # replicas and former primaries (replaced by a failover: never written again) start read-only
  case "$(db_role "$name")" in replica|former) extra+=(--read-only) ;; esac
  # The merchant store is standalone: a semi-sync master without replicas would stall
  # its first commit after every start for the whole timeout.
  local semi_master=ON
  [[ "$name" == merchantdb ]] && semi_master=OFF
  mkdir -p "$SOCK" "$RUN/tmp"
  launch "$name" mariadbd --no-defaults "${MYSQL_USER_OPT[@]}" \
    --datadir="$(datadir_of "$name")" --port="$port" --bind-address=127.0.0.1 \
    --socket="$SOCK/$name.sock" --pid-file="$RUN/pids/$name.mariadb.pid" \
    --log-error="$(logfile "$name")" --server-id="$port" \
    --log-bin=mysql-bin --binlog-format=ROW --log-slave-updates --gtid-strict-mode=1 \
    --skip-name-resolve --performance-schema=OFF --innodb-buffer-pool-size=64M \
    --innodb-log-file-size=16M --max-connections=1000 --tmpdir="$RUN/tmp" \
    --rpl-semi-sync-master-enabled=$semi_master --rpl-semi-sync-slave-enabled=ON \
    --rpl-semi-sync-master-timeout=500 --rpl-semi-sync-master-wait-point=AFTER_SYNC --slave-net-timeout=10 \
    --innodb-flush-log-at-trx-commit="$DB_FLUSH" --sync-binlog="$DB_SYNC_BINLOG" \
    --ssl-ca="$TLS_DIR/ca.pem" --ssl-cert="$TLS_DIR/server.pem" --ssl-key="$TLS_DIR/server.key" \
    "${extra[@]}"
}

# db_stale NAME → 0 when the running server was started without TLS (before ./dev made
# the dev PKI): it must be restarted to serve TLS.
db_stale() {
  local pid
  pid=$(pid_of "$1") || return 1
  ! { tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null | grep -q -- "--ssl-cert=$TLS_DIR/server.pem"
}

# schema files in version order: PREFIX_v1.sql, PREFIX_v2.sql, ...
schema_files() {
  local f
  for f in "$TOOLS/schema/$1"_v*.sql; do
    [[ -f "$f" ]] || continue
    f=${f##*_v}; echo "${f%.sql}"
  done | sort -n | while read -r v; do echo "$TOOLS/schema/$1_v$v.sql"; done
}

# The template: one mariadb-install-db with the binary log OFF, users created, then
# copied for every instance. No instance has GTID history, so replicas start
# replicating from their (empty-binlog) primary with nothing to reconcile.
make_template() {
  local t="$RUN/template"
  [[ -f "$t/.ok" ]] && return 0
  rm -rf "$t"; mkdir -p "$t" "$SOCK" "$RUN/log"
  local tlog="$RUN/log/template.log"
  # Own tmpdir: the shared /tmp is cleaned by others and full of other servers' files.
  mkdir -p "$RUN/tmp"
  local try
  for try in 1 2; do
    rm -rf "$t/data"
    mariadb-install-db --no-defaults "${MYSQL_USER_OPT[@]}" --datadir="$t/data" \
      --auth-root-authentication-method=normal --skip-test-db --skip-name-resolve \
      --tmpdir="$RUN/tmp" --innodb-log-file-size=16M >"$tlog" 2>&1 && break
    (( try == 2 )) && { cat "$tlog" >&2; die "mariadb-install-db failed"; }
    log "dev: mariadb-install-db failed; retrying once"
  done
  local sock="$SOCK/template.sock"
  setsid mariadbd --no-defaults "${MYSQL_USER_OPT[@]}" --datadir="$t/data" --skip-networking \
    --socket="$sock" --pid-file="$t/mariadbd.pid" --log-error="$tlog" --skip-log-bin \
    --performance-schema=OFF --innodb-buffer-pool-size=64M --innodb-log-file-size=16M \
    --skip-name-resolve --tmpdir="$RUN/tmp" </dev/null >>"$tlog" 2>&1 9>&- &
  local tpid=$! n=200
  until mariadb-admin --no-defaults --socket="$sock" -uroot ping >/dev/null 2>&1; do
    (( n-- > 0 )) && kill -0 "$tpid" 2>/dev/null || { cat "$tlog" >&2; die "template server did not start"; }
    sleep 0.05
  done
  {
    cat <<SQL
SET sql_log_bin=0;
DELETE FROM mysql.global_priv WHERE User='';
FLUSH PRIVILEGES;
CREATE USER '$ADMIN_USER'@'127.0.0.1' IDENTIFIED BY '$ADMIN_PW';
CREATE USER '$ADMIN_USER'@'localhost' IDENTIFIED BY '$ADMIN_PW';
GRANT ALL PRIVILEGES ON *.* TO '$ADMIN_USER'@'127.0.0.1' WITH GRANT OPTION;
GRANT ALL PRIVILEGES ON *.* TO '$ADMIN_USER'@'localhost' WITH GRANT OPTION;
CREATE USER '$REPL_USER'@'127.0.0.1' IDENTIFIED BY '$REPL_PW';
CREATE USER '$REPL_USER'@'localhost' IDENTIFIED BY '$REPL_PW';
GRANT REPLICATION SLAVE ON *.* TO '$REPL_USER'@'127.0.0.1';
GRANT REPLICATION SLAVE ON *.* TO '$REPL_USER'@'localhost';
SQL
    local h
    for h in '%' '127.0.0.1' 'localhost'; do
      echo "CREATE USER '$APP_USER'@'$h' IDENTIFIED BY '$APP_PW';"
      echo "GRANT SELECT, INSERT, UPDATE, DELETE ON \`$DB_NAME\`.* TO '$APP_USER'@'$h';"
      echo "GRANT SELECT, INSERT, UPDATE, DELETE ON \`$MERCHANT_DB_NAME\`.* TO '$APP_USER'@'$h';"
    done
    echo "FLUSH PRIVILEGES;"
  } | mariadb --no-defaults --socket="$sock" -uroot || { kill "$tpid"; die "template users failed"; }
  kill -TERM "$tpid"
  wait_gone "$tpid" 30 || { kill -KILL "$tpid"; die "template server did not stop"; }
  rm -f "$t/data"/*.pid
  touch "$t/.ok"
}

apply_schema() {  # apply_schema NAME PREFIX DBNAME — apply every schema version not recorded yet, in order
  # (by the set of recorded versions, not their maximum: a lower version merged after a
  # higher one was applied still gets applied)
  local name=$1 prefix=$2 dbn=$3 port have f v
  port=$(port_of "$name")
  have=" $( { sql_admin "$port" "SELECT version FROM \`$dbn\`.schema_version" 2>/dev/null || true; } | tr '\n' ' ') "
  while read -r f; do
    [[ -n "$f" ]] || continue
    v=${f##*_v}; v=${v%.sql}
    [[ "$have" == *" $v "* ]] && continue
    sql_admin "$port" "source $f" >/dev/null || die "$name: applying $f failed"
  done < <(schema_files "$prefix")
}

setup_replica() {  # setup_replica NAME — point it at its group's primary once; afterwards just START SLAVE
  local name=$1 port pport st
  port=$(port_of "$name")
  pport=$(primary_port_of "${name:1:1}")
  st=$(sql_admin "$port" "SHOW SLAVE STATUS" 2>/dev/null || true)
  if [[ -z "$st" ]]; then
    sql_admin "$port" "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=$pport, \
      MASTER_USER='$REPL_USER', MASTER_PASSWORD='$REPL_PW', MASTER_USE_GTID=slave_pos, \
      MASTER_CONNECT_RETRY=1, MASTER_HEARTBEAT_PERIOD=1; START SLAVE;" || die "$name: CHANGE MASTER failed"
  else
    sql_admin "$port" "START SLAVE" >/dev/null 2>&1 || true
  fi
}

wait_replication() {
  local deadline=$((SECONDS + 30)) name ok
  while (( SECONDS < deadline )); do
    ok=1
    for name in $(db_names); do
      [[ "$name" == merchantdb ]] && continue
      local role
      role=$(db_role "$name")
      [[ "$role" == former ]] && continue
      if [[ "$role" == replica ]]; then
        [[ "$(slave_status "$(port_of "$name")" 2>/dev/null | grep -cE '^Slave_(IO|SQL)_Running: Yes$')" == 2 ]] || ok=0
      else
        local c
        c=$(sql_admin "$(port_of "$name")" "SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_master_clients'" 2>/dev/null | awk '{print $2}')
        (( ${c:-0} >= 1 )) || ok=0
      fi
    done
    (( ok )) && return 0
    sleep 0.2
  done
  log "dev: replication not healthy after 30 s:"
  for name in $(db_names); do
    [[ "$(db_role "$name")" == replica ]] && slave_status "$(port_of "$name")" 2>&1 | grep -E 'Running:|Last_.*Error:' | sed "s/^/  $name /" >&2
  done
  return 1
}

