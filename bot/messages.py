"""Maeum's Korean wording, in one place so every channel speaks the same way."""
from __future__ import annotations

import random

from nlp.labels import EMOJI, KOREAN

MODE_NAMES = {"match": "공감", "lift": "전환"}
MODE_EXPLAIN = {
    "match": "지금 마음에 어울리는 노래",
    "lift": "마음을 살짝 다른 쪽으로 데려가 줄 노래",
}

_HEADLINES = {
    "joy": ["기쁜 일이 있었나 봐요!", "좋은 기운이 느껴져요!", "듣는 저까지 기분이 좋아져요."],
    "anxiety": ["마음이 많이 쓰이는 것 같아요.", "걱정이 많은 하루네요.", "긴장되는 마음이 느껴져요."],
    "sadness": ["마음이 많이 무거웠겠어요.", "속상한 일이 있었군요.", "그런 날이 있죠. 마음이 아프네요."],
    "anger": ["정말 화가 날 만했네요.", "많이 답답하고 속상했겠어요.", "그 상황이면 누구라도 화가 나요."],
}

_SONG_INTRO = {
    ("joy", "match"): "이 기분 그대로 즐길 노래예요",
    ("joy", "lift"): "좋은 기분이 오래가도록 골라 봤어요",
    ("anxiety", "match"): "떨리는 마음을 알아주는 노래예요",
    ("anxiety", "lift"): "마음을 조금 가라앉혀 줄 노래예요",
    ("sadness", "match"): "실컷 슬퍼해도 괜찮아요. 곁에 둘 노래예요",
    ("sadness", "lift"): "마음을 조금 다독여 줄 노래예요",
    ("anger", "match"): "속이 시원해질 노래예요",
    ("anger", "lift"): "열을 조금 식혀 줄 노래예요",
}


def emotion_tag(label: str) -> str:
    return f"{EMOJI[label]} {KOREAN[label]}"


def headline(label: str, confidence: float, rng: random.Random) -> str:
    return f"{emotion_tag(label)} ({percent(confidence)}) — {rng.choice(_HEADLINES[label])}"


def song_intro(label: str, mode: str) -> str:
    return _SONG_INTRO[(label, mode)]


def _final_consonant(word: str) -> int | None:
    """Index of the last syllable's final consonant (0 = none, 8 = ㄹ), or None for non-Hangul."""
    last = word[-1]
    return (ord(last) - ord("가")) % 28 if "가" <= last <= "힣" else None


def with_ro(word: str) -> str:
    """Attach 으로/로 the way Korean grammar wants it (로 after a vowel or ㄹ)."""
    final = _final_consonant(word)
    if final is None:
        return word + "(으)로"
    return word + ("로" if final in (0, 8) else "으로")


def with_eul(word: str) -> str:
    """Attach 을/를."""
    final = _final_consonant(word)
    if final is None:
        return word + "을(를)"
    return word + ("를" if final == 0 else "을")


def percent(confidence: float) -> str:
    """A confidence as people read it: never a flat 100% or 0% for a model's guess."""
    if confidence >= 0.995:
        return "99%+"
    return f"{max(confidence, 0.01):.0%}"


def corrected_headline(label: str) -> str:
    return f"알려 주셔서 고마워요! {EMOJI[label]} {with_ro(KOREAN[label])} 기억할게요. 다음엔 더 잘 알아들을게요."


def unsure_text(top: str, second: str) -> str:
    return (
        f"음… 잘 모르겠어요. {emotion_tag(top)} 같기도 하고 {emotion_tag(second)} 같기도 해요.\n"
        "지금 마음에 가장 가까운 감정을 골라 주시면 그에 맞는 노래를 찾아 드릴게요."
    )


def truncated_note(limit: int) -> str:
    return f"메시지가 길어서 앞부분 {limit:,}자까지만 읽었어요."


MORE_SONGS = "다른 노래도 골라 봤어요"
MODE_SET = "이제부터 {name} 모드예요: {explain}를 골라 드릴게요."
STALE = "이 메시지는 찾을 수 없어요. 이미 지워졌거나 오래된 버튼이에요."
FOREIGN = "다른 분의 메시지라서 바꿀 수 없어요."
BAD_LABEL = "알 수 없는 감정이에요. 기쁨·불안·슬픔·분노 중에서 골라 주세요."
NOTHING_TO_FIX = "아직 고칠 메시지가 없어요. 먼저 지금 기분을 들려주세요."
FEEDBACK_LIKE = "좋아해 주셔서 기뻐요! 비슷한 노래를 더 자주 골라 볼게요."
FEEDBACK_DISLIKE = "알겠어요. 이 노래는 다시 추천하지 않을게요."
FORGOTTEN = (
    "저장된 기록을 모두 지웠어요 (메시지 {messages}개, 감정 수정 {corrections}개, 추천한 노래 {songs}개, "
    "노래 평가 {feedback}개). 언제든 다시 이야기해 주세요."
)
NOTHING_STORED = "저장된 기록이 없어요."
PRIVACY = (
    "Maeum이 저장하는 것: 보내 주신 메시지와 감정 예측 결과, 고쳐 주신 감정, 추천한 노래와 좋아요/싫어요.\n"
    "이름이나 채팅 ID는 그대로 저장하지 않고, 알아볼 수 없게 바꾼 가명 ID로만 보관해요.\n"
    "고쳐 주신 감정은 다음 모델 학습에 쓰여요. 기록 삭제(/forget)로 언제든 모두 지울 수 있어요."
)
PRIVACY_COUNTS = "지금 저장된 기록: 메시지 {messages}개, 감정 수정 {corrections}개, 추천한 노래 {songs}개, 노래 평가 {feedback}개."
