"""Starting mid-year: opening balances change the pace, and a go-live day silences what nobody
could have seen; a member with no record is said to have none."""

from __future__ import annotations

import datetime as dt

import pytest

from factories import make_item
from recsys import Engine, Member, ValidationError
from recsys.credits import OPENING_KIND, OpeningBalance
from recsys.curriculum import Curriculum
from recsys.reports.alerts import find_alerts
from recsys.reports.progress import member_progress
from recsys_cli import main

DAY = dt.date(2026, 11, 30)  # 334 days into the year: a 32-hour target expects 29.3 hours
M1 = Member("m1", "张伟", "hx.b1")


def test_an_opening_balance_stands_in_the_ledger_and_changes_the_pace():
    bare = member_progress(M1, [], {}, Curriculum(), DAY)
    assert (bare.hours.total, bare.hours.status) == (0, "behind")
    balance = OpeningBalance("m1", 2026, 28, topic="党史", note="截至10月底线下学习台账")
    credited = member_progress(M1, [], {}, Curriculum(), DAY, [balance, OpeningBalance("m1", 2025, 30)])
    (entry,) = credited.hours.entries  # last year's balance does not count this year
    assert (entry.kind, entry.hours, entry.title) == (OPENING_KIND, 28, "期初学时（截至10月底线下学习台账）")
    assert credited.hours.status == "on_pace" and credited.hours.by_topic == {"党史": 28}
    assert credited.points.total == 0  # a balance earns no points


def _kinds(alerts):
    return sorted((a.kind, a.member or a.org) for a in alerts)


def test_before_go_live_nothing_fires_and_silence_is_counted_from_it():
    members = [M1, Member("m2", "李娜", "hx.b1", offline=False, situation="mobile")]
    live = Curriculum.from_dict({"go_live": {"hx": "2026-11-15"}})
    balances = {"m1": [OpeningBalance("m1", 2026, 30)], "m2": [OpeningBalance("m2", 2026, 30)]}
    assert find_alerts(members, {}, {}, live, dt.date(2026, 11, 10), balances) == []
    # Two weeks after go-live: no silence of 30 days, no themed day missed in a month begun before it.
    assert find_alerts(members, {}, {}, live, DAY, balances) == []
    later = find_alerts(members, {}, {}, live, dt.date(2026, 12, 20), balances)
    assert _kinds(later) == [("inactive", "m1"), ("inactive", "m2"), ("no_themed_day", "hx.b1")]
    assert later[0].message == "张伟自上线（2026-11-15）以来尚无学习记录，已超过 30 天没有学习"
    # Without a go-live day, a member with no record is said to have none, not to be silent for 30
    # days; one whose hours came from a ledger, none but those.
    unknown = find_alerts([M1], {}, {}, Curriculum(), DAY, balances)
    assert [a.message for a in unknown if a.kind == "inactive"] == ["张伟除期初学时外尚无学习记录"]
    assert [a.message for a in find_alerts([M1], {}, {}, Curriculum(), DAY) if a.kind == "inactive"] == \
        ["张伟尚无学习记录"]
    with pytest.raises(ValidationError, match="go_live of 'hx' must be a date"):
        Curriculum.from_dict({"go_live": {"hx": "11月15日"}})


def test_balances_through_the_engine_and_the_command_line(tmp_path, capsys):
    store = tmp_path / "store"
    with Engine.open(store, encoder="tfidf") as engine:
        engine.add_items([make_item("a1", "中共一大的召开")])
        engine.upsert_members([M1])
    path = tmp_path / "credits.csv"
    path.write_bytes("member,year,hours,topic,note\nm1,2026,20,新思想,台账\nm1,2026,8,,\n".encode("gbk"))
    assert main(["credits", str(path), "--store", str(store)]) == 0
    assert "credits.csv (GB18030): 2 opening balances" in capsys.readouterr().out
    path.write_bytes("member,year,hours,topic\nm1,2026,24,习近平新时代中国特色社会主义思想\nm9,2026,3,\n".encode())
    assert main(["credits", str(path), "--store", str(store)]) == 2
    assert "credits.csv:3, field 'member': unknown member 'm9'" in capsys.readouterr().err
    with Engine.open(store) as engine:
        engine.record_balances([{"member": "m1", "year": 2026, "hours": 24, "topic": "党的创新理论"}])
        assert [(b.topic, b.hours) for b in engine.opening_balances("m1")] == [(None, 8), ("党的创新理论", 24)]
        assert engine.progress("m1", day=DAY).hours.total == 32  # the corrected balance replaced the first


