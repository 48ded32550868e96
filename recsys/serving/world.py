"""What every request reads, built once and shared: the store's items in memory, the collaborative
model, and the planning context of a member on a day made from data read beforehand.

A request reads the store's counters once (:meth:`World.snapshot`), the day's seats once per day
(:func:`seats_for`), a member's history once (:meth:`recsys.storage.Store.history`) and their
branch's activity from the completions the process keeps (:meth:`World.branch_activity`: only
what was recorded since the last request is read); :func:`plan_context` then builds the
pipeline's input from those without another read.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

import numpy as np

from recsys.catalogue import Catalogue
from recsys.credits import OpeningBalance, parse_balances
from recsys.curriculum import Curriculum
from recsys.embedding.encoders import Encoder
from recsys.embedding.index import VectorIndex
from recsys.exceptions import ModelError, StoreError, ValidationError
from recsys.models.ranking import ARTEFACT, RankingModel
from recsys.pipeline import PlanContext, Recommender, rules_context
from recsys.pipeline.context import BranchCounts
from recsys.pipeline.collaborative import ARTEFACT as COLLABORATIVE
from recsys.pipeline.collaborative import CollaborativeModel, snapshot_seq
from recsys.pipeline.masks import StaticRules
from recsys.pipeline.profile import build_profile, day_end
from recsys.records import TZ, Event, Item, Member
from recsys.serving.branches import BranchLog
from recsys.serving.builds import APART_FROM, Builds, fit_collaborative, opens_elsewhere
from recsys.serving.catalogue_cache import CatalogueCache, ItemsAhead
from recsys.storage import Artefact, Revisions, Store
from recsys.storage._shared import BALANCES_META, BALANCES_REVISION_META
from recsys.storage.tenant import TENANT_MARK, TenantStore, tenant_artefact

__all__ = [
    "World",
    "Snapshot",
    "BRANCH_WINDOW",
    "SEAT_WINDOW",
    "seats_for",
    "branch_activity",
    "enrolled_ahead",
    "enrolled_in",
    "plan_context",
]

log = logging.getLogger(__name__)

#: A collaborative model built by this process, to keep in the store: the key it was built for
#: (snapshot sequence, members revision) and the models revision its trained models were read at.
_Built = tuple[tuple[int, int], int | None]

#: The window of branch activity behind the branch's collaborative signal.
BRANCH_WINDOW = dt.timedelta(days=90)
#: Seats matter only for activities a list could show: those of the coming weeks.
SEAT_WINDOW = dt.timedelta(days=31)


@dataclass(frozen=True)
class Snapshot:
    """The shared, read-only state of one moment: the catalogue, its index and the collaborative
    model, as of the store's revisions."""

    revisions: Revisions
    catalogue: Catalogue
    index: VectorIndex
    #: None in a snapshot taken for the hard rules only.
    collaborative: CollaborativeModel | None
    #: The store's trained ranking model (``recsys train``), or None.
    ranking: RankingModel | None = None
    #: The whole store's engine only: each enterprise's own model (trained on its view), by its
    #: artefact name (:func:`recsys.storage.tenant.tenant_artefact`); its members are planned
    #: with it, as its view plans them.
    enterprise_rankings: Mapping[str, RankingModel] = field(default_factory=dict)


