"""The conversation engine: every channel calls this, and nothing here knows about any channel.

text → classify (off the event loop) → store → songs → :class:`~bot.replies.Reply`.
"""
from __future__ import annotations

import asyncio
import functools
import logging
import random
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from bot import messages as msg
from bot.commands import parse_mode_word
from bot.config import Config
from bot.input_check import INVALID_REPLIES, check_text
from bot.replies import Reply, UserRef
from bot.safety import CARE_MESSAGE, is_crisis
from nlp.classifier import EmotionClassifier
from nlp.labels import LABELS, parse_label
from recommend.recommender import Recommender
from recommend.types import Song
from storage import Database, pseudonymize

log = logging.getLogger(__name__)


def _vanished_is_stale(method):
    """A message deleted by a concurrent /forget turns into the "stale" answer, not a crash."""

    @functools.wraps(method)
    async def wrapper(self, *args, **kwargs):
        try:
            return await method(self, *args, **kwargs)
        except (KeyError, IndexError):  # programming errors, not a vanished message
            raise
        except (LookupError, sqlite3.IntegrityError, _Vanished):  # storage's "no such message/user"
            return Reply("rejected", msg.STALE)

    return wrapper


class _Vanished(Exception):
    """The message was there a moment ago and is gone now."""


@dataclass(frozen=True)
class EngineSettings:
    songs_per_reply: int = 4
    no_repeat_window: int = 20
    max_message_chars: int = 2000
    unsure_threshold: float = 0.45
    default_mode: str = "match"

    @classmethod
    def from_config(cls, config: Config) -> "EngineSettings":
        return cls(
            songs_per_reply=config.engine.songs_per_reply,
            no_repeat_window=config.engine.no_repeat_window,
            max_message_chars=config.engine.max_message_chars,
            unsure_threshold=config.model.unsure_threshold,
            default_mode=config.engine.default_mode,
        )


