"""Text commands shared by text-only channels (console, KakaoTalk): one parser, one meaning."""
from __future__ import annotations

import re
from dataclasses import dataclass

from nlp.labels import KOREAN


@dataclass(frozen=True)
class Command:
    name: str  # fix | more | mode | privacy | forget | help | start | quit | other
    arg: str = ""


# what quick-reply buttons send as the person's message (readable in the chat log)
FIX_PREFIX = "감정 고치기:"
MORE_TEXT = "🎵 다른 곡"
MODE_TEXT = {"match": "공감 모드", "lift": "전환 모드"}
FORGET_YES = "네, 모두 지워 주세요"
FORGET_NO = "취소"

_KOREAN_COMMANDS = {
    MORE_TEXT: Command("more"),
    "다른 곡": Command("more"),
    MODE_TEXT["match"]: Command("mode", "match"),
    MODE_TEXT["lift"]: Command("mode", "lift"),
    "내 기록": Command("privacy"),
    "기록 삭제": Command("forget"),
    FORGET_YES: Command("forget_confirmed"),
    FORGET_NO: Command("cancel"),
    "도움말": Command("help"),
}


_MODE_WORDS = {"match": "match", "공감": "match", "lift": "lift", "전환": "lift"}


def parse_mode_word(word: str) -> str | None:
    """"lift", "전환" → "lift"; "match", "공감" → "match"; anything else → None."""
    return _MODE_WORDS.get(word.strip().lower())


def fix_text(label: str) -> str:
    return f"{FIX_PREFIX} {KOREAN[label]}"


def parse_command(text: str) -> Command | None:
    """A command, or None when the text is an ordinary message for the classifier."""
    stripped = text.strip()
    if stripped in _KOREAN_COMMANDS:
        return _KOREAN_COMMANDS[stripped]
    if stripped.startswith(FIX_PREFIX):
        return Command("fix", stripped[len(FIX_PREFIX):].strip())
    match = re.fullmatch(r"/(\w+)(?:@\w+)?(?:\s+(.*))?", stripped, flags=re.S)
    if match:
        return Command(match.group(1).lower(), (match.group(2) or "").strip())
    return None
