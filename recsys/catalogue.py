"""A read-only snapshot of the catalogue with the orderings a request needs, built once per
change of the catalogue rather than scanned on every request, and its attributes as columns
(:class:`Columns`) for rules and scores computed as array operations."""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from recsys.records import TZ, Item

__all__ = ["Catalogue", "Columns"]

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

    @cached_property
    def columns(self) -> Columns:
        """The items' attributes as arrays, row ``i`` for the ``i``-th item (built on first use)."""
        return Columns.build(self.items)


#: An ordinal later than any date: what "expires: never" compares as.
NEVER = np.iinfo(np.int32).max


@dataclass(frozen=True, eq=False)
class Columns:
    """The catalogue as columns: what the hard rules and the scorer read, one array per attribute.

    Dates are proleptic ordinals (``date.toordinal()``), offline dates are Shanghai dates.
    Strings that rules compare (roles, owning organisations, cities, prerequisites) are coded as
    indices into small vocabularies.

    Attributes:
        ids: Item ids; ``row[id]`` is the row of an id.
        published, expires: Ordinals (``NEVER`` for items that do not expire).
        level, minutes: Per item.
        offline: Whether the item is an offline activity.
        role_names: The roles any item targets; ``roles[i, r]``: item i targets role r;
            ``targeted[i]``: item i targets any role (else it is for everyone).
        owners: Owning organisations; ``owner[i]`` indexes them, -1 for shared items.
        cities: Cities of offline activities; ``city[i]`` indexes them, -1 for none.
        starts_day, ends_day: Shanghai dates of an offline activity's start and end.
        ends_at: When an offline activity ends (seconds since the epoch; +inf for online items).
        capacity: Seats of an offline activity, -1 for unlimited.
        required: Ids any item requires; ``req_item[j]`` is the row needing ``required[req_key[j]]``.
        titles: For rules on titles (see :meth:`title_flag`).
    """

    ids: tuple[str, ...]
    row: Mapping[str, int]
    published: np.ndarray
    expires: np.ndarray
    level: np.ndarray
    minutes: np.ndarray
    offline: np.ndarray
    role_names: tuple[str, ...]
    roles: np.ndarray
    targeted: np.ndarray
    owners: tuple[str, ...]
    owner: np.ndarray
    cities: tuple[str, ...]
    city: np.ndarray
    starts_day: np.ndarray
    ends_day: np.ndarray
    ends_at: np.ndarray
    capacity: np.ndarray
    required: tuple[str, ...]
    req_item: np.ndarray
    req_key: np.ndarray
    titles: tuple[str, ...]
    _flags: dict = field(default_factory=dict, repr=False)

    @classmethod
    def build(cls, items: Mapping[str, Item]) -> Columns:
        its = list(items.values())
        n = len(its)
        ids = tuple(it.id for it in its)

        def vocab(values) -> tuple[str, ...]:
            return tuple(sorted({v for v in values if v}))

        role_names = vocab(r for it in its for r in it.roles)
        role_col = {r: k for k, r in enumerate(role_names)}
        roles = np.zeros((n, len(role_names)), dtype=bool)
        for i, it in enumerate(its):
            roles[i, [role_col[r] for r in it.roles]] = True
        owners = vocab(it.org for it in its)
        owner_of = {o: k for k, o in enumerate(owners)}
        cities = vocab(it.schedule.city for it in its if it.schedule is not None)
        city_of = {c: k for k, c in enumerate(cities)}
        required = vocab(r for it in its for r in it.requires)
        req_of = {r: k for k, r in enumerate(required)}
        req_pairs = [(i, req_of[r]) for i, it in enumerate(its) for r in it.requires]
        starts = np.zeros(n, dtype=np.int32)
        ends = np.zeros(n, dtype=np.int32)
        ends_at = np.full(n, np.inf)
        capacity = np.full(n, -1, dtype=np.int64)
        city = np.full(n, -1, dtype=np.int32)
        for i, it in enumerate(its):
            s = it.schedule
            if s is not None:
                starts[i] = s.starts.astimezone(TZ).date().toordinal()
                ends[i] = s.ends.astimezone(TZ).date().toordinal()
                ends_at[i] = s.ends.timestamp()
                capacity[i] = -1 if s.capacity is None else s.capacity
                city[i] = city_of.get(s.city, -1)
        return cls(
            ids=ids,
            row={id_: i for i, id_ in enumerate(ids)},
            published=np.array([it.published.toordinal() for it in its], dtype=np.int32),
            expires=np.array([NEVER if it.expires is None else it.expires.toordinal() for it in its], dtype=np.int32),
            level=np.array([it.level for it in its], dtype=np.int16),
            minutes=np.array([it.minutes for it in its], dtype=np.int32),
            offline=np.array([it.mode == "offline" for it in its], dtype=bool),
            role_names=role_names,
            roles=roles,
            targeted=roles.any(axis=1) if n else np.zeros(0, dtype=bool),
            owners=owners,
            owner=np.array([owner_of[it.org] if it.org else -1 for it in its], dtype=np.int32),
            cities=cities,
            city=city,
            starts_day=starts,
            ends_day=ends,
            ends_at=ends_at,
            capacity=capacity,
            required=required,
            req_item=np.array([i for i, _ in req_pairs], dtype=np.int64),
            req_key=np.array([k for _, k in req_pairs], dtype=np.int64),
            titles=tuple(it.title for it in its),
        )

    def __len__(self) -> int:
        return len(self.ids)

    def rows(self, ids) -> np.ndarray:
        """The rows of those ``ids`` that are in the catalogue, in the order given."""
        row = self.row
        return np.fromiter((row[i] for i in ids if i in row), dtype=np.int64)

    def flag(self, ids) -> np.ndarray:
        """A boolean column: True on the rows of ``ids`` (ids not in the catalogue are ignored)."""
        out = np.zeros(len(self.ids), dtype=bool)
        out[self.rows(ids)] = True
        return out

    def title_flag(self, keywords: tuple[str, ...]) -> np.ndarray:
        """Items whose title holds any of ``keywords`` (computed once per set of keywords)."""
        found = self._flags.get(keywords)
        if found is None:
            found = np.array([any(k in t for k in keywords) for t in self.titles], dtype=bool)
            self._flags[keywords] = found
        return found
