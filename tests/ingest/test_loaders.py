"""Loaders: JSONL, JSON and CSV; every problem located by file, line and field."""

from __future__ import annotations

import json

import pytest

from recsys import Event, Item, ValidationError, read_events, read_items, read_members
from recsys.ingest.loaders import read_batch

ROW = {"id": "a1", "title": "学习新党章", "body": "党章是党的根本大法。", "kind": "article", "minutes": 10,
       "topics": ["党章党规党纪", "党史"], "published": "2026-01-05"}


def write_jsonl(path, rows):
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    return path


def test_jsonl_json_and_csv_give_the_same_items(tmp_path):
    rows = [ROW, dict(ROW, id="a2", title="党史故事", topics=["党史"])]
    a = read_items(write_jsonl(tmp_path / "items.jsonl", rows))
    (tmp_path / "items.json").write_text(json.dumps({"items": rows}, ensure_ascii=False), encoding="utf-8")
    b = read_items(tmp_path / "items.json")
    (tmp_path / "items.csv").write_text(
        "id,title,body,kind,minutes,topics,published\n"
        "a1,学习新党章,党章是党的根本大法。,article,10,党章党规党纪|党史,2026-01-05\n"
        "a2,党史故事,党章是党的根本大法。,article,10,党史,2026-01-05\n",
        encoding="utf-8",
    )
    c = read_items(tmp_path / "items.csv")
    assert a == b == c
    assert a[0].topics == ("党章党规党纪", "党史")


def test_csv_offline_schedule_columns(tmp_path):
    (tmp_path / "off.csv").write_text(
        "id,title,kind,mode,minutes,published,starts,ends,location,capacity\n"
        "o1,参观红色教育基地,activity,offline,180,2026-11-01,2026-12-05T09:00,2026-12-05T12:00,延安·枣园革命旧址,30\n",
        encoding="utf-8",
    )
    (item,) = read_items(tmp_path / "off.csv")
    assert item.schedule.capacity == 30 and item.schedule.city == "延安"


def test_csv_members_keep_their_location(tmp_path):
    (tmp_path / "m.csv").write_text(
        "id,name,roles,org,offline,location,daily_minutes\nm1,李娜,member|young,zjjt.xmb.zb-xian,true,西安,20\n",
        encoding="utf-8",
    )
    (m,) = read_members(tmp_path / "m.csv")
    assert m.roles == ("member", "young") and m.location == "西安" and m.offline is True


def test_bad_line_is_named_with_file_line_and_field(tmp_path):
    path = write_jsonl(tmp_path / "items.jsonl", [ROW, dict(ROW, id="a2", kind="podcast"), dict(ROW, id="a3")])
    with pytest.raises(ValidationError) as err:
        read_items(path)
    msg = str(err.value)
    assert "items.jsonl:2" in msg and "'a2'" in msg and "'kind'" in msg
    assert err.value.line == 2 and err.value.field == "kind"


def test_every_problem_is_collected(tmp_path):
    rows = [dict(ROW, id="a1", minutes=0), dict(ROW, id="a2"), dict(ROW, id="a2"), dict(ROW, id="a4", level=9)]
    with pytest.raises(ValidationError) as err:
        read_items(write_jsonl(tmp_path / "items.jsonl", rows))
    got = sorted((p.line, p.field) for p in err.value.problems)
    assert got == [(1, "minutes"), (3, "id"), (4, "level")]
    assert "and 2 more problems" in str(err.value)


