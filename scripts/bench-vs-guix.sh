#!/usr/bin/env bash
# abovo against Guix, side by side on one machine: the same questions asked
# of `guix graph`, `guix refresh -l` and `guix graph --path`, and of abovo on
# its built-in Guix 1.5.0 snapshot. Runs are paired (abovo, then Guix, then
# abovo, …) so that a drift of the machine's speed touches both sides, and
# the ratio of the medians is printed per question.
#
# Usage: scripts/bench-vs-guix.sh [RUNS]      (default 10 pairs, 1 warm-up)
#   ABOVO=PATH   the abovo binary (default: target/release/abovo, built if
#                missing)
# Where `guix` is not installed, it says so in one line and exits 0.
# Timing: wall clock of whole processes (`date +%s%N` around each run), one
# abovo run and one Guix run in turn; each side's median, then their ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-10}"

if ! command -v guix >/dev/null 2>&1; then
  echo "bench-vs-guix: guix is not installed here; nothing to compare (exit 0)"
  exit 0
fi
abovo="${ABOVO:-$PWD/target/release/abovo}"
if [ ! -x "$abovo" ]; then
  cargo build --release -p abovo
fi
# The first abovo run writes the in-place snapshot into the cache; the
# measured runs then map it, as every run after a user's first one does.
"$abovo" closure hello >/dev/null

# Pairs: a label, abovo's command, Guix's command. Guix's package graph of
# python-pytorch is the derivation graph here (`-t derivation`), as abovo's
# `--type derivation`; `guix refresh -l` lists dependents in the
# bag-emerged graph, as `abovo dependents` does.
pairs=(
  "graph python-pytorch -t derivation"
  "$abovo graph python-pytorch --type derivation --format dot"
  "guix graph -t derivation python-pytorch"

  "dependents ghc@7.10.3"
  "$abovo dependents ghc@7.10.3"
  "guix refresh -l ghc@7.10.3"

  "path hello guile-bootstrap -t derivation"
  "$abovo path hello guile-bootstrap --type derivation"
  "guix graph --path -t derivation hello guile-bootstrap"
)

# Microseconds of one whole run of "$@", output thrown away.
time_us() {
  local t0 t1
  t0=$(date +%s%N)
  "$@" >/dev/null 2>&1 || true
  t1=$(date +%s%N)
  echo $(((t1 - t0) / 1000))
}

# The median of the numbers on standard input.
median() {
  sort -n | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

printf '%-42s %12s %12s %10s\n' "question" "abovo (ms)" "guix (ms)" "guix/abovo"
for ((i = 0; i < ${#pairs[@]}; i += 3)); do
  label=${pairs[i]}
  read -r -a a <<<"${pairs[i + 1]}"
  read -r -a g <<<"${pairs[i + 2]}"
  # One warm-up of each side (page cache, Guix's own caches).
  time_us "${a[@]}" >/dev/null
  time_us "${g[@]}" >/dev/null
  as=() gs=()
  for ((r = 0; r < runs; r++)); do
    as+=("$(time_us "${a[@]}")")
    gs+=("$(time_us "${g[@]}")")
  done
  ma=$(printf '%s\n' "${as[@]}" | median)
  mg=$(printf '%s\n' "${gs[@]}" | median)
  awk -v l="$label" -v a="$ma" -v g="$mg" \
    'BEGIN { printf "%-42s %12.1f %12.1f %9.0f×\n", l, a / 1000, g / 1000, (a > 0 ? g / a : 0) }'
done
echo "($runs paired runs each; medians; abovo on its built-in snapshot, Guix on its own store)"
