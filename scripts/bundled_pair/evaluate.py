"""Step 4 of the bundled-pair recipe: measure the bundled drafter/verifier pair.

Loads the exported pair from ``spectui/models/{verifier,drafter}`` exactly as any Hugging Face
model (``AutoModelForCausalLM`` / ``AutoTokenizer.from_pretrained``, offline), computes in
float32 on the CPU, and measures on the held-out chapters written by ``prepare_corpus.py``
(``.build/bundled/corpus/heldout.jsonl``, tokenized here with the bundled tokenizer):

1. held-out perplexity of both models (non-overlapping 256-token windows of the held-out
   stream, chapters separated by ``<|endoftext|>``), and teacher-forced top-1 agreement
   (drafter argmax == verifier argmax) on the same windows;
2. greedy-exact speculative decoding, k=5: from 50 held-out contexts of 32 tokens, 64 new
   tokens each; every round the drafter greedily proposes k tokens (k shrinks near the end),
   the verifier scores them in one pass, the longest prefix equal to the verifier's argmax is
   accepted, and on a rejection the verifier's argmax is appended (no bonus token when the
   whole draft is accepted). Acceptance = accepted / drafted; also accepted tokens per round;
3. soft-guarded acceptance at the engine's defaults (same loop): a draft token t is accepted
   while p(t) >= 0.05, t is in the verifier's top-5, p_top1 - p(t) <= 0.20 and fewer than 5
   were accepted this round; the first rejection ends the round with the verifier's argmax;
4. three greedy 40-token continuations by the verifier from held-out prompts;
5. the loop check: greedy 64-token continuations of the six seed prompts, and the pooled
   fraction of token 4-grams in each continuation that already occurred earlier in it; the
   same fraction for the verifier's greedy continuations of the held-out contexts (2.) and of
   twelve other short prompts (``OTHER_PROMPTS``);
6. the total size of the bundled files and the time to load the pair after imports;
7. (round 4, issue 15) the verifier's top-1 accuracy and mean p_top1 on held-out text, both
   speculative policies also on the six seed prompts (64 new tokens), for every run the number
   of judged draft tokens ("checks") on which each soft gate (p, top-k, margin) fails and the
   verifier's mean p_top1 over the checks, and repeated 4-grams of the seed prompts at 200
   tokens; the last lines check issue 15's bars (bundle <= 25 MB).

Everything is greedy and deterministic. Usage::

    python scripts/bundled_pair/evaluate.py            # prints a Markdown report
    python scripts/bundled_pair/evaluate.py --write-card   # also fills MODEL_CARD.md's results
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import transformers  # noqa: E402
from transformers import AutoModelForCausalLM, AutoTokenizer, GPT2LMHeadModel  # noqa: E402,F401

REPO = Path(__file__).resolve().parents[2]
# Other short prompts for a second loop check: the training script's loop monitor uses the same
# ones to choose among verifier snapshots (never trained on).
from train import MONITOR_PROMPTS as OTHER_PROMPTS  # noqa: E402

from spectui.engine.prompts import SEED_PROMPTS  # noqa: E402  (the package's own six)

CONTEXT = 256
K = 5
P_THRESH, TOPK_GATE, MARGIN_GATE, MAX_ACCEPT = 0.05, 5, 0.20, 5
CARD_START, CARD_END = "<!-- results:start -->", "<!-- results:end -->"


def load_pair(models: Path):
    t0 = time.perf_counter()
    verifier = AutoModelForCausalLM.from_pretrained(models / "verifier")
    drafter = AutoModelForCausalLM.from_pretrained(models / "drafter")
    tok = AutoTokenizer.from_pretrained(models / "verifier")
    AutoTokenizer.from_pretrained(models / "drafter")
    return verifier, drafter, tok, time.perf_counter() - t0


def heldout_ids(tok, corpus: Path) -> list[int]:
    ids: list[int] = []
    with open(corpus / "heldout.jsonl", encoding="utf-8") as f:
        for line in f:
            ids.extend(tok(json.loads(line)["text"])["input_ids"])
            ids.append(tok.eos_token_id)
    return ids


@torch.no_grad()
def perplexities(verifier, drafter, ids: list[int]) -> dict[str, float]:
    stream = torch.tensor(ids)
    n = (len(stream) - 1) // CONTEXT
    x = stream[: n * CONTEXT].view(n, CONTEXT)
    y = stream[1 : n * CONTEXT + 1].view(n, CONTEXT)
    tot = {"verifier": 0.0, "drafter": 0.0}
    hits = {"verifier": 0, "drafter": 0}
    conf = {"verifier": 0.0, "drafter": 0.0}
    agree = 0
    for i in range(0, n, 16):
        lv = verifier(input_ids=x[i : i + 16]).logits
        ld = drafter(input_ids=x[i : i + 16]).logits
        for name, logits in (("verifier", lv), ("drafter", ld)):
            tot[name] += float(
                F.cross_entropy(
                    logits.reshape(-1, logits.shape[-1]), y[i : i + 16].reshape(-1), reduction="sum"
                )
            )
            hits[name] += int((logits.argmax(-1) == y[i : i + 16]).sum())
            conf[name] += float(logits.float().softmax(-1).max(-1).values.sum())
        agree += int((lv.argmax(-1) == ld.argmax(-1)).sum())
    count = n * CONTEXT
    return {
        "tokens": count,
        "verifier_ppl": math.exp(tot["verifier"] / count),
        "drafter_ppl": math.exp(tot["drafter"] / count),
        "top1_agreement": agree / count,
        "verifier_top1_accuracy": hits["verifier"] / count,
        "drafter_top1_accuracy": hits["drafter"] / count,
        "verifier_mean_p_top1_text": conf["verifier"] / count,
    }


@torch.no_grad()
def draft(drafter, seq: list[int], k: int) -> list[int]:
    """The drafter's k greedy tokens after seq (KV-cached)."""
    out = drafter(input_ids=torch.tensor([seq[-CONTEXT:]]), use_cache=True)
    proposal: list[int] = []
    for i in range(k):
        t = int(out.logits[0, -1].argmax())
        proposal.append(t)
        if i + 1 < k:
            out = drafter(
                input_ids=torch.tensor([[t]]), past_key_values=out.past_key_values, use_cache=True
            )
    return proposal


