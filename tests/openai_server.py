"""A real OpenAI-compatible chat-completions server on 127.0.0.1 whose replies tests can script.

`POST /v1/chat/completions` answers like OpenAI would, building valid items from the request's data
block (so the cited facts are the user's real values), or misbehaves as scripted: 429 with
Retry-After, 500, a reply slower than the client's timeout, text that is not JSON, JSON of the wrong
shape, a single item. With `rejects_json_schema` it answers 400 to every `json_schema` request, like a
server without structured outputs. Every request body and Authorization header is recorded, in arrival
order.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

from spendsense_dagster.lib.recommend.generation.prompts import extract_data_block

VALID = "valid"
RATE_LIMITED = "rate_limited"
SERVER_ERROR = "server_error"
SLOW = "slow"
NOT_JSON = "not_json"
WRONG_SHAPE = "wrong_shape"
ONE_ITEM = "one_item"

PROMPT_TOKENS = 1000
COMPLETION_TOKENS = 200


def items_for(request: dict[str, Any], count: int = 2) -> list[dict[str, Any]]:
    """Contract-shaped items citing the first numeric features of the request's data block."""
    first_user_turn = next(message["content"] for message in request["messages"] if message["role"] == "user")
    features = extract_data_block(first_user_turn)["features"]
    numeric = sorted(
        (name, value)
        for name, value in features.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    )
    return [
        {
            "title": f"Education item {index + 1}",
            "content": "You can explore a few small steps:\n\n- one\n- two",
            "rationale": f"Because your {name} is {value}, this topic fits you.",
            "cited_facts": [{"name": name, "value": value}],
            "metadata": {"priority": "medium", "tags": ["test"]},
        }
        for index, (name, value) in enumerate((numeric * count)[:count])
    ]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # The generator opens up to 16 connections at once; socketserver's default backlog of 5 could
    # refuse some on a loaded machine, and the client's retry would then change the call log.
    request_queue_size = 64
    app: ScriptedOpenAIServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that timed out and hung up are part of the script, not a server failure


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        self.server.app.authorizations.append(self.headers.get("Authorization"))
        status, headers, payload = self.server.app.respond(self.path, body)
        encoded = json.dumps(payload).encode("utf-8")
        try:
            self.send_response(status)
            for name, value in {**headers, "Content-Type": "application/json"}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(encoded)))
            self.end_headers()
            self.wfile.write(encoded)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (its timeout): exactly what a slow reply is for


def _error(status: int, message: str, error_type: str, headers: dict[str, str] | None = None):
    return (
        status,
        headers or {},
        {"error": {"message": message, "type": error_type, "param": None, "code": None}},
    )


class ScriptedOpenAIServer:
    """Start with `with ScriptedOpenAIServer() as server:`; point the client at `server.base_url`."""

    def __init__(
        self,
        *,
        default: str = VALID,
        delay_s: float = 0.0,
        slow_s: float = 2.0,
        retry_after: str = "1",
        rejects_json_schema: bool = False,
        items: Callable[[dict[str, Any]], list[dict[str, Any]]] = items_for,
    ):
        self.default = default
        self.items = items  # builds a valid reply's items from the request: tests may swap in their own
        self.delay_s = delay_s  # added to every reply (concurrency tests)
        self.slow_s = slow_s
        self.retry_after = retry_after
        self.rejects_json_schema = rejects_json_schema
        self.requests: list[dict[str, Any]] = []
        self.authorizations: list[str | None] = []  # each request's Authorization header (the API key)
        self._script: deque[str] = deque()
        self._lock = threading.Lock()
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.app = self
        # A short poll interval: shutdown() waits up to one interval, and every test stops a server.
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,), daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def script(self, *behaviours: str) -> None:
        """The next requests get these behaviours, in order; later ones get `default`."""
        with self._lock:
            self._script.extend(behaviours)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def respond(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, str], dict[str, Any]]:
        rejected = self.rejects_json_schema and body.get("response_format", {}).get("type") == "json_schema"
        with self._lock:
            self.requests.append(body)
            # A rejected json_schema request leaves the script for the requests that follow it.
            behaviour = self._script.popleft() if self._script and not rejected else self.default
        if path.rstrip("/") != "/v1/chat/completions":
            return _error(404, f"no route {path}", "invalid_request_error")
        if rejected:
            return _error(
                400,
                "Invalid parameter: 'response_format' of type 'json_schema' is not supported "
                "with this model.",
                "invalid_request_error",
            )
        if self.delay_s:
            time.sleep(self.delay_s)
        if behaviour == RATE_LIMITED:
            return _error(429, "Rate limit reached", "requests", {"Retry-After": self.retry_after})
        if behaviour == SERVER_ERROR:
            return _error(500, "The server had an error while processing your request.", "server_error")
        if behaviour == SLOW:
            time.sleep(self.slow_s)
        content = {
            NOT_JSON: "Sure! Here are some tips: spend less.",
            WRONG_SHAPE: json.dumps({"items": [{"headline": "x"}]}),
            ONE_ITEM: json.dumps({"recommendations": items_for(body, count=1)}),
        }.get(behaviour) or json.dumps({"recommendations": self.items(body)})
        return (
            200,
            {},
            {
                "id": f"chatcmpl-{len(self.requests)}",
                "object": "chat.completion",
                "created": 1_700_000_000,
                "model": body.get("model", "unknown"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": PROMPT_TOKENS,
                    "completion_tokens": COMPLETION_TOKENS,
                    "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
                },
            },
        )
