"""Loaders, cleaning, deduplication and the leak-free split (synthetic files only)."""
from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import openpyxl
import pytest

from nlp.data import (
    DataError,
    Example,
    clean_kin_title,
    load_chat_examples,
    load_corrections,
    load_labelled,
    near_duplicate_groups,
    normalise_key,
    remove_overlap,
    split_examples,
    unlabelled_texts,
)
from nlp.labels import LABELS


def _xlsx(path: Path, rows: list[tuple]) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(list(row))
    book.save(path)


@pytest.fixture()
def data_dir(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    seed = root / "seed_kin"
    seed.mkdir(parents=True)
    _xlsx(seed / "happy.xlsx", [("오늘 너무 행복하다", 0), ("기분 좋은 하루... ", 0), ("오늘 너무 행복하다!!", 0)])
    _xlsx(seed / "unstable.xlsx", [("시험 때문에 불안해요", "1"), ("내공 50 너무 불안해요", "1")])
    _xlsx(seed / "sad.xlsx", [("너무 슬퍼요 흑흑", "2")])
    _xlsx(seed / "angry.xlsx", [("진짜 화나요", "3"), (None, None)])
    kote = root / "kote"
    kote.mkdir()
    # 42 기쁨 -> joy; 6 화남/분노 + 22 짜증 -> anger; 42 + 6 -> two classes: dropped; 24 없음 -> dropped
    (kote / "val.tsv").write_text(
        "1\t정말 기쁜 소식이네요\t42,1\n2\t짜증나게 하네\t6,22,0\n3\t기쁜데 화나\t42,6\n4\t그냥 그래\t24\n",
        encoding="utf-8",
    )
    go = root / "goemotions_ko"
    go.mkdir()
    names = ["admiration", "amusement", "anger", "annoyance", "fear", "grief", "joy", "nervousness", "sadness", "neutral"]
    (go / "label.txt").write_text("\n".join(names) + "\n", encoding="utf-8")
    (go / "train.tsv").write_text("무서운 밤이었다\t4\n정말 재밌다\t1,6\n중립 문장\t9\n", encoding="utf-8")
    (go / "dev.tsv").write_text("너무 슬프다\t8,5\n", encoding="utf-8")
    (go / "test.tsv").write_text("화가 난다\t2,4\n", encoding="utf-8")  # anger + fear -> dropped
    chatbot = root / "chatbot_data"
    chatbot.mkdir()
    with (chatbot / "ChatbotData.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Q", "A", "label"])
        writer.writerow(["헤어졌어", "힘내세요", "1"])
    nsmc = root / "nsmc"
    nsmc.mkdir()
    with gzip.open(nsmc / "reviews.tsv.gz", "wt", encoding="utf-8") as handle:
        handle.write("rating\treview\n10\t최고의 영화\n1\t시간 아까움\n")
    return root


def test_load_labelled_maps_cleans_and_dedups(data_dir: Path) -> None:
    rows = load_labelled(data_dir)
    by_text = {ex.text: ex for ex in rows}
    assert all(ex.label in LABELS for ex in rows)
    # exact duplicate after normalisation ("!!" differs only in punctuation) kept once
    assert sum(1 for ex in rows if normalise_key(ex.text) == normalise_key("오늘 너무 행복하다")) == 1
    assert by_text["기분 좋은 하루"].source == "seed_kin"  # truncation "... " removed
    assert by_text["너무 불안해요"].label == "anxiety"  # "내공 50" removed
    assert by_text["정말 기쁜 소식이네요"].label == "joy"
    assert by_text["짜증나게 하네"].label == "anger"
    assert "기쁜데 화나" not in by_text and "그냥 그래" not in by_text
    assert by_text["무서운 밤이었다"].label == "anxiety"
    assert by_text["정말 재밌다"].label == "joy"
    assert by_text["너무 슬프다"].label == "sadness"
    assert "화가 난다" not in by_text and "중립 문장" not in by_text
    assert {ex.source for ex in rows} == {"seed_kin", "kote", "goemotions_ko"}
    only_kote = load_labelled(data_dir, ["kote"])
    assert {ex.source for ex in only_kote} == {"kote"} and len(only_kote) == 2


