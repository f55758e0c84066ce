"""PyTorch CPU side of bench/gpt.sh (issue 5): the same GPT, the same measurements as
crates/gpt/examples/gpt_bench.rs.

Usage: python gpt_ref.py train|gen-cache|gen-nocache [--batch B] [--steps N]
                         [--warmup W] [--threads T] [--attn plain|fused] [--seed S]
                         [--model default|base] [--inputs 0|1]
Prints one JSON line with tokens_per_s and n_params.

The model is the `GPT` class of /work/shared/reference/seed_gpt/gen.py (imported, not
copied; override the folder with SEED_GPT_DIR). --model default: vocab 1024, d_model 128,
4 heads, 4 layers, max_ctx 256, post-norm ReLU, head bias, no final LN, training windows
of 256 tokens. --model base (issue 17; train only): configs/base.toml's model, vocab
1026, d_model 64, 4 heads, 2 layers, max_ctx 32, windows of 32 tokens, plus its three
extra input embeddings (time_of_day 49, day_of_week 8, volume 9 ids), one nn.Embedding
each, summed into the token embedding before the positions as candlecast's Gpt::embed
does (--inputs 0 leaves them out). Weights N(0, 0.02), the residual projections
(attn.o, ffn.down) N(0, 0.02 / sqrt(2 n_layer)), zero biases, unit LayerNorm gains (as
`Gpt::init`).

--attn plain (default): gen.py's attention as written, i.e. q k^T / sqrt(hd),
  masked_fill(-inf), softmax, @ v: plain masked-softmax attention like candlecast's.
--attn fused: the same module with F.scaled_dot_product_attention instead (reference).

train:       forward + cross-entropy + backward + clip_grad_norm_(1.0) + AdamW
             (lr 3e-4, betas 0.9/0.95, eps 1e-8, weight decay 0.1 on matrices only),
             random tokens (B, seq) (and random input ids); tokens/s = B*seq / median
             step time.
gen-cache:   prefill the B x 128 prompt through gen.py's cache dict, then greedy decode
             one token per step until 128 new tokens per row exist (127 cached steps);
             prefill included in the time.
gen-nocache: each of the 128 new tokens from a full forward over the whole sequence so
             far (lengths 128..255, no cache); tokens/s = B*128 / median run time.
Generation runs under torch.inference_mode() and, like candlecast's forward_last, applies
the vocabulary head to the last position only.
"""

import argparse
import json
import math
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

SEED_GPT_DIR = os.environ.get("SEED_GPT_DIR", "/work/shared/reference/seed_gpt")
sys.path.insert(0, SEED_GPT_DIR)
import gen  # noqa: E402  (the reference GPT; its main() is not run on import)

PROMPT, NEW = 128, 128
# configs/base.toml's input channels (models/base/meta.json), in the model's order.
BASE_INPUTS = [("time_of_day", 49), ("day_of_week", 8), ("volume", 9)]


def config(a):
    """(gen.py config, training window length, input channels) of --model."""
    if a.model == "base":
        cfg = gen.make_config("post_relu", vocab=1026, d_model=64, n_head=4, n_layer=2, max_ctx=32)
        return cfg, 32, (BASE_INPUTS if a.inputs else [])
    cfg = gen.make_config("post_relu", vocab=1024, d_model=128, n_head=4, n_layer=4, max_ctx=256)
    return cfg, 256, []


class FusedAttention(gen.CausalSelfAttention):
    """gen.CausalSelfAttention with F.scaled_dot_product_attention (same cache dict)."""

    def forward(self, x, cache=None):
        b, t, d = x.shape
        q = self.split_heads(self.q(x))
        k = self.split_heads(self.k(x))
        v = self.split_heads(self.v(x))
        past = 0
        if cache is not None:
            past = cache["len"]
            cache["k"][:, :, past:past + t] = k
            cache["v"][:, :, past:past + t] = v
            cache["len"] = past + t
            k = cache["k"][:, :, :past + t]
            v = cache["v"][:, :, :past + t]
        if t == 1:  # one new query sees every cached key
            y = F.scaled_dot_product_attention(q, k, v)
        elif past == 0:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            qpos = torch.arange(past, past + t).view(t, 1)
            kpos = torch.arange(past + t).view(1, past + t)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=kpos <= qpos)
        return self.o(y.transpose(1, 2).reshape(b, t, d))


def build_model(cfg, seed, attn, inputs=()):
    torch.manual_seed(seed)
    model = gen.GPT(cfg)
    if inputs:  # inputs.{c}.weight: embeddings, N(0, 0.02) below
        model.inputs = nn.ModuleList(nn.Embedding(size, cfg["d_model"]) for _, size in inputs)
    if attn == "fused":
        for blk in model.blocks:
            blk.attn.__class__ = FusedAttention
    g = torch.Generator().manual_seed(seed)
    resid_std = 0.02 / math.sqrt(2 * cfg["n_layer"])
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            if name.endswith(".bias"):
                p.zero_()
            elif ".ln" in "." + name:
                p.fill_(1.0)
            else:
                std = resid_std if name.endswith(("attn.o.weight", "ffn.down.weight")) else 0.02
                p.copy_(torch.randn(p.shape, generator=g) * std)
    return model


