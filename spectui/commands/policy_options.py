"""Lists of policies on the command line (--compare, run's --policies, sweep's --policies)."""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence

from spectui.engine.policy.registry import policy_names


def policy_list(
    text: str, *, aliases: Mapping[str, Sequence[str]] | None = None, at_least: int = 1
) -> tuple[str, ...]:
    """Policy names from a comma list ("greedy,soft,sample"), for argparse's `type=`.

    `aliases` maps a word to the names it stands for (run's "both"). Unknown or repeated
    names, or fewer than `at_least`, are refused with the registered ones listed.
    """
    names: list[str] = []
    for part in (part.strip() for part in text.split(",")):
        names.extend((aliases or {}).get(part, (part,)))
    known = policy_names()
    unknown = [name for name in names if name not in known]
    words = ", ".join([*known, *(aliases or {})])
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown policy {', '.join(map(repr, unknown)) or repr(text)} (choose from {words},"
            " or several joined by commas)"
        )
    if len(set(names)) < len(names):
        raise argparse.ArgumentTypeError(f"a policy is named twice in {text!r}")
    if len(names) < at_least:
        raise argparse.ArgumentTypeError(
            f"name at least {at_least} policies, joined by commas (from {words}), got {text!r}"
        )
    return tuple(names)
