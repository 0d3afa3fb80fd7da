"""Leviathan et al.'s cost model as measured numbers: pure Python, read by sweeps and the app.

`spectui.bench.costmodel` measures it (with torch); a sweep file stores it, so a finished
sweep's view needs neither torch nor the models.
"""

from __future__ import annotations

from dataclasses import dataclass

from spectui.engine.stats import expected_tokens_per_round


@dataclass(frozen=True)
class CostModel:
    """Measured step costs (seconds, median of interleaved repeats) at one context length."""

    k: int
    context_tokens: int  # tokens already cached when each step was timed
    drafter_step: float  # drafter, 1 new token, KV-cached
    verifier_step: float  # verifier, 1 new token, KV-cached
    verifier_block: float  # verifier, k+1 new tokens in one forward, KV-cached
    samples: int  # timed repeats of each

    @property
    def c(self) -> float:
        """Drafter step / verifier step."""
        return self.drafter_step / self.verifier_step

    @property
    def r_k(self) -> float:
        """Verifier on k+1 tokens / verifier on 1 token."""
        return self.verifier_block / self.verifier_step

    @property
    def round_cost(self) -> float:
        """One round in verifier steps: k·c + r_k."""
        return self.k * self.c + self.r_k

    def predicted_speedup(self, alpha: float) -> float:
        """S = (1 − α^(k+1)) / ((1 − α)(k·c + r_k)) over plain decoding."""
        return expected_tokens_per_round(alpha, self.k) / self.round_cost
