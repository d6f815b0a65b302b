"""What stands between the network and the app: connection limits, security
headers, CORS for the API, HEAD, and the request body limit.

Two layers. ``GuardedHttpProtocol`` is uvicorn's httptools protocol with the
limits uvicorn lacks (request head size, time to send it, idle connections,
connection count); ``tilting.backend.fastpath.connection_options`` hands it to uvicorn. The ASGI
middleware runs on every request, so it stays small and never buffers bodies.
"""

from __future__ import annotations

import json
import resource

from starlette.exceptions import HTTPException
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from tilting.backend.routes.docs import PAGES as DOCS_PAGES
from tilting.backend.routes.frontend import allowed_methods

MAX_BODY = 64 * 1024  # bytes; the largest real request is 784 pixels of JSON (~15 KiB)
# Request line and headers together; a browser sends under 8 KiB.
MAX_HEAD = 64 * 1024
# Seconds a client has to send a request's line and headers once it has begun:
# a slow client ("slowloris") would otherwise hold its connection forever.
HEADER_TIMEOUT = 10.0
# Seconds a client has to send a request's body once its headers are in (the body is at most
# MAX_BODY): a client trickling a body would otherwise hold its connection and the request.
BODY_TIMEOUT = 10.0
# Headers that announce a body.
BODY_HEADERS = (b"content-length", b"transfer-encoding")
# Seconds a connection may sit idle (before its first request or between
# requests) before the server closes it.
KEEP_ALIVE = 5.0
# Connections per server process. Each costs a file descriptor; past this many
# a new connection is closed at once, before it can exhaust the process's
# descriptors (below, the limit is also kept under RLIMIT_NOFILE).
MAX_CONNECTIONS = 1000
SPARE_DESCRIPTORS = 64  # for the listening socket, logs, the event loop, ...

