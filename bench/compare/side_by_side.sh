#!/usr/bin/env bash
# Runs the Recur engine benchmark and the PyTorch one back to back on this machine and prints a Markdown table
# of both with their ratios. Usage: bench/compare/side_by_side.sh [OUT_DIR] [SECONDS]
# Needs python3 with torch for the PyTorch column (Debian: apt install python3-torch libopenblas0-pthread).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-bench-results}
secs=${2:-3}
mkdir -p "$out"
# Build first, without build servers: a compiler server or MSBuild node left running by `dotnet run`'s own build
# competed with the first rows' timing (the small LSTM row read 2.5-3.1 ms right after a build, 1.3 ms otherwise).
dotnet build -c Release bench/Recur.Bench --disable-build-servers -v quiet -nologo
dotnet run -c Release --no-build --project bench/Recur.Bench -- rnn --json "$out/recur.json" --seconds "$secs" --ort
if python3 -c "import torch" 2>/dev/null; then
  python3 bench/compare/pytorch_rnn.py --json "$out/pytorch.json" --seconds "$secs"
else
  echo "python3 torch not available: PyTorch column skipped" >&2
fi
python3 bench/compare/table.py "$out/recur.json" "$out/pytorch.json"
