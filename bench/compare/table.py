#!/usr/bin/env python3
"""Markdown table of Recur vs PyTorch benchmark JSON files (same row format). Ratio > 1 means Recur is faster."""
import json, os, sys

recur = json.load(open(sys.argv[1], encoding="utf-8-sig"))
torch = json.load(open(sys.argv[2], encoding="utf-8-sig")) if len(sys.argv) > 2 and os.path.exists(sys.argv[2]) else []

def key(r):
    return (r["kind"], r.get("B"), r.get("T"), r.get("I"), r.get("H"), r.get("L"), r.get("n"))

t = {key(r): r for r in torch}
print("| config (kind B T I H L) | Recur infer ms | PyTorch infer ms | speed-up | Recur train ms | PyTorch train ms | speed-up |")
print("|---|---:|---:|---:|---:|---:|---:|")
def f(v): return "–" if v is None else f"{v:.3g}" if v < 10 else f"{v:.0f}"
def ratio(a, b): return "–" if a is None or b is None else f"{b / a:.2f}x"
for r in recur:
    if r["kind"] == "gemm": continue
    p = t.get(key(r), {})
    print(f"| {r['kind']} {r['B']} {r['T']} {r['I']} {r['H']} {r['L']} | {f(r['infer_ms'])} | {f(p.get('infer_ms'))} | {ratio(r['infer_ms'], p.get('infer_ms'))} "
          f"| {f(r['train_ms'])} | {f(p.get('train_ms'))} | {ratio(r['train_ms'], p.get('train_ms'))} |")
print()
print("| SGEMM n | Recur GFLOP/s | PyTorch (OpenBLAS) GFLOP/s |")
print("|---:|---:|---:|")
for r in recur:
    if r["kind"] != "gemm": continue
    p = t.get(key(r), {})
    print(f"| {r['n']} | {r['gflops']:.0f} | {p.get('gflops', float('nan')):.0f} |")
