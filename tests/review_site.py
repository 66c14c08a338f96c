"""`spendsense review serve` as a real process on 127.0.0.1, and an operator's HTTP session with it."""

from __future__ import annotations

import html
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

SPENDSENSE = str(Path(sys.executable).parent / "spendsense")
_CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')
_CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


def cli(env: dict[str, str | None], *args: str) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in {**os.environ, **env}.items() if value is not None}
    return subprocess.run(
        [SPENDSENSE, *args], env=environment, capture_output=True, text=True, timeout=120, check=False
    )


def new_token(env: dict[str, str | None], operator_id: str) -> str:
    """`spendsense review token --operator OP`; the token is the last line it prints."""
    result = cli(env, "review", "token", "--operator", operator_id)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def review_server(env: dict[str, str | None]) -> Iterator[str]:
    """The server as an operator starts it; yields its base URL and stops it afterwards."""
    port = _free_port()
    environment = {key: value for key, value in {**os.environ, **env}.items() if value is not None}
    process = subprocess.Popen(
        [SPENDSENSE, "review", "serve", "--port", str(port)],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise AssertionError(f"review serve exited early: {process.stdout.read()}")
            try:
                if requests.get(f"{base}/signin", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("review serve did not answer within 60 s")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def csrf_of(page_html: str) -> str:
    found = _CSRF_META.search(page_html) or _CSRF_INPUT.search(page_html)
    assert found, "no CSRF token on the page"
    return html.unescape(found.group(1))


def sign_in(base: str, operator_id: str, token: str) -> tuple[requests.Session, requests.Response]:
    """A fresh HTTP session that signs in; returns it and the answer to the sign-in POST."""
    session = requests.Session()
    form = session.get(f"{base}/signin", timeout=10)
    answer = session.post(
        f"{base}/signin",
        data={"csrf_token": csrf_of(form.text), "operator_id": operator_id, "token": token},
        allow_redirects=False,
        timeout=30,
    )
    return session, answer


def decide(
    session: requests.Session, base: str, path: str, data: dict | None = None, csrf: str | None = None
) -> requests.Response:
    """A decision POST as the page's script sends it (JSON answer); csrf=None sends none."""
    headers = {"Accept": "application/json"}
    if csrf is not None:
        headers["X-CSRF-Token"] = csrf
    return session.post(f"{base}{path}", data=data or {}, headers=headers, timeout=60)


def log_lines(review_dir: Path) -> list[str]:
    log = review_dir / "decision_log.jsonl"
    return log.read_text().splitlines() if log.exists() else []
