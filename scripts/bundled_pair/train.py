"""Step 3 of the bundled-pair recipe: train the verifier, then distil the drafter from it.

Both models are GPT-2 (``GPT2LMHeadModel``, tied input/output embeddings, context 256,
vocab 4096) trained from scratch in float32 on the CPU:

* verifier: 6 layers, d=256, 4 heads (~5.8M parameters), dropout 0.05, trained with plain
  next-token cross-entropy;
* drafter: 2 layers, d=128, 4 heads (~1.0M parameters), trained on the same text against
  the (``--teacher``) verifier's softmax
  (``alpha * KL(p_verifier || q_drafter) + (1 - alpha) * CE``, alpha=0.9), the verifier
  running frozen in eval mode alongside.

Optimiser: AdamW (betas 0.9/0.95, weight decay 0.1 on matrices), linear warm-up then cosine
decay to 10% of the peak, gradient clipping at 1.0, batches of random 256-token windows drawn
from the flat token stream (seeded). The schedule runs either over ``--steps`` or over a wall
clock budget ``--minutes`` (the cosine then follows elapsed time, so a slow shared machine
still finishes its schedule; the step count reached is logged and written to
``train_summary.json`` so the run can be replayed exactly with ``--steps``). Every
``--eval-every`` steps the held-out perplexity is measured on a fixed sample of held-out
windows, and the latest and best (lowest held-out loss) checkpoints are saved in fp32 under
``--ckpt/<name>/{last,best}``.

Further stages: ``unlikelihood`` fine-tunes the trained verifier against greedy
self-repetition (sequence-level unlikelihood, alternating with cross-entropy steps);
``interpolate`` blends the verifier with that fine-tune in weight space (``--mix``);
``export`` writes the chosen verifier (``--teacher``) and the drafter to the package
directory in float16 together with the tokenizer and a generation config.

Usage (see README.md for the exact commands used)::

    python scripts/bundled_pair/train.py verifier --minutes 60
    python scripts/bundled_pair/train.py unlikelihood --minutes 9 --lr 2e-4
    python scripts/bundled_pair/train.py interpolate --mix 0.6
    python scripts/bundled_pair/train.py drafter --teacher verifier_mix --minutes 11 \
        --warmup 20 --lr 3e-3
    python scripts/bundled_pair/train.py export --teacher verifier_mix
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

CONTEXT = 256
VOCAB = 4096
EOT_ID = 0
SPECS = {
    "verifier": dict(n_layer=6, n_embd=256, n_head=4, dropout=0.05),
    "drafter": dict(n_layer=2, n_embd=128, n_head=4, dropout=0.0),
}


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def make_config(name: str):
    from transformers import GPT2Config

    spec = SPECS[name]
    return GPT2Config(
        vocab_size=VOCAB,
        n_positions=CONTEXT,
        n_embd=spec["n_embd"],
        n_layer=spec["n_layer"],
        n_head=spec["n_head"],
        resid_pdrop=spec["dropout"],
        embd_pdrop=spec["dropout"],
        attn_pdrop=spec["dropout"],
        bos_token_id=EOT_ID,
        eos_token_id=EOT_ID,
        pad_token_id=EOT_ID,
        tie_word_embeddings=True,
    )


def load_tokens(corpus: Path, split: str) -> torch.Tensor:
    return torch.from_numpy(np.fromfile(corpus / f"{split}.bin", dtype=np.uint16).astype(np.int64))


def eval_windows(tokens: torch.Tensor, n: int | None) -> torch.Tensor:
    """Non-overlapping (CONTEXT+1)-token windows of the held-out stream (first n, or all)."""
    step = CONTEXT
    starts = list(range(0, len(tokens) - CONTEXT - 1, step))
    if n is not None and n < len(starts):
        idx = np.linspace(0, len(starts) - 1, n).round().astype(int)
        starts = [starts[i] for i in idx]
    return torch.stack([tokens[s : s + CONTEXT + 1] for s in starts])


@torch.no_grad()
def held_out_loss(model, windows: torch.Tensor, batch: int = 16) -> float:
    model.eval()
    total, count = 0.0, 0
    for i in range(0, len(windows), batch):
        w = windows[i : i + batch]
        logits = model(input_ids=w[:, :-1]).logits
        loss = F.cross_entropy(logits.reshape(-1, VOCAB), w[:, 1:].reshape(-1), reduction="sum")
        total += float(loss)
        count += w[:, 1:].numel()
    model.train()
    return total / count


def lr_at(step: int, progress: float, peak: float, warmup: int, min_ratio: float = 0.1) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(max(progress, 0.0), 1.0)
    return peak * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def train(args: argparse.Namespace) -> None:
    from transformers import GPT2LMHeadModel

    torch.set_num_threads(args.threads)
    seed_everything(args.seed)
    name = args.command
    out_dir = args.ckpt / name
    out_dir.mkdir(parents=True, exist_ok=True)

    train_tokens = load_tokens(args.corpus, "train")
    val_windows = eval_windows(load_tokens(args.corpus, "heldout"), args.eval_windows)
    model = GPT2LMHeadModel(make_config(name))
    n_params = sum(p.numel() for p in model.parameters())
    print(
        f"[{name}] params={n_params:,} train_tokens={len(train_tokens):,} "
        f"val_windows={len(val_windows)}",
        flush=True,
    )

    teacher = None
    if name == "drafter":
        teacher = GPT2LMHeadModel.from_pretrained(
            args.ckpt / args.teacher / "best", dtype=torch.float32
        )
        teacher.eval()
        for p in teacher.parameters():
            p.requires_grad_(False)

    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": args.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=args.lr,
        betas=(0.9, 0.95),
    )
    gen = torch.Generator().manual_seed(args.seed)
    budget_s = args.minutes * 60 if args.minutes else None
    best = float("inf")
    t0 = time.time()
    tokens_seen = 0
    step = 0
    log_t, log_tok = t0, 0
    model.train()
    while True:
        elapsed = time.time() - t0
        progress = elapsed / budget_s if budget_s else step / args.steps
        if progress >= 1.0 or (args.steps and step >= args.steps):
            break
        lr = lr_at(step, progress, args.lr, args.warmup)
        for g in opt.param_groups:
            g["lr"] = lr
        starts = torch.randint(0, len(train_tokens) - CONTEXT - 1, (args.batch,), generator=gen)
        batch = torch.stack([train_tokens[s : s + CONTEXT + 1] for s in starts.tolist()])
        x, y = batch[:, :-1], batch[:, 1:]
        logits = model(input_ids=x).logits
        ce = F.cross_entropy(logits.reshape(-1, VOCAB), y.reshape(-1))
        if teacher is not None:
            with torch.no_grad():
                t_logits = teacher(input_ids=x).logits
            kl = F.kl_div(
                F.log_softmax(logits, -1).reshape(-1, VOCAB),
                F.log_softmax(t_logits, -1).reshape(-1, VOCAB),
                log_target=True,
                reduction="batchmean",
            )
            loss = args.alpha * kl + (1 - args.alpha) * ce
        else:
            loss = ce
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        opt.step()
        step += 1
        tokens_seen += x.numel()
        log_tok += x.numel()

        if step % args.log_every == 0:
            now = time.time()
            extra = f" kl={float(kl):.3f}" if teacher is not None else ""
            print(
                f"[{name}] step={step} t={now - t0:.0f}s lr={lr:.2e} loss={float(loss):.3f} "
                f"ce={float(ce):.3f}{extra} tok/s={log_tok / (now - log_t):.0f}",
                flush=True,
            )
            log_t, log_tok = now, 0
        if step % args.eval_every == 0:
            best = evaluate_and_save(model, val_windows, out_dir, step, t0, tokens_seen, best, name)

    best = evaluate_and_save(model, val_windows, out_dir, step, t0, tokens_seen, best, name)
    summary = {
        "model": name,
        "params": n_params,
        "steps": step,
        "batch": args.batch,
        "context": CONTEXT,
        "tokens_seen": tokens_seen,
        "epochs": tokens_seen / len(train_tokens),
        "train_seconds": round(time.time() - t0, 1),
        "peak_lr": args.lr,
        "warmup": args.warmup,
        "weight_decay": args.weight_decay,
        "clip": args.clip,
        "alpha": args.alpha if name == "drafter" else None,
        "dropout": SPECS[name]["dropout"],
        "seed": args.seed,
        "threads": args.threads,
        "best_val_loss_sample": best,
        "best_val_ppl_sample": math.exp(best),
    }
    (out_dir / "train_summary.json").write_text(json.dumps(summary, indent=2))
    print(f"[{name}] done: {json.dumps(summary)}", flush=True)


def evaluate_and_save(model, val_windows, out_dir, step, t0, tokens_seen, best, name) -> float:
    val = held_out_loss(model, val_windows)
    model.save_pretrained(out_dir / "last")
    tag = ""
    if val < best:
        best = val
        model.save_pretrained(out_dir / "best")
        (out_dir / "best" / "step.txt").write_text(f"{step}\n")
        tag = " (best)"
    print(
        f"[{name}] EVAL step={step} t={time.time() - t0:.0f}s tokens={tokens_seen:,} "
        f"val_loss={val:.4f} val_ppl={math.exp(val):.2f}{tag}",
        flush=True,
    )
    return best


def repeat_mask(cont: torch.Tensor, n: int = 4) -> torch.Tensor:
    """[B, T] bool: tokens belonging to an n-gram that already occurred earlier in the row."""
    mask = torch.zeros_like(cont, dtype=torch.bool)
    for b, row in enumerate(cont.tolist()):
        seen: set[tuple[int, ...]] = set()
        for i in range(len(row) - n + 1):
            g = tuple(row[i : i + n])
            if g in seen:
                mask[b, i : i + n] = True
            seen.add(g)
    return mask


@torch.no_grad()
def greedy_batch(model, prefix: torch.Tensor, new_tokens: int) -> torch.Tensor:
    was_training = model.training
    model.eval()
    out = model(input_ids=prefix, use_cache=True)
    toks = []
    for _ in range(new_tokens):
        t = out.logits[:, -1].argmax(-1, keepdim=True)
        toks.append(t)
        out = model(input_ids=t, past_key_values=out.past_key_values, use_cache=True)
    model.train(was_training)
    return torch.cat(toks, dim=1)


def unlikelihood(args: argparse.Namespace) -> None:
    """Sequence-level unlikelihood fine-tuning of the trained verifier (Welleck et al., 2020).

    Alternating updates: (a) the verifier greedily continues random 32-token training prefixes
    by 64 tokens; every continuation token that belongs to a 4-gram already produced earlier in
    the same continuation gets the loss -log(1 - p(token)), pushing probability away from
    repeating itself; (b) a plain cross-entropy step on real training text keeps the language
    model. This changes the model's distribution (a training objective); decoding stays plain
    greedy.
    """
    from transformers import GPT2LMHeadModel

    torch.set_num_threads(args.threads)
    seed_everything(args.seed)
    out_dir = args.ckpt / "verifier_ul"
    out_dir.mkdir(parents=True, exist_ok=True)
    train_tokens = load_tokens(args.corpus, "train")
    val_windows = eval_windows(load_tokens(args.corpus, "heldout"), args.eval_windows)
    model = GPT2LMHeadModel.from_pretrained(args.ckpt / "verifier" / "best", dtype=torch.float32)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.95), weight_decay=0.0)
    gen = torch.Generator().manual_seed(args.seed + 1)
    budget_s = args.minutes * 60 if args.minutes else None
    t0 = time.time()
    step = 0
    val = held_out_loss(model, val_windows)
    print(f"[ul] start val_ppl={math.exp(val):.2f}", flush=True)
    rep_hist: list[float] = []
    while True:
        elapsed = time.time() - t0
        if (budget_s and elapsed >= budget_s) or (args.steps and step >= args.steps):
            break
        if step % 2 == 0:
            starts = torch.randint(0, len(train_tokens) - 33, (args.batch,), generator=gen)
            prefix = torch.stack([train_tokens[s : s + 32] for s in starts.tolist()])
            cont = greedy_batch(model, prefix, 64)
            mask = repeat_mask(cont)
            rep_hist.append(float(mask.float().mean()))
            full = torch.cat([prefix, cont], dim=1)
            logits = model(input_ids=full[:, :-1]).logits[:, 31:]  # predicts cont
            p = logits.softmax(-1).gather(-1, cont.unsqueeze(-1)).squeeze(-1)
            ul = -torch.log((1 - p).clamp_min(1e-5))
            loss = (ul * mask).sum() / mask.sum().clamp_min(1)
        else:
            starts = torch.randint(0, len(train_tokens) - CONTEXT - 1, (args.batch,), generator=gen)
            batch = torch.stack([train_tokens[s : s + CONTEXT + 1] for s in starts.tolist()])
            logits = model(input_ids=batch[:, :-1]).logits
            loss = F.cross_entropy(logits.reshape(-1, VOCAB), batch[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        opt.step()
        step += 1
        if step % args.log_every == 0:
            recent = rep_hist[-(args.log_every // 2) :]
            print(
                f"[ul] step={step} t={time.time() - t0:.0f}s loss={float(loss):.3f} "
                f"greedy_repeat_frac={sum(recent) / max(1, len(recent)):.3f}",
                flush=True,
            )
        if step % args.eval_every == 0:
            model.save_pretrained(out_dir / "best")
    val = held_out_loss(model, val_windows)
    model.save_pretrained(out_dir / "best")
    summary = {
        "model": "verifier_ul",
        "steps": step,
        "batch": args.batch,
        "lr": args.lr,
        "train_seconds": round(time.time() - t0, 1),
        "seed": args.seed,
        "val_ppl_sample": math.exp(val),
        "greedy_repeat_frac_first": rep_hist[:5],
        "greedy_repeat_frac_last": rep_hist[-5:],
    }
    (out_dir / "train_summary.json").write_text(json.dumps(summary, indent=2))
    print(f"[ul] done: {json.dumps(summary)}", flush=True)


def interpolate(args: argparse.Namespace) -> None:
    """Weight-space interpolation (WiSE-FT style) of the verifier and its unlikelihood
    fine-tune: ``(1 - mix) * verifier + mix * verifier_ul`` -> ``ckpt/verifier_mix/best``.

    The full unlikelihood fine-tune removes most greedy repetition but, on a model this weak,
    also moves probability onto rare sub-word pieces (garbled words); the interpolation keeps
    part of the repetition fix while staying readable.
    """
    from transformers import GPT2LMHeadModel

    base = GPT2LMHeadModel.from_pretrained(args.ckpt / "verifier" / "best", dtype=torch.float32)
    tuned = GPT2LMHeadModel.from_pretrained(args.ckpt / "verifier_ul" / "best", dtype=torch.float32)
    sd_b, sd_t = base.state_dict(), tuned.state_dict()
    base.load_state_dict(
        {
            k: (1 - args.mix) * v + args.mix * sd_t[k] if v.is_floating_point() else v
            for k, v in sd_b.items()
        }
    )
    out = args.ckpt / "verifier_mix" / "best"
    base.save_pretrained(out)
    (args.ckpt / "verifier_mix" / "train_summary.json").write_text(
        json.dumps({"model": "verifier_mix", "mix": args.mix}, indent=2)
    )
    print(f"interpolated verifier (mix={args.mix}) -> {out}", flush=True)


def export(args: argparse.Namespace) -> None:
    """Write fp16 copies of both best checkpoints, plus tokenizer, into the package."""
    from transformers import AutoTokenizer, GenerationConfig, GPT2LMHeadModel

    tok = AutoTokenizer.from_pretrained(args.tokenizer)
    for name, src_name in (("verifier", args.teacher), ("drafter", "drafter")):
        src = args.ckpt / src_name / args.which
        model = GPT2LMHeadModel.from_pretrained(src, dtype=torch.float32)
        model = model.to(torch.float16)
        dst = args.models / name
        dst.mkdir(parents=True, exist_ok=True)
        model.generation_config = GenerationConfig(
            bos_token_id=EOT_ID,
            eos_token_id=EOT_ID,
            pad_token_id=EOT_ID,
            do_sample=False,
            max_length=CONTEXT,
        )
        model.save_pretrained(dst, safe_serialization=True)
        tok.save_pretrained(dst)
        for extra in ("special_tokens_map.json", "vocab.json", "merges.txt"):
            # the fast tokenizer.json is the single source of truth
            if (dst / extra).exists():
                os.remove(dst / extra)
        print(
            f"exported {src} -> {dst}: "
            + ", ".join(f"{p.name}={p.stat().st_size}" for p in sorted(dst.iterdir()))
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "command", choices=["verifier", "unlikelihood", "interpolate", "drafter", "export"]
    )
    ap.add_argument("--mix", type=float, default=0.6, help="interpolate: weight of verifier_ul")
    ap.add_argument(
        "--teacher",
        default="verifier",
        help="checkpoint dir name of the verifier to distil/export (verifier_mix)",
    )
    ap.add_argument("--corpus", type=Path, default=Path(".build/bundled/corpus"))
    ap.add_argument("--tokenizer", type=Path, default=Path(".build/bundled/tokenizer"))
    ap.add_argument("--ckpt", type=Path, default=Path(".build/bundled/ckpt"))
    ap.add_argument("--models", type=Path, default=Path("spectui/models"))
    ap.add_argument("--which", default="best", choices=["best", "last"])
    ap.add_argument("--minutes", type=float, default=None, help="wall-clock budget")
    ap.add_argument("--steps", type=int, default=None, help="fixed step count (replay)")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--alpha", type=float, default=0.9, help="drafter: weight of the KL term")
    ap.add_argument("--eval-every", type=int, default=150)
    ap.add_argument("--eval-windows", type=int, default=48)
    ap.add_argument("--log-every", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1234)
    args = ap.parse_args()
    if args.command == "export":
        export(args)
        return 0
    if args.command == "interpolate":
        interpolate(args)
        return 0
    if not args.minutes and not args.steps:
        ap.error("give --minutes or --steps")
    if args.lr is None:
        args.lr = {"verifier": 1e-3, "unlikelihood": 1e-4, "drafter": 2e-3}[args.command]
    if args.command == "unlikelihood":
        unlikelihood(args)
    else:
        train(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
