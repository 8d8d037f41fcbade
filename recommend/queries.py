"""What Maeum searches YouTube for, and how raw search results become clean song candidates.

Pure functions only (no I/O), shared by the YouTube Data API provider and the keyless provider.

* :data:`QUERIES` — several Korean queries per emotion and mode. Providers fetch one query at a
  time, oldest first (see :func:`pick_query`), so over the days the cached pool rotates through
  all of them and grows with variety.
* :func:`clean_title` / :func:`clean_artist` / :func:`normalise_title` — HTML-unescaped titles,
  tidy channel names, and a folded title used to drop re-uploads of the same song.
* :func:`is_unwanted_title` — shorts, live streams and long compilations, judged from the title
  (search.list has no duration; the keyless path also checks the real length).
"""
from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

#: (emotion, mode) → Korean search queries; each is a real phrase people type into YouTube.
QUERIES: Mapping[tuple[str, str], tuple[str, ...]] = {
    ("joy", "match"): (
        "신나는 노래",
        "기분 좋아지는 노래",
        "신나는 케이팝 뮤직비디오",
        "청량한 노래 MV",
        "텐션 올라가는 노래",
    ),
    ("joy", "lift"): (
        "행복한 노래",
        "따뜻한 노래 MV",
        "설레는 노래",
        "기분 좋은 잔잔한 노래",
        "산책할 때 듣기 좋은 노래",
    ),
    ("anxiety", "match"): (
        "불안할 때 듣는 노래",
        "마음이 복잡할 때 듣는 노래",
        "걱정 많은 밤 노래",
        "긴장될 때 듣는 노래",
        "위태로운 마음 노래",
    ),
    ("anxiety", "lift"): (
        "마음이 편안해지는 노래",
        "불안할 때 위로가 되는 노래",
        "잔잔한 힐링 노래",
        "괜찮아 위로 노래",
        "차분해지는 노래 MV",
    ),
    ("sadness", "match"): (
        "슬픈 노래",
        "이별 노래",
        "울고 싶을 때 듣는 노래",
        "비 오는 날 듣는 노래",
        "새벽 감성 노래",
    ),
    ("sadness", "lift"): (
        "위로가 되는 노래",
        "힘이 되는 노래",
        "응원하는 노래",
        "희망을 주는 노래",
        "다시 힘내는 노래 MV",
    ),
    ("anger", "match"): (
        "화날 때 듣는 노래",
        "스트레스 풀리는 노래",
        "강렬한 케이팝",
        "속 시원한 노래",
        "파워풀한 락 노래",
    ),
    ("anger", "lift"): (
        "마음이 차분해지는 노래",
        "화가 날 때 진정되는 노래",
        "잔잔한 어쿠스틱 노래",
        "머리 식히는 노래",
        "평온한 노래 MV",
    ),
}

#: title markers of YouTube Shorts
_SHORTS = re.compile(r"#\s*shorts?\b|\bshorts\b|#쇼츠|쇼츠", re.IGNORECASE)
#: title markers of live streams (the API's liveBroadcastContent is the main check)
_LIVE = re.compile(r"\blive\s*stream|\b24/7\b|라이브\s*스트리밍|실시간\s*스트리밍", re.IGNORECASE)
#: title markers of long compilations and playlists (an hour of songs is not "a song")
_LONG = re.compile(
    r"\b\d+\s*(?:hours?|hrs?)\s*(?:loop|mix|of|playlist|music|songs?|non)|\d+\s*시간\s*(?:연속|듣기|재생|반복|모음|노래)|"
    r"playlist|플레이\s*리스트|플리(?!즈)|full\s*album|전곡|모음|"
    r"연속\s*(?:듣기|재생)|몰아\s*듣기|노래\s*\d+\s*곡|\d+\s*곡\s*(?:모음|연속)|mix\s*tape|\bnon[- ]?stop\b|"
    r"반복\s*재생",
    re.IGNORECASE,
)
#: bracketed decorations that differ between uploads of the same song
_DECORATION = re.compile(r"[\[(【「『<{][^\])】」』>}]*[\])】」』>}]")
_FEAT = re.compile(r"\b(?:feat|ft|prod)\.?\s.*$", re.IGNORECASE)
_DECORATION_WORDS = re.compile(
    r"\b(?:official|music\s*video|m/?v|lyrics?|lyric\s*video|audio|visualizer|performance\s*video|"
    r"hd|4k|eng\s*sub|가사|뮤직비디오|공식|음원)\b",
    re.IGNORECASE,
)
#: channel-name decorations: "IU - Topic", "TaylorSwiftVEVO", "HYBE LABELS Official"
_TOPIC = re.compile(r"\s*-\s*(?:topic|주제)\s*$", re.IGNORECASE)
_VEVO = re.compile(r"\s*vevo\s*$", re.IGNORECASE)
_OFFICIAL = re.compile(r"(?:\s*[-–|·]\s*)?\s*\b(?:official(?:\s*channel)?|공식\s*(?:채널)?)\s*$", re.IGNORECASE)
_OFFICIAL_LEAD = re.compile(r"^\s*official\s+", re.IGNORECASE)


