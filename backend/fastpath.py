"""The hot GETs answered before routing: precomputed bytes with headers prepared once.

The pages fetch the experiment list, each pair's metadata and its bulk
arrays, and the article's own files; all are bytes made before the request
(``Payload``). ``HotPath`` finds the payload a GET names with a few
dictionary lookups, and makes the same representation choice as everywhere
(``tilting.backend.representation.decide``: gzip, ETag, 304) with header lines
built once per payload (security headers and CORS included, as
``tilting.backend.security`` adds them elsewhere). Two layers use it:

* ``FastHttpProtocol``, the HTTP protocol ``tilting serve`` runs: it answers
  a hot GET as soon as its head is parsed, writing the prepared bytes to the
  socket, with no ASGI scope, task, Request or Response;
* ``FastPath``, the app's outermost ASGI layer, for any other server (the
  test client, another ASGI server): it answers before routing and the
  middleware.

Whatever they are not sure of — another method, a query they do not know,
an unknown id or file, a request with a body, a connection with a response
still being written — goes on to the app unchanged, whose routes answer the
same URLs with the same bytes (tests compare both) and own every error. So
this module holds no policy of its own.
"""

from __future__ import annotations

import functools
import urllib.parse

import httptools
from starlette.exceptions import HTTPException
from uvicorn.protocols.http.httptools_impl import STATUS_LINE

from tilting.backend.representation import REVALIDATE, decide
from tilting.backend.routes.experiments import array_payload
from tilting.backend.routes.frontend import cache_control, file_url
from tilting.backend.security import (BODY_TIMEOUT, CORS_HEADERS, HEADER_TIMEOUT, KEEP_ALIVE, MAX_CONNECTIONS,
                                      GuardedHttpProtocol, descriptor_limit, security_headers)

# The security headers of each kind of hot URL, as tilting.backend.security chooses them by path.
API_EXTRA = tuple(security_headers("/api/")) + tuple(CORS_HEADERS)
PAGE_EXTRA = tuple(security_headers("/"))
EMBED_EXTRA = tuple(security_headers("/embed/"))
LISTINGS = {"experiments": "listing_payload", "experiments.json": "listing_payload",
            "figures": "figures_payload", "figures.json": "figures_payload"}
MAX_VERSION = 64  # the routes' limit on ?v= (longer ones get their 422 there)
# Request headers that mean a body: the app checks and refuses it (413), so such GETs go there.
BODY_HEADERS = (b"content-length", b"transfer-encoding", b"expect")


class HotPath:
    """Which precomputed payload a GET names, and what to send of it."""

    def __init__(self, state):
        self.state = state  # the FastAPI app's state: .store and .frontend

    def find(self, path: str, query: bytes):
        """(payload, Cache-Control, extra header lines) for a hot URL; None to leave it to the app."""
        if not path.startswith("/api/"):
            file = file_url(path)
            payload = self.state.frontend.get(file)
            if payload is None:
                return None
            return payload, cache_control(file), EMBED_EXTRA if path.startswith("/embed/") else PAGE_EXTRA
        parts = path[5:].split("/")
        store = self.state.store
        if len(parts) == 1:
            listing = LISTINGS.get(parts[0])
            if listing is None or query:
                return None
            store.refresh()  # bundles that landed since (at most one look a second)
            return getattr(store, listing), REVALIDATE, API_EXTRA
        section = parts[0]
        if section not in ("experiments", "figures"):
            return None
        if len(parts) == 2:
            store.refresh()  # a rebuilt pair's new metadata (at most one look a second)
        table = store.experiments if section == "experiments" else store.figures
        if len(parts) == 2:
            exp = table.get(parts[1].removesuffix(".json"))
            if exp is None or query:
                return None
            return exp.detail_payload, REVALIDATE, API_EXTRA
        if len(parts) != 4 or parts[2] != "arrays":
            return None
        exp = table.get(parts[1])
        if exp is None:
            return None
        version = None
        if query:
            if not query.startswith(b"v=") or len(query) > MAX_VERSION + 2 or any(c in query for c in b"&%+;"):
                return None
            version = query[2:].decode("latin-1")
        try:
            payload, cache = array_payload(exp, store.previous.get(exp.id), parts[3], version)
        except HTTPException:  # no such file or version: the route words the 404
            return None
        return payload, cache, API_EXTRA

    @staticmethod
    def respond(found, accept: bytes | None, match: bytes | None, head: bool):
        """(status, header lines, body) for a found payload and the request's Accept-Encoding
        and If-None-Match (None when absent)."""
        payload, cache, extra = found
        if accept is None and match is None:  # the common case: nothing to decide
            gzip_ok = fresh = False
        else:
            _etag, gzip_ok, fresh = decide(accept and accept.decode("latin-1"), match and match.decode("latin-1"),
                                           payload.etag[1:-1], len(payload.body), payload.compressible)
        headers = payload.raw_headers(cache, gzip_ok, fresh, extra)
        if fresh:
            return 304, headers, b""
        return 200, headers, b"" if head else payload.gzipped if gzip_ok else payload.body


