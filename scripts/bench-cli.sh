#!/usr/bin/env bash
# End-to-end timings of the `abovo` binary, as a user runs it: whole
# processes, page cache warm, measured with hyperfine. These are the numbers
# BENCHMARKS.md compares with Guix's own commands; the in-process numbers
# come from the criterion benches (`cargo bench --workspace`).
#
# Usage: scripts/bench-cli.sh [CORPUS_DIR]
#   CORPUS_DIR defaults to $ABOVO_GUIX_CORPUS, then ../shared/data/guix-1.5.0.
#   Needs hyperfine (`apt install hyperfine` or `cargo install hyperfine`).
#   Writes one markdown table per group to target/bench-cli/*.md.
set -euo pipefail
cd "$(dirname "$0")/.."
corpus="${1:-${ABOVO_GUIX_CORPUS:-../shared/data/guix-1.5.0}}"
command -v hyperfine >/dev/null || {
  echo "bench-cli: hyperfine is not installed (apt install hyperfine)" >&2
  exit 2
}

cargo build --release -p abovo
abovo="$PWD/target/release/abovo"
out=target/bench-cli
mkdir -p "$out"

# The unpacked corpus: 71,817 .drv files in one directory, like a store.
unpacked="${TMPDIR:-/tmp}/abovo-bench-corpus"
if [ ! -f "$unpacked/.complete" ]; then
  rm -rf "$unpacked"
  mkdir -p "$unpacked"
  zstd -dc "$corpus/drvs.tar.zst" | tar -x -C "$unpacked"
  touch "$unpacked/.complete"
fi
# Warm the page cache once, so every run reads from memory.
find "$unpacked" -name '*.drv' -exec cat {} + >/dev/null

run() {
  local name=$1
  shift
  hyperfine -N --warmup 3 --runs "${RUNS:-20}" --export-markdown "$out/$name.md" "$@"
}

# Queries on the built-in snapshot (issue 3: at least 50x faster than Guix).
run queries \
  -n 'graph -t derivation python-pytorch --format dot' "$abovo graph -t derivation python-pytorch --format dot" \
  -n 'path -t derivation hello guile-bootstrap' "$abovo path -t derivation hello guile-bootstrap" \
  -n 'dependents -t derivation ghc@7.10' "$abovo dependents -t derivation ghc@7.10" \
  -n 'closure python-pytorch' "$abovo closure python-pytorch"

# The same questions in packages (issue 18: as fast as in derivations).
run packages \
  -n 'graph python-pytorch --format dot (package)' "$abovo graph python-pytorch --format dot" \
  -n 'graph -t bag-emerged python-pytorch --format dot' "$abovo graph -t bag-emerged python-pytorch --format dot" \
  -n 'path r-seurat pandoc (package)' "$abovo path r-seurat pandoc" \
  -n 'path -t bag-emerged hello guile-bootstrap' "$abovo path -t bag-emerged hello guile-bootstrap" \
  -n 'dependents ghc@7.10 (bag-emerged)' "$abovo dependents ghc@7.10" \
  -n 'closure -t bag-emerged python-pytorch' "$abovo closure -t bag-emerged python-pytorch" \
  -n 'show guile-bootstrap' "$abovo show guile-bootstrap" \
  -n 'show pandoc' "$abovo show pandoc"

# Large answers in JSON (issue 14: every query <= 15 ms): 1.3 to 2 MB of
# nodes written straight from the snapshot, and the 10 MB derivation graph
# of python-pytorch.
run json \
  -n 'dependents glibc --format json' "$abovo dependents glibc --format json" \
  -n 'closure python-pytorch --format json' "$abovo closure python-pytorch --format json" \
  -n 'graph python-pytorch --format json' "$abovo graph python-pytorch --format json" \
  -n 'dependents -t derivation glibc --format json' "$abovo dependents -t derivation glibc --format json" \
  -n 'graph -t derivation python-pytorch --format json (10 MB)' "$abovo graph -t derivation python-pytorch --format json"

# Names that match nothing (issue 14: every query <= 15 ms): the answer is
# an error (exit 2) with the near names as suggestions, so failures are
# expected (-i).
run names -i \
  -n 'closure nonexistent-pkg-xyz (no near name)' "$abovo closure nonexistent-pkg-xyz" \
  -n 'closure helo (did you mean hello, …)' "$abovo closure helo" \
  -n 'show helo' "$abovo show helo"

