"""Progress reports: a member's hours, points, mastery and reviews; an organisation's by branch.

Everything here is computed from the event history and the curriculum's rules on request, so a
report for a past day is what the records said that day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from recsys.credits import OPENING_KIND, OpeningBalance
from recsys.curriculum import Curriculum
from recsys.learning.ledger import HoursLedger, build_ledger
from recsys.learning.mastery import ReviewDue, TopicMastery, estimate_mastery, review_schedule
from recsys.learning.points import PointsLedger, build_points
from recsys.orgs import display_org, within
from recsys.pipeline.explain import book_title, hours_text, number_text
from recsys.pipeline.profile import day_end
from recsys.records import Event, Item, Member

__all__ = [
    "MemberProgress", "BranchProgress", "OrgProgress", "member_progress", "org_progress", "in_org",
    "format_member_progress", "format_org_progress", "with_balances",
]


def in_org(member: Member, org: str) -> bool:
    """Whether the member belongs to ``org`` or a unit under it."""
    return within(member.org, org)


def with_balances(ledger: HoursLedger, balances: Sequence[OpeningBalance]) -> HoursLedger:
    """The ledger with the member's opening balances of its year first, as entries of their own
    (kind ``opening_balance``): they count toward the total and the pace."""
    opening = tuple(b.entry() for b in balances if b.member == ledger.member and b.year == ledger.day.year)
    return replace(ledger, entries=opening + ledger.entries) if opening else ledger


@dataclass(frozen=True)
class MemberProgress:
    """One member's records on ``day``.

    Attributes:
        member: The member.
        day: The day.
        hours: The hours ledger of the year.
        points: The points ledger of the year.
        mastery: The quiz-based estimate per topic.
        reviews: Quiz items waiting for review, by due day.
    """

    member: Member
    day: dt.date
    hours: HoursLedger
    points: PointsLedger
    mastery: Mapping[str, TopicMastery]
    reviews: tuple[ReviewDue, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "member": self.member.id, "name": self.member.name, "org": self.member.org, "day": self.day.isoformat(),
            "hours": self.hours.to_dict(), "points": self.points.to_dict(),
            "mastery": [m.to_dict() for m in sorted(self.mastery.values(), key=lambda m: m.topic)],
            "reviews": [r.to_dict() for r in self.reviews],
        }


def member_progress(
    member: Member, events: Sequence[Event], items: Mapping[str, Item], curriculum: Curriculum, day: dt.date,
    balances: Sequence[OpeningBalance] = (),
) -> MemberProgress:
    """Assemble a member's progress on ``day`` from their events (in time order) and opening
    balances (points come from events only: an opening balance earns none)."""
    end = day_end(day)
    earned = build_ledger(member, events, items, curriculum, day)
    points = build_points(member, events, items, curriculum, day, ledger=earned)
    hours = with_balances(earned, balances)
    mastery = estimate_mastery(events, items, curriculum.mastery, until=end)
    reviews = review_schedule(events, items, curriculum.mastery, until=end)
    return MemberProgress(member, day, hours, points, mastery,
                          tuple(sorted(reviews.values(), key=lambda r: (r.due, r.item))))


@dataclass(frozen=True)
class BranchProgress:
    """A branch's totals and its points leaderboard.

    Attributes:
        org: The branch.
        org_name: Its display name (its code if it has none).
        members: Members counted.
        hours: Their hours this year.
        target: The sum of their annual targets (members without one add nothing).
        behind: Members behind pace.
        untargeted: Members without a target (infirm members, roles with none).
        untargeted_hours: Their hours: studied, but toward no target, so the branch's progress
            (:attr:`hours` less these, against :attr:`target`) leaves them out.
        points: Their points this year.
        leaderboard: ``{member, name, points, hours}`` by points, then hours, then id.
    """

    org: str
    members: int
    hours: float
    target: float
    behind: int
    points: float
    leaderboard: tuple[dict[str, Any], ...]
    org_name: str | None = None
    untargeted: int = 0
    untargeted_hours: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"org": self.org, "org_name": self.org_name or self.org, "members": self.members, "hours": round(self.hours, 2), "target": round(self.target, 2),
                "progress": _progress(self.hours - self.untargeted_hours, self.target),
                "untargeted": self.untargeted, "untargeted_hours": round(self.untargeted_hours, 2),
                "behind": self.behind, "points": round(self.points, 2), "leaderboard": list(self.leaderboard)}


def _progress(hours: float, target: float) -> float | None:
    """Hours toward a target against it (a retirees' branch whose infirm members study without
    one read nearly twice as far along as it was when their hours counted)."""
    return round(hours / target, 4) if target else None


def _hours_text(hours: float, target: float, untargeted: int, untargeted_hours: float) -> str:
    """``学时 toward / target``, and what members without a target studied beside it."""
    text = f"学时 {hours_text(hours - untargeted_hours)} / {number_text(target)}"
    return text + (f"（另有无学时要求的 {untargeted} 人学习 {hours_text(untargeted_hours)} 学时）" if untargeted else "")


@dataclass(frozen=True)
class OrgProgress:
    """An organisation's progress: its branches (the ``org`` of its members) and their totals."""

    org: str
    day: dt.date
    branches: tuple[BranchProgress, ...]
    #: The organisation's display name (its code if it has none).
    org_name: str | None = None

    @property
    def members(self) -> int:
        return sum(b.members for b in self.branches)

    @property
    def hours(self) -> float:
        return sum(b.hours for b in self.branches)

    @property
    def target(self) -> float:
        return sum(b.target for b in self.branches)

    @property
    def untargeted(self) -> int:
        return sum(b.untargeted for b in self.branches)

    @property
    def untargeted_hours(self) -> float:
        return sum(b.untargeted_hours for b in self.branches)

    @property
    def behind(self) -> int:
        return sum(b.behind for b in self.branches)

    def to_dict(self) -> dict[str, Any]:
        return {"org": self.org, "org_name": self.org_name or self.org, "day": self.day.isoformat(),
                "year": self.day.year, "members": self.members,
                "hours": round(self.hours, 2), "target": round(self.target, 2),
                "progress": _progress(self.hours - self.untargeted_hours, self.target),
                "untargeted": self.untargeted, "untargeted_hours": round(self.untargeted_hours, 2),
                "behind": self.behind, "branches": [b.to_dict() for b in self.branches]}