def test_malformed_json_names_the_line(tmp_path):
    path = tmp_path / "items.jsonl"
    path.write_text(json.dumps(ROW, ensure_ascii=False) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(ValidationError, match=r"items.jsonl:2: invalid JSON"):
        read_items(path)


def test_csv_wrong_type_names_the_column(tmp_path):
    (tmp_path / "i.csv").write_text("id,title,kind,minutes,published\na1,标题,article,ten,2026-01-01\n", encoding="utf-8")
    with pytest.raises(ValidationError) as err:
        read_items(tmp_path / "i.csv")
    assert err.value.line == 2 and err.value.field == "minutes"


@pytest.mark.parametrize("name", ["missing.jsonl", "items.txt"])
def test_unreadable_files(tmp_path, name):
    (tmp_path / "items.txt").write_text("x", encoding="utf-8")
    with pytest.raises(ValidationError, match=name):
        read_items(tmp_path / name)


def test_gbk_json_is_read_and_a_forced_wrong_encoding_is_refused(tmp_path):
    path = tmp_path / "items.jsonl"
    path.write_bytes(json.dumps(ROW, ensure_ascii=False).encode("gbk"))
    assert read_items(path)[0].title == "学习新党章"
    with pytest.raises(ValidationError, match="not utf-8 text"):
        read_batch(path, Item, encoding="utf-8")


def test_an_event_without_an_id_is_keyed_by_what_it_says_and_ids_may_not_repeat(tmp_path):
    ev = {"member": "m1", "item": "a1", "kind": "impression", "at": "2026-11-01T08:00:00"}
    batch = read_batch(write_jsonl(tmp_path / "e.jsonl", [ev, ev, dict(ev, at="2026-11-01T00:00:00Z")]), Event)
    # The same member, item, kind, instant (however written) and value: one event, kept once.
    assert len(batch.records) == 1 and batch.lines == [1]
    assert [w.line for w in batch.warnings] == [2, 3] and "只记一次" in batch.warnings[0].message
    again = read_batch(write_jsonl(tmp_path / "again.jsonl", [ev]), Event).records
    assert again[0].id == batch.records[0].id and again[0].id.startswith("row-")
    for other in (dict(ev, member="m2"), dict(ev, item="a2"), dict(ev, kind="skip"), dict(ev, at="2026-11-01T08:00:01"),
                  dict(ev, kind="quiz", value=0.5)):
        assert read_batch(write_jsonl(tmp_path / "o.jsonl", [other]), Event).records[0].id != again[0].id
    with pytest.raises(ValidationError, match="duplicate event id"):
        read_events(write_jsonl(tmp_path / "e2.jsonl", [dict(ev, id="e1"), dict(ev, id="e1")]))
    # Ids are unique per enterprise, which only the store's members tell: another member's may repeat.
    assert len(read_events(write_jsonl(tmp_path / "e3.jsonl", [dict(ev, id="e1"), dict(ev, id="e1", member="m2")]))) == 2


def test_a_mistyped_role_is_refused_with_the_role_meant_in_a_catalogue_as_in_a_roster(tmp_path):
    """支部书计 is no role a member can hold: an item for it would reach nobody."""
    from recsys import Member

    items = tmp_path / "items.csv"
    items.write_text("编号,标题,类型,时长,发布日期,面向对象\nb1,支部工作要点,文章,15,2026/1/1,支部书计\n", encoding="utf-8")
    members = tmp_path / "members.csv"
    members.write_text("党员编号,姓名,身份,所在支部\nm1,李志刚,党员、支部书计,hx.b1\n", encoding="utf-8")
    for path, kind in ((items, Item), (members, Member)):
        with pytest.raises(ValidationError) as err:
            read_batch(path, kind)
        (problem,) = err.value.problems
        assert problem.line == 2 and problem.field == "roles"
        assert "got '支部书计'; did you mean '支部书记'?" in str(problem)
    members.write_text("党员编号,姓名,身份,所在支部\nm1,李志刚,支部书纪,hx.b1\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="did you mean '支部书记'"):  # a homophone slip too
        read_batch(members, Member)
    members.write_text("党员编号,姓名,党内职务,所在支部\nm1,李志刚,党支部书纪,hx.b1\n", encoding="utf-8")
    (warning,) = read_batch(members, Member).warnings
    assert "“党支部书纪”（是否为“党支部书记”？）" in warning.message
    # Another post is no slip of a known one: 党委书记 is not 党支部书记, 党委委员 not 支委委员.
    for post in ("党委书记", "纪委书记", "党委委员"):
        members.write_text(f"党员编号,姓名,身份,所在支部\nm1,李志刚,{post},hx.b1\n", encoding="utf-8")
        with pytest.raises(ValidationError) as err:
            read_batch(members, Member)
        assert "did you mean" not in str(err.value) and "vocabulary's roles (curriculum.json)" in str(err.value)
    # A role the curriculum does not know but that is a role id (an organisation's own) is read,
    # with a warning that says what it does.
    items.write_text("编号,标题,类型,时长,发布日期,面向对象\nb1,安全员培训,文章,15,2026/1/1,safety_officer\n", encoding="utf-8")
    (warning,) = read_batch(items, Item).warnings
    assert warning.field == "roles" and "只推荐给担任这一角色的党员" in warning.message


def test_a_joining_date_in_the_future_is_warned_of(tmp_path):
    import datetime as dt

    from recsys import Member
    from recsys.records import TZ

    members = tmp_path / "members.csv"
    members.write_text("党员编号,姓名,所在支部,入党日期\nm1,李志刚,hx.b1,2027/12/1\nm2,王芳,hx.b1,2001/7/1\n", encoding="utf-8")
    batch = read_batch(members, Member, now=dt.datetime(2026, 12, 1, tzinfo=TZ))
    assert [(w.line, w.field) for w in batch.warnings] == [(2, "joined")] and "晚于今天" in batch.warnings[0].message
