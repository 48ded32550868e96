"""The curriculum policy: roles, their hour targets and required topics, and the rules of a plan.

Everything here is configuration, not constants: the defaults follow the 2019 regulations on
party-member education (at least 32 hours a year for members), the national training plan (56
hours for branch secretaries and committee members) and the cadre training regulations (90 hours
for section-level cadres and below); an organisation edits them in a JSON file (see
:meth:`Curriculum.from_dict`), per role and per organisation.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from recsys.exceptions import ValidationError
from recsys.orgs import within
from recsys.records import SITUATIONS, Item, Member
from recsys.vocabulary import Vocabulary
from recsys.learning.rules import AlertRules, HourRules, MasteryRules, PointRules, parse_rules, rules_to_dict

__all__ = ["RolePolicy", "Curriculum", "MemberPolicy", "ROLE_NAMES"]

#: Chinese names of the built-in roles, for explanations.
ROLE_NAMES = {
    "member": "党员",
    "probationary": "预备党员",
    "branch_secretary": "支部书记",
    "committee_member": "支委委员",
    "party_worker": "党务工作者",
    "cadre": "领导干部",
    "frontline": "一线职工",
    "technical": "专业技术人员",
    "young": "青年党员",
    "retired": "离退休党员",
}


@dataclass(frozen=True)
class RolePolicy:
    """What a role must study in a year.

    Attributes:
        role: The role id.
        name: Its Chinese name, used in explanations.
        description: What the role is about; embedded to find content for members of that role
            who have no history yet.
        annual_hours: Hours of study a year; None for no target.
        required: Required topics and the share of the annual hours each should take.
    """

    role: str
    name: str
    description: str
    annual_hours: float | None = 32.0
    required: Mapping[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "annual_hours": self.annual_hours,
            "required": dict(self.required),
        }


_DEFAULT_ROLES = (
    RolePolicy("member", "党员", "党员日常学习：党的创新理论、党章党规党纪、党史和形势政策",
               32, {"党的创新理论": 0.25, "党章党规党纪": 0.15, "党史": 0.10, "形势政策": 0.10}),
    RolePolicy("probationary", "预备党员", "预备党员教育考察：党章、入党誓词、党的宗旨和党员义务",
               32, {"党章党规党纪": 0.30, "党的创新理论": 0.20, "党的宗旨": 0.15, "党史": 0.10}),
    RolePolicy("branch_secretary", "支部书记", "党支部书记：三会一课、主题党日、发展党员等党务工作和从严治党",
               56, {"党务工作": 0.25, "党的创新理论": 0.20, "党章党规党纪": 0.15, "廉洁从业": 0.10}),
    RolePolicy("committee_member", "支委委员", "党支部委员：组织生活、党员教育管理和支部建设",
               56, {"党务工作": 0.20, "党的创新理论": 0.20, "党章党规党纪": 0.15, "廉洁从业": 0.10}),
    RolePolicy("party_worker", "党务工作者", "党务工作者：党建业务、组织工作和党员管理",
               32, {"党务工作": 0.30, "党的创新理论": 0.20, "党章党规党纪": 0.15}),
    RolePolicy("cadre", "领导干部", "领导干部：理论武装、廉洁从业、国企改革和依法治企",
               90, {"党的创新理论": 0.25, "廉洁从业": 0.15, "国企改革": 0.10, "党章党规党纪": 0.10}),
    RolePolicy("frontline", "一线职工", "一线职工：安全生产、岗位技能和劳模精神",
               32, {"安全生产": 0.20, "党的创新理论": 0.15}),
    RolePolicy("technical", "专业技术人员", "专业技术人员：数字化转型、科技创新和保密",
               32, {"数字化转型": 0.10, "保密": 0.10, "党的创新理论": 0.15}),
    RolePolicy("young", "青年党员", "青年党员：理想信念、党史学习和青年成长",
               32, {"党史": 0.15, "党的创新理论": 0.20}),
    RolePolicy("retired", "离退休党员", "离退休党员：形势政策、党史和老党员作用发挥",
               None, {"形势政策": 0.20, "党史": 0.20}),
)


@dataclass(frozen=True)
class MemberPolicy:
    """The policy that applies to one member: the roles' rules merged.

    Attributes:
        annual_hours: The highest target of the member's roles; None if no role has one (and
            always None for infirm members, who have no hard requirements).
        required: For each required topic, its share and the role that requires it most (none
            for infirm members).
    """

    annual_hours: float | None
    required: Mapping[str, tuple[float, str]]

    def topic_target(self, topic: str) -> float:
        """Hours a year required in ``topic`` (0 if not required)."""
        if self.annual_hours is None or topic not in self.required:
            return 0.0
        return self.annual_hours * self.required[topic][0]


#: Merged member policies a curriculum keeps (kinds of member: roles x organisation x situation).
_MAX_POLICIES = 100_000


@dataclass(frozen=True)
class Curriculum:
    """The curriculum policy.

    Attributes:
        roles: Policies by role id.
        orgs: Per-organisation overrides: an org id (or prefix, ``hxny`` covering
            ``hxny.fdgs.zb-yunxing``) to a mapping of role id to :class:`RolePolicy`.
        cooldown_days: An item shown and not started does not come back for this many days.
        case_every_days: At least one case study this often (a mix rule).
        max_required_share: The required shares of a member's roles are scaled down to at most
            this total, leaving room for the member's own interests.
        birthday_keywords: Words in a title marking political-birthday content, which appears
            only in the week of a member's joining anniversary.
        situation_keywords: Words in a title marking content meant for members in a situation
            (``mobile``: 流动党员, ``infirm``: 年老体弱 ...): an item whose title names one and
            that targets no roles goes only to members in that situation. An item that targets
            roles is left to them (a guide for secretaries on managing mobile members is theirs).
        fresh_days: Half-life in days of the freshness of current-affairs topics.
        current_topics: Topics whose items age (current affairs); theory does not.
        mastery_feedback: Whether the quiz-based mastery estimate steers the lists (weak topics
            get more and easier items, mastered ones the next level) and missed quizzes come
            back for review. Off (the default), the estimate is still kept and reported, but
            lists ignore it: in the simulated season it improved no hidden outcome (completion
            rate, mastery gain, required-topic progress), see ``evaluation/RESULTS.md``.
        hours: How study hours are counted.
        points: How points are earned.
        mastery: The mastery estimate and review schedule.
        alerts: When party-affairs workers are alerted.
        go_live: When each organisation (or prefix, as in ``orgs``) started recording study
            here; before it nothing can be known, so no alert counts days of silence from
            before it and no themed party day is missed in its first month.
        vocabulary: The words accepted for codes in imported files (文章, 支部书记, 是 ...) and
            the topic families with their other names; see :mod:`recsys.vocabulary`.
    """

    roles: Mapping[str, RolePolicy] = field(default_factory=lambda: {r.role: r for r in _DEFAULT_ROLES})
    orgs: Mapping[str, Mapping[str, RolePolicy]] = field(default_factory=dict)
    cooldown_days: int = 14
    case_every_days: int = 7
    max_required_share: float = 0.8
    birthday_keywords: tuple[str, ...] = ("政治生日", "入党纪念日")
    situation_keywords: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: {
        "mobile": ("流动党员",), "infirm": ("年老体弱", "行动不便", "送学上门")})
    fresh_days: float = 30.0
    current_topics: tuple[str, ...] = ("形势政策",)
    mastery_feedback: bool = False
    hours: HourRules = field(default_factory=HourRules)
    points: PointRules = field(default_factory=PointRules)
    mastery: MasteryRules = field(default_factory=MasteryRules)
    alerts: AlertRules = field(default_factory=AlertRules)
    vocabulary: Vocabulary = field(default_factory=Vocabulary)
    go_live: Mapping[str, dt.date] = field(default_factory=dict)
    # Merged policies per kind of member (roles, organisation, situation: all a policy reads),
    # kept because a batch or a report asks once per member. Not an argument: a curriculum made
    # by ``replace`` starts its own.
    _policies: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def go_live_of(self, org: str) -> dt.date | None:
        """The go-live day of ``org`` (the longest matching prefix wins), or None if not set."""
        found = [(len(p), d) for p, d in self.go_live.items() if within(org, p)]
        return max(found)[1] if found else None

    def role(self, role: str, org: str | None = None) -> RolePolicy | None:
        """The policy of ``role`` in ``org`` (the longest matching org override wins)."""
        if org:
            best = None
            for prefix, roles in self.orgs.items():
                if within(org, prefix) and role in roles:
                    if best is None or len(prefix) > len(best[0]):
                        best = (prefix, roles[role])
            if best:
                return best[1]
        return self.roles.get(role)

    def query_texts(self) -> list[str]:
        """The texts planning embeds on the query side for any member: every role description
        (organisations' own included) and every required topic, each once, in a fixed order."""
        policies = [*self.roles.values(), *(p for roles in self.orgs.values() for p in roles.values())]
        texts = [p.description for p in policies if p.description]
        texts += [t for p in policies for t in p.required]
        return list(dict.fromkeys(texts))

    def role_name(self, role: str) -> str:
        policy = self.roles.get(role)
        return policy.name if policy else ROLE_NAMES.get(role, role)

    def for_member(self, member: Member) -> MemberPolicy:
        """Merge the policies of the member's roles: the highest target, each topic's largest share."""
        key = (member.roles, member.org, member.situation)
        found = self._policies.get(key)
        if found is None:
            if len(self._policies) >= _MAX_POLICIES:
                self._policies.clear()
            found = self._policies[key] = self._merged(member)
        return found

    def _merged(self, member: Member) -> MemberPolicy:
        policies = [p for p in (self.role(r, member.org) for r in member.roles) if p is not None]
        targets = [p.annual_hours for p in policies if p.annual_hours is not None]
        if member.situation == "infirm":
            # No hard study requirements (DOMAIN): neither hours nor required topics, which
            # coverage would otherwise count as 必修 with nothing they can reach.
            return MemberPolicy(None, {})
        hours = max(targets) if targets else None
        required: dict[str, tuple[float, str]] = {}
        for p in policies:
            for topic, share in p.required.items():
                if topic not in required or share > required[topic][0]:
                    required[topic] = (share, p.role)
        total = sum(s for s, _ in required.values())
        if total > self.max_required_share:
            scale = self.max_required_share / total
            required = {t: (s * scale, r) for t, (s, r) in required.items()}
        return MemberPolicy(hours, required)

    def known_roles(self) -> set[str]:
        """Role ids some rule of this curriculum applies to (built-in and organisations' own)."""
        return set(self.roles).union(*(roles.keys() for roles in self.orgs.values()))

    def known_topics(self) -> set[str]:
        """Topics the curriculum knows: the vocabulary's families, required and current-affairs topics."""
        required = (t for roles in (self.roles, *self.orgs.values()) for p in roles.values() for t in p.required)
        return {*self.vocabulary.topic_families, *required, *self.current_topics}

    def is_birthday_item(self, title: str) -> bool:
        return any(k in title for k in self.birthday_keywords)

    def item_situations(self, item: Item) -> frozenset[str]:
        """The situations an item is meant for by :attr:`situation_keywords` (empty: everyone)."""
        if item.roles:
            return frozenset()
        return frozenset(s for s, words in self.situation_keywords.items() if any(w in item.title for w in words))

    @staticmethod
    def in_birthday_week(member: Member, day: dt.date) -> bool:
        """Whether ``day`` is within three days of the member's joining anniversary."""
        if member.joined is None:
            return False
        for year in (day.year - 1, day.year, day.year + 1):
            try:
                anniversary = member.joined.replace(year=year)
            except ValueError:  # joined on 29 February
                anniversary = dt.date(year, 3, 1)
            if abs((anniversary - day).days) <= 3:
                return True
        return False

    # -- configuration files -------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "curriculum") -> Curriculum:
        """Build a curriculum from its JSON form; omitted settings keep their defaults.

        Example of the JSON form::

            {"cooldown_days": 14,
             "roles": {"member": {"annual_hours": 40, "required": {"党的创新理论": 0.3}}},
             "orgs": {"hxny": {"frontline": {"required": {"安全生产": 0.3}}}},
             "mastery_feedback": true,
             "hours": {"half_day_hours": 4, "online_daily_cap": 2},
             "points": {"actions": {"complete": 1, "attend": 3}, "daily_cap": 10, "deductions": {}},
             "mastery": {"review_days": [1, 3, 7, 14, 30]},
             "alerts": {"inactive_days": 30, "mobile_months": 6}}

        The ``hours``, ``points``, ``mastery`` and ``alerts`` sections are described in
        :mod:`recsys.learning.rules`.

        Raises:
            ValidationError: naming the setting that is wrong.
        """
        if not isinstance(data, Mapping):
            raise ValidationError("curriculum must be a JSON object", source=source)
        base = cls()
        known = {"roles", "orgs", "cooldown_days", "case_every_days", "max_required_share",
                 "birthday_keywords", "situation_keywords", "fresh_days", "current_topics",
                 "mastery_feedback", "vocabulary", "go_live", *_RULES}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValidationError(f"unknown setting(s) {unknown}", source=source, field=unknown[0])
        roles = dict(base.roles)
        roles.update(_roles(data.get("roles", {}), base.roles, source, "roles"))
        orgs = {
            org: _roles(over, roles, source, f"orgs.{org}")
            for org, over in _mapping(data.get("orgs", {}), source, "orgs").items()
        }
        out = replace(base, roles=roles, orgs=orgs,
                      vocabulary=_vocabulary(data.get("vocabulary", {}), roles, orgs, source))
        for name in ("cooldown_days", "case_every_days"):
            if name in data:
                value = data[name]
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise ValidationError(f"{name} must be a whole number of days, got {value!r}", source=source, field=name)
                out = replace(out, **{name: value})
        for name in ("max_required_share", "fresh_days"):
            if name in data:
                value = data[name]
                if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                    raise ValidationError(f"{name} must be a positive number, got {value!r}", source=source, field=name)
                out = replace(out, **{name: float(value)})
        for name in ("birthday_keywords", "current_topics"):
            if name in data:
                value = data[name]
                if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                    raise ValidationError(f"{name} must be a list of text", source=source, field=name)
                out = replace(out, **{name: tuple(value)})
        if "situation_keywords" in data:
            value = _mapping(data["situation_keywords"], source, "situation_keywords")
            for situation, words in value.items():
                if situation not in SITUATIONS or situation == "regular":
                    raise ValidationError(f"situation_keywords: {situation!r} is not one of mobile, infirm",
                                          source=source, field="situation_keywords")
                if not isinstance(words, list) or not all(isinstance(w, str) and w for w in words):
                    raise ValidationError(f"situation_keywords.{situation} must be a list of text",
                                          source=source, field="situation_keywords")
            out = replace(out, situation_keywords={k: tuple(v) for k, v in value.items()})
        if "mastery_feedback" in data:
            if not isinstance(data["mastery_feedback"], bool):
                raise ValidationError(f"mastery_feedback must be true or false, got {data['mastery_feedback']!r}",
                                      source=source, field="mastery_feedback")
            out = replace(out, mastery_feedback=data["mastery_feedback"])
        if "go_live" in data:
            out = replace(out, go_live=_go_live(data["go_live"], source))
        for name, cls_ in _RULES.items():
            if name in data:
                out = replace(out, **{name: parse_rules(cls_, data[name], source=source, where=name)})
        return out

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Curriculum:
        """Read a curriculum JSON file."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ValidationError("file not found", source=str(path)) from None
        except json.JSONDecodeError as exc:
            raise ValidationError(f"invalid JSON: {exc.msg}", source=str(path), line=exc.lineno) from None
        return cls.from_dict(data, source=str(path))

    def to_dict(self) -> dict[str, Any]:
        return {
            "roles": {r: p.to_dict() for r, p in self.roles.items()},
            "orgs": {o: {r: p.to_dict() for r, p in roles.items()} for o, roles in self.orgs.items()},
            "cooldown_days": self.cooldown_days,
            "case_every_days": self.case_every_days,
            "max_required_share": self.max_required_share,
            "birthday_keywords": list(self.birthday_keywords),
            "situation_keywords": {k: list(v) for k, v in self.situation_keywords.items()},
            "fresh_days": self.fresh_days,
            "current_topics": list(self.current_topics),
            "mastery_feedback": self.mastery_feedback,
            "vocabulary": self.vocabulary.to_dict(),
            "go_live": {org: day.isoformat() for org, day in self.go_live.items()},
            **{name: rules_to_dict(getattr(self, name)) for name in _RULES},
        }


#: The rule sections of the JSON form, by name.
_RULES = {"hours": HourRules, "points": PointRules, "mastery": MasteryRules, "alerts": AlertRules}


def _mapping(value: Any, source: str, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValidationError(f"{where} must be a JSON object", source=source, field=where)
    return value


def _go_live(data: Any, source: str) -> dict[str, dt.date]:
    out = {}
    for org, day in _mapping(data, source, "go_live").items():
        try:
            out[org] = dt.date.fromisoformat(day)
        except (TypeError, ValueError):
            raise ValidationError(f"go_live of {org!r} must be a date like 2026-11-01, got {day!r}",
                                  source=source, field=f"go_live.{org}") from None
    return out


def _vocabulary(data: Any, roles: Mapping[str, RolePolicy], orgs: Mapping[str, Mapping[str, RolePolicy]],
                source: str) -> Vocabulary:
    """The default words, the Chinese names of every role the curriculum defines, then the file's words."""
    policies = [*roles.values(), *(p for over in orgs.values() for p in over.values())]
    ids = {p.role for p in policies}
    named = Vocabulary().extended({"roles": {p.name: p.role for p in policies}}, roles=ids, source=source)
    return named.extended(data, roles=ids, source=source)


def _roles(data: Any, base: Mapping[str, RolePolicy], source: str, where: str) -> dict[str, RolePolicy]:
    out = {}
    for role, spec in _mapping(data, source, where).items():
        spec = _mapping(spec, source, f"{where}.{role}")
        unknown = sorted(set(spec) - {"name", "description", "annual_hours", "required"})
        if unknown:
            raise ValidationError(f"unknown setting(s) {unknown}", source=source, field=f"{where}.{role}.{unknown[0]}")
        old = base.get(role) or RolePolicy(role, ROLE_NAMES.get(role, role), ROLE_NAMES.get(role, role), 32.0, {})
        hours = spec.get("annual_hours", old.annual_hours)
        if hours is not None and (isinstance(hours, bool) or not isinstance(hours, (int, float)) or hours < 0):
            raise ValidationError(f"annual_hours must be a number of hours or null, got {hours!r}",
                                  source=source, field=f"{where}.{role}.annual_hours")
        required = spec.get("required", old.required)
        required = _mapping(required, source, f"{where}.{role}.required")
        for topic, share in required.items():
            if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 < share <= 1:
                raise ValidationError(f"the share of {topic!r} must be between 0 and 1, got {share!r}",
                                      source=source, field=f"{where}.{role}.required")
        if sum(required.values()) > 1 + 1e-9:
            raise ValidationError("required shares add up to more than 1", source=source, field=f"{where}.{role}.required")
        out[role] = RolePolicy(
            role=role,
            name=spec.get("name", old.name),
            description=spec.get("description", old.description),
            annual_hours=None if hours is None else float(hours),
            required={t: float(s) for t, s in required.items()},
        )
    return out
