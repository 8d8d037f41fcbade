"""Turn an engine :class:`~bot.replies.Reply` into Telegram HTML and an inline keyboard."""
from __future__ import annotations

from dataclasses import dataclass
from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.replies import Reply
from bot.telegram import wording
from bot.telegram.callbacks import Action, CallbackCodec
from nlp.labels import LABELS
from recommend.types import Song

MAX_TEXT = 4096  # Telegram's limit after entity parsing


@dataclass(frozen=True)
class Rendered:
    html: str
    markup: InlineKeyboardMarkup | None = None


def text(value: str) -> str:
    """Escape plain text for Telegram HTML (only &, < and > need it outside attributes)."""
    return escape(value, quote=False)


def _song_line(number: int, song: Song) -> str:
    line = f'{number}. <a href="{escape(song.url, quote=True)}">{text(song.title)}</a> — {text(song.artist)}'
    if song.music_url:
        line += f' · <a href="{escape(song.music_url, quote=True)}">YouTube Music</a>'
    return line


def _fit(blocks: list[str]) -> str:
    """Join blocks; drop trailing song lines if the whole would pass Telegram's limit (never in practice)."""
    html = "\n\n".join(b for b in blocks if b)
    while len(html) > MAX_TEXT and "\n" in html:
        html = html.rsplit("\n", 1)[0]
    return html


def songs_block(songs: tuple[Song, ...]) -> str:
    return "\n".join(_song_line(i, s) for i, s in enumerate(songs, 1))


def notes_block(notes: tuple[str, ...]) -> str:
    return "\n".join(f"<i>※ {text(n)}</i>" for n in notes)


def correction_row(
    codec: CallbackCodec, owner: int, message_id: int, *, pick: bool = False, chosen: str | None = None
) -> list[InlineKeyboardButton]:
    return [
        InlineKeyboardButton(
            ("✅ " if label == chosen else "") + wording.tag(label),
            callback_data=codec.correct(owner, message_id, label, pick=pick),
        )
        for label in LABELS
    ]


def feedback_rows(codec: CallbackCodec, owner: int, message_id: int, songs: tuple[Song, ...]) -> list[list[InlineKeyboardButton]]:
    rows = []
    for action, thumb in ((Action.LIKE, "👍"), (Action.DISLIKE, "👎")):
        rows.append(
            [
                InlineKeyboardButton(f"{thumb} {i}", callback_data=codec.encode(action, owner, message_id, song.key))
                for i, song in enumerate(songs, 1)
            ]
        )
    return rows


def action_row(codec: CallbackCodec, owner: int, message_id: int, mode: str) -> list[InlineKeyboardButton]:
    return [
        InlineKeyboardButton(wording.MORE_SONGS_BUTTON, callback_data=codec.encode(Action.MORE, owner, message_id)),
        InlineKeyboardButton(wording.mode_button(mode), callback_data=codec.encode(Action.MODE, owner, message_id)),
    ]


def render_reply(reply: Reply, codec: CallbackCodec, owner: int) -> Rendered:
    """Render any reply for the Telegram user ``owner`` (whose buttons these will be)."""
    main = text(reply.text)
    notes = notes_block(reply.notes)
    mid = reply.message_id
    if reply.kind == "emotion":
        rows: list[list[InlineKeyboardButton]] = []
        if mid is not None and reply.choices:
            rows.append(correction_row(codec, owner, mid, chosen=reply.label if reply.corrected else None))
        if mid is not None and reply.songs:
            rows.extend(feedback_rows(codec, owner, mid, reply.songs))
            rows.append(action_row(codec, owner, mid, reply.mode or "match"))
        return Rendered(_fit([main, songs_block(reply.songs), notes]), InlineKeyboardMarkup(rows) if rows else None)
    if reply.kind == "unsure":
        markup = None
        if mid is not None and reply.choices:
            markup = InlineKeyboardMarkup([correction_row(codec, owner, mid, pick=True)])
        return Rendered(_fit([main, notes]), markup)
    if reply.kind == "crisis":
        # care and helplines first; songs after; no buttons that could feel dismissive
        return Rendered(_fit([main, songs_block(reply.songs), notes]))
    return Rendered(_fit([main, notes]))


def render_corrected_original(reply: Reply, codec: CallbackCodec, owner: int, *, picked: bool) -> Rendered:
    """The original message after a correction: what changed, and the buttons to change it again."""
    chosen = reply.label or LABELS[0]
    if picked:
        said = wording.picked_original(chosen)
    else:
        scores = dict(reply.scores)
        original = max(scores, key=lambda k: scores[k]) if scores else None
        said = wording.corrected_original(original, scores.get(original) if original else None, chosen)
    assert reply.message_id is not None
    row = correction_row(codec, owner, reply.message_id, pick=picked, chosen=chosen)
    return Rendered(text(said), InlineKeyboardMarkup([row]))


def forget_confirmation(codec: CallbackCodec, owner: int) -> Rendered:
    markup = InlineKeyboardMarkup(
        [[
            InlineKeyboardButton(wording.FORGET_YES, callback_data=codec.encode(Action.FORGET, owner)),
            InlineKeyboardButton(wording.FORGET_NO, callback_data=codec.encode(Action.KEEP, owner)),
        ]]
    )
    return Rendered(text(wording.FORGET_CONFIRM), markup)


def with_mode(markup: InlineKeyboardMarkup | None, codec: CallbackCodec, mode: str) -> InlineKeyboardMarkup | None:
    """The same keyboard with the mode button relabelled (after a toggle)."""
    if markup is None:
        return None
    rows = []
    changed = False
    for row in markup.inline_keyboard:
        new_row = []
        for button in row:
            data = button.callback_data if isinstance(button.callback_data, str) else None
            if data and data.split(":")[3:4] == [Action.MODE.value]:
                button = InlineKeyboardButton(wording.mode_button(mode), callback_data=data)
                changed = True
            new_row.append(button)
        rows.append(new_row)
    return InlineKeyboardMarkup(rows) if changed else None
