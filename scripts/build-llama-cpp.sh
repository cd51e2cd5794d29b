#!/usr/bin/env bash
# Builds llama.cpp's llama-perplexity and llama-tokenize from the source that
# scripts/fetch-assets.sh unpacks (npm node-llama-cpp@3.21.1, commit 80fb11ac), for the
# conformance tests. The build is cached per commit in $SLIM_CACHE/llama.cpp-build-<commit>, so a
# machine builds it once (about 5-10 minutes on 2 cores).
#
#   build-llama-cpp.sh            build if needed
#   build-llama-cpp.sh --print-bin  also print the folder holding the binaries on stdout
#
# SLIM_SKIP_LLAMA_CPP=1 skips it (the llama.cpp conformance tests then report themselves skipped).
set -euo pipefail
cd "$(dirname "$0")/.."

print_bin=0
[ "${1:-}" = "--print-bin" ] && print_bin=1
log() { echo "build-llama-cpp: $*" >&2; }

if [ "${SLIM_SKIP_LLAMA_CPP:-0}" = "1" ]; then
  log "SLIM_SKIP_LLAMA_CPP=1, llama.cpp conformance tests will be skipped"
  exit 0
fi

assets=$(bash scripts/fetch-assets.sh --print-dir)
source_dir="$assets/llama.cpp"
[ -f "$source_dir/CMakeLists.txt" ] || { log "no llama.cpp source in $source_dir"; exit 1; }
commit=$(git -C "$source_dir" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
build_dir="${SLIM_CACHE:-$HOME/.cache/slim}/llama.cpp-build-$commit"
bin_dir="$build_dir/bin"

if [ ! -x "$bin_dir/llama-perplexity" ] || [ ! -x "$bin_dir/llama-tokenize" ] || [ ! -f "$build_dir/.complete" ]; then
  log "building llama-perplexity and llama-tokenize in $build_dir (once per machine)"
  start=$(date +%s)
  launcher=()
  command -v ccache >/dev/null && launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  cmake -S "$source_dir" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF \
    -DGGML_NATIVE=ON -DBUILD_SHARED_LIBS=OFF -DLLAMA_OPENSSL=OFF "${launcher[@]}" >&2
  cmake --build "$build_dir" -j "$(nproc)" --target llama-perplexity llama-tokenize >&2
  touch "$build_dir/.complete"
  log "built in $(( $(date +%s) - start )) s"
fi
[ "$print_bin" = "1" ] && echo "$bin_dir"
exit 0
