"""Decide whether a message can be read, and clean it: one place for every bad-input rule."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_HANGUL = re.compile(r"[\uac00-\ud7a3\u3131-\u318e]")


@dataclass(frozen=True)
class CheckedText:
    #: cleaned text (control characters removed, whitespace tidied, cut to the limit), or "" when unreadable
    text: str
    #: why it cannot be read: "empty" | "symbols" | "no_korean" | None when fine
    problem: str | None = None
    #: True when the message was longer than the limit and was cut
    truncated: bool = False


INVALID_REPLIES = {
    "empty": "메시지가 비어 있어요. 지금 기분이나 있었던 일을 한두 문장으로 들려주세요 🙂",
    "symbols": "이모지나 기호만으로는 마음을 읽기가 어려워요. 어떤 일이 있었는지 글로 조금만 적어 주실래요?",
    "no_korean": "아직은 한국어만 이해할 수 있어요. 지금 기분을 한국어로 적어 주시면 어울리는 노래를 찾아 드릴게요.",
}


def _strip_controls(text: str) -> str:
    kept = []
    for ch in text:
        cat = unicodedata.category(ch)
        if ch in "\n\t":
            kept.append(" ")
        elif cat in ("Cc", "Cf", "Cs", "Co", "Cn") and ch != "\u200d":
            continue
        else:
            kept.append(ch)
    return re.sub(r"\s+", " ", "".join(kept)).strip()


def check_text(raw: str | None, max_chars: int) -> CheckedText:
    # look at a bounded prefix only: a megabyte of text must not stall the event loop
    raw = raw or ""
    text = _strip_controls(unicodedata.normalize("NFC", raw[: max_chars * 2]))
    if len(raw) > max_chars * 2 and len(text) <= max_chars:
        text = _strip_controls(unicodedata.normalize("NFC", raw))
    if not text:
        return CheckedText("", "empty")
    if not any(ch.isalnum() for ch in text):
        return CheckedText("", "symbols")
    if not _HANGUL.search(text):
        return CheckedText("", "no_korean")
    if len(text) > max_chars or len(raw) > max_chars * 2:
        return CheckedText(text[:max_chars], None, truncated=True)
    return CheckedText(text)