# Trust (issue 4: audit under 3 s).
run trust \
  -n 'seeds hello' "$abovo seeds hello" \
  -n 'seeds pandoc' "$abovo seeds pandoc" \
  -n 'seeds python-pytorch (2,717 seeds)' "$abovo seeds python-pytorch" \
  -n 'seeds python-pytorch --format json (every seed traced)' "$abovo seeds python-pytorch --format json" \
  -n 'audit (30,574 packages)' "$abovo audit"

# Trust over time (issue 12: audit --against of two whole distributions
# <= 1 s): the built-in snapshot against the snapshot file (30,574 packages
# on each side), and against the Guix 1.2.0 slice.
slice="${ABOVO_GUIX_SLICE:-../shared/data/guix-1.2.0-slice}"
run history \
  -n 'audit --against the snapshot file (two whole distributions)' "$abovo audit --against data/guix-1.5.0.abovo-snapshot" \
  -n 'audit --against the Guix 1.2.0 slice' "$abovo audit --against $slice" \
  -n 'seeds hello --against the Guix 1.2.0 slice' "$abovo seeds hello --against $slice"

# Loading the real data (issue 3: snapshot <= 0.3 s, .drv files <= 1.5 s)
# and verifying it (issue 2: verify --all under 2 s).
RUNS=10 run load \
  -n 'snapshot info (the built-in snapshot file)' "$abovo snapshot info data/guix-1.5.0.abovo-snapshot" \
  -n 'closure hello from the snapshot file (checked)' "$abovo closure hello --source data/guix-1.5.0.abovo-snapshot" \
  -n 'closure hello from 71,817 .drv files' "$abovo closure hello --source $unpacked" \
  -n 'closure hello from drvs.tar.zst' "$abovo closure hello --source $corpus/drvs.tar.zst" \
  -n 'verify --all (71,817 .drv files)' "$abovo verify --all $unpacked" \
  -n 'verify --all drvs.tar.zst' "$abovo verify --all $corpus/drvs.tar.zst"

# Reading store items (issue 9): the built-in items, the corpus's sources
# archive (its first item, and its last one, which reads the whole 224 MB
# stream), and members of the real stage0-posix tarball.
seeds="${ABOVO_SEED_BYTES:-../shared/data/seed-bytes}"
sources="$corpus/sources.tar.zst"
stage0=/gnu/store/ahfrzz7g2y50krrm28plnx6ffknr97z1-stage0-posix-1.6.0.tar.gz
first=/gnu/store/000a1r14lqdkjzn4iq9gy8xzfs6csp19-cl-umbra-0.0.0-1.d6ef2f6-builder
last=/gnu/store/zzzyx7r7cqadd72iaykyz4yhv8b8srxk-r-scseqcomm-0-0.01076e7-builder
RUNS=10 run items \
  -n 'show guile-bootstrap (built-in items)' "$abovo show guile-bootstrap" \
  -n 'cat build-bootstrap-guile.sh (built-in items)' "$abovo cat /gnu/store/nmxl6qyj16bv4rx4irhg23r66gn752kd-build-bootstrap-guile.sh" \
  -n 'cat the first item of sources.tar.zst' "$abovo cat $first --sources $sources" \
  -n 'cat the last item of sources.tar.zst' "$abovo cat $last --sources $sources" \
  -n 'show python --sources sources.tar.zst' "$abovo show python --sources $sources" \
  -n 'ls stage0-posix-1.6.0.tar.gz (934 members)' "$abovo ls $stage0 --sources $seeds" \
  -n 'cat hex0-seed in stage0-posix-1.6.0.tar.gz' "$abovo cat $stage0/stage0-posix-1.6.0/bootstrap-seeds/POSIX/x86/hex0-seed --sources $seeds"
/usr/bin/time -f 'peak RSS of cat of the last item of sources.tar.zst: %M KiB' \
  "$abovo" cat "$last" --sources "$sources" >/dev/null
/usr/bin/time -f 'export hello from the corpus (the built-in items): %e s, %M KiB' \
  "$abovo" export hello --source "$corpus" --system x86_64-linux --no-store \
  -o "${TMPDIR:-/tmp}/abovo-bench-hello-items.tar.zst" >/dev/null

# Peak memory of the whole graph loaded from the .drv files (issue 3: well
# under 1 GB).
/usr/bin/time -f 'peak RSS loading 71,817 .drv files: %M KiB' \
  "$abovo" closure hello --source "$unpacked" >/dev/null
/usr/bin/time -f 'peak RSS of audit on the built-in snapshot: %M KiB' "$abovo" audit >/dev/null

echo "bench-cli: tables written to $out/"
