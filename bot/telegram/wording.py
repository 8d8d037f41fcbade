"""Korean wording that only the Telegram channel uses (the shared wording is in bot/messages.py)."""
from __future__ import annotations

from bot import messages as msg
from nlp.labels import EMOJI, KOREAN

COMMANDS: tuple[tuple[str, str], ...] = (
    ("start", "마음 소개와 사용법"),
    ("help", "사용법 보기"),
    ("mode", "공감/전환 모드 바꾸기 (예: /mode 전환)"),
    ("privacy", "저장되는 내용 확인하기"),
    ("forget", "내 기록 모두 지우기"),
)

START = (
    "안녕하세요, 마음이에요 🎧\n"
    "지금 기분이나 오늘 있었던 일을 한두 문장으로 들려주세요. 마음을 읽고 어울리는 노래를 골라 드릴게요.\n"
    "제가 잘못 읽었다면 아래 버튼(😊 기쁨 · 😰 불안 · 😢 슬픔 · 😠 분노)으로 고쳐 주세요. 다음엔 더 잘 알아들을게요.\n"
    "🔒 메시지는 가명 ID로만 저장되고, /privacy 로 확인하고 /forget 으로 언제든 지울 수 있어요."
)

HELP = (
    "이렇게 쓰면 돼요:\n"
    "• 지금 기분을 글로 보내기 → 감정과 노래 추천\n"
    "• 😊 😰 😢 😠 버튼 → 잘못 읽은 감정 고치기\n"
    "• 🎵 다른 곡 → 같은 감정으로 다른 노래\n"
    "• 🔁 모드 버튼 또는 /mode → 공감(지금 마음에 어울리는 노래)과 전환(기분을 바꿔 줄 노래) 사이 바꾸기\n"
    "• 👍/👎 숫자 버튼 → 그 노래가 좋았는지 알려 주기\n"
    "• /privacy → 저장된 내용 보기, /forget → 내 기록 모두 지우기\n"
    "단체방에서는 저를 @멘션하거나 제 메시지에 답장해 주세요."
)

NON_TEXT = (
    "아직은 글만 읽을 수 있어요 🙏 스티커나 사진, 음성, 파일 대신 "
    "지금 기분이나 있었던 일을 글로 적어 주시면 어울리는 노래를 찾아 드릴게요."
)
ANONYMOUS = "익명 관리자나 채널 이름으로 보낸 메시지는 누구의 기록인지 알 수 없어서 읽지 않아요. 본인 계정으로 보내 주세요 🙏"
UNKNOWN_COMMAND = "모르는 명령이에요. /help 로 쓸 수 있는 명령을 볼 수 있어요."
MODE_USAGE = "사용법: /mode (공감↔전환 바꾸기), /mode 공감, /mode 전환"
SORRY = "앗, 답을 만드는 중에 문제가 생겼어요. 잠시 후에 다시 보내 주세요."

FORGET_CONFIRM = (
    "정말 저장된 기록(메시지, 감정 수정, 추천 기록, 노래 평가)을 모두 지울까요?\n"
    "지우면 되돌릴 수 없어요."
)
FORGET_YES = "🗑 네, 모두 지워 주세요"
FORGET_NO = "취소"
FORGET_CANCELLED = "기록을 지우지 않았어요. 그대로 둘게요."

MORE_SONGS_BUTTON = "🎵 다른 곡"

# short toasts for button presses (answerCallbackQuery, at most 200 characters)
TOAST_CORRECTING = "{tag_ro} 고칠게요"
TOAST_MORE = "다른 노래를 찾아볼게요 🎵"
TOAST_FORGETTING = "기록을 지우고 있어요"
TOAST_CANCELLED = "취소했어요"
ALERT_GARBLED = "이 버튼은 알아볼 수 없어요. 메시지를 새로 보내 주세요."


tag = msg.emotion_tag


def with_ro(label: str) -> str:
    """'😢 슬픔으로', '😠 분노로' — the particle that fits the Korean name."""
    return f"{EMOJI[label]} {msg.with_ro(KOREAN[label])}"


def with_eul(label: str) -> str:
    """'😢 슬픔을', '😠 분노를'."""
    return f"{EMOJI[label]} {msg.with_eul(KOREAN[label])}"


def correcting_toast(label: str) -> str:
    return TOAST_CORRECTING.format(tag_ro=with_ro(label))


def mode_button(mode: str) -> str:
    return f"🔁 {msg.MODE_NAMES.get(mode, msg.MODE_NAMES['match'])} 모드"


def corrected_original(original: str | None, confidence: float | None, chosen: str) -> str:
    """What the original message says after the person corrected (or picked) the emotion."""
    if original is None or original == chosen:
        first = f"✏️ {with_ro(chosen)} 기억할게요."
    else:
        guess = f"{tag(original)}" + (f" {msg.percent(confidence)}" if confidence is not None else "")
        first = f"✏️ 감정을 고쳤어요: {guess} → {tag(chosen)}"
    return f"{first}\n고쳐 주신 감정에 맞는 노래는 아래 메시지에 있어요."


def picked_original(chosen: str) -> str:
    """What an 'unsure' question says after the person picked an emotion."""
    return f"✏️ {with_eul(chosen)} 골라 주셨어요. 어울리는 노래는 아래 메시지에 있어요."
