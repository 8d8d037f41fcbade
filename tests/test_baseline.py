"""The baseline classifier: numpy re-implementation == sklearn, file format, training
pipeline end to end (synthetic data), and the shipped model on clear Korean examples."""
from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import openpyxl
import pytest

from nlp.baseline import WEIGHTS_FILE, AnalyzerParams, BaselineClassifier, analyze
from nlp.classifier import MANIFEST, EmotionClassifier, ModelLoadError, load_classifier
from nlp.labels import LABELS
from nlp.calibration import fit_temperature
from nlp.train_baseline import TrainConfig, fit_sklearn, mask_keywords, to_classifier, train_baseline

REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / "model" / "baseline"

_WORDS = {
    "joy": ["행복해", "신난다", "기뻐", "최고야", "좋아"],
    "anxiety": ["불안해", "걱정돼", "떨려", "무서워", "초조해"],
    "sadness": ["슬퍼", "눈물 나", "외로워", "우울해", "그리워"],
    "anger": ["화나", "짜증나", "열받아", "어이없네", "빡쳐"],
}
_CONTEXT = ["오늘", "요즘", "내일", "시험", "친구", "회사", "엄마", "주말", "진짜", "너무", "정말", "그냥"]


def _synthetic_rows(n_per_class: int, seed: int = 0) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    rows = []
    for label, words in _WORDS.items():
        for i in range(n_per_class):
            ctx = rng.sample(_CONTEXT, 3)
            rows.append((f"{ctx[0]} {ctx[1]} {rng.choice(words)} {ctx[2]} {i}번째", label))
    rng.shuffle(rows)
    return rows


@pytest.mark.parametrize(
    "params",
    [AnalyzerParams(), AnalyzerParams(char_ngram=(1, 3), char_mode="char_wb", word_ngram=(1, 2))],
)
def test_numpy_reimplementation_matches_sklearn(params: AnalyzerParams, tmp_path: Path) -> None:
    rows = _synthetic_rows(30)
    config = TrainConfig(analyzer=params, min_df=1, max_features=2000, C=3.0)
    texts, labels = [t for t, _ in rows], [l for _, l in rows]
    weights = [2.0 if i % 7 == 0 else 1.0 for i in range(len(rows))]
    vectorizer, model = fit_sklearn(texts, labels, weights, config)
    classifier = to_classifier(vectorizer, model, config)
    probe = texts[:20] + ["처음 보는 문장 ㅋㅋㅋㅋㅋ", "", "!!!", "ABC 불안해 DEF", " 화나  화나 화나 "]
    expected = model.predict_proba(vectorizer.transform(probe))
    np.testing.assert_allclose(classifier.predict_proba(probe, calibrated=False), expected, atol=1e-10)
    # through the files (float32 on disk): still the same probabilities
    classifier.save(tmp_path / "m")
    loaded = BaselineClassifier.load(tmp_path / "m")
    np.testing.assert_allclose(loaded.predict_proba(probe, calibrated=False), expected, atol=1e-5)
    assert loaded.params == params


def test_analyze_features() -> None:
    assert analyze("") == [] and analyze("   ") == []
    # repeats cut to two, one space of padding each side
    assert analyze("ㅋㅋㅋㅋ 좋아", AnalyzerParams(char_ngram=(3, 3))) == [" ㅋㅋ", "ㅋㅋ ", "ㅋ 좋", " 좋아", "좋아 "]
    assert analyze("ABC", AnalyzerParams(char_ngram=(1, 1))) == [" ", "a", "b", "c", " "]
    wb = analyze("좋아 너무", AnalyzerParams(char_ngram=(2, 2), char_mode="char_wb", word_ngram=(1, 2)))
    assert " 좋" in wb and "아 " in wb and "아 너" not in wb and "w:좋아 너무" in wb


def test_temperature_scaling_fits_overconfident_logits() -> None:
    rng = np.random.default_rng(0)
    gold = rng.integers(0, 4, size=2000)
    logits = rng.normal(size=(2000, 4))
    logits[np.arange(2000), gold] += 1.0
    t = fit_temperature(logits * 5.0, gold)  # scaled up 5x: needs T about 5
    assert 4.0 < t < 6.0


def test_keyword_masking() -> None:
    rng = random.Random(0)
    assert mask_keywords("너무 불안해요", rng, 0.0) == "너무 불안해요"
    assert "불안" not in mask_keywords("너무 불안해요", rng, 1.0)


def _xlsx(path: Path, rows: list[tuple[str, int]]) -> None:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(list(row))
    book.save(path)


