# devtools/dev/kafka.sh — Kafka for the ./dev cluster: Apache Kafka (the default) or
# librdkafka's in-memory mock broker (opt-in for quick local runs, SKIP_KAFKA_MODE=mock).
# Sourced by ./dev (see its header); not run on its own.
# shellcheck shell=bash
#
# Apache Kafka, KRaft mode, without a tarball. The broker's jars come from Maven
# Central (devtools/kafka/pom.xml, `mvn dependency:copy-dependencies`) into a cache
# outside the repo, $KAFKA_HOME/libs = ${SKIP_CACHE_DIR:-~/.cache/skipstore}/kafka-<v>/libs,
# the first time only (flock'ed: CI and a developer may fetch at once); afterwards
# everything runs offline. Then, per broker i (1..SKIP_KAFKA_BROKERS), what Kafka's
# own shell scripts do:
#   java -cp 'libs/*' kafka.tools.StorageTool format -t <cluster id> -c server.properties
#   java -cp 'libs/*' kafka.Kafka server.properties
# and once per cluster org.apache.kafka.tools.TopicCommand --create for the topic.
#
# Files: $RUN/kafka/cluster.id, $RUN/kafka/<i>/server.properties (rewritten by every
# start, 0600: it holds the SASL passwords in TLS mode), $RUN/kafka/<i>/data
# (log.dirs: topics, consumer offsets, the KRaft metadata log; `./dev fault kafka
# kill` + `start` keeps it, `down --purge` deletes it), $RUN/kafka/client.properties
# (librdkafka/kcat settings for this cluster: empty, or SASL_SSL + CA + credentials),
# $RUN/kafka/admin.properties (the same for the Java admin tools), $RUN/kafka/tls/
# (TLS mode: dev CA, broker key + certificate, SASL passwords; 0600 files in a 0700 dir).
#
# Ports: broker i's client listener base+1+i (base+2, +3, +4), its KRaft controller
# listener base+5+i (base+6, +7, +8).
#
# Three brokers run in KRaft *combined* mode (process.roles=broker,controller): three
# JVMs instead of six on a 2-core box (half the memory and start time), and a broker
# SIGKILLed by a test takes one of the three controller voters with it, which the
# quorum (2 of 3) survives — the harsher case for the leader-kill test. Production
# runs dedicated controllers (README, "Kafka").

