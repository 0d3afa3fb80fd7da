"""One observed request as spectui reads it: the server's steps, spectui's rebuild where it has
one, and what can and cannot be seen of it.

`ObservedRequest` is what `spectui observe` prints (`as_json`) and what the app shows: its
steps grouped with their tokens (`step_groups`), its per-position counts (`step_stats`, the
engine's own tally, so every figure is the README's), and in words what spectui could rebuild
(`visibility`). Nothing here imports Textual.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spectui.engine.observe.rebuild import RebuiltStep, first_divergence, rebuild
from spectui.engine.observe.steps import StepReading, counted_reading, server_steps
from spectui.engine.stats import RoundShape, StatsSnapshot, StatsTally

if TYPE_CHECKING:
    from spectui.engine.config import DecodeConfig
    from spectui.engine.models.loading import ModelPair
    from spectui.engine.observe.client import Observed
    from spectui.engine.observe.local import LocalDecode

Propose = Callable[[Sequence[int], int], tuple[int, ...]]


@dataclass(frozen=True)
class ObservedRequest:
    """A served request, its reading, and spectui's rebuild of it where it made one."""

    number: int  # 1-based, in the order the prompts were sent
    observed: Observed
    reading: StepReading
    rebuilt: tuple[RebuiltStep, ...] | None = None  # n-gram lookup's drafts, step by step
    local: LocalDecode | None = None  # the engine's decode with a local copy of the verifier
    trace: Path | None = None  # the local decode's trace (`spectui replay` opens it)
    draft_texts: Mapping[int, str] | None = None  # rebuilt drafts' text, by token id

    @property
    def divergence(self) -> str | None:
        """Where spectui's rebuild and the server's steps part, and why (None: they agree)."""
        if self.local is not None:
            return self.local.cause
        if self.rebuilt is None:
            return None
        found = first_divergence(self.reading.steps, server_steps(self.observed.server))
        return None if found is None else found.words()

    @property
    def note(self) -> str | None:
        """A difference of the last step's drafted count only, and why (local decodes)."""
        return self.local.note if self.local is not None else None

    @property
    def figures(self) -> dict[str, float | int | None]:
        """The request's figures under both conventions (StepReading.figures)."""
        return self.reading.figures()


def observe_request(
    number: int,
    observed: Observed,
    propose: Propose | None = None,
    local: tuple[ModelPair, DecodeConfig] | None = None,
    trace: Path | None = None,
) -> ObservedRequest:
    """Read `observed`; rebuild its drafts with `propose` (n-gram lookup), or decode it again
    with the local pair and config `local` (writing its trace to `trace`, where given)."""
    if local is not None:
        from spectui.engine.observe.local import decode_locally

        pair, config = local
        decoded = decode_locally(pair, config, observed, trace)
        reading = StepReading(decoded.steps)
        return ObservedRequest(number, observed, reading, local=decoded, trace=trace)
    if propose is not None:
        steps = rebuild(observed.prompt_ids, observed.output_ids, observed.k, propose)
        reading = StepReading(tuple(step.step for step in steps))
        return ObservedRequest(number, observed, reading, rebuilt=tuple(steps))
    return ObservedRequest(
        number, observed, counted_reading(observed.server, len(observed.output_ids))
    )


def as_json(request: ObservedRequest) -> dict[str, Any]:
    """One request as `--json` prints it: spectui's reading, the rebuild, the server's own."""
    observed, reading = request.observed, request.reading
    rebuilt: list[dict[str, Any]] | None = None
    if request.local is not None:
        rebuilt = [{"drafted": s.drafted, "accepted": s.accepted} for s in request.local.steps]
    elif request.rebuilt is not None:
        rebuilt = [
            {"drafted": len(s.drafts), "accepted": s.accepted, "drafts": list(s.drafts)}
            for s in request.rebuilt
        ]
    return {
        "prompt": observed.prompt,
        "completion_tokens": len(observed.output_ids),
        "finish_reason": observed.finish_reason,
        "text": observed.text,
        "seconds": observed.seconds,
        "per_step_accepted": reading.per_step_accepted,
        "per_step_drafted": reading.per_step_drafted,
        "tokens_per_step": reading.tokens_per_step,
        "draftless_steps_unplaced": reading.unplaced_draftless,
        "figures": reading.figures(),
        "rebuilt": rebuilt,
        "divergence": request.divergence,
        "note": request.note,
        "server": dict(observed.server),
    }


