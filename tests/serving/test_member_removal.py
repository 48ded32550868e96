"""A member transferred out: removed with their lists and balances; events deleted, or kept
under a pseudonym that is stable, unguessable and names no one."""

from __future__ import annotations

import datetime as dt

import pytest

from recsys import Engine, Member, NotFoundError, TokenError, ValidationError
from recsys.records import TZ

DAY = dt.date(2026, 12, 1)


def at(hour):
    return dt.datetime(2026, 11, 20, hour, tzinfo=TZ).isoformat()


@pytest.fixture
def engine(engine):
    engine.upsert_members([Member(id="m2", name="李娜", org="hxny.fdgs.zb-yunxing")])
    engine.record([{"id": "m1-1", "member": "m1", "item": "safety", "kind": "complete", "at": at(9)},
                   {"id": "m1-2", "member": "m1", "item": "history", "kind": "rate", "value": 5, "at": at(10)},
                   {"id": "m2-1", "member": "m2", "item": "safety", "kind": "complete", "at": at(11)}])
    engine.record_balances([{"member": "m1", "year": 2026, "hours": 20}, {"member": "m2", "year": 2026, "hours": 8}])
    engine.daily("m1", day=DAY)
    return engine


def test_by_default_everything_of_the_member_goes(engine):
    served = len(engine.daily("m1", day=DAY).entries)
    removed = engine.remove_member("m1")
    assert (removed.member, removed.events, removed.served, removed.pseudonym) == ("m1", 2 + served, 1, None)
    with pytest.raises(NotFoundError):
        engine.member("m1")
    assert [e.member for e in engine.events()] == ["m2"]
    assert [b.member for b in engine.opening_balances()] == ["m2"]
    assert engine.daily("m2", day=DAY).entries  # the others are served as before


def test_kept_history_is_under_a_stable_pseudonym_that_names_no_one(engine, tmp_path):
    removed = engine.remove_member("m1", keep_history=True)
    alias = removed.pseudonym
    assert alias.startswith("anon:") and "m1" not in alias[5:] and removed.events >= 2
    kept = engine.events(alias)
    assert [(e.item, e.kind, e.value) for e in kept if e.kind != "impression"] == [
        ("safety", "complete", None), ("history", "rate", 5.0)]
    assert all(e.id is None for e in kept) and engine.events("m1") == []
    assert not any("m1" in str(e.to_dict()) for e in engine.events())  # no trace of the id, impressions' ids included
    assert [b.member for b in engine.opening_balances()] == ["m2"]
    # stable: the same member id, removed again after joining again, gets the same pseudonym
    engine.upsert_members([Member(id="m1", name="张伟", org="hxny.fdgs")])
    assert engine.remove_member("m1", keep_history=True).pseudonym == alias
    # keyed: another store (another secret) gives the same member another pseudonym
    other = Engine.open(tmp_path / "other", encoder="tfidf")
    other.upsert_members([Member(id="m1", name="张伟", org="hxny.fdgs")])
    assert other.remove_member("m1", keep_history=True).pseudonym != alias
    other.close()


def test_an_unknown_member_is_not_found_and_nothing_changes(engine):
    before = (len(engine.events()), engine.opening_balances())
    with pytest.raises(NotFoundError, match="no member with id 'm9'"):
        engine.remove_member("m9", keep_history=True)
    assert (len(engine.events()), engine.opening_balances()) == before


def test_a_token_of_a_removed_member_does_not_open_the_next_holder_of_the_id(engine):
    old, _ = engine.member_token("m1")
    assert engine.token_member(old)[1].name == engine.member("m1").name
    engine.remove_member("m1")
    with pytest.raises(NotFoundError):
        engine.token_member(old)
    engine.upsert_members([Member(id="m1", name="新同志", org="hxny.fdgs.zb-yunxing")])
    with pytest.raises(TokenError, match="issued before member 'm1' was removed"):
        engine.token_member(old)
    new, _ = engine.member_token("m1")
    assert engine.token_member(new)[1].name == "新同志"
    assert engine.token_member(engine.member_token("m2")[0])[1].id == "m2"  # the others' tokens hold


def test_a_token_issued_in_the_millisecond_of_a_removal_counts_as_issued_before_it():
    # Both times are kept to the millisecond: a link issued just before a removal can come out
    # equal to it, and must not open for the next holder of the id.
    from recsys.tokens import TokenClaims

    when = dt.datetime(2026, 12, 1, 9, 0, 0, 123000, tzinfo=dt.timezone.utc)
    claims = TokenClaims(member="m1", expires=when + dt.timedelta(hours=24), issued=when)
    assert claims.issued_before(when)
    assert not TokenClaims(member="m1", expires=when + dt.timedelta(hours=24),
                           issued=when + dt.timedelta(milliseconds=1)).issued_before(when)


@pytest.fixture
def other(tmp_path, engine):
    """Another worker: its own engine over the same store, so none of ``engine``'s locks."""
    with Engine.open(tmp_path / "store", encoder="tfidf") as other:
        yield other


@pytest.mark.parametrize("remover", ["engine", "other"])
def test_a_list_planned_before_its_member_was_removed_is_not_stored_after(engine, other, remover, monkeypatch):
    # The removal lands while the list is being planned (between the reads and the write), by
    # this process or another worker: the store checks in its writing transaction.
    import recsys.serving.lists as lists

    plan = lists._plan_day
    removing = engine if remover == "engine" else other

    def removed_meanwhile(*args, **kwargs):
        result = plan(*args, **kwargs)
        removing.remove_member("m2")
        return result

    monkeypatch.setattr(lists, "_plan_day", removed_meanwhile)
    assert engine.daily("m2", day=DAY).entries
    assert engine.events("m2") == [] and engine.store.served_for(["m2"], DAY) == []
    assert {e.member for e in engine.events()} == {"m1"}  # nothing names m2, no impression either


def test_events_checked_before_another_worker_removed_their_member_are_refused(engine, other, monkeypatch):
    checked = engine.store.item_ids

    def removed_after_the_check(ids):  # the engine has read its members; the write is next
        other.remove_member("m2")
        return checked(ids)

    monkeypatch.setattr(engine.store, "item_ids", removed_after_the_check)
    with pytest.raises(ValidationError, match="unknown member 'm2'"):
        engine.record([{"member": "m2", "item": "safety", "kind": "complete", "at": at(12)}])
    assert engine.events("m2") == []


def test_an_enrolment_racing_the_removal_of_its_member_leaves_nothing(engine, monkeypatch):
    starts = dt.datetime.now(TZ) + dt.timedelta(days=3)
    engine.add_items([{"id": "act", "title": "参观太原解放纪念馆现场教学", "body": "重温革命历史。", "kind": "activity",
                       "mode": "offline", "minutes": 120, "topics": ["党史"], "published": "2026-01-01",
                       "schedule": {"starts": starts.isoformat(), "ends": (starts + dt.timedelta(hours=3)).isoformat(),
                                    "location": "太原·太原解放纪念馆", "capacity": 10}}])
    member = engine.member("m2")
    engine.remove_member("m2")  # after the member was read for the request, before the seat is taken
    monkeypatch.setattr(engine, "member", lambda member_id: member)
    with pytest.raises(NotFoundError):
        engine.enroll("m2", "act")
    assert engine.store.enrolments(["act"]) == {}
