"""The review web page behind `spendsense review serve` (docs/review.md, "The review web page").

A thin layer over the same review code as the CLI: `lib/review/actions.py` validates and records every
decision (its refusals are shown word for word), `explain.py` gives the item page, and decisions land
in the same append-only decision log with source `web`. Each request opens the warehouse read-only and
closes it before answering, so a pipeline run can write between any two requests.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from spendsense_dagster.lib.core.personas import PERSONAS
from spendsense_dagster.lib.core.settings import Settings
from spendsense_dagster.lib.core.warehouse import RunContextMissing, run_as_of
from spendsense_dagster.lib.review import actions
from spendsense_dagster.lib.review.explain import UnknownRecommendation, decision_trace, format_trace
from spendsense_dagster.lib.review.operator_tokens import current_digest, verify_token
from spendsense_dagster.lib.review.web.queue_view import (
    GUARDRAIL_OUTCOMES,
    PAGE_SIZES,
    SORTS,
    STATUSES,
    BadFilter,
    QueueFilter,
    clean_pending_ids,
    queue_page,
)
from spendsense_dagster.lib.review.web.security import (
    CSRF_FIELD,
    CSRF_HEADER,
    SecurityHeadersMiddleware,
    Session,
    SessionStore,
    csrf_ok,
    same_origin,
    set_session_cookie,
)

WEB_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"
DEFAULT_HOST = "127.0.0.1"
APPLIES_NOTE = (
    "Decisions apply on the next publish: the spendsense_publish job, which the review sensor starts"
    " under make dev, or the next spendsense run."
)
BUSY_MESSAGE = (
    "The warehouse is busy: a pipeline run is writing it. Nothing was read or recorded; retry in a moment."
)
_STATUS_OF_ACTION = {"approve": "approved", "reject": "rejected", "override": "overridden"}
_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


class WarehouseUnavailable(RuntimeError):
    """The warehouse is missing or a writer holds it; the message says which and what to do."""


class Refusal(Exception):
    """A request refused before or instead of a decision: an HTTP status and the message to show."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


