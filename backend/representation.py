"""How a response body goes out: its ETag, gzip or identity, 304, and the headers prepared once.

One policy for every response (RFC 9110): the precomputed payloads (bundle
metadata, arrays, frontend files), served by ``payload_response`` or, on the
hot path, by ``tilting.backend.fastpath``, and the responses computed per request,
which ``ComputedResponses`` holds whole to give them the same validators.
"""

from __future__ import annotations

import gzip
import hashlib
import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

from starlette.datastructures import MutableHeaders
from starlette.responses import Response

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
GZIP_MIN_BYTES = 512  # below this, gzip saves less than its header and the time it takes
# Bodies compressed already (the source archive): gzip again saves nothing, and a download
# sent with Content-Encoding: gzip may be saved unpacked under its .gz name.
COMPRESSED_TYPES = frozenset({"application/gzip"})


@dataclass(frozen=True)
class Payload:
    """One response body, its gzip (made when first asked for), and its strong ETag."""

    body: bytes
    etag: str
    media_type: str
    headers: dict = field(default_factory=dict)

    @classmethod
    def of(cls, body: bytes, media_type: str, headers: dict | None = None, digest: str | None = None) -> "Payload":
        digest = digest or hashlib.sha256(body).hexdigest()
        return cls(body, f'"{digest}"', media_type, headers or {})

    @cached_property
    def gzipped(self) -> bytes:
        # mtime=0 keeps the gzip bytes a function of the body alone.
        return gzip.compress(self.body, compresslevel=6, mtime=0)

    @property
    def compressible(self) -> bool:
        return self.media_type not in COMPRESSED_TYPES

    @property
    def size(self) -> int:
        """Bytes held, counting the gzip only once it exists."""
        return len(self.body) + len(self.__dict__.get("gzipped", b""))

    @cached_property
    def _prepared(self) -> dict:
        return {}

    def raw_headers(self, cache_control: str, gzip_ok: bool, not_modified: bool, extra: tuple) -> list:
        """The response's header lines as ASGI wants them, built once per combination.

        The order is that of a Starlette ``Response`` made by ``payload_response``
        (given headers, then Content-Length and Content-Type) followed by
        ``extra`` (the security headers), so both paths send the same lines.
        """
        key = (cache_control, gzip_ok, not_modified, extra)
        found = self._prepared.get(key)
        if found is None:
            digest = self.etag.strip('"')
            lines = [(b"etag", (f'"{digest}-gz"' if gzip_ok else self.etag).encode()),
                     (b"cache-control", cache_control.encode()), (b"vary", b"Accept-Encoding")]
            lines += [(name.lower().encode(), value.encode()) for name, value in self.headers.items()]
            if not not_modified:
                if gzip_ok:
                    lines.append((b"content-encoding", b"gzip"))
                size = len(self.gzipped if gzip_ok else self.body)
                lines += [(b"content-length", str(size).encode()), (b"content-type", self.media_type.encode())]
            found = self._prepared[key] = lines + list(extra)
        return found


def header_value(headers, name: str) -> str | None:
    """All of a request header's lines joined by commas (RFC 9110 5.3), or None if absent.

    ``headers``: a Starlette Headers, or an ASGI scope's raw header list."""
    if isinstance(headers, list):
        key = name.encode()
        values = [value.decode("latin-1") for k, value in headers if k == key]
    else:
        values = headers.getlist(name)
    return ", ".join(values) if values else None


def _qvalue(params: list[str]) -> float | None:
    """The q= weight among a coding's parameters (1 without one); None if it is malformed."""
    for param in params:
        key, _, value = param.partition("=")
        if key.strip().lower() == "q":
            try:
                q = float(value.strip())
            except ValueError:
                return None
            return q if 0.0 <= q <= 1.0 else None
    return 1.0


@lru_cache(maxsize=256)
def _coding_weights(accept_encoding: str) -> tuple[float, float | None]:
    """(gzip's weight, identity's weight or None for no preference) from an Accept-Encoding.

    Cached: clients send a handful of distinct values, and parsing is most of
    what deciding costs."""
    weights = {}
    for item in accept_encoding.split(","):
        coding, *params = item.split(";")
        coding = coding.strip().lower()
        q = _qvalue(params)
        if coding and q is not None:
            weights[coding] = q
    star = weights.get("*")
    gzip_q = weights.get("gzip", weights.get("x-gzip", star if star is not None else 0.0))
    return gzip_q, weights.get("identity", star)


