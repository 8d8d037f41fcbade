"""Keyless YouTube search (no API key, no quota) through pytubefix's InnerTube client.

Why pytubefix and not pytube: pytube 15.0.0 (its last release, May 2023) sends a 2020-era WEB
client version and its issue tracker has been full of unanswered "HTTP Error 400" reports since
mid-2024, plus "Unexpected renderer encountered: reelShelfRenderer" from ``Search`` (pytube#1635,
#2029). pytubefix is the maintained fork (11.x in 2026) with a current WEB client version.

What we use from it: ``InnerTube(client="WEB").search(query, data={"params": …})`` — the request
builder for YouTube's own ``/youtubei/v1/search`` endpoint. We do **not** use ``Search.videos``:
it turns every hit into a ``YouTube`` object whose ``.title`` costs one more ``/player`` request
per video, and those are the requests YouTube's bot detection blocks (pytubefix#174). Titles,
channels and lengths are already in the search answer; :func:`parse_innertube_search` reads them.

pytubefix is synchronous (urllib): each search runs in a worker thread (``asyncio.to_thread``)
with a socket timeout, and the provider waits for it with its own timeout on top. The endpoint
base is configurable, which is how the tests point it at a local fake.

pytubefix is an optional dependency (it pulls in a ~200 MB Node.js wheel): without it this provider
reports itself unavailable and the recommender goes straight to the catalogue.
"""
from __future__ import annotations

import asyncio
import copy
import json
import logging
import random
import time
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode

from recommend.queries import candidate, dedupe, is_unwanted_title, parse_duration
from recommend.youtube import Clock, CachedSearchProvider, PoolPolicy, pacific_day

log = logging.getLogger(__name__)

#: protobuf-encoded search filter "type: video" (what pytubefix's Filter.Type.VIDEO encodes to)
VIDEOS_ONLY = "EgIQAQ=="
MIN_SECONDS = 60
MAX_SECONDS = 10 * 60


def keyless_unavailable_reason() -> str | None:
    """None when pytubefix can be imported; otherwise why not, in plain words."""
    try:
        import pytubefix.innertube  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - ImportError or a broken install
        return f"pytubefix 를 불러올 수 없어요 ({type(exc).__name__}). `pip install pytubefix` 로 설치할 수 있어요."
    return None


class KeylessSearcher:
    """One blocking InnerTube search; safe to use from several threads (nothing shared is mutated)."""

    def __init__(
        self, *, base_url: str | None = None, timeout_s: float = 4.0, hl: str = "ko", gl: str = "KR"
    ) -> None:
        self.base_url = base_url.rstrip("/") if base_url else None
        self.timeout_s = timeout_s
        self.hl = hl
        self.gl = gl

    def _innertube(self) -> Any:
        from pytubefix import request as yt_request
        from pytubefix.innertube import InnerTube

        base_url, timeout_s, hl, gl = self.base_url, self.timeout_s, self.hl, self.gl

        class BoundedInnerTube(InnerTube):  # type: ignore[misc]
            """InnerTube with its own base URL, a socket timeout and a private request context."""

            def __init__(self) -> None:
                super().__init__(client="WEB", use_oauth=False, use_po_token=False)
                # pytubefix keeps the context in a module-level dict and writes the query into it;
                # a private copy keeps concurrent searches from seeing each other's queries
                self.innertube_context = copy.deepcopy(self.innertube_context)
                self.innertube_context["context"]["client"].update({"hl": hl, "gl": gl})
                self.header = dict(self.header)

            @property
            def base_url(self) -> str:
                return base_url or super().base_url

            def _call_api(self, endpoint: str, query: Mapping[str, str], data: Any) -> Any:
                headers = {"Content-Type": "application/json", **self.header}
                url = f"{endpoint}?{urlencode(query)}"
                with yt_request._execute_request(url, "POST", headers=headers, data=data, timeout=timeout_s) as resp:
                    return json.loads(resp.read())

        return BoundedInnerTube()

    def search(self, query: str) -> dict[str, Any]:
        raw = self._innertube().search(query, data={"params": VIDEOS_ONLY})
        if not isinstance(raw, dict):
            raise ValueError("InnerTube search answered with something that is not a JSON object")
        return raw


def _text(node: Any) -> str:
    if not isinstance(node, dict):
        return ""
    if isinstance(node.get("simpleText"), str):
        return node["simpleText"]
    return "".join(run.get("text", "") for run in node.get("runs") or [] if isinstance(run, dict))


