"""Compact, versioned, signed ``callback_data`` for Maeum's inline buttons (≤ 64 bytes).

Format (version 1)::

    1:<mac>:<owner>:<action>:<message id>:<argument>

* ``mac``   — 8 characters of base64url(HMAC-SHA256(key, everything else)): a forged or garbled
  button is detected before anything is touched.
* ``owner`` — 4 characters derived from the Telegram user id the button was made for: a press by
  someone else (another member of a group) is told apart from a garbled one.
* ``action`` — one letter (see :class:`Action`); ``message id`` — the engine's stored message id
  (0 when the button is not about a message); ``argument`` — the rest (a label index or a song
  key, which may itself contain ``:``).

The key is derived from the bot token, so buttons keep working across restarts and stop working
when the token is rotated (they are then answered as unreadable).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from enum import Enum

from nlp.labels import LABELS

VERSION = "1"
MAX_BYTES = 64


class Action(str, Enum):
    CORRECT = "c"  # correct the emotion of a reply; argument: label index
    PICK = "p"  # pick the emotion when Maeum was unsure; argument: label index
    MORE = "m"  # more songs for the same message
    MODE = "t"  # toggle match/lift
    LIKE = "l"  # 👍 a song; argument: song key
    DISLIKE = "d"  # 👎 a song; argument: song key
    FORGET = "f"  # confirm /forget
    KEEP = "k"  # cancel /forget


class BadCallback(ValueError):
    """The callback data is not something this bot made (forged, garbled or from an old version)."""


@dataclass(frozen=True)
class Press:
    action: Action
    message_id: int
    argument: str
    owner: str

    @property
    def label(self) -> str:
        """The label for CORRECT/PICK presses."""
        return LABELS[int(self.argument)]


def _b64(raw: bytes, n: int) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii")[:n]


class CallbackCodec:
    def __init__(self, key: bytes) -> None:
        if not key:
            raise ValueError("callback key must not be empty")
        self._key = key

    @classmethod
    def from_token(cls, token: str) -> "CallbackCodec":
        key = hmac.new(token.encode("utf-8"), b"maeum/telegram/callback-data/v1", hashlib.sha256).digest()
        return cls(key)

    def owner_tag(self, telegram_user_id: int | str) -> str:
        return _b64(hmac.new(self._key, f"owner:{telegram_user_id}".encode(), hashlib.sha256).digest(), 4)

    def _mac(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode("utf-8"), hashlib.sha256).digest(), 8)

    def encode(self, action: Action, owner_user_id: int | str, message_id: int = 0, argument: str = "") -> str:
        if message_id < 0:
            raise ValueError("message id must not be negative")
        body = f"{self.owner_tag(owner_user_id)}:{action.value}:{message_id}:{argument}"
        data = f"{VERSION}:{self._mac(body)}:{body}"
        if len(data.encode("utf-8")) > MAX_BYTES:
            raise ValueError(f"callback data too long ({len(data.encode('utf-8'))} bytes): {data!r}")
        return data

    def correct(self, owner: int | str, message_id: int, label: str, *, pick: bool = False) -> str:
        return self.encode(Action.PICK if pick else Action.CORRECT, owner, message_id, str(LABELS.index(label)))

    def decode(self, data: str | None) -> Press:
        """Check and unpack callback data; raises :class:`BadCallback` for anything not ours."""
        if not data or len(data.encode("utf-8")) > MAX_BYTES:
            raise BadCallback("empty or too long")
        parts = data.split(":", 5)
        if len(parts) != 6 or parts[0] != VERSION:
            raise BadCallback("unknown format or version")
        _, mac, owner, action, message_id, argument = parts
        body = f"{owner}:{action}:{message_id}:{argument}"
        if not hmac.compare_digest(mac, self._mac(body)):
            raise BadCallback("signature mismatch")
        try:
            kind = Action(action)
            number = int(message_id)
        except ValueError:
            raise BadCallback("unknown action or message id") from None
        if kind in (Action.CORRECT, Action.PICK) and argument not in {str(i) for i in range(len(LABELS))}:
            raise BadCallback("bad label index")
        return Press(kind, number, argument, owner)

    def is_owner(self, press: Press, telegram_user_id: int | str) -> bool:
        return hmac.compare_digest(press.owner, self.owner_tag(telegram_user_id))
