"""Loading Maeum's labelled and unlabelled Korean text, and splitting it without leakage.

The open data lives outside the repository (``--data ../shared/data``, read-only; see its
README.md). Every loader returns :class:`Example` rows whose ``label`` is one of
:data:`nlp.labels.LABELS`. :func:`load_labelled` maps the public sets onto the four classes,
cleans the text and drops exact duplicates (after normalisation); :func:`split_examples`
groups near-duplicates so that a group never straddles train / validation / test.

The split is a pure function of the texts and the seed, so the held-out test set can be
rebuilt at any time from the same data (no copy of the data is written anywhere).
"""
from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import logging
import re
import unicodedata
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator, Sequence

from nlp.labels import LABELS, parse_label

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

#: sources that :func:`load_labelled` knows, in load order
OPEN_SOURCES: tuple[str, ...] = ("seed_kin", "kote", "goemotions_ko")
#: sources that only ever go to the training side of a split
TRAIN_ONLY_SOURCES: frozenset[str] = frozenset({"chat", "corrections"})


class DataError(Exception):
    """The data path is missing, unreadable or malformed (the message is user-facing Korean)."""


@dataclass(frozen=True)
class Example:
    text: str
    label: str  # one of LABELS
    source: str  # "seed_kin", "kote", "goemotions_ko", "chat", "corrections", ...


# --------------------------------------------------------------------------- text cleaning

_WHITESPACE = re.compile(r"\s+")
_CONTROL = re.compile(r"[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b-\u200f\ufeff]")
#: Naver shows long question titles cut off as "앞부분... " (dots, then a trailing space)
_TRUNCATION = re.compile(r"\s*(?:\.{3,}|…)\s*$")
_NON_WORD = re.compile(r"[\W_]+")
_REPEAT = re.compile(r"(.)\1{2,}")
#: "내공 50", "내공50", "(내공)" : Naver point offers, noise in question titles
_NAEGONG = re.compile(r"\(?\s*내공\s*\d*\s*(?:걸고|드림|드려요|겁니다)?\s*\)?")


def clean_text(text: str) -> str:
    """NFC, no control characters, single spaces, stripped. Keeps the words as written."""
    text = unicodedata.normalize("NFC", str(text))
    text = _CONTROL.sub("", text)
    return _WHITESPACE.sub(" ", text).strip()


def clean_kin_title(text: str) -> str:
    """A 지식iN title without the truncation ellipsis and point offers."""
    text = clean_text(text)
    text = _NAEGONG.sub(" ", text)
    text = _TRUNCATION.sub("", text)
    return _WHITESPACE.sub(" ", text).strip()


def normalise_key(text: str) -> str:
    """The comparison key for duplicates: NFC, lowercase, no trailing "...",
    no punctuation or whitespace, runs of 3+ equal characters collapsed to 2."""
    text = unicodedata.normalize("NFC", str(text)).lower()
    text = _TRUNCATION.sub("", text)
    text = _NON_WORD.sub("", text)
    return _REPEAT.sub(r"\1\1", text)


# --------------------------------------------------------------------------- open data sets

_SEED_FILES = {"happy.xlsx": "joy", "unstable.xlsx": "anxiety", "sad.xlsx": "sadness", "angry.xlsx": "anger"}
_SEED_IDS = {0: "joy", 1: "anxiety", 2: "sadness", 3: "anger"}

KOTE_LABELS: tuple[str, ...] = (
    "불평/불만", "환영/호의", "감동/감탄", "지긋지긋", "고마움", "슬픔", "화남/분노", "존경", "기대감",
    "우쭐댐/무시함", "안타까움/실망", "비장함", "의심/불신", "뿌듯함", "편안/쾌적", "신기함/관심",
    "아껴주는", "부끄러움", "공포/무서움", "절망", "한심함", "역겨움/징그러움", "짜증", "어이없음", "없음",
    "패배/자기혐오", "귀찮음", "힘듦/지침", "즐거움/신남", "깨달음", "죄책감", "증오/혐오",
    "흐뭇함(귀여움/예쁨)", "당황/난처", "경악", "부담/안_내킴", "서러움", "재미없음", "불쌍함/연민", "놀람",
    "행복", "불안/걱정", "기쁨", "안심/신뢰",
)
KOTE_MAP: dict[str, str] = {
    "기쁨": "joy", "행복": "joy", "즐거움/신남": "joy", "뿌듯함": "joy",
    "불안/걱정": "anxiety", "공포/무서움": "anxiety",
    "슬픔": "sadness", "서러움": "sadness", "절망": "sadness",
    "화남/분노": "anger", "짜증": "anger",
}
GOEMOTIONS_MAP: dict[str, str] = {
    "joy": "joy", "excitement": "joy", "amusement": "joy",
    "fear": "anxiety", "nervousness": "anxiety",
    "sadness": "sadness", "grief": "sadness",
    "anger": "anger", "annoyance": "anger",
}


