#!/usr/bin/env python3
"""Markdown table of Recur vs PyTorch benchmark JSON files (same row format). Ratio > 1 means Recur is faster.
With `rnn --ort` rows, ONNX Runtime's inference (measured in the same run as Recur's) gets its own column."""
import json, os, sys

recur = json.load(open(sys.argv[1], encoding="utf-8-sig"))
torch = json.load(open(sys.argv[2], encoding="utf-8-sig")) if len(sys.argv) > 2 and os.path.exists(sys.argv[2]) else []

def key(r):
    return (r["kind"], r.get("B"), r.get("T"), r.get("I"), r.get("H"), r.get("L"), bool(r.get("bi")), bool(r.get("state")), r.get("n"))

def name(r):
    return f"{r['kind']} {r['B']} {r['T']} {r['I']} {r['H']} {r['L']}" + (" bi" if r.get("bi") else "") + (" +state" if r.get("state") else "")

t = {key(r): r for r in torch}
ort = any("ort_infer_ms" in r for r in recur)
def f(v): return "–" if v is None else f"{v:.3g}" if v < 10 else f"{v:.0f}"
def ratio(a, b): return "–" if a is None or b is None else f"{b / a:.2f}x"
print("| config (kind B T I H L) | Recur infer ms | PyTorch infer ms | speed-up | Recur train ms | PyTorch train ms | speed-up | Recur train peak MB | PyTorch train peak MB (max RSS) |"
      + (" ORT infer ms | ORT/Recur |" if ort else ""))
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|" + ("---:|---:|" if ort else ""))
for r in recur:
    if r["kind"] in ("gemm", "peak"): continue
    p = t.get(key(r), {})
    line = (f"| {name(r)} | {f(r['infer_ms'])} | {f(p.get('infer_ms'))} | {ratio(r['infer_ms'], p.get('infer_ms'))} "
            f"| {f(r['train_ms'])} | {f(p.get('train_ms'))} | {ratio(r['train_ms'], p.get('train_ms'))} | {f(r.get('train_peak_mb'))} | {f(p.get('train_peak_mb'))} |")
    if ort:
        line += f" {f(r.get('ort_infer_ms'))} | {ratio(r['infer_ms'], r.get('ort_infer_ms'))} |"
    print(line)
print()
peaks = [r for r in recur if r["kind"] == "peak"]
if peaks:
    print("FMA peak (all threads): " + ", ".join(f"{r['width']} {r['gflops']:.0f} GFLOP/s" for r in peaks))
    print()
print("| SGEMM n | Recur GFLOP/s | of FMA peak | PyTorch (OpenBLAS) GFLOP/s |")
print("|---:|---:|---:|---:|")
for r in recur:
    if r["kind"] != "gemm": continue
    p = t.get(key(r), {})
    frac = r.get("peak_fraction")
    print(f"| {r['n']} | {r['gflops']:.0f} | {'–' if frac is None else f'{frac:.0%}'} | {p.get('gflops', float('nan')):.0f} |")
