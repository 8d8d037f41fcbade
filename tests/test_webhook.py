"""Webhook mode (`maeum serve`): the real aiohttp server in front of the real bot and engine.

Telegram (the fake server) posts updates to the webhook with the secret header; requests with a
missing or wrong secret are refused with 403 and nothing is processed.
"""
from __future__ import annotations

import asyncio
import json
import os
import random
import socket

import aiohttp
import pytest
from aiohttp import web

from bot.config import load_config
from bot.telegram.app import ALLOWED_UPDATES, serve_webhook
from bot.telegram.handlers import user_ref
from bot.web import SECRET_HEADER
from tests.fake_telegram import FakeTelegram
from tests.test_telegram import links, model_dir, storage_env

pytestmark = pytest.mark.timeout(60)
SECRET = "maeum-test_secret-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(autouse=True)
def _loopback_unproxied(monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture
async def served(tmp_path):
    """Fake Telegram + `serve_webhook` running in a task (with an extra route), stopped after."""
    if not (model_dir() / "maeum_model.json").is_file():
        pytest.skip(f"the shipped model is missing ({model_dir()}); train it with `python -m nlp.train_baseline`")
    from bot.app import build_engine

    fake = await FakeTelegram().start()
    port = free_port()
    config = load_config(
        None,
        env={
            **storage_env(tmp_path),
            "MAEUM_MODEL_UNSURE_THRESHOLD": "0.0",
            "MAEUM_TELEGRAM_BASE_URL": fake.base_url,
            "MAEUM_TELEGRAM_BASE_FILE_URL": fake.base_file_url,
            "MAEUM_TELEGRAM_MODE": "webhook",
            "MAEUM_TELEGRAM_WEBHOOK_URL": f"http://127.0.0.1:{port}/telegram",
            "MAEUM_TELEGRAM_LISTEN": "127.0.0.1",
            "MAEUM_TELEGRAM_PORT": str(port),
        },
    )
    engine = await build_engine(config, rng=random.Random(7))
    stop = asyncio.Event()
    ready = asyncio.Event()

    async def ping(request: web.Request) -> web.Response:
        return web.json_response({"pong": True})

    task = asyncio.create_task(
        serve_webhook(
            config, engine=engine, token=fake.token, webhook_secret=SECRET, stop=stop,
            extra_routes=lambda e: [web.get("/ping", ping)], ready=lambda p: ready.set(),
        )
    )
    try:
        await asyncio.wait_for(ready.wait(), 15)
        yield type("Served", (), dict(fake=fake, engine=engine, port=port, stop=stop, task=task,
                                      url=f"http://127.0.0.1:{port}"))
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)
        await engine.close()
        await fake.stop()


async def test_start_sets_the_webhook_with_the_secret(served):
    call = await served.fake.wait_for("setWebhook")
    assert call.params["url"] == f"{served.url}/telegram"
    assert call.params["secret_token"] == SECRET
    assert json.loads(call.params["allowed_updates"]) == ALLOWED_UPDATES
    assert served.fake.calls_to("setMyCommands")
    assert not served.fake.calls_to("getUpdates")


async def test_updates_posted_by_telegram_get_replies(served):
    fake = served.fake
    user = fake.make_user(501)
    mark = fake.mark()
    fake.send_text(user, "오늘 합격 소식 들었어 너무 행복해")
    reply = await fake.wait_for("sendMessage", since=mark)
    assert links(reply) and fake.webhook.delivered >= 1
    mark = fake.mark()
    fake.press_button(user, reply.result, "슬픔")
    await fake.wait_for("answerCallbackQuery", since=mark)
    await fake.wait_for("editMessageText", since=mark)
    await fake.wait_for("sendMessage", since=mark)
    assert [r["corrected"] for r in await served.engine.db.export_corrections()] == ["sadness"]


def text_update(update_id: int, user_id: int, text: str) -> dict:
    return {
        "update_id": update_id,
        "message": {
            "message_id": 1, "date": 1_700_000_000, "text": text,
            "chat": {"id": user_id, "type": "private", "first_name": "민지"},
            "from": {"id": user_id, "is_bot": False, "first_name": "민지"},
        },
    }


