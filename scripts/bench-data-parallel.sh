#!/usr/bin/env bash
# Data-parallel throughput on this machine (docs/distributed.md): 1 rank x T threads against N ranks x 1 thread (and
# 1 rank x 1 thread), on classifiers shaped like the engine benchmark's LSTM rows and on a word LM.
# Usage: scripts/bench-data-parallel.sh OUT_DIR [RANKS]   (needs mpirun; the LM reads ../shared/data/tiny-shakespeare)
set -euo pipefail
out="$1"; n="${2:-2}"
cd "$(dirname "$0")/.."
dll="$PWD/src/Recur.Cli/bin/Release/net10.0/Recur.Cli.dll"
mkdir -p "$out"
# Classification rows of exactly T tokens over a 1,000-word vocabulary (seeded), so batches match the benchmark's (B, T).
make_rows() { awk -v T="$2" -v R="$3" 'BEGIN { srand(11); print "text\tlabel"; for (r = 0; r < R; r++) { s = ""; for (t = 0; t < T; t++) s = s (t ? " " : "") "w" int(rand() * 1000); print s "\t" (rand() < 0.5 ? "a" : "b") } }' > "$1"; }
make_rows "$out/t50.tsv" 50 4000
make_rows "$out/t100.tsv" 100 2000
fig() { grep '"kind":"step"' "$1/metrics.jsonl" | tail -1 | sed 's/.*"items_per_second":\([0-9.e+-]*\).*/\1/'; }
run() { # name, ranks, threads, args...
  local name="$1" ranks="$2" threads="$3"; shift 3
  local dir="$out/$name-r$ranks-t$threads"; rm -rf "$dir"
  if [ "$ranks" = 1 ]; then RECUR_NUM_THREADS=$threads CI=1 dotnet "$dll" train "$@" --output "$dir" >/dev/null
  else mpirun --allow-run-as-root --oversubscribe --bind-to none -np "$ranks" -x RECUR_NUM_THREADS=$threads -x CI=1 dotnet "$dll" train "$@" --output "$dir" >/dev/null; fi
  echo "$name ranks=$ranks threads=$threads items_per_second=$(fig "$dir") load=$(cut -d' ' -f1 /proc/loadavg)"
}
for cfg in \
  "lstm-B32-T50-E64-H128-L1|--data $out/t50.tsv --batch-size 32 --embedding 64 --hidden 128 --layers 1 --max-steps 40" \
  "lstm-B64-T100-E64-H512-L2|--data $out/t100.tsv --batch-size 64 --embedding 64 --hidden 512 --layers 2 --max-steps 12" \
  "word-lm-2x200-B20-T20|--task lm --data ../shared/data/tiny-shakespeare/input.txt --tokenizer word --max-vocab 10000 --embedding 200 --hidden 200 --layers 2 --batch-size 20 --bptt 20 --max-steps 40"; do
  name="${cfg%%|*}"; args="${cfg#*|}"
  case "$args" in *--task*) ;; *) args="--task classify $args --valid-fraction 0.01";; esac
  # shellcheck disable=SC2086
  { run "$name" 1 "$n" $args --log-every 5; run "$name" "$n" 1 $args --log-every 5; run "$name" 1 1 $args --log-every 5; }
done | tee "$out/results.txt"
