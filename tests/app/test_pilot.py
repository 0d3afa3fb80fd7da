"""Pilot tests: press the app's keys and check widget state and the messages posted."""

from __future__ import annotations

from typing import Any

from app_helpers import PROMPT, Recorder, plain, press, settle, wait_until
from textual.binding import Binding
from textual.widgets import Input, Static

from spectui.app import messages
from spectui.app.keys import describe
from spectui.app.rounds import PieceKind
from spectui.app.screens.help import HelpScreen
from spectui.app.screens.prompt import PromptScreen
from spectui.app.screens.settings import SettingsScreen
from spectui.app.widgets import GatePanel, StatusLine, TokenDetail
from spectui.engine import events


def notes(recorder: Recorder) -> list[str]:
    """What the status line was given to say, in order."""
    return [m.text for m in recorder.of(StatusLine.Said)]


async def test_app_loads_then_waits_for_the_first_step(make_app: Any) -> None:
    recorder = Recorder()

    async with make_app().run_test(message_hook=recorder) as pilot:
        screen = await settle(pilot)
        assert screen.state.phase == "ready"
        assert screen.state.decode.prompt == PROMPT and screen.state.decode.round is None
        assert "soft-guarded" in screen.status_text
        assert recorder.of(messages.LoadProgress), "loading progress is shown"
        assert len(recorder.of(messages.ModelsReady)) == 1
        assert not recorder.events(events.RoundDrafted), "nothing is drafted before a key"


async def test_space_reveals_one_gate_check_at_a_time(make_app: Any) -> None:
    recorder = Recorder()

    async with make_app().run_test(message_hook=recorder) as pilot:
        screen = await settle(pilot)
        await press(pilot, "space")  # at a round boundary: draft
        current = screen.state.decode.round
        assert current is not None and len(current.drafts) == 5 and current.n_checked == 0
        assert [p.kind for p in screen.state.decode.pieces()] == [PieceKind.PENDING] * 5
        for step in (1, 2):
            await press(pilot, "space")
            assert current.n_checked == step
            assert len(recorder.events(events.TokenChecked)) == step
        assert not recorder.events(events.RoundFinished)


async def test_enter_finishes_the_round_and_fills_the_stats(make_app: Any) -> None:
    recorder = Recorder()

    async with make_app().run_test(message_hook=recorder) as pilot:
        screen = await settle(pilot)
        await press(pilot, "space", "space", "enter")
        assert screen.state.decode.round is not None and screen.state.decode.round.finished
        assert len(recorder.events(events.RoundFinished)) == 1
        stats = screen.state.decode.stats
        assert stats is not None and stats.rounds == 1 and stats.verifier_forwards >= 1
        await press(pilot, "enter")  # between rounds: one whole round
        assert len(recorder.events(events.RoundFinished)) == 2
        assert screen.state.decode.round.index == 1 and screen.state.decode.round.finished
        stats = screen.state.decode.stats
        assert stats is not None and screen.state.decode.n_generated == stats.new_tokens


async def test_policy_toggle_takes_effect_from_the_next_round(make_app: Any) -> None:
    async with make_app().run_test() as pilot:
        screen = await settle(pilot)
        await press(pilot, "space", "space", "t")  # t cycles: soft → sample → greedy
        assert screen.state.config.policy == "sample"
        assert "speculative-sampling from next round" in screen.status_text
        await press(pilot, "t", "t", "t")  # sample → relaxed → typical → greedy
        assert screen.state.config.policy == "greedy"
        assert "greedy-exact from next round" in screen.status_text
        assert (
            screen.state.decode.round is not None
            and screen.state.decode.round.config.policy == "soft"
        )
        await press(pilot, "enter", "enter")
        current = screen.state.decode.round
        assert current.config.policy == "greedy" and current.index == 1
        assert "greedy-exact" in screen.status_text
        assert "next round" not in screen.status_text
        for slot in current.drafts:
            if slot.check is not None:
                assert slot.check.check.policy == "greedy"
                assert slot.check.check.accepted == (slot.check.check.rank == 1)
        await press(pilot, "t")
        assert "soft-guarded" in screen.status_text


async def test_autoplay_runs_until_paused_and_speed_keys_change_it(make_app: Any) -> None:
    async with make_app().run_test() as pilot:
        screen = await settle(pilot)
        speed = screen.state.control.speed
        await pilot.press("minus")
        assert screen.state.control.speed == speed - 1
        await pilot.press("plus", "plus", "plus", "plus", "plus")  # clamps at "max"
        assert "max" in screen.status_text
        await pilot.press("minus")  # 10 steps/s: "max" would finish the tiny decode at once
        await pilot.press("p")
        assert screen.state.playing and "playing" in screen.status_text
        await wait_until(
            pilot,
            lambda: screen.state.decode.stats is not None and screen.state.decode.stats.rounds >= 2,
        )
        await pilot.press("p")
        await settle(pilot)
        assert not screen.state.playing and "paused" in screen.status_text
        rounds = screen.state.decode.stats.rounds
        await pilot.pause(0.2)
        assert screen.state.decode.stats.rounds == rounds, "paused means paused"


