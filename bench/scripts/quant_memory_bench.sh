#!/usr/bin/env bash
# Peak resident memory of `slim quant` (static W8A8, the config with the most calibration work)
# on a ~1.1B-parameter random checkpoint (TinyLlama geometry, bf16, 2.2 GB), next to what bounds
# it: the largest decoder layer as the runner holds it (fp32) and the calibration activations
# (tokens x hidden x 4 bytes), with the activations in memory and offloaded to disk (issue 12,
# "Memory": target <= 3x the largest layer + the activations). Then the same bound for 70B-shaped
# layers from the measured ratio. The checkpoint is written once into $WORK.
#
#   bash bench/scripts/quant_memory_bench.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
SLIM=${SLIM:-build/slim}
WORK=${WORK:-build/bench-convert}
SAMPLES=${SAMPLES:-8}
mkdir -p "$WORK"
# shellcheck source=bench/scripts/random-tinyllama.sh
source "$(dirname "$0")/random-tinyllama.sh"
random_tinyllama "$WORK/src"
# The random checkpoint's tokenizer is byte-level (~4x the tokens of real text); calibrate with
# the fixture's (the same vocabulary size, 32000) in a directory of links to the checkpoint.
MODEL="$WORK/src-fixture-tokenizer"
mkdir -p "$MODEL"
for f in "$WORK"/src/*; do ln -sf "$(realpath "$f")" "$MODEL/"; done
for f in tokenizer.json tokenizer_config.json; do
  rm -f "$MODEL/$f"; cp "models/sotu-llama-13m/$f" "$MODEL/"
done
head -n "$SAMPLES" data/calib/sotu_calib.jsonl >"$WORK/calib.jsonl"
run() {  # label, extra args
  local label=$1; shift
  SLIM_PROGRESS=0 /usr/bin/time -f "%e %M" -o "$WORK/quant.time" "$SLIM" --log-level warn quant \
    --model_path "$MODEL" --save_path "$WORK/w8a8s" --config_path default-w8a8-static \
    --dataset "$WORK/calib.jsonl" --overwrite --yes "$@" >"$WORK/quant.out"
  read -r secs rss_kb <"$WORK/quant.time"
  local acts
  acts=$(grep -o '[0-9.]* MB of activations' "$WORK/quant.out" | cut -d' ' -f1)
  echo "$label $secs $rss_kb $acts"
}
mem=$(run memory --offload_activations no)
disk=$(run disk --offload_activations yes)
python3 - "$mem" "$disk" <<'PY'
import sys
def layer_bytes(h, i, kv):  # q, o: h*h; k, v: h*kv; gate, up, down: h*i; two norms; fp32
    return (2 * h * h + 2 * h * kv + 3 * h * i + 2 * h) * 4
MB = 1048576
layer = layer_bytes(2048, 5632, 4 * 64)
print(f"largest decoder layer (fp32) {layer / MB:.0f} MB")
print(f"{'activations':<12}{'wall':>8}{'peak RSS':>11}{'acts':>9}{'RSS / (layer + acts)':>22}{'(RSS - acts) / layer':>22}")
rows = {}
for row in sys.argv[1:]:
    label, secs, rss_kb, acts = row.split()
    rss, acts = int(rss_kb) * 1024, float(acts) * MB
    held = acts if label == "memory" else 0
    rows[label] = (rss, held)
    print(f"{label:<12}{float(secs):>7.0f}s{rss / MB:>8.0f} MB{acts / MB:>6.0f} MB"
          f"{rss / (layer + held):>22.2f}{(rss - held) / layer:>22.2f}")
# 70B-shaped layers (Llama-2/3-70B: hidden 8192, intermediate 28672, 8 KV heads of 128).
big = layer_bytes(8192, 28672, 8 * 128)
ratio = (rows["disk"][0]) / layer
acts70 = 128 * 512 * 8192 * 4  # 128 samples of 512 tokens
print(f"70B-shaped layer (fp32) {big / 2**30:.2f} GiB; measured (RSS with offload) / layer = {ratio:.2f}:"
      f" ~{ratio * big / 2**30:.1f} GiB with activations on disk,"
      f" ~{(ratio * big + acts70) / 2**30:.1f} GiB with 128x512 tokens of activations in memory"
      f" ({acts70 / 2**30:.1f} GiB), against a 140 GB bf16 checkpoint")
PY
