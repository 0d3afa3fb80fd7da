"""Step 4 of the bundled-pair recipe: measure the bundled drafter/verifier pair.

Loads the exported pair from ``spectui/models/{verifier,drafter}`` (or ``--models DIR``) with
spectui's own loading path (``load_pair``: float32 compute on the CPU, the kernels spectui
runs on), and measures on the held-out chapters written by ``prepare_corpus.py``
(``.build/bundled/corpus/heldout.jsonl``, tokenized with the bundled tokenizer):

1. held-out perplexity of both models (non-overlapping 256-token windows of the held-out
   stream, chapters separated by ``<|endoftext|>``), and teacher-forced top-1 agreement
   (drafter argmax == verifier argmax) on the same windows;
2. greedy-exact speculative decoding from 50 held-out contexts of 32 tokens, 64 new tokens
   each, decoded by spectui's engine (``SpeculativeDecoder``, as ``spectui run`` decodes);
   acceptance = accepted / drafted (the engine's draft acceptance rate), accepted draft tokens
   per round and tokens per round, all from the engine's statistics (``engine/stats.py``);
3. soft-guarded, the same way, with its gates at the engine's defaults (``DecodeConfig``'s
   p_thresh, topk_gate, margin_gate, max_accept: the report names them from the config);
4. three greedy 40-token continuations by the verifier from held-out prompts;
5. the loop check: greedy 64-token continuations of the six seed prompts, and the pooled
   fraction of token 4-grams in each continuation that already occurred earlier in it; the
   same fraction for the greedy-exact decodes of the held-out contexts (2.: the verifier's own
   greedy text) and for the verifier's greedy continuations of twelve other short prompts
   (the training script's ``MONITOR_PROMPTS``);
6. the total size of the bundled files and the time ``load_pair`` takes (after imports);
7. (round 4, issue 15) the verifier's top-1 accuracy and mean p_top1 on held-out text, both
   policies also on the six seed prompts (64 new tokens), for every soft-guarded run the number
   of judged draft tokens ("checks") on which each soft gate fails and the verifier's mean
   p_top1 over the checks, and repeated 4-grams of the seed prompts at 200 tokens; the last
   lines check issue 15's bars (bundle <= 25 MB).

The settings this script gives the engine (every other ``DecodeConfig`` field keeps its
default): ``policy`` (greedy, then soft), ``draft_span=5`` (k; the engine shrinks it near the
end, as any decode), ``max_new_tokens`` (64, or ``--new-tokens`` for the held-out contexts),
``bonus=False`` (no extra verifier token after a fully accepted draft, the engine's default
and the seed's), ``device="cpu"`` and ``threads`` (``--threads``). ``stop_at_eos`` keeps its
default: a decode that reaches ``<|endoftext|>`` ends there, as in spectui (the report counts
them). The plain greedy continuations (4., 5.) are transformers' ``generate`` with EOS off
(``spectui.bench.baselines.plain_generate``).

Everything is greedy and deterministic. Usage::

    python scripts/bundled_pair/evaluate.py            # prints a Markdown report
    python scripts/bundled_pair/evaluate.py --write-card   # also fills MODEL_CARD.md's results
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
import transformers

from spectui.bench.baselines import plain_generate
from spectui.engine import DecodeConfig, SpeculativeDecoder, load_pair
from spectui.engine.events import DecodeFinished, FinishReason, TokenChecked
from spectui.engine.models.loading import ModelPair
from spectui.engine.policy.records import GateCheck
from spectui.engine.policy.registry import policy_named
from spectui.engine.prompts import SEED_PROMPTS  # the package's own six
from spectui.engine.stats import StatsSnapshot, combined

REPO = Path(__file__).resolve().parents[2]
CONTEXT = 256  # the perplexity windows: the pair's context length
K = 5  # draft_span: the k of every speculative figure here
SEED_NEW_TOKENS = 64  # new tokens per seed prompt (speculative runs and the loop check)
POLICIES = ("greedy", "soft")
# The soft gates on the verifier's distribution; its fourth, max_accept (the round's cap),
# never refuses at k = 5 under its default of 5.
THRESHOLD_GATES = ("p_thresh", "topk", "margin")
CARD_START, CARD_END = "<!-- results:start -->", "<!-- results:end -->"


def eval_config(models: Path, threads: int) -> DecodeConfig:
    """The settings every decode here shares: k, no bonus, the CPU; thresholds at defaults."""
    return DecodeConfig(
        drafter=str(models / "drafter"),
        verifier=str(models / "verifier"),
        draft_span=K,
        bonus=False,
        device="cpu",
        threads=threads,
    )


def decode_config(base: DecodeConfig, policy: str, new_tokens: int) -> DecodeConfig:
    """`base` under `policy`, decoding `new_tokens` tokens."""
    return replace(base, policy=policy, max_new_tokens=new_tokens)


def heldout_ids(tok: Any, corpus: Path) -> list[int]:
    ids: list[int] = []
    with open(corpus / "heldout.jsonl", encoding="utf-8") as f:
        for line in f:
            ids.extend(tok(json.loads(line)["text"])["input_ids"])
            ids.append(tok.eos_token_id)
    return ids


@torch.no_grad()
def perplexities(verifier: Any, drafter: Any, ids: list[int]) -> dict[str, float]:
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


@dataclass(frozen=True)
class Speculative:
    """One policy's engine decodes of some prompts: the engine's statistics and its checks."""

    config: DecodeConfig
    stats: StatsSnapshot  # the engine's counts, added up over the prompts (`stats.combined`)
    checks: tuple[GateCheck, ...]  # every draft token the verifier judged, in decode order
    outputs: tuple[tuple[int, ...], ...]  # each prompt's generated tokens
    reasons: tuple[FinishReason, ...]  # why each prompt's decode ended


def speculative(
    pair: ModelPair, config: DecodeConfig, prompts: Iterable[Sequence[int]]
) -> Speculative:
    """Decode each prompt with spectui's engine under `config`, as `spectui run` does."""
    checks: list[GateCheck] = []
    finished: list[DecodeFinished] = []
    for prompt in prompts:
        for event in SpeculativeDecoder(pair, config, prompt).events():
            if isinstance(event, TokenChecked):
                checks.append(event.check)
            elif isinstance(event, DecodeFinished):
                finished.append(event)
    return Speculative(
        config=config,
        stats=combined(done.stats for done in finished),
        checks=tuple(checks),
        outputs=tuple(done.output_ids for done in finished),
        reasons=tuple(done.reason for done in finished),
    )


