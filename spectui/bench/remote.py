"""`spectui bench --verifier-url`: the same decodes with the verifier served and loaded here.

Both sides run the engine under greedy-exact on the same prompts, interleaved repeat by
repeat, with the drafter loaded here; a wrapper around each verifier times every scoring call
(one forward here, one HTTP request there) with the length of the context it scored. vLLM
re-reads the whole context for requests that ask for prompt logprobs, so how a round's
latency grows with the context is reported too.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from spectui.engine.config import DecodeConfig
from spectui.engine.decode import SpeculativeDecoder, encode_prompt
from spectui.engine.models.loading import ModelPair
from spectui.engine.models.progress import BarSink, StepCounter
from spectui.engine.policy.library import GREEDY_EXACT
from spectui.engine.seams import Scored, Verifier, Wrapping
from spectui.engine.warps import NO_WARP, Warp

CONTEXT_BUCKETS = (0, 32, 64, 128, 256, 512, 1024, 1 << 30)  # tokens scored per request


class TimedVerifier(Wrapping):
    """A verifier whose every `score` is timed, with the length of what it scored."""

    def __init__(self, inner: Verifier) -> None:
        super().__init__(inner)
        self.inner: Verifier = inner
        self.samples: list[tuple[int, float]] = []  # (context tokens, seconds)

    def score(
        self, tokens: Sequence[int], draft_ids: Sequence[int], n_top: int, warp: Warp = NO_WARP
    ) -> Scored:
        """Score, timed."""
        started = time.perf_counter()
        scored = self.inner.score(tokens, draft_ids, n_top, warp)
        self.samples.append((len(tokens) + len(draft_ids), time.perf_counter() - started))
        return scored


def run_remote_bench(
    pairs: dict[str, ModelPair],
    config: DecodeConfig,
    prompts: Sequence[str],
    new_tokens: int,
    repeats: int,
    progress: Callable[[str], None],
    bars: BarSink | None = None,
) -> dict[str, Any]:
    """Decode every prompt on each pair ("local", "remote") `repeats` times; the timings."""
    base = replace(config, policy=GREEDY_EXACT.name, max_new_tokens=new_tokens, stop_at_eos=False)
    samples: dict[str, list[tuple[int, float]]] = {name: [] for name in pairs}
    busy: dict[str, float] = dict.fromkeys(pairs, 0.0)
    tokens: dict[str, int] = dict.fromkeys(pairs, 0)
    outputs: dict[str, list[tuple[int, ...]]] = {name: [] for name in pairs}
    runs = StepCounter(
        bars, "bench", "pair × prompt × repeat", repeats * len(prompts) * len(pairs), "runs"
    )
    for repeat in range(repeats):
        progress(f"repeat {repeat + 1}/{repeats}")
        for number, prompt in enumerate(prompts, start=1):
            for name, pair in pairs.items():
                timed = TimedVerifier(pair.new_verifier())
                decoder = SpeculativeDecoder(
                    pair, base, encode_prompt(pair, prompt), verifier=timed
                )
                done = decoder.run()
                samples[name].extend(timed.samples)
                busy[name] += done.stats.draft_seconds + done.stats.verify_seconds
                tokens[name] += len(done.output_ids)
                outputs[name].append(done.output_ids)
                runs.step(
                    f"repeat {repeat + 1}/{repeats} · {name} · prompt {number}/{len(prompts)}"
                )
    sides = {name: _side(samples[name], busy[name], tokens[name]) for name in pairs}
    return {
        "settings": {
            "new_tokens": new_tokens,
            "repeats": repeats,
            "prompts": list(prompts),
            "k": config.draft_span,
            "verifier_url": config.verifier_url,
        },
        "same_output": outputs["local"] == outputs["remote"],
        "sides": sides,
        "remote_over_local_round": sides["remote"]["median_round_ms"]
        / sides["local"]["median_round_ms"],
        "by_context": _by_context(samples),
    }


def _side(samples: list[tuple[int, float]], busy: float, tokens: int) -> dict[str, Any]:
    seconds = [s for _, s in samples]
    return {
        "rounds": len(samples),
        "median_round_ms": statistics.median(seconds) * 1e3,
        "mean_round_ms": statistics.fmean(seconds) * 1e3,
        "tokens_per_second": tokens / busy if busy else 0.0,
    }


def _by_context(samples: dict[str, list[tuple[int, float]]]) -> list[dict[str, Any]]:
    """Median verifier time per round, local and remote, by the context length scored."""
    rows = []
    for low, high in zip(CONTEXT_BUCKETS, CONTEXT_BUCKETS[1:], strict=False):
        cell: dict[str, Any] = {"context_from": low, "context_to": high - 1}
        for name, side in samples.items():
            seconds = [s for length, s in side if low <= length < high]
            cell[f"{name}_ms"] = statistics.median(seconds) * 1e3 if seconds else None
            cell[f"{name}_rounds"] = len(seconds)
        if any(cell[f"{name}_rounds"] for name in samples):
            rows.append(cell)
    return rows


def print_remote_report(result: dict[str, Any]) -> None:
    """The remote-vs-local figures as tables."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    settings = result["settings"]
    console.print(
        f"verifier served at {settings['verifier_url']} vs loaded here · k={settings['k']} · "
        f"{settings['new_tokens']} tokens × {len(settings['prompts'])} prompts × "
        f"{settings['repeats']} repeats · same output: {'yes' if result['same_output'] else 'NO'}"
    )
    table = Table(title="verifier time per round (greedy-exact)")
    for column in ("verifier", "rounds", "median ms", "mean ms", "tokens/s"):
        table.add_column(column, justify="right")
    for name, side in result["sides"].items():
        table.add_row(
            name,
            str(side["rounds"]),
            f"{side['median_round_ms']:.1f}",
            f"{side['mean_round_ms']:.1f}",
            f"{side['tokens_per_second']:.1f}",
        )
    console.print(table)
    console.print(f"remote / local, median round: {result['remote_over_local_round']:.2f}×")
    growth = Table(title="median verifier ms per round by context length (tokens scored)")
    for column in ("context", "local ms", "remote ms", "rounds"):
        growth.add_column(column, justify="right")
    for row in result["by_context"]:
        shown = [
            f"{row[key]:.1f}" if row[key] is not None else "–" for key in ("local_ms", "remote_ms")
        ]
        rounds = f"{row['local_rounds']}/{row['remote_rounds']}"
        growth.add_row(f"{row['context_from']}–{row['context_to']}", *shown, rounds)
    console.print(growth)
