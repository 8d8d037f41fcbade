"""The Telegram channel end to end: the real PTB Application, the real engine (shipped model, real
SQLite file) and a fake Telegram Bot API server on 127.0.0.1 that validates every call."""
from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import aiohttp
import pytest

from bot import messages as msg
from bot.config import load_config
from bot.replies import Reply
from bot.safety import HELPLINES
from bot.telegram import wording
from bot.telegram.app import ALLOWED_UPDATES, TelegramRunner
from bot.telegram.callbacks import Action, BadCallback, CallbackCodec
from bot.telegram.render import render_reply
from nlp.labels import LABELS
from recommend.types import Song
from tests.fake_telegram import DEFAULT_TOKEN, EntityParseError, FakeTelegram, parse_html

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.timeout(60)


# ------------------------------------------------------------------------------- fixtures


def model_dir() -> Path:
    return load_config(None, env={k: v for k, v in os.environ.items() if k == "MAEUM_MODEL_PATH"}).model_path


def storage_env(tmp_path: Path) -> dict[str, str]:
    env = {"MAEUM_STORAGE_PATH": str(tmp_path / "maeum.sqlite3"), "MAEUM_RECOMMEND_KEYLESS": "false"}
    if os.environ.get("MAEUM_MODEL_PATH"):
        env["MAEUM_MODEL_PATH"] = os.environ["MAEUM_MODEL_PATH"]
    return env


