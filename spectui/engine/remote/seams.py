"""The drafter and the verifier behind vLLM's OpenAI-compatible completions API: both seams
over HTTP (the connection, model pick and checks they share are `remote_server.RemoteModel`).

A round's drafts are one `POST /v1/completions` at temperature 0 whose prompt is the token
ids of the sequence and `max_tokens` is k: the generated `token_ids` are the drafter's greedy
tokens, and `logprobs.token_logprobs` (raw, before any sampling parameter) gives q of each.
The server is told to stop where the local drafter stops, after `stop_id` and nowhere else.

A round's verification is one request whose prompt is the sequence and its drafts:
`prompt_logprobs` gives, at each draft position, the draft token's log-probability and rank
and the server's top-n; the one generated token's `logprobs` give the top-n after the last
draft (at temperature 0 their best is the verifier's greedy token). A correction or bonus
token drawn from p, or from the residual of a greedy draft, is a second request at
temperature 1 with a seed taken from the decode's generator, so a decode replays.

What vLLM answers (0.32, checked against a real server):

    choices[0].token_ids = [453, 467]            # with "return_token_ids": true
    choices[0].logprobs.tokens = ["token_id:453", "token_id:467"]
    choices[0].logprobs.token_logprobs = [-1.353, -0.905]
    choices[0].prompt_logprobs = [None, {"278": {"logprob": -5.08, "rank": 23,
                                  "decoded_token": " c"}, "1147": {..., "rank": 1}, ...}, ...]
    choices[0].logprobs.top_logprobs = [{"token_id:763": -3.19, "token_id:818": -3.28, ...}]

`prompt_logprobs[i]` is the distribution that predicted prompt token i (so entry 0 is None);
it holds the actual token and the n best, n + 1 entries when the token is not among them.
The server never returns a whole distribution, so drafts are greedy: a drafter on a server
cannot give the rows q that speculative sampling's residual max(0, p − q) needs, and a
verifier on a server cannot give all of p; greedy drafts are exact on both.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from spectui.engine.remote.connection import RemoteModel
from spectui.engine.remote.wire import (
    BAN_BIAS,
    MAX_REDRAWS,
    NEUTRAL_SAMPLING,
    RemoteError,
    RemoteSamplingError,
    entropy_lower_bound,
    refuse_warp,
    request_seed,
)
from spectui.engine.seams import DraftMeasures, Proposal
from spectui.engine.warps import NO_WARP, Warp

if TYPE_CHECKING:
    import torch

__all__ = [
    "RemoteDrafter",
    "RemoteError",
    "RemoteModel",
    "RemoteSamplingError",
    "RemoteScores",
    "RemoteVerifier",
]


class RemoteDrafter(RemoteModel):
    """The drafter model on a vLLM server: one completions request drafts a round, greedily."""

    role = "drafter"

    def propose(
        self,
        tokens: Sequence[int],
        k: int,
        sampler: torch.Generator | None,
        stop_id: int | None,
        warp: Warp = NO_WARP,
    ) -> Proposal:
        """Up to k argmax tokens after `tokens` and q of each, in one request; ends at `stop_id`.

        As `LocalDrafter` drafts greedily: the server stops after `stop_id` (stop_token_ids)
        and never at its own EOS (ignore_eos, which also keeps the EOS ids of the model's
        generation_config out), so only k or `stop_id` ends the drafts.
        """
        if sampler is not None:
            raise RemoteSamplingError(
                "a drafter on a server drafts greedily only: sampled drafts need the drafter's "
                "whole distribution q for the residual max(0, p − q), and the server returns "
                "only each drawn token's probability. Draft greedily, or use a local drafter."
            )
        refuse_warp(warp, self.role)
        if k < 1:
            return Proposal((), (), None)
        self._check_fits(len(tokens) + k)
        body = {
            "prompt": list(tokens),
            "max_tokens": k,
            "temperature": 0.0,
            "logprobs": 0,  # the generated token's own logprob, no alternatives
            "return_token_ids": True,
            "return_tokens_as_token_ids": True,
            "ignore_eos": True,
            "stop_token_ids": [] if stop_id is None else [stop_id],
            **NEUTRAL_SAMPLING,
        }
        ids, q = self._generated(self._complete(body, "drafting"), k)
        if stop_id in ids:  # where the server stopped itself; cut in case it did not
            end = ids.index(stop_id) + 1
            ids, q = ids[:end], q[:end]
        # Like the local drafter, the model has run over every token but the last draft.
        self._cached_length = len(tokens) + len(ids) - 1
        return Proposal(tuple(ids), tuple(q), None)

    def _generated(self, choice: Mapping[str, Any], k: int) -> tuple[list[int], list[float]]:
        """The generated ids and q of each, checked against each other."""
        token_ids = self._field(choice, "token_ids", list)
        if not 1 <= len(token_ids) <= k or not all(isinstance(t, int) for t in token_ids):
            raise self._malformed(f"token_ids {token_ids!r:.80} for up to {k} drafts")
        logprobs = self._field(choice, "logprobs", Mapping)
        values = logprobs.get("token_logprobs")
        named = [f"token_id:{token}" for token in token_ids]
        if (
            logprobs.get("tokens") != named
            or not isinstance(values, list)
            or len(values) != len(named)
        ):
            raise self._malformed("logprobs whose tokens are not the token_ids")
        try:
            return token_ids, [math.exp(float(value)) for value in values]
        except (TypeError, ValueError):
            raise self._malformed("token_logprobs that are not numbers") from None


class RemoteVerifier(RemoteModel):
    """The verifier model on a vLLM server: one completions request scores a whole round."""

    role = "verifier"
    # Scoring always generates one token (it carries the distribution after the last draft),
    # and vLLM counts it against max_model_len.
    extra_slots = 1

    def score(
        self, tokens: Sequence[int], draft_ids: Sequence[int], n_top: int, warp: Warp = NO_WARP
    ) -> RemoteScores:
        """One request over `tokens + draft_ids`: each draft's measures and the greedy next.

        Each entropy is a lower bound: the returned tokens and the rest as one bucket.
        """
        if n_top < 1:
            raise ValueError(f"n_top must be at least 1, not {n_top}")
        refuse_warp(warp, self.role)
        prompt = [*tokens, *draft_ids]
        self._check_fits(len(prompt))
        body = {
            "prompt": prompt,
            "max_tokens": 1,
            "temperature": 0.0,
            "prompt_logprobs": n_top,
            "logprobs": n_top,
            # Keys "token_id:763" rather than decoded text, which is ambiguous for byte pieces.
            "return_tokens_as_token_ids": True,
            **NEUTRAL_SAMPLING,
        }
        choice = self._complete(body, "scoring the drafts")
        entries = self._field(choice, "prompt_logprobs", list)
        if len(entries) != len(prompt):
            raise self._malformed(f"{len(entries)} prompt_logprobs for {len(prompt)} prompt tokens")
        measures = tuple(
            self._measure(entries[len(tokens) + j], token, n_top)
            for j, token in enumerate(draft_ids)
        )
        self._cached_length = len(prompt)
        return RemoteScores(
            measures=measures,
            next_top1=self._best_generated(choice),
            context=tuple(prompt),
            n_tokens=len(tokens),
            verifier=self,
        )

    # --- sampling --------------------------------------------------------------------------

    def draw(self, context: Sequence[int], generator: torch.Generator, banned: int | None) -> int:
        """A token from p after `context`, or from p without `banned` (greedy draft's residual).

        With q one-hot on the draft x, the residual max(0, p − q) normalised is p with x
        removed. vLLM's logit_bias is clamped to -100, which leaves x a probability of about
        p_x·e^-100 rather than 0; but a draw from that distribution *conditioned on not being
        x* is exactly the residual, so a draw that returns x is simply redrawn. (The exact
        alternative, `allowed_token_ids` listing every other id, is a vocabulary-sized request.)
        When x keeps coming back, 1 − p_x is below float32's resolution: the residual is empty,
        and like `RowScores.sample` the draw falls back to p, which is x.
        """
        bias = {str(banned): BAN_BIAS} if banned is not None else None
        token = self._draw_once(context, request_seed(generator), bias)
        for _ in range(MAX_REDRAWS):
            if token != banned:
                break
            token = self._draw_once(context, request_seed(generator), bias)
        return token

    def _draw_once(self, context: Sequence[int], seed: int, bias: dict[str, float] | None) -> int:
        body: dict[str, Any] = {
            "prompt": list(context),
            "max_tokens": 1,
            "temperature": 1.0,
            "seed": seed,
            "return_token_ids": True,
            **NEUTRAL_SAMPLING,
        }
        if bias is not None:
            body["logit_bias"] = bias
        self._check_fits(len(context))
        choice = self._complete(body, "drawing a token")
        token_ids = self._field(choice, "token_ids", list)
        if len(token_ids) != 1 or not isinstance(token_ids[0], int):
            raise self._malformed(f"token_ids {token_ids!r:.80} for one generated token")
        return token_ids[0]

    # --- parsing answers -------------------------------------------------------------------

    def _measure(self, entry: object, token: int, n_top: int) -> DraftMeasures:
        """One draft position's measures from its prompt_logprobs entry."""
        if not isinstance(entry, Mapping) or str(token) not in entry:
            raise self._malformed(f"a prompt_logprobs entry without the draft token {token}")
        try:
            ranked = sorted(
                ((int(key), float(value["logprob"])) for key, value in entry.items()),
                key=lambda item: -item[1],
            )[:n_top]
            own = entry[str(token)]
            # vLLM's rank counts the tokens at least as likely (itself included); the local
            # count of strictly likelier ones + 1 differs only on exact ties.
            rank = int(own["rank"])
            p = math.exp(float(own["logprob"]))
            entropy = entropy_lower_bound([math.exp(float(v["logprob"])) for v in entry.values()])
        except (KeyError, TypeError, ValueError):
            raise self._malformed("a prompt_logprobs entry without logprob and rank") from None
        return DraftMeasures(
            token_id=token,
            p=p,
            rank=rank,
            top1_id=ranked[0][0],
            p_top1=math.exp(ranked[0][1]),
            topk_ids=tuple(token_id for token_id, _ in ranked),
            topk_probs=tuple(math.exp(logprob) for _, logprob in ranked),
            entropy=entropy,
        )

    def _best_generated(self, choice: Mapping[str, Any]) -> int:
        """The verifier's argmax after the last draft: the best of the generated token's top-n.

        vLLM reports raw (unprocessed) logprobs, so their best is the model's own argmax.
        """
        logprobs = self._field(choice, "logprobs", Mapping)
        tops = logprobs.get("top_logprobs")
        if not isinstance(tops, list) or len(tops) != 1 or not isinstance(tops[0], Mapping):
            raise self._malformed("no top_logprobs for the generated token")
        try:
            best = max(tops[0].items(), key=lambda item: float(item[1]))[0]
            return int(str(best).removeprefix("token_id:"))
        except (TypeError, ValueError):
            raise self._malformed("top_logprobs that are not token ids and logprobs") from None


@dataclass(frozen=True)
class RemoteScores:
    """The server's view of one round: measures per draft, the greedy token after the last."""

    measures: tuple[DraftMeasures, ...]
    next_top1: int  # the verifier's argmax after the last draft
    context: tuple[int, ...]  # the scored sequence, tokens + drafts
    n_tokens: int  # how many of `context` precede the drafts
    verifier: RemoteVerifier

    def top1(self, position: int) -> int:
        """The argmax at draft `position` (`len(measures)`: after the last draft)."""
        if position == len(self.measures):
            return self.next_top1
        return self.measures[position].top1_id

    def sample(
        self, position: int, generator: torch.Generator, drawn: int | torch.Tensor | None = None
    ) -> int:
        """A draw from p at `position`, or from the residual of the greedy draft `drawn`."""
        if drawn is not None and not isinstance(drawn, int):
            raise RemoteSamplingError(
                "a verifier on a server cannot check drafts sampled from the drafter exactly: "
                "the server returns only its top tokens, not the whole distribution that the "
                "residual max(0, p − q) needs. Draft greedily, or use a local verifier."
            )
        if not 0 <= position <= len(self.measures):
            raise IndexError(f"position {position} is outside 0..{len(self.measures)}")
        return self.verifier.draw(self.context[: self.n_tokens + position], generator, drawn)
