"""A real S3-compatible server for tests: moto in server mode on 127.0.0.1, and a flaky proxy in front of it.

No mocks: boto3 talks HTTP to these servers exactly as it would to AWS or MinIO.
"""

from __future__ import annotations

import http.client
import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Self
from urllib.parse import urlsplit

import pytest
from moto.server import ThreadedMotoServer

DUMMY_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    # never read the machine's own profiles or credentials
    "AWS_CONFIG_FILE": "/nonexistent/spendsense-test-aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/spendsense-test-aws-credentials",
}


@contextmanager
def moto_s3_server() -> Iterator[str]:
    """Start moto on 127.0.0.1 on a free port; yields its endpoint URL."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


class FlakyProxy:
    """HTTP proxy on 127.0.0.1 that answers the first `failures` requests (of `method`, e.g. "PUT", or
    of any method) with 503 SlowDown, and forwards everything else to `upstream`.

    Real transient failures for the retry path: the client sees genuine HTTP 503 responses.
    """

    def __init__(self, upstream: str, failures: int, method: str | None = None):
        self.failures = failures
        self.method = method
        self.requests = 0
        self.failed = 0
        self._lock = threading.Lock()
        upstream_parts = urlsplit(upstream)
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # keep test output quiet
                pass

            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with proxy._lock:
                    proxy.requests += 1
                    fail = proxy.failed < proxy.failures and proxy.method in (None, self.command)
                    proxy.failed += fail
                if fail:
                    self._send(
                        503, {"Content-Type": "application/xml"}, b"<Error><Code>SlowDown</Code></Error>"
                    )
                    return
                connection = http.client.HTTPConnection(
                    upstream_parts.hostname, upstream_parts.port, timeout=30
                )
                try:
                    connection.request(self.command, self.path, body=body, headers=dict(self.headers))
                    response = connection.getresponse()
                    payload = response.read()
                    headers = {
                        k: v
                        for k, v in response.getheaders()
                        if k.lower() not in ("transfer-encoding", "connection")
                    }
                    headers["Content-Length"] = str(len(payload))
                    self._send(response.status, headers, payload, send_body=self.command != "HEAD")
                finally:
                    connection.close()

            def _send(self, status: int, headers: dict, payload: bytes, send_body: bool = True) -> None:
                self.send_response(status)
                for key, value in headers.items():
                    if key.lower() != "content-length":
                        self.send_header(key, value)
                self.send_header("Content-Length", headers.get("Content-Length", str(len(payload))))
                self.end_headers()
                if send_body:
                    self.wfile.write(payload)

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _handle

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


# Fixture functions carry a _fixture suffix and a name=: test modules import them without their
# parameters shadowing the import.
@pytest.fixture(scope="session", name="aws_test_env")
def aws_test_env_fixture() -> Iterator[dict[str, str]]:
    """Dummy AWS credentials and region for the whole session (moto accepts any)."""
    with pytest.MonkeyPatch.context() as patch:
        for key, value in DUMMY_AWS_ENV.items():
            patch.setenv(key, value)
        for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
            patch.delenv(key, raising=False)
        yield DUMMY_AWS_ENV


@pytest.fixture(scope="session", name="s3_endpoint")
def s3_endpoint_fixture(aws_test_env) -> Iterator[str]:
    """The endpoint URL of a moto S3 server shared by the session; tests use their own buckets."""
    with moto_s3_server() as endpoint:
        yield endpoint
