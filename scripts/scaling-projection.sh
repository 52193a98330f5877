#!/usr/bin/env bash
# Projected weak-scaling efficiency of data-parallel training (docs/distributed.md): each node keeps its batch and its
# measured compute time per step; the gradient sum is a ring allreduce of the model's gradients, not overlapped with
# the backward pass (as Recur does it now):
#   T_allreduce(N) = 2 (N-1)/N * bytes / bandwidth + 2 (N-1) * latency,   efficiency(N) = T_compute / (T_compute + T_allreduce)
# Usage: scripts/scaling-projection.sh OUT_DIR   -> OUT_DIR/scaling-projection.csv and one PNG per model (recur plot).
set -euo pipefail
out="$1"; mkdir -p "$out"
cd "$(dirname "$0")/.."
dll="$PWD/src/Recur.Cli/bin/Release/net10.0/Recur.Cli.dll"
latency_us=25   # per message on TCP over Ethernet (one hop); RDMA fabrics are nearer 2 us
# model | compute ms per step on one 2-core node (quiet machine, docs/benchmarks.md and docs/results.md) | parameters
models=(
  "lstm-B32-T50-H128|7.77|99328"
  "lstm-B64-T100-H512x2|579|3284992"
  "word-lm-2x200-tied-B20-T20|85|2653200"
)
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
