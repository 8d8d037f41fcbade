"""``maeum train --kind transformer``: fine-tune a BERT checkpoint into the emotion classifier.

    python -m nlp.train_transformer --data ../shared/data --base runs/pretrain/final --out model/transformer

The data are the baseline's (:func:`nlp.train_baseline.assemble_data`): the mapped open sets
plus ``data/chat/train.tsv`` and optional corrections, with near-duplicates of
``data/chat/test.tsv`` removed, split by near-duplicate groups with the seed. Training uses
a class-weighted, label-smoothed soft-target cross-entropy where our chat-style rows and
corrections weigh more. With ``--teacher`` (e.g. ``model/baseline``) each target is mixed with
the teacher's probabilities and the chatbot questions join as teacher-labelled rows
(distillation). ``--keyword-mask`` masks the 지식iN crawl keywords in part of the seed_kin rows
(a fresh draw each epoch). The epoch with the best validation macro-F1 is kept (early
stopping), a softmax temperature is fitted on validation (:mod:`nlp.calibration`), and the
held-out test split and the chat test file are scored. ``--scratch`` keeps the base's
configuration and tokenizer but starts from random weights (the "no pretraining" comparison).
"""
from __future__ import annotations

import argparse
import copy
import datetime as dt
import hashlib
import json
import logging
import random
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from nlp.calibration import expected_calibration_error, fit_temperature, nll, softmax
from nlp.data import Example, class_counts
from nlp.devices import DEVICE_CHOICES
from nlp.evaluate import classification_metrics
from nlp.labels import LABELS

log = logging.getLogger("maeum.train_transformer")

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CHAT_TRAIN = REPO_ROOT / "data" / "chat"  # every train*.tsv in it
DEFAULT_CHAT_TEST = REPO_ROOT / "data" / "chat" / "test.tsv"
DEFAULT_OUT = REPO_ROOT / "model" / "transformer"
#: where ``maeum pretrain`` writes its final checkpoint by default
DEFAULT_BASE = REPO_ROOT / "runs" / "pretrain" / "final"


@dataclass
class FinetuneConfig:
    seed: int = 13
    epochs: int = 3
    batch_size: int = 32
    lr: float = 2e-4
    weight_decay: float = 0.01
    warmup_frac: float = 0.06
    max_length: int = 64
    max_chars: int = 300
    label_smoothing: float = 0.1
    chat_weight: float = 10.0
    corrections_weight: float = 3.0
    keyword_mask: float = 0.5
    class_weighted: bool = True
    patience: int = 2
    evals_per_epoch: int = 2
    max_minutes: float | None = None
    scratch: bool = False
    bf16: bool = True  # autocast where the device does bf16 natively (nlp.devices.use_bf16)
    device: str = "auto"  # where fine-tuning runs: "cpu", "cuda" or "auto"
    val_frac: float = 0.1
    test_frac: float = 0.1
    quantize: str | None = None
    fp16_weights: bool = True
    # distillation: a trained model (folder) whose probabilities are mixed into the targets
    teacher: str | None = None
    distill_alpha: float = 0.5  # share of the teacher in a labelled row's target
    pseudo_weight: float = 1.0  # weight of the teacher-labelled chatbot questions (0: none)
    pseudo_reviews: int = 0  # also this many NSMC reviews (a seeded sample), teacher-labelled


# ----------------------------------------------------------------------------- helpers

def class_weights(examples: Sequence[Example]) -> np.ndarray:
    """Inverse-frequency weights over LABELS, scaled to mean 1 over the examples."""
    counts = np.array([max(class_counts(examples)[label], 1) for label in LABELS], dtype=np.float64)
    weights = counts.sum() / (len(LABELS) * counts)
    return weights


def example_weights(examples: Sequence[Example], config: FinetuneConfig) -> np.ndarray:
    per_class = class_weights(examples) if config.class_weighted else np.ones(len(LABELS))
    source = {"chat": config.chat_weight, "corrections": config.corrections_weight, "pseudo": config.pseudo_weight}
    w = np.array([per_class[LABELS.index(ex.label)] * source.get(ex.source, 1.0) for ex in examples], dtype=np.float64)
    return w / w.mean()


