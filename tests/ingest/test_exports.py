"""Exports as they come: GBK text, Excel workbooks, dates as people write them, empty cells,
Chinese names for codes, warnings, and every problem listed."""

from __future__ import annotations

import datetime as dt

import pytest

from recsys import Item, Member, ValidationError
from recsys.credits import OpeningBalance
from recsys.curriculum import Curriculum
from recsys.ingest.loaders import read_batch
from recsys.records import TZ, Event

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=TZ)

# An editor's export: GBK, slash and Chinese dates, Chinese kinds and roles, empty cells, a topic
# synonym, a trailing separator on every line (Excel's empty last column).
ITEMS_CSV = (
    "id,title,body,kind,minutes,topics,roles,level,published,expires,starts,ends,location,capacity,\n"
    "a1,学习新思想,,文章,15分钟,习近平新时代中国特色社会主义思想,,,2026/12/1,,,,,,\n"
    "a2,支部书记讲党课,讲稿,讲座,30,党务工作、廉洁,支部书记；支委委员,中级,2026年11月3日,2027-06-30,,,,,\n"
    "o1,参观红色教育基地,,线下活动,180,党史,,,2026/11/20,,2026/12/12 9:00,2026/12/12 12:00,延安·枣园革命旧址,30人,\n"
)


def write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def test_a_gbk_csv_with_slash_dates_empty_cells_and_chinese_codes(tmp_path):
    batch = read_batch(write(tmp_path / "items.csv", ITEMS_CSV, "gbk"), Item, now=NOW)
    assert batch.encoding == "GB18030"
    a1, a2, o1 = batch.records
    assert (a1.kind, a1.minutes, a1.published, a1.level, a1.body, a1.roles) == (
        "article", 15, dt.date(2026, 12, 1), 1, "", ())
    assert a1.topics == ("党的创新理论",)  # the synonym counts toward its family
    assert (a2.kind, a2.level, a2.roles) == ("lecture", 2, ("branch_secretary", "committee_member"))
    assert a2.topics == ("党务工作", "廉洁从业") and a2.published == dt.date(2026, 11, 3)
    assert a2.expires == dt.date(2027, 6, 30)
    assert (o1.kind, o1.mode, o1.schedule.capacity) == ("activity", "offline", 30)
    assert o1.schedule.starts == dt.datetime(2026, 12, 12, 9, 0, tzinfo=TZ)
    assert batch.warnings == [] and batch.lines == [2, 3, 4]


@pytest.mark.parametrize("encoding, named", [("utf-8", "UTF-8"), ("utf-8-sig", "UTF-8 (with BOM)"),
                                             ("gb18030", "GB18030")])
def test_the_encoding_is_detected_and_named(tmp_path, encoding, named):
    batch = read_batch(write(tmp_path / "items.csv", ITEMS_CSV, encoding), Item, now=NOW)
    assert batch.encoding == named and [it.id for it in batch.records] == ["a1", "a2", "o1"]


@pytest.mark.parametrize("names", [["王伟"], ["王伟", "李娜", "张敏"], ["刘洋", "陈静"], ["赵磊", "黄勇", "周杰"]])
def test_a_short_gbk_roster_is_read_as_chinese_not_as_a_lookalike_encoding(tmp_path, names):
    # A header and a few names: too little text for a detector, which took such files for Big5
    # or Korean and stored every name garbled.
    text = "id,name,org\r\n" + "".join(f"k{n:03d},{name},hxny.jtgs\r\n" for n, name in enumerate(names))
    batch = read_batch(write(tmp_path / "m.csv", text, "gbk"), Member)
    assert batch.encoding == "GB18030" and [m.name for m in batch.records] == names


