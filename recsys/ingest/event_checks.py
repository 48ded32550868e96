"""What in valid events is probably a mistake once the store is read: attendance dated before its
activity, enrolments the enrolment route would refuse (:func:`recsys.pipeline.rules.enrolment_refusal`),
and enrolments past an activity's seats.

A file of events is valid row by row (:mod:`recsys.ingest.loaders`); these need the catalogue
and what members did before, so the command line and the HTTP service ask them of the store
before writing, and give them as warnings (errors with ``--strict``/``strict=true``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from recsys.curriculum import Curriculum
from recsys.ingest.loaders import InputWarning
from recsys.pipeline.explain import book_title
from recsys.pipeline.rules import enrolment_refusal
from recsys.records import TZ, Event, Item
from recsys.storage.base import Store

__all__ = ["event_warnings"]


def event_warnings(events: Sequence[Event], lines: Sequence[int], *, items: Mapping[str, Item], store: Store,
                   curriculum: Curriculum, source: str | None = None) -> list[InputWarning]:
    """Warnings about ``events`` (at ``lines`` of ``source``) given the catalogue's ``items``, the
    members and their records in ``store`` and the ``curriculum``, in line order."""
    found = (_early(events, lines, items, source) + _unfit(events, lines, items, store, curriculum, source)
             + _past_capacity(events, lines, items, store, source))
    return sorted(found, key=lambda w: w.line or 0)


def _unfit(events: Sequence[Event], lines: Sequence[int], items: Mapping[str, Item], store: Store,
           curriculum: Curriculum, source: str | None) -> list[InputWarning]:
    """Enrolments an organiser would not have taken through the service (:meth:`recsys.Engine.enroll`
    refuses them, by :func:`~recsys.pipeline.rules.enrolment_refusal`): in an online item, in an
    activity already over, in another city or not for the member (roles, situation), by a member
    who does not attend offline activities; and an enrolment's value that is neither 1
    (enrolled) nor 0 (withdrawn)."""
    signing = [(e, line) for e, line in zip(events, lines) if e.kind == "enroll"]
    if not signing:
        return []
    members = store.get_members(sorted({e.member for e, _ in signing}))
    found = []
    for e, line in signing:
        item, member = items.get(e.item), members.get(e.member)
        where = {"source": source, "line": line}
        if e.value not in (None, 0, 1):
            found.append(InputWarning(f"报名记录的值 {e.value:g} 既不是 1（报名）也不是 0（取消报名），将按报名计",
                                      field="value", **where))
        if e.value == 0 or item is None or member is None:
            continue
        reason = enrolment_refusal(item, member, e.at, curriculum)
        said = {
            "online": lambda: f"{book_title(item.title)}是线上内容，不需要报名：这条报名记录不起作用",
            "over": lambda: f"报名时间 {e.at.astimezone(TZ):%Y-%m-%d %H:%M} 晚于活动结束时间 "
                            f"{item.schedule.ends.astimezone(TZ):%Y-%m-%d %H:%M}，请核对日期",
            "begun": lambda: f"报名时间 {e.at.astimezone(TZ):%Y-%m-%d %H:%M} 晚于活动首日 {item.schedule.days[0]:%Y-%m-%d}："
                             "多日活动须在首日前报名，请核对日期",
            "offline": lambda: f"{member.name}不参加线下活动（能否参加线下活动：否），报名后清单也不会安排这项活动",
            "location": lambda: f"{book_title(item.title)}在{item.schedule.city}举行，{member.name}所在城市是"
                                f"{member.location}，清单不会安排这项活动（如已调动，请先更新所在城市）",
            "role": lambda: f"{book_title(item.title)}面向{'、'.join(curriculum.role_name(r) for r in item.roles)}，"
                            f"{member.name}不在其中，清单不会安排这项活动",
            "situation": lambda: f"{book_title(item.title)}面向"
                                 f"{'、'.join(_situation_name(curriculum, k) for k in sorted(curriculum.item_situations(item)))}，"
                                 f"{member.name}不在其中，清单不会安排这项活动",
        }.get(reason)
        if said is not None:
            found.append(InputWarning(said(), field={"over": "at", "begun": "at", "online": "item"}.get(reason, "member"),
                                      kind=f"enrolment {reason}", **where))
    return found


def _early(events: Sequence[Event], lines: Sequence[int], items: Mapping[str, Item],
           source: str | None) -> list[InputWarning]:
    """An activity attended (or completed) on a day before it was held: a slip in the date of an
    export, which would credit its hours to the wrong month, or year."""
    found = []
    for e, line in zip(events, lines):
        it = items.get(e.item)
        if (e.kind in ("attend", "complete") and it is not None and it.schedule is not None
                and e.at.astimezone(TZ).date() < (starts := it.schedule.starts.astimezone(TZ)).date()):
            found.append(InputWarning(
                f"参加时间 {e.at.astimezone(TZ):%Y-%m-%d %H:%M} 早于活动开始时间 {starts:%Y-%m-%d %H:%M}，"
                "学时会记在这一天，请核对日期", source=source, line=line, field="at"))
    return found


def _past_capacity(events: Sequence[Event], lines: Sequence[int], items: Mapping[str, Item], store: Store,
                   source: str | None) -> list[InputWarning]:
    """Activities that would hold more enrolled members than their seats once ``events`` are
    written: an export of a sign-up sheet kept open past the limit, or an activity's capacity
    entered too low. Written, every one enrolled keeps the activity on the day's list (a seat
    taken is never taken back) and nobody else is offered it; said here, where the organiser can
    still choose. One warning per activity, at the file's first enrolment past the seats (in the
    order of time, with the members' enrolments recorded before)."""
    limited = {e.item for e in events if e.kind == "enroll" and (it := items.get(e.item)) is not None
               and it.schedule is not None and it.schedule.capacity is not None}
    if not limited:
        return []
    ours = [(e, line) for e, line in zip(events, lines) if e.kind == "enroll" and e.item in limited]
    members = sorted({e.member for e, _ in ours})
    recorded: dict[str, list[Event]] = {}  # activity -> the file's members' enrolment events, as recorded
    for member, history in store.histories(members).items():
        for e in history.events:
            if e.kind == "enroll" and e.item in limited:
                recorded.setdefault(e.item, []).append(e)
    taken = store.enrolments(sorted(limited))
    found = []
    for item in sorted(limited, key=lambda i: next(line for e, line in ours if e.item == i)):
        capacity = items[item].schedule.capacity
        before = recorded.get(item, [])
        known = {e.id for e in before}
        # The seats of members the file does not name stay taken. The file's members' enrolments,
        # recorded and new, are replayed in the order of time (a new one after a recorded one at
        # the same instant: it is recorded later), as the store will count them.
        timeline = sorted([(e.at, 0, n, e, None) for n, e in enumerate(before)]
                          + [(e.at, 1, n, e, line) for n, (e, line) in enumerate(ours)
                             if e.item == item and e.id not in known], key=lambda t: t[:3])
        others = taken.get(item, 0) - len(_seated(before))
        seated: set[str] = set()
        over_at = None
        for *_, e, line in timeline:
            (seated.discard if e.value == 0 else seated.add)(e.member)
            if over_at is None and line is not None and others + len(seated) > capacity:
                over_at = line
        final = others + len(seated)
        if final > capacity:
            found.append(InputWarning(
                f"活动{book_title(items[item].title)}（{item}）限 {capacity} 人，本次导入后报名 {final} 人，"
                f"超出 {final - capacity} 人：已报名的党员都会在活动当天的学习清单中看到它，请核对报名名单，"
                "或在内容库中调整名额", source=source, field="item",
                line=over_at if over_at is not None else next(line for e, line in ours if e.item == item)))
    return found


def _seated(events: Sequence[Event]) -> set[str]:
    """The members holding a seat after ``events`` (enrolments in one activity, in time order):
    those whose latest is not a withdrawal (value 0)."""
    seated: set[str] = set()
    for e in events:
        (seated.discard if e.value == 0 else seated.add)(e.member)
    return seated


def _situation_name(curriculum: Curriculum, situation: str) -> str:
    """A situation as a party-affairs worker says it: 流动党员, 年老体弱党员."""
    word = (curriculum.situation_keywords.get(situation) or (situation,))[0]
    return word + "党员" if situation == "infirm" else word
