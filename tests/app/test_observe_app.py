"""`spectui observe`'s app, fed from real vLLM servers that speculate (tests/conftest.py's
`speculating_servers`): the table of requests worst first, a request the server reported, a
request spectui rebuilt (the decode screen on its trace), `w`, and snapshots.

The requests are observed once for the module through the command's own path
(`observe_all`), greedy, 40 tokens, fixed prompts: the same requests every run. Timings are
hidden in the app (they vary).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from app_helpers import plain, wait_until
from textual.pilot import Pilot
from textual.widgets import DataTable, Static
from vllm_servers import PROMPTS

from spectui.app.observe.app import ObserveApp
from spectui.app.observe.request import RequestScreen
from spectui.app.observe.requests import RequestsScreen
from spectui.app.observe.view import row_cells, stream_text
from spectui.app.replay import replay_app
from spectui.app.screens.decode import DecodeScreen
from spectui.app.sessions import TraceSession
from spectui.app.widgets import StatusLine
from spectui.cli import build_parser
from spectui.commands.observe import observe_all
from spectui.engine.observe.request import ObservedRequest, acceptance_order, step_groups
from spectui.engine.trace.reader import read_trace
from spectui.models import BUNDLED_VERIFIER

pytestmark = pytest.mark.vllm
SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]


def observe(url: str, *extra: str, traces: Path | None = None) -> list[ObservedRequest]:
    """The prompts observed at `url` as `spectui observe` observes them for the app."""
    argv = ["observe", url, *(f"--prompt={p}" for p in PROMPTS), "--max-new-tokens", "40"]
    args = build_parser().parse_args([*argv, *extra])
    requests, failure = observe_all(args, traces)
    assert failure is None
    return requests


@pytest.fixture(scope="module")
def observed(
    speculating_servers: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, list[ObservedRequest]]:
    """Three readings of real requests: n-gram drafts rebuilt (no verifier here), the server's
    counts only (its draft model not given: as EAGLE or MTP), and rebuilt by the engine with a
    local copy of the verifier (traces kept)."""
    traces = tmp_path_factory.mktemp("observed") / "observed.jsonl"
    ngram = speculating_servers["ngram"]
    local = ["--drafter", "ngram", "--verifier", str(BUNDLED_VERIFIER)]
    return {
        "ngram": observe(ngram, "--drafter", "ngram"),
        "server": observe(speculating_servers["draft_model"]),
        "local": observe(ngram, *local, traces=traces),
    }


def make_app(requests: Sequence[ObservedRequest]) -> ObserveApp:
    return ObserveApp(requests, timings=False)


def table_numbers(pilot: Pilot[Any]) -> list[int]:
    table: DataTable[Any] = pilot.app.screen.query_one(DataTable)
    return [int(str(table.get_row_at(row)[0])) for row in range(table.row_count)]


async def open_number(pilot: Pilot[Any], number: int) -> None:
    """Move the table's cursor to request `number` and press enter."""
    table: DataTable[Any] = pilot.app.screen.query_one(DataTable)
    table.move_cursor(row=table_numbers(pilot).index(number))
    await pilot.pause()
    await pilot.press("enter")
    await pilot.pause()


def said(pilot: Pilot[Any]) -> str:
    return pilot.app.screen.query_one(StatusLine).message


def footer_keys(pilot: Pilot[Any]) -> list[str]:
    shown = [active.binding for active in pilot.app.screen.active_bindings.values()]
    return [binding.key for binding in shown if binding.show]


# --- the table ------------------------------------------------------------------------------


async def test_the_table_lists_every_request_worst_first_with_the_servers_counts(
    observed: dict[str, list[ObservedRequest]],
) -> None:
    requests = observed["ngram"]
    async with make_app(requests).run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        numbers = table_numbers(pilot)
        rates = [requests[n - 1].figures["draft_acceptance_rate"] for n in numbers]
        assert sorted(numbers) == [1, 2, 3] and rates == sorted(rates)  # type: ignore[type-var]
        table: DataTable[Any] = pilot.app.screen.query_one(DataTable)
        for row, number in enumerate(numbers):
            cells = [str(cell).strip() for cell in table.get_row_at(row)]
            server = requests[number - 1].observed.server
            assert cells[3] == str(server["num_draft_tokens"])  # drafted
            assert cells[4] == str(server["num_accepted_draft_tokens"])  # accepted
            assert cells[5] == f"{server['draft_acceptance_rate']:.2f}"  # α per drafted
            assert cells[9] == "✓ ngram"  # rebuilt, and the server's every step
        assert footer_keys(pilot)[:2] == ["question_mark", "q"]


