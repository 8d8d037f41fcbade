"""YouTube Data API provider against a local fake (real sockets on 127.0.0.1, real SQLite)."""
from __future__ import annotations

import asyncio
import logging
import os
import random
import time
from datetime import datetime

import pytest

from recommend.catalog import CatalogProvider
from recommend.queries import QUERIES, clean_artist, clean_title, normalise_title
from recommend.recommender import Recommender
from recommend.youtube import (
    PACIFIC,
    AccessDenied,
    KeyInvalid,
    PoolPolicy,
    QuotaExceeded,
    RequestRejected,
    ServiceUnavailable,
    YouTubeProvider,
    YouTubeSearchClient,
    check_youtube,
    next_quota_reset,
    pacific_day,
    parse_error,
    parse_search_results,
    redact,
)
from tests.youtube_fixtures import FakeClock, db, fake  # noqa: F401 - fixtures

os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
KEY = "test-key"


# 2026-07-01 10:00 in Los Angeles (17:00 UTC): far from midnight, so a day is a day
START = datetime(2026, 7, 1, 10, 0, tzinfo=PACIFIC).timestamp()


@pytest.fixture
def clock():
    return FakeClock(START)


@pytest.fixture
async def make_provider(fake, db, clock):
    made = []

    def make(key: str = KEY, *, budget: int = 90, policy: PoolPolicy = PoolPolicy(), timeout_s: float = 5.0):
        client = YouTubeSearchClient(key, api_base=fake.api_base, timeout_s=timeout_s)
        provider = YouTubeProvider(db, client, daily_budget=budget, policy=policy, clock=clock, rng=random.Random(3))
        made.append(provider)
        return provider

    yield make
    for provider in made:
        await provider.close()


# ------------------------------------------------------------------------- request and parsing


async def test_search_sends_the_documented_parameters(fake):
    client = YouTubeSearchClient(KEY, api_base=fake.api_base)
    try:
        body = await client.search("신나는 노래", 50)
    finally:
        await client.close()
    assert fake.requests == [{
        "part": "snippet", "type": "video", "videoCategoryId": "10", "regionCode": "KR",
        "relevanceLanguage": "ko", "safeSearch": "moderate", "maxResults": "50", "q": "신나는 노래",
    }]
    assert "key=test-key" in fake.raw_query_strings[0]
    assert body["kind"] == "youtube#searchListResponse" and len(body["items"]) == 50
    assert body["items"][0]["id"]["kind"] == "youtube#video"


async def test_results_are_unescaped_filtered_and_deduplicated(fake):
    client = YouTubeSearchClient(KEY, api_base=fake.api_base)
    try:
        body = await client.search("슬픈 노래", 50)
    finally:
        await client.close()
    raw_titles = [item["snippet"]["title"] for item in body["items"]]
    assert any("&#39;" in t or "&quot;" in t for t in raw_titles), "the fake must escape like the real API"

    items = parse_search_results(body)
    titles = [item["title"] for item in items]
    ids = [item["video_id"] for item in items]
    assert not any("&#39;" in t or "&quot;" in t or "&amp;" in t for t in titles)
    assert any("'" in t or '"' in t for t in titles)
    live_ids = {i["id"]["videoId"] for i in body["items"] if i["snippet"]["liveBroadcastContent"] != "none"}
    assert live_ids and not live_ids & set(ids)
    assert not any("#shorts" in t.lower() or "1시간" in t or "playlist" in t.lower() for t in titles)
    assert len(ids) == len(set(ids)), "the same video twice must be dropped"
    norms = [normalise_title(t) for t in titles]
    assert len(norms) == len(set(norms)), "another upload of the same song must be dropped"
    assert not any(item["artist"].endswith((" - Topic", "VEVO", " Official")) for item in items)
    assert 20 <= len(items) < 50


def test_text_cleaning():
    assert clean_title("IU &#39;Good Day&#39; &amp; more &quot;live&quot;") == "IU 'Good Day' & more \"live\""
    assert clean_title("double &amp;#39;escaped&amp;#39;") == "double 'escaped'"
    assert clean_artist("IU - Topic") == "IU"
    assert clean_artist("TaylorSwiftVEVO") == "TaylorSwift"
    assert clean_artist("HYBE LABELS Official") == "HYBE LABELS"
    assert clean_artist("Official 髭男dism") == "髭男dism"
    assert clean_artist("1theK (원더케이)") == "1theK (원더케이)"
    assert normalise_title("아이유 - '좋은 날' MV") == normalise_title("아이유 - 좋은 날 [Official Video]")
    assert normalise_title("A - B (feat. C)") == normalise_title("A - B")
    assert normalise_title("봄날") != normalise_title("밤편지")


