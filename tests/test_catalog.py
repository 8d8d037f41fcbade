"""The offline song catalogue: its data, its schema checks and CatalogProvider.search."""
from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from nlp.labels import LABELS
from recommend.catalog import (
    MAX_KEY_LENGTH,
    CatalogEntry,
    CatalogError,
    CatalogProvider,
    default_catalog_path,
    load_catalog,
    normalise,
    song_key,
)
from recommend.types import MODES

MIN_PER_EMOTION = 40
MIN_PER_MODE = 20


@pytest.fixture(scope="module")
def entries() -> list[CatalogEntry]:
    return load_catalog()


@pytest.fixture(scope="module")
def provider(entries) -> CatalogProvider:
    return CatalogProvider(entries)


def by_emotion(entries, emotion):
    return [e for e in entries if e.emotion == emotion]


# ---------------------------------------------------------------- the data


def test_default_path_is_the_packaged_json():
    path = default_catalog_path()
    assert path.name == "songs.json" and path.parent.name == "catalog" and path.is_file()


@pytest.mark.parametrize("emotion", LABELS)
def test_each_emotion_has_enough_songs_in_each_mode(entries, emotion):
    songs = by_emotion(entries, emotion)
    assert len(songs) >= MIN_PER_EMOTION
    for mode in MODES:
        assert sum(mode in e.modes for e in songs) >= MIN_PER_MODE, (emotion, mode)


@pytest.mark.parametrize("emotion", LABELS)
def test_each_emotion_mixes_korean_and_international(entries, emotion):
    langs = Counter(e.lang for e in by_emotion(entries, emotion))
    total = sum(langs.values())
    assert 0.3 <= langs["ko"] / total <= 0.7, langs


def test_no_duplicate_song_within_an_emotion(entries):
    counts = Counter((normalise(e.artist), normalise(e.title), e.emotion) for e in entries)
    assert [k for k, n in counts.items() if n > 1] == []


def test_keys_are_short_ascii_stable_and_one_per_song(entries):
    songs_by_key: dict[str, set[tuple[str, str]]] = {}
    for e in entries:
        key = e.key
        assert key.startswith("cat:") and key.isascii()
        assert len(key.encode()) == MAX_KEY_LENGTH == 16
        assert key == song_key(e.artist, e.title)
        songs_by_key.setdefault(key, set()).add((normalise(e.artist), normalise(e.title)))
    assert all(len(owners) == 1 for owners in songs_by_key.values())
    # the same song keeps its key under every emotion, and spacing/case does not change it
    assert song_key("버스커 버스커", "벚꽃 엔딩") == song_key("버스커버스커", "벚꽃엔딩")
    assert song_key("Coldplay", "Fix You") == song_key("coldplay", "FIX YOU")
    assert song_key("Coldplay", "Fix You") != song_key("Coldplay", "Yellow")
    # fixed value: keys are stored in SQLite, so the scheme must not drift silently
    assert song_key("아이유", "밤편지") == song_key("아이유", "밤편지") == "cat:" + _sha1_prefix("아이유\x1f밤편지")


def _sha1_prefix(text: str) -> str:
    import hashlib

    return hashlib.sha1(text.encode()).hexdigest()[:12]


def test_schema_fields_are_well_formed(entries):
    raw = json.loads(default_catalog_path().read_text(encoding="utf-8"))
    assert len(raw) == len(entries)
    for item, entry in zip(raw, entries):
        assert set(item) <= {"artist", "title", "emotion", "modes", "lang", "year"}
        assert entry.emotion in LABELS
        assert entry.modes and set(entry.modes) <= set(MODES)
        assert entry.lang in {"ko", "en"}
        assert entry.year is None or 1950 <= entry.year <= 2025
        assert entry.artist.strip() == entry.artist and entry.title.strip() == entry.title


def test_known_official_titles_are_spelled_as_released(entries):
    pairs = {(e.artist, e.title) for e in entries}
    assert ("아이유", "밤편지") in pairs
    assert ("잔나비", "주저하는 연인들을 위해") in pairs
    assert ("Pharrell Williams", "Happy") in pairs
    assert ("Rage Against the Machine", "Killing in the Name") in pairs


def test_a_song_under_two_emotions_is_two_entries_with_one_key(entries):
    emotions_of = {}
    for e in entries:
        emotions_of.setdefault(e.key, []).append(e.emotion)
    multi = {k: v for k, v in emotions_of.items() if len(v) > 1}
    assert multi, "expected at least one song that fits two emotions"
    assert all(len(v) == len(set(v)) for v in multi.values())


# ---------------------------------------------------------------- schema checks


def write(tmp_path: Path, items) -> Path:
    path = tmp_path / "songs.json"
    path.write_text(json.dumps(items, ensure_ascii=False), encoding="utf-8")
    return path


GOOD = {"artist": "아이유", "title": "밤편지", "emotion": "sadness", "modes": ["lift"], "lang": "ko", "year": 2017}


def test_load_accepts_a_valid_file(tmp_path):
    loaded = load_catalog(write(tmp_path, [GOOD, {**GOOD, "emotion": "anxiety", "modes": ["match", "lift"]}]))
    assert [e.emotion for e in loaded] == ["sadness", "anxiety"]
    assert loaded[1].modes == ("match", "lift") and loaded[0].year == 2017
    assert loaded[0].key == loaded[1].key


