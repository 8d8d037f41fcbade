"""Real video links end to end: the engine and `maeum doctor` against the fake YouTube Data API."""
import asyncio
import sys

import pytest

from bot.replies import UserRef
from tests.conftest import ROOT
from tests.fake_youtube import FakeYouTube

KEY = "test-key"


@pytest.fixture
async def fake_youtube():
    server = await FakeYouTube(valid_keys=(KEY,)).start()
    yield server
    await server.close()


async def test_engine_replies_with_real_video_links(make_engine, fake_youtube, monkeypatch):
    monkeypatch.setenv("YOUTUBE_API_KEY", KEY)
    engine = await make_engine(MAEUM_YOUTUBE_API_BASE=fake_youtube.api_base)
    reply = await engine.handle_text(UserRef("console", "yt"), "드디어 합격했어!! 너무 신나")
    assert reply.songs
    assert all(s.source == "youtube" for s in reply.songs)
    assert all(s.url.startswith("https://www.youtube.com/watch?v=") for s in reply.songs)
    assert all(s.music_url.startswith("https://music.youtube.com/watch?v=") for s in reply.songs)
    assert all(s.key == "yt:" + s.url.rsplit("=", 1)[1] for s in reply.songs)


async def _doctor(env: dict) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "doctor", cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode, out.decode(), err.decode()


async def test_doctor_reports_an_invalid_key_in_plain_words(fake_youtube, maeum_env):
    env = {**maeum_env, "YOUTUBE_API_KEY": "not-a-real-key", "MAEUM_YOUTUBE_API_BASE": fake_youtube.api_base}
    code, out, err = await _doctor(env)
    assert code == 1
    assert "✅ 모델" in out and "✅ 데이터베이스" in out
    line = next(l for l in out.splitlines() if "YouTube" in l)
    assert line.startswith("❌") and "키" in line
    assert "not-a-real-key" not in out + err


async def test_doctor_is_green_with_a_working_key(fake_youtube, maeum_env):
    env = {**maeum_env, "YOUTUBE_API_KEY": KEY, "MAEUM_YOUTUBE_API_BASE": fake_youtube.api_base}
    code, out, err = await _doctor(env)
    assert code == 0, out + err
    assert "잘 작동해요" in out
