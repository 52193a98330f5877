#!/usr/bin/env python3
"""PyTorch side of the word-LM throughput comparison: the model and training step of `recur experiment word-lm`.

Embedding (V, 200) -> 2-layer LSTM 200 -> Linear tied to the embedding, trained statefully with truncated BPTT
(bptt 20, batch 20: the text cut into 20 contiguous streams), cross-entropy, global-norm clipping at 5, Adam lr 0.003.
The file is read the same way as `recur train --tokenizer ptb`: tokens split on whitespace, <eos> after each line,
vocabulary = every type of the file. Reports training tokens/s (forward, backward, clip, optimizer step) over
--steps steps after --warmup steps, on --threads threads.

    python3 bench/compare/pytorch_wordlm.py --data recur-runs/word-lm/data/train.txt [--threads N] [--steps 100]

and the matching Recur run (its metrics.json holds train_tokens_per_second):

    recur train --task lm --tokenizer ptb --data recur-runs/word-lm/data/train.txt --valid-fraction 0.01 \\
        --layers 2 --hidden 200 --embedding 200 --tie-embeddings true --bptt 20 --batch-size 20 --lr 0.003 \\
        --clip-norm 5 --max-steps 100 --output runs/wordlm-bench

Needs torch (Debian: apt install python3-torch). Not used by the project or its tests.
"""
import argparse, json, os, time
import torch
import torch.nn as nn


class WordLm(nn.Module):
    def __init__(self, vocab, width, layers):
        super().__init__()
        self.embedding = nn.Embedding(vocab, width)
        self.lstm = nn.LSTM(width, width, layers, batch_first=True)
        self.head = nn.Linear(width, vocab)
        self.head.weight = self.embedding.weight  # tied

    def forward(self, x, state):
        out, state = self.lstm(self.embedding(x), state)
        return self.head(out), state


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--batch", type=int, default=20)
    ap.add_argument("--bptt", type=int, default=20)
    ap.add_argument("--json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    tokens, vocab = [], {}
    with open(args.data, encoding="utf-8") as f:
        for line in f:
            for w in line.split() + ["<eos>"]:
                tokens.append(vocab.setdefault(w, len(vocab)))
    data = torch.tensor(tokens, dtype=torch.long)
    per_stream = (len(data) - 1) // args.batch
    x_all = data[:per_stream * args.batch].view(args.batch, per_stream)
    y_all = data[1:per_stream * args.batch + 1].view(args.batch, per_stream)
    model = WordLm(len(vocab), 200, 2)
    opt = torch.optim.Adam(model.parameters(), lr=0.003)
    loss_fn = nn.CrossEntropyLoss()
    state, start, done = None, 0, 0
    t0 = None
    for step in range(args.warmup + args.steps):
        if step == args.warmup:
            t0 = time.perf_counter()
        if start + args.bptt > per_stream:
            start, state = 0, None
        x = x_all[:, start:start + args.bptt]
        y = y_all[:, start:start + args.bptt]
        start += args.bptt
        if state is not None:
            state = tuple(s.detach() for s in state)
        logits, state = model(x, state)
        loss = loss_fn(logits.reshape(-1, logits.size(-1)), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        if step >= args.warmup:
            done += x.numel()
    seconds = time.perf_counter() - t0
    row = {"engine": f"PyTorch {torch.__version__}", "threads": torch.get_num_threads(), "vocabulary": len(vocab),
           "tokens": done, "seconds": seconds, "tokens_per_second": done / seconds, "final_loss": loss.item()}
    print(json.dumps(row))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(row, f)


if __name__ == "__main__":
    main()
