"""``recsys ingest|members|events``: exports as they come, --check, --strict, every problem listed."""

from __future__ import annotations

import datetime as dt

import pytest

from recsys import Engine
from recsys_cli import main

ITEMS = ("id,title,kind,minutes,topics,roles,published,\n"
         "a1,学习新思想,文章,15分钟,习近平新时代中国特色社会主义思想,支部书记,2026/11/1,\n"
         "a2,安全生产微课,视频课程,8,安全生产,,2026年11月2日,\n")
MEMBERS = "id,name,roles,org,offline,daily_minutes\nm1,李志刚,党员、支部书记,hx.b1,是,\n"


def gbk(path, text):
    path.write_bytes(text.encode("gbk"))
    return str(path)


def test_a_gbk_export_goes_in_and_says_how_it_was_read(tmp_path, capsys):
    store = str(tmp_path / "store")
    assert main(["ingest", gbk(tmp_path / "items.csv", ITEMS), "--store", store, "--encoder", "tfidf"]) == 0
    assert main(["members", gbk(tmp_path / "members.csv", MEMBERS), "--store", store]) == 0
    out = capsys.readouterr().out
    assert "items.csv (GB18030): 2 items" in out and "members.csv (GB18030): 1 members" in out
    with Engine.open(store) as engine:
        assert engine.item("a1").topics == ("党的创新理论",) and engine.item("a1").roles == ("branch_secretary",)
        m1 = engine.member("m1")
        assert (m1.roles, m1.offline, m1.daily_minutes) == (("member", "branch_secretary"), True, 30)


def test_check_validates_and_writes_nothing_not_even_a_store(tmp_path, capsys):
    store = tmp_path / "store"
    assert main(["ingest", gbk(tmp_path / "items.csv", ITEMS), "--check", "--store", str(store)]) == 0
    assert "2 items valid; nothing written" in capsys.readouterr().out
    assert not store.exists()


