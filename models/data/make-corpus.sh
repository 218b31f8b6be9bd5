#!/bin/sh
# Rebuilds kjv-train.txt and kjv-valid.txt from Debian's public-domain King James text
# (packages bible-kjv-text + bible-kjv, version 4.38). Not needed on a clean clone: the
# output files are committed. Usage: sh models/data/make-corpus.sh [BIBLE_BINARY_DIR]
#
# Recipe: print every verse ("bible -f Gen1:1-Rev22:21": one verse a line, prefixed with
# its reference), keep the books below, drop the reference prefix, one verse per line.
# Train: Genesis, Exodus, 1-2 Samuel, 1-2 Kings, Matthew, Mark, Luke, John, Acts.
# Held out: Ruth and Jonah (whole books never seen in training).
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${1:-/usr/bin}
LIB=${BIBLE_DATA_DIR:-/usr/lib}
TMP=$(mktemp)
"$BIN/bible" -p "$LIB" -f "Gen1:1-Rev22:21" > "$TMP"
pick() { for b in "$@"; do grep -E "^$b[0-9]+:[0-9]+ " "$TMP"; done | sed -E 's/^[0-9]?[A-Za-z]+[0-9]+:[0-9]+ //'; }
pick Ge Exo 1Sm 2Sm 1Ki 2Ki Mat Mark Luke John Acts > "$HERE/kjv-train.txt"
pick Ruth Jonah > "$HERE/kjv-valid.txt"
rm -f "$TMP"
wc -c "$HERE/kjv-train.txt" "$HERE/kjv-valid.txt"
