"""Build the song providers from settings: YouTube Data API (with a key), keyless search, catalogue.

``bot/app.py`` calls :func:`build_providers` and hands the list to
:class:`~recommend.recommender.Recommender`; on shutdown it calls ``await recommender.close()``
(or :func:`close_providers`) *before* closing the database, so background searches stop first.
"""
from __future__ import annotations

import logging
import random
import time
from collections.abc import Sequence
from typing import Any

from recommend.catalog import CatalogProvider
from recommend.keyless import KeylessProvider, KeylessSearcher, keyless_unavailable_reason
from recommend.recommender import Recommender, SongProvider
from recommend.youtube import (
    DEFAULT_API_BASE,
    Clock,
    PoolPolicy,
    SessionFactory,
    YouTubeProvider,
    YouTubeSearchClient,
)

log = logging.getLogger(__name__)


def build_providers(
    *,
    db: Any,
    api_key: str | None,
    api_base: str = DEFAULT_API_BASE,
    daily_budget: int = 90,
    cache_ttl_s: float = 24 * 3600.0,
    max_results: int = 50,
    keyless: bool = True,
    session_factory: SessionFactory | None = None,
    keyless_base: str | None = None,
    timeout_s: float = 5.0,
    refresh_every_replies: int = 100,
    catalog: CatalogProvider | None = None,
    clock: Clock = time.time,
    rng: random.Random | None = None,
) -> list[SongProvider]:
    """Providers in the order they are tried: YouTube first when a key is set, keyless search next
    when enabled (and pytubefix is installed), the offline catalogue always last."""
    policy = PoolPolicy(cache_ttl_s=float(cache_ttl_s), refresh_every_replies=int(refresh_every_replies))
    providers: list[SongProvider] = []
    if api_key:
        client = YouTubeSearchClient(api_key, api_base=api_base, session_factory=session_factory, timeout_s=timeout_s)
        providers.append(
            YouTubeProvider(
                db, client, daily_budget=daily_budget, max_results=max_results, policy=policy, clock=clock, rng=rng
            )
        )
    if keyless:
        reason = keyless_unavailable_reason()
        if reason:
            log.warning("keyless YouTube search is off: %s", reason)
        else:
            searcher = KeylessSearcher(base_url=keyless_base, timeout_s=timeout_s)
            providers.append(
                KeylessProvider(db, searcher=searcher, timeout_s=timeout_s, policy=policy, clock=clock, rng=rng)
            )
    providers.append(catalog if catalog is not None else CatalogProvider())
    log.info("song providers: %s", " → ".join(p.name for p in providers))
    return providers


async def close_providers(providers: Sequence[SongProvider]) -> None:
    """Stop background searches and close HTTP sessions (one failing close never stops the rest)."""
    await Recommender(providers).close()