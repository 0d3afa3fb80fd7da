"""Every size, every state: messages in the status line, the Footer's ? and q, help that
reflows, and replays and ended decodes that say what they are and what to do next."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from app_helpers import press, run, settle
from textual.pilot import Pilot
from textual.widgets import Checkbox, Footer, Static
from textual.widgets._toast import Toast

from spectui.app.replay import replay_app
from spectui.app.screens.help import SECTIONS
from spectui.app.screens.settings import SettingsScreen
from spectui.app.widgets import StatusLine
from spectui.engine.trace.reader import read_trace


def screen_lines(pilot: Pilot[Any]) -> list[str]:
    """The screen as plain text, one string per row."""
    # Textual has no public call for the screen as text lines (export_screenshot is an SVG),
    # so this reads its compositor's strips.
    return [strip.text for strip in pilot.app.screen._compositor.render_strips()]


def status(pilot: Pilot[Any]) -> str:
    """What the decode screen's status line says now."""
    return pilot.app.screen.query_one(StatusLine).message


async def test_messages_go_to_one_status_line_and_no_toast_covers_the_gates(make_app: Any) -> None:
    async with make_app().run_test(size=(80, 24), notifications=True) as pilot:
        screen = await settle(pilot)
        await press(pilot, "enter")
        await press(pilot, *["left_square_bracket"] * 6)
        assert not pilot.app.screen.query(Toast)
        assert len(screen.query(StatusLine)) == 1
        said = status(pilot)
        assert said.startswith("Setting refused") or "from round" in said, said
        rows = [row for row in screen_lines(pilot) if said[:20] in row]
        assert len(rows) == 1, rows  # one line, replacing the ones before
        await press(pilot, "space")  # the next key clears it
        assert status(pilot) == ""


async def test_the_status_line_clears_itself(make_app: Any) -> None:
    async with make_app().run_test() as pilot:
        screen = await settle(pilot)
        line = screen.query_one(StatusLine)
        line.clear_after = 0.05
        screen.say("draft span k 3 from round 2")
        assert status(pilot) == "draft span k 3 from round 2"
        await pilot.pause(0.2)
        assert status(pilot) == ""


async def test_a_key_repaints_the_status_line_only_when_it_had_a_message(make_app: Any) -> None:
    """Every key clears the status line; clearing an empty one must not repaint it, or the
    extra frame delays the key's own repaint by a frame (measured: 45 ms → 10 ms)."""

    async with make_app().run_test() as pilot:
        screen = await settle(pilot)
        line = screen.query_one(StatusLine)
        updates: list[object] = []
        real_update = line.update

        def counted_update(*args: Any, **kwargs: Any) -> None:
            updates.append(args)
            real_update(*args, **kwargs)

        line.update = counted_update  # type: ignore[method-assign]
        await press(pilot, "left", "end", "left")
        assert updates == []
        screen.say("draft span k 3 from round 2")
        updates.clear()
        await press(pilot, "end")
        assert len(updates) == 1 and status(pilot) == ""


async def test_severity_is_readable_without_colour(make_app: Any) -> None:
    async with make_app().run_test() as pilot:
        screen = await settle(pilot)
        screen.say("no", "error")
        await pilot.pause()
        assert str(screen.query_one(StatusLine).render()).startswith("✗ no")
        screen.say("hm", "warning")
        await pilot.pause()
        assert str(screen.query_one(StatusLine).render()).startswith("! hm")


async def test_a_narrow_footer_still_shows_help_and_quit(make_app: Any) -> None:
    async with make_app().run_test(size=(60, 20)) as pilot:
        await settle(pilot)
        footer = pilot.app.screen.query_one(Footer)
        row = screen_lines(pilot)[footer.region.y]
        assert "? Help" in row and "q Quit" in row, row


