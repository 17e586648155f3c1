#!/usr/bin/env bash
# bench/tls_vs_plain.sh — the cost of trust (spec §10, issue 10): create
# throughput of one skipstored with auth.mode off over plain HTTP (A) against
# the same config with auth on — signed requests, signed responses — over
# HTTPS with client certificates (mTLS) (B), measured with skipbench in the
# same run, interleaved A B A B ... so drift on a shared machine hits both.
#
#   SKIP_PORT_BASE=26000 bench/tls_vs_plain.sh [RUNS [DURATION_S [CONCURRENCY]]]
#
# Needs a running ./dev cluster of that base (./dev up). Starts two extra
# daemons from `./dev config` (node ids 81, 82; ports base+105 plain for A,
# base+106 HTTPS for B, the dev PKI under $RUN/tls), both alive for the whole
# run so each phase sees the same background; stops exactly those two at the
# end. Prints each run and the B/A ratios (goal >= 0.95).
# TLS_VS_PLAIN_SPLIT=1 adds a third daemon C (node 83, base+107): auth on,
# signed, plain HTTP — B/C is then the cost of TLS alone, C/A that of signing.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUNS=${1:-3}
DUR=${2:-20}
CONC=${3:-16}
export SKIP_PORT_BASE=${SKIP_PORT_BASE:-17000}
# the cluster's env file: SKIP_RUN_DIR, SKIP_BUILD_DIR, SKIP_KEYS, SKIP_TLS_DIR, ...
eval "$("$REPO/dev" env)"
RUN=${SKIP_RUN_DIR:-$(dirname "$SKIP_CONFIG")}
BIN=${SKIP_BUILD_DIR:-$REPO/build}
TLS=$SKIP_TLS_DIR
PA=$((SKIP_PORT_BASE + 105))
PB=$((SKIP_PORT_BASE + 106))
PC=$((SKIP_PORT_BASE + 107))
SPLIT=${TLS_VS_PLAIN_SPLIT:-0}
OUT="$RUN/bench-tls"
mkdir -p "$OUT"
rm -f "$OUT"/[abc][0-9]*.txt "$OUT"/[abc][0-9]*.err

# config A: auth off, plain only
SKIP_DAEMON_PORT=$PA SKIP_NODE_ID=81 "$REPO/dev" config |
  sed -E 's/^(  mode: )on$/\1"off"/' >"$OUT/plain.yaml"
# config B: the same with auth on, no plain listener, HTTPS with a pinned client CA
SKIP_DAEMON_PORT=$PB SKIP_NODE_ID=82 "$REPO/dev" config |
  sed -E 's/^listen: .*/listen: ""/' >"$OUT/tls.yaml"
printf 'listen_tls: "127.0.0.1:%d"\ntls:\n  cert: "%s/server.pem"\n  key: "%s/server.key"\n  client_ca: "%s/ca.pem"\n' \
  "$PB" "$TLS" "$TLS" "$TLS" >>"$OUT/tls.yaml"
SKIP_DAEMON_PORT=$PC SKIP_NODE_ID=83 "$REPO/dev" config >"$OUT/signed.yaml"
grep -q '^  mode: "off"$' "$OUT/plain.yaml" || { echo "tls_vs_plain: could not turn auth off in A's config" >&2; exit 1; }
grep -q '^  mode: on$' "$OUT/tls.yaml" || { echo "tls_vs_plain: B's config has auth off" >&2; exit 1; }

PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
"$BIN/skipstored" --config "$OUT/plain.yaml" >"$OUT/plain.log" 2>&1 &
PIDS+=($!)
"$BIN/skipstored" --config "$OUT/tls.yaml" >"$OUT/tls.log" 2>&1 &
PIDS+=($!)
if (( SPLIT )); then
  "$BIN/skipstored" --config "$OUT/signed.yaml" >"$OUT/signed.log" 2>&1 &
  PIDS+=($!)
fi

URL_A="http://127.0.0.1:$PA"
URL_B="https://127.0.0.1:$PB"
URL_C="http://127.0.0.1:$PC"
CERT="$TLS/client-admin.pem"
KEY="$TLS/client-admin.key"
for _ in $(seq 1 150); do
  a=$(curl -s -o /dev/null -w '%{http_code}' "$URL_A/readyz" || true)
  b=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$TLS/ca.pem" --cert "$CERT" --key "$KEY" "$URL_B/readyz" || true)
  c=200
  (( SPLIT )) && c=$(curl -s -o /dev/null -w '%{http_code}' "$URL_C/readyz" || true)
  [[ "$a" == 200 && "$b" == 200 && "$c" == 200 ]] && break
  sleep 0.2
