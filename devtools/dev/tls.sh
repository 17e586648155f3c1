# devtools/dev/tls.sh — the dev PKI and backend TLS mode.
# Sourced by ./dev (see its header); not run on its own.
# shellcheck shell=bash
#
# ensure_tls makes, once per run dir, into $RUN/tls (mode 0700; private keys 0600):
#
#   ca.pem ca.key                 the dev CA (SKIP_CA in the env file)
#   server.pem server.key         every dev server (MariaDB, Redis; later the daemon's
#                                 HTTPS listener and HAProxy): SANs IP:127.0.0.1, DNS:localhost
#   server-bundle.pem             server.pem + server.key in one file (0600), as HAProxy's
#                                 `crt` wants it
#   client-skipstore.pem/.key     the skipstore programs talking to the backends (CN=skipstore)
#   client-{cashier,backoffice,admin,observer}.pem/.key
#                                 the daemon's API callers by role (issue 10, mTLS; CN=role)
#   rogue-ca.pem rogue-ca.key     another CA, for negative tests:
#   client-rogue.pem/.key         CN=skipstore, but issued by the rogue CA
#   server-rogue.pem/.key         127.0.0.1/localhost, issued by the rogue CA
#
# EC P-256 keys, unencrypted, in 0600 files: no passphrase exists, so none can end up on
# a command line. The files are made in a scratch directory and renamed into place, so
# a run dir never holds half a PKI.
#
# Backend TLS mode (SKIP_BACKEND_TLS=1, kept in cluster.conf like the topology):
# MariaDB always runs with the server certificate (TLS available; the admin and
# replication accounts stay as they are), Redis always asks for a password. With the mode
# on, the application account REQUIREs X509 (a client certificate from the dev CA),
# Redis listens on TLS only (--port 0), and the generated config turns db.tls and
# redis.tls on. Replication between primary and replica stays plaintext in dev.

TLS_DIR="$RUN/tls"
SECRETS="$RUN/secrets"
TLS_ROLES=(cashier backoffice admin observer)

# tls_key OUT — a new EC P-256 private key, 0600 from its creation
tls_key() {
  ( umask 077; openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null )
}

# tls_issue DIR CA NAME CN EKU [SAN] — NAME.key + NAME.pem signed by CA (DIR/CA.pem/.key)
tls_issue() {
  local d=$1 ca=$2 name=$3 cn=$4 eku=$5 san=${6:-} ext
  tls_key "$d/$name.key"
  ext="$d/$name.ext"
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$eku"
    echo "subjectKeyIdentifier=hash"
    echo "authorityKeyIdentifier=keyid"
    [[ -n "$san" ]] && echo "subjectAltName=$san"
  } >"$ext"
  openssl req -new -key "$d/$name.key" -subj "/O=skipstore dev/CN=$cn" -out "$d/$name.csr" 2>/dev/null
  openssl x509 -req -in "$d/$name.csr" -CA "$d/$ca.pem" -CAkey "$d/$ca.key" \
    -set_serial "0x$(openssl rand -hex 16)" -days 825 -sha256 -extfile "$ext" -out "$d/$name.pem" 2>/dev/null
  rm -f "$d/$name.csr" "$ext"
  [[ -s "$d/$name.pem" ]] || die "tls: issuing $name failed"
}

# tls_ca DIR NAME CN — a self-signed CA
tls_ca() {
  local d=$1 name=$2 cn=$3
  tls_key "$d/$name.key"
  openssl req -x509 -new -key "$d/$name.key" -sha256 -days 3650 -subj "/O=skipstore dev/CN=$cn" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" -out "$d/$name.pem" 2>/dev/null
  [[ -s "$d/$name.pem" ]] || die "tls: making the CA $name failed"
}

ensure_tls() {
  [[ -f "$TLS_DIR/.ok" ]] || make_tls
  if [[ ! -s "$TLS_DIR/server-bundle.pem" ]]; then
    ( umask 077; cat "$TLS_DIR/server.pem" "$TLS_DIR/server.key" >"$TLS_DIR/server-bundle.pem.tmp" )
    mv "$TLS_DIR/server-bundle.pem.tmp" "$TLS_DIR/server-bundle.pem"
  fi
}

