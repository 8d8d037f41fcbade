"""Real songs from YouTube: the Data API v3 client, and the cached song pool both YouTube providers share.

How a reply is served (see :class:`CachedSearchProvider`):

1. Songs come from the **pool**: every cached search result for the emotion and mode
   (``Database.cache_pool``), minus the person's ``exclude`` set (their last 20 songs and their
   dislikes), de-duplicated, ordered by feedback (:mod:`recommend.ranking`).
2. Only when the pool cannot fill the reply (first start, or a person who has seen it all) does the
   provider search **now** — one query, and the reply waits at most the recommender's time budget
   (the search keeps running and fills the cache even if the reply moved on).
3. Otherwise at most **one background search** refreshes the pool: once a day per emotion/mode
   (oldest query first, so the pool rotates through all queries), and never more often than once per
   ``refresh_every_replies`` replies — in steady state at most one API call per 100 replies.

The Data API side adds a hard daily budget (``Database.try_consume_call`` keyed by the Pacific-time
date, when YouTube's quota resets), a circuit that stays open after ``403 quotaExceeded`` until
midnight America/Los_Angeles, and a plain-words report when the key is invalid.

The API key travels only in the request URL; every URL or error text that could reach a log goes
through :func:`redact` first.
"""
from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp

from recommend.queries import candidate, dedupe, is_unwanted_title, pick_query, queries_for
from recommend.ranking import rank_by_feedback
from recommend.types import Song, youtube_music_url, youtube_watch_url

log = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://www.googleapis.com/youtube/v3"
PACIFIC = ZoneInfo("America/Los_Angeles")
SEOUL = ZoneInfo("Asia/Seoul")
#: a public, long-lived video used by :func:`check_youtube` (videos.list costs 1 quota unit)
CHECK_VIDEO_ID = "dQw4w9WgXcQ"

SessionFactory = Callable[[], aiohttp.ClientSession]
Clock = Callable[[], float]


# ------------------------------------------------------------------------------------- time


def pacific_day(now: float) -> str:
    """The YouTube quota day (America/Los_Angeles) of a unix time, as YYYY-MM-DD."""
    return datetime.fromtimestamp(now, PACIFIC).date().isoformat()


def next_quota_reset(now: float) -> float:
    """Unix time of the next midnight in America/Los_Angeles (when YouTube quotas reset)."""
    today = datetime.fromtimestamp(now, PACIFIC).date()
    return datetime.combine(today + timedelta(days=1), clock_time(0), tzinfo=PACIFIC).timestamp()


def _day_number(now: float) -> int:
    return (datetime.fromtimestamp(now, PACIFIC).date() - date(2024, 1, 1)).days


def _seoul_clock(at: float) -> str:
    return datetime.fromtimestamp(at, SEOUL).strftime("%m-%d %H:%M")


# ----------------------------------------------------------------------------------- errors

_KEY_IN_QUERY = re.compile(r"(?i)([?&]key=)[^&#\s'\"]*")


def redact(text: str, secret: str | None = None) -> str:
    """``text`` with any ``key=…`` URL parameter and the secret itself replaced by ``REDACTED``."""
    out = _KEY_IN_QUERY.sub(r"\1REDACTED", str(text))
    if secret:
        out = out.replace(secret, "REDACTED")
    return out


class YouTubeError(Exception):
    """A failed Data API call. ``status`` is the HTTP status (0 for network trouble)."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message


class QuotaExceeded(YouTubeError):
    """403 quotaExceeded: the project's daily quota is spent until midnight Pacific time."""


class KeyInvalid(YouTubeError):
    """400 keyInvalid / API_KEY_INVALID: the key is wrong, deleted or expired."""


class AccessDenied(YouTubeError):
    """Other 403s: the API is not enabled for the key's project, or the key is restricted."""


class RequestRejected(YouTubeError):
    """Other 4xx: YouTube did not accept the request's parameters."""


class ServiceUnavailable(YouTubeError):
    """5xx, 429, timeouts, network trouble or an unreadable body: worth trying again later."""


