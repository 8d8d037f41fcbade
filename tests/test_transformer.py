"""TransformerClassifier, the KoBERT-compatible loading path, int8, calibration, pretraining
pieces and the shipped model. Everything is built locally in tmp_path; nothing is downloaded."""
from __future__ import annotations

import gzip
import itertools
import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import BertConfig, BertModel

from nlp.calibration import expected_calibration_error, fit_temperature, nll, softmax
from nlp.classifier import EmotionClassifier, ModelLoadError, load_classifier
from nlp.data import Example
from nlp.labels import LABELS
from nlp.tokenization import SentencePieceBertTokenizer, train_sentencepiece
from nlp.transformer import TransformerClassifier, configure_torch_threads, load_backbone, save_classifier

REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / "model" / "transformer"

WORDS = {
    "joy": ["합격했어 너무 행복해", "선물 받아서 기분 최고야", "여행 간다 신난다"],
    "anxiety": ["내일 발표라 너무 떨려", "결과 나올까봐 불안해", "면접 생각하면 걱정돼"],
    "sadness": ["강아지가 떠나서 슬퍼", "혼자라서 외롭고 눈물 나", "헤어져서 마음이 아파"],
    "anger": ["진짜 어이없고 화나", "왜 나한테 화풀이야 짜증나", "약속 또 어겨서 열받아"],
}
PREFIXES = ["오늘", "나 진짜", "아", "요즘", "방금", "솔직히", "근데", "하"]


def sentences() -> list[tuple[str, str]]:
    return [(f"{p} {w}", label) for label, ws in WORDS.items() for p, w in itertools.product(PREFIXES, ws)]


@pytest.fixture(scope="module")
def kobert_like(tmp_path_factory) -> Path:
    """A folder shaped like skt/kobert-base-v1: spiece.model with [UNK]=0..[MASK]=4, a BERT
    config (pad_token_id 1) and BertModel weights without a classification head."""
    folder = tmp_path_factory.mktemp("kobert_like")
    texts = [s for s, _ in sentences()] * 3
    train_sentencepiece(texts, folder / "spiece", vocab_size=150, input_sentence_size=0, seed=1)
    (folder / "spiece.vocab").unlink()
    vocab = SentencePieceBertTokenizer.from_dir(folder).vocab_size
    torch.manual_seed(0)
    config = BertConfig(vocab_size=vocab, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64, pad_token_id=1)
    BertModel(config).save_pretrained(folder)
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "XLNetTokenizer", "unk_token": "[UNK]", "pad_token": "[PAD]", "cls_token": "[CLS]",
        "sep_token": "[SEP]", "mask_token": "[MASK]", "keep_accents": False, "do_lower_case": False,
    }), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def maeum_dir(kobert_like: Path, tmp_path_factory) -> Path:
    model, tokenizer, _ = load_backbone(kobert_like, max_length=32)
    out = tmp_path_factory.mktemp("maeum_transformer")
    save_classifier(model, tokenizer, out, {"version": "transformer-test", "max_chars": 100, "max_length": 32, "temperature": 1.5})
    return out


def test_kobert_shaped_folder_loads_through_the_real_path(kobert_like: Path) -> None:
    model, tokenizer, folder = load_backbone(str(kobert_like), max_length=32)
    assert folder == kobert_like
    assert isinstance(tokenizer, SentencePieceBertTokenizer)
    assert (tokenizer.unk_token_id, tokenizer.pad_token_id, tokenizer.cls_token_id,
            tokenizer.sep_token_id, tokenizer.mask_token_id) == (0, 1, 2, 3, 4)
    enc = tokenizer(["오늘 합격했어 너무 행복해", "왜 나한테 화풀이야"], return_tensors="pt")
    real = enc["input_ids"][enc["attention_mask"].bool()]
    assert (real != tokenizer.unk_token_id).all(), "Hangul must not turn into [UNK]"
    assert enc["input_ids"][:, 0].tolist() == [2, 2]
    assert model.config.num_labels == 4 and model.config.pad_token_id == 1
    with torch.inference_mode():
        logits = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits
    assert logits.shape == (2, 4)