def queries_for(emotion: str, mode: str) -> tuple[str, ...]:
    try:
        return QUERIES[(emotion, mode)]
    except KeyError:
        raise ValueError(f"no search queries for emotion {emotion!r} in mode {mode!r}") from None


def pick_query(
    queries: Sequence[str], fetched_at: Mapping[str, float], *, start: int = 0, fresh_after: float | None = None
) -> str | None:
    """The query to fetch next: never-fetched first, then the longest ago.

    ``start`` rotates the order among ties (providers pass the day number, so different days and
    installs begin with different queries). With ``fresh_after`` (a unix time), queries fetched at
    or after it are skipped; None means nothing is left to fetch.
    """
    if not queries:
        return None
    n = len(queries)
    order = [queries[(start + i) % n] for i in range(n)]
    candidates = [
        q for q in order if fresh_after is None or fetched_at.get(q, float("-inf")) < fresh_after
    ]
    if not candidates:
        return None
    return min(candidates, key=lambda q: fetched_at.get(q, float("-inf")))


def clean_title(raw: str) -> str:
    """HTML-unescape (the Data API escapes titles: ``&#39;``, ``&amp;``, ``&quot;``) and tidy spaces."""
    text = html.unescape(html.unescape(raw or ""))  # some titles arrive escaped twice
    text = unicodedata.normalize("NFC", text)
    return re.sub(r"\s+", " ", text).strip()


def clean_artist(channel_title: str) -> str:
    """A readable artist from a channel name: drops " - Topic", "VEVO", "Official"."""
    name = clean_title(channel_title)
    for pattern in (_TOPIC, _VEVO, _OFFICIAL, _OFFICIAL_LEAD):
        name = pattern.sub("", name).strip()
    return name or clean_title(channel_title)


def normalise_title(title: str) -> str:
    """Fold a title so "IU - Good Day [MV]" and "IU 'Good Day' (Official Video)" compare equal."""
    text = unicodedata.normalize("NFKC", clean_title(title)).casefold()
    text = _DECORATION.sub(" ", text)
    text = _FEAT.sub(" ", text)
    text = _DECORATION_WORDS.sub(" ", text)
    return "".join(ch for ch in text if ch.isalnum())


def is_unwanted_title(title: str) -> bool:
    """Shorts, live streams or long compilations, judged from the title alone."""
    return bool(_SHORTS.search(title) or _LIVE.search(title) or _LONG.search(title))


def parse_duration(text: str | None) -> int | None:
    """Seconds from "3:45" or "1:02:03"; None when missing or unreadable."""
    if not text:
        return None
    parts = text.strip().split(":")
    if not 1 <= len(parts) <= 3 or not all(p.isdigit() for p in parts):
        return None
    seconds = 0
    for part in parts:
        seconds = seconds * 60 + int(part)
    return seconds


def candidate(video_id: str, title: str, channel: str, source: str) -> dict[str, Any]:
    """The cached form of one search result (what :meth:`Database.cache_put` stores)."""
    clean = clean_title(title)
    return {
        "key": "yt:" + video_id,
        "video_id": video_id,
        "title": clean,
        "artist": clean_artist(channel),
        "norm": normalise_title(clean),
        "source": source,
    }


def dedupe(items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop repeats by video id and by normalised title, keeping the first (best-ranked) one."""
    seen_keys: set[str] = set()
    seen_titles: set[str] = set()
    out = []
    for item in items:
        norm = item.get("norm") or normalise_title(item.get("title", ""))
        if item["key"] in seen_keys or (norm and norm in seen_titles):
            continue
        seen_keys.add(item["key"])
        if norm:
            seen_titles.add(norm)
        out.append(item)
    return out