@torch.no_grad()
def speculative(verifier, drafter, prompt: list[int], new_tokens: int, policy: str) -> dict:
    """One speculative run; ``checks`` lists every draft token the verifier judged (up to and
    including a round's first rejection) as (p_top1, p fails, top-k fails, margin fails)."""
    seq = list(prompt)
    drafted = accepted = rounds = 0
    checks: list[tuple[float, bool, bool, bool]] = []
    while len(seq) - len(prompt) < new_tokens:
        k = min(K, new_tokens - (len(seq) - len(prompt)))
        room = CONTEXT - len(seq)
        k = min(k, room)
        proposal = draft(drafter, seq, k)
        probs = verifier(input_ids=torch.tensor([seq + proposal])).logits[0, len(seq) - 1 :]
        probs = probs.float().softmax(-1)  # [k+1, vocab]
        n_acc = 0
        for i, t in enumerate(proposal):
            p = probs[i]
            top_p, top_ids = torch.topk(p, TOPK_GATE)
            gates = (
                float(p[t]) >= P_THRESH,
                t in top_ids.tolist(),
                float(top_p[0]) - float(p[t]) <= MARGIN_GATE,
            )
            checks.append((float(top_p[0]), *(not g for g in gates)))
            greedy_ok = t == int(top_ids[0])
            ok = greedy_ok if policy == "greedy" else all(gates) and n_acc < MAX_ACCEPT
            if not ok:
                break
            n_acc += 1
        seq.extend(proposal[:n_acc])
        if n_acc < len(proposal):
            seq.append(int(probs[n_acc].argmax()))
        drafted += len(proposal)
        accepted += n_acc
        rounds += 1
    return {
        "drafted": drafted,
        "accepted": accepted,
        "rounds": rounds,
        "seq": seq,
        "checks": checks,
    }


def summarise(runs: list[dict], prompts: list[list[int]]) -> dict:
    """Acceptance over runs of one policy, and what its verifier checks looked like."""
    d = sum(r["drafted"] for r in runs)
    a = sum(r["accepted"] for r in runs)
    n_rounds = sum(r["rounds"] for r in runs)
    gen = sum(len(r["seq"]) - len(c) for r, c in zip(runs, prompts, strict=True))
    checks = [c for r in runs for c in r["checks"]]
    return {
        "acceptance": a / d,
        "accepted_per_round": a / n_rounds,
        "tokens_per_round": gen / n_rounds,
        "drafted": d,
        "accepted": a,
        "rounds": n_rounds,
        "checks": len(checks),
        "mean_p_top1_checks": sum(c[0] for c in checks) / max(len(checks), 1),
        "p_gate_fails": sum(c[1] for c in checks),
        "topk_gate_fails": sum(c[2] for c in checks),
        "margin_gate_fails": sum(c[3] for c in checks),
    }