def test_missing_folder_and_wrong_kind_fail_clearly(tmp_path: Path, maeum_dir: Path) -> None:
    with pytest.raises(ModelLoadError):
        TransformerClassifier.load(tmp_path / "nope")
    with pytest.raises(ModelLoadError):
        load_backbone(tmp_path)  # exists, but no config.json
    bad = tmp_path / "bad"
    bad.mkdir()
    for f in maeum_dir.iterdir():
        (bad / f.name).write_bytes(f.read_bytes())
    manifest = json.loads((bad / "maeum_model.json").read_text(encoding="utf-8"))
    (bad / "maeum_model.json").write_text(json.dumps({**manifest, "kind": "baseline"}), encoding="utf-8")
    with pytest.raises(ModelLoadError):
        TransformerClassifier.load(bad)


def test_predict_shapes_and_sums(maeum_dir: Path) -> None:
    clf = load_classifier(maeum_dir)
    assert isinstance(clf, TransformerClassifier)
    assert isinstance(clf, EmotionClassifier)
    assert clf.version == "transformer-test" and clf.max_chars == 100 and clf.temperature == 1.5
    texts = [s for s, _ in sentences()][:37] + ["", "ㅋ" * 500]
    out = clf.predict(texts)
    assert len(out) == len(texts)
    for probs in out:
        assert list(probs) == list(LABELS)
        assert abs(sum(probs.values()) - 1.0) < 1e-6
        assert all(0.0 <= p <= 1.0 for p in probs.values())
    assert clf.predict([]) == []
    # batching and length-sorting must not change any row
    single = [clf.predict([t])[0] for t in texts[:5]]
    for a, b in zip(single, out[:5]):
        assert max(abs(a[k] - b[k]) for k in LABELS) < 1e-4


def test_temperature_is_applied(maeum_dir: Path) -> None:
    clf = TransformerClassifier.load(maeum_dir)
    logits = clf.logits(["내일 발표라 너무 떨려"])[0]
    expected = softmax(logits[None, :], 1.5)[0]
    got = clf.predict(["내일 발표라 너무 떨려"])[0]
    assert np.allclose([got[k] for k in LABELS], expected, atol=1e-5)


def test_fp16_weights_are_upcast(maeum_dir: Path) -> None:
    from safetensors import safe_open

    with safe_open(str(maeum_dir / "model.safetensors"), "pt") as f:
        assert f.get_tensor(next(iter(f.keys()))).dtype == torch.float16
    clf = TransformerClassifier.load(maeum_dir)
    assert next(clf.model.parameters()).dtype == torch.float32


def test_int8_quantised_model_loads_and_predicts(maeum_dir: Path, tmp_path: Path) -> None:
    fp32 = TransformerClassifier.load(maeum_dir)
    int8 = TransformerClassifier.load(maeum_dir, quantize="int8")
    kinds = {type(m).__module__ for m in int8.model.modules()}
    assert any("quantized" in k for k in kinds)
    texts = [s for s, _ in sentences()][:20]
    a, b = fp32.predict(texts), int8.predict(texts)
    for pa, pb in zip(a, b):
        assert abs(sum(pb.values()) - 1.0) < 1e-6
        assert max(abs(pa[k] - pb[k]) for k in LABELS) < 0.05
    # and through the manifest
    for f in maeum_dir.iterdir():
        (tmp_path / f.name).write_bytes(f.read_bytes())
    manifest = json.loads((tmp_path / "maeum_model.json").read_text(encoding="utf-8"))
    (tmp_path / "maeum_model.json").write_text(json.dumps({**manifest, "quantize": "int8"}), encoding="utf-8")
    via_manifest = load_classifier(tmp_path)
    assert any("quantized" in type(m).__module__ for m in via_manifest.model.modules())


