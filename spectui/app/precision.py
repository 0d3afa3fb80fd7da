"""Below float32, how often a block and a step disagree, measured along the decode's own text.

A pair in bfloat16 or on int4 (`ModelPair.exact` is False) can pick a different argmax in a
verification block than in a one-token step at a near-tie, so greedy-exact's text is then not
exactly the verifier's own greedy text. The stats panel says how often, counted, not assumed:
once the decode has `CHECK_TOKENS` tokens, the verifier is fed that text both ways (one token
a forward, and blocks of k+1) in the engine's thread between rounds, as the cost timer runs.
"""

from __future__ import annotations

from spectui.app import messages
from spectui.app.driver import Post
from spectui.engine.trace.source import EventSource, LiveSource

CHECK_TOKENS = 32  # the decode's tokens compared: ~1 s of steps on SmolLM2 in int4


class PrecisionCheck:
    """Counts, once a run, where the verifier's block and step argmaxes differ along the
    decode's first `CHECK_TOKENS` tokens, and posts it (exact pairs are not checked)."""

    def __init__(self, post: Post, run: int, tokens: int = CHECK_TOKENS) -> None:
        self.post = post
        self.run = run
        self.tokens = tokens
        self.checked = False

    def ensure(self, source: EventSource) -> None:
        """Check where it is due: a live decode on an inexact pair with enough tokens."""
        if self.checked or not isinstance(source, LiveSource):
            return
        pair = source.pair
        if pair.exact or pair.verifier is None:
            self.checked = True
            return
        decoder = source.decoder
        if len(decoder.output_ids) < self.tokens:
            return
        from spectui.engine.models.agreement import block_step_agreement

        prompt = list(decoder.prompt_ids)
        ids = prompt + list(decoder.output_ids[: self.tokens])
        block = decoder.config.draft_span + 1
        start = max(1, len(prompt))  # a step needs one token before it
        agreement = block_step_agreement(pair.verifier, ids, start, block)
        self.checked = True
        self.post(messages.PrecisionChecked(self.run, agreement))
