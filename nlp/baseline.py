"""The baseline emotion classifier: character n-gram TF-IDF + a linear (softmax) model.

Training uses scikit-learn (see :mod:`nlp.train_baseline`), but what ships is plain data:

* ``maeum_model.json`` - manifest: kind, version, labels, max_chars, temperature, analyzer
  parameters and training summary;
* ``vocab.json`` - the feature strings as a JSON list; the position in the list is the
  column of the feature;
* ``weights.safetensors`` - ``idf`` (n_features), ``coef`` (n_labels x n_features) and
  ``intercept`` (n_labels), float32.

:class:`BaselineClassifier` re-implements the featurisation, TF-IDF weighting and linear
scoring with numpy/scipy, so loading needs neither pickle nor sklearn. The same
:func:`analyze` function is handed to sklearn's ``TfidfVectorizer`` at training time, so
the two feature spaces are identical by construction.
"""
from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from nlp.calibration import softmax

from nlp.classifier import MANIFEST, ModelLoadError, read_manifest
from nlp.labels import LABELS

VOCAB_FILE = "vocab.json"
WEIGHTS_FILE = "weights.safetensors"
DEFAULT_MAX_CHARS = 500

_WHITESPACE = re.compile(r"\s+")
_REPEAT = re.compile(r"(.)\1{2,}")
_WORD_EDGE_PUNCT = re.compile(r"^[\W_]+|[\W_]+$")