@pytest.fixture(autouse=True)
def _loopback_unproxied(monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture
async def fake():
    server = await FakeTelegram().start()
    yield server
    await server.stop()


async def start_bot(fake: FakeTelegram, tmp_path: Path, **env: str) -> SimpleNamespace:
    if not (model_dir() / "maeum_model.json").is_file():
        pytest.skip(f"the shipped model is missing ({model_dir()}); train it with `python -m nlp.train_baseline`")
    from bot.app import build_engine

    config = load_config(
        None,
        env={
            **storage_env(tmp_path),
            "MAEUM_TELEGRAM_BASE_URL": fake.base_url,
            "MAEUM_TELEGRAM_BASE_FILE_URL": fake.base_file_url,
            **env,
        },
    )
    engine = await build_engine(config, rng=random.Random(7))
    runner = TelegramRunner(config, engine, fake.token)
    await runner.start_polling(poll_timeout=1)
    return SimpleNamespace(fake=fake, engine=engine, runner=runner, config=config, tmp_path=tmp_path)


@pytest.fixture
async def tg(fake, tmp_path):
    """A running bot that always answers with an emotion (never 'unsure')."""
    bot = await start_bot(fake, tmp_path, MAEUM_MODEL_UNSURE_THRESHOLD="0.0")
    yield bot
    await bot.runner.stop()
    await bot.engine.close()


def keyboard(message_or_call) -> list[list[dict]]:
    if hasattr(message_or_call, "params"):
        markup = message_or_call.params.get("reply_markup")
        return json.loads(markup)["inline_keyboard"] if markup else []
    return message_or_call.get("reply_markup", {}).get("inline_keyboard", [])


def button_texts(rows) -> list[list[str]]:
    return [[b["text"] for b in row] for row in rows]


def links(call) -> list[dict]:
    return [e for e in call.result.get("entities", []) if e["type"] == "text_link"]


def export_corrections(env_storage: dict[str, str]) -> list[dict]:
    """Read stored corrections through the real `maeum export corrections` CLI."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAEUM_")}
    env.update(env_storage, PYTHONPATH=str(ROOT), NO_PROXY="127.0.0.1,localhost")
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "export", "corrections", "--format", "jsonl"],
        capture_output=True, text=True, timeout=60, cwd=ROOT, env=env,
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


async def say(fake: FakeTelegram, user: dict, text: str, **kw) -> tuple[int, object]:
    mark = fake.mark()
    fake.send_text(user, text, **kw)
    call = await fake.wait_for("sendMessage", since=mark)
    return mark, call


# --------------------------------------------------------------- the fake server itself


async def test_fake_server_validates_like_telegram(fake):
    base = fake.base_url
    user = fake.make_user(5)
    fake.private_chat(user)
    async with aiohttp.ClientSession() as http:
        async def post(method: str, token: str = fake.token, **data):
            async with http.post(f"{base}{token}/{method}", data=data) as resp:
                return resp.status, await resp.json()

        assert await post("fooBar") == (404, {"ok": False, "error_code": 404, "description": "Not Found"})
        status, body = await post("getMe", token="123:wrong")
        assert status == 401 and body["description"] == "Unauthorized"
        status, body = await post("getMe")
        assert status == 200 and body["result"]["is_bot"] is True
        status, body = await post("sendMessage", chat_id="999", text="안녕")
        assert (status, body["description"]) == (400, "Bad Request: chat not found")
        status, body = await post("sendMessage", chat_id="5", text="   ")
        assert (status, body["description"]) == (400, "Bad Request: message text is empty")
        status, body = await post("sendMessage", chat_id="5", text="x" * 4097)
        assert (status, body["description"]) == (400, "Bad Request: message is too long")
        status, body = await post("sendMessage", chat_id="5", text="<b>굵게</i>", parse_mode="HTML")
        assert status == 400 and body["description"].startswith("Bad Request: can't parse entities:")
        long_data = {"inline_keyboard": [[{"text": "x", "callback_data": "y" * 65}]]}
        status, body = await post("sendMessage", chat_id="5", text="a", reply_markup=json.dumps(long_data))
        assert (status, body["description"]) == (400, "Bad Request: BUTTON_DATA_INVALID")
        two_kinds = {"inline_keyboard": [[{"text": "x", "callback_data": "y", "url": "https://a.b"}]]}
        status, _ = await post("sendMessage", chat_id="5", text="a", reply_markup=json.dumps(two_kinds))
        assert status == 400
        status, body = await post("answerCallbackQuery", callback_query_id="42")
        assert status == 400 and "query ID is invalid" in body["description"]
        status, body = await post("editMessageText", chat_id="5", message_id="77", text="a")
        assert (status, body["description"]) == (400, "Bad Request: message to edit not found")
        fake.fail_next("getMe", 1, retry_after=3)
        status, body = await post("getMe")
        assert status == 429 and body["parameters"] == {"retry_after": 3}
        assert body["description"] == "Too Many Requests: retry after 3"
    assert [c.status for c in fake.calls if c.method == "getMe"] == [200, 429]  # the 401 never reached a method


async def test_fake_answers_a_query_only_once_and_edits_only_its_own_messages(fake):
    user = fake.make_user(6)
    update = fake.send_text(user, "안녕")
    user_message = update["message"]
    _, query_id = fake.press(user, user_message, "data")
    async with aiohttp.ClientSession() as http:
        async def post(method: str, **data):
            async with http.post(f"{fake.base_url}{fake.token}/{method}", data=data) as resp:
                return resp.status, await resp.json()

        assert (await post("answerCallbackQuery", callback_query_id=query_id))[0] == 200
        status, _ = await post("answerCallbackQuery", callback_query_id=query_id)
        assert status == 400
        status, body = await post("editMessageText", chat_id="6", message_id=str(user_message["message_id"]), text="x")
        assert (status, body["description"]) == (400, "Bad Request: message can't be edited")


@pytest.mark.parametrize(
    "source, text, types",
    [
        ("<b>굵게</b> 그리고 <i>기울임</i>", "굵게 그리고 기울임", ["bold", "italic"]),
        ('<a href="https://www.youtube.com/results?search_query=a&amp;b">노래 &lt;1&gt;</a>', "노래 <1>", ["text_link"]),
        ("<blockquote expandable>인용</blockquote>", "인용", ["expandable_blockquote"]),
        ('<pre><code class="language-python">x = 1</code></pre>', "x = 1", ["pre"]),
        ('<span class="tg-spoiler">비밀</span>', "비밀", ["spoiler"]),
        ("😊 &#128522; &quot;따옴표&quot;", '😊 😊 "따옴표"', []),
    ],
)
def test_fake_html_parser_accepts_telegram_html(source, text, types):
    parsed, entities = parse_html(source)
    assert parsed == text
    assert [e["type"] for e in entities] == types


@pytest.mark.parametrize(
    "source",
    ["<foo>x</foo>", "<b>x", "<b>x</i>", "x</b>", "<b>x</b", "R&B", "&nbsp;", '<a href="javascript:1">x</a>',
     "<a>x</a>", '<span class="x">y</span>', "<code><b>x</b></code>"],
)
def test_fake_html_parser_rejects_what_telegram_rejects(source):
    with pytest.raises(EntityParseError):
        parse_html(source)


# ------------------------------------------------------------- rendering & callback data


SONGS = (
    Song("cat:0123456789ab", "사랑 <Love> & 평화", "A&B \"밴드\"", "https://www.youtube.com/results?search_query=a+b&x=1"),
    Song("yt:dQw4w9WgXcQ", "Title", "Artist", "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
         music_url="https://music.youtube.com/watch?v=dQw4w9WgXcQ", source="youtube"),
    Song("cat:fedcba987654", "세 번째", "가수", "https://www.youtube.com/results?search_query=c"),
)


def test_render_escapes_html_and_keeps_callback_data_small():
    codec = CallbackCodec.from_token(DEFAULT_TOKEN)
    reply = Reply("emotion", "😊 기쁨 (80%) — <좋아요> & 최고", message_id=9_999_999_999, label="joy",
                  confidence=0.8, songs=SONGS, mode="lift", choices=LABELS, notes=("메시지가 <길어서>",))
    rendered = render_reply(reply, codec, owner=1_234_567_890_123)
    text, entities = parse_html(rendered.html)  # the fake's parser is Telegram's rules
    assert "<좋아요> & 최고" in text and 'A&B "밴드"' in text and "사랑 <Love> & 평화" in text
    assert [e["url"] for e in entities if e["type"] == "text_link"][:2] == [SONGS[0].url, SONGS[1].url]
    rows = rendered.markup.inline_keyboard
    assert [b.text for b in rows[0]] == ["😊 기쁨", "😰 불안", "😢 슬픔", "😠 분노"]
    assert [b.text for b in rows[-1]] == ["🎵 다른 곡", "🔁 전환 모드"]
    assert [b.text for b in rows[1]] == ["👍 1", "👍 2", "👍 3"]
    for row in rows:
        for button in row:
            assert 1 <= len(button.callback_data.encode()) <= 64


def test_callback_data_round_trip_and_tamper_detection():
    codec = CallbackCodec.from_token(DEFAULT_TOKEN)
    data = codec.correct(42, 123, "sadness")
    press = codec.decode(data)
    assert (press.action, press.message_id, press.label) == (Action.CORRECT, 123, "sadness")
    assert codec.is_owner(press, 42) and not codec.is_owner(press, 43)
    like = codec.decode(codec.encode(Action.LIKE, 42, 5, "yt:dQw4w9WgXcQ"))
    assert like.argument == "yt:dQw4w9WgXcQ"
    tampered = data[:-1] + ("1" if data[-1] != "1" else "2")
    for bad in (tampered, data.replace(":123:", ":124:"), "2" + data[1:], "", "garbage", "1:a:b:c:d:e"):
        with pytest.raises(BadCallback):
            codec.decode(bad)
    with pytest.raises(BadCallback):
        CallbackCodec.from_token("other:token").decode(data)


# ------------------------------------------------------------------ the running bot


async def test_start_up_registers_korean_commands_and_polls(tg):
    fake = tg.fake
    call = await fake.wait_for("setMyCommands")
    commands = json.loads(call.params["commands"])
    assert [c["command"] for c in commands] == ["start", "help", "mode", "privacy", "forget"]
    assert all(any("\uac00" <= ch <= "\ud7a3" for ch in c["description"]) for c in commands)
    await fake.wait_for("getUpdates")
    get_updates = fake.calls_to("getUpdates")[0]
    assert json.loads(get_updates.params["allowed_updates"]) == ALLOWED_UPDATES
    assert fake.calls_to("getMe") and fake.calls_to("deleteWebhook")


async def test_text_gets_emotion_songs_and_keyboard(tg):
    fake, user = tg.fake, tg.fake.make_user(101)
    mark, call = await say(fake, user, "오늘 합격 소식 들었어 너무 행복해")
    typing = await fake.wait_for("sendChatAction", since=mark)
    assert typing.params["action"] == "typing" and typing.params["chat_id"] == "101"
    assert call.params["parse_mode"] == "HTML"
    assert json.loads(call.params["link_preview_options"]) == {"is_disabled": True}
    text = call.result["text"]
    assert re.search(r"😊 기쁨 \((\d{1,2}%|99%\+)\)", text), text
    assert 3 <= len(links(call)) <= 5
    assert all(e["url"].startswith("https://www.youtube.com/") for e in links(call))
    rows = button_texts(keyboard(call))
    assert rows[0] == ["😊 기쁨", "😰 불안", "😢 슬픔", "😠 분노"]
    assert rows[-1] == ["🎵 다른 곡", "🔁 공감 모드"]
    assert rows[1][0] == "👍 1" and rows[2][0] == "👎 1"
    stored = await tg.engine.db.user_summary(tg.engine.pseudonym(user_ref(101)))
    assert stored["messages"] == 1


def user_ref(uid: int):
    from bot.telegram.handlers import user_ref as ref

    return ref(uid)


async def test_correction_press_answers_edits_sends_new_songs_and_stores(tg):
    fake, user = tg.fake, tg.fake.make_user(102)
    _, first = await say(fake, user, "내일 발표인데 너무 떨리고 불안해")
    original = first.result
    first_songs = {e["url"] for e in links(first)}
    predicted = next(label for label in LABELS if wording.tag(label) in original["text"].split("\n")[0])
    target = next(label for label in LABELS if label != predicted)

    mark = fake.mark()
    _, query_id = fake.press_button(user, original, wording.tag(target))
    answer = await fake.wait_for("answerCallbackQuery", since=mark)
    assert answer.params["callback_query_id"] == query_id
    assert wording.tag(target) in answer.params["text"] and answer.params.get("show_alert") in (None, "false")
    edit = await fake.wait_for("editMessageText", since=mark)
    assert edit.params["message_id"] == str(original["message_id"])
    assert wording.tag(target) in edit.result["text"] and wording.tag(predicted) in edit.result["text"]
    assert button_texts(keyboard(edit))[0][LABELS.index(target)].startswith("✅")
    new = await fake.wait_for("sendMessage", since=mark)
    assert wording.tag(target) in new.result["text"] and links(new)
    assert not {e["url"] for e in links(new)} & first_songs
    assert fake.calls.index(answer) < fake.calls.index(new)  # the toast comes first

    rows = export_corrections(storage_env(tg.tmp_path))
    assert len(rows) == 1
    assert rows[0]["corrected"] == target and rows[0]["predicted"] == predicted
    assert rows[0]["text"] == "내일 발표인데 너무 떨리고 불안해" and rows[0]["user_id"] != "102"

    # the latest choice wins
    last = next(label for label in LABELS if label not in (predicted, target))
    mark = fake.mark()
    fake.press_button(user, fake.message(102, original["message_id"]), wording.tag(last))
    await fake.wait_for("sendMessage", since=mark)
    rows = export_corrections(storage_env(tg.tmp_path))
    assert [r["corrected"] for r in rows] == [last]


async def test_more_songs_sends_different_songs(tg):
    fake, user = tg.fake, tg.fake.make_user(103)
    _, first = await say(fake, user, "팀장님이 또 내 탓을 해서 진짜 열받아")
    mark = fake.mark()
    fake.press_button(user, first.result, "다른 곡")
    answer = await fake.wait_for("answerCallbackQuery", since=mark)
    assert answer.params["text"] == wording.TOAST_MORE
    more = await fake.wait_for("sendMessage", since=mark)
    assert links(more) and not {e["url"] for e in links(more)} & {e["url"] for e in links(first)}
    assert msg.MORE_SONGS in more.result["text"]


async def test_mode_toggle_button_and_command(tg):
    fake, user = tg.fake, tg.fake.make_user(104)
    _, first = await say(fake, user, "오늘 너무 행복해")
    mark = fake.mark()
    fake.press_button(user, first.result, "공감 모드")
    answer = await fake.wait_for("answerCallbackQuery", since=mark)
    assert "전환 모드" in answer.params["text"]
    edit = await fake.wait_for("editMessageReplyMarkup", since=mark)
    assert button_texts(keyboard(edit))[-1] == ["🎵 다른 곡", "🔁 전환 모드"]
    assert await tg.engine.get_mode(user_ref(104)) == "lift"

    _, reply = await say(fake, user, "/mode 공감")
    assert "공감 모드" in reply.result["text"]
    assert await tg.engine.get_mode(user_ref(104)) == "match"
    _, reply = await say(fake, user, "/mode 아무거나")
    assert reply.result["text"] == wording.MODE_USAGE


async def test_song_feedback_buttons(tg):
    fake, user = tg.fake, tg.fake.make_user(105)
    _, first = await say(fake, user, "너무 슬퍼서 눈물이 나")
    mark = fake.mark()
    fake.press_button(user, first.result, "👎 2")
    answer = await fake.wait_for("answerCallbackQuery", since=mark)
    assert answer.params["text"] == msg.FEEDBACK_DISLIKE
    await fake.wait_quiet(0.2)
    disliked = await tg.engine.db.disliked_keys(tg.engine.pseudonym(user_ref(105)))
    message_id = int(keyboard(first)[0][0]["callback_data"].split(":")[4])
    shown = await tg.engine.db.shown_for_message(message_id)
    assert disliked == {shown[1]}


async def test_commands_start_help_privacy(tg):
    fake, user = tg.fake, tg.fake.make_user(106)
    _, start = await say(fake, user, "/start")
    assert start.result["text"] == wording.START
    _, help_ = await say(fake, user, "/help")
    assert help_.result["text"] == wording.HELP
    await say(fake, user, "오늘 기분 좋아")
    _, privacy = await say(fake, user, "/privacy")
    assert "메시지 1개" in privacy.result["text"]
    _, unknown = await say(fake, user, "/dance")
    assert unknown.result["text"] == wording.UNKNOWN_COMMAND


async def test_stickers_photos_voice_files_get_a_kind_request_and_edits_are_ignored(tg):
    fake, user = tg.fake, tg.fake.make_user(107)
    for send in (fake.send_sticker, fake.send_photo, fake.send_voice, fake.send_document):
        mark = fake.mark()
        send(user)
        call = await fake.wait_for("sendMessage", since=mark)
        assert call.result["text"] == wording.NON_TEXT and "reply_markup" not in call.params
    mark, _ = await say(fake, user, "오늘 좋은 일이 있었어")
    await fake.wait_quiet(0.2)
    user_message = next(m for (c, _), m in fake.messages.items() if c == 107 and m.get("text") == "오늘 좋은 일이 있었어")
    mark = fake.mark()
    fake.edit_text(user_message, "사실 슬펐어")
    await fake.wait_for("getUpdates", since=mark)  # the edit was fetched (and handled at once)
    await fake.wait_quiet(0.2)
    assert fake.calls_to("sendMessage", since=mark) == []
    summary = await tg.engine.db.user_summary(tg.engine.pseudonym(user_ref(107)))
    assert summary["messages"] == 1


async def test_invalid_text_gets_the_explanation_only(tg):
    fake, user = tg.fake, tg.fake.make_user(108)
    _, call = await say(fake, user, "hello there")
    assert call.result["text"] == "아직은 한국어만 이해할 수 있어요. 지금 기분을 한국어로 적어 주시면 어울리는 노래를 찾아 드릴게요."
    assert "reply_markup" not in call.params


async def test_crisis_puts_helplines_before_songs(tg):
    fake, user = tg.fake, tg.fake.make_user(109)
    _, call = await say(fake, user, "요즘 너무 힘들어서 죽고 싶다")
    text = call.result["text"]
    assert "109" in text and "1577-0199" in text
    first_link = links(call)[0]
    helpline_at = max(text.index(h) for h in HELPLINES)
    assert helpline_at < first_link["offset"]
    assert "reply_markup" not in call.params


async def test_unsure_asks_to_pick_with_the_correction_buttons(fake, tmp_path):
    bot = await start_bot(fake, tmp_path, MAEUM_MODEL_UNSURE_THRESHOLD="0.99")
    try:
        user = fake.make_user(110)
        _, call = await say(fake, user, "그냥 그래")
        assert "잘 모르겠어요" in call.result["text"] and not links(call)
        assert button_texts(keyboard(call)) == [["😊 기쁨", "😰 불안", "😢 슬픔", "😠 분노"]]
        mark = fake.mark()
        fake.press_button(user, call.result, "불안")
        edit = await fake.wait_for("editMessageText", since=mark)
        assert "😰 불안을 골라 주셨어요" in edit.result["text"]
        songs = await fake.wait_for("sendMessage", since=mark)
        assert links(songs)
    finally:
        await bot.runner.stop()
        await bot.engine.close()


async def test_forged_and_garbled_presses_are_refused_and_change_nothing(tg):
    fake, user = tg.fake, tg.fake.make_user(111)
    _, first = await say(fake, user, "오늘 너무 행복해")
    good = keyboard(first)[0][2]["callback_data"]
    parts = good.split(":")
    forged_owner = CallbackCodec(b"attacker").correct(111, 1, "sadness")  # signed with the wrong key
    other_message = ":".join(parts[:4] + ["2"] + parts[5:])  # message id swapped, signature kept
    for data in ("garbage", forged_owner, other_message, good[:-2] + "zz", "9:" + good[2:]):
        mark = fake.mark()
        fake.press(user, first.result, data)
        answer = await fake.wait_for("answerCallbackQuery", since=mark)
        assert answer.params["show_alert"] == "true" and answer.params["text"] == wording.ALERT_GARBLED
    await fake.wait_quiet(0.2)
    assert not fake.calls_to("editMessageText") and len(fake.calls_to("sendMessage")) == 1
    assert await tg.engine.db.export_corrections() == []


async def test_groups_answer_only_when_addressed_and_refuse_foreign_presses(tg):
    fake = tg.fake
    alice, bob = fake.make_user(201, "지수"), fake.make_user(202, "도윤")
    group = fake.group_chat()
    mark = fake.mark()
    fake.send_text(alice, "다들 오늘 뭐 해?", chat=group)
    await fake.wait_for("getUpdates", since=mark)
    await fake.wait_quiet(0.2)
    assert fake.calls_to("sendMessage", since=mark) == []

    mark, reply = await say(fake, alice, "@maeum_test_bot 오늘 합격했어 너무 행복해", chat=group)
    assert reply.params["chat_id"] == str(group["id"])
    assert json.loads(reply.params["reply_parameters"])["message_id"] == reply.result["reply_to_message"]["message_id"]
    _, by_reply = await say(fake, bob, "나는 좀 불안해", chat=group, reply_to=reply.result)
    assert links(by_reply)

    mark = fake.mark()
    fake.press_button(bob, reply.result, "슬픔")  # Bob presses Alice's button
    answer = await fake.wait_for("answerCallbackQuery", since=mark)
    assert answer.params["show_alert"] == "true" and answer.params["text"] == msg.FOREIGN
    await fake.wait_quiet(0.2)
    assert not fake.calls_to("editMessageText", since=mark)
    assert await tg.engine.db.export_corrections() == []

    _, group_cmd = await say(fake, bob, "/help@maeum_test_bot", chat=group)
    assert group_cmd.result["text"] == wording.HELP


async def test_anonymous_admin_messages_are_not_stored_under_a_shared_id(tg):
    fake = tg.fake
    group = fake.group_chat()
    anonymous = {"id": 1087968824, "is_bot": True, "first_name": "Group", "username": "GroupAnonymousBot"}
    mark = fake.mark()
    text = "@maeum_test_bot 오늘 너무 우울해"
    fields = {"text": text, "sender_chat": group, "entities": [{"type": "mention", "offset": 0, "length": 15}]}
    fake.inject({"message": fake._new_message(group, anonymous, **fields)})
    reply = await fake.wait_for("sendMessage", since=mark)
    assert reply.params["text"] == wording.ANONYMOUS
    assert (await tg.engine.privacy(user_ref(1087968824))).text.count("메시지 0개") == 1


async def test_forget_after_confirmation_then_old_buttons_are_stale(tg):
    fake, user = tg.fake, tg.fake.make_user(112)
    _, first = await say(fake, user, "내일 시험이라 걱정돼")
    _, confirm = await say(fake, user, "/forget")
    assert confirm.result["text"] == wording.FORGET_CONFIRM
    assert button_texts(keyboard(confirm)) == [[wording.FORGET_YES, wording.FORGET_NO]]
    assert (await tg.engine.privacy(user_ref(112))).text.count("메시지 1개") == 1

    mark = fake.mark()
    fake.press_button(user, confirm.result, "지워")
    answer = await fake.wait_for("answerCallbackQuery", since=mark)
    assert answer.params["text"] == wording.TOAST_FORGETTING
    edit = await fake.wait_for("editMessageText", since=mark)
    assert "모두 지웠어요" in edit.result["text"] and "reply_markup" not in edit.result
    summary = await tg.engine.db.user_summary(tg.engine.pseudonym(user_ref(112)))
    assert summary["messages"] == 0 and not summary["exists"]

    mark = fake.mark()
    fake.press_button(user, first.result, "슬픔")
    answer = await fake.wait_for("answerCallbackQuery", since=mark)
    assert answer.params["show_alert"] == "true" and answer.params["text"] == msg.STALE
    await fake.wait_quiet(0.2)
    assert not fake.calls_to("editMessageText", since=mark) and not fake.calls_to("sendMessage", since=mark)
    assert await tg.engine.db.export_corrections() == []


async def test_forget_can_be_cancelled(tg):
    fake, user = tg.fake, tg.fake.make_user(113)
    await say(fake, user, "오늘 좋았어")
    _, confirm = await say(fake, user, "/forget")
    mark = fake.mark()
    fake.press_button(user, confirm.result, wording.FORGET_NO)
    edit = await fake.wait_for("editMessageText", since=mark)
    assert edit.result["text"] == wording.FORGET_CANCELLED
    summary = await tg.engine.db.user_summary(tg.engine.pseudonym(user_ref(113)))
    assert summary["messages"] == 1


async def test_429_with_retry_after_is_retried_not_lost(tg):
    fake, user = tg.fake, tg.fake.make_user(114)
    await fake.wait_for("getUpdates")
    fake.fail_next("sendMessage", 1, retry_after=1)
    started = time.perf_counter()
    mark = fake.mark()
    fake.send_text(user, "오늘 너무 행복해")
    call = await fake.wait_for("sendMessage", since=mark)
    sends = [c.status for c in fake.calls[mark:] if c.method == "sendMessage"]
    assert sends == [429, 200]
    assert time.perf_counter() - started >= 1.0
    assert links(call)


async def test_a_slow_reply_does_not_block_others_and_shutdown_finishes_it(tg):
    fake, engine = tg.fake, tg.engine
    real = engine.handle_text
    release = asyncio.Event()

    async def slow_for_one(user, text):
        if user.user_id == "301":
            await release.wait()
        return await real(user, text)

    engine.handle_text = slow_for_one
    slow, quick = fake.make_user(301), fake.make_user(302)
    mark = fake.mark()
    fake.send_text(slow, "오늘 너무 행복해")
    await fake.wait_for("sendChatAction", lambda c: c.params["chat_id"] == "301", since=mark)
    fake.send_text(quick, "오늘 너무 슬퍼")
    await fake.wait_for("sendMessage", lambda c: c.params["chat_id"] == "302", since=mark)
    assert not [c for c in fake.calls_to("sendMessage", mark) if c.params["chat_id"] == "301"]

    # shutting down now must still deliver the reply that is in flight
    stopping = asyncio.create_task(tg.runner.stop())
    await asyncio.sleep(0.2)
    assert not stopping.done()
    release.set()
    await asyncio.wait_for(stopping, 10)
    assert [c for c in fake.calls_to("sendMessage", mark) if c.params["chat_id"] == "301"]


async def test_nothing_hangs_when_telegram_goes_away(fake, tmp_path):
    bot = await start_bot(fake, tmp_path, MAEUM_MODEL_UNSURE_THRESHOLD="0.0")
    try:
        await fake.wait_for("getUpdates")  # a long poll is open
        started = time.perf_counter()
        await asyncio.wait_for(fake.stop(), 5)
        assert time.perf_counter() - started < 3
    finally:
        started = time.perf_counter()
        await asyncio.wait_for(bot.runner.stop(), 15)
        await bot.engine.close()
    assert time.perf_counter() - started < 15


async def test_logs_never_contain_the_token_or_message_text(tg, caplog):
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore"):
        assert logging.getLogger(name).getEffectiveLevel() >= logging.WARNING
    fake, user = tg.fake, tg.fake.make_user(115)
    secret_text = "아무도 모르는 비밀 이야기라서 너무 불안해"
    _, first = await say(fake, user, secret_text)
    mark = fake.mark()
    fake.press(user, first.result, "garbage")
    await fake.wait_for("answerCallbackQuery", since=mark)
    everything = "\n".join(f"{r.name} {r.getMessage()}" for r in caplog.records)
    assert fake.token not in everything and fake.token.split(":")[1] not in everything
    info_and_up = "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.INFO)
    assert secret_text not in info_and_up


async def test_a_wrong_token_is_a_clear_config_error(fake, tmp_path):
    from bot.config import ConfigError
    from bot.telegram.app import serve_polling

    if not (model_dir() / "maeum_model.json").is_file():
        pytest.skip(f"the shipped model is missing ({model_dir()})")
    config = load_config(None, env={**storage_env(tmp_path), "MAEUM_TELEGRAM_BASE_URL": fake.base_url})
    bad_token = "123456789:AAThisTokenIsNotKnownToTheServer_xyz"
    with pytest.raises(ConfigError) as raised:
        await asyncio.wait_for(serve_polling(config, token=bad_token, stop=asyncio.Event()), 30)
    assert "TELEGRAM_BOT_TOKEN" in str(raised.value) and bad_token not in str(raised.value)
    assert fake.calls == []  # refused before any method ran


async def test_maeum_telegram_cli_polls_replies_and_stops_on_sigterm(fake, tmp_path):
    """The real entry point (`python -m bot.cli telegram` → run_polling) as a subprocess."""
    if not (model_dir() / "maeum_model.json").is_file():
        pytest.skip(f"the shipped model is missing ({model_dir()})")
    import signal

    env = {k: v for k, v in os.environ.items() if not k.startswith("MAEUM_")}
    env.update(
        storage_env(tmp_path), TELEGRAM_BOT_TOKEN=fake.token, PYTHONPATH=str(ROOT),
        MAEUM_TELEGRAM_BASE_URL=fake.base_url, MAEUM_TELEGRAM_BASE_FILE_URL=fake.base_file_url,
        MAEUM_MODEL_UNSURE_THRESHOLD="0.0", NO_PROXY="127.0.0.1,localhost",
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "telegram", cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        await fake.wait_for("getUpdates", timeout=45)
        _, reply = await say(fake, fake.make_user(120), "오늘 합격 소식 들었어 너무 행복해")
        assert links(reply)
        proc.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(proc.communicate(), 20)
        assert proc.returncode == 0, stderr.decode()
        assert fake.token.split(":")[1] not in stderr.decode()
        assert "합격" not in stderr.decode()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
