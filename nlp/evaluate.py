"""Scoring emotion classifiers on a labelled TSV (``text<TAB>label``).

``maeum eval DATA.tsv [--model DIR]... [--out DIR]`` calls :func:`evaluate_models`; it also
runs as ``python -m nlp.evaluate DATA.tsv --model model/baseline``. For each model it prints
accuracy, macro-F1, per-class precision/recall/F1 and expected calibration error (several
models side by side), and writes ``report.json`` plus one confusion-matrix PNG per model
into the output folder.
"""
from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from nlp.calibration import ece
from nlp.labels import LABELS

log = logging.getLogger(__name__)



# --------------------------------------------------------------------------- metrics

def confusion(gold: Sequence[str], predicted: Sequence[str]) -> np.ndarray:
    """Rows: gold label, columns: predicted label, both in LABELS order."""
    index = {label: i for i, label in enumerate(LABELS)}
    matrix = np.zeros((len(LABELS), len(LABELS)), dtype=np.int64)
    for g, p in zip(gold, predicted):
        matrix[index[g], index[p]] += 1
    return matrix


def classification_metrics(gold: Sequence[str], probs: np.ndarray) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class precision/recall/F1/support, ECE and the confusion
    matrix for probability rows in LABELS order."""
    probs = np.asarray(probs, dtype=np.float64).reshape(len(gold), len(LABELS))
    predicted_idx = probs.argmax(axis=1) if len(gold) else np.zeros(0, dtype=np.int64)
    predicted = [LABELS[i] for i in predicted_idx]
    matrix = confusion(gold, predicted)
    per_class: dict[str, dict[str, float]] = {}
    f1s = []
    for i, label in enumerate(LABELS):
        tp = matrix[i, i]
        precision = tp / matrix[:, i].sum() if matrix[:, i].sum() else 0.0
        recall = tp / matrix[i, :].sum() if matrix[i, :].sum() else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[label] = {
            "precision": float(precision),
            "recall": float(recall),
            "f1": float(f1),
            "support": int(matrix[i, :].sum()),
        }
        if matrix[i, :].sum():  # macro over classes present in the gold data
            f1s.append(f1)
    correct = np.array([p == g for p, g in zip(predicted, gold)], dtype=bool)
    return {
        "n": len(gold),
        "accuracy": float(correct.mean()) if len(gold) else 0.0,
        "macro_f1": float(np.mean(f1s)) if f1s else 0.0,
        "per_class": per_class,
        "ece": ece(probs.max(axis=1) if len(gold) else np.zeros(0), correct),
        "confusion": matrix.tolist(),
    }


def probs_matrix(predictions: Sequence[dict[str, float]]) -> np.ndarray:
    return np.array([[p[label] for label in LABELS] for p in predictions], dtype=np.float64).reshape(-1, len(LABELS))


# --------------------------------------------------------------------------- output

def plot_confusion(matrix: np.ndarray, title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matrix = np.asarray(matrix)
    row_sums = matrix.sum(axis=1, keepdims=True)
    share = np.divide(matrix, row_sums, out=np.zeros_like(matrix, dtype=float), where=row_sums > 0)
    fig, ax = plt.subplots(figsize=(5.2, 4.6), dpi=120)
    ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    ax.set_xticks(range(len(LABELS)), LABELS)
    ax.set_yticks(range(len(LABELS)), LABELS)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    ax.set_title(title, fontsize=9)
    for i in range(len(LABELS)):
        for j in range(len(LABELS)):
            ax.text(j, i, f"{matrix[i, j]}\n{share[i, j]:.0%}", ha="center", va="center", fontsize=8,
                    color="white" if share[i, j] > 0.5 else "black")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def format_table(names: Sequence[str], metrics: Sequence[dict[str, Any]]) -> str:
    """Side-by-side text table of the main numbers."""
    rows: list[tuple[str, list[str]]] = [
        ("n", [str(m["n"]) for m in metrics]),
        ("accuracy", [f"{m['accuracy']:.3f}" for m in metrics]),
        ("macro-F1", [f"{m['macro_f1']:.3f}" for m in metrics]),
        ("ECE", [f"{m['ece']:.3f}" for m in metrics]),
    ]
    for label in LABELS:
        rows.append(
            (f"{label} P/R/F1", [
                "{precision:.2f}/{recall:.2f}/{f1:.2f} (n={support})".format(**m["per_class"][label]) for m in metrics
            ])
        )
    first = max(len(r[0]) for r in rows)
    widths = [max(len(n), *(len(r[1][i]) for r in rows)) for i, n in enumerate(names)]
    lines = [" " * first + "  " + "  ".join(n.ljust(w) for n, w in zip(names, widths))]
    for title, cells in rows:
        lines.append(title.ljust(first) + "  " + "  ".join(c.ljust(w) for c, w in zip(cells, widths)))
    return "\n".join(lines)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "model"


# --------------------------------------------------------------------------- entry points

def evaluate_models(data_tsv: Path, model_dirs: list[Path], out_dir: Path) -> list[dict]:
    """Evaluate each model on ``data_tsv``; print a table, write ``report.json`` and
    ``confusion_<model>.png`` files to ``out_dir``. Returns one result dict per model."""
    from nlp.classifier import load_classifier
    from nlp.data import load_chat_examples

    examples = load_chat_examples(Path(data_tsv), source="eval")
    if not examples:
        from nlp.data import DataError

        raise DataError(f"{data_tsv}: 평가할 문장이 없습니다")
    texts = [ex.text for ex in examples]
    gold = [ex.label for ex in examples]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results: list[dict] = []
    used_names: set[str] = set()
    for model_dir in model_dirs:
        classifier = load_classifier(model_dir)
        predictions = classifier.predict(texts)
        metrics = classification_metrics(gold, probs_matrix(predictions))
        name = _slug(f"{Path(model_dir).name}-{classifier.version}")
        while name in used_names:
            name += "_"
        used_names.add(name)
        png = out_dir / f"confusion_{name}.png"
        plot_confusion(np.array(metrics["confusion"]), f"{classifier.version} on {Path(data_tsv).name}", png)
        errors = [
            {"text": t, "gold": g, "predicted": max(p, key=p.get), "confidence": round(max(p.values()), 4)}
            for t, g, p in zip(texts, gold, predictions)
            if max(p, key=p.get) != g
        ]
        results.append({
            "model_dir": str(model_dir),
            "version": classifier.version,
            "data": str(data_tsv),
            **metrics,
            "confusion_png": str(png),
            "errors": errors,
        })
    print(f"{data_tsv} ({len(examples)} sentences)")
    print(format_table([r["version"] for r in results], results))
    report = {"data": str(data_tsv), "labels": list(LABELS), "models": results}
    (out_dir / "report.json").write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"report: {out_dir / 'report.json'}")
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nlp.evaluate", description="감정 분류 모델 평가")
    parser.add_argument("data", type=Path, help="평가 데이터 TSV (문장<TAB>라벨)")
    parser.add_argument("--model", type=Path, action="append", dest="models",
                        help="모델 폴더 (여러 번 지정하면 나란히 비교); 기본값 model/baseline")
    parser.add_argument("--out", type=Path, default=Path("reports/eval"), help="보고서 폴더")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from nlp.classifier import ModelLoadError
    from nlp.data import DataError

    try:
        evaluate_models(args.data, args.models or [Path("model/baseline")], args.out)
    except (DataError, ModelLoadError) as exc:
        print(f"오류: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
