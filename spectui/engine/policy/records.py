"""The records acceptance policies are made of, apart from the registry that holds them.

A `GateCheck` is what one check of a draft token found (every quantity, every gate, every
policy's verdict) from its `seams.DraftMeasures`; a `Policy` is a record of functions over them.
The built-in policies are in `library`, the registry and `gate_check` in `registry`. A record
holds the rule alone: how the app shows a policy (gate symbols, columns, panel text) is the
app's (`spectui.app.looks`), keyed by the policy's name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch loads on first use: traces and replays read these records without it
    import torch

    from spectui.engine.config import DecodeConfig
    from spectui.engine.knobs import OwnKnob
    from spectui.engine.seams import DraftMeasures, Scored


@dataclass(frozen=True)
class Chance:
    """Speculative sampling's coin: accept when uniform < accept_probability."""

    accept_probability: float  # min(1, p / q), q the probability the draft was drawn with
    uniform: float  # a seeded U[0, 1) draw, recorded so a trace replays identically


@dataclass(frozen=True)
class Judged:
    """Everything a gate or a policy may look at for one draft token."""

    measures: DraftMeasures
    chance: Chance
    n_accepted: int  # draft tokens accepted earlier in this round
    config: DecodeConfig


@dataclass(frozen=True)
class Gate:
    """One pass/fail test a policy owns; every registered gate is judged on every check."""

    key: str  # its name in a GateCheck's `gates` and in traces
    passes: Callable[[Judged], bool]


@dataclass(frozen=True)
class GateCheck:
    """One draft token's verification: all it was judged on, and every policy's verdict."""

    position: int  # 0-based index in the round's draft
    token_id: int
    q: float  # drafter's probability of its own token
    p: float
    rank: int
    top1_id: int
    p_top1: float
    margin: float  # p_top1 - p
    gates: dict[str, bool]  # every registered gate's pass/fail, by Gate.key
    chance: Chance
    verdicts: dict[str, bool]  # what each policy would decide on this same pass, by name
    policy: str  # the policy that drove the decode at this position
    alternatives: tuple[tuple[int, float], ...]  # verifier's top tokens (id, p), best first
    entropy: float = 0.0  # the verifier's H in nats (see DraftMeasures.entropy); 0 in old traces

    @property
    def accepted(self) -> bool:
        """The active policy's verdict."""
        return self.verdicts[self.policy]


class TreeWalk(str, Enum):
    """How a policy walks a token tree (`engine.tree`); its value is what traces record."""

    # The longest path of nodes it accepts (its verdict must not read the coin, which is drawn
    # after the walk is known): `tree.walk.walk_longest`.
    LONGEST = "longest"
    # Recursive rejection sampling over each node's children: `tree.sampling.walk_rejection`.
    REJECTION = "rejection"

    # Written as its value, as traces and the tree panel name it ("longest", not
    # "TreeWalk.LONGEST"): a tree record's rule may be a member or a trace's plain string.
    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)


# A correction: the token appended where draft `position` was rejected, from the verifier's
# scores, what the draft was drawn from (a token id for greedy drafts, else q's row) and the
# engine's chance generator. A next token: the verifier's own token at `position`.
Correction = Callable[["Scored", int, "int | torch.Tensor", "torch.Generator"], int]
NextToken = Callable[["Scored", int, "torch.Generator"], int]


@dataclass(frozen=True)
class Policy:
    """An acceptance policy's rule: what it accepts, what it appends instead, what it reads."""

    name: str  # the value of --policy and of DecodeConfig.policy
    label: str  # its name for people, in messages and titles (e.g. soft-guarded)
    parameters: tuple[str, ...]  # the DecodeConfig fields it reads (its own knobs aside)
    gates: tuple[Gate, ...]  # the gates it owns (judged, and kept in checks, for every policy)
    accept: Callable[[Judged, dict[str, bool]], bool]  # (judged, every gate's pass) -> verdict
    correction: Correction
    next_token: NextToken  # the bonus token after a fully accepted draft
    # The most draft tokens it accepts in one round (None: no cap), for the expected-value model.
    accept_cap: Callable[[DecodeConfig], int | None] = lambda config: None
    # The q its test used for a draft of drafter probability q; a policy that never looks at q
    # tested the drafter's own.
    tested_q: Callable[[float, DecodeConfig], float] = lambda q, config: q
    # How many of the verifier's best tokens its gates look up (a top-k set), beyond the
    # N_ALTERNATIVES always kept.
    keeps_top: Callable[[DecodeConfig], int] = lambda config: 0
    # Settings it declares itself, beyond DecodeConfig's fields: read as
    # config.setting(<name>), and offered by the CLI, the settings form and sweeps, and kept in
    # traces, as a field is.
    knobs: tuple[OwnKnob, ...] = ()
    tree_walk: TreeWalk = TreeWalk.LONGEST  # how it walks a token tree

    @property
    def settings(self) -> tuple[str, ...]:
        """Every setting it reads: its DecodeConfig fields, then its own knobs."""
        return self.parameters + tuple(own.name for own in self.knobs)