@contextmanager
def read_only_warehouse(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection for one request, closed at the end of it."""
    if not path.exists():
        raise WarehouseUnavailable(f"No warehouse at {path}: run `spendsense run` first.")
    try:
        con = duckdb.connect(str(path), read_only=True)
    except (duckdb.IOException, duckdb.ConnectionException) as error:
        if "lock" not in str(error).lower():
            raise
        raise WarehouseUnavailable(BUSY_MESSAGE) from error
    try:
        yield con
    finally:
        con.close()


def _subresource_integrity(path: Path) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(path.read_bytes()).digest()).decode()


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def _field(form, name: str) -> str | None:
    """A text field of a form (an uploaded file where text is expected counts as absent)."""
    value = form.get(name)
    return value if isinstance(value, str) else None


def _next_path(form) -> str:
    """Where a script-less form goes back to: a path of this site only (never another host)."""
    target = _field(form, "next") or "/"
    return target if target.startswith("/") and not target.startswith("//") else "/"


def show(value) -> str:
    """A value as a page shows it: no value as a dash, numbers without float noise, lists joined."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.4f}".rstrip("0").rstrip(".")
    if isinstance(value, list | tuple):
        return ", ".join(show(entry) for entry in value)
    return str(value)


class ReviewApp:
    """The routes and what they share: settings, sessions, templates."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.sessions = SessionStore()
        environment = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES_DIR), autoescape=True, undefined=jinja2.StrictUndefined
        )
        environment.filters["show"] = show
        self.templates = Jinja2Templates(env=environment)
        script, style = STATIC_DIR / "review.js", STATIC_DIR / "review.css"
        self.assets = {
            "script_integrity": _subresource_integrity(script),
            "script_version": hashlib.sha256(script.read_bytes()).hexdigest()[:12],
            "style_version": hashlib.sha256(style.read_bytes()).hexdigest()[:12],
        }

    # -- pages -------------------------------------------------------------------------------------

    def render(self, request: Request, name: str, context: dict, status_code: int = 200) -> Response:
        session = self.sessions.get(request)
        flash = []
        if session is not None:
            flash, session.flash = session.flash, []
        return self.templates.TemplateResponse(
            request,
            name,
            {
                "session": session,
                "flash": flash,
                "assets": self.assets,
                "applies_note": APPLIES_NOTE,
                **context,
            },
            status_code=status_code,
        )

    def message_page(self, request: Request, status_code: int, title: str, message: str) -> Response:
        response = self.render(request, "message.html", {"title": title, "message": message}, status_code)
        if status_code == 503:
            response.headers["retry-after"] = "5"
        return response

    async def queue(self, request: Request) -> Response:
        try:
            queue_filter = QueueFilter.from_params(request.query_params)
        except BadFilter as error:
            return self.message_page(request, 400, "Bad filter", str(error))

        def load():
            with read_only_warehouse(self.settings.warehouse_path) as con:
                return run_as_of(con), queue_page(con, self.settings.review_dir, queue_filter)

        loaded = await self.read(request, load)
        if isinstance(loaded, Response):
            return loaded
        as_of, page = loaded
        return self.render(
            request,
            "queue.html",
            {
                "page": page,
                "filter": queue_filter,
                "as_of": as_of,
                "statuses": STATUSES,
                "personas": PERSONAS,
                "outcomes": GUARDRAIL_OUTCOMES,
                "sorts": tuple(SORTS),
                "page_sizes": PAGE_SIZES,
                "here": f"/?{queue_filter.query_string()}",
            },
        )

    async def item(self, request: Request) -> Response:
        recommendation_id = request.path_params["recommendation_id"]

        def load():
            with read_only_warehouse(self.settings.warehouse_path) as con:
                return decision_trace(con, self.settings.review_dir, recommendation_id)

        try:
            trace = await self.read(request, load)
        except UnknownRecommendation as error:
            return self.message_page(request, 404, "Unknown item", str(error.args[0]))
        if isinstance(trace, Response):
            return trace
        return self.render(request, "item.html", {"trace": trace, "trace_text": format_trace(trace)})

    async def read(self, request: Request, load):
        """`load()` in a worker thread, or the page that says why the warehouse cannot be read now."""
        try:
            return await run_in_threadpool(load)
        except WarehouseUnavailable as error:
            return self.message_page(request, 503, "Warehouse unavailable", str(error))
        except (duckdb.CatalogException, RunContextMissing):
            message = "The warehouse holds no recommendations yet: run `spendsense run` first."
            return self.message_page(request, 503, "Nothing to review yet", message)

    async def signin_page(self, request: Request) -> Response:
        session = self.sessions.get(request) or self.sessions.create()
        response = self.render_signin(request, session, next_path=_next_path(request.query_params))
        set_session_cookie(response, session)
        return response

    def render_signin(
        self,
        request: Request,
        session: Session,
        *,
        next_path: str,
        error: str | None = None,
        status: int = 200,
    ) -> Response:
        context = {"signin_csrf": session.csrf_token, "next_path": next_path, "error": error}
        return self.render(request, "signin.html", context, status)

    async def signin(self, request: Request) -> Response:
        form = await request.form()
        session = self.sessions.get(request)
        next_path = _next_path(form)
        if not same_origin(request) or not csrf_ok(session, _field(form, CSRF_FIELD)):
            return self.message_page(
                request, 403, "Refused", "Refused: missing or wrong CSRF token. Reload the sign-in page."
            )
        operator_id = (_field(form, "operator_id") or "").strip()
        digest = verify_token(self.settings.review_dir, operator_id, (_field(form, "token") or "").strip())
        if digest is None:
            return self.render_signin(
                request,
                session,
                next_path=next_path,
                status=401,
                error="Unknown operator id or wrong token."
                " `spendsense review token --operator OP` creates one.",
            )

        def check():
            with read_only_warehouse(self.settings.warehouse_path) as con:
                actions.check_operator(con, operator_id)

        try:
            await run_in_threadpool(check)
        except WarehouseUnavailable as error:
            return self.message_page(request, 503, "Warehouse unavailable", str(error))
        except actions.DecisionError as error:
            return self.render_signin(request, session, next_path=next_path, status=403, error=str(error))
        # A new session id at sign-in: an id planted before it is worth nothing after.
        self.sessions.drop(session)
        signed_in = self.sessions.create(operator_id, digest)
        response = RedirectResponse(next_path, status_code=303)
        set_session_cookie(response, signed_in)
        return response

    async def signout(self, request: Request) -> Response:
        form = await request.form()
        session = self.sessions.get(request)
        if not same_origin(request) or not csrf_ok(session, _field(form, CSRF_FIELD)):
            return self.message_page(request, 403, "Refused", "Refused: missing or wrong CSRF token.")
        self.sessions.drop(session)
        return RedirectResponse("/signin", status_code=303)

    # -- decisions ---------------------------------------------------------------------------------

    async def authorised_post(self, request: Request) -> tuple[Session, FormData]:
        """The signed-in session and form of a decision POST, or a Refusal: checked before anything is
        read or written. Another site's request, a missing or wrong CSRF token, no sign-in, or a token
        rotated since sign-in are all refused."""
        if not same_origin(request):
            raise Refusal(403, "Refused: the request came from another site.")
        form = await request.form()
        session = self.sessions.get(request)
        if not csrf_ok(session, request.headers.get(CSRF_HEADER) or _field(form, CSRF_FIELD)):
            raise Refusal(403, "Refused: missing or wrong CSRF token. Reload the page and try again.")
        if not session.operator_id:
            raise Refusal(401, "Sign in with your operator id and token to decide.")
        stored = current_digest(self.settings.review_dir, session.operator_id) or ""
        if not hmac.compare_digest(stored, session.token_digest or ""):
            self.sessions.drop(session)
            raise Refusal(401, "Your operator token was rotated or removed: sign in again.")
        return session, form

    def answer(
        self, request: Request, session: Session | None, form: FormData | None, status: int, body: dict
    ):
        """JSON for the page's script; for a form sent without script, a message and back to the page."""
        if _wants_json(request):
            return JSONResponse(body, status_code=status)
        if session is None or form is None:
            return self.message_page(request, status, "Refused", body.get("error", ""))
        kind = "ok" if body.get("ok") else "error"
        text = body.get("message") if body.get("ok") else body.get("error")
        session.flash.append({"kind": kind, "text": text})
        session.flash.extend({"kind": "note", "text": note} for note in body.get("notes", []))
        return RedirectResponse(_next_path(form), status_code=303)

    async def run_decision(self, request: Request, decide) -> Response:
        """The common path of every decision: authorise, decide in a worker thread, answer."""
        session = form = None
        try:
            session, form = await self.authorised_post(request)
            outcome, status, message = await run_in_threadpool(decide, session.operator_id, form)
        except Refusal as refusal:
            return self.answer(
                request, session, form, refusal.status_code, {"ok": False, "error": refusal.message}
            )
        except actions.DecisionError as error:  # the same words the CLI prints
            return self.answer(request, session, form, 400, {"ok": False, "error": str(error.args[0])})
        except WarehouseUnavailable as error:
            return self.answer(request, session, form, 503, {"ok": False, "error": str(error)})
        ids = [decision.recommendation_id for decision in outcome.written + outcome.unchanged]
        notes = [
            f"note: {finding['check']}: {finding['message']}"
            for decision in outcome.written
            for finding in json.loads(decision.guardrail_findings or "[]")
        ]
        body = {
            "ok": True,
            "message": f"{message} {APPLIES_NOTE}",
            "notes": notes,
            "status": status,
            "operator_id": session.operator_id,
            "recommendation_ids": ids,
            "recorded": len(outcome.written),
            "already_in_force": len(outcome.unchanged),
        }
        return self.answer(request, session, form, 200, body)

    async def decide(self, request: Request) -> Response:
        action = request.path_params["action"]
        recommendation_id = request.path_params["recommendation_id"]
        if action not in _STATUS_OF_ACTION:
            return self.message_page(request, 404, "Not found", f"no such decision: {action!r}")
        review_dir = self.settings.review_dir

        def decide(operator_id: str, form: FormData):
            with read_only_warehouse(self.settings.warehouse_path) as con:
                if action == "approve":
                    outcome = actions.approve(con, review_dir, [recommendation_id], operator_id, source="web")
                elif action == "reject":
                    reason = _field(form, "reason")
                    outcome = actions.reject(con, review_dir, recommendation_id, reason, operator_id, "web")
                else:
                    outcome = actions.override(
                        con,
                        review_dir,
                        recommendation_id,
                        _field(form, "title"),
                        _field(form, "content"),
                        _field(form, "reason"),
                        operator_id,
                        source="web",
                    )
            verb = _STATUS_OF_ACTION[action]
            done = "already in force" if outcome.unchanged and not outcome.written else "recorded"
            return outcome, verb, f"{recommendation_id} {verb}: {done}."

        return await self.run_decision(request, decide)

    async def bulk_approve(self, request: Request) -> Response:
        review_dir = self.settings.review_dir

        def decide(operator_id: str, form: FormData):
            try:
                queue_filter = QueueFilter.from_params(form)
            except BadFilter as error:
                raise Refusal(400, str(error)) from error
            if queue_filter.status != "pending":
                raise Refusal(400, "Bulk-approve takes pending items: filter by status pending first.")
            with read_only_warehouse(self.settings.warehouse_path) as con:
                ids = clean_pending_ids(con, review_dir, queue_filter)
                expected = _field(form, "expected") or ""
                if expected != str(len(ids)):
                    raise Refusal(
                        409,
                        f"The queue changed since the page was loaded: {len(ids)} clean pending items match"
                        f" this filter now, the page showed {expected or 'none'}. Nothing recorded; reload.",
                    )
                if not ids:
                    actions.check_operator(con, operator_id)
                    return (
                        actions.DecisionOutcome(),
                        "approved",
                        "No clean pending items match: nothing to do.",
                    )
                outcome = actions.bulk_approve(
                    con, review_dir, operator_id, recommendation_ids=ids, source="web"
                )
            return outcome, "approved", f"Bulk-approved {len(outcome.written)} clean pending item(s)."

        return await self.run_decision(request, decide)


def allowed_hosts(host: str) -> list[str]:
    """Host headers the app answers: the bound address and the loopback names (a page on another
    site cannot reach it through DNS rebinding); any when bound to every interface."""
    if host in ("0.0.0.0", "::", ""):
        return ["*"]
    return sorted({host, *_LOOPBACK_HOSTS})


def create_app(settings: Settings | None = None, host: str = DEFAULT_HOST) -> Starlette:
    review = ReviewApp(settings or Settings.from_env())
    routes = [
        Route("/", review.queue, methods=["GET"]),
        Route("/items/{recommendation_id}", review.item, methods=["GET"]),
        Route("/items/{recommendation_id}/{action:str}", review.decide, methods=["POST"]),
        Route("/bulk-approve", review.bulk_approve, methods=["POST"]),
        Route("/signin", review.signin_page, methods=["GET"]),
        Route("/signin", review.signin, methods=["POST"]),
        Route("/signout", review.signout, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    middleware = [
        Middleware(SecurityHeadersMiddleware),
        Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts(host)),
    ]
    return Starlette(routes=routes, middleware=middleware)
