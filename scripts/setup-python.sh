#!/usr/bin/env bash
# Creates (once) the Python virtual environment holding the pinned reference packages the
# conformance tests compare Slim against. The environment lives in the cache
# ($SLIM_CACHE, default ~/.cache/slim), keyed by the requirements' hash, so later runs reuse it.
#
#   setup-python.sh                 create or reuse the environment
#   setup-python.sh --print-python  also print the interpreter path on stdout (nothing else)
#
# SLIM_SKIP_PYTHON=1 skips it (the conformance tests then report themselves skipped).
set -euo pipefail
cd "$(dirname "$0")/.."

print_python=0
[ "${1:-}" = "--print-python" ] && print_python=1

if [ "${SLIM_SKIP_PYTHON:-0}" = "1" ]; then
  echo "setup-python: SLIM_SKIP_PYTHON=1, Python conformance tests will be skipped" >&2
  exit 0
fi

requirements=tests/python/requirements.txt
cache="${SLIM_CACHE:-$HOME/.cache/slim}"
hash=$(sha256sum "$requirements" | cut -c1-12)
venv="$cache/venv-$hash"

if [ ! -x "$venv/bin/python" ] || [ ! -f "$venv/.complete" ]; then
  echo "setup-python: creating $venv" >&2
  rm -rf "$venv"
  mkdir -p "$cache"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements" >&2
  touch "$venv/.complete"
fi

if [ "$print_python" = "1" ]; then
  echo "$venv/bin/python"
fi
