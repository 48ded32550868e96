"""The API's request and response schemas (Pydantic), mirroring the library's records.

These describe and type-check what crosses the wire; the library's records still validate
every rule a schema cannot state (an offline item needs a schedule, ``expires`` not before
``published`` ...), so both paths answer 422 with the field named.

Dates and datetimes are kept to the years 1900-2199: far enough for any joining date or plan,
and away from the ends of Python's calendar, where converting time zones overflows.
"""

from __future__ import annotations

import datetime as dt
import re
from copy import copy
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictInt, create_model

from recsys.orgs import MAX_ORG_NAME
from recsys.records import FIRST_YEAR, LAST_YEAR, MAX_MINUTES, MAX_URL_LENGTH

__all__ = [
    "ID_PATTERN", "NOT_BLANK",
    "ItemIn", "ItemOut", "ItemPatch", "ScheduleIn", "ScheduleOut",
    "MemberIn", "MemberOut", "MemberPatch", "MemberRemovalOut", "EventIn", "EventOut", "EventPageOut",
    "WriteResult", "EventsResult", "InputWarningOut", "DigestOut", "OpeningBalanceIn", "OrgNameIn", "OrgNamesOut",
    "ItemPage", "MemberPage",
    "StudyEntryOut", "StudyListOut", "StudyPathOut",
    "SearchHitOut", "SearchResult", "SimilarResult",
    "Health", "ErrorBody", "ErrorDetail", "ErrorInfo",
    "FIRST_YEAR", "LAST_YEAR", "as_json",
    "CoverageItemRef", "CoverageGap", "CoverageReportOut",
    "QuestionIn", "QuestionOut", "QuizAnswersIn", "QuizResultOut", "MemberProgressOut", "OrgProgressOut", "AlertsOut", "ContentFeedbackOut",
]

ID_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"


def _date_text(value: Any) -> Any:
    # Pydantic would also take a number (a Unix time) for a date; the API takes ISO text only.
    if not isinstance(value, str) or not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        raise ValueError("must be a date like 2026-12-01")
    return value


def _datetime_text(value: Any) -> Any:
    if not isinstance(value, str) or not re.match(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}", value):
        raise ValueError("must be a date and time like 2026-12-01T09:00:00 (an offset such as +08:00 is optional)")
    return value


def _year_in_range(value: dt.date) -> dt.date:
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(f"must be in the years {FIRST_YEAR}-{LAST_YEAR}")
    return value


Id = Annotated[str, Field(pattern=ID_PATTERN, min_length=1, max_length=128)]
#: Something besides white space (Python's, which also counts the separators U+001C-U+001F).
NOT_BLANK = r"[^\s\x1c-\x1f]"
#: Text that must hold something besides white space.
Text = Annotated[str, Field(min_length=1, pattern=NOT_BLANK)]
# The year range is also stated as a pattern, so that clients and generated tests know it.
_YEARS = r"^(19|2[01])[0-9]{2}-"
Date = Annotated[dt.date, BeforeValidator(_date_text), AfterValidator(_year_in_range),
                 Field(json_schema_extra={"pattern": _YEARS})]
DateTime = Annotated[dt.datetime, BeforeValidator(_datetime_text), AfterValidator(_year_in_range),
                     Field(json_schema_extra={"pattern": _YEARS})]

# Spelled out for the OpenAPI schema; a test keeps them in step with recsys.records.
ItemKind = Literal["lecture", "video", "article", "case", "quiz", "discussion", "activity"]
EventKind = Literal["impression", "start", "progress", "complete", "skip", "dislike", "rate", "quiz", "attend", "enroll"]
Situation = Literal["regular", "mobile", "infirm"]

_DATE_NOTE = f" Years {FIRST_YEAR}-{LAST_YEAR}."
_TIME_NOTE = " Without an offset it is Asia/Shanghai time." + _DATE_NOTE


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- items ---------------------------------------------------------------------------------------


class ScheduleIn(_Input):
    """When and where an offline activity takes place."""

    starts: DateTime = Field(description="Start time (ISO 8601)." + _TIME_NOTE, examples=["2026-12-09T09:00:00"])
    ends: DateTime = Field(description="End time, after `starts`." + _TIME_NOTE, examples=["2026-12-09T11:30:00"])
    location: Text = Field(
        description="`城市·地点`: the part before `·` is the city matched against members' locations.",
        examples=["太原·山西省革命烈士陵园"],
    )
    capacity: StrictInt | None = Field(
        None, ge=1, le=1_000_000, description="Seats available; null for no limit.", examples=[40]
    )


class ScheduleOut(BaseModel):
    """When and where an offline activity takes place."""

    starts: dt.datetime = Field(description="Start time, with its offset.", examples=["2026-12-09T09:00:00+08:00"])
    ends: dt.datetime = Field(description="End time, with its offset.", examples=["2026-12-09T11:30:00+08:00"])
    location: str = Field(description="`城市·地点`.", examples=["太原·山西省革命烈士陵园"])
    capacity: int | None = Field(description="Seats available; null for no limit.", examples=[40])


class QuestionOption(_Input):
    """One option of a question."""

    key: Text = Field(description="The option's key.", examples=["A"])
    text: str = Field(description="The option's text.", examples=["上海"])