def _require_dir(path: Path, what: str) -> Path:
    if not path.is_dir():
        raise DataError(f"{what} 폴더를 찾을 수 없습니다: {path} (--data 경로를 확인하세요)")
    return path


def _single_class(names: Iterable[str], mapping: dict[str, str]) -> str | None:
    classes = {mapping[n] for n in names if n in mapping}
    return classes.pop() if len(classes) == 1 else None


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"파일을 읽을 수 없습니다: {path} ({exc})") from exc


def load_seed_kin(folder: Path) -> list[Example]:
    try:
        import openpyxl
    except ImportError as exc:  # pragma: no cover - dependency of the project
        raise DataError("엑셀 파일을 읽으려면 openpyxl 이 필요합니다") from exc
    _require_dir(folder, "seed_kin")
    out: list[Example] = []
    for name, file_label in _SEED_FILES.items():
        path = folder / name
        if not path.is_file():
            raise DataError(f"seed_kin 파일이 없습니다: {path}")
        try:
            book = openpyxl.load_workbook(path, read_only=True, data_only=True)
            rows = list(book.worksheets[0].iter_rows(values_only=True))
            book.close()
        except Exception as exc:  # openpyxl raises many kinds for a damaged file
            raise DataError(f"엑셀 파일을 읽을 수 없습니다: {path} ({exc})") from exc
        for row in rows:
            if not row or row[0] is None:
                continue
            label = file_label
            if len(row) > 1 and row[1] is not None:
                try:
                    label = _SEED_IDS.get(int(str(row[1]).strip()), file_label)
                except ValueError:
                    pass
            text = clean_kin_title(str(row[0]))
            if text:
                out.append(Example(text, label, "seed_kin"))
    return out


def load_kote(folder: Path) -> list[Example]:
    _require_dir(folder, "kote")
    out: list[Example] = []
    for path in sorted(folder.glob("*.tsv")):
        for line in _read_lines(path):
            parts = line.split("\t")
            if len(parts) < 3:
                continue
            try:
                names = [KOTE_LABELS[int(i)] for i in parts[2].split(",") if i.strip()]
            except (ValueError, IndexError):
                continue
            label = _single_class(names, KOTE_MAP)
            text = clean_text(parts[1])
            if label and text:
                out.append(Example(text, label, "kote"))
    return out


def load_goemotions_ko(folder: Path) -> list[Example]:
    _require_dir(folder, "goemotions_ko")
    names_file = folder / "label.txt"
    if not names_file.is_file():
        raise DataError(f"goemotions_ko 라벨 목록이 없습니다: {names_file}")
    names = [n.strip() for n in _read_lines(names_file) if n.strip()]
    out: list[Example] = []
    for split in ("train", "dev", "test"):
        path = folder / f"{split}.tsv"
        if not path.is_file():
            continue
        for line in _read_lines(path):
            parts = line.split("\t")
            if len(parts) < 2:
                continue
            try:
                row_names = [names[int(i)] for i in parts[1].split(",") if i.strip()]
            except (ValueError, IndexError):
                continue
            label = _single_class(row_names, GOEMOTIONS_MAP)
            text = clean_text(parts[0])
            if label and text:
                out.append(Example(text, label, "goemotions_ko"))
    return out


_LOADERS = {"seed_kin": load_seed_kin, "kote": load_kote, "goemotions_ko": load_goemotions_ko}


