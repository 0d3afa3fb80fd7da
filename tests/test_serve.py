"""`spectui serve`: who may reach it (loopback, the token on every route, the websocket's
origin), the cap on visits, and what each visit runs.

The server is built in this process (aiohttp's test server) with a stand-in visit, `head -c 1`,
that waits for the server's first word and exits: the guard and the cap are what is tested,
not the app. One test starts the real command. The app in a real browser is
tests/test_serve_browser.py.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import re
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import httpx
import pytest
from aiohttp import WSServerHandshakeError, web
from aiohttp.test_utils import TestClient, TestServer
from served import free_port, serving

from spectui.cli import build_parser, main
from spectui.commands.app import add_view_arguments
from spectui.commands.serve import forwarded_options
from spectui.serve.access import Access, is_loopback
from spectui.serve.server import SpectuiServer

TRACE = Path(__file__).resolve().parent / "data" / "trace-v1-soft.jsonl"
TOKEN = "A-secret_token-0123456789"
VISIT = "head -c 1 > /dev/null"  # a visit that ends when the server says its first word


def server_with(token: str | None, max_visits: int = 4) -> SpectuiServer:
    return SpectuiServer(
        VISIT,
        host="127.0.0.1",
        port=8000,
        title="spectui: test",
        public_url="http://127.0.0.1:8000",
        access=Access(token=token, cookie="spectui-token-8000"),
        max_visits=max_visits,
        banner="spectui serve: test",
    )


@contextlib.asynccontextmanager
async def client_of(server: SpectuiServer) -> AsyncIterator[TestClient]:
    app = await server._make_app()
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise TimeoutError("the condition never held")


# --- who may reach it ------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "example.org", ""])
def test_a_wide_bind_without_a_token_is_refused_in_one_paragraph(
    host: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SPECTUI_SERVE_TOKEN", raising=False)
    started = time.monotonic()
    assert main(["serve", "--pair", "tiny", "--host", host]) == 2
    assert time.monotonic() - started < 5, "refused before anything listens"
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err  # one paragraph
    assert err.startswith(f"spectui: --host {host or repr('')} would let anyone"), err
    assert "--new-token" in err and "--token TOKEN" in err and "ssh -L 8000:127.0.0.1:8000" in err


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--host=::", "--token", "short"], "--token must be at least 16 characters"),
        (["--token", "has spaces in it, so no"], "--token must be at least 16 characters"),
        (["--token", TOKEN, "--new-token"], "give --token or --new-token, not both"),
        (["--replay", str(TRACE), "--draft-span", "3"], "--replay plays the trace with its own"),
        (["--draft-span", "0"], "--draft-span must be an integer 1..64, got 0"),
    ],
    ids=["short-token", "spaced-token", "both", "replay-and-settings", "bad-setting"],
)
def test_bad_usage_is_refused_before_serving(
    argv: list[str], words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with contextlib.suppress(SystemExit):  # a ConfigError exits through argparse (status 2)
        assert main(["serve", *argv]) == 2
    assert words in capsys.readouterr().err


def test_a_taken_port_is_refused_before_a_url_is_printed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--pair", "tiny", "--port", str(port)]) == 2
    printed = capsys.readouterr()
    assert printed.out == "", "no URL to open"
    assert (
        printed.err.strip() == f"spectui: cannot listen on 127.0.0.1:{port}: Address already in use"
    )


def test_loopback_is_this_machine_only() -> None:
    for host in ("127.0.0.1", "127.3.2.1", "::1", "[::1]", "localhost", "LOCALHOST"):
        assert is_loopback(host), host
    for host in ("0.0.0.0", "::", "", "10.0.0.1", "example.org", "localhost.example.org"):
        assert not is_loopback(host), host


async def test_without_the_token_every_route_gets_403_and_with_it_200() -> None:
    async with client_of(server_with(TOKEN)) as client:
        for path in ("/", "/static/js/textual.js", "/download/some-key"):
            refused = await client.get(path)
            assert refused.status == 403, path
            assert "no token" in await refused.text()
        wrong = await client.get("/", params={"token": TOKEN[:-1] + "x"})
        assert wrong.status == 403 and "a wrong token" in await wrong.text()
        page = await client.get("/", params={"token": TOKEN})
        assert page.status == 200 and "spectui: test" in await page.text()
        assert page.headers["Cache-Control"] == "no-store"  # see test_serve_browser.py
        cookie = page.headers["Set-Cookie"]
        assert f"spectui-token-8000={TOKEN}" in cookie
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        script = await client.get(
            "/static/js/textual.js", headers={"Cookie": f"spectui-token-8000={TOKEN}"}
        )
        assert script.status == 200  # the page's own requests carry the cookie


async def test_the_websocket_needs_the_token_and_the_page_s_own_origin() -> None:
    server = server_with(TOKEN)
    async with client_of(server) as client:
        client.session.cookie_jar.clear()
        for headers in (
            {},
            {"Cookie": "spectui-token-8000=not-the-token-at-all"},
            {"Cookie": f"spectui-token-8000={TOKEN}", "Origin": "http://evil.example"},
        ):
            with pytest.raises(WSServerHandshakeError) as refused:
                await client.ws_connect("/ws", headers=headers)
            assert refused.value.status == 403, headers
        origin = f"http://{client.host}:{client.port}"
        visit = await client.ws_connect(
            "/ws", headers={"Cookie": f"spectui-token-8000={TOKEN}", "Origin": origin}
        )
        await until(lambda: server.visits.open == 1)
        await visit.close()
        await until(lambda: server.visits.open == 0)  # its process ended with it


async def test_without_a_token_only_a_loopback_name_is_served() -> None:
    async with client_of(server_with(None)) as client:
        assert (await client.get("/")).status == 200
        rebound = await client.get("/", headers={"Host": "evil.example:8000"})
        assert rebound.status == 403  # another site's name resolved to 127.0.0.1
        with pytest.raises(WSServerHandshakeError) as refused:
            await client.ws_connect("/ws", headers={"Origin": "http://evil.example"})
        assert refused.value.status == 403


# --- the cap ---------------------------------------------------------------------------------


async def test_past_max_visits_a_page_says_full_until_one_closes() -> None:
    server = server_with(None, max_visits=1)
    async with client_of(server) as client:
        first = await client.ws_connect("/ws")
        await until(lambda: server.visits.open == 1)
        full = await client.get("/")
        text = await full.text()
        assert full.status == 503 and "at most 1 at once" in text and "--max-visits" in text
        with pytest.raises(WSServerHandshakeError) as refused:
            await client.ws_connect("/ws")
        assert refused.value.status == 503
        await first.close()
        await until(lambda: server.visits.open == 0)
        assert (await client.get("/")).status == 200


async def test_stopping_the_server_ends_its_open_visits_at_once() -> None:
    server = server_with(None)
    runner = web.AppRunner(await server._make_app())  # as web.run_app, which serve() calls
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    async with aiohttp.ClientSession() as session:
        visit = await session.ws_connect(f"http://127.0.0.1:{port}/ws")
        reading = asyncio.create_task(visit.receive())  # a browser reads all the time
        await until(lambda: server.visits.open == 1)
        loop = asyncio.get_running_loop()
        started = loop.time()
        await runner.cleanup()  # what ctrl+c does
        assert loop.time() - started < 5, "it waited on the open websocket"
        assert server.visits.open == 0
        reading.cancel()
    gc.collect()  # textual-serve leaves a visit's pipes to the collector: while the loop runs


# --- what a visit runs -----------------------------------------------------------------------


def test_the_app_options_reach_each_visit_as_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPECTUI_API_KEY", raising=False)
    given = [
        *("--pair", "tiny", "--policy", "greedy", "--draft-span", "3", "--no-bonus"),
        *("--prompt", "-starts with a dash", "--prompt", "two words", "--text-marks"),
        *("--compare", "greedy,sample", "--system", "Be brief.", "--p-thresh", "0.1"),
    ]
    served = build_parser().parse_args(["serve", "--port", "8123", *given])
    forwarded = forwarded_options(served)
    assert not any("8123" in option for option in forwarded), "the server's own stay home"
    visit = build_parser().parse_args(forwarded)
    template = argparse.ArgumentParser(add_help=False)  # the app's options `serve` passes on
    add_view_arguments(template)
    names = {action.dest for action in template._actions if action.option_strings}
    assert {n: getattr(visit, n, None) for n in names} == {
        n: getattr(served, n, None) for n in names
    }
    assert visit.prompt == ["-starts with a dash", "two words"] and visit.bonus is False


def test_an_api_key_reaches_visits_by_environment_not_command_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from spectui.commands.serve import visit_from_args

    monkeypatch.delenv("SPECTUI_API_KEY", raising=False)
    served = build_parser().parse_args(["serve", "--pair", "tiny", "--api-key", "sk-secret"])
    argv, title = visit_from_args(served)
    assert not any("sk-secret" in option for option in argv) and argv == ["--pair=tiny"]
    assert sys.modules["os"].environ["SPECTUI_API_KEY"] == "sk-secret"
    assert title.startswith("spectui: ") and "→" in title


# --- the real command ------------------------------------------------------------------------


def test_spectui_serve_prints_a_url_whose_token_opens_it(tmp_path: Path) -> None:
    port = free_port()
    with serving("--pair", "tiny", "--new-token", "--port", str(port), log=tmp_path / "log") as url:
        token = re.fullmatch(rf"http://127\.0\.0\.1:{port}/\?token=([\w-]+)", url)
        assert token, url
        base = f"http://127.0.0.1:{port}/"
        assert httpx.get(base, timeout=10).status_code == 403
        assert httpx.get(base, params={"token": "x" * 22}, timeout=10).status_code == 403
        page = httpx.get(url, timeout=10)
        assert page.status_code == 200 and "spectui: tiny pair: drafter → verifier" in page.text
    printed = (tmp_path / "log").read_text()
    assert printed.count(token.group(1)) == 1, "the token is printed once"
    assert "each visit runs `spectui --pair=tiny`" in printed.lower()
