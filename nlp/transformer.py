"""The transformer emotion classifier: a BERT sequence classifier behind :class:`EmotionClassifier`.

A model folder holds the Hugging Face files (``config.json``, ``model.safetensors``), the
tokenizer files and ``maeum_model.json``::

    {"kind": "transformer", "version": "...", "labels": ["joy", "anxiety", "sadness", "anger"],
     "max_chars": 300, "max_length": 64, "temperature": 1.3,
     "tokenizer": "sentencepiece" | "auto", "quantize": "int8" | null}

``tokenizer: "sentencepiece"`` (KoBERT and our own model) goes through
:class:`nlp.tokenization.SentencePieceBertTokenizer`, which matches raw SentencePiece; the
``AutoTokenizer``/``XLNetTokenizer`` path would turn Hangul into ``[UNK]`` for KoBERT.
``"auto"`` is for checkpoints with a standard Hugging Face tokenizer.

:func:`load_backbone` accepts a local folder or a Hub id (e.g. ``skt/kobert-base-v1``); a
Hub id is fetched into the local cache with ``huggingface_hub.snapshot_download`` and then
read through exactly the same local-folder code.
"""
from __future__ import annotations

import copy
import json
import logging
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, Sequence

import numpy as np

from nlp.calibration import softmax
from nlp.classifier import MANIFEST, ModelLoadError, read_manifest
from nlp.labels import LABELS
from nlp.tokenization import SentencePieceBertTokenizer, TokenizerError
from nlp.transformer_threads import configure_torch_threads

if TYPE_CHECKING:
    import torch

__all__ = [
    "TransformerClassifier",
    "configure_torch_threads",
    "load_backbone",
    "resolve_model_dir",
    "save_classifier",
]

log = logging.getLogger(__name__)

DEFAULT_MAX_CHARS = 300
DEFAULT_MAX_LENGTH = 64
DEFAULT_BATCH_SIZE = 32
_HUB_FILES = ["*.json", "*.model", "vocab.txt", "*.safetensors", "*.bin", "*.txt"]


class BatchTokenizer(Protocol):
    pad_token_id: int

    def __call__(self, texts: Sequence[str], *, max_length: int | None = None, padding: bool | str = True,
                 truncation: bool = True, return_tensors: str | None = "pt") -> dict: ...


class AutoTokenizerAdapter:
    """A Hugging Face tokenizer behind the same call signature as SentencePieceBertTokenizer."""

    def __init__(self, tokenizer: Any, max_length: int) -> None:
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.pad_token_id = tokenizer.pad_token_id
        self.vocab_size = len(tokenizer)

    def __call__(self, texts, *, max_length=None, padding=True, truncation=True, return_tensors="pt") -> dict:
        if isinstance(texts, str):
            texts = [texts]
        encoded = self.tokenizer(
            list(texts), max_length=max_length or self.max_length, padding=padding,
            truncation=truncation, return_tensors=return_tensors,
        )
        return dict(encoded)

    def save_pretrained(self, folder: str | Path) -> None:
        self.tokenizer.save_pretrained(str(folder))


# ----------------------------------------------------------------------------- loading

def resolve_model_dir(model_dir_or_hub_id: str | Path) -> Path:
    """A local folder as is; anything else is taken as a Hub id and downloaded into the
    Hugging Face cache (weights, config and tokenizer files only)."""
    path = Path(model_dir_or_hub_id).expanduser()
    if path.is_dir():
        return path
    name = str(model_dir_or_hub_id)
    looks_local = name.startswith((".", "/", "~")) or name.count("/") != 1 or Path(name.split("/")[0]).is_dir()
    if path.exists() or looks_local:
        raise ModelLoadError(f"모델 폴더가 없습니다: {name}")
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo_id=name, allow_patterns=_HUB_FILES))
    except Exception as exc:  # network errors, unknown repo, offline mode
        raise ModelLoadError(f"'{name}' 모델을 Hugging Face Hub에서 받을 수 없습니다: {exc}") from exc


