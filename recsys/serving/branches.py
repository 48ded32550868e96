"""Every branch's recent completions, kept in memory per process.

The collaborative signal of a list counts, per item, how many members of the member's branch
completed it in the 90 days before the day (:meth:`recsys.storage.Store.branch_completions`).
Asked of the store, that is one index seek per member of the branch and kind: about 3 ms for a
branch of 500 members, a fifth of a first request at 100k members and 1M events, and a third of
a batch whose members come in no order of branch (``evaluation/list_costs.py``).

:class:`BranchLog` reads every completion of the window once, then before each use only those
recorded since (sequence numbers are given in commit order, so nothing committed earlier can
appear later), and counts a branch from arrays sorted by branch and time. A newer roster
revision (a member added, moved, given other roles or removed: :attr:`Revisions.roster`) reads
the members' branches again; where a member held moved or left, or more than one write moved
the roster since (a member removed and written again would look unmoved), the completions too:
which branch a completion counts for is the member's branch now, as the store's query has it.
Members added or given other roles (a portal's roster sync, most days) change no branch's count,
and reading the completions again took about 1.3 s of the interpreter at 100,000 members and a
million events. What it answers equals the store's answer (``tests/serving/test_branches.py``
checks both on random histories).
"""

from __future__ import annotations

import datetime as dt
import threading
from bisect import bisect_left
from collections.abc import Sequence

import numpy as np

from recsys.catalogue import Columns
from recsys.pipeline.context import BranchCounts
from recsys.records import tenant_of
from recsys.storage import Revisions, Store

__all__ = ["BranchLog"]

#: Completions dated this long before the windows asked for are let go when the arrays are next
#: sorted (a window reaching further back reads them again from the store).
_KEPT_BEFORE = dt.timedelta(days=31).total_seconds()

_NONE = np.zeros(0, dtype=np.int64)


