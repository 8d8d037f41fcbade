"""A BERT-style tokenizer over a SentencePiece model that matches raw SentencePiece exactly.

It reads the ``skt/kobert-base-v1`` layout (``spiece.model`` whose pieces include the BERT
special tokens ``[UNK]``=0, ``[PAD]``=1, ``[CLS]``=2, ``[SEP]``=3, ``[MASK]``=4), the older
``monologg/kobert`` layout (``tokenizer_78b3253a26.model`` + ``vocab.txt``), and the models
Maeum trains itself with :func:`train_sentencepiece` (same special-token layout).

Why not ``AutoTokenizer``/``XLNetTokenizer``: with ``keep_accents=False`` they NFKD-normalise
the text and drop combining marks, which splits every Hangul syllable into conjoining jamo
that the KoBERT vocabulary does not know, so Korean silently becomes ``[UNK]``. Here the
text goes to ``SentencePieceProcessor.encode(text, out_type=str)`` untouched (SentencePiece
applies its own NFKC rule, the one the vocabulary was trained with), and each piece maps to
its id through ``vocab.txt`` when the folder has one, else through the model itself.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Iterable, Sequence

import sentencepiece as spm

SPECIAL_TOKENS: tuple[str, ...] = ("[UNK]", "[PAD]", "[CLS]", "[SEP]", "[MASK]")
SPM_FILENAMES: tuple[str, ...] = ("spiece.model", "tokenizer_78b3253a26.model", "sentencepiece.model")
VOCAB_TXT = "vocab.txt"
TOKENIZER_CONFIG = "tokenizer_config.json"


class TokenizerError(RuntimeError):
    """The folder has no usable SentencePiece model or lacks the BERT special tokens."""


class SentencePieceBertTokenizer:
    """``[CLS] pieces [SEP]`` ids, padding, truncation and attention masks over SentencePiece."""

    def __init__(self, spm_path: str | Path, vocab_txt: str | Path | None = None, *, max_length: int = 128) -> None:
        self.spm_path = Path(spm_path)
        self.sp = spm.SentencePieceProcessor()
        if not self.sp.load(str(self.spm_path)):
            raise TokenizerError(f"SentencePiece 모델을 읽을 수 없습니다: {self.spm_path}")
        self.vocab_txt = Path(vocab_txt) if vocab_txt else None
        self._vocab: dict[str, int] | None = None
        if self.vocab_txt is not None:
            lines = self.vocab_txt.read_text(encoding="utf-8").splitlines()
            self._vocab = {}
            for i, line in enumerate(lines):
                self._vocab.setdefault(line.rstrip("\n").split("\t")[0], i)
        self.max_length = max_length
        ids = {tok: self._lookup_special(tok) for tok in SPECIAL_TOKENS}
        self.unk_token_id = ids["[UNK]"]
        self.pad_token_id = ids["[PAD]"]
        self.cls_token_id = ids["[CLS]"]
        self.sep_token_id = ids["[SEP]"]
        self.mask_token_id = ids["[MASK]"]
        self.special_ids = frozenset(ids.values())

    # ------------------------------------------------------------------ loading / saving
    @classmethod
    def from_dir(cls, folder: str | Path, *, max_length: int = 128) -> "SentencePieceBertTokenizer":
        folder = Path(folder)
        for name in SPM_FILENAMES:
            if (folder / name).is_file():
                vocab = folder / VOCAB_TXT
                return cls(folder / name, vocab if vocab.is_file() else None, max_length=max_length)
        raise TokenizerError(f"{folder} 에 SentencePiece 모델({', '.join(SPM_FILENAMES)})이 없습니다")

    @staticmethod
    def is_sentencepiece_dir(folder: str | Path) -> bool:
        return any((Path(folder) / name).is_file() for name in SPM_FILENAMES)

    def save_pretrained(self, folder: str | Path) -> None:
        """Write ``spiece.model`` (+ ``vocab.txt`` when used) and a KoBERT-style config."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / "spiece.model"
        if self.spm_path.resolve() != target.resolve():
            shutil.copyfile(self.spm_path, target)
        if self.vocab_txt is not None and self.vocab_txt.resolve() != (folder / VOCAB_TXT).resolve():
            shutil.copyfile(self.vocab_txt, folder / VOCAB_TXT)
        config = {
            "tokenizer_class": "XLNetTokenizer",  # what the KoBERT hub folder declares
            "maeum_tokenizer": "sentencepiece",  # how Maeum loads it (raw SentencePiece)
            "do_lower_case": False,
            "keep_accents": True,
            "unk_token": "[UNK]",
            "pad_token": "[PAD]",
            "cls_token": "[CLS]",
            "sep_token": "[SEP]",
            "mask_token": "[MASK]",
            "bos_token": "[CLS]",
            "eos_token": "[SEP]",
            "model_max_length": self.max_length,
        }
        (folder / TOKENIZER_CONFIG).write_text(json.dumps(config, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")

    # ------------------------------------------------------------------ vocabulary
    def _lookup_special(self, token: str) -> int:
        if self._vocab is not None:
            if token not in self._vocab:
                raise TokenizerError(f"{self.vocab_txt} 에 특수 토큰 {token} 이 없습니다")
            return self._vocab[token]
        idx = self.sp.piece_to_id(token)
        if self.sp.id_to_piece(idx) != token:
            raise TokenizerError(f"{self.spm_path} 에 특수 토큰 {token} 이 없습니다 (KoBERT 배치가 아닙니다)")
        return idx

    @property
    def vocab_size(self) -> int:
        return len(self._vocab) if self._vocab is not None else self.sp.get_piece_size()

    def __len__(self) -> int:
        return self.vocab_size

    def tokenize(self, text: str) -> list[str]:
        """Exactly ``SentencePieceProcessor.encode(text, out_type=str)``."""
        return self.sp.encode(text, out_type=str)

    def convert_tokens_to_ids(self, pieces: Iterable[str]) -> list[int]:
        if self._vocab is not None:
            vocab, unk = self._vocab, self.unk_token_id
            return [vocab.get(p, unk) for p in pieces]
        return [self.sp.piece_to_id(p) for p in pieces]

    def convert_ids_to_tokens(self, ids: Iterable[int]) -> list[str]:
        if self._vocab is not None:
            inverse = {i: p for p, i in self._vocab.items()}
            return [inverse.get(int(i), "[UNK]") for i in ids]
        return [self.sp.id_to_piece(int(i)) for i in ids]

    # ------------------------------------------------------------------ encoding
    def encode_pieces_ids(self, text: str) -> list[int]:
        """Ids of the pieces of ``text``, without special tokens."""
        if self._vocab is None:
            # identical to piece_to_id over the string pieces, and faster
            return self.sp.encode(text, out_type=int)
        return self.convert_tokens_to_ids(self.tokenize(text))

    def encode(self, text: str, *, add_special_tokens: bool = True, max_length: int | None = None) -> list[int]:
        ids = self.encode_pieces_ids(text)
        limit = max_length or self.max_length
        if not add_special_tokens:
            return ids[:limit]
        return [self.cls_token_id, *ids[: max(limit - 2, 0)], self.sep_token_id]

    def decode(self, ids: Iterable[int], *, skip_special_tokens: bool = True) -> str:
        ids = [int(i) for i in ids]
        if skip_special_tokens:
            ids = [i for i in ids if i not in self.special_ids]
        return self.sp.decode_pieces(self.convert_ids_to_tokens(ids))

    def __call__(
        self,
        texts: str | Sequence[str],
        *,
        max_length: int | None = None,
        padding: bool | str = True,
        truncation: bool = True,
        return_tensors: str | None = "pt",
    ) -> dict:
        """Batch encoding. ``padding``: True/"longest" pads to the longest row, "max_length"
        to ``max_length``, False not at all (lists only). Returns ``input_ids``,
        ``attention_mask`` and ``token_type_ids`` (torch tensors with ``return_tensors="pt"``)."""
        if isinstance(texts, str):
            texts = [texts]
        limit = max_length or self.max_length
        rows: list[list[int]] = []
        for text in texts:
            ids = self.encode_pieces_ids(text)
            if truncation:
                ids = ids[: max(limit - 2, 0)]
            rows.append([self.cls_token_id, *ids, self.sep_token_id])
        if padding == "max_length":
            width = limit
        elif padding:
            width = max((len(r) for r in rows), default=0)
        else:
            width = None
        if width is None:
            if return_tensors == "pt":
                raise ValueError("return_tensors='pt' needs padding")
            return {
                "input_ids": rows,
                "attention_mask": [[1] * len(r) for r in rows],
                "token_type_ids": [[0] * len(r) for r in rows],
            }
        input_ids = [r + [self.pad_token_id] * (width - len(r)) for r in rows]
        mask = [[1] * len(r) + [0] * (width - len(r)) for r in rows]
        if return_tensors == "pt":
            import torch

            ids_t = torch.tensor(input_ids, dtype=torch.long).reshape(len(rows), width)
            mask_t = torch.tensor(mask, dtype=torch.long).reshape(len(rows), width)
            return {"input_ids": ids_t, "attention_mask": mask_t, "token_type_ids": torch.zeros_like(ids_t)}
        return {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": [[0] * width for _ in rows]}


def train_sentencepiece(
    texts: Iterable[str],
    model_prefix: str | Path,
    *,
    vocab_size: int = 12000,
    model_type: str = "unigram",
    character_coverage: float = 0.9995,
    input_sentence_size: int = 400_000,
    seed: int = 13,
    num_threads: int = 2,
) -> Path:
    """Train a SentencePiece model with the KoBERT special-token layout
    (``[UNK]``=0, ``[PAD]``=1, ``[CLS]``=2, ``[SEP]``=3, ``[MASK]``=4) and return its path.

    The specials other than ``[UNK]`` are control symbols, so a user typing "[MASK]" gets
    ordinary pieces, never the mask id."""
    prefix = Path(model_prefix)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    spm.set_random_generator_seed(seed)
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(texts),
        model_prefix=str(prefix),
        vocab_size=vocab_size,
        model_type=model_type,
        character_coverage=character_coverage,
        input_sentence_size=input_sentence_size,
        shuffle_input_sentence=True,
        unk_id=0,
        unk_piece="[UNK]",
        pad_id=1,
        pad_piece="[PAD]",
        bos_id=-1,
        eos_id=-1,
        control_symbols=["[CLS]", "[SEP]", "[MASK]"],
        max_sentence_length=4096,
        num_threads=num_threads,
        minloglevel=2,
        hard_vocab_limit=False,
    )
    model = prefix.with_suffix(".model")
    check = spm.SentencePieceProcessor(model_file=str(model))
    layout = [check.id_to_piece(i) for i in range(len(SPECIAL_TOKENS))]
    if tuple(layout) != SPECIAL_TOKENS:
        raise TokenizerError(f"unexpected special-token layout {layout}")
    return model
