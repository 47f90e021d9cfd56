#!/usr/bin/env bash
# Installs BuildGrid 0.9.1, a Remote Execution API server with a scheduler on
# PostgreSQL, for the BuildGrid tests of `abovo build --remote`
# (crates/abovo/tests/cli_build_buildgrid.rs, docs/remote.md): BuildGrid from
# PyPI in a virtual environment made with Python 3.13 (BuildGrid needs
# >= 3.13; pyenv's, or the system's when it is new enough), and PostgreSQL
# from Debian (`initdb`, `pg_ctl`, `postgres`), which the tests run as a
# throw-away cluster. The workers are the tests' own (test scaffolding, see
# crates/abovo/tests/cli_buildgrid_support/bot.py) and run buildbox-run,
# which scripts/install-buildbox.sh installs.
#
# Usage: scripts/install-buildgrid.sh DIR
# Makes DIR/venv (nothing when BuildGrid 0.9.1 is already there), links
# PostgreSQL's server programs as DIR/pgbin/{initdb,pg_ctl,postgres}, and says
# in one line on standard error what it did.
set -euo pipefail
dir="${1:?usage: scripts/install-buildgrid.sh DIR}"
version="0.9.1"

# PostgreSQL's server programs: Debian puts them in /usr/lib/postgresql/N/bin.
pg_bin() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ] && { echo "$d"; return 0; }
  done
  return 1
}
if ! pg_bin >/dev/null; then
  "$(dirname "$0")/apt-install.sh" install-buildgrid postgresql
fi
mkdir -p "$dir/pgbin"
for p in initdb pg_ctl postgres; do
  ln -sfn "$(pg_bin)/$p" "$dir/pgbin/$p"
done

venv="$dir/venv"
if [ -x "$venv/bin/bgd" ] \
  && [ "$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("buildgrid"))' 2>/dev/null)" = "$version" ]; then
  echo "install-buildgrid: $dir already holds BuildGrid $version" >&2
  exit 0
fi

python=""
for p in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.13*/bin/python3 python3.13 python3; do
  if command -v "$p" >/dev/null 2>&1 \
    && "$p" -c 'import sys; sys.exit(sys.version_info < (3, 13))' 2>/dev/null; then
    python="$p"
    break
  fi
done
if [ -z "$python" ]; then
  echo "install-buildgrid: BuildGrid $version needs Python >= 3.13, and there is none (pyenv install 3.13)" >&2
  exit 1
fi
# Made afresh: an interrupted install fails the version check above and is redone.
rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "buildgrid==$version" >&2
echo "install-buildgrid: installed BuildGrid $version ($("$venv/bin/python" --version)) in $dir" >&2