def soft_targets(examples: Sequence[Example], config: FinetuneConfig, teacher_probs: np.ndarray | None = None) -> np.ndarray:
    """One target distribution per example: the label-smoothed gold label, mixed with the
    teacher's probabilities (``distill_alpha``) when there is a teacher. ``pseudo`` rows have
    no gold label, so their target is the teacher's distribution alone."""
    n_labels = len(LABELS)
    gold = np.full((len(examples), n_labels), config.label_smoothing / n_labels)
    gold[np.arange(len(examples)), [LABELS.index(ex.label) for ex in examples]] += 1.0 - config.label_smoothing
    if teacher_probs is None:
        return gold.astype(np.float32)
    alpha = np.array([1.0 if ex.source == "pseudo" else config.distill_alpha for ex in examples])[:, None]
    return ((1 - alpha) * gold + alpha * teacher_probs).astype(np.float32)


def load_teacher(folder: str | Path, seed: int) -> Any:
    """The teacher classifier. It must have been trained on the split this fine-tuning uses
    (same seed): with another split it would have learnt the student's test rows."""
    from nlp.classifier import load_classifier, read_manifest
    from nlp.data import DataError

    trained_seed = (read_manifest(folder).get("training") or {}).get("seed")
    if trained_seed is not None and trained_seed != seed:
        raise DataError(f"교사 모델 {folder} 은 seed {trained_seed} 분할로 학습되었습니다 (--seed {seed}): 같은 seed 를 쓰세요")
    return load_classifier(folder)


def teacher_probabilities(teacher: Any, texts: Sequence[str], batch: int = 512) -> np.ndarray:
    """A trained classifier's calibrated probabilities over LABELS (rows sum to 1)."""
    out = np.zeros((len(texts), len(LABELS)), dtype=np.float64)
    for start in range(0, len(texts), batch):
        for i, probs in enumerate(teacher.predict(list(texts[start : start + batch]))):
            out[start + i] = [probs[label] for label in LABELS]
    return out / out.sum(1, keepdims=True)


def pseudo_examples(
    data_dir: Path, teacher_probs_of, held_out: Sequence[str], *, reviews: int = 0, seed: int = 13
) -> tuple[list[Example], np.ndarray]:
    """The chatbot questions (and ``reviews`` NSMC reviews, a seeded sample) as ``pseudo`` rows
    labelled by the teacher (argmax as the label, the full distribution as the target);
    near-duplicates of held-out text are dropped."""
    from nlp.data import chatbot_questions, nsmc_reviews, remove_overlap

    texts = chatbot_questions(data_dir)
    if reviews > 0:
        pool = sorted(set(nsmc_reviews(data_dir)))
        texts += random.Random(seed).sample(pool, min(reviews, len(pool)))
    rows = remove_overlap([Example(text, LABELS[0], "pseudo") for text in texts], held_out)
    probs = teacher_probs_of([ex.text for ex in rows])
    rows = [Example(ex.text, LABELS[int(p.argmax())], "pseudo") for ex, p in zip(rows, probs)]
    return rows, probs


def _version(model: Any) -> str:
    import torch

    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items())[:8]:
        digest.update(name.encode())
        digest.update(tensor.detach().to(torch.float32).numpy().tobytes()[:4096])
    return f"transformer-{dt.date.today().isoformat()}-{digest.hexdigest()[:7]}"


def length_bucketed_batches(texts: Sequence[str], batch_size: int, *, seed: int, pool_batches: int = 50) -> list[list[int]]:
    """Shuffled batches whose members have similar lengths (less padding to compute): a seeded
    shuffle, then sorting inside pools of ``pool_batches`` batches, then a shuffle of the batches."""
    rng = random.Random(seed)
    order = list(range(len(texts)))
    rng.shuffle(order)
    pool = batch_size * pool_batches
    batches: list[list[int]] = []
    for start in range(0, len(order), pool):
        chunk = sorted(order[start : start + pool], key=lambda i: len(texts[i]))
        batches.extend(chunk[j : j + batch_size] for j in range(0, len(chunk), batch_size))
    batches = [b for b in batches if len(b) == batch_size] or batches
    rng.shuffle(batches)
    return batches


def _lr_factor(progress: float, warmup: float) -> float:
    if progress < warmup:
        return max(progress / max(warmup, 1e-9), 1e-3)
    return max(0.0, (1 - progress) / max(1 - warmup, 1e-9))


def _metrics_from_logits(examples: Sequence[Example], logits: np.ndarray, temperature: float) -> dict[str, Any]:
    return classification_metrics([ex.label for ex in examples], softmax(logits, temperature))