async def test_every_key_is_in_the_command_palette(
    observed: dict[str, list[ObservedRequest]],
) -> None:
    app = make_app(observed["server"])
    async with app.run_test() as pilot:
        await pilot.pause()
        names = {command.title for command in app.get_system_commands(app.screen)}
        assert {"Help", "Quit", "Open", "Save trace"} <= names
        await open_number(pilot, 1)
        names = {command.title for command in app.get_system_commands(app.screen)}
        assert {"Help", "Quit", "Requests", "Save trace"} <= names


# --- a request the server reported ----------------------------------------------------------


async def test_a_server_only_request_shows_its_steps_and_says_what_it_cannot_see(
    observed: dict[str, list[ObservedRequest]], tmp_path: Path
) -> None:
    request = observed["server"][0]
    async with make_app(observed["server"]).run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await open_number(pilot, 1)
        screen = pilot.app.screen
        assert isinstance(screen, RequestScreen) and screen.request is request
        assert footer_keys(pilot)[:2] == ["question_mark", "q"]
        seen = str(screen.query_one("#request-seen").render())
        assert "Only the server's counts" in seen and "not in the server's response" in seen
        # Every step is placed (a draft model drafts at every step): the prefill's token, then
        # one group per server step, each its accepted drafts and the verifier's token.
        groups = step_groups(request)
        assert groups is not None
        server = request.observed.server
        assert [g.drafted for g in groups[1:]] == server["per_step_drafted"]
        assert [len(g.accepted) for g in groups[1:]] == server["per_step_accepted"]
        joined = "".join("".join(g.accepted) + (g.verifier or "") for g in groups)
        assert request.observed.text.startswith(joined) or joined.startswith(request.observed.text)
        await pilot.press("w")
        assert "No trace for request 1" in said(pilot) and "no probabilities" in said(pilot)
        assert not list(tmp_path.glob("*.jsonl"))  # nothing invented, nothing written
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(pilot.app.screen, RequestsScreen)


async def test_an_ngram_request_shows_the_rebuilt_rejected_drafts(
    observed: dict[str, list[ObservedRequest]],
) -> None:
    request = observed["ngram"][0]
    groups = step_groups(request)
    assert groups is not None and request.rebuilt is not None
    # The rebuilt steps place every token, the draftless steps as 0/0; the rejected drafts
    # have their text (the server's /detokenize).
    assert len(groups) == 1 + len(request.rebuilt)
    rejected = [g.rejected for g in groups[1:] if g.rejected]
    assert rejected and all(all(not text.startswith("⟨") for text in r) for r in rejected)
    struck = [span for span in stream_text(request).spans if "strike" in str(span.style)]
    assert len(struck) == sum(len(r) for r in rejected)
    async with make_app(observed["ngram"]).run_test() as pilot:
        await pilot.pause()
        await open_number(pilot, 1)
        await pilot.press("w")
        assert "--verifier DIR" in said(pilot) and "n-gram lookup" in said(pilot)


# --- a request spectui rebuilt: the decode screen on its trace --------------------------------


async def test_a_rebuilt_request_opens_the_decode_screen_on_its_trace(
    observed: dict[str, list[ObservedRequest]],
) -> None:
    request = observed["local"][1]
    assert request.local is not None and request.trace is not None
    async with make_app(observed["local"]).run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await open_number(pilot, request.number)
        screen = pilot.app.screen
        assert isinstance(screen, DecodeScreen) and isinstance(screen.state.session, TraceSession)
        assert "r: requests" in screen.status_text
        await pilot.press("enter", "enter")  # two rounds, gate checks and all
        await screen.settled()
        log = screen.state.event_log
        assert log is not None
        rounds = log.rounds
        assert [(len(r.draft_ids), r.n_accepted) for r in rounds[:2]] == [
            (s.drafted, s.accepted) for s in request.local.steps[:2]
        ]
        assert "r" in footer_keys(pilot)
        await pilot.press("question_mark")  # the help lists r too
        await pilot.pause()
        help_text = " ".join(plain(w, 120) for w in pilot.app.screen.query(Static))
        assert "Back to the table of requests" in help_text
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("r")
        await pilot.pause()
        assert isinstance(pilot.app.screen, RequestsScreen)


