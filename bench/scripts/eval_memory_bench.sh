#!/usr/bin/env bash
# Peak resident memory of `slim eval ppl` over a ~1.1B-parameter random checkpoint (TinyLlama
# geometry, bf16, 2.2 GB), next to the sizes that bound it: the largest decoder layer as the
# runtime holds it (compute dtype), the head, and the activations of one window (issue 11, "Done
# when": peak RSS within 2x the largest layer plus activations). The same for its data-free W8A16
# Ascend V1 output, run from the stored codes. The checkpoint is written once into $WORK.
#
#   bash bench/scripts/eval_memory_bench.sh
set -euo pipefail
SLIM=${SLIM:-build/slim}
WORK=${WORK:-build/bench-convert}
THREADS=${THREADS:-2}
SEQ=${SEQ:-512}
CHUNKS=${CHUNKS:-4}
mkdir -p "$WORK"
# shellcheck source=bench/scripts/random-tinyllama.sh
source "$(dirname "$0")/random-tinyllama.sh"
random_tinyllama "$WORK/src"
if [ ! -f "$WORK/w8a16/quant_model_description.json" ]; then
  SLIM_PROGRESS=0 "$SLIM" --log-level warn convert --format ascendv1 --scheme w8a16 \
    --model_path "$WORK/src" --save_path "$WORK/w8a16" >/dev/null
fi
# Random byte text: any tokenizer gives SEQ * CHUNKS tokens from it.
TEXT="$WORK/eval-text.txt"
python3 -c "
import random; random.seed(0)
words = ['state', 'union', 'people', 'nation', 'law', 'year', 'peace', 'work', 'the', 'of', 'and']
print(' '.join(random.choice(words) for _ in range($SEQ * $CHUNKS * 2)))" > "$TEXT"
# Sizes from the geometry (fp32 compute): one layer's weights, the lm_head, a window's logits.
read -r layer head logits < <(python3 -c "
h, i, kv, v, s = 2048, 5632, 4 * 64, 32000, $SEQ
layer = (2 * h * h + 2 * h * kv + 3 * h * i + 2 * h) * 4
print(layer, v * h * 4, s * v * 4)")
mb() { awk -v b="$1" 'BEGIN{printf "%.1f MB", b/1048576}'; }
echo "checkpoint $(du -sh "$WORK/src" | cut -f1), $(nproc) cores, $THREADS threads, seq_len $SEQ, $CHUNKS windows"
echo "largest decoder layer (fp32 compute) $(mb "$layer"); lm_head (fp32) $(mb "$head"); logits of a window $(mb "$logits")"
measure() {  # label, path
  local stats="$WORK/time.txt"
  SLIM_PROGRESS=0 /usr/bin/time -o "$stats" -f "%e %M" "$SLIM" --threads "$THREADS" --log-level warn \
    eval ppl --model_path "$2" --dataset "$TEXT" --seq_len "$SEQ" --max_chunks "$CHUNKS" \
    >"$WORK/out.txt" 2>"$WORK/err.txt" || { cat "$WORK/err.txt"; return 1; }
  read -r seconds rss_kb < "$stats"
  awk -v l="$1" -v s="$seconds" -v r="$rss_kb" -v layer="$layer" -v head="$head" -v logits="$logits" \
    'BEGIN{bound = 2 * (layer > head ? layer : head) + 3 * logits;
           printf "%-34s %7.1f s  peak RSS %7.1f MB  (2 x largest + activations = %.1f MB)\n",
                  l, s, r / 1024, bound / 1048576}'
}
measure "eval ppl, float bf16 checkpoint" "$WORK/src"
measure "eval ppl, W8A16 Ascend V1 output" "$WORK/w8a16"
