"""Reviewer sessions: a signed, expiring cookie naming the API key (by its hash) the reviewer logged in with.

The cookie never holds the key itself. It is HttpOnly, SameSite=Strict (so other sites
cannot make the browser send it with a forged form) and Secure over HTTPS. Each request
looks the key up again, so revoking the key ends its sessions at once. The signing secret
lives in ``<home>/.web_secret`` and is shared by all worker processes.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path

COOKIE = "authcheck_session"
SECRET_FILE = ".web_secret"


def load_session_secret(home: Path) -> bytes:
    """The home's signing secret, created on first use (atomically, readable by the owner only)."""
    path = home / SECRET_FILE
    if not path.exists():
        tmp = home / f"{SECRET_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
        try:
            os.link(tmp, path)  # fails if another process won the race; then its secret is used
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return bytes.fromhex(path.read_text().strip())


def _sign(secret: bytes, payload: str) -> str:
    return hmac.new(secret, payload.encode(), hashlib.sha256).hexdigest()


def make_token(secret: bytes, key_hash: str, hours: float, now: float | None = None) -> str:
    """A session token for the key with hash ``key_hash``, valid for ``hours``."""
    expires = int((now if now is not None else time.time()) + hours * 3600)
    payload = f"{key_hash}.{expires}"
    return f"{payload}.{_sign(secret, payload)}"


def read_token(secret: bytes, token: str | None, now: float | None = None) -> str | None:
    """The key hash of a valid, unexpired token; None otherwise."""
    if not token or token.count(".") != 2:
        return None
    key_hash, expires, signature = token.split(".")
    if not hmac.compare_digest(signature, _sign(secret, f"{key_hash}.{expires}")):
        return None
    if not expires.isdigit() or int(expires) < (now if now is not None else time.time()):
        return None
    return key_hash