class World:
    """The shared state of an engine: its store, encoder, policy and pipeline, and the in-memory
    views of the store (index, catalogue, collaborative model) kept current.

    Reads that use the index must hold :attr:`lock`: writes change the index in place. Writes
    of items hold :attr:`write_lock` while they check and write the store, and :attr:`lock` only
    while the index takes in what they wrote, so reads never wait behind a database write.

    Args:
        store: The store.
        encoder: The encoder (cached).
        curriculum: The curriculum policy.
        recommender: The pipeline.
        dim: The vector size.
        duplicate_threshold: Cosine at or above which two items are the same content.
        hnsw_threshold: Catalogue size from which the index switches to HNSW.
        background_models: Build the collaborative model again on the World's own thread when
            the store moved past the one it keeps, planning with the kept one meanwhile (see
            :meth:`_collaborative`); else in the call that finds it behind.

    Attributes:
        url: How another process opens the store (a PostgreSQL URL's password included, so
            never shown): the store's own URL unless the engine sets the one it was opened with.
        build_apart_from: From how many events of activity a build beside the requests runs in
            a process of its own (:mod:`recsys.serving.builds`).
    """

    def __init__(
        self,
        store: Store,
        encoder: Encoder,
        curriculum: Curriculum,
        recommender: Recommender,
        *,
        dim: int,
        duplicate_threshold: float,
        hnsw_threshold: int = 20_000,
        background_models: bool = False,
    ) -> None:
        self.store = store
        self.url = store.url
        self.background_models = background_models
        self.build_apart_from = APART_FROM
        self._apart = Builds()  # stopped by close()
        self.encoder = encoder
        self.curriculum = curriculum
        self.recommender = recommender
        self.duplicate_threshold = duplicate_threshold
        self.lock = threading.RLock()
        self.write_lock = threading.Lock()  # writers of items, one at a time; never taken by reads
        self._writer: int | None = None  # the thread holding it (see writing())
        self.items = CatalogueCache(store, dim, hnsw_threshold=hnsw_threshold)
        self.branches = BranchLog(store)
        # Work done in the background: the collaborative model built again on one thread, the
        # branches' completions read again on another, each for the World's life (a thread per
        # task would leave a store connection behind each time).
        self._background: ThreadPoolExecutor | None = None
        self._branch_reader: ThreadPoolExecutor | None = None
        self._rereading: Future | None = None
        self._building: Future | None = None
        self._background_lock = threading.Lock()
        self._closed = False
        self._collab: CollaborativeModel | None = None
        self._collab_key: tuple[int, int] | None = None
        self._collab_seen: int | None = None  # the models revision the kept model was last looked for at
        self._collab_identity: tuple | None = None  # what the kept model held was read from
        self.collab_build_seconds = 0.0
        self._keep_failed = False  # the store refused to keep the collaborative model once
        self._ranking: RankingModel | None = None
        self._ranking_key: int | None = None
        self._enterprise_rankings: dict[str, RankingModel] = {}
        self._parsed: dict[tuple, RankingModel] = {}  # the models last read, by what identifies their bytes
        # The opening balances by (tenant, member), with the revision of the setting they were read at.
        self._balances: tuple[str | None, dict[tuple[str, str], tuple[OpeningBalance, ...]]] | None = None

    def snapshot(self, *, collaborative: bool = True, ahead: ItemsAhead | None = None) -> Snapshot:
        """The catalogue, index and collaborative model as of now: one read of the store's
        counters, plus whatever changed since the last snapshot (``ahead``: item changes already
        read, see :meth:`CatalogueCache.read_ahead`)."""
        with self.lock:
            revisions = self.store.revisions()
            writer = self._writer
            if writer is not None and writer != threading.get_ident() and self.items.settled:
                # A write of this process is under way and brings the index up to date itself
                # before it returns: until then a read keeps the catalogue from before it rather
                # than catching up (reading the written rows) under the lock in its place.
                index, catalogue = self.items.index_, self.items.view
            else:
                index, catalogue = self.items.current(revisions.items, ahead)
            ranking = self._trained(revisions) if collaborative else None
            built = None
            if ranking is not None:
                model = ranking.collaborative  # learnt by training: nothing to build here
            elif collaborative:
                model, built = self._collaborative(revisions)
            else:
                model = None
            snap = Snapshot(revisions, catalogue, index, model, ranking,
                            self._enterprise_rankings if collaborative else {})
        if built is not None:
            # Written once the lock is released: the write may wait behind another process's
            # transaction, and the other requests of this process must not wait with it.
            self._keep_collaborative(model, *built)
        return snap

    def balances(self) -> Mapping[tuple[str, str], tuple[OpeningBalance, ...]]:
        """Every member's opening balances (all years) by tenant and member id, read again only
        when a write changed them: one small setting read per call, where the balances of a
        whole group are one setting of megabytes. See :func:`opening_of`."""
        revision = self.store.get_meta(BALANCES_REVISION_META)
        kept = self._balances
        if kept is None or kept[0] != revision:
            by_member: dict[tuple[str, str], list[OpeningBalance]] = {}
            for tenant, balance in parse_balances(self.store.get_meta(BALANCES_META)):
                by_member.setdefault((tenant, balance.member), []).append(balance)
            kept = self._balances = (revision, {key: tuple(found) for key, found in by_member.items()})
        return kept[1]

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Hold :attr:`write_lock` for a write of items: reads meanwhile use the catalogue from
        before it (see :meth:`snapshot`) until the write brings the index up to date."""
        with self.write_lock:
            self._writer = threading.get_ident()
            try:
                yield
            finally:
                self._writer = None

    def _trained(self, revisions: Revisions) -> RankingModel | None:
        # Read again only when a model was stored since (by this process or another): reading is
        # a blob and a few arrays, never a fit.
        if self._ranking_key != revisions.models:
            ranking, by_enterprise, parsed = None, {}, {}
            if revisions.models:
                ranking, by_enterprise, parsed = self._read_models()
            # Kept only once every read succeeded: a read that fails is tried again next time.
            self._ranking, self._enterprise_rankings, self._ranking_key = ranking, by_enterprise, revisions.models
            self._parsed = parsed
        return self._ranking

    def _read_models(self, whole: bool = True) -> tuple[RankingModel | None, dict[str, RankingModel], dict]:
        """The store's model (unless not ``whole``) and each enterprise's own by artefact name
        (the whole store's engine plans an enterprise's members with it, as their view does; a
        view's store names only its own), and the parsed models by what identifies their bytes.

        A model this process parsed before and the store still holds as it was is not parsed
        again: when one enterprise trains, the others' models are kept (this reading happens
        under the engine's lock, and a group may have dozens)."""
        before, parsed = self._parsed, {}
        ranking = self._read_model(ARTEFACT, before, parsed) if whole else None
        by_enterprise = {name: model for name in self.store.artefact_names()
                         if name.startswith(ARTEFACT + TENANT_MARK)
                         and (model := self._read_model(name, before, parsed)) is not None}
        return ranking, by_enterprise, parsed

    def _read_model(self, name: str, before: Mapping[tuple, RankingModel],
                    parsed: dict[tuple, RankingModel]) -> RankingModel | None:
        # A view reads its enterprise's own model, else the whole store's: where the own one
        # cannot be read, as where there is none, so that the view plans its members with the
        # model the whole store's engine plans them with.
        for found in self._stored(name):
            key = _bytes_key(found)
            model = before.get(key)
            if model is None:
                try:
                    model = RankingModel.from_bytes(found.data)
                except ModelError as exc:  # the next one, or lists go on with the hand-set blend
                    log.warning("%s", exc)
                    continue
            parsed[key] = model
            return model
        return None

    def _stored(self, name: str) -> Iterator[Artefact]:
        """The stored artefacts a model ``name`` is read from, first choice first, each read only
        when asked for (a view whose own model parses never reads the whole store's blob)."""
        store = self.store
        reads = ((lambda: store.own_artefact(name), lambda: store.whole.get_artefact(name))
                 if isinstance(store, TenantStore) else (lambda: store.get_artefact(name),))
        return (found for read in reads if (found := read()) is not None)

    def use_ranking(self, model: RankingModel | None, models_rev: int, data: bytes | None = None) -> None:
        """Serve with ``model`` from the store's models revision ``models_rev`` on (what training
        in this process just stored as ``data``), without parsing it back, beside each
        enterprise's own models as the store holds them (read before the lock is taken). With
        ``data``, the model is kept as parsed from those bytes: when another model is stored
        later, this process does not parse its own again."""
        _, by_enterprise, parsed = self._read_models(whole=False)
        first = next(self._stored(ARTEFACT), None) if model is not None and data is not None else None
        if first is not None and first.data == data:
            parsed[_bytes_key(first)] = model
        with self.lock:
            self._ranking, self._enterprise_rankings, self._ranking_key = model, by_enterprise, models_rev
            self._parsed = parsed

    def unmoved(self, snap: Snapshot) -> bool:
        """Whether the index is still as ``snap`` saw it (nothing caught up since), so planning
        may use ``snap`` without reading the store's counters again. Call holding :attr:`lock`."""
        return self.items.view is snap.catalogue

    def _collaborative(self, revisions: Revisions) -> tuple[CollaborativeModel, _Built | None]:
        """The collaborative model lists are planned with at ``revisions``; and, where it was built
        here, what :meth:`_keep_collaborative` needs to keep it in the store. Call holding
        :attr:`lock`.

        The model is built from the events up to a snapshot of the activity sequence (impressions
        do not move it) and from the members' roles (:attr:`Revisions.roster`: a member's
        interests or minutes written leave it), so that a list depends only on the store's state
        (guarantee 4), and a build, which reads every positive event, happens once per about 1/16
        growth of the event log rather than per request. The first process to build it keeps it
        in the store: every other process serving the store (a batch's workers, the service after
        a restart) reads it instead of building it again.

        With :attr:`background_models` (the HTTP service), lists are planned with the model the
        store keeps, as they are with a trained one, and when events or the roster have moved
        past it, a new one is built on the World's own thread and kept: no request waits the
        seconds a build takes at 100,000 members, nor holds the other requests up behind the
        engine's lock meanwhile. Only a store's first build, and every build on a store that
        cannot keep the model (in memory, read-only, or refusing the write), happen in the request.
        """
        key = (snapshot_seq(revisions.activity), revisions.roster)
        if self._collab is not None and self._collab_key == key:
            return self._collab, None
        beside = self._beside()
        if self._collab is None or self._collab_seen != revisions.models:
            # Kept by another process (or this one's thread) since it was last looked for.
            self._collab_seen = revisions.models
            stored = self._stored_collaborative()
            if stored is not None and (beside or stored[1] == key):
                self._collab, self._collab_key, self._collab_identity = stored
        if self._collab is not None and (beside or self._collab_key == key):
            if self._collab_key != key:
                self._build_later()
            return self._collab, None
        started = time.perf_counter()
        model = self._fit(key)
        self.collab_build_seconds = time.perf_counter() - started
        log.info("collaborative model built from events up to %d in %.2f s", key[0], self.collab_build_seconds)
        self._collab, self._collab_key, self._collab_identity = model, key, None
        return model, (key, self._ranking_key)

    def _fit(self, key: tuple[int, int]) -> CollaborativeModel:
        return fit_collaborative(self.store, key)

    def _fit_apart(self, key: tuple[int, int]) -> tuple[CollaborativeModel, bytes | None]:
        """A build beside the requests, and the bytes the store is to keep where a process of
        its own built it: so it is once the store holds :attr:`build_apart_from` events (reading
        them on this thread would hold the requests back), else on this thread, as where no
        other process can open the store (see :func:`opens_elsewhere`)."""
        if key[0] < self.build_apart_from or not opens_elsewhere(self.url):
            return self._fit(key), None
        store = self.store
        tenant = store.tenant if isinstance(store, TenantStore) else None
        data = self._apart.run(self.url, tenant, key)
        return CollaborativeModel.from_bytes(data)[0], data

    def _can_keep(self) -> bool:
        """Whether the store can keep the collaborative model for the other processes: not one
        in memory (there are none) nor one opened read-only."""
        return not (self.store.url.startswith("memory:") or getattr(self.store, "read_only", False))

    def _keeps_collaborative(self) -> bool:
        """Whether a model built here is to be kept in the store (see :meth:`_keep_collaborative`)."""
        return self._can_keep() and not self._keep_failed

    def _beside(self) -> bool:
        """Whether lists are planned with the kept model while the next is built beside them."""
        return self.background_models and self._can_keep()

    def _kept(self) -> Artefact | None:
        # A view reads its enterprise's own: the whole store's is built from other members.
        store = self.store
        return store.own_artefact(COLLABORATIVE) if isinstance(store, TenantStore) else store.get_artefact(COLLABORATIVE)

    def _stored_collaborative(self) -> tuple[CollaborativeModel, tuple[int, int], tuple] | None:
        """The collaborative model the store keeps, the key it was built for and what identifies
        its bytes, if it was built with this version's settings; None otherwise (a damaged one is
        built again).

        The model held already where it was read from the bytes the store keeps: the models
        revision moves for every enterprise's model kept, and a view must not parse its own again
        each time."""
        found = self._kept()
        if found is None:
            return None
        identity = (found.activity, found.created, len(found.data))
        if identity == self._collab_identity and self._collab is not None:
            return self._collab, self._collab_key, identity
        try:
            model, extra = CollaborativeModel.from_bytes(found.data)
        except ModelError as exc:
            log.warning("%s: building it again", exc)
            return None
        defaults = CollaborativeModel()
        if extra.get("roster_revision") is None or ((model.neighbours, model.shrinkage, model.role_prior)
                                                    != (defaults.neighbours, defaults.shrinkage, defaults.role_prior)):
            return None
        return model, (found.activity, int(extra["roster_revision"][0])), identity

    def _kept_key(self) -> tuple[int, int] | None:
        """The key of the model the store keeps (its bytes' roster revision read alone), if any."""
        found = self._kept()
        roster = None if found is None else CollaborativeModel.extra_of(found.data, "roster_revision")
        return None if roster is None or not len(roster) else (found.activity, int(roster[0]))

    def _build_later(self) -> None:
        """Start building the collaborative model on the World's thread, unless a build is under
        way or the World is closing. Call holding :attr:`lock`."""
        with self._background_lock:
            if self._closed or (self._building is not None and not self._building.done()):
                return
            self._building = self._executor().submit(self._build)

    def _build(self) -> None:
        try:
            self._rebuild(beside=True)
        except Exception as exc:  # a thread of its own: nobody to raise to, and the kept model still serves
            if self._closed:  # stopped by close(): nobody will plan with it
                return
            log.warning("the collaborative model could not be built again (%s): lists are planned with the one "
                        "kept until a later request tries again", exc)

    def _rebuild(self, *, beside: bool = False) -> None:
        """Build the collaborative model for the store's state now, keep it, and plan with it
        from then on (unless this process has it already). ``beside``: on the World's thread,
        beside the requests (see :meth:`_fit_apart`); else in the call that waits for it."""
        revisions = self.store.revisions()
        key = (snapshot_seq(revisions.activity), revisions.roster)
        with self.lock:
            if self._collab_key == key:  # a request of this process built or read it meanwhile
                return
            ranking_key = self._ranking_key
        if self._beside() and self._kept_key() == key:
            # Another process (a service's other worker) kept it already: read, not built again.
            with self.lock:
                self._collab_seen = None  # the next list reads it
            return
        started = time.perf_counter()
        model, data = self._fit_apart(key) if beside else (self._fit(key), None)
        seconds = time.perf_counter() - started
        log.info("collaborative model built from events up to %d in %.2f s%s", key[0], seconds,
                 ", beside the requests in a process of its own" if data is not None
                 else ", beside the requests" if beside else "")
        kept = self._keep_collaborative(model, key, ranking_key, data)
        with self.lock:
            self.collab_build_seconds = seconds
            # Not where the store keeps one for a later state than this build's (kept by another
            # process meanwhile): the next list reads that one, as every other process does.
            if kept is not False:
                self._collab, self._collab_key, self._collab_identity = model, key, None

    def current_collaborative(self) -> CollaborativeModel:
        """The collaborative model for the store's state now: where the kept one is behind, the
        build under way waited for, or one built (and kept) here. A trained model's own where
        the store has one (see :meth:`snapshot`)."""
        snap = self.snapshot()
        if snap.ranking is not None:
            return snap.collaborative
        self.settle()
        self._rebuild()
        # As planning now reads it: one kept meanwhile for a later state is read.
        return self.snapshot().collaborative

    def _keep_collaborative(self, model: CollaborativeModel, key: tuple[int, int],
                            ranking_key: int | None, data: bytes | None = None) -> bool | None:
        """Keep ``model``, built for ``key`` while the trained models were read at revision
        ``ranking_key``, in the store for the other processes (``data``: its bytes, where the
        process that built it made them). A store this process cannot write (a replica) only
        makes them build it too; one opened read-only is not written, and an in-memory one has
        no other process to keep it for.

        Returns:
            True if the store keeps it now (or the same state's, built alike), False if it keeps
            one for a later state (a build that took longer is not kept over it), None if it was
            not kept (a store that cannot keep it, or a write that failed).
        """
        if not self._keeps_collaborative():
            return None
        try:
            seen = self.store.revisions().models
            if self.background_models:
                # Processes plan with whatever the store keeps: never an older state over a later one.
                kept = self._kept_key()
                if kept is not None and kept[0] >= key[0] and kept[1] >= key[1]:
                    return kept == key
            if data is None:
                data = model.to_bytes(roster_revision=np.array([key[1]], dtype=np.int64))
            self.store.put_artefact(COLLABORATIVE, data, key[0])
            models = self.store.revisions().models
        except (StoreError, ValidationError) as exc:
            if self.background_models:
                # Tried again at the next build (a lock timeout, a connection lost); this process
                # plans with its own meanwhile, and no build moves back into a request.
                log.warning("the collaborative model could not be kept in the store (%s): this process plans with "
                            "its own until a later build is kept", exc)
                return None
            self._keep_failed = True  # said once: each build of this process would say it again
            log.warning("the collaborative model cannot be kept in the store (%s): each process builds its own", exc)
            return None
        # Storing it bumped the models' revision: where nothing else was stored meanwhile, the
        # models this process read (the kept collaborative one, trained ones: none) are still
        # current and need not be read again.
        if models == seen + 1:
            with self.lock:
                if self._collab_seen == seen:
                    self._collab_seen = models
                if ranking_key is not None and self._ranking_key == ranking_key == seen:
                    self._ranking_key = models
        return True

    def warm(self, day: dt.date) -> None:
        """Take a snapshot (the catalogue, index and collaborative model, brought up to date if
        the kept one is behind) and read the branches' completions of the window before ``day``:
        what the first list of ``day`` would wait for, or plan with."""
        self.current_collaborative()
        snap = self.snapshot()
        end = day_end(day)
        self.branches.catch_up(end - BRANCH_WINDOW, snap.revisions)

    def branch_activity(self, snap: Snapshot, org: str, day: dt.date, *, load: bool = True) -> tuple[BranchCounts, int]:
        """:func:`branch_activity` from the completions this process keeps (:class:`BranchLog`),
        brought up to ``snap``'s revisions or later; from the store while another thread brings
        them up to date.

        Without ``load``, from the store unless this process keeps them already: a batch worker
        goes through its members branch by branch and reads each branch once a block, which at
        100,000 members costs less than reading every branch's completions (about 1.3 s) first.
        A service answers every branch in turn: reading them all once is paid back within a few
        hundred requests (about 3 ms of SQL each).

        Once read, what would read them all again (a member added, moved, given other roles or
        removed: a portal's roster sync) is read on the World's own thread (:meth:`settle` waits
        for it), and the store answers meanwhile: no request waits the second it takes."""
        end = day_end(day)
        since = end - BRANCH_WINDOW
        if not self.branches.loaded:
            if not load:
                return branch_activity(self.store, org, day)
        elif self.branches.stale(since, snap.revisions):
            self._reread_branches(since, snap.revisions)
            return branch_activity(self.store, org, day)
        found = self.branches.activity(org, since, end, snap.revisions, snap.catalogue.columns)
        return branch_activity(self.store, org, day) if found is None else found

    def _reread_branches(self, since: dt.datetime, revisions: Revisions) -> None:
        """Start reading every branch's completions again, unless a reading is under way or the
        World is closing."""
        with self._background_lock:
            if self._closed or (self._rereading is not None and not self._rereading.done()):
                return
            if self._branch_reader is None:
                self._branch_reader = ThreadPoolExecutor(1, thread_name_prefix="recsys-branches")
            self._rereading = self._branch_reader.submit(self._reread, since, revisions)

    def _executor(self) -> ThreadPoolExecutor:
        """The World's thread for building the collaborative model. Call holding
        :attr:`_background_lock`. The branches are read again on a thread of their own: after a
        member was added, that reading waited behind the build the same write started (seconds
        at 100,000 members), and every request meanwhile, and the thirty after it, paid for
        asking the store for its branch (``evaluation/builds_beside.py``)."""
        if self._background is None:
            self._background = ThreadPoolExecutor(1, thread_name_prefix="recsys-background")
        return self._background

    def _reread(self, since: dt.datetime, revisions: Revisions) -> None:
        try:
            self.branches.catch_up(since, revisions)
        except Exception as exc:  # a thread of its own: nobody to raise to, and nothing held changed
            log.warning("the branches' completions could not be read again (%s): the store answers "
                        "for them until a later request tries again", exc)

    def settle(self) -> None:
        """Wait for the work started in the background: a reading of the branches' completions,
        a build of the collaborative model."""
        with self._background_lock:
            running = [f for f in (self._rereading, self._building) if f is not None]
        wait(running)

    def close(self) -> None:
        """Start no more work in the background, and wait for what is under way (before the
        store closes under it), but for a build in a process of its own, which is stopped."""
        with self._background_lock:
            self._closed = True
            threads = [t for t in (self._background, self._branch_reader) if t is not None]
            self._background = self._branch_reader = None
        self._apart.stop()  # a build in a process of its own is not waited for
        for background in threads:
            background.shutdown(wait=True)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """Embed short texts (topics, role descriptions) on the query side; cached."""
        return self.encoder.encode(texts, query=True)


def seats_for(store: Store, catalogue: Catalogue, first: dt.date, last: dt.date) -> dict[str, int]:
    """Enrolments of the offline activities a list from ``first`` to ``last`` could show."""
    return store.enrolments(catalogue.offline_between(first, last + SEAT_WINDOW))


def branch_activity(store: Store, org: str, day: dt.date) -> tuple[BranchCounts, int]:
    """The branch's completions per item in the window before ``day`` ends, and how many of its
    members completed anything then (see :meth:`recsys.storage.Store.branch_completions`); the
    branch's members planned together share the counts' lookups (:class:`BranchCounts`)."""
    end = day_end(day)
    counts, active = store.branch_completions(org, end - BRANCH_WINDOW, end)
    # Items in id order, whatever order the store gave them in: the most completed among equals
    # are taken in this order.
    return BranchCounts(dict(sorted(counts.items()))), active


def opening_of(balances: Mapping[tuple[str, str], tuple[OpeningBalance, ...]],
               member: Member) -> tuple[OpeningBalance, ...]:
    """The member's opening balances among ``balances`` (:meth:`World.balances`)."""
    return balances.get((member.tenant, member.id), ())


def enrolled_in(events: Sequence[Event]) -> set[str]:
    """The activities a member holds a seat in: their latest ``enroll`` event for each is not a
    withdrawal (value 0)."""
    latest = {e.item: e.value for e in sorted((e for e in events if e.kind == "enroll"), key=lambda e: e.at)}
    return {item for item, value in latest.items() if value != 0}


def enrolled_ahead(events: Sequence[Event], catalogue: Catalogue, day: dt.date) -> tuple[Item, ...]:
    """Offline activities the member enrolled in that start after ``day``, by id."""
    ids = enrolled_in(events)
    return tuple(
        catalogue[i] for i in sorted(ids)
        if i in catalogue and catalogue[i].schedule and catalogue[i].schedule.starts.astimezone(TZ).date() > day
    )


def _bytes_key(found: Artefact) -> tuple:
    """What identifies a stored model's bytes (a digest costs little beside parsing them)."""
    return found.name, found.activity, hashlib.blake2b(found.data, digest_size=16).digest()


def plan_context(
    world: World,
    snap: Snapshot,
    member: Member,
    day: dt.date,
    budget: int,
    events: Sequence[Event],
    seats_taken: Mapping[str, int],
    *,
    branch: tuple[Mapping[str, int], int] | None = None,
    planned: frozenset[str] = frozenset(),
    held_back: frozenset[str] = frozenset(),
    recent_topics: frozenset[str] = frozenset(),
    prep_targets: tuple[Item, ...] = (),
    rules_only: bool = False,
    static_rules: StaticRules | None = None,
    opening: Sequence[OpeningBalance] = (),
) -> PlanContext:
    """The pipeline's input for ``member`` on ``day``, from data already read; ``opening``: the
    member's opening balances (:func:`opening_of`), which count toward the hours.

    ``rules_only`` builds only what the hard rules read (see :func:`recsys.pipeline.rules_context`).
    ``static_rules`` shares the rules that read no history between members planned on ``day``
    with the same ``seats_taken``.
    """
    if rules_only:
        return rules_context(member, day, events, items=snap.catalogue, index=snap.index,
                             curriculum=world.curriculum, seats_taken=seats_taken,
                             duplicate_threshold=world.duplicate_threshold, budget=budget, planned=planned)
    index = snap.index
    ranking, collaborative = snap.ranking, snap.collaborative
    if snap.enterprise_rankings:
        own = snap.enterprise_rankings.get(tenant_artefact(ARTEFACT, member.tenant))
        if own is not None:
            ranking, collaborative = own, own.collaborative
    profile = build_profile(member, day, events, snap.catalogue, snap.catalogue.vectors_of, world.encode_queries,
                            world.curriculum, opening=opening)
    counts, active = ({}, 0) if branch is None else branch
    return PlanContext(
        profile=profile, day=day, budget=budget, items=snap.catalogue, index=index,
        curriculum=world.curriculum, encode_queries=world.encode_queries,
        seats_taken=seats_taken, branch_counts=counts, branch_active=active,
        planned=planned, held_back=held_back, recent_topics=recent_topics, prep_targets=prep_targets,
        duplicate_threshold=world.duplicate_threshold, collaborative=collaborative, ranking=ranking,
        static_rules=static_rules,
    )
