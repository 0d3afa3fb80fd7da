"""Faults in the app: bad models, a crashing worker, bad settings, odd sizes, quitting, hang-ups.

The Pilot tests check that each fault is shown and leaves the app usable (or lets it exit
cleanly). The tmux tests run the real `spectui` command: `q` and ctrl+c must leave the shell
with a normal terminal, and a hang-up (an SSH connection dropping) must end the process.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import pty
import shlex
import shutil
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch
from app_helpers import PROMPT, Recorder, plain, press, send_key, settle, wait_until
from textual.notifications import Notify
from textual.widgets import Footer, Input, Static
from tmux_session import TmuxSession
from transformers import AutoModelForCausalLM

from spectui import cli
from spectui.app.app import SpectuiApp
from spectui.app.screens.help import HelpScreen
from spectui.app.screens.settings import SettingsScreen
from spectui.app.widgets import GatePanel, StatusHeader, TokenStream
from spectui.engine.errors import ModelLoadError
from spectui.engine.models.local import LocalVerifier

# --- bad models at start-up --------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["missing-verifier", "not-a-model", "out-of-memory"])
async def test_a_bad_model_at_start_up_exits_with_status_2_and_the_reason(
    make_app: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    """Nothing in the app can mend a model path: it exits, and `spectui` prints the reason."""
    overrides: dict[str, Any] = {}
    if fault == "missing-verifier":
        overrides["verifier"] = "/nonexistent/verifier"
        expected = "The verifier '/nonexistent/verifier' does not exist"
    elif fault == "not-a-model":
        (tmp_path / "notes.txt").write_text("not a model")
        overrides["verifier"] = str(tmp_path)
        expected = "Could not load the verifier from the directory"
    else:

        def from_pretrained(*args: Any, **kwargs: Any) -> Any:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

        monkeypatch.setattr(AutoModelForCausalLM, "from_pretrained", from_pretrained)
        expected = "Not enough memory to load the drafter"

    app = make_app(**overrides)
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: not pilot.app.is_running)
    screen = app.decode_screen
    # No public API tells an exit code from an exception that ended the app (Textual keeps it
    # in `_exception` for run_test to re-raise), so this one reads the private attribute.
    assert app.return_code == 2 and app._exception is None
    assert isinstance(screen.state.load_failure, ModelLoadError)
    assert expected in str(screen.state.load_failure) and screen.state.error is None


def test_the_command_prints_a_load_failure_as_spectui_run_does(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """One paragraph on stderr, exit status 2: cli.main's report of a SpectuiError."""
    failure = ModelLoadError("The verifier '/nowhere' does not exist: there is no directory.")

    def run_app(app: SpectuiApp) -> None:
        # what the screen keeps as the app exits
        app.decode_screen.state = replace(app.decode_screen.state, load_failure=failure)

    monkeypatch.setattr(SpectuiApp, "run", run_app)
    monkeypatch.setattr("spectui.commands.app.terminal_problem", lambda: None)
    assert cli.main(["--verifier", "/nowhere"]) == 2
    assert capsys.readouterr().err == f"spectui: {failure}\n"


# --- a fault inside the worker -----------------------------------------------------------------