KAFKA_POM="$TOOLS/kafka/pom.xml"
KAFKA_VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$KAFKA_POM")
KAFKA_CACHE="${SKIP_CACHE_DIR:-${HOME:-/root}/.cache/skipstore}"
case "$KAFKA_CACHE" in /*) ;; *) KAFKA_CACHE="$PWD/$KAFKA_CACHE" ;; esac
KAFKA_HOME="$KAFKA_CACHE/kafka-$KAFKA_VERSION"
KAFKA_LIBS="$KAFKA_HOME/libs"
KAFKA_DIR="$RUN/kafka"
KAFKA_TLS_DIR="$KAFKA_DIR/tls"
# Class-data sharing archive of the Kafka classes (made once, after the fetch).
KAFKA_CDS="$KAFKA_HOME/cds/kafka.jsa"
read -r -a KAFKA_HEAP <<<"${SKIP_KAFKA_HEAP:--Xms256m -Xmx384m}"

# kafka_java_opts broker|tool → the JVM flags, one a line. Both: serial GC (no parallel
# GC threads fighting over 2 cores) and the C1 JIT only, which halves the CPU a broker
# needs to start (measured: 8.5 → 4.4 CPU s to "answers metadata"; a dev broker's
# throughput needs are small), plus the class-data-sharing archive of the Kafka jars
# when there is one (→ 2.6 CPU s): on a 2-core box shared by many, start time is CPU.
kafka_java_opts() {
  local o=(-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true
    -Dlog4j2.configurationFile="$TOOLS/kafka/log4j2.properties")
  if [[ "$1" == broker ]]; then
    o=("${KAFKA_HEAP[@]}" -XX:+ExitOnOutOfMemoryError -Xss512k "${o[@]}")
  else
    o=(-Xms32m -Xmx256m "${o[@]}")
  fi
  # -Xshare:auto (the default): an unusable archive is ignored, silently
  kafka_cds_ok && o+=(-XX:SharedArchiveFile="$KAFKA_CDS" -Xlog:cds=off -Xlog:cds+dynamic=off)
  printf '%s\n' "${o[@]}"
}

# ---------------------------------------------------------------- names, ports

# Components: one broker is "kafka"; three are "kafka1 kafka2 kafka3". "kafka" is
# always broker 1 and "kafka1" names it in a one-broker cluster too (kafka_canon).
kafka_names() {
  if (( KAFKA_NB == 1 )); then echo kafka; else echo kafka1 kafka2 kafka3; fi
}
is_kafka() { [[ "$1" =~ ^kafka[1-3]?$ ]]; }
kafka_index() {   # kafka_index NAME → 1..3
  case "$1" in
    kafka) echo 1 ;;
    kafka[1-3]) echo "${1#kafka}" ;;
    *) return 1 ;;
  esac
}
kafka_canon() {   # kafka_canon NAME → the component name of that broker in this cluster
  local i
  i=$(kafka_index "$1") || return 1
  (( i <= KAFKA_NB )) || return 1
  if (( KAFKA_NB == 1 )); then echo kafka; else echo "kafka$i"; fi
}
kafka_port() { echo $((BASE + 1 + $1)); }       # client listener of broker i
kafka_ctl_port() { echo $((BASE + 5 + $1)); }   # KRaft controller listener of broker i
kafka_bootstrap() {   # every broker, comma-separated (SKIP_KAFKA, kafka.brokers)
  local i out=""
  for i in $(seq 1 "$KAFKA_NB"); do out+="${out:+,}127.0.0.1:$(kafka_port "$i")"; done
  echo "$out"
}
# The marker a broker's command line must carry for ./dev to trust its pid.
kafka_marker() {
  if [[ "$KAFKA_MODE" == mock ]]; then port_of "$1"; else echo "$KAFKA_DIR/$(kafka_index "$1")/server.properties"; fi
}
kafka_client_conf() { echo "$KAFKA_DIR/client.properties"; }


# ---------------------------------------------------------------- jars (Maven)

kafka_libs_ok() { [[ -f "$KAFKA_LIBS/.complete" ]]; }

# The archive is valid for the JVM it was made with: newer than that JVM's own files.
kafka_java_home() { dirname "$(dirname "$(readlink -f "$(command -v java)")")"; }
kafka_newer_than_jvm() {
  local jh
  [[ -e "$1" ]] || return 1
  jh=$(kafka_java_home)
  [[ "$1" -nt "$jh/lib/server/libjvm.so" ]] &&
    { [[ ! -f "$jh/lib/server/classes.jsa" ]] || [[ "$1" -nt "$jh/lib/server/classes.jsa" ]]; }
}
kafka_cds_ok() { [[ -s "$KAFKA_CDS" ]] && kafka_newer_than_jvm "$KAFKA_CDS"; }
# made (or tried to make, for this JVM): no need to try again
kafka_cds_done() { kafka_cds_ok || kafka_newer_than_jvm "$KAFKA_HOME/cds/tried"; }

# kafka_cds_make — a dynamic class-data-sharing archive of the classes the storage tool
# loads (most of what a broker loads at start: Scala, configs, metadata, raft): one
# format of a scratch directory with -XX:ArchiveClassesAtExit. Best effort: without it
# everything works, only slower to start.
kafka_cds_make() {
  local d="$KAFKA_HOME/cds"
  rm -rf "$d/train"
  mkdir -p "$d/train"
  printf '%s\n' "process.roles=broker,controller" "node.id=1" "controller.quorum.voters=1@127.0.0.1:10" \
    "listeners=PLAINTEXT://127.0.0.1:9,CONTROLLER://127.0.0.1:10" "controller.listener.names=CONTROLLER" \
    "log.dirs=$d/train/data" >"$d/train/server.properties"
  java -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:ArchiveClassesAtExit="$d/kafka.jsa.tmp" \
    -Xlog:cds=off -Xlog:cds+dynamic=off -Dlog4j2.configurationFile="$TOOLS/kafka/log4j2.properties" \
    -cp "$KAFKA_LIBS/*" kafka.tools.StorageTool format -t AAAAAAAAAAAAAAAAAAAAAA \
    -c "$d/train/server.properties" >"$d/train.log" 2>&1 </dev/null &&
    [[ -s "$d/kafka.jsa.tmp" ]] && mv -f "$d/kafka.jsa.tmp" "$KAFKA_CDS"
  rm -rf "$d/train" "$d/kafka.jsa.tmp"
  touch "$d/tried"
  return 0
}

kafka_need_java() {
  command -v java >/dev/null || die "java not found (Apache Kafka needs Java 17+; ./dev installs default-jre-headless when missing)"
  local v
  v=$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
  [[ "${v%%.*}" =~ ^[0-9]+$ ]] && (( ${v%%.*} >= 17 )) || die "Kafka $KAFKA_VERSION needs Java 17+, found '$v' ($(command -v java))"
}

# kafka_fetch — copy the broker's runtime jars into $KAFKA_LIBS unless already there.
# Maven's own repository goes to $KAFKA_CACHE/m2, so an empty SKIP_CACHE_DIR really is
# a first fetch. Output to $KAFKA_HOME/fetch.log, never the terminal.
kafka_fetch() {
  kafka_libs_ok && kafka_cds_done && return 0
  kafka_need_java
  kafka_libs_ok || command -v mvn >/dev/null || die "mvn not found (./dev installs the maven package when missing)"
  mkdir -p "$KAFKA_HOME"
  local rc=0
  (
    exec 8>"$KAFKA_HOME/.fetch.lock"
    flock -w 900 8 || { echo "kafka_fetch: another fetch holds $KAFKA_HOME/.fetch.lock" >&2; exit 1; }
    if kafka_libs_ok; then
      kafka_cds_done || kafka_cds_make   # e.g. the JVM was upgraded since
      exit 0
    fi
    rm -rf "$KAFKA_LIBS.tmp"
    {
      echo "# $(date -u +%FT%TZ) mvn dependency:copy-dependencies for Kafka $KAFKA_VERSION"
      mvn -B -q -f "$KAFKA_POM" -Dmaven.repo.local="$KAFKA_CACHE/m2" \
        dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$KAFKA_LIBS.tmp"
    } >"$KAFKA_HOME/fetch.log" 2>&1 9>&- || exit 1
    [[ -f "$KAFKA_LIBS.tmp/kafka_2.13-$KAFKA_VERSION.jar" ]] || { echo "kafka_2.13-$KAFKA_VERSION.jar missing after mvn" >>"$KAFKA_HOME/fetch.log"; exit 1; }
    touch "$KAFKA_LIBS.tmp/.complete"
    rm -rf "$KAFKA_LIBS"
    mv "$KAFKA_LIBS.tmp" "$KAFKA_LIBS"
    kafka_cds_make
  ) || rc=$?
  rm -rf "$REPO/devtools/kafka/target"
  if (( rc != 0 )); then
    log "dev: fetching the Kafka $KAFKA_VERSION jars with Maven failed; last lines of $KAFKA_HOME/fetch.log:"
    tail -20 "$KAFKA_HOME/fetch.log" >&2 || true
    return 1
  fi
  return 0
}

# ./dev up fetches in the background while it builds; kafka_fetch_wait joins it.
KAFKA_FETCH_PID=""
kafka_fetch_bg() {
  [[ "$KAFKA_MODE" == apache ]] || return 0
  kafka_libs_ok && kafka_cds_done && return 0
  if kafka_libs_ok; then
    log "dev: making the class-data-sharing archive of the Kafka jars ($KAFKA_CDS)"
  else
    log "dev: fetching the Kafka $KAFKA_VERSION jars with Maven into $KAFKA_LIBS (first time only; log: $KAFKA_HOME/fetch.log)"
  fi
  ( kafka_fetch ) >/dev/null 2>&1 9>&- &
  KAFKA_FETCH_PID=$!
}
kafka_fetch_wait() {
  [[ "$KAFKA_MODE" == apache ]] || return 0
  if [[ -n "$KAFKA_FETCH_PID" ]]; then
    wait "$KAFKA_FETCH_PID" || true
    KAFKA_FETCH_PID=""
  fi
  kafka_fetch   # no-op when the jars are there; else says why not
}

cmd_fetch() {
  [[ "$KAFKA_MODE" == apache ]] || { echo "SKIP_KAFKA_MODE=$KAFKA_MODE: no jars to fetch"; return 0; }
  kafka_fetch || exit 1
  echo "kafka $KAFKA_VERSION jars: $KAFKA_LIBS ($(find "$KAFKA_LIBS" -name '*.jar' | wc -l) jars)"
}

# ---------------------------------------------------------------- files

kafka_cluster_id() {
  local f="$KAFKA_DIR/cluster.id"
  if [[ ! -s "$f" ]]; then
    mkdir -p "$KAFKA_DIR"
    # a Kafka Uuid: 16 random bytes, base64url without padding
    head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' >"$f.tmp"
    mv "$f.tmp" "$f"
  fi
  cat "$f"
}

secret_word() { head -c 24 /dev/urandom | base64 | tr -d '/+=\n'; }

# kafka_tls_files — dev CA, broker certificate (SAN 127.0.0.1, localhost) and SASL
# passwords, made once per run dir. Nothing secret is passed on a command line.
kafka_tls_files() {
  local d="$KAFKA_TLS_DIR"
  [[ -f "$d/.ok" ]] && return 0
  command -v openssl >/dev/null || die "openssl not found"
  rm -rf "$d"
  mkdir -p "$d"
  chmod 700 "$d"
  (
    umask 077
    cd "$d"
    {
      openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 3650 \
        -subj "/CN=skipstore dev Kafka CA $BASE"
      openssl req -newkey rsa:2048 -nodes -keyout broker.key -out broker.csr -subj "/CN=127.0.0.1"
      printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n' >broker.ext
      openssl x509 -req -in broker.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out broker.crt \
        -days 825 -extfile broker.ext
    } >openssl.log 2>&1 || { cat openssl.log >&2; exit 1; }
    # Kafka's PEM keystore: the unencrypted PKCS#8 key, then the certificate chain.
    cat broker.key broker.crt >broker.pem
    printf 'KAFKA_BROKER_PASSWORD=%s\nKAFKA_CLIENT_PASSWORD=%s\n' "$(secret_word)" "$(secret_word)" >sasl.env
    touch .ok
  ) || die "making the Kafka TLS files failed"
}

# the SASL passwords (TLS mode): KAFKA_BROKER_PASSWORD, KAFKA_CLIENT_PASSWORD
kafka_sasl_env() {
  # shellcheck disable=SC1091
  . "$KAFKA_TLS_DIR/sasl.env"
}

KAFKA_CLIENT_USER=skipstore

kafka_server_properties() {  # kafka_server_properties I
  local i=$1 j voters="" proto=PLAINTEXT dir="$KAFKA_DIR/$1"
  local mis=1
  (( KAFKA_NB >= 3 )) && mis=2
  for j in $(seq 1 "$KAFKA_NB"); do voters+="${voters:+,}$j@127.0.0.1:$(kafka_ctl_port "$j")"; done
  (( KAFKA_TLS )) && proto=SASL_SSL
  cat <<EOF
# Generated by ./dev (devtools/dev/kafka.sh) for broker $i of the cluster on port
# base $BASE. Rewritten by every start; do not edit.
process.roles=broker,controller
node.id=$i
controller.quorum.voters=$voters
listeners=$proto://127.0.0.1:$(kafka_port "$i"),CONTROLLER://127.0.0.1:$(kafka_ctl_port "$i")
advertised.listeners=$proto://127.0.0.1:$(kafka_port "$i")
controller.listener.names=CONTROLLER
inter.broker.listener.name=$proto
listener.security.protocol.map=$proto:$proto,CONTROLLER:PLAINTEXT
log.dirs=$dir/data

# Topics as the product wants them: also the shape of any auto-created topic
# (tests produce to scratch topics). ./dev creates $KAFKA_TOPIC explicitly.
auto.create.topics.enable=true
num.partitions=$KAFKA_PARTITIONS
default.replication.factor=$KAFKA_NB
min.insync.replicas=$mis
unclean.leader.election.enable=false
offsets.topic.replication.factor=$KAFKA_NB
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=$KAFKA_NB
transaction.state.log.min.isr=$mis
share.coordinator.state.topic.replication.factor=$KAFKA_NB
share.coordinator.state.topic.min.isr=$mis

# A dev box: 2 cores shared by everything else.
num.network.threads=2
num.io.threads=2
background.threads=2
num.replica.fetchers=1
num.recovery.threads.per.data.dir=1
log.cleaner.threads=1
# The first consumer of a group gets its partitions at once, not after 3 s.
group.initial.rebalance.delay.ms=0
# A killed broker is fenced (and its partitions move) 9 s after its last heartbeat
# (Kafka's default); heartbeats every second, so a live JVM starved of CPU for a few
# seconds on a loaded box is not fenced by mistake.
broker.heartbeat.interval.ms=1000
broker.session.timeout.ms=9000
EOF
  if (( KAFKA_TLS )); then
    kafka_sasl_env
    cat <<EOF

# TLS + SASL/PLAIN on the client (and inter-broker) listener; PEM key and certificate
# made by ./dev (dev CA: $KAFKA_TLS_DIR/ca.pem). The controller listener stays plaintext
# on loopback.
ssl.keystore.type=PEM
ssl.keystore.location=$KAFKA_TLS_DIR/broker.pem
ssl.truststore.type=PEM
ssl.truststore.location=$KAFKA_TLS_DIR/ca.pem
ssl.enabled.protocols=TLSv1.3,TLSv1.2
sasl.enabled.mechanisms=PLAIN
sasl.mechanism.inter.broker.protocol=PLAIN
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="broker" password="$KAFKA_BROKER_PASSWORD" user_broker="$KAFKA_BROKER_PASSWORD" user_$KAFKA_CLIENT_USER="$KAFKA_CLIENT_PASSWORD";
EOF
  fi
}

# client.properties (librdkafka, kcat -F) and admin.properties (Java admin tools).
kafka_client_files() {
  mkdir -p "$KAFKA_DIR"
  (
    umask 077
    if (( KAFKA_TLS )); then
      kafka_sasl_env
      printf '%s\n' "# librdkafka settings for this cluster (kcat -F); generated by ./dev" \
        "security.protocol=SASL_SSL" "ssl.ca.location=$KAFKA_TLS_DIR/ca.pem" \
        "sasl.mechanisms=PLAIN" "sasl.username=$KAFKA_CLIENT_USER" \
        "sasl.password=$KAFKA_CLIENT_PASSWORD" >"$KAFKA_DIR/client.properties.tmp"
      printf '%s\n' "# Java client settings for this cluster (admin tools); generated by ./dev" \
        "security.protocol=SASL_SSL" "ssl.truststore.type=PEM" \
        "ssl.truststore.location=$KAFKA_TLS_DIR/ca.pem" "sasl.mechanism=PLAIN" \
        "sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=\"$KAFKA_CLIENT_USER\" password=\"$KAFKA_CLIENT_PASSWORD\";" \
        >"$KAFKA_DIR/admin.properties.tmp"
    else
      echo "# librdkafka settings for this cluster (kcat -F): plaintext, nothing to set" >"$KAFKA_DIR/client.properties.tmp"
      echo "# Java client settings for this cluster (admin tools): plaintext, nothing to set" >"$KAFKA_DIR/admin.properties.tmp"
    fi
    mv "$KAFKA_DIR/client.properties.tmp" "$KAFKA_DIR/client.properties"
    mv "$KAFKA_DIR/admin.properties.tmp" "$KAFKA_DIR/admin.properties"
  )
}

# kafka_prepare — the files every client of this cluster needs (./dev up runs it before
# writing skipstored.yaml, which carries the TLS settings).
kafka_prepare() {
  mkdir -p "$KAFKA_DIR"
  chmod 700 "$KAFKA_DIR"
  (( KAFKA_TLS )) && kafka_tls_files
  kafka_client_files
}

# The kafka.producer / kafka.consumer pass-through lines of skipstored.yaml for this
# cluster (gen_config): nothing in plaintext mode; SASL_SSL settings in TLS mode.
kafka_yaml_props() {  # kafka_yaml_props producer|consumer
  (( KAFKA_TLS )) || return 0
  kafka_sasl_env
  cat <<EOF
  $1:
    security.protocol: SASL_SSL
    ssl.ca.location: "$KAFKA_TLS_DIR/ca.pem"
    sasl.mechanism: PLAIN
    sasl.username: $KAFKA_CLIENT_USER
    sasl.password: "$KAFKA_CLIENT_PASSWORD"
EOF
}

# ---------------------------------------------------------------- start, probe

# The mock: built by CMake when it knows the source, else straight with cc.
build_kafkamock() {
  local src="$TOOLS/kafkamock.c" out="$BUILD/skip-kafka-mock"
  [[ -f "$src" ]] || die "missing $src"
  if [[ ! -x "$out" || "$src" -nt "$out" ]]; then
    mkdir -p "$BUILD"
    # shellcheck disable=SC2046
    cc -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -o "$out.tmp" "$src" \
      $(pkg-config --cflags --libs rdkafka) -ldl && mv "$out.tmp" "$out"
  fi
}

BUILD_FAILED=0

# start_kafka NAME — launch one broker with its data (formatting the data dir the first
# time). Does not wait for it to answer.
start_kafka() {
  local name=${1:-kafka}
  if [[ "$KAFKA_MODE" == mock ]]; then
    [[ -x "$BUILD/skip-kafka-mock" ]] || build_kafkamock
    launch "$name" "$BUILD/skip-kafka-mock" "$(port_of "$name")" "$KAFKA_TOPIC" "$KAFKA_PARTITIONS"
    return
  fi
  kafka_fetch_wait || die "no Kafka jars"
  local i dir cid jopts
  mapfile -t jopts < <(kafka_java_opts broker)
  i=$(kafka_index "$name")
  dir="$KAFKA_DIR/$i"
  kafka_prepare
  mkdir -p "$dir"
  cid=$(kafka_cluster_id)
  ( umask 077; kafka_server_properties "$i" >"$dir/server.properties.tmp" )
  mv "$dir/server.properties.tmp" "$dir/server.properties"
  # One process from the format to the broker (its pid is the broker's after exec), so
  # that three brokers format in parallel. A data dir without meta.properties never
  # finished formatting: start it over.
  # shellcheck disable=SC2016
  launch "$name" bash -c '
    props=$1 data=$2 cid=$3
    shift 3
    if [[ ! -f "$data/meta.properties" ]]; then
      rm -rf "$data"
      "$@" kafka.tools.StorageTool format -t "$cid" -c "$props" || exit 1
    fi
    exec "$@" kafka.Kafka "$props"' kafka-start "$dir/server.properties" "$dir/data" "$cid" \
    java "${jopts[@]}" -Dkafka.logs.dir="$dir/logs" -cp "$KAFKA_LIBS/*"
}

# kafka_answers [NAME] — that broker serves metadata on its client listener (and, for
# the mock, the topic is there).
kafka_answers() {
  local name=${1:-kafka} i port
  port=$(port_of "$name")
  if [[ "$KAFKA_MODE" == mock ]]; then
    timeout 5 kcat -b "127.0.0.1:$port" -L -t "$KAFKA_TOPIC" -m 3 2>/dev/null | grep -q "partition 0, leader"
    return
  fi
  i=$(kafka_index "$name")
  [[ -f "$(kafka_client_conf)" ]] || return 1
  # Only broker i is the bootstrap, so a broker list at all means it answered; it
  # must list itself (registered with the controller and unfenced).
  timeout 5 kcat -F "$(kafka_client_conf)" -b "127.0.0.1:$port" -L -m 4 2>/dev/null | grep -q "^  broker $i at 127.0.0.1:$port"
}

# kafka_topic_partitions → "<partitions> <with a leader>" of $KAFKA_TOPIC, from the
# metadata of all topics (asking for the topic by name could auto-create it).
kafka_topic_partitions() {
  timeout 10 kcat -F "$(kafka_client_conf)" -b "$(kafka_bootstrap)" -L -m 5 2>/dev/null | awk -v t="$KAFKA_TOPIC" '
    /^  topic "/ { intopic = ($2 == "\"" t "\"") ; if (intopic) n = $4; next }
    intopic && /^    partition [0-9]+, leader/ { l = $4; sub(",", "", l); if (l != "-1") led++ }
    END { printf "%d %d\n", n, led }'
}

# kafka_ensure_topic — create $KAFKA_TOPIC (partitions the mirror expects; replication
# factor = brokers; min.insync.replicas=2 with three) unless it exists, then wait until
# every partition has a leader.
kafka_ensure_topic() {
  [[ "$KAFKA_MODE" == mock ]] && return 0
  local np led deadline
  read -r np led < <(kafka_topic_partitions)
  if (( np == 0 )); then
    local cfg=()
    (( KAFKA_NB >= 3 )) && cfg=(--config min.insync.replicas=2)
    local jopts
    mapfile -t jopts < <(kafka_java_opts tool)
    if ! java "${jopts[@]}" -cp "$KAFKA_LIBS/*" org.apache.kafka.tools.TopicCommand \
        --bootstrap-server "$(kafka_bootstrap)" --command-config "$KAFKA_DIR/admin.properties" \
        --create --if-not-exists --topic "$KAFKA_TOPIC" --partitions "$KAFKA_PARTITIONS" \
        --replication-factor "$KAFKA_NB" "${cfg[@]}" >>"$RUN/log/kafka-admin.log" 2>&1 </dev/null; then
      log "dev: creating topic $KAFKA_TOPIC failed; last lines of $RUN/log/kafka-admin.log:"
      tail -20 "$RUN/log/kafka-admin.log" >&2
      return 1
    fi
  elif (( np != KAFKA_PARTITIONS )); then
    log "dev: warning: topic $KAFKA_TOPIC has $np partitions, not $KAFKA_PARTITIONS"
  fi
  deadline=$((SECONDS + 60))
  while (( SECONDS < deadline )); do
    read -r np led < <(kafka_topic_partitions)
    (( np > 0 && led == np )) && return 0
    sleep 0.2
  done
  log "dev: topic $KAFKA_TOPIC: $led of $np partitions have a leader after 60 s"
  return 1
}
