"""A fake Telegram Bot API server for tests and benchmarks.

It speaks the real HTTP protocol to the real python-telegram-bot ``Application`` (point the bot's
``base_url`` at :attr:`FakeTelegram.base_url`), validates every call the way Telegram does (token,
method name, required fields, known chats, HTML entities, inline keyboards, callback query ids…),
records every call for assertions, and can inject updates (text, stickers, photos, edits, button
presses) that it hands out through ``getUpdates`` long polling or posts to a webhook.

Usage::

    fake = FakeTelegram()
    await fake.start()                  # 127.0.0.1, a free port
    ...  # build the Application with base_url=fake.base_url
    mark = fake.mark()
    fake.send_text(fake.make_user(1), "안녕")
    call = await fake.wait_for("sendMessage", since=mark)
    await fake.stop()                   # wakes every long poll at once

The fake never sleeps for long: every wait has a timeout, and stopping wakes every waiter.
"""
from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import urlsplit

from aiohttp import ClientSession, ClientTimeout, web

DEFAULT_TOKEN = "123456789:AAFakeTokenForMaeumTests_0123456789ab"

# ------------------------------------------------------------------------------------ errors


class ApiError(Exception):
    """An error answer: HTTP status + Telegram's description (+ optional parameters)."""

    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            out["parameters"] = self.parameters
        return out


def bad_request(what: str) -> ApiError:
    return ApiError(400, f"Bad Request: {what}")


# ----------------------------------------------------------------------------- text helpers


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class EntityParseError(ValueError):
    pass


_SIMPLE_TAGS = {
    "b": "bold", "strong": "bold",
    "i": "italic", "em": "italic",
    "u": "underline", "ins": "underline",
    "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
}
_ALLOWED_TAGS = set(_SIMPLE_TAGS) | {"a", "span", "tg-emoji"}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY_RE = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]*);")
_TAG_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9-]*")
_ATTR_RE = re.compile(r"\s*([A-Za-z][A-Za-z0-9_-]*)(?:\s*=\s*(\"[^\"]*\"|'[^']*'|[^\s\"'>]+))?")
_URL_SCHEMES = {"http", "https", "tg", "ftp", "mailto"}


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def _decode_entities(raw: str, text: str, start: int) -> str:
    """Decode &…; references in attribute values or text; only Telegram's supported ones."""
    out = []
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch != "&":
            out.append(ch)
            i += 1
            continue
        m = _ENTITY_RE.match(raw, i)
        if not m:
            # Telegram is lenient with a bare "&"; we are stricter so missing escaping is caught
            raise EntityParseError(
                f"Character '&' is reserved and must be escaped as &amp; at byte offset "
                f"{_byte_offset(text, start + i)}"
            )
        name = m.group(1)
        if name.startswith("#"):
            code = int(name[2:], 16) if name[1:2] in ("x", "X") else int(name[1:])
            if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                raise EntityParseError(f"Invalid HTML entity at byte offset {_byte_offset(text, start + i)}")
            out.append(chr(code))
        elif name in _NAMED_ENTITIES:
            out.append(_NAMED_ENTITIES[name])
        else:
            raise EntityParseError(
                f'Unsupported HTML entity "&{name};" at byte offset {_byte_offset(text, start + i)}'
            )
        i = m.end()
    return "".join(out)


def valid_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    if parts.scheme.lower() not in _URL_SCHEMES:
        return False
    if parts.scheme.lower() in ("http", "https", "ftp"):
        return bool(parts.hostname) and " " not in url
    return True


