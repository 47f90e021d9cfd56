#!/usr/bin/env bash
# What a build costs abovo beyond the builder's own work, as a user runs it:
# N trivial derivations (`busybox sh -c 'echo n > $out'`), each new, built
# one at a time (`--jobs 1`) by one `abovo build`, as root (a build user of
# the pool) and without privileges (uid 65534, `/gnu/store` through
# `--real-store-dir`); the time per build includes its share of the process
# start. Then the replay of ../shared/data/daemon-conformance
# (`cli_conformance`, both modes), timed as a whole.
#
# Usage: scripts/bench-sandbox.sh [N]   (N defaults to 50; run as root;
#   needs /bin/busybox). Uses the test profile's binary, which the workspace
#   builds optimised (`cargo test` builds it anyway).
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-50}"
[ "$(id -u)" = 0 ] || { echo "bench-sandbox: run as root (it also runs as uid 65534)" >&2; exit 2; }
[ -x /bin/busybox ] || { echo "bench-sandbox: /bin/busybox is missing (busybox-static)" >&2; exit 2; }
cargo build -q -p abovo
abovo="$PWD/target/debug/abovo"

# trivial MODE: prints the milliseconds per build.
trivial() {
  local mode=$1 dir user=() env=()
  dir=$(mktemp -d /tmp/abovo-bench-sandbox-XXXXXX)
  mkdir "$dir/seed" "$dir/tmp"
  cp /bin/busybox "$dir/seed/busybox"
  if [ "$mode" = rootless ]; then
    chown -R 65534:65534 "$dir"
    user=(setpriv --reuid=65534 --regid=65534 --clear-groups)
    env=(ABOVO_STORE=/gnu/store ABOVO_REAL_STORE_DIR="$dir/store")
  else
    env=(ABOVO_STORE="$dir/store")
  fi
  run() { env -i PATH="$PATH" HOME="$dir" TMPDIR="$dir/tmp" "${env[@]}" "${user[@]}" "$abovo" "$@"; }
  local bb drvs=()
  bb=$(run add --recursive --name busybox-static "$dir/seed")
  for i in $(seq "$n"); do
    printf '{"name":"trivial-%s","outputs":{"out":{}},"inputSrcs":["%s"],"system":"x86_64-linux","builder":"%s/busybox","args":["sh","-c","echo %s-%s > $out"],"env":{}}' \
      "$i" "$bb" "$bb" "$i" "$RANDOM" > "$dir/d$i.json"
    [ "$mode" = rootless ] && chown 65534:65534 "$dir/d$i.json"
    drvs+=("$(run derivation add "$dir/d$i.json")")
  done
  local start end
  start=$(date +%s%N)
  run build --jobs 1 --quiet "${drvs[@]}" > /dev/null
  end=$(date +%s%N)
  echo "$(( (end - start) / n / 1000 ))" | awk '{ printf "%.1f\n", $1 / 1000 }'
  rm -rf "$dir"
}

echo "trivial build, root:     $(trivial root) ms per build ($n builds, --jobs 1)"
echo "trivial build, rootless: $(trivial rootless) ms per build ($n builds, --jobs 1)"

data="${ABOVO_DAEMON_CONFORMANCE:-../shared/data/daemon-conformance}"
if [ -d "$data" ]; then
  ABOVO_DAEMON_CONFORMANCE="$(cd "$data" && pwd)"
  export ABOVO_DAEMON_CONFORMANCE
  cargo test -q -p abovo --test cli_conformance --no-run
  start=$(date +%s%N)
  cargo test -q -p abovo --test cli_conformance -- --nocapture --test-threads 1 2>&1 | grep -E 'equal to guix|test result'
  end=$(date +%s%N)
  echo "conformance replay (both modes, one after the other): $(( (end - start) / 1000000 )) ms"
fi