def load_tokenizer(folder: Path, kind: str | None, max_length: int) -> BatchTokenizer:
    """``kind`` "sentencepiece", "auto", or None to pick by the files present."""
    if kind is None:
        kind = "sentencepiece" if SentencePieceBertTokenizer.is_sentencepiece_dir(folder) else "auto"
    if kind == "sentencepiece":
        try:
            return SentencePieceBertTokenizer.from_dir(folder, max_length=max_length)
        except (TokenizerError, OSError) as exc:
            raise ModelLoadError(f"{folder}: 토크나이저를 읽을 수 없습니다: {exc}") from exc
    if kind == "auto":
        from transformers import AutoTokenizer

        return AutoTokenizerAdapter(AutoTokenizer.from_pretrained(str(folder)), max_length)
    raise ModelLoadError(f"{folder}: 알 수 없는 tokenizer 종류 {kind!r}")


def _quiet_quantize(model: "torch.nn.Module") -> "torch.nn.Module":
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)


def load_backbone(
    model_dir_or_hub_id: str | Path,
    *,
    num_labels: int = len(LABELS),
    tokenizer_kind: str | None = None,
    max_length: int = DEFAULT_MAX_LENGTH,
    quantize: str | None = None,
) -> tuple[Any, BatchTokenizer, Path]:
    """(sequence-classification model in eval mode, tokenizer, local folder).

    BERT checkpoints (KoBERT, ours, a pretrained MLM) load as ``BertForSequenceClassification``
    (a missing classifier head is initialised fresh: that is the fine-tuning start), others
    through ``AutoModelForSequenceClassification``. Weights stored in fp16 are upcast."""
    import torch
    from transformers import AutoConfig, AutoModelForSequenceClassification, BertForSequenceClassification
    from transformers.utils import logging as hf_logging

    folder = resolve_model_dir(model_dir_or_hub_id)
    if not (folder / "config.json").is_file():
        raise ModelLoadError(f"{folder} 에 config.json 이 없습니다")
    tokenizer = load_tokenizer(folder, tokenizer_kind, max_length)
    config = AutoConfig.from_pretrained(str(folder))
    config.num_labels = num_labels
    config.id2label = {i: label for i, label in enumerate(LABELS[:num_labels])} if num_labels == len(LABELS) else config.id2label
    config.label2id = {label: i for i, label in config.id2label.items()}
    verbosity = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()  # "newly initialised classifier" is expected for a base model
    hf_logging.disable_progress_bar()  # no "Loading weights" bar in the bot's console
    try:
        cls = BertForSequenceClassification if config.model_type == "bert" else AutoModelForSequenceClassification
        model = cls.from_pretrained(str(folder), config=config, dtype=torch.float32)
    except (OSError, ValueError, RuntimeError) as exc:
        raise ModelLoadError(f"{folder}: 모델 가중치를 읽을 수 없습니다: {exc}") from exc
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()
    return _ready(model, tokenizer, folder, model.config.vocab_size, quantize), tokenizer, folder


def _ready(model: Any, tokenizer: BatchTokenizer, folder: Path, model_vocab: int, quantize: str | None) -> Any:
    """Check the tokenizer fits the model, switch to eval mode, quantise if asked."""
    vocab = getattr(tokenizer, "vocab_size", None)
    if vocab is not None and vocab > model_vocab:
        raise ModelLoadError(f"{folder}: tokenizer vocabulary ({vocab}) is larger than the model's ({model_vocab})")
    model.eval()
    if quantize == "int8":
        return _quiet_quantize(model)
    if quantize not in (None, "", "none"):
        raise ModelLoadError(f"{folder}: 알 수 없는 quantize 값 {quantize!r}")
    return model


def load_for_inference(
    folder: Path, *, tokenizer_kind: str | None, max_length: int, quantize: str | None, lite: bool = True
) -> tuple[Any, BatchTokenizer]:
    """(model, tokenizer) for prediction only. A plain BERT folder loads through
    :mod:`nlp.bert_lite` (same logits, ~150 MB less memory: ``transformers`` is never
    imported); anything else, or ``lite=False``, through :func:`load_backbone`."""
    from nlp import bert_lite

    if not (lite and bert_lite.supports(folder)):
        model, tokenizer, _ = load_backbone(folder, tokenizer_kind=tokenizer_kind, max_length=max_length, quantize=quantize)
        return model, tokenizer
    tokenizer = load_tokenizer(folder, tokenizer_kind, max_length)
    try:
        model = bert_lite.load_lite_bert(folder, len(LABELS))
    except (OSError, ValueError, RuntimeError) as exc:
        raise ModelLoadError(f"{folder}: 모델 가중치를 읽을 수 없습니다: {exc}") from exc
    return _ready(model, tokenizer, folder, model.bert.embeddings["word_embeddings"].num_embeddings, quantize), tokenizer


