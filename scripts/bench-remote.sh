#!/usr/bin/env bash
# abovo build --remote against a local build: N trivial derivations
# (`busybox sh -c 'echo n > $out'`, each new), built by one `abovo build`
# in abovo's own sandbox (--jobs J) and through buildbox-casd with local
# execution on 127.0.0.1 (--remote-jobs J, its --jobs J); then the same N
# again in a fresh store, through the same server: every action is then
# answered by the ActionCache. Prints the wall times and what was uploaded
# (abovo's `remote:` note): for a closure already in the CAS, the blobs per
# action.
#
# Usage: scripts/bench-remote.sh [N] [J]   (N defaults to 200, J to 4; needs
#   /bin/busybox, bwrap and buildbox, which scripts/install-buildbox.sh
#   puts in target/buildbox). Uses the test profile's binary (optimised).
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-200}" j="${2:-4}"
bb="$PWD/target/buildbox"
[ -x "$bb/buildbox-casd" ] || scripts/install-buildbox.sh "$bb"
cargo build -q -p abovo
abovo="$PWD/target/debug/abovo"
dir=$(mktemp -d /tmp/abovo-bench-remote-XXXXXX)
casd_pid=
cleanup() { [ -n "$casd_pid" ] && kill "$casd_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT

# store: a fresh store with busybox and N derivations, always at the same
# place (the same store paths, so the same actions); prints their paths.
store() {
  local s="$dir/s"
  rm -rf "$s"
  mkdir -p "$s/seed" "$s/tmp" "$s/json"
  cp /bin/busybox "$s/seed/busybox"
  local b; b=$("$abovo" add --recursive --name busybox-static "$s/seed")
  for i in $(seq 1 "$n"); do
    printf '{"name":"trivial-%s","outputs":{"out":{}},"inputSrcs":["%s"],"system":"x86_64-linux","builder":"%s/busybox","args":["sh","-c","echo %s > $out"],"env":{}}' \
      "$i" "$b" "$b" "$i" > "$s/json/$i.json"
    "$abovo" derivation add "$s/json/$i.json"
  done
}

export ABOVO_STORE="$dir/s/store" TMPDIR="$dir/s/tmp"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir "$dir/cas"
TMPDIR=/tmp "$bb/buildbox-casd" --buildbox-run="$bb/buildbox-run" --bind="127.0.0.1:$port" --jobs="$j" "$dir/cas" &
casd_pid=$!
sleep 1

mapfile -t local_drvs < <(store)
start=$(date +%s.%N)
"$abovo" build --jobs "$j" "${local_drvs[@]}" >/dev/null
echo "local:  $n derivations in $(echo "$(date +%s.%N) - $start" | bc) s (--jobs $j)"

mapfile -t remote_drvs < <(store)
start=$(date +%s.%N)
"$abovo" build --remote "grpc://127.0.0.1:$port" --remote-jobs "$j" "${remote_drvs[@]}" 2>"$dir/note" >/dev/null || { cat "$dir/note" >&2; exit 1; }
echo "remote: $n derivations in $(echo "$(date +%s.%N) - $start" | bc) s; $(grep 'remote:' "$dir/note" | sed 's/.*remote: //')"

mapfile -t again_drvs < <(store)
start=$(date +%s.%N)
"$abovo" build --remote "grpc://127.0.0.1:$port" --remote-jobs "$j" "${again_drvs[@]}" 2>"$dir/note" >/dev/null || { cat "$dir/note" >&2; exit 1; }
echo "again:  $n derivations in $(echo "$(date +%s.%N) - $start" | bc) s; $(grep 'remote:' "$dir/note" | sed 's/.*remote: //')"