def test_utf16_and_western_or_japanese_text_are_not_taken_for_chinese(tmp_path):
    text = "id,name,org\nk1,Zoë Brontë,hxny.jtgs\n"
    assert read_batch(write(tmp_path / "a.csv", text, "utf-16"), Member).records[0].name == "Zoë Brontë"
    assert read_batch(write(tmp_path / "b.csv", text, "utf-16-le"), Member).encoding.startswith("UTF-16")
    western = "id,name,org\nk1,Jürgen Müller,hxny.jtgs\nk2,Françoise Lefèvre,hxny.jtgs\n"
    batch = read_batch(write(tmp_path / "c.csv", western, "latin-1"), Member)
    assert batch.encoding != "GB18030" and "Müller" in batch.records[0].name
    japanese = "id,name,org\nk1,山田太郎,hxny.jtgs\nk2,佐藤花子,hxny.jtgs\n"
    assert read_batch(write(tmp_path / "d.csv", japanese, "shift_jis"), Member).encoding != "GB18030"


def test_members_in_chinese_take_the_defaults_of_empty_cells(tmp_path):
    text = ("id,name,roles,org,offline,location,daily_minutes,joined,situation\n"
            "m1,李志刚,党员、支部书记,hxny.fdgs,是,太原,40,2003年12月18日,\n"
            "m2,王桂兰,离退休党员,hxny.fdgs,,,,,年老体弱\n"
            "m3,张伟,党员,hxny.fdgs,否,,,2015/7/1,流动党员\n")
    m1, m2, m3 = read_batch(write(tmp_path / "m.csv", text, "gbk"), Member).records
    assert (m1.roles, m1.offline, m1.joined) == (("member", "branch_secretary"), True, dt.date(2003, 12, 18))
    assert (m2.daily_minutes, m2.location, m2.offline, m2.situation) == (30, None, False, "infirm")
    assert (m3.situation, m3.offline) == ("mobile", False)


def test_a_member_information_export_gives_its_class_as_roles(tmp_path):
    # 人员类别 holds 正式党员 or 预备党员 (roles), or a situation; beside it 身份 may name a post
    # (the branch committee's by their own names), or 无.
    text = ("党员编号,姓名,所在支部,人员类别,身份\n"
            "0001,张伟,hx.b1,正式党员,党支部书记\n"
            "0002,李娜,hx.b1,预备党员,无\n"
            "0003,王强,hx.b2,流动党员,组织委员\n"
            "0004,赵敏,hx.b2,正式党员,\n")
    m1, m2, m3, m4 = read_batch(write(tmp_path / "m.csv", text, "gbk"), Member).records
    assert (m1.roles, m1.situation) == (("branch_secretary", "member"), "regular")
    assert (m2.roles, m2.situation) == (("probationary",), "regular")
    assert (m3.roles, m3.situation) == (("committee_member",), "mobile")
    assert (m4.roles, m4.situation) == (("member",), "regular")
    with pytest.raises(ValidationError, match="situation"):  # neither a situation nor a role
        read_batch(write(tmp_path / "bad.csv", "党员编号,姓名,所在支部,人员类别\n0005,孙丽,hx.b1,在编\n"), Member)


