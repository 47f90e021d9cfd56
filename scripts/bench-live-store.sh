#!/usr/bin/env bash
# The index of a live store (issue 14, item 2), as a user meets it: whole
# `abovo` processes on a 200,000-.drv store under /tmp (the corpus's 71,817
# .drv files and 128,183 derivations generated with abovo's own writer,
# valid paths, real input edges into the corpus; see
# crates/abovo-index/examples/live_store.rs), with a Guix daemon database
# beside it. Times: the first index; queries on the unchanged store; the
# query after 100 .drv files were registered (database), added without a
# database (listing), and after a `guix gc` of 100 (count, then listing);
# and a query without the index, for comparison.
#
# Usage: scripts/bench-live-store.sh [CORPUS_DIR]
#   CORPUS_DIR defaults to $ABOVO_GUIX_CORPUS, then ../shared/data/guix-1.5.0.
#   ABOVO=PATH times another binary (default: target/release/abovo, built if
#   missing); KEEP=1 leaves the store in $OUT (default /tmp/abovo-live-store),
#   REUSE=1 uses one left so. Needs hyperfine and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
corpus="${1:-${ABOVO_GUIX_CORPUS:-../shared/data/guix-1.5.0}}"
out="${OUT:-/tmp/abovo-live-store}"
abovo="${ABOVO:-$PWD/target/release/abovo}"
[ -x "$abovo" ] || cargo build --release -p abovo
command -v hyperfine >/dev/null || { echo "needs hyperfine" >&2; exit 2; }

# The store takes minutes to make: REUSE=1 keeps one a KEEP=1 run left
# (its reserve must still hold the 1,000 files).
if [ "${REUSE:-0}" != 1 ] || [ ! -f "$out/.complete" ]; then
  rm -rf "$out"
  cargo run -q --profile test -p abovo-index --example live_store -- \
    "$corpus" "$out" 200000 1000 --database
  touch "$out/.complete"
fi
rm -rf "$out/cache"
store="$out/gnu/store"
db="$out/var/guix/db/db.sqlite"
export ABOVO_CACHE_DIR="$out/cache"
unset ABOVO_NO_INDEX
echo "store: $(ls "$store" | wc -l) .drv files; $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"

echo "== first index (parse every .drv, write records and snapshot)"
hyperfine --runs 3 "$abovo index --source $store --rebuild"

echo "== unchanged store (the directory's time; the snapshot only)"
touch -d '1 hour ago' "$store"
"$abovo" index --source "$store"
hyperfine --warmup 3 --runs 30 -N \
  "$abovo index --source $store" \
  "$abovo closure hello --source $store" \
  "$abovo dependents /gnu/store/b4096cawvhhqmw16adjqd5xqc7blhd9y-glibc-2.41.drv --source $store" \
  "$abovo path hello bash-static --source $store" \
  "$abovo closure hello --source $store --format json"

echo "== without the index (every .drv parsed)"
hyperfine --runs 3 "$abovo closure hello --source $store --no-index"

# Moves N files of the reserve into the store; with `register`, registers
# them as the daemon would.
add() {
  local n=$1 mode=$2
  local names
  # `sed` reads the whole listing: `head` would leave `ls` writing into a
  # closed pipe, and under `pipefail` its SIGPIPE (status 141) ends the script.
  names=$(ls "$out/reserve" | sed -n "1,${n}p")
  for f in $names; do mv "$out/reserve/$f" "$store/"; done
  if [ "$mode" = register ]; then
    printf '%s\n' $names | python3 -c '
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.executemany("insert into ValidPaths (path, hash, registrationTime, narSize) values (?, ?, 0, 0)",
               [("/gnu/store/" + l.strip(), "sha256:" + "0" * 64) for l in sys.stdin if l.strip()])
db.commit()' "$db"
  fi
}

# One timed `abovo index` (a query does the same work before answering).
timed() {
  local start end
  start=$(date +%s%N)
  "$abovo" index --source "$store" --format json |
    python3 -c 'import json,sys; v=json.load(sys.stdin); print(v["how"], v["checked_by"], "added", v["added"], "removed", v["removed"], "derivations", v["derivations"], end=" ")'
  end=$(date +%s%N)
  echo "$(( (end - start) / 1000000 )) ms"
}

echo "== 100 .drv registered since (the database's rows above the last id)"
for _ in 1 2 3 4 5; do add 100 register; timed; done

echo "== a guix gc of 100 .drv (the count changed, so a listing)"
for _ in 1 2 3; do
  victims=$(ls "$store" | grep -e '-generated-' | sed -n '1,100p')
  for f in $victims; do rm "$store/$f"; done
  printf '%s\n' $victims | python3 -c '
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.executemany("delete from ValidPaths where path = ?", [("/gnu/store/" + l.strip(),) for l in sys.stdin if l.strip()])
db.commit()' "$db"
  timed
done

echo "== 100 .drv added without a database (a listing, every stamp compared)"
mv "$db" "$db.aside"
for _ in 1 2 3; do add 100 copy; timed; done
mv "$db.aside" "$db"

du -sh "$ABOVO_CACHE_DIR/index"
[ "${KEEP:-0}" = 1 ] || rm -rf "$out"
