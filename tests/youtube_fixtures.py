"""Fixtures shared by the YouTube, keyless and recommender tests: the fake YouTube server
(:class:`tests.fake_youtube.FakeYouTube`, which accepts the key ``"test-key"``), a fresh
SQLite database and a settable clock. Import the fixtures by name into a test module."""
from __future__ import annotations

import pytest

from storage import Database
from tests.fake_youtube import FakeYouTube


class FakeClock:
    """A clock the test sets: ``clock()`` returns ``now``."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
async def fake():
    server = await FakeYouTube().start()
    yield server
    await server.close()


@pytest.fixture
async def db(tmp_path):
    database = await Database.open(tmp_path / "maeum.sqlite3")
    yield database
    await database.close()
