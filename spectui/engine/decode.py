"""The speculative decode loop: draft, verify in one pass, decide, roll back.

Each round (names follow the papers: q drafter, p verifier):
  1. draft k tokens with the drafter and its own KV cache;
  2. score all k positions (+1 for the bonus token) in ONE verifier forward with its cache;
  3. decide token by token with the active policy, stopping at the first rejection, where
     the policy's correction is appended (the seed's rule: the verifier's argmax);
  4. crop both caches back to what was kept.
Both caches hold every token but the last, so a round feeds each model only what it lacks.
A round may draft a token tree instead (`tree/`, `config.tree`): the drafter grows it, the
verifier scores every node in the same one forward under a tree mask, the policy walks it
from the root, and both caches are compacted to the accepted path before the crop.
The models sit behind the `Drafter` and `Verifier` protocols (`seams.py`), the policy
behind its `Policy` record (`policy/`): the loop knows neither which models nor which
policy it runs.
"""

from __future__ import annotations

import copy
import time
import typing
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from spectui.engine.config import ConfigError, DecodeConfig
from spectui.engine.errors import PromptError
from spectui.engine.events import (
    DecodeFinished,
    EngineEvent,
    FinishReason,
    RoundDrafted,
    RoundFinished,
    RoundRewound,
    TokenAppended,
    TokenChecked,
    TokenOrigin,
)
from spectui.engine.models.loading import ModelPair
from spectui.engine.policy.records import GateCheck, Policy, TreeWalk
from spectui.engine.policy.registry import gate_check, policy_named, tokens_kept
from spectui.engine.seams import (
    Drafter,
    ModelFreeDrafter,
    Proposal,
    Scored,
    TreeDrafter,
    TreeVerifier,
    Verifier,
)
from spectui.engine.stats import RoundShape, StatsTally
from spectui.engine.tree.record import TreeNodeRecord, TreeRecord
from spectui.engine.tree.sampling import walk_rejection
from spectui.engine.tree.shape import DraftTree, TreeShape
from spectui.engine.tree.walk import Coin, TreeVerdict, walk_longest

CHANCE_SEED_OFFSET = 0x9E3779B9

# How a round is decided over a token tree, by the walk its policy names (`Policy.tree_walk`).
# The scores are Any: rejection sampling reads a verifier's full rows (`RowScores`), the
# longest-path walk any `Scored`.
TreeWalker = Callable[[DraftTree, Any, DecodeConfig, Coin], TreeVerdict]
TREE_WALKS: dict[TreeWalk, TreeWalker] = {
    TreeWalk.LONGEST: walk_longest,
    TreeWalk.REJECTION: walk_rejection,
}


def encode_prompt(pair: ModelPair, prompt: str | Sequence[int]) -> tuple[int, ...]:
    """Prompt token ids; an empty prompt starts from the BOS (or EOS) token."""
    ids = list(prompt) if not isinstance(prompt, str) else pair.tokenizer(prompt).input_ids
    if not ids:
        start = pair.tokenizer.bos_token_id
        start = pair.tokenizer.eos_token_id if start is None else start
        if start is None:
            raise PromptError(
                "The prompt is empty and the tokenizer has no BOS token to start from."
            )
        ids = [start]
    if len(ids) >= pair.context_length:
        raise PromptError(
            f"The prompt is {len(ids)} tokens but the models attend over at most "
            f"{pair.context_length}: shorten it to {pair.context_length - 1} tokens or fewer "
            "so there is room to generate."
        )
    return tuple(int(token) for token in ids)


def empty_prompt_note(pair: ModelPair, prompt: str | Sequence[int]) -> str | None:
    """What an empty prompt decodes from, in words (None for any other prompt)."""
    if len(prompt) > 0:
        return None
    start = encode_prompt(pair, prompt)[0]
    return (
        f"The prompt is empty: the decode starts from the token {pair.token_text(start)!r} "
        f"(id {start}, the tokenizer's start of text), an unconditional sample of the verifier."
    )


@dataclass(frozen=True)
class Checkpoint:
    """The decoder's state at the start of one round: enough to return there exactly."""

    round_index: int
    n_tokens: int  # prompt + generated tokens before the round
    cached_lengths: tuple[int, int]  # drafter's and verifier's KV cache lengths
    tally: StatsTally  # a private copy of the statistics so far
    config: DecodeConfig  # the settings the round ran with
    sampler_state: torch.Tensor  # the draft sampler's generator state
    chance_state: torch.Tensor  # the acceptance coins' generator state


