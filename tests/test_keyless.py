"""Keyless search: the real pytubefix InnerTube client pointed at a local fake of /youtubei/v1/search."""
from __future__ import annotations

import asyncio
import os
import random
import time

import pytest

pytubefix = pytest.importorskip("pytubefix", reason="keyless search is optional (pip install pytubefix)")

from recommend.catalog import CatalogProvider  # noqa: E402
from recommend.keyless import (  # noqa: E402
    VIDEOS_ONLY,
    KeylessProvider,
    KeylessSearcher,
    keyless_unavailable_reason,
    parse_innertube_search,
)
from recommend.recommender import Recommender  # noqa: E402
from recommend.youtube import PoolPolicy  # noqa: E402
from tests.fake_youtube import FakeYouTube  # noqa: E402
from tests.youtube_fixtures import FakeClock, db, fake  # noqa: E402, F401 - fixtures

os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")


START = 1_780_000_000.0


@pytest.fixture
async def make_provider(fake, db):
    made = []

    def make(timeout_s: float = 2.0, clock=None):
        searcher = KeylessSearcher(base_url=fake.innertube_base, timeout_s=timeout_s)
        provider = KeylessProvider(db, searcher=searcher, timeout_s=timeout_s, clock=clock or FakeClock(START),
                                   policy=PoolPolicy(), rng=random.Random(5))
        made.append(provider)
        return provider

    yield make
    for provider in made:
        await provider.close()


def test_pytubefix_is_importable_here():
    assert keyless_unavailable_reason() is None


async def test_searcher_sends_a_web_client_request_to_the_configured_base(fake):
    searcher = KeylessSearcher(base_url=fake.innertube_base, timeout_s=2.0)
    raw = await asyncio.to_thread(searcher.search, "위로가 되는 노래")
    assert fake.innertube_calls == 1
    sent = fake.innertube_requests[0]
    assert sent["query"] == "위로가 되는 노래"
    assert sent["params"] == VIDEOS_ONLY
    client = sent["context"]["client"]
    assert client["clientName"] == "WEB" and client["clientVersion"]
    assert client["hl"] == "ko" and client["gl"] == "KR"
    assert "twoColumnSearchResultsRenderer" in raw["contents"]


async def test_concurrent_searches_do_not_share_pytubefix_state(fake):
    from pytubefix.innertube import _default_clients

    searcher = KeylessSearcher(base_url=fake.innertube_base, timeout_s=2.0)
    queries = [f"노래 {i}" for i in range(6)]
    await asyncio.gather(*(asyncio.to_thread(searcher.search, q) for q in queries))
    assert sorted(r["query"] for r in fake.innertube_requests) == sorted(queries)
    assert "query" not in _default_clients["WEB"]["innertube_context"], "pytubefix's shared context stays clean"


async def test_parse_keeps_only_real_songs(fake):
    searcher = KeylessSearcher(base_url=fake.innertube_base, timeout_s=2.0)
    raw = await asyncio.to_thread(searcher.search, "슬픈 노래")
    items = parse_innertube_search(raw)
    entries = {e["video_id"]: e for e in FakeYouTube.page_for("슬픈 노래", 20)}
    assert 8 <= len(items) < 20
    for item in items:
        entry = entries[item["video_id"]]
        assert entry["live"] == "none" and 60 <= entry["seconds"] <= 600
        assert item["key"] == "yt:" + item["video_id"] and item["source"] == "keyless"
        assert not item["artist"].endswith((" - Topic", "VEVO", " Official"))
    ids = [i["video_id"] for i in items]
    assert len(ids) == len(set(ids)) and "shortAAAAAA" not in ids
    live = [vid for vid, e in entries.items() if e["live"] != "none"]
    assert live and not set(live) & set(ids)


def test_parse_survives_a_changed_format():
    assert parse_innertube_search({"contents": {"somethingNew": {}}}) == []
    assert parse_innertube_search({}) == []


async def test_provider_serves_keyless_songs_through_the_recommender(make_provider, fake):
    provider = make_provider()
    recommender = Recommender([provider, CatalogProvider()], budget_s=2.0)
    songs = await recommender.recommend("sadness", "lift", 4, set())
    assert len(songs) == 4 and {s.source for s in songs} == {"keyless"}
    for song in songs:
        video_id = song.key.removeprefix("yt:")
        assert song.url == f"https://www.youtube.com/watch?v={video_id}"
        assert song.music_url == f"https://music.youtube.com/watch?v={video_id}"
    seen = {s.key for s in songs}
    more = await recommender.recommend("sadness", "lift", 4, seen)
    assert not {s.key for s in more} & seen
    assert fake.innertube_calls == 1


async def test_slow_keyless_search_times_out_and_the_catalogue_answers(make_provider, fake):
    fake.innertube_behaviour = "slow"
    fake.slow_s = 2.0
    provider = make_provider(timeout_s=0.3)
    recommender = Recommender([provider, CatalogProvider()], budget_s=1.5)
    started = time.monotonic()
    songs = await recommender.recommend("joy", "match", 4, set())
    elapsed = time.monotonic() - started
    assert elapsed < 1.2, f"took {elapsed:.2f}s; the keyless timeout should have cut it at ~0.8s"
    assert {s.source for s in songs} == {"catalog"} and len(songs) == 4
    await recommender.recommend("joy", "match", 4, set())
    assert fake.innertube_calls == 1, "after a timeout the provider backs off"


async def test_rate_limit_backs_off_for_long(make_provider, fake):
    fake.innertube_behaviour = "rate_limited"
    clock = FakeClock(START)
    provider = make_provider(clock=clock)
    assert await provider.search("anger", "lift", 4, set()) == []
    clock.now += 10 * 60
    assert await provider.search("anger", "lift", 4, set()) == []
    assert fake.innertube_calls == 1
    fake.innertube_behaviour = "ok"
    clock.now += 6 * 60
    assert len(await provider.search("anger", "lift", 4, set())) == 4
    assert fake.innertube_calls == 2


async def test_changed_format_is_not_a_crash(make_provider, fake):
    fake.innertube_behaviour = "changed_format"
    provider = make_provider()
    assert await provider.search("anxiety", "match", 4, set()) == []
    assert provider.enabled