async def test_an_exception_in_the_worker_is_shown_and_ctrl_r_restarts(
    make_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_score = LocalVerifier.score
    faults = {"left": 1}

    def score(self: Any, *args: Any) -> Any:
        if faults["left"]:
            faults["left"] -= 1
            raise RuntimeError("simulated fault in the verifier")
        return real_score(self, *args)

    monkeypatch.setattr(LocalVerifier, "score", score)

    async with make_app().run_test() as pilot:
        screen = await settle(pilot)
        await press(pilot, "space")  # drafts, then the verifier pass raises
        assert screen.state.phase == "error" and pilot.app.return_code is None
        shown = plain(screen.query_one("#error", Static), width=200)
        assert "RuntimeError: simulated fault in the verifier" in shown
        assert "ctrl+r retry" in shown
        await press(pilot, "ctrl+r")
        assert screen.state.phase == "ready" and screen.state.error is None
        assert not screen.query_one("#error", Static).display
        await press(pilot, "enter", "enter")
        assert screen.state.decode.stats is not None and screen.state.decode.stats.rounds == 2


async def test_a_fault_mid_decode_keeps_the_finished_rounds_and_a_retry_goes_on(
    make_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A verifier that fails in round 3 (a server that died): rounds 1-2 stay, ctrl+r resumes."""
    real_score = LocalVerifier.score
    calls = {"n": 0, "fail_at": 3}

    def score(self: Any, *args: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == calls["fail_at"]:
            raise RuntimeError("simulated fault in the verifier")
        return real_score(self, *args)

    async def finish(pilot: Any) -> list[str]:
        screen = await settle(pilot)
        while screen.state.phase not in ("finished", "error"):
            await press(pilot, "enter")
        return [
            piece.text for piece in screen.state.decode.history + screen.state.decode.round.appended
        ]

    async with make_app().run_test() as pilot:
        uninterrupted = await finish(pilot)
    monkeypatch.setattr(LocalVerifier, "score", score)
    async with make_app().run_test() as pilot:
        screen = await settle(pilot)
        await press(pilot, "enter", "enter")  # rounds 1 and 2
        kept = [piece.text for piece in screen.state.decode.pieces()]
        await press(pilot, "enter")  # round 3's verifier pass fails
        assert screen.state.phase == "error" and screen.state.decode.stats.rounds == 2
        assert [piece.text for piece in screen.state.decode.pieces()][: len(kept)] == kept
        shown = plain(screen.query_one("#error", Static), width=200)
        assert "ctrl+r retry from round 3" in shown
        await press(pilot, "ctrl+r")
        assert screen.state.phase == "ready" and screen.state.decode.stats.rounds == 2
        assert screen.state.event_log is not None and len(screen.state.event_log.rounds) == 2
        resumed = await finish(pilot)
        assert resumed == uninterrupted
        assert screen.state.decode.stats.rounds == len(screen.state.event_log.rounds)


# --- prompts -----------------------------------------------------------------------------------


def test_a_character_split_over_tokens_reaches_the_stream_whole(tiny_loaded: Any) -> None:
    from spectui.engine.config import DecodeConfig
    from spectui.engine.events import TokenAppended, TokenOrigin
    from spectui.engine.trace.source import LiveSource

    tokenizer = tiny_loaded.tokenizer
    ids = tokenizer(" 🙂 日本!").input_ids
    config = DecodeConfig(drafter=tiny_loaded.drafter_id, verifier=tiny_loaded.verifier_id)
    source = LiveSource(tiny_loaded, config, "Hi")  # what the worker posts as each token's text
    shown = [
        source.shown(TokenAppended(0, token, TokenOrigin.DRAFT, index))
        for index, token in enumerate(ids)
    ]
    assert "".join(shown) == " 🙂 日本!" and "\ufffd" not in "".join(shown)


@pytest.mark.parametrize(
    "prompt", ["", "   ", "Grüße 🙂🚀 naïve 日本"], ids=["empty", "blank", "emoji"]
)
async def test_unusual_prompts_in_the_app(make_app: Any, prompt: str) -> None:
    async with make_app(prompt).run_test(size=(120, 30)) as pilot:
        screen = await settle(pilot)
        await press(pilot, "enter", "enter")
        assert screen.state.phase == "ready" and pilot.app.return_code is None
        assert screen.state.decode.stats is not None and screen.state.decode.stats.rounds == 2
        stream = plain(screen.query_one("#stream-text", Static), width=200)
        if prompt.strip():
            assert stream.startswith(prompt)  # the emoji as typed, not mangled


# --- keys mashed faster than the app handles them ----------------------------------------------


async def test_a_dialog_closed_twice_at_once_closes_once(make_app: Any) -> None:
    """Two enters in the prompt editor used to pop the decode screen too (ScreenStackError)."""

    async with make_app().run_test() as pilot:
        screen = await settle(pilot)
        for keys in (["e", "enter", "enter"], ["e", "enter", "escape"], ["s", "escape"] * 2):
            run_id = screen.state.run_id
            for key in keys:
                send_key(pilot.app, key)
            await pilot.pause()
            await settle(pilot)
            assert pilot.app.return_code is None and pilot.app.screen is screen
            assert screen.state.run_id <= run_id + 1, "one restart at most"


async def test_page_keys_right_after_opening_the_policy_list(make_app: Any) -> None:
    """enter (open the drop-down) then page up at once used to raise KeyError in Textual."""

    async with make_app().run_test() as pilot:
        await settle(pilot)
        await pilot.press("s")
        settings = pilot.app.screen
        assert isinstance(settings, SettingsScreen)
        for page in ("pageup", "pagedown"):
            settings.query_one("#policy").focus()
            await pilot.pause()
            send_key(pilot.app, "enter")
            await asyncio.sleep(0)  # the drop-down opens, and is not laid out yet
            send_key(pilot.app, page)
            await pilot.pause()
            assert pilot.app.return_code is None
            await pilot.press("escape")  # close the drop-down


# --- parameters typed in the settings screen ---------------------------------------------------

BAD_SETTINGS = [
    ({"draft_span": "-1"}, "draft span k must be an integer 1..64, got '-1'"),
    ({"draft_span": "abc"}, "draft span k must be an integer 1..64, got 'abc'"),
    ({"p_thresh": "2"}, "p threshold must be a number 0..1, got '2'"),
    ({"p_thresh": ""}, "p threshold must be a number 0..1, got ''"),
    ({"topk_gate": "0"}, "top-k gate must be an integer ≥ 1, got '0'"),
    ({"topk_gate": "2.5"}, "top-k gate must be an integer ≥ 1, got '2.5'"),
    ({"margin_gate": "nan"}, "margin gate must be a number 0..1, got 'nan'"),
    ({"draft_span": "3", "p_thresh": "1.5"}, "p threshold must be a number 0..1, got '1.5'"),
]


async def test_settings_refuse_malformed_values_and_change_nothing(make_app: Any) -> None:
    async with make_app().run_test(size=(100, 40)) as pilot:
        screen = await settle(pilot)
        await press(pilot, "space", "space")  # mid-round
        before = screen.state.config
        for values, message in BAD_SETTINGS:
            await pilot.press("s")
            settings = pilot.app.screen
            assert isinstance(settings, SettingsScreen)
            for name, value in values.items():
                settings.query_one(f"#{name}", Input).value = value
            await pilot.press("ctrl+s")
            error = plain(settings.query_one("#settings-error", Static), width=100)
            assert message in error, (values, error)
            assert pilot.app.screen is settings, "a refused value keeps the screen open"
            await pilot.press("escape")
            assert pilot.app.screen is screen
            assert screen.state.config == before and screen.state.control.take_settings() is None
        await press(pilot, "enter", "enter")  # the rest of this round, then the next
        assert screen.state.decode.round is not None and screen.state.decode.round.config == before


# --- terminal sizes ----------------------------------------------------------------------------

SIZES = [(40, 12), (300, 100), (80, 24), (41, 13), (300, 12), (40, 100), (120, 40), (200, 60)]


async def test_sizes_from_40x12_to_300x100_mid_decode(make_app: Any) -> None:
    async with make_app(max_new_tokens=60).run_test(size=(80, 24)) as pilot:
        screen = await settle(pilot)
        await press(pilot, "space", "space", "plus", "plus")
        await pilot.press("p")  # resize while autoplay runs
        for size in SIZES + [(300, 100), (40, 12)]:
            await pilot.resize_terminal(*size)
            await pilot.pause()
            assert pilot.app.return_code is None
            assert (screen.size.width, screen.size.height) == size
            for widget in (StatusHeader, TokenStream, GatePanel, Footer):
                assert screen.query_one(widget).is_mounted
            if size[0] < 60 or size[1] < 20:  # below the smallest size: it says so instead
                assert screen.has_class("-too-small")
                continue
            assert screen.query_one(TokenStream).region.height >= 1
        await pilot.press("question_mark")  # a modal at the smallest size
        await pilot.resize_terminal(40, 12)
        await pilot.pause()
        assert isinstance(pilot.app.screen, HelpScreen)
        await pilot.press("escape")
        if screen.state.playing:
            await pilot.press("p")
        await wait_until(pilot, lambda: not screen.state.busy or screen.state.phase == "finished")
        assert pilot.app.return_code is None and screen.state.decode.stats is not None


async def test_ctrl_c_quits(make_app: Any) -> None:
    recorder = Recorder()

    async with make_app().run_test(message_hook=recorder, notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("space", "ctrl+c")
        await pilot.pause()
        # After the exit, return_code cannot say whether an exception came first: see above.
        assert not pilot.app.is_running and pilot.app._exception is None

    assert not any("Do you want to quit" in str(n.notification.title) for n in recorder.of(Notify))


# --- the real command in a real terminal -------------------------------------------------------

SPECTUI = Path(sys.executable).with_name("spectui")
PS1 = "spectui-test$ "


class Shell(TmuxSession):
    """A detached tmux session (80×24) running a bare bash, or one command via exec."""

    wait_timeout = 90.0
    check_capture = False

    def __init__(self, command: str | None = None) -> None:
        program = (
            f"exec {command}"
            if command
            else f"env PS1={shlex.quote(PS1)} bash --norc --noprofile -i"
        )
        super().__init__("spectui-faults", program)

    def show(self, formats: str) -> str:
        """tmux's view of the pane (e.g. "#{alternate_on}")."""
        return subprocess.run(
            ["tmux", "display-message", "-p", "-t", self.name, formats],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()


def _spectui(tiny_pair: Any) -> str:
    program = str(SPECTUI) if SPECTUI.exists() else "spectui"
    return shlex.join(
        [program, "--drafter", tiny_pair.drafter, "--verifier", tiny_pair.verifier]
        + ["--prompt", PROMPT, "--max-new-tokens", "60"]
    )


def _ready(screen: str) -> bool:
    return "press space to draft one" in screen


@pytest.fixture(scope="module")
def shells(tiny_pair: Any) -> Iterator[dict[str, Shell]]:
    """Three terminals started together (each process imports torch: start-up overlaps)."""
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    opened = {"q": Shell(), "ctrl+c": Shell(), "hangup": Shell(_spectui(tiny_pair))}
    for key in ("q", "ctrl+c"):
        opened[key].wait_for(lambda s: PS1.strip() in s, timeout=20)
        opened[key].send("-l", _spectui(tiny_pair))
        opened[key].send("Enter")
    yield opened
    for shell in opened.values():
        shell.close()


@pytest.mark.slow
@pytest.mark.parametrize("keys", [["q"], ["C-c"]], ids=["q", "ctrl+c"])
def test_quitting_restores_the_terminal(shells: dict[str, Shell], keys: list[str]) -> None:
    shell = shells["q" if keys == ["q"] else "ctrl+c"]
    shell.wait_for(_ready)
    shell.send("Space")  # mid-round
    shell.wait_for(lambda s: "0/5 checked" in s)
    assert shell.show("#{alternate_on}") == "1"
    shell.send(*keys)
    shell.wait_for(lambda s: s.rstrip().endswith(PS1.strip()), timeout=20)
    # Back on the main screen, cursor shown, no mouse reporting, exit status 0.
    flags = shell.show("#{alternate_on} #{cursor_flag} #{mouse_any_flag} #{mouse_button_flag}")
    assert flags == "0 1 0 0"
    shell.send("-l", 'echo "status=$?"; stty -a | tr " " "\\n" | grep -xE -- "-?(icanon|echo)"')
    shell.send("Enter")
    screen = shell.wait_for(lambda s: "status=" in s and s.rstrip().endswith(PS1.strip()))
    lines = screen.splitlines()
    assert "status=0" in lines
    assert "icanon" in lines and "echo" in lines, "cooked mode with echo: the terminal is normal"


def _descendants(pid: int) -> set[int]:
    children = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True
    ).stdout.split()
    found = {int(child) for child in children}
    for child in list(found):
        found |= _descendants(child)
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[-1][0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.slow
def test_a_hangup_mid_autoplay_ends_the_process(shells: dict[str, Shell]) -> None:
    shell = shells["hangup"]
    shell.wait_for(_ready)
    pid = int(shell.show("#{pane_pid}"))
    shell.send("+", "p")  # 10 steps/s: "max" is engine speed and could end the decode first
    shell.wait_for(lambda s: "playing" in s.splitlines()[0])
    threads = len(os.listdir(f"/proc/{pid}/task"))
    assert threads > 1, "the engine worker thread is running"
    family = _descendants(pid) | {pid}
    os.kill(pid, signal.SIGHUP)
    deadline = time.monotonic() + 5
    while any(_alive(process) for process in family):
        assert time.monotonic() < deadline, "still running 5 s after SIGHUP"
        time.sleep(0.05)


def _run_on_a_pty(options: list[str], timeout: float = 60.0) -> tuple[int, str]:
    """Run `spectui` on a pseudo-terminal (80×24); its exit status and all it wrote there."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-m", "spectui.cli", *options],  # what the `spectui` script runs
        cwd=Path(__file__).resolve().parents[2],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env={**os.environ, "TERM": "xterm-256color"},
    )
    os.close(follower)
    chunks: list[bytes] = []
    reader = threading.Thread(target=_read_until_closed, args=(leader, chunks), daemon=True)
    reader.start()  # a terminal nobody reads fills up and blocks the app's writes
    try:
        status = process.wait(timeout=timeout)
    finally:
        process.kill()
        reader.join(timeout=5)
        os.close(leader)
    return status, b"".join(chunks).decode(errors="replace").replace("\r\n", "\n")


def _read_until_closed(fd: int, chunks: list[bytes]) -> None:
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:  # EIO: every process holding the terminal has exited
            return
        if not data:
            return
        chunks.append(data)


@pytest.mark.slow
def test_a_missing_model_ends_the_real_command_as_spectui_run_does(tmp_path: Path) -> None:
    """The app's first frame comes, the load fails in the worker, the app exits with status 2
    and the paragraph `spectui run` prints follows on the restored terminal."""
    missing = str(tmp_path / "no-such-model")
    headless = subprocess.run(
        [sys.executable, "-m", "spectui.cli", "run", "--verifier", missing],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=180,
    )
    paragraph = headless.stderr.splitlines()[-1]
    assert headless.returncode == 2 and paragraph.startswith("spectui: The verifier"), paragraph
    status, shown = _run_on_a_pty(["--verifier", missing])
    assert status == 2, shown[-2000:]
    assert "loading" in shown, "the app was up before the load failed"
    assert shown.rstrip().endswith(paragraph), shown[-2000:]
    assert "Traceback" not in shown