def _brief(m: dict[str, Any]) -> dict[str, Any]:
    return {
        "n": m["n"], "accuracy": round(m["accuracy"], 4), "macro_f1": round(m["macro_f1"], 4), "ece": round(m["ece"], 4),
        "f1": {label: round(v["f1"], 4) for label, v in m["per_class"].items()},
    }


def _read_pretrain_log(base: Path) -> dict[str, Any] | None:
    for candidate in (base / "pretrain_log.json", base.parent / "pretrain_log.json"):
        if candidate.is_file():
            data = json.loads(candidate.read_text(encoding="utf-8"))
            keep = ("corpus", "corpus_tokens", "vocab_size", "parameters", "steps_done", "epochs_done", "tokens_seen", "train_minutes", "recent_train_loss", "evals", "bf16", "config")
            out = {k: data.get(k) for k in keep}
            if out.get("evals"):
                out["final_eval"] = out.pop("evals")[-1]
            return out
    return None


# ----------------------------------------------------------------------------- training

def _batch_logits(model, tokenizer, texts: Sequence[str], config: FinetuneConfig, batch_size: int = 64) -> np.ndarray:
    """The model's logits for ``texts``, computed on the device the model is on."""
    import torch

    from nlp.devices import use_bf16

    device = next(model.parameters()).device
    bf16 = use_bf16(device, config.bf16)
    model.eval()
    out = np.zeros((len(texts), len(LABELS)), dtype=np.float32)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            enc = tokenizer([texts[i][: config.max_chars] for i in idx], max_length=config.max_length, return_tensors="pt")
            logits = model(input_ids=enc["input_ids"].to(device), attention_mask=enc["attention_mask"].to(device)).logits
            out[idx] = logits.float().cpu().numpy()
    model.train()
    return out


