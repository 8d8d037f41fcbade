"""Train the baseline classifier (char n-gram TF-IDF + logistic regression) and ship it.

    python -m nlp.train_baseline --data ../shared/data --out model/baseline

Steps: load and map the open data (:func:`nlp.data.load_labelled`), add our chat-style
examples (every ``data/chat/train*.tsv`` when present) and user corrections, drop anything that
near-duplicates ``data/chat/test.tsv``, split by near-duplicate groups (seeded), fit
sklearn's TfidfVectorizer + LogisticRegression on train, fit a softmax temperature on
validation, score test (overall, per source) and the chat test file, and write the model
as JSON + safetensors (no pickle). The split is rebuilt from the data and the seed, so the
held-out test set is reproducible without storing a copy.
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import logging
import random
import re
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from nlp.baseline import AnalyzerParams, BaselineClassifier, analyze
from nlp.calibration import expected_calibration_error, fit_temperature, softmax
from nlp.data import (
    OPEN_SOURCES,
    DataError,
    Example,
    class_counts,
    load_chat_examples,
    load_corrections,
    load_labelled,
    normalise_key,
    remove_overlap,
    split_examples,
)
from nlp.evaluate import classification_metrics
from nlp.labels import LABELS

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CHAT_TRAIN = REPO_ROOT / "data" / "chat"  # every train*.tsv in it
DEFAULT_CHAT_TEST = REPO_ROOT / "data" / "chat" / "test.tsv"
#: every TSV here is evaluation only: never trained on, and its near-duplicates are dropped from training
HELD_OUT_EVAL_DIR = REPO_ROOT / "data" / "eval"


def held_out_eval_examples(folder: Path = HELD_OUT_EVAL_DIR) -> list[Example]:
    return [ex for path in sorted(Path(folder).glob("*.tsv")) for ex in load_chat_examples(path, source="eval")]

#: words the 지식iN crawl searched for, per class (read off the data: each is far more
#: frequent in its own file than in the others). Masking some of them during training
#: pushes the model to learn the context around them as well.
SEED_KEYWORDS: dict[str, tuple[str, ...]] = {
    "joy": ("좋다", "행복", "즐거", "들뜬", "기쁘", "기쁜", "예쁘", "사랑", "반가", "설렌", "신나", "느끼는"),
    "anxiety": ("기절", "소름", "불안", "깜짝", "갑작스러", "잔인", "움찔", "충격", "초조", "무섭", "무서",
                "놀라", "놀란", "공포", "안절부절", "기이"),
    "sadness": ("속상", "흑흑", "슬프", "슬퍼", "슬플", "슬픈", "외롭", "외로", "미안", "서러", "서럽", "눈물"),
    "anger": ("싸가지", "지랄", "질투", "모욕", "화나", "화가", "분노", "새끼", "빡치", "빡쳐", "빡침",
              "빌어먹", "미운", "신경질"),
}
_KEYWORD_PATTERN = re.compile("|".join(sorted((re.escape(k) for ks in SEED_KEYWORDS.values() for k in ks), key=len, reverse=True)))


@dataclass(frozen=True)
class TrainConfig:
    seed: int = 13
    val_frac: float = 0.1
    test_frac: float = 0.1
    analyzer: AnalyzerParams = field(default_factory=AnalyzerParams)
    min_df: int = 2
    max_features: int | None = 300_000
    C: float = 2.0
    max_iter: int = 3000
    class_weight: str | None = "balanced"
    #: per-source weights multiply the class weights (sample_weight)
    source_weights: dict[str, float] = field(default_factory=lambda: {"chat": 10.0, "corrections": 3.0})
    #: probability that each crawl keyword in a seed_kin training text is masked out
    keyword_mask: float = 0.0
    max_chars: int = 500


# --------------------------------------------------------------------------- helpers

def mask_keywords(text: str, rng: random.Random, rate: float) -> str:
    """Remove each seed crawl keyword occurrence with probability ``rate``."""
    if rate <= 0:
        return text
    return _KEYWORD_PATTERN.sub(lambda m: " " if rng.random() < rate else m.group(0), text)


def _ece(logits: np.ndarray, gold_idx: np.ndarray, temperature: float) -> float:
    return expected_calibration_error(softmax(logits, temperature), gold_idx)


def fit_sklearn(texts: Sequence[str], labels: Sequence[str], weights: Sequence[float], config: TrainConfig):
    """Fit the sklearn vectorizer and logistic regression; returns (vectorizer, model)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    params = config.analyzer
    vectorizer = TfidfVectorizer(
        analyzer=lambda text: analyze(text, params),
        lowercase=False,
        min_df=config.min_df,
        max_features=config.max_features,
        sublinear_tf=True,
        norm="l2",
        smooth_idf=True,
        dtype=np.float64,
    )
    from tqdm.auto import tqdm

    progress = tqdm((t[: config.max_chars] for t in texts), total=len(texts), desc="n-gram features",
                    unit="text", disable=not log.isEnabledFor(logging.INFO), mininterval=1.0)
    x = vectorizer.fit_transform(progress)
    log.info("%d texts x %d features; fitting logistic regression", x.shape[0], x.shape[1])
    model = LogisticRegression(C=config.C, max_iter=config.max_iter, class_weight=config.class_weight)
    model.fit(x, [LABELS.index(label) for label in labels], sample_weight=np.asarray(weights, dtype=np.float64))
    return vectorizer, model


