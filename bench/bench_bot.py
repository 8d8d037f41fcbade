"""Benchmark the real Telegram bot against the fake Bot API server on loopback.

    PYTHONPATH=. .venv/bin/python bench/bench_bot.py            # both ladders, ~2-3 minutes
    PYTHONPATH=. .venv/bin/python bench/bench_bot.py --quick    # shorter phases

The bot runs in a child process exactly as ``maeum telegram`` runs it (long polling, the real
engine on a fresh SQLite file, the shipped model, the offline catalogue); this process runs the
fake server and plays many simulated users. Measured on the fake server's clock:

* text latency: the ``getUpdates`` response that delivered a message → the ``sendMessage`` reply
* button latency: the ``getUpdates`` response that delivered a press → ``answerCallbackQuery``

Each ladder steps the offered rate up (10, 20, 30, 45, … msg/s) and stops after the first step
at or above 30 msg/s whose p99 text latency is 200 ms or more, or at the last step. About half of
the replies get a button press (👍, 👎 or a correction, which edits and sends again). Two ladders:

* ``flood-limit``: the production rate limiter (Telegram's ~30 messages/s per bot), as deployed
* ``no-limit``: the limiter's flood limits off, to show what the bot itself can process

Bounded: every phase has a fixed number of messages and a drain timeout; the whole run has a
deadline (``--max-seconds``) and stops the bot with SIGTERM (then SIGKILL) when done.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TEXTS = (
    "오늘 합격 소식 들었어 너무 행복해", "친구들이랑 놀러 가서 정말 즐거웠어", "월급 들어와서 기분 최고야",
    "내일 발표인데 너무 떨리고 불안해", "시험 결과가 나올 때까지 걱정돼서 잠이 안 와", "면접 때문에 긴장돼 죽겠어",
    "헤어지고 나서 너무 외로워", "키우던 강아지가 아파서 마음이 너무 아파", "오늘 하루 종일 우울했어",
    "팀장님이 또 내 탓을 해서 진짜 열받아", "택배가 또 분실돼서 화가 나", "새치기하는 사람 때문에 짜증났어",
)
SLO_MS = 200.0


@dataclass
class Phase:
    ladder: str
    rate: float
    sent: int = 0
    replied: int = 0
    text_ms: list[float] = field(default_factory=list)
    presses: int = 0
    answered: int = 0
    press_ms: list[float] = field(default_factory=list)
    seconds: float = 0.0

    @staticmethod
    def pct(values: list[float], p: float) -> float:
        if not values:
            return float("nan")
        ordered = sorted(values)
        k = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))
        return ordered[k]

    def p99(self) -> float:
        return self.pct(self.text_ms, 99)


# ------------------------------------------------------------------------------ the bot side


def worker(flood: str) -> None:
    """The bot, as `maeum telegram` runs it (config from the environment)."""
    import logging

    from telegram.ext import AIORateLimiter

    from bot.config import load_config
    from bot.telegram.app import MaeumRateLimiter, serve_polling

    logging.basicConfig(level=logging.WARNING)
    limiter = MaeumRateLimiter() if flood == "on" else MaeumRateLimiter(overall_max_rate=0, group_max_rate=0)
    assert isinstance(limiter, AIORateLimiter)
    asyncio.run(serve_polling(load_config(), rate_limiter=limiter))


def peak_rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


# ---------------------------------------------------------------------------- the user side


async def run_phase(fake, ladder: str, rate: float, seconds: float, rng: random.Random, uids, drain_s: float) -> Phase:
    phase = Phase(ladder, rate)
    count = max(1, int(rate * seconds))
    mark = fake.mark()
    text_update: dict[int, int] = {}  # chat id -> update id
    press_update: dict[str, int] = {}  # callback query id -> update id
    pressed_chats: set[int] = set()
    injected_all = asyncio.Event()

    async def presser() -> None:
        """Press a button on about half of the replies, soon after they arrive (mixed with the load)."""
        seen = mark
        while True:
            calls = fake.calls
            for call in calls[seen:]:
                if call.method == "sendMessage" and call.ok:
                    chat = int(call.params["chat_id"])
                    if chat in text_update and chat not in pressed_chats and rng.random() < 0.5:
                        pressed_chats.add(chat)
                        user = fake.make_user(chat)
                        label = rng.choice(["👍 1", "👎 2", "슬픔", "분노"])
                        try:
                            update, query_id = fake.press_button(user, call.result, label)
                        except AssertionError:
                            continue
                        press_update[query_id] = update["update_id"]
            seen = len(calls)
            if injected_all.is_set() and len({int(c.params["chat_id"]) for c in fake.calls_to("sendMessage", mark)} & set(text_update)) >= len(text_update):
                return
            await asyncio.sleep(0.005)

    press_task = asyncio.create_task(presser())
    start = time.perf_counter()
    for i in range(count):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        user = fake.make_user(next(uids))
        update = fake.send_text(user, rng.choice(TEXTS))
        text_update[user["id"]] = update["update_id"]
    injected_all.set()
    phase.sent = count

    deadline = time.perf_counter() + drain_s
    while time.perf_counter() < deadline:
        replied = {int(c.params["chat_id"]) for c in fake.calls_to("sendMessage", mark)} & set(text_update)
        answered = {c.params["callback_query_id"] for c in fake.calls_to("answerCallbackQuery", mark)}
        if len(replied) >= count and press_task.done() and answered >= set(press_update):
            break
        await asyncio.sleep(0.05)
    press_task.cancel()
    phase.seconds = time.perf_counter() - start

    first_reply: dict[int, float] = {}
    for call in fake.calls_to("sendMessage", mark):
        chat = int(call.params["chat_id"])
        if chat in text_update and chat not in first_reply:
            first_reply[chat] = call.at
    for chat, at in first_reply.items():
        delivered = fake.delivered_at.get(text_update[chat])
        if delivered is not None:
            phase.text_ms.append((at - delivered) * 1000)
    phase.replied = len(first_reply)
    phase.presses = len(press_update)
    for call in fake.calls_to("answerCallbackQuery", mark):
        update_id = press_update.get(call.params["callback_query_id"])
        if update_id is not None and update_id in fake.delivered_at:
            phase.press_ms.append((call.at - fake.delivered_at[update_id]) * 1000)
    phase.answered = len(phase.press_ms)
    return phase


async def run_ladder(name: str, flood: str, rates: list[float], args, deadline: float) -> tuple[list[Phase], float]:
    from tests.fake_telegram import FakeTelegram

    fake = await FakeTelegram().start()
    tmp = Path(tempfile.mkdtemp(prefix="maeum-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAEUM_") or k == "MAEUM_MODEL_PATH"}
    env.update(
        TELEGRAM_BOT_TOKEN=fake.token,
        MAEUM_TELEGRAM_BASE_URL=fake.base_url,
        MAEUM_TELEGRAM_BASE_FILE_URL=fake.base_file_url,
        MAEUM_STORAGE_PATH=str(tmp / "bench.sqlite3"),
        MAEUM_RECOMMEND_KEYLESS="false",
        MAEUM_MODEL_UNSURE_THRESHOLD="0.0",  # every reply has songs and the full keyboard
        NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost",
        PYTHONPATH=str(ROOT),
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(Path(__file__).resolve()), "--worker", "--flood", flood, env=env, cwd=str(ROOT),
    )
    phases: list[Phase] = []
    rng = random.Random(args.seed)
    uids = iter(range(10_000_000, 20_000_000))
    try:
        await fake.wait_for("getUpdates", timeout=90)
        for _ in range(10):  # warm-up: first inference, SQLite pages, connections
            mark = fake.mark()
            fake.send_text(fake.make_user(next(uids)), rng.choice(TEXTS))
            await fake.wait_for("sendMessage", since=mark, timeout=30)
        for rate in rates:
            if time.perf_counter() + args.seconds + args.drain > deadline:
                print(f"[{name}] stopping early: the run's deadline is near", file=sys.stderr)
                break
            phase = await run_phase(fake, name, rate, args.seconds, rng, uids, args.drain)
            phases.append(phase)
            print(f"[{name}] {rate:g} msg/s: p99 {phase.p99():.0f} ms, replied {phase.replied}/{phase.sent}", file=sys.stderr)
            if (not phase.p99() < SLO_MS or phase.replied < phase.sent) and rate >= 30:
                break  # past the knee (30 msg/s is always measured)
        rss = peak_rss_mib(proc.pid)
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 20)
            except asyncio.TimeoutError:
                proc.kill()
                await proc.wait()
        await fake.stop()
    return phases, rss


def fmt(value: float) -> str:
    return "-" if value != value else f"{value:.0f}" if value >= 10 else f"{value:.1f}"


def print_table(results: dict[str, tuple[list[Phase], float]]) -> None:
    head = (
        f"{'ladder':<12} {'rate/s':>6} {'sent':>5} {'replied':>7} {'text p50':>8} {'p95':>6} {'p99':>6}"
        f" {'presses':>7} {'btn p50':>7} {'p95':>6} {'p99':>6} {'done/s':>7}"
    )
    print(head)
    print("-" * len(head))
    for name, (phases, _) in results.items():
        for p in phases:
            print(
                f"{name:<12} {p.rate:>6g} {p.sent:>5} {p.replied:>7} {fmt(p.pct(p.text_ms, 50)):>8}"
                f" {fmt(p.pct(p.text_ms, 95)):>6} {fmt(p.pct(p.text_ms, 99)):>6} {p.answered:>4}/{p.presses:<3}"
                f"{fmt(p.pct(p.press_ms, 50)):>7} {fmt(p.pct(p.press_ms, 95)):>6} {fmt(p.pct(p.press_ms, 99)):>6}"
                f" {p.replied / p.seconds if p.seconds else 0:>7.1f}"
            )
    print("(latencies in ms, on the fake server's clock: update handed out by getUpdates → reply/answer received)")
    for name, (phases, rss) in results.items():
        ok = [p.rate for p in phases if p.p99() < SLO_MS and p.replied == p.sent]
        best = f"{max(ok):g} msg/s" if ok else "none of the steps"
        print(f"{name}: highest rate with text p99 < {SLO_MS:.0f} ms: {best}; bot peak RSS {rss:.0f} MiB")


async def main_async(args) -> None:
    deadline = time.perf_counter() + args.max_seconds
    rates = [float(r) for r in args.rates.split(",")]
    results: dict[str, tuple[list[Phase], float]] = {}
    ladders = {"flood-limit": "on", "no-limit": "off"}
    print(f"bot model: {os.environ.get('MAEUM_MODEL_PATH') or 'the default ([model] path)'}")
    for name in args.ladders.split(","):
        results[name] = await run_ladder(name, ladders[name], rates, args, deadline)
    print_table(results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--flood", choices=["on", "off"], default="on", help=argparse.SUPPRESS)
    parser.add_argument("--rates", default="10,20,30,45,60,90,120,160,200,250,300", help="offered rates to step through (msg/s)")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each step")
    parser.add_argument("--drain", type=float, default=15.0, help="how long to wait for replies after a step")
    parser.add_argument("--ladders", default="flood-limit,no-limit")
    parser.add_argument("--max-seconds", type=float, default=300.0, help="hard bound for the whole run")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--quick", action="store_true", help="2-second steps")
    args = parser.parse_args()
    if args.worker:
        worker(args.flood)
        return
    if args.quick:
        args.seconds, args.drain = 2.0, 8.0
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