def test_conflicting_duplicates_are_dropped() -> None:
    from nlp.data import deduplicate

    rows = deduplicate([Example("짜증나!", "anger", "a"), Example("짜증나", "joy", "b"), Example("좋아", "joy", "a")])
    assert [ex.text for ex in rows] == ["좋아"]


def test_missing_data_dir_is_a_user_facing_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="폴더"):
        load_labelled(tmp_path / "nope")
    (tmp_path / "kote").mkdir()
    with pytest.raises(DataError, match="seed_kin"):
        load_labelled(tmp_path, ["seed_kin"])
    with pytest.raises(DataError, match="알 수 없는"):
        load_labelled(tmp_path, ["imdb"])


def test_clean_and_normalise() -> None:
    assert clean_kin_title("  외롭다... 쓸쓸하고 엿같은 세상... ") == "외롭다... 쓸쓸하고 엿같은 세상"
    assert normalise_key("ㅋㅋㅋㅋㅋ 진짜 웃겨!!!!") == normalise_key("ㅋㅋ진짜 웃겨")
    assert normalise_key("Hello, World...") == "helloworld"


def test_load_chat_examples(tmp_path: Path) -> None:
    path = tmp_path / "chat.tsv"
    path.write_text("text\tlabel\n# 주석\n내일 면접인데 잠이 안 와\tanxiety\n\n오늘 최고였어!!\t기쁨\n", encoding="utf-8")
    rows = load_chat_examples(path)
    assert rows == [Example("내일 면접인데 잠이 안 와", "anxiety", "chat"), Example("오늘 최고였어!!", "joy", "chat")]
    path.write_text("좋아\tsurprise\n", encoding="utf-8")
    with pytest.raises(DataError, match="1번째 줄"):
        load_chat_examples(path)
    with pytest.raises(DataError):
        load_chat_examples(tmp_path / "missing.tsv")


def test_load_corrections_jsonl_and_csv(tmp_path: Path) -> None:
    jsonl = tmp_path / "corrections.jsonl"
    records = [
        {"text": "너무 억울해", "predicted": "sadness", "corrected": "anger", "created_at": "2024-01-01"},
        {"text": "몰라", "predicted": "joy", "corrected": None},
        {"text": "괜찮아", "predicted": "joy", "corrected": "슬픔"},
    ]
    jsonl.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n", encoding="utf-8")
    assert load_corrections(jsonl) == [
        Example("너무 억울해", "anger", "corrections"),
        Example("괜찮아", "sadness", "corrections"),
    ]
    csv_path = tmp_path / "corrections.csv"
    with csv_path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["text", "predicted", "corrected"])
        writer.writeheader()
        writer.writerow({"text": "걱정돼, 정말로", "predicted": "sadness", "corrected": "anxiety"})
    assert load_corrections(csv_path) == [Example("걱정돼, 정말로", "anxiety", "corrections")]
    csv_path.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(DataError, match="corrected"):
        load_corrections(csv_path)


def test_near_duplicate_groups_link_truncations_and_variants() -> None:
    texts = [
        "MC The Max 그대는 눈물겹다 노래",
        "mc the max - 그대는 눈물겹다",
        "시험 때문에 너무 불안하고 잠이 안 와요 어떻게",
        "시험 때문에 너무 불안하고 잠이 안 와요 어떻게 하죠",
        "완전히 다른 문장",
    ]
    groups = near_duplicate_groups(texts)
    assert groups[0] == groups[1]
    assert groups[2] == groups[3]
    assert len({groups[0], groups[2], groups[4]}) == 3