def parse_html(source: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse Telegram-flavoured HTML into (plain text, entities with UTF-16 offsets).

    Raises :class:`EntityParseError` with a Telegram-style reason on any unsupported tag, bad
    nesting, unclosed tag or unsupported entity.
    """
    plain: list[str] = []
    plain_len = 0  # in UTF-16 code units
    stack: list[tuple[str, int, dict[str, Any]]] = []  # (tag, start offset, entity)
    entities: list[dict[str, Any]] = []
    i = 0
    n = len(source)
    text_start = 0

    def flush(upto: int) -> None:
        nonlocal plain_len
        if upto > text_start:
            chunk = _decode_entities(source[text_start:upto], source, text_start)
            plain.append(chunk)
            plain_len += utf16_len(chunk)

    while i < n:
        if source[i] != "<":
            i += 1
            continue
        flush(i)
        close = source.find(">", i)
        if close < 0:
            raise EntityParseError(f"Unclosed start tag at byte offset {_byte_offset(source, i)}")
        inner = source[i + 1:close]
        if inner.startswith("/"):
            name = inner[1:].strip().lower()
            if not stack:
                raise EntityParseError(f'Unexpected end tag at byte offset {_byte_offset(source, i)}')
            top, start, entity = stack.pop()
            if name != top:
                raise EntityParseError(
                    f'Unmatched end tag at byte offset {_byte_offset(source, i)}, expected "</{top}>", '
                    f'found "</{name}>"'
                )
            length = plain_len - start
            if length > 0 and entity:
                entity["offset"], entity["length"] = start, length
                entities.append(entity)
        else:
            m = _TAG_NAME_RE.match(inner)
            if not m:
                raise EntityParseError(f"Unsupported start tag at byte offset {_byte_offset(source, i)}")
            name = m.group(0).lower()
            if name not in _ALLOWED_TAGS:
                raise EntityParseError(
                    f'Unsupported start tag "{name}" at byte offset {_byte_offset(source, i)}'
                )
            rest = inner[m.end():].rstrip()
            if rest.endswith("/"):
                raise EntityParseError(f'Unsupported self-closing tag "{name}" at byte offset {_byte_offset(source, i)}')
            attrs: dict[str, str] = {}
            pos = 0
            while pos < len(rest):
                am = _ATTR_RE.match(rest, pos)
                if not am or am.end() == pos:
                    raise EntityParseError(f"Bad attribute in tag at byte offset {_byte_offset(source, i)}")
                value = am.group(2) or ""
                if value[:1] in ("'", '"'):
                    value = value[1:-1]
                attrs[am.group(1).lower()] = _decode_entities(value, source, i)
                pos = am.end()
                if not rest[pos:].strip():
                    break
            if any(tag == name for tag, _, _ in stack) and name in ("a", "code", "pre"):
                raise EntityParseError(f'Nested "{name}" tags are not allowed at byte offset {_byte_offset(source, i)}')
            if stack and stack[-1][0] in ("code",) or (stack and stack[-1][0] == "pre" and name != "code"):
                raise EntityParseError(
                    f'Can\'t nest "{name}" inside "{stack[-1][0]}" at byte offset {_byte_offset(source, i)}'
                )
            entity: dict[str, Any]
            if name == "a":
                href = attrs.get("href", "")
                if not href:
                    raise EntityParseError(f'Tag "a" must have attribute "href" at byte offset {_byte_offset(source, i)}')
                if not valid_http_url(href):
                    raise EntityParseError(f"Wrong HTTP URL at byte offset {_byte_offset(source, i)}")
                entity = {"type": "text_link", "url": href}
            elif name == "span":
                if attrs.get("class") != "tg-spoiler":
                    raise EntityParseError(
                        f'Tag "span" must have class "tg-spoiler" at byte offset {_byte_offset(source, i)}'
                    )
                entity = {"type": "spoiler"}
            elif name == "tg-emoji":
                if not attrs.get("emoji-id", "").isdigit():
                    raise EntityParseError(f'Tag "tg-emoji" must have attribute "emoji-id" at byte offset {_byte_offset(source, i)}')
                entity = {"type": "custom_emoji", "custom_emoji_id": attrs["emoji-id"]}
            elif name == "blockquote":
                entity = {"type": "expandable_blockquote" if "expandable" in attrs else "blockquote"}
            elif name == "code" and stack and stack[-1][0] == "pre":
                language = attrs.get("class", "")
                if language.startswith("language-") and stack[-1][2]:
                    stack[-1][2]["language"] = language[len("language-"):]
                entity = {}  # merged into the surrounding pre
            else:
                entity = {"type": _SIMPLE_TAGS[name]}
            stack.append((name, plain_len, entity))
        i = close + 1
        text_start = i
    flush(n)
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    text = "".join(plain)
    # Telegram trims surrounding whitespace; entities are shifted accordingly
    stripped_left = len(text) - len(text.lstrip())
    shift = utf16_len(text[:stripped_left])
    text = text.strip()
    total = utf16_len(text)
    fixed = []
    for e in sorted(entities, key=lambda e: (e["offset"], -e["length"])):
        start = max(0, e["offset"] - shift)
        end = min(total, e["offset"] + e["length"] - shift)
        if end > start:
            fixed.append({**e, "offset": start, "length": end - start})
    return text, fixed


_COMMAND_RE = re.compile(r"^/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?")
_MENTION_RE = re.compile(r"(?<![\w@])@[A-Za-z0-9_]{5,32}")


def user_text_entities(text: str) -> list[dict[str, Any]]:
    """The entities Telegram attaches to a user's plain message: commands and @mentions."""
    entities = []
    m = _COMMAND_RE.match(text)
    if m:
        entities.append({"type": "bot_command", "offset": 0, "length": utf16_len(m.group(0))})
    for m in _MENTION_RE.finditer(text):
        entities.append(
            {"type": "mention", "offset": utf16_len(text[: m.start()]), "length": utf16_len(m.group(0))}
        )
    return entities


# ---------------------------------------------------------------------------- validations

_BUTTON_KINDS = (
    "url", "callback_data", "web_app", "login_url", "switch_inline_query",
    "switch_inline_query_current_chat", "switch_inline_query_chosen_chat", "copy_text",
    "callback_game", "pay",
)
_CHAT_ACTIONS = {
    "typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
    "upload_document", "choose_sticker", "find_location", "record_video_note", "upload_video_note",
}
_SECRET_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_COMMAND_NAME_RE = re.compile(r"^[a-z0-9_]{1,32}$")


def validate_inline_markup(markup: Any) -> dict[str, Any] | None:
    """Check a reply_markup the way Telegram does; return the normalised inline keyboard or None."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" not in markup:
        # other keyboards (reply keyboards, remove, force reply) are allowed but not modelled here
        return None
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list):
        raise bad_request("field \"inline_keyboard\" of the InlineKeyboardMarkup must be an Array")
    if len(rows) > 100:
        raise bad_request("too many inline keyboard rows")
    for row in rows:
        if not isinstance(row, list):
            raise bad_request("can't parse inline keyboard row: field \"inline_keyboard\" must be an Array of Arrays")
        if len(row) > 8:
            raise bad_request("too many buttons in an inline keyboard row")
        for button in row:
            if not isinstance(button, dict):
                raise bad_request("can't parse inline keyboard button: InlineKeyboardButton must be an Object")
            text = button.get("text")
            if not isinstance(text, str) or not text.strip():
                raise bad_request("can't parse inline keyboard button: Field \"text\" must be of type String")
            kinds = [k for k in _BUTTON_KINDS if k in button]
            if len(kinds) != 1:
                raise bad_request(
                    "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
                    if not kinds else "can't parse inline keyboard button: exactly one optional field must be used"
                )
            if "callback_data" in button:
                data = button["callback_data"]
                if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= 64:
                    raise bad_request("BUTTON_DATA_INVALID")
            if "url" in button and not (isinstance(button["url"], str) and valid_http_url(button["url"])):
                raise bad_request(f"inline keyboard button URL '{button.get('url')}' is invalid: Wrong HTTP URL")
    return {"inline_keyboard": rows}


# ------------------------------------------------------------------------------- records


@dataclass
class Call:
    """One API call as the fake received it."""

    method: str
    params: dict[str, Any]
    at: float  # time.perf_counter() when it arrived
    status: int = 200
    result: Any = None
    error: str | None = None
    #: False while the fake is still answering it
    done: bool = False
    #: time.perf_counter() when the answer was ready (long polls finish long after they arrive)
    done_at: float = 0.0

    @property
    def ok(self) -> bool:
        return self.done and self.status == 200


@dataclass
class _Query:
    id: str
    user_id: int
    answered: bool = False


@dataclass
class _Webhook:
    url: str = ""
    secret_token: str | None = None
    allowed_updates: list[str] | None = None
    max_connections: int = 40
    last_error_message: str | None = None
    last_error_date: int | None = None
    delivered: int = 0


_UPDATE_KINDS = (
    "message", "edited_message", "channel_post", "edited_channel_post", "callback_query",
    "inline_query", "chosen_inline_result", "my_chat_member", "chat_member", "message_reaction",
)
_DEFAULT_ALLOWED = [k for k in _UPDATE_KINDS if k not in ("chat_member", "message_reaction")]


def _update_kind(update: dict[str, Any]) -> str:
    return next(k for k in update if k != "update_id")


# ----------------------------------------------------------------------------- the server


class FakeTelegram:
    """The fake Bot API server. All state lives in memory; nothing touches the network beyond 127.0.0.1."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_id: int | None = None,
        bot_username: str = "maeum_test_bot",
        bot_name: str = "마음",
    ) -> None:
        self.token = token
        self.bot = {
            "id": bot_id or int(token.split(":", 1)[0]),
            "is_bot": True,
            "first_name": bot_name,
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self.calls: list[Call] = []
        self.chats: dict[int, dict[str, Any]] = {}
        #: (chat_id, message_id) -> the Message object as the bot would see it
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}
        self.commands: list[dict[str, Any]] = []
        self.webhook = _Webhook()
        #: update_id -> perf_counter time the update was first handed to the bot
        self.delivered_at: dict[int, float] = {}
        self._pending: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1000)
        self._message_ids: dict[int, itertools.count] = {}
        self._query_ids = itertools.count(7_000_000_000_000_000_001)
        self._queries: dict[str, _Query] = {}
        self._failures: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        self._allowed_updates: list[str] = list(_DEFAULT_ALLOWED)
        self._changed = asyncio.Condition()
        self._poll_generation = 0
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._delivery_task: asyncio.Task | None = None
        self._client: ClientSession | None = None
        self.port = 0

    # -- lifecycle --------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    async def start(self, port: int = 0) -> "FakeTelegram":
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        """Stop serving; every pending long poll is answered at once so nobody hangs."""
        self._closing = True
        await self._notify()
        if self._delivery_task:
            self._delivery_task.cancel()
            try:
                await self._delivery_task
            except (asyncio.CancelledError, Exception):
                pass
        if self._client:
            await self._client.close()
        if self._runner:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> "FakeTelegram":
        return await self.start()

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def _notify_soon(self) -> None:
        asyncio.get_running_loop().create_task(self._notify())

    # -- assertions -------------------------------------------------------------------------
    def mark(self) -> int:
        """The current position in :attr:`calls`; pass it as ``since`` to wait only for later calls."""
        return len(self.calls)

    def calls_to(self, method: str, since: int = 0, *, ok_only: bool = True) -> list[Call]:
        return [c for c in self.calls[since:] if c.method == method and c.done and (c.ok or not ok_only)]

    async def wait_for(
        self,
        method: str,
        where: Callable[[Call], bool] | None = None,
        *,
        since: int = 0,
        count: int = 1,
        timeout: float = 10.0,
        ok_only: bool = True,
    ) -> Call:
        """Wait until ``count`` matching calls arrived (after ``since``); return the last one.

        Fails the test (AssertionError) after ``timeout`` seconds, listing what did arrive.
        """

        def matching() -> list[Call]:
            return [c for c in self.calls_to(method, since, ok_only=ok_only) if where is None or where(c)]

        try:
            async with self._changed:
                await asyncio.wait_for(self._changed.wait_for(lambda: len(matching()) >= count), timeout)
        except asyncio.TimeoutError:
            seen = [f"{c.method}({c.status})" for c in self.calls[since:]]
            raise AssertionError(
                f"fake Telegram: expected {count} × {method} within {timeout}s; got {seen}"
            ) from None
        return matching()[count - 1]

    async def wait_quiet(self, seconds: float = 0.3) -> None:
        """Wait until no call has arrived for ``seconds`` (bounded to 20 × seconds)."""
        deadline = time.perf_counter() + 20 * seconds
        while time.perf_counter() < deadline:
            last = self.calls[-1].at if self.calls else 0.0
            idle = time.perf_counter() - last
            if idle >= seconds:
                return
            await asyncio.sleep(seconds - idle)

    def fail_next(self, method: str, times: int = 1, retry_after: int = 1) -> None:
        """Answer the next ``times`` calls of ``method`` with 429 Too Many Requests."""
        body = {
            "ok": False,
            "error_code": 429,
            "description": f"Too Many Requests: retry after {retry_after}",
            "parameters": {"retry_after": retry_after},
        }
        self._failures.setdefault(method, []).extend([(429, body)] * times)

    def bot_messages(self, chat_id: int) -> list[dict[str, Any]]:
        return [m for (c, _), m in sorted(self.messages.items()) if c == chat_id and m["from"]["id"] == self.bot["id"]]

    def message(self, chat_id: int, message_id: int) -> dict[str, Any]:
        return self.messages[(chat_id, message_id)]

    # -- building updates -------------------------------------------------------------------
    def make_user(self, user_id: int, first_name: str = "민지", username: str | None = None) -> dict[str, Any]:
        user = {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": "ko"}
        if username:
            user["username"] = username
        return user

    def private_chat(self, user: dict[str, Any]) -> dict[str, Any]:
        chat = {"id": user["id"], "type": "private", "first_name": user["first_name"]}
        if "username" in user:
            chat["username"] = user["username"]
        self.chats[chat["id"]] = chat
        return chat

    def group_chat(self, chat_id: int = -1001234567890, title: str = "마음 테스트 방") -> dict[str, Any]:
        chat = {"id": chat_id, "type": "supergroup" if str(chat_id).startswith("-100") else "group", "title": title}
        self.chats[chat_id] = chat
        return chat

    def _new_message(self, chat: dict[str, Any], sender: dict[str, Any], **fields: Any) -> dict[str, Any]:
        counter = self._message_ids.setdefault(chat["id"], itertools.count(1))
        message = {"message_id": next(counter), "date": int(time.time()), "chat": chat, "from": sender, **fields}
        self.messages[(chat["id"], message["message_id"])] = message
        return message

    def inject(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue a raw update (an ``update_id`` is added) for getUpdates or the webhook."""
        update = {"update_id": next(self._update_ids), **update}
        self._pending.append(update)
        self._notify_soon()
        return update

    def send_text(
        self,
        user: dict[str, Any],
        text: str,
        *,
        chat: dict[str, Any] | None = None,
        reply_to: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A text message from ``user`` (in their private chat unless ``chat`` is given)."""
        chat = chat or self.private_chat(user)
        fields: dict[str, Any] = {"text": text}
        entities = user_text_entities(text)
        if entities:
            fields["entities"] = entities
        if reply_to is not None:
            fields["reply_to_message"] = reply_to
        return self.inject({"message": self._new_message(chat, user, **fields)})

    def send_sticker(self, user: dict[str, Any], *, chat: dict[str, Any] | None = None) -> dict[str, Any]:
        chat = chat or self.private_chat(user)
        sticker = {
            "file_id": "CAACAgIAAxkBAAIBY2Zakefake", "file_unique_id": "AgADfake", "type": "regular",
            "width": 512, "height": 512, "is_animated": False, "is_video": False, "emoji": "😊",
        }
        return self.inject({"message": self._new_message(chat, user, sticker=sticker)})

    def send_photo(self, user: dict[str, Any], *, caption: str | None = None, chat: dict[str, Any] | None = None) -> dict[str, Any]:
        chat = chat or self.private_chat(user)
        photo = [{"file_id": "AgACAgIAAxkBAAIfakephoto", "file_unique_id": "AQADfake", "width": 90, "height": 90}]
        fields: dict[str, Any] = {"photo": photo}
        if caption:
            fields["caption"] = caption
        return self.inject({"message": self._new_message(chat, user, **fields)})

    def send_voice(self, user: dict[str, Any], *, chat: dict[str, Any] | None = None) -> dict[str, Any]:
        chat = chat or self.private_chat(user)
        voice = {"file_id": "AwACAgIAAxkBAAIfakevoice", "file_unique_id": "AgADvoice", "duration": 3}
        return self.inject({"message": self._new_message(chat, user, voice=voice)})

    def send_document(self, user: dict[str, Any], *, chat: dict[str, Any] | None = None) -> dict[str, Any]:
        chat = chat or self.private_chat(user)
        document = {"file_id": "BQACAgIAAxkBAAIfakedoc", "file_unique_id": "AgADdoc", "file_name": "일기.txt"}
        return self.inject({"message": self._new_message(chat, user, document=document)})

    def edit_text(self, message: dict[str, Any], new_text: str) -> dict[str, Any]:
        """The user edits one of their earlier messages (an ``edited_message`` update)."""
        edited = {**message, "text": new_text, "edit_date": int(time.time())}
        self.messages[(message["chat"]["id"], message["message_id"])] = edited
        return self.inject({"edited_message": edited})

    def press(self, user: dict[str, Any], message: dict[str, Any], data: str) -> tuple[dict[str, Any], str]:
        """``user`` presses an inline button with ``data`` on ``message``; returns (update, query id)."""
        query_id = str(next(self._query_ids))
        self._queries[query_id] = _Query(query_id, user["id"])
        current = self.messages.get((message["chat"]["id"], message["message_id"]), message)
        update = self.inject(
            {
                "callback_query": {
                    "id": query_id,
                    "from": user,
                    "message": current,
                    "chat_instance": str(abs(hash(current["chat"]["id"]))),
                    "data": data,
                }
            }
        )
        return update, query_id

    def press_button(self, user: dict[str, Any], message: dict[str, Any], text_contains: str) -> tuple[dict[str, Any], str]:
        """Press the button whose label contains ``text_contains`` on a bot message."""
        current = self.messages[(message["chat"]["id"], message["message_id"])]
        for row in current.get("reply_markup", {}).get("inline_keyboard", []):
            for button in row:
                if text_contains in button["text"] and "callback_data" in button:
                    return self.press(user, current, button["callback_data"])
        raise AssertionError(f"no button containing {text_contains!r} on message {current['message_id']}")

    # -- HTTP -------------------------------------------------------------------------------
    async def _not_found(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)

    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.method == "POST" and request.can_read_body:
            ctype = request.content_type
            if ctype == "application/json":
                try:
                    body = await request.json()
                except ValueError:
                    raise bad_request("can't parse JSON") from None
                if not isinstance(body, dict):
                    raise bad_request("request body must be a JSON object")
                params.update(body)
            elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
                form = await request.post()
                params.update({k: v for k, v in form.items() if isinstance(v, str)})
        return params

    async def _handle(self, request: web.Request) -> web.Response:
        method_raw = request.match_info["method"]
        if request.match_info["token"] != self.token:
            if ":" not in request.match_info["token"]:
                return await self._not_found(request)
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        handler = _HANDLERS.get(method_raw.lower())
        if handler is None:
            return await self._not_found(request)
        method = handler.__name__.removeprefix("_api_")
        call = Call(method, {}, time.perf_counter())
        self.calls.append(call)
        try:
            call.params = await self._params(request)
            failures = self._failures.get(method)
            if failures:
                status, body = failures.pop(0)
                raise ApiError(status, body["description"], body.get("parameters"))
            result = await handler(self, call.params)
        except ApiError as exc:
            call.status, call.error, call.done, call.done_at = exc.code, exc.description, True, time.perf_counter()
            await self._notify()
            return web.json_response(exc.body(), status=exc.code)
        call.result, call.done, call.done_at = result, True, time.perf_counter()
        await self._notify()
        return web.json_response({"ok": True, "result": result})

    # -- field helpers ------------------------------------------------------------------------
    @staticmethod
    def _require(params: dict[str, Any], name: str) -> Any:
        value = params.get(name)
        if value is None or value == "":
            raise bad_request(f"{name} is empty" if name in ("text", "url") else f"parameter \"{name}\" is required")
        return value

    @staticmethod
    def _json(params: dict[str, Any], name: str) -> Any:
        value = params.get(name)
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise bad_request(f"can't parse {name} JSON object") from None
        return value

    @staticmethod
    def _bool(params: dict[str, Any], name: str) -> bool:
        value = params.get(name)
        if isinstance(value, str):
            return value.lower() in ("true", "1")
        return bool(value)

    @staticmethod
    def _int(params: dict[str, Any], name: str, default: int | None = None) -> int | None:
        value = params.get(name)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except (TypeError, ValueError):
            raise bad_request(f"invalid {name} specified") from None

    def _chat(self, params: dict[str, Any]) -> dict[str, Any]:
        raw = self._require(params, "chat_id")
        try:
            chat_id = int(raw)
        except (TypeError, ValueError):
            raise bad_request("chat not found") from None
        chat = self.chats.get(chat_id)
        if chat is None:
            raise bad_request("chat not found")
        return chat

    def _text_and_entities(self, params: dict[str, Any], field_name: str = "text") -> tuple[str, list[dict[str, Any]]]:
        raw = params.get(field_name)
        if not isinstance(raw, str) or not raw.strip():
            raise bad_request("message text is empty")
        mode = params.get("parse_mode")
        if mode in (None, ""):
            text, entities = raw.strip(), self._json(params, "entities") or []
        elif str(mode).lower() == "html":
            try:
                text, entities = parse_html(raw)
            except EntityParseError as exc:
                raise bad_request(f"can't parse entities: {exc}") from None
        elif mode in ("MarkdownV2", "Markdown"):
            text, entities = raw, []  # not modelled: Maeum only sends HTML
        else:
            raise bad_request("unsupported parse_mode")
        if not text:
            raise bad_request("message text is empty")
        if utf16_len(text) > 4096:
            raise bad_request("message is too long")
        return text, entities

    def _link_preview(self, params: dict[str, Any]) -> dict[str, Any] | None:
        options = self._json(params, "link_preview_options")
        if options is not None and not isinstance(options, dict):
            raise bad_request("can't parse link preview options JSON object")
        return options

    def _bot_message(self, params: dict[str, Any], action: str) -> dict[str, Any]:
        if params.get("inline_message_id"):
            raise bad_request("MESSAGE_ID_INVALID")
        chat = self._chat(params)
        message_id = self._int(params, "message_id")
        if message_id is None:
            raise bad_request("message identifier is not specified")
        message = self.messages.get((chat["id"], message_id))
        if message is None:
            raise bad_request(f"message to {action} not found")
        if message["from"]["id"] != self.bot["id"]:
            raise bad_request(f"message can't be {action}ed")
        return message

    # -- Bot API methods ------------------------------------------------------------------------
    async def _api_getMe(self, params: dict[str, Any]) -> Any:
        return self.bot

    async def _api_logOut(self, params: dict[str, Any]) -> Any:
        return True

    async def _api_close(self, params: dict[str, Any]) -> Any:
        return True

    async def _api_getUpdates(self, params: dict[str, Any]) -> Any:
        if self.webhook.url:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first")
        offset = self._int(params, "offset", 0) or 0
        limit = min(max(self._int(params, "limit", 100) or 100, 1), 100)
        timeout = max(self._int(params, "timeout", 0) or 0, 0)
        allowed = self._json(params, "allowed_updates")
        if allowed is not None:
            if not isinstance(allowed, list):
                raise bad_request("can't parse allowed_updates")
            self._allowed_updates = list(allowed) or list(_DEFAULT_ALLOWED)
        if offset > 0:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
        elif offset < 0:
            self._pending = self._pending[offset:]
        # a newer getUpdates ends an older one, as on the real server
        self._poll_generation += 1
        generation = self._poll_generation
        await self._notify()
        deadline = time.perf_counter() + timeout

        def ready() -> list[dict[str, Any]]:
            self._pending = [u for u in self._pending if _update_kind(u) in self._allowed_updates]
            return self._pending[:limit]

        async with self._changed:
            while True:
                batch = ready()
                if batch or self._closing:
                    break
                if generation != self._poll_generation:
                    raise ApiError(409, "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running")
                left = deadline - time.perf_counter()
                if left <= 0:
                    break
                try:
                    await asyncio.wait_for(self._changed.wait(), left)
                except asyncio.TimeoutError:
                    pass
        now = time.perf_counter()
        for update in batch:
            self.delivered_at.setdefault(update["update_id"], now)
        return batch

    async def _api_setWebhook(self, params: dict[str, Any]) -> Any:
        url = params.get("url", "")
        secret = params.get("secret_token")
        if url:
            parts = urlsplit(url)
            loopback = parts.hostname in ("127.0.0.1", "localhost")
            if parts.scheme != "https" and not (loopback and parts.scheme == "http"):
                raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
            if secret is not None and not _SECRET_TOKEN_RE.match(str(secret)):
                raise bad_request("bad webhook: Secret token contains unallowed characters")
        allowed = self._json(params, "allowed_updates")
        if self._bool(params, "drop_pending_updates"):
            self._pending.clear()
        self.webhook = _Webhook(
            url=url, secret_token=secret, allowed_updates=allowed,
            max_connections=self._int(params, "max_connections", 40) or 40,
        )
        if allowed:
            self._allowed_updates = list(allowed)
        if url and (self._delivery_task is None or self._delivery_task.done()):
            self._delivery_task = asyncio.get_running_loop().create_task(self._deliver_webhooks())
        await self._notify()
        return True

    async def _api_deleteWebhook(self, params: dict[str, Any]) -> Any:
        if self._bool(params, "drop_pending_updates"):
            self._pending.clear()
        self.webhook = _Webhook()
        return True

    async def _api_getWebhookInfo(self, params: dict[str, Any]) -> Any:
        info: dict[str, Any] = {
            "url": self.webhook.url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
            "max_connections": self.webhook.max_connections,
        }
        if self.webhook.allowed_updates:
            info["allowed_updates"] = self.webhook.allowed_updates
        if self.webhook.last_error_message:
            info["last_error_message"] = self.webhook.last_error_message
            info["last_error_date"] = self.webhook.last_error_date
        return info

    async def _api_setMyCommands(self, params: dict[str, Any]) -> Any:
        commands = self._json(params, "commands")
        if not isinstance(commands, list):
            raise bad_request("can't parse commands JSON object")
        if len(commands) > 100:
            raise bad_request("too many commands")
        for command in commands:
            if not isinstance(command, dict):
                raise bad_request("can't parse BotCommand JSON object")
            name = command.get("command", "")
            description = command.get("description", "")
            if not isinstance(name, str) or not _COMMAND_NAME_RE.match(name):
                raise bad_request("BOT_COMMAND_INVALID")
            if not isinstance(description, str) or not 1 <= len(description) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID" if description else "command description is empty")
        self.commands = commands
        return True

    async def _api_getMyCommands(self, params: dict[str, Any]) -> Any:
        return self.commands

    async def _api_deleteMyCommands(self, params: dict[str, Any]) -> Any:
        self.commands = []
        return True

    async def _api_sendChatAction(self, params: dict[str, Any]) -> Any:
        self._chat(params)
        if params.get("action") not in _CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        return True

    async def _api_sendMessage(self, params: dict[str, Any]) -> Any:
        chat = self._chat(params)
        text, entities = self._text_and_entities(params)
        markup = validate_inline_markup(self._json(params, "reply_markup"))
        options = self._link_preview(params)
        fields: dict[str, Any] = {"text": text}
        if entities:
            fields["entities"] = entities
        if markup:
            fields["reply_markup"] = markup
        if options is not None:
            fields["link_preview_options"] = options
        reply = self._json(params, "reply_parameters")
        if reply is not None:
            if not isinstance(reply, dict) or "message_id" not in reply:
                raise bad_request("can't parse reply parameters JSON object")
            target = self.messages.get((chat["id"], int(reply["message_id"])))
            if target is None and not reply.get("allow_sending_without_reply"):
                raise bad_request("message to be replied not found")
            if target is not None:
                fields["reply_to_message"] = target
        return self._new_message(chat, {k: self.bot[k] for k in ("id", "is_bot", "first_name", "username")}, **fields)

    async def _api_editMessageText(self, params: dict[str, Any]) -> Any:
        message = self._bot_message(params, "edit")
        text, entities = self._text_and_entities(params)
        markup = validate_inline_markup(self._json(params, "reply_markup"))
        self._link_preview(params)
        if (
            text == message.get("text")
            and entities == message.get("entities", [])
            and markup == message.get("reply_markup")
        ):
            raise bad_request(
                "message is not modified: specified new message content and reply markup are exactly "
                "the same as a current content and reply markup of the message"
            )
        edited = {k: v for k, v in message.items() if k not in ("entities", "reply_markup")}
        edited.update(text=text, edit_date=int(time.time()))
        if entities:
            edited["entities"] = entities
        if markup:  # no reply_markup in an edit removes the keyboard, as on Telegram
            edited["reply_markup"] = markup
        self.messages[(message["chat"]["id"], message["message_id"])] = edited
        return edited

    async def _api_editMessageReplyMarkup(self, params: dict[str, Any]) -> Any:
        message = self._bot_message(params, "edit")
        markup = validate_inline_markup(self._json(params, "reply_markup"))
        if markup == message.get("reply_markup"):
            raise bad_request(
                "message is not modified: specified new message content and reply markup are exactly "
                "the same as a current content and reply markup of the message"
            )
        edited = {k: v for k, v in message.items() if k != "reply_markup"}
        edited["edit_date"] = int(time.time())
        if markup:
            edited["reply_markup"] = markup
        self.messages[(message["chat"]["id"], message["message_id"])] = edited
        return edited

    async def _api_deleteMessage(self, params: dict[str, Any]) -> Any:
        chat = self._chat(params)
        message_id = self._int(params, "message_id")
        if self.messages.pop((chat["id"], message_id or 0), None) is None:
            raise bad_request("message to delete not found")
        return True

    async def _api_answerCallbackQuery(self, params: dict[str, Any]) -> Any:
        query_id = str(self._require(params, "callback_query_id"))
        query = self._queries.get(query_id)
        if query is None or query.answered:
            raise bad_request("query is too old and response timeout expired or query ID is invalid")
        text = params.get("text")
        if text is not None and len(str(text)) > 200:
            raise bad_request("MESSAGE_TOO_LONG")
        query.answered = True
        return True

    # -- webhook delivery -----------------------------------------------------------------------
    async def _deliver_webhooks(self) -> None:
        """Post queued updates to the webhook, like Telegram (in order, retrying a failed one a few times)."""
        self._client = self._client or ClientSession(timeout=ClientTimeout(total=10))
        attempts: dict[int, int] = {}
        while not self._closing and self.webhook.url:
            async with self._changed:
                while not self._closing and self.webhook.url and not self._pending:
                    await self._changed.wait()
            if self._closing or not self.webhook.url:
                return
            update = self._pending[0]
            headers = {"Content-Type": "application/json"}
            if self.webhook.secret_token:
                headers["X-Telegram-Bot-Api-Secret-Token"] = self.webhook.secret_token
            self.delivered_at.setdefault(update["update_id"], time.perf_counter())
            try:
                async with self._client.post(self.webhook.url, data=json.dumps(update), headers=headers) as resp:
                    ok = 200 <= resp.status < 300
                    error = None if ok else f"Wrong response from the webhook: {resp.status} {resp.reason}"
            except Exception as exc:  # connection refused etc.
                ok, error = False, f"Connection failed: {type(exc).__name__}"
            if ok:
                self.webhook.delivered += 1
                self._pending.pop(0)
                continue
            self.webhook.last_error_message, self.webhook.last_error_date = error, int(time.time())
            tries = attempts[update["update_id"]] = attempts.get(update["update_id"], 0) + 1
            if tries >= 3:
                self._pending.pop(0)
            else:
                await asyncio.sleep(0.1)


_HANDLERS: dict[str, Callable[..., Any]] = {
    name.removeprefix("_api_").lower(): getattr(FakeTelegram, name)
    for name in dir(FakeTelegram)
    if name.startswith("_api_")
}