# plotly's scattergl draws with regl, which compiles its drawing functions with
# `new Function` at run time: without 'unsafe-eval' the WebGL scatter fails.
# plotly also sets inline style attributes, hence style-src 'unsafe-inline'.
# No inline <script> is allowed anywhere.
PAGE_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; worker-src 'self' blob:; object-src 'none'; "
    "base-uri 'self'; form-action 'self'"
)
# The API docs (tilting.backend.routes.docs): Swagger UI and Redoc from this origin, started by a
# same-origin script. Both set inline styles; Redoc runs its search in a blob: worker.
DOCS_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; worker-src 'self' blob:; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
)
CORS_HEADERS = [
    (b"access-control-allow-origin", b"*"),
    (b"access-control-expose-headers", b"ETag, X-Array-Dtype, X-Array-Shape, Content-Length"),
]
# Set on the scope of a HEAD request, which the app sees as a GET.
HEAD_KEY = "tilting.head"


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, plus limits on what a client can hold.

    httptools (llhttp) is kept as the parser rather than h11, which bounds heads
    by itself: httptools is uvicorn's default with uvicorn[standard], serves
    this app 10-35 % faster than h11 (wrk, 16 connections, one core:
    /api/experiments 11,900 against 7,300 requests/s), and it refuses two
    request-smuggling framings that h11 accepts: Content-Length together with
    Transfer-Encoding, and a header line folded onto the previous one. But
    neither httptools nor uvicorn bounds the request head: httptools joins the
    pieces of a header value by repeated ``bytes +=``, quadratic in its size
    (an 80 MB header costs about 20 s of CPU), and uvicorn closes an idle
    connection only after a first response. So:

    * a request head over ``MAX_HEAD`` bytes gets 431 and the connection closes;
    * a head not complete ``header_timeout`` seconds after its first byte gets
      408 and the connection closes (uvicorn's keep-alive timer is cancelled by
      any byte, so a client trickling a header would otherwise stay forever);
    * likewise a body not complete ``body_timeout`` seconds after its headers
      (408 if nothing was answered yet, else the connection just closes);
    * a new connection that sends nothing is closed after the keep-alive
      timeout, like an idle one between requests;
    * a connection beyond ``limit_concurrency`` is closed at once (uvicorn
      itself only answers its requests 503, keeping its descriptor).
    """

    def __init__(self, *args, header_timeout: float = HEADER_TIMEOUT, body_timeout: float = BODY_TIMEOUT,
                 max_head: int = MAX_HEAD, **kwargs):
        super().__init__(*args, **kwargs)
        self.header_timeout = header_timeout
        self.body_timeout = body_timeout
        self.body_deadline = None
        self.max_head = max_head
        self.awaiting_head = True  # until the parser has a request's headers
        # Bytes received since the last request ended: the head's size, exactly, unless a
        # previous request ended in the same chunk (then the rest of it is not counted).
        self.head_bytes = 0
        self.head_deadline = None
        self.answered = False  # the current request was answered by answer_at_once

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        if self.limit_concurrency is not None and len(self.connections) > self.limit_concurrency:
            transport.close()
            return
        self.timeout_keep_alive_task = self.loop.call_later(self.timeout_keep_alive, self.timeout_keep_alive_handler)

    def connection_lost(self, exc) -> None:
        self._cancel_head_deadline()
        self._cancel_body_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if not self.awaiting_head:
            return super().data_received(data)
        if self.head_deadline is None:
            self.head_deadline = self.loop.call_later(self.header_timeout, self._head_too_slow)
        room = self.max_head - self.head_bytes
        if len(data) <= room:
            self.head_bytes += len(data)
            return super().data_received(data)
        # The limit falls inside this chunk: parse up to it only. If the head did
        # not end there it is too large; if it did, the rest is parsed as usual.
        self.head_bytes = self.max_head
        super().data_received(data[:room])
        if self.transport.is_closing():
            return
        if self.awaiting_head and self.head_bytes == self.max_head:  # still the same head
            self.logger.warning("Request head over %d bytes: 431, connection closed.", self.max_head)
            return self._refuse(431, f"The request line and headers are over {self.max_head // 1024} KiB.")
        self.data_received(data[room:])

    # Parser callbacks (httptools calls them from inside feed_data).
    def on_headers_complete(self) -> None:
        self.awaiting_head = False
        self._cancel_head_deadline()
        self.answered = self.answer_at_once()
        if not self.answered:
            super().on_headers_complete()
            # (A request without a body completes in this same parse, cancelling it at once.)
            if any(name in BODY_HEADERS for name, _ in self.headers):
                self.body_deadline = self.loop.call_later(self.body_timeout, self._body_too_slow)

    def answer_at_once(self) -> bool:
        """Whether the request whose head just arrived was answered here, with no ASGI
        cycle (a subclass's hook: ``tilting.backend.fastpath.FastHttpProtocol``)."""
        return False

    def on_message_complete(self) -> None:
        self._cancel_body_deadline()
        if not self.answered:  # an answered request has no cycle to complete
            super().on_message_complete()
        self.awaiting_head = True
        self.head_bytes = 0

    def send_400_response(self, msg: str) -> None:
        # The parser refused the request: the same JSON error body as the app's.
        self._refuse(400, "The request is not valid HTTP/1.1.")

    def _head_too_slow(self) -> None:
        self.head_deadline = None
        if self.transport.is_closing():
            return
        self.logger.info("Request head not complete after %g s: connection closed.", self.header_timeout)
        if self.cycle is None or self.cycle.response_complete:
            self._refuse(408, f"The request headers did not arrive within {self.header_timeout:g} s.")
        else:  # a pipelined request stalled while the previous response is being sent: no room for a 408
            self.transport.close()

    def _body_too_slow(self) -> None:
        self.body_deadline = None
        if self.transport.is_closing():
            return
        self.logger.info("Request body not complete after %g s: connection closed.", self.body_timeout)
        if self.cycle is not None and not self.cycle.response_started:
            self._refuse(408, f"The request body did not arrive within {self.body_timeout:g} s.")
        else:  # answered already (say 413 on its Content-Length): the rest of the body is not wanted
            self.transport.close()

    def _cancel_body_deadline(self) -> None:
        if self.body_deadline is not None:
            self.body_deadline.cancel()
            self.body_deadline = None

    def _cancel_head_deadline(self) -> None:
        if self.head_deadline is not None:
            self.head_deadline.cancel()
            self.head_deadline = None

    def _refuse(self, status: int, detail: str) -> None:
        """Answer before the app has seen the request, then close: the parser cannot go on."""
        body = json.dumps({"detail": detail}).encode()
        head = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head += [b"content-type: application/json\r\nx-content-type-options: nosniff\r\n",
                 b"content-length: ", str(len(body)).encode(), b"\r\nconnection: close\r\n\r\n"]
        self.transport.write(b"".join(head) + body)
        self.transport.close()


def descriptor_limit(wanted: int = MAX_CONNECTIONS) -> int:
    """``wanted`` connections, or fewer if this process may not open that many files."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(1, min(wanted, soft - SPARE_DESCRIPTORS))


def security_headers(path: str) -> list[tuple[bytes, bytes]]:
    embeddable = path.startswith("/embed/")
    if path in DOCS_PAGES:
        csp = DOCS_CSP
    else:
        csp = PAGE_CSP + ("; frame-ancestors *" if embeddable else "; frame-ancestors 'none'")
    headers = [
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"strict-origin-when-cross-origin"),
        (b"content-security-policy", csp.encode()),
    ]
    if not embeddable:
        headers.append((b"x-frame-options", b"DENY"))
    return headers


async def _send_json(send, status: int, detail: str, extra=()):
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *extra]})
    await send({"type": "http.response.body", "body": body})


class SecurityMiddleware:
    """Security headers on every response; CORS (GET only) on /api; HEAD as GET without
    the body; a 64 KiB body limit."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope["path"]
        is_api = path.startswith("/api/") or path == "/api"
        extra = security_headers(path)
        if is_api:
            extra += CORS_HEADERS
        method = scope["method"]
        request_headers = dict(scope["headers"])

        if method == "OPTIONS" and is_api and b"access-control-request-method" in request_headers:
            # Preflight: cross-origin GET (with conditional headers) only.
            if request_headers[b"access-control-request-method"] not in (b"GET", b"HEAD"):
                allowed = allowed_methods(scope)
                if not allowed:
                    return await _send_json(send, 404, f"There is no page or file at {path}.", extra)
                allow = (b"allow", ", ".join(allowed).encode())
                return await _send_json(send, 405, "Cross-origin pages may only GET from the API.", [*extra, allow])
            headers = extra + [(b"access-control-allow-methods", b"GET, HEAD"),
                               (b"access-control-allow-headers", b"If-None-Match, Accept-Encoding"),
                               (b"access-control-max-age", b"86400"), (b"content-length", b"0")]
            await send({"type": "http.response.start", "status": 204, "headers": headers})
            return await send({"type": "http.response.body", "body": b""})

        length = request_headers.get(b"content-length")
        if length is not None:
            if not length.isdigit():
                return await _send_json(send, 400, "Content-Length is not a number.", extra)
            if int(length) > MAX_BODY:
                return await _send_json(send, 413, f"The request body is over {MAX_BODY // 1024} KiB.", extra)

        head = method == "HEAD"
        if head:
            # Every GET route answers HEAD: routed as a GET, it sends the GET's
            # headers (Content-Length included) and its body is dropped here.
            scope = {**scope, "method": "GET", HEAD_KEY: True}

        received = 0

        async def limited_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > MAX_BODY:
                    raise BodyTooLarge()
            return message

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": list(message.get("headers", [])) + extra}
            elif head and message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        try:
            await self.app(scope, limited_receive, send_with_headers)
        except BodyTooLarge:
            await _send_json(send, 413, f"The request body is over {MAX_BODY // 1024} KiB.", extra)


class BodyTooLarge(HTTPException):
    """A streamed body went past MAX_BODY (an HTTPException, so FastAPI answers 413 with it)."""

    def __init__(self):
        super().__init__(413, f"The request body is over {MAX_BODY // 1024} KiB.")
