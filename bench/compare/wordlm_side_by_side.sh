#!/usr/bin/env bash
# Word-LM training throughput, Recur and PyTorch on the same model, data and steps, back to back on this machine:
# the 2x200 LSTM of `recur experiment word-lm` (10k vocabulary, tied embeddings, bptt 20, batch 20, Adam, clip 5).
# Usage: bench/compare/wordlm_side_by_side.sh [STEPS] [OUT_DIR]
# Writes the data split first (recur experiment word-lm --data-only) when OUT_DIR/word-lm/data/train.txt is absent.
# Needs python3 with torch for the PyTorch row (Debian: apt install python3-torch).
set -euo pipefail
cd "$(dirname "$0")/../.."
steps=${1:-100}
out=${2:-bench-results}
recur="dotnet src/Recur.Cli/bin/Release/net10.0/Recur.Cli.dll"
train="$out/word-lm/data/train.txt"
[ -f "$train" ] || $recur experiment word-lm --data ../shared/data --output "$out" --data-only
$recur info | head -3
# A validation hold-out of 1% keeps the end-of-run evaluation short; tokens/s counts the training steps only.
$recur train --task lm --tokenizer ptb --data "$train" --valid-fraction 0.01 --layers 2 --hidden 200 --embedding 200 \
  --tie-embeddings true --bptt 20 --batch-size 20 --lr 0.003 --clip-norm 5 --max-steps "$steps" --log-every 50 \
  --output "$out/wordlm-bench" --start-over > "$out/wordlm-recur.log"
recur_tps=$(python3 -c "import json,sys; print(round(json.load(open(sys.argv[1]))['train_tokens_per_second']))" "$out/wordlm-bench/metrics.json")
if python3 -c "import torch" 2>/dev/null; then py=python3; elif /usr/bin/python3 -c "import torch" 2>/dev/null; then py=/usr/bin/python3; else py=""; fi
if [ -n "$py" ]; then
  torch_tps=$($py bench/compare/pytorch_wordlm.py --data "$train" --steps "$steps" --json "$out/wordlm-pytorch.json" \
    | python3 -c "import json,sys; print(round(json.loads(sys.stdin.read())['tokens_per_second']))")
else
  echo "python3 torch not available: PyTorch row skipped" >&2
  torch_tps="–"
fi
echo "| engine | training tokens/s (2x200 LSTM, V=10k, tied, bptt 20, batch 20, $steps steps) |"
echo "|---|---:|"
echo "| Recur | $recur_tps |"
echo "| PyTorch | $torch_tps |"
uptime