_QUOTA_REASONS = {"quotaExceeded", "dailyLimitExceeded", "dailyLimitExceededUnreg"}
_KEY_REASONS = {"keyInvalid", "API_KEY_INVALID", "keyExpired", "API_KEY_EXPIRED"}
_TRANSIENT_REASONS = {"rateLimitExceeded", "userRateLimitExceeded", "backendError", "RATE_LIMIT_EXCEEDED"}


def parse_error(status: int, body: Any) -> YouTubeError:
    """Classify a Google API error response (``{"error": {"code", "message", "errors", "details"}}``)."""
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    message = str(error.get("message") or f"HTTP {status}")
    reasons: list[str] = []
    for entry in error.get("errors") or []:
        if isinstance(entry, dict) and entry.get("reason"):
            reasons.append(str(entry["reason"]))
    for entry in error.get("details") or []:
        if isinstance(entry, dict) and entry.get("reason"):
            reasons.append(str(entry["reason"]))
    reason = reasons[0] if reasons else str(error.get("status") or "unknown")
    found = set(reasons)
    if found & _QUOTA_REASONS:
        return QuotaExceeded(status, next(iter(found & _QUOTA_REASONS)), message)
    if found & _KEY_REASONS or "api key not valid" in message.lower():
        return KeyInvalid(status, next(iter(found & _KEY_REASONS), reason), message)
    if status == 429 or status >= 500 or found & _TRANSIENT_REASONS:
        return ServiceUnavailable(status, reason, message)
    if status in (401, 403):
        return AccessDenied(status, reason, message)
    return RequestRejected(status, reason, message)


def explain(error: YouTubeError, *, now: float | None = None) -> str:
    """The error in plain Korean, with the English term in brackets, for logs and ``maeum doctor``."""
    if isinstance(error, KeyInvalid):
        return (
            "YouTube API 키가 올바르지 않아요 (API key not valid). YOUTUBE_API_KEY 값을 확인해 주세요. "
            "그동안은 키 없이 검색하거나 내장 카탈로그로 추천해요."
        )
    if isinstance(error, QuotaExceeded):
        reset = next_quota_reset(time.time() if now is None else now)
        return (
            f"오늘 YouTube API 할당량을 다 썼어요 (quota exceeded). 미국 태평양 시간 자정"
            f"(한국 시간 {_seoul_clock(reset)})에 다시 열려요. 그동안은 저장해 둔 노래와 카탈로그로 추천해요."
        )
    if isinstance(error, AccessDenied):
        return (
            f"YouTube API 가 이 키를 거절했어요 ({error.reason}). Google Cloud 콘솔에서 이 키의 프로젝트에 "
            "'YouTube Data API v3' 가 사용 설정되어 있는지, 키 제한이 맞는지 확인해 주세요."
        )
    if isinstance(error, ServiceUnavailable):
        return f"YouTube 에 지금 연결되지 않아요 ({error.reason}). 잠시 뒤 다시 시도해요."
    return f"YouTube 가 요청을 받아 주지 않았어요 ({error.status} {error.reason})."


# ----------------------------------------------------------------------------------- client


def default_session_factory(timeout_s: float = 5.0) -> SessionFactory:
    def make() -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=timeout_s), trust_env=True, raise_for_status=False
        )

    return make


