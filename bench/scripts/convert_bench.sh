#!/usr/bin/env bash
# Data-free conversion (`slim convert --format ascendv1|compressed-tensors --scheme ...`) against a
# plain `cp` of the same checkpoint, measured in the same run (issue 7, item 8): wall time, peak
# RSS and GB/s of input read. The ~1.1B-parameter random bf16 checkpoint (TinyLlama geometry) is
# written once into $WORK and reused.
#
#   bash bench/scripts/convert_bench.sh [scheme/format ...]     (default: a representative set)
#
# Both read from the page cache when the machine has the memory to hold the checkpoint (2.2 GB):
# the numbers compare the work done per byte, not the disk. Set DROP_CACHES=1 (root) to start
# each run cold.
set -euo pipefail
SLIM=${SLIM:-build/slim}
WORK=${WORK:-build/bench-convert}
THREADS=${THREADS:-2}
CASES=("$@")
[ ${#CASES[@]} -gt 0 ] || CASES=(w8a16/ascendv1 w4a16/ascendv1 w8a16/compressed-tensors \
  w4a16/compressed-tensors wfp8/ascendv1 mxfp4/ascendv1)
mkdir -p "$WORK"
# shellcheck source=bench/scripts/random-tinyllama.sh
source "$(dirname "$0")/random-tinyllama.sh"
random_tinyllama "$WORK/src"
bytes=$(du -sb "$WORK/src" | cut -f1)
echo "checkpoint: $WORK/src, $(awk -v b="$bytes" 'BEGIN{printf "%.3f GB", b/1e9}'), $(nproc) cores, $THREADS threads"
cold() { if [ "${DROP_CACHES:-0}" = 1 ]; then sync; echo 3 > /proc/sys/vm/drop_caches; fi; }
measure() {  # label, command...
  local label=$1; shift
  cold
  local stats_file="$WORK/time.txt"
  /usr/bin/time -o "$stats_file" -f "%e %M" "$@" >/dev/null 2>"$WORK/stderr.txt" ||
    { echo "$label failed:"; cat "$WORK/stderr.txt"; return 1; }
  read -r seconds rss_kb < "$stats_file"
  awk -v l="$label" -v s="$seconds" -v r="$rss_kb" -v b="$bytes" \
    'BEGIN{printf "%-28s %7.2f s  %6.2f GB/s  peak RSS %7.1f MB\n", l, s, b/1e9/s, r/1024}'
}
cat "$WORK"/src/*.safetensors > /dev/null  # warm the cache once for both
rm -rf "$WORK/copy"
measure "cp -r" cp -r "$WORK/src" "$WORK/copy"
rm -rf "$WORK/copy"
for case in "${CASES[@]}"; do
  scheme=${case%/*} format=${case#*/}
  rm -rf "$WORK/out"
  SLIM_PROGRESS=0 measure "$scheme -> $format" "$SLIM" --threads "$THREADS" --log-level warn convert \
    --model_path "$WORK/src" --save_path "$WORK/out" --format "$format" --scheme "$scheme"
  rm -rf "$WORK/out"
done
