"""How well the verifier's first N layers draft for it: the early-exit drafter, measured.

For each N: the share of positions along the verifier's own greedy text (the seed's six
prompts × 64 new tokens) where the early-exit drafter's argmax (the verifier's first N
layers, its final norm and LM head) is the verifier's argmax; then a greedy-exact decode
with `--drafter early-exit:N` (k = 5): α per token (accepted / judged) and τ (tokens per
round). Beside them, the same decode with `--drafter ngram`. Prints a Markdown table.

    python scripts/drafters/early_exit_agreement.py [--pair smollm2-135m] [--layers 4,8,12,16,20]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace

import torch

from spectui.engine import DecodeConfig, SpeculativeDecoder, load_pair
from spectui.engine.decode import encode_prompt
from spectui.engine.drafters.early_exit import exit_agreement, verifier_layers
from spectui.engine.drafters.methods import draft_method
from spectui.engine.prompts import SEED_PROMPTS
from spectui.models import REAL_PAIR, named_pair


def decode_figures(pair, drafter: str, new_tokens: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """α per token and τ of a greedy-exact decode of every seed prompt with `drafter`."""
    config = DecodeConfig(drafter=drafter, policy="greedy", max_new_tokens=new_tokens)
    with_drafter = replace(pair, draft_method=draft_method(config))  # the verifier loaded once
    accepted = judged = rounds = tokens = 0
    for prompt in SEED_PROMPTS:
        done = SpeculativeDecoder(with_drafter, config, prompt).run()
        accepted += done.stats.accepted
        judged += done.stats.judged
        rounds += done.stats.rounds
        tokens += len(done.output_ids)
    figures = {"alpha": accepted / judged if judged else 0.0, "tau": tokens / rounds}
    print(f"decode with {drafter}: {figures}", file=sys.stderr, flush=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pair", default=REAL_PAIR)
    parser.add_argument("--layers", default="4,8,12,16,20")
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--no-decode", action="store_true", help="agreement only")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    layers = [int(n) for n in args.layers.split(",")]
    verifier_name = named_pair(args.pair).verifier
    pair = load_pair(DecodeConfig(drafter="ngram", verifier=verifier_name, device="cpu"))
    verifier = pair.local("verifier")
    hits = dict.fromkeys(layers, 0.0)
    positions = 0
    for prompt in SEED_PROMPTS:
        config = DecodeConfig(drafter="ngram", policy="greedy", max_new_tokens=args.new_tokens)
        decoder = SpeculativeDecoder(pair, config, prompt)
        decoder.run()  # greedy-exact: the verifier's greedy text
        ids = encode_prompt(pair, prompt) + decoder.output_ids
        start = len(decoder.prompt_ids)
        shares = exit_agreement(verifier, ids, layers, start=start)
        n = len(ids) - start + 1
        positions += n
        for layer in layers:
            hits[layer] += shares[layer] * n
        print(f"agreement on {prompt[:30]!r}: {shares}", file=sys.stderr, flush=True)
    result: dict[str, object] = {
        "verifier": pair.verifier_id,
        "layers": verifier_layers(verifier),
        "positions": positions,
        "agreement": {n: hits[n] / positions for n in layers},
    }
    if not args.no_decode:
        result["decode"] = {
            f"early-exit:{n}": decode_figures(pair, f"early-exit:{n}", args.new_tokens)
            for n in layers
        }
        result["decode"]["ngram"] = decode_figures(pair, "ngram", args.new_tokens)  # type: ignore[index]
    if args.json:
        print(json.dumps(result, indent=2))
        return
    total = result["layers"]
    print(f"| N of {total} layers | top-1 agreement ({positions} positions) | α | τ |")
    print("| --- | --- | --- | --- |")
    decode = result.get("decode", {})
    for n in layers:
        row = decode.get(f"early-exit:{n}") if isinstance(decode, dict) else None
        tail = f"{row['alpha']:.3f} | {row['tau']:.2f}" if row else "– | –"
        print(f"| {n} | {hits[n] / positions:.1%} | {tail} |")
    if isinstance(decode, dict) and "ngram" in decode:
        print(f"| ngram | – | {decode['ngram']['alpha']:.3f} | {decode['ngram']['tau']:.2f} |")


if __name__ == "__main__":
    main()
