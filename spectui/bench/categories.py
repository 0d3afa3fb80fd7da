"""Acceptance per prompt category, for prompts read from a file that gives categories.

Acceptance depends on the kind of text (a drafter guesses code and lists better than prose),
so a prompt set's overall α can hide what each category gets.
"""

from __future__ import annotations

from collections.abc import Sequence

from spectui.bench.runner import Run, Timings
from spectui.engine.cost.sampler import alpha_estimate

PER_CATEGORY_METHODS = ("engine_greedy", "engine_soft")  # the engine under each policy


def per_category(
    categories: Sequence[str | None], timings: Timings
) -> dict[str, dict[str, dict[str, float | None]]]:
    """{category: {method key: its acceptance figures}}; {} when no prompt has a category.

    `categories[i]` is prompt i's category, as the timings index prompts.
    """
    named = [name for name in dict.fromkeys(categories) if name is not None]
    return {
        name: {
            key: acceptance(category_runs(timings, key, categories, name))
            for key in PER_CATEGORY_METHODS
        }
        for name in named
    }


def category_runs(
    timings: Timings, key: str, categories: Sequence[str | None], name: str
) -> list[Run]:
    """A method's runs, over repeats, on the prompts of category `name`."""
    return [
        run
        for runs in timings.runs.get(key, [])
        for index, run in runs.items()
        if categories[index] == name
    ]


def acceptance(runs: Sequence[Run]) -> dict[str, float | None]:
    """Draft acceptance, α and tokens per round over an engine method's `runs`."""
    rounds = sum(run.decoded.rounds or 0 for run in runs)
    drafted = sum(run.decoded.drafted or 0 for run in runs)
    accepted = sum(run.decoded.accepted or 0 for run in runs)
    checked = sum(run.decoded.checked or 0 for run in runs)
    tokens = sum(len(run.decoded.output_ids) for run in runs)
    return {
        "runs": len(runs),  # the category's prompts × repeats
        "draft_acceptance_rate": accepted / drafted if drafted else None,
        "alpha": alpha_estimate(accepted, checked) if checked else None,
        "tokens_per_round": tokens / rounds if rounds else None,
    }
