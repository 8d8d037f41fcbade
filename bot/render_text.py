"""Plain-text rendering of a Reply, for the console (and any text-only channel)."""
from __future__ import annotations

from bot.messages import MODE_NAMES
from bot.replies import Reply
from nlp.labels import KOREAN, LABELS


def scores_line(scores) -> str:
    return " · ".join(f"{KOREAN[k]} {scores[k]:.0%}" for k in LABELS if k in scores)


def render_plain(reply: Reply, *, show_scores: bool = True, hints: bool = True) -> str:
    lines = [reply.text]
    lines.extend(f"※ {note}" for note in reply.notes)
    if show_scores and reply.scores and reply.kind in ("emotion", "unsure") and not reply.corrected:
        lines.append(f"  [{scores_line(reply.scores)}]")
    for i, song in enumerate(reply.songs, 1):
        lines.append(f"  {i}. {song.artist} - {song.title}")
        lines.append(f"     {song.url}")
    if hints and reply.choices:
        picks = " ".join(f"/fix {KOREAN[k]}" for k in reply.choices)
        if reply.kind == "unsure":
            lines.append(f"  골라 주세요: {picks}")
        else:
            mode = MODE_NAMES.get(reply.mode or "match", "공감")
            lines.append(f"  틀렸다면: {picks} · 다른 곡: /more · 지금 모드: {mode} (/mode match|lift)")
    return "\n".join(lines)

