"""Member and item ids per enterprise, through the engine: an enterprise's view, the whole store's
engine where ids are unique (single-tenant use unchanged) and where they are not."""

from __future__ import annotations

import datetime as dt

import pytest

from factories import make_item
from recsys import AmbiguousIdError, Engine, Member, NotFoundError, ValidationError
from recsys.storage.tenant import TenantStore

DAY = dt.date(2026, 3, 2)


def member(id_: str, org: str, **fields) -> Member:
    return Member(id=id_, name="张伟", org=org, roles=("member",), daily_minutes=30, **fields)


@pytest.fixture
def two(tmp_path):
    """A folder store with shared items and, in hxny and in zjjt, each its own m001 and x1."""
    engine = Engine.open(tmp_path / "store", encoder="tfidf")
    engine.tenant("").add_items([make_item("s1", "党史学习教育专题课", "学习党史，赓续红色血脉。"),
                                 make_item("s2", "廉洁从业警示教育", "严守纪律规矩，筑牢拒腐防变防线。")])
    for tenant, title in (("hxny", "华能风电场安全生产微课"), ("zjjt", "浙江集团数字化转型案例")):
        view = engine.tenant(tenant)
        view.add_items([make_item("x1", title, f"{title}。", org=tenant)])
        view.upsert_members([member("m001", f"{tenant}.b1")])
        view.record([{"id": "ev1", "member": "m001", "item": "x1", "kind": "start", "at": "2026-03-01T20:00:00"}])
    yield engine
    engine.close()


def test_each_enterprise_sees_its_own_member_and_item_of_one_id(two):
    hxny, zjjt = two.tenant("hxny.b1"), two.tenant("zjjt")  # any unit names its enterprise's view
    assert hxny is two.tenant("hxny") and hxny.enterprise == "hxny" and two.enterprise is None
    assert hxny.item("x1").title == "华能风电场安全生产微课" and zjjt.item("x1").title == "浙江集团数字化转型案例"
    assert hxny.member("m001").org == "hxny.b1" and zjjt.member("m001").org == "zjjt.b1"
    for view, title in ((hxny, "华能风电场安全生产微课"), (zjjt, "浙江集团数字化转型案例")):
        assert [(e.item, e.kind) for e in view.events("m001")] == [("x1", "start")]
        entries = {e.item.id: e.item.title for e in view.daily("m001", DAY).entries}
        assert entries["x1"] == title and set(entries) <= {"x1", "s1", "s2"}  # its own and the shared
        assert view.daily("m001", DAY) == view.daily("m001", DAY)  # served once, the same again
        assert view.progress("m001", DAY).member == view.member("m001")
        assert sorted(i.id for i in view.items()) == ["s1", "s2", "x1"] and view.stats()["members"] == 1
    # A served list's impressions stay in their enterprise.
    assert {e.kind for e in hxny.events("m001")} == {"start", "impression"}
    assert [e.kind for e in zjjt.events("m001")].count("impression") == len(zjjt.daily("m001", DAY).entries)


def test_a_view_holds_nothing_of_another_enterprise_and_writes_only_its_own(two):
    hxny = two.tenant("hxny")
    two.tenant("zjjt").upsert_members([member("m-z", "zjjt.b2")])
    with pytest.raises(NotFoundError, match="no member with id 'm-z'"):
        hxny.member("m-z")
    with pytest.raises(ValidationError, match="outside enterprise 'hxny'"):
        hxny.upsert_members([member("m-z", "zjjt.b2")])
    with pytest.raises(ValidationError, match="outside enterprise 'hxny'"):
        hxny.add_items([make_item("s3", "共享", "共享的正文")])  # shared items belong to the platform's view
    assert two.tenant("").members() == [] and {i.id for i in two.tenant("").items()} == {"s1", "s2"}
    with pytest.raises(ValidationError, match="view of enterprise 'hxny'"):
        hxny.tenant("zjjt")
    # Removing hxny's m001 leaves zjjt's, with its history.
    hxny.remove_member("m001")
    assert two.tenant("zjjt").member("m001").org == "zjjt.b1" and two.tenant("zjjt").events("m001")


