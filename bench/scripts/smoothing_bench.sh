#!/usr/bin/env bash
# Outlier suppression (issue 14): W8A8 static per tensor without and with each of smooth_quant,
# iter_smooth and flex_smooth_quant; W8A8 dynamic without and with iter_smooth (msModelSlim's
# default-w8a8); W4A8 dynamic (int4 per-channel weights) without and with flex_smooth_quant; each
# also after quarot (the rows *_quarot*); W8A8 static with histogram activation ranges (*_histogram)
# and with asymmetric iter_smooth (static_iter_smooth_asym).
# Every SAVED output evaluated from disk (`slim eval kld` against the float model, held-out SOTU
# 2001-2021); the time of each run and of its parameter phase (the processors' own work) from
# debug_info.json.
#
#   bash bench/scripts/smoothing_bench.sh [model_dir] [out_dir]
#
# (Rows with _a05 / _a04: iter_smooth at alpha 0.5 / 0.4 instead of its default 0.9; _a04 runs
# only when ONLY names it. dynamic_flex_smooth is the llama, qwen2 and qwen3 w8a8 presets' config.)
# SAMPLES (32) calibration samples of data/calib/sotu_calib.jsonl; CHUNKS (16) windows of
# SEQ_LEN (512) tokens for the evaluation; ONLY (a space-separated list of row names) limits the rows.
set -euo pipefail
cd "$(dirname "$0")/../.."
SLIM=${SLIM:-build/slim}
model=${1:-models/sotu-llama-13m}
out=${2:-build/bench-smoothing/$(basename "$model")}
samples=${SAMPLES:-32}
chunks=${CHUNKS:-16}
seq_len=${SEQ_LEN:-512}
eval_text=data/eval/sotu_2001_2021.txt
mkdir -p "$out"

static='{act: {dtype: int8, scope: per_tensor, symmetric: false, method: minmax}, weight: {dtype: int8, scope: per_channel, symmetric: true, method: minmax}}'
static_histogram='{act: {dtype: int8, scope: per_tensor, symmetric: false, method: histogram}, weight: {dtype: int8, scope: per_channel, symmetric: true, method: minmax}}'
# V0's act_method 3: histogram per linear unless its input's range score exceeds 50.
static_auto='{act: {dtype: int8, scope: per_tensor, symmetric: false, method: histogram, ext: {range_score_threshold: 50}}, weight: {dtype: int8, scope: per_channel, symmetric: true, method: minmax}}'
dynamic='{act: {dtype: int8, scope: per_token, symmetric: true, method: minmax}, weight: {dtype: int8, scope: per_channel, symmetric: true, method: minmax}}'
w4a8='{act: {dtype: int8, scope: per_token, symmetric: true, method: minmax}, weight: {dtype: int4, scope: per_channel, symmetric: true, method: minmax}}'

