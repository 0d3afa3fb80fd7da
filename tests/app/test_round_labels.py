"""Numbers and words on screen you can trust.

"<setting> from round N" names the round the setting really takes effect from, at every
boundary and after a branch, a restart or a retry; stale ones are cleared. The token detail
tells each kind of piece apart and shows its own numbers; under speculative sampling the gate
row's q is the q the test used and the coin reads as a true statement.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from app_helpers import Recorder, plain, press, screen_of, settle
from textual.pilot import Pilot

from spectui.app.control import StepControl
from spectui.app.format import prob
from spectui.app.looks.library import SAMPLING_LOOKS
from spectui.app.rounds import Piece, PieceKind
from spectui.app.screens.decode import DecodeScreen
from spectui.app.widgets import GatePanel, StatusLine, TokenDetail
from spectui.engine.config import DecodeConfig
from spectui.engine.models.local import LocalVerifier
from spectui.engine.policy.library import SPECULATIVE_SAMPLING
from spectui.engine.policy.registry import gate_check
from spectui.engine.seams import DraftMeasures

# --- "from round N" -----------------------------------------------------------------------------


def settings_notes(recorder: Recorder) -> list[str]:
    """Every message the status line was given so far, in order."""
    return [m.text for m in recorder.of(StatusLine.Said)]


def shown_notes(pilot: Pilot[Any]) -> list[str]:
    """What the status line shows now (not cleared, not expired): its one message, if any."""
    message = screen_of(pilot).query_one(StatusLine).message
    return [message] if message else []


async def retune_span(pilot: Pilot[Any], recorder: Recorder, key: str = "[") -> str:
    """Draft one token fewer ([) or more (]) per round; the message the key posted."""
    before = len(settings_notes(recorder))
    await press(pilot, {"[": "left_square_bracket", "]": "right_square_bracket"}[key])
    await pilot.pause()
    notes = settings_notes(recorder)
    assert len(notes) == before + 1, notes
    return notes[-1]


async def started(pilot: Pilot[Any]) -> DecodeScreen:
    """The settled screen, with messages that outlast the test (none expire mid-way)."""
    screen_of(pilot).query_one(StatusLine).clear_after = 600
    return await settle(pilot)


async def test_a_retune_names_the_round_it_applies_from_at_each_boundary(make_app: Any) -> None:
    recorder = Recorder()

    async with make_app().run_test(message_hook=recorder, notifications=True) as pilot:
        screen = await started(pilot)
        assert await retune_span(pilot, recorder) == "draft span k 4 from round 1"
        await press(pilot, "space")  # round 1 drafted: its settings are fixed
        current = screen.state.decode.round
        assert current is not None and current.config.draft_span == 4
        assert await retune_span(pilot, recorder) == "draft span k 3 from round 2"
        await press(pilot, "space")  # a check shown
        assert current.n_checked == 1 and not current.finished
        assert await retune_span(pilot, recorder, "]") == "draft span k 4 from round 2"
        await press(pilot, "enter")
        assert screen.state.decode.round is current and current.finished
        # Round 1 finished, round 2 not drafted yet: the bug said "from round 1" here.
        assert await retune_span(pilot, recorder) == "draft span k 3 from round 2"
        await press(pilot, "space")
        assert screen.state.decode.round is not None and screen.state.decode.round.index == 1
        assert screen.state.decode.round.config.draft_span == 3, "it applied from round 2"


async def test_a_retune_after_the_decode_ended_says_no_round_is_left(make_app: Any) -> None:
    recorder = Recorder()

    app = make_app(max_new_tokens=6)
    async with app.run_test(message_hook=recorder, notifications=True) as pilot:
        screen = await started(pilot)
        while screen.state.phase != "finished":
            await press(pilot, "enter")
        note = await retune_span(pilot, recorder)
        assert "from round" not in note and "the decode has ended" in note


async def test_a_branch_clears_stale_labels_and_retunes_from_the_branched_round(
    make_app: Any,
) -> None:
    recorder = Recorder()

    async with make_app().run_test(message_hook=recorder, notifications=True) as pilot:
        screen = await started(pilot)
        await press(pilot, *["enter"] * 6)  # rounds 1-6 finished
        assert screen.state.decode.round is not None and screen.state.decode.round.index == 5
        assert screen.state.phase == "ready"
        assert await retune_span(pilot, recorder) == "draft span k 4 from round 7"
        assert "draft span k 4 from round 7" in shown_notes(pilot)
        await press(pilot, "b", "b", "b")  # view round 3 (of 6)
        assert screen.state.viewed == 2
        await press(pilot, "B")
        assert screen.state.decode.round is not None and screen.state.decode.round.index == 1
        shown = shown_notes(pilot)
        assert not any("from round 7" in note for note in shown), shown
        assert any("back at the start of round 3" in note for note in shown), shown
        # Round 3 is to be drafted again: a retune now is its own.
        assert await retune_span(pilot, recorder) == "draft span k 3 from round 3"
        await press(pilot, "space")
        assert screen.state.decode.round.index == 2
        assert screen.state.decode.round.config.draft_span == 3
        assert await retune_span(pilot, recorder) == "draft span k 2 from round 4"


async def test_a_restart_clears_stale_labels_and_retunes_from_round_1(make_app: Any) -> None:
    recorder = Recorder()

    async with make_app().run_test(message_hook=recorder, notifications=True) as pilot:
        screen = await started(pilot)
        await press(pilot, "enter", "enter")
        assert await retune_span(pilot, recorder) == "draft span k 4 from round 3"
        await press(pilot, "ctrl+r")
        assert screen.state.decode.round is None
        assert not any("from round 3" in note for note in shown_notes(pilot))
        assert await retune_span(pilot, recorder) == "draft span k 3 from round 1"
        await press(pilot, "space")
        assert screen.state.decode.round is not None
        assert screen.state.decode.round.config.draft_span == 3


async def test_a_retune_after_an_error_applies_from_the_retried_round(
    make_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A verifier fails in round 3: a retune then applies from round 3, which ctrl+r redoes."""
    recorder = Recorder()
    real_score = LocalVerifier.score
    calls = {"n": 0}

    def score(self: Any, *args: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("simulated fault in the verifier")
        return real_score(self, *args)

    monkeypatch.setattr(LocalVerifier, "score", score)

    async with make_app().run_test(message_hook=recorder, notifications=True) as pilot:
        screen = await started(pilot)
        await press(pilot, "enter", "enter", "enter")  # round 3's verifier pass fails
        assert screen.state.phase == "error"
        assert "ctrl+r retry from round 3" in plain(screen.query_one("#error"), width=200)
        assert await retune_span(pilot, recorder) == "draft span k 4 from round 3"
        await press(pilot, "ctrl+r")
        assert screen.state.phase == "ready"
        assert not any("from round 3" in note for note in shown_notes(pilot))
        await press(pilot, "space")
        current = screen.state.decode.round
        assert current is not None and current.index == 2
        assert current.config.draft_span == 4, "the retune went with the retry"


def test_the_step_control_knows_the_round_before_the_screen_does() -> None:
    """The worker fixes a round's settings as it passes the stop before drafting it, before
    the screen hears of the round: a retune then already belongs to the round after."""
    control, config = StepControl(), DecodeConfig()
    assert control.retune(config) == 0  # nothing drafted yet
    assert control.take_settings() is config
    assert control.retune(config) == 1  # round 0 under way (the screen may not show it yet)
    control.round_ended()
    assert control.settings_round == 1  # round 0 over, round 1 not started
    control.take_settings()
    control.round_ended()
    control.take_settings()
    assert control.settings_round == 3
    control.branch(1, config)
    assert control.settings_round == 1  # asked for: they go with the branch
    assert control.take_settings() is None, "a branch's settings are not the current round's"
    control.round_ended()  # the rest of the round finished while the branch was asked for
    assert control.take_branch() == (1, config)
    assert control.settings_round == 1
    control.take_settings()
    assert control.settings_round == 2
    control.round_ended()
    control.take_settings()  # the decode's end comes next, with no round left
    control.decode_ended()
    assert control.retune(config) is None
    control.branch(0, config)
    assert control.settings_round == 0
    assert StepControl(first_round=4).settings_round == 4  # a retry resumes at round 4


# --- the token detail, piece by piece -----------------------------------------------------------


async def select(pilot: Pilot[Any], index: int) -> str:
    """Select piece `index` with the keys (home, then →) and return the detail's text."""
    screen = await press(pilot, "home", *["right"] * index)
    assert screen.state.selected == index
    return plain(screen.query_one(TokenDetail))


def index_of(pieces: list[Piece], kind: PieceKind) -> int:
    """The first piece of this kind in the stream."""
    return next(at for at, piece in enumerate(pieces) if piece.kind is kind)


async def test_the_detail_tells_each_kind_of_piece_apart_with_its_own_numbers(
    make_app: Any,
) -> None:
    """Greedy-exact with bonus tokens on the tiny pair: round 1 accepts three drafts, rejects
    the fourth (corrected) and discards the fifth; round 4 accepts all five, then a bonus."""

    async with make_app(policy="greedy", bonus=True).run_test() as pilot:
        screen = await settle(pilot)
        await press(pilot, "space")
        pending = await select(pilot, 4)
        assert "pending draft" in pending and "not judged yet" in pending
        await press(pilot, "escape", "enter")
        pieces = screen.state.decode.pieces()
        kinds = [piece.kind for piece in pieces]
        assert kinds[:3] == [PieceKind.DRAFT] * 3, kinds

        accepted = pieces[0]
        assert accepted.check is not None
        shown = await select(pilot, 0)
        check = accepted.check.check
        assert "accepted draft" in shown
        assert f"q {prob(check.q)} · p {prob(check.p)} · rank {check.rank}" in shown

        rejected_at = index_of(pieces, PieceKind.REJECTED)
        rejected = pieces[rejected_at]
        assert rejected.check is not None
        bad = rejected.check.check
        shown = await select(pilot, rejected_at)
        assert "rejected draft" in shown
        assert f"q {prob(bad.q)} · p {prob(bad.p)} · rank {bad.rank}" in shown

        correction_at = index_of(pieces, PieceKind.CORRECTION)
        correction = pieces[correction_at]
        assert correction.q is None, "a correction was never drafted"
        assert correction.token_id == bad.top1_id, "greedy corrects to the verifier's top-1"
        shown = await select(pilot, correction_at)
        lines = shown.splitlines()
        own = next(line for line in lines if "verifier p " in line)
        assert f"verifier p {prob(bad.p_top1)} · rank 1 (its top-1)" in own
        assert not re.search(r"\bq \d", own), "no q of its own"
        label = next(at for at, line in enumerate(lines) if "replaces the rejected" in line)
        assert rejected.text.replace(" ", "␣") in lines[label]
        assert f"  q {prob(bad.q)} · p {prob(bad.p)} · rank {bad.rank}" in lines[label + 1]
        assert "◀ this" in shown

        shown = await select(pilot, index_of(pieces, PieceKind.UNCHECKED))
        assert "discarded draft" in shown and "discarded unjudged" in shown
        assert "not judged yet" not in shown

        await press(pilot, "escape")
        while not any(piece.kind is PieceKind.BONUS for piece in screen.state.decode.pieces()):
            await press(pilot, "enter")
            assert screen.state.phase == "ready", "a fully accepted round comes before the end"
        pieces = screen.state.decode.pieces()
        bonus_at = index_of(pieces, PieceKind.BONUS)
        assert pieces[bonus_at].q is None
        shown = await select(pilot, bonus_at)
        assert "bonus" in shown and "no gate check" in shown
        assert not re.search(r"\bq \d", shown), "a bonus token shows no q"


# --- speculative sampling with greedy drafts ----------------------------------------------------

COIN = re.compile(
    r"sampling, q = 1 \(greedy draft\): u (\d\.\d+) ([<≥]) (?:min\(1, p/q\)|p/q) (\d\.\d+) → (\w+)"
)


def gate_row(screen: DecodeScreen, position: int) -> str:
    """Draft `position`'s line of the gate panel."""
    rows = plain(screen.query_one(GatePanel)).splitlines()
    return next(row for row in rows if row[:2].strip().lstrip("▶") == str(position + 1))


async def test_sampling_shows_the_q_its_test_used_and_a_true_coin(make_app: Any) -> None:
    """Seed 1 on the tiny pair: round 1's first draft is accepted, the second rejected."""

    async with make_app(policy="sample", seed=1).run_test() as pilot:
        screen = await settle(pilot)
        await press(pilot, "space", "space", "space")
        current = screen.state.decode.round
        assert current is not None and not current.config.sample_draft
        verdicts = []
        for position in (0, 1):
            view = current.drafts[position].check
            assert view is not None
            check = view.check
            assert check.q < 0.5, "the drafter's own q is not 1"
            cells = gate_row(screen, position)[11:].split()
            assert cells[0] == "1.00", cells  # the q speculative sampling divided by
            assert cells[2] == prob(check.chance.accept_probability) == prob(check.p)
            shown = await select(pilot, position)
            match = COIN.search(shown)
            assert match is not None, shown
            u, sign, ratio, word = match.groups()
            assert (float(u) < float(ratio)) == (sign == "<") == (word == "accepted")
            assert (word == "accepted") == check.accepted
            assert f"q {prob(check.q)} · p {prob(check.p)}" in shown, "the drafter's q"
            verdicts.append(check.accepted)
        assert verdicts == [True, False], "the seed gives one of each"

        pieces = screen.state.decode.pieces()
        correction_at = index_of(pieces, PieceKind.CORRECTION)
        shown = await select(pilot, correction_at)
        assert pieces[correction_at].verifier_p() is None, "drawn outside the top-10"
        assert "below the top-10 shown" in shown


@pytest.mark.parametrize(
    ("p", "q", "sample_draft", "uniform"),
    [
        (0.15, 0.13, False, 0.38),  # greedy draft: q = 1, the ratio is p
        (0.15, 0.13, False, 0.12),
        (0.05, 0.40, True, 0.1249),  # sampled draft: p/q = 0.125, a coin just below it
        (0.05, 0.40, True, 0.1251),  # ... and just above: more digits tell them apart
        (0.30, 0.10, True, 0.97),  # p > q: min(1, p/q) = 1 accepts any coin
    ],
)
def test_the_sampling_coin_reads_as_a_true_statement(
    p: float, q: float, sample_draft: bool, uniform: float
) -> None:
    measures = DraftMeasures(7, p, 2, 3, 0.5, (3, 7), (0.5, p))
    config = DecodeConfig(policy="sample", sample_draft=sample_draft)
    check = gate_check(measures, q, 0, 0, config, uniform)
    assert SAMPLING_LOOKS.explain is not None
    line = SAMPLING_LOOKS.explain(check, config)
    match = re.search(r"u (\d\.\d+) ([<≥]) (min\(1, p/q\)|p/q) (\d\.\d+) → (\w+)", line)
    assert match is not None, line
    u, sign, ratio_name, ratio, word = match.groups()
    assert (float(u) < float(ratio)) == (sign == "<") == (word == "accepted") == check.accepted
    assert ratio_name == ("min(1, p/q)" if p > q and sample_draft else "p/q")
    assert ("q = 1 (greedy draft)" in line) == (not sample_draft)
    assert SPECULATIVE_SAMPLING.tested_q(q, config) == (q if sample_draft else 1.0)