def deduplicate(examples: Iterable[Example]) -> list[Example]:
    """Keep the first example of each normalised text; drop texts whose copies disagree on
    the label (they teach nothing but noise). Empty keys (punctuation only) are dropped."""
    groups: dict[str, list[Example]] = defaultdict(list)
    for ex in examples:
        key = normalise_key(ex.text)
        if key:
            groups[key].append(ex)
    out: list[Example] = []
    conflicts = 0
    for members in groups.values():
        if len({m.label for m in members}) == 1:
            out.append(members[0])
        else:
            conflicts += 1
    if conflicts:
        log.info("dropped %d texts whose duplicates carry different labels", conflicts)
    return out


def load_labelled(data_dir: Path, sources: Iterable[str] | None = None) -> list[Example]:
    """The open labelled sets mapped onto LABELS, cleaned and exact-deduplicated.

    ``sources`` picks among :data:`OPEN_SOURCES` (default: all of them)."""
    data_dir = _require_dir(Path(data_dir), "데이터")
    wanted = list(OPEN_SOURCES if sources is None else sources)
    unknown = [s for s in wanted if s not in _LOADERS]
    if unknown:
        raise DataError(f"알 수 없는 데이터 출처: {', '.join(unknown)} (가능: {', '.join(OPEN_SOURCES)})")
    rows: list[Example] = []
    for source in wanted:
        loaded = _LOADERS[source](data_dir / source)
        log.info("loaded %d mapped rows from %s", len(loaded), source)
        rows.extend(loaded)
    return deduplicate(rows)


# --------------------------------------------------------------------------- our own files

def _label_or_error(raw: str, path: Path, where: str) -> str:
    label = parse_label(raw)
    if label is None:
        raise DataError(
            f"{path} {where}: 알 수 없는 감정 라벨 '{raw.strip()}' "
            f"(가능: {', '.join(LABELS)} 또는 기쁨/불안/슬픔/분노)"
        )
    return label


