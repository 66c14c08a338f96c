"""Per-operator sign-in tokens for the review web app (docs/review.md, "The review web page").

`spendsense review token --operator OP` creates or rotates an operator's token and prints it once.
Only a SHA-256 digest is stored: a token is 256 random bits, so the digest can be neither guessed
back nor brute-forced, and a slow password hash would add nothing. The digests live in
`operator_tokens.json` of the review folder (outside the warehouse, beside the decision log), a file
only its owner can read. Rotating replaces the digest, which ends every session signed in with the old
token.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from spendsense_dagster.lib.core.files import write_atomically
from spendsense_dagster.lib.review.decision_log import utc_now_iso

TOKENS_FILE_NAME = "operator_tokens.json"
_TOKEN_PREFIX = "sst_"  # recognisable in a password manager or a leaked-secret scanner
_TOKEN_BYTES = 32


@dataclass(frozen=True)
class IssuedToken:
    operator_id: str
    token: str  # shown once, never stored
    created_at: str
    path: Path


def tokens_path(review_dir: Path) -> Path:
    return Path(review_dir) / TOKENS_FILE_NAME


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _read(path: Path) -> dict[str, dict]:
    if not path.exists():
        return {}
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not a JSON object ({error.msg}); rotate every operator's token") from error
    if not isinstance(entries, dict):
        raise ValueError(f"{path}: not a JSON object; rotate every operator's token")
    return entries


def issue_token(review_dir: Path, operator_id: str) -> IssuedToken:
    """A new random token for `operator_id`, replacing any earlier one. The caller checks that the id is
    an operator's (raw.users) before asking."""
    path = tokens_path(review_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    token = _TOKEN_PREFIX + secrets.token_urlsafe(_TOKEN_BYTES)
    created_at = utc_now_iso()
    # The lock file serialises two rotations at once; the atomic write keeps readers from ever seeing half
    # a file, and mode 0600 keeps the digests to their owner.
    lock_fd = os.open(path.with_name(f".{path.name}.lock"), os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        entries = _read(path)
        entries[operator_id] = {"sha256": token_digest(token), "created_at": created_at}
        write_atomically(path, (json.dumps(entries, indent=2, sort_keys=True) + "\n").encode(), mode=0o600)
    finally:
        os.close(lock_fd)
    return IssuedToken(operator_id=operator_id, token=token, created_at=created_at, path=path)


def current_digest(review_dir: Path, operator_id: str) -> str | None:
    """The stored digest of the operator's token now, or None when they have none."""
    entry = _read(tokens_path(review_dir)).get(operator_id)
    return entry.get("sha256") if isinstance(entry, dict) else None


def verify_token(review_dir: Path, operator_id: str, token: str) -> str | None:
    """The digest when `token` is the operator's current token, else None (compared in constant time)."""
    stored = current_digest(review_dir, operator_id)
    if not stored or not token:
        return None
    digest = token_digest(token)
    return digest if hmac.compare_digest(digest, stored) else None