def preload() -> None:
    """Import torch and the inference code now (seconds on a busy CPU), e.g. while the app
    starts, so that :meth:`TransformerClassifier.load` only reads files."""
    import torch  # noqa: F401

    from nlp import bert_lite  # noqa: F401


# ----------------------------------------------------------------------------- classifier

class TransformerClassifier:
    """Calibrated probabilities over LABELS from a BERT sequence classifier."""

    def __init__(
        self,
        model: Any,
        tokenizer: BatchTokenizer,
        *,
        version: str,
        max_chars: int = DEFAULT_MAX_CHARS,
        max_length: int = DEFAULT_MAX_LENGTH,
        temperature: float = 1.0,
        batch_size: int = DEFAULT_BATCH_SIZE,
        labels: Sequence[str] = LABELS,
    ) -> None:
        if list(labels) != list(LABELS):
            raise ModelLoadError(f"labels must be {list(LABELS)}")
        self.model = model
        self.tokenizer = tokenizer
        self.version = version
        self.max_chars = int(max_chars)
        self.max_length = int(max_length)
        self.temperature = float(temperature)
        self.batch_size = int(batch_size)
        self.model.eval()

    @classmethod
    def load(
        cls, model_dir_or_hub_id: str | Path, *, quantize: str | None | bool = False, batch_size: int = DEFAULT_BATCH_SIZE,
        lite: bool = True,
    ) -> "TransformerClassifier":
        """Load a Maeum transformer folder (or a Hub id that has ``maeum_model.json``).

        ``quantize`` False keeps the manifest's choice; None / "int8" override it. ``lite``
        False builds the model with ``transformers`` even where :mod:`nlp.bert_lite` could."""
        folder = resolve_model_dir(model_dir_or_hub_id)
        manifest = read_manifest(folder)
        if manifest.get("kind") != "transformer":
            raise ModelLoadError(f"{folder}: {MANIFEST} kind is {manifest.get('kind')!r}, not 'transformer'")
        quant = manifest.get("quantize") if quantize is False else quantize
        max_length = int(manifest.get("max_length", DEFAULT_MAX_LENGTH))
        model, tokenizer = load_for_inference(
            folder, tokenizer_kind=manifest.get("tokenizer"), max_length=max_length, quantize=quant, lite=lite,
        )
        return cls(
            model, tokenizer,
            version=str(manifest.get("version", "transformer")),
            max_chars=int(manifest.get("max_chars", DEFAULT_MAX_CHARS)),
            max_length=max_length,
            temperature=float(manifest.get("temperature", 1.0)),
            batch_size=batch_size,
        )

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        """Raw (uncalibrated) logits, shape (len(texts), 4), in input order. Batches are
        formed from texts of similar length so that little padding is computed."""
        import torch

        texts = [str(t)[: self.max_chars] for t in texts]
        out = np.zeros((len(texts), len(LABELS)), dtype=np.float32)
        if not texts:
            return out
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                idx = order[start : start + self.batch_size]
                enc = self.tokenizer([texts[i] for i in idx], max_length=self.max_length, padding=True, truncation=True, return_tensors="pt")
                out[idx] = self.model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits.float().numpy()
        return out

    def predict(self, texts: Sequence[str]) -> list[dict[str, float]]:
        probs = softmax(self.logits(texts), self.temperature)
        return [{label: float(p[i]) for i, label in enumerate(LABELS)} for p in probs]


# ----------------------------------------------------------------------------- saving

def save_classifier(
    model: Any,
    tokenizer: Any,
    out_dir: str | Path,
    manifest: dict[str, Any],
    *,
    fp16: bool = True,
) -> Path:
    """Write safetensors weights (fp16 by default: half the size, upcast on load), the
    tokenizer files and ``maeum_model.json`` (``kind``/``labels`` filled in)."""
    import torch

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    to_save = copy.deepcopy(model).to(torch.float16) if fp16 else model
    to_save.save_pretrained(str(out))
    tokenizer.save_pretrained(out)
    data = {"kind": "transformer", "labels": list(LABELS), **manifest}
    data.setdefault("tokenizer", "sentencepiece" if isinstance(tokenizer, SentencePieceBertTokenizer) else "auto")
    data.setdefault("quantize", None)
    (out / MANIFEST).write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return out
