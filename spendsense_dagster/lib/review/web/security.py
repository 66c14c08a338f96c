"""Sessions, CSRF tokens and response headers of the review web page (docs/review.md, "Safety").

Sessions live in the server's memory (one process, one operator desk): the cookie holds only a random
id, HttpOnly and SameSite=Strict. Every session, signed in or not, has its own CSRF token, which every
POST must send back (form field or `X-CSRF-Token` header). A signed-in session remembers the digest of
the token it signed in with, so rotating the operator's token ends it.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SESSION_COOKIE = "spendsense_review"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SESSION_IDLE_SECONDS = 8 * 3600

# Scripts and styles only from the page's own origin (one external script file, no inline code);
# charts are data: images; nothing may frame the page or receive its forms.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",  # "no-referrer" would make a form's Origin "null"
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}


@dataclass
class Session:
    session_id: str
    csrf_token: str
    operator_id: str | None = None
    token_digest: str | None = None  # the operator token's digest at sign-in
    flash: list[dict] = field(default_factory=list)  # messages for the next page (no-script forms)
    last_seen: float = field(default_factory=time.monotonic)


class SessionStore:
    """Sessions by random id, in memory; idle ones expire."""

    def __init__(self, idle_seconds: float = SESSION_IDLE_SECONDS) -> None:
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        self._idle_seconds = idle_seconds

    def get(self, request: Request) -> Session | None:
        session_id = request.cookies.get(SESSION_COOKIE)
        if not session_id:
            return None
        now = time.monotonic()
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return None
            if now - session.last_seen > self._idle_seconds:
                del self._sessions[session_id]
                return None
            session.last_seen = now
            return session

    def create(self, operator_id: str | None = None, token_digest: str | None = None) -> Session:
        session = Session(
            session_id=secrets.token_urlsafe(32),
            csrf_token=secrets.token_urlsafe(32),
            operator_id=operator_id,
            token_digest=token_digest,
        )
        with self._lock:
            self._sessions[session.session_id] = session
        return session

    def drop(self, session: Session) -> None:
        with self._lock:
            self._sessions.pop(session.session_id, None)


def set_session_cookie(response: Response, session: Session) -> None:
    # No `secure`: the page is served over plain HTTP on the loopback address by default.
    response.set_cookie(SESSION_COOKIE, session.session_id, httponly=True, samesite="strict", path="/")


def csrf_ok(session: Session | None, sent: str | None) -> bool:
    """The token sent with a POST is this session's (compared in constant time)."""
    return bool(session and sent) and hmac.compare_digest(session.csrf_token, sent)


def same_origin(request: Request) -> bool:
    """A POST from another site is refused even before its CSRF token is looked at: a browser names the
    page that sent it in `Origin` (and `Sec-Fetch-Site`)."""
    if request.headers.get("sec-fetch-site") in ("cross-site", "same-site"):
        return False
    origin = request.headers.get("origin")
    if origin is None:
        return True  # not a browser form or fetch (a script, curl): the CSRF token decides
    return origin == f"{request.url.scheme}://{request.headers.get('host', '')}"


class SecurityHeadersMiddleware:
    """Adds SECURITY_HEADERS to every response, and `no-store` to everything but static files."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_static = scope["path"].startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
                if not is_static:
                    headers["cache-control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)
