#!/bin/sh
# Regenerate the README's figures from the built-in tours, headless, into docs/images/.
# Usage: docs/make_figures.sh  (or: make figures). Needs no display.
# Positions are found by what the event says, so the figures follow the tours if their
# event numbers shift.
set -eu
cd "$(dirname "$0")/.."
VMMEMVIZ=${VMMEMVIZ:-.venv/bin/vmmemviz}
OUT=${OUT:-docs/images}
mkdir -p "$OUT"

# the number of the first event of TOUR whose narration matches the extended regex RE
at() {
  n=$("$VMMEMVIZ" run "$1" --events | grep -E -m1 -- "$2" | awk '{print $1}')
  [ -n "$n" ] || { echo "make_figures: no event of $1 says: $2" >&2; exit 1; }
  echo "$n"
}

T=$(at translation "in ept01 read GVPN 0x0 .*TLB miss")
"$VMMEMVIZ" export translation --at "$T" --format png --out "$OUT/translation.png" --caption --no-empty-stores \
  --title "Shadow page tables vs EPT: a TLB miss costs 4 or 24 memory references"

B=$(at boot "lin01's guest OS loaded its kernel")
"$VMMEMVIZ" export boot --at "$B" --format png --out "$OUT/boot.png" --caption --no-empty-stores \
  --title "At boot Windows touches all its memory, Linux only its kernel"
"$VMMEMVIZ" export boot --at "$B" --format svg --out "$OUT/boot-machine.svg" --band mp \
  --title "Machine memory after boot (SVG)"

F=$(at allocation "freed GVPN 0x0-0x3f")
"$VMMEMVIZ" export allocation --range "$((F - 1)):$((F + 4))" --format gif --fps 5 --caption --no-empty-stores \
  --out "$OUT/allocation.gif" --title "Freed pages keep their machine memory; the next allocation reuses them"

ls -l "$OUT"