def forward_last(model, idx, cache=None):
    """gen.GPT.forward with the head applied to the last position only: (B, V)."""
    b, t = idx.shape
    start = cache[0]["len"] if cache is not None else 0
    assert start + t <= model.cfg["max_ctx"], "context overflow"
    x = model.tok_emb(idx) + model.pos_emb(torch.arange(start, start + t))[None]
    for i, blk in enumerate(model.blocks):
        x = blk(x, None if cache is None else cache[i])
    if model.ln_f is not None:
        x = model.ln_f(x)
    return model.head(x[:, -1])


def forward_with(model, idx, ids):
    """gen.GPT.forward (no cache) with the input embeddings: (tok_emb[idx] + sum_c
    inputs_c[ids_c]) + pos_emb, in candlecast's order. ids: one (B, T) tensor per channel."""
    b, t = idx.shape
    x = model.tok_emb(idx)
    for table, col in zip(model.inputs, ids):
        x = x + table(col)
    x = x + model.pos_emb(torch.arange(t))[None]
    for blk in model.blocks:
        x = blk(x)
    if model.ln_f is not None:
        x = model.ln_f(x)
    return model.head(x)


def time_runs(warmup, steps, f):
    for _ in range(warmup):
        f()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return times


def median(xs):
    v = sorted(xs)
    n = len(v)
    return v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2])


def bench_train(a, cfg, seq, inputs):
    model = build_model(cfg, a.seed, a.attn, inputs)
    model.train()
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
        lr=3e-4, betas=(0.9, 0.95), eps=1e-8)
    g = torch.Generator().manual_seed(a.seed ^ 0x5EED)
    v, b = cfg["vocab"], a.batch
    last = {}

    def step():
        x = torch.randint(0, v, (b, seq), generator=g)
        y = torch.randint(0, v, (b, seq), generator=g)
        if inputs:
            ids = [torch.randint(0, size, (b, seq), generator=g) for _, size in inputs]
            logits = forward_with(model, x, ids)
        else:
            logits = model(x)
        loss = F.cross_entropy(logits.reshape(b * seq, v), y.reshape(b * seq))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        last["loss"] = loss.item()

    times = time_runs(a.warmup, a.steps, step)
    return b * seq / median(times), times, {"seq": seq, "last_loss": round(last["loss"], 4)}


def bench_gen(a, cfg, cached):
    model = build_model(cfg, a.seed, a.attn)
    model.eval()
    g = torch.Generator().manual_seed(a.seed ^ 0x9E11)
    prompts = torch.randint(0, cfg["vocab"], (a.batch, PROMPT), generator=g)
    out = {}

    def run():
        with torch.inference_mode():
            if cached:
                cache = model.new_cache(a.batch)
                nxt = forward_last(model, prompts, cache).argmax(-1)
                toks = [nxt]
                for _ in range(NEW - 1):
                    nxt = forward_last(model, nxt[:, None], cache).argmax(-1)
                    toks.append(nxt)
                gen_tokens = torch.stack(toks, 1)
            else:
                seq = prompts
                for _ in range(NEW):
                    nxt = forward_last(model, seq).argmax(-1)
                    seq = torch.cat([seq, nxt[:, None]], 1)
                gen_tokens = seq[:, PROMPT:]
        out["first_row_head"] = gen_tokens[0, :8].tolist()

    times = time_runs(a.warmup, a.steps, run)
    return a.batch * NEW / median(times), times, out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["train", "gen-cache", "gen-nocache"])
    p.add_argument("--batch", type=int)
    p.add_argument("--steps", type=int)
    p.add_argument("--warmup", type=int)
    p.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "1")))
    p.add_argument("--attn", choices=["plain", "fused"], default="plain")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--model", choices=["default", "base"], default="default")
    p.add_argument("--inputs", type=int, choices=[0, 1], default=1)
    a = p.parse_args()
    train = a.mode == "train"
    if a.model == "base" and not train:
        p.error("--model base measures train only (the prompts do not fit in max_ctx 32)")
    a.batch = a.batch or (32 if train else 1)
    a.steps = a.steps or (5 if train else 3)
    a.warmup = a.warmup if a.warmup is not None else (3 if train else 1)

    torch.set_num_threads(a.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    cfg, seq, inputs = config(a)
    n_params = sum(p.numel() for p in build_model(cfg, a.seed, a.attn, inputs).parameters())
    if train:
        tps, times, extra = bench_train(a, cfg, seq, inputs)
    else:
        tps, times, extra = bench_gen(a, cfg, a.mode == "gen-cache")
    rec = {
        "impl": "pytorch", "attn": a.attn, "mode": a.mode, "model": a.model,
        "n_params": n_params, "inputs": ",".join(f"{n}:{s}" for n, s in inputs),
        "batch": a.batch,
        "threads": torch.get_num_threads(), "warmup": a.warmup, "steps": a.steps,
        "tokens_per_s": round(tps, 1), "times_s": [round(t, 5) for t in times],
        "torch": torch.__version__,
    }
    if not train:
        rec.update(prompt=PROMPT, new=NEW, prefill_included=True)
    rec.update(extra)
    print(json.dumps(rec))


if __name__ == "__main__":
    main()
