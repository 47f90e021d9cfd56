#!/usr/bin/env bash
# Runs abovo's fuzz targets (fuzz/, cargo-fuzz and libFuzzer) for a set time
# each, starting from the corpus kept in fuzz/corpus/TARGET/.
#
# Usage: scripts/fuzz.sh [OPTIONS] [SECONDS_PER_TARGET] [TARGET...]
#   SECONDS_PER_TARGET  how long each target runs (default 60)
#   TARGET...           the targets to run (default: every one fuzz/Cargo.toml
#                       lists)
# Options:
#   --keep              merge the inputs that reached new code back into
#                       fuzz/corpus/TARGET/ (libFuzzer's -merge=1 keeps only
#                       those that add coverage); without it the repository
#                       is not touched: each run works on a copy of the corpus
#   --keep-bytes N      with --keep, how many bytes of found inputs a target
#                       keeps besides its seeds, the smallest first (default
#                       65536), so that the repository stays small
#   -j, --jobs N        targets run at once (default 1; each takes one core)
#   --sanitizer S       none (the default: the code under test is safe Rust,
#                       which runs two to three times faster without ASan)
#                       or address
#   --no-build          use the binaries already built
#   -h, --help          this text
#
# Each target's line gives how long it ran, how many inputs it executed (and
# how many per second), the corpus size before and after, and its result. A
# crash (a panic or failed assertion, a stack overflow, one input running
# over 10 s, or more than 2 GiB of memory) stops that target; its input is
# kept in fuzz/artifacts/TARGET/ and the line says how to reproduce it.
# Exit status: 0 when no target crashed, 1 when one did, 2 on a usage or
# build error. Requires cargo-fuzz and a nightly toolchain:
#   cargo install cargo-fuzz --locked
#   rustup toolchain install nightly --profile minimal
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p;}' "$0"; }
die() { echo "fuzz.sh: $*" >&2; exit 2; }

keep=0 keep_bytes=65536 jobs=1 sanitizer=none build=1 seconds=
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --keep) keep=1 ;;
    --keep-bytes) [ $# -ge 2 ] || die "$1 needs a number"; keep_bytes=$2; shift ;;
    -j|--jobs) [ $# -ge 2 ] || die "$1 needs a number"; jobs=$2; shift ;;
    --sanitizer) [ $# -ge 2 ] || die "$1 needs none or address"; sanitizer=$2; shift ;;
    --no-build) build=0 ;;
    -h|--help) usage; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *)
      if [ -z "$seconds" ] && [ ${#targets[@]} -eq 0 ] && [[ "$1" =~ ^[0-9]+$ ]]; then
        seconds=$1
      else
        targets+=("$1")
      fi
      ;;
  esac
  shift
done
seconds=${seconds:-60}
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || die "--jobs takes a positive number, not $jobs"
[[ "$keep_bytes" =~ ^[0-9]+$ ]] || die "--keep-bytes takes a number, not $keep_bytes"
case "$sanitizer" in none|address) ;; *) die "--sanitizer takes none or address, not $sanitizer" ;; esac

