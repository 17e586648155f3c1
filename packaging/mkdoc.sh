#!/bin/sh
# packaging/mkdoc.sh SRC_DIR DOC_DIR VERSION MAINTAINER — the package's
# compressed docs: README.md, docs/*.md and a Debian-format changelog, gzip -9n
# (reproducible: no name or time stamp in the archive). Run at install time.
set -eu
SRC=$1
DOC=$2
VER=$3
MAINT=$4
mkdir -p "$DOC/docs"
gzip -9nc "$SRC/README.md" >"$DOC/README.md.gz"
for f in "$SRC"/docs/*.md; do
  [ -f "$f" ] || continue
  gzip -9nc "$f" >"$DOC/docs/$(basename "$f").gz"
done
# the date of the last commit (reproducible), else now
when=""
if [ -n "${SOURCE_DATE_EPOCH:-}" ]; then
  when=$(LC_ALL=C date -u -R -d "@$SOURCE_DATE_EPOCH")
elif git -C "$SRC" rev-parse --git-dir >/dev/null 2>&1; then
  when=$(LC_ALL=C date -u -R -d "@$(git -C "$SRC" log -1 --format=%ct)")
fi
[ -n "$when" ] || when=$(LC_ALL=C date -u -R)
sed -e "s|@VERSION@|$VER|" -e "s|@MAINTAINER@|$MAINT|" -e "s|@DATE@|$when|" \
  "$SRC/packaging/debian/changelog.in" | gzip -9n >"$DOC/changelog.gz"
