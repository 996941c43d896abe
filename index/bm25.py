"""Lexical retrieval with BM25 (bm25s, English stop words and Snowball stemming) over the same chunks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import bm25s
import numpy as np
import Stemmer
from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein

_STEMMER = Stemmer.Stemmer("english")
# Typo tolerance: a query term the notes never use matches the notes' terms one edit away (a transposition,
# a missing, extra or wrong letter), for terms this long; shorter words have too many unrelated neighbours.
FUZZY_MIN_LEN = 5


def _tokens(texts: list[str]) -> list[list[str]]:
    tokenized: list[list[str]] = bm25s.tokenize(texts, stemmer=_STEMMER, return_ids=False, show_progress=False)
    return tokenized


# Words that shape a question but name nothing in it ("How do I compute recall?" is about recall): left out of keyword
# queries, where a notes folder full of questions ("How do you …?" flashcards) would otherwise match them first.
QUESTION_WORDS = frozenset(
    _STEMMER.stemWords(
        "what which who whom whose why how when where do does did doing is are was were be been can could should "
        "would will shall may might must i me we you your it its my".split()
    )
)


def terms(text: str) -> set[str]:
    """Stemmed content terms (stop words removed), as the index sees them."""
    return set(_tokens([text])[0])


class Bm25Index:
    def __init__(self, model: Any) -> None:
        self._model = model
        self._vocab_list: list[str] | None = None
        self._doc_freq: np.ndarray | None = None

    @classmethod
    def build(cls, texts: list[str]) -> Bm25Index:
        model = bm25s.BM25()
        model.index(bm25s.tokenize(texts, stemmer=_STEMMER, show_progress=False), show_progress=False)
        return cls(model)

    def idf(self, stem: str) -> float:
        """BM25's inverse document frequency of a stem here (the rarer, the higher; unused terms the highest)."""
        vocab = self._model.vocab_dict
        n_docs = int(self._model.scores["num_docs"])
        if self._doc_freq is None:
            indptr = np.asarray(self._model.scores["indptr"], dtype=np.int64)
            ends = np.append(indptr[1:], len(self._model.scores["data"]))
            self._doc_freq = ends - indptr
        term = vocab.get(stem)
        df = int(self._doc_freq[term]) if term is not None and term < len(self._doc_freq) else 0
        return float(np.log(1.0 + (n_docs - df + 0.5) / (df + 0.5)))

    def unknown(self, stems: set[str]) -> set[str]:
        """The stems that occur nowhere in the indexed chunks, not even misspelled."""
        return {t for t in stems if not self.resolve(t)}

    def resolve(self, stem: str) -> list[str]:
        """The indexed terms a query stem stands for: itself when indexed, else its spellings one edit away."""
        vocab = self._model.vocab_dict
        if stem in vocab:
            return [stem]
        if len(stem) < FUZZY_MIN_LEN:
            return []
        if self._vocab_list is None:
            self._vocab_list = list(vocab)
        matches = process.extract(
            stem, self._vocab_list, scorer=DamerauLevenshtein.distance, score_cutoff=1, limit=None
        )
        return sorted(m for m, _, _ in matches)

    def search(self, query: str, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids) of chunks sharing at least one term with the query, best first; only ``allowed`` ids
        when given (masked inside the scoring, so k of them come back when they match)."""
        asked = _tokens([query])[0]
        asked = [t for t in asked if t not in QUESTION_WORDS] or asked  # a query of question words only: keep them
        terms = [r for t in asked for r in self.resolve(t)]
        n_docs = int(self._model.scores["num_docs"])
        if not terms or n_docs == 0:
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        mask = None
        if allowed is not None:
            mask = np.zeros(n_docs, dtype=np.float32)
            mask[allowed] = 1.0
        ids, scores = self._model.retrieve(
            [terms], k=min(k, n_docs), show_progress=False, weight_mask=mask, n_threads=0
        )
        keep = scores[0] > 0
        return scores[0][keep].astype(np.float32), ids[0][keep].astype(np.int64)

    def save(self, directory: Path) -> None:
        self._model.save(str(directory), show_progress=False)

    @classmethod
    def load(cls, directory: Path) -> Bm25Index:
        return cls(bm25s.BM25.load(str(directory), show_progress=False))
