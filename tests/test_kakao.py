"""KakaoTalk skill endpoint: real HTTP POSTs to a real aiohttp server on 127.0.0.1."""
import json

import aiohttp
import pytest
from aiohttp import web

from bot.replies import UserRef
from bot.kakao import QUICK_REPLY_LABEL_LIMIT, SECRET_HEADER, TEXT_LIMIT, kakao_routes


def skill_request(utterance, user_id="kakao-user-1"):
    return {
        "intent": {"id": "intent-1", "name": "폴백 블록"},
        "userRequest": {
            "timezone": "Asia/Seoul",
            "params": {"ignoreMe": "true"},
            "block": {"id": "block-1", "name": "폴백 블록"},
            "utterance": utterance,
            "lang": "ko",
            "user": {"id": user_id, "type": "botUserKey", "properties": {"botUserKey": user_id}},
        },
        "bot": {"id": "bot-1", "name": "마음"},
        "action": {"name": "maeum", "clientExtra": None, "params": {}, "id": "action-1", "detailParams": {}},
    }


@pytest.fixture
async def skill_server(make_engine):
    servers = []

    async def start(secret=None):
        engine = await make_engine()
        app = web.Application()
        app.add_routes(kakao_routes(engine, "/kakao/skill", secret))
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        servers.append(runner)
        return f"http://127.0.0.1:{port}/kakao/skill", engine

    yield start
    for runner in servers:
        await runner.cleanup()


def assert_valid_skill_response(body):
    assert body["version"] == "2.0"
    outputs = body["template"]["outputs"]
    assert 1 <= len(outputs) <= 3
    for output in outputs:
        (kind,) = output
        if kind == "simpleText":
            assert 0 < len(output[kind]["text"]) <= TEXT_LIMIT
        elif kind == "listCard":
            card = output[kind]
            assert card["header"]["title"]
            assert 1 <= len(card["items"]) <= 5
            for item in card["items"]:
                assert item["title"] and item["link"]["web"].startswith("https://")
        else:
            raise AssertionError(f"unexpected output {kind}")
    quick = body["template"].get("quickReplies", [])
    assert len(quick) <= 10
    for q in quick:
        assert q["action"] == "message" and q["messageText"]
        assert 0 < len(q["label"]) <= QUICK_REPLY_LABEL_LIMIT


async def post(session, url, payload, headers=None):
    data = payload if isinstance(payload, (str, bytes)) else json.dumps(payload, ensure_ascii=False)
    async with session.post(url, data=data, headers={"Content-Type": "application/json", **(headers or {})}) as resp:
        return resp.status, await resp.json()


async def test_message_then_correction_then_more_songs(skill_server):
    url, engine = await skill_server()
    async with aiohttp.ClientSession() as session:
        status, body = await post(session, url, skill_request("내일 면접인데 잠이 안 와"))
        assert status == 200
        assert_valid_skill_response(body)
        songs = body["template"]["outputs"][1]["listCard"]["items"]
        fix = next(q for q in body["template"]["quickReplies"] if "분노" in q["label"])
        status, fixed = await post(session, url, skill_request(fix["messageText"]))
        assert status == 200
        assert_valid_skill_response(fixed)
        assert "😠 분노로 기억할게요" in fixed["template"]["outputs"][0]["simpleText"]["text"]
        more_btn = next(q for q in fixed["template"]["quickReplies"] if q["label"] == "🎵 다른 곡")
        status, more = await post(session, url, skill_request(more_btn["messageText"]))
        assert status == 200
        # links, not titles: two catalogue songs may share a title (혁오 and (여자)아이들 both have "TOMBOY")
        more_links = {i["link"]["web"] for i in more["template"]["outputs"][1]["listCard"]["items"]}
        assert more_links and not more_links & {i["link"]["web"] for i in songs}
    rows = await engine.db.export_corrections()
    assert [(r["text"], r["corrected"]) for r in rows] == [("내일 면접인데 잠이 안 와", "anger")]
    assert rows[0]["user_id"] != "kakao-user-1"


