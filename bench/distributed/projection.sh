#!/usr/bin/env bash
# Projected weak-scaling efficiency of data-parallel training (docs/distributed.md): each node keeps its batch and the
# compute time per step measured on one node by bench/distributed/scaling.sh (1 rank x all its threads); the gradient
# sum is a ring allreduce of the model's fp32 gradients, not overlapped with the backward pass:
#   T_allreduce(N) = 2 (N-1)/N * bytes / bandwidth + 2 (N-1) * latency,   efficiency(N) = T_compute / (T_compute + T_allreduce)
# Usage: bench/distributed/projection.sh SCALING_TSV OUT_DIR
#   SCALING_TSV: the scaling.tsv that bench/distributed/scaling.sh wrote (name, compute_ms_per_step, parameters)
#   (bench/distributed/quiet-compute.tsv holds the quiet-machine figures docs/distributed.md's table was drawn from)
#   -> OUT_DIR/scaling-projection.csv and one PNG per model (recur plot).
set -euo pipefail
tsv="$(realpath "$1")"; out="$2"; mkdir -p "$out"; out="$(realpath "$out")"
cd "$(dirname "$0")/../.."
dll="$PWD/src/Recur.Cli/bin/Release/net10.0/Recur.Cli.dll"
latency_us=25   # per message on TCP over Ethernet (one hop); RDMA fabrics are nearer 2 us
models=()
while IFS=$'\t' read -r name ms params; do
  case "$name" in name|'#'*|'') continue;; esac
  models+=("$name|$ms|$params")
done < "$tsv"
echo "model,nodes,gbps,allreduce_ms,efficiency" > "$out/scaling-projection.csv"
for m in "${models[@]}"; do
  IFS='|' read -r name ms params <<< "$m"
  csv="$out/$name.csv"; echo "nodes,10 Gb/s,25 Gb/s,100 Gb/s" > "$csv"
  for n in 2 4 8 16 32 64; do
    line="$n"
    for g in 10 25 100; do
      read -r ar eff < <(awk -v n="$n" -v g="$g" -v ms="$ms" -v p="$params" -v a="$latency_us" 'BEGIN {
        bytes = 4 * p; ar = (2 * (n - 1) / n * bytes / (g * 1e9 / 8) + 2 * (n - 1) * a * 1e-6) * 1e3;
        printf "%.4f %.4f\n", ar, ms / (ms + ar) }')
      echo "$name,$n,$g,$ar,$eff" >> "$out/scaling-projection.csv"
      line="$line,$eff"
    done
    echo "$line" >> "$csv"
  done
  dotnet "$dll" plot "$csv" --output "$out/$name.png" --title "Projected efficiency: $name" --x-label "nodes (2 cores each)" --y-label "efficiency" --legend LowerLeft >/dev/null
done
column -s, -t "$out/scaling-projection.csv"
