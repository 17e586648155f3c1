#!/usr/bin/env bash
# packaging/check-deb.sh DEB — checks of the built Debian package (./dev package,
# .ci/run):
#   1. contents (dpkg-deb -c): binaries, units, config, man pages, schema, docs
#   2. control: conffiles, Depends (dpkg-shlibdeps ran), maintainer scripts
#   3. lintian: no E: tags (W: and I: are printed)
#   4. a real install in a throwaway root: an overlay of / in a private mount
#      namespace, chroot, `dpkg -i`: the skipstore user, the config 0640
#      root:skipstore and readable by that user only, `systemd-analyze verify`
#      on the installed units, man pages found; a re-install keeps a local
#      edit of the conffile; `dpkg --purge` removes everything it added.
#      Nothing on this machine changes (the overlay's upper layer is a temp
#      dir). Needs root and overlayfs; without them step 4 says SKIPPED.
set -euo pipefail
DEB=$(readlink -f "$1")
fails=0
fail() { echo "check-deb: FAIL: $*"; fails=$((fails + 1)); }
note() { echo "check-deb: $*"; }

# ---- 1. contents
list=$(dpkg-deb -c "$DEB" | awk '{print $6}')
want=(./usr/bin/skipstored ./usr/bin/skipstore-mirror ./usr/bin/skipctl ./usr/bin/skipbench
  ./lib/systemd/system/skipstored.service ./lib/systemd/system/skipstore-mirror.service
  ./etc/skipstore/skipstore.yaml
  ./usr/share/doc/skipstore/examples/skipstore.production.yaml
  ./usr/share/doc/skipstore/examples/skipstore.example.yaml ./usr/share/doc/skipstore/examples/keys.example.yaml
  ./usr/share/doc/skipstore/copyright ./usr/share/doc/skipstore/changelog.gz
  ./usr/share/doc/skipstore/README.md.gz
  ./usr/share/skipstore/schema/group_v1.sql ./usr/share/skipstore/schema/merchant_v1.sql
  ./usr/share/man/man8/skipstored.8.gz ./usr/share/man/man8/skipstore-mirror.8.gz
  ./usr/share/man/man8/skipctl.8.gz ./usr/share/man/man8/skipctl-drill.8.gz
  ./usr/share/man/man1/skipbench.1.gz)
for p in "${want[@]}"; do
  grep -qxF "$p" <<<"$list" || fail "not in the package: $p"
done
note "contents: $(grep -c . <<<"$list") entries, ${#want[@]} required ones checked"

# ---- 2. control
ctl=$(mktemp -d)
trap 'rm -rf "$ctl"' EXIT
dpkg-deb -e "$DEB" "$ctl"
grep -qxF /etc/skipstore/skipstore.yaml "$ctl/conffiles" || fail "conffiles does not list /etc/skipstore/skipstore.yaml"
deps=$(dpkg-deb -f "$DEB" Depends)
for d in adduser libc6 libmariadb3 librdkafka1 libhiredis libyaml libjansson libssl3; do
  grep -q "$d" <<<"$deps" || fail "Depends lacks $d: $deps"
done
for s in postinst prerm postrm; do
  [[ -x "$ctl/$s" ]] || fail "$s missing or not executable"
  sh -n "$ctl/$s" || fail "$s: shell syntax"
done
note "Depends: $deps"

# ---- 3. lintian
if command -v lintian >/dev/null; then
  lint=$(lintian --pedantic -I "$DEB" 2>&1 | grep -v 'running with root privileges' || true)
  [[ -n "$lint" ]] && printf '%s\n' "$lint" | sed 's/^/check-deb: lintian: /'
  nerr=$(grep -c '^E:' <<<"$lint" || true)
  nwarn=$(grep -c '^W:' <<<"$lint" || true)
  (( nerr == 0 )) || fail "lintian: $nerr error(s)"
  note "lintian $(lintian --version | awk '{print $2}'): $nerr errors, $nwarn warnings"
else
  fail "lintian not installed (apt-get install lintian)"