def test_train_baseline_end_to_end(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "seed_kin").mkdir(parents=True)
    rows = _synthetic_rows(60, seed=1)
    for file, label_id in (("happy", 0), ("unstable", 1), ("sad", 2), ("angry", 3)):
        label = LABELS[label_id]
        _xlsx(data / "seed_kin" / f"{file}.xlsx", [(t, label_id) for t, l in rows if l == label])
    (data / "kote").mkdir()
    (data / "kote" / "val.tsv").write_text("1\t정말 기쁜 소식\t42\n2\t짜증 나\t22\n", encoding="utf-8")
    (data / "goemotions_ko").mkdir()
    (data / "goemotions_ko" / "label.txt").write_text("joy\nfear\n", encoding="utf-8")
    (data / "goemotions_ko" / "train.tsv").write_text("무서운 꿈\t1\n", encoding="utf-8")
    chat = tmp_path / "chat_train.tsv"
    chat.write_text("내일 면접이라 떨려\tanxiety\n오늘 최고의 하루\tjoy\n", encoding="utf-8")
    chat_test = tmp_path / "chat_test.tsv"
    chat_test.write_text("오늘 최고의 하루!!\tjoy\n친구 때문에 열받아 진짜\tanger\n", encoding="utf-8")
    corrections = tmp_path / "corrections.jsonl"
    corrections.write_text('{"text": "억울하고 화나", "predicted": "sadness", "corrected": "anger"}\n', encoding="utf-8")
    out = tmp_path / "model"
    metrics = train_baseline(data, out, seed=5, chat_path=chat, corrections=corrections, chat_test_path=chat_test,
                             config=TrainConfig(min_df=1))
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["kind"] == "baseline" and manifest["labels"] == list(LABELS)
    assert manifest["version"].startswith("baseline-") and manifest["version"] == metrics["version"]
    assert manifest["training"]["seed"] == 5
    assert manifest["training"]["counts"]["removed_overlap_with_held_out_eval"] == 1  # "오늘 최고의 하루"
    assert manifest["training"]["counts"]["train_by_source"]["corrections"] == 1
    assert metrics["test"]["macro_f1"] > 0.8
    assert metrics["chat_test"]["n"] == 2
    assert metrics["calibration"]["temperature"] > 0
    assert not any(p.suffix in {".pkl", ".pickle", ".joblib"} for p in out.iterdir())
    classifier = load_classifier(out)
    assert isinstance(classifier, EmotionClassifier)
    [probs] = classifier.predict(["시험 때문에 너무 불안해"])
    assert max(probs, key=probs.get) == "anxiety"


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError):
        BaselineClassifier.load(tmp_path / "missing")
    model = tmp_path / "m"
    model.mkdir()
    (model / MANIFEST).write_text(json.dumps({"kind": "baseline", "labels": list(LABELS)}), encoding="utf-8")
    with pytest.raises(ModelLoadError):
        BaselineClassifier.load(model)
    (model / "vocab.json").write_text('["a", "b"]', encoding="utf-8")
    from safetensors.numpy import save_file

    save_file({"idf": np.ones(3, np.float32), "coef": np.ones((4, 3), np.float32), "intercept": np.ones(4, np.float32)},
              str(model / WEIGHTS_FILE))
    with pytest.raises(ModelLoadError, match="모양"):
        BaselineClassifier.load(model)


# ------------------------------------------------------------------ the shipped model

CLEAR_CASES = [
    ("오늘 합격 소식 들었어 너무 행복해", "joy"),
    ("친구들이랑 놀러 가서 너무 재밌었어", "joy"),
    ("내일 발표인데 너무 떨리고 불안해", "anxiety"),
    ("다음 주 수술인데 잘못될까 봐 무서워", "anxiety"),
    ("요즘 너무 우울하고 외로워", "sadness"),
    ("할머니가 돌아가셔서 마음이 너무 아파", "sadness"),
    ("강아지가 무지개다리를 건넜어 너무 보고싶다", "sadness"),
    ("진짜 어이없네 왜 나한테 화풀이야", "anger"),
    ("새치기하는 사람 때문에 짜증나 미치겠어", "anger"),
]


@pytest.fixture(scope="module")
def shipped() -> BaselineClassifier:
    if not (SHIPPED / MANIFEST).is_file():
        pytest.fail("model/baseline is missing: run `python -m nlp.train_baseline --data ../shared/data --out model/baseline`")
    return BaselineClassifier.load(SHIPPED)


def test_shipped_model_files(shipped: BaselineClassifier) -> None:
    total = sum(p.stat().st_size for p in SHIPPED.iterdir() if p.is_file())
    assert total <= 15 * 1024 * 1024
    manifest = json.loads((SHIPPED / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["kind"] == "baseline" and manifest["version"] == shipped.version
    assert 0.05 < shipped.temperature < 20
    assert isinstance(load_classifier(SHIPPED), BaselineClassifier)


@pytest.mark.parametrize("text,label", CLEAR_CASES)
def test_shipped_model_gets_clear_cases_right(shipped: BaselineClassifier, text: str, label: str) -> None:
    [probs] = shipped.predict([text])
    assert max(probs, key=probs.get) == label, probs


def test_shipped_model_output_shape(shipped: BaselineClassifier) -> None:
    out = shipped.predict(["", "   ", "ㅋ" * 5000, "좋아"])
    assert len(out) == 4
    for probs in out:
        assert list(probs) == list(LABELS)
        assert abs(sum(probs.values()) - 1.0) < 1e-9
        assert all(0.0 <= p <= 1.0 for p in probs.values())
    assert shipped.predict([]) == []
