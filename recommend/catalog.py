"""Offline song catalogue: real songs tagged by emotion and mode, served without any network.

The catalogue lives in ``recommend/catalog/songs.json`` (see ``recommend/catalog/README.md``).
Its links are YouTube *search* URLs for "artist title", so they never go dead.
"""
from __future__ import annotations

import hashlib
import json
import random
import unicodedata
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from nlp.labels import LABELS
from recommend.types import MODES, Song, youtube_search_url

KEY_PREFIX = "cat:"
#: hex digits of the (artist, title) hash kept in a key: "cat:" + 12 = 16 chars, small enough for
#: Telegram callback_data (64 bytes) next to an action name; 48 bits make collisions negligible.
KEY_HASH_CHARS = 12
MAX_KEY_LENGTH = len(KEY_PREFIX) + KEY_HASH_CHARS

_REQUIRED_FIELDS = ("artist", "title", "emotion", "modes", "lang")
_OPTIONAL_FIELDS = ("year",)


class CatalogError(ValueError):
    """The catalogue file is missing, not JSON, or breaks the schema."""


def normalise(text: str) -> str:
    """Case-, width- and punctuation-insensitive form used for duplicate checks and keys."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if ch.isalnum())


def song_key(artist: str, title: str) -> str:
    """Stable, ASCII, 16-character key of a song; the same for every emotion it is listed under."""
    identity = f"{normalise(artist)}\x1f{normalise(title)}".encode("utf-8")
    return KEY_PREFIX + hashlib.sha1(identity).hexdigest()[:KEY_HASH_CHARS]


@dataclass(frozen=True)
class CatalogEntry:
    artist: str
    title: str
    emotion: str
    modes: tuple[str, ...]
    lang: str
    year: int | None = None

    @property
    def key(self) -> str:
        return song_key(self.artist, self.title)

    def to_song(self) -> Song:
        return Song(
            key=self.key,
            title=self.title,
            artist=self.artist,
            url=youtube_search_url(self.artist, self.title),
            source="catalog",
        )


def default_catalog_path() -> Path:
    return Path(str(resources.files("recommend").joinpath("catalog", "songs.json")))


def load_catalog(path: str | Path | None = None) -> list[CatalogEntry]:
    """Read and validate the catalogue; raise CatalogError naming the first bad entry."""
    source = Path(path) if path is not None else default_catalog_path()
    try:
        raw = json.loads(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CatalogError(f"cannot read catalogue {source}: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise CatalogError(f"catalogue {source} is not valid JSON: {exc}") from exc
    if not isinstance(raw, list):
        raise CatalogError(f"catalogue {source} must be a JSON list of songs")
    entries = [_parse_entry(item, index) for index, item in enumerate(raw)]
    _check_unique(entries)
    return entries


def _parse_entry(item: object, index: int) -> CatalogEntry:
    where = f"catalogue entry #{index}"
    if not isinstance(item, dict):
        raise CatalogError(f"{where} must be an object")
    missing = [name for name in _REQUIRED_FIELDS if name not in item]
    unknown = sorted(set(item) - set(_REQUIRED_FIELDS) - set(_OPTIONAL_FIELDS))
    if missing or unknown:
        raise CatalogError(f"{where}: missing fields {missing}, unknown fields {unknown}")
    for name in ("artist", "title", "lang"):
        value = item[name]
        if not isinstance(value, str) or not value.strip() or value != value.strip():
            raise CatalogError(f"{where}: {name!r} must be a non-empty string without outer spaces")
    lang = item["lang"]
    if not (2 <= len(lang) <= 3 and lang.isascii() and lang.isalpha() and lang.islower()):
        raise CatalogError(f"{where}: lang {lang!r} must be a lower-case ISO 639 code like 'ko' or 'en'")
    emotion = item["emotion"]
    if emotion not in LABELS:
        raise CatalogError(f"{where}: emotion {emotion!r} is not one of {LABELS}")
    modes = item["modes"]
    if (
        not isinstance(modes, list)
        or not modes
        or len(set(modes)) != len(modes)
        or any(mode not in MODES for mode in modes)
    ):
        raise CatalogError(f"{where}: modes {modes!r} must be a non-empty list of distinct values from {MODES}")
    year = item.get("year")
    if year is not None and (isinstance(year, bool) or not isinstance(year, int) or not 1900 <= year <= 2100):
        raise CatalogError(f"{where}: year {year!r} must be an integer between 1900 and 2100")
    return CatalogEntry(
        artist=item["artist"],
        title=item["title"],
        emotion=emotion,
        modes=tuple(mode for mode in MODES if mode in modes),
        lang=lang,
        year=year,
    )


def _check_unique(entries: Iterable[CatalogEntry]) -> None:
    seen: set[tuple[str, str, str]] = set()
    owner_of_key: dict[str, tuple[str, str]] = {}
    for entry in entries:
        identity = (normalise(entry.artist), normalise(entry.title))
        if (*identity, entry.emotion) in seen:
            raise CatalogError(f"duplicate catalogue song {entry.artist} - {entry.title} under {entry.emotion}")
        seen.add((*identity, entry.emotion))
        owner = owner_of_key.setdefault(entry.key, identity)
        if owner != identity:
            raise CatalogError(f"key collision between {owner} and {identity}; lengthen KEY_HASH_CHARS")


class CatalogProvider:
    """Song provider that needs no network: picks shuffled, unseen songs from the catalogue."""

    name = "catalog"

    def __init__(self, entries: Sequence[CatalogEntry] | None = None) -> None:
        self._entries: tuple[CatalogEntry, ...] = tuple(entries if entries is not None else load_catalog())

    @property
    def entries(self) -> tuple[CatalogEntry, ...]:
        return self._entries

    async def search(
        self,
        emotion: str,
        mode: str,
        count: int,
        exclude: Collection[str],
        rng: random.Random | None = None,
    ) -> list[Song]:
        """Up to ``count`` songs for ``emotion`` in ``mode``, in a random order, avoiding ``exclude``.

        Unseen songs of the asked mode come first, then unseen songs of the other mode of the same
        emotion. Only when both run out are already-seen songs offered again, least recent first:
        when ``exclude`` is an ordered sequence it is read as most recent first (index 0 = the song
        shown last); a plain set carries no order, so seen songs then come back in random order.
        """
        if emotion not in LABELS:
            raise ValueError(f"unknown emotion {emotion!r}; expected one of {LABELS}")
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; expected one of {MODES}")
        if count <= 0:
            return []
        rng = rng if rng is not None else random.Random()

        preferred: list[CatalogEntry] = []
        other: list[CatalogEntry] = []
        for entry in self._entries:
            if entry.emotion == emotion:
                (preferred if mode in entry.modes else other).append(entry)

        excluded = set(exclude)
        picked: list[CatalogEntry] = []
        picked_keys: set[str] = set()

        def take(candidates: list[CatalogEntry]) -> None:
            for entry in candidates:
                if len(picked) >= count:
                    return
                if entry.key not in picked_keys:
                    picked.append(entry)
                    picked_keys.add(entry.key)

        for group in (preferred, other):
            fresh = [entry for entry in group if entry.key not in excluded]
            rng.shuffle(fresh)
            take(fresh)
        if len(picked) < count:
            take(self._seen_least_recent_first(preferred + other, exclude, excluded, rng))
        return [entry.to_song() for entry in picked]

    @staticmethod
    def _seen_least_recent_first(
        candidates: list[CatalogEntry],
        exclude: Collection[str],
        excluded: set[str],
        rng: random.Random,
    ) -> list[CatalogEntry]:
        seen = [entry for entry in candidates if entry.key in excluded]
        rng.shuffle(seen)
        if isinstance(exclude, Sequence) and not isinstance(exclude, str):
            recency = {key: index for index, key in reversed(list(enumerate(exclude)))}
            # higher index = shown longer ago; a stable sort keeps the shuffle among equals
            seen.sort(key=lambda entry: recency[entry.key], reverse=True)
        return seen
