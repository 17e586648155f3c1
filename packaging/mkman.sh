#!/bin/sh
# packaging/mkman.sh BIN_DIR OUT_DIR VERSION — the man pages, from the programs'
# own --help (common/help.h: the help text is laid out like a man page, so the
# two never drift apart). Writes OUT_DIR/manN/NAME.N.gz:
#   skipstored(8) skipstore-mirror(8) skipctl(8) skipctl-CMD(8) skipbench(1)
# Run at install time (cmake/package.cmake), so `cmake --install` and cpack
# ship them; a plain build does not run it.
set -eu
BIN=$1
OUT=$2
VER=$3

# help text on stdin -> roff on stdout. Headings become .SH; NAME is one
# filled line "name \- what"; every other body is kept as laid out (.nf),
# with the 4-space body indent dropped (man indents section bodies itself).
to_roff() {
  awk -v name="$1" -v sec="$2" -v ver="$VER" '
    function esc(s) {
      gsub(/\\/, "\\e", s)
      gsub(/-/, "\\-", s)
      if (s ~ /^[.\047]/) s = "\\&" s
      return s
    }
    function flush_blanks() { while (blanks > 0) { print ""; blanks-- } }
    BEGIN {
      printf ".TH \"%s\" \"%s\" \"\" \"skipstore %s\" \"skipstore manual\"\n", esc(toupper(name)), sec, ver
    }
    /^[A-Z][A-Z0-9 -]*$/ {
      if (nf) print ".fi"
      nf = 0; blanks = 0; section = $0
      print ($0 ~ / /) ? ".SH \"" $0 "\"" : ".SH " $0
      next
    }
    /^ *$/ { if (nf) blanks++; next }
    {
      sub(/^    /, "")
      if (section == "NAME") { print esc($0); next }
      if (!nf) { print ".nf"; nf = 1 }
      flush_blanks()
      print esc($0)
    }
    END { if (nf) print ".fi" }'
}

page() {  # page NAME SECTION COMMAND...
  name=$1 sec=$2
  shift 2
  mkdir -p "$OUT/man$sec"
  "$@" --help | to_roff "$name" "$sec" | gzip -9n >"$OUT/man$sec/$name.$sec.gz"
}

page skipstored 8 "$BIN/skipstored"
page skipstore-mirror 8 "$BIN/skipstore-mirror"
page skipbench 1 "$BIN/skipbench"
"$BIN/skipctl" help --pages | while read -r name cmd; do
  if [ "$cmd" = - ]; then
    page "$name" 8 "$BIN/skipctl"
  else
    page "$name" 8 "$BIN/skipctl" "$cmd"
  fi
done