w4a16='{act: {dtype: float}, weight: {dtype: int4, scope: per_channel, symmetric: true, method: minmax}}'
# shellcheck source=bench/scripts/v1-yaml.sh
source "$(dirname "$0")/v1-yaml.sh"
config() { v1_yaml "$out/$1.yaml" "${@:2}"; }  # config NAME QCONFIG [SUPPRESSION...]
config static "$static"
config static_smooth_quant "$static" "{type: smooth_quant}"
config static_histogram "$static_histogram"
config static_iter_smooth_histogram "$static_histogram" "{type: iter_smooth}"
config static_histogram_auto "$static_auto"
config static_iter_smooth_histogram_auto "$static_auto" "{type: iter_smooth}"
config static_iter_smooth_asym "$static" "{type: iter_smooth, symmetric: false}"
config static_quarot_iter_smooth_histogram "$static_histogram" "{type: quarot}" "{type: iter_smooth}"
config static_iter_smooth "$static" "{type: iter_smooth}"
config static_flex_smooth "$static" "{type: flex_smooth_quant}"
config dynamic "$dynamic"
config dynamic_iter_smooth "$dynamic" "{type: iter_smooth}"
config w4a8 "$w4a8"
config w4a8_flex_smooth "$w4a8" "{type: flex_smooth_quant}"
config w4a8_flex_awq_ssz "$w4a8" "{type: flex_awq_ssz, qconfig: $w4a8}"
config w4a8_awq "$w4a8" "{type: awq, weight_qconfig: {dtype: int4, scope: per_channel, symmetric: true}}"
config static_iter_smooth_a05 "$static" "{type: iter_smooth, alpha: 0.5}"
config dynamic_iter_smooth_a05 "$dynamic" "{type: iter_smooth, alpha: 0.5}"
config dynamic_iter_smooth_a04 "$dynamic" "{type: iter_smooth, alpha: 0.4}"
config dynamic_flex_smooth "$dynamic" "{type: flex_smooth_quant}"
config static_quarot "$static" "{type: quarot}"
config static_quarot_iter_smooth "$static" "{type: quarot}" "{type: iter_smooth}"
config dynamic_quarot "$dynamic" "{type: quarot}"
config dynamic_quarot_flex_smooth "$dynamic" "{type: quarot}" "{type: flex_smooth_quant}"
config w4a8_quarot "$w4a8" "{type: quarot}"
# Weight-only int4 per channel with and without quarot: whether the rotation's harm to W4A8 lies
# in the int4 weights.
config w4a16 "$w4a16"
config w4a16_quarot "$w4a16" "{type: quarot}"
config w4a8_quarot_flex_smooth "$w4a8" "{type: quarot}" "{type: flex_smooth_quant}"
config w4a8_quarot_awq "$w4a8" "{type: quarot}" "{type: awq, weight_qconfig: {dtype: int4, scope: per_channel, symmetric: true}}"
# W8A8 static except every down_proj, which gets W8A8 dynamic (msModelSlim's own Qwen2.5 W8A8
# practice keeps every down_proj in float): how much of the static loss sits in down_proj inputs.
{
  echo "apiversion: modelslim_v1"
  echo "spec:"
  echo "  process:"
  echo "    - {type: iter_smooth}"
  echo "    - {type: linear_quant, qconfig: $static, include: ['*'], exclude: ['*down_proj']}"
  echo "    - {type: linear_quant, qconfig: $dynamic, include: ['*down_proj']}"
  echo "  save: [{type: ascendv1_saver, part_file_size: 4}]"
} >"$out/static_iter_smooth_dynamic_down.yaml"
rows_default="static static_histogram static_histogram_auto static_smooth_quant static_iter_smooth static_iter_smooth_histogram static_iter_smooth_histogram_auto static_iter_smooth_asym static_iter_smooth_a05 static_iter_smooth_dynamic_down static_flex_smooth static_quarot static_quarot_iter_smooth static_quarot_iter_smooth_histogram dynamic dynamic_iter_smooth dynamic_iter_smooth_a05 dynamic_flex_smooth dynamic_quarot dynamic_quarot_flex_smooth w4a8 w4a8_flex_smooth w4a8_flex_awq_ssz w4a8_awq w4a8_quarot w4a8_quarot_flex_smooth w4a8_quarot_awq w4a16 w4a16_quarot"

float_ppl=$("$SLIM" eval ppl --model_path "$model" --dataset "$eval_text" --seq_len "$seq_len" \
  --max_chunks "$chunks" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["perplexity"])')
echo "float perplexity $float_ppl ($model, $chunks x $seq_len held-out tokens); $samples calibration samples"
printf '%-22s %10s %9s %9s %8s %10s %9s\n' row ppl delta kld time params_s peak_MB
for name in ${ONLY:-$rows_default}; do
  dir="$out/$name"
  /usr/bin/time -f "%e %M" -o "$out/$name.time" "$SLIM" quant --model_path "$model" \
    --save_path "$dir" --config_path "$out/$name.yaml" --dataset data/calib/sotu_calib.jsonl \
    --calib_samples "$samples" --overwrite --debug >"$out/$name.log" 2>&1 || {
    tail -5 "$out/$name.log"; exit 1; }
  read -r secs rss_kb <"$out/$name.time"
  params=$(python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["phases_s"]["parameters"], 1))' \
    "$dir/debug_info/debug_info.json")
  read -r ppl kld < <("$SLIM" eval kld --model_path "$dir" --ref_model_path "$model" \
    --dataset "$eval_text" --seq_len "$seq_len" --max_chunks "$chunks" --json |
    python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["perplexity"], r["mean_kld"])')
  python3 -c 'import sys; n,p,f,k,t,a,r=sys.argv[1:]; p=float(p); f=float(f)
print(f"{n:<22} {p:>10.3f} {(p/f-1)*100:>+8.2f}% {float(k):>9.5f} {float(t):>7.1f}s {a:>10} {int(r)/1024:>9.0f}")' \
    "$name" "$ppl" "$float_ppl" "$kld" "$secs" "$params" "$rss_kb"
done
