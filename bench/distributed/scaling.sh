#!/usr/bin/env bash
# Data-parallel throughput on one machine (docs/distributed.md, issue 16): for each configuration, 1 rank x N threads
# against N ranks x 1 thread, the latter with one gradient sum after backward (--bucket-mb 0) and with gradient buckets
# that overlap the sums with backward (--bucket-mb $BUCKET_MB). Configurations: classifiers shaped like the engine
# benchmark's two LSTM rows (rows of exactly T tokens, global batch B), a character LM (the README's: 2x128, bptt 100)
# and a word LM (tiny-shakespeare, word tokens, 10k vocabulary, 2x200, 20 streams x 20 steps).
#
# Usage: bench/distributed/scaling.sh OUT_DIR [RANKS]      (needs mpirun; reads ../shared/data/tiny-shakespeare)
#   env: BUCKET_MB (default 1), ONLY (a substring of the configuration names to run)
# Writes OUT_DIR/scaling.md (markdown table, also printed), OUT_DIR/scaling.json and OUT_DIR/scaling.tsv (per
# configuration: compute ms per step of 1 rank x N threads and the parameter count, which bench/distributed/projection.sh reads).
#
# Figures: items/s is the trainer's throughput at the last logged step (its clock: start-up and JIT included, no
# validation). For the N-rank runs, metrics.json's step_seconds (rank 0's forward + backward, including the bucket sums
# started and tested inside backward) and collective_wait_seconds (rank 0's time inside MPI calls: transfer, and waiting
# for the slower rank), each divided by the steps.
set -euo pipefail
out="$1"; n="${2:-2}"; bucket="${BUCKET_MB:-1}"; only="${ONLY:-}"
cd "$(dirname "$0")/../.."
dll="$PWD/src/Recur.Cli/bin/Release/net10.0/Recur.Cli.dll"
shakespeare="$PWD/../shared/data/tiny-shakespeare/input.txt"
mkdir -p "$out"
# Classification rows of exactly T tokens over a 1,000-word vocabulary (seeded), so batches match the benchmark's (B, T).
make_rows() { awk -v T="$2" -v R="$3" 'BEGIN { srand(11); print "text\tlabel"; for (r = 0; r < R; r++) { s = ""; for (t = 0; t < T; t++) s = s (t ? " " : "") "w" int(rand() * 1000); print s "\t" (rand() < 0.5 ? "a" : "b") } }' > "$1"; }
make_rows "$out/t50.tsv" 50 4000
make_rows "$out/t100.tsv" 100 2000
ips() { grep '"kind":"step"' "$1/metrics.jsonl" | tail -1 | sed 's/.*"items_per_second":\([0-9.e+-]*\).*/\1/'; }
fact() { sed -n "s/.*\"$2\": *\([0-9.eE+-]*\).*/\1/p" "$1/metrics.json" | head -1; }
run() { # dir, ranks, threads, bucket, args...
  local dir="$1" ranks="$2" threads="$3" mb="$4"; shift 4
  rm -rf "$dir"
  if [ "$ranks" = 1 ]; then RECUR_NUM_THREADS=$threads CI=1 dotnet "$dll" train "$@" --output "$dir" >/dev/null
  else mpirun --allow-run-as-root --oversubscribe --bind-to none -np "$ranks" -x RECUR_NUM_THREADS=$threads -x CI=1 \
    dotnet "$dll" train "$@" --bucket-mb "$mb" --output "$dir" >/dev/null; fi
}
load() { cut -d' ' -f1 /proc/loadavg; }
configs=(
  "lstm-B32-T50-E64-H128-L1|classify|32|--data $out/t50.tsv --batch-size 32 --embedding 64 --hidden 128 --layers 1 --max-steps 40"
  "lstm-B64-T100-E64-H512-L2|classify|64|--data $out/t100.tsv --batch-size 64 --embedding 64 --hidden 512 --layers 2 --max-steps 10"
  "char-lm-2x128-B32-T100|lm|3200|--data $shakespeare --tokenizer char --embedding 64 --hidden 128 --layers 2 --batch-size 32 --bptt 100 --max-steps 20"
  "word-lm-2x200-B20-T20|lm|400|--data $shakespeare --tokenizer word --max-vocab 10000 --embedding 200 --hidden 200 --layers 2 --batch-size 20 --bptt 20 --max-steps 40"
)
md="$out/scaling.md"; json="$out/scaling.json"; tsv="$out/scaling.tsv"
{
  echo "| configuration (unit) | parameters | 1 rank × $n threads | $n ranks × 1 thread, one sum | $n ranks × 1 thread, buckets of $bucket MiB | ratio ($n ranks, buckets ÷ 1 rank) | step ms, one sum / buckets | wait ms per step, one sum / buckets | load |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---|"
} > "$md"
printf 'name\tcompute_ms_per_step\tparameters\n' > "$tsv"
rows=()
for cfg in "${configs[@]}"; do
  IFS='|' read -r name task items args <<< "$cfg"
  [ -n "$only" ] && [[ "$name" != *"$only"* ]] && continue
  case "$task" in classify) args="--task classify $args --valid-fraction 0.01"; unit="sequences/s";; *) args="--task lm $args --valid-fraction 0.01"; unit="tokens/s";; esac
  l0=$(load)
  # shellcheck disable=SC2086
  run "$out/$name-r1-t$n" 1 "$n" 0 $args --log-every 5
  # shellcheck disable=SC2086
  run "$out/$name-r$n-mb0" "$n" 1 0 $args --log-every 5
  # shellcheck disable=SC2086
  run "$out/$name-r$n-mb$bucket" "$n" 1 "$bucket" $args --log-every 5
  l1=$(load)
  one=$(ips "$out/$name-r1-t$n"); sum=$(ips "$out/$name-r$n-mb0"); bk=$(ips "$out/$name-r$n-mb$bucket")
  params=$(dotnet "$dll" inspect "$out/$name-r1-t$n/model.recur" | sed -n 's/^parameters: \([0-9,]*\).*/\1/p' | tr -d ,)
  per() { awk -v a="$(fact "$1" "$2")" -v s="$(fact "$1" steps_timed)" 'BEGIN { printf "%.1f", 1000 * a / s }'; }
  s0=$(per "$out/$name-r$n-mb0" step_seconds); s1=$(per "$out/$name-r$n-mb$bucket" step_seconds)
  w0=$(per "$out/$name-r$n-mb0" collective_wait_seconds); w1=$(per "$out/$name-r$n-mb$bucket" collective_wait_seconds)
  ms=$(awk -v i="$items" -v r="$one" 'BEGIN { printf "%.2f", 1000 * i / r }')
  ratio=$(awk -v a="$bk" -v b="$one" 'BEGIN { printf "%.2f", a / b }')
  printf '| %s (%s) | %s | %.1f | %.1f | %.1f | %s | %s / %s | %s / %s | %s–%s |\n' "$name" "$unit" "$params" "$one" "$sum" "$bk" "$ratio" "$s0" "$s1" "$w0" "$w1" "$l0" "$l1" >> "$md"
  printf '%s\t%s\t%s\n' "$name" "$ms" "$params" >> "$tsv"
  rows+=("$(printf '{"name":"%s","unit":"%s","items_per_step":%s,"parameters":%s,"one_rank_items_per_second":%s,"one_rank_compute_ms_per_step":%s,"ranks_one_sum_items_per_second":%s,"ranks_buckets_items_per_second":%s,"ranks_one_sum_step_ms":%s,"ranks_buckets_step_ms":%s,"ranks_one_sum_wait_ms_per_step":%s,"ranks_buckets_wait_ms_per_step":%s,"load_before":%s,"load_after":%s}' \
    "$name" "$unit" "$items" "$params" "$one" "$ms" "$sum" "$bk" "$s0" "$s1" "$w0" "$w1" "$l0" "$l1")")
done
{
  printf '{"ranks":%s,"threads_one_rank":%s,"bucket_mb":%s,"date":"%s","machine":"%s","rows":[\n' "$n" "$n" "$bucket" "$(date -u +%FT%TZ)" \
    "$(dotnet "$dll" info | tr '\n' ';' | sed 's/"/\\"/g')"
  for i in "${!rows[@]}"; do printf '  %s%s\n' "${rows[$i]}" "$([ "$i" -lt $((${#rows[@]} - 1)) ] && echo ,)"; done
  echo ']}'
} > "$json"
cat "$md"