def test_every_emotion_and_mode_has_several_queries():
    from nlp.labels import LABELS
    from recommend.types import MODES

    for emotion in LABELS:
        for mode in MODES:
            queries = QUERIES[(emotion, mode)]
            assert len(queries) >= 4 and len(set(queries)) == len(queries)
            assert all(any("\uac00" <= ch <= "\ud7a3" for ch in q) for q in queries)


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (403, {"error": {"code": 403, "message": "quota", "errors": [{"domain": "youtube.quota", "reason": "quotaExceeded"}]}}, QuotaExceeded),
        (400, {"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.",
                         "errors": [{"domain": "global", "reason": "badRequest"}], "status": "INVALID_ARGUMENT",
                         "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}]}},
         KeyInvalid),
        (400, {"error": {"code": 400, "message": "Bad Request", "errors": [{"domain": "usageLimits", "reason": "keyInvalid"}]}}, KeyInvalid),
        (403, {"error": {"code": 403, "message": "disabled", "errors": [{"reason": "accessNotConfigured"}]}}, AccessDenied),
        (500, {"error": {"code": 500, "message": "Backend Error", "errors": [{"reason": "backendError"}]}}, ServiceUnavailable),
        (503, None, ServiceUnavailable),
        (429, {"error": {"code": 429, "message": "slow down", "errors": [{"reason": "rateLimitExceeded"}]}}, ServiceUnavailable),
        (400, {"error": {"code": 400, "message": "bad", "errors": [{"reason": "invalidParameter"}]}}, RequestRejected),
    ],
)
def test_error_classification(status, body, kind):
    assert type(parse_error(status, body)) is kind


def test_redact_hides_the_key():
    url = "https://www.googleapis.com/youtube/v3/search?part=snippet&key=AIzaSecret123&q=x"
    assert "AIzaSecret123" not in redact(url)
    assert "key=REDACTED" in redact(url)
    assert "AIzaSecret123" not in redact("boom AIzaSecret123 boom", "AIzaSecret123")


def test_quota_day_and_reset_follow_los_angeles_time():
    # 2026-03-08 is the day US clocks jump forward: that day has 23 hours in Los Angeles
    noon = datetime(2026, 3, 8, 12, 0, tzinfo=PACIFIC).timestamp()
    reset = next_quota_reset(noon)
    assert datetime.fromtimestamp(reset, PACIFIC).isoformat() == "2026-03-09T00:00:00-07:00"
    assert pacific_day(reset - 1) == "2026-03-08" and pacific_day(reset) == "2026-03-09"
    # 07:30 UTC is still the previous day in Los Angeles
    assert pacific_day(datetime.fromisoformat("2026-07-02T06:30:00+00:00").timestamp()) == "2026-07-01"


# --------------------------------------------------------------------------- provider behaviour


async def test_serves_real_links_from_the_pool_with_one_call(make_provider, fake):
    provider = make_provider()
    first = await provider.search("joy", "match", 4, set())
    assert len(first) == 4 and fake.search_calls == 1
    for song in first:
        video_id = song.key.removeprefix("yt:")
        assert song.key.startswith("yt:") and len(video_id) == 11
        assert song.url == f"https://www.youtube.com/watch?v={video_id}"
        assert song.music_url == f"https://music.youtube.com/watch?v={video_id}"
        assert song.source == "youtube"
    seen = {s.key for s in first}
    for _ in range(5):
        more = await provider.search("joy", "match", 4, seen)
        assert len(more) == 4 and not {s.key for s in more} & seen
        seen |= {s.key for s in more}
    assert fake.search_calls == 1, "more songs come from the cached pool"