def test_a_ledger_file_is_checked_as_it_will_be_written(tmp_path, capsys):
    """Hours with their unit are read; --check names an unknown member as the write would; a
    balance in minutes rather than hours is flagged."""
    store = tmp_path / "store"
    with Engine.open(store, encoder="tfidf") as engine:
        engine.add_items([make_item("a1", "中共一大的召开")])
        engine.upsert_members([M1, Member("m2", "李娜", "hx.b1")])
    path = tmp_path / "credits.csv"
    path.write_text("党员编号,年度,学时,备注\nm1,2026,12学时,台账\nm2,2026,８.５小时,台账\nm9,2026,3,台账\n", encoding="utf-8")
    assert main(["credits", str(path), "--check", "--store", str(store)]) == 2
    assert "credits.csv:4, field 'member': unknown member 'm9'" in capsys.readouterr().err
    path.write_text("党员编号,年度,学时\nm1,2026,12学时\nm2,2026,8.5小时\n", encoding="utf-8")
    assert main(["credits", str(path), "--store", str(store)]) == 0
    with Engine.open(store) as engine:
        assert [b.hours for b in engine.opening_balances()] == [12.0, 8.5]
    path.write_text("党员编号,年度,学时\nm1,2026,12分钟\nm2,2026,1800\n", encoding="utf-8")
    assert main(["credits", str(path), "--check", "--store", str(store)]) == 2
    assert "field 'hours': must be a number of hours (12, 12.5, 12学时 or 12小时), got '12分钟'" in capsys.readouterr().err
    # A ledger with a row per quarter, or a corrected row appended: one would replace the other.
    path.write_text("党员编号,年度,学时,备注\nm1,2026,41.5,截至10月底\nm2,2026,3,\nm1,2026,20,截至6月底\n",
                    encoding="utf-8")
    for check in (["--check"], []):
        assert main(["credits", str(path), *check, "--store", str(store)]) == 2
        assert ("credits.csv:4, id 'm1', field 'member': line 2 gives 'm1' a balance for 2026 too: one would "
                "replace the other, so give one row with the year's total") in capsys.readouterr().err
    with Engine.open(store) as engine:
        assert [b.hours for b in engine.opening_balances()] == [12.0, 8.5]  # nothing written
        with pytest.raises(ValidationError, match="an earlier record of the batch gives 'm2' a balance for 2026 in"):
            engine.record_balances([{"member": "m2", "year": 2026, "hours": 1, "topic": "党史"},
                                    {"member": "m2", "year": 2026, "hours": 2, "topic": "党史"}])
        with pytest.raises(ValidationError, match="batch:2, id 'm1', field 'member': an earlier record"):
            engine.record_balances([OpeningBalance("m1", 2026, 1), OpeningBalance("m1", 2026, 2)])
        engine.record_balances([OpeningBalance("m2", 2026, 1, "党史"), OpeningBalance("m2", 2025, 2, "党史")])
    path.write_text("党员编号,年度,学时\nm2,2026,1800\n", encoding="utf-8")
    assert main(["credits", str(path), "--check", "--store", str(store)]) == 0
    assert "期初学时 1800 远超一年的学时要求" in capsys.readouterr().err


@pytest.mark.parametrize("hours, text", [(0.25, "0.3"), (12.25, "12.3"), (0.35, "0.4"), (29.33, "29.3"), (0.04, "0.0"),
                                         (20, "20.0"), (-0.0, "0.0")])
def test_hours_are_shown_rounded_as_people_round_them(hours, text):
    from recsys.pipeline.explain import hours_text

    assert hours_text(hours) == text


def test_a_member_ledger_shows_a_quarter_hour_as_people_round_it():
    from recsys.reports.progress import format_member_progress

    progress = member_progress(M1, [], {}, Curriculum(), DAY, [OpeningBalance("m1", 2026, 12.25)])
    assert "学时：12.3 / 32" in format_member_progress(progress)


def test_a_balance_counts_in_the_hours_a_list_says_are_left(tmp_path):
    """A list's "本年度还差" counts the hours of an opening balance in its topic, as the learning
    record does; a list served before the balance was recorded is planned again; a balance under
    another name of a topic family counts toward the family, however it was given."""
    day = dt.date(2026, 12, 10)  # 党员: 32 hours a year, 10 % of them 党史, 3.2 hours

    def reasons() -> list[str]:
        return [r for e in engine.daily("m1", day, minutes=60).entries for r in e.reasons]

    with Engine.open(tmp_path / "store", encoder="tfidf") as engine:
        engine.add_items([make_item("h1", "遵义会议的历史意义", "遵义会议确立了正确路线", topics=("党史",), minutes=25)])
        engine.upsert_members([M1])
        assert reasons() == ["作为党员的必修主题：党史，本年度还差 3.2 学时"]
        engine.record_balances([{"member": "m1", "year": 2026, "hours": 2, "topic": "党史"},
                                {"member": "m1", "year": 2025, "hours": 9, "topic": "党史"}])
        assert reasons() == ["作为党员的必修主题：党史，本年度还差 1.2 学时"]
        engine.record_balances([{"member": "m1", "year": 2026, "hours": 3.5, "topic": "党史"}])
        assert not [r for r in reasons() if "还差" in r]
        engine.record_balances([{"member": "m1", "year": 2026, "hours": 12, "topic": "新思想"}])
        assert [b.topic for b in engine.opening_balances("m1") if b.year == 2026] == ["党史", "党的创新理论"]
