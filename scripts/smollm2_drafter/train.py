"""Step 2 of the SmolLM2 drafter recipe: distil a small drafter from the verifier's own text.

The drafter is a Llama model over a *draft vocabulary* (FR-Spec / EAGLE-3's d2t): the V most
frequent tokens of the verifier's generations, plus one "other" row that stands for every
token outside it (an input only: it is never proposed). spectui maps the verifier's ids into
it and its logits back (`spectui/engine/models/draft_vocabulary.py`), so the drafter costs V rows of
LM head instead of 49152 — on this CPU the head decides a small drafter's cost more than its
layers do.

Targets: the verifier's top-32 probabilities at every generated position (`generate.py`),
the rest of its mass on "other"; the loss is the soft cross-entropy (= KL to the verifier up to
a constant) plus the hard cross-entropy on the verifier's argmax (what greedy-exact accepts).
A seeded 3% of the shards is held out. After every epoch the checkpoint is saved and judged:
top-1 agreement with the verifier on the held-out positions (greedy and sampled shards apart)
and along the verifier's greedy continuation of the seed's six prompts (64 tokens each) — the
α greedy-exact measures there. `curve.jsonl` is the learning curve.

    python scripts/smollm2_drafter/train.py --verifier DIR --data .build/smollm2/data \
        --out .build/smollm2/run
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from collections import Counter
from pathlib import Path

import torch
import torch.nn.functional as F
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM

from spectui.engine.models.draft_vocabulary import DraftVocabulary, write_draft_vocabulary
from spectui.engine.prompts import SEED_PROMPTS


def load_rows(data: Path) -> list[tuple[str, dict]]:
    rows = []
    for path in sorted(data.glob("shard-*.pt")):
        for row in torch.load(path)["rows"]:
            if len(row["top_ids"]) > 0:
                rows.append((path.name, row))
    return rows


HELDOUT_EVERY = 33  # every 33rd shard is held out (3%), the same ones however far data grows


def split(rows):
    def held(name: str) -> bool:
        return int(name.split("-")[1].split(".")[0]) % HELDOUT_EVERY == 0

    train = [row for name, row in rows if not held(name)]
    heldout = [row for name, row in rows if held(name)]
    return train, heldout


def draft_vocabulary(rows, size: int, tokenizer) -> list[int]:
    """The `size` tokens the verifier generates most (its argmaxes and its text), special ids
    included; where the data has fewer, the tokenizer's first merges (its commonest tokens)
    fill the rest."""
    counts: Counter[int] = Counter()
    for row in rows:
        counts.update(row["top_ids"][:, 0].tolist())
        counts.update(row["ids"].tolist())
    keep = [tokenizer.eos_token_id, tokenizer.bos_token_id]
    keep += [t for t, _ in counts.most_common() if t not in keep]
    chosen = set(keep[:size])
    for token in range(len(tokenizer)):
        if len(chosen) >= size:
            break
        chosen.add(token)
    return sorted(chosen)


class Mapper:
    """Verifier ids to draft rows (the last row is "other") and back."""

    def __init__(self, vocabulary: list[int], full_size: int) -> None:
        mapping = DraftVocabulary.of(vocabulary, full_size)  # the engine's own mapping
        self.vocabulary = mapping.verifier_ids
        self.other = mapping.size
        self.to_draft = mapping.to_draft

    def targets(self, top_ids: torch.Tensor, top_p: torch.Tensor) -> torch.Tensor:
        """Soft targets over the draft rows + other: [n, V+1]."""
        n = top_ids.shape[0]
        out = torch.zeros(n, self.other + 1)
        rows = self.to_draft[top_ids.long()]  # [n, 32]
        p = top_p.float()
        out.scatter_add_(1, rows, p)
        out[:, self.other] += (1 - p.sum(-1)).clamp(min=0)
        return out


def build_model(args, verifier, vocabulary: list[int]) -> LlamaForCausalLM:
    v_config = verifier.config
    width = args.hidden or v_config.hidden_size
    config = LlamaConfig(
        vocab_size=len(vocabulary) + 1,
        hidden_size=width,
        intermediate_size=args.intermediate or v_config.intermediate_size,
        num_hidden_layers=args.layers,
        num_attention_heads=width // 64,
        num_key_value_heads=max(1, width // 192),
        head_dim=64,
        max_position_embeddings=2048,
        rms_norm_eps=v_config.rms_norm_eps,
        rope_parameters=dict(v_config.rope_parameters),
        tie_word_embeddings=True,
        bos_token_id=v_config.bos_token_id,
        eos_token_id=v_config.eos_token_id,
        pad_token_id=v_config.pad_token_id,
    )
    model = LlamaForCausalLM(config)
    if width == v_config.hidden_size and args.init_layers:
        # Start from the verifier: its embedding rows for the draft vocabulary (the "other" row
        # their mean), the listed layers and its final norm.
        source = verifier.model
        embed = source.embed_tokens.weight.data
        rows = torch.cat([embed[torch.tensor(vocabulary)], embed.mean(0, keepdim=True)])
        model.model.embed_tokens.weight.data.copy_(rows)
        for mine, theirs in zip(model.model.layers, args.init_layers, strict=True):
            mine.load_state_dict(source.layers[theirs].state_dict())
        model.model.norm.load_state_dict(source.norm.state_dict())
    return model


def batches(rows, size: int, rng: random.Random, shuffle: bool = True):
    order = list(range(len(rows)))
    if shuffle:
        rng.shuffle(order)
    for start in range(0, len(order), size):
        yield [rows[i] for i in order[start : start + size]]


def batch_tensors(batch, mapper: Mapper):
    """Right-padded inputs, and for each generated position its place and targets."""
    length = max(len(row["ids"]) for row in batch)
    inputs = torch.full((len(batch), length), mapper.other, dtype=torch.long)
    mask = torch.zeros(len(batch), length, dtype=torch.long)
    places, soft, hard = [], [], []
    for b, row in enumerate(batch):
        ids = row["ids"].long()
        inputs[b, : len(ids)] = mapper.to_draft[ids]
        mask[b, : len(ids)] = 1
        n = len(row["top_ids"])
        start = row["start"]
        # The logits at position t predict token t+1: generated token j sits at start + j.
        for j in range(n):
            places.append((b, start + j - 1))
        soft.append(mapper.targets(row["top_ids"], row["top_p"]))
        hard.append(mapper.to_draft[row["top_ids"][:, 0].long()])
    where = torch.tensor(places)
    return inputs, mask, where, torch.cat(soft), torch.cat(hard)


def step_loss(model, batch, mapper: Mapper):
    inputs, mask, where, soft, hard = batch_tensors(batch, mapper)
    logits = model(input_ids=inputs, attention_mask=mask).logits  # [B, T, V+1]
    picked = logits[where[:, 0], where[:, 1]]  # [n, V+1]
    logp = F.log_softmax(picked.float(), dim=-1)
    soft_loss = -(soft * logp).sum(-1).mean()
    hard_loss = F.nll_loss(logp, hard)
    agree = (picked[:, : mapper.other].argmax(-1) == hard).float()
    return soft_loss + hard_loss, agree


@torch.no_grad()
def heldout_agreement(model, rows, mapper: Mapper) -> dict[str, float]:
    model.eval()
    sums = {"greedy": [0.0, 0], "sampled": [0.0, 0]}
    for batch in batches(rows, 32, random.Random(0), shuffle=False):
        for row in batch:
            kind = "sampled" if row["sampled"] else "greedy"
            _, agree = step_loss(model, [row], mapper)
            sums[kind][0] += float(agree.sum())
            sums[kind][1] += len(agree)
    model.train()
    return {kind: s / max(n, 1) for kind, (s, n) in sums.items()}


@torch.no_grad()
def seed_references(verifier, tokenizer, new_tokens: int = 64) -> list[tuple[list[int], int]]:
    """The verifier's greedy continuation of each seed prompt: (ids, prompt length)."""
    references = []
    for prompt in SEED_PROMPTS:
        ids = tokenizer(prompt, return_tensors="pt").input_ids
        out = verifier.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            do_sample=False,
            max_new_tokens=new_tokens,
            pad_token_id=tokenizer.eos_token_id,
        )
        references.append((out[0].tolist(), ids.shape[1]))
    return references


