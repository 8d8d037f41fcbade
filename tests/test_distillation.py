"""Distillation targets and teacher-labelled chatbot questions for transformer fine-tuning."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nlp.data import Example
from nlp.labels import LABELS
from nlp.data import DataError
from nlp.train_transformer import FinetuneConfig, load_teacher, pseudo_examples, soft_targets, teacher_probabilities

REPO = Path(__file__).resolve().parents[1]


def test_soft_targets_without_teacher_are_smoothed_gold() -> None:
    rows = [Example("a", "joy", "seed_kin"), Example("b", "anger", "chat")]
    t = soft_targets(rows, FinetuneConfig(label_smoothing=0.1))
    assert t.shape == (2, 4) and np.allclose(t.sum(1), 1)
    assert t[0, LABELS.index("joy")] == pytest.approx(0.925) and t[0, LABELS.index("anger")] == pytest.approx(0.025)
    assert t[1].argmax() == LABELS.index("anger")


def test_soft_targets_mix_teacher_and_pseudo_rows_follow_teacher_only() -> None:
    rows = [Example("a", "joy", "seed_kin"), Example("b", "sadness", "pseudo")]
    teacher = np.array([[0.2, 0.6, 0.1, 0.1], [0.1, 0.1, 0.7, 0.1]])
    t = soft_targets(rows, FinetuneConfig(label_smoothing=0.0, distill_alpha=0.5), teacher)
    assert np.allclose(t[0], [0.6, 0.3, 0.05, 0.05])
    assert np.allclose(t[1], teacher[1])
    assert np.allclose(t.sum(1), 1)


def test_teacher_probabilities_from_the_shipped_baseline() -> None:
    texts = ["오늘 합격했어 너무 행복해", "내일 면접이라 너무 떨리고 불안해"]
    probs = teacher_probabilities(load_teacher(REPO / "model" / "baseline", seed=13), texts)
    assert probs.shape == (2, 4) and np.allclose(probs.sum(1), 1)
    assert LABELS[probs[0].argmax()] == "joy" and LABELS[probs[1].argmax()] == "anxiety"


def test_a_teacher_trained_on_another_split_is_refused() -> None:
    with pytest.raises(DataError, match="seed"):
        load_teacher(REPO / "model" / "baseline", seed=7)


def test_pseudo_examples_label_chatbot_questions_and_skip_held_out(tmp_path: Path) -> None:
    (tmp_path / "chatbot_data").mkdir()
    (tmp_path / "chatbot_data" / "ChatbotData.csv").write_text(
        "Q,A,label\n시험 붙었어!,축하해요,0\n헤어져서 너무 슬퍼,힘내요,1\n내일 발표 망할까 봐 무서워,괜찮아요,0\n,,0\n",
        encoding="utf-8",
    )
    calls: list[list[str]] = []

    def teacher(texts):
        calls.append(list(texts))
        return np.array([[0.7, 0.1, 0.1, 0.1] if "붙었" in t else [0.1, 0.1, 0.7, 0.1] for t in texts])

    rows, probs = pseudo_examples(tmp_path, teacher, held_out=["내일 발표 망할까봐 무서워!!"])
    assert [ex.text for ex in rows] == ["시험 붙었어!", "헤어져서 너무 슬퍼"]
    assert [ex.label for ex in rows] == ["joy", "sadness"] and {ex.source for ex in rows} == {"pseudo"}
    assert probs.shape == (2, 4) and calls == [["시험 붙었어!", "헤어져서 너무 슬퍼"]]


def test_pseudo_examples_add_a_seeded_sample_of_reviews(tmp_path: Path) -> None:
    import gzip

    (tmp_path / "nsmc").mkdir()
    with gzip.open(tmp_path / "nsmc" / "reviews.tsv.gz", "wt", encoding="utf-8") as f:
        f.write("rating\treview\n" + "".join(f"5\t리뷰 {i} 재밌다\n" for i in range(40)))
    teacher = lambda texts: np.tile([0.7, 0.1, 0.1, 0.1], (len(texts), 1))  # noqa: E731
    first, _ = pseudo_examples(tmp_path, teacher, held_out=[], reviews=5, seed=1)
    again, _ = pseudo_examples(tmp_path, teacher, held_out=[], reviews=5, seed=1)
    other, _ = pseudo_examples(tmp_path, teacher, held_out=[], reviews=5, seed=2)
    assert len(first) == 5 and all(ex.text.startswith("리뷰") for ex in first)
    assert [ex.text for ex in first] == [ex.text for ex in again] != [ex.text for ex in other]
