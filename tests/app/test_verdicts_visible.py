"""Issue 23: every verdict visible, at every size, without colour, in a replay, in copied text."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import select
import shutil
import struct
import sys
import termios
import time
from pathlib import Path
from typing import Any

import pytest
from app_helpers import Recorder, plain, press, region_lines, run, screen_lines, settle
from rich._palettes import STANDARD_PALETTE
from rich.color import Color as RichColor
from rich.color import ColorSystem
from rich.style import Style
from test_sizes import footer_text
from textual.widgets import Checkbox, Static
from tmux_session import TmuxSession

from spectui.app import messages
from spectui.app.decode_view import DecodeView
from spectui.app.format import flowing
from spectui.app.looks.catalog import LOOKS, short_name, shown_gates
from spectui.app.looks.library import P_COLUMN, Q_COLUMN
from spectui.app.pacing import SWITCH_INTERVAL
from spectui.app.replay import replay_app
from spectui.app.rounds import Piece, PieceKind
from spectui.app.screens.compare import CompareScreen
from spectui.app.screens.decode.inputs import SelectToken
from spectui.app.widgets import GatePanel, StatusLine, TokenDetail, TokenStream
from spectui.engine.policy.registry import policy_label, policy_names
from spectui.engine.trace.header import TRACE_VERSION
from spectui.engine.trace.reader import read_trace


@pytest.mark.parametrize("policy", policy_names())
def test_the_active_verdict_is_on_screen_at_every_width(make_app: Any, policy: str) -> None:
    """From 60×20 up, every judged row shows the active policy's ✓/✗ under its ▸ header."""

    async def scenario() -> None:
        app = make_app(policy=policy)
        async with app.run_test(size=(160, 20)) as pilot:
            screen = await settle(pilot)
            await press(pilot, "enter", "enter")  # a finished round: its judged rows
            current = screen.state.decode.round
            assert current is not None and current.n_checked
            verdicts = [slot.check.check.accepted for slot in current.drafts if slot.check]
            header = "▸" + short_name(policy)
            for width in range(160, 59, -1):
                await pilot.resize_terminal(width, 20)
                await pilot.pause()
                rows = region_lines(app, screen.query_one(GatePanel))
                assert header in rows[1], (width, rows[1])
                column = rows[1].index(header)
                for row, accepted in zip(rows[2:], verdicts, strict=False):
                    shown = row[column : column + len(header) + 1]
                    assert ("▸✓" if accepted else "▸✗") in shown, (width, row)

    run(scenario)


# --- item 2: every token kind readable in every colour mode ------------------------------------

XTERM_16 = [
    (0, 0, 0), (205, 0, 0), (0, 205, 0), (205, 205, 0), (0, 0, 238), (205, 0, 205),
    (0, 205, 205), (229, 229, 229), (127, 127, 127), (255, 0, 0), (0, 255, 0), (255, 255, 0),
    (92, 92, 255), (255, 0, 255), (0, 255, 255), (255, 255, 255),
]  # fmt: skip
PALETTES_16 = {"vga": [tuple(c) for c in STANDARD_PALETTE._colors], "xterm": XTERM_16}
KINDS = ("prompt", *(kind.value for kind in PieceKind))


