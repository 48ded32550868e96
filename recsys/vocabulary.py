"""The words people use for the engine's codes, in one place.

Exports from a portal, an HR system or an editor's spreadsheet say 文章 where a record says
``article``, 支部书记 for ``branch_secretary``, 是 for ``true`` and 习近平新时代中国特色社会主义思想
for the topic family 党的创新理论. A :class:`Vocabulary` maps those words to the codes. The
defaults below cover the contract's codes and the topic families of the 2019 regulations; an
organisation adds its own words in the ``vocabulary`` section of ``curriculum.json`` (see
:meth:`Vocabulary.extended`), and the Chinese name of every role in the curriculum counts too.

Matching ignores case and surrounding spaces. A code always stands for itself.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from recsys.exceptions import ValidationError
from recsys.records import EVENT_KINDS, ITEM_KINDS, MODES, ROLES, SITUATIONS, Event, Item, Member

__all__ = ["Vocabulary", "TERMS", "header_key"]

#: The sections of the vocabulary: what each maps to, and the words it knows by default.
TERMS = ("kinds", "event_kinds", "modes", "roles", "situations", "levels", "yes_no", "topics", "columns")

_KINDS = {
    "讲座": "lecture", "在线讲座": "lecture", "微党课": "lecture", "党课": "lecture",
    "视频": "video", "视频课程": "video", "微视频": "video",
    "文章": "article", "理论文章": "article", "图文": "article",
    "案例": "case", "案例分析": "case", "典型案例": "case", "警示案例": "case",
    "答题": "quiz", "测试": "quiz", "测验": "quiz", "知识答题": "quiz",
    "讨论": "discussion", "线上讨论": "discussion", "互动问答": "discussion",
    "活动": "activity", "线下活动": "activity",
}
_EVENT_KINDS = {
    "推送": "impression", "展示": "impression", "开始": "start", "开始学习": "start",
    "进度": "progress", "学习进度": "progress", "完成": "complete", "已完成": "complete", "学完": "complete",
    "跳过": "skip", "不感兴趣": "dislike", "评分": "rate", "答题": "quiz",
    "参加": "attend", "出席": "attend", "签到": "attend", "报名": "enroll",
}
_MODES = {"线上": "online", "在线": "online", "线下": "offline"}
_ROLES = {
    "党员": "member", "普通党员": "member", "正式党员": "member", "中共党员": "member",
    "预备党员": "probationary",
    "支部书记": "branch_secretary", "党支部书记": "branch_secretary", "书记": "branch_secretary",
    "支委委员": "committee_member", "支委": "committee_member", "支部委员": "committee_member",
    # 党内职务 as the member-information system writes the branch committee's posts.
    "党支部副书记": "committee_member", "支部副书记": "committee_member", "副书记": "committee_member",
    "组织委员": "committee_member", "宣传委员": "committee_member", "纪检委员": "committee_member",
    "青年委员": "committee_member", "统战委员": "committee_member", "保密委员": "committee_member",
    "党务工作者": "party_worker", "党务干部": "party_worker",
    "领导干部": "cadre", "干部": "cadre", "管理人员": "cadre",
    "一线职工": "frontline", "一线员工": "frontline", "一线工人": "frontline",
    "专业技术人员": "technical", "技术人员": "technical",
    "青年党员": "young", "离退休党员": "retired", "退休党员": "retired", "离退休": "retired",
}
_SITUATIONS = {
    "正常": "regular", "在岗": "regular",
    "流动党员": "mobile", "流动": "mobile",
    "年老体弱": "infirm", "年老体弱党员": "infirm", "体弱": "infirm", "患病": "infirm", "行动不便": "infirm",
}
_LEVELS = {"初级": 1, "入门": 1, "基础": 1, "中级": 2, "进阶": 2, "提高": 2, "高级": 3, "深入": 3}
_YES_NO = {
    "是": True, "否": False, "能": True, "不能": False, "可以": True, "不可以": False,
    "有": True, "无": False, "true": True, "false": False, "yes": True, "no": False,
    "y": True, "n": False, "1": True, "0": False, "√": True, "×": False,
}
#: Topic families (arts. 9-15 of the 2019 regulations, and an SOE's job knowledge) and the other
#: names they go by in exports. A synonym counts toward its family's hours and targets.
_TOPICS = {
    "党的创新理论": ["习近平新时代中国特色社会主义思想", "新思想", "创新理论", "理论学习"],
    "政治教育": ["党性教育", "理想信念教育", "政治理论"],
    "党章党规党纪": ["党章", "党规", "党纪", "党章党规", "党纪学习教育", "纪律教育"],
    "宪法法律": ["宪法", "法律", "法治", "法治教育", "普法"],
    "党的宗旨": ["宗旨教育", "全心全意为人民服务", "群众路线"],
    "党史": ["中共党史", "党史学习教育", "革命传统", "革命传统教育"],
    "新中国史": ["国史", "中华人民共和国史"],
    "改革开放史": [],
    "社会主义发展史": [],
    "传统文化": ["中华优秀传统文化"],
    "形势政策": ["形势与政策", "时事政治", "形势政策教育"],
    "安全生产": ["生产安全", "安全教育"],
    "国企改革": ["国有企业改革", "国企改革深化提升行动"],
    "数字化转型": ["数字化", "数智化转型"],
    "廉洁从业": ["廉洁", "廉政", "廉洁教育", "党风廉政建设", "警示教育"],
    "保密": ["保密教育", "保密工作"],
    "党务工作": ["党务", "党建", "党建工作", "基层党建", "三会一课"],
    "志愿服务": ["志愿者服务", "学雷锋"],
}


#: Column headers of Chinese exports and the fields they hold. Only headers that mean one field
#: whatever the record are here (内容 is an item's body but an event's item, so it is not).
_COLUMNS = {
    "编号": "id", "标题": "title", "名称": "title", "课程名称": "title", "正文": "body", "简介": "body",
    "类型": "kind", "内容类型": "kind", "形式": "mode", "学习形式": "mode", "时长": "minutes", "时长（分钟）": "minutes",
    "学习时长": "minutes", "主题": "topics", "专题": "topics", "面向对象": "roles", "适用对象": "roles",
    "难度": "level", "层级": "level", "发布日期": "published", "发布时间": "published", "截止日期": "expires",
    "下架日期": "expires", "有效期至": "expires", "失效日期": "expires", "到期日期": "expires", "前置内容": "requires", "开始时间": "starts", "结束时间": "ends", "地点": "location",
    "活动地点": "location", "名额": "capacity", "人数上限": "capacity", "所属组织": "org", "所在支部": "org",
    "姓名": "name", "身份": "roles", "角色": "roles", "兴趣": "interests", "关注主题": "interests",
    "能否参加线下活动": "offline", "可参加线下活动": "offline", "所在城市": "location", "所在地": "location",
    "每日学习时间": "daily_minutes", "每日学习分钟": "daily_minutes", "每日学习时长": "daily_minutes",
    "入党日期": "joined", "入党时间": "joined", "所在党支部": "org", "所在党组织": "org", "党支部": "org",
    "党内职务": "posts", "完成时间": "at", "完成日期": "at",
    "党员类别": "situation", "人员类别": "situation", "党员编号": "member", "内容编号": "item", "得分": "value",
    "评分值": "value", "发生时间": "at", "年度": "year", "学时": "hours", "备注": "note",
    "链接": "url", "网址": "url", "内容链接": "url", "课程链接": "url", "学习链接": "url", "访问地址": "url",
}


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType({_key(k): v for k, v in mapping.items()})


def _key(word: str) -> str:
    return word.strip().casefold()


def header_key(word: str) -> str:
    """A column header as compared: compatibility forms folded (full-width to half-width), no
    whitespace, case folded (``姓　名``, ``时长（分钟）`` and ``入党\\n日期`` as forms lay them out)."""
    return "".join(unicodedata.normalize("NFKC", word).split()).casefold()


def _topic_words(families: Mapping[str, Iterable[str]]) -> dict[str, str]:
    words = {}
    for family, synonyms in families.items():
        words[family] = family
        words.update((s, family) for s in synonyms)
    return words


@dataclass(frozen=True)
class Vocabulary:
    """Words for codes, by kind of code.

    Attributes:
        kinds: Item kinds (文章 → ``article``).
        event_kinds: Event kinds (完成 → ``complete``).
        modes: 线上 → ``online``, 线下 → ``offline``.
        roles: Role names (支部书记 → ``branch_secretary``).
        situations: 流动党员 → ``mobile``, 年老体弱 → ``infirm``.
        levels: 初级 → 1, 中级 → 2, 高级 → 3.
        yes_no: 是 → true, 否 → false.
        topics: Any name of a topic family → the family (习近平新时代中国特色社会主义思想 → 党的创新理论).
        topic_families: The families themselves, the topics every curriculum knows.
        columns: Column headers of exports → field names (标题 → ``title``, 入党日期 → ``joined``).
    """

    kinds: Mapping[str, str] = field(default_factory=lambda: _frozen(_KINDS))
    event_kinds: Mapping[str, str] = field(default_factory=lambda: _frozen(_EVENT_KINDS))
    modes: Mapping[str, str] = field(default_factory=lambda: _frozen(_MODES))
    roles: Mapping[str, str] = field(default_factory=lambda: _frozen(_ROLES))
    situations: Mapping[str, str] = field(default_factory=lambda: _frozen(_SITUATIONS))
    levels: Mapping[str, int] = field(default_factory=lambda: _frozen(_LEVELS))
    yes_no: Mapping[str, bool] = field(default_factory=lambda: _frozen(_YES_NO))
    topics: Mapping[str, str] = field(default_factory=lambda: _frozen(_topic_words(_TOPICS)))
    topic_families: tuple[str, ...] = tuple(_TOPICS)
    columns: Mapping[str, str] = field(default_factory=lambda: _frozen(_COLUMNS))

    def column(self, header: str) -> str:
        """The field a column header names (a field name names itself; unknown headers stay as written).

        Headers are compared as forms lay them out or not: full-width or half-width brackets,
        spaces between the characters (姓　名) and line breaks in a cell (入党\\n日期) do not count.
        """
        found = self.code("columns", header)
        if found is None:
            loose = header_key(header)
            found = next((field for word, field in self.columns.items() if header_key(word) == loose), None)
            if found is None and loose in _CODES["columns"]:
                found = loose
        return header.strip() if found is None else found

    def code(self, term: str, word: str) -> Any:
        """The code ``word`` stands for in section ``term`` (a code stands for itself), or None."""
        key = _key(word)
        if term == "topics":
            return self.topics.get(key, word.strip())
        found = getattr(self, term).get(key)
        if found is not None:
            return found
        codes = _CODES.get(term, ())
        return key if key in codes else None

    def codes(self, term: str) -> tuple[Any, ...]:
        """The codes of section ``term`` (the roles: the built-in ones)."""
        return _CODES[term]

    def names(self, term: str, code: Any) -> list[str]:
        """The words that stand for ``code`` in section ``term`` (for messages saying what is accepted)."""
        return [w for w, c in getattr(self, term).items() if c == code]

    def extended(self, data: Mapping[str, Any], *, roles: Iterable[str] = (), source: str = "curriculum") -> Vocabulary:
        """A copy with the words of a ``vocabulary`` section added (they win over the defaults).

        The section's form::

            {"kinds": {"微课": "video"}, "roles": {"车间主任": "cadre"}, "yes_no": {"可": true},
             "topics": {"安全生产": ["安全环保", "HSE"]}, "columns": {"课件名称": "title"}}

        Args:
            data: The section.
            roles: Role ids the curriculum defines beyond the built-in ones (organisations may
                add their own): words may map to them too.
            source: Where the section came from, for error messages.

        Raises:
            ValidationError: an unknown section, a word for an unknown code, a malformed value.
        """
        if not isinstance(data, Mapping):
            raise ValidationError("vocabulary must be a JSON object", source=source, field="vocabulary")
        unknown = sorted(set(data) - set(TERMS))
        if unknown:
            raise ValidationError(f"unknown vocabulary section(s) {unknown}; use {', '.join(TERMS)}",
                                  source=source, field=f"vocabulary.{unknown[0]}")
        changes: dict[str, Any] = {}
        for term, words in data.items():
            where = f"vocabulary.{term}"
            if not isinstance(words, Mapping):
                raise ValidationError(f"{where} must be a JSON object", source=source, field=where)
            if term == "topics":
                added = {}
                for family, synonyms in words.items():
                    if not isinstance(synonyms, list) or not all(isinstance(s, str) and s.strip() for s in synonyms):
                        raise ValidationError(f"{where}.{family} must be a list of names of the topic",
                                              source=source, field=f"{where}.{family}")
                    added.update(_topic_words({family: synonyms}))
                changes["topics"] = _frozen({**self.topics, **added})
                changes["topic_families"] = tuple(dict.fromkeys([*self.topic_families, *words]))
                continue
            codes = _CODES[term] + (tuple(roles) if term == "roles" else ())
            for word, code in words.items():
                if code not in codes or (term != "yes_no" and isinstance(code, bool)):
                    raise ValidationError(f"{where}: {word!r} must map to one of {', '.join(map(str, codes))}, "
                                          f"got {code!r}", source=source, field=f"{where}.{word}")
            changes[term] = _frozen({**getattr(self, term), **words})
        return Vocabulary(**{**self.__dict__, **changes})

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {t: dict(getattr(self, t)) for t in TERMS if t != "topics"}
        out["topics"] = {f: [w for w, c in self.topics.items() if c == f and w != _key(f)]
                         for f in self.topic_families}
        return out


# ``posts``: a roster's 党内职务, read into the roles leniently (see recsys.ingest.loaders).
_FIELD_NAMES = tuple(dict.fromkeys([*Item.FIELDS, *Member.FIELDS, *Event.FIELDS, "starts", "ends", "location",
                                     "capacity", "year", "hours", "topic", "note", "posts"]))
_CODES: dict[str, tuple[Any, ...]] = {
    "kinds": ITEM_KINDS, "event_kinds": EVENT_KINDS, "modes": MODES, "roles": ROLES,
    "situations": SITUATIONS, "levels": (1, 2, 3), "yes_no": (True, False), "columns": _FIELD_NAMES,
}