@pytest.mark.parametrize(
    "payload",
    ["{not json", "[]", json.dumps({"userRequest": {}}), json.dumps({"userRequest": {"utterance": 3, "user": {"id": "x"}}})],
)
async def test_broken_requests_get_a_kind_400(skill_server, payload):
    url, engine = await skill_server()
    async with aiohttp.ClientSession() as session:
        status, body = await post(session, url, payload)
    assert status == 400
    assert "이해하지 못했어요" in body["template"]["outputs"][0]["simpleText"]["text"]


async def test_bad_text_and_commands_without_history(skill_server):
    url, engine = await skill_server()
    async with aiohttp.ClientSession() as session:
        for utterance, fragment in [("", "비어 있어요"), ("🎵🎵", "이모지나 기호"), ("hello", "한국어"),
                                    ("🎵 다른 곡", "먼저 지금 기분을"), ("감정 고치기: 슬픔", "먼저 지금 기분을"),
                                    ("내 기록", "메시지 0개"), ("오늘 " * 3000, "앞부분")]:
            status, body = await post(session, url, skill_request(utterance, "fresh-user"))
            assert status == 200
            assert_valid_skill_response(body)
            assert fragment in body["template"]["outputs"][0]["simpleText"]["text"], utterance


async def test_secret_header_is_enforced_when_configured(skill_server):
    url, engine = await skill_server(secret="kakao-s3cret")
    async with aiohttp.ClientSession() as session:
        status, _ = await post(session, url, skill_request("좋은 하루였어"))
        assert status == 403
        status, _ = await post(session, url, skill_request("좋은 하루였어"), {SECRET_HEADER: "wrong"})
        assert status == 403
        status, body = await post(session, url, skill_request("좋은 하루였어"), {SECRET_HEADER: "kakao-s3cret"})
        assert status == 200 and body["template"]["outputs"]
    assert (await engine.db.user_summary(engine.pseudonym(UserRef("kakao", "kakao-user-1"))))["messages"] == 1


async def test_forget_asks_first_then_deletes_everything(skill_server):
    url, engine = await skill_server()
    async with aiohttp.ClientSession() as session:
        await post(session, url, skill_request("시험 끝나서 너무 후련하고 신나"))
        status, ask = await post(session, url, skill_request("기록 삭제"))
        assert status == 200 and "지울까요" in ask["template"]["outputs"][0]["simpleText"]["text"]
        assert [q["label"] for q in ask["template"]["quickReplies"]] == ["네, 모두 지워 주세요", "취소"]
        status, kept = await post(session, url, skill_request("취소"))
        assert "그대로" in kept["template"]["outputs"][0]["simpleText"]["text"]
        assert (await engine.db.user_summary(engine.pseudonym(UserRef("kakao", "kakao-user-1"))))["messages"] == 1
        status, body = await post(session, url, skill_request("네, 모두 지워 주세요"))
        assert "지웠어요" in body["template"]["outputs"][0]["simpleText"]["text"]
        status, body = await post(session, url, skill_request("감정 고치기: 기쁨"))
        assert "먼저 지금 기분을" in body["template"]["outputs"][0]["simpleText"]["text"]


async def test_crisis_reply_has_helplines_and_no_correction_buttons(skill_server):
    url, engine = await skill_server()
    async with aiohttp.ClientSession() as session:
        status, body = await post(session, url, skill_request("요즘 너무 힘들어서 죽고 싶다"))
    assert status == 200
    assert_valid_skill_response(body)
    text = body["template"]["outputs"][0]["simpleText"]["text"]
    assert "109" in text and "1577-0199" in text
    assert "quickReplies" not in body["template"]


async def test_an_engine_failure_is_still_a_kind_skill_response(skill_server, monkeypatch):
    url, engine = await skill_server()

    async def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(engine, "handle_text", broken)
    async with aiohttp.ClientSession() as session:
        status, body = await post(session, url, skill_request("오늘 좋은 일 있었어"))
    assert status == 200
    assert "잠시 후 다시" in body["template"]["outputs"][0]["simpleText"]["text"]


async def test_korean_mode_words_work(skill_server):
    url, engine = await skill_server()
    async with aiohttp.ClientSession() as session:
        status, body = await post(session, url, skill_request("/mode 전환"))
    assert "전환 모드" in body["template"]["outputs"][0]["simpleText"]["text"]
    assert await engine.get_mode(UserRef("kakao", "kakao-user-1")) == "lift"