def test_every_problem_is_listed_and_a_rejected_run_writes_nothing(tmp_path, capsys):
    store = str(tmp_path / "store")
    good = gbk(tmp_path / "items.csv", ITEMS)
    bad = gbk(tmp_path / "bad.csv", "id,title,kind,minutes,published\nb1,标题,播客,10,2026/12/1\nb2,标题,文章,x,2026/12/1\n")
    assert main(["ingest", good, bad, "--store", store, "--encoder", "tfidf"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("recsys: error: ") and "bad.csv:2, id 'b1', field 'kind'" in err[0]
    assert "(and 1 more problem)" in err[0]
    assert len(err) == 3 and "bad.csv:2, id 'b1', field 'kind'" in err[1] and "bad.csv:3, id 'b2', field 'minutes'" in err[2]
    assert not (tmp_path / "store").exists()  # every file is read before the store is opened


def test_strict_turns_warnings_into_errors(tmp_path, capsys):
    path = gbk(tmp_path / "members.csv", "id,name,roles,org\nm1,李志刚,member|branch_secertary,hx.b1\n")
    assert main(["members", path, "--check", "--store", str(tmp_path / "s")]) == 0
    captured = capsys.readouterr()
    assert "1 members valid, 1 warning; nothing written" in captured.out
    assert "recsys: warning: " in captured.err and "'branch_secretary'" in captured.err
    assert main(["members", path, "--check", "--strict", "--store", str(tmp_path / "s")]) == 2


def test_many_warnings_of_one_kind_are_counted_not_repeated(tmp_path, capsys):
    store = str(tmp_path / "store")
    main(["ingest", gbk(tmp_path / "items.csv", ITEMS), "--store", store, "--encoder", "tfidf"])
    main(["members", gbk(tmp_path / "members.csv", MEMBERS), "--store", store])
    capsys.readouterr()
    # 300 rows dated after now (a clock set a year ahead where the export was made), no ids.
    rows = "".join(f"m1,a1,进度,2099/1/{1 + n % 28} 8:{n % 60:02d}\n" for n in range(300))
    events = gbk(tmp_path / "events.csv", "member,item,kind,at\n" + rows)
    assert main(["events", events, "--check", "--store", store]) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 6 and all("晚于当前时间" in line for line in err[:5])
    assert err[5] == f"recsys: warning: {events}: 另有 295 条同类警告 (lines 7-301)"
    assert "row-" not in err[0]  # the id the engine gives a row without one is not the file's


def test_events_name_the_line_of_an_unknown_member(tmp_path, capsys):
    store = str(tmp_path / "store")
    main(["ingest", gbk(tmp_path / "items.csv", ITEMS), "--store", store, "--encoder", "tfidf"])
    main(["members", gbk(tmp_path / "members.csv", MEMBERS), "--store", store])
    events = gbk(tmp_path / "events.csv", "id,member,item,kind,at\n\ne1,m1,a1,完成,2026/11/20 20:00\n"
                                          "e2,m9,a1,完成,2026/11/21 20:00\n")
    assert main(["events", events, "--store", store]) == 2
    assert "events.csv:4" in capsys.readouterr().err  # the file's line, past a blank one
    with Engine.open(store) as engine:
        assert engine.events() == []
    # --check says the same of a store that exists, and writes nothing; of one that does not,
    # it checks the file alone and creates nothing.
    assert main(["events", events, "--check", "--store", store]) == 2
    assert "events.csv:4, field 'member': unknown member 'm9'" in capsys.readouterr().err
    assert main(["events", events, "--check", "--store", str(tmp_path / "none")]) == 0
    assert not (tmp_path / "none").exists()
    # Every problem in one pass: a bad date and an unknown item with the unknown member.
    events = gbk(tmp_path / "events.csv", "member,item,kind,at\nm9,a1,完成,2026/11/21 20:00\n"
                                          "m1,zz,完成,2026/11/21 20:00\nm1,a1,完成,30/11/2026\n")
    assert main(["events", events, "--store", store]) == 2
    err = capsys.readouterr().err
    assert "(and 2 more problems)" in err and "events.csv:3, field 'item': unknown item 'zz' (member 'm1')" in err
    assert "events.csv:4, field 'at'" in err


def test_an_export_of_events_without_ids_read_in_again_records_nothing_twice(tmp_path, capsys):
    store = str(tmp_path / "store")
    main(["ingest", gbk(tmp_path / "items.csv", ITEMS), "--store", store, "--encoder", "tfidf"])
    main(["members", gbk(tmp_path / "members.csv", MEMBERS), "--store", store])
    week = "党员编号,内容编号,类型,发生时间,得分\nm1,a1,完成,2026/11/20 20:00,\nm1,a2,答题,2026/11/21 8:00,80%\n"
    month = week + "m1,a2,答题,2026/11/28 8:00,90%\n"
    assert main(["events", gbk(tmp_path / "week.csv", week), "--store", store]) == 0
    capsys.readouterr()
    assert main(["events", gbk(tmp_path / "month.csv", month), "--store", store]) == 0
    assert "3 events: 1 new (2 already recorded)" in capsys.readouterr().out
    with Engine.open(store) as engine:
        assert sorted((e.item, e.kind, e.value) for e in engine.events()) == [
            ("a1", "complete", None), ("a2", "quiz", 0.8), ("a2", "quiz", 0.9)]


def test_a_roster_without_some_columns_keeps_what_the_store_holds_in_them(tmp_path, capsys):
    store = str(tmp_path / "store")
    full = ("编号,姓名,身份,所在支部,兴趣,所在地,每日学习时长,入党日期\n"
            "m1,王建国,党员、支部书记,hxny.jtgs,党史|廉洁从业,北京,40,2001/7/1\n"
            "m2,李娜,党员,hxny.jtgs,党史,上海,20,2010/7/1\n")
    assert main(["members", gbk(tmp_path / "full.csv", full), "--store", store]) == 0
    # The HR system's roster: no interests, place, minutes or joining date; m2 has a new branch,
    # and a third member is new.
    roster = "编号,姓名,身份,所在支部\nm1,王建国,党员、支部书记,hxny.jtgs\nm2,李娜,党员,hxny.jtgs.zb1\nm3,张敏,党员,hxny.jtgs\n"
    assert main(["members", gbk(tmp_path / "roster.csv", roster), "--store", store]) == 0
    # An empty cell is still "not given": m1's minutes go back to the default.
    minutes = "编号,姓名,所在支部,每日学习时长\nm1,王建国,hxny.jtgs,\n"
    assert main(["members", gbk(tmp_path / "minutes.csv", minutes), "--store", store]) == 0
    with Engine.open(store) as engine:
        m1, m2, m3 = (engine.member(m) for m in ("m1", "m2", "m3"))
    assert (m1.interests, m1.location, m1.daily_minutes, m1.joined) == (("党史", "廉洁从业"), "北京", 30, dt.date(2001, 7, 1))
    assert m1.roles == ("member", "branch_secretary")
    assert (m2.org, m2.interests, m2.location, m2.daily_minutes) == ("hxny.jtgs.zb1", ("党史",), "上海", 20)
    assert (m3.interests, m3.daily_minutes) == ((), 30)


def test_a_roster_keeps_columns_per_enterprise_and_reads_offline_with_the_situation(tmp_path, capsys):
    store = str(tmp_path / "store")
    head = "编号,姓名,所在支部,兴趣,党员类别,能否参加线下活动\n"
    hx = head + "m1,王建国,hxny.jtgs,党史,流动党员,否\nm2,李娜,hxny.jtgs,党史,,否\n"
    assert main(["members", gbk(tmp_path / "hx.csv", hx), "--store", store]) == 0
    assert main(["members", gbk(tmp_path / "zj.csv", head + "m1,赵强,zjjt.b1,廉洁从业,,是\n"), "--store", store]) == 0
    # m1 is a member of two enterprises: each keeps their own interests. An offline column alone
    # (the mobile m1's cell empty) gives the situation too, as it always did, and is no error.
    for name, row in (("again-hx.csv", "m1,王建国,hxny.jtgs,\n"), ("again-zj.csv", "m1,赵强,zjjt.b1,是\n")):
        again = gbk(tmp_path / name, "编号,姓名,所在支部,能否参加线下活动\n" + row)
        assert main(["members", again, "--store", store]) == 0, capsys.readouterr().err
    # A workbook whose last column is empty in every row still has that column: it is emptied.
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    book.active.append(["编号", "姓名", "所在支部", "兴趣"])
    book.active.append(["m2", "李娜", "hxny.jtgs", None])
    book.save(tmp_path / "m2.xlsx")
    assert main(["members", str(tmp_path / "m2.xlsx"), "--store", store]) == 0
    with Engine.open(store, tenant="hxny") as hx, Engine.open(store, tenant="zjjt") as zj:
        a, b, m2 = hx.member("m1"), zj.member("m1"), hx.member("m2")
    assert (a.name, a.interests, a.situation, a.offline) == ("王建国", ("党史",), "regular", True)
    assert (b.name, b.interests, b.offline) == ("赵强", ("廉洁从业",), True)
    assert (m2.interests, m2.offline, m2.situation) == ((), False, "regular")


def test_probation_ending_in_the_category_column_changes_the_standing_and_keeps_the_posts(tmp_path, capsys):
    store = str(tmp_path / "store")
    first = "编号,姓名,所在支部,身份,人员类别\nm1,王强,hxny.zb1,支部书记,预备党员\nm2,李娜,hxny.zb1,组织委员,预备党员\n"
    assert main(["members", gbk(tmp_path / "first.csv", first), "--store", store]) == 0
    # The next roster has 人员类别 and no post column: m1 became a full member, m2 is mobile now.
    later = "编号,姓名,所在支部,人员类别\nm1,王强,hxny.zb1,正式党员\nm2,李娜,hxny.zb1,流动党员\n"
    assert main(["members", gbk(tmp_path / "later.csv", later), "--store", store]) == 0, capsys.readouterr().err
    with Engine.open(store) as engine:
        m1, m2 = engine.member("m1"), engine.member("m2")
    assert set(m1.roles) == {"member", "branch_secretary"} and "probationary" not in m1.roles
    assert set(m2.roles) == {"probationary", "committee_member"} and m2.situation == "mobile"
    # 党内职务 alone gives the posts and keeps the standing; 身份 无 beside it is no post.
    posts = "编号,姓名,所在支部,身份,党内职务\nm1,王强,hxny.zb1,无,组织委员\nm2,李娜,hxny.zb1,预备党员,无\n"
    assert main(["members", gbk(tmp_path / "posts.csv", posts), "--store", store]) == 0, capsys.readouterr().err
    only_posts = "编号,姓名,所在支部,党内职务\nm2,李娜,hxny.zb1,宣传委员\n"
    assert main(["members", gbk(tmp_path / "only.csv", only_posts), "--store", store]) == 0, capsys.readouterr().err
    with Engine.open(store) as engine:
        m1, m2 = engine.member("m1"), engine.member("m2")
    assert set(m1.roles) == {"committee_member"}  # 身份 无 and 组织委员: the roster names the roles
    assert set(m2.roles) == {"probationary", "committee_member"}


def test_an_id_given_to_another_person_in_another_branch_is_refused(tmp_path, capsys):
    # Two subsidiaries of one enterprise each number from 0001: the second file would have
    # replaced the first's members, their hours counting for someone else.
    store = str(tmp_path / "store")
    fdgs = "党员编号,姓名,所在支部,身份\n0001,王强,hxny.fdgs.zb1,支部书记\n0002,李娜,hxny.fdgs.zb1,党员\n"
    assert main(["members", gbk(tmp_path / "fdgs.csv", fdgs), "--store", store]) == 0
    rdgs = "党员编号,姓名,所在支部,身份\n0001,赵刚,hxny.rdgs.zb1,党员\n0003,钱敏,hxny.rdgs.zb1,党员\n"
    capsys.readouterr()
    assert main(["members", gbk(tmp_path / "rdgs.csv", rdgs), "--store", store, "--check"]) != 0  # checked as written
    assert "'0001' is 王强 of hxny.fdgs.zb1" in capsys.readouterr().err
    assert main(["members", gbk(tmp_path / "rdgs.csv", rdgs), "--store", store]) != 0
    err = capsys.readouterr().err
    assert "rdgs.csv:2" in err and "'0001' is 王强 of hxny.fdgs.zb1" in err and "赵刚 of hxny.rdgs.zb1" in err
    assert "fdgs-0001" in err and "Traceback" not in err
    with Engine.open(store) as engine:
        assert engine.member("0001").name == "王强" and not engine.store.member_ids(["0003"])  # nothing written
    # One person renamed, or moved, is the same member.
    moved = "党员编号,姓名,所在支部\n0002,李娜,hxny.rdgs.zb1\n"
    assert main(["members", gbk(tmp_path / "moved.csv", moved), "--store", store]) == 0
    renamed = "党员编号,姓名,所在支部\n0002,李娜娜,hxny.rdgs.zb1\n"
    assert main(["members", gbk(tmp_path / "renamed.csv", renamed), "--store", store]) == 0
    # Moved back, the name padded with a full-width space as the other system writes it.
    padded = "党员编号,姓名,所在支部\n0002,李　娜　娜,hxny.fdgs.zb1\n"
    assert main(["members", gbk(tmp_path / "padded.csv", padded), "--store", store]) == 0


def test_a_workbook_and_a_forced_encoding(tmp_path, capsys):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    book.active.append(["id", "title", "kind", "minutes", "published"])
    book.active.append(["x1", "党章学习", "文章", 10, dt.datetime(2026, 11, 5)])
    book.save(tmp_path / "items.xlsx")
    assert main(["ingest", str(tmp_path / "items.xlsx"), "--check", "--store", str(tmp_path / "s")]) == 0
    assert "items.xlsx: 1 items valid" in capsys.readouterr().out
    assert main(["ingest", gbk(tmp_path / "items.csv", ITEMS), "--check", "--encoding", "utf-8"]) == 2
    assert "not utf-8 text" in capsys.readouterr().err


def test_items_for_all_members_are_for_everyone_and_a_missing_prerequisite_is_said(tmp_path, capsys):
    """面向对象 全体党员 or 党员 is no role restriction (as a role it would be one nobody holds, or
    keep a themed day from probationary members); a prerequisite in neither the files nor the store is warned of by file
    and line, one held by the store or another file of the run is not."""
    store = str(tmp_path / "store")
    first = tmp_path / "first.csv"
    first.write_text("编号,标题,类型,时长,发布日期,面向对象\nb1,党章学习,文章,15,2026/1/1,全体党员\n"
                     "b2,主题党日：重温入党誓词,文章,15,2026/1/1,党员\nb3,党员大会表决程序,文章,15,2026/1/1,正式党员\n"
                     "b4,支部书记与党员谈心,文章,15,2026/1/1,党员、支部书记\n", encoding="utf-8")
    assert main(["ingest", str(first), "--store", store, "--encoder", "tfidf"]) == 0
    capsys.readouterr()
    later = tmp_path / "later.csv"
    later.write_text("编号,标题,类型,时长,发布日期,前置内容\n"
                     "c1,党章学习（二）,文章,15,2026/1/1,b1\n"   # in the store
                     "c2,党章学习（三）,文章,15,2026/1/1,c1\n"   # in the same run
                     "c3,党章学习（四）,文章,15,2026/1/1,b9\n", encoding="utf-8")
    assert main(["ingest", str(later), "--store", store, "--check"]) == 0
    captured = capsys.readouterr()
    assert "later.csv:4, id 'c3', field 'requires': 前置内容 'b9' 不在内容库中" in captured.err
    assert captured.err.count("前置内容") == 1 and "3 items valid, 1 warning" in captured.out
    with Engine.open(store) as engine:
        # 党员 is every member, 预备党员 included; 正式党员 is the role.
        assert [engine.item(i).roles for i in ("b1", "b2", "b3", "b4")] == [(), (), ("member",), ()]


def test_strict_makes_a_missing_prerequisite_an_error(tmp_path, capsys):
    store = str(tmp_path / "store")
    first = tmp_path / "first.csv"
    first.write_text("编号,标题,类型,时长,发布日期\nb1,党章学习,文章,15,2026/1/1\n", encoding="utf-8")
    assert main(["ingest", str(first), "--store", store, "--encoder", "tfidf"]) == 0
    later = tmp_path / "later.csv"
    later.write_text("编号,标题,类型,时长,发布日期,前置内容\nc3,党章学习（四）,文章,15,2026/1/1,b9\n", encoding="utf-8")
    assert main(["ingest", str(later), "--store", store, "--strict"]) == 2
    assert "later.csv:2, id 'c3', field 'requires'" in capsys.readouterr().err
    with Engine.open(store) as engine:
        assert engine.store.item_ids(["c3"]) == set()
    # On a store not made yet, the refusal leaves none behind (an empty one fixed the encoder).
    new = tmp_path / "new-store"
    assert main(["ingest", str(later), "--store", str(new), "--strict", "--encoder", "tfidf"]) == 2
    assert not new.exists()


def test_a_refused_import_leaves_a_new_store_that_another_import_wrote_to(tmp_path, monkeypatch, capsys):
    # Two first imports at once into one new folder: the one refused must not take away what the
    # other wrote there.
    import importlib

    from recsys import Member
    from recsys.exceptions import ValidationError

    new = tmp_path / "new-store"
    items = tmp_path / "items.csv"
    items.write_text("编号,标题,类型,时长,发布日期\nb1,党章学习,文章,15,2026/1/1\n", encoding="utf-8")

    def refused_after_another_wrote(*args, **kwargs):
        with Engine.open(new) as other:
            other.upsert_members([Member(id="m1", name="张三", org="hx.b1")])
        raise ValidationError("the disk is full", source=str(items))

    monkeypatch.setattr(importlib.import_module("recsys_cli.main"), "_check_or_write", refused_after_another_wrote)
    assert main(["ingest", str(items), "--store", str(new), "--encoder", "tfidf"]) == 2
    assert "the disk is full" in capsys.readouterr().err
    with Engine.open(new) as engine:
        assert engine.store.member_ids(["m1"]) == {"m1"}


def test_a_mistyped_branch_code_is_said_with_the_code_meant(tmp_path, capsys):
    store = str(tmp_path / "store")
    roster = "id,name,org\n" + "".join(f"m{k},党员{k},hx.b1\n" for k in range(3)) + "m3,党员3,hx.b2\nm4,党员4,hx.b2\n"
    assert main(["members", gbk(tmp_path / "first.csv", roster), "--store", store, "--encoder", "tfidf"]) == 0
    assert "warning" not in capsys.readouterr().err  # a first import: every branch is new
    later = "id,name,org\nm5,新党员5,hx.b\nm6,新党员6,HX.b2\nm7,新党员7,hx.b3\nm8,新党员8,hx.b3\n"
    assert main(["members", gbk(tmp_path / "later.csv", later), "--check", "--strict", "--store", store]) == 2
    capsys.readouterr()
    assert main(["members", gbk(tmp_path / "later.csv", later), "--store", store]) == 0
    err = capsys.readouterr().err.splitlines()
    # Known answers: a code one row gives and nothing else has, and a code differing only in case;
    # a new branch of two members is not a typo.
    assert len(err) == 2
    assert "later.csv:2, id 'm5', field 'org'" in err[0] and "是否应为 'hx.b" in err[0]
    assert "later.csv:3, id 'm6'" in err[1] and "与已有的 'hx.b2' 只差大小写" in err[1]


def test_many_errors_of_one_kind_are_counted_not_repeated(tmp_path, capsys):
    rows = "".join(f"m{n},党员{n},hx.b1,2005年13月\n" for n in range(40))
    path = gbk(tmp_path / "m.csv", "编号,姓名,所在支部,入党日期\n" + rows + "m99,王强,hx.b1,无此身份\n")
    assert main(["members", path, "--store", str(tmp_path / "s"), "--check"]) == 2
    err = capsys.readouterr().err
    assert err.count("2005年13月") == 1 + 5 and "另有 36 条同类错误 (lines 7-42)" in err
    # Rows refused for different words are one kind too.
    rows = "".join(f"m{n},党员{n},hx.b1,身份{chr(0x4e00 + n)}\n" for n in range(9))
    path = gbk(tmp_path / "r.csv", "编号,姓名,所在支部,身份\n" + rows)
    assert main(["members", path, "--store", str(tmp_path / "s"), "--check"]) == 2
    assert "另有 4 条同类错误 (lines 7-10)" in capsys.readouterr().err


def test_a_roster_read_again_says_what_it_changed(tmp_path, capsys):
    # A monthly roster of 300,000 said "300000 members" whether it changed one or none.
    store = str(tmp_path / "store")
    first = tmp_path / "m1.csv"
    first.write_text("党员编号,姓名,身份,所在支部\nm1,李志刚,党员,hx.zb1\nm2,王芳,党员,hx.zb1\n", encoding="utf-8")
    second = tmp_path / "m2.csv"
    second.write_text("党员编号,姓名,身份,所在支部\nm1,李志刚,党员,hx.zb1\nm2,王芳,党员,hx.zb2\nm3,赵刚,党员,hx.zb2\n",
                      encoding="utf-8")
    said = []
    for path in (first, first, second):
        assert main(["members", str(path), "--store", store]) == 0
        said.append(capsys.readouterr().out.strip())
    assert said[0].endswith("2 members: 2 new, 0 updated, 0 unchanged")
    assert said[1].endswith("2 members: 0 new, 0 updated, 2 unchanged")
    assert said[2].endswith("3 members: 1 new, 1 updated, 1 unchanged")
    with Engine.open(store) as engine:
        assert engine.store.get_members(["m2"])["m2"].org == "hx.zb2"
