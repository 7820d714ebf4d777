"""Login for Customer 360: HTTP Basic with one username and password.

The credentials come from ``CDP_SERVE_USER`` and ``CDP_SERVE_PASSWORD``. Without them
the app starts only on a loopback address, with a random password printed once at
start, because anyone who can reach the port could otherwise read every profile.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

USER_VARIABLE = "CDP_SERVE_USER"
PASSWORD_VARIABLE = "CDP_SERVE_PASSWORD"
GENERATED_USER = "staff"
REALM = "Customer 360"


class CredentialsError(ValueError):
    """The login settings do not allow the app to start on the requested address."""


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str
    generated: bool = False

    def matches(self, username: str, password: str) -> bool:
        """Compare both values in constant time, so timing reveals neither."""
        user_ok = hmac.compare_digest(username.encode(), self.username.encode())
        password_ok = hmac.compare_digest(password.encode(), self.password.encode())
        return user_ok and password_ok


def is_loopback(host: str) -> bool:
    """Return True for ``localhost`` and loopback IP addresses (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def resolve_credentials(host: str, environ: Mapping[str, str]) -> Credentials:
    """Read the credentials from the environment, or generate them for loopback.

    Raises ``CredentialsError`` when only one of the two variables is set, or when
    neither is set and ``host`` is not a loopback address.
    """
    username = environ.get(USER_VARIABLE, "")
    password = environ.get(PASSWORD_VARIABLE, "")
    if username and password:
        return Credentials(username, password)
    if username or password:
        missing = PASSWORD_VARIABLE if username else USER_VARIABLE
        raise CredentialsError(
            f"{missing} is missing or empty; set both {USER_VARIABLE} and "
            f"{PASSWORD_VARIABLE}, or neither to get a generated password on "
            "127.0.0.1."
        )
    if not is_loopback(host):
        raise CredentialsError(
            f"not starting on {host} without a login: set {USER_VARIABLE} and "
            f"{PASSWORD_VARIABLE}, or listen on 127.0.0.1."
        )
    return Credentials(GENERATED_USER, secrets.token_urlsafe(18), generated=True)


def parse_basic_authorization(header: str) -> tuple[str, str] | None:
    """Return (username, password) from an ``Authorization: Basic`` header value."""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, separator, password = decoded.partition(":")
    return (username, password) if separator else None


class BasicAuthMiddleware:
    """Respond with 401 and a Basic challenge to requests without valid credentials."""

    def __init__(self, app: ASGIApp, credentials: Credentials) -> None:
        self.app = app
        self.credentials = credentials

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._authorized(scope):
            await self.app(scope, receive, send)
            return
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (
                        b"www-authenticate",
                        f'Basic realm="{REALM}", charset="UTF-8"'.encode(),
                    ),
                    (b"content-type", b"text/plain; charset=utf-8"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b"Login required.\n"})

    def _authorized(self, scope: Scope) -> bool:
        for name, value in scope["headers"]:
            if name == b"authorization":
                pair = parse_basic_authorization(value.decode("latin-1"))
                return pair is not None and self.credentials.matches(*pair)
        return False
