"""KakaoTalk channel: an Open Builder skill endpoint (POST JSON in, skill response 2.0 out).

Kakao sends ``userRequest.utterance`` and ``userRequest.user.id`` (a per-bot user key); we answer with
a ``simpleText`` (the emotion), a ``listCard`` of songs with web links, and quick replies that send
"감정 고치기: 슬픔", "🎵 다른 곡", "공감 모드"/"전환 모드" back as the person's next message.
"""
from __future__ import annotations

import asyncio
import hmac
import json
import logging
from typing import Any

from aiohttp import web

from bot.commands import FORGET_NO, FORGET_YES, MODE_TEXT, MORE_TEXT, fix_text, parse_command
from bot.engine import Engine
from bot.messages import emotion_tag
from bot.replies import Reply, UserRef
from bot.render_text import scores_line

log = logging.getLogger(__name__)

# Kakao's limits for skill responses
TEXT_LIMIT = 1000
QUICK_REPLY_LABEL_LIMIT = 14
LIST_ITEMS_LIMIT = 5
SECRET_HEADER = "X-Maeum-Kakao-Secret"
ANSWER_WITHIN_S = 4.5
SLOW = "생각이 조금 길어졌어요. 잠시 후 다시 보내 주세요."
SORRY = "앗, 답을 만들다가 문제가 생겼어요. 잠시 후 다시 보내 주세요."
FORGET_CONFIRM = "저장된 내 기록(메시지, 감정 수정, 추천한 노래, 노래 평가)을 모두 지울까요? 되돌릴 수 없어요."

HELP = (
    "지금 기분이나 있었던 일을 한두 문장으로 보내 주세요. 감정을 읽고 어울리는 노래를 골라 드려요.\n"
    "감정이 틀렸다면 아래 버튼으로 고쳐 주세요. '내 기록'으로 저장된 기록을, '기록 삭제'로 모두 지울 수 있어요."
)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _json(body: dict[str, Any], status: int = 200) -> web.Response:
    return web.json_response(body, status=status, dumps=lambda data: json.dumps(data, ensure_ascii=False))


def skill_response(reply: Reply) -> dict[str, Any]:
    text = reply.text
    if reply.notes:
        text += "\n" + "\n".join(f"※ {n}" for n in reply.notes)
    if reply.scores and reply.kind == "emotion" and not reply.corrected:
        text += f"\n[{scores_line(reply.scores)}]"
    outputs: list[dict[str, Any]] = [{"simpleText": {"text": _cut(text, TEXT_LIMIT)}}]
    if reply.songs:
        items = [
            {"title": _cut(song.title, 50), "description": _cut(song.artist, 50), "link": {"web": song.url}}
            for song in reply.songs[:LIST_ITEMS_LIMIT]
        ]
        header = emotion_tag(reply.label) + " 추천 노래" if reply.label else "추천 노래"
        outputs.append({"listCard": {"header": {"title": header}, "items": items}})
    quick: list[dict[str, str]] = []
    if reply.choices:
        for label in reply.choices:
            quick.append({"label": _cut(f"{emotion_tag(label)}", QUICK_REPLY_LABEL_LIMIT), "action": "message",
                          "messageText": fix_text(label)})
        if reply.kind != "unsure":
            quick.append({"label": MORE_TEXT, "action": "message", "messageText": MORE_TEXT})
            other = "lift" if reply.mode == "match" else "match"
            quick.append({"label": MODE_TEXT[other], "action": "message", "messageText": MODE_TEXT[other]})
    template: dict[str, Any] = {"outputs": outputs}
    if quick:
        template["quickReplies"] = quick
    return {"version": "2.0", "template": template}


def text_response(text: str) -> dict[str, Any]:
    return {"version": "2.0", "template": {"outputs": [{"simpleText": {"text": _cut(text, TEXT_LIMIT)}}]}}


class KakaoSkill:
    def __init__(self, engine: Engine, secret: str | None = None) -> None:
        self.engine = engine
        self.secret = secret

    async def handle(self, request: web.Request) -> web.Response:
        if self.secret is not None:
            given = request.headers.get(SECRET_HEADER, "")
            if not hmac.compare_digest(given.encode(), self.secret.encode()):
                return _json(text_response("권한이 없는 요청이에요."), status=403)
        try:
            body = json.loads(await request.text())
            user_request = body["userRequest"]
            utterance = user_request.get("utterance", "")
            user_id = user_request["user"]["id"]
            if not isinstance(utterance, str) or not isinstance(user_id, str) or not user_id:
                raise TypeError("bad field types")
        except (ValueError, KeyError, TypeError, AttributeError):
            log.info("kakao: rejected a malformed skill request")
            return _json(text_response("요청을 이해하지 못했어요. 잠시 후 다시 보내 주세요."), status=400)
        user = UserRef("kakao", user_id)
        try:  # Kakao waits 5 s for a skill: answer in time, and always with a skill response
            reply = await asyncio.wait_for(self.respond(user, utterance), ANSWER_WITHIN_S)
        except asyncio.TimeoutError:
            log.warning("kakao: reply took longer than %.1f s", ANSWER_WITHIN_S)
            reply = text_response(SLOW)
        except Exception as exc:
            log.error("kakao: could not answer (%s)", type(exc).__name__)
            reply = text_response(SORRY)
        return _json(reply)

    async def respond(self, user: UserRef, utterance: str) -> dict[str, Any]:
        command = parse_command(utterance)
        if command is None:
            return skill_response(await self.engine.handle_text(user, utterance))
        if command.name in ("start", "help"):
            return text_response(HELP)
        if command.name == "privacy":
            return skill_response(await self.engine.privacy(user))
        if command.name == "forget":
            return {"version": "2.0", "template": {
                "outputs": [{"simpleText": {"text": FORGET_CONFIRM}}],
                "quickReplies": [{"label": label, "action": "message", "messageText": label}
                                 for label in (FORGET_YES, FORGET_NO)]}}
        if command.name == "forget_confirmed":
            return skill_response(await self.engine.forget(user))
        if command.name == "cancel":
            return text_response("취소했어요. 기록은 그대로 있어요.")
        if command.name == "mode":
            return skill_response(
                await (self.engine.set_mode(user, command.arg) if command.arg else self.engine.toggle_mode(user))
            )
        if command.name in ("fix", "more"):
            last = await self.engine.last_message_id(user)
            if last is None:
                return text_response("먼저 지금 기분을 들려주세요. 그다음에 노래를 골라 드릴게요.")
            if command.name == "more":
                return skill_response(await self.engine.more_songs(user, last))
            return skill_response(await self.engine.correct(user, last, command.arg))
        return text_response(f"모르는 명령이에요. {HELP}")


def kakao_routes(engine: Engine, path: str, secret: str | None = None) -> list[web.RouteDef]:
    if secret is None:
        log.warning("kakao: MAEUM_KAKAO_SECRET is not set, so %s answers any caller", path)
    skill = KakaoSkill(engine, secret)
    return [web.post(path, skill.handle)]


__all__ = ["KakaoSkill", "kakao_routes", "skill_response"]
