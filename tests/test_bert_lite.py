"""nlp.bert_lite against transformers' BertForSequenceClassification: random tiny models,
fp16 weights, padding, int8, the shipped model, errors, and that transformers stays unloaded."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import BertConfig, BertForSequenceClassification

from nlp.bert_lite import LiteBertForSequenceClassification, load_lite_bert, supports

REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / "model" / "transformer"
VOCAB, LABELS = 300, 4


def tiny_hf(seed: int = 0) -> BertForSequenceClassification:
    """A tiny random HF classifier with weights large enough for sharp attention and O(1) logits,
    and LayerNorms and biases that are not the trivial 1 / 0."""
    torch.manual_seed(seed)
    model = BertForSequenceClassification(BertConfig(
        vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=64, max_position_embeddings=64, num_labels=LABELS))
    with torch.no_grad():
        for name, param in model.named_parameters():
            if param.dim() == 2:
                param.normal_(0, 0.2)
            elif "LayerNorm.weight" in name:
                param.copy_(1 + 0.2 * torch.randn_like(param))
            elif name.endswith("bias"):
                param.copy_(0.1 * torch.randn_like(param))
    return model.eval()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> tuple[BertForSequenceClassification, Path]:
    folder = tmp_path_factory.mktemp("tiny_bert")
    model = tiny_hf()
    model.save_pretrained(folder)
    return model, folder


def padded_batch(rows: int, seq: int, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Random ids with [CLS]=2 first; every other row padded (id 1, mask 0) after a random length."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, VOCAB, (rows, seq), generator=g)
    ids[:, 0] = 2
    mask = torch.ones(rows, seq, dtype=torch.long)
    for row in range(0, rows, 2):
        length = int(torch.randint(2, seq, (1,), generator=g))
        ids[row, length:], mask[row, length:] = 1, 0
    return ids, mask


def hf_logits(model: BertForSequenceClassification, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(input_ids=ids, attention_mask=mask).logits


def lite_logits(model: torch.nn.Module, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(ids, attention_mask=mask).logits


def test_matches_transformers_fp32_and_fp16(tiny, tmp_path):
    hf, folder = tiny
    lite = load_lite_bert(folder, LABELS)
    assert isinstance(lite, LiteBertForSequenceClassification) and not lite.training
    ids, mask = padded_batch(8, 20)
    assert (mask == 0).any()
    expected = hf_logits(hf, ids, mask)
    got = lite_logits(lite, ids, mask)
    assert got.shape == (8, LABELS) and got.dtype == torch.float32
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)
    token_types = (torch.arange(20) >= 10).long().expand(8, 20)
    with torch.no_grad():
        torch.testing.assert_close(lite(ids, mask, token_types).logits, hf(ids, mask, token_types).logits, atol=1e-5, rtol=0)

    fp16 = tmp_path / "fp16"
    tiny_hf().to(torch.float16).save_pretrained(fp16)
    assert next(iter(load_file(fp16 / "model.safetensors").values())).dtype == torch.float16
    rounded = tiny_hf().to(torch.float16).float().eval()
    torch.testing.assert_close(lite_logits(load_lite_bert(fp16, LABELS), ids, mask), hf_logits(rounded, ids, mask),
                               atol=1e-4, rtol=0)


def test_padding_does_not_change_logits(tiny):
    lite = load_lite_bert(tiny[1], LABELS)
    short = torch.tensor([[2, 17, 42, 99, 3]])
    long = torch.tensor([[2, 5, 6, 7, 8, 9, 10, 11, 12, 3]])
    batch = torch.cat([torch.cat([short, torch.ones(1, 5, dtype=torch.long)], 1), long])
    mask = torch.tensor([[1] * 5 + [0] * 5, [1] * 10])
    alone = lite_logits(lite, short, torch.ones_like(short))
    torch.testing.assert_close(lite_logits(lite, batch, mask)[:1], alone, atol=1e-5, rtol=0)
    torch.testing.assert_close(lite_logits(lite, short, None), alone, atol=1e-5, rtol=0)


@pytest.mark.filterwarnings("ignore:.*quantiz:DeprecationWarning", "ignore:.*quantize_per:UserWarning")
def test_int8_dynamic_quantisation_agrees(tiny):
    lite = load_lite_bert(tiny[1], LABELS)
    quantized = torch.ao.quantization.quantize_dynamic(lite, {torch.nn.Linear}, dtype=torch.qint8)
    ids, mask = padded_batch(64, 24, seed=2)
    fp32, int8 = lite_logits(lite, ids, mask), lite_logits(quantized, ids, mask)
    assert (fp32.argmax(1) == int8.argmax(1)).float().mean() >= 0.9
    assert fp32.abs().max() > 1  # logits are O(1), so the bounds below are not vacuous
    assert (fp32 - int8).abs().max() < 0.25 and (fp32 - int8).abs().mean() < 0.05


def test_shipped_model_matches_transformers():
    if not (SHIPPED / "model.safetensors").is_file():
        pytest.skip("no shipped transformer model")
    assert supports(SHIPPED)
    labels = len(json.loads((SHIPPED / "config.json").read_text(encoding="utf-8"))["id2label"])
    lite = load_lite_bert(SHIPPED, labels)
    hf = BertForSequenceClassification.from_pretrained(SHIPPED, dtype=torch.float32).eval()
    rows = [[2, 100, 3], [2, 5000, 11999, 42, 7, 3], [2, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 3]]
    width = max(map(len, rows))
    ids = torch.tensor([r + [1] * (width - len(r)) for r in rows])
    mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])
    torch.testing.assert_close(lite_logits(lite, ids, mask), hf_logits(hf, ids, mask), atol=1e-4, rtol=0)


def copy_checkpoint(src: Path, dst: Path, *, drop: str | None = None, **config_changes) -> Path:
    """``src`` written to ``dst`` without weight ``drop`` and with ``config_changes`` applied."""
    dst.mkdir()
    config = json.loads((src / "config.json").read_text(encoding="utf-8")) | config_changes
    (dst / "config.json").write_text(json.dumps(config), encoding="utf-8")
    state = load_file(src / "model.safetensors")
    state.pop(drop, None)
    save_file(state, dst / "model.safetensors")
    return dst


def test_errors_and_supports(tiny, tmp_path):
    folder = tiny[1]
    assert supports(folder)
    extra = copy_checkpoint(folder, tmp_path / "extra")
    save_file(load_file(folder / "model.safetensors") | {"cls.predictions.bias": torch.zeros(VOCAB)},
              extra / "model.safetensors")
    assert load_lite_bert(extra, LABELS) is not None

    missing = copy_checkpoint(folder, tmp_path / "missing", drop="bert.encoder.layer.1.output.dense.bias")
    with pytest.raises(ValueError, match="bert.encoder.layer.1.output.dense.bias"):
        load_lite_bert(missing, LABELS)
    headless = copy_checkpoint(folder, tmp_path / "headless", drop="classifier.weight")
    with pytest.raises(ValueError, match="classifier"):
        load_lite_bert(headless, LABELS)
    with pytest.raises(ValueError, match="num_labels"):
        load_lite_bert(folder, LABELS + 1)

    relu = copy_checkpoint(folder, tmp_path / "relu", hidden_act="relu")
    roberta = copy_checkpoint(folder, tmp_path / "roberta", model_type="roberta")
    relative = copy_checkpoint(folder, tmp_path / "relative", position_embedding_type="relative_key")
    decoder = copy_checkpoint(folder, tmp_path / "decoder", is_decoder=True)
    no_weights = copy_checkpoint(folder, tmp_path / "no_weights")
    (no_weights / "model.safetensors").unlink()
    for unsupported in (relu, roberta, relative, decoder, no_weights, tmp_path / "absent"):
        assert not supports(unsupported), unsupported
    with pytest.raises(ValueError, match="relu"):
        load_lite_bert(relu, LABELS)
    with pytest.raises(ValueError, match="roberta"):
        load_lite_bert(roberta, LABELS)


def test_does_not_import_transformers(tiny):
    """Nor sympy / torch._dynamo, which e.g. ``with torch.device("meta")`` would pull in."""
    code = ("import sys, torch; from pathlib import Path; import nlp.bert_lite as b; "
            f"m = b.load_lite_bert(Path({str(tiny[1])!r}), {LABELS}); "
            "assert m(torch.tensor([[2, 9, 3]])).logits.shape == (1, 4); "
            "heavy = [n for n in ('transformers', 'sympy', 'torch._dynamo') if n in sys.modules]; "
            "assert not heavy, heavy")
    env = os.environ | {"PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