def test_the_whole_store_engine_refuses_an_id_of_several_enterprises_and_names_them(two):
    with pytest.raises(AmbiguousIdError, match=r"member id 'm001' is held by 2 enterprises \(hxny, zjjt\)") as caught:
        two.daily("m001", DAY)
    assert caught.value.tenants == ["hxny", "zjjt"] and isinstance(caught.value, ValidationError)
    with pytest.raises(AmbiguousIdError, match="item id 'x1'"):
        two.item("x1")
    with pytest.raises(AmbiguousIdError, match="engine.tenant"):  # every item at once: which x1?
        two.search("安全生产")
    assert two.item("s1").org is None  # an id only one holds still names its record


def test_a_single_enterprise_store_is_served_as_before_and_as_its_view(tmp_path, sample_items):
    with Engine.open(tmp_path / "one", encoder="tfidf") as engine:
        engine.add_items(sample_items)
        engine.upsert_members([member("m001", "hxny.b1", interests=("安全生产",))])
        whole = engine.daily("m001", DAY, preview=True).to_dict()
        assert whole["entries"] and engine.member("m001").org == "hxny.b1"
        assert engine.tenant("hxny").daily("m001", DAY, preview=True).to_dict() == whole


def test_a_view_opened_with_the_store_closes_it_and_tokens_name_the_enterprise(two, tmp_path):
    token, _ = two.tenant("zjjt").member_token("m001")
    engine, found = two.token_member(token)
    assert engine is two.tenant("zjjt") and found.org == "zjjt.b1"
    with pytest.raises(Exception, match="not valid"):  # a token of zjjt is not hxny's
        two.tenant("hxny").check_member_token(token)
    listed = two.tenant("hxny").daily("m001", DAY, preview=True).to_dict()
    two.close()  # the views' indexes are saved in the store folder, one folder per enterprise
    assert len(list((tmp_path / "store" / "tenants").glob("t-*/index.npz"))) == 3  # shared, hxny, zjjt
    with Engine.open(tmp_path / "store", tenant="hxny") as view:
        assert view.enterprise == "hxny" and view.member("m001").org == "hxny.b1"
        assert view.daily("m001", DAY, preview=True).to_dict() == listed


def test_a_view_reads_only_its_own_enterprises_removals(two):
    # When a member left is kept per enterprise; a view's read by prefix must not list another's.
    two.tenant("hxny").remove_member("m001")
    two.tenant("zjjt").remove_member("m001")
    whole = two.store
    assert sorted(whole.meta_with_prefix("member_removed:")) == ["member_removed:hxny:m001",
                                                                 "member_removed:zjjt:m001"]
    assert list(TenantStore(whole, "zjjt").meta_with_prefix("member_removed:")) == ["member_removed:zjjt:m001"]
    assert TenantStore(whole, "hxny").meta_with_prefix("member_removed:zjjt") == {}


def test_opening_balances_are_kept_per_enterprise(two):
    for tenant, hours in (("hxny", 3.0), ("zjjt", 5.0)):
        two.tenant(tenant).record_balances([{"member": "m001", "year": 2026, "hours": hours}])
    assert [b.hours for b in two.tenant("hxny").opening_balances("m001")] == [3.0]
    assert [b.hours for b in two.tenant("zjjt").opening_balances()] == [5.0]
    two.tenant("hxny").remove_member("m001")
    assert two.tenant("hxny").opening_balances() == [] and len(two.opening_balances()) == 1


def test_whole_store_reports_refuse_rather_than_merge_two_members_of_one_id(tmp_path):
    # hxny's and zjjt's m001 each completed a shared course: read by id alone, their events would
    # be one member's. The whole store's reports refuse; each enterprise's view answers for its own,
    # and so does a report on an organisation, in its enterprise.
    engine = Engine.open(tmp_path / "store", encoder="tfidf")
    engine.tenant("").add_items([make_item("s1", "党史学习教育专题课", "学习党史，赓续红色血脉。")])
    for tenant in ("hxny", "zjjt"):
        view = engine.tenant(tenant)
        view.upsert_members([member("m001", f"{tenant}.b1")])
        view.record([{"id": "ev1", "member": "m001", "item": "s1", "kind": "complete", "at": "2026-03-01T20:00:00"}])
    try:
        study = {"member": "m001", "item": "s1", "kind": "start", "at": "2026-03-02T20:00:00"}
        for report in (lambda: engine.alerts(day=DAY), lambda: engine.coverage(day=DAY), lambda: engine.events("m001"),
                       lambda: engine.record([study])):  # whose study is it?
            with pytest.raises(AmbiguousIdError, match=r"member id 'm001' .*\(hxny, zjjt\)"):
                report()
        for tenant in ("hxny", "zjjt"):
            view = engine.tenant(tenant)
            assert view.coverage(day=DAY).counts["members"] == 1
            assert len(view.events("m001")) == 1  # its own completion, not both
            assert view.org_progress(tenant, day=DAY).to_dict()["members"] == 1
            assert engine.org_progress(tenant, day=DAY).to_dict()["members"] == 1
            assert engine.coverage(tenant, day=DAY).counts["members"] == 1
    finally:
        engine.close()


