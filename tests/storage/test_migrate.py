"""``recsys migrate SRC DST``: the sample store copied SQLite -> PostgreSQL -> SQLite, checked by what
each holds and by the lists each serves."""

from __future__ import annotations

import datetime as dt
import shutil

import pytest

from corpus import load_events, load_items, load_members
from recsys import Engine, Event
from recsys.exceptions import TokenError
from recsys.models import TrainConfig
from recsys.models.ranking import ARTEFACT
from recsys.records import TZ
from recsys.storage import open_store
from recsys.storage.migrate import count_store
from recsys_cli import main

DAY = dt.date(2026, 12, 1)


@pytest.fixture(scope="module")
def sample_store(tmp_path_factory):
    """The sample corpus in a SQLite folder, with the lists of a few members already served."""
    folder = tmp_path_factory.mktemp("sample") / "store"
    with Engine.open(folder, encoder="tfidf") as engine:
        engine.add_items(load_items())
        engine.upsert_members(load_members())
        # Recorded latest first, as a late sync may: the copy's sequence (time order) differs.
        engine.record(load_events()[::-1])
        served = {m.id: engine.daily(m.id, day=DAY).to_dict() for m in load_members()[:5]}
    return folder, served


def test_a_store_goes_to_postgresql_and_back_with_the_same_content_and_lists(sample_store, postgres, tmp_path, capsys):
    folder, served = sample_store
    url = postgres.new_database()
    assert main(["migrate", str(folder), url, "--sample", "8", "--day", DAY.isoformat()]) == 0
    out = capsys.readouterr().out
    assert "daily lists of 8 members equal" in out and postgres.PASSWORD not in out

    back = tmp_path / "back"
    assert main(["migrate", url, str(back), "--sample", "8", "--day", DAY.isoformat()]) == 0
    stores = [open_store(folder), open_store(url), open_store(back)]
    try:
        counts = [count_store(s) for s in stores]
        assert counts[0] == counts[1] == counts[2]
        assert counts[0].events > len(load_events())  # the history and the served lists' impressions
        assert counts[0].served == len(served)
        # Vectors are copied, never re-embedded: bit for bit the same.
        dim = int(stores[0].get_meta("dim"))
        vectors = [{it.id: v.tobytes() for it, v in s.item_changes(0, dim).upserted} for s in stores]
        assert vectors[0] == vectors[1] == vectors[2]
        # So are the cached vectors of the texts planning searches with (roles, topics): the
        # default encoder embeds a text a little differently in another batch.
        cached = [[(m, k, v.tobytes()) for m, k, v in s.embedding_cache().entries()] for s in stores]
        assert cached[0] and cached[0] == cached[1] == cached[2]
        # Lists current in the source are current in each copy (planned from the member's events
        # and record as they are there).
        from recsys.serving.lists import planned_from

        for store in stores[1:]:
            for member, request in store.served_on(DAY):
                record = store.get_members([member])[member]
                assert store.get_served(member, DAY, request).state == planned_from(store.member_state(member), record)
    finally:
        for s in stores:
            s.close()
    # A list served before the copy is served again as it was, from the copy's served lists.
    with Engine.open(url) as copy, Engine.open(back) as round_trip:
        for member, listed in served.items():
            assert copy.daily(member, day=DAY).to_dict() == listed
            assert round_trip.daily(member, day=DAY).to_dict() == listed


def test_a_destination_that_is_not_empty_is_refused_and_left_as_it_was(sample_store, tmp_path, capsys):
    folder, _ = sample_store
    other = tmp_path / "other"
    with Engine.open(other, encoder="tfidf") as engine:
        engine.upsert_members(load_members()[:1])
    assert main(["migrate", str(folder), str(other)]) == 2
    assert "is not empty (0 items, 1 members" in capsys.readouterr().err
    store = open_store(other)
    assert count_store(store).members == 1 and store.count_items() == 0
    store.close()


def test_a_missing_source_is_refused_and_nothing_is_created(tmp_path, capsys):
    assert main(["migrate", str(tmp_path / "nowhere"), str(tmp_path / "copy")]) == 2
    assert "no store at" in capsys.readouterr().err
    assert not (tmp_path / "nowhere").exists() and not (tmp_path / "copy").exists()