def to_classifier(vectorizer, model, config: TrainConfig, temperature: float = 1.0, version: str = "baseline-dev") -> BaselineClassifier:
    """The numpy classifier holding exactly the fitted sklearn parameters."""
    if list(model.classes_) != list(range(len(LABELS))):
        raise DataError("학습 데이터에 네 감정이 모두 있어야 합니다")
    vocab = {str(feature): int(column) for feature, column in vectorizer.vocabulary_.items()}
    return BaselineClassifier(
        vocab=vocab,
        idf=np.asarray(vectorizer.idf_, dtype=np.float64),
        coef=np.asarray(model.coef_, dtype=np.float64),
        intercept=np.asarray(model.intercept_, dtype=np.float64),
        params=config.analyzer,
        temperature=temperature,
        version=version,
        max_chars=config.max_chars,
    )


def sample_weights(examples: Sequence[Example], config: TrainConfig) -> list[float]:
    return [float(config.source_weights.get(ex.source, 1.0)) for ex in examples]


def _metrics(classifier: BaselineClassifier, examples: Sequence[Example]) -> dict[str, Any]:
    probs = classifier.predict_proba([ex.text for ex in examples])
    return classification_metrics([ex.label for ex in examples], probs)


def _brief(metrics: dict[str, Any]) -> dict[str, Any]:
    return {k: metrics[k] for k in ("n", "accuracy", "macro_f1", "ece")} | {
        "f1": {label: round(v["f1"], 4) for label, v in metrics["per_class"].items()}
    }


# --------------------------------------------------------------------------- data assembly

@dataclass
class TrainingData:
    train: list[Example]
    val: list[Example]
    test: list[Example]
    chat_test: list[Example]
    removed_overlap: int

    def scored_texts(self) -> list[str]:
        """Every text a model trained on this data is scored on: validation, test, chat test
        and ``data/eval/*.tsv``. Nothing trained for this split may read them."""
        return [ex.text for ex in (*self.val, *self.test, *self.chat_test, *held_out_eval_examples())]


def assemble_data(
    data_dir: Path,
    config: TrainConfig,
    chat_path: Path | None,
    corrections: Path | None,
    chat_test_path: Path | None,
    sources: Iterable[str] | None = None,
) -> TrainingData:
    examples = load_labelled(Path(data_dir), sources)
    if chat_path is not None:
        chat = load_chat_examples(chat_path)
        log.info("chat examples: %d from %s", len(chat), chat_path)
        examples.extend(chat)
    if corrections is not None:
        fixes = load_corrections(corrections)
        log.info("corrections: %d from %s", len(fixes), corrections)
        examples.extend(fixes)
    chat_test: list[Example] = []
    if chat_test_path is not None:
        chat_test = load_chat_examples(chat_test_path, source="chat_test")
    held_out = [ex.text for ex in chat_test] + [ex.text for ex in held_out_eval_examples()]
    before = len(examples)
    examples = remove_overlap(examples, held_out)
    removed = before - len(examples)
    log.info("dropped %d training candidates that near-duplicate held-out evaluation text", removed)
    train, val, test = split_examples(examples, seed=config.seed, val_frac=config.val_frac, test_frac=config.test_frac)
    return TrainingData(train, val, test, chat_test, removed)


def held_out_keys(data_dir: Path, seed: int = TrainConfig.seed) -> set[str]:
    """:func:`nlp.data.normalise_key` of every text a model is scored on: the validation and
    test parts of the split for ``seed`` (built exactly as training builds it, with the default
    chat files), ``data/chat/test.tsv`` and every ``data/eval/*.tsv``. Pretraining leaves these
    texts out, so no evaluation text is read before it is scored."""
    data_dir = Path(data_dir)
    sources = [name for name in OPEN_SOURCES if (data_dir / name).is_dir()]
    data = assemble_data(
        data_dir, TrainConfig(seed=seed), _resolve_default(DEFAULT_CHAT_TRAIN, DEFAULT_CHAT_TRAIN), None,
        _resolve_default(DEFAULT_CHAT_TEST, DEFAULT_CHAT_TEST), sources=sources,
    )
    return {normalise_key(text) for text in data.scored_texts()}


