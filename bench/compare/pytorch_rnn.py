#!/usr/bin/env python3
"""PyTorch side of the engine benchmark, for side-by-side runs on the same machine.

Same configs, same JSON rows as `Recur.Bench rnn`: float32, batch_first, all cores,
median ms of an inference forward (no_grad) and of a training step (zero_grad, forward,
sum(outputs).backward()), plus square matmul GFLOP/s. train_peak_mb: the peak memory of training,
measured in a fresh child process per row (peak RSS, VmHWM, while it runs three training
steps, minus its RSS before the model and input were made), so one row's peak does not hide the next.

    python3 bench/compare/pytorch_rnn.py --json pytorch.json [--threads N] [--seconds S]

Needs torch (Debian: apt install python3-torch libopenblas0-pthread). Not used by the tests.
"""
import argparse, json, os, statistics, subprocess, sys, time
import torch

# (kind, B, T, I, H, L, bidirectional, initial state given)
CONFIGS = [("lstm", 32, 50, 64, 128, 1, False, False), ("lstm", 64, 100, 256, 512, 1, False, False),
           ("lstm", 64, 50, 1024, 1024, 1, False, False), ("lstm", 64, 100, 64, 512, 2, False, False),
           ("gru", 64, 100, 256, 512, 1, False, False), ("rnn", 64, 100, 256, 512, 1, False, False),
           ("lstm", 1, 1, 64, 512, 2, False, False),
           ("lstm", 1, 1, 64, 512, 2, False, True), ("lstm", 1, 100, 64, 512, 2, False, False),
           ("lstm", 32, 100, 128, 256, 2, True, False)]


def median_ms(fn, seconds):
    for _ in range(3):
        fn()
    times, start = [], time.perf_counter()
    while len(times) < 5 or (time.perf_counter() - start < seconds and len(times) < 1000):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def build(kind, B, T, I, H, L, bi, state):
    cls = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[kind]
    m = cls(I, H, L, batch_first=True, bidirectional=bi)
    x = torch.rand(B, T, I) * 2 - 1
    LD = L * (2 if bi else 1)
    hx = None
    if state:
        h0 = torch.rand(LD, B, H) * 2 - 1
        hx = (h0, torch.rand(LD, B, H) * 2 - 1) if kind == "lstm" else h0
    return m, x, hx


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def hwm_bytes():
    """This process's peak RSS (VmHWM). Not getrusage's ru_maxrss: Linux keeps that across execve, so a child
    started from a large parent would report the parent's RSS at the fork."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024   # kB
    raise RuntimeError("no VmHWM in /proc/self/status")


def memory_row(index):
    """Child process: peak RSS of three training steps of one row, above the RSS before the model was made."""
    before = rss_bytes()
    m, x, hx = build(*CONFIGS[index])
    m.train()
    for _ in range(3):
        m.zero_grad()
        y, _ = m(x, hx)
        y.sum().backward()
    peak = hwm_bytes()
    print(json.dumps({"train_peak_mb": round((peak - before) / 2 ** 20, 2)}))


def train_peak_mb(index, threads):
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--memory-row", str(index), "--threads", str(threads)],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])["train_peak_mb"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--memory-row", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.memory_row is not None:
        memory_row(args.memory_row)
        return
    torch.manual_seed(0)
    print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads, {torch.__config__.parallel_info().splitlines()[0]}")
    rows = []
    for index, (kind, B, T, I, H, L, bi, state) in enumerate(CONFIGS):
        m, x, hx = build(kind, B, T, I, H, L, bi, state)
        m.eval()
        with torch.no_grad():
            infer = median_ms(lambda: m(x, hx), args.seconds)
        train = peak_mb = None
        if T > 1:
            m.train()
            def step():
                m.zero_grad()
                y, _ = m(x, hx)
                y.sum().backward()
            train = median_ms(step, args.seconds)
            peak_mb = train_peak_mb(index, args.threads)
        print(f"{kind:5} {B:4} {T:4} {I:5} {H:5} {L:2} {infer:10.3f} {'-' if train is None else f'{train:10.3f}':>10}"
              f" {'-' if peak_mb is None else f'{peak_mb:9.1f}':>9}")
        rows.append({"kind": kind, "B": B, "T": T, "I": I, "H": H, "L": L, "bi": bi, "state": state, "infer_ms": round(infer, 4),
                     "train_ms": None if train is None else round(train, 4), "train_peak_mb": peak_mb})
    for n in (512, 1024, 2048):
        a, b = torch.rand(n, n), torch.rand(n, n)
        ms = median_ms(lambda: a @ b, args.seconds)
        g = 2 * n ** 3 / (ms * 1e-3) / 1e9
        print(f"sgemm {n:5} {g:10.1f} GFLOP/s")
        rows.append({"kind": "gemm", "n": n, "gflops": round(g, 2)})
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