# Every target fuzz/Cargo.toml declares, by name.
all=()
while IFS= read -r t; do all+=("$t"); done < <(sed -n 's/^name = "\([a-z0-9_]*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^abovo-fuzz$' | sort)
if [ ${#targets[@]} -eq 0 ]; then
  targets=("${all[@]}")
else
  for t in "${targets[@]}"; do
    printf '%s\n' "${all[@]}" | grep -qx "$t" || die "no target $t (targets: ${all[*]})"
  done
fi

command -v cargo >/dev/null || die "cargo is not installed"
cargo fuzz --version >/dev/null 2>&1 || die "cargo-fuzz is missing: cargo install cargo-fuzz --locked"
cargo +nightly --version >/dev/null 2>&1 || die "no nightly toolchain: rustup toolchain install nightly --profile minimal"

triple=$(rustc +nightly -vV | sed -n 's/^host: //p')
bin_dir="$root/fuzz/target/$triple/release"
if [ "$build" = 1 ]; then
  start=$SECONDS
  if [ ${#targets[@]} -eq ${#all[@]} ]; then
    (cd fuzz && cargo +nightly fuzz build --sanitizer "$sanitizer") || die "the build failed"
  else
    for t in "${targets[@]}"; do
      (cd fuzz && cargo +nightly fuzz build --sanitizer "$sanitizer" "$t") || die "the build of $t failed"
    done
  fi
  echo "fuzz.sh: built in $((SECONDS - start)) s (sanitizer $sanitizer)" >&2
fi
for t in "${targets[@]}"; do
  [ -x "$bin_dir/$t" ] || die "$bin_dir/$t is not built (drop --no-build)"
done

work=$(mktemp -d "${TMPDIR:-/tmp}/abovo-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT

# trim DIR: keeps the seeds of a corpus and, of the other inputs, the
# smallest up to $keep_bytes in all.
trim() {
  local total=0 size f
  while read -r size f; do
    total=$((total + size))
    [ "$total" -le "$keep_bytes" ] || rm -f "$f"
  done < <(find "$1" -type f ! -name 'seed-*' -printf '%s %p\n' | sort -n)
}

# run_one TARGET: fuzzes a copy of TARGET's corpus for $seconds seconds and
# writes its summary line to $work/TARGET.line.
run_one() {
  local t=$1 kept="$root/fuzz/corpus/$1" dir="$work/$1" artifacts="$root/fuzz/artifacts/$1"
  mkdir -p "$dir/corpus" "$artifacts"
  [ -d "$kept" ] && cp -R "$kept/." "$dir/corpus/"
  local before after status=0 extra=()
  before=$(find "$dir/corpus" -type f | wc -l)
  [ -f "$root/fuzz/dict/$t.dict" ] && extra+=("-dict=$root/fuzz/dict/$t.dict")
  local start=$SECONDS
  # The artifacts of an earlier run stay; this run's are the ones newer than
  # this marker.
  touch "$dir/marker"
  # The targets' scratch files (std::env::temp_dir) go in the work
  # directory, removed with it: libFuzzer exits without running their
  # clean-up.
  mkdir -p "$dir/tmp"
  (cd "$dir" && TMPDIR="$dir/tmp" "$bin_dir/$t" corpus "${extra[@]}" \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$artifacts/" -print_final_stats=1 \
      >"$dir/log" 2>&1) || status=$?
  local took=$((SECONDS - start))
  after=$(find "$dir/corpus" -type f | wc -l)
  local runs rate
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/log" | tail -1)
  if [ -z "$runs" ]; then
    # A crash skips the final statistics: take the last status line.
    runs=$(grep -o '^#[0-9]*' "$dir/log" | tail -1 | tr -d '#')
    rate=$(grep -o 'exec/s: [0-9]*' "$dir/log" | tail -1 | sed 's/exec\/s: //')
  fi
  local result=ok
  if [ "$status" != 0 ]; then
    local input
    input=$(find "$artifacts" -type f -newer "$dir/marker" | head -1)
    cp "$dir/log" "$artifacts/last-run.log"
    if [ -n "$input" ]; then
      result="CRASH (exit $status): ${input#"$root"/}; log: fuzz/artifacts/$t/last-run.log; reproduce: (cd fuzz && cargo +nightly fuzz run -s $sanitizer $t ${input#"$root/fuzz/"})"
    else
      # A stack overflow kills libFuzzer before it can save the input.
      result="CRASH (exit $status) without an input saved (a stack overflow?); log: fuzz/artifacts/$t/last-run.log"
    fi
  elif [ "$keep" = 1 ]; then
    mkdir -p "$kept"
    local merged_before
    merged_before=$(find "$kept" -type f | wc -l)
    "$bin_dir/$t" -merge=1 "$kept" "$dir/corpus" "${extra[@]}" >"$dir/merge.log" 2>&1 \
      || result="ok, but the merge failed (see $dir/merge.log)"
    trim "$kept"
    result="$result; kept $(( $(find "$kept" -type f | wc -l) - merged_before )) new inputs"
  fi
  printf '%-22s %4ss %10s runs %8s/s  corpus %5s -> %-5s %s\n' \
    "$t" "$took" "${runs:-?}" "${rate:-?}" "$before" "$after" "$result" >"$work/$t.line"
  cat "$work/$t.line"
}

printf 'fuzz.sh: %d targets, %s s each, %d at a time\n' "${#targets[@]}" "$seconds" "$jobs" >&2
printf '%-22s %5s %15s %10s  %s\n' target time executions rate "corpus  result"
for t in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
  run_one "$t" &
done
wait

crashed=0
for t in "${targets[@]}"; do
  grep -q ' CRASH ' "$work/$t.line" 2>/dev/null && crashed=$((crashed + 1))
done
if [ "$crashed" -gt 0 ]; then
  echo "fuzz.sh: $crashed of ${#targets[@]} targets crashed:" >&2
  for t in "${targets[@]}"; do grep ' CRASH ' "$work/$t.line" >&2 || true; done
  exit 1
fi
echo "fuzz.sh: no crash in ${#targets[@]} targets" >&2
