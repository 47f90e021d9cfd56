#!/bin/sh
# Compares `abovo audit` of two binaries over the report's variants (text,
# JSON, HTML, --all, --through-fixed, --seed-dir, --only, --against,
# another --source, a fetch cache with seed bytes): their standard output
# and exit codes must be byte-identical. Each binary gets its own cache
# directory, so neither reads what the other wrote.
#
#   scripts/compare-audit.sh OLD_BINARY NEW_BINARY
#
# Needs the data folders (ABOVO_GUIX_SLICE, ABOVO_SEED_BYTES, as .ci/run
# sets them). Exit 0 when every variant agrees, 1 otherwise.
set -u
old=$1 new=$2
: "${ABOVO_GUIX_SLICE:?set ABOVO_GUIX_SLICE (the Guix 1.2.0 slice)}"
: "${ABOVO_SEED_BYTES:?set ABOVO_SEED_BYTES (the seed bytes)}"
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
# A fetch cache holding the seed bytes, one copy per binary.
ABOVO_CACHE_DIR="$work/fc" "$old" fetch -q --offline --seed-dir "$ABOVO_SEED_BYTES" hello \
    >/dev/null 2>&1
rm -rf "$work/fc/snapshots"
cp -a "$work/fc" "$work/fc-old"
cp -a "$work/fc" "$work/fc-new"
fc=--cache-dir=$work/fc-SIDE
fail=0 n=0
while IFS='|' read -r name args; do
    [ -n "$name" ] || continue
    n=$((n + 1))
    for side in old new; do
        bin=$old
        [ $side = new ] && bin=$new
        a=$(printf '%s' "$args" | sed "s|SIDE|$side|g")
        # shellcheck disable=SC2086 # the arguments are split on purpose
        ABOVO_CACHE_DIR="$work/cache-$side" "$bin" audit --color never $a \
            >"$work/$side.raw" 2>"$work/$side.err"
        echo "exit $?" >>"$work/$side.raw"
        # The fetch cache's own path differs by side, and only it.
        sed "s|/fc-$side/|/fc-SIDE/|g" "$work/$side.raw" >"$work/$side.out"
    done
    if cmp -s "$work/old.out" "$work/new.out"; then
        echo "same     $name"
    else
        echo "DIFFERS  $name"
        diff "$work/old.out" "$work/new.out" | head -10
        fail=1
    fi
done <<LIST
text|
json|-f json
html|-f html
all|--all
top 3, json|--top 3 -f json
through-fixed|--through-fixed
through-fixed json|--through-fixed -f json
seed-dir|--seed-dir $ABOVO_SEED_BYTES
seed-dir json|--seed-dir $ABOVO_SEED_BYTES -f json
only|--only hello,guile,pandoc
only json|--only hello,guile,pandoc,python-pytorch -f json
no-store json|--no-store -f json
fetch cache|$fc
fetch cache json|$fc -f json
fetch cache html all|$fc -f html --all
slice|--source $ABOVO_GUIX_SLICE
slice json|--source $ABOVO_GUIX_SLICE -f json
slice through-fixed json|--source $ABOVO_GUIX_SLICE --through-fixed -f json
against slice|--against $ABOVO_GUIX_SLICE
against slice json|--against $ABOVO_GUIX_SLICE -f json
LIST
echo "$n variants"
exit $fail
