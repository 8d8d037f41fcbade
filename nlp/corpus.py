"""The unlabelled Korean corpus for tokenizer training and MLM pretraining.

Texts come from :func:`nlp.data.unlabelled_texts` (NSMC reviews, chatbot questions, the text
of the labelled sets; never ``data/chat/test.tsv``). They are exact-deduplicated, the
non-review texts (closer to what people write to a chatbot) may be repeated, and the result
is shuffled with a seed and written one text per line to a generated file outside the repo.
"""
from __future__ import annotations

import json
import random
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Collection, Iterator

from nlp.data import clean_text, normalise_key, nsmc_reviews, unlabelled_texts

_NEWLINES = re.compile(r"[\r\n\u2028\u2029]+")


@dataclass(frozen=True)
class CorpusStats:
    texts: int  # lines written (after dedup and repeats)
    unique_texts: int
    review_texts: int
    other_texts: int
    characters: int
    excluded_texts: int = 0  # held-out evaluation texts left out

    def to_dict(self) -> dict:
        return asdict(self)


def iter_unlabelled(data_dir: Path) -> Iterator[tuple[int, str]]:
    """(position in :func:`unlabelled_texts`, cleaned single-line text); empty texts skipped."""
    for i, text in enumerate(unlabelled_texts(Path(data_dir))):
        text = clean_text(_NEWLINES.sub(" ", text))
        if text:
            yield i, text


def build_corpus(
    data_dir: Path, out_path: Path, *, seed: int = 13, repeat_other: int = 2, min_chars: int = 2,
    exclude: Collection[str] = frozenset(),
) -> CorpusStats:
    """Write the deduplicated, shuffled corpus to ``out_path`` (UTF-8, one text per line).

    NSMC reviews come first in :func:`unlabelled_texts`; every text after them (chatbot
    questions and labelled-set text) is written ``repeat_other`` times. A text whose
    :func:`nlp.data.normalise_key` is in ``exclude`` is left out."""
    seen: set[str] = set()
    excluded = 0
    reviews: list[str] = []
    others: list[str] = []
    review_count = sum(1 for _ in nsmc_reviews(data_dir))  # the first texts unlabelled_texts yields
    for i, text in iter_unlabelled(data_dir):
        if len(text) < min_chars or text in seen:
            continue
        seen.add(text)
        if exclude and normalise_key(text) in exclude:
            excluded += 1
            continue
        (reviews if i < review_count else others).append(text)
    lines = reviews + others * max(repeat_other, 1)
    random.Random(seed).shuffle(lines)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        for line in lines:
            handle.write(line + "\n")
    tmp.replace(out_path)
    stats = CorpusStats(
        texts=len(lines),
        unique_texts=len(seen),
        review_texts=len(reviews),
        other_texts=len(others),
        characters=sum(len(t) for t in lines),
        excluded_texts=excluded,
    )
    out_path.with_suffix(".json").write_text(json.dumps(stats.to_dict(), indent=2) + "\n", encoding="utf-8")
    return stats


def read_corpus(path: Path) -> list[str]:
    with Path(path).open(encoding="utf-8") as handle:
        return [line.rstrip("\n") for line in handle if line.strip()]


def load_stats(path: Path) -> CorpusStats | None:
    meta = Path(path).with_suffix(".json")
    if not meta.is_file():
        return None
    return CorpusStats(**json.loads(meta.read_text(encoding="utf-8")))