class QuestionIn(_Input):
    """A quiz question with its answer (the party-history bank's shape)."""

    id: Text = Field(description="Question id, unique within the item.", examples=["1"])
    type: Literal["single", "multiple", "judge", "blank"] = Field(
        description="One answer, several answers, true/false, or fill in the blank.", examples=["single"])
    question: Text = Field(description="The question.", examples=["中国共产党第一次全国代表大会在（）召开。"])
    options: list[QuestionOption] = Field(default_factory=list, description="The options; empty for blanks.")
    answer: Text = Field(description="The key(s) of the right option(s), or the blank's text.", examples=["A"])
    points: list[str] = Field(default_factory=list, description="Knowledge points tested.", examples=[["建党"]])
    error_rate: float | None = Field(None, ge=0, le=1, description="Share who answer it wrong, if known.")


class QuestionOut(BaseModel):
    """A quiz question with its answer."""

    id: str = Field(description="Question id.")
    type: str = Field(description="single, multiple, judge or blank.")
    question: str = Field(description="The question.")
    options: list[dict[str, str]] = Field(description="`{key, text}` options.")
    answer: str | None = Field(description="The right answer; null where a member token reads a list or path "
                               "(the member gets it once answered, from `POST /v1/members/{id}/quizzes/{item}`).")
    points: list[str] = Field(description="Knowledge points.")
    error_rate: float | None = Field(description="Share who answer it wrong, if known.")


_ITEM_EXAMPLE = {
    "id": "dis-012",
    "title": "廉洁从业“十不准”解读",
    "body": "结合国企采购、招投标等关键环节，逐条解读廉洁从业规定，并配以典型案例。",
    "kind": "article",
    "mode": "online",
    "minutes": 15,
    "topics": ["廉洁从业", "党章党规党纪"],
    "roles": [],
    "level": 1,
    "published": "2026-10-08",
    "expires": None,
    "requires": [],
    "schedule": None,
    "org": "hxny",
    "url": "https://dangjian.example.com/course/dis-012",
}

#: An http or https link; the library checks the rest (a host, no spaces or control characters).
Url = Annotated[str, Field(min_length=8, max_length=MAX_URL_LENGTH, pattern=r"^[Hh][Tt][Tt][Pp][Ss]?://[^\s]+$")]


class ItemIn(_Input):
    """A piece of learning content to insert or replace (matched by `id`)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_ITEM_EXAMPLE]})

    id: Id = Field(description="Item id: 1-128 of `A-Za-z0-9._:-`; unique per enterprise (another enterprise "
                   "may use the same id for its own item), and a shared item's id is reserved in every one.",
                   examples=["dis-012"])
    title: Text = Field(description="Title, shown in lists.", examples=["廉洁从业“十不准”解读"])
    body: str = Field("", description="The content or its summary (any length); embedded with the title.",
                      examples=["结合国企采购、招投标等关键环节，逐条解读廉洁从业规定。"])
    kind: ItemKind = Field(description="Kind of content; `activity` is always offline.", examples=["article"])
    mode: Literal["online", "offline"] = Field(
        "online", description="`online`, or `offline` (then `schedule` is required).", examples=["online"]
    )
    minutes: StrictInt = Field(ge=1, le=MAX_MINUTES, description="Time to complete, in minutes.", examples=[15])
    topics: list[Text] = Field(default_factory=list, description="Topics, no repeats.", examples=[["廉洁从业"]])
    roles: list[Text] = Field(
        default_factory=list, description="Target roles (e.g. `branch_secretary`); empty means everyone.",
        examples=[["branch_secretary", "committee_member"]],
    )
    level: StrictInt = Field(1, ge=1, le=3, description="Difficulty, 1 (introductory) to 3.", examples=[1])
    published: Date = Field(description="Publication date." + _DATE_NOTE, examples=["2026-10-08"])
    expires: Date | None = Field(None, description="Last day it may be offered; null for never." + _DATE_NOTE,
                                 examples=[None])
    requires: list[Id] = Field(default_factory=list, description="Ids of prerequisite items.",
                               examples=[["dis-001"]])
    schedule: ScheduleIn | None = Field(None, description="Offline items only: when and where.")
    org: Id | None = Field(
        None, description="Owning organisation (dotted path, e.g. `hxny.fdgs`); null = shared by all "
        "(only a platform key, from `recsys keys add --platform`, may write those). A key may write items of its organisation or below.",
        examples=["hxny"],
    )
    questions: list[QuestionIn] = Field(
        default_factory=list, description="Quiz items only: the questions with their answers; ids unique."
    )
    url: Url | None = Field(
        None, description=f"The content's page in the portal: an http:// or https:// link, at most {MAX_URL_LENGTH} "
        "characters. Lists, text and markdown messages and digests link to it.",
        examples=["https://dangjian.example.com/course/dis-012"],
    )


class ItemOut(BaseModel):
    """A piece of learning content."""

    model_config = ConfigDict(json_schema_extra={"examples": [_ITEM_EXAMPLE]})

    id: str = Field(description="Item id.", examples=["dis-012"])
    title: str = Field(description="Title.", examples=["廉洁从业“十不准”解读"])
    body: str = Field(description="The content or its summary.", examples=["结合国企采购、招投标等关键环节……"])
    kind: ItemKind = Field(description="Kind of content.", examples=["article"])
    mode: Literal["online", "offline"] = Field(description="`online` or `offline`.", examples=["online"])
    minutes: int = Field(description="Time to complete, in minutes.", examples=[15])
    topics: list[str] = Field(description="Topics.", examples=[["廉洁从业"]])
    roles: list[str] = Field(description="Target roles; empty means everyone.", examples=[[]])
    level: int = Field(description="Difficulty, 1 to 3.", examples=[1])
    published: dt.date = Field(description="Publication date.", examples=["2026-10-08"])
    expires: dt.date | None = Field(description="Last day it may be offered, or null.", examples=[None])
    requires: list[str] = Field(description="Ids of prerequisite items.", examples=[[]])
    schedule: ScheduleOut | None = Field(description="Offline items: when and where; else null.")
    org: str | None = Field(description="Owning organisation; null = shared.", examples=["hxny"])
    questions: list[QuestionOut] = Field(description="Quiz items: the questions; else empty.", examples=[[]])
    url: str | None = Field(None, description="The content's page in the portal, or null.",
                            examples=["https://dangjian.example.com/course/dis-012"])


# -- members -------------------------------------------------------------------------------------

_MEMBER_EXAMPLE = {
    "id": "m001",
    "name": "李志刚",
    "roles": ["member", "branch_secretary"],
    "org": "hxny.fdgs.zb-yunxing",
    "interests": ["党务工作", "安全生产"],
    "offline": True,
    "location": "太原",
    "daily_minutes": 40,
    "joined": "2003-12-18",
    "situation": "regular",
}


class MemberIn(_Input):
    """A party member to insert or replace (matched by `id`)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_MEMBER_EXAMPLE]})

    id: Id = Field(description="Member id: 1-128 of `A-Za-z0-9._:-`; unique per enterprise (another "
                   "enterprise may have its own member of the same id).", examples=["m001"])
    name: Text = Field(description="Name.", examples=["李志刚"])
    org: Id = Field(description="The member's branch (dotted path); within the key's organisation.",
                    examples=["hxny.fdgs.zb-yunxing"])
    roles: list[Id] = Field(
        default_factory=lambda: ["member"], min_length=1,
        description="Roles held: member, probationary, branch_secretary, committee_member, party_worker, "
        "cadre, frontline, technical, young, retired, or an organisation's own.",
        examples=[["member", "branch_secretary"]],
    )
    interests: list[Text] = Field(default_factory=list, description="Stated interests (topics).",
                                  examples=[["党务工作", "安全生产"]])
    offline: StrictBool | None = Field(
        None, description="Can attend offline activities; default true for a regular member, and it must be "
        "false for mobile or infirm ones.", examples=[True],
    )
    location: Text | None = Field(None, description="The city the member is in.", examples=["太原"])
    daily_minutes: StrictInt = Field(30, ge=1, le=1440, description="Study time on a typical day, in minutes.",
                                     examples=[40])
    joined: Date | None = Field(None, description="Date joined the party (for the political birthday)." + _DATE_NOTE,
                                examples=["2003-12-18"])
    situation: Situation = Field(
        "regular", description="`regular`, `mobile` (流动党员) or `infirm` (elderly, ill or disabled).",
        examples=["regular"],
    )