def _display(path: Path | None) -> str | None:
    """A path for the manifest: relative to the repository when inside it."""
    if path is None:
        return None
    try:
        return str(Path(path).resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def _resolve_default(path: Path | None, default: Path) -> Path | None:
    """``None`` stays None; the default path counts only when the file exists."""
    if path is None:
        return None
    if path == default and not path.exists():
        return None
    if not Path(path).exists():
        raise DataError(f"파일을 찾을 수 없습니다: {path}")
    return Path(path)


# --------------------------------------------------------------------------- training

def train_model(data: TrainingData, config: TrainConfig) -> tuple[BaselineClassifier, dict[str, Any]]:
    """Fit on ``data.train``, calibrate on ``data.val``, score ``data.test`` and chat test."""
    rng = random.Random(config.seed)
    texts = [
        mask_keywords(ex.text, rng, config.keyword_mask) if ex.source == "seed_kin" else ex.text
        for ex in data.train
    ]
    started = time.perf_counter()
    vectorizer, model = fit_sklearn(texts, [ex.label for ex in data.train], sample_weights(data.train, config), config)
    fit_seconds = time.perf_counter() - started
    classifier = to_classifier(vectorizer, model, config)

    val_logits = classifier.logits([ex.text for ex in data.val])
    val_gold = np.array([LABELS.index(ex.label) for ex in data.val])
    temperature = fit_temperature(val_logits, val_gold)
    classifier.temperature = temperature
    calibration = {
        "temperature": temperature,
        "val_ece_before": _ece(val_logits, val_gold, 1.0) if len(val_gold) else 0.0,
        "val_ece_after": _ece(val_logits, val_gold, temperature) if len(val_gold) else 0.0,
    }
    test_metrics = _metrics(classifier, data.test)
    test_logits = classifier.logits([ex.text for ex in data.test])
    test_gold = np.array([LABELS.index(ex.label) for ex in data.test])
    calibration["test_ece_before"] = _ece(test_logits, test_gold, 1.0) if len(test_gold) else 0.0
    calibration["test_ece_after"] = _ece(test_logits, test_gold, temperature) if len(test_gold) else 0.0
    per_source = {
        source: _brief(_metrics(classifier, [ex for ex in data.test if ex.source == source]))
        for source in sorted({ex.source for ex in data.test})
    }
    metrics: dict[str, Any] = {
        "test": test_metrics,
        "test_per_source": per_source,
        "val": _brief(_metrics(classifier, data.val)) if data.val else None,
        "calibration": calibration,
        "fit_seconds": round(fit_seconds, 1),
        "n_features": len(classifier.vocab),
    }
    if data.chat_test:
        metrics["chat_test"] = _metrics(classifier, data.chat_test)
    return classifier, metrics


def _version(classifier: BaselineClassifier) -> str:
    digest = hashlib.sha256(classifier.coef.astype(np.float32).tobytes()).hexdigest()[:7]
    return f"baseline-{dt.date.today().isoformat()}-{digest}"


def train_baseline(
    data_dir: Path,
    out_dir: Path,
    *,
    seed: int = 13,
    chat_path: Path | None = DEFAULT_CHAT_TRAIN,
    corrections: Path | None = None,
    corrections_weight: float = 3.0,
    chat_weight: float = 10.0,
    chat_test_path: Path | None = DEFAULT_CHAT_TEST,
    keyword_mask: float | None = None,
    config: TrainConfig | None = None,
) -> dict:
    """Train, calibrate, evaluate and write the baseline model to ``out_dir``.

    ``chat_path`` / ``chat_test_path`` default to ``data/chat/{train,test}.tsv`` in the
    repository and are skipped when those files do not exist (an explicit path that does
    not exist is an error). Returns the metrics dict (also stored in the manifest)."""
    started = time.perf_counter()
    config = config or TrainConfig()
    config = replace(
        config,
        seed=seed,
        source_weights={**config.source_weights, "chat": chat_weight, "corrections": corrections_weight},
        keyword_mask=config.keyword_mask if keyword_mask is None else keyword_mask,
    )
    chat_path = _resolve_default(chat_path, DEFAULT_CHAT_TRAIN)
    chat_test_path = _resolve_default(chat_test_path, DEFAULT_CHAT_TEST)
    data = assemble_data(Path(data_dir), config, chat_path, corrections, chat_test_path)
    log.info("data from %s; split: train %d, val %d, test %d", data_dir, len(data.train), len(data.val), len(data.test))
    log.info("fitting TF-IDF + logistic regression (C=%s, analyzer=%s)", config.C, config.analyzer)
    classifier, metrics = train_model(data, config)
    classifier.version = _version(classifier)
    metrics["train_seconds"] = round(time.perf_counter() - started, 1)
    summary = {
        "trained_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "seed": seed,
        "split": {"method": "near-duplicate groups, blake2b(seed, group key)", "val_frac": config.val_frac, "test_frac": config.test_frac},
        "hyperparameters": {
            "min_df": config.min_df, "max_features": config.max_features, "C": config.C,
            "class_weight": config.class_weight, "source_weights": config.source_weights,
            "keyword_mask": config.keyword_mask,
        },
        "inputs": {
            "data_dir": str(data_dir),
            "chat_train": _display(chat_path),
            "chat_test": _display(chat_test_path),
            "corrections": _display(corrections),
        },
        "counts": {
            "train": class_counts(data.train),
            "val": class_counts(data.val),
            "test": class_counts(data.test),
            "train_by_source": {s: sum(1 for ex in data.train if ex.source == s) for s in sorted({ex.source for ex in data.train})},
            "removed_overlap_with_held_out_eval": data.removed_overlap,
        },
        "metrics": {
            "test": _brief(metrics["test"]),
            "test_per_source": metrics["test_per_source"],
            "chat_test": _brief(metrics["chat_test"]) if "chat_test" in metrics else None,
            "calibration": metrics["calibration"],
        },
    }
    out_dir = Path(out_dir)
    classifier.save(out_dir, {"training": summary})
    size = sum(p.stat().st_size for p in out_dir.iterdir() if p.is_file())
    metrics["model_bytes"] = size
    metrics["version"] = classifier.version
    metrics["counts"] = summary["counts"]
    log.info("wrote %s (%s, %.1f MB)", out_dir, classifier.version, size / 1e6)
    return metrics


def _print_summary(metrics: dict[str, Any]) -> None:
    test = metrics["test"]
    print(f"model {metrics['version']}: {metrics['model_bytes'] / 1e6:.1f} MB, {metrics['n_features']} features, "
          f"trained in {metrics['train_seconds']} s")
    print(f"held-out test (n={test['n']}): accuracy {test['accuracy']:.3f}, macro-F1 {test['macro_f1']:.3f}")
    for source, m in metrics["test_per_source"].items():
        print(f"  {source:14s} n={m['n']:5d} accuracy {m['accuracy']:.3f} macro-F1 {m['macro_f1']:.3f}")
    cal = metrics["calibration"]
    print(f"temperature {cal['temperature']:.3f}; ECE val {cal['val_ece_before']:.3f} -> {cal['val_ece_after']:.3f}, "
          f"test {cal['test_ece_before']:.3f} -> {cal['test_ece_after']:.3f}")
    if "chat_test" in metrics:
        chat = metrics["chat_test"]
        print(f"chat test (n={chat['n']}): accuracy {chat['accuracy']:.3f}, macro-F1 {chat['macro_f1']:.3f}, ECE {chat['ece']:.3f}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="maeum train --kind baseline",
        description="기준선(문자 n-gram + 로지스틱 회귀) 감정 분류 모델 학습. 트랜스포머는 `maeum train --kind transformer --help`",
    )
    parser.add_argument("--data", type=Path, default=REPO_ROOT.parent / "shared" / "data", help="공개 데이터 폴더")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "model" / "baseline", help="모델을 저장할 폴더")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--chat", type=Path, default=DEFAULT_CHAT_TRAIN, help="대화체 학습 TSV 또는 train*.tsv 가 든 폴더 (없으면 건너뜀)")
    parser.add_argument("--no-chat", action="store_true", help="대화체 학습 데이터를 쓰지 않음")
    parser.add_argument("--chat-weight", type=float, default=10.0)
    parser.add_argument("--chat-test", type=Path, default=DEFAULT_CHAT_TEST, help="대화체 평가 TSV (학습에서 제외)")
    parser.add_argument("--corrections", type=Path, default=None, help="maeum export corrections 결과 파일")
    parser.add_argument("--corrections-weight", type=float, default=3.0)
    parser.add_argument("--keyword-mask", type=float, default=None, help="seed_kin 검색어를 가릴 확률 (0-1)")
    parser.add_argument("--C", type=float, default=TrainConfig.C, help="로지스틱 회귀 규제 역수")
    parser.add_argument("--max-features", type=int, default=TrainConfig.max_features)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = replace(TrainConfig(), C=args.C, max_features=args.max_features)
    try:
        metrics = train_baseline(
            args.data, args.out, seed=args.seed,
            chat_path=None if args.no_chat else args.chat,
            corrections=args.corrections, corrections_weight=args.corrections_weight,
            chat_weight=args.chat_weight, chat_test_path=args.chat_test,
            keyword_mask=args.keyword_mask, config=config,
        )
    except DataError as exc:
        print(f"maeum: {exc}", file=sys.stderr)
        return 2
    _print_summary(metrics)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
