#!/usr/bin/env bash
# A/B of the engine benchmark rows between two commits, interleaved on this machine (for changes whose effect on
# infer_ms / train_ms is a few per cent, e.g. the cell math and the bias fold of issue 13: run it on a quiet machine).
# Builds bench/Recur.Bench of each commit into a throwaway worktree, then for ROUNDS rounds runs `rnn --no-gemm`
# of A and B alternately (A first on odd rounds, B first on even ones) and prints, per row, the median of A and B and
# the median of the per-round ratios A/B (> 1: B faster). train_peak_mb is deterministic and printed once per side.
# Usage: bench/compare/ab_rows.sh [A=main] [B=HEAD] [ROUNDS=5] [SECONDS=2] [OUT=/tmp/recur-ab]
set -euo pipefail
cd "$(dirname "$0")/../.."
a=${1:-main}; b=${2:-HEAD}; rounds=${3:-5}; secs=${4:-2}; out=${5:-/tmp/recur-ab}
mkdir -p "$out"
for side in A B; do
  rev=$([ "$side" = A ] && echo "$a" || echo "$b")
  dir="$out/src-$side"
  rm -rf "$dir"; mkdir -p "$dir"
  git archive "$(git rev-parse "$rev")" | tar -x -C "$dir"
  dotnet build "$dir/bench/Recur.Bench" -c Release -o "$out/bin-$side" 2>&1 | grep -E " error |rror\(s\)" || true
done
for ((r = 1; r <= rounds; r++)); do
  order=$([ $((r % 2)) = 1 ] && echo "A B" || echo "B A")
  for side in $order; do
    dotnet "$out/bin-$side/Recur.Bench.dll" rnn --no-gemm --seconds "$secs" --json "$out/$side-$r.json" > /dev/null
  done
done
python3 - "$out" "$rounds" <<'PY'
import json, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
def load(side, r): return json.load(open(f"{out}/{side}-{r}.json"))
def key(row): return f"{row['kind']} {row['B']} {row['T']} {row['I']} {row['H']} {row['L']}" + (" bi" if row.get('bi') else "") + (" +state" if row.get('state') else "")
print("| row | A infer ms | B infer ms | A/B infer | A train ms | B train ms | A/B train | A peak MB | B peak MB |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
rows = [key(x) for x in load("A", 1) if x["kind"] in ("lstm", "gru", "rnn")]
for k in rows:
    get = lambda side, f: [next(x for x in load(side, r) if x["kind"] in ("lstm", "gru", "rnn") and key(x) == k).get(f) for r in range(1, rounds + 1)]
    def med(v): v = [x for x in v if x is not None]; return statistics.median(v) if v else None
    def ratio(f):
        a, b = get("A", f), get("B", f)
        v = [x / y for x, y in zip(a, b) if x and y]
        return f"{statistics.median(v):.3f}" if v else "-"
    f = lambda v: "-" if v is None else f"{v:.3f}"
    print(f"| {k} | {f(med(get('A','infer_ms')))} | {f(med(get('B','infer_ms')))} | {ratio('infer_ms')} | {f(med(get('A','train_ms')))} | {f(med(get('B','train_ms')))} | {ratio('train_ms')} | {f(get('A','train_peak_mb')[0])} | {f(get('B','train_peak_mb')[0])} |")
PY
