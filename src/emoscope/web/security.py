"""Who gets in and what comes in: access tokens, security headers and request-size limits, as one
ASGI middleware in front of the whole app (pages, API, static files and the WebSocket).

- Tokens: when the app has any, every request must carry one, as ``Authorization: Bearer T``, the
  ``emoscope_token`` cookie, or ``?token=T`` (a page opened with it sets the cookie and is
  redirected to the same URL without it; the browser's WebSocket then sends the cookie). Anything
  else gets 401. Each token is its own owner: video jobs are seen only by the token that made them.
- Headers: a Content-Security-Policy without inline script or style (pages style elements through the
  CSSOM; Swagger UI 5 does too), no framing, no MIME sniffing.
- Sizes: a request body is refused with 413 from its Content-Length, or as soon as the bytes
  received pass the route's limit, before the app has buffered it.
"""
from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import secrets
from http.cookies import SimpleCookie
from urllib.parse import parse_qsl, urlencode

COOKIE = "emoscope_token"
TOKEN_ENV = "EMOSCOPE_TOKEN"
OWNER = "emoscope.owner"   # scope key: the requesting token's owner id, None on an open server
MULTIPART_SLACK = 64 * 1024  # form boundaries and headers around an uploaded file
SMALL_BODY = 64 * 1024       # any route without an upload

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")
HEADERS = [(b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
           (b"x-frame-options", b"DENY"), (b"referrer-policy", b"no-referrer"),
           (b"cache-control", b"no-store")]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serve_tokens(host: str, given: str | None = None) -> tuple[str, ...]:
    """The tokens `emoscope serve` requires: ``given`` (comma-separated) or EMOSCOPE_TOKEN; one
    generated when the server listens beyond loopback without either; none on loopback."""
    text = given or os.environ.get(TOKEN_ENV, "")
    tokens = tuple(t.strip() for t in text.split(",") if t.strip())
    if tokens or is_loopback(host):
        return tokens
    return (secrets.token_urlsafe(24),)


def owner_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def owner_of(request) -> str | None:
    """The owner id of a request (or WebSocket): who may see the jobs it makes."""
    return request.scope.get(OWNER)


def server_ws_max_size(max_frame_bytes: int) -> int:
    """The server's WebSocket message limit: above the app's frame limit (as base64 in JSON), so
    that an oversized frame reaches the app and gets its answer instead of a dropped connection."""
    return max_frame_bytes * 4 // 3 + MULTIPART_SLACK


class Guard:
    """The ASGI middleware; ``body_limits`` maps a path to its largest request body."""

    def __init__(self, app, tokens=(), body_limits: dict[str, int] | None = None):
        self.app = app
        self.owners = {token: owner_id(token) for token in tokens}
        self.body_limits = body_limits or {}

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        owner, from_query = self._owner(scope)
        if self.owners and owner is None:
            return await _deny(scope, send, 401, "a valid token is needed: open the link printed by emoscope serve, "
                                                 "or send 'Authorization: Bearer TOKEN'")
        if scope["type"] == "websocket" and not _same_origin(scope):
            return await _deny(scope, send, 403, "cross-origin WebSocket refused: the page is not from this server "
                                                 "(behind a TLS proxy, set FORWARDED_ALLOW_IPS to its address)")
        scope[OWNER] = owner
        if scope["type"] == "websocket":
            return await self.app(scope, receive, send)
        if from_query and scope["method"] == "GET":
            return await _set_cookie_and_redirect(scope, send, from_query)
        limit = self.body_limits.get(scope["path"], SMALL_BODY)
        declared = _header(scope, b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            return await _answer(send, 413, _too_large(limit))
        await self._limited(scope, receive, _with_headers(send), limit)

    def _owner(self, scope) -> tuple[str | None, str | None]:
        """(owner id or None, the token when it came in the query string)."""
        candidates = []
        authorization = _header(scope, b"authorization") or ""
        if authorization.lower().startswith("bearer "):
            candidates.append((authorization[7:].strip(), None))
        cookie = SimpleCookie()
        try:
            cookie.load(_header(scope, b"cookie") or "")
        except Exception:  # a malformed cookie header is no token
            pass
        if COOKIE in cookie:
            candidates.append((cookie[COOKIE].value, None))
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        if "token" in query:
            candidates.append((query["token"], query["token"]))
        for token, from_query in candidates:
            for known, owner in self.owners.items():
                if secrets.compare_digest(token.encode(), known.encode()):
                    return owner, from_query
        return None, None

    async def _limited(self, scope, receive, send, limit: int):
        """Run the app with a receive that stops at ``limit`` bytes; the answer is then a 413."""
        state = {"received": 0, "over": False}

        async def receive_limited():
            if state["over"]:
                return {"type": "http.disconnect"}
            message = await receive()
            state["received"] += len(message.get("body", b""))
            if state["received"] > limit:
                state["over"] = True
                return {"type": "http.disconnect"}  # the app stops reading; its answer is replaced
            return message

        async def send_unless_over(message):
            if not state["over"]:
                await send(message)

        try:
            await self.app(scope, receive_limited, send_unless_over)
        except Exception:
            if not state["over"]:
                raise
        if state["over"]:
            await _answer(send, 413, _too_large(limit))


def _too_large(limit: int) -> str:
    return f"the upload is larger than {max(limit - MULTIPART_SLACK, 0) / 2**20:g} MB"


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


DEFAULT_PORTS = {"http": ":80", "https": ":443"}


def _same_origin(scope) -> bool:
    """The page that opens the socket came from this server: its Origin has our scheme (http for ws,
    https for wss, as uvicorn sees it: behind a TLS proxy, from X-Forwarded-Proto when uvicorn trusts
    the proxy's address, FORWARDED_ALLOW_IPS) and our host and port (a default port may be left out)."""
    origin = _header(scope, b"origin")
    if origin is None:  # not a browser
        return True
    scheme = "https" if scope.get("scheme") in ("wss", "https") else "http"
    return _origin_key(origin) == _origin_key(f"{scheme}://{_header(scope, b'host') or ''}")


def _origin_key(origin: str) -> str:
    origin = origin.lower()
    scheme = origin.split("://", 1)[0]
    port = DEFAULT_PORTS.get(scheme)
    return origin[:-len(port)] if port and origin.endswith(port) else origin


def _with_headers(send):
    async def send_with_headers(message):
        if message["type"] == "http.response.start":
            names = {key for key, _ in message.get("headers", ())}
            message["headers"] = list(message.get("headers", ())) + [h for h in HEADERS if h[0] not in names]
        await send(message)

    return send_with_headers


async def _answer(send, status: int, error: str, headers=()):
    body = json.dumps({"error": error}).encode()
    await _with_headers(send)({"type": "http.response.start", "status": status,
                               "headers": [(b"content-type", b"application/json"),
                                           (b"content-length", str(len(body)).encode()), *headers]})
    await send({"type": "http.response.body", "body": body})


async def _deny(scope, send, status: int, error: str):
    if scope["type"] == "http":
        return await _answer(send, status, error, [(b"www-authenticate", b"Bearer")] if status == 401 else [])
    if "websocket.http.response" in scope.get("extensions", {}):  # the handshake gets a real 401/403
        body = json.dumps({"error": error}).encode()
        await send({"type": "websocket.http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json")]})
        return await send({"type": "websocket.http.response.body", "body": body})
    await send({"type": "websocket.close", "code": 1008, "reason": error[:120]})


async def _set_cookie_and_redirect(scope, send, token: str):
    """A ``?token=`` link: keep the token in an HttpOnly cookie and drop it from the address bar."""
    query = [(k, v) for k, v in parse_qsl(scope.get("query_string", b"").decode("latin-1")) if k != "token"]
    location = scope["path"] + ("?" + urlencode(query) if query else "")
    cookie = f"{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict"
    if scope.get("scheme") == "https":
        cookie += "; Secure"
    await _with_headers(send)({"type": "http.response.start", "status": 303,
                               "headers": [(b"location", location.encode()), (b"set-cookie", cookie.encode()),
                                           (b"content-length", b"0")]})
    await send({"type": "http.response.body", "body": b""})