def test_temperature_scaling_reduces_nll_on_miscalibrated_set() -> None:
    rng = np.random.default_rng(0)
    n = 2000
    labels = rng.integers(0, 4, n)
    clean = rng.normal(0, 1, (n, 4))
    clean[np.arange(n), labels] += 1.2  # informative but noisy logits
    overconfident = clean * 4.0
    t = fit_temperature(overconfident, labels)
    assert t > 2.0
    assert nll(overconfident, labels, t) < nll(overconfident, labels, 1.0) - 0.1
    assert expected_calibration_error(softmax(overconfident, t), labels) < expected_calibration_error(softmax(overconfident), labels)
    # argmax (hence accuracy) is unchanged
    assert (softmax(overconfident, t).argmax(1) == overconfident.argmax(1)).all()
    underconfident = clean * 0.2
    assert fit_temperature(underconfident, labels) < 1.0


def test_configure_torch_threads_is_exported() -> None:
    configure_torch_threads(torch.get_num_threads())
    assert torch.get_num_threads() >= 1


def test_mask_tokens_and_packing() -> None:
    from nlp.pretrain import mask_tokens, pack_rows

    flat = np.arange(5, 5 + 30, dtype=np.int32)
    offsets = np.array([0, 5, 12, 20, 30])
    rows = pack_rows(flat, offsets, np.array([0, 1, 2, 3]), 16, 2, 3, 1)
    assert rows.shape[1] == 16 and (rows[:, 0] == 2).all()
    seen = rows[(rows > 4)]
    assert sorted(seen.tolist()) == list(range(5, 35))
    ids = torch.from_numpy(np.tile(rows, (50, 1)).astype(np.int64))
    gen = torch.Generator().manual_seed(0)
    corrupted, positions = mask_tokens(ids, mask_prob=0.15, mask_id=4, vocab_size=40, special_ids=(1, 2, 3), generator=gen)
    assert not positions[ids <= 3].any()
    rate = positions.sum().item() / (ids > 4).sum().item()
    assert 0.12 < rate < 0.18
    masked_share = (corrupted[positions] == 4).float().mean().item()
    assert 0.7 < masked_share < 0.9
    assert torch.equal(corrupted[~positions], ids[~positions])
    # a draw that chooses nothing still gives the loss one position: the first non-special token
    _, none_drawn = mask_tokens(ids[:2], mask_prob=0.0, mask_id=4, vocab_size=40, special_ids=(1, 2, 3), generator=gen)
    assert none_drawn.sum().item() == 1 and none_drawn[0, 1] and ids[0, 1] > 4


def _pack_reference(flat, offsets, order, max_length, cls_id, sep_id, pad_id):
    """Greedy packing written the plain way, one text at a time."""
    rows, current = [], [cls_id]
    for idx in order:
        ids = list(flat[offsets[idx] : offsets[idx + 1]])[: max_length - 2]
        if not ids:
            continue
        if len(current) + len(ids) + 1 > max_length and len(current) > 1:
            rows.append(current)
            current = [cls_id]
        current += ids + [sep_id]
    if len(current) > 1:
        rows.append(current)
    return [row + [pad_id] * (max_length - len(row)) for row in rows]


def test_pack_rows_matches_plain_greedy_packing() -> None:
    from nlp.pretrain import pack_rows

    rng = np.random.default_rng(3)
    for _ in range(200):
        lengths = rng.integers(0, 40, size=int(rng.integers(0, 30)))  # empty and over-long texts too
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        flat = rng.integers(5, 100, size=int(offsets[-1])).astype(np.int32)
        max_length = int(rng.integers(4, 40))
        order = rng.permutation(len(lengths))
        packed = pack_rows(flat, offsets, order, max_length, 2, 3, 1)
        assert packed.tolist() == _pack_reference(flat, offsets, order, max_length, 2, 3, 1)