def summarise(run: Speculative) -> dict[str, Any]:
    """The figures of one policy's runs: the engine's own, and what its checks looked like."""
    stats, checks = run.stats, run.checks
    gates = policy_named("soft").gates
    return {
        "acceptance": stats.draft_acceptance_rate,  # accepted / drafted
        "accepted_per_round": stats.accepted_per_round,
        "tokens_per_round": stats.tokens_per_round,  # τ
        "alpha": stats.alpha,  # accepted / judged
        "drafted": stats.drafted,
        "accepted": stats.accepted,
        "rounds": stats.rounds,
        "checks": stats.judged,
        "ended_at_eos": sum(reason is FinishReason.EOS for reason in run.reasons),
        "mean_p_top1_checks": sum(c.p_top1 for c in checks) / max(len(checks), 1),
        # Soft-guarded's gates: every check holds every registered gate's pass/fail, whichever
        # policy decided (greedy-exact's runs show how often they would have refused).
        "gate_fails": {gate.key: sum(not c.gates[gate.key] for c in checks) for gate in gates},
        "figures": stats.figures(),
    }


def greedy(pair: ModelPair, prompt: Sequence[int], new_tokens: int) -> list[int]:
    """The verifier's greedy continuation (transformers' generate, EOS off)."""
    return list(plain_generate(pair, tuple(prompt), new_tokens).output_ids)


def drafter_alone(pair: ModelPair) -> ModelPair:
    """The pair with its drafter in the verifier's place: `greedy` then runs the drafter."""
    return replace(pair, verifier=pair.drafter)


def repeated_4grams(tokens: Sequence[int]) -> tuple[int, int]:
    seen: set[tuple[int, ...]] = set()
    rep = total = 0
    for i in range(len(tokens) - 3):
        g = tuple(tokens[i : i + 4])
        total += 1
        rep += g in seen
        seen.add(g)
    return rep, total


