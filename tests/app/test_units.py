"""The app's plain-Python layers: the step hand-off, the decode model, the text helpers."""

from __future__ import annotations

import subprocess
import sys
import threading
from types import SimpleNamespace
from typing import Any

from app_helpers import passes
from rich.style import Style

from spectui.app.control import StepControl
from spectui.app.decode_view import DecodeView
from spectui.app.format import PIECE_STYLES, bar, flowing, quoted, sparkline
from spectui.app.pacing import BATCHES_AHEAD, KEY_HOLD, MAX_SPEED, SPEEDS
from spectui.app.rounds import CheckView, PieceKind
from spectui.engine.config import DecodeConfig
from spectui.engine.events import TokenOrigin


def test_a_step_lets_the_worker_pass_exactly_once() -> None:
    control = StepControl()
    assert not passes(control)
    control = StepControl()
    control.step()
    assert passes(control)
    assert not passes(control)


def test_a_round_request_lasts_until_the_round_ends() -> None:
    control = StepControl()
    control.finish_round()
    assert passes(control) and passes(control) and passes(control)
    control.round_ended()
    assert not passes(control)


def test_idle_is_reported_with_the_requests_seen() -> None:
    control = StepControl()
    control.step()
    control.wait()
    seen: list[int] = []

    def idle(requests: int) -> None:
        seen.append(requests)
        control.step()

    assert control.wait(idle)
    assert seen == [1]


def test_autoplay_waits_for_the_screen_to_show_each_event() -> None:
    fastest_paced = len(SPEEDS) - 2  # 10 steps/s ("max" is engine speed: no waiting)
    control = StepControl(speed=fastest_paced)
    control.set_playing(True)
    assert passes(control)
    control.posted()
    assert not passes(control), "an event the UI has not shown holds autoplay back"
    control = StepControl(speed=fastest_paced)
    control.set_playing(True)
    control.posted()
    control.handled(1)
    assert passes(control)


def test_max_autoplay_waits_only_for_batches_the_screen_has_not_taken() -> None:
    control = StepControl(speed=MAX_SPEED)
    control.set_playing(True)
    control.posted()
    assert passes(control), "an unshown event does not hold engine speed back"
    for _ in range(BATCHES_AHEAD + 1):
        control.posted(3, batch=True)
    assert not passes(control), "too many batches queued: the worker waits for the screen"
    control = StepControl(speed=MAX_SPEED)
    control.set_playing(True)
    for _ in range(BATCHES_AHEAD + 1):
        control.posted(3, batch=True)
    control.received()
    assert passes(control)


def test_stop_releases_a_waiting_worker() -> None:
    control = StepControl()
    control.stop()
    assert control.wait() is False


def check(position: int, accepted: bool) -> CheckView:
    gate_check = SimpleNamespace(position=position, accepted=accepted, policy="soft")
    return CheckView(gate_check, f"d{position}", "top", (), DecodeConfig())  # type: ignore[arg-type]


def test_a_rejection_reads_as_struck_draft_then_correction_then_discards() -> None:
    view = DecodeView(prompt="P")
    view.round_drafted(0, ("a", "b", "c", "d"), (0.5, 0.5, 0.5, 0.5), DecodeConfig())
    assert [p.kind for p in view.pieces()] == [PieceKind.PENDING] * 4
    view.token_checked(check(0, True))
    view.token_appended("a", TokenOrigin.DRAFT)
    view.token_checked(check(1, False))
    view.token_appended("B", TokenOrigin.CORRECTION)
    stats: Any = SimpleNamespace(rounds=1, draft_seconds=0.0, verify_seconds=0.0)
    view.round_finished(stats)
    kinds = [(p.text, p.kind) for p in view.pieces()]
    assert kinds == [
        ("a", PieceKind.DRAFT),
        ("b", PieceKind.REJECTED),
        ("B", PieceKind.CORRECTION),
        ("c", PieceKind.UNCHECKED),
        ("d", PieceKind.UNCHECKED),
    ]
    assert view.n_generated == 2
    view.round_drafted(1, ("e",), (0.9,), DecodeConfig())
    assert [p.text for p in view.pieces()] == ["a", "B", "e"], "old discards leave the stream"


def test_every_origin_is_readable_without_colour() -> None:
    attributes = set()
    for style in PIECE_STYLES.values():
        parsed = Style.parse(style)
        plain = (parsed.bold, parsed.underline, parsed.strike, parsed.italic, parsed.dim)
        assert any(plain), f"{style!r} relies on colour alone"
        attributes.add(plain)
    assert len(attributes) == len(PIECE_STYLES), "two origins look alike without colour"


def test_tokens_never_reach_the_terminal_as_control_characters() -> None:
    assert quoted(" the\n") == "␣the⏎"
    assert quoted("\x1b[2J") == "␛[2J"
    assert quoted("", 5) == "∅" and quoted("abcdefgh", 5) == "abcd…"
    assert flowing("a\x07b\nc") == "a␇b⏎\nc"
    assert flowing("") == "∅"


def test_bars_and_sparklines() -> None:
    assert bar(0.5, 10) == "█████     " and bar(1.5, 4) == "████"
    assert sparkline([0.0, 0.5, 1.0], top=1.0) == " ▄█"
    assert sparkline([]) == ""


def test_the_app_modules_leave_torch_unimported() -> None:
    code = (
        "import sys, spectui.commands.app, spectui.app.app;"
        "heavy = [m for m in ('torch', 'transformers', 'spectui.engine.models.loading',"
        " 'spectui.engine.decode') if m in sys.modules];"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_engine_speed_yields_to_a_key_for_key_hold_seconds() -> None:
    control = StepControl(speed=MAX_SPEED)
    control.set_playing(True)
    control.hold_for_key()
    assert not passes(control, timeout=KEY_HOLD / 2), "a key's repaint comes first"
    control = StepControl(speed=MAX_SPEED)
    control.set_playing(True)
    control.hold_for_key()
    assert passes(control, timeout=KEY_HOLD * 3), "then the engine goes on"
    paced = StepControl()
    paced.step()
    paced.hold_for_key()  # only engine speed yields: a granted step passes at once
    assert passes(paced, timeout=KEY_HOLD / 2)


def test_the_key_that_starts_engine_speed_does_not_hold_it() -> None:
    """`f` asks for a hold as every key does, but the worker was not at engine speed yet: it
    must start at once (a hold would add KEY_HOLD to every fast-forward)."""
    control = StepControl()
    control.hold_for_key()
    control.fast_forward(True)
    assert passes(control, timeout=KEY_HOLD / 2)


def test_a_key_hold_outlasts_the_worker_waking_for_other_reasons() -> None:
    """The UI taking a batch off its queue wakes the worker; the hold still stands (it once
    ended at the first wake-up: the key's frame then shared the interpreter with the engine)."""
    control = StepControl(speed=MAX_SPEED)
    control.set_playing(True)
    control.hold_for_key()
    waker = threading.Timer(KEY_HOLD / 10, control.received)
    waker.start()
    assert not passes(control, timeout=KEY_HOLD / 2)
    waker.join()
