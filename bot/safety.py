"""Crisis language: messages that suggest self-harm get care and helplines before any music."""
from __future__ import annotations

import re

_CRISIS = re.compile(
    "|".join(
        [
            r"죽고\s*싶",
            r"죽어\s*버리고\s*싶",
            r"죽을\s*래",
            r"사라지고\s*싶",
            r"없어지고\s*싶",
            r"살고\s*싶지\s*않",
            r"살기\s*싫",
            r"살\s*이유가\s*없",
            r"자살",
            r"자해",
            r"목숨을?\s*끊",
            r"스스로\s*목숨",
            r"뛰어\s*내리고\s*싶",
            r"손목을?\s*긋",
            r"세상을?\s*떠나고\s*싶",
            r"생을?\s*마감",
            r"다\s*끝내고\s*싶",
        ]
    )
)

HELPLINES = (
    "자살예방상담전화 109 (24시간)",
    "정신건강위기상담 1577-0199 (24시간)",
)

CARE_MESSAGE = (
    "많이 힘드셨겠어요. 그런 마음을 털어놓아 주셔서 고마워요.\n"
    "지금 혼자 견디지 않으셨으면 해요. 언제든 전화하면 이야기를 들어주는 분들이 있어요:\n"
    + "\n".join(f"• {line}" for line in HELPLINES)
    + "\n위급하다면 112나 119에 바로 연락해 주세요.\n"
    "괜찮다면, 마음을 조금 감싸줄 노래도 함께 둘게요."
)


def is_crisis(text: str) -> bool:
    return bool(_CRISIS.search(text))
