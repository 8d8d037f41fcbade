"""The SentencePiece BERT tokenizer: identical to raw SentencePiece, KoBERT special-token
layout, and no Hangul lost to [UNK] (the NFKD pitfall of AutoTokenizer/XLNetTokenizer)."""
from __future__ import annotations

import itertools
import random
import unicodedata
from pathlib import Path

import pytest
import sentencepiece as spm
import torch

from nlp.tokenization import SPECIAL_TOKENS, SentencePieceBertTokenizer, TokenizerError, train_sentencepiece

SUBJECTS = ["나는", "오늘 나", "우리 엄마가", "친구가", "동생이", "회사 팀장님이", "남자친구가", "강아지가", "선생님이", "우리 가족은"]
EVENTS = [
    "시험에 합격했어", "발표를 망쳤어", "약속을 또 어겼어", "무지개다리를 건넜어", "선물을 보내줬어",
    "연락을 안 받아", "면접 결과를 기다리고 있어", "갑자기 소리를 질렀어", "생일을 축하해줬어", "이사를 간대",
]
FEELINGS = [
    "너무 행복해", "진짜 불안해", "마음이 너무 아파", "어이가 없어서 화가 나", "기분이 좋아서 춤추고 싶어",
    "잠이 안 올 것 같아", "눈물이 계속 나", "짜증나 죽겠어", "설레서 미치겠다", "걱정돼서 아무것도 못 하겠어",
]
TAILS = ["", "ㅠㅠ", "ㅋㅋㅋ", "!!", "...", " 😢", " 진짜로", "?", " 하하", " 2024년 3월에"]