def _video_renderers(raw: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    sections: list[Any] = []
    try:
        sections = raw["contents"]["twoColumnSearchResultsRenderer"]["primaryContents"]["sectionListRenderer"][
            "contents"
        ]
    except (KeyError, TypeError):
        try:
            sections = raw["onResponseReceivedCommands"][0]["appendContinuationItemsAction"]["continuationItems"]
        except (KeyError, IndexError, TypeError):
            sections = []
    for section in sections or []:
        if not isinstance(section, dict):
            continue
        for entry in (section.get("itemSectionRenderer") or {}).get("contents") or []:
            if isinstance(entry, dict) and isinstance(entry.get("videoRenderer"), dict):
                yield entry["videoRenderer"]


def _is_live_or_short(video: Mapping[str, Any]) -> bool:
    if "upcomingEventData" in video:
        return True
    for badge in video.get("badges") or []:
        style = ((badge or {}).get("metadataBadgeRenderer") or {}).get("style", "")
        if "LIVE" in style:
            return True
    for overlay in video.get("thumbnailOverlays") or []:
        style = ((overlay or {}).get("thumbnailOverlayTimeStatusRenderer") or {}).get("style", "")
        if style in ("LIVE", "UPCOMING", "SHORTS"):
            return True
    endpoint = video.get("navigationEndpoint") or {}
    return "reelWatchEndpoint" in endpoint


def parse_innertube_search(raw: Mapping[str, Any], source: str = "keyless") -> list[dict[str, Any]]:
    """Cacheable candidates from an InnerTube search answer: real videos of 1–10 minutes only
    (no live streams, premieres, shorts, ads or compilations), without duplicates."""
    items = []
    for video in _video_renderers(raw):
        video_id = video.get("videoId")
        if not isinstance(video_id, str) or not video_id or _is_live_or_short(video):
            continue
        seconds = parse_duration(_text(video.get("lengthText")))
        if seconds is None or not MIN_SECONDS <= seconds <= MAX_SECONDS:
            continue  # no length means live; the rest are shorts or long mixes
        channel = _text(video.get("ownerText")) or _text(video.get("longBylineText")) or _text(
            video.get("shortBylineText")
        )
        found = candidate(video_id, _text(video.get("title")), channel, source)
        if not found["title"] or is_unwanted_title(found["title"]):
            continue
        found["seconds"] = seconds
        items.append(found)
    return dedupe(items)


class KeylessError(Exception):
    """A keyless search failed; ``retry_after_s`` says how long to leave YouTube alone."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class KeylessProvider(CachedSearchProvider):
    """Songs from YouTube's own search endpoint, no API key needed; same pool rules as the API."""

    name = "keyless"
    budget_name = "keyless"

    def __init__(
        self,
        db: Any,
        *,
        searcher: KeylessSearcher | None = None,
        timeout_s: float = 4.0,
        daily_budget: int = 300,
        policy: PoolPolicy = PoolPolicy(),
        clock: Clock = time.time,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(db, policy=policy, clock=clock, rng=rng)
        self.searcher = searcher or KeylessSearcher(timeout_s=timeout_s)
        self.timeout_s = timeout_s
        #: a politeness cap (YouTube blocks IPs that search too much), not a quota
        self.daily_budget = daily_budget
        unavailable = keyless_unavailable_reason()
        if unavailable:
            self._disable(unavailable)

    async def _search(self, query: str) -> list[dict[str, Any]]:
        try:
            raw = await asyncio.wait_for(asyncio.to_thread(self.searcher.search, query), self.timeout_s + 0.5)
        except asyncio.TimeoutError:
            raise KeylessError("no answer in time", self.policy.backoff_s) from None
        except HTTPError as exc:
            # 429 / 403 mean YouTube wants us to slow down; stay away for a while
            wait = 15 * 60.0 if exc.code in (403, 429) else self.policy.backoff_s
            raise KeylessError(f"HTTP {exc.code}", wait) from None
        except (URLError, OSError, ValueError) as exc:
            raise KeylessError(type(exc).__name__, self.policy.backoff_s) from None
        items = parse_innertube_search(raw)
        if not items:
            log.warning("keyless: the search answer had no usable videos (YouTube may have changed its format)")
        return items

    async def _consume_call(self, now: float) -> bool:
        return bool(await self.db.try_consume_call(pacific_day(now), self.budget_name, self.daily_budget))

    async def _on_error(self, error: Exception, now: float) -> None:
        wait = self._back_off(now, error.retry_after_s if isinstance(error, KeylessError) else None)
        log.warning("keyless search failed (%s); trying again in %.0f s", error, wait)

    async def status(self) -> str:
        if self._problem:
            return f"키 없는 YouTube 검색: 꺼짐 — {self._problem}"
        used = await self.db.calls_on(pacific_day(self._clock()), self.budget_name)
        return f"키 없는 YouTube 검색 (pytubefix): 사용 중 — 오늘 검색 {used}/{self.daily_budget}회"
