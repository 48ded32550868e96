"""Opening balances: hours a member studied this year before the organisation started recording.

An enterprise that goes live in November has members with ten months of study already behind
them. Without their hours every pace would read "behind" and every alert would fire. An
:class:`OpeningBalance` carries those hours into the ledger, where it stands as its own entry
(kind ``opening_balance``), never mixed with hours earned from events.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from recsys.exceptions import ValidationError
from recsys.learning.ledger import HourEntry
from recsys.records import FIRST_YEAR, LAST_YEAR

__all__ = ["OpeningBalance", "OPENING_KIND", "parse_balances"]

#: The kind and mode of a ledger entry that is an opening balance.
OPENING_KIND = "opening_balance"


@dataclass(frozen=True)
class OpeningBalance:
    """Hours a member studied in ``year`` before records began.

    Attributes:
        member: The member id.
        year: The year the hours count for.
        hours: The hours (at least 0, at most a year's worth of days).
        topic: The topic they were studied in, if known (else they count toward no topic).
        note: Where the figure comes from (e.g. 截至10月底线下学习台账).
    """

    member: str
    year: int
    hours: float
    topic: str | None = None
    note: str = ""

    FIELDS: ClassVar[tuple[str, ...]] = ("member", "year", "hours", "topic", "note")
    REQUIRED: ClassVar[tuple[str, ...]] = ("member", "year", "hours")
    #: 主题 is an item's topics elsewhere; a balance has one topic.
    COLUMNS: ClassVar[Mapping[str, str]] = {"主题": "topic", "专题": "topic"}
    #: Balances have no id of their own: (member, year, topic) names one.
    id: ClassVar[None] = None

    def __post_init__(self) -> None:
        where = {"record": self.member if isinstance(self.member, str) else None}
        if not isinstance(self.member, str) or not self.member.strip():
            raise ValidationError(f"opening balance member must be a member id, got {self.member!r}", field="member")
        if isinstance(self.year, bool) or not isinstance(self.year, int) or not FIRST_YEAR <= self.year <= LAST_YEAR:
            raise ValidationError(f"opening balance year must be a year like 2026, got {self.year!r}", field="year", **where)
        if isinstance(self.hours, bool) or not isinstance(self.hours, (int, float)) or not math.isfinite(self.hours) \
                or not 0 <= self.hours <= 366 * 24:
            raise ValidationError(f"opening balance hours must be a number of hours from 0, got {self.hours!r}",
                                  field="hours", **where)
        object.__setattr__(self, "hours", float(self.hours))
        if self.topic is not None and (not isinstance(self.topic, str) or not self.topic.strip()):
            raise ValidationError(f"opening balance topic must be text or empty, got {self.topic!r}", field="topic", **where)
        if not isinstance(self.note, str):
            raise ValidationError(f"opening balance note must be text, got {self.note!r}", field="note", **where)

    @property
    def key(self) -> tuple[str, int, str]:
        """What a later balance replaces: the same member, year and topic."""
        return self.member, self.year, self.topic or ""

    @classmethod
    def from_dict(cls, data: Any) -> OpeningBalance:
        """Build from the JSON form, validating every field."""
        if not isinstance(data, Mapping):
            raise ValidationError(f"opening balance must be a JSON object, got {type(data).__name__}")
        unknown = sorted(set(data) - set(cls.FIELDS))
        if unknown:
            raise ValidationError(f"opening balance has unknown field(s) {unknown}", field=unknown[0])
        for name in cls.REQUIRED:
            if data.get(name) is None:
                raise ValidationError(f"opening balance is missing required field {name!r}", field=name)
        return cls(member=data["member"], year=data["year"], hours=data["hours"], topic=data.get("topic"),
                   note=data.get("note") or "")

    def to_dict(self) -> dict[str, Any]:
        return {"member": self.member, "year": self.year, "hours": self.hours, "topic": self.topic, "note": self.note}

    def entry(self) -> HourEntry:
        """The balance as an entry of the member's hours ledger, dated the first day of its year."""
        title = "期初学时" + (f"（{self.note}）" if self.note else "")
        return HourEntry(item="", title=title, day=dt.date(self.year, 1, 1), hours=self.hours, kind=OPENING_KIND,
                         mode=OPENING_KIND, topics=(self.topic,) if self.topic else (), event=OPENING_KIND)


def parse_balances(stored: str | None) -> list[tuple[str, OpeningBalance]]:
    """The opening balances of the store's setting (see :data:`recsys.storage.BALANCES_META`),
    each with its member's tenant."""
    return [(data.pop("tenant", ""), OpeningBalance.from_dict(data)) for data in json.loads(stored or "[]")]