def fine_tune(
    model: Any,
    tokenizer: Any,
    train: Sequence[Example],
    val: Sequence[Example],
    config: FinetuneConfig,
    targets: np.ndarray | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Train ``model`` in place on ``config.device``; returns (model with the best validation
    weights, back on the CPU, history). ``targets`` (one distribution per train example,
    :func:`soft_targets`) defaults to the label-smoothed gold labels."""
    import torch
    import torch.nn.functional as F
    from tqdm import tqdm

    from nlp.devices import describe, resolve_device, use_bf16
    from nlp.train_baseline import mask_keywords

    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    device = resolve_device(config.device)
    bf16 = use_bf16(device, config.bf16)
    model.to(device)
    weights = torch.tensor(example_weights(train, config), dtype=torch.float32, device=device)
    target_probs = torch.from_numpy(targets if targets is not None else soft_targets(train, config)).to(device)
    steps_per_epoch = max(1, len(length_bucketed_batches([ex.text for ex in train], config.batch_size, seed=0)))
    total_steps = steps_per_epoch * config.epochs
    eval_points = {int(steps_per_epoch * (k + 1) / config.evals_per_epoch) for k in range(config.evals_per_epoch)}
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "LayerNorm" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "LayerNorm" not in n)]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}], lr=config.lr
    )
    val_texts = [ex.text for ex in val]
    val_gold = [ex.label for ex in val]
    best = {"macro_f1": -1.0, "state": None, "step": 0}
    history: list[dict[str, Any]] = []
    evals_without_gain = 0
    step = 0
    started = time.time()
    budget = config.max_minutes * 60 if config.max_minutes else None
    stop = False

    def evaluate(epoch: int, running: list[float]) -> bool:
        """Score validation, remember the best weights; True when this is a new best."""
        val_logits = _batch_logits(model, tokenizer, val_texts, config)
        m = classification_metrics(val_gold, softmax(val_logits))
        entry = {
            "epoch": epoch + 1, "step": step, "train_loss": float(np.mean(running[-200:])) if running else None,
            "val_macro_f1": round(m["macro_f1"], 4), "val_accuracy": round(m["accuracy"], 4),
            "minutes": round((time.time() - started) / 60, 2),
        }
        history.append(entry)
        log.info("eval %s", entry)
        if m["macro_f1"] > best["macro_f1"]:
            best.update(macro_f1=m["macro_f1"], state=copy.deepcopy(model.state_dict()), step=step)
            return True
        return False

    epoch = 0
    running: list[float] = []
    model.train()
    for epoch in range(config.epochs):
        texts = [
            mask_keywords(ex.text, rng, config.keyword_mask) if ex.source == "seed_kin" else ex.text for ex in train
        ]
        batches = length_bucketed_batches(texts, config.batch_size, seed=config.seed * 100 + epoch)[:steps_per_epoch]
        running: list[float] = []
        bar = tqdm(range(len(batches)), desc=f"epoch {epoch + 1}/{config.epochs}", mininterval=10, file=sys.stderr)
        for b in bar:
            idx = batches[b]
            progress = step / total_steps
            if budget:
                progress = max(progress, (time.time() - started) / budget)
            if progress >= 1.0:
                stop = True
                break
            for group in optimizer.param_groups:
                group["lr"] = config.lr * _lr_factor(progress, config.warmup_frac)
            enc = tokenizer([texts[i][: config.max_chars] for i in idx], max_length=config.max_length, return_tensors="pt")
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                logits = model(input_ids=enc["input_ids"].to(device), attention_mask=enc["attention_mask"].to(device)).logits
            losses = F.cross_entropy(logits.float(), target_probs[idx], reduction="none")
            w = weights[idx]
            loss = (losses * w).sum() / w.sum()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            running.append(loss.item())
            if len(running) % 50 == 0:
                bar.set_postfix(loss=f"{np.mean(running[-50:]):.3f}")
            if (b + 1) in eval_points and val:
                gained = evaluate(epoch, running)
                evals_without_gain = 0 if gained else evals_without_gain + 1
                if evals_without_gain >= config.patience * config.evals_per_epoch:
                    log.info("early stop: no validation gain in %d evaluations", evals_without_gain)
                    stop = True
                    break
        bar.close()
        if stop:
            break
    if val and (not history or history[-1]["step"] != step):
        evaluate(epoch, running)  # the time budget ended between evaluation points
    if best["state"] is not None:
        model.load_state_dict(best["state"])
    model.to("cpu").eval()
    info = {
        "history": history, "best_step": best["step"], "best_val_macro_f1": round(best["macro_f1"], 4),
        "steps": step, "steps_per_epoch": steps_per_epoch, "minutes": round((time.time() - started) / 60, 2), "bf16": bf16,
        "device": describe(device),
    }
    return model, info


def _scratch_model(base_folder: Path, num_labels: int):
    from transformers import AutoConfig, BertForSequenceClassification

    config = AutoConfig.from_pretrained(str(base_folder))
    config.num_labels = num_labels
    config.id2label = dict(enumerate(LABELS))
    config.label2id = {label: i for i, label in enumerate(LABELS)}
    return BertForSequenceClassification(config)


def train_transformer(
    data_dir: Path,
    out_dir: Path = DEFAULT_OUT,
    *,
    base: str | Path = DEFAULT_BASE,
    seed: int = 13,
    chat_path: Path | None = DEFAULT_CHAT_TRAIN,
    corrections: Path | None = None,
    corrections_weight: float = 3.0,
    chat_test_path: Path | None = DEFAULT_CHAT_TEST,
    epochs: int = 3,
    config: FinetuneConfig | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """Fine-tune ``base`` (local folder or Hub id), calibrate, evaluate and save to ``out_dir``.
    Returns the summary stored in the manifest under ``training``."""
    import torch

    from nlp.train_baseline import TrainConfig, _resolve_default, assemble_data
    from nlp.transformer import load_backbone, save_classifier

    config = config or FinetuneConfig()
    config = FinetuneConfig(**{**asdict(config), "seed": seed, "epochs": epochs, "corrections_weight": corrections_weight, **overrides})
    started = time.time()
    torch.manual_seed(seed)
    chat_path = _resolve_default(Path(chat_path), DEFAULT_CHAT_TRAIN) if chat_path else None
    chat_test_path = _resolve_default(Path(chat_test_path), DEFAULT_CHAT_TEST) if chat_test_path else None
    split_config = TrainConfig(seed=seed, val_frac=config.val_frac, test_frac=config.test_frac)
    data = assemble_data(Path(data_dir), split_config, chat_path, Path(corrections) if corrections else None, chat_test_path)
    log.info("split: train %d, val %d, test %d, chat test %d", len(data.train), len(data.val), len(data.test), len(data.chat_test))

    model, tokenizer, base_folder = load_backbone(base, num_labels=len(LABELS), max_length=config.max_length)
    if config.scratch:
        model = _scratch_model(base_folder, len(LABELS))
    n_params = sum(p.numel() for p in model.parameters())
    log.info("model: %s (%s, %.1fM parameters)", base, "random init" if config.scratch else "pretrained", n_params / 1e6)

    train, targets, distillation = data.train, None, None
    if config.teacher:
        teacher = load_teacher(config.teacher, seed)
        teacher_of = lambda texts: teacher_probabilities(teacher, texts)  # noqa: E731
        teacher_train = teacher_of([ex.text for ex in data.train])
        pseudo, pseudo_probs = ([], np.zeros((0, len(LABELS))))
        if config.pseudo_weight > 0:
            pseudo, pseudo_probs = pseudo_examples(Path(data_dir), teacher_of, data.scored_texts(), reviews=config.pseudo_reviews, seed=seed)
        train = [*data.train, *pseudo]
        targets = soft_targets(train, config, np.concatenate([teacher_train, pseudo_probs]))
        distillation = {"teacher": str(config.teacher), "alpha": config.distill_alpha, "pseudo_rows": len(pseudo),
                        "pseudo_weight": config.pseudo_weight, "pseudo_counts": class_counts(pseudo)}
        log.info("distillation from %s: alpha %.2f, %d teacher-labelled unlabelled texts", config.teacher, config.distill_alpha, len(pseudo))
    model, fit_info = fine_tune(model, tokenizer, train, data.val, config, targets)

    val_logits = _batch_logits(model, tokenizer, [ex.text for ex in data.val], config)
    val_idx = [LABELS.index(ex.label) for ex in data.val]
    temperature = fit_temperature(val_logits, val_idx) if data.val else 1.0
    calibration = {
        "temperature": round(temperature, 4),
        "val_nll_before": round(nll(val_logits, val_idx, 1.0), 4) if data.val else None,
        "val_nll_after": round(nll(val_logits, val_idx, temperature), 4) if data.val else None,
        "val_ece_before": round(expected_calibration_error(softmax(val_logits), val_idx), 4) if data.val else None,
        "val_ece_after": round(expected_calibration_error(softmax(val_logits, temperature), val_idx), 4) if data.val else None,
    }
    test_logits = _batch_logits(model, tokenizer, [ex.text for ex in data.test], config)
    test_metrics = _metrics_from_logits(data.test, test_logits, temperature)
    test_idx = [LABELS.index(ex.label) for ex in data.test]
    calibration["test_ece_before"] = round(expected_calibration_error(softmax(test_logits), test_idx), 4)
    calibration["test_ece_after"] = round(expected_calibration_error(softmax(test_logits, temperature), test_idx), 4)
    per_source = {
        source: _brief(_metrics_from_logits(
            [ex for ex in data.test if ex.source == source],
            test_logits[[i for i, ex in enumerate(data.test) if ex.source == source]], temperature))
        for source in sorted({ex.source for ex in data.test})
    }
    metrics: dict[str, Any] = {
        "test": _brief(test_metrics),
        "test_per_source": per_source,
        "calibration": calibration,
    }
    if data.chat_test:
        chat_logits = _batch_logits(model, tokenizer, [ex.text for ex in data.chat_test], config)
        metrics["chat_test"] = _brief(_metrics_from_logits(data.chat_test, chat_logits, temperature))
        metrics["chat_test"]["confusion"] = _metrics_from_logits(data.chat_test, chat_logits, temperature)["confusion"]
    version = _version(model)
    summary: dict[str, Any] = {
        "trained_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "base": str(base),
        "init": "random (scratch)" if config.scratch else "pretrained",
        "pretraining": None if config.scratch else _read_pretrain_log(Path(base_folder)),
        "parameters": n_params,
        "seed": seed,
        "config": asdict(config),
        "split": {"method": "nlp.data.split_examples (near-duplicate groups)", "val_frac": config.val_frac, "test_frac": config.test_frac},
        "inputs": {
            "data_dir": str(data_dir),
            "chat_train": str(chat_path) if chat_path else None,
            "chat_test": str(chat_test_path) if chat_test_path else None,
            "corrections": str(corrections) if corrections else None,
        },
        "counts": {
            "train": class_counts(data.train), "val": class_counts(data.val), "test": class_counts(data.test),
            "train_by_source": {s: sum(1 for ex in data.train if ex.source == s) for s in sorted({ex.source for ex in data.train})},
            "removed_overlap_with_held_out_eval": data.removed_overlap,
        },
        "distillation": distillation,
        "fit": fit_info,
        "metrics": metrics,
    }
    manifest = {
        "version": version,
        "max_chars": config.max_chars,
        "max_length": config.max_length,
        "temperature": round(temperature, 4),
        "tokenizer": None,
        "quantize": config.quantize,
        "training": summary,
    }
    if manifest["tokenizer"] is None:
        manifest.pop("tokenizer")
    out = save_classifier(model, tokenizer, out_dir, manifest, fp16=config.fp16_weights)
    size = sum(p.stat().st_size for p in Path(out).iterdir() if p.is_file())
    summary["model_bytes"] = size
    summary["total_minutes"] = round((time.time() - started) / 60, 2)
    manifest_path = Path(out) / "maeum_model.json"
    data_json = json.loads(manifest_path.read_text(encoding="utf-8"))
    data_json["training"] = summary
    manifest_path.write_text(json.dumps(data_json, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    log.info("wrote %s (%s, %.1f MB)", out, version, size / 1e6)
    return summary


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="maeum train --kind transformer", description="fine-tune a BERT checkpoint into Maeum's emotion classifier")
    p.add_argument("--data", type=Path, default=REPO_ROOT.parent / "shared" / "data")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    p.add_argument("--base", default=str(DEFAULT_BASE), help="pretrained folder (default runs/pretrain/final, what `maeum pretrain` writes) or a Hub id such as skt/kobert-base-v1")
    p.add_argument("--scratch", action="store_true", help="random weights with the base's config and tokenizer (no pretraining)")
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--chat", type=Path, default=DEFAULT_CHAT_TRAIN)
    p.add_argument("--chat-test", type=Path, default=DEFAULT_CHAT_TEST)
    p.add_argument("--no-chat", action="store_true")
    p.add_argument("--corrections", type=Path, default=None)
    p.add_argument("--corrections-weight", type=float, default=3.0)
    p.add_argument("--chat-weight", type=float, default=10.0)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--label-smoothing", type=float, default=0.1)
    p.add_argument("--keyword-mask", type=float, default=0.5)
    p.add_argument("--max-minutes", type=float, default=None)
    p.add_argument("--max-length", type=int, default=64)
    p.add_argument("--quantize", choices=["int8"], default=None, help="ship with int8 dynamic quantisation enabled")
    p.add_argument("--fp32", action="store_true", help="store fp32 weights (default fp16)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", choices=DEVICE_CHOICES, default="auto", help="where fine-tuning runs (auto: a CUDA GPU when there is one)")
    p.add_argument("--teacher", default=None, help="distil from this trained model folder (e.g. model/baseline)")
    p.add_argument("--distill-alpha", type=float, default=0.5)
    p.add_argument("--pseudo-weight", type=float, default=1.0, help="weight of teacher-labelled chatbot questions (0 = none)")
    p.add_argument("--pseudo-reviews", type=int, default=0, help="also teacher-label this many NSMC reviews")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    from nlp.data import DataError
    from nlp.classifier import ModelLoadError
    from nlp.transformer_threads import configure_torch_threads

    configure_torch_threads(args.threads)
    try:
        summary = train_transformer(
            args.data, args.out, base=args.base, seed=args.seed,
            chat_path=None if args.no_chat else args.chat, corrections=args.corrections,
            corrections_weight=args.corrections_weight, chat_test_path=args.chat_test, epochs=args.epochs,
            scratch=args.scratch, batch_size=args.batch_size, lr=args.lr, label_smoothing=args.label_smoothing,
            keyword_mask=args.keyword_mask, max_minutes=args.max_minutes, max_length=args.max_length,
            quantize=args.quantize, fp16_weights=not args.fp32, chat_weight=args.chat_weight,
            teacher=args.teacher, distill_alpha=args.distill_alpha, pseudo_weight=args.pseudo_weight,
            pseudo_reviews=args.pseudo_reviews, device=args.device,
        )
    except (DataError, ModelLoadError) as exc:
        print(f"maeum: {exc}", file=sys.stderr)
        return 2
    m = summary["metrics"]
    print(json.dumps({"test_macro_f1": m["test"]["macro_f1"], "chat_test": m.get("chat_test", {}).get("macro_f1"),
                      "temperature": m["calibration"]["temperature"], "model_bytes": summary["model_bytes"]}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
