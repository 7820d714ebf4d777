"""ASGI middleware of Customer 360: an access log without personal data, and headers
that keep profile pages out of caches, frames and referrers."""

from __future__ import annotations

import logging
import time

from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

access_logger = logging.getLogger("orchestration.customer360.access")

# Profile pages contain personal data: no caching, no framing, no referrer, and no
# resources from anywhere but the page itself (the stylesheet is inline).
SECURITY_HEADERS = [
    (b"cache-control", b"no-store"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (
        b"content-security-policy",
        b"default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        b"frame-ancestors 'none'",
    ),
]


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class AccessLogMiddleware:
    """Log method, route, status and duration of each request.

    The route is logged as its pattern (``/customers/{customer_id}``), never the
    request path, and this middleware reads neither query string nor body. Customer
    ids, search terms and anything a caller puts into a URL stay out of the log.
    """

    def __init__(self, app: ASGIApp, routes: list) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            access_logger.info(
                "%s %s %d %.1f ms",
                scope["method"],
                self._route_pattern(scope),
                status,
                (time.perf_counter() - started) * 1000,
            )

    def _route_pattern(self, scope: Scope) -> str:
        for route in self.routes:
            match, _ = route.matches(scope)
            if match is not Match.NONE:
                return route.path
        return "(no route)"