def org_progress(
    org: str,
    members: Sequence[Member],
    events: Mapping[str, Sequence[Event]],
    items: Mapping[str, Item],
    curriculum: Curriculum,
    day: dt.date,
    balances: Mapping[str, Sequence[OpeningBalance]] | None = None,
    org_names: Mapping[str, str] | None = None,
) -> OrgProgress:
    """Progress of the members of ``org`` (and units under it), grouped by branch.

    Args:
        org: The organisation.
        members: Members (those outside ``org`` are left out).
        events: Each member's events in time order, by member id.
        items: The catalogue.
        curriculum: Targets and rules.
        day: The day.
        balances: Each member's opening balances, by member id.
        org_names: Display names of organisations, by code.
    """
    balances = balances or {}
    names = org_names or {}
    groups: dict[str, list[MemberProgress]] = {}
    for m in sorted(members, key=lambda m: m.id):
        if in_org(m, org):
            groups.setdefault(m.org, []).append(member_progress(m, events.get(m.id, ()), items, curriculum, day,
                                                                  balances.get(m.id, ())))
    branches = []
    for branch, progress in sorted(groups.items()):
        board = sorted(progress, key=lambda p: (-p.points.total, -p.hours.total, p.member.id))
        branches.append(BranchProgress(
            org=branch, members=len(progress),
            hours=sum(p.hours.total for p in progress),
            target=sum(p.hours.target or 0.0 for p in progress),
            behind=sum(p.hours.status == "behind" for p in progress),
            points=sum(p.points.total for p in progress),
            leaderboard=tuple({"member": p.member.id, "name": p.member.name, "points": round(p.points.total, 2),
                               "hours": round(p.hours.total, 2)} for p in board),
            org_name=display_org(branch, names),
            untargeted=sum(not p.hours.target for p in progress),  # none, or 0 hours a year
            untargeted_hours=sum(p.hours.total for p in progress if not p.hours.target),
        ))
    return OrgProgress(org, day, tuple(branches), display_org(org, names))