def test_training_device_choice() -> None:
    from nlp.devices import resolve_device, use_bf16

    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA"):
            resolve_device("cuda")
    assert use_bf16(torch.device("cuda"), True) and not use_bf16(torch.device("cuda"), False)


def test_pretrain_resumes_and_feeds_fine_tuning(tmp_path: Path) -> None:
    from nlp.pretrain import pretrain
    from nlp.train_transformer import FinetuneConfig, fine_tune

    data = tmp_path / "data"
    (data / "nsmc").mkdir(parents=True)
    rng = random.Random(0)
    pool = [s for s, _ in sentences()]
    with gzip.open(data / "nsmc" / "reviews.tsv.gz", "wt", encoding="utf-8") as f:
        f.write("rating\treview\n")
        for i in range(EVAL_ROWS := 3400):
            f.write(f"{rng.randint(1, 10)}\t{rng.choice(pool)} {rng.choice(pool)} {i}\n")
    tiny = dict(hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64, max_length=32, batch_size=8,
                checkpoint_every=3, spm_sentences=0, eval_every=100, bf16=False, threads=1)
    first = pretrain(data, tmp_path / "pt", vocab_size=300, steps=4, seed=1, **tiny)
    assert first["steps_done"] == 4 and first["finished"]
    # the encoded corpus is enough to go on (what a GPU machine is handed): no corpus.txt
    (tmp_path / "pt" / "corpus.txt").unlink()
    second = pretrain(data, tmp_path / "pt", vocab_size=300, steps=7, seed=1, **tiny)
    assert second["steps_done"] == 7
    assert not (tmp_path / "pt" / "corpus.txt").exists()  # steps 1-3 were skipped, not redone
    log = json.loads((tmp_path / "pt" / "pretrain_log.json").read_text(encoding="utf-8"))
    assert log["corpus"]["texts"] == EVAL_ROWS and log["evals"]

    model, tokenizer, _ = load_backbone(tmp_path / "pt" / "final", max_length=32)
    assert isinstance(tokenizer, SentencePieceBertTokenizer) and tokenizer.cls_token_id == 2
    examples = [Example(s, label, "chat" if i % 5 == 0 else "seed_kin") for i, (s, label) in enumerate(sentences())]
    config = FinetuneConfig(epochs=2, batch_size=8, lr=1e-3, evals_per_epoch=1, bf16=False, max_length=32)
    model, info = fine_tune(model, tokenizer, examples, examples[::3], config)
    assert len(info["history"]) == 2 and info["best_val_macro_f1"] >= 0.0
    # the kept checkpoint is the evaluated one with the best validation score
    best = max(info["history"], key=lambda h: h["val_macro_f1"])
    assert info["best_step"] == best["step"] and info["best_val_macro_f1"] == pytest.approx(best["val_macro_f1"], abs=1e-4)


@pytest.mark.skipif(not (SHIPPED / "maeum_model.json").is_file(), reason="model/transformer not built yet")
def test_shipped_model_gets_clear_examples_right() -> None:
    clf = load_classifier(SHIPPED)
    assert isinstance(clf, TransformerClassifier)
    cases = {
        "오늘 합격 소식 들었어 너무 행복해": "joy",
        "내일 발표인데 너무 떨리고 불안해": "anxiety",
        "강아지가 무지개다리를 건넜어 너무 보고싶다": "sadness",
        "진짜 어이없네 왜 나한테 화풀이야": "anger",
    }
    got = clf.predict(list(cases))
    for (text, want), probs in zip(cases.items(), got):
        assert max(probs, key=probs.get) == want, (text, probs)
    size = sum(p.stat().st_size for p in SHIPPED.iterdir() if p.is_file())
    assert size <= 25 * 1024 * 1024