def test_organisation_names_opening_balances_and_pseudonyms_survive_a_copy(tmp_path):
    source, copy = tmp_path / "source", tmp_path / "copy"
    with Engine.open(source, encoder="tfidf") as engine:
        engine.upsert_members(load_members()[:2])
        first, second = (m.id for m in load_members()[:2])
        engine.set_org_names([{"org": "hxny", "name": "华能新能源党委"}])
        engine.record_balances([{"member": first, "year": 2026, "hours": 12}])
        before_leaving, _ = engine.member_token(second)
        pseudonym = engine.remove_member(second, keep_history=True).pseudonym
        engine.upsert_members(load_members()[1:2])  # joins again
        token, _ = engine.member_token(first)  # a link sent to the member before the move
        engine.store.set_meta({"push_sent:2026-12-01:0123456789abcdef": '["hxny.fdgs.zb1"]'})
    assert main(["migrate", str(source), str(copy)]) == 0
    with Engine.open(copy) as engine:
        assert engine.check_member_token(token).member == first
        # The id was given again: a link from before the removal is still not the new holder's.
        with pytest.raises(TokenError, match="issued before"):
            engine.token_member(before_leaving)
        assert engine.store.meta_with_prefix("push_sent:") == {"push_sent:2026-12-01:0123456789abcdef": '["hxny.fdgs.zb1"]'}
        assert engine.org_names() == {"hxny": "华能新能源党委"}
        assert [(b.member, b.hours) for b in engine.opening_balances()] == [(first, 12.0)]
        assert engine.remove_member(second, keep_history=True).pseudonym == pseudonym


@pytest.mark.slow
def test_a_trained_model_goes_with_the_copy_and_serves_the_same_lists(sample_store, tmp_path, capsys):
    folder, _ = sample_store
    source, copy = tmp_path / "trained", tmp_path / "copy"
    shutil.copytree(folder, source)
    tenant = load_members()[0].tenant
    with Engine.open(source) as engine:
        assert engine.train() is not None
        model = engine.store.get_artefact(ARTEFACT)
        assert engine.tenant(tenant).train(TrainConfig(ease_l2=(50.0,))) is not None  # the enterprise's own
        own = engine.tenant(tenant).store.own_artefact(ARTEFACT)
    # migrate compares the lists each store serves: a copy without the models would differ.
    assert main(["migrate", str(source), str(copy), "--sample", "8", "--day", DAY.isoformat()]) == 0
    assert "copied 2 trained models" in capsys.readouterr().err
    with Engine.open(copy) as engine:
        assert engine.store.get_artefact(ARTEFACT).data == model.data
        assert engine.store.get_artefact(ARTEFACT).activity == model.activity
        assert engine.tenant(tenant).store.own_artefact(ARTEFACT).data == own.data
        assert engine.ranking_model() is not None
        assert engine.train(if_stale=True) is None  # current in the copy: nothing to retrain
        assert engine.tenant(tenant).train(if_stale=True) is None


def test_a_list_of_a_member_who_moved_enterprise_or_left_is_copied_as_it_was(tmp_path):
    """A copy keeps every served list, also one under a tenant its member no longer holds (moved
    to another enterprise since) and one an earlier version kept for a member it never held."""
    import sqlite3

    source, copy = tmp_path / "source", tmp_path / "copy"
    with Engine.open(source, encoder="tfidf") as engine:
        engine.add_items(load_items()[:20])
        member = load_members()[0]
        engine.upsert_members([member])
        engine.daily(member.id, day=DAY)
        engine.upsert_members([member.with_changes({"org": "zjjt.zb1"})])  # moved: the list stays under hxny
    with sqlite3.connect(source / "recsys.sqlite") as db:
        db.execute("INSERT INTO served SELECT '', 'gone', day, request, state, payload, created FROM served")
    db.close()
    before = open_store(source)
    assert count_store(before).served == 2
    before.close()
    assert main(["migrate", str(source), str(copy)]) == 0  # exits 1 if the counts differ
    after = open_store(copy)
    assert count_store(after).served == 2
    after.close()


def test_a_store_a_member_left_copies_with_its_lists_current(tmp_path, capsys):
    """A member removed deletes their events, leaving gaps in the source's numbers that the copy
    closes: the lists served that day are still the day's lists in the copy (a member's list
    pushed this morning is the one asked for after the move), and the check passes."""
    source, copy = tmp_path / "source", tmp_path / "copy"
    members = load_members()[:6]
    with Engine.open(source, encoder="tfidf") as engine:
        engine.add_items(load_items())
        engine.upsert_members(members)
        engine.record([e for e in load_events() if e.member in {m.id for m in members}])
        served = {m.id: engine.daily(m.id, day=DAY).to_dict() for m in members}
        gone = next(m.id for m in members[:3] if engine.events(m.id))
        engine.remove_member(gone)
        # A member who studied since their list was served: stale in the source.
        busy = members[5].id
        engine.record([Event(member=busy, item=served[busy]["entries"][0]["item"]["id"], kind="complete",
                             at=dt.datetime.combine(DAY, dt.time(20), TZ))])
    assert main(["migrate", str(source), str(copy), "--day", DAY.isoformat()]) == 0, capsys.readouterr().err
    with Engine.open(copy) as after:
        for m in members[:5]:
            if m.id != gone:
                assert after.daily(m.id, day=DAY, preview=True).to_dict() == served[m.id]
        # A list stale in the source stays stale: asked again, it is planned anew.
        (stale,) = after.store.served_for([busy], DAY)
        assert stale.state.startswith("stale:")
        assert after.daily(busy, day=DAY, preview=True).to_dict() != served[busy]
