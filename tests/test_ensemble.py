"""The ensemble kind: a weighted average of real member models, loaded through load_classifier."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from nlp.classifier import ModelLoadError, load_classifier
from nlp.ensemble import EnsembleClassifier
from nlp.labels import LABELS

REPO = Path(__file__).resolve().parent.parent
BASELINE = REPO / "model" / "baseline"
TRANSFORMER = REPO / "model" / "transformer"
TEXTS = ["내일 면접인데 잠이 안 와", "합격 문자 왔다!!", "강아지가 무지개다리 건넜어", "택배가 또 분실됐대 어이없네", ""]


def write_ensemble(folder: Path, members: list) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "maeum_model.json").write_text(
        json.dumps({"kind": "ensemble", "labels": list(LABELS), "members": members}), encoding="utf-8"
    )
    return folder


def test_ensemble_is_the_weighted_average_of_its_members(tmp_path: Path) -> None:
    folder = write_ensemble(tmp_path / "ens", [
        {"path": str(BASELINE), "weight": 3}, {"path": str(TRANSFORMER), "weight": 1},
    ])
    ensemble = load_classifier(folder)
    assert isinstance(ensemble, EnsembleClassifier)
    base, tf = load_classifier(BASELINE), load_classifier(TRANSFORMER)
    assert ensemble.version == f"ensemble:{base.version}+{tf.version}"
    assert ensemble.max_chars == max(base.max_chars, tf.max_chars)
    for mixed, b, t in zip(ensemble.predict(TEXTS), base.predict(TEXTS), tf.predict(TEXTS)):
        assert sum(mixed.values()) == pytest.approx(1.0, abs=1e-6)
        for label in LABELS:
            assert mixed[label] == pytest.approx(0.75 * b[label] + 0.25 * t[label], abs=1e-9)


def test_member_paths_are_relative_to_the_ensemble_folder(tmp_path: Path) -> None:
    folder = write_ensemble(tmp_path / "ens", [{"path": "../base", "weight": 1}])
    (tmp_path / "base").symlink_to(BASELINE, target_is_directory=True)
    probs = load_classifier(folder).predict(["시험 끝났다 ㅎㅎ"])[0]
    assert probs == pytest.approx(load_classifier(BASELINE).predict(["시험 끝났다 ㅎㅎ"])[0])


@pytest.mark.parametrize("members, message", [
    ([], "members"),
    ([{"weight": 1}], "members"),
    ([{"path": str(BASELINE), "weight": 0}], "weight"),
    ([{"path": "does-not-exist", "weight": 1}], "모델 폴더가 없습니다"),
])
def test_broken_ensembles_fail_clearly(tmp_path: Path, members: list, message: str) -> None:
    with pytest.raises(ModelLoadError, match=message):
        load_classifier(write_ensemble(tmp_path / "ens", members))


def test_an_ensemble_cannot_contain_an_ensemble(tmp_path: Path) -> None:
    inner = write_ensemble(tmp_path / "inner", [{"path": str(BASELINE)}])
    with pytest.raises(ModelLoadError, match="앙상블 안에"):
        load_classifier(write_ensemble(tmp_path / "outer", [{"path": str(inner)}]))


def test_the_default_model_is_the_shipped_ensemble_of_baseline_and_transformer() -> None:
    from bot.config import ModelConfig

    assert ModelConfig().path == "model/ensemble"
    ensemble = load_classifier(REPO / ModelConfig().path)
    assert [type(m).__name__ for m in ensemble.members] == ["BaselineClassifier", "TransformerClassifier"]
    assert ensemble.weights == [0.5, 0.5]
    probs = ensemble.predict(["내일 면접인데 잠이 안 와", "드디어 합격했어요 ㅠㅠ 너무 좋아요"])
    assert max(probs[0], key=probs[0].get) == "anxiety" and max(probs[1], key=probs[1].get) == "joy"
