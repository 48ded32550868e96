"""Requests at once on one engine: planning holds the engine's lock, nothing else does.

A service answers many members at once from one engine. A list asked again that day is read
from the store, so it must not wait while other members' lists are planned; nor may two first
requests of one member at once store two different lists.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from factories import SAMPLE, make_item
from recsys import Engine, HashingTfidfEncoder, Member
from recsys.pipeline import Recommender, Scorer
from recsys.storage import open_store

DAY = dt.date(2026, 6, 15)


class GatedScorer(Scorer):
    """The usual scorer, which waits at a gate while the gate is closed (a slow plan)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.gate.set()
        self.waiting = threading.Event()

    def __call__(self, ctx, pool):
        if not self.gate.is_set():
            self.waiting.set()
            self.gate.wait(10)
        return super().__call__(ctx, pool)


def _engine(path, scorer: Scorer) -> Engine:
    engine = Engine(open_store(path), HashingTfidfEncoder(dim=256), recommender=Recommender(scorer=scorer))
    engine.add_items([make_item(i, title, body, topics=topics) for i, title, body, topics in SAMPLE])
    engine.upsert_members([Member(id=f"m{n}", name=f"党员{n}", org="t.zb1", roles=("member",), daily_minutes=30)
                           for n in range(4)])
    return engine


def test_a_list_asked_again_does_not_wait_for_another_members_planning(tmp_path):
    scorer = GatedScorer()
    engine = _engine(tmp_path / "s", scorer)
    first = engine.daily("m0", DAY)
    scorer.gate.clear()
    with ThreadPoolExecutor(2) as pool:
        slow = pool.submit(engine.daily, "m1", DAY)  # planned: waits at the gate, holding the lock
        assert scorer.waiting.wait(10)
        started = time.perf_counter()
        again = pool.submit(engine.daily, "m0", DAY).result(timeout=5)
        answered = time.perf_counter() - started
        assert not slow.done(), "the slow plan was still under way when the list came back"
        scorer.gate.set()
        assert slow.result(timeout=10).entries
    assert again == first
    assert answered < 2.0
    engine.close()


def test_first_requests_of_one_member_at_once_store_one_list(tmp_path):
    engine = _engine(tmp_path / "s", Scorer())
    with ThreadPoolExecutor(4) as pool:
        lists = list(pool.map(lambda _: engine.daily("m2", DAY), range(8)))
    assert all(lst == lists[0] for lst in lists)
    assert engine.daily("m2", DAY) == lists[0]
    impressions = [e for e in engine.events("m2") if e.kind == "impression"]
    assert sorted(e.item for e in impressions) == sorted(e.item.id for e in lists[0].entries)
    engine.close()


def test_keeping_the_collaborative_model_never_holds_up_the_other_requests(tmp_path):
    """The request that built the model writes it to the store, which may wait behind another
    process's transaction (an import): the other requests of the process go on meanwhile."""
    import sqlite3

    from recsys import Event, Item
    from recsys.records import TZ

    day = dt.date(2026, 6, 10)
    items = [Item(id=f"i{n}", title=f"学习材料{n}", body=f"正文{n}", kind="article", minutes=10,
                  published=dt.date(2026, 1, 1), topics=("党史",)) for n in range(20)]
    with Engine.open(tmp_path / "s", encoder="tfidf") as eng:
        eng.add_items(items)
        eng.upsert_members([Member(id=f"m{n}", name="张伟", org="hx.b1", roles=("member",), daily_minutes=30)
                            for n in range(20)])
        at = dt.datetime.combine(day - dt.timedelta(days=3), dt.time(20), TZ)
        eng.record([Event(f"m{n}", f"i{(n * 7 + k) % 20}", "complete", at + dt.timedelta(minutes=k))
                    for n in range(20) for k in range(3)])
    eng = Engine.open(tmp_path / "s", encoder="tfidf")
    eng.search("学习", k=3)  # warm, the collaborative model not yet built
    other_writer = sqlite3.connect(tmp_path / "s" / "recsys.sqlite", isolation_level=None)
    other_writer.execute("BEGIN IMMEDIATE")  # as another process's import holds the store
    builder = threading.Thread(target=lambda: eng.daily("m1", day, preview=True))
    builder.start()
    while eng.collab_build_seconds == 0 and builder.is_alive():
        time.sleep(0.01)  # built; now waiting to write it
    done = []
    other = threading.Thread(target=lambda: done.append(eng.daily("m2", day, preview=True)))
    other.start()
    other.join(timeout=20)
    finished = not other.is_alive()
    other_writer.execute("ROLLBACK")
    builder.join()
    other.join()
    eng.close()
    assert finished and done[0].entries, "a list waited for the model to be written"