class YouTubeSearchClient:
    """Thin aiohttp client for ``search.list`` (and a 1-unit ``videos.list`` used as a key check)."""

    def __init__(
        self,
        api_key: str,
        *,
        api_base: str = DEFAULT_API_BASE,
        session_factory: SessionFactory | None = None,
        timeout_s: float = 5.0,
    ) -> None:
        if not api_key:
            raise ValueError("an API key is needed for the YouTube Data API")
        self._key = api_key
        self.api_base = api_base.rstrip("/")
        self._session_factory = session_factory or default_session_factory(timeout_s)
        self._session: aiohttp.ClientSession | None = None
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)

    def search_params(self, query: str, max_results: int) -> dict[str, str]:
        return {
            "part": "snippet",
            "type": "video",
            "videoCategoryId": "10",  # Music
            "regionCode": "KR",
            "relevanceLanguage": "ko",
            "safeSearch": "moderate",
            "maxResults": str(max(1, min(50, int(max_results)))),
            "q": query,
        }

    async def search(self, query: str, max_results: int = 50) -> dict[str, Any]:
        """One ``search.list`` call (100 quota units); the parsed JSON body, or a :class:`YouTubeError`."""
        return await self._get("search", self.search_params(query, max_results))

    async def check_key(self) -> dict[str, Any]:
        """A 1-unit ``videos.list`` call: succeeds when the key works and quota is left."""
        return await self._get("videos", {"part": "id", "id": CHECK_VIDEO_ID})

    async def _get(self, endpoint: str, params: Mapping[str, str]) -> dict[str, Any]:
        if self._session is None or self._session.closed:
            self._session = self._session_factory()
        url = f"{self.api_base}/{endpoint}"
        try:
            async with self._session.get(
                url, params={**params, "key": self._key}, timeout=self._timeout
            ) as response:
                text = await response.text()
                status = response.status
        except asyncio.TimeoutError:
            raise ServiceUnavailable(0, "timeout", f"no answer from {url} in time") from None
        except aiohttp.ClientError as exc:
            # aiohttp's messages contain the full URL, key included
            raise ServiceUnavailable(0, type(exc).__name__, redact(str(exc), self._key)) from None
        try:
            body = json.loads(text) if text else {}
        except json.JSONDecodeError:
            body = None
        if status != 200:
            raise parse_error(status, body)
        if not isinstance(body, dict):
            raise ServiceUnavailable(status, "badJson", f"{url} answered with something that is not JSON")
        return body

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None


def parse_search_results(body: Mapping[str, Any], source: str = "youtube") -> list[dict[str, Any]]:
    """Cacheable candidates from a ``youtube#searchListResponse``: videos only, no live streams,
    no shorts or compilations, no duplicates; titles HTML-unescaped, artist from the channel."""
    items = []
    for item in body.get("items") or []:
        if not isinstance(item, dict):
            continue
        ident = item.get("id") or {}
        snippet = item.get("snippet") or {}
        video_id = ident.get("videoId") if isinstance(ident, dict) else None
        if not video_id or (isinstance(ident, dict) and ident.get("kind", "youtube#video") != "youtube#video"):
            continue
        if (snippet.get("liveBroadcastContent") or "none") != "none":
            continue  # "live" or "upcoming"
        found = candidate(str(video_id), str(snippet.get("title") or ""), str(snippet.get("channelTitle") or ""), source)
        if not found["title"] or is_unwanted_title(found["title"]):
            continue
        items.append(found)
    return dedupe(items)


# ------------------------------------------------------------------------------ cached pool


@dataclass(frozen=True)
class PoolPolicy:
    #: search results count as fresh this long; a query is searched again only after it
    cache_ttl_s: float = 24 * 3600.0
    #: stale results keep being served (while newer ones arrive) up to ``cache_ttl_s * keep_factor``
    keep_factor: float = 3.0
    #: background refreshes happen at most once per this many replies of the provider
    refresh_every_replies: int = 100
    #: search in the background (not waiting) when a person has fewer unseen songs than count × this
    thin_factor: int = 2
    #: after a timeout or 5xx, no new search for this long; doubled after each further failure
    backoff_s: float = 60.0
    #: the longest back-off
    max_backoff_s: float = 30 * 60.0


def song_from_item(item: Mapping[str, Any]) -> Song:
    video_id = item["video_id"]
    return Song(
        key=item["key"],
        title=item["title"],
        artist=item["artist"],
        url=youtube_watch_url(video_id),
        music_url=youtube_music_url(video_id),
        source=item.get("source", "youtube"),
    )


def _valid_item(item: Any) -> bool:
    return (
        isinstance(item, dict)
        and isinstance(item.get("key"), str)
        and isinstance(item.get("video_id"), str)
        and isinstance(item.get("title"), str)
        and isinstance(item.get("artist"), str)
    )


