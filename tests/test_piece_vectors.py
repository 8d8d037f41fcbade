"""Word2vec piece vectors, held-out exclusion from the pretraining corpus."""
from __future__ import annotations

import gzip
import random
from pathlib import Path

import numpy as np
import pytest

from nlp.corpus import build_corpus, read_corpus
from nlp.data import normalise_key
from nlp.piece_vectors import EMBEDDING_STD, PieceVectorConfig, apply_to_embeddings, train_piece_vectors

REPO = Path(__file__).resolve().parents[1]


def _synthetic_corpus(n: int = 3000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Pieces 10 and 11 are used interchangeably after 20/21; pieces 12 and 13 after 30/31."""
    rng = random.Random(seed)
    texts = []
    for _ in range(n):
        if rng.random() < 0.5:
            texts.append([rng.choice((20, 21)), rng.choice((10, 11)), rng.choice((22, 23)), rng.randrange(40, 60)])
        else:
            texts.append([rng.choice((30, 31)), rng.choice((12, 13)), rng.choice((32, 33)), rng.randrange(40, 60)])
    lengths = [0] + [len(t) for t in texts]
    return np.asarray([x for t in texts for x in t], dtype=np.int32), np.cumsum(lengths)


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_pieces_used_alike_get_close_vectors() -> None:
    flat, offsets = _synthetic_corpus()
    vocab = 64
    vectors, known = train_piece_vectors(flat, offsets, range(len(offsets) - 1), vocab,
                                         PieceVectorConfig(dim=16, epochs=10, workers=1, min_count=3, sample=0))
    assert vectors.shape == (vocab, 16) and vectors.dtype == np.float32
    assert known[[10, 11, 12, 13, 20, 30]].all()
    assert not known[[0, 1, 2, 3, 4, 5, 63]].any()  # specials and unused ids get no vector
    assert (vectors[~known] == 0).all()
    assert abs(float(vectors[known].std()) - EMBEDDING_STD) < 1e-3
    same = _cos(vectors[10], vectors[11]), _cos(vectors[12], vectors[13])
    across = _cos(vectors[10], vectors[12]), _cos(vectors[11], vectors[13])
    assert min(same) > max(across) + 0.2, (same, across)


def test_one_worker_is_reproducible_and_rows_select_texts() -> None:
    flat, offsets = _synthetic_corpus(800)
    config = PieceVectorConfig(dim=8, epochs=2, workers=1, seed=5)
    a, _ = train_piece_vectors(flat, offsets, range(400), 64, config)
    b, _ = train_piece_vectors(flat, offsets, range(400), 64, config)
    assert np.array_equal(a, b)
    # only the chosen texts count: from the first 400 texts alone a rare id can stay unknown
    only_first = train_piece_vectors(flat, offsets, [0], 64, PieceVectorConfig(dim=8, epochs=1, workers=1, min_count=1))[1]
    assert only_first.sum() == 4


def test_apply_to_embeddings_copies_known_rows_only() -> None:
    import torch
    from transformers import BertConfig, BertModel

    model = BertModel(BertConfig(vocab_size=20, hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=16))
    before = model.get_input_embeddings().weight.detach().clone()
    vectors = np.full((20, 8), 0.5, dtype=np.float32)
    known = np.zeros(20, dtype=bool)
    known[[6, 9]] = True
    assert apply_to_embeddings(model, vectors, known) == 2
    after = model.get_input_embeddings().weight.detach()
    assert torch.allclose(after[[6, 9]], torch.full((2, 8), 0.5))
    untouched = [i for i in range(20) if i not in (6, 9)]
    assert torch.equal(after[untouched], before[untouched])
    with pytest.raises(ValueError):
        apply_to_embeddings(model, np.zeros((21, 8), dtype=np.float32), np.ones(21, dtype=bool))


def test_corpus_leaves_out_excluded_texts(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "nsmc").mkdir(parents=True)
    lines = [f"영화 리뷰 {i}번 정말 재밌다" for i in range(50)]
    with gzip.open(data / "nsmc" / "reviews.tsv.gz", "wt", encoding="utf-8") as f:
        f.write("rating\treview\n")
        for line in lines:
            f.write(f"8\t{line}\n")
    held = {normalise_key("영화 리뷰 3번 정말 재밌다!!"), normalise_key("영화리뷰 7번 정말 재밌다")}
    stats = build_corpus(data, tmp_path / "corpus.txt", exclude=held)
    written = read_corpus(tmp_path / "corpus.txt")
    assert stats.excluded_texts == 2 and len(written) == 48
    assert "영화 리뷰 3번 정말 재밌다" not in written and "영화 리뷰 7번 정말 재밌다" not in written


def test_held_out_keys_cover_every_evaluation_file(tmp_path: Path) -> None:
    from nlp.train_baseline import held_out_keys

    (tmp_path / "data").mkdir()
    keys = held_out_keys(tmp_path / "data")
    for path in [REPO / "data" / "chat" / "test.tsv", *sorted((REPO / "data" / "eval").glob("*.tsv"))]:
        first = path.read_text(encoding="utf-8").splitlines()[0].split("\t")[0]
        assert normalise_key(first) in keys, path
    train_line = (REPO / "data" / "chat" / "train.tsv").read_text(encoding="utf-8").splitlines()[0].split("\t")[0]
    assert normalise_key(train_line) not in keys


def test_pretrain_with_word2vec_only_writes_a_checkpoint_with_those_embeddings(tmp_path: Path) -> None:
    import torch

    from nlp.pretrain import pretrain
    from nlp.transformer import load_backbone

    data = tmp_path / "data"
    (data / "nsmc").mkdir(parents=True)
    rng = random.Random(3)
    words = ["오늘", "정말", "너무", "좋다", "슬프다", "영화", "배우", "연기", "최고", "별로", "지루", "감동"]
    held_line = (REPO / "data" / "chat" / "test.tsv").read_text(encoding="utf-8").splitlines()[0].split("\t")[0]
    with gzip.open(data / "nsmc" / "reviews.tsv.gz", "wt", encoding="utf-8") as f:
        f.write("rating\treview\n")
        f.write(f"1\t{held_line}\n")  # an evaluation line must not reach the corpus
        for i in range(3300):
            f.write(f"{rng.randint(1, 10)}\t{' '.join(rng.choices(words, k=6))} {i % 50}\n")
    tiny = dict(hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64, max_length=32, spm_sentences=0,
                bf16=False, threads=1, w2v_epochs=2)
    summary = pretrain(data, tmp_path / "pt", vocab_size=200, steps=0, seed=1, **tiny)
    assert summary["steps_done"] == 0 and summary["embedding_init"] == "word2vec"
    assert summary["corpus"]["excluded_texts"] == 1
    assert held_line not in read_corpus(tmp_path / "pt" / "corpus.txt")
    saved = np.load(tmp_path / "pt" / "piece_vectors.npz")
    assert summary["piece_vectors"]["pieces_with_vectors"] == int(saved["known"].sum()) > 20
    model, _, _ = load_backbone(tmp_path / "pt" / "final", max_length=32)
    weight = model.get_input_embeddings().weight.detach()
    known = torch.from_numpy(np.flatnonzero(saved["known"]))
    assert torch.allclose(weight[known], torch.from_numpy(saved["vectors"][saved["known"]]), atol=1e-6)
