"""Build Maeum's Telegram ``Application`` and run it: long polling or a webhook server.

Entry points for the CLI (both block until SIGINT/SIGTERM, then finish in-flight replies):

* :func:`run_polling(config)` — ``maeum telegram`` (the default mode)
* :func:`run_webhook(config)` — ``maeum serve``; an aiohttp server (see :mod:`bot.web`) that other
  routes (KakaoTalk, health, metrics) can join through ``extra_routes``.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
import secrets
import signal
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web
from telegram import BotCommand
from telegram.error import InvalidToken, NetworkError
from telegram.ext import AIORateLimiter, Application, BaseRateLimiter

from bot.config import Config, ConfigError, secret
from bot.telegram import wording
from bot.telegram.callbacks import CallbackCodec
from bot.telegram.handlers import TelegramHandlers

if TYPE_CHECKING:
    from bot.engine import Engine

log = logging.getLogger(__name__)

#: the update kinds Maeum handles; everything else is not even sent to us
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]
#: loggers that would print the bot token (httpx logs request URLs at INFO) or are only noise
_QUIET_LOGGERS = ("httpx", "httpcore", "aiohttp.access")


def quiet_noisy_loggers() -> None:
    """Never let the token reach a log: httpx logs every request URL (which contains it) at INFO."""
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


class MaeumRateLimiter(AIORateLimiter):
    """PTB's limiter (Telegram's flood limits, 429 ``retry_after`` honoured and retried), except that
    cosmetic "typing…" actions and callback answers never wait in the message queue: a chat action
    is best effort (dropped on any error), and a button must be answered quickly."""

    UNQUEUED = frozenset({"sendChatAction", "answerCallbackQuery"})

    def __init__(self, *, max_retries: int = 3, **kwargs: Any) -> None:
        super().__init__(max_retries=max_retries, **kwargs)

    async def process_request(self, callback, args, kwargs, endpoint, data, rate_limit_args):  # type: ignore[override]
        if endpoint in self.UNQUEUED:
            return await callback(*args, **kwargs)
        return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)


def require_token(token: str | None = None) -> str:
    token = token or secret("telegram_token")
    if not token:
        raise ConfigError("텔레그램 봇 토큰이 없습니다: 환경 변수 TELEGRAM_BOT_TOKEN 에 BotFather 토큰을 넣어 주세요.")
    return token


def build_application(
    config: Config,
    token: str,
    engine: "Engine | None" = None,
    *,
    rate_limiter: BaseRateLimiter | None = None,
    with_updater: bool = True,
) -> Application:
    """The PTB Application with Maeum's handlers; ``engine`` may be attached later via
    ``application.bot_data["maeum"].attach(engine)``."""
    builder = (
        Application.builder()
        .token(token)
        .base_url(config.telegram.base_url)
        .base_file_url(config.telegram.base_file_url)
        .rate_limiter(rate_limiter or MaeumRateLimiter())
        .concurrent_updates(True)
    )
    if not with_updater:
        builder = builder.updater(None)
    application = builder.build()
    handlers = TelegramHandlers(CallbackCodec.from_token(token), engine)
    handlers.register(application)
    application.bot_data["maeum"] = handlers
    return application


async def register_commands(application: Application) -> None:
    await application.bot.set_my_commands([BotCommand(name, text) for name, text in wording.COMMANDS])


@dataclass
class TelegramRunner:
    """Starts and stops one bot: polling or fed by a webhook. Used by the CLI, tests and the benchmark."""

    config: Config
    engine: "Engine"
    token: str
    rate_limiter: BaseRateLimiter | None = None
    application: Application | None = field(default=None, init=False)

    async def start_polling(self, *, poll_timeout: int = 10) -> Application:
        app = await self._start(with_updater=True)
        assert app.updater is not None
        await app.updater.start_polling(  # Telegram's long-poll timeout is whole seconds
            timeout=dt.timedelta(seconds=int(poll_timeout)), allowed_updates=ALLOWED_UPDATES, drop_pending_updates=False
        )
        log.info("Telegram bot @%s is polling for updates", app.bot.username)
        return app

    async def start_fed(self) -> Application:
        """Start without an updater: updates arrive through ``application.update_queue`` (webhook)."""
        return await self._start(with_updater=False)

    async def _start(self, *, with_updater: bool) -> Application:
        quiet_noisy_loggers()
        app = build_application(
            self.config, self.token, self.engine, rate_limiter=self.rate_limiter, with_updater=with_updater
        )
        try:
            await app.initialize()  # getMe: fails fast on a wrong token
        except InvalidToken:
            raise ConfigError(
                "텔레그램이 봇 토큰을 받아들이지 않았습니다. TELEGRAM_BOT_TOKEN 값을 확인해 주세요."
            ) from None
        except NetworkError as exc:  # TimedOut included; the message never contains the token
            reason = str(exc).replace(self.token, "<token>")
            raise ConfigError(
                f"텔레그램 Bot API 서버({self.config.telegram.base_url})에 연결할 수 없습니다: {reason}. "
                "네트워크와 [telegram] base_url 을 확인해 주세요."
            ) from None
        self.application = app  # from here on, stop() cleans up even if a later step fails
        await register_commands(app)
        await app.start()
        return app

    async def stop(self) -> None:
        """Stop fetching, finish every in-flight reply, then close the HTTP clients."""
        app, self.application = self.application, None
        if app is None:
            return
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        await app.shutdown()


def stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # not the main thread / not supported
            pass


async def serve_polling(
    config: Config,
    *,
    engine: "Engine | None" = None,
    token: str | None = None,
    stop: asyncio.Event | None = None,
    rate_limiter: BaseRateLimiter | None = None,
) -> None:
    """Poll until ``stop`` is set (or SIGINT/SIGTERM). Builds (and closes) the engine unless given."""
    token = require_token(token)
    stop, engine, own_engine = await _stop_and_engine(config, engine, stop)
    runner = TelegramRunner(config, engine, token, rate_limiter)
    try:
        await runner.start_polling()
        await stop.wait()
        log.info("stopping: finishing replies in flight")
    finally:
        await runner.stop()
        if own_engine:
            await engine.close()


def webhook_secret_token() -> str:
    """The configured secret (MAEUM_TELEGRAM_WEBHOOK_SECRET), or a fresh random one for this run."""
    configured = secret("telegram_webhook_secret")
    if configured is None:
        log.warning("MAEUM_TELEGRAM_WEBHOOK_SECRET is not set: using a random secret for this run")
        return secrets.token_urlsafe(32)
    from bot.web import valid_secret_token

    if not valid_secret_token(configured):
        raise ConfigError("MAEUM_TELEGRAM_WEBHOOK_SECRET 는 1~256자의 영문·숫자·_·- 만 쓸 수 있습니다.")
    return configured


async def serve_webhook(
    config: Config,
    *,
    engine: "Engine | None" = None,
    token: str | None = None,
    webhook_secret: str | None = None,
    stop: asyncio.Event | None = None,
    extra_routes: Callable[["Engine"], Iterable[web.AbstractRouteDef]] | None = None,
    rate_limiter: BaseRateLimiter | None = None,
    ready: Callable[[int], None] | None = None,
) -> None:
    """Serve the webhook (and any extra routes) until ``stop`` or SIGINT/SIGTERM.

    ``ready(port)`` is called once the server listens and the webhook is registered.
    """
    from bot.web import add_telegram_routes, build_web_app, start_site

    token = require_token(token)
    tg = config.telegram
    if not tg.webhook_url:
        raise ConfigError("웹훅 모드에는 [telegram] webhook_url (텔레그램이 보낼 공개 HTTPS 주소)이 필요합니다.")
    webhook_secret = webhook_secret or webhook_secret_token()
    stop, engine, own_engine = await _stop_and_engine(config, engine, stop)
    runner = TelegramRunner(config, engine, token, rate_limiter)
    site_runner: web.AppRunner | None = None
    try:
        application = await runner.start_fed()
        web_app = build_web_app(list(extra_routes(engine)) if extra_routes else [])
        add_telegram_routes(web_app, application, webhook_secret, tg.webhook_path)
        site_runner, port = await start_site(web_app, tg.listen, tg.port)
        await application.bot.set_webhook(
            url=tg.webhook_url, secret_token=webhook_secret, allowed_updates=ALLOWED_UPDATES
        )
        log.info("webhook server listening on %s:%d%s", tg.listen, port, tg.webhook_path)
        if ready:
            ready(port)
        await stop.wait()
        log.info("stopping: finishing replies in flight")
    finally:
        if site_runner is not None:
            await site_runner.cleanup()  # stop taking updates first
        await runner.stop()  # then finish what was taken
        if own_engine:
            await engine.close()


async def _stop_and_engine(
    config: Config, engine: "Engine | None", stop: asyncio.Event | None
) -> tuple[asyncio.Event, "Engine", bool]:
    """The stop event (Ctrl+C / SIGTERM for the CLI) and the engine (built here unless given;
    the flag says whether this call owns it and must close it)."""
    if stop is None:
        stop = asyncio.Event()
        stop_on_signals(stop)
    if engine is not None:
        return stop, engine, False
    from bot.app import build_engine

    return stop, await build_engine(config), True


def run_polling(config: Config) -> None:
    """``maeum telegram``: long polling until Ctrl+C / SIGTERM."""
    asyncio.run(serve_polling(config))


def run_webhook(
    config: Config,
    *,
    extra_routes: Callable[["Engine"], Iterable[web.AbstractRouteDef]] | None = None,
) -> None:
    """``maeum serve``: the webhook server (plus ``extra_routes(engine)``) until Ctrl+C / SIGTERM."""
    asyncio.run(serve_webhook(config, extra_routes=extra_routes))