fi

# ---- 4. install in a throwaway root
install_test() {
  cat <<'INNER'
set -eu
DEB=$1
err() { echo "install: FAIL: $*"; exit 1; }
dpkg -i "$DEB" >/tmp/dpkg.log 2>&1 || { cat /tmp/dpkg.log; err "dpkg -i"; }
getent passwd skipstore | grep -q ':/nonexistent:/usr/sbin/nologin$' || err "no system user skipstore"
st=$(stat -c '%U:%G %a' /etc/skipstore/skipstore.yaml)
[ "$st" = "root:skipstore 640" ] || err "config is $st, want root:skipstore 640"
runuser -u skipstore -- /usr/bin/skipctl config check /etc/skipstore/skipstore.yaml >/dev/null ||
  err "skipstore cannot load /etc/skipstore/skipstore.yaml"
if runuser -u nobody -- cat /etc/skipstore/skipstore.yaml >/dev/null 2>&1; then err "nobody can read the config"; fi
out=$(systemd-analyze verify /lib/systemd/system/skipstored.service /lib/systemd/system/skipstore-mirror.service 2>&1) ||
  err "systemd-analyze verify: $out"
[ -z "$out" ] || err "systemd-analyze verify warned: $out"
man -w skipstored skipstore-mirror skipctl skipctl-group skipbench >/dev/null || err "man pages not found"
/usr/bin/skipstored --help | grep -qx NAME || err "skipstored --help"
echo "# local edit" >>/etc/skipstore/skipstore.yaml
dpkg -i --force-confold "$DEB" >/tmp/dpkg.log 2>&1 || { cat /tmp/dpkg.log; err "re-install"; }
grep -qx "# local edit" /etc/skipstore/skipstore.yaml || err "re-install lost the local edit of the conffile"
st=$(stat -c '%U:%G %a' /etc/skipstore/skipstore.yaml)
[ "$st" = "root:skipstore 640" ] || err "after re-install the config is $st"
dpkg --purge skipstore >/tmp/dpkg.log 2>&1 || { cat /tmp/dpkg.log; err "dpkg --purge"; }
for f in /usr/bin/skipstored /lib/systemd/system/skipstored.service /etc/skipstore/skipstore.yaml; do
  [ ! -e "$f" ] || err "$f left after purge"
done
if dpkg-statoverride --list /etc/skipstore/skipstore.yaml >/dev/null; then err "statoverride left after purge"; fi
echo "install: ok (user, 0640 root:skipstore, verify, man, conffile kept, purge)"
INNER
}
if [[ $EUID -ne 0 ]]; then
  note "install test SKIPPED: needs root"
elif ! unshare --mount --propagation private true 2>/dev/null; then
  note "install test SKIPPED: cannot make a mount namespace here (unshare)"
else
  ov=$(mktemp -d /tmp/skipstore-deb-root.XXXXXX)
  mkdir -p "$ov/upper" "$ov/work" "$ov/root"
  cp "$DEB" "$ov/pkg.deb"
  install_test >"$ov/inner.sh"
  set +e
  unshare --mount --propagation private sh -c '
    set -e
    mount -t overlay overlay -o "lowerdir=/,upperdir=$1/upper,workdir=$1/work" "$1/root" || exit 90
    mount --bind /proc "$1/root/proc"
    mount --bind /dev "$1/root/dev"
    mount -t tmpfs tmpfs "$1/root/run"
    exec chroot "$1/root" sh "$1/inner.sh" "$1/pkg.deb"' sh "$ov" 2>&1 | sed 's/^/check-deb: /'
  rc=${PIPESTATUS[0]}
  set -e
  rm -rf "$ov"
  if (( rc == 90 )); then
    note "install test SKIPPED: cannot mount an overlay of / here (the checks above still ran)"
  elif (( rc != 0 )); then
    fail "install test (rc $rc)"
  fi
fi

if (( fails )); then
  echo "check-deb: $fails failure(s): $DEB"
  exit 1
fi
echo "check-deb: ok: $DEB"