def test_a_views_log_pairs_each_event_with_its_own_tenant_when_events_go_between_two_reads(two):
    """The view reads a page of the whole store's log and of its tenants in two calls; a member
    removed between them must not shift another enterprise's events into this one's."""
    whole = two.store

    class Removing:  # the whole store, with a removal landing between the two reads of a page
        def __getattr__(self, name):
            return getattr(whole, name)

        def recorded_tenants(self, after=0, limit=10_000):
            if not getattr(self, "removed", False):
                self.removed = True
                whole.remove_member("m001", tenant="hxny")
            return whole.recorded_tenants(after, limit)

    two.tenant("zjjt").record([{"id": "ev2", "member": "m001", "item": "s1", "kind": "complete",
                                "at": "2026-03-01T21:00:00"}])
    seen = TenantStore(Removing(), "zjjt").recorded_events()
    assert [(e.id, e.member, e.item) for _, e in seen] == [("ev1", "m001", "x1"), ("ev2", "m001", "s1")]
    assert seen == TenantStore(whole, "zjjt").recorded_events()  # zjjt's own rows, by sequence number
    assert TenantStore(whole, "hxny").recorded_events() == []


def test_a_whole_store_batch_serves_each_enterprise_where_they_share_member_ids(two):
    # hxny and zjjt each hold their own m001 (a group roster numbering each enterprise from one):
    # the id alone names no member, so each enterprise's members are served in its view.
    report = two.batch(DAY)
    assert (report.members, report.served, report.skipped, report.unreadable) == (2, 2, 0, ())
    for tenant in ("hxny", "zjjt"):
        view = two.tenant(tenant)
        stored = view.store.served_for(["m001"], DAY)
        assert len(stored) == 1 and stored[0].payload == view.daily("m001", DAY).to_dict()
    again = two.batch(DAY)
    assert (again.served, again.skipped) == (0, 2)
    assert two.batch(DAY, org="zjjt").members == 1  # one enterprise's members alone


def test_an_enterprise_keeps_its_own_collaborative_model_and_never_reads_the_whole_stores(tmp_path, monkeypatch):
    """The whole store's model is built from every enterprise's members; a view's from its own.
    Each is kept in the store for the next process, under its own name."""
    from recsys.pipeline.collaborative import ARTEFACT, CollaborativeModel
    from recsys.storage.tenant import tenant_artefact

    path = tmp_path / "store"
    with Engine.open(path, encoder="tfidf") as engine:
        engine.tenant("").add_items([make_item("s1", "党史学习教育专题课", "学习党史，赓续红色血脉。")])
        for tenant, who, own, done in (("hxny", "m001", "h1", ["s1"]), ("zjjt", "m002", "z1", ["s1", "z1"])):
            view = engine.tenant(tenant)
            view.add_items([make_item(own, f"{tenant}案例", f"{tenant}案例正文。", org=tenant)])
            view.upsert_members([member(who, f"{tenant}.b1")])
            view.record([{"id": f"e{n}", "member": who, "item": i, "kind": "complete", "at": "2026-03-01T20:00:00"}
                         for n, i in enumerate(done)])
        assert engine.collaborative().n_pairs_ == 3  # kept under the whole store's name
    with Engine.open(path) as engine:
        assert engine.tenant("hxny").collaborative().n_pairs_ == 1  # built from its own, not read
        assert tenant_artefact(ARTEFACT, "hxny") in engine.store.artefact_names()

    def fit(self, *args, **kwargs):
        raise AssertionError("built again")

    monkeypatch.setattr(CollaborativeModel, "fit", fit)
    with Engine.open(path) as engine:
        assert engine.tenant("hxny").collaborative().n_pairs_ == 1 and engine.collaborative().n_pairs_ == 3
