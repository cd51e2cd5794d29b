#!/usr/bin/env bash
# The main job on the bundled default model (make demo): `slim quant` of models/sotu-llama-13m in
# four quant types into out/, each SAVED output evaluated from disk (held-out perplexity and KL
# divergence against the float model), printed as one table with size, time and peak RSS.
#
#   SLIM=build/slim bash scripts/demo-quant.sh [model_dir] [out_dir]
#
# DEMO_CALIB_SAMPLES (32), DEMO_EVAL_CHUNKS (32) and DEMO_SEQ_LEN (256) size the run; the phases
# of each run (load, calibration forward, parameters, save) come from its debug_info.json.
# DEMO_W4A16_CONFIG replaces the w4a16 practice (a model whose input dims 128 does not divide).
set -euo pipefail
cd "$(dirname "$0")/.."
slim=${SLIM:-build/slim}
model=${1:-models/sotu-llama-13m}
out=${2:-out}
eval_text=data/eval/sotu_2001_2021.txt
calib=data/calib/sotu_calib.jsonl
chunks=${DEMO_EVAL_CHUNKS:-32}
seq_len=${DEMO_SEQ_LEN:-256}
mkdir -p "$out"

measure() {  # measure LOG COMMAND...: wall seconds and peak RSS (MB) of COMMAND into LOG
  local log=$1; shift
  /usr/bin/time -f "%e %M" -o "$log.time" "$@" >"$log" 2>"$log.err" || {
    cat "$log.err" >&2; exit 1; }
}

float_ppl=$("$slim" eval ppl --model_path "$model" --dataset "$eval_text" --seq_len "$seq_len" \
  --max_chunks "$chunks" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["perplexity"])')
rows=()
for spec in "w8a16:--config_path default-w8a16" "w8a8_static:--config_path default-w8a8-static" \
            "w8a8_dynamic:--config_path default-w8a8" "w4a16:--config_path ${DEMO_W4A16_CONFIG:-default-w4a16}"; do
  name=${spec%%:*}; args=${spec#*:}
  dir="$out/$name"
  # shellcheck disable=SC2086
  measure "$out/$name.log" "$slim" quant --model_path "$model" --save_path "$dir" $args \
    --dataset "$calib" --calib_samples "${DEMO_CALIB_SAMPLES:-32}" --overwrite --debug
  read -r secs rss_kb <"$out/$name.log.time"
  size=$(du -sb --exclude=debug_info "$dir" | cut -f1)
  phases=$(python3 -c 'import json,sys; p=json.load(open(sys.argv[1]))["phases_s"]
print("/".join(f"{p[k]:.1f}" for k in ("load", "calibration", "parameters", "save")))' \
    "$dir/debug_info/debug_info.json")
  read -r ppl kld < <("$slim" eval kld --model_path "$dir" --ref_model_path "$model" \
    --dataset "$eval_text" --seq_len "$seq_len" --max_chunks "$chunks" --json |
    python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["perplexity"], r["mean_kld"])')
  rows+=("$name $size $ppl $kld $secs $rss_kb $phases")
done
python3 - "$float_ppl" "${rows[@]}" <<'PY'
import sys
float_ppl = float(sys.argv[1])
print(f"\nfloat perplexity {float_ppl:.3f} (held-out SOTU 2001-2021)")
print(f"{'quant type':<14}{'size on disk':>14}{'ppl (saved)':>13}{'Δ vs float':>12}{'KLD':>10}{'time':>8}{'peak RSS':>10}  phases (load/calib/params/save s)")
for row in sys.argv[2:]:
    name, size, ppl, kld, secs, rss, phases = row.split()
    ppl = float(ppl)
    print(f"{name:<14}{int(size)/1e6:>11.1f} MB{ppl:>13.3f}{(ppl/float_ppl-1)*100:>+11.2f}%"
          f"{float(kld):>10.5f}{float(secs):>7.1f}s{int(rss)/1024:>7.0f} MB  {phases}")
PY
