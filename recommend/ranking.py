"""Order candidate songs by what people liked for the same emotion, with room for discovery.

Thompson sampling, in one sentence: each song gets a random score drawn from
Beta(1 + likes, 1 + dislikes), and songs are shown highest score first.

* A song nobody has rated draws from Beta(1, 1) — a uniform number — so unrated songs come in a
  fresh random order every time (variety).
* A song liked 5 times and never disliked draws from Beta(6, 1), whose average is 6/7 ≈ 0.86, so it
  usually lands near the top — but not always, so new songs still get their chance.
* A song disliked by many draws from e.g. Beta(1, 6) (average ≈ 0.14) and sinks.

Likes and dislikes are counted per emotion over everyone (``Database.feedback_counts(emotion)``):
a song that comforted sad people ranks higher for sadness, not for joy. A person's own dislikes are
removed before ranking (the engine puts them in ``exclude``), so they never come back to them.
"""
from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

T = TypeVar("T")


def feedback_score(likes: int, dislikes: int, rng: random.Random) -> float:
    """One Thompson-sampling draw for a song with these counts."""
    return rng.betavariate(1 + max(0, likes), 1 + max(0, dislikes))


def expected_score(likes: int, dislikes: int) -> float:
    """The average of :func:`feedback_score` — the explainable part ("6 of 7 liked it")."""
    return (1 + max(0, likes)) / (2 + max(0, likes) + max(0, dislikes))


def rank_by_feedback(
    items: Sequence[T],
    key: Callable[[T], str],
    counts: Mapping[str, tuple[int, int]],
    rng: random.Random,
) -> list[T]:
    """``items`` ordered by one Thompson draw each (highest first)."""
    scored = []
    for index, item in enumerate(items):
        likes, dislikes = counts.get(key(item), (0, 0))
        scored.append((feedback_score(likes, dislikes, rng), index, item))
    scored.sort(key=lambda entry: (-entry[0], entry[1]))
    return [item for _, _, item in scored]
