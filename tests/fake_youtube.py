"""A local fake of YouTube for tests: the Data API v3 (search.list, videos.list) and the InnerTube
search endpoint, on 127.0.0.1 with a random port.

Answers use the real shapes: ``youtube#searchListResponse`` (kind, etag, nextPageToken,
regionCode, pageInfo, items of ``youtube#searchResult`` with HTML-escaped titles like the real API)
and Google's error envelope ``{"error": {"code", "message", "errors": [...], "status", "details"}}``.

Script behaviours per call with :meth:`FakeYouTube.script` ("ok", "quota", "invalid_key",
"legacy_invalid_key", "server_error", "forbidden", "slow"); the default is :attr:`behaviour`.
Every search is counted (:attr:`search_calls`) and its parameters kept (:attr:`requests`, key
removed). Required parameters and the key are validated like the real API does.

Each query maps to a deterministic page of songs drawn from one shared list, so different queries
overlap like real searches do, and every page contains the awkward cases: a live stream, an
upcoming premiere, a #shorts clip, a one-hour compilation, the same video twice and another upload
of the same song.
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from collections import deque
from typing import Any

from aiohttp import web

ARTISTS = (
    "아이유", "BTS", "볼빨간사춘기", "AKMU", "DAY6", "NewJeans", "폴킴", "잔나비", "태연", "10CM",
    "SEVENTEEN", "LE SSERAFIM", "이무진", "멜로망스", "적재", "백예린", "헤이즈", "성시경", "IVE", "너드커넥션",
)
TITLES = (
    "봄날", "밤편지", "좋은 날", "Hype Boy", "예뻤어", "나의 사춘기에게", "주저하는 연인들을 위해", "우주를 줄게",
    "Love wins all", "신호등", "선물", "사랑하기 때문에", "Ditto", "한 페이지가 될 수 있게", "너의 모든 순간",
    "Square", "비도 오고 그래서", "시간을 달려서", "Don't Know What To Do", "I'm Fine", "별 보러 가자",
    "사건의 지평선", "어떻게 이별까지 사랑하겠어, 널 사랑하는 거지", "서울의 잠 못 이루는 밤", "Dynamite",
    "Butter", "Antifragile", "LOVE DIVE", "Super Shy", "Attention", "너를 만나", "모든 날, 모든 순간",
    "Spring Day", "Blueming", "Celebrity", "Lilac", "작은 것들을 위한 시", "소주 한 잔", "고백", "오래된 노래",
)
#: channel-name styles seen on YouTube; {a} is the artist
CHANNELS = ("{a} - Topic", "{a}", "{a} Official", "{a}VEVO", "1theK (원더케이)", "Stone Music Entertainment")
#: title styles; {a} artist, {t} title (apostrophes and quotes get HTML-escaped on the way out)
TITLE_STYLES = ("{a} - '{t}' MV", "[MV] {a} _ {t}", '{a} "{t}" Official Audio', "{a} - {t} (Lyrics)", "{t} - {a}")

SONGS: tuple[tuple[str, str], ...] = tuple((a, t) for t in TITLES for a in ARTISTS[:10])


def video_id_for(song_index: int, upload: int = 0) -> str:
    digest = hashlib.sha1(f"song:{song_index}:{upload}".encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()[:11]


def escape_like_youtube(text: str) -> str:
    """The Data API escapes titles: ``&`` ``<`` ``>`` ``"`` ``'`` → ``&amp;`` … ``&#39;``."""
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;").replace("'", "&#39;")
    )


def _error(code: int, message: str, errors: list[dict[str, str]], status: str | None = None,
           details: list[dict[str, Any]] | None = None) -> web.Response:
    body: dict[str, Any] = {"code": code, "message": message, "errors": errors}
    if status:
        body["status"] = status
    if details:
        body["details"] = details
    return web.json_response({"error": body}, status=code)


QUOTA_MESSAGE = (
    'The request cannot be completed because you have exceeded your '
    '<a href="/youtube/v3/getting-started#quota">quota</a>.'
)
KEY_MESSAGE = "API key not valid. Please pass a valid API key."


def quota_exceeded() -> web.Response:
    return _error(403, QUOTA_MESSAGE, [{"message": QUOTA_MESSAGE, "domain": "youtube.quota", "reason": "quotaExceeded"}])