async def test_decode_runs_to_the_end_and_then_refuses_steps(make_app: Any) -> None:
    recorder = Recorder()

    app = make_app(max_new_tokens=8)
    async with app.run_test(message_hook=recorder, notifications=True) as pilot:
        screen = await settle(pilot)
        await pilot.press("plus", "plus", "plus", "p")
        await wait_until(pilot, lambda: screen.state.phase == "finished")
        await settle(pilot)
        assert not screen.state.playing
        assert "finished (max tokens)" in screen.status_text
        assert screen.state.decode.n_generated == 8
        # The key stays offered: pressed at the end, it says what can be done next.
        assert screen.check_action("step", ()) is True
        drafted = len(recorder.events(events.RoundDrafted))
        await pilot.press("space")
        await pilot.pause()
        assert len(recorder.events(events.RoundDrafted)) == drafted
        screen.action_step()  # as the command palette would
        await pilot.pause()
        assert any("The decode has ended: ctrl+r restarts" in note for note in notes(recorder))


async def test_settings_screen_refuses_bad_values_with_the_allowed_range(make_app: Any) -> None:
    recorder = Recorder()

    async with make_app().run_test(message_hook=recorder, notifications=True) as pilot:
        screen = await settle(pilot)
        await pilot.press("s")
        settings = pilot.app.screen
        assert isinstance(settings, SettingsScreen)
        settings.query_one("#p_thresh", Input).value = "1.5"
        await pilot.press("ctrl+s")
        error = settings.query_one("#settings-error", Static)
        assert "p threshold must be a number 0..1, got '1.5'" in plain(error)
        assert pilot.app.screen is settings, "a bad value keeps the screen open"
        settings.query_one("#p_thresh", Input).value = "0.3"
        settings.query_one("#draft_span", Input).value = "3"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert pilot.app.screen is screen
        assert screen.state.config.p_thresh == 0.3 and screen.state.config.draft_span == 3
        await press(pilot, "space")
        assert screen.state.decode.round is not None
        assert len(screen.state.decode.round.drafts) == 3
        assert screen.state.decode.round.config.p_thresh == 0.3


async def test_span_keys_refuse_values_out_of_range(make_app: Any) -> None:
    recorder = Recorder()

    async with make_app(draft_span=2).run_test(message_hook=recorder, notifications=True) as pilot:
        screen = await settle(pilot)
        await pilot.press("left_square_bracket")
        assert screen.state.config.draft_span == 1
        await pilot.press("left_square_bracket")
        await pilot.pause()
        assert screen.state.config.draft_span == 1
        refused = "Setting refused: draft span k must be an integer 1..64, got 0"
        assert refused in notes(recorder)
        await pilot.press("right_square_bracket")
        assert screen.state.config.draft_span == 2 and "k=2" in screen.status_text


async def test_edit_prompt_restarts_without_reloading_models(make_app: Any) -> None:
    recorder = Recorder()

    async with make_app().run_test(message_hook=recorder) as pilot:
        screen = await settle(pilot)
        await press(pilot, "space", "space")
        await pilot.press("e")
        editor = pilot.app.screen
        assert isinstance(editor, PromptScreen)
        editor.query_one(Input).value = "She walked into the"
        await pilot.press("enter")
        screen = await settle(pilot)
        assert screen.state.decode.prompt == "She walked into the"
        assert screen.state.decode.round is None and screen.state.phase == "ready"
        assert len(recorder.of(messages.ModelsReady)) == 1
        await press(pilot, "space")
        assert screen.state.decode.round is not None


async def test_ctrl_r_restarts_the_decode(make_app: Any) -> None:
    recorder = Recorder()

    async with make_app().run_test(message_hook=recorder) as pilot:
        screen = await settle(pilot)
        await press(pilot, "enter", "enter")
        first_run = [m.draft_ids for m in recorder.events(events.RoundDrafted)]
        run_id = screen.state.run_id
        await press(pilot, "ctrl+r")
        assert screen.state.run_id == run_id + 1 and screen.state.decode.n_generated == 0
        await press(pilot, "enter", "enter")
        second_run = [m.draft_ids for m in recorder.events(events.RoundDrafted)][2:]
        assert second_run == first_run, "greedy drafts replay identically"
        assert len(recorder.of(messages.ModelsReady)) == 1


