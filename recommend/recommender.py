"""Pick songs for an emotion: providers tried in order within one time budget, catalogue last.

Typical order (see :func:`recommend.setup.build_providers`): YouTube Data API → keyless YouTube
search → offline catalogue. Every provider but the last gets whatever is left of ``budget_s``; when
one is slow, fails or comes back short, the next one fills the rest. The last provider (the local
catalogue) is always asked when songs are still missing, without a time limit — it never touches
the network. A song whose key is in ``exclude`` (the person's recent songs and dislikes) is never
returned, whichever provider offered it.
"""
from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Collection, Sequence
from typing import Protocol, runtime_checkable

from recommend.types import Song

log = logging.getLogger(__name__)


@runtime_checkable
class SongProvider(Protocol):
    name: str

    async def search(self, emotion: str, mode: str, count: int, exclude: Collection[str]) -> list[Song]:
        """Up to ``count`` songs for the emotion and mode, none of whose keys are in ``exclude``."""
        ...


class Recommender:
    """Tries each provider in turn; the last one (the offline catalogue) always gets to answer."""

    def __init__(self, providers: Sequence[SongProvider], budget_s: float = 2.0) -> None:
        if not providers:
            raise ValueError("at least one song provider is needed")
        if budget_s <= 0:
            raise ValueError("budget_s must be positive")
        self.providers = list(providers)
        self.budget_s = budget_s

    async def recommend(self, emotion: str, mode: str, count: int, exclude: Collection[str]) -> list[Song]:
        """Up to ``count`` songs, none in ``exclude``, no key twice; waits at most ``budget_s`` for
        the online providers (plus the catalogue's own local work)."""
        if count <= 0:
            return []
        deadline = time.monotonic() + self.budget_s
        chosen: list[Song] = []
        seen = set(exclude)
        *remote, last = self.providers
        for provider in remote:
            left = deadline - time.monotonic()
            if left <= 0 or len(chosen) >= count:
                break
            try:
                found = await asyncio.wait_for(provider.search(emotion, mode, count - len(chosen), set(seen)), left)
            except asyncio.TimeoutError:
                log.warning("song provider %s ran past the time budget; the next one answers", provider.name)
                continue
            except Exception as exc:  # a provider failing must never fail the reply
                log.warning("song provider %s failed (%s); the next one answers", provider.name, type(exc).__name__)
                log.debug("provider failure", exc_info=True)
                continue
            chosen.extend(self._fresh(found, seen))
        if len(chosen) < count:
            chosen.extend(self._fresh(await last.search(emotion, mode, count - len(chosen), set(seen)), seen))
        return chosen[:count]

    async def status_lines(self) -> list[str]:
        """One plain-words line per provider that can describe itself (start-up log, doctor)."""
        lines = []
        for provider in self.providers:
            status = getattr(provider, "status", None)
            if status is None:
                entries = getattr(provider, "entries", None)
                size = f" ({len(entries)}곡)" if entries is not None else ""
                lines.append(f"{provider.name}: 사용 중{size}")
                continue
            result = status()
            lines.append(await result if inspect.isawaitable(result) else str(result))
        return lines

    async def close(self) -> None:
        """Stop background searches and close HTTP sessions (call before closing the database)."""
        for provider in self.providers:
            close = getattr(provider, "close", None)
            if close is None:
                continue
            try:
                result = close()
                if inspect.isawaitable(result):
                    await result
            except Exception:  # noqa: BLE001 - shutting down; keep closing the others
                log.warning("closing song provider %s failed", provider.name, exc_info=True)

    @staticmethod
    def _fresh(songs: Sequence[Song], seen: set[str]) -> list[Song]:
        out = []
        for song in songs:
            if song.key not in seen:
                seen.add(song.key)
                out.append(song)
        return out
