"""`spectui serve`: the app in a web browser, through textual-serve.

Each visit (each page, each tab) runs `spectui` with the options given here, or `spectui
replay FILE`, in a process of its own, which loads the models again. The server binds loopback
by default; a wider bind needs a token that the URL carries (spectui/serve/access.py). Bad
usage is refused before the port opens, with exit status 2, as every command does.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import socket
import sys
from pathlib import Path
from typing import Any

from spectui.commands import app
from spectui.commands.options import config_from_args
from spectui.commands.prompt_options import prompt_set_from_args
from spectui.models import PAIR_NAMES, PairUnavailable, named_pair
from spectui.serve.access import (
    TOKEN_ENV,
    Access,
    ServeError,
    check_token,
    is_loopback,
    new_token,
)

SUMMARY = "serve the app to a web browser: each visit runs it in a process of its own"

DEFAULT_PORT = 8000
# Each visit is a process with both models loaded (the default pair: about 0.5 GB, and the CPU
# it decodes on); four lets a small team watch one box without one tab too many swapping it.
DEFAULT_MAX_VISITS = 4
WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})
# Options a visit gets from its environment instead of its command line, which other users of
# the machine can read (ps) and the banner prints.
SECRET_OPTIONS = {"api_key": "SPECTUI_API_KEY"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The server's options, then the app's (passed on to every visit)."""
    group = parser.add_argument_group("serving")
    group.add_argument(
        "--host",
        default="127.0.0.1",
        help="the address to listen on (default: 127.0.0.1, this machine only: from another, "
        "forward the port, e.g. ssh -L 8000:127.0.0.1:8000 HOST). Any other address needs "
        "--new-token or --token",
    )
    group.add_argument(
        "--port", type=port_number, default=DEFAULT_PORT, help="the port (default: %(default)s)"
    )
    group.add_argument(
        "--public-url",
        metavar="URL",
        help="the URL browsers reach the server by, where it is not http://HOST:PORT (behind "
        "a proxy, or for a wildcard --host)",
    )
    group.add_argument(
        "--new-token",
        action="store_true",
        help="make a random token and print the URL that carries it, once; a request without "
        "it is refused (403)",
    )
    group.add_argument(
        "--token",
        metavar="TOKEN",
        help=f"the token URLs must carry (?token=TOKEN; at least 16 of A-Z a-z 0-9 _ -); "
        f"${TOKEN_ENV} is read when not given (a command line is visible to other users)",
    )
    group.add_argument(
        "--max-visits",
        metavar="N",
        type=visit_count,
        default=DEFAULT_MAX_VISITS,
        help="how many visits may be open at once, each a process with its own models "
        "(default: %(default)s); past it a page says the server is full",
    )
    group.add_argument(
        "--replay",
        metavar="FILE",
        type=Path,
        help="serve a saved trace (as `spectui replay FILE`): no model loads, so a visit "
        "costs next to nothing",
    )
    app.add_view_arguments(parser)


def port_number(text: str) -> int:
    """A TCP port, 1 to 65535 (argparse's `type=`)."""
    port = int(text)
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 1 to 65535, got {port}")
    return port


def visit_count(text: str) -> int:
    """A positive number of visits (argparse's `type=`)."""
    count = int(text)
    if count < 1:
        raise argparse.ArgumentTypeError(f"at least 1 visit, got {count}")
    return count


def main(args: argparse.Namespace) -> int:
    """Check everything, then serve until ctrl+c (exit 2 for bad usage, as before a decode)."""
    access = access_from_args(args)
    argv, title = visit_from_args(args)
    command = shlex.join([sys.executable, "-m", "spectui.cli", *argv])
    public_url = (args.public_url or default_public_url(args.host, args.port)).rstrip("/")
    check_port(args.host, args.port)
    from spectui.serve.server import SpectuiServer

    server = SpectuiServer(
        command,
        host=args.host,
        port=args.port,
        title=title,
        public_url=public_url,
        access=access,
        max_visits=args.max_visits,
        banner=banner(args, access, argv, public_url),
    )
    try:
        server.serve()
    except OSError as error:  # the port is taken, or the address is not this machine's
        raise ServeError(
            f"cannot listen on {args.host}:{args.port}: {error.strerror or error}"
        ) from None
    return 0


def check_port(host: str, port: int) -> None:
    """Refuse a port that is taken, or an address that is not this machine's (ServeError),
    before the server starts: it prints the URL to open before it binds."""
    try:
        found = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
        family, kind, protocol, _, address = found[0]
        with socket.socket(family, kind, protocol) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as aiohttp binds
            probe.bind(address)
    except OSError as error:
        raise ServeError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None


def access_from_args(args: argparse.Namespace) -> Access:
    """The token and host rules asked for; a wide bind with no token is refused (ServeError)."""
    if args.token and args.new_token:
        raise ServeError("give --token or --new-token, not both")
    if args.new_token:
        token: str | None = new_token()
    elif args.token:
        token = check_token(args.token, "--token")
    elif os.environ.get(TOKEN_ENV):
        token = check_token(os.environ[TOKEN_ENV], f"${TOKEN_ENV}")
    else:
        token = None
    if token is None and not is_loopback(args.host):
        raise ServeError(
            f"--host {args.host or repr('')} would let anyone who reaches this machine's port "
            f"{args.port} run spectui here (each visit loads the models and decodes on this "
            "machine), so serving beyond loopback needs a token that every URL must carry: add "
            f"--new-token (spectui makes one and prints the URL with it, once) or --token TOKEN "
            f"(or ${TOKEN_ENV}). Or keep the default --host 127.0.0.1 and forward the port: "
            f"ssh -L {args.port}:127.0.0.1:{args.port} THIS-HOST."
        )
    public_host = None if args.public_url is None else _url_host(args.public_url)
    return Access(token=token, cookie=f"spectui-token-{args.port}", public_host=public_host)


