#!/usr/bin/env bash
# The content scanner's speed and memory, as `abovo scan` runs it: whole
# processes on one core (the scanner is single-threaded), page cache warm,
# against `xz -dc` and `zstd -dc` on the same files.
#
# Throughput is bytes *unpacked* (what the scanner reads, classifies and
# counts) per second of CPU time (user + system), which a busy machine
# disturbs less than wall time; wall time is printed too. Max RSS comes
# from GNU time's `%M`.
#
# Usage: scripts/bench-scan.sh [WORKDIR]
#   WORKDIR (default ${TMPDIR:-/tmp}/abovo-bench-scan) receives the inputs,
#   made once from the corpus and the system:
#   - sources.tar      the 37,945 sources of the Guix 1.5.0 corpus, 234 MB
#                      (text: builder scripts, patches, module trees)
#   - sources.tar.zst  the corpus's own archive of it (zstd, 8.9 MB)
#   - sources.tar.xz   the same tar, `xz -2` (18 MB)
#   - usr-bin.tar      /usr/bin of this machine (ELF executables), and .zst
#   - big.tar.zst      four copies of sources.tar in one archive (935 MB
#                      unpacked, 151,780 members), for memory against size
set -euo pipefail
cd "$(dirname "$0")/.."
corpus="${ABOVO_GUIX_CORPUS:-../shared/data/guix-1.5.0}"
work="${1:-${TMPDIR:-/tmp}/abovo-bench-scan}"
mkdir -p "$work"

cargo build --release -p abovo
abovo="$PWD/target/release/abovo"

[ -f "$work/sources.tar" ] || zstd -dc "$corpus/sources.tar.zst" > "$work/sources.tar"
[ -f "$work/sources.tar.zst" ] || cp "$corpus/sources.tar.zst" "$work/sources.tar.zst"
[ -f "$work/sources.tar.xz" ] || xz -T1 -2 -c "$work/sources.tar" > "$work/sources.tar.xz"
[ -f "$work/usr-bin.tar" ] || tar cf "$work/usr-bin.tar" -C /usr bin 2>/dev/null || true
[ -f "$work/usr-bin.tar.zst" ] || zstd -q -T1 -3 -c "$work/usr-bin.tar" > "$work/usr-bin.tar.zst"
if [ ! -f "$work/big.tar.zst" ]; then
  mkdir -p "$work/big"
  for i in 1 2 3 4; do ln -f "$work/sources.tar" "$work/big/copy$i.tar"; done
  tar cf - --hard-dereference -C "$work/big" . | zstd -q -T1 -3 > "$work/big.tar.zst"
fi

# Warm the page cache once.
cat "$work"/*.tar "$work"/*.tar.* >/dev/null

# One measurement: NAME, UNPACKED_BYTES, then the command.
measure() {
  local name=$1 unpacked=$2
  shift 2
  local report="$work/.time"
  /usr/bin/time -o "$report" -f '%U %S %e %M' "$@" >/dev/null 2>&1
  read -r user sys wall rss <"$report"
  awk -v n="$name" -v b="$unpacked" -v u="$user" -v s="$sys" -v w="$wall" -v r="$rss" 'BEGIN {
    cpu = u + s; printf "| %s | %.2f s | %.2f s | %.0f MB/s | %.1f MiB |\n", n, cpu, w, b / cpu / 1e6, r / 1024 }'
}

size() { stat -c %s "$1"; }
src=$(size "$work/sources.tar")
bin=$(size "$work/usr-bin.tar")
big=$((4 * src))

echo "| command | CPU (user+sys) | wall | unpacked bytes / CPU second | max RSS |"
echo "| --- | ---: | ---: | ---: | ---: |"
for round in 1 2 3; do
  measure "abovo scan sources.tar (round $round)" "$src" "$abovo" scan "$work/sources.tar"
  measure "abovo scan sources.tar.zst (round $round)" "$src" "$abovo" scan "$work/sources.tar.zst"
  measure "zstd -dc sources.tar.zst (round $round)" "$src" zstd -dc "$work/sources.tar.zst"
  measure "abovo scan usr-bin.tar (round $round)" "$bin" "$abovo" scan "$work/usr-bin.tar"
  measure "abovo scan usr-bin.tar.zst (round $round)" "$bin" "$abovo" scan "$work/usr-bin.tar.zst"
  measure "abovo scan sources.tar.xz (round $round)" "$src" "$abovo" scan "$work/sources.tar.xz"
  measure "xz -dc sources.tar.xz (round $round)" "$src" xz -T1 -dc "$work/sources.tar.xz"
done
measure "abovo scan big.tar.zst (4 × sources.tar)" "$big" "$abovo" scan "$work/big.tar.zst"
