"""An ensemble: the weighted average of other Maeum models' calibrated probabilities.

``maeum_model.json`` of an ensemble folder::

    {"kind": "ensemble", "labels": [...],
     "members": [{"path": "../baseline", "weight": 0.5}, {"path": "../transformer", "weight": 0.5}]}

Member paths are relative to the ensemble folder, so ``model/ensemble`` reuses the shipped
``model/baseline`` and ``model/transformer`` without copying them. Each member is loaded with
:func:`nlp.classifier.load_classifier` and keeps its own temperature; weights are normalised to
sum to 1, so the result is again a distribution over LABELS.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from nlp.classifier import EmotionClassifier, ModelLoadError, load_classifier, read_manifest
from nlp.labels import LABELS


class EnsembleClassifier:
    def __init__(self, members: Sequence[EmotionClassifier], weights: Sequence[float], version: str) -> None:
        if not members or len(members) != len(weights):
            raise ValueError("an ensemble needs one weight per member, and at least one member")
        if any(w <= 0 for w in weights):
            raise ValueError("ensemble weights must be positive")
        total = float(sum(weights))
        self.members = list(members)
        self.weights = [float(w) / total for w in weights]
        self.version = version
        # the longest text any member reads; each member cuts to its own limit
        self.max_chars = max(m.max_chars for m in self.members)

    def predict(self, texts: Sequence[str]) -> list[dict[str, float]]:
        texts = list(texts)
        mixed = [dict.fromkeys(LABELS, 0.0) for _ in texts]
        for member, weight in zip(self.members, self.weights):
            for row, probs in zip(mixed, member.predict(texts)):
                for label in LABELS:
                    row[label] += weight * probs[label]
        return mixed

    @classmethod
    def load(cls, folder: str | Path) -> "EnsembleClassifier":
        folder = Path(folder)
        manifest = read_manifest(folder)
        entries = manifest.get("members")
        if not isinstance(entries, list) or not entries:
            raise ModelLoadError(f"{folder}: 앙상블 manifest 에 members 목록이 없습니다")
        members, weights = [], []
        for entry in entries:
            try:
                path, weight = folder / str(entry["path"]), float(entry.get("weight", 1.0))
            except (TypeError, KeyError, ValueError):
                raise ModelLoadError(f"{folder}: members 항목이 잘못되었습니다 ({entry!r})") from None
            if weight <= 0:
                raise ModelLoadError(f"{folder}: members 의 weight 는 0보다 커야 합니다 ({entry!r})")
            member = load_classifier(path)
            if isinstance(member, cls):
                raise ModelLoadError(f"{path}: 앙상블 안에 앙상블은 넣을 수 없습니다")
            members.append(member)
            weights.append(weight)
        # named after its members, so retraining one of them gives the ensemble a new version
        return cls(members, weights, "ensemble:" + "+".join(m.version for m in members))
