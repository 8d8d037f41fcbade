"""Metrics and the `maeum eval` report files."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from nlp.baseline import AnalyzerParams
from nlp.data import DataError
from nlp.calibration import ece as expected_calibration_error
from nlp.evaluate import classification_metrics, evaluate_models, main
from nlp.labels import LABELS
from nlp.train_baseline import TrainConfig, fit_sklearn, to_classifier


def test_classification_metrics_by_hand() -> None:
    gold = ["joy", "joy", "anxiety", "sadness", "anger", "anger"]
    predicted = ["joy", "anger", "anxiety", "sadness", "anger", "joy"]
    probs = np.array([[0.7 if label == p else 0.1 for label in LABELS] for p in predicted])
    m = classification_metrics(gold, probs)
    assert m["n"] == 6
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["per_class"]["joy"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    assert m["per_class"]["anxiety"]["f1"] == 1.0
    assert m["macro_f1"] == pytest.approx((0.5 + 1 + 1 + 0.5) / 4)
    assert m["confusion"][0] == [1, 0, 0, 1]  # gold joy: once joy, once anger
    # every prediction has confidence 0.7 while 4/6 are right
    assert m["ece"] == pytest.approx(abs(0.7 - 4 / 6))


def test_ece_is_zero_when_calibrated() -> None:
    conf = np.array([0.75] * 4 + [1.0] * 3)
    correct = np.array([1, 1, 1, 0, 1, 1, 1], dtype=bool)
    assert expected_calibration_error(conf, correct) == pytest.approx(0.0)


def _model(tmp_path: Path, name: str, params: AnalyzerParams) -> Path:
    rows = [(f"{ctx} {word} {i}", label)
            for i, ctx in enumerate(["오늘", "요즘", "진짜", "너무", "정말", "그냥"])
            for label, word in zip(LABELS, ["행복해", "불안해", "슬퍼", "화나"])]
    config = TrainConfig(analyzer=params, min_df=1, C=5.0)
    vectorizer, model = fit_sklearn([t for t, _ in rows], [l for _, l in rows], [1.0] * len(rows), config)
    classifier = to_classifier(vectorizer, model, config, version=name)
    classifier.save(tmp_path / name)
    return tmp_path / name


def test_evaluate_models_writes_report_and_plots(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "eval.tsv"
    data.write_text("text\tlabel\n오늘 행복해\tjoy\n내일 불안해\t불안\n너무 슬퍼\tsadness\n진짜 화나\tanger\n", encoding="utf-8")
    first = _model(tmp_path, "char-model", AnalyzerParams())
    second = _model(tmp_path, "wb-model", AnalyzerParams(char_ngram=(1, 3), char_mode="char_wb"))
    out = tmp_path / "report"
    results = evaluate_models(data, [first, second], out)
    assert [r["version"] for r in results] == ["char-model", "wb-model"]
    assert results[0]["accuracy"] == 1.0 and results[0]["macro_f1"] == 1.0
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert len(report["models"]) == 2 and report["labels"] == list(LABELS)
    for result in results:
        png = Path(result["confusion_png"])
        assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    printed = capsys.readouterr().out
    assert "char-model" in printed and "wb-model" in printed and "macro-F1" in printed


def test_evaluate_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "eval.tsv"
    data.write_text("오늘 행복해\tjoy\n", encoding="utf-8")
    model = _model(tmp_path, "m", AnalyzerParams())
    assert main([str(data), "--model", str(model), "--out", str(tmp_path / "o")]) == 0
    assert (tmp_path / "o" / "report.json").is_file()
    assert main([str(data), "--model", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    assert "오류" in capsys.readouterr().err
    empty = tmp_path / "empty.tsv"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(DataError):
        evaluate_models(empty, [model], tmp_path / "o2")