def luminance(rgb: tuple[int, int, int]) -> float:
    """WCAG 2 relative luminance."""

    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(fg: tuple[int, int, int], bg: tuple[int, int, int]) -> float:
    """WCAG 2 contrast ratio, 1..21."""
    high, low = sorted((luminance(fg), luminance(bg)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def as_shown(color: RichColor, system: str, palette: str = "vga") -> tuple[int, int, int]:
    """The RGB a terminal shows for a truecolor the app rendered, in `system` colours."""
    if system == "16":
        number = color.downgrade(ColorSystem.STANDARD).number
        assert number is not None
        return PALETTES_16[palette][number]
    if system == "256":
        return tuple(color.downgrade(ColorSystem.EIGHT_BIT).get_truecolor())  # type: ignore[return-value]
    return tuple(color.get_truecolor())  # type: ignore[return-value]


def rendered_kinds(make_app: Any, marked: bool) -> dict[str, Style]:
    """The final style (after the app's colour filters) of one stream piece of every kind."""
    found: dict[str, Style] = {}

    async def scenario() -> None:
        app = make_app()
        async with app.run_test(size=(120, 30)) as pilot:
            screen = await settle(pilot)
            pieces = [Piece(f" {kind.value}", kind, 0, n, None) for n, kind in enumerate(PieceKind)]
            view = DecodeView(prompt="prompt")
            screen.query_one(TokenStream).show(view, pieces, None, 0 if marked else None)
            await pilot.pause()
            update = app.screen._compositor.render_update(full=True)
            for line in update.strips:
                for strip in line:
                    for segment in strip:
                        word = segment.text.strip()
                        if word in KINDS and segment.style is not None:
                            found[word] = segment.style

    run(scenario)
    assert set(found) == set(KINDS), found
    return found


@pytest.mark.parametrize("no_color", [False, True], ids=["colour", "NO_COLOR"])
@pytest.mark.parametrize("marked", [False, True], ids=["live", "round-viewed"])
def test_every_token_kind_has_contrast_and_a_mark_of_its_own(
    make_app: Any, monkeypatch: pytest.MonkeyPatch, no_color: bool, marked: bool
) -> None:
    if no_color:
        monkeypatch.setenv("NO_COLOR", "1")
    else:
        monkeypatch.delenv("NO_COLOR", raising=False)
    styles = rendered_kinds(make_app, marked)
    systems = [("truecolor", "vga"), ("256", "vga"), ("16", "vga"), ("16", "xterm")]
    if no_color:
        systems = systems[:2]  # NO_COLOR is greys: the same in every colour system
    low = []
    for kind, style in styles.items():
        assert style.color is not None and style.bgcolor is not None, (kind, style)
        for system, palette in systems:
            fg = as_shown(style.color, system, palette)
            bg = as_shown(style.bgcolor, system, palette)
            ratio = contrast(fg, bg)
            if ratio < 4.5:
                low.append(f"{kind} {system}/{palette}: {fg} on {bg} = {ratio:.2f}")
    assert not low, low
    # Told apart without colour: each kind its own set of attributes.
    attributes = {
        kind: (bool(s.bold), bool(s.italic), bool(s.underline), bool(s.strike), bool(s.reverse))
        for kind, s in styles.items()
    }
    assert len(set(attributes.values())) == len(KINDS), attributes
    if not no_color:  # in 16 colours a hue means one thing: red is a rejection only
        hues = {
            kind: styles[kind].color.downgrade(ColorSystem.STANDARD).number  # type: ignore[union-attr]
            for kind in ("draft", "correction", "bonus", "rejected")
        }
        assert len(set(hues.values())) == len(hues), hues
        assert hues["rejected"] in (1, 9), hues


# --- item 4: the text you copy ------------------------------------------------------------------


async def a_round_with_a_rejection(pilot: Any) -> Any:
    """Step rounds until the current one has a rejected draft mid-round, drafts after it."""
    screen = await settle(pilot)
    for _ in range(20):
        await press(pilot, "space")  # draft
        current = screen.state.decode.round
        while current is not None and not current.finished and current.n_checked < 5:
            await press(pilot, "space")
            kinds = [piece.kind for piece in current.pieces()]
            if PieceKind.REJECTED in kinds and PieceKind.UNCHECKED in kinds:
                return current
        await press(pilot, "enter")
    raise AssertionError("no round rejected a draft before its last")


def test_text_marks_mode_marks_every_kind_in_the_stream(make_app: Any) -> None:
    """m (or --text-marks) writes each kind into the text: [-rejected-]{correction}[~discarded~]."""

    async def scenario() -> None:
        app = make_app(policy="greedy")
        async with app.run_test(size=(120, 40)) as pilot:
            current = await a_round_with_a_rejection(pilot)
            screen = app.decode_screen
            await press(pilot, "m")
            text = plain(screen.query_one(TokenStream).query_one(Static), 200)
            pieces = current.pieces()
            rejected = next(p for p in pieces if p.kind is PieceKind.REJECTED)
            discarded = [p for p in pieces if p.kind is PieceKind.UNCHECKED]
            expected = f"[-{flowing(rejected.text)}-]"
            if current.finished:
                correction = next(p for p in pieces if p.kind is PieceKind.CORRECTION)
                expected += f"{{{flowing(correction.text)}}}"
            expected += "".join(f"[~{flowing(p.text)}~]" for p in discarded)
            assert expected in text.replace("\n", ""), (expected, text)
            await press(pilot, "m")
            text = plain(screen.query_one(TokenStream).query_one(Static), 200)
            assert "[-" not in text, "m again: back to styles only"

    run(scenario)


def test_copy_takes_the_committed_output_only(make_app: Any) -> None:
    """y copies the prompt and the tokens that joined the output: no pending, rejected or
    discarded draft."""

    async def scenario() -> None:
        app = make_app(policy="greedy")
        async with app.run_test(size=(120, 40)) as pilot:
            current = await a_round_with_a_rejection(pilot)
            screen = app.decode_screen
            await press(pilot, "y")
            committed = screen.state.decode.prompt + "".join(
                p.text
                for p in screen.state.decode.pieces()
                if p.kind in (PieceKind.DRAFT, PieceKind.CORRECTION, PieceKind.BONUS)
            )
            assert app.clipboard == committed
            rejected = next(p for p in current.pieces() if p.kind is PieceKind.REJECTED)
            assert not app.clipboard.endswith(rejected.text) or rejected.text == ""
            said = str(screen.query_one(StatusLine).render())
            assert "Copied" in said and "committed" in said, said

    run(scenario)


def test_a_correction_equal_to_its_rejected_draft_says_so(make_app: Any) -> None:
    """Soft-guarded rejecting the verifier's own top-1 (p < p_thresh): the same token comes back
    as the correction, and the detail says so in words."""

    async def scenario() -> None:
        app = make_app(policy="soft", p_thresh=0.99)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await settle(pilot)
            for _ in range(10):
                await press(pilot, "enter")
                pieces = screen.state.decode.pieces()
                same = [
                    n
                    for n, p in enumerate(pieces)
                    if p.kind is PieceKind.CORRECTION
                    and p.check is not None
                    and p.token_id == p.check.check.token_id
                ]
                if same:
                    break
            assert same, "p_thresh 0.99 rejects a top-1 draft"
            screen.dispatch(SelectToken(same[-1]))
            await pilot.pause()
            shown = plain(screen.query_one(TokenDetail), 60).replace("\n", " ")
            assert "same token as the rejected draft" in shown, shown
            assert "p≥0.99✗" in shown.replace(" ", "") or "p≥0.99 ✗" in shown, shown
            screen.dispatch(SelectToken(same[-1] - 1))  # the rejected draft itself
            await pilot.pause()
            shown = plain(screen.query_one(TokenDetail), 60).replace("\n", " ")
            assert "verifier's top-1" in shown and "appended again" in shown, shown

    run(scenario)


# --- item 5: a replay says what it cannot do ---------------------------------------------------

TRACE = Path(__file__).resolve().parent.parent / "data" / "trace-v1-soft.jsonl"


def test_a_replay_refuses_keys_with_a_reason_and_offers_none_of_them(tmp_path: Path) -> None:
    async def scenario() -> None:
        trace = read_trace(TRACE)
        saved = tmp_path / "saved.jsonl"
        async with replay_app(trace, timings=False, trace_path=saved).run_test(
            size=(120, 40)
        ) as pilot:
            screen = await settle(pilot)
            line = screen.query_one(StatusLine)
            for key in ("t", "s", "e", "c", "B", "right_square_bracket", "v"):
                await press(pilot, key)
                assert pilot.app.screen is screen, key
                said = line.message
                assert "replay" in said or "sweep" in said, (key, said)
            await press(pilot, "enter", "enter", "b")
            assert "B branch" not in screen.status_text, screen.status_text
            assert "B branch" not in str(screen.query_one(GatePanel).border_subtitle)
            await press(pilot, "w")  # after two of its rounds: still the whole trace
            assert "Trace saved" in line.message and "goes on" not in line.message, line.message
        copy = read_trace(saved)
        assert copy.rounds == trace.rounds and copy.done == trace.done
        assert copy.appended_texts == trace.appended_texts

    run(scenario)


# --- item 8: the smaller ones ------------------------------------------------------------------

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_t_cycle_is_described_from_the_policy_records(make_app: Any) -> None:
    """README, help and palette name every policy `t` cycles through, in its order."""
    cycle = " → ".join(policy_label(name) for name in policy_names())
    t_row = next(line for line in README.read_text().splitlines() if line.startswith("| `t` |"))
    assert cycle in t_row, t_row

    async def scenario() -> None:
        async with make_app().run_test(size=(120, 50)) as pilot:
            screen = await settle(pilot)
            commands = {c.title: c for c in pilot.app.get_system_commands(screen)}
            assert cycle in commands["Policy"].help, commands["Policy"].help
            await pilot.press("question_mark")
            text = " ".join(plain(w, 200) for w in pilot.app.screen.query(Static))
            assert cycle in " ".join(text.split()), text

    run(scenario)


def test_the_readme_names_the_trace_version_written() -> None:
    text = README.read_text()
    assert f'"version": {TRACE_VERSION}, ...' in text.replace("\n", " ")


def test_margin_value_and_margin_gate_are_named_apart() -> None:
    symbols = [gate.symbol for gate in shown_gates()]
    headers = {column.header for looks in LOOKS.values() for column in looks.columns}
    headers |= {Q_COLUMN.header, P_COLUMN.header}
    assert len(set(symbols)) == len(symbols) and not set(symbols) & headers, (symbols, headers)


def test_the_bonus_switch_shows_its_state(make_app: Any) -> None:
    """The settings form's switch: ✓ when on, empty when off (Textual's box is X both ways)."""

    async def scenario() -> None:
        async with make_app(bonus=False).run_test(size=(100, 40)) as pilot:
            await settle(pilot)
            await pilot.press("s")
            box = pilot.app.screen.query_one("#bonus", Checkbox)
            assert "X" not in str(box.render()) and "off" in str(box.render())
            box.value = True
            await pilot.pause()
            assert "✓" in str(box.render()) and "on" in str(box.render())

    run(scenario)


def test_the_latest_check_panel_never_says_none_while_checks_are_shown(make_app: Any) -> None:
    async def scenario() -> None:
        async with make_app().run_test(size=(160, 48)) as pilot:
            screen = await press(pilot, "enter", "space")  # round 2 drafted, none of it checked
            assert (
                screen.state.decode.round is not None and screen.state.decode.round.n_checked == 0
            )
            shown = plain(screen.query_one(TokenDetail), 60)
            assert "No gate check yet" not in shown, shown
            assert "round 1" in shown, shown

    run(scenario)


def test_the_compare_view_shows_progress_keeps_help_and_quit_and_q_quits(make_app: Any) -> None:
    recorder = Recorder()

    async def scenario() -> None:
        app = make_app()
        async with app.run_test(size=(120, 40), message_hook=recorder) as pilot:
            await settle(pilot)
            await pilot.press("c")
            compare = pilot.app.screen
            assert isinstance(compare, CompareScreen)
            await compare.settled()
            await pilot.pause()
            shown = footer_text(pilot)
            assert shown.startswith("? Help q Quit"), shown
            progress = recorder.of(messages.ComparisonProgress)
            assert {m.policy for m in progress} == set(compare.policies), progress
            assert all(0 <= m.tokens <= m.total for m in progress)
            await pilot.press("q")
            await pilot.pause()
            assert app.return_code == 0, "q quit spectui from the compare view"

    run(scenario)


def test_the_footer_at_120_columns_offers_f_b_c_w(make_app: Any) -> None:
    async def scenario() -> None:
        async with make_app().run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            await pilot.resize_terminal(120, 40)
            await pilot.pause()
            shown = footer_text(pilot)
            assert shown.startswith("? Help q Quit"), shown
            bottom = screen_lines(pilot.app)[-1]  # what is drawn: nothing over a key
            for key in ("f Fast", "b Back", "c Compare", "w Save"):
                assert key in bottom, (key, bottom)
                assert key in shown, (key, shown)
            await pilot.resize_terminal(80, 24)
            await pilot.pause()
            narrow = footer_text(pilot)
            assert narrow.startswith("? Help q Quit") and "c Compare" not in narrow, narrow

    run(scenario)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_with_stdout_redirected_the_app_draws_at_the_terminals_size(tmp_path: Path) -> None:
    """`spectui replay FILE > out` in a 100×30 terminal: drawn 100 wide (not 80×24)."""
    root = Path(__file__).resolve().parents[2]
    out = tmp_path / "out.txt"
    # (no COLUMNS/LINES from the test run: they would fix the size, as they do for any app)
    command = f"env -u COLUMNS -u LINES {sys.executable} -m spectui.cli replay {TRACE} > {out}"
    session = TmuxSession("spectui-redirect", f"cd {root} && {command}; sleep 5", 100, 30)
    try:
        screen = session.wait_for(lambda text: "replay of" in text and "Quit" in text)
        lines = screen.splitlines()
        assert len(lines) >= 29 and "Quit" in lines[29], screen
        assert any("─" * 90 in line for line in lines), screen
        session.send("q")
        session.wait_for(lambda text: "replay of" not in text, timeout=20)
    finally:
        session.close()


@pytest.mark.slow
def test_q_during_start_up_returns_to_the_shell_at_once() -> None:
    """q while torch imports and the models load: the shell is back in well under a second
    (it waited for the whole import before: 6-20 s), the terminal restored, status 0."""
    root = Path(__file__).resolve().parents[2]
    pid, fd = pty.fork()
    if pid == 0:  # the child: the app on the bundled pair, in a 120×40 pseudo-terminal
        os.chdir(root)
        for name in ("COLUMNS", "LINES", "NO_COLOR"):
            os.environ.pop(name, None)
        os.execvp(sys.executable, [sys.executable, "-m", "spectui.cli"])
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    output, sent, status = b"", 0.0, None
    deadline = time.monotonic() + 120
    while status is None and time.monotonic() < deadline:
        if select.select([fd], [], [], 0.02)[0]:
            with contextlib.suppress(OSError):  # OSError: the child closed the terminal
                output += os.read(fd, 65536)
        if not sent and b"loading" in output and b"Quit" in output:
            os.write(fd, b"q")
            sent = time.monotonic()
        done, code = os.waitpid(pid, os.WNOHANG)
        if done:
            status = os.waitstatus_to_exitcode(code)
    os.close(fd)
    assert sent, "the first frame said it was loading"
    waited = time.monotonic() - sent
    assert status == 0 and waited < 3.0, (status, waited)
    assert b"\x1b[?1049l" in output, "the terminal's main screen is restored"


def test_the_app_hands_the_interpreter_lock_over_every_millisecond(make_app: Any) -> None:
    """Item 10: a key's repaint during fast-forward waits on the engine's thread for the lock;
    while the app runs it is handed over every 1 ms (Python's default 5), then restored."""
    before = sys.getswitchinterval()

    async def scenario() -> None:
        async with make_app().run_test() as pilot:
            await settle(pilot)
            assert sys.getswitchinterval() == pytest.approx(SWITCH_INTERVAL) == 0.001

    run(scenario)
    assert sys.getswitchinterval() == before