def request_headers(headers):
    """(Accept-Encoding, If-None-Match) of a request's header lines, each None when absent and
    its lines joined as RFC 9110 5.3 has it; None if the request has a body."""
    accept = match = None
    for name, value in headers:
        if name == b"accept-encoding":
            accept = value if accept is None else accept + b", " + value
        elif name == b"if-none-match":
            match = value if match is None else match + b", " + value
        elif name in BODY_HEADERS:
            return None
    return accept, match


class FastPath:
    """The ASGI layer: hot GETs answered before routing and the middleware."""

    def __init__(self, app, state):
        self.app = app
        self.hot = HotPath(state)

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            found = self.hot.find(scope["path"], scope["query_string"])
            conditions = found and request_headers(scope["headers"])
            if conditions is not None and found is not None:
                status, headers, body = self.hot.respond(found, *conditions, scope["method"] == "HEAD")
                await send({"type": "http.response.start", "status": status, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


def hot_path_of(app) -> HotPath | None:
    """The HotPath of the app uvicorn runs (under uvicorn's own wrappers), if it has one."""
    for _depth in range(8):
        state = getattr(app, "state", None)
        if state is not None and hasattr(state, "store") and hasattr(state, "frontend"):
            return HotPath(state)
        app = getattr(app, "app", None)
    return None


class FastHttpProtocol(GuardedHttpProtocol):
    """``GuardedHttpProtocol`` that answers hot GETs the moment their head is parsed.

    What uvicorn's request cycle does for such a response is done here with
    the bytes prepared once: the status line, uvicorn's Server and Date
    lines, the payload's header lines, ``connection: close`` when the client
    asked for it, the access log line, and the keep-alive timer. It is only
    taken when nothing else is going on on the connection: no response still
    being written (pipelined requests keep their order), the socket not
    pushing back (``write_paused``: then the cycle's wait for the client
    applies), HTTP/1.1, no body, no upgrade, under the concurrency limit.
    """

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self.hot = hot_path_of(self.app)

    def answer_at_once(self) -> bool:
        if self.hot is None or self.transport.is_closing() or self.flow.write_paused or self.pipeline:
            return False
        if self.cycle is not None and not self.cycle.response_complete:
            return False
        parser = self.parser
        method = parser.get_method()
        if method not in (b"GET", b"HEAD") or parser.get_http_version() != "1.1" or parser.should_upgrade():
            return False
        if self.root_path or (self.limit_concurrency is not None and (
                len(self.connections) >= self.limit_concurrency or len(self.tasks) >= self.limit_concurrency)):
            return False
        url = httptools.parse_url(self.url)
        path = url.path.decode("ascii")
        if "%" in path:
            path = urllib.parse.unquote(path)
        found = self.hot.find(path, url.query or b"")
        conditions = found and request_headers(self.headers)
        if found is None or conditions is None:
            return False
        status, headers, body = self.hot.respond(found, *conditions, method == b"HEAD")
        keep_alive = parser.should_keep_alive()
        if self.access_log:
            query = f"?{url.query.decode('ascii')}" if url.query else ""
            client = "%s:%d" % self.client if self.client else ""
            # uvicorn's access formatter reads exactly these five arguments.
            self.access_logger.info('%s - "%s %s HTTP/%s" %d', client, method.decode(), path + query, "1.1", status)
        head = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:  # Server, and Date (renewed every second)
            head += [name, b": ", value, b"\r\n"]
        head += [wire_lines(headers), b"" if keep_alive else b"connection: close\r\n", b"\r\n"]
        self.transport.writelines([b"".join(head), body])
        self.server_state.total_requests += 1
        if not keep_alive:
            self.transport.close()
        else:  # as uvicorn does once a response is complete
            self._unset_keepalive_if_required()
            self.timeout_keep_alive_task = self.loop.call_later(self.timeout_keep_alive,
                                                                self.timeout_keep_alive_handler)
        return True


_WIRE: dict[int, tuple[list, bytes]] = {}


def wire_lines(headers: list) -> bytes:
    """Header lines as they go on the wire, made once per prepared list (``Payload.raw_headers``
    returns the same list object each time; the list is kept here with its bytes, so its id
    is never reused while the entry lives)."""
    entry = _WIRE.get(id(headers))
    if entry is None or entry[0] is not headers:
        if len(_WIRE) > 4096:  # payloads evicted from the cache leave their lists here: bound it
            _WIRE.clear()
        entry = _WIRE[id(headers)] = (headers, b"".join(name + b": " + value + b"\r\n" for name, value in headers))
    return entry[1]


def connection_options(header_timeout: float = HEADER_TIMEOUT, keep_alive: float = KEEP_ALIVE,
                       max_connections: int = MAX_CONNECTIONS, body_timeout: float = BODY_TIMEOUT) -> dict:
    """The uvicorn options ``tilting serve`` runs with (the tests pass shorter times).

    The protocol (``FastHttpProtocol``: tilting.backend.security's guards, and the
    precomputed GETs answered as soon as their head is parsed) goes to uvicorn
    as a ``functools.partial`` of the class: uvicorn calls it like the class,
    and with several workers it is pickled to each.
    """
    return dict(
        http=functools.partial(FastHttpProtocol, header_timeout=header_timeout, body_timeout=body_timeout),
        timeout_keep_alive=keep_alive,
        limit_concurrency=descriptor_limit(max_connections),
    )
