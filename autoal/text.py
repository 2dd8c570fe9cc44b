"""Features of free text that need no pretrained model: TF-IDF of character n-grams,
reduced by truncated SVD (latent semantic analysis).

The embedding learner puts them beside the sentence embedding of each text column
(``EmbeddingLearner(text_features="tfidf")``, the default): sentence embeddings carry a
text's topic, the n-grams its words, names and style, which the embedding misses on tasks
such as telling authors apart (``benchmarks/default_strategy.py``). Fitted without labels,
on every row of the pool (a sample of :data:`FIT_ROWS` where it is larger), like the
embeddings' projection.
"""

from __future__ import annotations

import numpy as np

#: Rows the vocabulary and the SVD are fitted on, at most (a seeded sample beyond that).
FIT_ROWS = 20_000
#: The n-gram settings: character n-grams within word boundaries, 2 to 5 long.
NGRAMS = {"analyzer": "char_wb", "ngram_range": (2, 5), "sublinear_tf": True,
          "dtype": np.float32}


class TextLSA:
    """TF-IDF of character 2- to 5-grams, then a truncated SVD to ``dims`` columns.

    Its state is three arrays (:meth:`arrays`: the n-grams, their IDF weights and the SVD
    components), so a saved model keeps it without pickles (:meth:`from_arrays`).
    """

    def __init__(self, dims: int = 64, seed: int = 0, min_df: int = 2,
                 max_features: int = 200_000):
        self.dims = dims
        self.seed = seed
        self.min_df = min_df
        self.max_features = max_features

    def fit(self, texts) -> "TextLSA":
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer

        texts = _strings(texts)
        if len(texts) > FIT_ROWS:
            rng = np.random.default_rng(self.seed)
            texts = texts[np.sort(rng.choice(len(texts), FIT_ROWS, replace=False))]
        min_df = self.min_df if len(texts) >= 2 * self.min_df else 1
        self.vectorizer_ = TfidfVectorizer(min_df=min_df, max_features=self.max_features,
                                           **NGRAMS)
        counts = self.vectorizer_.fit_transform(texts)
        dims = max(1, min(self.dims, counts.shape[0] - 1, counts.shape[1] - 1))
        svd = TruncatedSVD(dims, random_state=self.seed).fit(counts)
        self.components_ = svd.components_.astype(np.float32)
        return self

    def transform(self, texts) -> np.ndarray:
        """float32 ``(n, dims)``: each text's TF-IDF vector on the SVD's components."""
        counts = self.vectorizer_.transform(_strings(texts))
        return np.asarray(counts @ self.components_.T, dtype=np.float32)

    def arrays(self) -> dict:
        """The fitted state as arrays: ``terms`` (n-grams, in column order), ``idf``,
        ``components`` (shape ``(dims, len(terms))``)."""
        vocabulary = self.vectorizer_.vocabulary_
        terms = np.empty(len(vocabulary), dtype=object)
        for term, column in vocabulary.items():
            terms[column] = term
        return {"terms": terms.astype(str), "idf": self.vectorizer_.idf_.astype(np.float32),
                "components": self.components_}

    @classmethod
    def from_arrays(cls, arrays) -> "TextLSA":
        """The :class:`TextLSA` whose :meth:`arrays` these are."""
        from sklearn.feature_extraction.text import TfidfVectorizer

        terms = [str(t) for t in arrays["terms"]]
        lsa = cls(dims=len(arrays["components"]))
        lsa.vectorizer_ = TfidfVectorizer(vocabulary={t: i for i, t in enumerate(terms)},
                                          **NGRAMS).fit(terms[:1])
        lsa.vectorizer_.idf_ = np.asarray(arrays["idf"], dtype=np.float64)
        lsa.components_ = np.asarray(arrays["components"], dtype=np.float32)
        return lsa


def _strings(texts) -> np.ndarray:
    """Texts as an object array of str (missing values as empty text)."""
    values = np.asarray(list(texts), dtype=object)
    return np.array(["" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)
                     for v in values], dtype=object)
