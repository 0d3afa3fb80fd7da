"""A served request decoded again here, by spectui's engine, to see what the server hid.

The server reports counts; spectui's engine, given the server's drafter (n-gram lookup, which
it drafts exactly as vLLM does, or the draft model's directory) and a local copy of the
verifier, decodes the same prompt under greedy-exact with the bonus token (vLLM's greedy
verification) and records every round: the drafts, the rejected ones included, and each
one's gate check from the verifier's whole distribution. Its rounds are then set beside the
server's steps; where they part, the cause is named (the output leaving the server's at a
near-tie of the local verifier's top two, or the two drafters proposing differently). The
last step is only noted: spectui drafts no more than the tokens left, vLLM drafts k.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from spectui.engine.observe.rebuild import first_divergence
from spectui.engine.observe.steps import Step, server_steps

if TYPE_CHECKING:
    from spectui.engine.config import DecodeConfig
    from spectui.engine.events import RoundFinished
    from spectui.engine.models.loading import ModelPair
    from spectui.engine.observe.client import Observed

NEAR_TIE = 1e-3  # top-1 minus top-2 of the local verifier below this: rounding decides


@dataclass(frozen=True)
class LocalDecode:
    """The engine's decode of an observed request, and how it compares with the server's."""

    output_ids: tuple[int, ...]
    steps: tuple[Step, ...]  # one per round, in order (a draftless round as 0/0)
    cause: str | None  # why the steps differ from the server's, or None where they agree
    note: str | None = None  # a difference of drafted counts only, and why (the last step)


def decode_locally(
    pair: ModelPair, config: DecodeConfig, observed: Observed, trace: Path | None
) -> LocalDecode:
    """Decode `observed`'s prompt ids greedily at the server's k, with the bonus token, to the
    server's length; write the trace to `trace` where given."""
    from spectui.engine.events import DecodeFinished, RoundFinished
    from spectui.engine.trace.log import EventLog
    from spectui.engine.trace.source import LiveSource
    from spectui.engine.trace.writer import TraceWriter

    # The server's first token comes from its prefill, with no drafts: the engine starts after
    # it (its own first round would draft there, shifting every step after by one token).
    first, rest = observed.output_ids[:1], observed.output_ids[1:]
    settings = replace(
        config, policy="greedy", bonus=True, draft_span=observed.k, max_new_tokens=max(1, len(rest))
    )
    # The prompt's text carries that first token too, so a replay's stream reads as the output.
    text = observed.prompt + "".join(pair.token_text(token) for token in first)
    source = LiveSource(pair, settings, text, [*observed.prompt_ids, *first])
    log = EventLog(source.header)
    rounds: list[RoundFinished] = []
    output: tuple[int, ...] = ()
    writer = TraceWriter(trace, source.header) if trace is not None else None
    try:
        for event in source.events():
            log.record(event, source.texts(event), None)
            if isinstance(event, RoundFinished):
                rounds.append(event)
                if writer is not None:
                    writer.round(event, log)
            elif isinstance(event, DecodeFinished):
                output = event.output_ids
                if writer is not None:
                    writer.done(event, log)
    finally:
        if writer is not None:
            writer.close()
    steps = tuple(Step(len(r.draft_ids), r.n_accepted) for r in rounds)
    output = (*first, *output)
    cause, note = _compare(pair, observed, output, steps, rounds)
    return LocalDecode(output, steps, cause, note)


def _compare(
    pair: ModelPair,
    observed: Observed,
    output: Sequence[int],
    steps: Sequence[Step],
    rounds: Sequence[RoundFinished],
) -> tuple[str | None, str | None]:
    """(why the steps differ from the server's, or None; a note on the last step's cap)."""
    server = server_steps(observed.server)
    divergence = first_divergence(steps, server)
    if divergence is None and tuple(output) == observed.output_ids:
        return None, None
    if tuple(output) != observed.output_ids:
        at = next(
            (
                i
                for i, (a, b) in enumerate(zip(output, observed.output_ids, strict=False))
                if a != b
            ),
            min(len(output), len(observed.output_ids)),
        )
        return f"the output leaves the server's at token {at + 1}: " + _margin(
            pair, observed, at
        ), None
    assert divergence is not None
    drafting = [round_ for round_ in rounds if round_.draft_ids]
    ours, theirs = divergence.ours, divergence.server
    last = divergence.step == len(drafting) - 1
    if last and ours is not None and theirs is not None and _capped(ours, theirs, observed.k):
        return None, (
            f"{divergence.words()}: the last step, where spectui drafts at most the tokens "
            f"left ({ours.drafted}) and vLLM drafts k = {observed.k}, counting what it accepts "
            "past the last token asked for"
        )
    if ours is None or theirs is None:
        return divergence.words(), None
    # The same output, another count: the two drafters proposed differently at the first
    # draft where the counts part (one of them matched the output there, the other did not).
    round_ = drafting[divergence.step]
    start = 1 + sum(len(r.appended_ids) for r in rounds[: rounds.index(round_)])
    at = start + min(ours.accepted, theirs.accepted)
    words = f"{divergence.words()}: the drafters part at output token {at + 1}, where "
    return words + _drafter_margin(pair, observed, at), None


def _capped(ours: Step, theirs: Step, k: int) -> bool:
    """Whether the last step differs only as the cap on its drafts makes it: the same count
    accepted, or all of spectui's fewer drafts and as many or more of the server's k."""
    if ours.drafted >= k:
        return False
    fully = ours.accepted == ours.drafted and theirs.accepted >= ours.accepted
    return ours.accepted == theirs.accepted or fully


def _drafter_margin(pair: ModelPair, observed: Observed, at: int) -> str:
    """The local drafter's top two where its draft and the server's drafter's differ."""
    if pair.draft_method is not None:
        return "the drafts differ (a drafter with no probabilities to compare)"
    drafter = pair.new_drafter()
    sequence = [*observed.prompt_ids, *observed.output_ids[:at]]
    drafter.prefill(sequence[:-1])
    rows = drafter.propose(sequence, 1, None, None).rows
    if not rows:
        return "the drafts differ (the drafter gave no probabilities)"
    top = rows[0].topk(2)
    first, second = (float(v) for v in top.values)
    tokens = [pair.token_text(int(i)) for i in top.indices]
    tie = "a near-tie" if first - second < NEAR_TIE else "not a near-tie"
    return (
        f"spectui's drafter's top two are {tokens[0]!r} {first:.4f} and {tokens[1]!r} "
        f"{second:.4f}, {tie} (q₁ − q₂ = {first - second:.2e}): the server's drafter, in its "
        "own arithmetic, took the other"
    )


def _margin(pair: ModelPair, observed: Observed, at: int) -> str:
    """The local verifier's top two after the common prefix, and whether they nearly tie."""
    import torch

    verifier = pair.local("verifier")
    ids = torch.tensor([[*observed.prompt_ids, *observed.output_ids[:at]]], device=pair.device)
    with torch.no_grad():
        logits = verifier(input_ids=ids).logits[0, -1].float()
    top = torch.softmax(logits, dim=-1).topk(2)
    first, second = (float(v) for v in top.values)
    tokens = [pair.token_text(int(i)) for i in top.indices]
    served = pair.token_text(observed.output_ids[at])
    tie = "a near-tie" if first - second < NEAR_TIE else "not a near-tie"
    return (
        f"the server wrote {served!r}; the local verifier's top two are {tokens[0]!r} "
        f"{first:.4f} and {tokens[1]!r} {second:.4f}, {tie} (p₁ − p₂ = {first - second:.2e})"
    )