#: How the hours ledger's modes read (opening balances are hours before go-live, of either mode).
_MODES = {"online": "线上", "offline": "线下", OPENING_KIND: "期初学时"}
_STATUS = {"ahead": "超前", "on_pace": "符合进度", "behind": "落后", "no_target": "无学时要求"}
_RULES = {"action": "学习", "deduction": "扣减", "required_topic": "必修主题达标", "streak": "连续学习"}


def format_member_progress(progress: MemberProgress, items: Mapping[str, Item] | None = None,
                           org_names: Mapping[str, str] | None = None) -> str:
    """A member's progress as lines of Chinese text, for the terminal: items by their titles
    (from ``items``, the catalogue) and the branch by its display name (``org_names``), where
    known, else by their codes."""
    h, p, m = progress.hours, progress.points, progress.member
    items = items or {}
    target = f"{number_text(h.target)}" if h.target is not None else "—"
    lines = [f"{m.name}（{m.id}，{display_org(m.org, org_names or {})}）{progress.day.isoformat()} 学习档案",
             f"学时：{hours_text(h.total)} / {target}（{_STATUS[h.status]}"
             + (f"，按进度应达 {hours_text(h.expected)}" if h.expected is not None else "")
             + f"，预计全年 {hours_text(h.projection)}）",
             "  按主题：" + ("，".join(f"{t} {hours_text(v)}" for t, v in h.by_topic.items()) or "暂无"),
             "  线上/线下：" + ("，".join(f"{_MODES.get(k, k)} {hours_text(v)}" for k, v in h.by_mode.items()) or "暂无"),
             f"积分：{number_text(p.total)}" + ("（" + "，".join(f"{_RULES.get(k, k)} {number_text(v)}" for k, v in p.by_rule.items()) + "）" if p.by_rule else "")]
    for t in sorted(progress.mastery.values(), key=lambda t: t.topic):
        lines.append(f"  掌握度 {t.topic}：等级 {t.level}{'（薄弱）' if t.weak else ''}，答题 {t.quizzes} 次，"
                     f"最近得分 {t.last_score:.0%}")
    for r in progress.reviews:
        what = book_title(items[r.item].title) if r.item in items else r.item
        lines.append(f"  待复习：{what}（{r.due.isoformat()} 起，上次得分 {r.last_score:.0%}）")
    return "\n".join(lines)


def format_org_progress(progress: OrgProgress, most: int | None = None) -> str:
    """An organisation's progress by branch, with each branch's top three, for the terminal;
    organisations by their display names where they have one. Of more than ``most`` branches
    (None: all), those with the most members behind pace, and a line for the rest: a subsidiary
    of 600 branches printed 600 lines (JSON has all)."""
    lines = [f"{progress.org_name or progress.org} {progress.day.isoformat()}：{progress.members} 名党员，"
             + _hours_text(progress.hours, progress.target, progress.untargeted, progress.untargeted_hours)
             + f"，落后进度 {progress.behind} 人"]
    branches = list(progress.branches)
    if most is not None and len(branches) > most:
        branches = sorted(branches, key=lambda b: -b.behind)[:most]
        lines.append(f"  共 {len(progress.branches)} 个支部，以下为落后进度人数最多的 {most} 个"
                     "（--branches 0 全部列出，--json 含全部）：")
    for b in branches:
        top = "，".join(f"{row['name']} {number_text(row['points'])}分" for row in b.leaderboard[:3])
        lines.append(f"  {b.org_name or b.org}：{b.members} 人，{_hours_text(b.hours, b.target, b.untargeted, b.untargeted_hours)}，落后 {b.behind} 人，"
                     f"积分 {number_text(b.points)}；积分榜：{top}")
    return "\n".join(lines)