def visit_from_args(args: argparse.Namespace) -> tuple[list[str], str]:
    """What each visit runs (spectui's arguments) and the page's title naming the pair or
    trace. The options are checked here, so a bad one is refused now, not on every visit."""
    if args.replay is not None:
        from spectui.engine.trace.reader import read_trace

        given = [option.split("=")[0] for option in forwarded_options(args)]
        if set(given) - {"--text-marks"}:
            raise ServeError(
                "--replay plays the trace with its own models, settings and prompt: drop "
                + ", ".join(option for option in given if option != "--text-marks")
            )
        trace = read_trace(args.replay)  # TraceError: exit 2, naming the file and line
        marks = ["--text-marks"] if args.text_marks else []
        title = f"spectui replay: {args.replay.name} ({_pair_name(trace.header.config)})"
        return ["replay", str(args.replay.resolve()), *marks], title
    for name, variable in SECRET_OPTIONS.items():
        if getattr(args, name, None):
            os.environ[variable] = getattr(args, name)  # every visit inherits it
    config = config_from_args(args)  # ConfigError: a usage error, before the port opens
    prompt_set_from_args(args)
    if args.sweep is not None:
        config = app.sweep_start(args)[0]
    return forwarded_options(args), f"spectui: {_pair_name(config)}"


def forwarded_options(args: argparse.Namespace) -> list[str]:
    """The app's options given to `spectui serve`, as `spectui`'s own command line.

    Read from a parser of the app's options (add_view_arguments), so an option added there is
    passed on without a line here; each is written `--name=value`, so a value that starts
    with "-" stays a value.
    """
    template = argparse.ArgumentParser(add_help=False)
    app.add_view_arguments(template)
    argv: list[str] = []
    for action in template._actions:  # argparse's list of a parser's options
        if not action.option_strings or not hasattr(args, action.dest):
            continue
        if action.dest in SECRET_OPTIONS:  # not on a command line others can read (ps)
            continue
        value = getattr(args, action.dest)
        if value != action.default:
            argv.extend(_as_options(action, value))
    return argv


def _as_options(action: argparse.Action, value: Any) -> list[str]:
    name = action.option_strings[0]
    if isinstance(action, argparse.BooleanOptionalAction):
        return [name if value else action.option_strings[1]]
    if action.nargs == 0:  # store_true
        return [name] if value else []
    if isinstance(action, argparse._AppendAction):
        return [f"{name}={item}" for item in value]
    if isinstance(value, (tuple, list)):  # a comma list (--compare)
        return [f"{name}={','.join(map(str, value))}"]
    return [f"{name}={value}"]


def default_public_url(host: str, port: int) -> str:
    """http://HOST:PORT; for a wildcard bind (0.0.0.0), this machine's name."""
    name = socket.gethostname() if host in WILDCARD_HOSTS else host
    if ":" in name and not name.startswith("["):  # an IPv6 address
        name = f"[{name}]"
    return f"http://{name}:{port}"


def banner(args: argparse.Namespace, access: Access, argv: list[str], public_url: str) -> str:
    """What the server prints once it listens: the URL to open (with the token), what a visit
    runs and costs, the cap."""
    url = f"{public_url}/" + (f"?token={access.token}" if access.token else "")
    visit = shlex.join(["spectui", *argv])
    cost = (
        "plays the trace (no model loads)"
        if args.replay is not None
        else "loads the models again (a served verifier, --verifier-url, or --replay FILE "
        "keeps that cheap)"
    )
    lines = [
        f"spectui serve: open {url}",
        f"Each visit runs `{visit}` in a process of its own and {cost}; at most "
        f"{args.max_visits} at once (--max-visits). In the app, w downloads the trace.",
    ]
    if args.new_token:
        lines.append("The token is in that URL, printed only this once: anyone with it can visit.")
    elif access.token is None:
        lines.append(
            f"Only this machine can reach it; from another, forward the port: "
            f"ssh -L {args.port}:127.0.0.1:{args.port} THIS-HOST."
        )
    lines.append("ctrl+c stops the server and every visit.")
    return "\n".join(lines)


def _pair_name(config: Any) -> str:
    """The pair's name where it is a named one (`tiny pair: drafter → verifier`), and its
    models' names."""
    models = f"{_model_name(config.drafter)} → {_model_name(config.verifier)}"
    for name in PAIR_NAMES:
        with contextlib.suppress(PairUnavailable):  # the real pair, where it is not installed
            pair = named_pair(name)
            if (pair.drafter, pair.verifier) == (config.drafter, config.verifier):
                return f"{name} pair: {models}"
    return models


def _model_name(model: str | None) -> str:
    return "?" if not model else Path(model.rstrip("/")).name or model


def _url_host(url: str) -> str | None:
    from urllib.parse import urlsplit

    return urlsplit(url).hostname
