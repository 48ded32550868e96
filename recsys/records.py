"""The records the engine works on: :class:`Item`, :class:`Member`, :class:`Event`.

Records are frozen dataclasses. All validation lives here, in ``__post_init__`` (for records
built in Python) and in the ``from_dict`` constructors (for records parsed from JSON, CSV or an
HTTP body), so every entry point enforces the same rules and reports the same errors: a
:class:`~recsys.exceptions.ValidationError` naming the record and the field.

Dates and times without an offset are read as Asia/Shanghai time.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from recsys.exceptions import ValidationError

__all__ = [
    "TZ",
    "QUESTION_KINDS",
    "Question",
    "ITEM_KINDS",
    "MODES",
    "EVENT_KINDS",
    "PSEUDONYM_PREFIX",
    "IMPRESSION_PREFIX",
    "ROLES",
    "SITUATIONS",
    "Schedule",
    "Item",
    "Member",
    "Event",
    "tenant_of",
    "parse_date",
    "parse_datetime",
]

TZ = ZoneInfo("Asia/Shanghai")

#: Id prefixes the engine keeps for itself: a removed member's events are kept under ``anon:...``
#: (:mod:`recsys.pseudonyms`), a list's impressions are ``imp:member:day:item``. Input may not use
#: them: a member named like a pseudonym would take over a removed member's history, an event with
#: an impression's id would silently stop the engine recording that impression.
PSEUDONYM_PREFIX = "anon:"
#: What parts an offline activity's city from its place (``西安·八路军西安办事处纪念馆``).
CITY_MARKS = ("·", "・", "•")
IMPRESSION_PREFIX = "imp:"

ITEM_KINDS = ("lecture", "video", "article", "case", "quiz", "discussion", "activity")
MODES = ("online", "offline")
EVENT_KINDS = (
    "impression", "start", "progress", "complete", "skip",
    "dislike", "rate", "quiz", "attend", "enroll",
)
#: The role ids the engine knows; organisations may add their own (any id-shaped string).
ROLES = (
    "member", "probationary", "branch_secretary", "committee_member", "party_worker",
    "cadre", "frontline", "technical", "young", "retired",
)
#: ``mobile``: away from the home organisation (流动党员); ``infirm``: elderly, ill or disabled.
SITUATIONS = ("regular", "mobile", "infirm")

_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
#: Half of a UTF-16 pair on its own: valid in a Python string (JSON's "\ud800"), not in any file
#: or database text, so refused where it enters rather than failing when the text is written.
_SURROGATE = re.compile("[\ud800-\udfff]")
#: Dates outside these years are typing mistakes, and near the calendar's ends time-zone
#: arithmetic overflows.
FIRST_YEAR, LAST_YEAR = 1900, 2199
#: Longest an item may take, in minutes (about a week).
MAX_MINUTES = 10_000
#: Longest link to an item's page accepted; browsers and WeCom messages handle this much.
MAX_URL_LENGTH = 2048
#: Value ranges by event kind; kinds not listed take no value or any finite number.
_VALUE_RANGES = {"progress": (0.0, 1.0), "quiz": (0.0, 1.0), "rate": (1.0, 5.0)}


def parse_date(value: Any, *, record: str, field_: str, id_: str | None = None) -> dt.date:
    """Parse an ISO date (``YYYY-MM-DD``); a datetime is reduced to its Shanghai date."""
    if isinstance(value, dt.datetime):
        return _aware(value).date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            if len(value) > 10:
                return _aware(dt.datetime.fromisoformat(value)).date()
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise ValidationError(
        f"{record} {field_} must be an ISO date like 2026-07-01, got {value!r}",
        record=id_, field=field_,
    )


def parse_datetime(value: Any, *, record: str, field_: str, id_: str | None = None) -> dt.datetime:
    """Parse an ISO datetime; without an offset it is Asia/Shanghai time. Dates mean midnight."""
    if isinstance(value, dt.datetime):
        return _aware(value)
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time(), TZ)
    if isinstance(value, str):
        try:
            return _aware(dt.datetime.fromisoformat(value))
        except ValueError:
            pass
    raise ValidationError(
        f"{record} {field_} must be an ISO datetime like 2026-07-01T09:00:00, got {value!r}",
        record=id_, field=field_,
    )


def _aware(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=TZ) if value.tzinfo is None else value


def _check_year(record: str, id_: str | None, field_: str, value: dt.date | None) -> None:
    if value is not None and not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise _fail(record, id_, field_, f"must be in the years {FIRST_YEAR}-{LAST_YEAR}, got {value.isoformat()}")


def _fail(record: str, id_: str | None, field_: str, message: str) -> ValidationError:
    return ValidationError(f"{record} {field_} {message}", record=id_, field=field_)


def _check_id(record: str, value: Any, field_: str = "id", id_: str | None = None) -> str:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        # Said where it is the reason: full-width ０００１ are digits to whoever typed them.
        wide = isinstance(value, str) and any("\uff01" <= c <= "\uff5e" for c in value)
        named = field_ == "roles" and isinstance(value, str) and any("\u4e00" <= c <= "\u9fff" for c in value)
        raise _fail(
            record, id_, field_,
            f"must be 1-128 characters of letters, digits and . _ : -, got {value!r}"
            + (" (full-width characters: type them half-width, 半角)" if wide else "")
            # 支部书记 in JSON: files read a role's Chinese name through the vocabulary, JSON takes ids.
            + (" (a role id such as branch_secretary or member: Chinese role names are read from files)"
               if named else ""),
        )
    return value


def _check_text(record: str, id_: str, field_: str, value: Any, *, required: bool) -> str:
    if not isinstance(value, str):
        raise _fail(record, id_, field_, f"must be text, got {type(value).__name__}")
    if required and not value.strip():
        raise _fail(record, id_, field_, "must not be empty")
    _check_unicode(record, id_, field_, value)
    return value


def _check_unicode(record: str, id_: str, field_: str, value: str) -> None:
    found = _SURROGATE.search(value)
    if found is not None:
        raise _fail(record, id_, field_, f"holds a lone surrogate (U+{ord(found.group()):04X}) at character "
                    f"{found.start() + 1}: not valid Unicode text")


def _finite(value: int | float) -> bool:
    """Whether a number is finite as a float (an int of 400 digits is not: it overflows)."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _check_url(record: str, id_: str, field_: str, value: Any) -> str:
    """An absolute http or https link: what a portal page is, and nothing a message could abuse
    (``javascript:``, ``file:``, spaces or control characters that break a message's layout)."""
    if not isinstance(value, str):
        raise _fail(record, id_, field_, f"must be an http or https link as text, got {type(value).__name__}")
    if len(value) > MAX_URL_LENGTH:
        raise _fail(record, id_, field_, f"must be at most {MAX_URL_LENGTH} characters, got {len(value)}")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in value):
        raise _fail(record, id_, field_, f"must not hold spaces or control characters, got {value!r}")
    _check_unicode(record, id_, field_, value)
    try:
        parts = urllib.parse.urlsplit(value)
        parts.port  # noqa: B018 - reading it checks the port
    except ValueError:
        parts = None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise _fail(record, id_, field_, f"must be an http:// or https:// link with a host, got {value!r}")
    return value


