#!/usr/bin/env bash
# Installs Debian packages a test needs, for the install scripts beside it:
# with apt-get as root (refreshing the package lists once if the first try
# fails); elsewhere it says what is missing and fails.
#
# Usage: scripts/apt-install.sh WHO PACKAGE...   (WHO names the caller in the message)
set -euo pipefail
who="${1:?usage: scripts/apt-install.sh WHO PACKAGE...}"
shift
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  { apt-get install -y --no-install-recommends "$@" \
      || { apt-get update && apt-get install -y --no-install-recommends "$@"; }; } >&2
else
  echo "$who: $* is not installed and cannot be installed here (no apt-get, or not root)" >&2
  exit 1
fi
