"""What Maeum does with each Telegram update: text, commands, button presses, everything else.

Handlers never log message text above DEBUG, and answer every button press exactly once.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from telegram import (
    Bot,
    CallbackQuery,
    LinkPreviewOptions,
    MaybeInaccessibleMessage,
    Message,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatAction, ChatType, MessageEntityType, ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes, MessageHandler, filters

from bot import messages as msg
from bot.commands import parse_mode_word
from bot.replies import Reply, UserRef
from bot.telegram import wording
from bot.telegram.callbacks import Action, BadCallback, CallbackCodec, Press
from bot.telegram.render import (
    Rendered,
    forget_confirmation,
    render_corrected_original,
    render_reply,
    with_mode,
)

if TYPE_CHECKING:
    from bot.engine import Engine

log = logging.getLogger(__name__)

NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
CHANNEL = "telegram"
TYPING_EVERY_S = 4.5  # Telegram shows "typing…" for about 5 seconds
_MESSAGE_ACTIONS = {Action.CORRECT, Action.PICK, Action.MORE, Action.LIKE, Action.DISLIKE}
Context = ContextTypes.DEFAULT_TYPE


def user_ref(user_id: int) -> UserRef:
    return UserRef(channel=CHANNEL, user_id=str(user_id))


def is_private(message: MaybeInaccessibleMessage) -> bool:
    return message.chat.type == ChatType.PRIVATE


def addressed_to_bot(message: Message, bot: Bot) -> bool:
    """In private chats always; in groups only when mentioned or replied to."""
    if is_private(message):
        return True
    replied = message.reply_to_message
    if replied is not None and replied.from_user is not None and replied.from_user.id == bot.id:
        return True
    username = (bot.username or "").lower()
    if not username:
        return False
    for entity, value in {**message.parse_entities(), **message.parse_caption_entities()}.items():
        if entity.type == MessageEntityType.MENTION and value[1:].lower() == username:
            return True
        if entity.type == MessageEntityType.BOT_COMMAND and value.lower().endswith("@" + username):
            return True
    return False


def strip_mention(text: str, username: str | None) -> str:
    if not username:
        return text
    return re.sub(rf"@{re.escape(username)}\b", " ", text, flags=re.IGNORECASE).strip()


class TelegramHandlers:
    """The bot's behaviour. ``engine`` may be attached after construction (polling builds it late)."""

    def __init__(self, codec: CallbackCodec, engine: "Engine | None" = None) -> None:
        self.codec = codec
        self._engine = engine

    @property
    def engine(self) -> "Engine":
        if self._engine is None:
            raise RuntimeError("the engine is not attached yet")
        return self._engine

    def attach(self, engine: "Engine") -> None:
        self._engine = engine

    def register(self, application: Application) -> None:
        only_new = filters.UpdateType.MESSAGE  # edited messages are ignored
        for name, callback in (
            ("start", self.on_start),
            ("help", self.on_help),
            ("mode", self.on_mode),
            ("privacy", self.on_privacy),
            ("forget", self.on_forget),
        ):
            application.add_handler(CommandHandler(name, callback, filters=only_new))
        application.add_handler(MessageHandler(only_new & filters.COMMAND, self.on_unknown_command))
        application.add_handler(MessageHandler(only_new & filters.TEXT, self.on_text))
        application.add_handler(
            MessageHandler(only_new & ~filters.TEXT & ~filters.StatusUpdate.ALL, self.on_other)
        )
        application.add_handler(CallbackQueryHandler(self.on_press))
        application.add_error_handler(self.on_error)

    # -- sending ------------------------------------------------------------------------------
    async def _send(self, bot: Bot, anchor: MaybeInaccessibleMessage, rendered: Rendered) -> Message:
        """Send into the chat of ``anchor``; in groups as a reply to it, so it is clear who it is for."""
        reply_to = None
        if not is_private(anchor):
            reply_to = ReplyParameters(message_id=anchor.message_id, allow_sending_without_reply=True)
        return await bot.send_message(
            anchor.chat.id,
            rendered.html,
            parse_mode=ParseMode.HTML,
            link_preview_options=NO_PREVIEW,
            reply_markup=rendered.markup,
            reply_parameters=reply_to,
        )

    async def _send_text(self, bot: Bot, anchor: MaybeInaccessibleMessage, text: str) -> Message:
        return await self._send(bot, anchor, render_reply(Reply("notice", text), self.codec, 0))

    @contextlib.asynccontextmanager
    async def _typing(self, bot: Bot, chat_id: int) -> AsyncIterator[None]:
        """Show "typing…" while the body runs (best effort: failures are ignored, never retried)."""

        async def keep_typing() -> None:
            while True:
                try:
                    await bot.send_chat_action(chat_id, ChatAction.TYPING)
                except TelegramError as exc:
                    log.debug("chat action failed: %s", type(exc).__name__)
                    return
                await asyncio.sleep(TYPING_EVERY_S)

        task = asyncio.create_task(keep_typing())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- commands -------------------------------------------------------------------------------
    async def on_start(self, update: Update, context: Context) -> None:
        await self._send_text(context.bot, update.effective_message, wording.START)

    async def on_help(self, update: Update, context: Context) -> None:
        await self._send_text(context.bot, update.effective_message, wording.HELP)

    async def on_mode(self, update: Update, context: Context) -> None:
        user = user_ref(update.effective_user.id)
        args = context.args or []
        if not args:
            reply = await self.engine.toggle_mode(user)
        elif len(args) == 1 and parse_mode_word(args[0]):
            reply = await self.engine.set_mode(user, args[0])
        else:
            reply = Reply("notice", wording.MODE_USAGE)
        await self._send_text(context.bot, update.effective_message, reply.text)

    async def on_privacy(self, update: Update, context: Context) -> None:
        reply = await self.engine.privacy(user_ref(update.effective_user.id))
        await self._send_text(context.bot, update.effective_message, reply.text)

    async def on_forget(self, update: Update, context: Context) -> None:
        await self._send(context.bot, update.effective_message, forget_confirmation(self.codec, update.effective_user.id))

    async def on_unknown_command(self, update: Update, context: Context) -> None:
        message = update.effective_message
        if is_private(message) or addressed_to_bot(message, context.bot):
            await self._send_text(context.bot, message, wording.UNKNOWN_COMMAND)

    # -- messages -------------------------------------------------------------------------------
    async def on_text(self, update: Update, context: Context) -> None:
        message = update.effective_message
        if update.effective_user is None or not addressed_to_bot(message, context.bot):
            return
        if message.sender_chat is not None:  # an anonymous admin or a channel: no person to store it for
            await self._send_text(context.bot, message, wording.ANONYMOUS)
            return
        owner = update.effective_user.id
        text = strip_mention(message.text or "", context.bot.username)
        async with self._typing(context.bot, message.chat.id):
            reply = await self.engine.handle_text(user_ref(owner), text)
        log.debug("text reply: kind=%s label=%s songs=%d", reply.kind, reply.label, len(reply.songs))
        await self._send(context.bot, message, render_reply(reply, self.codec, owner))

    async def on_other(self, update: Update, context: Context) -> None:
        message = update.effective_message
        if addressed_to_bot(message, context.bot):
            await self._send_text(context.bot, message, wording.NON_TEXT)

    # -- button presses -------------------------------------------------------------------------
    async def on_press(self, update: Update, context: Context) -> None:
        query = update.callback_query
        try:
            press = self.codec.decode(query.data)
        except BadCallback as exc:
            log.info("refused a button press: %s", exc)
            await query.answer(wording.ALERT_GARBLED, show_alert=True)
            return
        if not self.codec.is_owner(press, query.from_user.id):
            log.info("refused a button press: not the owner's")
            await query.answer(msg.FOREIGN, show_alert=True)
            return
        user = user_ref(query.from_user.id)
        if press.action in _MESSAGE_ACTIONS:
            problem = await self._check_message(user, press.message_id)
            if problem is not None:
                log.info("refused a button press: %s", "stale" if problem == msg.STALE else "foreign")
                await query.answer(problem, show_alert=True)
                return
        handler = {
            Action.CORRECT: self._press_correct,
            Action.PICK: self._press_correct,
            Action.MORE: self._press_more,
            Action.MODE: self._press_mode,
            Action.LIKE: self._press_feedback,
            Action.DISLIKE: self._press_feedback,
            Action.FORGET: self._press_forget,
            Action.KEEP: self._press_keep,
        }[press.action]
        await handler(query, press, user, context.bot)

    async def _check_message(self, user: UserRef, message_id: int) -> str | None:
        """A quick read-only ownership check, so the press can be answered before the slow work."""
        problem = await self.engine.check_owned(user, message_id)
        return None if problem is None else problem.text

    async def _press_correct(self, query: CallbackQuery, press: Press, user: UserRef, bot: Bot) -> None:
        await query.answer(wording.correcting_toast(press.label))
        reply = await self.engine.correct(user, press.message_id, press.label)
        if reply.kind == "rejected":  # deleted between the check and now
            log.info("correction refused after the answer: %s", reply.text)
            return
        original = query.message
        if original is not None:
            edited = render_corrected_original(
                reply, self.codec, query.from_user.id, picked=press.action is Action.PICK
            )
            await self._edit(bot, original, edited)
            await self._send(bot, original, render_reply(reply, self.codec, query.from_user.id))

    async def _press_more(self, query: CallbackQuery, press: Press, user: UserRef, bot: Bot) -> None:
        await query.answer(wording.TOAST_MORE)
        reply = await self.engine.more_songs(user, press.message_id)
        if reply.kind == "rejected" or query.message is None:
            return
        await self._send(bot, query.message, render_reply(reply, self.codec, query.from_user.id))

    async def _press_mode(self, query: CallbackQuery, press: Press, user: UserRef, bot: Bot) -> None:
        reply = await self.engine.toggle_mode(user)  # two small writes: the answer is its result
        await query.answer(reply.text)
        message = query.message
        if isinstance(message, Message) and reply.mode:
            markup = with_mode(message.reply_markup, self.codec, reply.mode)
            if markup is not None:
                with contextlib.suppress(BadRequest):
                    await bot.edit_message_reply_markup(message.chat.id, message.message_id, reply_markup=markup)

    async def _press_feedback(self, query: CallbackQuery, press: Press, user: UserRef, bot: Bot) -> None:
        liked = press.action is Action.LIKE
        await query.answer(msg.FEEDBACK_LIKE if liked else msg.FEEDBACK_DISLIKE)
        reply = await self.engine.song_feedback(user, press.message_id, press.argument, liked)
        if reply.kind == "rejected":
            log.info("song feedback refused: %s", reply.text)

    async def _press_forget(self, query: CallbackQuery, press: Press, user: UserRef, bot: Bot) -> None:
        await query.answer(wording.TOAST_FORGETTING)
        reply = await self.engine.forget(user)
        log.info("a user's data was deleted on request")
        if query.message is not None:
            await self._edit(bot, query.message, Rendered(render_reply(reply, self.codec, 0).html))

    async def _press_keep(self, query: CallbackQuery, press: Press, user: UserRef, bot: Bot) -> None:
        await query.answer(wording.TOAST_CANCELLED)
        if query.message is not None:
            await self._edit(bot, query.message, render_reply(Reply("notice", wording.FORGET_CANCELLED), self.codec, 0))

    async def _edit(self, bot: Bot, message: MaybeInaccessibleMessage, rendered: Rendered) -> None:
        """Edit the pressed message; a message that can no longer be edited is left as it is, so
        the reply that follows (e.g. the corrected songs) still goes out."""
        if not isinstance(message, Message):
            log.info("pressed message is no longer accessible; not editing it")
            return
        try:
            await bot.edit_message_text(
                rendered.html,
                chat_id=message.chat.id,
                message_id=message.message_id,
                parse_mode=ParseMode.HTML,
                link_preview_options=NO_PREVIEW,
                reply_markup=rendered.markup,
            )
        except BadRequest as exc:
            if "not modified" not in str(exc):
                log.warning("could not edit the pressed message: %s", exc)

    # -- errors ---------------------------------------------------------------------------------
    async def on_error(self, update: object, context: Context) -> None:
        error = context.error
        log.error("handling a Telegram update failed: %s", type(error).__name__, exc_info=error)
        if not isinstance(update, Update):
            return
        with contextlib.suppress(TelegramError):
            if update.callback_query is not None:
                await update.callback_query.answer(wording.SORRY, show_alert=True)
            elif update.effective_message is not None and update.effective_chat is not None:
                await self._send_text(context.bot, update.effective_message, wording.SORRY)
