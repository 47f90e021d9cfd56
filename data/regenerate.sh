#!/usr/bin/env bash
# Rebuilds data/guix-1.5.0.abovo-snapshot and data/guix-1.5.0-hello-items.tar.zst
# from the Guix 1.5.0 corpus.
# Usage: data/regenerate.sh [CORPUS_DIR]   (default: ../shared/data/guix-1.5.0)
set -euo pipefail
cd "$(dirname "$0")/.."
corpus="${1:-${ABOVO_GUIX_CORPUS:-../shared/data/guix-1.5.0}}"
cargo run --release -p abovo -- snapshot create \
  --from "$corpus" \
  --no-nar-hashes \
  --dense \
  --description "Guix 1.5.0 corpus (x86_64-linux)" \
  -o data/guix-1.5.0.abovo-snapshot
size=$(stat -c %s data/guix-1.5.0.abovo-snapshot)
# 8.0 MB for the derivation graph, 4.1 MB for the package-level data
# (package graphs and metadata), xz where it beats zstd (format version 6,
# --dense): the binary that carries it must stay under 25 MB. See
# data/README.md.
if [ "$size" -ge 12500000 ]; then
  echo "data/regenerate.sh: the snapshot is $size bytes, over the 16 MB budget" >&2
  exit 1
fi
cargo run --release -p abovo -- snapshot info data/guix-1.5.0.abovo-snapshot

# The built-in items: the .drv files and sources of hello's closure, read
# from the corpus's drvs.tar.zst and sources.tar.zst (see data/README.md).
# ABOVO_SOURCES is emptied so that nothing but the corpus is read.
ABOVO_SOURCES= cargo run --release -p abovo -- export hello \
  --source "$corpus" \
  --system x86_64-linux \
  --no-store \
  -o data/guix-1.5.0-hello-items.tar.zst
