#!/bin/sh
# The busybox chain, step by step: one static binary as the only seed, a
# small chain of derivations built from it and from sources, a
# deliberately non-deterministic one caught by --check and explained by
# `abovo diff`, and the trust base of the final derivation.
#
# Usage: examples/busybox-chain/run.sh [WORKDIR]
# (uses `abovo` from PATH, or $ABOVO; needs /bin/busybox from Debian's
# busybox-static package)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
abovo=${ABOVO:-abovo}
work=${1:-$(mktemp -d)}
[ -x /bin/busybox ] || { echo "run.sh: needs /bin/busybox (apt-get install busybox-static)" >&2; exit 1; }
export ABOVO_STORE="$work/store"
echo "store: $ABOVO_STORE"

# 1. The seed: Debian's static busybox, imported as it is.
mkdir -p "$work/seed"
cp /bin/busybox "$work/seed/busybox"
busybox=$($abovo add --recursive --name busybox-static "$work/seed")
src=$($abovo add --recursive --name greeting-src "$here/src")
echo "seed:    $busybox"
echo "sources: $src"

# 2. The chain. Each JSON is Nix's derivation JSON (the shape of `nix
# derivation show`, with Nix's own keys such as inputSrcs; abovo's reports
# use snake_case keys) and names its inputs with @placeholders@.
subst() {
  sed -e "s|@busybox@|$busybox|g" -e "s|@src@|$src|g" \
      -e "s|@greeting.drv@|${greeting_drv:-}|g" -e "s|@greeting@|${greeting:-}|g" \
      -e "s|@greeting-doc.drv@|${doc_drv:-}|g" -e "s|@greeting-doc@|${doc:-}|g" \
      -e "s|@build-stamp.drv@|${stamp_drv:-}|g" -e "s|@build-stamp@|${stamp:-}|g" "$1"
}
add() { subst "$here/drv/$1.json" | $abovo derivation add -; }
greeting_drv=$(add greeting);     greeting=$($abovo build "$greeting_drv")
doc_drv=$(add greeting-doc);      doc=$($abovo build "$doc_drv")
stamp_drv=$(add build-stamp);     stamp=$($abovo build "$stamp_drv")
bundle_drv=$(add bundle);         bundle=$($abovo build "$bundle_drv")
echo "built:   $bundle"
echo "final derivation: $bundle_drv"
"$bundle/greet"

# 3. Reproducibility: the greeting rebuilds bit for bit, the stamp does not.
$abovo build --check "$greeting_drv" >/dev/null && echo "greeting: rebuilds bit for bit"
if $abovo build --check --keep-failed "$stamp_drv"; then
  echo "build-stamp unexpectedly reproducible" >&2; exit 1
fi
$abovo diff "$stamp" "$stamp-check" || true
# The other build is kept on purpose, not registered: `store verify` lists
# it apart ("kept: …-check"); `store verify --remove-check` deletes it.
$abovo store verify

# 4. What must one trust to get the bundle?
$abovo seeds "$bundle_drv" --source "$ABOVO_STORE" --store-dir "$ABOVO_STORE"
