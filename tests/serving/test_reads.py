"""How many SQL statements a request costs, counted on the real SQLite backend.

A request reads what it needs once: a cache-miss daily list reads the member, the store's
counters, the served list, the member's history, the day's seats and the branch's activity, and
writes the list with its impressions (at most 8 statements); a coverage report reads the same
number of statements whatever the number of members.
"""

from __future__ import annotations

import datetime as dt

import pytest
from factories import make_item

from recsys import Engine, Event, Member, Schedule
from recsys.embedding.encoders import CachedEncoder, get_encoder
from recsys.records import TZ
from recsys.storage import SQLiteStore

DAY = dt.date(2026, 6, 15)
_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "PRAGMA", "SAVEPOINT", "RELEASE")


class Counter:
    """Collects the statements a store runs; counts those that read or write data."""

    def __init__(self) -> None:
        self.sql: list[str] = []

    def __call__(self, statement: str) -> None:
        self.sql.append(statement)

    def data_statements(self) -> list[str]:
        return [s for s in self.sql if not s.lstrip().upper().startswith(_CONTROL)]

    def measure(self, call):
        self.sql.clear()
        result = call()
        return result, self.data_statements()


def _members(n: int) -> list[Member]:
    return [
        Member(id=f"m{i:03d}", name=f"党员{i}", org=f"t.zb{i % 3}", roles=("member",) + (("frontline",) if i % 2 else ()),
               interests=("安全生产",) if i % 2 else ("党史",), daily_minutes=40, location="太原")
        for i in range(n)
    ]


def _items() -> list:
    words = "隐患 排查 红船 精神 八项 规定 保密 纪律 改革 三年 行动 数字 转型 志愿 服务 先锋 模范 创新 理论 宗旨".split()
    items = [make_item(f"a{i:02d}", f"学习材料第{i}篇：{words[i % 20]}{words[(i * 7 + 3) % 20]}",
                       f"{words[i % 20]} {words[(i * 3 + 1) % 20]} {words[(i * 11 + 5) % 20]} 第{i}讲",
                       topics=(("安全生产", "党史", "廉洁从业")[i % 3],), minutes=5 + i % 4 * 5)
             for i in range(30)]
    starts = dt.datetime.combine(DAY + dt.timedelta(days=2), dt.time(9), TZ)
    items.append(make_item("visit", "红色教育基地参观", "现场教学 党史", kind="activity", mode="offline", minutes=120,
                           topics=("党史",),
                           schedule=Schedule(starts=starts, ends=starts + dt.timedelta(hours=3), location="太原",
                                             capacity=20)))
    return items


def _engine(path, counter: Counter, members: list[Member]) -> Engine:
    store = SQLiteStore(path, trace=counter)
    engine = Engine(store, CachedEncoder(get_encoder("tfidf"), store.embedding_cache()))
    engine.add_items(_items())
    engine.upsert_members(members)
    at = dt.datetime.combine(DAY - dt.timedelta(days=3), dt.time(10), TZ)
    engine.record([Event(member=m.id, item=f"a{n:02d}", kind="complete", at=at)
                   for n, m in enumerate(members[:20])])
    return engine


@pytest.fixture
def counted(tmp_path):
    counter = Counter()
    engine = _engine(tmp_path / "s", counter, _members(12))
    yield engine, counter
    engine.close()


def test_a_cache_miss_daily_list_costs_at_most_nine_statements(counted):
    engine, counter = counted
    # Warm the engine as a running service is: index, catalogue, collaborative model, embeddings.
    engine.daily("m001", DAY - dt.timedelta(days=1))
    result, sql = counter.measure(lambda: engine.daily("m001", DAY))
    assert result.entries, "the list is not empty, so it was planned and written"
    # Nine: the last before the write checks the member is still held (a removal meanwhile).
    assert len(sql) <= 9, "\n".join(sql)
    # The same request again is served from the stored list: reads only (the member, the list,
    # whether opening balances were recorded since, the member's state, the items it shows, and
    # the seats of the activities with a capacity it shows).
    again, sql = counter.measure(lambda: engine.daily("m001", DAY))
    assert again == result
    assert len(sql) <= 6, "\n".join(sql)
    assert not [s for s in sql if s.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))]


def test_a_path_reads_the_history_once_and_the_branch_and_served_list_once_a_day(counted):
    engine, counter = counted
    engine.daily("m001", DAY - dt.timedelta(days=1))
    path, sql = counter.measure(lambda: engine.path("m001", DAY, days=7))
    assert len(path.days) == 7
    assert len([s for s in sql if "FROM events" in s and "member = ?" in s]) <= 1, "\n".join(sql)
    assert len(sql) <= 4 + 2 * 7, "\n".join(sql)  # each day: the branch, and the list it was given if any


def test_coverage_reads_do_not_grow_with_the_members(tmp_path):
    counts = []
    for n in (6, 36):
        counter = Counter()
        engine = _engine(tmp_path / f"s{n}", counter, _members(n))
        engine.coverage(day=DAY)  # warm: index and catalogue
        report, sql = counter.measure(lambda: engine.coverage(day=DAY))
        assert report.counts["members"] == n
        counts.append(len(sql))
        engine.close()
    assert counts[0] == counts[1]


def test_a_batch_block_reads_the_same_statements_whatever_its_size(tmp_path):
    # Members of three branches: the block reads its served lists and histories in one statement
    # each, and each branch's activity once; the lists and impressions go in one transaction.
    counts = []
    for n in (6, 36):
        counter = Counter()
        engine = _engine(tmp_path / f"s{n}", counter, _members(n))
        engine.daily("m001", DAY - dt.timedelta(days=1))  # warm
        lists, sql = counter.measure(lambda: engine.daily_many([f"m{i:03d}" for i in range(n)], DAY))
        assert len(lists) == n and all(lst.entries for lst in lists)
        reads = [s for s in sql if s.lstrip().upper().startswith("SELECT")]
        histories = [s for s in reads if "FROM events WHERE member" in s]
        assert len(histories) == 1, "\n".join(histories)
        counts.append(len(reads))
        engine.close()
    assert counts[0] == counts[1]


def test_the_nightly_batch_goes_branch_by_branch(tmp_path):
    # Ids interleave the three branches (m000 in zb0, m001 in zb1, ...): taken by id, every block
    # of four would read the activity of each branch again. Branch by branch, a block holds one
    # or two branches, and each branch is read in the blocks that hold it only.
    counter = Counter()
    engine = _engine(tmp_path / "s", counter, _members(24))
    engine.daily("m001", DAY - dt.timedelta(days=1))  # warm
    report, sql = counter.measure(lambda: engine.batch(day=DAY, chunk=4))
    assert report.served == 24
    branch_reads = [s for s in sql if "SELECT id FROM members WHERE org" in s]
    assert len(branch_reads) <= 6 + 2, "\n".join(branch_reads)
    engine.close()