def acceptance_order(requests: Sequence[ObservedRequest]) -> list[ObservedRequest]:
    """The requests worst first: the lowest acceptance per drafted token first (one that
    drafted nothing gained nothing from speculation, so it leads), then by number."""

    def rate(request: ObservedRequest) -> float:
        value = request.figures["draft_acceptance_rate"]
        return -1.0 if value is None else float(value)

    return sorted(requests, key=lambda request: (rate(request), request.number))


# --- what the request screen shows ---------------------------------------------------------


@dataclass(frozen=True)
class StepGroup:
    """One verify step's tokens, as the stream groups them."""

    number: int  # 0: the prefill's token (no drafts); then the steps, from 1
    accepted: tuple[str, ...]  # the drafts it accepted, as text
    rejected: tuple[str, ...] | None  # the drafts it did not accept (None: not known)
    drafted: int
    verifier: str | None  # the verifier's own token (None: the output ended on the drafts)


def step_groups(request: ObservedRequest) -> list[StepGroup] | None:
    """The output's tokens grouped by verify step; None where the steps cannot be placed (the
    server's tokens have no text offsets, or draftless steps are only counted)."""
    pieces = request.observed.pieces
    if not pieces or request.reading.unplaced_draftless:
        return None
    groups = [StepGroup(0, (), (), 0, pieces[0])]
    position = 1
    for number, step in enumerate(request.reading.steps, start=1):
        rejected = _rejected(request, number - 1)
        end = position + step.accepted
        verifier = pieces[end] if end < len(pieces) else None
        groups.append(StepGroup(number, pieces[position:end], rejected, step.drafted, verifier))
        position = end + 1
    return groups


def _rejected(request: ObservedRequest, index: int) -> tuple[str, ...] | None:
    """The rejected drafts' text of step `index` where spectui rebuilt them (n-gram lookup)."""
    if request.rebuilt is None or request.draft_texts is None:
        return None
    step = request.rebuilt[index]
    texts = request.draft_texts
    return tuple(texts.get(token, f"⟨{token}⟩") for token in step.drafts[step.accepted :])


def rejected_ids(request: ObservedRequest) -> set[int]:
    """The token ids of every rebuilt draft that was not accepted (their text is asked for)."""
    if request.rebuilt is None:
        return set()
    return {token for step in request.rebuilt for token in step.drafts[step.accepted :]}


def step_stats(request: ObservedRequest) -> StatsSnapshot:
    """The request's drafting steps tallied as the engine tallies rounds (greedy verification:
    a step appends its accepted drafts and one token of the verifier's), for the per-position
    counts under the README's definitions (a step that drafted nothing has no positions)."""
    tally = StatsTally()
    for step in request.reading.steps:
        if step.drafted:
            shape = RoundShape(step.drafted, None, True)
            tally.record_round(shape, step.judged, step.accepted, step.tokens)
    return tally.snapshot()


def visibility(request: ObservedRequest) -> str:
    """What spectui saw of this request and what it could not, in words."""
    if request.local is not None:
        seen = (
            "Rebuilt here by spectui's engine with a local copy of the verifier and the "
            "server's drafter: every draft, the rejected ones included, and each one's gate "
            "check from the verifier's whole distribution (enter opens it in the decode view)."
        )
    elif request.rebuilt is not None:
        seen = (
            "Drafts rebuilt here by n-gram lookup (vLLM's): every step's drafts, the rejected "
            "ones and the steps that drafted nothing. Not seen: the verifier's probabilities, "
            "so no gate checks and no trace (add --verifier DIR, a local copy of the served "
            "model, to rebuild them)."
        )
    else:
        seen = (
            "Only the server's counts: how many drafts each step scored and accepted. The "
            "drafts themselves, the rejected tokens and every probability are not in the "
            "server's response (EAGLE, MTP, or a drafter not given with --drafter), so nothing "
            "is rebuilt and no trace can be saved."
        )
    if request.reading.unplaced_draftless:
        seen += (
            f" {request.reading.unplaced_draftless} step(s) drafted nothing; vLLM does not "
            "list them, so where they fall is unknown and the tokens are not grouped by step "
            "(--drafter ngram places them)."
        )
    if request.rebuilt is not None or request.local is not None:
        seen += " " + (
            f"The rebuild differs: {request.divergence}."
            if request.divergence
            else "The rebuild's steps are the server's, every one."
        )
        if request.note:
            seen += f" Note: {request.note}."
    return seen