@torch.no_grad()
def seed_agreement(model, references, mapper: Mapper) -> float:
    """Top-1 agreement along the verifier's greedy text: greedy-exact's α (bonus off)."""
    model.eval()
    agree = total = 0
    for ids, start in references:
        inputs = mapper.to_draft[torch.tensor([ids])]
        logits = model(input_ids=inputs).logits[0, :, : mapper.other]
        guesses = mapper.vocabulary[logits.argmax(-1)]  # [T]
        for t in range(start, len(ids)):
            agree += int(guesses[t - 1] == ids[t])
            total += 1
    model.train()
    return agree / total


def save(model, vocabulary: list[int], tokenizer, out: Path, figures: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    model.half().save_pretrained(out)
    model.float()
    write_draft_vocabulary(out, vocabulary, tokenizer)
    (out / "figures.json").write_text(json.dumps(figures, indent=1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verifier", required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--vocab", type=int, default=8192, help="draft vocabulary size")
    parser.add_argument("--hidden", type=int, default=0, help="width (0: the verifier's)")
    parser.add_argument("--intermediate", type=int, default=0)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument(
        "--init-layers",
        type=int,
        nargs="*",
        default=[0, 1],
        help="verifier layers to start from (width = the verifier's)",
    )
    parser.add_argument(
        "--init-from",
        type=Path,
        default=None,
        help="continue from a checkpoint (its weights and draft vocabulary)",
    )
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-rows", type=int, default=0, help="use only this many rows")
    parser.add_argument(
        "--minutes",
        type=float,
        default=0,
        help="train for this long (cosine over the time), re-reading the data "
        "directory every epoch as generate.py adds shards; 0: --epochs",
    )
    args = parser.parse_args(argv)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = random.Random(args.seed)
    tokenizer = AutoTokenizer.from_pretrained(args.verifier)
    verifier = AutoModelForCausalLM.from_pretrained(args.verifier, dtype=torch.float32).eval()
    rows = load_rows(args.data)
    train, heldout = split(rows)
    if args.max_rows:
        train = train[: args.max_rows]
    if args.init_from is not None:
        record = json.loads((args.init_from / "draft_vocabulary.json").read_text())
        vocabulary = record["verifier_ids"]
    else:
        vocabulary = draft_vocabulary(train, args.vocab, tokenizer)
    mapper = Mapper(vocabulary, verifier.config.vocab_size)
    covered = sum(
        int(mapper.to_draft[int(r["top_ids"][j, 0])] != mapper.other)
        for r in heldout
        for j in range(len(r["top_ids"]))
    )
    coverage = covered / max(1, sum(len(r["top_ids"]) for r in heldout))
    references = seed_references(verifier, tokenizer)
    if args.init_from is not None:
        model = LlamaForCausalLM.from_pretrained(args.init_from, dtype=torch.float32)
    else:
        model = build_model(args, verifier, vocabulary)
    del verifier
    n_params = sum(p.numel() for p in model.parameters())
    tokens = sum(len(r["top_ids"]) for r in train)
    print(
        f"{len(train)} rows ({tokens} generated tokens) to train on, {len(heldout)} held out; "
        f"draft vocabulary {len(vocabulary)} covers {coverage:.1%} of held-out argmaxes; "
        f"{n_params / 1e6:.2f}M parameters",
        flush=True,
    )
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    steps = args.epochs * math.ceil(len(train) / args.batch)
    started = time.perf_counter()

    def progress(step: int) -> float:
        if args.minutes:
            return min(1.0, (time.perf_counter() - started) / 60 / args.minutes)
        return step / steps

    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / 100) * 0.5 * (1 + math.cos(math.pi * progress(s)))
    )
    curve = args.out / "curve.jsonl"
    args.out.mkdir(parents=True, exist_ok=True)
    figures = {
        "epoch": 0,
        "heldout": heldout_agreement(model, heldout, mapper),
        "seed_alpha": seed_agreement(model, references, mapper),
    }
    print(json.dumps(figures), flush=True)
    epoch = 0
    while (progress(0) < 1.0) if args.minutes else (epoch < args.epochs):
        epoch += 1
        if args.minutes and epoch > 1:  # the shards generate.py wrote meanwhile
            train, _ = split(load_rows(args.data))
            tokens = sum(len(r["top_ids"]) for r in train)
        agree_sum = agree_n = 0.0
        for batch in batches(train, args.batch, rng):
            loss, agree = step_loss(model, batch, mapper)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            agree_sum += float(agree.sum())
            agree_n += len(agree)
            if args.minutes and progress(0) >= 1.0:
                break
        figures = {
            "epoch": epoch,
            "minutes": round((time.perf_counter() - started) / 60, 1),
            "train_agreement": agree_sum / agree_n,
            "heldout": heldout_agreement(model, heldout, mapper),
            "seed_alpha": seed_agreement(model, references, mapper),
            "train_tokens": tokens,
            "vocab": len(vocabulary),
            "coverage": coverage,
            "parameters": n_params,
            "args": {k: str(v) for k, v in vars(args).items()},
        }
        print(json.dumps({k: v for k, v in figures.items() if k != "args"}), flush=True)
        with curve.open("a") as file:
            file.write(json.dumps(figures) + "\n")
        save(model, vocabulary, tokenizer, args.out / f"epoch-{epoch}", figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