@dataclass(frozen=True)
class AnalyzerParams:
    """How a text becomes features. ``char_mode`` is ``"char"`` (n-grams over the whole
    text padded with one space each side) or ``"char_wb"`` (n-grams inside each
    space-padded word). ``word_ngram`` (0, 0) turns word features off."""

    char_ngram: tuple[int, int] = (1, 4)
    char_mode: str = "char"
    word_ngram: tuple[int, int] = (0, 0)

    def to_json(self) -> dict[str, Any]:
        return {"char_ngram": list(self.char_ngram), "char_mode": self.char_mode, "word_ngram": list(self.word_ngram)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "AnalyzerParams":
        params = cls(
            char_ngram=tuple(int(v) for v in data.get("char_ngram", (1, 4))),  # type: ignore[arg-type]
            char_mode=str(data.get("char_mode", "char")),
            word_ngram=tuple(int(v) for v in data.get("word_ngram", (0, 0))),  # type: ignore[arg-type]
        )
        if params.char_mode not in {"char", "char_wb"}:
            raise ValueError(f"unknown char_mode {params.char_mode!r}")
        return params


def normalise_for_features(text: str) -> str:
    """NFC, lowercase, single spaces, runs of 3+ equal characters cut to 2 (ㅋㅋㅋㅋ -> ㅋㅋ)."""
    text = unicodedata.normalize("NFC", text).lower()
    text = _WHITESPACE.sub(" ", text).strip()
    return _REPEAT.sub(r"\1\1", text)


def _char_ngrams(text: str, lo: int, hi: int) -> list[str]:
    out: list[str] = []
    for n in range(lo, hi + 1):
        out.extend(text[i : i + n] for i in range(len(text) - n + 1))
    return out


def analyze(text: str, params: AnalyzerParams = AnalyzerParams()) -> list[str]:
    """The feature strings of one text (with repeats: counts matter)."""
    text = normalise_for_features(text)
    if not text:
        return []
    lo, hi = params.char_ngram
    features: list[str] = []
    if hi >= lo >= 1:
        if params.char_mode == "char":
            features.extend(_char_ngrams(f" {text} ", lo, hi))
        else:
            for word in text.split(" "):
                features.extend(g for g in _char_ngrams(f" {word} ", lo, hi) if g != " ")
    wlo, whi = params.word_ngram
    if whi >= wlo >= 1:
        words = [w for w in (_WORD_EDGE_PUNCT.sub("", w) for w in text.split(" ")) if w]
        for n in range(wlo, whi + 1):
            features.extend("w:" + " ".join(words[i : i + n]) for i in range(len(words) - n + 1))
    return features


@dataclass
class BaselineClassifier:
    """Numpy/scipy inference for a trained baseline model (no sklearn objects needed)."""

    vocab: dict[str, int]
    idf: np.ndarray  # (n_features,)
    coef: np.ndarray  # (n_labels, n_features)
    intercept: np.ndarray  # (n_labels,)
    params: AnalyzerParams = field(default_factory=AnalyzerParams)
    temperature: float = 1.0
    sublinear_tf: bool = True
    version: str = "baseline-dev"
    max_chars: int = DEFAULT_MAX_CHARS
    labels: tuple[str, ...] = LABELS

    # ------------------------------------------------------------------ scoring
    def features(self, texts: Sequence[str]):
        """The L2-normalised TF-IDF matrix (scipy CSR, n_texts x n_features)."""
        from scipy import sparse

        indptr = [0]
        indices: list[int] = []
        values: list[float] = []
        for text in texts:
            counts: dict[int, int] = {}
            for feature in analyze(text[: self.max_chars], self.params):
                column = self.vocab.get(feature)
                if column is not None:
                    counts[column] = counts.get(column, 0) + 1
            columns = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
            tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
            if self.sublinear_tf:
                tf = 1.0 + np.log(tf)
            weights = tf * self.idf[columns]
            norm = float(np.sqrt(np.dot(weights, weights)))
            if norm > 0:
                weights = weights / norm
            order = np.argsort(columns)
            indices.extend(columns[order].tolist())
            values.extend(weights[order].tolist())
            indptr.append(len(indices))
        return sparse.csr_matrix(
            (np.asarray(values, dtype=np.float64), np.asarray(indices, dtype=np.int64), np.asarray(indptr)),
            shape=(len(texts), len(self.idf)),
        )

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        """Uncalibrated linear scores (n_texts x n_labels)."""
        x = self.features(texts)
        return np.asarray(x @ self.coef.T, dtype=np.float64) + self.intercept

    def predict_proba(self, texts: Sequence[str], calibrated: bool = True) -> np.ndarray:
        if not texts:
            return np.zeros((0, len(self.labels)))
        logits = self.logits(texts)
        return softmax(logits, self.temperature if calibrated else 1.0)

    def predict(self, texts: Sequence[str]) -> list[dict[str, float]]:
        """Calibrated probabilities over LABELS for each text. An empty or featureless text
        gets the model's prior (intercept only)."""
        texts = [t if isinstance(t, str) else "" for t in texts]
        out: list[dict[str, float]] = []
        batch = 512
        for start in range(0, len(texts), batch):
            probs = self.predict_proba(texts[start : start + batch])
            out.extend({label: float(p) for label, p in zip(self.labels, row)} for row in probs)
        return out

    # ------------------------------------------------------------------ files
    def save(self, model_dir: Path, extra_manifest: dict[str, Any] | None = None) -> None:
        from safetensors.numpy import save_file

        model_dir = Path(model_dir)
        model_dir.mkdir(parents=True, exist_ok=True)
        inverse = [""] * len(self.vocab)
        for feature, column in self.vocab.items():
            inverse[column] = feature
        (model_dir / VOCAB_FILE).write_text(json.dumps(inverse, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
        save_file(
            {
                "idf": np.ascontiguousarray(self.idf, dtype=np.float32),
                "coef": np.ascontiguousarray(self.coef, dtype=np.float32),
                "intercept": np.ascontiguousarray(self.intercept, dtype=np.float32),
            },
            str(model_dir / WEIGHTS_FILE),
        )
        (model_dir / WEIGHTS_FILE).chmod(0o644)  # safetensors creates it owner-only
        manifest: dict[str, Any] = {
            "kind": "baseline",
            "version": self.version,
            "labels": list(self.labels),
            "max_chars": self.max_chars,
            "temperature": self.temperature,
            "analyzer": self.params.to_json(),
            "sublinear_tf": self.sublinear_tf,
            "norm": "l2",
            "files": {"vocab": VOCAB_FILE, "weights": WEIGHTS_FILE},
        }
        manifest.update(extra_manifest or {})
        (model_dir / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, model_dir: str | Path) -> "BaselineClassifier":
        from safetensors import SafetensorError
        from safetensors.numpy import load_file

        model_dir = Path(model_dir)
        manifest = read_manifest(model_dir)
        if manifest.get("kind") != "baseline":
            raise ModelLoadError(f"{model_dir}: baseline 모델이 아닙니다 (kind={manifest.get('kind')!r})")
        files = manifest.get("files", {})
        vocab_path = model_dir / files.get("vocab", VOCAB_FILE)
        weights_path = model_dir / files.get("weights", WEIGHTS_FILE)
        try:
            inverse = json.loads(vocab_path.read_text(encoding="utf-8"))
            tensors = load_file(str(weights_path))
            params = AnalyzerParams.from_json(manifest.get("analyzer", {}))
        except (OSError, ValueError, SafetensorError) as exc:
            raise ModelLoadError(f"{model_dir}: 모델 파일을 읽을 수 없습니다 ({exc})") from exc
        if not isinstance(inverse, list) or not all(isinstance(f, str) for f in inverse):
            raise ModelLoadError(f"{vocab_path}: 특징 목록(JSON 문자열 배열)이 아닙니다")
        idf = tensors.get("idf")
        coef = tensors.get("coef")
        intercept = tensors.get("intercept")
        n_labels = len(LABELS)
        if (
            idf is None or coef is None or intercept is None
            or idf.shape != (len(inverse),)
            or coef.shape != (n_labels, len(inverse))
            or intercept.shape != (n_labels,)
        ):
            raise ModelLoadError(f"{weights_path}: 가중치 모양이 어휘 크기({len(inverse)})와 맞지 않습니다")
        return cls(
            vocab={feature: i for i, feature in enumerate(inverse)},
            idf=idf.astype(np.float64),
            coef=coef.astype(np.float64),
            intercept=intercept.astype(np.float64),
            params=params,
            temperature=float(manifest.get("temperature", 1.0)),
            sublinear_tf=bool(manifest.get("sublinear_tf", True)),
            version=str(manifest.get("version", "baseline")),
            max_chars=int(manifest.get("max_chars", DEFAULT_MAX_CHARS)),
        )
