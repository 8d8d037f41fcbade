"""`maeum doctor`: check each part Maeum needs and say in plain words what is wrong."""
from __future__ import annotations

import sys

from bot.config import Config, secret


def _line(ok: bool | None, what: str, detail: str) -> str:
    mark = {True: "✅", False: "❌", None: "ℹ️ "}[ok]
    return f"{mark} {what}: {detail}"


async def run_doctor(config: Config, out=sys.stdout) -> int:
    problems = 0
    print(_line(True, "설정", f"{config.base_dir}"), file=out)

    from nlp.classifier import load_classifier

    try:
        classifier = load_classifier(config.model_path)
        scores = classifier.predict(["오늘 정말 기분 좋다"])[0]
        print(_line(True, "모델", f"{classifier.version} ({config.model_path}); 예시 점수 합 {sum(scores.values()):.2f}"), file=out)
    except Exception as exc:
        problems += 1
        print(_line(False, "모델", str(exc)), file=out)

    from storage import Database

    try:
        db = await Database.open(config.storage_path)
        await db.close()
        print(_line(True, "데이터베이스", str(config.storage_path)), file=out)
    except Exception as exc:
        problems += 1
        print(_line(False, "데이터베이스", f"{config.storage_path}: {exc}"), file=out)

    token = secret("telegram_token")
    print(_line(None, "텔레그램", "TELEGRAM_BOT_TOKEN 설정됨" if token else "토큰 없음: `maeum run` 은 콘솔 채팅으로 시작합니다"), file=out)

    for line_ok, detail in await _youtube_status(config):
        problems += line_ok is False
        print(_line(line_ok, "YouTube", detail), file=out)
    return 1 if problems else 0


async def _youtube_status(config: Config) -> list[tuple[bool | None, str]]:
    key = secret("youtube_api_key")
    if not key:
        how = "키 없는 검색(pytubefix)과 " if config.recommend.keyless else ""
        return [(None, f"YOUTUBE_API_KEY 없음: {how}오프라인 노래 목록을 씁니다")]
    from recommend.youtube import check_youtube

    check = await check_youtube(key, api_base=config.youtube.api_base)
    return [(bool(check.ok), check.message)]