@torch.no_grad()
def greedy(model, prompt: list[int], new_tokens: int) -> list[int]:
    seq = list(prompt)
    out = model(input_ids=torch.tensor([seq]), use_cache=True)
    for _ in range(new_tokens):
        t = int(out.logits[0, -1].argmax())
        seq.append(t)
        out = model(
            input_ids=torch.tensor([[t]]), past_key_values=out.past_key_values, use_cache=True
        )
    return seq[len(prompt) :]


def repeated_4grams(tokens: list[int]) -> tuple[int, int]:
    seen, rep, total = set(), 0, 0
    for i in range(len(tokens) - 3):
        g = tuple(tokens[i : i + 4])
        total += 1
        rep += g in seen
        seen.add(g)
    return rep, total


def contexts(ids: list[int], n: int, length: int, eos: int) -> list[list[int]]:
    """n evenly spaced held-out windows of `length` tokens that contain no document break."""
    out: list[list[int]] = []
    step = (len(ids) - length) // n
    pos = 0
    while len(out) < n and pos + length <= len(ids):
        w = ids[pos : pos + length]
        if eos in w:
            pos += w.index(eos) + 1
            continue
        out.append(w)
        pos += step
    return out


def bundle_size(models: Path) -> tuple[int, list[tuple[str, int]]]:
    files = [
        (str(p.relative_to(models)), p.stat().st_size)
        for p in sorted(models.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".py"
    ]
    return sum(s for _, s in files), files


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=Path, default=REPO / "spectui" / "models")
    ap.add_argument("--corpus", type=Path, default=REPO / ".build" / "bundled" / "corpus")
    ap.add_argument("--contexts", type=int, default=50)
    ap.add_argument("--context-len", type=int, default=32)
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path, default=None, help="also write the figures as JSON")
    ap.add_argument(
        "--write-card",
        action="store_true",
        help="replace the results section of MODEL_CARD.md with this report",
    )
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if not (args.corpus / "heldout.jsonl").exists():
        sys.exit(f"{args.corpus}/heldout.jsonl missing: run prepare_corpus.py first")

    verifier, drafter, tok, load_s = load_pair(args.models)
    load_dtype = str(verifier.dtype).replace("torch.", "")
    verifier, drafter = verifier.float().eval(), drafter.float().eval()
    total_bytes, files = bundle_size(args.models)
    ids = heldout_ids(tok, args.corpus)
    eos = tok.eos_token_id

    t0 = time.perf_counter()
    ppl = perplexities(verifier, drafter, ids)
    ctxs = contexts(ids, args.contexts, args.context_len, eos)
    spec = {}
    held_rep = held_tot = 0
    for policy in ("greedy", "soft"):
        runs = [speculative(verifier, drafter, c, args.new_tokens, policy) for c in ctxs]
        if policy == "greedy":  # greedy-exact output == the verifier's greedy continuation
            for r, c in zip(runs, ctxs, strict=True):
                rr, tt = repeated_4grams(r["seq"][len(c) :])
                held_rep, held_tot = held_rep + rr, held_tot + tt
        spec[policy] = summarise(runs, ctxs)
    seed_ids = [tok(p)["input_ids"] for p in SEED_PROMPTS]
    seed_spec = {
        policy: summarise(
            [speculative(verifier, drafter, c, 64, policy) for c in seed_ids], seed_ids
        )
        for policy in ("greedy", "soft")
    }
    samples = []
    for c in (ctxs[0], ctxs[len(ctxs) // 2], ctxs[-1]):
        samples.append((tok.decode(c), tok.decode(greedy(verifier, c, 40))))
    loops, rep, tot = [], 0, 0
    for prompt in SEED_PROMPTS:
        cont = greedy(verifier, tok(prompt)["input_ids"], 64)
        r, t = repeated_4grams(cont)
        rep, tot = rep + r, tot + t
        loops.append((prompt, tok.decode(cont), r / t))
    r200 = t200 = 0
    for prompt in SEED_PROMPTS:
        r, t = repeated_4grams(greedy(verifier, tok(prompt)["input_ids"], 200))
        r200, t200 = r200 + r, t200 + t
    o_rep = o_tot = 0
    for prompt in OTHER_PROMPTS:
        r, t = repeated_4grams(greedy(verifier, tok(prompt)["input_ids"], 64))
        o_rep, o_tot = o_rep + r, o_tot + t
    d_rep = d_tot = 0
    for prompt in SEED_PROMPTS:
        r, t = repeated_4grams(greedy(drafter, tok(prompt)["input_ids"], 64))
        d_rep, d_tot = d_rep + r, d_tot + t
    eval_s = time.perf_counter() - t0

    results = {
        **ppl,
        "greedy": spec["greedy"],
        "soft": spec["soft"],
        "seed_greedy": seed_spec["greedy"],
        "seed_soft": seed_spec["soft"],
        "repeated_4gram_fraction": rep / tot,
        "repeated_4gram_fraction_200": r200 / t200,
        "heldout_repeated_4gram_fraction": held_rep / held_tot,
        "other_prompts_repeated_4gram_fraction": o_rep / o_tot,
        "drafter_repeated_4gram_fraction": d_rep / d_tot,
        "bundle_bytes": total_bytes,
        "load_seconds": load_s,
        "load_dtype": load_dtype,
        "n_contexts": len(ctxs),
        "eval_seconds": eval_s,
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
    }
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))

    def q(text: str) -> str:
        return text.replace("\n", " ⏎ ")

    L = []
    L.append(
        "Measured by `python scripts/bundled_pair/evaluate.py` "
        f"(torch {torch.__version__}, transformers {transformers.__version__}, "
        f"{args.threads} CPU threads, float32 compute on the fp16 weights)."
    )
    L.append("")
    L.append("| measure | value |")
    L.append("| --- | --- |")
    L.append(f"| held-out tokens scored | {ppl['tokens']:,} |")
    L.append(f"| verifier held-out perplexity | {ppl['verifier_ppl']:.2f} |")
    L.append(f"| drafter held-out perplexity | {ppl['drafter_ppl']:.2f} |")
    L.append(
        f"| top-1 agreement drafter vs verifier (teacher-forced, held-out text) | "
        f"{100 * ppl['top1_agreement']:.1f}% |"
    )
    g, s = spec["greedy"], spec["soft"]
    L.append(
        f"| greedy-exact acceptance, k=5 ({len(ctxs)} contexts × {args.context_len} tokens, "
        f"{args.new_tokens} new) | {100 * g['acceptance']:.1f}% "
        f"({g['accepted']}/{g['drafted']}) |"
    )
    L.append(
        f"| greedy-exact: accepted draft tokens per round | {g['accepted_per_round']:.2f} "
        f"(tokens emitted per round {g['tokens_per_round']:.2f}) |"
    )
    L.append(
        f"| soft-guarded acceptance, k=5, p≥{P_THRESH}, top-{TOPK_GATE}, margin≤{MARGIN_GATE},"
        f" max_accept {MAX_ACCEPT} | {100 * s['acceptance']:.1f}% "
        f"({s['accepted']}/{s['drafted']}) |"
    )
    L.append(
        f"| soft-guarded: accepted draft tokens per round | {s['accepted_per_round']:.2f} "
        f"(tokens emitted per round {s['tokens_per_round']:.2f}) |"
    )
    gs, ss = seed_spec["greedy"], seed_spec["soft"]
    L.append(
        f"| soft-guarded acceptance, same settings, 6 seed prompts × 64 new | "
        f"{100 * ss['acceptance']:.1f}% ({ss['accepted']}/{ss['drafted']}) |"
    )
    L.append(
        f"| soft-guarded gate failures on the seed prompts' {ss['checks']} checks: p, top-k, "
        f"margin | {ss['p_gate_fails']}, {ss['topk_gate_fails']}, {ss['margin_gate_fails']} |"
    )
    L.append(
        f"| soft-guarded gate failures on the held-out contexts' {s['checks']} checks: p, "
        f"top-k, margin | {s['p_gate_fails']}, {s['topk_gate_fails']}, {s['margin_gate_fails']} |"
    )
    L.append(
        f"| verifier mean p_top1 over the soft-guarded checks: seed prompts / held-out "
        f"contexts | {ss['mean_p_top1_checks']:.3f} / {s['mean_p_top1_checks']:.3f} |"
    )
    L.append(
        f"| verifier on held-out text (teacher-forced): top-1 accuracy / mean p_top1 | "
        f"{ppl['verifier_top1_accuracy']:.3f} / {ppl['verifier_mean_p_top1_text']:.3f} |"
    )
    L.append(
        f"| greedy-exact acceptance, 6 seed prompts × 64 new | {100 * gs['acceptance']:.1f}% "
        f"({gs['accepted']}/{gs['drafted']}) |"
    )
    L.append(
        f"| repeated 4-grams, verifier greedy 64 tokens × 6 seed prompts (pooled) | "
        f"{100 * rep / tot:.1f}% ({rep}/{tot}) |"
    )
    L.append(
        f"| repeated 4-grams, verifier greedy 200 tokens × 6 seed prompts (pooled) | "
        f"{100 * r200 / t200:.1f}% ({r200}/{t200}) |"
    )
    L.append(
        f"| repeated 4-grams, verifier greedy {args.new_tokens} tokens × the {len(ctxs)} "
        f"held-out contexts (pooled) | {100 * held_rep / held_tot:.1f}% ({held_rep}/{held_tot}) |"
    )
    L.append(
        f"| repeated 4-grams, verifier greedy 64 tokens × {len(OTHER_PROMPTS)} other short "
        f"prompts (pooled) | {100 * o_rep / o_tot:.1f}% ({o_rep}/{o_tot}) |"
    )
    L.append(
        f"| (for comparison) seed-prompt figure for the drafter alone | "
        f"{100 * d_rep / d_tot:.1f}% |"
    )
    L.append(f"| bundled files, total | {total_bytes / 1e6:.2f} MB ({total_bytes:,} bytes) |")
    L.append(
        f"| load pair + tokenizers with from_pretrained (after imports) | {load_s:.2f} s "
        f"(stored dtype {load_dtype}) |"
    )
    L.append("")
    L.append(
        "Greedy 40-token continuations by the verifier from held-out prompts (prompt in brackets):"
    )
    L.append("")
    for i, (p, c) in enumerate(samples, 1):
        L.append(f"{i}. [{q(p)}]{q(c)}")
    L.append("")
    L.append(
        "Loop check, greedy 64-token continuations of the seed prompts "
        "(repeated 4-gram fraction of each):"
    )
    L.append("")
    for p, c, f in loops:
        L.append(f"- **{p}**{q(c)} — {100 * f:.0f}%")
    L.append("")
    L.append("Bundled files:")
    L.append("")
    for name, size in files:
        L.append(f"- `spectui/models/{name}`: {size:,} bytes")
    report = "\n".join(L)
    print(report)

    if args.write_card:
        card = args.models / "MODEL_CARD.md"
        text = card.read_text(encoding="utf-8")
        a, b = text.index(CARD_START) + len(CARD_START), text.index(CARD_END)
        card.write_text(text[:a] + "\n" + report + "\n" + text[b:], encoding="utf-8")
        print(f"\nwrote results into {card}")

    ok = {
        "greedy-exact acceptance >= 55%": g["acceptance"] >= 0.55,
        "soft-guarded acceptance 55-85% (held-out contexts and seed prompts)": all(
            0.55 <= x["acceptance"] <= 0.85 for x in (s, ss)
        ),
        "each soft gate fails on a seed-prompt check": all(
            ss[k] > 0 for k in ("p_gate_fails", "topk_gate_fails", "margin_gate_fails")
        ),
        "verifier mean p_top1 over the checks >= 0.30": min(
            ss["mean_p_top1_checks"], s["mean_p_top1_checks"]
        )
        >= 0.30,
        "repeated 4-grams < 20% (seed prompts, 64 tokens)": rep / tot < 0.20,
        "bundle <= 25 MB": total_bytes <= 25e6,
        "load < 1 s": load_s < 1.0,
    }
    print("\nrequirements (issue 15):")
    for k, v in ok.items():
        print(f"  {'PASS' if v else 'FAIL'}  {k}")
    print(f"overall: {'PASS' if all(ok.values()) else 'FAIL'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
