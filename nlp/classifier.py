"""The one interface every emotion classifier implements, and the loader that picks one.

A model directory holds ``maeum_model.json``::

    {"kind": "baseline" | "transformer" | "ensemble", "version": "...", "labels": ["joy", ...], ...}

``load_classifier(path)`` reads it and returns the matching implementation. The engine only
ever sees :class:`EmotionClassifier`.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Protocol, Sequence, runtime_checkable

from nlp.labels import LABELS

MANIFEST = "maeum_model.json"


class ModelLoadError(RuntimeError):
    """A model directory is missing, incomplete or of an unknown kind (message is user-facing)."""


@runtime_checkable
class EmotionClassifier(Protocol):
    #: a short string stored with every prediction, e.g. "baseline-2026-11-26"
    version: str
    #: longest input (characters) the model reads; the engine cuts longer text and says so
    max_chars: int

    def predict(self, texts: Sequence[str]) -> list[dict[str, float]]:
        """Scores for each text: a dict over LABELS that sums to 1 (calibrated probabilities)."""
        ...


def read_manifest(model_dir: str | Path) -> dict:
    path = Path(model_dir)
    if not path.is_dir():
        raise ModelLoadError(f"모델 폴더가 없습니다: {path} (--model 또는 config의 [model] path를 확인하세요)")
    manifest = path / MANIFEST
    if not manifest.is_file():
        raise ModelLoadError(f"{path} 에 {MANIFEST} 가 없습니다: Maeum 모델 폴더가 아닙니다")
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"{manifest} 를 읽을 수 없습니다: {exc}") from exc
    if not isinstance(data, dict):
        raise ModelLoadError(f"{manifest} 는 JSON 객체여야 합니다")
    if list(data.get("labels", [])) != list(LABELS):
        raise ModelLoadError(f"{manifest}: labels must be {list(LABELS)}")
    for key, kind in (("max_chars", int), ("temperature", float)):
        if key in data:
            try:
                value = kind(data[key])
            except (TypeError, ValueError):
                raise ModelLoadError(f"{manifest}: {key} 값이 잘못되었습니다 ({data[key]!r})") from None
            if value <= 0:
                raise ModelLoadError(f"{manifest}: {key} 는 0보다 커야 합니다")
    return data


def load_classifier(model_dir: str | Path) -> EmotionClassifier:
    data = read_manifest(model_dir)
    kind = data.get("kind")
    if kind == "baseline":
        from nlp.baseline import BaselineClassifier

        return BaselineClassifier.load(model_dir)
    if kind == "transformer":
        from nlp.transformer import TransformerClassifier

        return TransformerClassifier.load(model_dir)
    if kind == "ensemble":
        from nlp.ensemble import EnsembleClassifier

        return EnsembleClassifier.load(model_dir)
    raise ModelLoadError(f"{model_dir}: unknown model kind {kind!r}")