def korean_sentences(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    combos = list(itertools.product(SUBJECTS, EVENTS, FEELINGS))
    rng.shuffle(combos)
    return [f"{s} {e} {f}{rng.choice(TAILS)}" for s, e, f in combos[:n]]


@pytest.fixture(scope="module")
def spm_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("kobert_like")
    train_sentencepiece(korean_sentences(1000, seed=1), folder / "spiece", vocab_size=400, input_sentence_size=0, seed=3)
    return folder


def test_special_token_layout_matches_kobert(spm_dir: Path) -> None:
    tok = SentencePieceBertTokenizer.from_dir(spm_dir)
    assert [tok.sp.id_to_piece(i) for i in range(5)] == list(SPECIAL_TOKENS)
    assert (tok.unk_token_id, tok.pad_token_id, tok.cls_token_id, tok.sep_token_id, tok.mask_token_id) == (0, 1, 2, 3, 4)


def test_matches_raw_sentencepiece_on_hundreds_of_sentences(spm_dir: Path) -> None:
    tok = SentencePieceBertTokenizer.from_dir(spm_dir)
    raw = spm.SentencePieceProcessor(model_file=str(spm_dir / "spiece.model"))
    sentences = korean_sentences(600, seed=11)
    assert len(set(sentences)) == 600
    for s in sentences:
        pieces = raw.encode(s, out_type=str)
        assert tok.tokenize(s) == pieces
        assert tok.convert_tokens_to_ids(pieces) == raw.encode(s)
        assert tok.encode(s) == [2, *raw.encode(s), 3]
    batch = tok(sentences[:50], max_length=128, return_tensors="pt")
    for row, mask, s in zip(batch["input_ids"], batch["attention_mask"], sentences[:50]):
        n = int(mask.sum())
        assert row[:n].tolist() == [2, *raw.encode(s), 3]
        assert row[n:].tolist() == [1] * (len(row) - n)


def test_hangul_never_becomes_unk(spm_dir: Path) -> None:
    tok = SentencePieceBertTokenizer.from_dir(spm_dir)
    for s in korean_sentences(300, seed=5):
        hangul_pieces = [(p, i) for p, i in zip(tok.tokenize(s), tok.encode(s, add_special_tokens=False))
                         if any("\uac00" <= ch <= "\ud7a3" for ch in p)]
        assert hangul_pieces
        assert all(i != tok.unk_token_id for _, i in hangul_pieces), s


def test_nfkd_pitfall_is_avoided(spm_dir: Path) -> None:
    """NFKD splits syllables into conjoining jamo that the vocabulary does not contain: looked
    up without SentencePiece's own normaliser (what a NFKD-normalising fast tokenizer does)
    they are [UNK]. Our path hands the text to SentencePiece untouched, and even text that
    arrives decomposed (NFD, e.g. from macOS) is recomposed by SentencePiece's NFKC rule."""
    tok = SentencePieceBertTokenizer.from_dir(spm_dir)
    text = "오늘 시험에 합격했어 너무 행복해"
    jamo = [ch for ch in unicodedata.normalize("NFKD", text) if not ch.isspace()]
    assert all(tok.sp.piece_to_id(ch) == tok.unk_token_id for ch in jamo)
    ids = tok.encode(text, add_special_tokens=False)
    assert tok.unk_token_id not in ids
    assert tok.encode(unicodedata.normalize("NFD", text)) == tok.encode(text)


def test_padding_truncation_and_masks(spm_dir: Path) -> None:
    tok = SentencePieceBertTokenizer.from_dir(spm_dir, max_length=8)
    long_text = " ".join(korean_sentences(5))
    enc = tok([long_text, "행복해"], return_tensors="pt")
    assert enc["input_ids"].shape == (2, 8)
    assert enc["input_ids"].dtype == torch.long
    assert enc["input_ids"][0, 0] == 2 and enc["input_ids"][0, -1] == 3
    assert enc["attention_mask"][1].tolist() == [1] * int(enc["attention_mask"][1].sum()) + [0] * (8 - int(enc["attention_mask"][1].sum()))
    fixed = tok(["행복해"], padding="max_length", max_length=12)
    assert fixed["input_ids"].shape == (1, 12)
    assert torch.equal(fixed["token_type_ids"], torch.zeros(1, 12, dtype=torch.long))
    lists = tok(["행복해", long_text], padding=False, return_tensors=None)
    assert len(lists["input_ids"][1]) == 8 and lists["input_ids"][0][-1] == 3


def test_user_typed_mask_is_not_the_mask_token(spm_dir: Path) -> None:
    tok = SentencePieceBertTokenizer.from_dir(spm_dir)
    assert tok.mask_token_id not in tok.encode("[MASK] 이건 그냥 글자야", add_special_tokens=False)


def test_monologg_layout_with_vocab_txt(spm_dir: Path, tmp_path: Path) -> None:
    """monologg/kobert ships ``tokenizer_78b3253a26.model`` + ``vocab.txt``: ids come from vocab.txt."""
    raw = spm.SentencePieceProcessor(model_file=str(spm_dir / "spiece.model"))
    pieces = [raw.id_to_piece(i) for i in range(raw.get_piece_size())]
    reordered = list(SPECIAL_TOKENS) + list(reversed(pieces[5:]))
    (tmp_path / "tokenizer_78b3253a26.model").write_bytes((spm_dir / "spiece.model").read_bytes())
    (tmp_path / "vocab.txt").write_text("\n".join(reordered) + "\n", encoding="utf-8")
    tok = SentencePieceBertTokenizer.from_dir(tmp_path)
    index = {p: i for i, p in enumerate(reordered)}
    for s in korean_sentences(50, seed=9):
        assert tok.encode(s) == [2, *[index.get(p, 0) for p in raw.encode(s, out_type=str)], 3]
    tok.save_pretrained(tmp_path / "copy")
    again = SentencePieceBertTokenizer.from_dir(tmp_path / "copy")
    assert again.encode("너무 행복해") == tok.encode("너무 행복해")


def test_model_without_special_pieces_is_rejected(tmp_path: Path) -> None:
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(korean_sentences(300)), model_prefix=str(tmp_path / "spiece"), vocab_size=130, minloglevel=2,
    )
    with pytest.raises(TokenizerError):
        SentencePieceBertTokenizer.from_dir(tmp_path)
