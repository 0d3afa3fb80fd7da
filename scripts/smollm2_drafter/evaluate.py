"""Step 3 of the SmolLM2 drafter recipe: the model card's figures, on the shipped pair.

Decodes the seed's six prompts × 64 tokens under greedy-exact and soft-guarded (the seed's
default gates) with spectui's own engine and loading path, and prints, as a Markdown table:
α per token (accepted / judged) and the draft acceptance rate (accepted / drafted) of each,
how often each of soft-guarded's gates failed, the drafter's top-1 agreement along the
verifier's greedy text with and without the draft vocabulary's coverage, and the shipped
size. `--drafter DIR` judges a checkpoint instead of the shipped drafter.

    python scripts/smollm2_drafter/evaluate.py [--drafter DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from spectui.engine import DecodeConfig, SpeculativeDecoder, load_pair
from spectui.engine.events import DecodeFinished, TokenChecked
from spectui.engine.models.kernels import parameter_count
from spectui.engine.prompts import SEED_PROMPTS
from spectui.models import REAL_PAIR, named_pair

GATES = ("p_thresh", "topk", "margin")


def figures(drafter: str, drafter_dtype: str, new_tokens: int = 64) -> dict[str, object]:
    """Every figure of the card, measured now (the drafter in `drafter_dtype`)."""
    pair = named_pair(REAL_PAIR)
    loaded = load_pair(
        DecodeConfig(
            drafter=drafter, verifier=pair.verifier, device="cpu", drafter_dtype=drafter_dtype
        )
    )
    result: dict[str, object] = {
        "drafter": drafter,
        "drafter_dtype": drafter_dtype,
        "prompts": len(SEED_PROMPTS),
    }
    for policy in ("greedy", "soft"):
        config = DecodeConfig(policy=policy, max_new_tokens=new_tokens, device="cpu")
        accepted = judged = drafted = checks = rounds = tokens = 0
        failed = dict.fromkeys(GATES, 0)
        for prompt in SEED_PROMPTS:
            for event in SpeculativeDecoder(loaded, config, prompt).events():
                if isinstance(event, TokenChecked):
                    checks += 1
                    for gate in GATES:
                        failed[gate] += not event.check.gates[gate]
                elif isinstance(event, DecodeFinished):
                    stats = event.stats
                    accepted += stats.accepted
                    judged += stats.judged
                    drafted += stats.drafted
                    rounds += stats.rounds
                    tokens += len(event.output_ids)
        result[policy] = {
            "alpha": accepted / judged,
            "draft_acceptance": accepted / drafted,
            "tau": tokens / rounds,
            "checks": checks,
            "gate_failures": {gate: failed[gate] / checks for gate in GATES},
        }
    files = [path for path in Path(drafter).rglob("*") if path.is_file()]
    result["drafter_bytes"] = sum(path.stat().st_size for path in files)
    result["drafter_parameters"] = parameter_count(loaded.local("drafter"))
    vocabulary = loaded.drafter_vocabulary
    result["draft_vocabulary"] = vocabulary.size if vocabulary is not None else None
    return result


def markdown(result: dict) -> str:
    greedy, soft = result["greedy"], result["soft"]
    lines = [
        "| measure (seed's six prompts × 64 tokens, seed default gates) | value |",
        "| --- | --- |",
        f"| greedy-exact α per token (accepted / judged) | {greedy['alpha']:.3f} |",
        "| greedy-exact draft acceptance (accepted / drafted) | "
        f"{greedy['draft_acceptance']:.3f} |",
        f"| greedy-exact τ (tokens per round) | {greedy['tau']:.2f} |",
        f"| soft-guarded α per token | {soft['alpha']:.3f} |",
        f"| soft-guarded draft acceptance | {soft['draft_acceptance']:.3f} |",
        f"| soft-guarded τ | {soft['tau']:.2f} |",
    ]
    for gate, share in soft["gate_failures"].items():
        lines.append(f"| soft-guarded checks failing the {gate} gate | {share:.1%} |")
    lines += [
        f"| drafter: parameters / shipped bytes | {result['drafter_parameters'] / 1e6:.2f}M / "
        f"{result['drafter_bytes'] / 1e6:.1f} MB |",
        f"| draft vocabulary | {result['draft_vocabulary']} of 49152 tokens |",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drafter", default=named_pair(REAL_PAIR).drafter)
    parser.add_argument(
        "--drafter-dtype",
        default="bfloat16",
        help="the drafter's precision (default: bfloat16, the pair's, as spectui runs it)",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = figures(args.drafter, args.drafter_dtype)
    print(json.dumps(result, indent=1) if args.json else markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