class MemberOut(BaseModel):
    """A party member."""

    model_config = ConfigDict(json_schema_extra={"examples": [_MEMBER_EXAMPLE]})

    id: str = Field(description="Member id.", examples=["m001"])
    name: str = Field(description="Name.", examples=["李志刚"])
    org: str = Field(description="The member's branch.", examples=["hxny.fdgs.zb-yunxing"])
    roles: list[str] = Field(description="Roles held.", examples=[["member", "branch_secretary"]])
    interests: list[str] = Field(description="Stated interests.", examples=[["党务工作"]])
    offline: bool = Field(description="Can attend offline activities.", examples=[True])
    location: str | None = Field(description="City, or null.", examples=["太原"])
    daily_minutes: int = Field(description="Study time on a typical day, in minutes.", examples=[40])
    joined: dt.date | None = Field(description="Date joined the party, or null.", examples=["2003-12-18"])
    situation: Situation = Field(description="`regular`, `mobile` or `infirm`.", examples=["regular"])


# -- events --------------------------------------------------------------------------------------

_EVENT_EXAMPLE = {
    "id": "m001-20261201-01",
    "member": "m001",
    "item": "dis-012",
    "kind": "complete",
    "value": None,
    "at": "2026-12-01T20:15:00+08:00",
}


class EventIn(_Input):
    """Something a member did with an item."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_EVENT_EXAMPLE]})

    id: Id | None = Field(
        None, description="Idempotency key: an event id already recorded with the same content is skipped, "
        "with other content it is a 409. Ids are unique per enterprise (the top level of the member's "
        "organisation): another enterprise may use the same id, and neither learns that the other did.",
        examples=["m001-20261201-01"],
    )
    member: Id = Field(description="Member id (of the key's organisation).", examples=["m001"])
    item: Id = Field(description="Item id (one the key can see).", examples=["dis-012"])
    kind: EventKind = Field(description="What happened.", examples=["complete"])
    value: float | None = Field(
        None, allow_inf_nan=False,
        description="`progress`: fraction watched 0-1; `rate`: rating 1-5; `quiz`: score 0-1 (required for "
        "rate and quiz).", examples=[None],
    )
    at: DateTime = Field(description="When it happened (ISO 8601)." + _TIME_NOTE, examples=["2026-12-01T20:15:00"])


class EventOut(BaseModel):
    """A recorded event."""

    model_config = ConfigDict(json_schema_extra={"examples": [_EVENT_EXAMPLE]})

    id: str | None = Field(description="Its idempotency key, or null.", examples=["m001-20261201-01"])
    member: str = Field(description="Member id.", examples=["m001"])
    item: str = Field(description="Item id.", examples=["dis-012"])
    kind: EventKind = Field(description="What happened.", examples=["complete"])
    value: float | None = Field(description="Fraction watched, rating or score, or null.", examples=[None])
    at: dt.datetime = Field(description="When it happened, with its offset.", examples=["2026-12-01T20:15:00+08:00"])


class EventPageOut(BaseModel):
    """One page of a member's events, in time order."""

    member: str = Field(description="The member.", examples=["m001"])
    events: list[EventOut] = Field(description="The events of this page, oldest first (ties in the order recorded).")
    total: int = Field(description="The member's events in all.", examples=[128])
    offset: int = Field(description="Position of the first event of this page.", examples=[0])
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page. Unlike `offset`, a cursor "
        "neither repeats nor skips events recorded while paging.", examples=["WyIyMDI2LTEyLTAxVDIwOjE1OjAwKzA4OjAwIiwxXQ"])


