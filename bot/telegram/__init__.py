"""Maeum's Telegram channel (python-telegram-bot 22): polling, webhook, rendering, buttons."""
from bot.telegram.app import (
    ALLOWED_UPDATES,
    TelegramRunner,
    build_application,
    run_polling,
    run_webhook,
    serve_polling,
    serve_webhook,
)

__all__ = [
    "ALLOWED_UPDATES",
    "TelegramRunner",
    "build_application",
    "run_polling",
    "run_webhook",
    "serve_polling",
    "serve_webhook",
]