async def test_arrow_keys_select_a_token_and_show_its_gates_and_bars(make_app: Any) -> None:
    async with make_app().run_test() as pilot:
        screen = await settle(pilot)
        await press(pilot, "space", "space", "space")
        pieces = screen.state.decode.pieces()
        await pilot.press("left")
        assert screen.state.selected == len(pieces) - 1
        assert not screen.query_one(GatePanel).display, "at 80 columns the detail replaces it"
        await pilot.press("left", "left", "left")
        piece = screen.state.selected_piece()
        assert piece is not None and piece.kind is PieceKind.DRAFT and piece.position == 1
        detail = screen.query_one(TokenDetail)
        assert detail.display and detail.border_title == "selected token"
        shown = plain(detail)
        assert "verifier top-10" in shown and "gates" in shown and "▸ soft-guarded" in shown
        await pilot.press("home")
        assert screen.state.selected == 0
        await pilot.press("escape")
        assert screen.state.selected is None and screen.query_one(GatePanel).display
        assert not screen.query_one(TokenDetail).display
        await pilot.press("left", "right")
        assert screen.state.selected is None, "past the last token is live again"


async def test_models_that_cannot_load_end_the_app_with_status_2(make_app: Any) -> None:
    """No decode ever starts; the reason waits for the command to print (as `spectui run`)."""
    recorder = Recorder()

    app = make_app(drafter="/nonexistent/drafter")
    async with app.run_test(message_hook=recorder) as pilot:
        await wait_until(pilot, lambda: not pilot.app.is_running)
    assert app.return_code == 2
    assert "does not exist" in str(app.decode_screen.state.load_failure)
    assert recorder.of(messages.LoadProgress), "loading had begun in the app"
    assert not recorder.of(messages.ModelsReady) and not recorder.of(messages.DecodeStarted)


async def test_prompt_too_long_is_reported_and_a_new_prompt_recovers(make_app: Any) -> None:
    async with make_app("word " * 80).run_test() as pilot:
        screen = await settle(pilot)
        assert screen.state.phase == "error" and "shorten it" in (screen.state.error or "")
        await pilot.press("e")
        pilot.app.screen.query_one(Input).value = PROMPT
        await pilot.press("enter")
        screen = await settle(pilot)
        assert screen.state.phase == "ready" and screen.state.error is None
        assert not screen.query_one("#error", Static).display


async def test_help_lists_every_key(make_app: Any) -> None:
    async with make_app().run_test(size=(100, 50)) as pilot:
        screen = await settle(pilot)
        await pilot.press("question_mark")
        help_screen = pilot.app.screen
        assert isinstance(help_screen, HelpScreen)
        text = " ".join(plain(w, 100) for w in help_screen.query(Static))
        for binding in help_screen.bindings:
            assert describe(binding) in " ".join(text.split())
        for word in ("space", "enter", "ctrl+r", "ctrl+p", "(1 − α^(k+1)) / (1 − α)"):
            assert word in text
        await pilot.press("question_mark")
        assert pilot.app.screen is screen


async def test_command_palette_offers_every_action(make_app: Any) -> None:
    """The palette is made from the screen's BINDINGS: every key's action is there by name."""

    async with make_app().run_test() as pilot:
        screen = await settle(pilot)
        commands: dict[str, Any] = {}
        for command in pilot.app.get_system_commands(screen):  # ours first, then Textual's
            commands.setdefault(command.title, command)
        for binding in screen.BINDINGS:
            assert isinstance(binding, Binding)
            # Offered only with a sweep (test_sweep_view), and in a tree round (test_tree_screen).
            if binding.action in ("sweep", "focus_tree"):
                assert binding.description not in commands
                continue
            assert binding.description in commands, binding
            assert describe(binding) in commands[binding.description].help
        for title in ("Policy: greedy-exact", "Policy: speculative-sampling"):
            assert title in commands
        await commands["Step"].callback()
        await settle(pilot)
        assert screen.state.decode.round is not None
        await commands["Policy"].callback()
        assert screen.state.config.policy == "sample"  # the cycle after soft-guarded
        await commands["Policy: greedy-exact"].callback()
        assert screen.state.config.policy == "greedy"


async def test_resizes_keep_the_layout_working(make_app: Any) -> None:
    async with make_app().run_test(size=(80, 24)) as pilot:
        screen = await settle(pilot)
        await press(pilot, "space", "space")
        for size, layout in (
            ((160, 48), "-wide"),
            ((60, 16), "-narrow"),
            ((40, 10), "-narrow"),
            ((120, 40), "-wide"),
            ((80, 24), "-narrow"),
        ):
            await pilot.resize_terminal(*size)
            await pilot.pause()
            assert screen.has_class(layout)
            if size[0] < 60 or size[1] < 20:  # below the smallest size: it says so instead
                assert screen.has_class("-too-small")
                continue
            assert screen.query_one("#stream").region.height >= 1
        await press(pilot, "space", "left")
        assert screen.query_one(TokenDetail).region.height > 2


async def test_quit(make_app: Any) -> None:
    async with make_app().run_test() as pilot:
        await settle(pilot)
        await pilot.press("q")
        await pilot.pause()
        assert not pilot.app.is_running