async def test_w_saves_a_rebuilt_trace_that_replays(
    observed: dict[str, list[ObservedRequest]], tmp_path: Path
) -> None:
    request = observed["local"][0]
    assert request.local is not None
    async with make_app(observed["local"]).run_test() as pilot:
        await pilot.pause()
        table: DataTable[Any] = pilot.app.screen.query_one(DataTable)
        table.move_cursor(row=table_numbers(pilot).index(request.number))
        await pilot.press("w")
        assert said(pilot).startswith("Trace saved")
    saved = tmp_path / "spectui-trace.jsonl"  # where tests/app/conftest.py sends w
    trace = read_trace(saved)
    assert len(trace.rounds) == len(request.local.steps)
    app = replay_app(trace, timings=False)
    async with app.run_test() as pilot:
        screen = app.decode_screen
        await screen.settled()
        await pilot.press("f")  # to the end, at engine speed
        await wait_until(pilot, lambda: screen.state.phase == "finished")
        assert screen.state.event_log is not None
        played = [(len(r.draft_ids), r.n_accepted) for r in screen.state.event_log.rounds]
        assert played == [(s.drafted, s.accepted) for s in request.local.steps]


def test_the_worst_first_order_puts_a_request_that_drafted_nothing_first(
    observed: dict[str, list[ObservedRequest]],
) -> None:
    """A request with no drafts gained nothing from speculation: it leads the table."""
    from dataclasses import replace

    from spectui.engine.observe.steps import StepReading

    first, *rest = observed["ngram"]
    nothing = replace(first, reading=StepReading(()), rebuilt=None)
    assert acceptance_order([*rest, nothing])[0] is nothing
    assert row_cells(nothing)[5] == "—"


# --- snapshots ------------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_table(
    snap_compare: Any, observed: dict[str, list[ObservedRequest]], size: tuple[int, int]
) -> None:
    """The n-gram server's requests, worst first, the highlighted one's steps below."""
    assert snap_compare(make_app(observed["ngram"]), terminal_size=size)


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_server_only_request(
    snap_compare: Any, observed: dict[str, list[ObservedRequest]], size: tuple[int, int]
) -> None:
    """A draft-model request with only the server's counts: ✗n where drafts were rejected."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        await open_number(pilot, 1)

    app = make_app(observed["server"])
    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_snapshot_ngram_request(
    snap_compare: Any, observed: dict[str, list[ObservedRequest]]
) -> None:
    """An n-gram request rebuilt here: its rejected drafts struck out, its draftless steps."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        await open_number(pilot, 2)

    app = make_app(observed["ngram"])
    assert snap_compare(app, terminal_size=(160, 48), run_before=run_before)


def test_snapshot_rebuilt_request_in_the_decode_screen(
    snap_compare: Any, observed: dict[str, list[ObservedRequest]]
) -> None:
    """A request rebuilt with the local verifier: the decode screen, played to the first round
    that accepted two drafts or more."""
    local = observed["local"][0].local
    assert local is not None
    rounds = 1 + next(at for at, step in enumerate(local.steps) if step.accepted >= 2)

    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        await open_number(pilot, 1)
        screen = pilot.app.screen
        assert isinstance(screen, DecodeScreen)
        await pilot.press(*["enter"] * rounds)
        await screen.settled()
        await pilot.pause()

    app = make_app(observed["local"])
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


async def test_a_server_error_mid_run_keeps_the_requests_observed(
    speculating_servers: dict[str, str],
) -> None:
    """The second prompt is longer than the server's context (256): its error ends the run,
    and the app opens on the first request with the error in a panel of its own."""
    url = speculating_servers["ngram"]
    argv = ["observe", url, f"--prompt={PROMPTS[1]}", "--prompt", "word " * 300]
    args = build_parser().parse_args([*argv, "--max-new-tokens", "8"])
    requests, failure = observe_all(args, None, keep_going=True)
    assert len(requests) == 1 and failure is not None
    async with ObserveApp(requests, failure=str(failure), timings=False).run_test() as pilot:
        await pilot.pause()
        assert table_numbers(pilot) == [1]
        shown = str(pilot.app.screen.query_one("#requests-failure").render())
        assert str(failure)[:40] in shown.replace("\n", " ")