class SpeculativeDecoder:
    """One decode of one prompt. Iterate `events()`; `retune()` or `rewind()` between rounds."""

    def __init__(
        self,
        pair: ModelPair,
        config: DecodeConfig,
        prompt: str | Sequence[int],
        *,
        drafter: Drafter | None = None,
        verifier: Verifier | None = None,
    ) -> None:
        """Decode `prompt` on `pair`; `drafter`/`verifier` replace its local models."""
        self.pair = pair
        self.prompt_ids = encode_prompt(pair, prompt)
        self.tokens: list[int] = list(self.prompt_ids)
        self.tally = StatsTally()
        # The settings the next round uses (a round's own are in its events and checkpoint).
        self._config = config
        self.drafter = drafter or pair.new_drafter()
        self.verifier = verifier or pair.new_verifier()
        self._sampler = torch.Generator().manual_seed(config.seed)
        # A second stream for acceptance coins and resamples, offset so it never mirrors the
        # draft sampler's draws (correlated draws would bias speculative sampling).
        self._chance = torch.Generator().manual_seed(config.seed + CHANCE_SEED_OFFSET)
        self._prefilled = False
        self._checkpoints: list[Checkpoint] = []  # [n]: the state at the start of round n
        self._refuse_tree(config)

    @property
    def config(self) -> DecodeConfig:
        """The settings the next round will use."""
        return self._config

    @property
    def output_ids(self) -> tuple[int, ...]:
        """Generated tokens so far (prompt excluded)."""
        return tuple(self.tokens[len(self.prompt_ids) :])

    def retune(self, **changes: Any) -> DecodeConfig:
        """Change policy or thresholds from the next round on; invalid values raise ConfigError."""
        retuned = self._config.retuned(**changes)
        self._refuse_tree(retuned)
        self._config = retuned
        return self._config

    def _refuse_tree(self, config: DecodeConfig) -> None:
        """A ConfigError where `config` drafts token trees and these models cannot."""
        if config.tree is None:
            return
        if not hasattr(self.drafter, "propose_tree") or not hasattr(self.verifier, "score_tree"):
            raise ConfigError(
                "token trees need a drafter and a verifier that draft and score them "
                f"({type(self.drafter).__name__} and {type(self.verifier).__name__} do not)"
            )
        local = self.pair.drafter is not None and self.pair.verifier is not None
        if local and (problem := self.pair.tree_problem):
            raise ConfigError(f"this pair cannot draft token trees: {problem}")

    @property
    def checkpoints(self) -> tuple[Checkpoint, ...]:
        """The state at the start of each round so far: `rewind(n)` returns to [n]."""
        return tuple(self._checkpoints)

    @property
    def round_index(self) -> int:
        """The 0-based index of the next round (rounds finished so far)."""
        return self.tally.rounds

    @property
    def finish_reason(self) -> FinishReason | None:
        """Why the decode is over, or None while another round is due."""
        return self._stop_reason(self.round_index)

    @property
    def finished(self) -> bool:
        """Whether the next event is DecodeFinished (no round is due)."""
        return self.finish_reason is not None

    def retune_to(self, config: DecodeConfig) -> DecodeConfig:
        """Take `config`'s between-round settings from the next round on."""
        current = self.config.tunables()
        changes = {k: v for k, v in config.tunables().items() if current[k] != v}
        return self.retune(**changes) if changes else self.config

    def rewind(self, round_index: int) -> RoundRewound:
        """Return to the start of round `round_index`: its tokens, stats, coins and settings.

        Later rounds are forgotten, both KV caches are cropped to what they held then, and a
        pending retune is dropped; `retune()` then changes how the decode goes on from there.
        Call it between rounds, or with a round abandoned part-way (all it changed is undone),
        then iterate a fresh `events()`: an iterator that already finished stays finished.
        """
        if not 0 <= round_index < len(self._checkpoints):
            raise ValueError(
                f"round_index must be 0..{len(self._checkpoints) - 1} (a round that has "
                f"started), got {round_index}"
            )
        mark = self._checkpoints[round_index]
        del self._checkpoints[round_index + 1 :]
        del self.tokens[mark.n_tokens :]
        self.tally = copy.deepcopy(mark.tally)
        self._config = mark.config
        self._sampler.set_state(mark.sampler_state)
        self._chance.set_state(mark.chance_state)
        self.drafter.roll_back(mark.cached_lengths[0])
        self.verifier.roll_back(mark.cached_lengths[1])
        return RoundRewound(round_index, len(self.output_ids), self.tally.snapshot(), self._config)

    def events(self) -> Generator[EngineEvent, None, None]:
        """Run the decode from where it stands, yielding what happens as it happens."""
        if not self._prefilled:
            self._prefill()
            self._prefilled = True
        while (reason := self.finish_reason) is None:
            yield from self._round(self.round_index)
        yield DecodeFinished(
            reason=reason,
            prompt_ids=self.prompt_ids,
            output_ids=self.output_ids,
            stats=self.tally.snapshot(),
        )

    def run(self) -> DecodeFinished:
        """Run to the end and return the final event."""
        *_, last = self.events()
        assert isinstance(last, DecodeFinished)
        return last

    # --- one round -------------------------------------------------------------------------

    def _round(self, round_index: int) -> Iterator[EngineEvent]:
        config = self._config  # fixed for the round: a retune during it is the next one's
        policy = policy_named(config.policy)
        self._checkpoint(round_index, config)
        if config.tree is not None:
            yield from self._tree_round(round_index, config, policy, config.tree)
            return
        k, bonus_room = self._round_span(config)
        proposal = self._draft(k, config)  # 1. k tokens from the drafter
        draft_ids = proposal.ids
        yield RoundDrafted(round_index, draft_ids, proposal.q, config)
        scored = self._verify(draft_ids, config)  # 2. one verifier pass
        checks: list[GateCheck] = []
        appended: list[tuple[int, TokenOrigin]] = []
        # A round without drafts (n-gram lookup found no match) appends the verifier's own
        # token whatever the bonus setting: it is the whole round, else nothing would grow.
        bonus = (config.bonus and bonus_room) or not draft_ids
        for position, measure in enumerate(scored.measures):  # 3. decide
            check = gate_check(
                measure, proposal.q[position], position, len(appended), config, self._coin()
            )
            checks.append(check)
            yield TokenChecked(round_index, check)
            if check.accepted:
                yield self._append(round_index, check.token_id, TokenOrigin.DRAFT, appended)
            else:
                drawn = _drawn(proposal, position, config)
                token = policy.correction(scored, position, drawn, self._chance)
                yield self._append(round_index, token, TokenOrigin.CORRECTION, appended)
            if not check.accepted or self._ended_at_eos():
                break
        else:
            if bonus:
                bonus_id = policy.next_token(scored, len(draft_ids), self._chance)
                yield self._append(round_index, bonus_id, TokenOrigin.BONUS, appended)
        self._roll_back()  # 4. crop both caches to what was kept
        n_accepted = sum(origin is TokenOrigin.DRAFT for _, origin in appended)
        shape = RoundShape(len(draft_ids), policy.accept_cap(config), bonus)
        self.tally.record_round(shape, len(checks), n_accepted, len(appended))
        yield RoundFinished(
            round_index=round_index,
            draft_ids=draft_ids,
            q=proposal.q,
            checks=tuple(checks),
            appended_ids=tuple(token for token, _ in appended),
            origins=tuple(origin for _, origin in appended),
            n_accepted=n_accepted,
            config=config,
            stats=self.tally.snapshot(),
        )

    def _tree_round(
        self, round_index: int, config: DecodeConfig, policy: Policy, shape: TreeShape
    ) -> Iterator[EngineEvent]:
        depth, bonus_limit = self._tree_span(config, shape)
        tree = self._draft_tree(shape.limited(depth), config)  # 1. the drafter's tree
        nodes = tree.verified
        q = tuple(node.q for node in nodes)
        parents = tuple(node.parent for node in nodes)
        yield RoundDrafted(round_index, tree.token_ids, q, config, parents)
        scored = self._verify_tree(tree, config)  # 2. every node in one verifier pass
        walk = TREE_WALKS[policy.tree_walk]
        verdict = walk(tree, scored, config, self._coin)  # 3. decide
        appended: list[tuple[int, TokenOrigin]] = []
        on_path = set(verdict.path)
        for node_id in verdict.walk:
            yield TokenChecked(round_index, verdict.checks[node_id])
            if node_id in on_path:
                token = nodes[node_id].token_id
                yield self._append(round_index, token, TokenOrigin.DRAFT, appended)
        if not self._ended_at_eos():
            if verdict.drawn is not None:
                token = policy.correction(verdict.scores, verdict.row, verdict.drawn, self._chance)
                yield self._append(round_index, token, TokenOrigin.CORRECTION, appended)
            elif config.bonus and len(verdict.path) < bonus_limit:
                token = policy.next_token(verdict.scores, verdict.row, self._chance)
                yield self._append(round_index, token, TokenOrigin.BONUS, appended)
        self._keep_path(verdict.path)  # 4. compact both caches to the path, then crop
        record = _tree_record(tree, verdict, shape, policy)
        bonus = config.bonus and tree.depth < bonus_limit
        round_shape = RoundShape(tree.depth, policy.accept_cap(config), bonus)
        self.tally.record_round(
            round_shape,
            len(verdict.walk),
            len(verdict.path),
            len(appended),
            n_drafted=len(nodes),
            depths_judged=record.depths_judged,
        )
        yield RoundFinished(
            round_index=round_index,
            draft_ids=tree.token_ids,
            q=q,
            checks=tuple(verdict.checks[node_id] for node_id in verdict.walk),
            appended_ids=tuple(token for token, _ in appended),
            origins=tuple(origin for _, origin in appended),
            n_accepted=len(verdict.path),
            config=config,
            stats=self.tally.snapshot(),
            tree=record,
        )

    def _checkpoint(self, round_index: int, config: DecodeConfig) -> None:
        """Remember the state at the start of this round (rewind's target)."""
        del self._checkpoints[round_index:]
        self._checkpoints.append(
            Checkpoint(
                round_index=round_index,
                n_tokens=len(self.tokens),
                cached_lengths=(self.drafter.cached_length, self.verifier.cached_length),
                tally=copy.deepcopy(self.tally),
                config=config,
                sampler_state=self._sampler.get_state(),
                chance_state=self._chance.get_state(),
            )
        )

    def _coin(self) -> float:
        return float(torch.rand((), generator=self._chance))

    def _round_span(self, config: DecodeConfig) -> tuple[int, bool]:
        """This round's k, shrunk near max_new_tokens and the context limit; bonus allowed?"""
        room = self.pair.context_length - len(self.tokens)
        remaining = config.max_new_tokens - len(self.output_ids) if config.max_new_tokens else room
        k = min(config.draft_span, remaining, room)
        return k, k < room and k < remaining

    def _tree_span(self, config: DecodeConfig, shape: TreeShape) -> tuple[int, int]:
        """This round's tree depth, shrunk as k is, and the most tokens it may append."""
        room = self.pair.context_length - len(self.tokens)
        remaining = config.max_new_tokens - len(self.output_ids) if config.max_new_tokens else room
        limit = min(remaining, room)
        return min(shape.depth, limit), limit

    def _stop_reason(self, round_index: int) -> FinishReason | None:
        if self._ended_at_eos():
            return FinishReason.EOS
        limit = self._config.max_new_tokens
        if limit is None and round_index >= 1:
            return FinishReason.SINGLE_ROUND
        if limit is not None and len(self.output_ids) >= limit:
            return FinishReason.MAX_TOKENS
        if len(self.tokens) >= self.pair.context_length:
            return FinishReason.CONTEXT_LIMIT
        return None

    def _ended_at_eos(self) -> bool:
        eos = self.pair.eos_token_id
        return (
            self._config.stop_at_eos
            and eos is not None
            and len(self.output_ids) > 0
            and self.tokens[-1] == eos
        )

    def _append(
        self,
        round_index: int,
        token: int,
        origin: TokenOrigin,
        appended: list[tuple[int, TokenOrigin]],
    ) -> TokenAppended:
        self.tokens.append(token)
        appended.append((token, origin))
        return TokenAppended(round_index, token, origin, len(self.output_ids) - 1)

    # --- the models ------------------------------------------------------------------------

    @property
    def _drafter_runs_a_model(self) -> int:
        """1 where the drafter's proposals are model forwards to count, 0 for n-gram lookup."""
        return int(not isinstance(self.drafter, ModelFreeDrafter))

    @torch.no_grad()
    def _prefill(self) -> None:
        """Cache every prompt token but the last in both models."""
        started = time.perf_counter()
        if len(self.tokens) > 1:
            for model in (self.drafter, self.verifier):
                model.prefill(self.tokens[:-1])
            self.tally.verifier_forwards += 1
            self.tally.drafter_forwards += self._drafter_runs_a_model
        self.tally.prefill_seconds += time.perf_counter() - started

    @torch.no_grad()
    def _draft(self, k: int, config: DecodeConfig) -> Proposal:
        """The drafter's k proposals, q of each and its distributions; stops early at EOS."""
        started = time.perf_counter()
        sampler = self._sampler if config.sample_draft else None
        stop_id = self.pair.eos_token_id if config.stop_at_eos else None
        proposal = self.drafter.propose(self.tokens, k, sampler, stop_id, config.warp)
        self.tally.drafter_forwards += len(proposal.ids) * self._drafter_runs_a_model
        self.tally.draft_seconds += time.perf_counter() - started
        return proposal

    @torch.no_grad()
    def _verify(self, draft_ids: Sequence[int], config: DecodeConfig) -> Scored:
        """The verifier's view of each draft position and of the one after the last."""
        started = time.perf_counter()
        # p and q warped alike (temperature, top-k, top-p), as vLLM's rejection sampler does.
        scored = self.verifier.score(self.tokens, draft_ids, tokens_kept(config), config.warp)
        self.tally.verifier_forwards += 1
        self.tally.verify_seconds += time.perf_counter() - started
        return scored

    @torch.no_grad()
    def _draft_tree(self, shape: TreeShape, config: DecodeConfig) -> DraftTree:
        """The drafter's tree for this round (one drafter forward per depth)."""
        started = time.perf_counter()
        sampler = self._sampler if config.sample_draft else None
        stop_id = self.pair.eos_token_id if config.stop_at_eos else None
        drafter = typing.cast(TreeDrafter, self.drafter)
        tree = drafter.propose_tree(self.tokens, shape, sampler, stop_id, config.warp)
        self.tally.drafter_forwards += tree.forwards
        self.tally.draft_seconds += time.perf_counter() - started
        return tree

    @torch.no_grad()
    def _verify_tree(self, tree: DraftTree, config: DecodeConfig) -> Scored:
        """The verifier's view of every node, and of the committed tokens: ONE forward."""
        started = time.perf_counter()
        verifier = typing.cast(TreeVerifier, self.verifier)
        scored = verifier.score_tree(self.tokens, tree, tokens_kept(config), config.warp)
        self.tally.verifier_forwards += 1
        self.tally.verify_seconds += time.perf_counter() - started
        return scored

    def _keep_path(self, path: Sequence[int]) -> None:
        """A tree round's rollback: both caches keep the committed tokens and the accepted
        path's nodes (compacted), then are cropped to every token but the last."""
        for model in (self.drafter, self.verifier):
            typing.cast(TreeDrafter | TreeVerifier, model).keep_path(path)
        self._roll_back()

    def _roll_back(self) -> None:
        for model in (self.drafter, self.verifier):
            model.roll_back(len(self.tokens) - 1)


def _tree_record(
    tree: DraftTree, verdict: TreeVerdict, shape: TreeShape, policy: Policy
) -> TreeRecord:
    """The round's tree as events and traces carry it."""
    step = {node_id: index for index, node_id in enumerate(verdict.walk)}
    nodes = tuple(
        TreeNodeRecord(
            node_id=node_id,
            parent=node.parent,
            depth=node.depth,
            token_id=node.token_id,
            q=node.q,
            path_q=node.path_q,
            pruned=node.pruned,
            check=None if node.pruned else verdict.checks[node_id],
            step=step.get(node_id),
        )
        for node_id, node in enumerate(tree.nodes)
    )
    return TreeRecord(shape.describe(), policy.tree_walk.value, nodes, verdict.walk, verdict.path)


def _drawn(proposal: Proposal, position: int, config: DecodeConfig) -> int | torch.Tensor:
    """What draft `position` was drawn from: its token (greedy drafts) or q's row (sampled)."""
    if config.sample_draft and proposal.rows is not None:
        return proposal.rows[position]
    return proposal.ids[position]
