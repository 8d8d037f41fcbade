"""The aiohttp server behind ``maeum serve``: Telegram's webhook plus any other routes.

:func:`run_server(config)` is the CLI entry point: with TELEGRAM_BOT_TOKEN set it runs the bot in
webhook mode (:func:`bot.telegram.app.serve_webhook`); either way it serves ``/healthz`` and the
KakaoTalk skill route (see :func:`default_routes`). Other channels and endpoints join without
touching this file::

    app = build_web_app([web.post("/kakao/skill", kakao_handler), web.get("/metrics", metrics)])
    add_telegram_routes(app, application, secret, "/telegram")

``GET /healthz`` is always there. The Telegram route checks ``X-Telegram-Bot-Api-Secret-Token``
on every request (constant-time): missing or wrong → 403 and nothing is processed.
"""
from __future__ import annotations

import asyncio
import hmac
import logging
import re
from collections.abc import Callable, Iterable
from typing import Any

from aiohttp import web
from telegram import Update
from telegram.ext import Application

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_UPDATE_BYTES = 1 << 20  # an update is a few KB; refuse anything absurd
_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
TELEGRAM_APP_KEY: web.AppKey[Application] = web.AppKey("telegram_application", Application)


def valid_secret_token(value: str) -> bool:
    """Telegram allows 1–256 characters A-Z, a-z, 0-9, _ and -."""
    return bool(_SECRET_RE.match(value))


async def healthz(request: web.Request) -> web.Response:
    body: dict[str, Any] = {"ok": True}
    application = request.app.get(TELEGRAM_APP_KEY)
    if application is not None:
        body["telegram"] = "running" if application.running else "stopped"
    return web.json_response(body, status=200 if body.get("telegram", "running") == "running" else 503)


def build_web_app(extra_routes: Iterable[web.AbstractRouteDef] = ()) -> web.Application:
    """A web app with ``GET /healthz`` and the given routes (e.g. the KakaoTalk skill, metrics)."""
    app = web.Application(client_max_size=MAX_UPDATE_BYTES)
    app.router.add_get("/healthz", healthz)
    app.add_routes(list(extra_routes))
    return app


def telegram_webhook_handler(application: Application, secret_token: str):
    expected = secret_token.encode("utf-8")

    async def handle(request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode("utf-8")
        if not hmac.compare_digest(given, expected):
            log.warning("webhook request refused: %s secret token", "missing" if not given else "wrong")
            return web.json_response({"ok": False, "description": "Forbidden"}, status=403)
        try:
            data = await request.json()
            update = Update.de_json(data, application.bot)
        except Exception:  # not JSON, or not an Update
            log.warning("webhook request refused: body is not a Telegram update")
            return web.json_response({"ok": False, "description": "Bad Request"}, status=400)
        if update is None:
            return web.json_response({"ok": False, "description": "Bad Request"}, status=400)
        await application.update_queue.put(update)
        return web.json_response({"ok": True})

    return handle


def add_telegram_routes(app: web.Application, application: Application, secret_token: str, path: str = "/telegram") -> None:
    """Route Telegram's webhook POSTs at ``path`` into ``application.update_queue``."""
    if not valid_secret_token(secret_token):
        raise ValueError("the webhook secret token must be 1-256 characters of A-Z a-z 0-9 _ -")
    app[TELEGRAM_APP_KEY] = application
    app.router.add_post(path, telegram_webhook_handler(application, secret_token))


async def start_site(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Start serving ``app``; returns the runner (``await runner.cleanup()`` to stop) and the bound port."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=10.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = port
    server = getattr(site, "_server", None)
    if server is not None and server.sockets:
        bound = server.sockets[0].getsockname()[1]
    return runner, bound


def default_routes(config: Any) -> Callable[[Any], list[web.AbstractRouteDef]]:
    """The routes every ``maeum serve`` has besides Telegram: the KakaoTalk skill."""

    def routes(engine: Any) -> list[web.AbstractRouteDef]:
        from bot.config import secret
        from bot.kakao import kakao_routes

        return list(kakao_routes(engine, config.kakao.skill_path, secret("kakao_skill_secret")))

    return routes


async def serve(
    config: Any,
    *,
    extra_routes: Callable[[Any], Iterable[web.AbstractRouteDef]] | None = None,
    stop: asyncio.Event | None = None,
    ready: Callable[[int], None] | None = None,
) -> None:
    """Serve until SIGINT/SIGTERM: Telegram's webhook when TELEGRAM_BOT_TOKEN is set, plus
    ``extra_routes(engine)`` (default: the KakaoTalk skill) and ``/healthz``."""
    from bot.config import secret
    from bot.telegram.app import quiet_noisy_loggers, serve_webhook, stop_on_signals

    routes = extra_routes or default_routes(config)
    if secret("telegram_token"):
        await serve_webhook(config, extra_routes=routes, stop=stop, ready=ready)
        return
    log.warning("TELEGRAM_BOT_TOKEN is not set: serving without the Telegram webhook")
    from bot.app import build_engine

    quiet_noisy_loggers()
    if stop is None:
        stop = asyncio.Event()
        stop_on_signals(stop)
    engine = await build_engine(config)
    runner = None
    try:
        runner, port = await start_site(build_web_app(routes(engine)), config.telegram.listen, config.telegram.port)
        log.info("web server listening on %s:%d", config.telegram.listen, port)
        if ready:
            ready(port)
        await stop.wait()
    finally:
        if runner is not None:
            await runner.cleanup()
        await engine.close()


def run_server(config: Any) -> None:
    """``maeum serve``: blocks until Ctrl+C / SIGTERM."""
    asyncio.run(serve(config))