def test_train_transformer_with_a_teacher_writes_a_loadable_distilled_model(kobert_like: Path, tmp_path: Path, monkeypatch) -> None:
    """The whole fine-tuning run (split → distillation targets → fine-tune → calibration →
    save) on the tiny KoBERT-shaped base, with the shipped baseline as teacher."""
    import nlp.train_baseline as tb
    from nlp.train_transformer import train_transformer

    rows = [Example(s, label, "chat" if i % 4 == 0 else "seed_kin") for i, (s, label) in enumerate(sentences())]
    data = tb.TrainingData(train=rows[::2] + rows[1::4], val=rows[3::4], test=rows[1::4], chat_test=rows[3::8], removed_overlap=0)
    monkeypatch.setattr(tb, "assemble_data", lambda *args, **kwargs: data)
    (tmp_path / "data" / "chatbot_data").mkdir(parents=True)
    (tmp_path / "data" / "chatbot_data" / "ChatbotData.csv").write_text(
        "Q,A,label\n시험 붙었어 신난다,축하해요,0\n혼자 있으니 외로워,힘내요,1\n", encoding="utf-8")
    summary = train_transformer(
        tmp_path / "data", tmp_path / "out", base=kobert_like, epochs=1, chat_path=None, chat_test_path=None,
        batch_size=8, lr=1e-3, bf16=False, max_length=32, teacher=str(REPO / "model" / "baseline"),
    )
    assert summary["distillation"]["pseudo_rows"] == 2 and summary["distillation"]["alpha"] == 0.5
    assert sum(summary["distillation"]["pseudo_counts"].values()) == 2
    assert summary["metrics"]["test"]["n"] == len(data.test) and "chat_test" in summary["metrics"]
    clf = load_classifier(tmp_path / "out")
    assert isinstance(clf, TransformerClassifier)
    probs = clf.predict(["오늘 합격했어 너무 행복해"])[0]
    assert set(probs) == set(LABELS) and abs(sum(probs.values()) - 1) < 1e-5


def test_fine_tune_learns_the_soft_targets_it_is_given(kobert_like: Path) -> None:
    """The target matrix, not the gold label, is what fine-tuning fits: with targets that
    rotate every label (joy→anxiety→sadness→anger→joy) the rotated labels gain probability and
    the gold labels lose it. Seeded throughout: some random inits of this 2-layer, 32-wide toy
    network barely move in 12 epochs, so the test fixes one that does."""
    from nlp.train_transformer import FinetuneConfig, fine_tune

    rotated = {label: LABELS[(i + 1) % len(LABELS)] for i, label in enumerate(LABELS)}
    train = [Example(s, label, "seed_kin") for s, label in sentences()]
    val = [Example(s, rotated[label], "seed_kin") for s, label in sentences()[::3]]
    targets = np.zeros((len(train), len(LABELS)), dtype=np.float32)
    for i, ex in enumerate(train):
        targets[i, LABELS.index(rotated[ex.label])] = 1.0
    gold_idx = torch.tensor([LABELS.index(ex.label) for ex in train])
    rotated_idx = torch.tensor([LABELS.index(rotated[ex.label]) for ex in train])
    torch.manual_seed(0)  # the fresh classifier head comes from the global generator
    model, tokenizer, _ = load_backbone(kobert_like, max_length=32)
    enc = tokenizer([ex.text for ex in train], max_length=32, return_tensors="pt")

    def mean_probs() -> tuple[float, float]:
        model.eval()
        with torch.no_grad():
            probs = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits.softmax(-1)
        rows = torch.arange(len(train))
        return float(probs[rows, rotated_idx].mean()), float(probs[rows, gold_idx].mean())

    rotated_before, gold_before = mean_probs()
    config = FinetuneConfig(epochs=12, batch_size=8, lr=5e-3, bf16=False, max_length=32, keyword_mask=0.0, seed=0, patience=100)
    model, _ = fine_tune(model, tokenizer, train, val, config, targets=targets)
    rotated_after, gold_after = mean_probs()
    assert rotated_before == pytest.approx(0.25, abs=0.01) and gold_before == pytest.approx(0.25, abs=0.01)
    assert rotated_after > 0.6 and gold_after < 0.15
