"""A lean, inference-only BERT sequence classifier in plain torch.

The shipped emotion model is a small ``BertForSequenceClassification`` stored as Hugging Face
files (``config.json`` + fp16 ``model.safetensors``). Building it through ``transformers``
costs ~135 MB of RSS on top of torch (sympy, torch._dynamo, scipy, PIL, ...), which pushes the
bot past its 400 MB goal. :func:`load_lite_bert` reads the same two files with ``json`` and
``safetensors`` and rebuilds the same network (absolute positions, post-LayerNorm, exact erf
GELU, tanh pooler), giving the same logits without ever importing ``transformers``.

Only what :func:`supports` accepts is handled; ``transformers`` stays the path for training
and for arbitrary checkpoints. ``tests/test_bert_lite.py`` checks the logits against
``transformers`` on random and on the shipped weights.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, NamedTuple

import torch
from safetensors.torch import load_file
from torch import nn
from torch.nn import functional as F

__all__ = ["LiteBertForSequenceClassification", "load_lite_bert", "supports"]

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"


class _AddNorm(nn.Module):
    """Dense, residual add, LayerNorm (HF's ``BertSelfOutput`` / ``BertOutput``)."""

    def __init__(self, d_in: int, d_out: int, eps: float) -> None:
        super().__init__()
        self.dense = nn.Linear(d_in, d_out)
        self.LayerNorm = nn.LayerNorm(d_out, eps=eps)

    def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dense(x) + residual)


class _Layer(nn.Module):
    """One encoder layer; submodule names follow ``bert.encoder.layer.{i}.*``."""

    def __init__(self, hidden: int, intermediate: int, heads: int, eps: float) -> None:
        super().__init__()
        self.heads = heads
        self.attention = nn.ModuleDict({
            "self": nn.ModuleDict({name: nn.Linear(hidden, hidden) for name in ("query", "key", "value")}),
            "output": _AddNorm(hidden, hidden, eps),
        })
        self.intermediate = nn.ModuleDict({"dense": nn.Linear(hidden, intermediate)})
        self.output = _AddNorm(intermediate, hidden, eps)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        b, s, h = x.shape
        qkv = self.attention["self"]
        q, k, v = (qkv[n](x).view(b, s, self.heads, h // self.heads).transpose(1, 2) for n in ("query", "key", "value"))
        context = F.scaled_dot_product_attention(q, k, v, attn_mask=mask).transpose(1, 2).reshape(b, s, h)
        x = self.attention["output"](context, x)
        return self.output(F.gelu(self.intermediate["dense"](x)), x)


def _unsupported(config: Mapping[str, Any]) -> str | None:
    """Why this module cannot reproduce ``config`` exactly, or None when it can."""
    if config.get("model_type") != "bert":
        return f"model_type is {config.get('model_type')!r}, not 'bert'"
    if config.get("hidden_act", "gelu") != "gelu":
        return f"hidden_act {config['hidden_act']!r} is not supported (only 'gelu')"
    if config.get("position_embedding_type", "absolute") != "absolute":
        return f"position_embedding_type {config['position_embedding_type']!r} is not supported"
    if config.get("is_decoder"):
        return "decoder configs are not supported"
    return None


class LiteOutput(NamedTuple):
    logits: torch.Tensor


class LiteBertForSequenceClassification(nn.Module):
    """BERT encoder + pooler + linear head, numerically equal to HF's eager BERT in eval mode.

    Parameter names equal the Hugging Face state-dict keys, so a checkpoint loads directly.
    There is no dropout and every dense layer is an ``nn.Linear`` (``quantize_dynamic`` works).
    """

    def __init__(self, config: Mapping[str, Any], num_labels: int) -> None:
        super().__init__()
        if reason := _unsupported(config):
            raise ValueError(reason)
        hidden, eps = config["hidden_size"], config.get("layer_norm_eps", 1e-12)
        self.bert = nn.Module()
        self.bert.embeddings = nn.ModuleDict({
            "word_embeddings": nn.Embedding(config["vocab_size"], hidden),
            "position_embeddings": nn.Embedding(config["max_position_embeddings"], hidden),
            "token_type_embeddings": nn.Embedding(config.get("type_vocab_size", 2), hidden),
            "LayerNorm": nn.LayerNorm(hidden, eps=eps),
        })
        self.bert.encoder = nn.ModuleDict({"layer": nn.ModuleList(
            _Layer(hidden, config["intermediate_size"], config["num_attention_heads"], eps)
            for _ in range(config["num_hidden_layers"])
        )})
        self.bert.pooler = nn.ModuleDict({"dense": nn.Linear(hidden, hidden)})
        self.classifier = nn.Linear(hidden, num_labels)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None) -> "LiteOutput":
        """``.logits`` of shape (batch, num_labels), read the same way as transformers' output."""
        emb = self.bert.embeddings
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        x = emb["word_embeddings"](input_ids) + emb["token_type_embeddings"](token_type_ids)
        x = emb["LayerNorm"](x + emb["position_embeddings"](positions))
        mask = None
        if attention_mask is not None:  # additive (batch, 1, 1, seq): 0 to keep, dtype min to drop
            mask = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min
        for layer in self.bert.encoder["layer"]:
            x = layer(x, mask)
        return LiteOutput(self.classifier(torch.tanh(self.bert.pooler["dense"](x[:, 0]))))


def supports(folder: Path) -> bool:
    """True when ``folder`` holds a BERT checkpoint this module reproduces exactly."""
    folder = Path(folder)
    try:
        config = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(config, dict) and _unsupported(config) is None and (folder / WEIGHTS_FILE).is_file()


def load_lite_bert(folder: Path, num_labels: int) -> LiteBertForSequenceClassification:
    """The classifier in ``folder`` (``config.json`` + ``model.safetensors``), float32, in eval mode.

    Extra keys (``bert.embeddings.position_ids``, an MLM head, ...) are ignored; a missing
    key, a missing classifier head or a ``num_labels`` mismatch raises ValueError.
    """
    folder = Path(folder)
    config = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
    if reason := _unsupported(config):
        raise ValueError(f"{folder}: {reason}")
    state = load_file(folder / WEIGHTS_FILE)
    if "classifier.weight" not in state:
        raise ValueError(f"{folder}: {WEIGHTS_FILE} has no classifier head (classifier.weight)")
    if (found := state["classifier.weight"].shape[0]) != num_labels:
        raise ValueError(f"{folder}: the classifier has {found} outputs, expected num_labels={num_labels}")
    # Built on the CPU, not under torch.device("meta"): that context manager imports sympy and
    # torch._dynamo (~75 MB of RSS), the very cost this module avoids.
    model = LiteBertForSequenceClassification(config, num_labels)
    needed = model.state_dict().keys()
    if missing := sorted(needed - state.keys()):
        raise ValueError(f"{folder}: {WEIGHTS_FILE} lacks {len(missing)} key(s): {', '.join(missing)}")
    model.load_state_dict({k: state[k] for k in needed}, strict=True)  # copy_ upcasts into float32
    return model.eval()
