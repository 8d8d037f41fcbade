"""The engine end to end on a real SQLite file, the shipped model and the offline catalogue."""
import asyncio

import pytest

from bot.replies import UserRef
from nlp.labels import LABELS

ME = UserRef("console", "me")
OTHER = UserRef("console", "someone-else")


async def test_text_gets_emotion_songs_and_choices(make_engine):
    engine = await make_engine(MAEUM_MODEL_UNSURE_THRESHOLD=0.0)
    reply = await engine.handle_text(ME, "오늘 합격 소식 들었어 너무 행복해")
    assert reply.kind == "emotion"
    assert reply.label == "joy"
    assert set(reply.scores) == set(LABELS)
    assert sum(reply.scores.values()) == pytest.approx(1.0, abs=1e-4)
    assert reply.confidence == pytest.approx(max(reply.scores.values()))
    assert 3 <= len(reply.songs) <= 5
    assert len({s.key for s in reply.songs}) == len(reply.songs)
    assert all(s.url.startswith("https://www.youtube.com/") for s in reply.songs)
    assert reply.choices == LABELS
    stored = await engine.db.get_message(reply.message_id)
    assert stored.label == "joy" and stored.text == "오늘 합격 소식 들었어 너무 행복해"
    assert stored.model_version == engine.classifier.version
    assert sorted(await engine.db.shown_for_message(reply.message_id)) == sorted(s.key for s in reply.songs)


async def test_correction_is_stored_latest_wins_and_brings_new_songs(make_engine):
    engine = await make_engine()
    first = await engine.handle_text(ME, "내일 발표인데 너무 떨리고 불안해")
    fixed = await engine.correct(ME, first.message_id, "슬픔")
    assert fixed.kind == "emotion" and fixed.label == "sadness" and fixed.corrected
    assert fixed.songs and not {s.key for s in fixed.songs} & {s.key for s in first.songs}
    again = await engine.correct(ME, first.message_id, "anger")
    assert again.label == "anger"
    rows = await engine.db.export_corrections()
    assert len(rows) == 1
    assert rows[0]["corrected"] == "anger" and rows[0]["predicted"] == first.label
    assert rows[0]["text"] == "내일 발표인데 너무 떨리고 불안해"
    assert rows[0]["user_id"] == engine.pseudonym(ME) != "me"


async def test_more_songs_does_not_classify_again_and_never_repeats(make_engine):
    engine = await make_engine()
    first = await engine.handle_text(ME, "팀장님이 또 내 탓을 해서 진짜 열받아")
    seen = [s.key for s in first.songs]
    calls = []
    original = engine.classifier.predict
    engine.classifier.predict = lambda texts: calls.append(texts) or original(texts)
    for _ in range(4):
        more = await engine.more_songs(ME, first.message_id)
        assert more.label == first.label and more.message_id == first.message_id
        seen.extend(s.key for s in more.songs)
    assert calls == []
    assert len(seen) == len(set(seen)) == 20  # 5 replies × 4 songs, no repeats within the last 20


async def test_unsure_asks_instead_of_asserting(make_engine):
    engine = await make_engine(MAEUM_MODEL_UNSURE_THRESHOLD=0.99)
    reply = await engine.handle_text(ME, "그냥 그래")
    assert reply.kind == "unsure"
    assert reply.label is None and not reply.songs
    assert "잘 모르겠어요" in reply.text and reply.choices == LABELS
    picked = await engine.correct(ME, reply.message_id, "불안")
    assert picked.label == "anxiety" and picked.songs


@pytest.mark.parametrize("text", ["요즘 너무 힘들어서 죽고 싶다", "그냥 다 사라지고 싶어", "살기 싫어 진짜"])
async def test_crisis_gets_care_and_helplines_before_music(make_engine, text):
    engine = await make_engine()
    reply = await engine.handle_text(ME, text)
    assert reply.kind == "crisis"
    assert "109" in reply.text and "1577-0199" in reply.text
    from bot.render_text import render_plain

    shown = render_plain(reply)
    assert shown.index("109") < shown.index(reply.songs[0].url)
    assert reply.label is None and reply.choices == ()  # no "is this right?" buttons on such a message
    assert "/fix" not in shown


async def test_everyday_exaggeration_is_not_a_crisis(make_engine):
    engine = await make_engine()
    reply = await engine.handle_text(ME, "아 배고파 죽겠다 ㅋㅋ 치킨 먹을 생각에 신나")
    assert reply.kind != "crisis"


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("", "비어 있어요"),
        ("   \n\t  ", "비어 있어요"),
        ("\x00\x07\x1b", "비어 있어요"),
        ("😀😀😭🎵", "이모지나 기호"),
        ("!!! ??? ...", "이모지나 기호"),
        ("I am so happy today", "한국어"),
        ("Ich bin traurig", "한국어"),
        (None, "비어 있어요"),
    ],
)
async def test_unreadable_input_gets_a_kind_answer_and_nothing_stored(make_engine, text, fragment):
    engine = await make_engine()
    reply = await engine.handle_text(ME, text)
    assert reply.kind == "invalid" and fragment in reply.text
    assert reply.message_id is None
    assert (await engine.db.user_summary(engine.pseudonym(ME))).get("messages", 0) == 0


