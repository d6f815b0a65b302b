"""Response headers every page needs, CORS for the API, and the request size limit.

Plain ASGI middleware: they run on every request, so they stay small and
never buffer bodies.
"""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException

MAX_BODY = 64 * 1024  # bytes; the largest real request is 784 pixels of JSON (~15 KiB)

# plotly's scattergl draws with regl, which compiles its drawing functions with
# `new Function` at run time: without 'unsafe-eval' the WebGL scatter fails.
# plotly also sets inline style attributes, hence style-src 'unsafe-inline'.
# No inline <script> is allowed anywhere.
PAGE_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; worker-src 'self' blob:; object-src 'none'; "
    "base-uri 'self'; form-action 'self'"
)
# FastAPI's /docs page loads Swagger UI from its CDN and starts it with an inline script.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; img-src 'self' data: https://fastapi.tiangolo.com; "
    "connect-src 'self'; object-src 'none'; frame-ancestors 'none'"
)
CORS_HEADERS = [
    (b"access-control-allow-origin", b"*"),
    (b"access-control-expose-headers", b"ETag, X-Array-Dtype, X-Array-Shape, Content-Length"),
]


def security_headers(path: str) -> list[tuple[bytes, bytes]]:
    embeddable = path.startswith("/embed/")
    if path in ("/docs", "/redoc", "/docs/oauth2-redirect"):
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
    """Security headers on every response; CORS (GET only) on /api; a 64 KiB body limit."""

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
            allowed = request_headers[b"access-control-request-method"] in (b"GET", b"HEAD")
            headers = extra + [(b"access-control-allow-methods", b"GET, HEAD"),
                               (b"access-control-allow-headers", b"If-None-Match, Accept-Encoding"),
                               (b"access-control-max-age", b"86400"), (b"content-length", b"0")]
            await send({"type": "http.response.start", "status": 204 if allowed else 405, "headers": headers})
            return await send({"type": "http.response.body", "body": b""})

        length = request_headers.get(b"content-length")
        if length is not None:
            if not length.isdigit():
                return await _send_json(send, 400, "Content-Length is not a number.", extra)
            if int(length) > MAX_BODY:
                return await _send_json(send, 413, f"The request body is over {MAX_BODY // 1024} KiB.", extra)

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
            await send(message)

        try:
            await self.app(scope, limited_receive, send_with_headers)
        except BodyTooLarge:
            await _send_json(send, 413, f"The request body is over {MAX_BODY // 1024} KiB.", extra)


class BodyTooLarge(HTTPException):
    """A streamed body went past MAX_BODY (an HTTPException, so FastAPI answers 413 with it)."""

    def __init__(self):
        super().__init__(413, f"The request body is over {MAX_BODY // 1024} KiB.")
