"""Word2vec vectors for SentencePiece pieces, used to initialise a BERT's word embeddings.

Skip-gram with negative sampling (gensim) over the pretraining corpus, one sentence per
text, each piece id a word. It needs a few minutes on two CPU cores for the whole corpus,
far less than masked-LM pretraining, and it gives the classifier the one thing a small
labelled set cannot: which pieces mean similar things. Measured: fine-tuning from these
embeddings beats the same network from random weights (see ``model/README.md``).

With more than one worker thread gensim's result depends on thread scheduling, so two runs
agree only approximately; ``workers=1`` is exactly reproducible for a seed.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Iterable, Iterator, Sequence

import numpy as np

log = logging.getLogger(__name__)

#: element standard deviation the vectors are scaled to: a little above BERT's 0.02 initial
#: range, so the piece identity outweighs the (random) position embeddings it is summed with
EMBEDDING_STD = 0.04


@dataclass(frozen=True)
class PieceVectorConfig:
    dim: int = 256
    epochs: int = 5
    window: int = 5
    negative: int = 5
    min_count: int = 3
    sample: float = 1e-4
    workers: int = 2
    seed: int = 13


class _PieceSentences:
    """Re-iterable sentences of piece-id strings, read from the flat id array on the fly."""

    def __init__(self, flat: np.ndarray, offsets: np.ndarray, rows: Sequence[int]) -> None:
        self.flat, self.offsets, self.rows = flat, offsets, rows

    def __iter__(self) -> Iterator[list[str]]:
        for i in self.rows:
            ids = self.flat[self.offsets[i] : self.offsets[i + 1]]
            if len(ids):
                yield [str(int(x)) for x in ids]


def train_piece_vectors(
    flat: np.ndarray, offsets: np.ndarray, rows: Iterable[int], vocab_size: int, config: PieceVectorConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Train skip-gram vectors on the texts ``rows`` of an encoded corpus.

    Returns ``(vectors, known)``: a ``vocab_size × dim`` float32 matrix scaled to
    :data:`EMBEDDING_STD` (centred, one global scale) and a bool mask of the ids that got a
    vector (pieces seen fewer than ``min_count`` times, and the special tokens, did not)."""
    from gensim.models import Word2Vec

    logging.getLogger("gensim").setLevel(logging.WARNING)  # it logs progress every second at INFO
    sentences = _PieceSentences(flat, offsets, list(rows))
    model = Word2Vec(
        sentences, vector_size=config.dim, window=config.window, negative=config.negative, sg=1,
        min_count=config.min_count, sample=config.sample, epochs=config.epochs,
        workers=config.workers, seed=config.seed,
    )
    vectors = np.zeros((vocab_size, config.dim), dtype=np.float32)
    known = np.zeros(vocab_size, dtype=bool)
    for key in model.wv.index_to_key:
        piece_id = int(key)
        if 0 <= piece_id < vocab_size:
            vectors[piece_id] = model.wv[key]
            known[piece_id] = True
    if known.any():
        centred = vectors[known] - vectors[known].mean(0)
        vectors[known] = centred / max(float(centred.std()), 1e-12) * EMBEDDING_STD
    log.info("word2vec: %d of %d pieces have vectors", int(known.sum()), vocab_size)
    return vectors, known


def apply_to_embeddings(model, vectors: np.ndarray, known: np.ndarray) -> int:
    """Copy the known rows into a BERT model's word embeddings (in place); returns how many."""
    import torch

    weight = model.get_input_embeddings().weight
    if tuple(weight.shape) != tuple(vectors.shape):
        raise ValueError(f"embedding shape {tuple(weight.shape)} != vectors {vectors.shape}")
    with torch.no_grad():
        index = torch.from_numpy(np.flatnonzero(known))
        weight[index] = torch.from_numpy(vectors[known]).to(weight.dtype)
    return int(known.sum())
