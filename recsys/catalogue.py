"""A read-only snapshot of the catalogue with the orderings a request needs, built once per
change of the catalogue rather than scanned on every request, its attributes as columns
(:class:`Columns`) and its vectors by the same rows, for rules, retrieval and scores computed as
array operations over catalogue rows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from recsys.embedding.duplicates import duplicate_clusters
from recsys.embedding.index import ExactIndex, FaissIndex, VectorIndex
from recsys.orgs import within
from recsys.records import TZ, Item, city_key

__all__ = ["Catalogue", "Columns"]

#: Longest an offline activity may run and still be found by :meth:`Catalogue.offline_between`.
_LONGEST_ACTIVITY = dt.timedelta(days=31)


def _orderings(items: Iterable[Item]) -> tuple[list, list, dict[str, tuple[str, ...]]]:
    """Items by publication, offline activities by start, and items by topic (newest first)."""
    items = list(items)
    published = sorted((it.published, it.id) for it in items)
    offline = sorted((it.schedule.starts.astimezone(TZ), it.id) for it in items if it.schedule is not None)
    topics: dict[str, list[tuple[dt.date, str]]] = {}
    for it in items:
        for t in it.topics:
            topics.setdefault(t, []).append((it.published, it.id))
    return published, offline, {t: tuple(i for _, i in sorted(v, reverse=True)) for t, v in topics.items()}


@dataclass(frozen=True)
class Catalogue(Mapping[str, Item]):
    """Items by id, plus: by publication date, offline activities by start, items by topic, and
    (given the vector index of the same revision) the items' vectors by catalogue row.

    Behaves as a read-only mapping of id to :class:`Item`.
    """

    items: Mapping[str, Item]
    _published: list[tuple[dt.date, str]] = field(default_factory=list, repr=False)
    _offline: list[tuple[dt.datetime, str]] = field(default_factory=list, repr=False)
    by_topic: Mapping[str, tuple[str, ...]] = field(default_factory=dict, repr=False)
    #: The vector index of the same revision; it must not change while this catalogue is used.
    index: VectorIndex | None = field(default=None, repr=False, compare=False)
    _aligned: dict = field(default_factory=dict, repr=False, compare=False)
    _duplicates: dict = field(default_factory=dict, repr=False, compare=False)
    _hits: dict = field(default_factory=dict, repr=False, compare=False)
    _topic_rows: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def build(cls, items: Mapping[str, Item], index: VectorIndex | None = None, *,
              previous: Catalogue | None = None, changed: Iterable[str] = ()) -> Catalogue:
        """The catalogue of ``items``.

        With ``previous`` (the catalogue of the revision before) and ``changed`` (every id
        added or replaced since; ids no longer in ``items`` count as removed), only what the
        changed items touch is redone: a large catalogue changes by a few items at a time.
        """
        if previous is None:
            return cls(items, *_orderings(items.values()), index)
        changed = {i for i in changed if i in items}
        gone = changed | {i for i in previous.items if i not in items}
        fresh = [items[i] for i in changed]
        published, offline, new_topics = _orderings(fresh)
        published = sorted([p for p in previous._published if p[1] not in gone] + published)
        offline = sorted([o for o in previous._offline if o[1] not in gone] + offline)
        touched = set(new_topics).union(*(previous.items[i].topics for i in gone if i in previous.items))
        by_topic = {t: ids for t, ids in previous.by_topic.items() if t not in touched}
        for t in touched:
            ids = [i for i in previous.by_topic.get(t, ()) if i not in gone] + list(new_topics.get(t, ()))
            if ids:
                by_topic[t] = tuple(sorted(ids, key=lambda i: (items[i].published, i), reverse=True))
        out = cls(items, published, offline, by_topic, index)
        if "columns" in previous.__dict__:  # built: keep it current rather than build it again
            out.__dict__["columns"] = previous.columns.updated(items, changed)
        return out

    def __getitem__(self, key: str) -> Item:
        return self.items[key]

    def items_of(self, ids: Iterable[str]) -> dict[str, Item]:
        """The items of those of ``ids`` in the catalogue, by id."""
        found = self.items
        return {i: found[i] for i in ids if i in found}

    def __iter__(self) -> Iterator[str]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def published_rows_between(self, first: dt.date, last: dt.date) -> np.ndarray:
        """Rows of the items published from ``first`` to ``last`` (inclusive), oldest first (ties
        by id)."""
        days, rows = self._by_publication
        lo = np.searchsorted(days, first.toordinal(), side="left")
        hi = np.searchsorted(days, last.toordinal(), side="right")
        return rows[lo:hi]

    def offline_between(self, first: dt.date, last: dt.date) -> list[str]:
        """Ids of offline activities taking place on some day from ``first`` to ``last``, by
        start (ties by id)."""
        ids = self.columns.ids
        return [ids[r] for r in self.offline_rows_between(first, last).tolist()]

    def offline_rows_between(self, first: dt.date, last: dt.date) -> np.ndarray:
        """:meth:`offline_between` as catalogue rows."""
        starts, rows = self._by_start
        start = (dt.datetime.combine(first, dt.time(), TZ) - _LONGEST_ACTIVITY).timestamp()
        end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), TZ).timestamp()
        lo, hi = np.searchsorted(starts, [start, end], side="left")
        rows = rows[lo:hi]
        return rows[self.columns.ends_day[rows] >= first.toordinal()]

    def topic_rows(self, topic: str) -> np.ndarray:
        """:attr:`by_topic` as catalogue rows, newest first."""
        found = self._topic_rows.get(topic)
        if found is None:
            found = self._topic_rows[topic] = self.columns.rows(self.by_topic.get(topic, ()))
        return found

    @cached_property
    def _by_publication(self) -> tuple[np.ndarray, np.ndarray]:
        """Publication ordinals in the order of :attr:`_published`, and the rows in that order."""
        return (np.array([d.toordinal() for d, _ in self._published], dtype=np.int64),
                self.columns.rows(i for _, i in self._published))

    @cached_property
    def _by_start(self) -> tuple[np.ndarray, np.ndarray]:
        """Start times (seconds) in the order of :attr:`_offline`, and the rows in that order."""
        return (np.array([s.timestamp() for s, _ in self._offline], dtype=np.float64),
                self.columns.rows(i for _, i in self._offline))

    @property
    def offline_ids(self) -> list[str]:
        return [i for _, i in self._offline]

    @cached_property
    def columns(self) -> Columns:
        """The items' attributes as arrays, row ``i`` for the ``i``-th item (built on first use)."""
        return Columns.build(self.items)

    def at(self, rows) -> list[Item]:
        """The items of catalogue ``rows`` (see :attr:`columns`), in that order."""
        ids, items = self.columns.ids, self.items
        return [items[ids[r]] for r in np.asarray(rows, dtype=np.int64).tolist()]

    # -- vectors by catalogue row ------------------------------------------------------------

    @property
    def _positions(self) -> tuple[np.ndarray, np.ndarray]:
        """Each catalogue row's row in the exact index (-1: no vector), and each index row's
        catalogue row (-1: not in the catalogue). Positions, not copies: the vectors stay in
        the index, once. Recomputed if the index changed since (a reader holding an older
        catalogue while a write goes on)."""
        exact = _exact(self.index)
        version = -1 if exact is None else exact.version
        found = self._aligned.get(version)
        if found is None:
            ids = self.columns.ids
            pos = exact.positions(ids) if exact is not None else np.full(len(ids), -1, dtype=np.int64)
            row_of = np.full(len(exact) if exact is not None else 0, -1, dtype=np.int64)
            row_of[pos[pos >= 0]] = np.flatnonzero(pos >= 0)
            self._aligned.clear()
            found = self._aligned[version] = (pos, row_of)
        return found

    @property
    def indexed(self) -> np.ndarray:
        """A boolean column: whether the item has a vector."""
        return self._positions[0] >= 0

    @property
    def dim(self) -> int:
        return 0 if self.index is None else self.index.dim

    def vectors(self, rows: np.ndarray) -> np.ndarray:
        """The vectors of catalogue ``rows`` (all indexed, see :attr:`indexed`), one row each."""
        rows = np.asarray(rows, dtype=np.int64)
        if not len(rows):
            return np.zeros((0, self.dim), dtype=np.float32)
        pos = self._positions[0][rows]
        if (pos < 0).any():
            raise KeyError(self.columns.ids[int(rows[np.argmax(pos < 0)])])
        return _exact(self.index).vectors_[pos]

    def vectors_of(self, ids: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Which of ``ids`` are catalogue items with a vector (a boolean per id), and their
        vectors as one matrix, in the order given."""
        row = self.columns.row
        rows = np.fromiter((row.get(i, -1) for i in ids), dtype=np.int64, count=len(ids))
        have = rows >= 0
        have[have] = self.indexed[rows[have]]
        return have, self.vectors(rows[have])

    def duplicate_clusters(self, ids: Sequence[str], threshold: float) -> list[tuple[tuple[str, ...], float]]:
        """:func:`recsys.embedding.duplicates.duplicate_clusters` of ``ids`` (indexed items), kept
        for the next call with the same ids: the pass compares every pair, and the catalogue of
        one revision gives the same answer every time.

        Two items no member can see both of (owned by two units neither of which is within the
        other) are never in one cluster: each branch's own 主题党日 under one title is no content
        to merge, and no list ever holds both (see :meth:`_seen_together`)."""
        key = (tuple(ids), threshold)
        found = self._duplicates.get(key)
        if found is None:
            found = self._seen_together(list(ids), threshold) if len(ids) > 1 else []
            self._duplicates.clear()
            self._duplicates[key] = found
        return found

    def _seen_together(self, ids: list[str], threshold: float) -> list[tuple[tuple[str, ...], float]]:
        """Duplicate clusters whose every two items some member sees both of. Pairs of items of
        two units neither within the other are not linked; a group linked through an item of a
        unit above both (the group's copy and two branches' own) is split along each branch's
        chain of units: the group's copy with one branch's, then with the other's."""
        owner = {i: self.items[i].org for i in ids}

        def together(a: str | None, b: str | None) -> bool:
            return a is None or b is None or within(a, b) or within(b, a)

        def clusters(part: list[str]) -> list[tuple[tuple[str, ...], float]]:
            return duplicate_clusters(part, self.vectors(self.columns.rows(part)), threshold,
                                      lambda a, b: together(owner[part[a]], owner[part[b]]))

        found: dict[tuple[str, ...], float] = {}
        for cluster, weakest in clusters(ids):
            units = sorted({owner[i] for i in cluster} - {None})
            if all(together(a, b) for n, a in enumerate(units) for b in units[n + 1:]):
                found[cluster] = weakest
                continue
            for leaf in (u for u in units if not any(v != u and within(v, u) for v in units)):
                chain = [i for i in cluster if owner[i] is None or within(leaf, owner[i])]
                for sub, low in clusters(chain) if len(chain) > 1 else ():
                    found[sub] = low
        return sorted(found.items(), key=lambda c: (-len(c[0]), c[0]))

    def nearest(self, queries: np.ndarray, k: int, shared: np.ndarray | None = None) -> np.ndarray:
        """The catalogue rows of the ``k`` items nearest to each query, best first (ties by id),
        as a ``(queries, k)`` array; -1 marks a hit outside the catalogue, so a hit's column is
        its rank among all hits. One matrix product for all queries below the HNSW threshold.

        ``shared`` marks queries many members ask (a role's description, a topic's name): their
        hits are kept with this catalogue, so each is searched once per catalogue revision."""
        queries = np.asarray(queries, dtype=np.float32)
        if shared is None or not shared.any():
            return self._nearest(queries, k)
        exact = _exact(self.index)
        version = -1 if exact is None else exact.version
        if self._hits.get("version") != (version, k) or len(self._hits) > _MAX_SHARED:
            self._hits.clear()
            self._hits["version"] = (version, k)
        keys = [q.tobytes() if s else None for q, s in zip(queries, shared.tolist())]
        todo, first = [], {}  # the queries to search: each member's own, and each new shared one once
        for n, key in enumerate(keys):
            if key is None:
                todo.append(n)
            elif key not in self._hits and key not in first:
                first[key] = n
                todo.append(n)
        out = dict(zip(todo, self._nearest(queries[todo], k))) if todo else {}
        for key, n in first.items():
            self._hits[key] = out[n]
        hits = [out[n] if key is None else self._hits[key] for n, key in enumerate(keys)]
        rows = np.full((len(queries), max(len(h) for h in hits)), -1, dtype=np.int64)
        for n, h in enumerate(hits):
            rows[n, : len(h)] = h
        return rows

    def _nearest(self, queries: np.ndarray, k: int) -> np.ndarray:
        index = self.index
        if index is None or not len(index):
            return np.zeros((len(queries), 0), dtype=np.int64)
        if isinstance(index, FaissIndex) and index.kind == "hnsw" or _exact(index) is None:
            ids, _ = index.search(queries, k)
            row = self.columns.row
            width = max((len(h) for h in ids), default=0)
            out = np.full((len(ids), width), -1, dtype=np.int64)
            for q, hits in enumerate(ids):
                out[q, : len(hits)] = [row.get(i, -1) for i in hits]
            return out
        top, _ = _exact(index).search_positions(queries, k)
        return self._positions[1][top]


#: Shared queries whose hits a catalogue keeps (role descriptions and topics: tens in practice).
_MAX_SHARED = 4096


def _exact(index: VectorIndex | None) -> ExactIndex | None:
    """The exact matrix behind an index, if it has one."""
    if isinstance(index, FaissIndex):
        return index.exact
    return index if isinstance(index, ExactIndex) else None


#: Organisations whose visible owners :meth:`Columns.seen_by` keeps.
_MAX_ORGS_SEEN = 65_536

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
        starts_day, ends_day: The first and last Shanghai day an offline activity is held on
            (:attr:`~recsys.records.Schedule.days`).
        ends_at: When an offline activity ends (seconds since the epoch; +inf for online items).
        capacity: Seats of an offline activity, -1 for unlimited.
        required: Ids any item requires; ``req_item[j]`` is the row needing ``required[req_key[j]]``.
        titles: For rules on titles (see :meth:`title_flag`).
        id_rank: Each row's place among the ids in sorted order (ties between scores go to the
            smaller id).
        kinds: The kinds of content; ``kind[i]`` indexes them.
        topic_names: The topics of any item; ``topics[i, t]``: item i is on topic t;
            ``main_topic[i]``: its first topic (-1: none).
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
    id_rank: np.ndarray
    kinds: tuple[str, ...]
    kind: np.ndarray
    topic_names: tuple[str, ...]
    topics: np.ndarray
    main_topic: np.ndarray
    _flags: dict = field(default_factory=dict, repr=False)
    _seen: dict = field(default_factory=dict, repr=False)

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
        cities = vocab(city_key(it.schedule.city) for it in its if it.schedule is not None)
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
                first, last = s.days
                starts[i], ends[i] = first.toordinal(), last.toordinal()
                ends_at[i] = s.ends.timestamp()
                capacity[i] = -1 if s.capacity is None else s.capacity
                city[i] = city_of.get(city_key(s.city), -1)
        kinds = vocab(it.kind for it in its)
        kind_of = {k: n for n, k in enumerate(kinds)}
        topic_names = vocab(t for it in its for t in it.topics)
        topic_of = {t: k for k, t in enumerate(topic_names)}
        topics = np.zeros((n, len(topic_names)), dtype=bool)
        for i, it in enumerate(its):
            topics[i, [topic_of[t] for t in it.topics]] = True
        id_rank = np.empty(n, dtype=np.int64)
        id_rank[sorted(range(n), key=ids.__getitem__)] = np.arange(n)
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
            id_rank=id_rank,
            kinds=kinds,
            kind=np.array([kind_of[it.kind] for it in its], dtype=np.int16),
            topic_names=topic_names,
            topics=topics,
            main_topic=np.array([topic_of[it.topics[0]] if it.topics else -1 for it in its], dtype=np.int32),
        )

    def updated(self, items: Mapping[str, Item], changed: Iterable[str]) -> Columns:
        """The columns of ``items``, the catalogue these columns were built for after the items
        ``changed`` (added or replaced) and any others removed: equal to
        ``Columns.build(items)``, with only the changed items read (a catalogue of 100k items
        changes by a few items at a time; building it again read every one).
        """
        ids = tuple(items)
        changed = set(changed)
        old_row = self.row
        source = np.fromiter((-1 if i in changed else old_row.get(i, -1) for i in ids), dtype=np.int64, count=len(ids))
        kept = np.flatnonzero(source >= 0)
        new_at = np.flatnonzero(source < 0)
        fresh = Columns.build({ids[r]: items[ids[r]] for r in new_at.tolist()})
        old = source[kept]
        n = len(ids)

        def plain(name: str) -> np.ndarray:
            a, b = getattr(self, name), getattr(fresh, name)
            out = np.empty((n, *a.shape[1:]), dtype=a.dtype)
            out[kept], out[new_at] = a[old], b
            return out

        def coded(vocab: str, *names: str) -> tuple:
            """A vocabulary and the code columns (-1: none) or boolean matrices using it, merged
            and pruned to the entries some item still uses, in sorted order as build gives."""
            a_words, b_words = getattr(self, vocab), getattr(fresh, vocab)
            words = tuple(sorted(set(a_words) | set(b_words)))
            at = {w: k for k, w in enumerate(words)}
            a_map = np.array([at[w] for w in a_words] + [-1], dtype=np.int64)  # -1 maps to -1
            b_map = np.array([at[w] for w in b_words] + [-1], dtype=np.int64)
            columns, used = [], np.zeros(len(words), dtype=bool)
            for name in names:
                a, b = getattr(self, name), getattr(fresh, name)
                if a.ndim == 2:
                    out = np.zeros((n, len(words)), dtype=bool)
                    out[np.ix_(kept, a_map[:-1])] = a[old]
                    out[np.ix_(new_at, b_map[:-1])] = b
                    used |= out.any(axis=0)
                else:
                    out = np.empty(n, dtype=a.dtype)
                    out[kept], out[new_at] = a_map[a[old]], b_map[b]
                    used[out[out >= 0]] = True
                columns.append(out)
            keep = np.cumsum(used) - 1
            squeeze = np.append(np.where(used, keep, -1), -1)
            pruned = [c[:, used] if c.ndim == 2 else squeeze[c].astype(c.dtype) for c in columns]
            return (tuple(w for w, u in zip(words, used.tolist()) if u), *pruned)

        role_names, roles = coded("role_names", "roles")
        owners, owner = coded("owners", "owner")
        cities, city = coded("cities", "city")
        kinds, kind = coded("kinds", "kind")
        topic_names, topics, main_topic = coded("topic_names", "topics", "main_topic")
        # Prerequisites: pairs (row, required id) in row order, each item's in its own order.
        moved = np.full(len(self.ids), -1, dtype=np.int64)  # each old row's new row (-1: gone or changed)
        moved[old] = kept
        kept_pairs = moved[self.req_item] >= 0
        needs = [self.required[k] for k in self.req_key[kept_pairs].tolist()] + [fresh.required[k] for k in fresh.req_key.tolist()]
        required = tuple(sorted(set(needs)))
        req_of = {r: k for k, r in enumerate(required)}
        pair_item = np.concatenate([moved[self.req_item[kept_pairs]], new_at[fresh.req_item]]).astype(np.int64)
        pair_key = np.array([req_of[r] for r in needs], dtype=np.int64)
        order = np.argsort(pair_item, kind="stable")
        titles = [""] * n
        for r, o in zip(kept.tolist(), old.tolist()):
            titles[r] = self.titles[o]
        for r, t in zip(new_at.tolist(), fresh.titles):
            titles[r] = t
        id_rank = np.empty(n, dtype=np.int64)
        id_rank[np.argsort(np.array(ids, dtype=str), kind="stable")] = np.arange(n)
        return Columns(
            ids=ids, row={id_: i for i, id_ in enumerate(ids)},
            published=plain("published"), expires=plain("expires"), level=plain("level"), minutes=plain("minutes"),
            offline=plain("offline"), role_names=role_names, roles=roles,
            targeted=roles.any(axis=1) if n else np.zeros(0, dtype=bool),
            owners=owners, owner=owner, cities=cities, city=city,
            starts_day=plain("starts_day"), ends_day=plain("ends_day"), ends_at=plain("ends_at"),
            capacity=plain("capacity"), required=required, req_item=pair_item[order], req_key=pair_key[order],
            titles=tuple(titles), id_rank=id_rank, kinds=kinds, kind=kind,
            topic_names=topic_names, topics=topics, main_topic=main_topic,
        )

    def __len__(self) -> int:
        return len(self.ids)

    def rows(self, ids) -> np.ndarray:
        """The rows of those ``ids`` that are in the catalogue, in the order given."""
        get = self.row.get
        found = np.fromiter((get(i, -1) for i in ids), dtype=np.int64)
        return found[found >= 0]

    def lookup(self, values: Mapping[str, float]) -> tuple[np.ndarray, np.ndarray]:
        """Each id of ``values`` with its row (-1 if not in the catalogue) and its value, as two
        arrays in the mapping's order (one pass over a branch's counts, not one per use)."""
        get = self.row.get
        rows = np.fromiter((get(i, -1) for i in values), dtype=np.int64, count=len(values))
        return rows, np.fromiter(values.values(), dtype=np.float64, count=len(values))

    def topic_codes(self, topics) -> np.ndarray:
        """A boolean vector over :attr:`topic_names`: True for those of ``topics``."""
        wanted = set(topics)
        return np.array([t in wanted for t in self.topic_names], dtype=bool)

    def flag(self, ids) -> np.ndarray:
        """A boolean column: True on the rows of ``ids`` (ids not in the catalogue are ignored)."""
        out = np.zeros(len(self.ids), dtype=bool)
        out[self.rows(ids)] = True
        return out

    def seen_by(self, org: str) -> np.ndarray:
        """Which owners a member of ``org`` sees (its own and those above it), with one more
        entry, for shared items, always True: ``seen_by(org)[owner]`` per row. Once per
        organisation: a group of thousands of members has far fewer."""
        found = self._seen.get(org)
        if found is None:
            if len(self._seen) >= _MAX_ORGS_SEEN:
                self._seen.clear()
            found = self._seen[org] = np.array([within(org, o) for o in self.owners] + [True], dtype=bool)
            found.flags.writeable = False
        return found

    def title_flag(self, keywords: tuple[str, ...]) -> np.ndarray:
        """Items whose title holds any of ``keywords`` (computed once per set of keywords)."""
        found = self._flags.get(keywords)
        if found is None:
            found = np.array([any(k in t for k in keywords) for t in self.titles], dtype=bool)
            self._flags[keywords] = found
        return found
