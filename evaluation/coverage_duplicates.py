"""How well the near-duplicate finder of the coverage report finds real repeats.

Run ``HF_HUB_OFFLINE=1 python -m evaluation.coverage_duplicates`` (e5 takes 2-3 minutes on a
2-core machine the first time; its vectors are cached in ``evaluation/out/``). Writes
``evaluation/results/duplicates.md`` and ``.json``.

Data: the real party-history quiz bank in ``../shared/external/dangshi_quiz`` (1,486 questions).
Each question is one item; its text is :attr:`Question.prompt` (the stem and its options, as a
member reads it and as a quiz item is embedded). Truth: two questions are duplicates when their
prompts are identical after :func:`recsys.embedding.duplicates.normalise_text`. Questions with the same stem
but different options are *not* duplicates (they ask different things); how many of those the
finder links is reported separately.

For each encoder and threshold, the finder's clusters (connected components of links at or above
the threshold) are turned into pairs, and precision and recall are measured on pairs.
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

from corpus import QUIZ_BANK
from evaluation.machine import describe, describe_markdown, write_results
from recsys.embedding.duplicates import duplicate_clusters, normalise_text
from recsys.embedding.encoders import CachedEncoder, get_encoder
from recsys.storage import SQLiteEmbeddingCache
from recsys.ingest.quizbank import read_question_bank

ROOT = Path(__file__).resolve().parents[1]
BANK = QUIZ_BANK
OUT = Path(__file__).parent / "results"
CACHE = Path(__file__).parent / "out" / "duplicates-embeddings.sqlite"
THRESHOLDS = (0.80, 0.85, 0.87, 0.90, 0.92, 0.94, 0.95, 0.96, 0.97, 0.975, 0.98, 0.983, 0.985,
              0.99, 0.993, 0.995, 0.997, 0.999)
#: Precision the chosen threshold must reach.
PRECISION = 0.99


def _pairs(groups) -> set[tuple[str, str]]:
    return {tuple(sorted(p)) for g in groups for p in itertools.combinations(g, 2)}


def truth(questions) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """Pairs with identical prompts, and pairs with the same stem but different options."""
    by_prompt: dict[str, list[str]] = {}
    by_stem: dict[str, list[str]] = {}
    for q in questions:
        by_prompt.setdefault(normalise_text(q.prompt), []).append(q.id)
        by_stem.setdefault(normalise_text(q.text), []).append(q.id)
    same = _pairs(g for g in by_prompt.values() if len(g) > 1)
    stem = _pairs(g for g in by_stem.values() if len(g) > 1) - same
    return same, stem


def measure(ids, vectors, same, stem, threshold: float) -> dict:
    clusters = duplicate_clusters(ids, vectors, threshold)
    found = _pairs(c for c, _ in clusters)
    tp = len(found & same)
    return {
        "threshold": threshold,
        "clusters": len(clusters),
        "pairs_found": len(found),
        "true_pairs_found": tp,
        "precision": tp / len(found) if found else 1.0,
        "recall": tp / len(same) if same else 1.0,
        "same_stem_other_options_linked": len(found & stem),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoders", nargs="+", default=["tfidf", "e5-small"])
    args = parser.parse_args(argv)
    questions = read_question_bank(BANK)
    ids = [q.id for q in questions]
    texts = [q.prompt for q in questions]
    same, stem = truth(questions)
    results: dict = {"machine": describe(), "questions": len(questions),
                     "distinct_prompts": len({normalise_text(t) for t in texts}),
                     "distinct_stems": len({normalise_text(q.text) for q in questions}),
                     "true_pairs": len(same), "same_stem_other_options_pairs": len(stem), "encoders": {}}
    CACHE.parent.mkdir(exist_ok=True)
    for spec in args.encoders:
        encoder = CachedEncoder(get_encoder(spec), SQLiteEmbeddingCache(CACHE))
        started = time.perf_counter()
        vectors = encoder.encode(texts)
        seconds = time.perf_counter() - started
        rows = [measure(ids, vectors, same, stem, t) for t in THRESHOLDS]
        # The lowest threshold that is still precise: low enough to catch reworded copies too,
        # high enough that an editor merging a cluster rarely merges two different questions.
        precise = [r for r in rows if r["precision"] >= PRECISION]
        chosen = min(precise, key=lambda r: r["threshold"]) if precise else rows[-1]
        false = sorted(_pairs(c for c, _ in duplicate_clusters(ids, vectors, chosen["threshold"])) - same)
        results["encoders"][spec] = {"name": encoder.name, "embed_seconds": round(seconds, 1),
                                     "rows": rows, "chosen_threshold": chosen["threshold"],
                                     "false_pairs_at_chosen": [
                                         list(p) for p in dict.fromkeys(
                                             (texts[ids.index(a)], texts[ids.index(b)]) for a, b in false)][:5]}
        encoder.cache.close()
    lines = [
        "# Near-duplicate finder on the party-history quiz bank",
        "",
        f"Command: `HF_HUB_OFFLINE=1 python -m evaluation.coverage_duplicates`. {results['questions']} questions, "
        f"{results['distinct_prompts']} distinct prompts (stem + options, normalised), "
        f"{results['distinct_stems']} distinct stems; {results['true_pairs']} true duplicate pairs; "
        f"{results['same_stem_other_options_pairs']} pairs share a stem but differ in options (not duplicates).",
        "Pairs found = every pair inside a cluster (connected components of links at the threshold).",
        "",
    ]
    for spec, r in results["encoders"].items():
        lines += [f"## {r['name']} (embedding took {r['embed_seconds']} s; lowest threshold with precision >= {PRECISION}: {r['chosen_threshold']})", "",
                  "| threshold | clusters | pairs found | true pairs found | precision | recall | same stem, other options linked |",
                  "|---|---|---|---|---|---|---|"]
        for row in r["rows"]:
            lines.append(f"| {row['threshold']} | {row['clusters']} | {row['pairs_found']} | {row['true_pairs_found']} | "
                         f"{row['precision']:.3f} | {row['recall']:.3f} | {row['same_stem_other_options_linked']} |")
        lines.append("")
        for a, b in r["false_pairs_at_chosen"]:
            lines.append(f"- false pair at {r['chosen_threshold']}: 「{a}」 / 「{b}」")
        lines.append("")
    lines += ["## Machine", "", describe_markdown(), ""]
    write_results(OUT, "duplicates", results, lines)
    for spec, r in results["encoders"].items():
        print(spec, "chosen threshold", r["chosen_threshold"])


if __name__ == "__main__":
    main()
