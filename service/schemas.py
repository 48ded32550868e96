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
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictInt

from recsys.records import FIRST_YEAR, LAST_YEAR, MAX_MINUTES

__all__ = [
    "ID_PATTERN", "NOT_BLANK",
    "ItemIn", "ItemOut", "ScheduleIn", "ScheduleOut",
    "MemberIn", "MemberOut", "EventIn",
    "WriteResult", "EventsResult",
    "ItemPage", "MemberPage",
    "StudyEntryOut", "StudyListOut", "StudyPathOut",
    "SearchHitOut", "SearchResult", "SimilarResult",
    "Health", "ErrorBody", "ErrorDetail", "ErrorInfo",
    "FIRST_YEAR", "LAST_YEAR", "as_json",
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
}


class ItemIn(_Input):
    """A piece of learning content to insert or replace (matched by `id`)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_ITEM_EXAMPLE]})

    id: Id = Field(description="Item id: 1-128 of `A-Za-z0-9._:-`.", examples=["dis-012"])
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
        "(only an admin key may write those). A key may write items of its organisation or below.",
        examples=["hxny"],
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

    id: Id = Field(description="Member id: 1-128 of `A-Za-z0-9._:-`.", examples=["m001"])
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
        "with other content it is a 409. Event ids are global to the store: use UUIDs or prefix them.",
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


# -- write results -------------------------------------------------------------------------------


class WriteResult(BaseModel):
    """The outcome of a batch upsert."""

    written: int = Field(description="Records inserted or replaced.", examples=[3])


class EventsResult(BaseModel):
    """The outcome of an event batch."""

    received: int = Field(description="Events in the request.", examples=[5])
    recorded: int = Field(description="Events new to the store.", examples=[4])
    duplicates: int = Field(description="Events already recorded (retries), skipped.", examples=[1])


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
        examples=[["你所在岗位（支部书记）的必修主题：廉洁从业，本年度还差 4.6 学时", "本支部党员近期完成较多"]],
    )


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