def test_an_excel_workbook_with_date_cells_numbers_and_a_chosen_sheet(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    book.active.title = "说明"
    book.active.append(["本表由党建平台导出"])
    sheet = book.create_sheet("课程")
    sheet.append(["id", "title", "kind", "minutes", "topics", "published", "starts", "ends", "location", "capacity"])
    sheet.append([1001, "安全生产微课", "视频课程", 8.0, "安全生产", dt.datetime(2026, 11, 2), None, None, None, None])
    sheet.append(["o2", "主题党日", "线下活动", 150, "党史", dt.datetime(2026, 11, 20),
                  dt.datetime(2026, 12, 9, 9, 0), dt.datetime(2026, 12, 9, 11, 30), "太原·烈士陵园", 40])
    sheet.append([None] * 10)  # a blank row left at the end
    book.save(tmp_path / "items.xlsx")
    batch = read_batch(tmp_path / "items.xlsx", Item, sheet="课程", now=NOW)
    first, second = batch.records
    assert (first.id, first.kind, first.minutes, first.published) == ("1001", "video", 8, dt.date(2026, 11, 2))
    assert second.schedule.ends == dt.datetime(2026, 12, 9, 11, 30, tzinfo=TZ) and batch.encoding is None
    assert batch.lines == [2, 3]
    with pytest.raises(ValidationError, match="no sheet '课件'; the workbook has 说明, 课程"):
        read_batch(tmp_path / "items.xlsx", Item, sheet="课件")


def test_every_problem_is_listed_with_line_id_field_and_what_was_expected(tmp_path):
    text = ("id,title,kind,minutes,published,level\n"
            "b1,标题一,播客,10,2026/13/1,1\n"          # an unknown kind and an impossible date
            "b2,标题二,文章,十分钟,2026-12-01,\n"        # minutes in words
            "b3,标题三,文章,10,1/12/2026,五级\n"          # a date that would need a guess, a bad level
            "b4,标题四,文章,10,2026-12-01,,多余\n")       # a value beyond the header
    with pytest.raises(ValidationError) as err:
        read_batch(write(tmp_path / "bad.csv", text), Item)
    got = [(p.line, p.record, p.field) for p in err.value.problems]
    assert got == [(2, "b1", "kind"), (2, "b1", "published"), (3, "b2", "minutes"), (4, "b3", "published"),
                   (4, "b3", "level"), (5, None, None)]
    messages = " / ".join(str(p) for p in err.value.problems)
    assert "bad.csv:2, id 'b1', field 'published': must be a date like 2026-12-01, 2026/12/1 or 2026年12月1日" in messages
    assert "'1/12/2026'" in messages and "column 7, which has no header" in messages
    assert "and 5 more problems" in str(err.value)


def test_an_unknown_kind_names_the_codes(tmp_path):
    with pytest.raises(ValidationError, match=r"bad.csv:2, id 'b1', field 'kind': must be one of lecture\|video.* "
                                              r"\(or 讲座、视频、文章、案例、答题、讨论、活动\), got '播客'"):
        read_batch(write(tmp_path / "bad.csv", "id,title,kind,minutes,published\nb1,标题,播客,10,2026/12/1\n"), Item)


def test_warnings_for_unknown_roles_and_topics_and_future_events_and_strict_makes_them_errors(tmp_path):
    path = write(tmp_path / "m.csv", "id,name,roles,org\nm1,李志刚,member|branch_secertary,hxny\n")
    batch = read_batch(path, Member)
    (warning,) = batch.warnings
    assert (warning.line, warning.record, warning.field) == (2, "m1", "roles")
    assert "branch_secertary" in warning.message and "'branch_secretary'" in warning.message
    with pytest.raises(ValidationError, match=r"m.csv:2, id 'm1', field 'roles': 角色 'branch_secertary'"):
        read_batch(path, Member, strict=True)

    items = read_batch(write(tmp_path / "i.csv", "id,title,kind,minutes,topics,published\n"
                             "a1,标题,文章,10,安全生产|安全环保,2026/12/1\n"), Item).warnings
    assert [(w.field, "安全环保" in w.message) for w in items] == [("topics", True)]

    events = read_batch(write(tmp_path / "e.csv", "member,item,kind,at\nm1,a1,完成,2026/11/30 20:00\n"
                              "m1,a1,完成,2026/12/3 8:00\n"), Event, now=NOW)
    assert [e.kind for e in events.records] == ["complete", "complete"]
    assert [(w.line, w.field) for w in events.warnings] == [(3, "at")]
    # A sign-up sheet's 取消报名 gives the seat back: an enrolment of value 0.
    sheet = read_batch(write(tmp_path / "s.csv", "member,item,kind,at\nm1,a1,报名,2026/11/30 20:00\n"
                             "m1,a1,取消报名,2026/12/1 8:00\nm1,a1,退出报名,2026/12/1 9:00\n"), Event, now=NOW)
    assert [(e.kind, e.value) for e in sheet.records] == [("enroll", None), ("enroll", 0), ("enroll", 0)]
    with pytest.raises(ValidationError, match=r"w.csv:2, field 'value': a withdrawal \(取消\) gives its seat back"):
        read_batch(write(tmp_path / "w.csv", "member,item,kind,value,at\nm1,a1,取消,1,2026/12/1 8:00\n"), Event, now=NOW)
    # A time given in UTC is said in Beijing time, the clock the hours count by.
    (late,) = read_batch(write(tmp_path / "z.jsonl", '{"member": "m1", "item": "a1", "kind": "complete", '
                                                     '"at": "2026-12-31T16:30:00Z"}\n'), Event, now=NOW).warnings
    assert late.message.startswith("时间 2027-01-01 00:30 晚于当前时间")


def test_the_vocabulary_is_extended_in_the_curriculum(tmp_path):
    curriculum = Curriculum.from_dict({
        "roles": {"safety_officer": {"name": "安全员", "annual_hours": 40, "required": {"安全生产": 0.5}}},
        "vocabulary": {"kinds": {"微课": "video"}, "yes_no": {"可": True},
                       "topics": {"安全生产": ["安全环保"]}},
    })
    items = read_batch(write(tmp_path / "i.csv", "id,title,kind,minutes,topics,published\n"
                             "a1,标题,微课,10,安全环保,2026/12/1\n"), Item, curriculum=curriculum)
    assert (items.records[0].kind, items.records[0].topics, items.warnings) == ("video", ("安全生产",), [])
    members = read_batch(write(tmp_path / "m.csv", "id,name,roles,org,offline\nm1,王强,安全员,hxny,可\n"),
                         Member, curriculum=curriculum)
    assert (members.records[0].roles, members.records[0].offline, members.warnings) == (("safety_officer",), True, [])
    with pytest.raises(ValidationError, match="vocabulary.kinds"):
        Curriculum.from_dict({"vocabulary": {"kinds": {"播客": "podcast"}}})


def test_a_header_without_the_required_columns_is_named(tmp_path):
    path = write(tmp_path / "m.csv", "2026年党员名单,,\n制表单位：运行支部,,截至2026年11月\nid,name,org\nm1,张伟,hx\n")
    # A title, the unit and the date above the header: read from the header on, lines as in the file.
    batch = read_batch(path, Member)
    assert [m.id for m in batch.records] == ["m1"]
    # The fields, each with a header an export writes for it; the row meant as the header named.
    path = write(tmp_path / "m.csv", "2026年党员名单\n序号,名字,单位,备注\nm1,张伟,hx,\n")
    with pytest.raises(ValidationError, match=r"m.csv:2: the header row has no column 'id' \(党员编号\), 'name' \(姓名\), "
                                              r"'org' \(所属组织\); it names '序号', '名字', '单位', '备注'"):
        read_batch(path, Member)
    with pytest.raises(ValidationError, match=r"m.csv:1: .* it names '2026年党员名单'"):
        read_batch(write(tmp_path / "m.csv", "2026年党员名单\n"), Member)
    bad = write(tmp_path / "b.csv", "2026年党员名单\nid,name,org\nm1,张伟,hx,多出的值\n")
    with pytest.raises(ValidationError, match=r"b.csv:3: a value \('多出的值'\) in column 4, which has no header"):
        read_batch(bad, Member)


def test_chinese_column_headers_name_the_fields(tmp_path):
    text = ("编号,姓名,身份,所在支部,能否参加线下活动,每日学习时间,入党日期,党员类别\n"
            "m1,李志刚,党员、支部书记,hxny.fdgs,是,40分钟,2003年12月18日,\n")
    (m1,) = read_batch(write(tmp_path / "党员名单.csv", text, "gbk"), Member).records
    assert (m1.id, m1.roles, m1.org, m1.daily_minutes, m1.joined) == (
        "m1", ("member", "branch_secretary"), "hxny.fdgs", 40, dt.date(2003, 12, 18))
    curriculum = Curriculum.from_dict({"vocabulary": {"columns": {"课件名称": "title"}}})
    items = read_batch(write(tmp_path / "i.csv", "编号,课件名称,类型,时长,发布日期\na1,党章学习,文章,10,2026/11/1\n"),
                       Item, curriculum=curriculum)
    assert items.records[0].title == "党章学习"
    with pytest.raises(ValidationError, match=r"the header row has no column 'name' \(姓名\); it names '编号', '名字', '所在支部'"):
        read_batch(write(tmp_path / "m.csv", "编号,名字,所在支部\nm1,张伟,hx\n"), Member)


def test_the_readme_curriculum_example_loads():
    import json
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    example = re.search(r'```json\n(\{"roles".*?)\n```', readme, re.S)
    curriculum = Curriculum.from_dict(json.loads(example.group(1)))
    words = curriculum.vocabulary
    assert (words.code("roles", "安全员"), words.code("kinds", "微课"), words.code("topics", "HSE"),
            words.column("课件名称")) == ("safety_officer", "video", "安全生产", "title")


def test_a_link_column_in_chinese_is_the_item_url_and_a_bad_link_is_named(tmp_path):
    text = ("编号,标题,类型,时长,发布日期,链接\n"
            "u1,学习新党章,文章,10,2026/12/1,https://dangjian.example.com/c/u1\n"
            "u2,党史故事,视频课程,8,2026/12/1,\n")
    u1, u2 = read_batch(write(tmp_path / "items.csv", text, "gbk"), Item).records
    assert (u1.url, u2.url) == ("https://dangjian.example.com/c/u1", None)
    bad = text.replace("https://dangjian", "javascript://dangjian")
    with pytest.raises(ValidationError) as err:
        read_batch(write(tmp_path / "bad.csv", bad), Item)
    assert [(p.line, p.record, p.field) for p in err.value.problems] == [(2, "u1", "url")]
    assert "http:// or https://" in str(err.value)


def test_a_link_in_a_workbook_is_the_item_url(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    book.active.append(["编号", "标题", "类型", "时长", "发布日期", "课程链接"])
    book.active.append(["u1", "学习新党章", "文章", 10, dt.datetime(2026, 12, 1), "https://dangjian.example.com/c/u1"])
    book.save(tmp_path / "items.xlsx")
    (u1,) = read_batch(tmp_path / "items.xlsx", Item).records
    assert u1.url == "https://dangjian.example.com/c/u1"


def test_an_unclosed_quote_is_refused_at_the_line_it_opens(tmp_path):
    # Not a cell that swallows every record after it (three of ten items read, and no error).
    rows = [f"a{n},标题{n},article,10,2026/11/1" for n in range(10)]
    rows[3] = 'a3,"引号开头的标题 他说：,article,10,2026/11/1'
    text = "id,title,kind,minutes,published\n" + "\n".join(rows) + "\n"
    with pytest.raises(ValidationError, match="never closed") as found:
        read_batch(write(tmp_path / "items.csv", text), Item, now=NOW)
    assert found.value.line == 5


def test_a_cell_past_the_csv_limit_is_refused_by_line_not_a_crash(tmp_path):
    rows = ["id,name,org"] + [f"q{n:05d},党员{n},hxny.jtgs" for n in range(8000)]
    rows[200] = 'q00199,"王大锤,hxny.jtgs'
    with pytest.raises(ValidationError, match="longer than") as found:
        read_batch(write(tmp_path / "members.csv", "\r\n".join(rows)), Member)
    assert found.value.line == 201 and "from a quote" in str(found.value)
    # A long text without a quote anywhere is said to be one, not blamed on a quote.
    rows = ["id,title,kind,minutes,published,body", "a1,长文,article,10,2026-01-01," + "学" * 200_000,
            "a2,短文,article,10,2026-01-01,正文"]
    with pytest.raises(ValidationError, match="longer than") as found:
        read_batch(write(tmp_path / "items.csv", "\n".join(rows)), Item)
    assert found.value.line == 2 and "quote" not in str(found.value) and "JSON file" in str(found.value)


def test_a_quote_in_the_middle_of_a_cell_is_refused_rather_than_guessed(tmp_path):
    text = 'id,name,org\nm1,"李"志刚,hxny.jtgs\nm2,王桂兰,hxny.jtgs\n'
    with pytest.raises(ValidationError, match="not a CSV record") as found:
        read_batch(write(tmp_path / "members.csv", text), Member)
    assert found.value.line == 2


def test_headers_as_forms_lay_them_out_and_columns_that_are_no_field(tmp_path):
    # 姓　名 with a full-width space, a line break in 入党日期's cell, 党员编号 as a roster's id, and
    # an HR export's extra columns: read once, named once, not refused row by row.
    text = ('党员编号,姓　名,性别,手机号码,所在支部,"入党\n日期",每日学习时长\n'
            "m1,李志刚,男,13800000000,hxny.fdgs,2003/12/18,40\n"
            "m2,王桂兰,女,13900000000,hxny.fdgs,,\n")
    batch = read_batch(write(tmp_path / "党员名单.csv", text, "gbk"), Member)
    m1, m2 = batch.records
    assert (m1.id, m1.name, m1.joined, m1.daily_minutes) == ("m1", "李志刚", dt.date(2003, 12, 18), 40)
    assert (m2.id, m2.name, m2.daily_minutes) == ("m2", "王桂兰", 30)
    # At the header's line (as every record, the line it ends on: 入党日期's cell breaks a line).
    assert [(w.line, w.message[:24]) for w in batch.warnings] == [(2, "表头中的 “性别”、“手机号码” 不是党员的字段")]
    with pytest.raises(ValidationError, match="性别"):
        read_batch(write(tmp_path / "strict.csv", text, "gbk"), Member, strict=True)
    # A column named as the file writes it, not as the field it means for another record (学时).
    items = "编号,标题,类型,时长,发布日期,学时,主讲人\na1,党章学习,文章,15,2026/11/1,0.5,王教授\n"
    (warning,) = read_batch(write(tmp_path / "items.csv", items), Item, now=NOW).warnings
    assert warning.message.startswith("表头中的 “学时”、“主讲人” 不是内容的字段")
    # Under a title and the unit, the warning names the header's own line.
    titled = "华兴能源党员花名册\n制表单位：党委组织部\n" + text
    (warning,) = read_batch(write(tmp_path / "titled.csv", titled, "gbk"), Member).warnings
    assert (warning.line, warning.message[:9]) == (4, "表头中的 “性别”")


def test_half_width_brackets_name_the_same_column_and_a_balance_takes_its_topic(tmp_path):
    items = "id,title,kind,时长(分钟),published\na1,党章学习,文章,15,2026/11/1\n"
    assert read_batch(write(tmp_path / "items.csv", items), Item, now=NOW).records[0].minutes == 15
    credits = "党员　编号,年度,学时,主　题,备注\nm1,2026,20,廉洁从业,补录\n"
    (balance,) = read_batch(write(tmp_path / "credits.csv", credits), OpeningBalance).records
    assert (balance.member, balance.year, balance.hours, balance.topic) == ("m1", 2026, 20, "廉洁从业")


def test_a_balance_year_is_read_as_a_ledger_writes_it_and_a_wrong_one_is_named_as_a_year(tmp_path):
    credits = "党员编号,年度,学时\nm1,2026年,20\nm2,2026年度,12\nm3,２０２６,8\nm4,2026.0,6\n"
    batch = read_batch(write(tmp_path / "credits.csv", credits), OpeningBalance)
    assert [(b.member, b.year) for b in batch.records] == [("m1", 2026), ("m2", 2026), ("m3", 2026), ("m4", 2026)]
    with pytest.raises(ValidationError, match=r"credits.csv:2.*'year': must be a year like 2026, 2026年 or 2026年度, "
                                              r"got '26年'") as caught:
        read_batch(write(tmp_path / "credits.csv", "党员编号,年度,学时\nm1,26年,20\nm2,2026年12月,3\n"), OpeningBalance)
    assert "40人" not in str(caught.value) and "got '2026年12月'" in str(caught.value.problems[1])


def test_an_activity_place_without_its_city_is_read_with_a_warning(tmp_path):
    text = ("id,title,kind,mode,minutes,published,starts,ends,location,capacity\n"
            "o1,主题党日,活动,线下,120,2026/11/1,2026/12/12 9:00,2026/12/12 11:00,北京 集团总部三楼会议室,40\n"
            "o2,现场教学,活动,线下,120,2026/11/1,2026/12/12 9:00,2026/12/12 11:00,西安・八路军西安办事处纪念馆,40\n"
            "o3,主题党日,活动,线下,120,2026/11/1,2026/12/12 9:00,2026/12/12 11:00,北京,40\n")
    batch = read_batch(write(tmp_path / "items.csv", text), Item, now=NOW)
    assert [it.schedule.city for it in batch.records] == ["", "西安", "北京"]  # a city's name alone is the city
    assert [(w.line, w.field) for w in batch.warnings] == [(2, "location")]
    assert "城市·地点" in batch.warnings[0].message


def test_numbers_and_times_typed_in_full_width_are_read(tmp_path):
    members = "编号,姓名,所在支部,每日学习时长\nm1,李志刚,hxny.fdgs,３０分钟\n"
    assert read_batch(write(tmp_path / "m.csv", members), Member).records[0].daily_minutes == 30
    events = "党员编号,内容编号,类型,发生时间,得分\nm1,q1,答题,２０２６－１１－０３　０９：００,８０％\n"
    (event,) = read_batch(write(tmp_path / "e.csv", events), Event, now=NOW).records
    assert (event.at, event.value) == (dt.datetime(2026, 11, 3, 9, 0, tzinfo=TZ), 0.8)


def test_ids_typed_in_full_width_are_read_as_the_ids_they_are(tmp_path):
    """An input method in full-width mode types ０００１ or ｍ１０２: the records name 0001 and m102,
    in a roster, in events and in a list of prerequisites; over JSON the refusal says why."""
    members = "党员编号,姓名,所在支部\n０００１,李志刚,ｈｘｎｙ.fdgs\nｍ１０２　,王芳,hxny.fdgs\n"
    assert [(m.id, m.org) for m in read_batch(write(tmp_path / "m.csv", members), Member).records] == \
        [("0001", "hxny.fdgs"), ("m102", "hxny.fdgs")]
    events = "党员编号,内容编号,类型,发生时间\n０００１,ｑ１,完成,2026-11-03 09:00\n"
    (event,) = read_batch(write(tmp_path / "e.csv", events), Event, now=NOW).records
    assert (event.member, event.item) == ("0001", "q1")
    with pytest.raises(ValidationError, match="full-width characters: type them half-width"):
        Member.from_dict({"id": "０００１", "name": "李志刚", "org": "hxny.fdgs"})
    with pytest.raises(ValidationError, match="a role id such as branch_secretary or member"):
        Member.from_dict({"id": "0001", "name": "李志刚", "org": "hxny.fdgs", "roles": ["支部书记"]})


def test_hours_and_minutes_together_no_limit_and_dates_as_numbers_are_read(tmp_path):
    """Forms HR and content exports write: 1小时30分钟 for a length, 不限 for no expiry or no
    seat limit, a date cell that became its day number (46000) or eight digits (20261201)."""
    text = ("编号,标题,类型,时长,发布日期,有效期至,开始时间,结束时间,地点,名额\n"
            "a1,学习新思想,文章,1小时30分钟,46000,不限,,,,\n"
            "a2,支部书记讲党课,讲座,1个半小时,20251201,长期有效,,,,\n"
            "a3,党课辅导,讲座,半小时,2025/12/1,20270630,,,,\n"
            "o1,主题党日,活动,2小时,2025/11/20,,46003.375,46003.5,延安·枣园,不限\n")
    batch = read_batch(write(tmp_path / "items.csv", text), Item, now=NOW)
    a1, a2, a3, o1 = batch.records
    assert [it.minutes for it in batch.records] == [90, 90, 30, 120]
    assert (a1.published, a1.expires, a2.published, a2.expires) == (dt.date(2025, 12, 9), None, dt.date(2025, 12, 1), None)
    assert a3.expires == dt.date(2027, 6, 30)
    assert o1.schedule.capacity is None and o1.schedule.starts == dt.datetime(2025, 12, 12, 9, 0, tzinfo=TZ)
    assert not batch.warnings
    # Four digits are a year, not a day; a length with a half before and after is refused.
    bad = ("编号,标题,类型,时长,发布日期\n"
           "b1,学习,文章,15,2026\n"
           "b2,学习,文章,半小时半,2026/1/1\n"
           "b3,学习,文章,小时30分钟,00000\n"
           "b4,学习,文章,1.5个半小时,2026/1/1\n")
    with pytest.raises(ValidationError) as refused:
        read_batch(write(tmp_path / "bad.csv", bad), Item, now=NOW)
    assert [(p.line, p.field) for p in refused.value.problems] == [
        (2, "published"), (3, "minutes"), (4, "minutes"), (4, "published"), (5, "minutes")]


def test_a_member_information_system_roster_reads_its_posts_and_branch(tmp_path):
    # 所在党支部 is the branch; 党内职务 holds posts: those the curriculum plans for are roles, the
    # rest (党小组长) are named once and left out; 无 is no post; 兼 joins two.
    text = ("序号,党员编号,姓名,性别,所在党支部,人员类别,党内职务,手机号码\n"
            "1,0001,王强,男,hxny.fdgs.zb1,正式党员,党支部书记,13800000001\n"
            "2,0002,李娜,女,hxny.fdgs.zb1,预备党员,无,13800000002\n"
            "3,0003,周杰,男,hxny.fdgs.zb1,正式党员,党小组长,13800000003\n"
            "4,0004,赵敏,女,hxny.fdgs.zb1,正式党员,支部书记兼组织委员,13800000004\n"
            "5,0005,钱刚,男,hxny.fdgs.zb1,正式党员,党小组长、组织委员,13800000005\n")
    batch = read_batch(write(tmp_path / "花名册.csv", text, "gbk"), Member)
    roles = {m.id: set(m.roles) for m in batch.records}
    assert roles == {"0001": {"branch_secretary", "member"}, "0002": {"probationary"}, "0003": {"member"},
                     "0004": {"branch_secretary", "committee_member", "member"}, "0005": {"committee_member", "member"}}
    assert {m.org for m in batch.records} == {"hxny.fdgs.zb1"}
    posts = [w for w in batch.warnings if "党内职务" in w.message]
    assert len(posts) == 1 and "“党小组长”" in posts[0].message and posts[0].line == 4
    assert "vocabulary.roles" in posts[0].message


def test_learning_records_name_their_time_as_exports_do(tmp_path):
    text = "党员编号,内容编号,类型,完成时间\nm1,a1,完成,2026-11-30 20:15\n"
    (event,) = read_batch(write(tmp_path / "学习记录.csv", text), Event).records
    assert (event.member, event.item, event.kind, event.at.hour) == ("m1", "a1", "complete", 20)


def test_a_joining_date_kept_to_the_month_or_not_known_is_read(tmp_path):
    text = ("党员编号,姓名,所在支部,入党时间\n"
            "m1,王强,hx,2005.07\nm2,李娜,hx,2021年7月\nm3,周杰,hx,201003\nm4,赵敏,hx,无\nm5,钱刚,hx,不详\n"
            "m6,孙丽,hx,2003年12月18日\n")
    batch = read_batch(write(tmp_path / "m.csv", text, "gbk"), Member)
    assert [m.joined for m in batch.records] == [dt.date(2005, 7, 1), dt.date(2021, 7, 1), dt.date(2010, 3, 1), None,
                                                 None, dt.date(2003, 12, 18)]
    with pytest.raises(ValidationError, match=r"m.csv:2.*joined.*or a month like 2005.07.*got '2005.13'"):
        read_batch(write(tmp_path / "m.csv", "党员编号,姓名,所在支部,入党时间\nm1,王强,hx,2005.13\n"), Member)
