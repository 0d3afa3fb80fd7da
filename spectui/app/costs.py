"""The cost model measured in the app: c and r_k at each draft span the decode runs.

The stats panel sets its predicted speedup (from them and the measured α) beside the
speedup the decode's own timings show. Timing runs in the engine's thread, between rounds,
so it never shares the models with a decode step.
"""

from __future__ import annotations

from spectui.app import messages
from spectui.app.driver import Post
from spectui.engine.cost.model import CostModel
from spectui.engine.trace.source import EventSource, LiveSource

SECONDS = 0.2  # per span: enough for a stable median of a small pair's millisecond steps


class CostTimer:
    """Measures the cost model once per draft span of a live decode and posts it."""

    def __init__(
        self, post: Post, run: int, known: frozenset[int] = frozenset(), seconds: float = SECONDS
    ) -> None:
        """`known`: spans already timed on this pair (a restart does not time them again: the
        timing holds the engine's thread for `seconds`, and keys wait on it meanwhile)."""
        self.post = post
        self.run = run
        self.seconds = seconds
        self._measured: set[int] = set(known)

    def ensure(self, source: EventSource) -> None:
        """Post the cost model at the source's draft span, if not yet measured.

        Recordings and served models have none: a trace has no models, and a served
        model's steps are timed by its engine, not here.
        """
        if not isinstance(source, LiveSource):
            return
        k = source.decoder.config.draft_span
        pair = source.pair
        if k in self._measured or pair.drafter is None or pair.verifier is None:
            return
        self._measured.add(k)
        self.post(messages.CostMeasured(self.run, measure(source, k, self.seconds)))


def measure(source: LiveSource, k: int, seconds: float) -> CostModel:
    """The three step times at the decode's context (prompt and output so far)."""
    from spectui.engine.cost.sampler import CostSampler

    context = list(source.decoder.prompt_ids) + list(source.decoder.output_ids)
    sampler = CostSampler(source.pair, context, k)
    sampler.sample(seconds)
    return sampler.model()
