"""What the engine answers: channel-agnostic data that each channel renders in its own way."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Mapping

from recommend.types import Song

ReplyKind = Literal[
    "emotion",  # a detected (or corrected) emotion with songs
    "unsure",  # Maeum is not sure: asks the person to pick; no songs yet
    "crisis",  # self-harm / crisis language: care and helplines first, gentle songs after
    "invalid",  # input Maeum cannot read (empty, emoji only, no Korean…): a kind explanation
    "rejected",  # a correction/button that is forged, foreign or stale: nothing changed
    "notice",  # anything else worth saying (mode changed, data deleted, privacy summary…)
]


@dataclass(frozen=True)
class UserRef:
    """Who is talking, as the channel knows them. The engine stores only a pseudonym of this."""

    channel: str  # "console" | "telegram" | "kakao"
    user_id: str  # the channel's own user id (never stored raw)


@dataclass(frozen=True)
class Reply:
    kind: ReplyKind
    #: the main Korean sentence(s), plain text; channels add songs and buttons from the fields below
    text: str
    #: the stored message this reply is about (for corrections, "more songs", feedback)
    message_id: int | None = None
    label: str | None = None
    confidence: float | None = None
    scores: Mapping[str, float] = field(default_factory=dict)
    songs: tuple[Song, ...] = ()
    mode: str | None = None
    #: extra short remarks, e.g. that a long message was cut
    notes: tuple[str, ...] = ()
    #: labels the person may pick to correct Maeum (empty when there is nothing to correct)
    choices: tuple[str, ...] = ()
    #: True when the label shown is the person's own correction
    corrected: bool = False