def load_chat_examples(path: Path, source: str = "chat") -> list[Example]:
    """TSV ``text<TAB>label``; the label may be English or Korean. Blank lines, lines starting
    with ``#`` and a ``text<TAB>label`` header are skipped. A folder means every ``train*.tsv``
    in it (e.g. ``data/chat``: ``train.tsv`` and ``train_extra.tsv``), never its test files."""
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("train*.tsv"))
        if not files:
            raise DataError(f"{path} 에 train*.tsv 파일이 없습니다")
        return [ex for file in files for ex in load_chat_examples(file, source)]
    if not path.is_file():
        raise DataError(f"파일을 찾을 수 없습니다: {path}")
    out: list[Example] = []
    for number, line in enumerate(_read_lines(path), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if "\t" not in line:
            raise DataError(f"{path} {number}번째 줄: '문장<TAB>라벨' 형식이 아닙니다")
        text, raw_label = line.rsplit("\t", 1)
        if number == 1 and raw_label.strip().lower() in {"label", "라벨", "감정"}:
            continue
        label = _label_or_error(raw_label, path, f"{number}번째 줄")
        text = clean_text(text)
        if text:
            out.append(Example(text, label, source))
    return out


def load_corrections(path: Path) -> list[Example]:
    """Corrections exported by ``maeum export corrections`` (JSONL or CSV with at least the
    fields ``text`` and ``corrected``); the corrected label is the target."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"교정 데이터 파일을 찾을 수 없습니다: {path}")
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"파일을 읽을 수 없습니다: {path} ({exc})") from exc
    records: list[tuple[str, dict]] = []
    if raw.lstrip().startswith("{") or path.suffix.lower() in {".jsonl", ".json", ".ndjson"}:
        for number, line in enumerate(raw.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as exc:
                raise DataError(f"{path} {number}번째 줄: JSON 형식이 아닙니다 ({exc})") from exc
            if not isinstance(record, dict):
                raise DataError(f"{path} {number}번째 줄: JSON 객체가 아닙니다")
            records.append((f"{number}번째 줄", record))
    else:
        reader = csv.DictReader(io.StringIO(raw))
        if not reader.fieldnames or "text" not in reader.fieldnames or "corrected" not in reader.fieldnames:
            raise DataError(f"{path}: CSV 머리글에 text 와 corrected 열이 있어야 합니다")
        for number, record in enumerate(reader, start=2):
            records.append((f"{number}번째 줄", record))
    out: list[Example] = []
    for where, record in records:
        corrected = record.get("corrected")
        text = clean_text(record.get("text") or "")
        if not text or corrected is None or not str(corrected).strip():
            continue
        out.append(Example(text, _label_or_error(str(corrected), path, where), "corrections"))
    return out


# --------------------------------------------------------------------------- splitting

#: texts whose normalised form is at least this long are also grouped by their first
#: PREFIX_CHARS characters (truncated titles and templated near-duplicates)
PREFIX_CHARS = 12
#: two texts whose character-trigram sets overlap at least this much (Jaccard) are grouped
JACCARD_THRESHOLD = 0.6
_MINHASH_BANDS, _MINHASH_ROWS = 8, 2
_MAX_BUCKET_CHECKS = 30
_PRIME = (1 << 61) - 1


class _UnionFind:
    def __init__(self, size: int) -> None:
        self.parent = list(range(size))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _shingles(key: str) -> frozenset[str]:
    if len(key) <= 3:
        return frozenset([key])
    return frozenset(key[i : i + 3] for i in range(len(key) - 2))


def _minhash_signatures(shingle_sets: Sequence[frozenset[str]]) -> "np.ndarray":
    import numpy as np

    rng = np.random.default_rng(20240613)
    n_hashes = _MINHASH_BANDS * _MINHASH_ROWS
    a = rng.integers(1, 1 << 31, size=n_hashes, dtype=np.uint64)
    b = rng.integers(0, 1 << 31, size=n_hashes, dtype=np.uint64)
    signatures = np.empty((len(shingle_sets), n_hashes), dtype=np.uint64)
    for i, shingles in enumerate(shingle_sets):
        # crc32 is stable across processes (Python's hash() is salted per run)
        h = np.fromiter((zlib.crc32(s.encode("utf-8")) for s in shingles), dtype=np.uint64)
        # values stay below 2**63: a, b < 2**31 and h < 2**32
        signatures[i] = ((a[:, None] * h[None, :] + b[:, None]) % np.uint64(_PRIME)).min(axis=1)
    return signatures


def near_duplicate_groups(texts: Sequence[str], prefix_chars: int = PREFIX_CHARS) -> list[int]:
    """A group id per text. Two texts are linked (and groups close transitively) when

    * their normalised forms are equal,
    * both normalised forms are at least ``prefix_chars`` long and share that prefix
      (titles cut off at different lengths, templated questions), or
    * their character-trigram sets have Jaccard similarity >= JACCARD_THRESHOLD
      (found with MinHash banding, then checked exactly).
    """
    keys = [normalise_key(t) for t in texts]
    uf = _UnionFind(len(texts))
    first_seen: dict[tuple[str, str], int] = {}
    for i, key in enumerate(keys):
        links = [("x", key)]
        if len(key) >= prefix_chars:
            links.append(("p", key[:prefix_chars]))
        for link in links:
            j = first_seen.setdefault(link, i)
            if j != i:
                uf.union(i, j)
    if len(texts) > 1:
        shingle_sets = [_shingles(k) for k in keys]
        signatures = _minhash_signatures(shingle_sets)
        # visit texts in normalised order so that the groups do not depend on input order
        order = sorted(range(len(texts)), key=lambda i: keys[i])
        for band in range(_MINHASH_BANDS):
            cols = signatures[:, band * _MINHASH_ROWS : (band + 1) * _MINHASH_ROWS]
            buckets: dict[bytes, list[int]] = defaultdict(list)
            for i in order:
                bucket = buckets[cols[i].tobytes()]
                for j in bucket[:_MAX_BUCKET_CHECKS]:
                    a, b = shingle_sets[i], shingle_sets[j]
                    if len(a & b) >= JACCARD_THRESHOLD * len(a | b):
                        uf.union(i, j)
                if not bucket or keys[bucket[-1]] != keys[i]:
                    bucket.append(i)
    return [uf.find(i) for i in range(len(texts))]


def _unit_hash(seed: int, key: str) -> float:
    digest = hashlib.blake2b(f"{seed}\x00{key}".encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def split_examples(
    examples: Sequence[Example],
    seed: int = 13,
    val_frac: float = 0.1,
    test_frac: float = 0.1,
    train_only_sources: Iterable[str] = TRAIN_ONLY_SOURCES,
) -> tuple[list[Example], list[Example], list[Example]]:
    """Deterministic train / validation / test split over near-duplicate groups.

    Each group goes to one side, chosen by hashing (seed, the group's smallest normalised
    text), so the split depends only on the data and the seed, and adding new rows moves
    only the groups they join. Groups that contain any example from ``train_only_sources``
    (our chat-style writing, user corrections) always go to train.
    """
    if not 0 <= val_frac < 1 or not 0 <= test_frac < 1 or val_frac + test_frac >= 1:
        raise ValueError("val_frac and test_frac must be in [0, 1) and sum to less than 1")
    examples = list(examples)
    train_only = set(train_only_sources)
    group_of = near_duplicate_groups([ex.text for ex in examples])
    members: dict[int, list[int]] = defaultdict(list)
    for i, g in enumerate(group_of):
        members[g].append(i)
    side_of_group: dict[int, int] = {}
    for g, idx in members.items():
        if any(examples[i].source in train_only for i in idx):
            side_of_group[g] = 0
            continue
        u = _unit_hash(seed, min(normalise_key(examples[i].text) for i in idx))
        side_of_group[g] = 2 if u < test_frac else 1 if u < test_frac + val_frac else 0
    sides: tuple[list[Example], list[Example], list[Example]] = ([], [], [])
    for i, ex in enumerate(examples):
        sides[side_of_group[group_of[i]]].append(ex)
    return sides


def remove_overlap(examples: Sequence[Example], held_out: Iterable[str]) -> list[Example]:
    """Drop examples that fall in the same near-duplicate group as any held-out text, so
    that e.g. data/chat/test.tsv never leaks into training."""
    examples = list(examples)
    held = list(held_out)
    if not held:
        return examples
    groups = near_duplicate_groups([ex.text for ex in examples] + held)
    banned = set(groups[len(examples) :])
    return [ex for ex, g in zip(examples, groups) if g not in banned]


def class_counts(examples: Iterable[Example]) -> dict[str, int]:
    counts = Counter(ex.label for ex in examples)
    return {label: counts.get(label, 0) for label in LABELS}


# --------------------------------------------------------------------------- unlabelled text

def nsmc_reviews(data_dir: Path) -> Iterator[str]:
    """The non-empty, cleaned movie reviews of ``nsmc/reviews.tsv.gz`` (none when absent)."""
    nsmc = Path(data_dir) / "nsmc" / "reviews.tsv.gz"
    if not nsmc.is_file():
        return
    try:
        with gzip.open(nsmc, "rt", encoding="utf-8") as handle:
            next(handle, None)  # header
            for line in handle:
                review = clean_text(line.rstrip("\n").partition("\t")[2])
                if review:
                    yield review
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise DataError(f"파일을 읽을 수 없습니다: {nsmc} ({exc})") from exc


def chatbot_questions(data_dir: Path) -> list[str]:
    """The user questions of ``chatbot_data/ChatbotData.csv`` (short first-person chat
    messages, no emotion labels), cleaned; empty when the file is absent."""
    chatbot = Path(data_dir) / "chatbot_data" / "ChatbotData.csv"
    if not chatbot.is_file():
        return []
    try:
        with chatbot.open(encoding="utf-8-sig", newline="") as handle:
            return [text for row in csv.DictReader(handle) if (text := clean_text(row.get("Q") or ""))]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"파일을 읽을 수 없습니다: {chatbot} ({exc})") from exc


def unlabelled_texts(data_dir: Path) -> Iterator[str]:
    """Korean text for tokenizer training and MLM pretraining: NSMC reviews, chatbot
    questions, then the text of every labelled set (all rows, any label or none)."""
    data_dir = _require_dir(Path(data_dir), "데이터")
    yield from nsmc_reviews(data_dir)
    yield from chatbot_questions(data_dir)
    kote = data_dir / "kote"
    if kote.is_dir():
        for path in sorted(kote.glob("*.tsv")):
            for line in _read_lines(path):
                parts = line.split("\t")
                if len(parts) >= 2 and clean_text(parts[1]):
                    yield clean_text(parts[1])
    goemotions = data_dir / "goemotions_ko"
    if goemotions.is_dir():
        for split in ("train", "dev", "test"):
            path = goemotions / f"{split}.tsv"
            if path.is_file():
                for line in _read_lines(path):
                    text = clean_text(line.split("\t", 1)[0])
                    if text:
                        yield text
    if (data_dir / "seed_kin").is_dir():
        for ex in load_seed_kin(data_dir / "seed_kin"):
            yield ex.text
