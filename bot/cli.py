"""The `maeum` command line."""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from pathlib import Path
from typing import Sequence

from bot.config import Config, ConfigError, load_config, secret

log = logging.getLogger("maeum")

TELEGRAM_HINT = "(텔레그램으로 연결하려면 TELEGRAM_BOT_TOKEN 환경 변수에 봇 토큰을 넣고 다시 실행하세요.)"


class CliError(Exception):
    """A problem to report in one line, with a non-zero exit."""


def setup_logging(config: Config) -> None:
    logging.basicConfig(
        level=getattr(logging, config.logging.level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )  # the Telegram channel quiets httpx itself (bot.telegram.app.quiet_noisy_loggers): its URLs carry the token


def _add_config(p: argparse.ArgumentParser, top: bool = False) -> None:
    p.add_argument(
        "--config",
        default=None if top else argparse.SUPPRESS,
        help="config.toml 경로 (기본: 프로젝트의 config.toml, 또는 $MAEUM_CONFIG)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="maeum", description="마음(Maeum): 감정을 읽고 음악으로 답하는 챗봇")
    _add_config(parser, top=True)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    for name, help_text in [
        ("run", "Maeum 실행: TELEGRAM_BOT_TOKEN 이 있으면 텔레그램 봇, 없으면 콘솔 채팅"),
        ("chat", "터미널에서 대화하기 (파이프 입력도 가능)"),
        ("telegram", "텔레그램 봇 (polling)"),
        ("serve", "웹 서버: 텔레그램 webhook, 카카오톡 스킬, /healthz"),
        ("doctor", "설정, 모델, 데이터베이스, YouTube 키를 점검"),
    ]:
        _add_config(sub.add_parser(name, help=help_text))

    p = sub.add_parser("classify", help="표준 입력의 한 줄마다 감정을 JSON 한 줄로 출력")
    _add_config(p)
    p.add_argument("--model", help="모델 폴더 (기본: config의 [model] path)")
    p.add_argument("--batch-size", type=int, default=64)

    p = sub.add_parser("export", help="저장된 데이터 내보내기")
    _add_config(p)
    p.add_argument("what", choices=["corrections"])
    p.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    p.add_argument("--output", "-o", help="파일로 저장 (기본: 표준 출력)")

    sub.add_parser(
        "train", help="감정 분류기 학습: --kind baseline (기본) 또는 transformer (`maeum train --kind KIND --help`)"
    )
    sub.add_parser("pretrain", help="SentencePiece 어휘와 작은 한국어 BERT를 MLM으로 사전학습 (`maeum pretrain --help`)")

    p = sub.add_parser("eval", help="TSV(text<TAB>label)로 모델 평가")
    _add_config(p)
    p.add_argument("data", help="평가 데이터 TSV")
    p.add_argument("--model", action="append", help="모델 폴더 (여러 번 가능; 기본: config의 모델)")
    p.add_argument("--out", default="reports", help="혼동 행렬 PNG와 JSON 보고서를 저장할 폴더")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    delegated = _delegated(argv)
    if delegated is not None:  # training jobs with many knobs keep their own option parsers
        return _guarded(delegated)
    args = build_parser().parse_args(argv)

    def command() -> int:
        config = load_config(args.config)
        setup_logging(config)
        return COMMANDS[args.command](config, args) or 0

    return _guarded(command)


def _delegated(argv: list[str]):
    """`maeum pretrain ...` and `maeum train [--kind baseline|transformer] ...` go straight to
    their modules (they take no config: every knob is an option of their own)."""
    if argv[:1] == ["--config"]:
        argv = argv[2:]
    elif argv[:1] and argv[0].startswith("--config="):
        argv = argv[1:]
    if argv[:1] == ["pretrain"]:
        from nlp.pretrain import main as pretrain_main

        return lambda: pretrain_main(argv[1:])
    if argv[:1] == ["train"]:
        rest = argv[1:]
        kind, width = "baseline", 0
        for i, arg in enumerate(rest):
            if arg.startswith("--kind="):
                kind, width = arg.split("=", 1)[1], 1
            elif arg == "--kind" and i + 1 < len(rest):
                kind, width = rest[i + 1], 2
            if width:
                rest = rest[:i] + rest[i + width :]
                break
        if kind == "transformer":
            from nlp.train_transformer import main as train_main
        elif kind == "baseline":
            from nlp.train_baseline import main as train_main
        else:
            return lambda: _unknown_kind(kind)
        return lambda: train_main(rest)
    return None


def _unknown_kind(kind: str) -> int:
    raise CliError(f"--kind 는 baseline 또는 transformer 예요 (받은 값: {kind})")


def _guarded(run) -> int:
    """Run a command; known problems become one line on stderr and exit code 2."""
    from nlp.classifier import ModelLoadError
    from nlp.data import DataError
    from storage import SchemaTooNewError, SecretError

    try:
        return run() or 0
    except KeyboardInterrupt:
        return 130
    except (CliError, ConfigError, ModelLoadError, DataError, SchemaTooNewError, SecretError, OSError) as exc:
        print(f"maeum: {exc}", file=sys.stderr)
        return 2


# -- commands -------------------------------------------------------------------------------


def cmd_chat(config: Config, args, hint: str | None = None) -> int:
    from bot.app import build_engine
    from bot.console import run_console

    if config.logging.level.upper() == "INFO":  # keep the chat readable: start-up chatter only on request
        logging.getLogger().setLevel(logging.WARNING)

    async def go() -> None:
        engine = await build_engine(config)
        try:
            await run_console(engine, hint=hint)
        finally:
            await engine.close()

    asyncio.run(go())
    return 0


def cmd_run(config: Config, args) -> int:
    if secret("telegram_token"):
        return cmd_telegram(config, args)
    return cmd_chat(config, args, hint=TELEGRAM_HINT)


def cmd_telegram(config: Config, args) -> int:
    if not secret("telegram_token"):
        raise CliError("TELEGRAM_BOT_TOKEN 환경 변수가 없습니다. @BotFather 에서 받은 토큰을 넣어 주세요.")
    if config.telegram.mode == "webhook":
        return cmd_serve(config, args)
    from bot.telegram import run_polling

    run_polling(config)
    return 0


def cmd_serve(config: Config, args) -> int:
    from bot.web import run_server

    run_server(config)
    return 0


def cmd_doctor(config: Config, args) -> int:
    from bot.doctor import run_doctor

    return asyncio.run(run_doctor(config))


def cmd_classify(config: Config, args) -> int:
    from bot.input_check import check_text
    from nlp.classifier import load_classifier
    from nlp.labels import LABELS
    from nlp.transformer_threads import configure_torch_threads

    configure_torch_threads(config.model.threads)
    classifier = load_classifier(Path(args.model) if args.model else config.model_path)
    out = sys.stdout

    def flush(batch: list[str]) -> None:
        # the same cleaning the chat channels apply (NFC, control characters, length)
        checked = [check_text(text, classifier.max_chars) for text in batch]
        readable = [c.text for c in checked if not c.problem]
        scored = iter(classifier.predict(readable) if readable else [])
        for text, check in zip(batch, checked):
            if check.problem:
                row = {"text": text, "label": None, "confidence": None, "scores": None, "error": check.problem}
            else:
                scores = next(scored)
                label = max(LABELS, key=lambda k: scores[k])
                row = {
                    "text": text,
                    "label": label,
                    "confidence": round(float(scores[label]), 6),
                    "scores": {k: round(float(scores[k]), 6) for k in LABELS},
                }
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
        out.flush()

    batch: list[str] = []
    for line in sys.stdin:
        batch.append(line.rstrip("\r\n"))
        if len(batch) >= max(1, args.batch_size):
            flush(batch)
            batch = []
    if batch:
        flush(batch)
    return 0


def cmd_export(config: Config, args) -> int:
    from bot.export import write_corrections

    if not config.storage_path.exists():
        raise CliError(f"데이터베이스가 없습니다: {config.storage_path} (아직 대화가 없었나요?)")

    async def rows():
        from storage import Database

        db = await Database.open(config.storage_path)
        try:
            return await db.export_corrections()
        finally:
            await db.close()

    data = asyncio.run(rows())
    if args.output:
        with open(args.output, "w", encoding="utf-8", newline="") as fh:
            write_corrections(data, fh, args.format)
        print(f"수정 {len(data)}개를 {args.output} 에 저장했어요.", file=sys.stderr)
    else:
        write_corrections(data, sys.stdout, args.format)
    return 0


def cmd_eval(config: Config, args) -> int:
    from nlp.evaluate import evaluate_models

    data = Path(args.data)
    if not data.is_file():
        raise CliError(f"평가 데이터를 찾을 수 없습니다: {data}")
    models = [Path(m) for m in args.model] if args.model else [config.model_path]
    evaluate_models(data, models, Path(args.out))
    return 0


COMMANDS = {
    "run": cmd_run,
    "chat": cmd_chat,
    "telegram": cmd_telegram,
    "serve": cmd_serve,
    "doctor": cmd_doctor,
    "classify": cmd_classify,
    "export": cmd_export,
    "eval": cmd_eval,
}

if __name__ == "__main__":
    sys.exit(main())