class MemberRemovalOut(BaseModel):
    """What removing a member took away."""

    member: str = Field(description="The member removed.", examples=["m001"])
    events: int = Field(description="Their events: deleted, or kept under `pseudonym`.", examples=[42])
    served: int = Field(description="Their stored daily lists, deleted.", examples=[12])
    pseudonym: str | None = Field(
        description="With `keep_history=true`: the id their events are kept under (stable, and it does not "
        "lead back to the member); else null.", examples=["anon:4f0c2a9e1b7d5c3a8e6f0b1d"])


# -- partial updates -----------------------------------------------------------------------------


def _partial(model: type[BaseModel], name: str, doc: str) -> type[BaseModel]:
    """``model`` with every field optional and unset by default, each validated as in ``model``
    when given: what a PATCH takes. A field that may be null in ``model`` may be set to null
    (to clear it); one that may not, may not. ``id`` is optional and must be the path's."""
    fields: dict[str, Any] = {}
    for field_name, info in model.model_fields.items():
        patched = copy(info)
        patched.default, patched.default_factory = None, None
        fields[field_name] = (info.annotation | None if field_name == "id" else info.annotation, patched)
    return create_model(name, __base__=_Input, __doc__=doc, **fields)


ItemPatch = _partial(ItemIn, "ItemPatch", "Fields of an item to change; those left out keep their values.")
MemberPatch = _partial(MemberIn, "MemberPatch", "Fields of a member to change; those left out keep their values.")


# -- write results -------------------------------------------------------------------------------


class InputWarningOut(BaseModel):
    """Something valid but probably a mistake; written all the same unless `strict=true`."""

    index: int | None = Field(description="0-based position of the record in the batch; null for what concerns "
                                          "the file rather than a record written (a CSV or workbook body's "
                                          "header, a row repeating another).", examples=[0])
    line: int | None = Field(None, description="For a CSV or workbook body: the record's line (row).", examples=[2])
    id: str | None = Field(description="The record's id, when it has one.", examples=["m001"])
    field: str | None = Field(description="The field; null for a warning about the header or a whole row.",
                              examples=["roles"])
    message: str = Field(description="What looks wrong, in Chinese.",
                         examples=["角色 'branch_secertary' 不在课程规则中，不会计入任何学时目标；是否应为 'branch_secretary'？"])


class WriteResult(BaseModel):
    """The outcome of a batch upsert."""

    written: int = Field(description="Records inserted or replaced.", examples=[3])
    warnings: list[InputWarningOut] = Field(
        default_factory=list, description="Values that are valid but probably a mistake (a role or topic no "
        "curriculum rule knows); with `strict=true` they refuse the batch instead.")


class EventsResult(BaseModel):
    """The outcome of an event batch."""

    received: int = Field(description="Events in the request.", examples=[5])
    recorded: int = Field(description="Events new to the store.", examples=[4])
    duplicates: int = Field(description="Events already recorded (retries), skipped.", examples=[1])
    warnings: list[InputWarningOut] = Field(
        default_factory=list, description="Events dated in the future; with `strict=true` they refuse the batch.")


# -- pages ---------------------------------------------------------------------------------------


class ItemPage(BaseModel):
    """One page of the items the key can see, by id."""

    items: list[ItemOut] = Field(description="The items of this page.")
    total: int = Field(description="Items visible in all.", examples=[315])
    offset: int = Field(description="Position of the first item of this page.", examples=[0])
    limit: int = Field(description="Page size asked for.", examples=[50])


class MemberPage(BaseModel):
    """One page of the members the key can see, by id."""

    members: list[MemberOut] = Field(description="The members of this page.")
    total: int = Field(description="Members visible in all.", examples=[36])
    offset: int = Field(description="Position of the first member of this page.", examples=[0])
    limit: int = Field(description="Page size asked for.", examples=[50])


# -- recommendations -----------------------------------------------------------------------------


class StudyEntryOut(BaseModel):
    """One entry of a study list."""

    item: ItemOut = Field(description="The item to study.")
    score: float = Field(description="Ranking score (higher is better).", examples=[0.734])
    reasons: list[str] = Field(
        description="Why it was chosen, in Chinese.",
        examples=[["您所在岗位（支部书记）的必修主题：廉洁从业，本年度还差 4.6 学时", "本支部党员近期完成较多"]],
    )
    review: bool = Field(False, description="A completed quiz brought back for review after its spaced interval "
                         "(the only kind of repeat a list makes).", examples=[False])