async def test_quota_exceeded_opens_the_circuit_until_midnight_pacific(make_provider, fake, db, clock, caplog):
    caplog.set_level(logging.DEBUG)  # the key must not appear in any log line, debug included
    fake.behaviour = "quota"
    provider = make_provider()
    recommender = Recommender([provider, CatalogProvider()], budget_s=2.0)
    songs = await recommender.recommend("sadness", "match", 4, set())
    assert len(songs) == 4 and {s.source for s in songs} == {"catalog"}
    assert fake.search_calls == 1
    reset = float(await db.get_state(YouTubeProvider.CIRCUIT_STATE))
    assert datetime.fromtimestamp(reset, PACIFIC).isoformat() == "2026-07-02T00:00:00-07:00"
    assert "quota" in (await provider.status()).lower()

    fake.behaviour = "ok"
    for _ in range(30):  # other emotions, more replies: nothing is sent while the circuit is open
        for emotion in ("joy", "anger", "sadness"):
            assert {s.source for s in await recommender.recommend(emotion, "lift", 4, set())} == {"catalog"}
        clock.advance(60)
    assert fake.search_calls == 1

    # a fresh provider on the same database (a restart) still respects the open circuit
    restarted = make_provider()
    assert await restarted.search("joy", "match", 4, set()) == []
    assert fake.search_calls == 1

    clock.now = reset + 1  # quota is back after midnight in Los Angeles
    songs = await recommender.recommend("sadness", "match", 4, set())
    assert fake.search_calls == 2 and {s.source for s in songs} == {"youtube"}
    assert KEY not in caplog.text


async def test_circuit_keeps_serving_the_cached_pool(make_provider, fake):
    provider = make_provider()
    assert len(await provider.search("anger", "match", 4, set())) == 4
    fake.behaviour = "quota"
    assert len(await provider.search("joy", "match", 4, set())) == 0  # empty pool, quota gone
    assert fake.search_calls == 2
    songs = await provider.search("anger", "match", 4, set())
    assert len(songs) == 4, "songs found before the quota ran out are still served"
    assert fake.search_calls == 2


@pytest.mark.parametrize("behaviour", ["invalid_key", "legacy_invalid_key"])
async def test_invalid_key_is_reported_once_and_disables_the_provider(make_provider, fake, caplog, behaviour):
    fake.behaviour = behaviour
    provider = make_provider()
    recommender = Recommender([provider, CatalogProvider()], budget_s=2.0)
    with caplog.at_level(logging.INFO):
        for _ in range(5):
            songs = await recommender.recommend("joy", "match", 4, set())
            assert {s.source for s in songs} == {"catalog"}
    assert fake.search_calls == 1, "no more calls once the key is known to be bad"
    assert not provider.enabled
    assert "API key not valid" in provider.problem and "YOUTUBE_API_KEY" in provider.problem
    reports = [r for r in caplog.records if r.levelno >= logging.ERROR and "switched off" in r.getMessage()]
    assert len(reports) == 1
    assert "꺼짐" in await provider.status()
    assert KEY not in caplog.text


async def test_wrong_key_against_the_fake_is_invalid(make_provider, fake):
    provider = make_provider("AIza-not-a-real-key")
    assert await provider.search("joy", "match", 4, set()) == []
    assert provider.problem and "API key not valid" in provider.problem


async def test_api_not_enabled_disables_with_advice(make_provider, fake):
    fake.behaviour = "forbidden"
    provider = make_provider()
    assert await provider.search("joy", "match", 4, set()) == []
    assert "YouTube Data API v3" in provider.problem and "accessNotConfigured" in provider.problem


async def test_server_error_falls_through_and_backs_off(make_provider, fake, clock):
    fake.behaviour = "server_error"
    provider = make_provider()
    recommender = Recommender([provider, CatalogProvider()], budget_s=2.0)
    songs = await recommender.recommend("anxiety", "lift", 4, set())
    assert len(songs) == 4 and {s.source for s in songs} == {"catalog"}
    assert fake.search_calls == 1
    await recommender.recommend("anxiety", "lift", 4, set())
    assert fake.search_calls == 1, "no hammering right after a 5xx"
    clock.advance(61)
    await recommender.recommend("anxiety", "lift", 4, set())
    assert fake.search_calls == 2
    fake.behaviour = "ok"
    clock.advance(61)
    await recommender.recommend("anxiety", "lift", 4, set())
    assert fake.search_calls == 2, "a second failure in a row doubles the wait (120 s)"
    clock.advance(60)
    songs = await recommender.recommend("anxiety", "lift", 4, set())
    assert fake.search_calls == 3 and {s.source for s in songs} == {"youtube"}
    assert provider.enabled


