"""Who may reach a served spectui: the host it binds, the token a URL carries, the pages that
say no.

Every visit runs spectui in a process of its own (models loaded, this machine's CPU or GPU
used), so a served spectui is a way to run programs here. Bound to loopback it is reachable
only from this machine (and through a forwarded port); anything wider needs a token, which the
first page's URL carries and a cookie then carries for the page's script, styles and
websocket. Every request is checked, the websocket included, so a page without the token is
refused before any process starts.
"""

from __future__ import annotations

import hmac
import html
import ipaddress
import re
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from spectui.engine.errors import SpectuiError

TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,}")  # it travels in a URL: no escaping needed
TOKEN_ENV = "SPECTUI_SERVE_TOKEN"
LOOPBACK_NAMES = frozenset({"localhost"})


class ServeError(SpectuiError):
    """`spectui serve` cannot serve as asked (a wide bind without a token, a weak token)."""


def is_loopback(host: str) -> bool:
    """Whether `host` (a name or an address, IPv6 with or without brackets) is this machine's
    loopback: reachable from here only. Any other name counts as wide: it may resolve to
    anything."""
    name = host.strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def new_token() -> str:
    """A fresh random token (128 bits), fit for a URL as it is."""
    return secrets.token_urlsafe(16)


def check_token(token: str, called: str) -> str:
    """`token` if it is long and plain enough to be a secret in a URL (ServeError if not)."""
    if TOKEN_PATTERN.fullmatch(token) is None:
        raise ServeError(
            f"{called} must be at least 16 characters of A-Z, a-z, 0-9, _ and - (it travels "
            "in a URL, and a short one can be guessed); --new-token makes one"
        )
    return token


@dataclass(frozen=True)
class Access:
    """The rules one server applies to every request.

    `token`: what a visitor's URL must carry (`?token=`), None where the bind is loopback and
    none was asked for. `origins`: where a page that opens the websocket may come from, besides
    the server's own address. Without a token, the Host a browser names must be a loopback one
    (or the public URL's): a page on another site that resolves its own name to 127.0.0.1
    (DNS rebinding) is refused.
    """

    token: str | None
    cookie: str  # the cookie that carries the token after the first page; one per port
    public_host: str | None = None  # the host of --public-url, where one was given

    def refusal(self, request: web.Request) -> str | None:
        """Why `request` is refused (the 403 page's text), or None."""
        if not self._origin_allowed(request):
            return "this page was opened from another site; open spectui's own URL instead."
        if self.token is None:
            if not self._host_allowed(request.host):
                return (
                    "this spectui serves loopback addresses only (127.0.0.1, localhost); "
                    "open it by one of those, or through a forwarded port."
                )
            return None
        given = request.query.get("token") or request.cookies.get(self.cookie) or ""
        if not hmac.compare_digest(given.encode(), self.token.encode()):
            what = "a wrong token" if given else "no token"
            return (
                f"this spectui needs the token its URL carries, and the request had {what}. "
                "Open the URL that `spectui serve` printed when it started (…/?token=…)."
            )
        return None

    def remember(self, request: web.Request, response: web.StreamResponse) -> None:
        """After a page opened with `?token=`, a cookie carries the token for the page's own
        requests (its script cannot add it to the websocket's URL). Strict: another site's
        page never sends it."""
        if self.token is not None and "token" in request.query and not response.prepared:
            response.set_cookie(self.cookie, self.token, httponly=True, samesite="Strict", path="/")

    def _host_allowed(self, host: str) -> bool:
        name = urlsplit(f"//{host}").hostname or ""
        return is_loopback(name) or (self.public_host is not None and name == self.public_host)

    def _origin_allowed(self, request: web.Request) -> bool:
        origin = request.headers.get("Origin")
        if origin is None:  # not a cross-site fetch: navigations and the like send none
            return True
        parts = urlsplit(origin)
        return parts.netloc == request.host or (
            self.public_host is not None and parts.hostname == self.public_host
        )


def guard(access: Access) -> Middleware:
    """An aiohttp middleware that answers a refused request with a 403 page and lets the rest
    through, every route alike (the page, its files, the websocket, downloads)."""

    @web.middleware
    async def checked(request: web.Request, handler: Handler) -> web.StreamResponse:
        if (why := access.refusal(request)) is not None:
            raise page(web.HTTPForbidden, "spectui: not allowed", why)
        response = await handler(request)
        access.remember(request, response)
        return response

    return checked


def page(kind: type[web.HTTPException], title: str, text: str) -> web.HTTPException:
    """A small HTML page that says one thing (a refusal, a full server), to raise."""
    body = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title></head>"
        "<body style='font-family: monospace; max-width: 60em; margin: 3em auto'>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(text)}</p></body></html>"
    )
    return kind(text=body, content_type="text/html")
