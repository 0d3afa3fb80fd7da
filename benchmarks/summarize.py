"""Markdown tables from `spectui bench --save-json` files (how the README's tables were made).

python benchmarks/summarize.py benchmarks/results/bundled.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def main() -> None:
    """Print each file's figures as markdown."""
    for path in sys.argv[1:]:
        print(summarize(json.loads(Path(path).read_text(encoding="utf-8"))))


def summarize(result: dict[str, Any]) -> str:
    """The run's settings, methods, cost model and oracle sweep as markdown."""
    settings, machine, versions = result["settings"], result["machine"], result["versions"]
    cost = result["cost_model"]
    lines = [
        f"{settings['drafter']} ({settings['drafter_parameters'] / 1e6:.1f}M) → "
        f"{settings['verifier']} ({settings['verifier_parameters'] / 1e6:.1f}M); "
        f"{machine['cpu']}, {machine['cpu_count']} CPUs, {settings['threads']} thread; "
        f"torch {versions['torch']}, transformers {versions['transformers']}; "
        f"{settings['dtype']}; k={settings['k']}; {settings['new_tokens']} new tokens; "
        f"{len(settings['prompts'])} prompt(s) × {settings['repeats']} repeats; load average "
        f"{_load(machine['load_average_before'])} before, {_load(machine['load_average_after'])} "
        f"after; {result['elapsed_seconds'] / 60:.1f} min.",
        "",
        "| method | tokens/s | × plain | × HF assisted | V fwd/token | V in/token | "
        "V fwd/round | D fwd/round | accepted/drafted | tokens/round | = plain |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key, m in result["methods"].items():
        if key.startswith("oracle_"):
            continue
        lines.append(
            f"| {m['label']} | {_spread(m['tokens_per_second'], 1)} | "
            f"{_spread(m['ratio_vs_plain'], 2)} | {_spread(m['ratio_vs_hf_assisted'], 2)} | "
            f"{_num(m['verifier_forwards_per_token'])} | "
            f"{_num(m['verifier_input_tokens_per_token'], 1)} | "
            f"{_num(m['verifier_forwards_per_round'])} | {_num(m['drafter_forwards_per_round'])} | "
            f"{_num(m['draft_acceptance_rate'])} | {_num(m['tokens_per_round'])} | "
            f"{'yes' if m['identical_to_plain'] else 'no'} |"
        )
    lines += [
        "",
        f"Cost model at {cost['context_tokens']} cached tokens ({cost['samples']} samples): "
        f"drafter step {cost['drafter_step_ms']:.2f} ms, verifier step "
        f"{cost['verifier_step_ms']:.2f} ms, verifier on k+1 tokens "
        f"{cost['verifier_block_ms']:.2f} ms → **c = {cost['c']:.3f}, r_k = {cost['r_k']:.3f}**; "
        f"plain generate {cost['plain_generate_step_ms']:.2f} ms per token "
        f"(= {cost['plain_generate_over_verifier_step']:.3f} verifier steps).",
        "",
        "| α | α measured | tokens/round (formula) | round cost, verifier steps (k·c + r_k) | "
        "S predicted | S measured | gap | factors: tokens/round × round cost × plain loop |",
        "|---|---|---|---|---|---|---|---|",
    ]
    rows = [("greedy engine", result["alpha"], result["engine_vs_model"])]
    rows += [(f"oracle {row['alpha']:g}", row["measured_alpha"], row) for row in result["oracle"]]
    for label, alpha, row in rows:
        f = row["gap_factors"]
        lines.append(
            f"| {label} | {alpha:.3f} | {row['tokens_per_round']:.2f} "
            f"({row['expected_tokens_per_round']:.2f}) | {row['round_cost_measured']:.2f} "
            f"({row['round_cost_model']:.2f}) | {row['predicted_speedup']:.2f}× | "
            f"{_spread(row['measured_speedup'], 2)} | {row['gap']:+.1%} | "
            f"{f['tokens_per_round']:.3f} × {f['round_cost']:.3f} × {f['plain_loop']:.3f} |"
        )
    return "\n".join(lines) + "\n"


def _spread(spread: dict[str, float] | None, digits: int) -> str:
    if spread is None:
        return "—"
    return f"{spread['median']:.{digits}f} ({spread['min']:.{digits}f}–{spread['max']:.{digits}f})"


def _num(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _load(values: list[float] | None) -> str:
    return "/".join(f"{v:.2f}" for v in values) if values else "n/a"


if __name__ == "__main__":
    main()


def _draft_acceptance(method: dict[str, Any]) -> float | None:
    """accepted / drafted; results written before the field was renamed call it acceptance_rate."""
    return method.get("draft_acceptance_rate", method.get("acceptance_rate"))
