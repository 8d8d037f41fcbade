"""Plain data shared by every song provider and the engine."""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote_plus

MODES: tuple[str, ...] = ("match", "lift")  # match: songs that fit the feeling; lift: songs that gently change it


@dataclass(frozen=True)
class Song:
    #: stable identity used for "no repeats" and feedback: "yt:<videoId>" or "cat:<slug>"
    key: str
    title: str
    artist: str
    #: a playable link: a watch URL for real videos, a YouTube search URL for catalogue songs
    url: str
    #: YouTube Music link when known
    music_url: str | None = None
    #: which provider found it: "youtube", "keyless" or "catalog"
    source: str = "catalog"


def youtube_search_url(artist: str, title: str) -> str:
    return "https://www.youtube.com/results?search_query=" + quote_plus(f"{artist} {title}")


def youtube_watch_url(video_id: str) -> str:
    return f"https://www.youtube.com/watch?v={video_id}"


def youtube_music_url(video_id: str) -> str:
    return f"https://music.youtube.com/watch?v={video_id}"
