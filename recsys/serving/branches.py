"""Every branch's recent completions, kept in memory per process.

The collaborative signal of a list counts, per item, how many members of the member's branch
completed it in the 90 days before the day (:meth:`recsys.storage.Store.branch_completions`).
Asked of the store, that is one index seek per member of the branch and kind: about 3 ms for a
branch of 500 members, a fifth of a first request at 100k members and 1M events, and a third of
a batch whose members come in no order of branch (``evaluation/list_costs.py``).

:class:`BranchLog` reads every completion of the window once, then before each use only those
recorded since (sequence numbers are given in commit order, so nothing committed earlier can
appear later), and counts a branch from arrays sorted by branch and time. A change of members
(a member added, moved or removed) reads it all again: which branch a completion counts for is
the member's branch now, as the store's query has it. What it answers equals the store's answer
(``tests/serving/test_branches.py`` checks both on random histories).
"""

from __future__ import annotations

import datetime as dt
import threading

import numpy as np

from recsys.catalogue import Columns
from recsys.pipeline.context import BranchCounts
from recsys.records import tenant_of
from recsys.storage import Revisions, Store

__all__ = ["BranchLog"]



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
        self._members_rev: int | None = None
        self._seq = 0  # every completion recorded up to this sequence number is held
        self._since = np.inf  # ... at or after this timestamp
        self._members: dict[tuple[str, str], tuple[int, int]] = {}  # (tenant, member) -> (branch, member) codes
        self._org_code: dict[str, int] = {}
        self._item_code: dict[str, int] = {}
        self._item_ids: list[str] = []
        self._item_order = np.zeros(0, dtype=np.int64)  # each item code's place in id order
        # The held completions as columns: the first ``_sorted`` by branch then time (``_bounds``:
        # where each branch's start), those read since after them, unsorted.
        self._org = self._member = self._item = np.zeros(0, dtype=np.int64)
        self._ts = np.zeros(0)
        self._sorted = 0
        self._bounds = np.zeros(1, dtype=np.int64)
        self._rows_in: tuple[object, np.ndarray] = (None, np.zeros(0, dtype=np.int64))

    @property
    def loaded(self) -> bool:
        """Whether the completions were read (and are brought up to date at each use)."""
        return self._members_rev is not None

    def counts(self, org: str, since: dt.datetime, until: dt.datetime,
               revisions: Revisions) -> tuple[dict[str, int], int] | None:
        """What :meth:`Store.branch_completions` answers for ``org`` and the window, as of
        ``revisions`` or later; the items in id order. None while another thread brings the log
        up to date (the caller asks the store instead of waiting)."""
        found = self._read(org, since, until, revisions)
        if found is None:
            return None
        codes, n, active = found
        return dict(zip((self._item_ids[c] for c in codes.tolist()), n.tolist())), active

    def activity(self, org: str, since: dt.datetime, until: dt.datetime, revisions: Revisions,
                 cols: Columns) -> tuple[BranchCounts, int] | None:
        """:meth:`counts` as planning reads them: with each item's row in ``cols`` found once per
        catalogue for every branch (looking the ids up per branch cost as much as counting)."""
        found = self._read(org, since, until, revisions, cols)
        if found is None:
            return None
        (codes, n, active), rows = found[:3], found[3]
        ids = self._item_ids
        return BranchCounts.with_rows([ids[c] for c in codes.tolist()], n, cols, rows[codes]), active

    def _read(self, org, since, until, revisions, cols=None):
        if not self._lock.acquire(blocking=False):
            return None
        try:
            self._catch_up(since.timestamp(), revisions)
            found = self._count(org, since.timestamp(), until.timestamp())
            return found if cols is None else (*found, self._rows(cols))
        finally:
            self._lock.release()

    def _rows(self, cols: Columns) -> np.ndarray:
        """Each item code's row in ``cols`` (-1: not in the catalogue), for codes added since too."""
        held_cols, rows = self._rows_in
        if held_cols is not cols:
            rows = np.zeros(0, dtype=np.int64)
        if len(rows) < len(self._item_ids):
            get = cols.row.get
            rows = np.concatenate([rows, np.fromiter((get(i, -1) for i in self._item_ids[len(rows):]), dtype=np.int64)])
        self._rows_in = (cols, rows)
        return rows

    def _catch_up(self, since: float, revisions: Revisions) -> None:
        if self._members_rev != revisions.members or since < self._since:
            self._load(min(since, self._since) if self._members_rev == revisions.members else since, revisions)
        elif revisions.activity > self._seq:
            self._add(self.store.completions_after(self._seq, dt.datetime.fromtimestamp(self._since, dt.timezone.utc)),
                      revisions.activity)

    def _load(self, since: float, revisions: Revisions) -> None:
        """Everything read again: the members' branches, then the completions from ``since``."""
        org_code: dict[str, int] = {}
        self._members = {(tenant_of(org), member): (org_code.setdefault(org, len(org_code)), n)
                         for n, (org, member) in enumerate(self.store.member_orgs())}
        self._org_code = org_code
        self._item_code, self._item_ids = {}, []
        self._org = self._member = self._item = np.zeros(0, dtype=np.int64)
        self._ts = np.zeros(0)
        self._since, self._seq, self._members_rev = since, 0, revisions.members
        self._add(self.store.completions_after(0, dt.datetime.fromtimestamp(since, dt.timezone.utc)),
                  revisions.activity, merge=True)

    def _add(self, rows: list[tuple[int, str, str, str, float]], activity: int, *, merge: bool = False) -> None:
        """Hold ``rows`` (read after :attr:`_seq`); every completion up to ``activity`` (read
        before them) or the last of them is then held."""
        members, items = self._members, self._item_code
        new_items = len(self._item_ids)
        new = []
        for _, tenant, member, item, ts in rows:
            held = members.get((tenant, member))
            if held is None:  # no member now (kept under a pseudonym): no branch's
                continue
            code = items.get(item)
            if code is None:
                code = items[item] = len(self._item_ids)
                self._item_ids.append(item)
            new.append((held[0], held[1], code, ts))
        if len(self._item_ids) > new_items:
            self._item_order = np.argsort(np.argsort(np.array(self._item_ids, dtype=object)))
        self._seq = max(activity, rows[-1][0] if rows else 0, self._seq)
        if new:
            org, member, item = (np.array(column, dtype=np.int64) for column in list(zip(*new))[:3])
            self._org, self._member, self._item, self._ts = (
                np.concatenate([old, added]) for old, added in
                zip((self._org, self._member, self._item, self._ts), (org, member, item, np.array([n[3] for n in new]))))
        if merge or len(self._org) - self._sorted >= self.sort_at:
            order = np.lexsort((self._ts, self._org))
            self._org, self._member, self._item, self._ts = (
                a[order] for a in (self._org, self._member, self._item, self._ts))
            self._sorted = len(self._org)
            self._bounds = np.searchsorted(self._org, np.arange(len(self._org_code) + 1))

    def _count(self, org: str, since: float, until: float) -> tuple[np.ndarray, np.ndarray, int]:
        """The item codes the branch's members completed in the window, in id order; how many
        members completed each; and how many completed anything."""
        code = self._org_code.get(org)
        none = np.zeros(0, dtype=np.int64)
        if code is None:
            return none, none, 0
        lo, hi = self._bounds[code], self._bounds[code + 1]
        ts = self._ts[lo:hi]
        first, last = lo + np.searchsorted(ts, since, "left"), lo + np.searchsorted(ts, until, "left")
        member, item = self._member[first:last], self._item[first:last]
        if len(self._org) > self._sorted:  # and of those read since the arrays were sorted
            tail = slice(self._sorted, None)
            ts = self._ts[tail]
            at = np.flatnonzero((self._org[tail] == code) & (since <= ts) & (ts < until)) + self._sorted
            member, item = np.concatenate([member, self._member[at]]), np.concatenate([item, self._item[at]])
        if not len(item):
            return none, none, 0
        # Distinct (item, member) pairs, then members per item; items in id order.
        pairs = np.unique(item * len(self._members) + member)
        codes, n = np.unique(pairs // len(self._members), return_counts=True)
        order = np.argsort(self._item_order[codes])
        return codes[order], n[order], len(np.unique(member))
