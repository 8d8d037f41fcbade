"""Plain rows returned by :class:`storage.Database`. Times are unix seconds (UTC)."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class MessageRow:
    id: int
    user_id: str
    text: str
    label: str
    #: probability per label ("joy", "anxiety", "sadness", "anger"); labels not given are absent
    scores: dict[str, float] = field(default_factory=dict)
    model_version: str = ""
    created_at: float = 0.0
    #: the user's latest correction, or None when never corrected
    corrected: str | None = None