class CachedSearchProvider:
    """Serves songs from the shared cached pool and keeps that pool fresh with few searches.

    Subclasses implement :meth:`_search` (one query → candidate dicts) and may override
    :meth:`_fetch_blocker`, :meth:`_consume_call` and :meth:`_on_error`.
    """

    name = "cached"
    #: the provider name in api_calls and in state keys
    budget_name = "cached"

    def __init__(
        self,
        db: Any,
        *,
        policy: PoolPolicy = PoolPolicy(),
        clock: Clock = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.db = db
        self.policy = policy
        self._clock = clock
        self._rng = rng or random.Random()
        self._replies_since_search = 0
        self._inflight: dict[tuple[str, str], asyncio.Task[bool]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._fetched: dict[tuple[str, str], dict[str, float]] = {}
        self._backoff_until = 0.0
        self._failures_in_a_row = 0
        self._problem: str | None = None
        self._closed = False
        #: searches actually sent (for tests and the status line)
        self.searches_sent = 0

    # ---- what subclasses provide ---------------------------------------------------------
    async def _search(self, query: str) -> list[dict[str, Any]]:
        raise NotImplementedError

    async def _fetch_blocker(self, now: float) -> str | None:
        """Why no search may be sent now (None: go ahead)."""
        if self._problem:
            return self._problem
        if now < self._backoff_until:
            return "backing off after an error"
        return None

    async def _consume_call(self, now: float) -> bool:
        """Take one call from the daily budget; False when it is spent."""
        return True

    async def _on_error(self, error: Exception, now: float) -> None:
        wait = self._back_off(now)
        log.warning("%s search failed (%s); trying again in %.0f s", self.name, error, wait)

    def _back_off(self, now: float, base_s: float | None = None) -> float:
        """Leave the service alone for a while: ``base_s`` (default ``policy.backoff_s``), doubled for
        every failure in a row, at most ``policy.max_backoff_s``. Returns the wait in seconds."""
        base = self.policy.backoff_s if base_s is None else base_s
        cap = max(base, self.policy.max_backoff_s)
        wait = min(cap, base * 2 ** min(self._failures_in_a_row, 10))
        self._failures_in_a_row += 1
        self._backoff_until = now + wait
        return wait

    # ---- the provider interface ----------------------------------------------------------
    @property
    def enabled(self) -> bool:
        return self._problem is None and not self._closed

    @property
    def problem(self) -> str | None:
        """Why the provider is switched off, in plain words (None while it works)."""
        return self._problem

    def _disable(self, message: str) -> None:
        if self._problem is None:
            self._problem = message
            log.error("%s switched off: %s", self.name, message)

    async def search(self, emotion: str, mode: str, count: int, exclude: Collection[str]) -> list[Song]:
        self._replies_since_search += 1
        if not self.enabled or count <= 0:
            return []
        now = self._clock()
        picked, unseen = await self._pick(emotion, mode, count, exclude, now)
        if len(picked) < count:
            # the pool cannot fill this reply: search now (the recommender bounds the wait)
            task = self._start_fetch(emotion, mode, now, reason="pool too small")
            if task is not None and await asyncio.shield(task):
                picked, unseen = await self._pick(emotion, mode, count, exclude, self._clock())
        else:
            await self._maybe_refresh(emotion, mode, count, unseen, now)
        return picked

    async def close(self) -> None:
        self._closed = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def wait_idle(self) -> None:
        """Wait for background searches to finish (tests and graceful shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # ---- picking from the pool -----------------------------------------------------------
    async def _pick(
        self, emotion: str, mode: str, count: int, exclude: Collection[str], now: float
    ) -> tuple[list[Song], int]:
        pool = [item for item in await self.db.cache_pool(emotion, mode, now) if _valid_item(item)]
        excluded = set(exclude)
        # another upload of a song the person just heard (or disliked) counts as that song
        excluded_titles = {item.get("norm") for item in pool if item["key"] in excluded and item.get("norm")}
        fresh = dedupe(
            item for item in pool if item["key"] not in excluded and item.get("norm") not in excluded_titles
        )
        if not fresh:
            return [], 0
        counts = await self.db.feedback_counts(emotion)
        ranked = rank_by_feedback(fresh, lambda item: item["key"], counts, self._rng)
        return [song_from_item(item) for item in ranked[:count]], len(fresh)

    # ---- searching -------------------------------------------------------------------------
    def _state_key(self, emotion: str, mode: str) -> str:
        return f"{self.budget_name}:fetched:{emotion}:{mode}"

    def _cache_query(self, emotion: str, mode: str, query: str) -> str:
        return f"{self.budget_name}|{emotion}|{mode}|{query}"

    async def _fetched_at(self, emotion: str, mode: str) -> dict[str, float]:
        combo = (emotion, mode)
        if combo not in self._fetched:
            raw = await self.db.get_state(self._state_key(emotion, mode))
            try:
                loaded = {str(k): float(v) for k, v in json.loads(raw).items()} if raw else {}
            except (ValueError, TypeError, AttributeError):
                loaded = {}
            self._fetched[combo] = loaded
        return self._fetched[combo]

    async def _maybe_refresh(self, emotion: str, mode: str, count: int, unseen: int, now: float) -> None:
        if self._inflight or self._closed:
            return  # one search at a time is plenty
        thin = unseen < count * self.policy.thin_factor
        fetched = await self._fetched_at(emotion, mode)
        newest = max(fetched.values(), default=float("-inf"))
        daily = (
            newest + self.policy.cache_ttl_s <= now
            and self._replies_since_search >= self.policy.refresh_every_replies
        )
        stale_left = pick_query(queries_for(emotion, mode), fetched, fresh_after=now - self.policy.cache_ttl_s)
        if (thin or daily) and stale_left is not None:
            self._start_fetch(emotion, mode, now, reason="pool thin" if thin else "daily refresh")

    def _start_fetch(self, emotion: str, mode: str, now: float, *, reason: str) -> asyncio.Task[bool] | None:
        combo = (emotion, mode)
        running = self._inflight.get(combo)
        if running is not None:
            return running
        if self._closed:
            return None
        task = asyncio.create_task(self._fetch(emotion, mode, now, reason), name=f"{self.name}-search")
        self._inflight[combo] = task
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._finished(combo, t))
        return task

    def _finished(self, combo: tuple[str, str], task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if self._inflight.get(combo) is task:
            del self._inflight[combo]
        if not task.cancelled() and task.exception() is not None:
            log.error("%s search crashed", self.name, exc_info=task.exception())

    async def _fetch(self, emotion: str, mode: str, now: float, reason: str) -> bool:
        """Search the next query for this emotion/mode and add its results to the pool."""
        fetched = await self._fetched_at(emotion, mode)
        query = pick_query(
            queries_for(emotion, mode),
            fetched,
            start=_day_number(now),
            fresh_after=now - self.policy.cache_ttl_s,
        )
        if query is None:
            return False  # every query is fresh: searching again would bring the same songs
        blocker = await self._fetch_blocker(now)
        if blocker is not None:
            log.debug("%s not searching: %s", self.name, blocker)
            return False
        if not await self._consume_call(now):
            return False
        self._replies_since_search = 0
        self.searches_sent += 1
        log.info("%s search for %s/%s (%s)", self.name, emotion, mode, reason)
        try:
            items = await self._search(query)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - every failure falls through to the next provider
            await self._on_error(exc, self._clock())
            return False
        await self.db.cache_put(
            self._cache_query(emotion, mode, query),
            emotion,
            mode,
            items,
            self.policy.cache_ttl_s * self.policy.keep_factor,
            now,
        )
        self._failures_in_a_row = 0
        fetched[query] = now
        await self.db.set_state(self._state_key(emotion, mode), json.dumps(fetched, ensure_ascii=False))
        return True


# ------------------------------------------------------------------------------ Data API v3


class YouTubeProvider(CachedSearchProvider):
    """Songs from the YouTube Data API v3 ``search.list``, within a hard daily call budget."""

    name = "youtube"
    budget_name = "youtube"
    CIRCUIT_STATE = "youtube:quota_reset_at"

    def __init__(
        self,
        db: Any,
        client: YouTubeSearchClient,
        *,
        daily_budget: int = 90,
        max_results: int = 50,
        policy: PoolPolicy = PoolPolicy(),
        clock: Clock = time.time,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(db, policy=policy, clock=clock, rng=rng)
        self.client = client
        self.daily_budget = int(daily_budget)
        self.max_results = int(max_results)
        self._quota_reset_at: float | None = None  # None: not read from the database yet
        self._budget_spent_day: str | None = None

    async def _search(self, query: str) -> list[dict[str, Any]]:
        body = await self.client.search(query, self.max_results)
        return parse_search_results(body, source="youtube")

    async def quota_reset_at(self) -> float:
        """Unix time until which the quota circuit is open (0 when closed)."""
        if self._quota_reset_at is None:
            raw = await self.db.get_state(self.CIRCUIT_STATE)
            try:
                self._quota_reset_at = float(raw) if raw else 0.0
            except ValueError:
                self._quota_reset_at = 0.0
        return self._quota_reset_at

    async def _fetch_blocker(self, now: float) -> str | None:
        blocked = await super()._fetch_blocker(now)
        if blocked:
            return blocked
        reset = await self.quota_reset_at()
        if now < reset:
            return f"quota circuit open until {datetime.fromtimestamp(reset, PACIFIC).isoformat()}"
        return None

    async def _consume_call(self, now: float) -> bool:
        day = pacific_day(now)
        if await self.db.try_consume_call(day, self.budget_name, self.daily_budget):
            return True
        if self._budget_spent_day != day:
            self._budget_spent_day = day
            log.warning(
                "youtube: today's budget of %d searches is used up; serving cached songs until "
                "midnight Pacific time", self.daily_budget,
            )
        return False

    async def _on_error(self, error: Exception, now: float) -> None:
        if isinstance(error, QuotaExceeded):
            reset = next_quota_reset(now)
            self._quota_reset_at = reset
            await self.db.set_state(self.CIRCUIT_STATE, repr(reset))
            log.warning("youtube: %s", explain(error, now=now))
        elif isinstance(error, (KeyInvalid, AccessDenied)):
            self._disable(explain(error, now=now))
        elif isinstance(error, ServiceUnavailable):
            await super()._on_error(error, now)
        elif isinstance(error, YouTubeError):
            self._back_off(now)
            log.warning("youtube: %s", explain(error, now=now))
        else:
            self._back_off(now)
            log.warning("youtube: unexpected answer (%s)", type(error).__name__)

    async def status(self) -> str:
        """One line for the start-up log and ``maeum doctor``."""
        now = self._clock()
        if self._problem:
            return f"YouTube Data API: 꺼짐 — {self._problem}"
        used = await self.db.calls_on(pacific_day(now), self.budget_name)
        reset = await self.quota_reset_at()
        if now < reset:
            return (
                f"YouTube Data API: 오늘 할당량 소진 (quota exceeded) — 한국 시간 {_seoul_clock(reset)}에 "
                "다시 열려요. 그동안은 저장해 둔 노래와 카탈로그로 추천해요."
            )
        return f"YouTube Data API: 사용 중 — 오늘 검색 {used}/{self.daily_budget}회 (미국 태평양 시간 기준)"

    async def close(self) -> None:
        await super().close()
        await self.client.close()


@dataclass(frozen=True)
class YouTubeCheck:
    ok: bool
    #: "ok", "no_key", "key_invalid", "quota", "denied", "unreachable", "rejected"
    kind: str
    message: str


async def check_youtube(
    api_key: str | None,
    *,
    api_base: str = DEFAULT_API_BASE,
    session_factory: SessionFactory | None = None,
    timeout_s: float = 5.0,
    now: float | None = None,
) -> YouTubeCheck:
    """Try the key once with a 1-unit ``videos.list`` call and say, in plain words, what works."""
    if not api_key:
        return YouTubeCheck(
            False,
            "no_key",
            "YOUTUBE_API_KEY 가 설정되지 않았어요 (no API key). 키 없이 검색하거나 내장 카탈로그로 추천해요.",
        )
    client = YouTubeSearchClient(api_key, api_base=api_base, session_factory=session_factory, timeout_s=timeout_s)
    try:
        await client.check_key()
    except YouTubeError as exc:
        kind = {
            KeyInvalid: "key_invalid",
            QuotaExceeded: "quota",
            AccessDenied: "denied",
            ServiceUnavailable: "unreachable",
        }.get(type(exc), "rejected")
        return YouTubeCheck(False, kind, explain(exc, now=now))
    finally:
        await client.close()
    return YouTubeCheck(True, "ok", "YouTube Data API 키가 잘 작동해요 (API key OK).")

