"""A read-only snapshot of the catalogue with the orderings a request needs, built once per
change of the catalogue rather than scanned on every request."""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from recsys.records import TZ, Item

__all__ = ["Catalogue"]

#: Longest an offline activity may run and still be found by :meth:`Catalogue.offline_between`.
_LONGEST_ACTIVITY = dt.timedelta(days=31)


@dataclass(frozen=True)
class Catalogue(Mapping[str, Item]):
    """Items by id, plus: by publication date, offline activities by start, items by topic.

    Behaves as a read-only mapping of id to :class:`Item`.
    """

    items: Mapping[str, Item]
    _published: list[tuple[dt.date, str]] = field(default_factory=list, repr=False)
    _offline: list[tuple[dt.datetime, str]] = field(default_factory=list, repr=False)
    by_topic: Mapping[str, tuple[str, ...]] = field(default_factory=dict, repr=False)

    @classmethod
    def build(cls, items: Mapping[str, Item]) -> Catalogue:
        published = sorted((it.published, it.id) for it in items.values())
        offline = sorted(
            (it.schedule.starts.astimezone(TZ), it.id) for it in items.values() if it.schedule is not None
        )
        topics: dict[str, list[tuple[dt.date, str]]] = {}
        for it in items.values():
            for t in it.topics:
                topics.setdefault(t, []).append((it.published, it.id))
        by_topic = {t: tuple(i for _, i in sorted(v, reverse=True)) for t, v in topics.items()}
        return cls(items, published, offline, by_topic)

    def __getitem__(self, key: str) -> Item:
        return self.items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def published_between(self, first: dt.date, last: dt.date) -> list[str]:
        """Ids of items published from ``first`` to ``last`` (inclusive)."""
        lo = bisect.bisect_left(self._published, (first, ""))
        hi = bisect.bisect_right(self._published, (last, "\U0010ffff"))
        return [i for _, i in self._published[lo:hi]]

    def offline_between(self, first: dt.date, last: dt.date) -> list[str]:
        """Ids of offline activities taking place on some day from ``first`` to ``last``."""
        start = dt.datetime.combine(first, dt.time(), TZ) - _LONGEST_ACTIVITY
        end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), TZ)
        lo = bisect.bisect_left(self._offline, (start, ""))
        hi = bisect.bisect_left(self._offline, (end, ""))
        out = []
        for _, i in self._offline[lo:hi]:
            s = self.items[i].schedule
            if s.ends.astimezone(TZ).date() >= first:
                out.append(i)
        return out

    @property
    def offline_ids(self) -> list[str]:
        return [i for _, i in self._offline]
