"""Shared test helpers: an engine on a real SQLite file, and running the real `maeum` CLI."""
from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
os.environ.setdefault("no_proxy", "127.0.0.1,localhost")
os.environ["HF_HUB_OFFLINE"] = "1"  # nothing in the tests may download from a model hub

SECRETS = ("TELEGRAM_BOT_TOKEN", "YOUTUBE_API_KEY", "MAEUM_SECRET", "MAEUM_KAKAO_SECRET",
           "MAEUM_TELEGRAM_WEBHOOK_SECRET")


@pytest.fixture(autouse=True)
def _no_real_secrets(monkeypatch):
    """A developer's exported token or key must never reach a test (or spend real quota)."""
    for name in SECRETS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def maeum_env(tmp_path):
    """Environment for a `maeum` subprocess: a private database, no tokens, loopback unproxied."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAEUM_") or k == "MAEUM_MODEL_PATH"}
    for name in SECRETS:
        env.pop(name, None)
    env.update(
        MAEUM_STORAGE_PATH=str(tmp_path / "maeum.sqlite3"),
        MAEUM_RECOMMEND_KEYLESS="false",
        PYTHONPATH=str(ROOT),
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )
    return env


@pytest.fixture
def run_maeum(maeum_env):
    def run(*args: str, input: str = "", env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "bot.cli", *args],
            input=input, capture_output=True, text=True, timeout=timeout, cwd=ROOT,
            env={**maeum_env, **(env or {})},
        )

    return run


@pytest.fixture
async def make_engine(tmp_path):
    """Build real engines (real SQLite file, shipped model, offline catalogue) and close them after."""
    from bot.app import build_engine
    from bot.config import load_config

    engines = []

    async def make(**env):
        base = {
            "MAEUM_STORAGE_PATH": str(tmp_path / "engine.sqlite3"),
            "MAEUM_RECOMMEND_KEYLESS": "false",
        }
        if os.environ.get("MAEUM_MODEL_PATH"):  # lets the suite run against another model folder
            base["MAEUM_MODEL_PATH"] = os.environ["MAEUM_MODEL_PATH"]
        config = load_config(None, env={**base, **{k: str(v) for k, v in env.items()}})
        engine = await build_engine(config, rng=random.Random(7))
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        await engine.close()
