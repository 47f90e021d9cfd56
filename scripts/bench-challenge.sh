#!/bin/sh
# Measures abovo publish and abovo challenge (BENCHMARKS.md, "Challenge and publish").
# Builds the CLI and the bench tool in the test profile (opt-level 2) unless given.
set -eu
cd "$(dirname "$0")/.."
cargo build -q -p abovo --profile test
cargo build -q -p abovo-publish --example publish_bench --profile test
abovo=target/debug/abovo
bench=target/debug/examples/publish_bench

echo "== publish: narinfo requests per second (8 keep-alive connections, 5 s)"
"$bench" narinfo 5 8

echo "== challenge --closure hello against three local abovo publish servers"
paths=$(mktemp)
"$abovo" challenge --closure hello --substitute-urls http://127.0.0.1:1 -f json \
  --timeout 1 --retries 0 2>/dev/null |
  python3 -c 'import json,sys; print("\n".join(i["path"] for i in json.load(sys.stdin)["items"]))' >"$paths"
echo "$(wc -l <"$paths") outputs"
info=$(mktemp)
"$bench" servers 3 <"$paths" >"$info" &
pid=$!
trap 'kill $pid; rm -f "$paths" "$info"' EXIT
sleep 1
urls=$(sed -n 1p "$info")
keys=$(sed -n 2p "$info")
hyperfine --warmup 1 -r 5 \
  "'$abovo' challenge --closure hello --substitute-urls '$urls' --authorized-key '$keys' --require 3"
