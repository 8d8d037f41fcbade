"""Maeum's four emotion classes, their Korean names and how people may spell them."""
from __future__ import annotations

LABELS: tuple[str, ...] = ("joy", "anxiety", "sadness", "anger")

KOREAN: dict[str, str] = {"joy": "기쁨", "anxiety": "불안", "sadness": "슬픔", "anger": "분노"}
EMOJI: dict[str, str] = {"joy": "😊", "anxiety": "😰", "sadness": "😢", "anger": "😠"}

_ALIASES: dict[str, str] = {
    **{label: label for label in LABELS},
    **{name: label for label, name in KOREAN.items()},
    "happy": "joy",
    "fear": "anxiety",
    "sad": "sadness",
    "angry": "anger",
}


def parse_label(text: str) -> str | None:
    """Return the canonical label for an English or Korean name, or None."""
    return _ALIASES.get(text.strip().lower())
