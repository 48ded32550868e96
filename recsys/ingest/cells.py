"""What a cell of an export says, as the value a record field takes.

People write 2026/12/1 or 2026年12月1日 for a date, 15分钟 for minutes, 文章 for ``article``,
支部书记、党员 for a list of roles and 是 for true; spreadsheets hand over numbers as floats and
dates as datetimes. :func:`read_fields` turns one row (or one JSON object) into the JSON form the
records read, field by field, and reports every cell it cannot read with what it expected.
An empty cell means "not given": the field is left out, so the record's default applies.

Dates are read year first, as Chinese exports write them; a form that would need a guess (is
1/12/2026 the first of December or the twelfth of January?) is refused, never guessed.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from recsys.credits import OpeningBalance
from recsys.exceptions import ValidationError
from recsys.orgs import OrgDirectory, OrgName
from recsys.records import Event, Item, Member
from recsys.vocabulary import Vocabulary

__all__ = ["read_fields", "read_when", "given_fields", "read_posts", "typo_of", "LIST_SEPARATORS", "MEMBERSHIP"]

#: What separates the values of a list cell: 党员|支部书记, 党员、支部书记, 党员；支部书记 ...
LIST_SEPARATORS = "|、;；,，\n"
_SPLIT = re.compile("[" + re.escape(LIST_SEPARATORS) + "]")
_WHEN = re.compile(
    r"(?P<y>\d{4})\s*[-/.年]\s*(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})\s*日?"
    r"(?:(?:\s+|T|\s*日\s*)(?P<H>\d{1,2})\s*[:：时点]\s*(?P<M>\d{1,2})?\s*分?(?:\s*[:：]\s*(?P<S>\d{1,2})\s*秒?)?)?"
)
_NUMBER = re.compile(r"(?P<n>[0-9]+(?:\.[0-9]+)?)\s*(?P<unit>[^\s0-9.]*)")
#: Hours and minutes together: 1小时30分钟, 1个半小时, 1小时半, 半小时, 1h30min.
_HOURS_MINUTES = re.compile(
    r"(?:(?P<h>[0-9]+(?:\.[0-9]+)?)?\s*(?P<ge>个)?\s*(?P<half>半)?\s*(?:个)?\s*(?P<hw>小时|钟头|h)(?P<after>半)?)?"
    r"\s*(?:(?P<m>[0-9]+)\s*(?:分钟|分|min))?"
)
#: Words for "no limit" where an empty cell means the same: an expiry date (不限, 长期有效) or
#: an activity's seats (不限名额). Read as not given, so the record's default (none) applies.
_NO_LIMIT = {
    "expires": {"不限", "无", "长期", "长期有效", "永久", "永久有效", "无期限", "不过期"},
    "schedule.capacity": {"不限", "无", "无限", "无限制", "不限名额", "不限人数", "名额不限"},
    # A roster's placeholders where the joining date is not known.
    "joined": {"无", "/", "-", "—", "暂无", "不详", "未知", "0000-00-00", "0000.00.00"},
}
#: What an organisation code is made of (a name is anything else: 运行党支部).
_CODE = re.compile(r"[A-Za-z0-9._:-]+")
#: An item's roles that mean everyone: the item is for no role in particular (an empty cell).
#: Every member is a party member, 预备党员 included, so 面向对象 党员 is everyone too (read as
#: the role ``member`` it kept a themed day from probationary members); 正式党员 stays the role.
_EVERYONE = {"全体党员", "所有党员", "全体", "全部", "全员", "不限", "全体人员", "党员", "中共党员"}
#: A member's roles cell holding no post: 党内职务 is 无 for most members (they keep the default
#: role, a party member).
_NO_POST = {"无", "/", "-", "—", "暂无"}
#: Five digits in a date cell: the day number a spreadsheet shows when a date cell was turned
#: into text or a number (46000 is 2025-12-09). Four digits would be a year, which is no date.
_SERIAL = re.compile(r"[0-9]{5}(?:\.[0-9]+)?")
#: An hours cell: 12, 12学时, 12.5小时, 12 h (a ledger writes its unit beside the figure).
_HOURS = re.compile(r"(?P<n>[0-9]+(?:\.[0-9]+)?)\s*(?:学时|小时|课时|h|H)?")
#: A year cell: 2026, 2026年 or 2026年度 (the year a ledger's hours count for).
_YEAR = re.compile(r"(?P<y>[0-9]{4})(?:\.0+)?\s*(?:年度?)?")
#: Eight digits in a date cell: 20261201, as many HR systems export a date.
_COMPACT = re.compile(r"(?P<y>[0-9]{4})(?P<m>[0-9]{2})(?P<d>[0-9]{2})")
_SPREADSHEET_EPOCH = dt.datetime(1899, 12, 30)
#: The day numbers read as dates: from 1927-05-18 (10000) to the end of 2100.
_SERIALS = (10_000, (dt.datetime(2101, 1, 1) - _SPREADSHEET_EPOCH).days)
_DATE_FORMS = "2026-12-01, 2026/12/1 or 2026年12月1日"
_TIME_FORMS = "2026-12-12 09:00, 2026/12/12 9:00 or 2026年12月12日 9:00"

# What each field holds, by record type. Fields not listed are passed on as given (the record
# then names what is wrong with them, unknown fields included).
_ITEM = {
    "id": "id", "title": "text", "body": "text", "kind": "kinds", "mode": "modes", "minutes": "minutes",
    "topics": "topics", "roles": "roles", "level": "level", "published": "date", "expires": "date",
    "requires": "ids", "org": "id", "url": "text",
}
_SCHEDULE = {"starts": "datetime", "ends": "datetime", "location": "text", "capacity": "count"}
_MEMBER = {
    "id": "id", "name": "text", "roles": "roles", "org": "id", "interests": "topics", "offline": "yes_no",
    "location": "text", "daily_minutes": "minutes", "joined": "month_date", "situation": "situations",
}
_EVENT = {"id": "id", "member": "id", "item": "id", "kind": "event_kinds", "value": "number", "at": "datetime"}
_BALANCE = {"member": "id", "year": "year", "hours": "hours", "topic": "topic", "note": "text"}
_ORG_NAME = {"org": "id", "name": "text"}
_FIELDS: dict[type, dict[str, str]] = {Item: _ITEM, Member: _MEMBER, Event: _EVENT, OpeningBalance: _BALANCE,
                                       OrgName: _ORG_NAME}
_UNITS = {
    "minutes": {"": 1, "分钟": 1, "分": 1, "min": 1, "小时": 60, "h": 60},
    "count": {"": 1, "人": 1, "名": 1, "个": 1, "位": 1},
    "level": {"": 1, "级": 1},
}


def read_fields(record_type: type, raw: Mapping[str, Any], vocabulary: Vocabulary,
                orgs: OrgDirectory | None = None) -> tuple[dict[str, Any], list[ValidationError]]:
    """One record's fields, read from what an export wrote.

    Args:
        record_type: :class:`Item`, :class:`Member`, :class:`Event` or
            :class:`~recsys.credits.OpeningBalance`.
        raw: Field name to cell value (text, number, date, bool, list, or a nested ``schedule``).
        vocabulary: The words accepted for codes.
        orgs: Registered organisations by name: a member's or an item's ``org`` written as a
            unit's name (运行党支部) is read as its code.

    Returns:
        The fields in the records' JSON form, empty cells left out, and a problem for each cell
        that could not be read (field named, value quoted, the forms expected).
    """
    kinds = _FIELDS[record_type]
    out: dict[str, Any] = {}
    problems: list[ValidationError] = []
    record_id = _record_id(raw.get("id"))
    if record_type is Member:
        raw = _member_cells(raw, vocabulary)
    if record_type is Event:
        raw = _withdrawal_cells(raw, record_id, problems)
    for name, value in raw.items():
        if _empty(value) or (record_type is Item or name == "joined") and _no_limit(name, value):
            continue
        if name == "schedule" and record_type is Item and isinstance(value, Mapping):
            schedule = {}
            for sub, cell in value.items():
                if not _empty(cell) and not _no_limit(f"schedule.{sub}", cell):
                    schedule[sub] = _read(f"schedule.{sub}", _SCHEDULE.get(sub), cell, vocabulary, record_id, problems)
            if schedule:
                out["schedule"] = schedule
            continue
        if name == "org" and orgs is not None and record_type in (Item, Member) and isinstance(value, str) \
                and not _CODE.fullmatch(value.strip()):
            try:
                code = orgs.code(value)
            except ValueError as exc:
                problems.append(ValidationError(str(exc), record=record_id, field=name))
                continue
            if code is None and len(orgs):
                problems.append(ValidationError(
                    f"must be an organisation's code (letters, digits and . _ : -) or its registered name"
                    f" (recsys orgs), got {value!r}", record=record_id, field=name))
                continue
            value = code or value
        out[name] = _read(name, kinds.get(name), value, vocabulary, record_id, problems)
    if record_type is Item and "mode" not in out and (out.get("kind") == "activity" or "schedule" in out):
        out["mode"] = "offline"  # an activity, or anything with a time and place, happens offline
    return out, problems


def read_posts(value: Any, vocabulary: Vocabulary) -> tuple[list[str], list[str]]:
    """A 党内职务 cell: the posts the vocabulary knows as roles (as written), and those it does
    not (党小组长, 党委委员: posts, but no role the curriculum plans for). ``无`` is no post;
    ``支部书记兼组织委员`` is two."""
    if _empty(value) or (isinstance(value, str) and value.strip() in _NO_POST):
        return [], []
    known, unknown = [], []
    for word in (w.strip() for part in _words(value) for w in str(part).split("兼")):
        if word and word not in _NO_POST:
            (known if vocabulary.code("roles", word) is not None else unknown).append(word)
    return known, unknown


#: The roles 人员类别 names (正式党员, 预备党员): a member's standing, beside their posts.
MEMBERSHIP = ("member", "probationary")


def given_fields(record_type: type, raw: Mapping[str, Any], vocabulary: Vocabulary) -> frozenset[str]:
    """The fields a table's row gives (its columns), as :func:`read_fields` reads them: a
    roster's 人员类别 of 正式党员 or 预备党员 gives the member's roles too."""
    fields = set(raw)
    if record_type is Member:
        fields |= set(_member_cells(raw, vocabulary))
    return frozenset(fields)


#: What a sign-up sheet writes for a seat given back: an ``enroll`` event of value 0.
WITHDRAWALS = frozenset({"取消报名", "退出报名", "撤销报名", "取消", "退报"})


def _withdrawal_cells(raw: Mapping[str, Any], record_id: str | None,
                      problems: list[ValidationError]) -> Mapping[str, Any]:
    """An event whose kind is 取消报名 (or another word of :data:`WITHDRAWALS`) as the withdrawal
    it is: ``enroll`` with value 0 (a value other than 0 beside it is a problem)."""
    kind = raw.get("kind")
    if not isinstance(kind, str) or unicodedata.normalize("NFKC", kind).strip() not in WITHDRAWALS:
        return raw
    value = raw.get("value")
    if not _empty(value) and value not in (0, "0"):
        problems.append(ValidationError(f"a withdrawal ({kind.strip()}) gives its seat back and takes no value, got {value!r}",
                                        record=record_id, field="value"))
    return {**raw, "kind": "enroll", "value": 0}


def _member_cells(raw: Mapping[str, Any], vocab: Vocabulary) -> Mapping[str, Any]:
    """A roster's cells as the fields they mean. The member-information system's 人员类别 holds
    正式党员 or 预备党员, which are roles (a probationary member's curriculum is their own), not a
    situation (流动党员, 年老体弱): such a cell joins the roles and the situation stays regular. A
    roles cell of 无 (党内职务 for most members) holds no post."""
    out = dict(raw)
    roles = out.get("roles")
    if isinstance(roles, str) and roles.strip() in _NO_POST:
        del out["roles"]
    situation = out.get("situation")
    if isinstance(situation, str) and not _empty(situation):
        words = _words(situation)
        if all(isinstance(w, str) and vocab.code("situations", w) is None and vocab.code("roles", w) for w in words):
            del out["situation"]
            held = out.get("roles")
            out["roles"] = [*([] if _empty(held) else _words(held)), *words]
    return out


def read_when(value: Any) -> dt.date | dt.datetime | None:
    """A date or a date and time as people write them, or None if ``value`` is neither.

    Accepts ``date``/``datetime`` objects (spreadsheet cells), ISO 8601 (with or without an
    offset), and year-first forms with ``-``, ``/``, ``.`` or 年月日, optionally followed by a
    time (``9:00``, ``9时30分``). A time at midnight from a spreadsheet is a date.
    """
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str):
        return None
    text = _half_width(value).strip()
    found = _WHEN.fullmatch(text)
    try:
        if found is None:
            return dt.datetime.fromisoformat(text) if "T" in text or "+" in text else None
        y, m, d = int(found["y"]), int(found["m"]), int(found["d"])
        if found["H"] is None:
            return dt.date(y, m, d)
        return dt.datetime(y, m, d, int(found["H"]), int(found["M"] or 0), int(found["S"] or 0))
    except ValueError:  # 2026/2/30, 25:00
        return None


def _read(name: str, kind: str | None, value: Any, vocab: Vocabulary, record_id: str | None,
          problems: list[ValidationError]) -> Any:
    try:
        return _convert(name, kind, value, vocab)
    except ValueError as exc:
        problems.append(ValidationError(str(exc), record=record_id, field=name))
        return None


def _convert(name: str, kind: str | None, value: Any, vocab: Vocabulary) -> Any:
    if kind is None:
        return value
    if kind in ("topics", "roles", "ids"):
        words = _words(value)
        odd = next((w for w in words if not isinstance(w, str)), None) if kind != "ids" else None
        if odd is not None:  # a number or a nested list where names belong
            raise ValueError(f"must be a list of text, got {odd!r} in it")
        if kind == "topics":
            return list(dict.fromkeys(vocab.code("topics", w) for w in words))
        if kind == "roles":
            roles = list(dict.fromkeys(_code(vocab, "roles", w) for w in words))
            # A word that is neither a known role nor a role id (支部书计) is one no member can
            # hold: a roster refuses it, and an item would reach nobody.
            odd = next((r for r in roles if not _CODE.fullmatch(r)), None)
            if odd is not None:
                close = typo_of(odd, sorted(vocab.roles))
                raise ValueError(f"must be roles such as 党员、支部书记、领导干部 (or role ids), got {odd!r}"
                                 + (f"; did you mean {close!r}?" if close else
                                    "; a post of its own goes in the vocabulary's roles (curriculum.json)"))
            return roles
        return [_identifier(w) for w in words]
    if kind == "id":
        return _identifier(value)
    if kind == "topic":
        return vocab.code("topics", _text(value))
    if kind == "text":
        return _text(value).strip() if isinstance(value, str) else _text(value)
    if kind in ("kinds", "event_kinds", "modes", "situations"):
        # Closed sets: a word that is not one of them is wrong whatever the rest of the row says.
        found = vocab.code(kind, _text(value))
        if found is None:
            codes = vocab.codes(kind)
            names = "、".join(n for n in (next(iter(vocab.names(kind, c)), None) for c in codes) if n)
            raise ValueError(f"must be one of {'|'.join(codes)} (or {names}), got {value!r}")
        return found
    if kind == "yes_no":
        if isinstance(value, bool):
            return value
        found = vocab.code("yes_no", _text(value))
        if found is None:
            raise ValueError(f"must be yes or no (是/否, true/false, 1/0), got {value!r}")
        return found
    if kind in ("date", "datetime"):
        return _when(kind, value)
    if kind == "month_date":
        return _month_date(value)
    if kind == "number":
        return _number(value)
    if kind == "year":
        return _year(value)
    if kind == "hours":
        return _hours(value)
    if kind == "level":
        if isinstance(value, str) and vocab.code("levels", value) is not None:
            return vocab.code("levels", value)
        return _whole(kind, value, "a level 1, 2 or 3 (or 初级/中级/高级)")
    return _whole(kind, value, {"minutes": "a number of minutes (15, 15分钟, 1.5小时, 1小时30分钟 or 00:15:00)",
                                "count": "a whole number (40 or 40人)"}[kind])


def _code(vocab: Vocabulary, term: str, word: str) -> str:
    # A word the vocabulary does not know is passed on as written: the record then says which
    # codes it takes, and a role of the organisation's own stays itself.
    found = vocab.code(term, word)
    return word.strip() if found is None else found


def typo_of(word: str, words: list[str]) -> str | None:
    """The one of ``words`` that ``word`` is a slip of, one character off (支部书计, 支部书纪 for
    支部书记) but not in the first two, which name the level (党委委员 is not 支委委员), else None. A closer match by share of characters named other posts: 党委书记 was offered
    党支部书记, 纪委书记 书记, and taking either made a member a branch secretary."""
    def one_off(a: str, b: str) -> bool:
        # The first two characters name the level (党委, 支部, 总支, 纪委): a slip is after them.
        if len(a) == len(b):
            at = [n for n, (x, y) in enumerate(zip(a, b)) if x != y]
            return len(at) == 1 and at[0] >= 2
        if abs(len(a) - len(b)) != 1:
            return False
        short, long_ = sorted((a, b), key=len)
        return any(long_[:n] + long_[n + 1:] == short for n in range(2, len(long_)))

    return next((w for w in words if one_off(word, w)), None)


def _words(value: Any) -> list[str]:
    if isinstance(value, (list, tuple)):
        return [w.strip() if isinstance(w, str) else w for w in value if not _empty(w)]
    return [w.strip() for w in _SPLIT.split(_text(value)) if w.strip()]


#: Full-width ASCII forms (and the ideographic space) as their ASCII characters.
_HALF_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}


def _identifier(value: Any) -> Any:
    # A spreadsheet turns the id 1001 into the number 1001.0.
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    # An input method in full-width mode types ０００１ or ｍ１０２: the id the rest of the records
    # use is 0001 or m102 (only those forms: an id of other characters stays refused).
    return value.translate(_HALF_WIDTH).strip() if isinstance(value, str) else value


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _when(kind: str, value: Any) -> dt.date | dt.datetime:
    found = read_when(value)
    if found is None:
        found = _spreadsheet_day(value)
    if found is None:
        forms = _DATE_FORMS if kind == "date" else _TIME_FORMS
        raise ValueError(f"must be a {'date' if kind == 'date' else 'date and time'} like {forms}, got {value!r}")
    if kind == "date" and isinstance(found, dt.datetime):
        return found.date()
    return found


#: A month without its day: 2005.07, 2005-7, 2005年7月, 200507.
_MONTH = re.compile(r"(?P<y>\d{4})\s*(?:[-/.年]\s*(?P<m>\d{1,2})\s*月?|(?P<mm>\d{2}))")


def _month_date(value: Any) -> dt.date:
    """A date, or a month (the 1st of it): party records often keep 入党时间 to the month."""
    try:
        return _when("date", value)
    except ValueError:
        if isinstance(value, float) and not value.is_integer():
            # 2005.07 typed into a number cell: the month as the digits after the point. One digit
            # (2010.1) is 2010.1 or 2010.10 typed, January or October: not guessed.
            digits = repr(value).split(".")[1]
            if len(digits) != 2:
                raise ValueError(f"must be a date like {_DATE_FORMS}, or a month like 2005.07 written as text; "
                                 f"{value!r} may be January or October") from None
            value = repr(value)
        found = _MONTH.fullmatch(_half_width(_text(value)).strip()) if isinstance(value, (str, int)) else None
        if found is not None and 1 <= int(found["m"] or found["mm"]) <= 12:
            return dt.date(int(found["y"]), int(found["m"] or found["mm"]), 1)
        raise ValueError(f"must be a date like {_DATE_FORMS}, or a month like 2005.07 or 2005年7月, got {value!r}") from None


def _spreadsheet_day(value: Any) -> dt.date | dt.datetime | None:
    """A date a spreadsheet or an HR system wrote as a number: a day number of five digits
    (46000, or 46000.375 with the time of day), or eight digits year first (20261201)."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    text = _half_width(_text(value)).strip() if not isinstance(value, float) else repr(value).removesuffix(".0")
    found = _COMPACT.fullmatch(text)
    try:
        if found is not None:
            return dt.date(int(found["y"]), int(found["m"]), int(found["d"]))
        if _SERIAL.fullmatch(text) and _SERIALS[0] <= float(text) < _SERIALS[1]:
            at = _SPREADSHEET_EPOCH + dt.timedelta(days=float(text))
            at = at.replace(microsecond=0) + dt.timedelta(seconds=round(at.microsecond / 1e6))
            return at.date() if at.time() == dt.time(0) else at
    except ValueError:  # 20261341
        return None
    return None


def _hours_and_minutes(found: re.Match) -> bool:
    """Whether a match of :data:`_HOURS_MINUTES` is a length as people write one: an hour word
    after a number or 半 (not 小时30分钟, 个半小时), one 半 at most, and no 半 after a decimal."""
    hours, half = found["h"], found["half"] or found["after"]
    if not (hours or half or found["m"]):
        return False
    if found["hw"] and not hours and not found["half"]:
        return False  # 小时30分钟: how many hours?
    if found["ge"] and not hours:
        return False  # 个半小时
    if found["half"] and found["after"] or found["after"] and found["m"]:
        return False  # 半小时半, 1小时半30分钟
    return not (hours and "." in hours and half)  # 1.5个半小时


def _no_limit(name: str, value: Any) -> bool:
    """Whether a cell says "no limit" where that is what an empty cell means (see :data:`_NO_LIMIT`):
    also an item's roles naming everyone (全体党员), which would otherwise be a role nobody holds."""
    if name == "roles":
        return isinstance(value, (str, list, tuple)) and any(w in _EVERYONE for w in _words(value) if isinstance(w, str))
    words = _NO_LIMIT.get(name)
    return bool(words) and isinstance(value, str) and value.strip() in words


#: A length as a video portal exports it: hours, minutes and seconds (00:45:00, 1:05:30).
_CLOCK = re.compile(r"(?P<h>\d{1,3})[:：](?P<m>[0-5]\d)[:：](?P<s>[0-5]\d)")


def _clock_minutes(value: Any) -> int | None:
    """The minutes of a length written as a clock (``00:45:00``; a spreadsheet's time cell comes
    as the text it shows, a duration cell as a timedelta), a started minute counting whole (a 12:34 video takes 13); None for anything else.
    ``15:30`` alone could be minutes and seconds or hours and minutes: not read (never guessed)."""
    if isinstance(value, dt.timedelta):
        seconds = int(value.total_seconds())
    elif isinstance(value, str) and (found := _CLOCK.fullmatch(_half_width(value).strip())) is not None:
        seconds = int(found["h"]) * 3600 + int(found["m"]) * 60 + int(found["s"])
    else:
        return None
    return -(-seconds // 60)


def _whole(kind: str, value: Any, expected: str) -> int:
    if isinstance(value, bool):
        raise ValueError(f"must be {expected}, got {value!r}")
    if kind == "minutes" and (clock := _clock_minutes(value)) is not None:
        return clock
    if isinstance(value, (int, float)):
        number, unit = value, ""
        if isinstance(value, int) and value.bit_length() > 53:  # beyond a float's whole numbers
            raise ValueError(f"must be {expected}, got a number far too large ({value.bit_length()} bits)")
    else:
        text = _half_width(_text(value)).strip()
        found = _NUMBER.fullmatch(text)
        plain = found is not None and found["unit"].casefold() in _UNITS[kind]
        both = _HOURS_MINUTES.fullmatch(text.casefold()) if kind == "minutes" and not plain else None
        if both is not None and _hours_and_minutes(both):
            # 1小时30分钟, 半小时, 1个半小时: the minutes they add up to.
            half = 30 * bool(both["half"] or both["after"])
            number, unit = float(both["h"] or 0) * 60 + half + int(both["m"] or 0), ""
        elif found is None:
            raise ValueError(f"must be {expected}, got {value!r}")
        else:
            number, unit = float(found["n"]), found["unit"].casefold()
    scale = _UNITS[kind].get(unit)
    if scale is None or not math.isfinite(number):
        raise ValueError(f"must be {expected}, got {value!r}")
    total = number * scale
    if not float(total).is_integer():
        raise ValueError(f"must be {expected} in whole units, got {value!r}")
    return int(total)


def _year(value: Any) -> int:
    """A year as a ledger writes it: 2026, 2026年 or 2026年度 (a numeric column's 2026.0 too)."""
    found = None if isinstance(value, bool) else _YEAR.fullmatch(_half_width(_text(value)).strip())
    if found is None:
        raise ValueError(f"must be a year like 2026, 2026年 or 2026年度, got {value!r}")
    return int(found["y"])


def _hours(value: Any) -> float:
    """Hours as a ledger writes them: 12, 12.5, 12学时, 12小时 or 12课时 (a numeric column's 12.0)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    found = None if isinstance(value, bool) else _HOURS.fullmatch(_half_width(_text(value)).strip())
    if found is None:
        raise ValueError(f"must be a number of hours (12, 12.5, 12学时 or 12小时), got {value!r}")
    return float(found["n"])


def _number(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(f"must be a number (0.8, 80% or 4), got {value!r}")
    if isinstance(value, (int, float)):
        try:
            return float(value)
        except OverflowError:
            raise ValueError(f"must be a number (0.8, 80% or 4), got a number far too large ({value.bit_length()} bits)") from None
    text = _half_width(_text(value)).strip()
    try:
        return float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise ValueError(f"must be a number (0.8, 80% or 4), got {value!r}") from None


def _half_width(text: str) -> str:
    """Full-width digits and signs as their ASCII forms (２０２６－１１－０３　０９：００, ３０分钟,
    ８０％): how a Chinese input method in full-width mode types a number or a date."""
    return unicodedata.normalize("NFKC", text)


def _record_id(value: Any) -> str | None:
    found = _identifier(value) if not _empty(value) else None
    return found if isinstance(found, str) else None


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())
