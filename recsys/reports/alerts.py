"""Alerts for party-affairs workers: who is falling behind, who has gone quiet, which branch has
not held its themed party day.

Four kinds (thresholds in :class:`~recsys.learning.rules.AlertRules` and the hours rules):

- ``behind_pace``: a member with an hour target more than the tolerated share behind an even pace
  (not in the first month of the year, when a few days of pace say nothing yet);
- ``inactive``: a member with no study activity (any event but an impression) for 30 days;
- ``mobile_no_contact``: a mobile member (流动党员) with no activity at all for six months, the
  regulations' threshold;
- ``no_themed_day``: a branch none of whose members attended a themed party day (主题党日) this
  month, and none ahead this month: neither one a member enrolled in nor the branch's own
  scheduled (early in the month the day is usually still to come).

Opening balances (:mod:`recsys.credits`) count toward the pace. An organisation's go-live day
(``Curriculum.go_live``) is where its records begin: before it no alert fires, silence is
counted from it, not from before it, and the month it went live in (after its first day) is not
held against a branch without a themed party day. A member with no record at all is said to have
none (尚无学习记录; 除期初学时外 where an opening balance holds earlier hours), never to have been
silent for a number of days nobody saw.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from recsys.credits import OPENING_KIND, OpeningBalance
from recsys.curriculum import Curriculum
from recsys.learning.ledger import build_ledger
from recsys.pipeline.explain import hours_text, number_text
from recsys.pipeline.profile import build_history
from recsys.orgs import display_org
from recsys.records import TZ, Event, Item, Member
from recsys.reports.progress import with_balances

__all__ = ["Alert", "ALERT_KINDS", "find_alerts", "format_alerts", "months_before"]

ALERT_KINDS = ("behind_pace", "inactive", "mobile_no_contact", "no_themed_day")


@dataclass(frozen=True)
class Alert:
    """One alert.

    Attributes:
        kind: One of :data:`ALERT_KINDS`.
        org: The organisation concerned (the member's branch, or the branch itself).
        org_name: Its display name (its code if it has none).
        member: The member id, or None for a branch alert.
        message: What is wrong, in Chinese.
        last_active: The member's last activity day, if relevant and known.
        hours_behind: For ``behind_pace``: hours behind an even pace.
    """

    kind: str
    org: str
    member: str | None
    message: str
    last_active: dt.date | None = None
    hours_behind: float | None = None
    org_name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "org": self.org, "org_name": self.org_name or self.org, "member": self.member,
                "message": self.message,
                "last_active": self.last_active.isoformat() if self.last_active else None,
                "hours_behind": None if self.hours_behind is None else round(self.hours_behind, 2)}


#: What each kind of alert is called where a terminal sums up the ones it leaves out.
_KIND_NAMES = {"behind_pace": "学时进度落后", "inactive": "长期未学习", "mobile_no_contact": "流动党员失去联系",
               "no_themed_day": "本月未开展主题党日"}


def format_alerts(alerts: Sequence[Alert], most: int | None = 20) -> list[str]:
    """The alerts as terminal lines, kind by kind, the most urgent first (furthest behind pace,
    longest quiet), at most ``most`` of each kind (None: all) and a line for the rest: an
    enterprise of 20,000 members has thousands, which a terminal does not read (JSON has all).
    A member's alert ends with their id and branch."""
    urgency = {
        "behind_pace": lambda a: (-(a.hours_behind or 0.0), a.org, a.member or ""),
        "inactive": lambda a: (a.last_active or dt.date.min, a.org, a.member or ""),
        "mobile_no_contact": lambda a: (a.last_active or dt.date.min, a.org, a.member or ""),
    }
    lines = []
    for kind in ALERT_KINDS:
        found = [a for a in alerts if a.kind == kind]
        if kind in urgency:
            found.sort(key=urgency[kind])
        shown = found if most is None else found[:most]
        # A member by id and branch too: a unit of 30,000 has many 王伟, and names alone do not
        # say whom to call.
        lines += [f"⚠ {a.message}" + (f"｜编号 {a.member}，{a.org_name or a.org}" if a.member else "") for a in shown]
        if len(found) > len(shown):
            lines.append(f"⚠ ……另有 {len(found) - len(shown)} 条“{_KIND_NAMES[kind]}”提醒未列出"
                         f"（共 {len(found)} 条，--alerts 0 全部列出）")
    return lines


def months_before(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` calendar months earlier (the month's last day where it is shorter)."""
    total = day.year * 12 + day.month - 1 - months
    year, month = divmod(total, 12)
    month += 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def find_alerts(
    members: Sequence[Member],
    events: Mapping[str, Sequence[Event]],
    items: Mapping[str, Item],
    curriculum: Curriculum,
    day: dt.date,
    balances: Mapping[str, Sequence[OpeningBalance]] | None = None,
    org_names: Mapping[str, str] | None = None,
) -> list[Alert]:
    """Alerts on ``day`` (events up to its end) for these members and their branches.

    Args:
        members: The members in scope; their branches are the distinct ``org`` values.
        events: Each member's events in time order, by member id (missing: none).
        items: The catalogue.
        curriculum: Targets, thresholds and go-live days.
        day: The day.
        balances: Each member's opening balances, by member id.
        org_names: Display names of organisations, by code: alerts say 运行党支部, not its code.

    Returns:
        Member alerts by member id and kind, then branch alerts by branch.
    """
    rules = curriculum.alerts
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), TZ)
    month_start = dt.datetime.combine(day.replace(day=1), dt.time(), TZ)
    out: list[Alert] = []
    themed: set[str] = set()
    live: set[str] = set()
    for m in sorted(members, key=lambda m: m.id):
        go_live = curriculum.go_live_of(m.org)
        if go_live is not None and day < go_live:
            continue  # nothing is known before records began
        if go_live is None or go_live <= day.replace(day=1):
            live.add(m.org)  # recorded for the whole month: a missing themed day is real
        history = [e for e in events.get(m.id, ()) if e.at < end]
        active = [e for e in history if e.kind != "impression"]
        last = active[-1].at.astimezone(TZ).date() if active else None
        if any(e.kind == "attend" and e.at >= month_start and _is_themed_day(items.get(e.item), rules.themed_day_keywords)
               for e in history):
            themed.add(m.org)
        # Held later this month, members signed up (and not withdrawn since).
        if any(_themed_ahead(items.get(i), rules.themed_day_keywords, day)
               for i in build_history(history, day, interest=False).enrolled):
            themed.add(m.org)
        ledger = with_balances(build_ledger(m, history, items, curriculum, day), (balances or {}).get(m.id, ()))
        in_grace = day.timetuple().tm_yday <= rules.pace_grace_days
        if ledger.status == "behind" and not in_grace:
            out.append(Alert("behind_pace", m.org, m.id,
                             f"{m.name}学时进度落后：已学 {hours_text(ledger.total)} 学时，按进度应达 {hours_text(ledger.expected)} 学时"
                             f"（年度目标 {number_text(ledger.target)} 学时）", last, -ledger.pace))
        # Silence is counted from the last activity, or from go-live if that came later.
        since = max(d for d in (last, go_live) if d is not None) if (last or go_live) else None
        if since is None:
            # Hours brought in from a ledger are a record, only not one of this system's.
            before = "除期初学时外" if any(e.kind == OPENING_KIND for e in ledger.entries) else ""
            out.append(Alert("inactive", m.org, m.id, f"{m.name}{before}尚无学习记录", last))
        elif (day - since).days >= rules.inactive_days:
            start = f"自{last.isoformat()}起" if since == last else f"自上线（{go_live.isoformat()}）以来尚无学习记录，"
            out.append(Alert("inactive", m.org, m.id, f"{m.name}{start}已超过 {rules.inactive_days} 天没有学习", last))
        if m.situation == "mobile" and (since is None or since <= months_before(day, rules.mobile_months)):
            out.append(Alert("mobile_no_contact", m.org, m.id,
                             f"流动党员{m.name}" + ("尚无联系记录" if since is None else
                                                  f"已超过 {rules.mobile_months} 个月没有联系") + "，请及时联系", last))
    names = org_names or {}
    missing = live - themed
    # The branch's own themed day scheduled later this month, whoever has signed up yet.
    themed.update(it.org for it in items.values()
                  if it.org in missing and _themed_ahead(it, rules.themed_day_keywords, day))
    for branch in sorted(live - themed):
        out.append(Alert("no_themed_day", branch, None,
                         f"{display_org(branch, names)}本月（{day.month}月）尚未开展主题党日活动"))
    return [replace(a, org_name=display_org(a.org, names)) for a in out]


def _is_themed_day(item: Item | None, keywords: Sequence[str]) -> bool:
    return item is not None and item.mode == "offline" and any(k in item.title for k in keywords)


def _themed_ahead(item: Item | None, keywords: Sequence[str], day: dt.date) -> bool:
    """A themed party day that starts on ``day`` or later in its month."""
    if not _is_themed_day(item, keywords) or item.schedule is None:
        return False
    starts = item.schedule.starts.astimezone(TZ).date()
    return day <= starts and (starts.year, starts.month) == (day.year, day.month)