@pytest.mark.parametrize("headers", [{}, {SECRET_HEADER: "wrong-secret"}, {SECRET_HEADER: SECRET + "x"}, {SECRET_HEADER: ""}])
async def test_missing_or_wrong_secret_is_refused_and_nothing_is_processed(served, headers):
    fake = served.fake
    user = fake.make_user(502)
    fake.private_chat(user)
    mark = fake.mark()
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{served.url}/telegram", json=text_update(9001, 502, "오늘 너무 슬퍼"), headers=headers) as resp:
            assert resp.status == 403
    await asyncio.sleep(0.3)
    assert [c.method for c in fake.calls[mark:]] == []
    summary = await served.engine.db.user_summary(served.engine.pseudonym(user_ref(502)))
    assert summary["messages"] == 0 and not summary["exists"]


async def test_right_secret_posted_directly_is_processed(served):
    fake = served.fake
    fake.private_chat(fake.make_user(503))
    mark = fake.mark()
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{served.url}/telegram", json=text_update(9002, 503, "오늘 너무 행복해"), headers={SECRET_HEADER: SECRET}
        ) as resp:
            assert resp.status == 200
        async with http.post(f"{served.url}/telegram", data=b"not json", headers={SECRET_HEADER: SECRET}) as resp:
            assert resp.status == 400
    reply = await fake.wait_for("sendMessage", since=mark)
    assert reply.params["chat_id"] == "503" and links(reply)


async def test_health_and_extra_routes(served):
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{served.url}/healthz") as resp:
            assert resp.status == 200
            assert await resp.json() == {"ok": True, "telegram": "running"}
        async with http.get(f"{served.url}/ping") as resp:
            assert await resp.json() == {"pong": True}
        async with http.get(f"{served.url}/telegram") as resp:
            assert resp.status == 405


async def test_stop_finishes_the_reply_in_flight_and_closes_the_port(served):
    fake, engine = served.fake, served.engine
    real = engine.handle_text
    entered = asyncio.Event()

    async def slow(user, text):
        entered.set()
        await asyncio.sleep(0.5)
        return await real(user, text)

    engine.handle_text = slow
    mark = fake.mark()
    fake.send_text(fake.make_user(504), "오늘 너무 행복해")
    await asyncio.wait_for(entered.wait(), 10)
    served.stop.set()
    await asyncio.wait_for(served.task, 20)
    assert [c for c in fake.calls_to("sendMessage", mark) if c.params["chat_id"] == "504"]
    with pytest.raises(aiohttp.ClientConnectionError):
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{served.url}/healthz") as resp:
                await resp.read()


async def test_serve_without_a_telegram_token_still_serves_the_other_routes(tmp_path, monkeypatch):
    """`maeum serve` with no TELEGRAM_BOT_TOKEN: /healthz and the KakaoTalk skill, no Telegram route."""
    if not (model_dir() / "maeum_model.json").is_file():
        pytest.skip(f"the shipped model is missing ({model_dir()})")
    from bot.web import serve

    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    monkeypatch.delenv("MAEUM_KAKAO_SECRET", raising=False)
    port = free_port()
    config = load_config(None, env={**storage_env(tmp_path), "MAEUM_TELEGRAM_PORT": str(port)})
    stop, ready = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(serve(config, stop=stop, ready=lambda p: ready.set()))
    try:
        await asyncio.wait_for(ready.wait(), 15)
        url = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{url}/healthz") as resp:
                assert resp.status == 200 and await resp.json() == {"ok": True}
            body = {"userRequest": {"utterance": "오늘 너무 행복해", "user": {"id": "kakao-user-1"}}}
            async with http.post(f"{url}{config.kakao.skill_path}", json=body) as resp:
                assert resp.status == 200 and (await resp.json())["version"] == "2.0"
            async with http.post(f"{url}{config.telegram.webhook_path}", json={}) as resp:
                assert resp.status == 404
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)