def pooled_4grams(continuations: Iterable[Sequence[int]]) -> tuple[int, int]:
    """Repeated 4-grams and 4-grams, each continuation counted on its own, added up."""
    rep = total = 0
    for tokens in continuations:
        r, t = repeated_4grams(tokens)
        rep, total = rep + r, total + t
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
    """The tiny pair's files: its two model directories and the card beside them (the real
    pair's drafter, also under spectui/models, is not part of it)."""
    pair_files = [p for role in ("drafter", "verifier") for p in (models / role).rglob("*")]
    beside = [p for p in models.iterdir() if p.suffix not in (".py", "")]
    files = [
        (str(p.relative_to(models)), p.stat().st_size)
        for p in sorted(pair_files + beside)
        if p.is_file() and "__pycache__" not in p.parts
    ]
    return sum(s for _, s in files), files


def stored_dtype(model_dir: Path) -> str:
    """The dtype the weights are stored in, as their config.json says."""
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    return str(config.get("dtype") or config.get("torch_dtype") or "unknown")


def gate_rules(config: DecodeConfig) -> str:
    """Soft-guarded's gates as the engine states them at `config`, e.g. "p≥0.05, top-5, …"."""
    return ", ".join(gate.rule(config) for gate in policy_named("soft").gates)


def measure(pair: ModelPair, base: DecodeConfig, args: argparse.Namespace) -> dict[str, Any]:
    """Every figure of the report (see the module's doc), by name."""
    tok, eos = pair.tokenizer, pair.tokenizer.eos_token_id  # chapters' separator in `ids`
    # Other short prompts for a second loop check: the training script's loop monitor uses the
    # same ones to choose among verifier snapshots (never trained on).
    from train import MONITOR_PROMPTS as other_prompts

    ids = heldout_ids(tok, args.corpus)
    t0 = time.perf_counter()
    ppl = perplexities(pair.local("verifier"), pair.local("drafter"), ids)
    ctxs = contexts(ids, args.contexts, args.context_len, eos)
    seed_ids = [tok(p)["input_ids"] for p in SEED_PROMPTS]
    held = {p: speculative(pair, decode_config(base, p, args.new_tokens), ctxs) for p in POLICIES}
    seed = {
        p: speculative(pair, decode_config(base, p, SEED_NEW_TOKENS), seed_ids) for p in POLICIES
    }
    samples = [
        (tok.decode(c), tok.decode(greedy(pair, c, 40)))
        for c in (ctxs[0], ctxs[len(ctxs) // 2], ctxs[-1])
    ]
    seed_64 = [greedy(pair, c, SEED_NEW_TOKENS) for c in seed_ids]
    loops = [
        (prompt, tok.decode(cont), _share(*repeated_4grams(cont)))
        for prompt, cont in zip(SEED_PROMPTS, seed_64, strict=True)
    ]
    others = [greedy(pair, tok(p)["input_ids"], 64) for p in other_prompts]
    alone = drafter_alone(pair)
    return {
        **ppl,
        "greedy": summarise(held["greedy"]),
        "soft": summarise(held["soft"]),
        "seed_greedy": summarise(seed["greedy"]),
        "seed_soft": summarise(seed["soft"]),
        # greedy-exact's output is the verifier's own greedy continuation
        "heldout_4grams": pooled_4grams(held["greedy"].outputs),
        "seed_4grams": pooled_4grams(seed_64),
        "seed_4grams_200": pooled_4grams(greedy(pair, c, 200) for c in seed_ids),
        "other_4grams": pooled_4grams(others),
        "drafter_4grams": pooled_4grams(greedy(alone, c, SEED_NEW_TOKENS) for c in seed_ids),
        "n_other_prompts": len(other_prompts),
        "n_contexts": len(ctxs),
        "samples": samples,
        "loops": loops,
        "eval_seconds": time.perf_counter() - t0,
    }


def _share(rep: int, total: int) -> float:
    return rep / total if total else 0.0


def _pooled(figures: tuple[int, int]) -> str:
    rep, total = figures
    return f"{100 * _share(rep, total):.1f}% ({rep}/{total})"


def _acceptance(s: dict[str, Any]) -> str:
    return f"{100 * s['acceptance']:.1f}% ({s['accepted']}/{s['drafted']})"


def _per_round(s: dict[str, Any]) -> str:
    return f"{s['accepted_per_round']:.2f} (tokens emitted per round {s['tokens_per_round']:.2f})"


def _gate_fails(s: dict[str, Any]) -> str:
    return ", ".join(str(s["gate_fails"][key]) for key in THRESHOLD_GATES)


def report(r: dict[str, Any], base: DecodeConfig, args: argparse.Namespace) -> str:
    """The Markdown report (the model card's results section)."""
    g, s, gs, ss = r["greedy"], r["soft"], r["seed_greedy"], r["seed_soft"]
    n_ctx, new = r["n_contexts"], args.new_tokens
    held_eos = g["ended_at_eos"] + s["ended_at_eos"]
    seed_eos = gs["ended_at_eos"] + ss["ended_at_eos"]
    rows = [
        ("held-out tokens scored", f"{r['tokens']:,}"),
        ("verifier held-out perplexity", f"{r['verifier_ppl']:.2f}"),
        ("drafter held-out perplexity", f"{r['drafter_ppl']:.2f}"),
        (
            "top-1 agreement drafter vs verifier (teacher-forced, held-out text)",
            f"{100 * r['top1_agreement']:.1f}%",
        ),
        (
            f"greedy-exact acceptance, k={K} ({n_ctx} contexts × {args.context_len} tokens, "
            f"{new} new)",
            _acceptance(g),
        ),
        ("greedy-exact: accepted draft tokens per round", _per_round(g)),
        (f"soft-guarded acceptance, k={K}, {gate_rules(base)}", _acceptance(s)),
        ("soft-guarded: accepted draft tokens per round", _per_round(s)),
        (
            f"soft-guarded acceptance, same settings, {len(SEED_PROMPTS)} seed prompts × "
            f"{SEED_NEW_TOKENS} new",
            _acceptance(ss),
        ),
        (
            f"soft-guarded gate failures on the seed prompts' {ss['checks']} checks: p, top-k, "
            "margin",
            _gate_fails(ss),
        ),
        (
            f"soft-guarded gate failures on the held-out contexts' {s['checks']} checks: p, "
            "top-k, margin",
            _gate_fails(s),
        ),
        (
            "verifier mean p_top1 over the soft-guarded checks: seed prompts / held-out contexts",
            f"{ss['mean_p_top1_checks']:.3f} / {s['mean_p_top1_checks']:.3f}",
        ),
        (
            "verifier on held-out text (teacher-forced): top-1 accuracy / mean p_top1",
            f"{r['verifier_top1_accuracy']:.3f} / {r['verifier_mean_p_top1_text']:.3f}",
        ),
        (
            f"greedy-exact acceptance, {len(SEED_PROMPTS)} seed prompts × {SEED_NEW_TOKENS} new",
            _acceptance(gs),
        ),
        (
            "speculative decodes that ended at the end-of-text token before their new tokens: "
            "held-out contexts / seed prompts",
            f"{held_eos} of {2 * n_ctx} / {seed_eos} of {2 * len(SEED_PROMPTS)}",
        ),
        (
            f"repeated 4-grams, verifier greedy {SEED_NEW_TOKENS} tokens × "
            f"{len(SEED_PROMPTS)} seed prompts (pooled)",
            _pooled(r["seed_4grams"]),
        ),
        (
            f"repeated 4-grams, verifier greedy 200 tokens × {len(SEED_PROMPTS)} seed prompts "
            "(pooled)",
            _pooled(r["seed_4grams_200"]),
        ),
        (
            f"repeated 4-grams, verifier greedy {new} tokens × the {n_ctx} held-out contexts "
            "(pooled)",
            _pooled(r["heldout_4grams"]),
        ),
        (
            f"repeated 4-grams, verifier greedy 64 tokens × {r['n_other_prompts']} other short "
            "prompts (pooled)",
            _pooled(r["other_4grams"]),
        ),
        (
            "(for comparison) seed-prompt figure for the drafter alone",
            f"{100 * _share(*r['drafter_4grams']):.1f}%",
        ),
        (
            "bundled files, total",
            f"{r['bundle_bytes'] / 1e6:.2f} MB ({r['bundle_bytes']:,} bytes)",
        ),
        (
            "load the pair with spectui's load_pair (after imports)",
            f"{r['load_seconds']:.2f} s (stored dtype {r['load_dtype']})",
        ),
    ]
    lines = [
        "Measured by `python scripts/bundled_pair/evaluate.py` with spectui's engine "
        f"(`SpeculativeDecoder`; `DecodeConfig` draft_span={K}, bonus={base.bonus}, "
        "max_new_tokens as each row says, every other setting at its default; "
        f"torch {torch.__version__}, transformers {transformers.__version__}, "
        f"{args.threads} CPU threads, float32 compute on the {r['load_dtype']} weights).",
        "",
        "| measure | value |",
        "| --- | --- |",
        *(f"| {name} | {value} |" for name, value in rows),
        "",
        "Greedy 40-token continuations by the verifier from held-out prompts (prompt in brackets):",
        "",
        *(f"{i}. [{_q(p)}]{_q(c)}" for i, (p, c) in enumerate(r["samples"], 1)),
        "",
        "Loop check, greedy 64-token continuations of the seed prompts "
        "(repeated 4-gram fraction of each):",
        "",
        *(f"- **{p}**{_q(c)} — {100 * f:.0f}%" for p, c, f in r["loops"]),
        "",
        "Bundled files:",
        "",
        *(f"- `spectui/models/{name}`: {size:,} bytes" for name, size in r["files"]),
    ]
    return "\n".join(lines)


def _q(text: str) -> str:
    return text.replace("\n", " ⏎ ")


def requirements(r: dict[str, Any]) -> dict[str, bool]:
    """Issue 15's bars, each passed or not."""
    g, s, ss = r["greedy"], r["soft"], r["seed_soft"]
    return {
        "greedy-exact acceptance >= 55%": g["acceptance"] >= 0.55,
        "soft-guarded acceptance 55-85% (held-out contexts and seed prompts)": all(
            0.55 <= x["acceptance"] <= 0.85 for x in (s, ss)
        ),
        "each soft gate fails on a seed-prompt check": all(
            ss["gate_fails"][key] > 0 for key in THRESHOLD_GATES
        ),
        "verifier mean p_top1 over the checks >= 0.30": min(
            ss["mean_p_top1_checks"], s["mean_p_top1_checks"]
        )
        >= 0.30,
        "repeated 4-grams < 20% (seed prompts, 64 tokens)": _share(*r["seed_4grams"]) < 0.20,
        "bundle <= 25 MB": r["bundle_bytes"] <= 25e6,
        "load < 1 s": r["load_seconds"] < 1.0,
    }


def write_card(card: Path, text: str) -> None:
    """Replace the results section of the model card with `text`."""
    old = card.read_text(encoding="utf-8")
    a, b = old.index(CARD_START) + len(CARD_START), old.index(CARD_END)
    card.write_text(old[:a] + "\n" + text + "\n" + old[b:], encoding="utf-8")


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
    if not (args.corpus / "heldout.jsonl").exists():
        sys.exit(f"{args.corpus}/heldout.jsonl missing: run prepare_corpus.py first")
    torch.manual_seed(0)

    base = eval_config(args.models, args.threads)
    pair = load_pair(base)  # sets torch's threads from base.threads
    total_bytes, files = bundle_size(args.models)
    results = {
        **measure(pair, base, args),
        "bundle_bytes": total_bytes,
        "files": files,
        "load_seconds": pair.load_seconds,
        "load_dtype": stored_dtype(args.models / "verifier"),
        "config": {"draft_span": base.draft_span, "bonus": base.bonus, "threads": args.threads},
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
    }
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    text = report(results, base, args)
    print(text)
    if args.write_card:
        write_card(args.models / "MODEL_CARD.md", text)
        print(f"\nwrote results into {args.models / 'MODEL_CARD.md'}")

    ok = requirements(results)
    print("\nrequirements (issue 15):")
    for name, passed in ok.items():
        print(f"  {'PASS' if passed else 'FAIL'}  {name}")
    print(f"overall: {'PASS' if all(ok.values()) else 'FAIL'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
