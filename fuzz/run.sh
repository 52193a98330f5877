#!/usr/bin/env bash
# Fuzz Recur's readers with AFL++ through SharpFuzz. See fuzz/README.md.
#   fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]      (default: 180 s, every target, one after another)
# Needs: afl-fuzz (Debian: apt-get install afl++) and the sharpfuzz tool
# (dotnet tool install --global SharpFuzz.CommandLine --version 2.3.0).
# Findings go to ${FINDINGS:-/tmp/recur-findings}/<target>; crashes under .../default/crashes.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-180}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(safetensors model tsv translation-tsv conll timeseries wav pianoroll text table)
findings=${FINDINGS:-/tmp/recur-findings}
out=fuzz/bin
export PATH="$PATH:$HOME/.dotnet/tools"

# A fresh publish each time: sharpfuzz rewrites Recur.dll in place and refuses an already instrumented one.
rm -rf "$out"
dotnet publish fuzz/Recur.Fuzz/Recur.Fuzz.csproj -c Release -o "$out" --nologo -v quiet
# Only the library under test is instrumented (its dependencies' branches would only add noise).
sharpfuzz "$out/Recur.dll"

export AFL_SKIP_BIN_CHECK=1                    # the target is `dotnet`, instrumented at the IL level, not by afl-cc
export AFL_SKIP_CPUFREQ=1
export AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
export AFL_NO_UI=1
export AFL_NO_AFFINITY=${AFL_NO_AFFINITY:-1}
for t in "${targets[@]}"; do
  echo "== $t: ${seconds}s"
  rm -rf "${findings:?}/$t"
  mkdir -p "$findings"
  afl-fuzz -i "fuzz/corpus/$t" -o "$findings/$t" -t 5000 -m none -V "$seconds" \
    -- dotnet "$out/Recur.Fuzz.dll" "$t" > "$findings/$t.log" 2>&1 || { echo "afl-fuzz failed, see $findings/$t.log"; tail -20 "$findings/$t.log"; }
  stats="$findings/$t/default/fuzzer_stats"
  if [ -f "$stats" ]; then
    grep -E '^(execs_done|execs_per_sec|corpus_count|saved_crashes|saved_hangs|bitmap_cvg|edges_found|total_edges) ' "$stats" | tr -s ' ' | paste -sd' '
  fi
done
