"""Pseudonymous user ids: raw channel user ids never reach the database.

A user's id in storage is ``HMAC-SHA256(secret, channel NUL channel_user_id)`` (hex, first 32
characters). The secret lives outside the database (``MAEUM_SECRET`` or a 0600 file next to it),
so a copy of the database alone cannot be linked back to Telegram/KakaoTalk accounts.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
import stat
from pathlib import Path

log = logging.getLogger(__name__)

SECRET_ENV = "MAEUM_SECRET"
SECRET_BYTES = 32
MIN_SECRET_BYTES = 16
PSEUDONYM_CHARS = 32

_PSEUDONYM_RE = re.compile(rf"[0-9a-f]{{{PSEUDONYM_CHARS}}}")


class SecretError(RuntimeError):
    """The pseudonymisation secret is missing, too short or unreadable."""


def pseudonymize(secret: bytes, channel: str, channel_user_id: str) -> str:
    """Stable pseudonym for one account on one channel (different channels give different ids)."""
    if len(secret) < MIN_SECRET_BYTES:
        raise SecretError(f"secret must be at least {MIN_SECRET_BYTES} bytes")
    if not channel or "\x00" in channel:
        raise ValueError("channel must be a non-empty name without NUL")
    message = channel.encode("utf-8") + b"\x00" + str(channel_user_id).encode("utf-8")
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:PSEUDONYM_CHARS]


def is_pseudonym(user_id: str) -> bool:
    """True when ``user_id`` has the shape :func:`pseudonymize` produces."""
    return isinstance(user_id, str) and _PSEUDONYM_RE.fullmatch(user_id) is not None


def secret_path_for(db_path: str | Path) -> Path:
    """Default secret file for a database: ``<db path>.secret`` (outside the database file)."""
    db_path = Path(db_path)
    return db_path.with_name(db_path.name + ".secret")


def load_or_create_secret(path: str | Path) -> bytes:
    """Return the secret: ``$MAEUM_SECRET`` (UTF-8 bytes) if set, else the file at ``path``.

    A missing file is created atomically with mode 0600 and 32 random bytes; if two processes race,
    both end up with the same secret. An existing file readable by others is tightened to 0600.
    """
    env_value = os.environ.get(SECRET_ENV)
    if env_value:
        secret = env_value.encode("utf-8")
        if len(secret) < MIN_SECRET_BYTES:
            raise SecretError(f"{SECRET_ENV} must be at least {MIN_SECRET_BYTES} characters")
        return secret

    path = Path(path)
    if not path.exists():
        _create_secret_file(path)
    return _read_secret_file(path)


def _create_secret_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_bytes(SECRET_BYTES))
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)  # in case the umask was odd
        try:
            os.link(tmp, path)  # atomic publish; fails if another process won the race
        except FileExistsError:
            pass
    finally:
        tmp.unlink(missing_ok=True)
    log.info("created a new pseudonymisation secret at %s", path)


def _read_secret_file(path: Path) -> bytes:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("secret file %s was readable by others (mode %o); setting 0600", path, mode)
        os.chmod(path, 0o600)
    secret = path.read_bytes()
    if len(secret) < MIN_SECRET_BYTES:
        raise SecretError(f"secret file {path} holds fewer than {MIN_SECRET_BYTES} bytes")
    return secret