done
[[ "$a" == 200 && "$b" == 200 ]] || { echo "tls_vs_plain: daemons not ready (A $a, B $b); see $OUT/*.log" >&2; exit 1; }

# A: unsigned (no SKIP_KEYS: auth is off, the daemon signs no answer)
bench_a() { SKIP_KEYS= "$BIN/skipbench" --url "$URL_A" --mix create --concurrency "$CONC" --duration "$DUR"; }
# B: signed with the admin key of $SKIP_KEYS, HTTPS, client certificate
bench_b() { "$BIN/skipbench" --url "$URL_B" --ca "$TLS/ca.pem" --cert "$CERT" --key "$KEY" \
  --mix create --concurrency "$CONC" --duration "$DUR"; }
# C: signed, plain HTTP
bench_c() { "$BIN/skipbench" --url "$URL_C" --mix create --concurrency "$CONC" --duration "$DUR"; }
rate() { grep -oE '[0-9.]+ ok/s' "$1" | head -1 | cut -d' ' -f1; }
fails() { grep -oE '[0-9]+ failed' "$1" | head -1 | cut -d' ' -f1; }

echo "tls_vs_plain: $RUNS runs of A B B A (A: auth off, plain HTTP; B: auth on, signed, HTTPS + mTLS)," \
  "--mix create --concurrency $CONC --duration $DUR"
ratios=()
# A phase that follows another pays for its background work (relay and mirror
# draining its events, InnoDB flushing its pages): measured 0.81/1.00/0.83 for
# A-B/B-A/A-B orders on one box. So each run is A B B A (each kind once first,
# once second, pause before each phase) and its ratio (B1+B2)/(A1+A2).
PAUSE=${TLS_VS_PLAIN_PAUSE:-5}
phase() {  # phase a|b RUN
  sleep "$PAUSE"
  "bench_$1" >"$OUT/$1$2.txt" 2>"$OUT/$1$2.err" || { cat "$OUT/$1$2.err" >&2; exit 1; }
}
for i in $(seq 1 "$RUNS"); do
  phase a "${i}1"; phase b "${i}1"; phase b "${i}2"; phase a "${i}2"
  ra1=$(rate "$OUT/a${i}1.txt"); ra2=$(rate "$OUT/a${i}2.txt")
  rb1=$(rate "$OUT/b${i}1.txt"); rb2=$(rate "$OUT/b${i}2.txt")
  ra=$(awk -v x="$ra1" -v y="$ra2" 'BEGIN { printf "%.1f", (x + y) / 2 }')
  rb=$(awk -v x="$rb1" -v y="$rb2" 'BEGIN { printf "%.1f", (x + y) / 2 }')
  r=$(awk -v a="$ra" -v b="$rb" 'BEGIN { printf "%.3f", (a > 0 ? b / a : 0) }')
  ratios+=("$r")
  nf=$(cat "$OUT"/[ab]"$i"[12].txt | grep -oE '[0-9]+ failed' | awk '{ s += $1 } END { print s + 0 }')
  printf 'run %d (A B B A): A %s %s -> %s ok/s  B %s %s -> %s ok/s  failed %s  B/A %s\n' "$i" "$ra1" "$ra2" "$ra" \
    "$rb1" "$rb2" "$rb" "$nf" "$r"
  if (( SPLIT )); then
    phase c "${i}1"
    rc_=$(rate "$OUT/c${i}1.txt")
    printf '       C (signed, plain, after A B B A) %s ok/s (%s failed)  C/A %s  B/C %s\n' "$rc_" \
      "$(fails "$OUT/c${i}1.txt")" \
      "$(awk -v a="$ra" -v c="$rc_" 'BEGIN { printf "%.3f", (a > 0 ? c / a : 0) }')" \
      "$(awk -v b="$rb" -v c="$rc_" 'BEGIN { printf "%.3f", (c > 0 ? b / c : 0) }')"
  fi
done
printf 'B/A ratios: %s\n' "${ratios[*]}"
printf '%s\n' "${ratios[@]}" | sort -n | awk '{ v[NR] = $1 } END { printf "median B/A: %.3f (goal >= 0.95)\n", v[int((NR + 1) / 2)] }'
