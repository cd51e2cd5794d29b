#!/usr/bin/env bash
# Creates (once) the Python environment for tests/python/transformers_conformance.py: Debian's
# /usr/bin/python3 with system site packages, so Debian 12's python3-torch (1.13.1, CPU-only,
# ~27 MB of .debs; scripts/install-deps.sh installs it) is the torch, plus the pinned
# tests/python/requirements-transformers.txt from PyPI (~20 MB, ~15 s). PyPI's torch wheels for
# Linux are CUDA builds (~0.8 GB, plus ~2.5 GB of nvidia-* wheels), too much for every CI run.
# The environment lives in the cache ($SLIM_CACHE, default ~/.cache/slim), keyed by the
# requirements, the interpreter and the python3-torch version, so later runs reuse it.
#
#   setup-python-transformers.sh                 create or reuse the environment
#   setup-python-transformers.sh --print-python  also print the interpreter path on stdout
#                                                (nothing when it cannot be made)
#
# SLIM_SKIP_PYTHON=1 skips it, as it skips scripts/setup-python.sh (the test then reports itself
# skipped). Without Debian's python3 and python3-torch it says so and prints nothing: the test is
# skipped, the rest of the suite runs.
set -euo pipefail
cd "$(dirname "$0")/.."

print_python=0
[ "${1:-}" = "--print-python" ] && print_python=1

if [ "${SLIM_SKIP_PYTHON:-0}" = "1" ]; then
  echo "setup-python-transformers: SLIM_SKIP_PYTHON=1, the transformers conformance test will be skipped" >&2
  exit 0
fi

system_python=/usr/bin/python3
torch_version=$(dpkg-query -W -f='${Version}' python3-torch 2>/dev/null || true)
if [ ! -x "$system_python" ] || [ -z "$torch_version" ] ||
   ! "$system_python" -c "import torch" 2>/dev/null; then
  echo "setup-python-transformers: $system_python cannot import Debian's python3-torch" \
       "(run scripts/install-deps.sh); the transformers conformance test will be skipped" >&2
  exit 0
fi

requirements=tests/python/requirements-transformers.txt
cache="${SLIM_CACHE:-$HOME/.cache/slim}"
hash=$( (cat "$requirements"; "$system_python" --version; echo "python3-torch $torch_version") |
        sha256sum | cut -c1-12)
venv="$cache/venv-transformers-$hash"

if [ ! -x "$venv/bin/python" ] || [ ! -f "$venv/.complete" ]; then
  echo "setup-python-transformers: creating $venv" >&2
  rm -rf "$venv"
  mkdir -p "$cache"
  "$system_python" -m venv --system-site-packages "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements" >&2
  "$venv/bin/python" -c "import torch, transformers" >&2
  touch "$venv/.complete"
fi

if [ "$print_python" = "1" ]; then
  echo "$venv/bin/python"
fi