class StudyListOut(BaseModel):
    """A member's study list for one day."""

    member: str = Field(description="Member id.", examples=["m001"])
    day: dt.date = Field(description="The day.", examples=["2026-12-01"])
    budget: int = Field(description="Minutes available that day.", examples=[40])
    minutes: int = Field(description="Total minutes of the entries (never over the budget).", examples=[35])
    entries: list[StudyEntryOut] = Field(description="What to study, in order.")
    upcoming: list[StudyEntryOut] = Field(
        description="Offline activities of the coming days the member can enrol in (not counted in minutes)."
    )
    notes: list[str] = Field(description="Remarks on the list as a whole (e.g. why it is short).",
                             examples=[["今日可用时间较少，已优先安排必修内容"]])


class StudyPathOut(BaseModel):
    """A multi-day study plan: one list a day, no item twice."""

    member: str = Field(description="Member id.", examples=["m001"])
    start: dt.date = Field(description="First day.", examples=["2026-12-01"])
    minutes: int = Field(description="Total minutes over all days.", examples=[245])
    days: list[StudyListOut] = Field(description="One study list per day.")


class SearchHitOut(BaseModel):
    """An item found, with its similarity."""

    item: ItemOut = Field(description="The item.")
    score: float = Field(description="Cosine similarity to the query or item.", examples=[0.81])


class SearchResult(BaseModel):
    """Items matching a text query, best first."""

    query: str = Field(description="The query as given.", examples=["有限空间作业安全"])
    hits: list[SearchHitOut] = Field(description="The best matches, best first.")


class SimilarResult(BaseModel):
    """Items most similar to an item, best first."""

    item: str = Field(description="The item asked about (never among the hits).", examples=["bus-008"])
    hits: list[SearchHitOut] = Field(description="The most similar items, best first.")


# -- health and errors ---------------------------------------------------------------------------


class Health(BaseModel):
    """Whether the service is up (live) or can serve requests (ready)."""

    status: Literal["live", "ready", "starting", "failed"] = Field(
        description="`live`; `ready` once store and model are loaded; `starting` before; `failed` if loading failed.",
        examples=["ready"],
    )
    detail: str | None = Field(None, description="Why it is not ready, when it is not.", examples=[None])


class ErrorDetail(BaseModel):
    """One problem: of a record in a batch, or of a parameter."""

    index: int | None = Field(description="0-based position of the record in the request body, if a batch.",
                              examples=[2])
    line: int | None = Field(None, description="For a CSV or workbook body: the line (row) of the problem.",
                             examples=[3])
    id: str | None = Field(description="The record's id, when known.", examples=["dis-012"])
    field: str | None = Field(description="The offending field or parameter.", examples=["minutes"])
    message: str = Field(description="What is wrong.", examples=["item minutes must be at least 1, got 0"])


class ErrorInfo(BaseModel):
    """What went wrong."""

    code: str = Field(
        description="Stable error code: validation_error, unauthorized, forbidden, not_found, conflict, "
        "payload_too_large, method_not_allowed, bad_request, not_ready, store_unavailable, internal_error.",
        examples=["validation_error"],
    )
    message: str = Field(description="What was wrong, for a person.",
                         examples=["record 2, id 'dis-012', field 'minutes': item minutes must be at least 1, got 0; "
                                   "nothing was written"])
    details: list[ErrorDetail] = Field(description="Every problem found (may be empty).")


class ErrorBody(BaseModel):
    """The body of every error response."""

    error: ErrorInfo = Field(description="The error.")


def as_json(record: BaseModel) -> dict[str, Any]:
    """A validated request record as the library's JSON form (unset optional fields left out)."""
    return record.model_dump(mode="json", exclude_unset=True)


# -- coverage ----------------------------------------------------------------------------------


class CoverageItemRef(BaseModel):
    """An item the coverage report names."""

    id: str = Field(description="Item id.", examples=["dsc-007"])
    title: str = Field(description="Item title.", examples=["违规接受管理服务对象宴请案例剖析"])
    value: float | None = Field(description="A score, a count or days left, where the list says so.", examples=[0.83])


class CoverageGap(BaseModel):
    """A gap in the catalogue, with what to do about it."""

    kind: Literal["supply", "unreachable", "kind", "level"] = Field(
        description="`supply`: a role's topic has fewer hours than its members need; `unreachable`: members "
        "have nothing they can take in a required topic; `kind`/`level`: a kind or level missing for a topic.",
        examples=["supply"])
    topic: str = Field(description="The topic.", examples=["廉洁从业"])
    role: str | None = Field(description="For supply gaps, the role with the most members short.", examples=["cadre"])
    roles: list[str] = Field(description="For supply gaps, every role short in the topic (one gap per topic).",
                             examples=[["cadre", "branch_secretary"]])
    role_names: list[str] = Field(description="Their Chinese names.", examples=[["领导干部", "支部书记"]])
    members_hurt: int = Field(description="Members affected.", examples=[3])
    detail: str = Field(description="What is wrong (Chinese).")
    commission: str = Field(description="What to commission (Chinese).")
    closest: list[CoverageItemRef] = Field(description="Existing items closest to the gap, to re-target or extend.")


class CoverageReportOut(BaseModel):
    """The coverage report of the key's organisation: supply against demand, catalogue health,
    exposure, near-duplicates, members not reached, and gaps ranked by members hurt."""

    org: str | None = Field(description="The organisation covered.", examples=["hxny"])
    day: dt.date = Field(description="The as-of day.")
    encoder: str = Field(description="The encoder behind the similarity figures.")
    counts: dict[str, int] = Field(description="items, live_items, members, served_lists_90.")
    supply: list[dict[str, Any]] = Field(description="Per role and required topic: members, target and demand "
                                         "hours, online/offline hours by level, members short of content.")
    gaps: list[CoverageGap] = Field(description="Gaps, most members hurt first.")
    health: dict[str, Any] = Field(description="missing_kinds, missing_levels, stale, expiring, offline_upcoming "
                                   "(per branch, with seats left), broken_prerequisites, prerequisite_cycles.")
    exposure: dict[str, Any] = Field(description="served (per item, last 30/90 days), gini, never_served (with "
                                     "reason), rarely_served.")
    duplicates: dict[str, Any] = Field(description="threshold and clusters of near-duplicate items.")
    reach: dict[str, Any] = Field(description="Per branch, members flagged: no_feasible_list, studied_all, required_unreachable, "
                                  "no_impression_14/30, no_completion_14/30, mobile_no_online.")