async def test_slow_api_reply_within_budget_and_result_still_cached(make_provider, fake):
    fake.behaviour = "slow"
    fake.slow_s = 3.0
    provider = make_provider()
    recommender = Recommender([provider, CatalogProvider()], budget_s=0.3)
    started = time.monotonic()
    songs = await recommender.recommend("joy", "lift", 4, set())
    elapsed = time.monotonic() - started
    # cut at the 0.3 s budget, far before the API's 3 s answer (margin for a loaded machine)
    assert elapsed < 1.5, f"reply took {elapsed:.3f}s"
    assert len(songs) == 4 and {s.source for s in songs} == {"catalog"}
    # the search was paid for: it finishes in the background and fills the pool
    await provider.wait_idle()
    fake.behaviour = "ok"
    songs = await recommender.recommend("joy", "lift", 4, set())
    assert {s.source for s in songs} == {"youtube"} and fake.search_calls == 1


async def test_daily_budget_is_never_exceeded(make_provider, fake, db, clock):
    provider = make_provider(budget=3)
    combos = [(e, m) for e in ("joy", "anxiety", "sadness", "anger") for m in ("match", "lift")]
    results = await asyncio.gather(*(provider.search(e, m, 4, set()) for e, m in combos))
    assert sum(1 for songs in results if songs) == 3
    assert fake.search_calls == 3 and await db.calls_on(pacific_day(clock()), "youtube") == 3
    for e, m in combos:
        await provider.search(e, m, 4, set())
    assert fake.search_calls == 3
    clock.now = next_quota_reset(clock()) + 5  # a new Pacific day brings a new budget
    for e, m in combos:
        await provider.search(e, m, 4, set())
    assert fake.search_calls == 6


async def test_daily_refresh_rotates_queries_in_the_background(make_provider, fake, clock):
    policy = PoolPolicy(cache_ttl_s=3600, refresh_every_replies=10)
    provider = make_provider(policy=policy)
    assert len(await provider.search("sadness", "lift", 4, set())) == 4
    first_query = fake.requests[0]["q"]
    for _ in range(20):  # fresh pool: no calls however many replies
        await provider.search("sadness", "lift", 4, set())
    assert fake.search_calls == 1

    clock.advance(3601)  # stale now, but still served while the refresh runs
    fake.behaviour = "slow"
    fake.slow_s = 3.0
    started = time.monotonic()
    songs = await provider.search("sadness", "lift", 4, set())
    assert time.monotonic() - started < 1.5, "the reply must not wait for the 3 s refresh"
    assert len(songs) == 4
    await provider.wait_idle()
    assert fake.search_calls == 2
    assert fake.requests[1]["q"] != first_query, "the refresh fetches the next query in the rotation"
    for _ in range(5):  # refreshed: nothing more until the next period
        await provider.search("sadness", "lift", 4, set())
    await provider.wait_idle()
    assert fake.search_calls == 2


async def test_check_youtube_in_plain_words(fake):
    ok = await check_youtube(KEY, api_base=fake.api_base)
    assert ok.ok and ok.kind == "ok"
    bad = await check_youtube("nope", api_base=fake.api_base)
    assert not bad.ok and bad.kind == "key_invalid" and "API key not valid" in bad.message and "키" in bad.message
    missing = await check_youtube(None, api_base=fake.api_base)
    assert missing.kind == "no_key" and "YOUTUBE_API_KEY" in missing.message
    fake.script("quota")
    quota = await check_youtube(KEY, api_base=fake.api_base, now=START)
    assert quota.kind == "quota" and "한국 시간" in quota.message and "07-02 16:00" in quota.message
    assert fake.search_calls == 0 and fake.video_calls == 3, "the check uses the 1-unit videos.list"


async def test_unreachable_api_is_a_fallthrough_not_a_crash(db, clock, caplog):
    client = YouTubeSearchClient(KEY, api_base="http://127.0.0.1:9/youtube/v3", timeout_s=1.0)
    provider = YouTubeProvider(db, client, clock=clock)
    try:
        with caplog.at_level(logging.DEBUG):
            assert await provider.search("joy", "match", 4, set()) == []
        assert provider.enabled and provider.problem is None, "a network error is not a reason to give up"
    finally:
        await provider.close()
    assert KEY not in caplog.text
