#!/usr/bin/env python3
"""Whole-process wall time of two commands, run in turn (A, B, A, B, ...).

Usage: scripts/paired-runs.py [-n RUNS] [--warmup K] [--tsv] 'COMMAND A' ['COMMAND B']

Each command is one string, split as a shell splits words; leading
NAME=value words set environment variables for that command alone. Two
abovo binaries that write the same snapshot version should share one
ABOVO_CACHE_DIR: two copies of one cache file, made minutes apart, were
read 4% apart in speed (where the page cache holds them), which a cache
each would add to the ratio. Output is thrown away (/dev/null), standard
input is empty.

A run is timed from just before the process is spawned to just after it is
reaped: exec, dynamic loading, the work and the exit, and nothing else.
(Timing with `date +%s%N` around each run, as earlier rounds of
BENCHMARKS.md did, also counts starting `date` itself: 1.5-2.5 ms more per
run on the machine measured.) Pairing keeps the ratio meaningful when the
machine's speed drifts, and the order alternates (A B, B A, A B, ...):
the second run of a pair is the slower. The median of each side and the
median of the per-pair ratios B/A are printed (with --tsv: those numbers
on one line, tab-separated, for scripts). A run that exits non-zero (for
abovo, 1 is a "no" and 2 an error) is timed all the same, and counted: a
note on standard error says how often. The program is looked up in the
script's own PATH (a PATH= word changes the command's environment, not
where it is found).
"""

import argparse
import os
import shlex
import statistics
import sys
import time


def parse(command):
    """The environment and argument vector of a command string."""
    words = shlex.split(command)
    env = dict(os.environ)
    while words and "=" in words[0] and not words[0].startswith("="):
        name, value = words.pop(0).split("=", 1)
        if not name.isidentifier():
            words.insert(0, f"{name}={value}")
            break
        env[name] = value
    if not words:
        sys.exit(f"paired-runs: no command in {command!r}")
    return env, words


def run(env, argv):
    """Milliseconds from spawn to reaped, and the exit code."""
    null = os.open(os.devnull, os.O_RDWR)
    try:
        actions = [(os.POSIX_SPAWN_DUP2, null, fd) for fd in (0, 1, 2)]
        start = time.perf_counter_ns()
        pid = os.posix_spawnp(argv[0], argv, env, file_actions=actions)
        _, status = os.waitpid(pid, 0)
        took = (time.perf_counter_ns() - start) / 1e6
        return took, os.waitstatus_to_exitcode(status)
    finally:
        os.close(null)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-n", "--runs", type=int, default=21, help="pairs to time (21)")
    p.add_argument("--warmup", type=int, default=1, help="untimed runs of each first (1)")
    p.add_argument("--tsv", action="store_true", help="print: median A, median B, B/A")
    p.add_argument("a", help="command A")
    p.add_argument("b", nargs="?", help="command B (none: A alone)")
    args = p.parse_args()
    if args.runs < 1 or args.warmup < 0:
        p.error("--runs must be at least 1 and --warmup at least 0")
    commands = [args.a, args.b] if args.b else [args.a]
    sides = [parse(c) for c in commands]
    codes = [{} for _ in sides]
    try:
        for _ in range(args.warmup):
            for env, argv in sides:
                run(env, argv)
        times = [[] for _ in sides]
        for i in range(args.runs):
            # A B, then B A: the order of a pair alternates, so that
            # whatever favours one place in it (a cache just warmed, a
            # core just woken) favours each side in half the pairs.
            order = range(len(sides)) if i % 2 == 0 else reversed(range(len(sides)))
            for s in order:
                env, argv = sides[s]
                took, code = run(env, argv)
                times[s].append(took)
                if code != 0:
                    codes[s][code] = codes[s].get(code, 0) + 1
    except OSError as e:
        sys.exit(f"paired-runs: cannot run {e.filename or ''}: {e.strerror}")
    for command, seen in zip(commands, codes):
        for code, count in sorted(seen.items()):
            print(f"paired-runs: note: {command!r} exited with {code} in {count} of "
                  f"{args.runs} runs (a 'no' or an error: run it alone to see which)",
                  file=sys.stderr)

    if args.tsv:
        medians = [statistics.median(t) for t in times]
        if args.b:
            medians.append(statistics.median(b / a for a, b in zip(*times)))
        print("\t".join(f"{x:.3f}" for x in medians))
        return

    def summary(t):
        return f"{statistics.median(t):.2f} ms (min {min(t):.2f}, max {max(t):.2f})"

    print(f"A: {summary(times[0])}  {args.a}")
    if args.b:
        print(f"B: {summary(times[1])}  {args.b}")
        ratios = [b / a for a, b in zip(times[0], times[1])]
        print(f"B/A: {statistics.median(ratios):.3f} (median of {args.runs} pairs)")


if __name__ == "__main__":
    main()