# -- learning records ------------------------------------------------------------------------------


class HourEntryOut(BaseModel):
    """Hours earned by one completion, with the event that earned them."""

    item: str = Field(description="Item id.")
    title: str = Field(description="Item title.")
    day: dt.date = Field(description="Day completed.")
    hours: float = Field(description="Hours credited by the counting rules.", examples=[4.0])
    kind: str = Field(description="Item kind.")
    mode: str = Field(description="online or offline.")
    topics: list[str] = Field(description="Topics (hours split evenly).")
    event: str = Field(description="The event: its id, or `kind:item@time`.")


class HoursOut(BaseModel):
    """The hours ledger of the year: totals, breakdowns, target, pace and projection."""

    member: str = Field(description='Member id.')
    day: dt.date = Field(description='The day reported.')
    year: int = Field(description='The year counted (of the day).')
    target: float | None = Field(description="Annual target of the member's roles; null: none.", examples=[32])
    hours: float = Field(description="Hours this year.", examples=[12.5])
    expected: float | None = Field(description="Hours due by the day at an even pace.")
    pace: float | None = Field(description="Hours ahead (+) or behind (-) of an even pace.")
    projection: float = Field(description="Hours at year end at the pace so far.")
    status: Literal["ahead", "on_pace", "behind", "no_target"] = Field(description='`ahead`, `on_pace` (within the tolerance), `behind`, or `no_target`.')
    progress: float | None = Field(description="Share of the target done.")
    by_topic: dict[str, float] = Field(description="Hours by topic (an item's hours split over its topics).")
    by_kind: dict[str, float] = Field(description='Hours by item kind.')
    by_mode: dict[str, float] = Field(description='Hours online and offline.')
    by_month: dict[str, float] = Field(description='Hours by month (YYYY-MM).')
    entries: list[HourEntryOut] = Field(description='One entry per credited completion, in time order.')


class PointEntryOut(BaseModel):
    """Points given by one rule, traced to the events that earned them."""

    day: dt.date = Field(description='Day earned.')
    points: float = Field(description='Points (negative for a deduction).')
    rule: Literal["action", "deduction", "required_topic", "streak"] = Field(description='The rule that gave them.')
    detail: str = Field(description="The event kind, the topic or the streak.")
    events: list[str] = Field(description="The events that earned them.")
    item: str | None = Field(description='The item, for action points and deductions.')
    capped: float = Field(description="Points the daily cap withheld.")


class PointsOut(BaseModel):
    """The points ledger of the year."""

    member: str = Field(description='Member id.')
    day: dt.date = Field(description='The day reported.')
    year: int = Field(description='The year counted.')
    total: float = Field(description='Points this year.')
    by_rule: dict[str, float] = Field(description='Points by rule.')
    entries: list[PointEntryOut] = Field(description='Every entry, by day.')


class TopicMasteryOut(BaseModel):
    """The quiz-based mastery estimate of one topic (Elo rating; level to study next)."""

    topic: str = Field(description='The topic.')
    rating: float = Field(description='Elo rating (0: 73 % expected at level 1, 50 % at level 2).')
    quizzes: int = Field(description='Quizzes that informed it.')
    last_score: float = Field(description='The latest quiz score in the topic.')
    level: int = Field(description="The level to study next, 1-3.")
    weak: bool = Field(description="Even level-1 items are expected to be scored low.")


class ReviewOut(BaseModel):
    """A missed quiz waiting for review."""

    item: str = Field(description='The quiz item id.')
    due: dt.date = Field(description="First day it comes back.")
    attempts: int = Field(description="Attempts scored below the review threshold.")
    last_score: float = Field(description='The last score.')
    since: dt.date = Field(description="Day the member last did it.")


class MemberProgressOut(BaseModel):
    """A member's learning records: hours, points, mastery and reviews."""

    member: str = Field(description="Member id.", examples=["m001"])
    name: str = Field(description='Member name.')
    org: str = Field(description="The member's branch.")
    day: dt.date = Field(description='The day reported.')
    hours: HoursOut = Field(description='The hours ledger of the year.')
    points: PointsOut = Field(description='Points this year, each entry traced to its events.')
    mastery: list[TopicMasteryOut] = Field(description='Mastery per topic quizzed.')
    reviews: list[ReviewOut] = Field(description='Quizzes waiting for review, by due day.')


class LeaderboardRow(BaseModel):
    """One member on a branch's points leaderboard."""

    member: str = Field(description='Member id.')
    name: str = Field(description='Member name.')
    points: float = Field(description='Points this year.')
    hours: float = Field(description='Hours this year.')