def _synthetic(n: int) -> list[Example]:
    words = ["사과", "바다", "하늘", "기차", "구름", "연필", "창문", "우산", "시계", "나무", "별빛", "바람"]
    out = []
    for i in range(n):
        a, b, c = words[i % 12], words[(i // 12) % 12], words[(i // 144) % 12]
        base = f"{a} {b} {c} 번호{i}"
        out.append(Example(base, LABELS[i % 4], "synthetic"))
        if i % 5 == 0:  # near-duplicates: truncated copy and a punctuation variant
            out.append(Example(base[:-1] + "...", LABELS[i % 4], "synthetic"))
            out.append(Example(base + "!!", LABELS[i % 4], "synthetic"))
    return out


def test_split_is_deterministic_and_has_no_near_duplicate_leakage() -> None:
    rows = _synthetic(600) + [Example("사과 바다 하늘 번호3 대화", "joy", "chat")]
    train, val, test = split_examples(rows, seed=13)
    assert len(train) + len(val) + len(test) == len(rows)
    assert 0.05 < len(test) / len(rows) < 0.15 and 0.05 < len(val) / len(rows) < 0.15
    again = split_examples(list(reversed(rows)), seed=13)
    assert {ex.text for ex in again[2]} == {ex.text for ex in test}
    assert {ex.text for ex in split_examples(rows, seed=14)[2]} != {ex.text for ex in test}
    groups = near_duplicate_groups([ex.text for ex in rows])
    side = {}
    for ex, g in zip(rows, groups):
        name = "train" if ex in train else "val" if ex in val else "test"
        assert side.setdefault(g, name) == name, f"group of {ex.text!r} straddles the split"
    assert all(ex.source != "chat" for ex in val + test)


def test_remove_overlap_drops_near_duplicates_of_held_out() -> None:
    rows = [Example("내일 면접인데 잠이 안 와요", "anxiety", "chat"), Example("오늘 정말 행복해", "joy", "chat")]
    kept = remove_overlap(rows, ["내일 면접인데 잠이 안 와"])
    assert kept == [rows[1]]


def test_unlabelled_texts(data_dir: Path) -> None:
    texts = list(unlabelled_texts(data_dir))
    assert texts[:2] == ["최고의 영화", "시간 아까움"]
    assert "헤어졌어" in texts and "힘내세요" not in texts
    assert "그냥 그래" in texts  # unlabelled rows of labelled sets count too
    assert "너무 슬퍼요 흑흑" in texts


def test_chat_folder_loads_every_train_file_and_never_the_test_file(tmp_path):
    from nlp.data import load_chat_examples

    (tmp_path / "train.tsv").write_text("합격했다!!\tjoy\n", encoding="utf-8")
    (tmp_path / "train_extra.tsv").write_text("내일 발표 떨려\t불안\n", encoding="utf-8")
    (tmp_path / "test.tsv").write_text("시험 망했어\tsadness\n", encoding="utf-8")
    examples = load_chat_examples(tmp_path)
    assert sorted((e.text, e.label) for e in examples) == [("내일 발표 떨려", "anxiety"), ("합격했다!!", "joy")]


def test_shipped_training_text_never_near_duplicates_a_held_out_set():
    """The repo's own chat training files, after the trainer's overlap removal, share no
    near-duplicate group with data/chat/test.tsv or any data/eval/*.tsv."""
    from nlp.data import load_chat_examples, near_duplicate_groups, remove_overlap
    from nlp.train_baseline import DEFAULT_CHAT_TEST, DEFAULT_CHAT_TRAIN, held_out_eval_examples

    train = load_chat_examples(DEFAULT_CHAT_TRAIN)
    held = [ex.text for ex in load_chat_examples(DEFAULT_CHAT_TEST)] + [ex.text for ex in held_out_eval_examples()]
    assert len(held) >= 700
    kept = remove_overlap(train, held)
    assert len(kept) < len(train)  # some stock phrases ("우울해...") do coincide and must go
    groups = near_duplicate_groups([ex.text for ex in kept] + held)
    assert not set(groups[: len(kept)]) & set(groups[len(kept):])