async def test_control_characters_are_removed_and_long_text_is_cut(make_engine):
    engine = await make_engine()
    reply = await engine.handle_text(ME, "오늘\x00 시험\u200b 망쳤어\x1b ㅠㅠ")
    assert reply.kind in ("emotion", "unsure")
    assert (await engine.db.get_message(reply.message_id)).text == "오늘 시험 망쳤어 ㅠㅠ"
    huge = "오늘 너무 슬퍼서 눈물이 나. " * 2000
    long_reply = await engine.handle_text(ME, huge)
    assert long_reply.kind in ("emotion", "unsure")
    assert any("앞부분" in note for note in long_reply.notes)
    assert len((await engine.db.get_message(long_reply.message_id)).text) == engine.settings.max_message_chars


async def test_foreign_stale_and_bad_corrections_change_nothing(make_engine):
    engine = await make_engine()
    mine = await engine.handle_text(ME, "드디어 첫 월급 받았다!!")
    foreign = await engine.correct(OTHER, mine.message_id, "anger")
    assert foreign.kind == "rejected" and "다른 분" in foreign.text
    assert (await engine.more_songs(OTHER, mine.message_id)).kind == "rejected"
    assert (await engine.correct(ME, mine.message_id, "hungry")).kind == "rejected"
    assert (await engine.correct(ME, 999_999, "joy")).kind == "rejected"
    assert await engine.db.export_corrections() == []
    forgotten = await engine.forget(ME)
    assert "지웠어요" in forgotten.text
    stale = await engine.correct(ME, mine.message_id, "joy")
    assert stale.kind == "rejected" and "찾을 수 없어요" in stale.text
    assert (await engine.forget(ME)).text == "저장된 기록이 없어요."


async def test_mode_toggle_and_privacy_summary(make_engine):
    engine = await make_engine()
    assert await engine.get_mode(ME) == "match"
    assert (await engine.toggle_mode(ME)).mode == "lift"
    assert (await engine.set_mode(ME, "loud")).kind == "rejected"
    reply = await engine.handle_text(ME, "비 오는 날이라 그런지 마음이 허전하다")
    assert reply.mode == "lift"
    privacy = await engine.privacy(ME)
    assert "메시지 1개" in privacy.text and "/forget" in privacy.text


async def test_song_feedback_only_for_songs_shown(make_engine):
    engine = await make_engine()
    reply = await engine.handle_text(ME, "친구들이랑 여행 가서 너무 즐거웠어")
    song = reply.songs[0]
    assert (await engine.song_feedback(ME, reply.message_id, song.key, False)).kind == "notice"
    assert song.key in await engine.db.disliked_keys(engine.pseudonym(ME))
    assert (await engine.song_feedback(ME, reply.message_id, "cat:notshown", True)).kind == "rejected"
    assert (await engine.song_feedback(OTHER, reply.message_id, song.key, True)).kind == "rejected"
    for _ in range(15):
        more = await engine.more_songs(ME, reply.message_id)
        assert song.key not in {s.key for s in more.songs}


async def test_concurrent_users_are_all_answered(make_engine):
    engine = await make_engine()
    users = [UserRef("console", f"u{i}") for i in range(10)]
    replies = await asyncio.gather(*(engine.handle_text(u, "오늘 하루 진짜 최고였어") for u in users))
    assert len({r.message_id for r in replies}) == 10
    assert all(r.songs or r.kind == "unsure" for r in replies)


def test_korean_particle_follows_the_last_syllable():
    from bot.messages import with_ro

    assert [with_ro(w) for w in ("기쁨", "불안", "슬픔", "분노", "서울", "Joy")] == [
        "기쁨으로", "불안으로", "슬픔으로", "분노로", "서울로", "Joy(으)로"]


async def test_forget_racing_with_button_presses_never_crashes(make_engine):
    engine = await make_engine()
    for _ in range(10):
        first = await engine.handle_text(ME, "오늘 회사에서 칭찬받아서 기분 좋아")
        results = await asyncio.gather(
            engine.more_songs(ME, first.message_id),
            engine.correct(ME, first.message_id, "joy"),
            engine.song_feedback(ME, first.message_id, first.songs[0].key, True),
            engine.forget(ME),
            engine.set_mode(ME, "전환"),
        )
        for reply in results[:3]:
            assert reply.kind in ("emotion", "notice", "rejected")
            if reply.kind == "rejected":
                assert "찾을 수 없어요" in reply.text
    assert (await engine.handle_text(ME, "다시 왔어 오늘은 좀 우울하네")).message_id


async def test_default_mode_setting_applies_to_new_people(make_engine):
    engine = await make_engine(MAEUM_ENGINE_DEFAULT_MODE="lift")
    assert await engine.get_mode(UserRef("console", "newcomer")) == "lift"
    assert (await engine.set_mode(ME, "공감")).mode == "match"