class Engine:
    def __init__(
        self,
        db: Database,
        classifier: EmotionClassifier,
        recommender: Recommender,
        secret: bytes,
        settings: EngineSettings = EngineSettings(),
        rng: random.Random | None = None,
    ) -> None:
        self.db = db
        self.classifier = classifier
        self.recommender = recommender
        self.settings = settings
        self._secret = secret
        self._rng = rng or random.Random()
        self._known_users: set[str] = set()
        # one inference thread: the model's own threads do the parallel work
        self._inference = ThreadPoolExecutor(max_workers=1, thread_name_prefix="maeum-infer")

    async def close(self) -> None:
        try:
            await asyncio.to_thread(self._inference.shutdown, wait=True)
            await self.recommender.close()
        finally:
            await self.db.close()

    # -- identities -----------------------------------------------------------------------
    async def _user(self, user: UserRef) -> str:
        uid = self.pseudonym(user)
        if uid not in self._known_users:  # one write per person per process, not one per message
            created = await self.db.ensure_user(uid, user.channel)
            if created and self.settings.default_mode != "match":
                await self.db.set_mode(uid, self.settings.default_mode)
            self._known_users.add(uid)
        return uid

    def pseudonym(self, user: UserRef) -> str:
        return pseudonymize(self._secret, user.channel, str(user.user_id))

    # -- the main flow --------------------------------------------------------------------
    async def classify(self, text: str) -> dict[str, float]:
        loop = asyncio.get_running_loop()
        cut = text[: self.classifier.max_chars]
        (scores,) = await loop.run_in_executor(self._inference, self.classifier.predict, [cut])
        return scores

    async def handle_text(self, user: UserRef, raw: str | None) -> Reply:
        checked = check_text(raw, self.settings.max_message_chars)
        if checked.problem:
            return Reply("invalid", INVALID_REPLIES[checked.problem])
        uid = await self._user(user)
        notes = []
        text = checked.text
        if checked.truncated or len(text) > self.classifier.max_chars:
            notes.append(msg.truncated_note(min(len(text), self.classifier.max_chars)))
        scores = await self.classify(text)
        label = max(LABELS, key=lambda k: scores[k])
        confidence = float(scores[label])
        try:
            message_id = await self.db.add_message(uid, text, label, scores, self.classifier.version)
        except sqlite3.IntegrityError:  # the person ran /forget while this message was on its way
            self._known_users.discard(uid)
            uid = await self._user(user)
            message_id = await self.db.add_message(uid, text, label, scores, self.classifier.version)
        mode = await self.db.get_mode(uid)
        common = dict(message_id=message_id, scores=scores, notes=tuple(notes), choices=LABELS, mode=mode)

        if is_crisis(text):  # care first; no emotion label or correction buttons on such a message
            songs = await self._songs(uid, message_id, "sadness", "lift")
            return Reply("crisis", CARE_MESSAGE, songs=songs, **{**common, "choices": ()})
        if confidence < self.settings.unsure_threshold:
            top, second = sorted(LABELS, key=lambda k: -scores[k])[:2]
            return Reply("unsure", msg.unsure_text(top, second), label=None, confidence=confidence, **common)
        songs = await self._songs(uid, message_id, label, mode)
        text_out = f"{msg.headline(label, confidence, self._rng)}\n{msg.song_intro(label, mode)}"
        return Reply("emotion", text_out, label=label, confidence=confidence, songs=songs, **common)

    @_vanished_is_stale
    async def correct(self, user: UserRef, message_id: int, label_name: str) -> Reply:
        label = parse_label(label_name)
        if label is None:
            return Reply("rejected", msg.BAD_LABEL)
        uid, problem = await self._owned(user, message_id)
        if problem:
            return problem
        await self.db.set_correction(message_id, uid, label)
        mode = await self.db.get_mode(uid)
        songs = await self._songs(uid, message_id, label, mode)
        message = await self._message(message_id)
        text = f"{msg.corrected_headline(label)}\n{msg.song_intro(label, mode)}"
        return Reply(
            "emotion", text, message_id=message_id, label=label, confidence=None,
            scores=message.scores, songs=songs, mode=mode, choices=LABELS, corrected=True,
        )

    @_vanished_is_stale
    async def more_songs(self, user: UserRef, message_id: int) -> Reply:
        uid, problem = await self._owned(user, message_id)
        if problem:
            return problem
        message = await self._message(message_id)
        label = message.corrected or message.label
        mode = await self.db.get_mode(uid)
        songs = await self._songs(uid, message_id, label, mode)
        return Reply(
            "emotion", f"{msg.emotion_tag(label)} · {msg.MORE_SONGS}", message_id=message_id, label=label,
            scores=message.scores, songs=songs, mode=mode, choices=LABELS, corrected=message.corrected is not None,
        )

    async def last_message_id(self, user: UserRef) -> int | None:
        return await self.db.last_message_id(self.pseudonym(user))

    # -- settings, feedback, privacy ------------------------------------------------------
    async def get_mode(self, user: UserRef) -> str:
        return await self.db.get_mode(await self._user(user))

    async def set_mode(self, user: UserRef, word: str) -> Reply:
        mode = parse_mode_word(word)
        if mode is None:
            return Reply("rejected", "모드는 공감(match) 또는 전환(lift) 중에서 골라 주세요.")
        try:
            await self.db.set_mode(await self._user(user), mode)
        except LookupError:  # a concurrent /forget removed the person: store them again
            self._known_users.discard(self.pseudonym(user))
            await self.db.set_mode(await self._user(user), mode)
        text = msg.MODE_SET.format(name=msg.MODE_NAMES[mode], explain=msg.MODE_EXPLAIN[mode])
        return Reply("notice", text, mode=mode)

    async def toggle_mode(self, user: UserRef) -> Reply:
        current = await self.get_mode(user)
        return await self.set_mode(user, "lift" if current == "match" else "match")

    @_vanished_is_stale
    async def song_feedback(self, user: UserRef, message_id: int, song_key: str, liked: bool) -> Reply:
        uid, problem = await self._owned(user, message_id)
        if problem:
            return problem
        shown = await self.db.shown_for_message(message_id)
        message = await self._message(message_id)  # a concurrent /forget may have removed both
        if song_key not in shown:
            return Reply("rejected", "이 메시지에서 추천한 노래가 아니에요.")
        await self.db.set_feedback(uid, song_key, message.corrected or message.label, liked)
        return Reply("notice", msg.FEEDBACK_LIKE if liked else msg.FEEDBACK_DISLIKE, message_id=message_id)

    async def privacy(self, user: UserRef) -> Reply:
        summary = await self.db.user_summary(self.pseudonym(user))
        counts = msg.PRIVACY_COUNTS.format(
            messages=summary.get("messages", 0), corrections=summary.get("corrections", 0),
            songs=summary.get("shown_songs", 0), feedback=summary.get("feedback", 0),
        )
        return Reply("notice", f"{msg.PRIVACY}\n{counts}")

    async def forget(self, user: UserRef) -> Reply:
        self._known_users.discard(self.pseudonym(user))
        deleted = await self.db.delete_user(self.pseudonym(user))
        if not any(deleted.values()):
            return Reply("notice", msg.NOTHING_STORED)
        return Reply(
            "notice",
            msg.FORGOTTEN.format(
                messages=deleted.get("messages", 0), corrections=deleted.get("corrections", 0),
                songs=deleted.get("shown_songs", 0), feedback=deleted.get("feedback", 0),
            ),
        )

    # -- helpers --------------------------------------------------------------------------
    async def check_owned(self, user: UserRef, message_id: int) -> Reply | None:
        """None when the message exists and is this person's; else the "rejected" reply to show."""
        message = await self.db.get_message(message_id)
        if message is None:
            return Reply("rejected", msg.STALE)
        if message.user_id != self.pseudonym(user):
            return Reply("rejected", msg.FOREIGN)
        return None

    async def _owned(self, user: UserRef, message_id: int) -> tuple[str, Reply | None]:
        return self.pseudonym(user), await self.check_owned(user, message_id)

    async def _message(self, message_id: int):
        message = await self.db.get_message(message_id)
        if message is None:
            raise _Vanished(message_id)
        return message

    async def _songs(self, uid: str, message_id: int, label: str, mode: str) -> tuple[Song, ...]:
        recent = await self.db.recent_song_keys(uid, self.settings.no_repeat_window)
        exclude = set(recent) | await self.db.disliked_keys(uid)
        songs = await self.recommender.recommend(label, mode, self.settings.songs_per_reply, exclude)
        await self.db.record_shown(message_id, uid, songs)
        return tuple(songs)
