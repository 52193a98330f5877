#!/usr/bin/env bash
# NativeAOT check: publishes `recur` as a single native executable for x86-64-v3 (AVX2; the csproj default), checks
# that it runs and that its kernels use 256-bit vectors, then runs the engine benchmark with the JIT build and the AOT
# binary back to back and prints both side by side (ratio > 1: AOT faster).
#   scripts/aot-check.sh [OUT_DIR] [SECONDS_PER_MEASUREMENT] [INSTRUCTION_SET]
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-artifacts/aot}"; seconds="${2:-2}"; isa="${3:-x86-64-v3}"
mkdir -p "$out"
# NativeAOT links with clang: Debian's `clang` package, or the versioned clang-14 that the base image may have alone.
cc=$(command -v clang || command -v clang-14 || true)
[ -n "$cc" ] || { echo "NativeAOT needs clang (Debian: apt-get install clang)" >&2; exit 1; }
dotnet build src/Recur.Cli -c Release -v quiet -nologo
dotnet publish src/Recur.Cli/Recur.Cli.csproj -c Release -r linux-x64 -p:PublishAot=true -p:IlcInstructionSet="$isa" -p:CppCompilerAndLinker="$(basename "$cc")" -o "$out/bin" -v quiet -nologo
"$out/bin/Recur.Cli" info
"$out/bin/Recur.Cli" info | grep -q "Vector256 True" || { echo "the AOT binary does not use 256-bit vectors" >&2; exit 1; }
ls -l "$out/bin/Recur.Cli"
dotnet src/Recur.Cli/bin/Release/net10.0/Recur.Cli.dll bench --seconds "$seconds" --json "$out/jit.json"
"$out/bin/Recur.Cli" bench --seconds "$seconds" --json "$out/aot.json"
python3 - "$out/jit.json" "$out/aot.json" <<'PY'
import json, sys
jit = json.load(open(sys.argv[1])); aot = {json.dumps({k: r.get(k) for k in ("kind", "B", "T", "I", "H", "L", "n")}): r for r in json.load(open(sys.argv[2]))}
print("| config (kind B T I H L) | JIT infer ms | AOT infer ms | JIT/AOT | JIT train ms | AOT train ms | JIT/AOT |")
print("|---|---:|---:|---:|---:|---:|---:|")
f = lambda v: "–" if v is None else f"{v:.3g}" if v < 10 else f"{v:.0f}"
q = lambda a, b: "–" if a is None or b is None else f"{a / b:.2f}"
for r in jit:
    a = aot[json.dumps({k: r.get(k) for k in ("kind", "B", "T", "I", "H", "L", "n")})]
    if r["kind"] == "gemm":
        print(f"| sgemm n={r['n']} (GFLOP/s) | {r['gflops']} | {a['gflops']} | {a['gflops'] / r['gflops']:.2f} (AOT/JIT) | | | |")
        continue
    print(f"| {r['kind']} {r['B']} {r['T']} {r['I']} {r['H']} {r['L']} | {f(r['infer_ms'])} | {f(a['infer_ms'])} | {q(r['infer_ms'], a['infer_ms'])} "
          f"| {f(r['train_ms'])} | {f(a['train_ms'])} | {q(r['train_ms'], a['train_ms'])} |")
PY