def _check_int(record: str, id_: str, field_: str, value: Any, lo: int, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(record, id_, field_, f"must be a whole number, got {value!r}")
    if value < lo or (hi is not None and value > hi):
        bound = f"at least {lo}" if hi is None else f"between {lo} and {hi}"
        raise _fail(record, id_, field_, f"must be {bound}, got {value}")
    return value


def _check_strs(record: str, id_: str, field_: str, value: Any, *, ids: bool = False) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise _fail(record, id_, field_, f"must be a list of text, got {value!r}")
    out = tuple(value)
    for v in out:
        if not isinstance(v, str) or not v.strip():
            raise _fail(record, id_, field_, f"must hold non-empty text only, got {v!r}")
        _check_unicode(record, id_, field_, v)
        if ids:
            _check_id(record, v, field_, id_)
    if len(set(out)) != len(out):
        raise _fail(record, id_, field_, f"lists a value twice: {list(out)}")
    return out


def _check_choice(record: str, id_: str, field_: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise _fail(record, id_, field_, f"must be one of {'|'.join(choices)}, got {value!r}")
    return value


def _reject_unknown(record: str, data: Mapping[str, Any], allowed: Iterable[str]) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        id_ = data.get("id") if isinstance(data.get("id"), str) else None
        raise ValidationError(
            f"{record} has unknown field(s) {unknown}", record=id_, field=unknown[0]
        )


def _require(record: str, data: Mapping[str, Any], names: Iterable[str]) -> None:
    id_ = data.get("id") if isinstance(data.get("id"), str) else None
    for name in names:
        if name not in data or data[name] is None:
            raise ValidationError(f"{record} is missing required field {name!r}", record=id_, field=name)


def _changed(record: str, current: Mapping[str, Any], changes: Any) -> dict[str, Any]:
    """``current`` (a record's JSON form) with ``changes`` applied; an ``id`` among them must be
    the record's own (a record is renamed by adding it anew and removing the old one)."""
    changes = _as_mapping(f"{record} changes", changes)
    if "id" in changes and changes["id"] != current["id"]:
        raise ValidationError(f"{record} id cannot be changed (from {current['id']!r} to {changes['id']!r})",
                              record=current["id"], field="id")
    return {**current, **changes}


def _as_mapping(record: str, data: Any) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise ValidationError(f"{record} must be a JSON object, got {type(data).__name__}")
    return data


def _typed(text: str) -> str:
    """Text as typed, compared loosely: full-width forms as half-width, no spaces, no closing
    full stop."""
    plain = "".join(unicodedata.normalize("NFKC", str(text)).split())
    return plain.rstrip("。.")


def _folded(text: str) -> str:
    """An option key as compared: full-width forms as half-width, case folded."""
    return unicodedata.normalize("NFKC", str(text)).strip().casefold()


#: Question kinds: one answer of several, several answers, true/false, fill in the blank.
QUESTION_KINDS = ("single", "multiple", "judge", "blank")


@dataclass(frozen=True)
class Question:
    """One quiz question.

    Attributes:
        id: Identifier, unique in its bank.
        kind: One of :data:`QUESTION_KINDS`.
        text: The question.
        options: ``(key, text)`` pairs; empty for blanks.
        answer: The key or keys of the right options (``"ABC"`` for multiple), or the blank's text.
        points: Knowledge points the question tests.
        error_rate: Share of people who got it wrong where the bank records it (0–1), else None.
    """

    id: str
    kind: str
    text: str
    options: tuple[tuple[str, str], ...] = ()
    answer: str = ""
    points: tuple[str, ...] = ()
    error_rate: float | None = None

    @property
    def prompt(self) -> str:
        """The question with its options, as a member reads it (and as it is embedded)."""
        if not self.options:
            return self.text
        return self.text + " " + " ".join(f"{key}. {text}" for key, text in self.options)

    def is_correct(self, response: str) -> bool:
        """Whether ``response`` answers the question: the right option keys (see :meth:`chosen`)
        in any order, in either case, full- or half-width, with or without separators; a blank's text
        as written, but for spaces, full-width forms and a closing full stop (typed on a phone,
        ``"提高质量。"`` is ``"提高质量"``)."""
        if self.kind == "blank":
            return _typed(response) == _typed(self.answer)
        chosen = self.chosen(response)
        return chosen is not None and chosen == self.chosen(self.answer)

    def chosen(self, response: str) -> frozenset[str] | None:
        """The option keys ``response`` names, or None where it names something else: a key
        (``√`` or ``A`` as the bank writes its keys), keys together or apart (``AC``, ``a, c``),
        or one option's text (``正确`` for ``A. 正确``)."""
        keys = {_folded(key): key for key, _ in self.options}
        named = {_typed(text): key for key, text in self.options}
        typed = _typed(response)
        if typed in named:
            return frozenset({named[typed]})
        if _folded(typed) in keys:
            return frozenset({keys[_folded(typed)]})
        parts = [p for p in re.split(r"[\s,，、;；/|]+", unicodedata.normalize("NFKC", str(response))) if p]
        if len(parts) == 1:
            parts = list(parts[0])  # keys written together: AC
        found = [keys.get(_folded(part)) for part in parts]
        return frozenset(found) if parts and None not in found else None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Question:
        """Build from one bank record; raises :class:`ValueError` naming the field."""
        problems: list[str] = []
        qid = data.get("id", data.get("origId"))
        if qid is None or str(qid).strip() == "":
            problems.append("origId: missing")
        kind = data.get("type", data.get("kind"))
        if kind not in QUESTION_KINDS:
            problems.append(f"type: {kind!r} is not one of {', '.join(QUESTION_KINDS)}")
        text = data.get("question", data.get("text"))
        if not isinstance(text, str) or not text.strip():
            problems.append("question: missing or empty")
        raw_options = data.get("options") or []
        options: list[tuple[str, str]] = []
        if not isinstance(raw_options, list):
            problems.append("options: must be a list of {key, text}")
        else:
            for n, option in enumerate(raw_options):
                if not isinstance(option, Mapping) or not isinstance(option.get("key"), str) \
                        or not isinstance(option.get("text"), str):
                    problems.append(f"options[{n}]: must be {{key, text}} strings")
                else:
                    options.append((option["key"], option["text"]))
        answer = data.get("answer")
        if not isinstance(answer, str) or not answer.strip():
            problems.append("answer: missing or empty")
        elif kind in ("single", "multiple", "judge"):
            keys = {key for key, _ in options}
            if not options:
                problems.append(f"options: a {kind} question needs options")
            elif not set(answer.strip().upper()) <= keys:
                problems.append(f"answer: {answer!r} is not among the option keys {''.join(sorted(keys))}")
        points = data.get("points") or []
        if not isinstance(points, list) or not all(isinstance(p, str) for p in points):
            problems.append("points: must be a list of strings")
            points = []
        error_rate = _rate(data.get("errorRate", data.get("error_rate")), problems)
        if problems:
            raise ValueError("; ".join(problems))
        return cls(
            id=str(qid), kind=kind, text=text.strip(), options=tuple(options), answer=answer.strip(),
            points=tuple(p.strip() for p in points if p.strip()), error_rate=error_rate,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "type": self.kind, "question": self.text,
            "options": [{"key": k, "text": t} for k, t in self.options],
            "answer": self.answer, "points": list(self.points), "error_rate": self.error_rate,
        }


def _rate(value: Any, problems: list[str]) -> float | None:
    if value is None or value == "":
        return None
    try:
        rate = float(value[:-1]) / 100 if isinstance(value, str) and value.endswith("%") else float(value)
    except (TypeError, ValueError):
        problems.append(f"errorRate: {value!r} is not a percentage")
        return None
    if not 0 <= rate <= 1:
        problems.append(f"errorRate: {value!r} is outside 0–100 %")
        return None
    return rate


#: What may stand before a city's name: its province or region (山西省太原市 is 太原).
_PROVINCE = re.compile(r"^.+?(?:省|自治区)(?=.)")


def city_key(name: str | None) -> str:
    """A city's name as the rules compare it: without its province, its 市 and what follows it
    (a district), or 特别行政区, so that 山西省太原市小店区, 太原市 and 太原 are one city (rosters
    write it every way); "" for none."""
    key = _PROVINCE.sub("", (name or "").strip()).strip()
    key = key.removesuffix("特别行政区")
    cut = key.find("市")
    return key[:cut] if cut >= 2 else key  # 沙市 and 市中区 are names of their own


#: An activity ending at or before this time of day on a later day than it started is an evening
#: one: its last day is the day before (see :attr:`Schedule.days`).
OVERNIGHT_END = dt.time(6)


@dataclass(frozen=True)
class Schedule:
    """When and where an offline activity takes place.

    Attributes:
        starts: Start time (timezone-aware).
        ends: End time, after ``starts``.
        location: ``城市·地点``, e.g. ``西安·八路军西安办事处纪念馆``; the part before ``·`` (or
            ``・``, ``•``) is the city used to match members' locations (see :attr:`city`). A
            longer location without one names no city: members anywhere who attend offline
            activities may be offered it.
        capacity: Seats available, or None for no limit.
    """

    starts: dt.datetime
    ends: dt.datetime
    location: str
    capacity: int | None = None

    @property
    def city(self) -> str:
        """The city part of :attr:`location`: before its ``·``; without one, the whole location if
        it is a city's name alone (one word of at most four characters: 北京, 呼和浩特), else ""
        for none (``北京 集团总部三楼会议室`` was taken whole for a city no member lives in, and
        the activity never offered)."""
        city, _ = self._parts()
        if city is not None:
            return city
        bare = self.location.strip()
        return bare if len(bare) <= 4 and not any(c.isspace() for c in bare) else ""

    @property
    def days(self) -> tuple[dt.date, dt.date]:
        """The first and last Shanghai day the activity is held on: the days from its start to
        its end, but an evening that runs past midnight and ends before :data:`OVERNIGHT_END`
        belongs to the evening it started (a 20:00-02:00 watch is not held the next day)."""
        first, end = self.starts.astimezone(TZ), self.ends.astimezone(TZ)
        last = end.date()
        if last > first.date() and end.time() <= OVERNIGHT_END:
            last -= dt.timedelta(days=1)
        return first.date(), last

    @property
    def place(self) -> str:
        """Where in the city: :attr:`location` after its ``·`` (all of it without one)."""
        return self._parts()[1]

    def _parts(self) -> tuple[str | None, str]:
        """:attr:`location` parted at its first city mark, ``(city, place)``; ``(None, location)``
        without one."""
        for mark in CITY_MARKS:
            if mark in self.location:
                city, place = self.location.split(mark, 1)
                return city.strip(), place
        return None, self.location

    def to_dict(self) -> dict[str, Any]:
        return {
            "starts": self.starts.isoformat(),
            "ends": self.ends.isoformat(),
            "location": self.location,
            "capacity": self.capacity,
        }


@dataclass(frozen=True)
class Item:
    """A piece of learning content: online (lecture, video, article, case, quiz, discussion) or
    an offline activity with a :class:`Schedule`.

    Example:
        >>> Item(id="a1", title="新党章学习要点", body="……", kind="article", minutes=10,
        ...      topics=("党章党规党纪",), published=dt.date(2026, 1, 5))  # doctest: +ELLIPSIS
        Item(id='a1', ...)
    """

    id: str
    title: str
    body: str
    kind: str
    minutes: int
    published: dt.date
    mode: str = "online"
    topics: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    level: int = 1
    expires: dt.date | None = None
    requires: tuple[str, ...] = ()
    schedule: Schedule | None = None
    org: str | None = None
    #: Quiz items only: the questions, with their answers (see :class:`~recsys.ingest.quizbank.Question`).
    questions: tuple[Question, ...] = ()
    #: The content's page in the portal (http or https), linked from lists and digests; None if none.
    url: str | None = None

    FIELDS: ClassVar[tuple[str, ...]] = (
        "id", "title", "body", "kind", "mode", "minutes", "topics", "roles", "level",
        "published", "expires", "requires", "schedule", "org", "questions", "url",
    )
    REQUIRED: ClassVar[tuple[str, ...]] = ("id", "title", "kind", "minutes", "published")

    @property
    def tenant(self) -> str:
        """The enterprise that owns the item, ``""`` for a shared one (see :func:`tenant_of`)."""
        return tenant_of(self.org)

    def __post_init__(self) -> None:
        r = "item"
        i = _check_id(r, self.id)
        _check_text(r, i, "title", self.title, required=True)
        _check_text(r, i, "body", self.body, required=False)
        _check_choice(r, i, "kind", self.kind, ITEM_KINDS)
        _check_choice(r, i, "mode", self.mode, MODES)
        _check_int(r, i, "minutes", self.minutes, 1, MAX_MINUTES)
        _check_int(r, i, "level", self.level, 1, 3)
        set_ = object.__setattr__  # frozen: normalise list fields to tuples in place
        set_(self, "topics", _check_strs(r, i, "topics", self.topics))
        set_(self, "roles", _check_strs(r, i, "roles", self.roles))
        set_(self, "requires", _check_strs(r, i, "requires", self.requires, ids=True))
        if not isinstance(self.published, dt.date):
            raise _fail(r, i, "published", "must be a date")
        if self.expires is not None:
            if not isinstance(self.expires, dt.date):
                raise _fail(r, i, "expires", "must be a date or null")
            if self.expires < self.published:
                raise _fail(r, i, "expires", f"({self.expires}) is before published ({self.published})")
        _check_year(r, i, "published", self.published)
        _check_year(r, i, "expires", self.expires)
        if self.id in self.requires:
            raise _fail(r, i, "requires", "must not name the item itself")
        if self.org is not None:
            _check_id(r, self.org, "org", i)
        if self.url is not None:
            _check_url(r, i, "url", self.url)
        if self.kind == "activity" and self.mode != "offline":
            raise _fail(r, i, "mode", "must be 'offline' for kind 'activity'")
        if self.mode == "offline":
            if self.schedule is None:
                raise _fail(r, i, "schedule", "is required for offline items (starts, ends, location)")
            if not isinstance(self.schedule, Schedule):
                raise _fail(r, i, "schedule", "must be a Schedule")
            _check_year(r, i, "schedule.starts", self.schedule.starts)
            _check_year(r, i, "schedule.ends", self.schedule.ends)
            if self.schedule.ends <= self.schedule.starts:
                raise _fail(r, i, "schedule.ends", "must be after schedule.starts")
            _check_text(r, i, "schedule.location", self.schedule.location, required=True)
            if self.schedule.capacity is not None:
                _check_int(r, i, "schedule.capacity", self.schedule.capacity, 1)
        elif self.schedule is not None:
            raise _fail(r, i, "schedule", "must be null for online items")
        set_(self, "questions", _check_questions(i, self.kind, self.questions))

    @property
    def text(self) -> str:
        """The text that is embedded: title, then body."""
        return f"{self.title}\n{self.body}".strip()

    @property
    def online(self) -> bool:
        return self.mode == "online"

    @classmethod
    def from_dict(cls, data: Any) -> Item:
        """Build an item from JSON-like data (dates as ISO strings), validating every field.

        Raises:
            ValidationError: naming the item id and field that is wrong.
        """
        data = _as_mapping("item", data)
        _reject_unknown("item", data, cls.FIELDS)
        _require("item", data, cls.REQUIRED)
        i = _check_id("item", data["id"])
        sched = data.get("schedule")
        if sched is not None:
            sched = _as_mapping("item schedule", sched)
            _reject_unknown("item schedule", sched, ("starts", "ends", "location", "capacity"))
            for name in ("starts", "ends", "location"):
                if sched.get(name) is None:
                    raise _fail("item", i, f"schedule.{name}", "is required")
            sched = Schedule(
                starts=parse_datetime(sched["starts"], record="item", field_="schedule.starts", id_=i),
                ends=parse_datetime(sched["ends"], record="item", field_="schedule.ends", id_=i),
                location=sched["location"],
                capacity=sched.get("capacity"),
            )
        expires = data.get("expires")
        return cls(
            id=i,
            title=data["title"],
            body=data.get("body") or "",
            kind=data["kind"],
            mode=data.get("mode") or "online",
            minutes=data["minutes"],
            topics=data.get("topics") or (),
            roles=data.get("roles") or (),
            level=data.get("level", 1),
            published=parse_date(data["published"], record="item", field_="published", id_=i),
            expires=None if expires is None else parse_date(expires, record="item", field_="expires", id_=i),
            requires=data.get("requires") or (),
            schedule=sched,
            org=data.get("org"),
            questions=data.get("questions") or (),
            url=data.get("url"),
        )

    def with_changes(self, changes: Mapping[str, Any]) -> Item:
        """This item with some fields changed (JSON form, as :meth:`from_dict` reads it); the
        fields not named keep their values, and the result is validated as a new item would be.

        Raises:
            ValidationError: naming the field that is wrong, or ``id`` if it differs.
        """
        return Item.from_dict(_changed("item", self.to_dict(), changes))

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, as :meth:`from_dict` reads it."""
        return {
            "id": self.id, "title": self.title, "body": self.body, "kind": self.kind,
            "mode": self.mode, "minutes": self.minutes, "topics": list(self.topics),
            "roles": list(self.roles), "level": self.level,
            "published": self.published.isoformat(),
            "expires": self.expires.isoformat() if self.expires else None,
            "requires": list(self.requires),
            "schedule": self.schedule.to_dict() if self.schedule else None,
            "org": self.org,
            "questions": [q.to_dict() for q in self.questions],
            "url": self.url,
        }


def _check_questions(id_: str, kind: str, value: Any) -> tuple[Question, ...]:
    """Questions as :class:`Question` records (dicts in the bank's form are parsed), ids unique."""
    if isinstance(value, (str, Mapping)) or not isinstance(value, Iterable):
        raise _fail("item", id_, "questions", f"must be a list of questions, got {value!r}")
    out: list[Question] = []
    for n, q in enumerate(value):
        if isinstance(q, Mapping):
            try:
                q = Question.from_dict(q)
            except ValueError as exc:
                raise _fail("item", id_, f"questions[{n}]", str(exc)) from None
        elif not isinstance(q, Question):
            raise _fail("item", id_, f"questions[{n}]", f"must be a question object, got {type(q).__name__}")
        out.append(q)
    if out and kind != "quiz":
        raise _fail("item", id_, "questions", f"are only for quiz items, not kind {kind!r}")
    ids = [q.id for q in out]
    if len(set(ids)) != len(ids):
        raise _fail("item", id_, "questions", f"repeat a question id: {ids}")
    return tuple(out)


def tenant_of(org: str | None) -> str:
    """The tenant of an organisation: its top level, the enterprise (``hxny`` for ``hxny.fdgs``).

    Event ids are unique within a tenant, so two enterprises never learn of each other's ids.
    No organisation (shared content) is the empty tenant ``""``.

    Example:
        >>> tenant_of("hxny.fdgs.zb-yunxing")
        'hxny'
    """
    return "" if org is None else org.split(".", 1)[0]


@dataclass(frozen=True)
class Member:
    """A party member.

    Attributes:
        offline: Whether the member can attend offline activities (false for mobile, elderly or
            infirm members).
        situation: ``regular``, ``mobile`` (流动党员) or ``infirm`` (elderly, ill, disabled).
        location: The city the member is in (matched against an activity's city).
        daily_minutes: Time the member has for study on a typical day.
        joined: The date the member joined the party (for the political birthday).
    """

    id: str
    name: str
    org: str
    roles: tuple[str, ...] = ("member",)
    interests: tuple[str, ...] = ()
    offline: bool = True
    location: str | None = None
    daily_minutes: int = 30
    joined: dt.date | None = None
    situation: str = "regular"

    FIELDS: ClassVar[tuple[str, ...]] = (
        "id", "name", "roles", "org", "interests", "offline", "location",
        "daily_minutes", "joined", "situation",
    )
    REQUIRED: ClassVar[tuple[str, ...]] = ("id", "name", "org")
    #: Column headers that mean these fields in a roster (党员编号 is an event's member elsewhere).
    COLUMNS: ClassVar[Mapping[str, str]] = {"党员编号": "id", "人员编号": "id", "工号": "id"}

    @property
    def tenant(self) -> str:
        """The enterprise the member belongs to (see :func:`tenant_of`)."""
        return tenant_of(self.org)

    def __post_init__(self) -> None:
        r = "member"
        i = _check_id(r, self.id)
        _check_text(r, i, "name", self.name, required=True)
        _check_id(r, self.org, "org", i)
        set_ = object.__setattr__
        set_(self, "roles", _check_strs(r, i, "roles", self.roles, ids=True))
        if not self.roles:
            raise _fail(r, i, "roles", "must name at least one role, e.g. ['member']")
        set_(self, "interests", _check_strs(r, i, "interests", self.interests))
        if not isinstance(self.offline, bool):
            raise _fail(r, i, "offline", f"must be true or false, got {self.offline!r}")
        if self.location is not None:
            _check_text(r, i, "location", self.location, required=True)
        _check_int(r, i, "daily_minutes", self.daily_minutes, 1, 24 * 60)
        if self.joined is not None and not isinstance(self.joined, dt.date):
            raise _fail(r, i, "joined", "must be a date or null")
        _check_year(r, i, "joined", self.joined)
        _check_choice(r, i, "situation", self.situation, SITUATIONS)
        if self.situation != "regular" and self.offline:
            # Mobile and infirm members must never be pushed offline activities.
            raise _fail(r, i, "offline", f"must be false for a {self.situation} member")

    @classmethod
    def from_dict(cls, data: Any) -> Member:
        """Build a member from JSON-like data, validating every field."""
        data = _as_mapping("member", data)
        _reject_unknown("member", data, cls.FIELDS)
        _require("member", data, cls.REQUIRED)
        i = _check_id("member", data["id"])
        joined = data.get("joined")
        situation = data.get("situation") or "regular"
        offline = data.get("offline")
        if offline is None:
            offline = situation == "regular"
        return cls(
            id=i,
            name=data["name"],
            org=data["org"],
            roles=("member",) if data.get("roles") is None else data["roles"],
            interests=data.get("interests") or (),
            offline=offline,
            location=data.get("location"),
            daily_minutes=data.get("daily_minutes", 30),
            joined=None if joined is None else parse_date(joined, record="member", field_="joined", id_=i),
            situation=situation,
        )

    def with_changes(self, changes: Mapping[str, Any]) -> Member:
        """This member with some fields changed (JSON form); the fields not named keep their
        values, except ``offline``, which a change of ``situation`` alone sets again from it (a
        member who becomes mobile can no longer attend offline). Validated as a new member.

        Raises:
            ValidationError: naming the field that is wrong, or ``id`` if it differs.
        """
        data = _changed("member", self.to_dict(), changes)
        if "situation" in changes and "offline" not in changes:
            del data["offline"]
        return Member.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "roles": list(self.roles), "org": self.org,
            "interests": list(self.interests), "offline": self.offline,
            "location": self.location, "daily_minutes": self.daily_minutes,
            "joined": self.joined.isoformat() if self.joined else None,
            "situation": self.situation,
        }


@dataclass(frozen=True)
class Event:
    """Something a member did with an item.

    Attributes:
        id: Optional idempotency key: recording the same event id twice stores it once.
        value: Fraction watched (``progress``, 0-1), rating (``rate``, 1-5), score (``quiz``, 0-1).
        at: When it happened (timezone-aware).
    """

    member: str
    item: str
    kind: str
    at: dt.datetime
    value: float | None = None
    id: str | None = None

    FIELDS: ClassVar[tuple[str, ...]] = ("id", "member", "item", "kind", "value", "at")
    REQUIRED: ClassVar[tuple[str, ...]] = ("member", "item", "kind", "at")

    def __post_init__(self) -> None:
        r = "event"
        i = self.id
        if i is not None:
            _check_id(r, i)
        _check_id(r, self.member, "member", i)
        _check_id(r, self.item, "item", i)
        _check_choice(r, i, "kind", self.kind, EVENT_KINDS)
        if not isinstance(self.at, dt.datetime) or self.at.tzinfo is None:
            raise _fail(r, i, "at", "must be a timezone-aware datetime")
        _check_year(r, i, "at", self.at)
        if self.value is not None:
            if isinstance(self.value, bool) or not isinstance(self.value, (int, float)) or not _finite(self.value):
                raise _fail(r, i, "value", f"must be a finite number, got {self.value!r}")
            object.__setattr__(self, "value", float(self.value))
            lo_hi = _VALUE_RANGES.get(self.kind)
            if lo_hi and not lo_hi[0] <= self.value <= lo_hi[1]:
                raise _fail(r, i, "value", f"for a {self.kind} event must be between {lo_hi[0]:g} and {lo_hi[1]:g}, got {self.value:g}")
        elif self.kind in ("rate", "quiz"):
            raise _fail(r, i, "value", f"is required for a {self.kind} event")

    @classmethod
    def stored(cls, member: str, item: str, kind: str, at: dt.datetime, value: float | None = None,
               id: str | None = None) -> Event:  # noqa: A002 - the field's name
        """An event read back from a store, which checked it on the way in: built without checking
        again (the checks cost more than the rest of reading a long history)."""
        event = object.__new__(cls)
        # One dict assigned whole: a third of the cost of update() with keywords, which a history
        # of thousands of events pays per event.
        object.__setattr__(event, "__dict__", {"member": member, "item": item, "kind": kind, "at": at,
                                               "value": value, "id": id})
        return event

    @classmethod
    def from_dict(cls, data: Any) -> Event:
        """Build an event from JSON-like data, validating every field."""
        data = _as_mapping("event", data)
        _reject_unknown("event", data, cls.FIELDS)
        _require("event", data, cls.REQUIRED)
        id_ = data.get("id")
        if id_ is not None:
            _check_id("event", id_)
        return cls(
            id=id_,
            member=data["member"],
            item=data["item"],
            kind=data["kind"],
            value=data.get("value"),
            at=parse_datetime(data["at"], record="event", field_="at", id_=id_),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "member": self.member, "item": self.item, "kind": self.kind,
            "value": self.value, "at": self.at.isoformat(),
        }
