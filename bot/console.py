"""The console channel: chat with Maeum in a terminal, or drive it through a pipe."""
from __future__ import annotations

import asyncio
import getpass
import sys
import threading
from typing import TextIO

from bot.commands import parse_command
from bot import messages as msg
from bot.engine import Engine
from bot.render_text import render_plain
from bot.replies import Reply, UserRef

HELP = """사용법: 지금 기분이나 있었던 일을 적어 보세요. 감정을 읽고 어울리는 노래를 골라 드려요.
  /fix 감정     마지막 답의 감정 고치기 (기쁨|불안|슬픔|분노 또는 joy|anxiety|sadness|anger)
  /more         다른 노래 더 보기
  /mode 모드    match(공감: 마음에 어울리는 노래) 또는 lift(전환: 기분을 바꿔 줄 노래)
  /privacy      저장된 내 기록 보기
  /forget       내 기록 모두 지우기
  /quit         끝내기"""

GREETING = "안녕하세요, 마음(Maeum)이에요 🎵 오늘 기분이 어떤지 들려주세요. (/help 도움말, /quit 끝내기)"


class ConsoleChat:
    def __init__(self, engine: Engine, out: TextIO = sys.stdout, user_id: str | None = None) -> None:
        self.engine = engine
        self.out = out
        self.user = UserRef("console", user_id or _local_user())

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def show(self, reply: Reply) -> None:
        self.say(render_plain(reply))

    async def handle_line(self, line: str) -> bool:
        """Handle one line; False means the person wants to stop."""
        command = parse_command(line)
        if command is None:
            self.show(await self.engine.handle_text(self.user, line))
            return True
        return await self.command(command.name, command.arg)

    async def command(self, command: str, arg: str) -> bool:
        if command in ("quit", "exit", "q"):
            return False
        if command in ("help", "start"):
            self.say(HELP)
        elif command in ("fix", "more"):
            last = await self.engine.last_message_id(self.user)
            if last is None:
                self.say(msg.NOTHING_TO_FIX if command == "fix"
                         else "먼저 지금 기분을 들려주세요. 그다음에 다른 노래를 더 골라 드릴게요.")
            elif command == "more":
                self.show(await self.engine.more_songs(self.user, last))
            elif not arg:
                self.say("어떤 감정으로 고칠까요? 예: /fix 슬픔")
            else:
                self.show(await self.engine.correct(self.user, last, arg))
        elif command == "mode":
            reply = await (self.engine.set_mode(self.user, arg.lower()) if arg else self.engine.toggle_mode(self.user))
            self.show(reply)
        elif command == "privacy":
            self.show(await self.engine.privacy(self.user))
        elif command == "forget":
            self.show(await self.engine.forget(self.user))
        else:
            self.say(f"모르는 명령이에요: /{command}. /help 로 쓸 수 있는 명령을 볼 수 있어요.")
        return True


def _local_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name (containers)
        return "local"


def _read_lines(stdin: TextIO) -> asyncio.Queue:
    """Lines from stdin, read by a daemon thread, so Ctrl+C never waits for a pending read."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()

    def pump() -> None:
        try:
            for line in iter(stdin.readline, ""):
                loop.call_soon_threadsafe(queue.put_nowait, line)
        finally:
            loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=pump, name="maeum-stdin", daemon=True).start()
    return queue


async def run_console(engine: Engine, stdin: TextIO = sys.stdin, out: TextIO = sys.stdout, hint: str | None = None) -> None:
    chat = ConsoleChat(engine, out)
    interactive = stdin.isatty()
    chat.say(GREETING)
    if hint:
        chat.say(hint)
    lines = _read_lines(stdin)
    while True:
        if interactive:
            print("나> ", end="", file=out, flush=True)
        line = await lines.get()
        if line is None:  # end of input
            break
        if not await chat.handle_line(line.rstrip("\n")):
            break
    chat.say("또 이야기해요. 안녕! 👋")