class BranchProgressOut(BaseModel):
    """A branch's totals and points leaderboard."""

    org: str = Field(description='The branch.')
    org_name: str = Field(description="Its display name (`PUT /v1/orgs`), else its code.", examples=["运行党支部"])
    members: int = Field(description='Members counted.')
    hours: float = Field(description='Their hours this year.')
    target: float = Field(description="Sum of the members' annual targets.")
    progress: float | None = Field(description='Hours of members with a target over target, or null without targets.')
    untargeted: int = Field(description='Members without a target (infirm members, roles with none).')
    untargeted_hours: float = Field(description="Their hours: counted in `hours`, not in `progress`.")
    behind: int = Field(description="Members behind pace.")
    points: float = Field(description='Their points this year.')
    leaderboard: list[LeaderboardRow] = Field(description='Members by points, then hours.')


class OrgProgressOut(BaseModel):
    """An organisation's progress by branch."""

    org: str = Field(description='The organisation.')
    org_name: str = Field(description="Its display name (`PUT /v1/orgs`), else its code.", examples=["发电公司党委"])
    day: dt.date = Field(description='The day reported.')
    year: int = Field(description='The year counted.')
    members: int = Field(description='Members counted.')
    hours: float = Field(description='Their hours this year.')
    target: float = Field(description='Sum of their annual targets.')
    progress: float | None = Field(description='Hours of members with a target over target, or null without targets.')
    untargeted: int = Field(description='Members without a target (infirm members, roles with none).')
    untargeted_hours: float = Field(description="Their hours: counted in `hours`, not in `progress`.")
    behind: int = Field(description='Members behind pace.')
    branches: list[BranchProgressOut] = Field(description='One row per branch.')


class AlertOut(BaseModel):
    """An alert for party-affairs workers."""

    kind: Literal["behind_pace", "inactive", "mobile_no_contact", "no_themed_day"] = Field(description='`behind_pace`, `inactive` (30 days), `mobile_no_contact` (6 months) or `no_themed_day` (this month).')
    org: str = Field(description="The member's branch, or the branch concerned.")
    org_name: str = Field(description="Its display name (`PUT /v1/orgs`), else its code.", examples=["运行党支部"])
    member: str | None = Field(description="The member; null for a branch alert.")
    message: str = Field(description="What is wrong (Chinese).", examples=["流动党员王强已超过 6 个月没有联系，请及时联系"])
    last_active: dt.date | None = Field(description="The member's last activity day, if known.")
    hours_behind: float | None = Field(description='For `behind_pace`: hours behind an even pace.')


class AlertsOut(BaseModel):
    """The alerts of an organisation on a day."""

    org: str = Field(description='The organisation covered.')
    day: dt.date = Field(description='The day.')
    counts: dict[str, int] = Field(description="Alerts by kind.")
    alerts: list[AlertOut] = Field(description='The alerts: members first, then branches.')


class ContentFlagOut(BaseModel):
    """An item with a problem for one role, with the counts behind it (per member)."""

    item: str = Field(description="Item id.")
    title: str = Field(description="Item title.")
    role: str = Field(description="The role of the members counted.", examples=["young"])
    shown: int = Field(description="Members shown it (or who skipped or started it).")
    started: int = Field(description="Members who started or completed it.")
    completed: int = Field(description="Members who completed it.")
    skipped: int = Field(description="Members who skipped it.")
    ratings: int = Field(description="Members who rated it.")
    rating: float | None = Field(description="Mean of the members' last ratings, 1-5.")
    completion_rate: float | None = Field(description="completed / started.")
    skip_rate: float | None = Field(description="skipped / shown.")
    problems: list[Literal["low_completion", "high_skip", "low_rating"]] = Field(
        description="What is wrong: under 30 % of starters finish, 30 % or more of those shown skip, mean rating 2.5 or less.")


class ContentFeedbackOut(BaseModel):
    """Items to fix or retire, per role, from the behaviour of the organisation's members."""

    org: str = Field(description="The organisation whose members are counted.")
    flags: list[ContentFlagOut] = Field(description="Flagged items by id, then role.")


# -- digests -------------------------------------------------------------------------------------


class DigestItemOut(BaseModel):
    """An item on the day's lists of the organisation's members."""

    id: str = Field(description="Item id.", examples=["dis-012"])
    title: str = Field(description="Title.", examples=["廉洁从业“十不准”解读"])
    kind: str = Field(description="Kind.", examples=["article"])
    minutes: int = Field(description="Minutes.", examples=[15])
    members: int = Field(description="Members whose list holds it.", examples=[3])
    url: str | None = Field(None, description="The item's page in the portal, or null.")


class DigestActivityOut(BaseModel):
    """An offline activity of the coming two weeks with seats left, not yet over."""

    id: str = Field(description="Item id.", examples=["off-101"])
    title: str = Field(description="Title.", examples=["冬季机组跳闸与厂用电中断应急演练"])
    starts: dt.datetime = Field(description="Start time, with its offset.", examples=["2026-12-09T14:00:00+08:00"])
    location: str = Field(description="`城市·地点`.", examples=["太原·发电公司集控楼"])
    seats_left: int | None = Field(description="Seats left; null for no limit.", examples=[40])
    url: str | None = Field(None, description="The activity's page in the portal (to sign up), or null.")
    audience: str | None = Field(None, description="For whom it is, where not every member of the organisation "
                                 "may join (role names); null where all may.", examples=["支部书记、支委委员"])