class BranchLog:
    """The completions and attendances of every branch's members since a moment, by branch.

    Args:
        store: The store read.
        sort_at: How many completions read since the arrays were last sorted sorts them again
            (until then each count scans them; sorting 200k took about 70 ms on two busy cores).
    """

    def __init__(self, store: Store, *, sort_at: int = 4096) -> None:
        self.store = store
        self.sort_at = sort_at
        self._lock = threading.Lock()
        self._roster_rev: int | None = None
        # Every completion recorded up to sequence number ``_seq``, dated at or after ``_since``,
        # by a member held now, is held; ``_latest``: the latest window start asked for.
        self._seq = 0
        self._since = self._latest = np.inf
        self._members: dict[tuple[str, str], tuple[int, int]] = {}  # (tenant, member) -> (branch, member) codes
        # Members whose completions were read while no member held them (a copy of a store
        # writes events before members): one of them added means the completions are read again.
        self._unheld: set[tuple[str, str]] = set()
        self._org_code: dict[str, int] = {}
        self._item_code: dict[str, int] = {}
        self._item_ids: list[str] = []
        self._sorted_ids: list[str] = []
        self._item_rank = _NONE  # each item code's place among the ids in order
        # The held completions as columns (branch, member, item, time): ``_main`` sorted by
        # branch then time (``_bounds``: where each branch's start), ``_tail`` read since, unsorted.
        self._main = self._tail = _columns()
        self._bounds = np.zeros(1, dtype=np.int64)
        self._rows_in: tuple[Columns | None, np.ndarray] = (None, _NONE)

    @property
    def loaded(self) -> bool:
        """Whether the completions were read (and are brought up to date at each use)."""
        return self._roster_rev is not None

    def stale(self, since: dt.datetime, revisions: Revisions) -> bool:
        """Whether a window from ``since``, as of ``revisions``, would have the members read
        again (one added, moved, given other roles or removed since the last read) or everything
        (a window earlier than what is held), once read at all. Read without the lock: a value a
        moment old only means one more check under it."""
        return self._roster_rev is not None and (revisions.roster > self._roster_rev
                                                 or since.timestamp() < self._since)

    def catch_up(self, since: dt.datetime, revisions: Revisions) -> None:
        """Read what windows from ``since`` need, as of ``revisions`` or later, waiting for the
        lock (a warm-up before requests, where a count would not wait)."""
        with self._lock:
            self._catch_up(since.timestamp(), revisions)

    def counts(self, org: str, since: dt.datetime, until: dt.datetime,
               revisions: Revisions) -> tuple[dict[str, int], int] | None:
        """What :meth:`Store.branch_completions` answers for ``org`` and the window, as of
        ``revisions`` or later, the items in id order; None while another thread uses the log
        (the caller asks the store rather than wait)."""
        found = self._read(org, since, until, revisions)
        if found is None:
            return None
        ids, n, active, _ = found
        return dict(zip(ids, n.tolist())), active

    def activity(self, org: str, since: dt.datetime, until: dt.datetime, revisions: Revisions,
                 cols: Columns) -> tuple[BranchCounts, int] | None:
        """:meth:`counts` as planning reads them: with each item's row in ``cols``, found once per
        catalogue for every branch (looking the ids up per branch cost as much as counting)."""
        found = self._read(org, since, until, revisions, cols)
        if found is None:
            return None
        ids, n, active, rows = found
        return BranchCounts.with_rows(ids, n, cols, rows), active

    def _read(self, org: str, since: dt.datetime, until: dt.datetime, revisions: Revisions,
              cols: Columns | None = None) -> tuple[Sequence[str], np.ndarray, int, np.ndarray | None] | None:
        """The branch's item ids, counts and active members, and the items' rows in ``cols``:
        all read under the lock (a reload by another thread numbers the items anew)."""
        if not self._lock.acquire(blocking=False):
            return None
        try:
            self._catch_up(since.timestamp(), revisions)
            codes, n, active = self._count(org, since.timestamp(), until.timestamp())
            # The ids named only when read: planning reads the counts by row (a branch's few
            # thousand ids named cost a third of a millisecond a list). Codes only ever grow
            # the list they index, and a reload numbers them in a new list.
            ids = _Named(self._item_ids, codes)
            return ids, n, active, None if cols is None else self._rows(cols)[codes]
        finally:
            self._lock.release()

    def _rows(self, cols: Columns) -> np.ndarray:
        """Each item code's row in ``cols`` (-1: not in the catalogue), for codes added since too."""
        held_cols, rows = self._rows_in
        if held_cols is not cols:
            rows = _NONE
        if len(rows) < len(self._item_ids):
            get = cols.row.get
            rows = np.concatenate([rows, np.fromiter((get(i, -1) for i in self._item_ids[len(rows):]), dtype=np.int64)])
        self._rows_in = (cols, rows)
        return rows

    def _catch_up(self, since: float, revisions: Revisions) -> None:
        if (self._roster_rev is None or since < self._since
                or revisions.roster > self._roster_rev and not self._reroster(revisions)):
            self._load(since, revisions)
        elif revisions.activity > self._seq:
            rows = self.store.completions_after(self._seq, dt.datetime.fromtimestamp(self._since, dt.timezone.utc))
            self._add(rows, revisions.activity, asked=since)
        self._latest = max(self._latest, since)

    def _load(self, since: float, revisions: Revisions) -> None:
        """Everything read again: the members' branches, then the completions from ``since``.
        Nothing held changes until both reads have succeeded."""
        orgs = self.store.member_orgs()
        rows = self.store.completions_after(0, dt.datetime.fromtimestamp(since, dt.timezone.utc))
        org_code: dict[str, int] = {}
        self._members = {(tenant_of(org), member): (org_code.setdefault(org, len(org_code)), n)
                         for n, (org, member) in enumerate(orgs)}
        self._org_code, self._unheld = org_code, set()
        self._item_code, self._item_ids, self._sorted_ids, self._item_rank = {}, [], [], _NONE
        self._main = self._tail = _columns()
        self._rows_in = (None, _NONE)
        self._since, self._seq, self._roster_rev, self._latest = since, 0, revisions.roster, since
        self._add(rows, revisions.activity, asked=since, sort=True)

    def _reroster(self, revisions: Revisions) -> bool:
        """The members read again after the roster moved to ``revisions.roster``: those added are
        held, the completions kept. False (nothing held changed) where a member held has another
        branch now or is gone, or one added has completions read already: then all is read again.

        So only where the roster moved by one write since the last read (each write moves it by
        one): a member removed and then written again in a later write is held as before, but
        the removal took their completions away (or gave them to a pseudonym)."""
        if revisions.roster != self._roster_rev + 1:
            return False
        orgs = self.store.member_orgs()
        if self.store.revisions().roster != revisions.roster:  # written again meanwhile
            return False
        held, names = self._members, list(self._org_code)  # the codes number the organisations in order
        added: dict[tuple[str, str], str] = {}
        still = 0
        for org, member in orgs:
            key = (tenant_of(org), member)
            found = held.get(key)
            if found is None:
                added[key] = org
            elif names[found[0]] != org:
                return False
            else:
                still += 1
        if still < len(held) or not self._unheld.isdisjoint(added):
            return False
        org_code = self._org_code
        for key, org in added.items():
            held[key] = (org_code.setdefault(org, len(org_code)), len(held))
        if len(org_code) > len(names):  # a new branch: its completions start after every held one's
            self._bounds = np.searchsorted(self._main[0], np.arange(len(org_code) + 1))
        self._roster_rev = revisions.roster
        return True

    def _add(self, rows: Sequence[tuple[int, str, str, str, float]], activity: int, *, asked: float,
             sort: bool = False) -> None:
        """Hold ``rows`` (read after :attr:`_seq`); every completion up to ``activity`` (read
        before them) or the last of them is then held. ``asked``: the start of the window being
        answered (kept, whatever is let go)."""
        members, items = self._members, self._item_code
        new_ids: list[str] = []
        found = []
        for _, tenant, member, item, ts in rows:
            held = members.get((tenant, member))
            if held is None:  # no member now (kept under a pseudonym): no branch's
                self._unheld.add((tenant, member))
                continue
            code = items.get(item)
            if code is None:
                code = items[item] = len(self._item_ids) + len(new_ids)
                new_ids.append(item)
            found.append((held[0], held[1], code, ts))
        if new_ids:
            self._rank_new(new_ids)
        if found:
            org, member, item, ts = zip(*found)
            added = (np.array(org, dtype=np.int64), np.array(member, dtype=np.int64),
                     np.array(item, dtype=np.int64), np.array(ts, dtype=np.float64))
            self._tail = tuple(np.concatenate([old, new]) for old, new in zip(self._tail, added))
        self._seq = max(activity, rows[-1][0] if rows else 0, self._seq)
        if sort or len(self._tail[0]) >= self.sort_at:
            self._sort(asked)

    def _rank_new(self, new_ids: list[str]) -> None:
        """Append ``new_ids`` (the next item codes) and place them among the ids in order,
        without sorting every id again (50k ids took 27 ms): each held id moves down by the new
        ones placed before it."""
        order = sorted(range(len(new_ids)), key=new_ids.__getitem__)
        at = np.array([bisect_left(self._sorted_ids, new_ids[j]) for j in order], dtype=np.int64)
        rank = np.empty(len(new_ids), dtype=np.int64)
        rank[order] = at + np.arange(len(new_ids))
        self._item_rank = np.concatenate([self._item_rank + np.searchsorted(at, self._item_rank, "right"), rank])
        self._sorted_ids = sorted(self._sorted_ids + new_ids)  # two sorted runs: merged in one pass
        self._item_ids.extend(new_ids)

    def _sort(self, asked: float) -> None:
        """The tail merged into the sorted arrays. Completions dated a month or more before both
        the window being answered (from ``asked``) and the latest window asked for are let go: a
        request for a day or two earlier (a list opened late, a path ahead) reads nothing again."""
        columns = tuple(np.concatenate([m, t]) for m, t in zip(self._main, self._tail))
        keep_from = max(self._since, min(self._latest, asked) - _KEPT_BEFORE)
        if keep_from > self._since:
            kept = columns[3] >= keep_from
            columns = tuple(c[kept] for c in columns)
            self._since = keep_from
        order = np.lexsort((columns[3], columns[0]))
        self._main = tuple(c[order] for c in columns)
        self._tail = _columns()
        self._bounds = np.searchsorted(self._main[0], np.arange(len(self._org_code) + 1))

    def _count(self, org: str, since: float, until: float) -> tuple[np.ndarray, np.ndarray, int]:
        """The item codes the branch's members completed in the window, in id order; how many
        members completed each; and how many completed anything."""
        code = self._org_code.get(org)
        if code is None:
            return _NONE, _NONE, 0
        orgs, members, items, times = self._main
        lo, hi = self._bounds[code], self._bounds[code + 1]
        ts = times[lo:hi]
        first, last = lo + np.searchsorted(ts, since, "left"), lo + np.searchsorted(ts, until, "left")
        member, item = members[first:last], items[first:last]
        if len(self._tail[0]):
            t_org, t_member, t_item, t_ts = self._tail
            at = (t_org == code) & (since <= t_ts) & (t_ts < until)
            member, item = np.concatenate([member, t_member[at]]), np.concatenate([item, t_item[at]])
        if not len(item):
            return _NONE, _NONE, 0
        # Distinct (item, member) pairs, then members per item; items in id order.
        pairs = np.unique(item * len(self._members) + member)
        codes, n = np.unique(pairs // len(self._members), return_counts=True)
        order = np.argsort(self._item_rank[codes])
        return codes[order], n[order], len(np.unique(member))


class _Named(Sequence[str]):
    """The ids of some item codes, each named when read."""

    def __init__(self, ids: list[str], codes: np.ndarray) -> None:
        self._ids, self._codes = ids, codes

    def __len__(self) -> int:
        return len(self._codes)

    def __getitem__(self, n):
        if isinstance(n, slice):
            return [self._ids[c] for c in self._codes[n].tolist()]
        return self._ids[int(self._codes[n])]

    def __iter__(self):
        ids = self._ids
        return (ids[c] for c in self._codes.tolist())


def _columns() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    return _NONE, _NONE, _NONE, np.zeros(0)