make_tls() {
  command -v openssl >/dev/null || die "openssl is not installed"
  local t="$RUN/tls.tmp" r
  rm -rf "$t"
  mkdir -p "$RUN"
  ( umask 077; mkdir "$t" )
  local srv="IP:127.0.0.1,DNS:localhost"
  tls_ca "$t" ca "skipstore dev CA"
  tls_issue "$t" ca server localhost serverAuth "$srv"
  tls_issue "$t" ca client-skipstore skipstore clientAuth
  for r in "${TLS_ROLES[@]}"; do tls_issue "$t" ca "client-$r" "$r" clientAuth; done
  tls_ca "$t" rogue-ca "rogue CA (not trusted by anything)"
  tls_issue "$t" rogue-ca client-rogue skipstore clientAuth
  tls_issue "$t" rogue-ca server-rogue localhost serverAuth "$srv"
  chmod 0600 "$t"/*.key
  chmod 0644 "$t"/*.pem
  touch "$t/.ok"
  rm -rf "$TLS_DIR"
  mv "$t" "$TLS_DIR"
  phase "dev PKI made ($TLS_DIR)"
}

# ensure_secrets — the Redis password and the order-event HMAC key (event.key), once
# per run dir, in 0600 files; and the
# application account's password as a file for the generated config's password_file.
ensure_secrets() {
  ( umask 077; mkdir -p "$SECRETS" )
  chmod 0700 "$SECRETS"
  if [[ ! -s "$SECRETS/redis.pw" ]]; then
    # 24 random bytes, base64: no character Redis or YAML would treat specially but /+
    ( umask 077; head -c 24 /dev/urandom | base64 | tr -d '\n=' >"$SECRETS/redis.pw.tmp" )
    mv "$SECRETS/redis.pw.tmp" "$SECRETS/redis.pw"
  fi
  if [[ ! -s "$SECRETS/event.key" ]]; then
    # the order-event HMAC key shared by the daemons and the mirror (auth/evsig.h):
    # 48 random bytes as one base64 line, written by openssl straight into the file
    ( umask 077; openssl rand -base64 48 | tr -d '\n' >"$SECRETS/event.key.tmp" )
    mv "$SECRETS/event.key.tmp" "$SECRETS/event.key"
  fi
  if [[ ! -s "$SECRETS/admin.pw" || "$(cat "$SECRETS/admin.pw")" != "$ADMIN_PW" ]]; then
    # the admin account for automatic failover (failover.admin_password_file)
    ( umask 077; printf '%s' "$ADMIN_PW" >"$SECRETS/admin.pw.tmp" )
    mv "$SECRETS/admin.pw.tmp" "$SECRETS/admin.pw"
  fi
  if [[ ! -s "$SECRETS/db.pw" || "$(cat "$SECRETS/db.pw")" != "$APP_PW" ]]; then
    ( umask 077; printf '%s' "$APP_PW" >"$SECRETS/db.pw.tmp" )
    mv "$SECRETS/db.pw.tmp" "$SECRETS/db.pw"
  fi
}

# backend_tls → 0 when the cluster runs in backend TLS mode
backend_tls() { [[ "$TLS_MODE" == 1 ]]; }

# redis_cli ARGS... — redis-cli against this cluster's Redis: the password travels in
# REDISCLI_AUTH (not argv), TLS with the skipstore client certificate in TLS mode.
# redis_cli_t SECONDS ARGS... — the same under `timeout`.
redis_cli() { redis_cli_t 0 "$@"; }
redis_cli_t() {
  local t=$1 pre=() tls=()
  shift
  (( t > 0 )) && pre=(timeout "$t")
  backend_tls && tls=(--tls --cacert "$TLS_DIR/ca.pem" --cert "$TLS_DIR/client-skipstore.pem"
    --key "$TLS_DIR/client-skipstore.key")
  REDISCLI_AUTH="$(cat "$SECRETS/redis.pw" 2>/dev/null)" \
    "${pre[@]}" redis-cli --no-auth-warning -h 127.0.0.1 -p "$REDIS_PORT" "${tls[@]}" "$@"
}

# db_require_tls — in TLS mode the application account needs a client certificate from
# the dev CA (REQUIRE X509), else none. Run on the primaries (replicated to their
# replicas) and the merchant store; only when the account is not as wanted already.
db_require_tls() {
  local want=0 name port have h
  backend_tls && want=2   # mysql.global_priv ssl_type: 0 none, 1 ANY (SSL), 2 X509
  for name in $(db_names); do
    [[ "$(db_role "$name")" == primary || "$name" == merchantdb ]] || continue
    port=$(port_of "$name")
    have=$(sql_admin "$port" "SELECT COALESCE(MIN(JSON_VALUE(Priv,'\$.ssl_type')),0) FROM mysql.global_priv \
      WHERE User='$APP_USER'" 2>/dev/null) || die "$name: reading $APP_USER's TLS requirement failed"
    [[ "$have" == "$want" ]] && continue
    local req=NONE
    (( want == 2 )) && req=X509
    for h in '%' '127.0.0.1' 'localhost'; do
      sql_admin "$port" "ALTER USER '$APP_USER'@'$h' REQUIRE $req" || die "$name: ALTER USER ... REQUIRE $req failed"
    done
  done
}