def use_gzip(accept_encoding: str | None, size: int, threshold: int = GZIP_MIN_BYTES) -> bool:
    """Whether to send ``size`` bytes gzip'd to a client with this Accept-Encoding (RFC 9110 12.5.3).

    gzip is sent when the client accepts it (``gzip``, ``x-gzip`` or ``*`` with a
    weight above 0) and either the body is over ``threshold`` bytes or the client
    refused identity (``identity;q=0``, or ``*;q=0`` without an identity entry).
    Without the header, or when it refuses every coding we have, the body goes
    as it is: identity is always understood.
    """
    if not accept_encoding:
        return False
    gzip_q, identity_q = _coding_weights(accept_encoding)
    if gzip_q <= 0:
        return False
    if identity_q is not None and identity_q <= 0:
        return True
    return size > threshold and (identity_q is None or gzip_q >= identity_q)


ENTITY_TAG = re.compile(r'(?:W/)?("[^"]*")')


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """If-None-Match's weak comparison (RFC 9110 13.1.2): ``*``, or any listed tag
    equal to ``etag`` once their ``W/`` prefixes are set aside."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    wanted = etag.removeprefix("W/")
    return any(tag == wanted for tag in ENTITY_TAG.findall(if_none_match))


def decide(accept_encoding: str | None, if_none_match: str | None, digest: str, size: int,
           compressible: bool = True) -> tuple[str, bool, bool]:
    """What a client gets of a body of ``size`` bytes whose SHA-256 is ``digest``:
    its strong ETag, whether it goes gzip'd (never when not ``compressible``), and whether
    the client has it already (304)."""
    gzip_ok = compressible and use_gzip(accept_encoding, size)
    # gzip and identity bytes are two representations: each has its own strong tag.
    etag = f'"{digest}-gz"' if gzip_ok else f'"{digest}"'
    return etag, gzip_ok, etag_matches(if_none_match, etag)


def representation(request_headers, digest: str, size: int, compressible: bool = True) -> tuple[str, bool, bool]:
    """``decide`` for a request's headers (a Starlette Headers or an ASGI header list)."""
    return decide(header_value(request_headers, "accept-encoding"), header_value(request_headers, "if-none-match"),
                  digest, size, compressible)


class PreparedResponse(Response):
    """A Response whose header lines were prepared once (``Payload.raw_headers``)."""

    def __init__(self, status_code: int, body: bytes, raw_headers: list):
        self.status_code = status_code
        self.body = body
        self.background = None
        self.raw_headers = list(raw_headers)


def payload_response(request, payload: Payload, cache_control: str) -> Response:
    """The payload, gzip'd when accepted, or 304 when the client has it already."""
    _etag, gzip_ok, fresh = representation(request.headers, payload.etag.strip('"'), len(payload.body),
                                           payload.compressible)
    lines = payload.raw_headers(cache_control, gzip_ok, fresh, ())
    if fresh:
        return PreparedResponse(304, b"", lines)
    return PreparedResponse(200, payload.gzipped if gzip_ok else payload.body, lines)


class ComputedResponses:
    """ETag, 304 and gzip for the responses computed per request.

    Precomputed payloads (bundle metadata, arrays, frontend files) carry their
    own ETag and gzip (``payload_response``). The responses built per request —
    a model, a gallery image, an analysis, the OpenAPI schema — are at most a
    few hundred KiB, so they are held whole here: the ETag of a GET's 200 is
    the SHA-256 of its bytes, so it changes whenever they do (new bundle, new
    code), a matching If-None-Match gets 304, and the body is gzip'd when the
    client accepts it. Hashing one (25-40 KiB) takes ~15 µs, under 1 % of the
    ~2 ms it takes to compute.
    """

    DYNAMIC = re.compile(r"^/api/experiments/[^/]+/(models|images)/|/analyze$|^/openapi\.json$")

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not self.DYNAMIC.search(scope["path"]):
            return await self.app(scope, receive, send)
        start, parts = None, []

        async def hold(message):
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                parts.append(message.get("body", b""))

        await self.app(scope, receive, hold)
        status, body = start["status"], b"".join(parts)
        headers = MutableHeaders(raw=list(start.get("headers", [])))
        if status == 200:
            etag, gzip_ok, fresh = representation(scope["headers"], hashlib.sha256(body).hexdigest(), len(body))
            if scope["method"] == "GET":
                headers["ETag"] = etag
                headers.setdefault("Cache-Control", REVALIDATE)
                if fresh:
                    kept = [(k, v) for k, v in headers.raw if k in (b"etag", b"cache-control")]
                    await send({"type": "http.response.start", "status": 304,
                                "headers": kept + [(b"vary", b"Accept-Encoding")]})
                    return await send({"type": "http.response.body", "body": b""})
            headers["Vary"] = "Accept-Encoding"
            if gzip_ok:
                body = gzip.compress(body, compresslevel=6, mtime=0)
                headers["Content-Encoding"] = "gzip"
                headers["Content-Length"] = str(len(body))
        await send({**start, "headers": headers.raw})
        await send({"type": "http.response.body", "body": body})