def key_invalid(legacy: bool = False) -> web.Response:
    if legacy:
        return _error(400, "Bad Request", [{"message": "Bad Request", "domain": "usageLimits", "reason": "keyInvalid"}])
    return _error(
        400,
        KEY_MESSAGE,
        [{"message": KEY_MESSAGE, "domain": "global", "reason": "badRequest"}],
        status="INVALID_ARGUMENT",
        details=[{
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "API_KEY_INVALID",
            "domain": "googleapis.com",
            "metadata": {"service": "youtube.googleapis.com"},
        }],
    )


def access_not_configured() -> web.Response:
    message = "YouTube Data API v3 has not been used in project 123 before or it is disabled."
    return _error(403, message, [{"message": message, "domain": "usageLimits", "reason": "accessNotConfigured"}],
                  status="PERMISSION_DENIED")


def backend_error() -> web.Response:
    return _error(500, "Backend Error", [{"message": "Backend Error", "domain": "global", "reason": "backendError"}])


def bad_request(reason: str, message: str) -> web.Response:
    return _error(400, message, [{"message": message, "domain": "youtube.parameter", "reason": reason}])


class FakeYouTube:
    def __init__(self, *, valid_keys: tuple[str, ...] = ("test-key",), slow_s: float = 3.0) -> None:
        self.valid_keys = set(valid_keys)
        self.slow_s = slow_s
        self.behaviour = "ok"
        self._script: deque[str] = deque()
        self.search_calls = 0
        self.video_calls = 0
        self.innertube_calls = 0
        self.innertube_behaviour = "ok"
        self.requests: list[dict[str, str]] = []
        self.innertube_requests: list[dict[str, Any]] = []
        self.raw_query_strings: list[str] = []
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ---- lifecycle -----------------------------------------------------------------------
    async def start(self) -> "FakeYouTube":
        app = web.Application()
        app.router.add_get("/youtube/v3/search", self._search)
        app.router.add_get("/youtube/v3/videos", self._videos)
        app.router.add_post("/youtubei/v1/search", self._innertube_search)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/youtube/v3"

    @property
    def innertube_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/youtubei/v1"

    def script(self, *behaviours: str) -> None:
        """Behaviours for the next calls, in order; afterwards :attr:`behaviour` applies again."""
        self._script.extend(behaviours)

    def _next_behaviour(self) -> str:
        return self._script.popleft() if self._script else self.behaviour

    # ---- Data API --------------------------------------------------------------------------
    def _check_key(self, request: web.Request) -> web.Response | None:
        key = request.query.get("key") or request.headers.get("X-Goog-Api-Key")
        if not key:
            message = (
                "The request is missing a valid API key."
            )
            return _error(403, message, [{"message": message, "domain": "global", "reason": "forbidden"}],
                          status="PERMISSION_DENIED")
        if key not in self.valid_keys:
            return key_invalid()
        return None

    async def _behave(self) -> web.Response | None:
        behaviour = self._next_behaviour()
        if behaviour == "quota":
            return quota_exceeded()
        if behaviour == "invalid_key":
            return key_invalid()
        if behaviour == "legacy_invalid_key":
            return key_invalid(legacy=True)
        if behaviour == "forbidden":
            return access_not_configured()
        if behaviour == "server_error":
            return backend_error()
        if behaviour == "slow":
            await asyncio.sleep(self.slow_s)
        return None

    async def _refusal(self, request: web.Request) -> web.Response | None:
        """The error this request gets before any work: a bad key, then the scripted behaviour."""
        problem = self._check_key(request)
        return problem if problem is not None else await self._behave()

    async def _search(self, request: web.Request) -> web.Response:
        self.search_calls += 1
        self.raw_query_strings.append(request.query_string)
        params = {k: v for k, v in request.query.items() if k != "key"}
        self.requests.append(params)
        refusal = await self._refusal(request)
        if refusal is not None:
            return refusal
        if params.get("part") != "snippet":
            return bad_request("missingRequiredParameter", "No filter selected. Expected one of: part")
        query = params.get("q", "")
        if not query.strip():
            return bad_request("invalidSearchFilter", "The request contains an invalid combination of search filters.")
        if params.get("type") != "video" and "videoCategoryId" in params:
            return bad_request("invalidVideoCategoryId", "videoCategoryId requires type=video.")
        if params.get("safeSearch", "moderate") not in ("none", "moderate", "strict"):
            return bad_request("invalidParameter", "Invalid value for safeSearch.")
        try:
            max_results = int(params.get("maxResults", "5"))
        except ValueError:
            return bad_request("invalidParameter", "Invalid value for maxResults.")
        if not 0 <= max_results <= 50:
            return bad_request("invalidParameter", f"Invalid value '{max_results}'. Values must be within the range: [0, 50]")
        items = [self._search_result(entry) for entry in self.page_for(query, max_results)]
        return web.json_response({
            "kind": "youtube#searchListResponse",
            "etag": hashlib.sha1(query.encode()).hexdigest()[:27],
            "nextPageToken": "CDIQAA",
            "regionCode": params.get("regionCode", "US"),
            "pageInfo": {"totalResults": 1000000, "resultsPerPage": max_results},
            "items": items,
        })

    async def _videos(self, request: web.Request) -> web.Response:
        self.video_calls += 1
        refusal = await self._refusal(request)
        if refusal is not None:
            return refusal
        ids = [v for v in request.query.get("id", "").split(",") if v]
        return web.json_response({
            "kind": "youtube#videoListResponse",
            "etag": "fakeetag",
            "items": [{"kind": "youtube#video", "etag": "e", "id": vid} for vid in ids],
            "pageInfo": {"totalResults": len(ids), "resultsPerPage": len(ids)},
        })

    # ---- deterministic result pages ----------------------------------------------------------
    @staticmethod
    def page_for(query: str, size: int) -> list[dict[str, Any]]:
        """``size`` entries for a query: (video_id, raw title, channel, live) dicts, awkward cases included."""
        seed = int(hashlib.sha1(query.encode()).hexdigest(), 16)
        picks: list[int] = []
        step = (7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43)[seed % 11]  # coprime to len(SONGS)
        index = seed % len(SONGS)
        while len(picks) < min(size, len(SONGS)):
            if index not in picks:
                picks.append(index)
            index = (index + step) % len(SONGS)
        entries = []
        for position, song_index in enumerate(picks):
            artist, title = SONGS[song_index]
            style = TITLE_STYLES[(seed + position) % len(TITLE_STYLES)]
            channel = CHANNELS[(seed // 7 + position) % len(CHANNELS)].format(a=artist)
            entry = {
                "video_id": video_id_for(song_index),
                "title": style.format(a=artist, t=title),
                "channel": channel,
                "live": "none",
                "seconds": 150 + (song_index * 37) % 150,
            }
            special = position % 10
            if special == 3:
                entry["live"] = "live"
                entry["title"] = f"{artist} 라이브 24/7 radio"
                entry["video_id"] = video_id_for(song_index, 9)
            elif special == 5:
                entry["live"] = "upcoming"
                entry["video_id"] = video_id_for(song_index, 8)
            elif special == 7:
                entry["title"] = f"{title} 챌린지 #shorts"
                entry["video_id"] = video_id_for(song_index, 7)
                entry["seconds"] = 30
            elif special == 9:
                entry["title"] = f"{artist} 노래모음 1시간 연속 듣기 | Playlist"
                entry["video_id"] = video_id_for(song_index, 6)
                entry["seconds"] = 3700
            entries.append(entry)
        # the same video twice, and another upload of the same song with a different decoration
        if len(entries) >= 3:
            entries[2] = dict(entries[1])
        if len(entries) >= 5:
            artist, title = SONGS[picks[0]]
            entries[4] = dict(entries[4], video_id=video_id_for(picks[0], 1), title=f"{artist} - {title} [Official Video]",
                              live="none", channel=f"{artist} Official")
            entries[0] = dict(entries[0], title=f"{artist} - '{title}' MV")
        return entries[:size]

    @staticmethod
    def _search_result(entry: dict[str, Any]) -> dict[str, Any]:
        video_id = entry["video_id"]
        return {
            "kind": "youtube#searchResult",
            "etag": hashlib.sha1(video_id.encode()).hexdigest()[:27],
            "id": {"kind": "youtube#video", "videoId": video_id},
            "snippet": {
                "publishedAt": "2023-05-04T09:00:12Z",
                "channelId": "UC" + hashlib.sha1(entry["channel"].encode()).hexdigest()[:22],
                "title": escape_like_youtube(entry["title"]),
                "description": escape_like_youtube(f"{entry['title']} — official release"),
                "thumbnails": {
                    size: {"url": f"https://i.ytimg.com/vi/{video_id}/{name}.jpg", "width": w, "height": h}
                    for size, name, w, h in (
                        ("default", "default", 120, 90), ("medium", "mqdefault", 320, 180), ("high", "hqdefault", 480, 360)
                    )
                },
                "channelTitle": escape_like_youtube(entry["channel"]),
                "liveBroadcastContent": entry["live"],
                "publishTime": "2023-05-04T09:00:12Z",
            },
        }

    # ---- InnerTube (keyless) -------------------------------------------------------------------
    async def _innertube_search(self, request: web.Request) -> web.Response:
        self.innertube_calls += 1
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return web.json_response({"error": {"code": 400, "message": "bad json", "status": "INVALID_ARGUMENT"}},
                                     status=400)
        self.innertube_requests.append(body)
        behaviour = self.innertube_behaviour
        if behaviour == "slow":
            await asyncio.sleep(self.slow_s)
        elif behaviour == "rate_limited":
            return web.json_response({"error": {"code": 429, "message": "Too Many Requests",
                                                "status": "RESOURCE_EXHAUSTED"}}, status=429)
        elif behaviour == "changed_format":
            return web.json_response({"responseContext": {}, "contents": {"somethingNew": {}}})
        client = (body.get("context") or {}).get("client") or {}
        query = body.get("query")
        if not query or client.get("clientName") != "WEB" or not client.get("clientVersion"):
            return web.json_response({"error": {"code": 400, "message": "Request contains an invalid argument.",
                                                "status": "INVALID_ARGUMENT"}}, status=400)
        return web.json_response(self._innertube_page(query))

    def _innertube_page(self, query: str) -> dict[str, Any]:
        contents: list[dict[str, Any]] = [{"searchPyvRenderer": {"ads": [{"adSlotRenderer": {}}]}}]
        for entry in self.page_for(query, 20):
            contents.append(self._video_renderer(entry))
        contents.insert(4, {"reelShelfRenderer": {"title": {"simpleText": "Shorts"}, "items": [
            {"shortsLockupViewModel": {"onTap": {"innertubeCommand": {"reelWatchEndpoint": {"videoId": "shortAAAAAA"}}}}},
        ]}})
        contents.insert(6, {"shelfRenderer": {"title": {"simpleText": "관련 동영상"}, "content": {}}})
        return {
            "responseContext": {"visitorData": "CgtmYWtlLXZpc2l0b3I%3D"},
            "estimatedResults": "1000000",
            "contents": {"twoColumnSearchResultsRenderer": {"primaryContents": {"sectionListRenderer": {"contents": [
                {"itemSectionRenderer": {"contents": contents}},
                {"continuationItemRenderer": {"continuationEndpoint": {"continuationCommand": {"token": "fake-token"}}}},
            ]}}}},
            "refinements": [query + " 가사"],
        }

    @staticmethod
    def _video_renderer(entry: dict[str, Any]) -> dict[str, Any]:
        seconds = entry["seconds"]
        length = f"{seconds // 60}:{seconds % 60:02d}" if seconds < 3600 else \
            f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
        video: dict[str, Any] = {
            "videoId": entry["video_id"],
            "thumbnail": {"thumbnails": [{"url": f"https://i.ytimg.com/vi/{entry['video_id']}/hq720.jpg"}]},
            "title": {"runs": [{"text": entry["title"]}], "accessibility": {"accessibilityData": {"label": entry["title"]}}},
            "ownerText": {"runs": [{"text": entry["channel"], "navigationEndpoint": {"browseEndpoint": {"browseId": "UCx"}}}]},
            "longBylineText": {"runs": [{"text": entry["channel"]}]},
            "lengthText": {"simpleText": length, "accessibility": {"accessibilityData": {"label": f"{seconds}초"}}},
            "viewCountText": {"simpleText": "조회수 1,234,567회"},
            "navigationEndpoint": {"watchEndpoint": {"videoId": entry["video_id"]}},
            "thumbnailOverlays": [{"thumbnailOverlayTimeStatusRenderer": {"text": {"simpleText": length}, "style": "DEFAULT"}}],
        }
        if entry["live"] == "live":
            del video["lengthText"]
            video["viewCountText"] = {"runs": [{"text": "1.2천"}, {"text": "명 시청 중"}]}
            video["badges"] = [{"metadataBadgeRenderer": {"style": "BADGE_STYLE_TYPE_LIVE_NOW", "label": "실시간"}}]
            video["thumbnailOverlays"] = [{"thumbnailOverlayTimeStatusRenderer": {"style": "LIVE"}}]
        elif entry["live"] == "upcoming":
            video["upcomingEventData"] = {"startTime": "1767225600"}
            del video["lengthText"]
        if entry["seconds"] < 60:
            video["navigationEndpoint"] = {"reelWatchEndpoint": {"videoId": entry["video_id"]}}
            video["thumbnailOverlays"] = [{"thumbnailOverlayTimeStatusRenderer": {"style": "SHORTS"}}]
        return {"videoRenderer": video}
