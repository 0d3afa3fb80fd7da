"""The cost model measured in the app: c and r_k at each draft span the decode runs.

The stats panel sets its predicted speedup (from them and the measured α) beside the
speedup the decode's own timings show. Timing runs in the engine's thread, between rounds,
so it never shares the models with a decode step.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import replace

from spectui.app import messages
from spectui.app.driver import Post
from spectui.engine.cost.model import CostModel, load_average
from spectui.engine.trace.source import EventSource, LiveSource

SECONDS = 0.2  # per span: enough for a stable median of a small pair's millisecond steps


class CostTimer:
    """Measures the cost model per draft span of a live decode, again when it goes stale
    (`CostModel.stale`: old, the load moved, a context far from the one timed), and posts it."""

    def __init__(
        self,
        post: Post,
        run: int,
        known: Mapping[int, CostModel] | None = None,
        seconds: float = SECONDS,
        clock: Callable[[], float] = time.time,
        load: Callable[[], float | None] = load_average,
    ) -> None:
        """`known`: the models already timed on this pair, kept while still fresh (timing holds
        the engine's thread for `seconds`, and keys wait on it meanwhile)."""
        self.post = post
        self.run = run
        self.seconds = seconds
        self.clock, self.load = clock, load
        self._measured: dict[int, CostModel] = dict(known or {})

    def ensure(self, source: EventSource) -> None:
        """Post the cost model at the source's draft span, unless a fresh one is known.

        Recordings and served models have none: a trace has no models, and a served
        model's steps are timed by its engine, not here.
        """
        if not isinstance(source, LiveSource):
            return
        k = source.decoder.config.draft_span
        pair = source.pair
        if pair.drafter is None or pair.verifier is None:
            return
        known = self._measured.get(k)
        context = len(source.decoder.prompt_ids) + len(source.decoder.output_ids)
        if known is not None and not known.stale(self.clock(), self.load(), context):
            return
        # stamped by this timer's clock and load, the ones its staleness is judged by
        cost = replace(measure(source, k, self.seconds), taken_at=self.clock(), load=self.load())
        self._measured[k] = cost
        self.post(messages.CostMeasured(self.run, cost))


def measure(source: LiveSource, k: int, seconds: float) -> CostModel:
    """The three step times at the decode's context (prompt and output so far)."""
    from spectui.engine.cost.sampler import CostSampler

    context = list(source.decoder.prompt_ids) + list(source.decoder.output_ids)
    sampler = CostSampler(source.pair, context, k)
    sampler.sample(seconds)
    return sampler.model()
