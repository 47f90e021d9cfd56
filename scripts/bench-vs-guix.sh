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
# Timing: scripts/paired-runs.py (needs python3): wall clock of whole
# processes from spawn to exit, abovo and Guix in turn, the order
# alternating; each side's median, the ratio of the medians, and the median
# of the per-pair ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-10}"

if ! command -v guix >/dev/null 2>&1; then
  echo "bench-vs-guix: guix is not installed here; nothing to compare (exit 0)"
  exit 0
fi
if ! command -v python3 >/dev/null 2>&1; then
  echo "bench-vs-guix: needs python3 for scripts/paired-runs.py (guix shell python)" >&2
  exit 2
fi
abovo="${ABOVO:-$PWD/target/release/abovo}"
if [ ! -x "$abovo" ]; then
  cargo build --release -p abovo
fi
# The first abovo run writes the in-place snapshot into the cache; the
# measured runs then map it, as every run after a user's first one does.
"$abovo" closure hello >/dev/null

# The binary's path as one shell word, for the command strings below.
quoted=$(printf '%q' "$abovo")

# Pairs: a label, abovo's command, Guix's command. Guix's package graph of
# python-pytorch is the derivation graph here (`-t derivation`), as abovo's
# `--type derivation`; `guix refresh -l` lists dependents in the
# bag-emerged graph, as `abovo dependents` does.
pairs=(
  "graph python-pytorch -t derivation"
  "$quoted graph python-pytorch --type derivation --format dot"
  "guix graph -t derivation python-pytorch"

  "dependents ghc@7.10.3"
  "$quoted dependents ghc@7.10.3"
  "guix refresh -l ghc@7.10.3"

  "path hello guile-bootstrap -t derivation"
  "$quoted path hello guile-bootstrap --type derivation"
  "guix graph --path -t derivation hello guile-bootstrap"
)

printf '%-42s %12s %12s %10s %10s\n' "question" "abovo (ms)" "guix (ms)" "guix/abovo" "per pair"
for ((i = 0; i < ${#pairs[@]}; i += 3)); do
  # One warm-up of each side (page cache, Guix's own caches), then the
  # pairs.
  read -r ma mg ratio < <(scripts/paired-runs.py --tsv -n "$runs" "${pairs[i + 1]}" "${pairs[i + 2]}")
  awk -v l="${pairs[i]}" -v a="$ma" -v g="$mg" -v r="$ratio" \
    'BEGIN { printf "%-42s %12.1f %12.1f %9.0f× %9.0f×\n", l, a, g, (a > 0 ? g / a : 0), r }'
done
echo "($runs paired runs each; medians, their ratio, and the median of the per-pair ratios; abovo on its built-in snapshot, Guix on its own store)"