class DigestOut(BaseModel):
    """An organisation's digest of the day: no member named, no one's hours."""

    org: str = Field(description="The organisation.", examples=["hxny.fdgs.zb-yunxing"])
    org_name: str = Field(description="Its display name (`PUT /v1/orgs`), else its code.", examples=["运行党支部"])
    day: dt.date = Field(description="The day.", examples=["2026-12-01"])
    members: int = Field(description="Members of the organisation.", examples=[6])
    with_list: int = Field(description="Of them, members with a list for the day with something in it.",
                           examples=[6])
    empty: int = Field(0, description="Of them, members given an empty list (nothing open fits their day).",
                       examples=[0])
    items: list[DigestItemOut] = Field(description="Items of the day's lists, most members first.")
    activities: list[DigestActivityOut] = Field(description="Activities ahead, soonest first.")


# -- organisations -------------------------------------------------------------------------------


class OrgNameIn(_Input):
    """The display name of one organisation (replaces an earlier one of the same code)."""

    org: Id = Field(description="The organisation's dotted code; the key's organisation or a unit under it.",
                    examples=["hxny.fdgs.zb-yunxing"])
    name: Annotated[str, Field(min_length=1, max_length=MAX_ORG_NAME, pattern=NOT_BLANK)] = Field(
        description=f"What reports, digests and alerts call it (at most {MAX_ORG_NAME} characters).",
        examples=["运行党支部"])


class OrgNamesOut(BaseModel):
    """Display names of organisations, by code."""

    names: dict[str, str] = Field(description="Code → display name.",
                                  examples=[{"hxny.fdgs": "发电公司党委", "hxny.fdgs.zb-yunxing": "运行党支部"}])


# -- opening balances ----------------------------------------------------------------------------


class OpeningBalanceIn(_Input):
    """Hours a member studied in a year before records began (replaces one of the same member,
    year and topic)."""

    member: Id = Field(description="Member id (of the key's organisation).", examples=["m001"])
    year: StrictInt = Field(ge=FIRST_YEAR, le=LAST_YEAR, description="The year the hours count for.", examples=[2026])
    hours: float = Field(ge=0, le=366 * 24, strict=True, allow_inf_nan=False, description="Hours studied.",
                         examples=[41.5])
    topic: Text | None = Field(None, description="The topic they were studied in, if known.", examples=["党史"])
    note: str = Field("", max_length=500, description="Where the figure comes from.", examples=["截至10月底学习台账"])


# -- member tokens and the member's own page ----------------------------------------------------


class MemberTokenIn(_Input):
    """How long the token should live."""

    hours: float = Field(12.0, gt=0, le=7 * 24, allow_inf_nan=False,
                         description="Lifetime in hours: more than 0, at most 168 (7 days).", examples=[12])


class MemberTokenOut(BaseModel):
    """A token acting for one member only, and the page it opens."""

    member: str = Field(description="The member the token acts for.", examples=["m001"])
    token: str = Field(description="Send as `Authorization: Bearer <token>` or open `/m?token=<token>`.")
    expires: dt.datetime = Field(description="When it stops being accepted (UTC).")
    page: str = Field(description="The member's page, relative to the service.", examples=["/m?token=rsm.eyJ..."])


MemberEventKind = Literal["start", "progress", "complete", "skip", "dislike", "rate", "quiz"]


class MemberEventIn(_Input):
    """Something the member did with an item (the member is the one of the path)."""

    id: Id | None = Field(None, description="Idempotency key, as for `POST /v1/events`.", examples=["m001-20261201-01"])
    item: Id = Field(description="Item id (one the member can see).", examples=["dis-012"])
    kind: MemberEventKind = Field(
        description="What the member did (`enroll` goes through `PUT .../enrolments/{item}`, which checks seats).",
        examples=["complete"])
    value: float | None = Field(None, allow_inf_nan=False, description="As for `POST /v1/events`.", examples=[None])
    at: DateTime | None = Field(None, description="When (ISO 8601); default: now." + _TIME_NOTE,
                                examples=["2026-12-01T20:15:00"])


class EnrolmentOut(BaseModel):
    """The member's seat in an activity after the request."""

    member: str = Field(description="The member.", examples=["m001"])
    item: str = Field(description="The activity.", examples=["off-003"])
    enrolled: bool = Field(description="Whether the member now holds a seat.")
    changed: bool = Field(description="False when the member already held (or had already given back) a seat.")
    seats_left: int | None = Field(description="Seats left after the request; null: no limit.")


class QuizAnswersIn(_Input):
    """The member's answers to a quiz item's questions."""

    id: Id | None = Field(None, description="Idempotency key: the same answers sent again with it (a retry) are "
                          "recorded once.", examples=["w1k2j3"])
    answers: dict[Annotated[str, Field(max_length=128)], Annotated[str, Field(max_length=200)]] = Field(
        max_length=200, description="Question id to the response: an option's key (`A`), keys (`AC`), an option's "
        "text, or a blank's text. A question left out counts as answered wrong.",
        examples=[{"1": "A", "2": "AC", "3": "B", "4": "提高质量"}])


class QuizResultOut(BaseModel):
    """A quiz answered: the score, recorded as a `quiz` event that completes the item."""

    member: str = Field(description="The member.", examples=["m001"])
    item: str = Field(description="The quiz item.", examples=["dsq-001"])
    score: float = Field(description="Share answered right, 0-1.", examples=[0.75])
    right: int = Field(description="Questions answered right.", examples=[3])
    total: int = Field(description="Questions in the quiz.", examples=[4])
    correct: list[bool] = Field(description="Per question, in the quiz's order: answered right.",
                                examples=[[True, True, False, True]])
    answers: list[str] = Field(description="Per question, the right answer (shown once answered).",
                               examples=[["A", "AC", "B", "提高质量"]])
    recorded: bool = Field(description="False when the same event id was recorded before (a retry).")
