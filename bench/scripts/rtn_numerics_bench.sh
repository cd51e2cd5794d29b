#!/usr/bin/env bash
# Round-to-nearest data-free conversion under both rounding conventions (`slim convert
# --numerics precise|msmodelslim`, docs/quantization.md "Rounding conventions"): converts
# models/sotu-llama-13m to ascendv1 with W4A16 g128, W8A16 and W8A8_DYNAMIC and evaluates the
# SAVED outputs with `slim eval ppl` (seq_len 256 on data/eval/sotu_2001_2021.txt), next to the
# float model's perplexity.
#
#   bash bench/scripts/rtn_numerics_bench.sh          (MAX_CHUNKS=N windows, 24 by default so that it runs in minutes; 0: all 622)
set -euo pipefail
SLIM=${SLIM:-build/slim}
MODEL=${MODEL:-models/sotu-llama-13m}
DATA=${DATA:-data/eval/sotu_2001_2021.txt}
WORK=${WORK:-build/bench-rtn-numerics}
SEQ_LEN=${SEQ_LEN:-256}
MAX_CHUNKS=${MAX_CHUNKS:-24}
mkdir -p "$WORK"
limit=()
[ "$MAX_CHUNKS" -gt 0 ] && limit=(--max_chunks "$MAX_CHUNKS")
ppl() {  # model dir -> perplexity
  "$SLIM" eval ppl --model_path "$1" --dataset "$DATA" --seq_len "$SEQ_LEN" "${limit[@]}" --json \
    2>"$WORK/last_eval.txt" | sed -n 's/.*"perplexity": \([0-9.]*\).*/\1/p' 
}
float_ppl=$(ppl "$MODEL")
[ -n "$float_ppl" ] || { echo "could not read the perplexity:"; cat "$WORK/last_eval.txt"; exit 1; }
printf '| %-22s | %-11s | %-9s | %-10s |\n' "scheme (ascendv1)" "numerics" "ppl" "vs float"
printf '|%s|%s|%s|%s|\n' "------------------------" "-------------" "-----------" "------------"
printf '| %-22s | %-11s | %9.3f | %10s |\n' "float" "-" "$float_ppl" "-"
for scheme in "w4a16 --group_size 128" "w8a16" "w8a8_dynamic"; do
  for numerics in msmodelslim precise; do
    out="$WORK/$(echo "$scheme" | cut -d' ' -f1)-$numerics"
    "$SLIM" convert --model_path "$MODEL" --save_path "$out" --format ascendv1 --scheme $scheme \
      --numerics "$numerics" --overwrite >/dev/null 2>"$WORK/last_convert.txt"
    p=$(ppl "$out")
    [ -n "$p" ] || { echo "could not read the perplexity:"; cat "$WORK/last_eval.txt"; exit 1; }
    label=$(echo "$scheme" | sed 's/ --group_size / g/')
    printf '| %-22s | %-11s | %9.3f | %+9.2f%% |\n' "$label" "$numerics" "$p" \
      "$(awk -v p="$p" -v f="$float_ppl" 'BEGIN{print 100*(p/f-1)}')"
  done
done