async def test_a_replay_says_what_it_is_and_what_to_do_at_its_end(
    make_app: Any, tmp_path: Path
) -> None:
    path = tmp_path / "live.jsonl"

    app = make_app(max_new_tokens=40)
    app.decode_screen.state = replace(app.decode_screen.state, trace_path=path)
    async with app.run_test() as pilot:
        await settle(pilot)
        await press(pilot, "enter", "enter", "w")  # saved midway: it ends "end of trace"
    async with replay_app(read_trace(path), timings=False).run_test(size=(80, 24)) as pilot:
        screen = await settle(pilot)
        shown = "\n".join(screen_lines(pilot))
        assert "press space to draft one" not in shown
        assert "press space to play" in shown
        assert "float32" not in shown and "live.jsonl: " in screen.state.models
        while screen.state.phase != "finished":
            await press(pilot, "enter")
        await press(pilot, "space")
        assert status(pilot).startswith("The trace has ended: q quits"), (
            screen.state.phase,
            status(pilot),
        )


async def test_space_at_the_end_of_a_decode_says_what_comes_next(make_app: Any) -> None:
    async with make_app(max_new_tokens=6).run_test() as pilot:
        screen = await settle(pilot)
        while screen.state.phase != "finished":
            await press(pilot, "enter")
        for key in ("space", "p"):
            await press(pilot, key)
            assert status(pilot) == (
                "The decode has ended: ctrl+r restarts, e edits the prompt, w saves the trace"
            )


async def test_the_settings_form_shows_every_policy_and_whether_bonus_is_on(make_app: Any) -> None:
    async with make_app(policy="sample").run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await pilot.pause()
        form = pilot.app.screen
        assert isinstance(form, SettingsScreen)
        assert any("speculative-sampling" in row for row in screen_lines(pilot))
        bonus = form.query_one("#bonus", Checkbox)
        before = str(bonus.label)
        bonus.toggle()
        await pilot.pause()
        assert {before.split(":")[0], str(bonus.label).split(":")[0]} == {"on", "off"}


def test_the_help_reflows_to_the_width(make_app: Any) -> None:
    rows: dict[int, list[str]] = {}

    async def scenario(width: int) -> None:
        async with make_app().run_test(size=(width, 150)) as pilot:
            await settle(pilot)
            await pilot.press("question_mark")
            await pilot.pause()
            first = SECTIONS[0][1][0]
            paragraph = next(
                s
                for s in pilot.app.screen.query(".help-paragraph").results(Static)
                if str(s.render()) == first
            )
            region = paragraph.region  # the screen is tall enough to show the whole help
            shown = screen_lines(pilot)[region.y : region.bottom]
            lines = [row[region.x : region.right].rstrip() for row in shown if row.strip()]
            assert " ".join(line.strip() for line in lines).split() == first.split()
            assert all(len(line) <= paragraph.region.width for line in lines)
            rows[width] = lines

    for width in (60, 120):
        run(lambda width=width: scenario(width))  # type: ignore[misc]
    assert len(rows[120]) < len(rows[60])


async def test_an_empty_prompt_says_what_the_decode_starts_from(make_app: Any) -> None:
    async with make_app(prompt="").run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert status(pilot).startswith("The prompt is empty: the decode starts from the token")


async def test_below_60x20_the_terminal_says_it_is_too_small_and_the_decode_comes_back(
    make_app: Any,
) -> None:
    async with make_app().run_test(size=(40, 10)) as pilot:
        screen = await settle(pilot)
        await press(pilot, "space")  # the keys still work meanwhile
        assert screen.has_class("-too-small")
        shown = "\n".join(screen_lines(pilot))
        assert "The terminal is 40×10: spectui needs at least 60×20." in " ".join(shown.split())
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert not screen.has_class("-too-small")
        shown = "\n".join(screen_lines(pilot))
        assert "needs at least" not in shown and "tokens" in shown and "▸" in shown


async def test_a_long_message_is_read_whole_at_120_and_80_columns(tmp_path: Path) -> None:
    from spectui.cli import main

    path = tmp_path / "t.jsonl"
    assert main(["run", "--pair", "tiny", "--prompt", "It is", "--max-new-tokens", "8",
                 "--policy", "greedy", "--trace", str(path)]) == 0  # fmt: skip
    for size in ((120, 40), (80, 24)):
        async with replay_app(read_trace(path), timings=False).run_test(size=size) as pilot:
            await settle(pilot)
            await pilot.press("c")  # a replay cannot compare: the reason and what to do
            await pilot.pause()
            said = status(pilot)
            assert "needs `spectui` with the trace's models" in said
            shown = " ".join(" ".join(screen_lines(pilot)).split())
            assert said in shown, (size, said)  # whole, over as many rows as it takes