@pytest.mark.parametrize(
    "bad",
    [
        {**GOOD, "emotion": "boredom"},
        {**GOOD, "modes": []},
        {**GOOD, "modes": ["cheer"]},
        {**GOOD, "modes": ["lift", "lift"]},
        {**GOOD, "modes": "lift"},
        {**GOOD, "lang": "Korean"},
        {**GOOD, "year": "2017"},
        {**GOOD, "year": 1066},
        {**GOOD, "title": ""},
        {**GOOD, "artist": " 아이유"},
        {**GOOD, "url": "https://example.com"},
        {k: v for k, v in GOOD.items() if k != "lang"},
        ["아이유", "밤편지"],
    ],
)
def test_load_rejects_schema_errors(tmp_path, bad):
    with pytest.raises(CatalogError, match="#1"):
        load_catalog(write(tmp_path, [GOOD, bad]))


def test_load_rejects_duplicates_after_normalisation(tmp_path):
    with pytest.raises(CatalogError, match="duplicate"):
        load_catalog(write(tmp_path, [GOOD, {**GOOD, "title": "밤 편지", "modes": ["match"]}]))


def test_load_rejects_missing_file_bad_json_and_non_list(tmp_path):
    with pytest.raises(CatalogError, match="cannot read"):
        load_catalog(tmp_path / "nope.json")
    (tmp_path / "broken.json").write_text("[{", encoding="utf-8")
    with pytest.raises(CatalogError, match="not valid JSON"):
        load_catalog(tmp_path / "broken.json")
    with pytest.raises(CatalogError, match="list"):
        load_catalog(write(tmp_path, {"songs": [GOOD]}))


# ---------------------------------------------------------------- search


def test_provider_name_and_default_loading():
    provider = CatalogProvider()
    assert provider.name == "catalog"
    assert len(provider.entries) >= MIN_PER_EMOTION * len(LABELS)


@pytest.mark.parametrize("emotion", LABELS)
@pytest.mark.parametrize("mode", MODES)
async def test_search_returns_count_songs_of_that_emotion_and_mode(provider, entries, emotion, mode):
    songs = await provider.search(emotion, mode, 5, set(), rng=random.Random(1))
    assert len(songs) == 5 and len({s.key for s in songs}) == 5
    wanted = {e.key for e in entries if e.emotion == emotion and mode in e.modes}
    assert {s.key for s in songs} <= wanted
    assert all(s.source == "catalog" and s.music_url is None for s in songs)


async def test_search_respects_exclude(provider, entries):
    pool = [e.key for e in entries if e.emotion == "sadness" and "match" in e.modes]
    exclude = set(pool[: len(pool) - 3])
    songs = await provider.search("sadness", "match", 3, exclude, rng=random.Random(2))
    assert {s.key for s in songs} == set(pool) - exclude


async def test_search_fills_from_the_other_mode_when_one_runs_out(provider, entries):
    lift_only = {e.key for e in entries if e.emotion == "anger" and e.modes == ("lift",)}
    match_keys = {e.key for e in entries if e.emotion == "anger" and "match" in e.modes}
    exclude = set(list(match_keys)[:-2])
    songs = await provider.search("anger", "match", 5, exclude, rng=random.Random(3))
    keys = [s.key for s in songs]
    assert len(keys) == 5 and not set(keys) & exclude
    assert set(keys[:2]) == match_keys - exclude  # unseen songs of the asked mode come first
    assert set(keys[2:]) <= lift_only


async def test_search_with_everything_seen_still_returns_least_recent_first(provider, entries):
    keys = list(dict.fromkeys(e.key for e in entries if e.emotion == "joy"))
    as_set = await provider.search("joy", "lift", 4, set(keys), rng=random.Random(4))
    assert len(as_set) == 4 and len({s.key for s in as_set}) == 4
    most_recent_first = keys[::-1]
    ordered = await provider.search("joy", "lift", 3, most_recent_first, rng=random.Random(4))
    assert [s.key for s in ordered] == most_recent_first[-3:][::-1]


async def test_search_with_nearly_everything_excluded_prefers_the_unseen(provider, entries):
    keys = list(dict.fromkeys(e.key for e in entries if e.emotion == "anxiety"))
    unseen = keys[-1]
    songs = await provider.search("anxiety", "match", 4, set(keys[:-1]), rng=random.Random(5))
    assert len(songs) == 4 and songs[0].key == unseen


async def test_search_order_is_shuffled_and_reproducible(provider):
    a = await provider.search("sadness", "lift", 8, set(), rng=random.Random(10))
    b = await provider.search("sadness", "lift", 8, set(), rng=random.Random(10))
    c = await provider.search("sadness", "lift", 8, set(), rng=random.Random(11))
    assert [s.key for s in a] == [s.key for s in b]
    assert [s.key for s in a] != [s.key for s in c]
    firsts = {(await provider.search("joy", "match", 1, set(), rng=random.Random(seed)))[0].key for seed in range(30)}
    assert len(firsts) >= 10  # different users really see different songs


async def test_search_count_bounds_and_bad_arguments(provider):
    assert await provider.search("joy", "match", 0, set()) == []
    everything = await provider.search("joy", "match", 10_000, set(), rng=random.Random(6))
    assert len(everything) == len({s.key for s in everything}) == len(
        {e.key for e in provider.entries if e.emotion == "joy"}
    )
    with pytest.raises(ValueError):
        await provider.search("boredom", "match", 3, set())
    with pytest.raises(ValueError):
        await provider.search("joy", "cheer", 3, set())


async def test_links_are_youtube_search_urls_for_artist_and_title(provider, entries):
    songs = await provider.search("sadness", "match", 10_000, set(), rng=random.Random(7))
    by_key = {e.key: e for e in entries}
    for song in songs:
        parts = urlsplit(song.url)
        assert (parts.scheme, parts.netloc, parts.path) == ("https", "www.youtube.com", "/results")
        query = parse_qs(parts.query)
        entry = by_key[song.key]
        assert query == {"search_query": [f"{entry.artist} {entry.title}"]}
        assert (song.artist, song.title) == (entry.artist, entry.title)
