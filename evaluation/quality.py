"""The quality evaluation behind ``recsys evaluate``: every protocol, method and seed, the
season, the floors, and ``RESULTS.md`` with its plots.

Run ``recsys evaluate`` (full: more seeds and members, about ten minutes) or
``recsys evaluate --quick`` (the CI setting, about a minute and a half). The numbers are written
to ``results/quality.json``; the report includes the benchmark section of
:mod:`evaluation.bench` when its results exist.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import math
import shutil
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from evaluation import baselines as B
from evaluation import metrics as M
from evaluation.ceilings import CEILING, HiddenCeiling, RecordsCeiling
from evaluation.protocols import Split, candidates_for, cold_start_split, leave_last_k_out, temporal_split
from evaluation.season import SeasonResult, run_season
from evaluation.simulator import Simulator
from recsys.records import ROLES

__all__ = ["Settings", "QUICK", "FULL", "run", "confidence_interval", "check_floors"]

ROOT = Path(__file__).resolve().parent
#: First day of the logged history of the offline protocols.
LOG_START = dt.date(2026, 9, 7)
#: First day of the season (offline activities in the sample corpus start on 2026-11-26).
SEASON_START = dt.date(2026, 11, 23)
K = 10
PROTOCOLS = ("temporal", "leave-last-k", "cold-start")


@dataclass(frozen=True)
class Settings:
    """The size of a run.

    Attributes:
        name: ``quick`` or ``full``.
        seeds: Seeds of the offline protocols (each a new population and history).
        members: Simulated members per seed.
        log_days: Days of logged history; the last ``test_days`` are held out (temporal).
        test_days: Held-out days.
        season_seeds: Seeds of the season.
        season_members: Members in a season.
        season_days: Days of a season.
        season_refit_days: A peer + guarantees portal refits its peer every this many days.
        encoder: The engine's encoder.
    """

    name: str
    seeds: int
    members: int
    log_days: int = 56
    test_days: int = 14
    season_seeds: int = 2
    season_members: int = 12
    season_days: int = 14
    season_refit_days: int = 7
    encoder: str = "tfidf"


QUICK = Settings("quick", seeds=3, members=40, season_seeds=2, season_members=12, season_days=14)
FULL = Settings("full", seeds=5, members=120, log_days=70, season_seeds=4, season_members=40, season_days=35)


def confidence_interval(values: list[float], level: float = 0.95) -> tuple[float, float]:
    """Mean and half-width of the Student-t interval over ``values`` (NaN half-width for one)."""
    from scipy import stats

    x = np.asarray(values, dtype=np.float64)
    if len(x) == 0:
        return math.nan, math.nan
    if len(x) == 1:
        return float(x[0]), math.nan
    half = stats.t.ppf(0.5 + level / 2, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x))
    return float(x.mean()), float(half)


def _methods(seed: int, base: Path, work: Path, encoder: str) -> list:
    return [
        B.EngineRanker(base, work / f"engine-{seed}", encoder=encoder),
        B.EngineRanker(base, work / f"engine-untrained-{seed}", encoder=encoder, train=False),
        B.RandomRanker(seed),
        B.PopularRanker(),
        B.NewestRanker(),
        B.CurriculumRanker(),
        B.ContentRanker(),
        B.ImplicitALSRanker(seed=seed),
        B.LenskitRanker("pop"),
        B.LenskitRanker("item-knn"),
        B.EASERanker(),
    ]


def _base_store(work: Path, encoder: str, items) -> Path:
    """A store with the catalogue embedded, built once and copied for every run."""
    from recsys.engine import Engine

    base = work / f"base-{encoder}"
    # Rebuilt whenever the catalogue changed in any way (a stale copy would evaluate old items).
    digest = hashlib.sha256(json.dumps([it.to_dict() for it in items], ensure_ascii=False,
                                       sort_keys=True, default=str).encode()).hexdigest()
    stamp = base / "catalogue.sha256"
    if stamp.is_file() and stamp.read_text() == digest:
        return base
    shutil.rmtree(base, ignore_errors=True)
    with Engine.open(base, encoder=encoder) as engine:
        engine.add_items(items)
    stamp.write_text(digest)
    return base


def _item_vectors(base: Path, encoder: str) -> dict[str, np.ndarray]:
    from recsys.engine import Engine

    with Engine.open(base, encoder=encoder) as engine:
        index = engine.index()
        return {it.id: np.asarray(index.vector(it.id)) for it in engine.items()}


def _list_metrics(split: Split, recs: dict[str, list[str]], vectors, expected, catalogue,
                  sim: Simulator) -> dict[str, float]:
    """Accuracy (averaged over users), beyond-accuracy figures, and the simulator's hidden
    interest in what was recommended (an oracle no method sees) of one method on one split."""
    popularity: dict[str, int] = defaultdict(int)
    for done in split.completed.values():
        for i in done:
            popularity[i] += 1
    lists = [recs[m] for m in recs]
    out = {name: float(np.mean([s[name] for s in M.user_scores(recs, split.truth, K).values()] or [0.0]))
           for name in M.RANKING_METRICS}
    out.update(
        coverage=M.catalogue_coverage(lists, catalogue),
        entropy=M.distributional_coverage(lists),
        gini=M.exposure_gini(lists, catalogue),
        ild=M.intra_list_diversity(lists, vectors),
        novelty=M.novelty(lists, popularity, max(1, len(split.completed))),
        serendipity=M.serendipity_at_k(recs, split.truth, expected, K),
        answered=float(np.mean([len(recs[m]) > 0 for m in recs])) if recs else 0.0,
        interest=float(np.mean([np.mean([sim.interest(m, sim.items[i]) for i in recs[m]])
                                for m in recs if recs[m]] or [math.nan])),
    )
    return out


def _offline(settings: Settings, items, templates, base: Path, work: Path, vectors, log: Callable[[str], None]):
    """Every protocol × method × seed: aggregated figures and per-member rows."""
    catalogue = [it.id for it in items if it.mode == "online"]
    per_seed: dict[tuple[str, str], list[dict[str, float]]] = defaultdict(list)
    rows: list[dict] = []
    counts: dict[str, list[int]] = defaultdict(list)
    for seed in range(settings.seeds):
        sim = Simulator(items, templates, n_members=settings.members, seed=seed)
        events = sim.log_history(LOG_START, settings.log_days)
        cutoff = LOG_START + dt.timedelta(days=settings.log_days - settings.test_days)
        members = sim.member_records()
        splits = [
            temporal_split(items, members, events, cutoff, settings.test_days),
            leave_last_k_out(items, members, events, k=3),
            cold_start_split(items, members, events, cutoff, settings.test_days, seed=seed),
        ]
        by_id = {m.id: m for m in members}
        for split in splits:
            counts[split.name].append(len(split.truth))
            popular = B.PopularRanker().fit(split.train)
            expected = {m: popular.rank(by_id[m], split.day[m], candidates_for(split, by_id[m], items), K)
                        for m in split.truth}
            for method in [*_methods(seed, base, work, settings.encoder), HiddenCeiling(sim), RecordsCeiling(sim)]:
                t0 = time.perf_counter()
                method.fit(split.train)
                recs = {m: method.rank(by_id[m], split.day[m], candidates_for(split, by_id[m], items), K)
                        for m in sorted(split.truth)}
                if isinstance(method, B.EngineRanker):
                    method.close()
                per_seed[(split.name, method.name)].append(_list_metrics(split, recs, vectors, expected, catalogue, sim))
                # Ceilings stand beside the main tables only: the groups' tables compare methods.
                for m, scores in ({} if method.name.startswith(CEILING) else M.user_scores(recs, split.truth, K)).items():
                    rows.append({"seed": seed, "protocol": split.name, "method": method.name, "member": m,
                                 "situation": by_id[m].situation, "roles": list(by_id[m].roles),
                                 "relevant": len(split.truth[m]), "minutes": by_id[m].daily_minutes, **scores})
                log(f"seed {seed} {split.name:13s} {method.name:17s} ndcg@10 "
                    f"{per_seed[(split.name, method.name)][-1]['ndcg']:.4f} ({time.perf_counter() - t0:.1f} s)")
            if split.name == "temporal":
                rows.extend(_records_as_regular(split, seed, items, base, work, settings.encoder))
    summary: dict[str, dict[str, dict[str, list[float]]]] = defaultdict(dict)
    for (protocol, method), values in per_seed.items():
        summary[protocol][method] = {
            name: list(confidence_interval([v[name] for v in values])) for name in values[0]
        }
    return summary, rows, {p: c for p, c in counts.items()}


#: The engine given every member's record as a regular member's (see :func:`_records_as_regular`).
AS_REGULAR = "engine, records as regular"


def _records_as_regular(split: Split, seed: int, items, base: Path, work: Path, encoder: str) -> list[dict]:
    """Per-member scores of the engine when every member's record says ``regular`` (can attend
    offline), with the same history, truth and candidates: if a situation's NDCG does not move,
    the engine does not rank those members' online lists differently, and a gap between
    situations comes from the members themselves (how much they study, their time)."""
    members = [dataclasses.replace(m, situation="regular", offline=True) for m in split.train.members]
    by_id = {m.id: m for m in split.train.members}
    regular = {m.id: m for m in members}
    method = B.EngineRanker(base, work / f"engine-as-regular-{seed}", encoder=encoder)
    method.fit(dataclasses.replace(split.train, members=members))
    try:
        recs = {m: method.rank(regular[m], split.day[m], candidates_for(split, by_id[m], items), K)
                for m in sorted(split.truth)}
    finally:
        method.close()
    return [{"seed": seed, "protocol": split.name, "method": AS_REGULAR, "member": m,
             "situation": by_id[m].situation, "roles": list(by_id[m].roles), "relevant": len(split.truth[m]),
             "minutes": by_id[m].daily_minutes, **scores}
            for m, scores in M.user_scores(recs, split.truth, K).items()]


def _situation_profile(rows: list[dict]) -> dict[str, dict[str, float]]:
    """Per situation, of the members evaluated on the temporal split: held-out completions and
    daily minutes per member (what NDCG@10 depends on besides the ranking)."""
    mine = [r for r in rows if r["protocol"] == "temporal" and r["method"] == "engine"]
    return {sit: {"members": len(v), "relevant": float(np.mean([r["relevant"] for r in v])),
                  "minutes": float(np.mean([r["minutes"] for r in v]))}
            for sit in ("regular", "mobile", "infirm") if (v := [r for r in mine if r["situation"] == sit])}


def _breakdown(rows: list[dict], key: Callable[[dict], list[str]], protocol: str) -> dict[str, dict[str, list[float]]]:
    """NDCG@10 per group and method: mean over seeds of the group's mean, with its interval."""
    acc: dict[tuple[str, str], dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        if r["protocol"] != protocol:
            continue
        for g in key(r):
            acc[(g, r["method"])][r["seed"]].append(r["ndcg"])
    out: dict[str, dict[str, list[float]]] = defaultdict(dict)
    for (g, method), by_seed in acc.items():
        mean, half = confidence_interval([float(np.mean(v)) for v in by_seed.values()])
        out[g][method] = [mean, half, sum(len(v) for v in by_seed.values())]
    return out


def _season(settings: Settings, items, templates, base: Path, work: Path, log: Callable[[str], None]) -> dict:
    from recsys.curriculum import Curriculum

    policies = [
        ("engine", None, None),
        ("engine, trained", None, None),
        ("engine, mastery_feedback=True", dataclasses.replace(Curriculum(), mastery_feedback=True), None),
        ("random portal", None, None),
    ]
    catalogue = [it.id for it in items if it.mode == "online"]
    results: dict[str, list[SeasonResult]] = defaultdict(list)
    for seed in range(settings.season_seeds):
        # Every peer of the offline tables, as a portal held to the engine's guarantees.
        peers = [(f"{p.name} + guarantees", None, p) for p in season_peers(seed, base, work, settings.encoder)]
        for name, curriculum, ranker in policies + peers:
            t0 = time.perf_counter()
            sim = Simulator(items, templates, n_members=settings.season_members, seed=1000 + seed)
            r = run_season(sim, SEASON_START, settings.season_days, base=base, folder=work / f"season-{seed}",
                           encoder=settings.encoder, curriculum=curriculum,
                           policy="random" if name == "random portal" else "engine", ranker=ranker,
                           refit_days=settings.season_refit_days, train=name == "engine, trained")
            r.policy = name
            results[name].append(r)
            log(f"season seed {seed} {name}: {r.lists} lists ({time.perf_counter() - t0:.1f} s)")
    return {name: _season_summary(runs, catalogue) for name, runs in results.items()}


def season_peers(seed: int, base: Path, work: Path, encoder: str) -> list:
    """The peers a season runs as "peer + guarantees": every method of the offline tables but
    the engine itself (a method added to :func:`_methods` joins by that alone)."""
    return [m for m in _methods(seed, base, work, encoder) if not isinstance(m, B.EngineRanker)]


def _group_figures(runs: list[SeasonResult], keep: Callable[[SeasonResult, str], bool]) -> dict[str, float]:
    """Season outcomes of the members ``keep`` selects, pooled over seeds."""
    def pooled(values: dict[str, float], r: SeasonResult) -> list[float]:
        return [v for m, v in values.items() if keep(r, m)]

    members = [[m for m in r.completions if keep(r, m)] for r in runs]
    n = sum(len(x) for x in members)
    return {
        "members": n,
        "completion_rate": float(np.mean([v for r in runs for v in pooled(r.completion_rate, r)] or [math.nan])),
        "interest": float(np.mean([v for r in runs for v in pooled(r.interest, r)] or [math.nan])),
        "required_progress": float(np.mean([v for r in runs for v in pooled(r.required_progress, r)] or [math.nan])),
        "per_member_day": (sum(r.completions[m] for r, ids in zip(runs, members) for m in ids)
                           / sum(len(ids) * r.days for r, ids in zip(runs, members))) if n else math.nan,
        "reached": sum(r.completions[m] > 0 for r, ids in zip(runs, members) for m in ids) / n if n else math.nan,
        "weekly_reach": (sum(r.weekly_reach(ids) * len(ids) for r, ids in zip(runs, members) if ids) / n
                         if n else math.nan),
    }


def _season_summary(runs: list[SeasonResult], catalogue: list[str]) -> dict:
    """One policy's season over its seeds: guarantees kept, outcomes with intervals, and the
    outcomes of each situation and role."""
    weeks = max((w for r in runs for w, _ in r.quiz_scores), default=-1) + 1
    return {
        "lists": sum(r.lists for r in runs),
        "repeat_violations": sum(r.repeat_violations for r in runs),
        "reviews": sum(r.reviews for r in runs),
        "feasibility_violations": sum(sum(r.feasibility_violations.values()) for r in runs),
        "feasibility_by_rule": {k: sum(r.feasibility_violations.get(k, 0) for r in runs)
                                for k in sorted({k for r in runs for k in r.feasibility_violations})},
        "over_budget": sum(r.over_budget for r in runs),
        "fill": confidence_interval([float(np.mean(r.fill)) for r in runs if r.fill]),
        "completion_rate": confidence_interval([float(np.mean(list(r.completion_rate.values()))) for r in runs]),
        "interest": confidence_interval([float(np.mean(list(r.interest.values()))) for r in runs]),
        "quiz_score": confidence_interval([float(np.mean([s for _, s in r.quiz_scores])) for r in runs if r.quiz_scores]),
        "quizzes": sum(len(r.quiz_scores) for r in runs),
        "quiz_by_week": [float(np.mean([s for r in runs for w, s in r.quiz_scores if w == n] or [math.nan]))
                         for n in range(weeks)],
        "mastery_gain": confidence_interval([r.mastery_end - r.mastery_start for r in runs]),
        "required_progress": confidence_interval([float(np.mean(list(r.required_progress.values()))) for r in runs]),
        "per_member_day": confidence_interval([r.completions_per_member_day() for r in runs]),
        "reached": confidence_interval([r.reached() for r in runs]),
        "weekly_reach": confidence_interval([r.weekly_reach() for r in runs]),
        "coverage": confidence_interval([M.catalogue_coverage(r.shown, catalogue) for r in runs]),
        "gini": confidence_interval([M.exposure_gini(r.shown, catalogue) for r in runs]),
        "by_situation": {sit: _group_figures(runs, lambda r, m, sit=sit: r.situation[m] == sit)
                         for sit in ("regular", "mobile", "infirm")},
        "by_role": {role: _group_figures(runs, lambda r, m, role=role: role in r.roles[m])
                    for role in ROLES if any(role in rr for r in runs for rr in r.roles.values())},
    }


def check_floors(results: dict) -> list[dict]:
    """The documented floors, each with whether this run meets it."""
    season = results["season"]
    offline = results["offline"]
    floors = []
    for name in [n for n in ("engine", "engine, trained", "engine, mastery_feedback=True") if n in season]:
        s = season[name]
        floors.append({"floor": f"{name}: zero repeat, feasibility and over-budget violations in the season",
                       "value": s["repeat_violations"] + s["feasibility_violations"] + s["over_budget"],
                       "ok": s["repeat_violations"] + s["feasibility_violations"] + s["over_budget"] == 0})
    peers = [name for name in season if name.endswith(" + guarantees")]
    broken = sum(season[p]["repeat_violations"] + season[p]["feasibility_violations"] + season[p]["over_budget"]
                 for p in peers)
    floors.append({"floor": "every peer + guarantees: zero repeat, feasibility and over-budget violations in the season",
                   "value": broken, "ok": broken == 0})
    eng, rnd = season["engine"], season["random portal"]
    floors.append({"floor": "engine: mean budget fill ratio of the season's lists >= 0.8",
                   "value": round(eng["fill"][0], 4), "ok": eng["fill"][0] >= 0.8})
    floors.append({"floor": "engine: required-topic progress in the season above the random portal's",
                   "value": f"{eng['required_progress'][0]:.4f} vs {rnd['required_progress'][0]:.4f}",
                   "ok": eng["required_progress"][0] > rnd["required_progress"][0]})
    cold = offline["cold-start"]
    for peer in ("random", "newest"):
        floors.append({"floor": f"engine: cold-start NDCG@10 above {peer}",
                       "value": f"{cold['engine']['ndcg'][0]:.4f} vs {cold[peer]['ndcg'][0]:.4f}",
                       "ok": cold["engine"]["ndcg"][0] > cold[peer]["ndcg"][0]})
    return floors


def run(settings: Settings = QUICK, *, out: Path | None = None, work: Path | None = None,
        log: Callable[[str], None] = print) -> dict:
    """Run the whole evaluation and write the report.

    Args:
        settings: :data:`QUICK` or :data:`FULL` (or your own).
        out: Folder of ``RESULTS.md``; the numbers and plots go to ``out/results``.
        work: Folder for the stores (kept between runs: the catalogue is embedded once).
        log: Where progress lines go.

    Returns:
        The results, with ``floors`` and ``ok`` (every floor met).
    """
    import corpus

    out = Path(out) if out is not None else ROOT
    work = Path(work) if work is not None else ROOT / "out" / f"quality-{settings.name}"
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    items, templates = corpus.load_items(), corpus.load_members()
    base = _base_store(work, settings.encoder, items)
    vectors = _item_vectors(base, settings.encoder)
    offline, rows, counts = _offline(settings, items, templates, base, work, vectors, log)
    season = _season(settings, items, templates, base, work, log)
    results = {
        "settings": dataclasses.asdict(settings),
        "offline": offline,
        "evaluated_members": counts,
        "by_situation": {p: _breakdown(rows, lambda r: [r["situation"]], p) for p in PROTOCOLS},
        "by_role": {p: _breakdown(rows, lambda r: r["roles"], p) for p in PROTOCOLS},
        "situation_profile": _situation_profile(rows),
        "season": season,
    }
    results["floors"] = check_floors(results)
    results["ok"] = all(f["ok"] for f in results["floors"])
    results["seconds"] = round(time.perf_counter() - started, 1)
    from evaluation.machine import describe

    results["machine"] = describe()
    from evaluation.report import write_report

    write_report(results, out)
    log(f"evaluation took {results['seconds']} s; floors {'met' if results['ok'] else 'BROKEN'}")
    return results
