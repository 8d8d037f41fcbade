"""``maeum pretrain``: a SentencePiece vocabulary and a small BERT masked-LM on unlabelled text.

Steps (each one is skipped when its output already exists, so a stopped run resumes):

1. corpus: :func:`nlp.corpus.build_corpus` → ``OUT/corpus.txt`` (deduplicated, shuffled;
   the validation/test texts of the fine-tuning split for ``split_seed``, ``data/chat/test.tsv``
   and ``data/eval/*.tsv`` are left out: :func:`nlp.train_baseline.held_out_keys`);
2. tokenizer: :func:`nlp.tokenization.train_sentencepiece` → ``OUT/tokenizer/spiece.model``
   (KoBERT special-token layout, so one loading path serves KoBERT and our model);
3. ids: every text encoded once → ``OUT/ids.npy`` + ``OUT/offsets.npy``;
4. piece vectors (``embedding_init = "word2vec"``): skip-gram vectors for every piece
   (:mod:`nlp.piece_vectors`) → ``OUT/piece_vectors.npz``, copied into the BERT's word
   embeddings before MLM. A few CPU minutes; on two cores this is most of what pretraining
   achieves (measured in ``model/README.md``);
5. MLM (``steps`` > 0): ``BertForMaskedLM`` on packed ``[CLS] a [SEP] b [SEP] …`` rows of ``max_length``
   tokens, 15 % dynamic masking (80/10/10), AdamW with warm-up and linear decay, bf16
   autocast on GPUs and on CPUs that have it (``--device auto`` trains on a CUDA GPU when
   there is one: :mod:`nlp.devices`). ``OUT/checkpoint.pt`` every ``checkpoint_every`` steps
   (model, optimiser, data position, random states); ``OUT/pretrain_log.json`` records the
   configuration, corpus size, steps, wall time and losses; ``OUT/final/`` is the
   checkpoint fine-tuning starts from (``maeum train --kind transformer --base OUT/final``).

Steps 1–3 are skipped together when ``tokenizer/``, ``ids.npy``, ``offsets.npy`` and
``corpus.json`` are there, so a GPU machine can be handed the encoded corpus without the text.

``max_minutes`` bounds the wall time of the MLM step: the learning-rate schedule follows
``max(step / steps, elapsed / budget)``, so a time-bounded run still anneals to zero.
Outputs are generated files: keep ``OUT`` outside the repository or under ``runs/``.
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from nlp.corpus import build_corpus, load_stats, read_corpus
from nlp.devices import DEVICE_CHOICES, describe, resolve_device, use_bf16 as bf16_on
from nlp.piece_vectors import PieceVectorConfig, apply_to_embeddings, train_piece_vectors
from nlp.tokenization import SentencePieceBertTokenizer, train_sentencepiece

log = logging.getLogger("maeum.pretrain")

EVAL_TEXTS = 3000  # the last texts of the shuffled corpus: held out for the MLM eval loss


@dataclass
class PretrainConfig:
    vocab_size: int = 12000
    spm_model_type: str = "unigram"
    spm_sentences: int = 400_000
    hidden_size: int = 256
    num_layers: int = 4
    num_heads: int = 4
    intermediate_size: int = 1024
    max_position: int = 128
    max_length: int = 64
    batch_size: int = 64
    steps: int = 6000
    max_minutes: float | None = None
    lr: float = 5e-4
    weight_decay: float = 0.01
    warmup_frac: float = 0.06
    mask_prob: float = 0.15
    checkpoint_every: int = 200
    eval_every: int = 1000
    log_every: int = 25
    seed: int = 13
    bf16: bool = True
    threads: int = 2
    device: str = "auto"  # "cpu", "cuda", or "auto" (cuda when there is one)
    repeat_other: int = 2
    embedding_init: str = "word2vec"  # or "random"
    w2v_epochs: int = 5
    split_seed: int = 13  # the fine-tuning split whose validation/test texts are left out
    exclude_held_out: bool = True
    extra: dict = field(default_factory=dict)


# ----------------------------------------------------------------------------- data

def encode_corpus(tokenizer: SentencePieceBertTokenizer, texts: Sequence[str], max_piece_len: int) -> tuple[np.ndarray, np.ndarray]:
    """All texts' piece ids (no specials, each cut at ``max_piece_len``) in one flat array
    plus ``offsets`` (len(texts) + 1)."""
    lengths = np.zeros(len(texts) + 1, dtype=np.int64)
    chunks: list[np.ndarray] = []
    batch = 20_000
    for start in range(0, len(texts), batch):
        encoded = tokenizer.sp.encode(list(texts[start : start + batch]), out_type=int)
        for j, ids in enumerate(encoded):
            ids = ids[:max_piece_len]
            lengths[start + j + 1] = len(ids)
            chunks.append(np.asarray(ids, dtype=np.int32))
    offsets = np.cumsum(lengths)
    flat = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int32)
    return flat, offsets


def pack_rows(
    flat: np.ndarray, offsets: np.ndarray, order: np.ndarray, max_length: int, cls_id: int, sep_id: int, pad_id: int
) -> np.ndarray:
    """Greedy packing of texts (in ``order``) into ``[CLS] a [SEP] b [SEP] …`` rows: a text goes
    on the current row while it fits, else it starts a new one (each text cut at ``max_length - 2``).
    Only the row/column bookkeeping is a Python loop; the tokens are copied by numpy."""
    order = np.asarray(order, dtype=np.int64)
    lengths = np.minimum(offsets[order + 1] - offsets[order], max_length - 2)
    keep = lengths > 0
    order, lengths = order[keep], lengths[keep].astype(np.int64)
    rows: list[int] = []
    cols: list[int] = []
    row, used = 0, 1
    for n in lengths.tolist():
        if used + n + 1 > max_length and used > 1:
            row, used = row + 1, 1
        rows.append(row)
        cols.append(used)
        used += n + 1
    row_of, col_of = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)
    n_rows = row + 1 if len(order) else 0
    out = np.full((n_rows, max_length), pad_id, dtype=np.int32)
    out[:, 0] = cls_id
    if not len(order):
        return out
    starts = np.cumsum(lengths) - lengths  # where each text starts among all copied tokens
    within = np.arange(int(lengths.sum())) - np.repeat(starts, lengths)
    dest = np.repeat(row_of * max_length + col_of, lengths) + within
    out.reshape(-1)[dest] = flat[np.repeat(offsets[order], lengths) + within]
    out.reshape(-1)[row_of * max_length + col_of + lengths] = sep_id
    return out


def mask_tokens(input_ids, *, mask_prob: float, mask_id: int, vocab_size: int, special_ids: Sequence[int], generator):
    """Dynamic BERT masking. Returns (corrupted ids, bool positions to predict)."""
    import torch

    candidates = torch.ones_like(input_ids, dtype=torch.bool)
    for sid in special_ids:
        candidates &= input_ids != sid
    device = input_ids.device
    chosen = (torch.rand(input_ids.shape, generator=generator, device=device) < mask_prob) & candidates
    # at least one position per batch (the first candidate when the draw chose none), computed
    # without reading a value back, which would make a GPU wait on every step
    flat_candidates = candidates.reshape(-1)
    first = (flat_candidates & (flat_candidates.cumsum(0) == 1)).view_as(candidates)
    chosen |= first & ~chosen.any()
    corrupted = input_ids.clone()
    roll = torch.rand(input_ids.shape, generator=generator, device=device)
    to_mask = chosen & (roll < 0.8)
    to_random = chosen & (roll >= 0.8) & (roll < 0.9)
    corrupted[to_mask] = mask_id
    # random replacements never draw a special token ([UNK]=0 … [MASK]=4 in the KoBERT layout)
    random_ids = torch.randint(
        max(max(special_ids), mask_id) + 1, vocab_size, input_ids.shape, generator=generator, device=device
    )
    corrupted[to_random] = random_ids[to_random]
    return corrupted, chosen


# ----------------------------------------------------------------------------- model

def build_mlm(config: PretrainConfig, vocab_size: int, pad_id: int):
    from transformers import BertConfig, BertForMaskedLM

    bert_config = BertConfig(
        vocab_size=vocab_size,
        hidden_size=config.hidden_size,
        num_hidden_layers=config.num_layers,
        num_attention_heads=config.num_heads,
        intermediate_size=config.intermediate_size,
        max_position_embeddings=config.max_position,
        type_vocab_size=2,
        pad_token_id=pad_id,
        hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1,
    )
    return BertForMaskedLM(bert_config)


class ThreadTuner:
    """Picks the faster of 1 and ``max_threads`` intra-op threads while the run goes on.

    The CPU is shared: when another job keeps the cores busy, two spinning OpenMP threads
    can be several times slower than one. Every ``probe_every`` steps the other setting runs
    for ``probe_len`` steps; the one with the lower median step time is kept."""

    def __init__(self, max_threads: int, probe_every: int = 60, probe_len: int = 6) -> None:
        self.choices = sorted({1, max(1, max_threads)})
        self.best = self.choices[-1]
        self.probe_every, self.probe_len = probe_every, probe_len
        self.times: dict[int, list[float]] = {n: [] for n in self.choices}
        self.calls = 0
        self.first_probe = 8

    def threads_for(self) -> int:
        """The thread count for the next step (call once per step)."""
        self.calls += 1
        if len(self.choices) == 1:
            return self.best
        pos = (self.calls - self.first_probe) % self.probe_every
        other = self.choices[0] if self.best == self.choices[-1] else self.choices[-1]
        if self.calls < self.first_probe:
            return self.best
        if pos < self.probe_len:
            return other
        if pos == self.probe_len:
            probe = sorted(self.times[other][-(self.probe_len - 1):])
            mine = sorted(self.times[self.best][-20:])
            if probe and mine and probe[len(probe) // 2] < 0.9 * mine[len(mine) // 2]:
                log.info("switching to %d torch threads (%.0f ms vs %.0f ms per step)", other,
                         1000 * probe[len(probe) // 2], 1000 * mine[len(mine) // 2])
                self.best = other
            self.times[other].clear()
        return self.best

    def record(self, threads: int, seconds: float, first_after_switch: bool) -> None:
        if not first_after_switch:
            self.times[threads].append(seconds)


def lr_factor(progress: float, warmup_frac: float) -> float:
    if progress < warmup_frac:
        return max(progress / max(warmup_frac, 1e-9), 1e-3)
    return max(0.0, (1.0 - progress) / max(1.0 - warmup_frac, 1e-9))


def _mlm_loss(model, ids, attention, targets, positions, use_bf16: bool):
    """(mean cross-entropy over the masked positions, their accuracy) as tensors."""
    import torch
    import torch.nn.functional as F

    with torch.autocast(ids.device.type, dtype=torch.bfloat16, enabled=use_bf16):
        hidden = model.bert(input_ids=ids, attention_mask=attention).last_hidden_state
        if ids.device.type == "cpu":  # only the masked positions go through the vocabulary layer
            logits, gold = model.cls(hidden[positions]), targets[positions]
        else:  # on a GPU every position does: a masked selection has a data-dependent size, and
            # finding it out would stop the GPU's queue on every step
            logits, gold = model.cls(hidden).flatten(0, 1), targets.masked_fill(~positions, -100).flatten()
    logits = logits.float()
    loss = F.cross_entropy(logits, gold, ignore_index=-100)
    scored = gold != -100
    correct = ((logits.argmax(-1) == gold) & scored).sum() / scored.sum().clamp(min=1)
    return loss, correct


def evaluate_mlm(model, rows: np.ndarray, tokenizer: SentencePieceBertTokenizer, config: PretrainConfig, use_bf16: bool) -> dict:
    import torch

    if len(rows) == 0:
        return {"loss": float("nan"), "accuracy": float("nan")}
    device = next(model.parameters()).device
    gen = torch.Generator(device=device).manual_seed(config.seed + 999)  # same masks every evaluation
    special = (tokenizer.pad_token_id, tokenizer.cls_token_id, tokenizer.sep_token_id)
    model.eval()
    total_loss = total_acc = 0.0
    count = 0
    with torch.inference_mode():
        for start in range(0, len(rows), 128):
            ids = torch.from_numpy(rows[start : start + 128].astype(np.int64)).to(device)
            corrupted, positions = mask_tokens(
                ids, mask_prob=config.mask_prob, mask_id=tokenizer.mask_token_id,
                vocab_size=tokenizer.vocab_size, special_ids=special, generator=gen,
            )
            loss, acc = _mlm_loss(model, corrupted, (ids != tokenizer.pad_token_id).long(), ids, positions, use_bf16)
            n = int(positions.sum())
            total_loss += float(loss) * n
            total_acc += float(acc) * n
            count += n
    model.train()
    return {"loss": total_loss / count, "accuracy": total_acc / count, "masked_tokens": count}


# ----------------------------------------------------------------------------- main loop

def _corpus_and_tokenizer(data_dir: Path, out_dir: Path, config: PretrainConfig, resume: bool):
    """Steps 1 and 2 (each skipped when its output exists): returns (corpus stats, the corpus
    texts, seconds spent training the tokenizer)."""
    corpus_path = out_dir / "corpus.txt"
    if not (resume and corpus_path.is_file() and load_stats(corpus_path)):
        exclude: set[str] = set()
        if config.exclude_held_out:
            from nlp.train_baseline import held_out_keys

            exclude = held_out_keys(Path(data_dir), config.split_seed)
        log.info("building corpus from %s (leaving out %d held-out texts)", data_dir, len(exclude))
        stats = build_corpus(Path(data_dir), corpus_path, seed=config.seed, repeat_other=config.repeat_other, exclude=exclude)
    else:
        stats = load_stats(corpus_path)
    log.info("corpus: %s", stats)
    texts = read_corpus(corpus_path)

    # the tokenizer is trained on the training texts only (the last EVAL_TEXTS are held out)
    spm_path = out_dir / "tokenizer" / "spiece.model"
    t0 = time.time()
    if not (resume and spm_path.is_file()):
        log.info("training SentencePiece (%s, vocab %d)", config.spm_model_type, config.vocab_size)
        model_file = train_sentencepiece(
            texts[:-EVAL_TEXTS], spm_path.with_suffix(""), vocab_size=config.vocab_size,
            model_type=config.spm_model_type, input_sentence_size=config.spm_sentences, seed=config.seed,
        )
        assert model_file == spm_path
    return stats, texts, time.time() - t0


def pretrain(
    data_dir: Path,
    out_dir: Path,
    *,
    vocab_size: int = 12000,
    steps: int = 6000,
    seed: int = 13,
    resume: bool = True,
    max_minutes: float | None = None,
    **overrides,
) -> dict:
    """Run (or resume) pretraining into ``out_dir``; returns the summary written to
    ``out_dir/pretrain_log.json``. Keyword ``overrides`` set other :class:`PretrainConfig` fields."""
    import torch

    config = PretrainConfig(vocab_size=vocab_size, steps=steps, seed=seed, max_minutes=max_minutes, **overrides)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    log_path = out_dir / "pretrain_log.json"
    ckpt_path = out_dir / "checkpoint.pt"
    torch.manual_seed(seed)
    t_start = time.time()

    # 1.-2. corpus and tokenizer
    corpus_path = out_dir / "corpus.txt"
    tok_dir = out_dir / "tokenizer"
    spm_path = tok_dir / "spiece.model"
    ids_path, off_path = out_dir / "ids.npy", out_dir / "offsets.npy"
    stats = load_stats(corpus_path) if resume else None
    encoded = stats is not None and spm_path.is_file() and ids_path.is_file() and off_path.is_file()
    texts: list[str] = []
    spm_seconds = 0.0
    if encoded:  # steps 1-3 are done: the text itself is not needed any more
        log.info("corpus already encoded: %s", stats)
    else:
        stats, texts, spm_seconds = _corpus_and_tokenizer(data_dir, out_dir, config, resume)
    tokenizer = SentencePieceBertTokenizer(spm_path, max_length=config.max_length)
    tokenizer.save_pretrained(tok_dir)

    # 3. ids
    if not encoded:
        log.info("encoding %d texts", len(texts))
        flat, offsets = encode_corpus(tokenizer, texts, config.max_length - 2)
        np.save(ids_path, flat)
        np.save(off_path, offsets)
    flat, offsets = np.load(ids_path), np.load(off_path)
    n_texts = len(offsets) - 1
    n_train = n_texts - min(EVAL_TEXTS, n_texts)
    total_tokens = int(offsets[-1])
    special = (tokenizer.pad_token_id, tokenizer.cls_token_id, tokenizer.sep_token_id)
    eval_rows = pack_rows(
        flat, offsets, np.arange(n_train, n_texts), config.max_length,
        tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id,
    )
    del texts

    # 4. piece vectors
    vectors_path = out_dir / "piece_vectors.npz"
    vectors_info: dict | None = None
    if config.embedding_init == "word2vec":
        t0 = time.time()
        if not (resume and vectors_path.is_file()):
            log.info("word2vec: %d epochs over %d texts", config.w2v_epochs, n_train)
            vectors, known = train_piece_vectors(
                flat, offsets, range(n_train), tokenizer.vocab_size,
                PieceVectorConfig(dim=config.hidden_size, epochs=config.w2v_epochs, workers=max(config.threads, 1), seed=seed),
            )
            np.savez(vectors_path, vectors=vectors, known=known)
        else:
            saved_vectors = np.load(vectors_path)
            vectors, known = saved_vectors["vectors"], saved_vectors["known"]
        vectors_info = {"pieces_with_vectors": int(known.sum()), "epochs": config.w2v_epochs, "seconds_this_call": round(time.time() - t0, 1)}
    elif config.embedding_init != "random":
        raise ValueError(f"embedding_init must be 'word2vec' or 'random', not {config.embedding_init!r}")

    # 5. MLM
    device = resolve_device(config.device)
    use_bf16 = bf16_on(device, config.bf16)
    model = build_mlm(config, tokenizer.vocab_size, tokenizer.pad_token_id)
    if vectors_info is not None:
        apply_to_embeddings(model, vectors, known)
    model.to(device)
    n_params = sum(p.numel() for p in model.parameters())
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "LayerNorm" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "LayerNorm" not in n)]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=config.lr, betas=(0.9, 0.98), eps=1e-6, fused=device.type == "cuda",
    )
    gen = torch.Generator(device=device).manual_seed(seed)  # the masks are drawn where the batch is
    state = {"step": 0, "epoch": 0, "batch_in_epoch": 0, "elapsed": 0.0, "history": [], "evals": []}
    if resume and ckpt_path.is_file():
        saved = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        try:
            gen.set_state(saved["generator"])
        except RuntimeError:  # saved on another kind of device: the masks go on from a fresh seed
            gen.manual_seed(seed + saved["state"]["step"])
        torch.set_rng_state(saved["torch_rng"])
        if device.type == "cuda" and saved.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(saved["cuda_rng"])
        state = saved["state"]
        log.info("resumed from step %d (%.1f min done)", state["step"], state["elapsed"] / 60)
    budget = config.max_minutes * 60 if config.max_minutes else None

    def progress() -> float:
        if config.steps <= 0:  # no MLM: the embeddings alone are the pretraining
            return 1.0
        p = state["step"] / config.steps
        if budget:
            p = max(p, state["elapsed"] / budget)
        return min(p, 1.0)

    def save_checkpoint() -> None:
        tmp = ckpt_path.with_suffix(".tmp")
        torch.save(
            {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "generator": gen.get_state(),
             "torch_rng": torch.get_rng_state(), "cuda_rng": torch.cuda.get_rng_state() if device.type == "cuda" else None,
             "state": state, "config": asdict(config)},
            tmp,
        )
        tmp.replace(ckpt_path)

    def write_log(final: bool) -> dict:
        recent = [h["loss"] for h in state["history"][-8:]]
        summary = {
            "config": asdict(config),
            "corpus": stats.to_dict() if stats else None,
            "corpus_tokens": total_tokens,
            "train_texts": n_train,
            "eval_texts": n_texts - n_train,
            "tokenizer_seconds": round(spm_seconds, 1),
            "vocab_size": tokenizer.vocab_size,
            "parameters": n_params,
            "embedding_init": config.embedding_init,
            "piece_vectors": vectors_info,
            "bf16": use_bf16,
            "device": describe(device),
            "torch_threads": torch.get_num_threads(),
            "steps_done": state["step"],
            "epochs_done": state["epoch"] + state["batch_in_epoch"] * config.batch_size / max(rows_per_epoch, 1),
            "tokens_seen": state["step"] * config.batch_size * config.max_length,
            "train_minutes": round(state["elapsed"] / 60, 2),
            "recent_train_loss": float(np.mean(recent)) if recent else None,
            "evals": state["evals"],
            "history": state["history"],
            "finished": final,
        }
        log_path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        return summary

    model.train()

    def pack_epoch(epoch: int) -> np.ndarray:  # each epoch packs the texts in its own seeded order
        order = np.random.default_rng(seed * 1000 + epoch).permutation(n_train)
        return pack_rows(flat, offsets, order, config.max_length, *special[1:], tokenizer.pad_token_id)

    packer = ThreadPoolExecutor(max_workers=1)  # packs the next epoch while this one trains
    rows = pack_epoch(state["epoch"])
    next_rows = packer.submit(pack_epoch, state["epoch"] + 1)
    rows_per_epoch = len(rows)
    log.info(
        "MLM on %s: %d params, %d packed rows/epoch, %d tokens, bf16=%s, threads=%d",
        device, n_params, rows_per_epoch, total_tokens, use_bf16, torch.get_num_threads(),
    )
    window_loss: list = []  # detached loss tensors
    window_acc: list = []
    t_window = t_prev = time.time()
    tuner = ThreadTuner(config.threads if device.type == "cpu" else 1)  # threads matter on the CPU only
    threads_now = torch.get_num_threads()
    while progress() < 1.0:
        start = state["batch_in_epoch"] * config.batch_size
        if start + config.batch_size > len(rows):
            state["epoch"] += 1
            state["batch_in_epoch"] = 0
            rows = next_rows.result()
            next_rows = packer.submit(pack_epoch, state["epoch"] + 1)
            continue
        wanted = tuner.threads_for()
        switched = wanted != threads_now
        if switched:
            torch.set_num_threads(wanted)
            threads_now = wanted
        block = rows[start : start + config.batch_size]
        used = int((block != tokenizer.pad_token_id).sum(1).max())
        batch = torch.from_numpy(block[:, :used].astype(np.int64)).to(device, non_blocking=True)
        corrupted, positions = mask_tokens(
            batch, mask_prob=config.mask_prob, mask_id=tokenizer.mask_token_id,
            vocab_size=tokenizer.vocab_size, special_ids=special, generator=gen,
        )
        for group in optimizer.param_groups:
            group["lr"] = config.lr * lr_factor(progress(), config.warmup_frac)
        loss, acc = _mlm_loss(model, corrupted, (batch != tokenizer.pad_token_id).long(), batch, positions, use_bf16)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        state["step"] += 1
        state["batch_in_epoch"] += 1
        now = time.time()  # wall time since the last step: on a GPU it includes waiting for the queue
        step_seconds, t_prev = now - t_prev, now
        state["elapsed"] += step_seconds
        tuner.record(threads_now, step_seconds, switched)
        window_loss.append(loss.detach())  # read back every log_every steps: no GPU sync per step
        window_acc.append(acc.detach())
        if state["step"] % config.log_every == 0:
            dt = time.time() - t_window
            entry = {
                "step": state["step"], "loss": torch.stack(window_loss).mean().item(),
                "mlm_acc": torch.stack(window_acc).mean().item(),
                "lr": optimizer.param_groups[0]["lr"], "minutes": round(state["elapsed"] / 60, 2),
            }
            state["history"].append(entry)
            log.info(
                "step %d loss %.3f acc %.3f lr %.2e threads %d  %.0f tok/s  %.1f min  progress %.1f%%",
                entry["step"], entry["loss"], entry["mlm_acc"], entry["lr"], threads_now,
                len(window_loss) * config.batch_size * config.max_length / max(dt, 1e-9),
                entry["minutes"], 100 * progress(),
            )
            window_loss, window_acc, t_window = [], [], time.time()
        if state["step"] % config.eval_every == 0:
            ev = evaluate_mlm(model, eval_rows, tokenizer, config, use_bf16)
            state["evals"].append({"step": state["step"], **ev})
            log.info("eval step %d: loss %.3f acc %.3f", state["step"], ev["loss"], ev["accuracy"])
        if state["step"] % config.checkpoint_every == 0:
            save_checkpoint()
            write_log(final=False)

    packer.shutdown(wait=False, cancel_futures=True)
    ev = evaluate_mlm(model, eval_rows, tokenizer, config, use_bf16)
    if not state["evals"] or state["evals"][-1]["step"] != state["step"]:
        state["evals"].append({"step": state["step"], **ev})
    log.info("final eval: loss %.3f acc %.3f (perplexity %.1f)", ev["loss"], ev["accuracy"], math.exp(ev["loss"]))
    save_checkpoint()
    final_dir = out_dir / "final"
    model.to("cpu").save_pretrained(final_dir)
    tokenizer.save_pretrained(final_dir)
    summary = write_log(final=True)
    summary["total_wall_minutes_this_call"] = round((time.time() - t_start) / 60, 2)
    log_path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    log.info("pretrained model saved to %s", final_dir)
    return summary


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="maeum pretrain", description="SentencePiece + small BERT MLM pretraining on unlabelled Korean text")
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "runs" / "pretrain")
    parser.add_argument("--vocab-size", type=int, default=12000)
    parser.add_argument("--steps", type=int, default=6000)
    parser.add_argument("--max-minutes", type=float, default=None, help="wall-time budget of the MLM loop")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--no-resume", action="store_true")
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--intermediate", type=int, default=1024)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--checkpoint-every", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-bf16", action="store_true")
    parser.add_argument("--device", choices=DEVICE_CHOICES, default="auto", help="where MLM runs (auto: a CUDA GPU when there is one)")
    parser.add_argument("--eval-every", type=int, default=1000)
    parser.add_argument("--embedding-init", choices=["word2vec", "random"], default="word2vec",
                        help="word embeddings before MLM: skip-gram piece vectors (default) or random")
    parser.add_argument("--w2v-epochs", type=int, default=5)
    parser.add_argument("--split-seed", type=int, default=13,
                        help="leave out the validation/test texts of the fine-tuning split made with this seed")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not Path(args.data).is_dir():
        from nlp.data import DataError

        raise DataError(f"데이터 폴더를 찾을 수 없습니다: {args.data} (--data 로 ../shared/data 같은 경로를 지정하세요)")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    import torch

    from nlp.transformer_threads import configure_torch_threads

    configure_torch_threads(args.threads)
    summary = pretrain(
        args.data, args.out, vocab_size=args.vocab_size, steps=args.steps, seed=args.seed,
        resume=not args.no_resume, max_minutes=args.max_minutes,
        hidden_size=args.hidden, num_layers=args.layers, num_heads=args.heads,
        intermediate_size=args.intermediate, max_length=args.max_length, batch_size=args.batch_size,
        lr=args.lr, checkpoint_every=args.checkpoint_every, bf16=not args.no_bf16, threads=args.threads,
        device=args.device, eval_every=args.eval_every,
        embedding_init=args.embedding_init, w2v_epochs=args.w2v_epochs, split_seed=args.split_seed,
    )
    print(json.dumps({k: summary[k] for k in ("steps_done", "train_minutes", "recent_train_loss", "parameters")}, ensure_ascii=False))
    del torch
    return 0


if __name__ == "__main__":
    sys.exit(main())
