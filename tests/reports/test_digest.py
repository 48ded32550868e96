"""A branch digest: known answers by construction, no names, whole lines within a byte limit."""

from __future__ import annotations

import datetime as dt

from factories import make_item
from recsys import Engine, Member
from recsys.records import TZ, Schedule
from recsys.reports.digest import build_digest, format_digest, wecom_message

DAY = dt.date(2026, 12, 1)


def activity(id_, days_ahead, capacity, place="太原·烈士陵园", **fields):
    starts = dt.datetime.combine(DAY + dt.timedelta(days=days_ahead), dt.time(9), TZ)
    return make_item(id_, f"活动{id_}", kind="activity", mode="offline", minutes=120, schedule=Schedule(
        starts, starts + dt.timedelta(hours=2), place, capacity), **fields)


def world():
    members = [Member("m1", "张伟", "hx.b1"), Member("m2", "李娜", "hx.b1")]
    items = {i.id: i for i in [make_item("a1", "廉洁从业十不准"), make_item("a2", "安全生产微课", kind="video"),
                               make_item("a3", "党史故事"), activity("o1", 3, 10), activity("o2", 20, 10),
                               activity("o3", 5, 5), activity("o4", 1, None)]}
    served = [("m1", DAY, ["a1", "a2"]), ("m1", DAY, ["a1"]),  # asked twice (two budgets): counted once
              ("m2", DAY, ["a1"]), ("m1", DAY - dt.timedelta(days=1), ["a3"]), ("m9", DAY, ["a3"])]
    return members, items, served


def test_items_by_members_and_activities_with_seats_left():
    members, items, served = world()
    digest = build_digest("hx.b1", DAY, members, served, items, {"o1": 4, "o3": 5})
    assert (digest.members, digest.with_list) == (2, 2)
    assert [(d.item.id, d.members) for d in digest.items] == [("a1", 2), ("a2", 1)]
    # o2 is beyond two weeks, o3 is full; o4 has no limit
    assert [(a.item.id, a.seats_left) for a in digest.activities] == [("o4", None), ("o1", 6)]
    text = format_digest(digest, name="运行支部")
    assert text.splitlines()[:2] == ["【运行支部 · 12月1日学习提示】", "今日已为 2/2 名党员生成学习清单。"]
    assert "1. 《廉洁从业十不准》 10分钟 · 文章（2人）" in text and "剩余 6 个名额" in text
    assert "张伟" not in text and "李娜" not in text


def test_an_activity_filled_since_the_lists_were_made_is_not_recommended():
    """The lists of the morning offered o1 and o3; o3's seats have all been taken since: the
    group is not told to go to it (those enrolled have it on their own lists)."""
    members, items, _ = world()
    served = [("m1", DAY, ["a1", "o1", "o3"]), ("m2", DAY, ["o3"])]
    digest = build_digest("hx.b1", DAY, members, served, items, {"o1": 4, "o3": 5})
    assert [(d.item.id, d.members) for d in digest.items] == [("a1", 1), ("o1", 1)]


def test_an_empty_list_is_not_counted_as_a_list_made():
    """A member given nothing to study (nothing open fits the day) is not "given a list": the
    branch is told how many have none, once, whichever of their budgets came first."""
    members, items, served = world()
    members.append(Member("m3", "王强", "hx.b1"))
    served += [("m3", DAY, []), ("m2", DAY, [])]  # m2's second budget gave nothing: m2 still has a list
    digest = build_digest("hx.b1", DAY, members, served, items, {})
    assert (digest.members, digest.with_list, digest.empty) == (3, 2, 1)
    assert format_digest(digest).splitlines()[1] == "今日已为 2/3 名党员生成学习清单，另有 1 名党员今日暂无可学内容。"
    assert digest.to_dict()["empty"] == 1


def test_a_long_digest_keeps_whole_lines_within_the_limit():
    members, items, _ = world()
    items.update({f"x{n:03d}": make_item(f"x{n:03d}", f"第{n}讲：党的创新理论专题学习") for n in range(200)})
    served = [("m1", DAY, list(items))]
    full = format_digest(build_digest("hx.b1", DAY, members, served, items, {}), markdown=True)
    message = wecom_message(build_digest("hx.b1", DAY, members, served, items, {}), max_bytes=1500)
    content = message["markdown"]["content"]
    assert message["msgtype"] == "markdown" and len(full.encode()) > 1500 >= len(content.encode())
    kept = content.splitlines()
    assert set(kept) - set(full.splitlines()) == {next(line for line in kept if line.startswith("……另有"))}
    assert "**近期活动（可报名）**" in kept  # both sections survive the cut


def test_the_digest_links_items_to_their_pages():
    members, items, served = world()
    items["a1"] = make_item("a1", "廉洁从业十不准", url="https://dangjian.example.com/c/a1")
    digest = build_digest("hx.b1", DAY, members, served, items, {})
    assert "1. [廉洁从业十不准](https://dangjian.example.com/c/a1) 10分钟 · 文章（2人）" in format_digest(digest, markdown=True)
    assert "1. 《廉洁从业十不准》 https://dangjian.example.com/c/a1 10分钟" in format_digest(digest)
    assert digest.to_dict()["items"][0]["url"] == "https://dangjian.example.com/c/a1"


def test_markup_in_a_title_or_a_place_is_shown_as_typed():
    """A title (or an activity's place) holding markdown is shown as the editor typed it, not as
    a link, bold or coloured text in the group chat."""
    members, items, served = world()
    items["a1"] = make_item("a1", '[点我](http://evil.example) **加粗** <font color="warning">红字</font> _斜_`码`')
    items["o1"] = activity("o1", 3, 10, place="太原·**礼堂**")
    text = format_digest(build_digest("hx.b1", DAY, members, served, items, {}), markdown=True)
    assert '《［点我］(http://evil.example) ＊＊加粗＊＊ ＜font color="warning"＞红字＜/font＞ ＿斜＿｀码｀》' in text
    assert "太原·＊＊礼堂＊＊" in text and "**礼堂**" not in text


def test_an_organisations_digest_lists_only_activities_a_member_of_it_could_attend(tmp_path):
    items = [activity("here", 3, 10), activity("beijing", 3, 10, place="北京·北大红楼"),
             activity("cadres", 4, 10, roles=("cadre",)), make_item("a1", "廉洁从业十不准")]
    members = [Member("m1", "张伟", "hx.b1", location="太原"),
               Member("m2", "李娜", "hx.b1", location="北京", offline=False, situation="mobile")]
    with Engine.open(tmp_path / "s", encoder="tfidf") as eng:
        eng.add_items(items)
        eng.upsert_members(members)
        # The mobile member in Beijing attends nothing; no member holds the cadres' role.
        assert [a.item.id for a in eng.digest("hx.b1", DAY).activities] == ["here"]
        eng.upsert_members([Member("m3", "王强", "hx.b1", roles=("cadre",), location="太原")])
        digest = eng.digest("hx.b1", DAY)
        assert [(a.item.id, a.audience) for a in digest.activities] == [("here", None), ("cadres", "领导干部")]
        # The whole group reads it: an activity for some roles says for whom.
        assert "《活动cadres》（面向领导干部），剩余 10 个名额" in format_digest(digest)


def test_activities_show_beijing_time_and_those_over_are_left_out():
    members, items, served = world()
    utc = dt.timezone.utc
    late = make_item("late", "夜间党课", kind="activity", mode="offline", minutes=60, schedule=Schedule(
        dt.datetime(2026, 12, 4, 17, 0, tzinfo=utc), dt.datetime(2026, 12, 4, 18, 0, tzinfo=utc), "太原·会议室", None))
    morning = activity("o5", 0, None)  # 09:00-11:00 on the day
    items.update({"late": late, "o5": morning})
    at_noon = dt.datetime.combine(DAY, dt.time(12), TZ)
    digest = build_digest("hx.b1", DAY, members, served, items, {}, now=at_noon)
    assert [a.item.id for a in digest.activities] == ["o4", "o1", "late", "o3"]  # o5 ended at 11:00
    assert "· 12月5日 01:00 太原·会议室《夜间党课》" in format_digest(digest)  # 17:00 UTC is 1:00 the next day
    before = build_digest("hx.b1", DAY, members, served, items, {}, now=at_noon.replace(hour=8))
    assert [a.item.id for a in before.activities][:1] == ["o5"]


def test_the_command_keeps_a_message_within_what_the_group_takes(tmp_path, capsys):
    from recsys_cli import main

    store = str(tmp_path / "s")
    with Engine.open(store, encoder="tfidf") as eng:
        eng.add_items([activity(f"o{n:02d}", 1 + n % 13, 50) for n in range(90)])
        eng.upsert_members([Member("m1", "张伟", "hx.b1", location="太原")])
    sizes = {}
    for form in ([], ["--markdown"], ["--max-bytes", "0"], ["--max-bytes", "600"]):
        assert main(["digest", "hx.b1", "--day", "2026-12-01", "--store", store, *form]) == 0
        sizes[" ".join(form)] = len(capsys.readouterr().out.rstrip("\n").encode())
    # 企业微信 takes 2,048 bytes of text and 4,096 of markdown; a longer digest loses its last lines.
    assert 1800 < sizes[""] <= 2048 and 3800 < sizes["--markdown"] <= 4096
    assert sizes["--max-bytes 0"] > 4096 and sizes["--max-bytes 600"] <= 600
    assert main(["digest", "hx.b1", "--store", store, "--max-bytes", "50"]) == 2


def test_the_digest_counts_each_members_list_at_their_own_minutes(tmp_path):
    items = [make_item(f"a{n}", f"党史学习第{n}课", minutes=10) for n in range(12)]
    with Engine.open(tmp_path / "s", encoder="tfidf") as eng:
        eng.add_items(items)
        eng.upsert_members([Member("m1", "张伟", "hx.b1", daily_minutes=10), Member("m2", "李娜", "hx.b1")])
        eng.daily("m1", DAY, minutes=40)  # asked once with another budget
        own = eng.daily("m1", DAY)  # the day's list at their own 10 minutes
        eng.daily("m2", DAY)
        counted = {d.item.id: d.members for d in eng.digest("hx.b1", DAY).items}
        assert sum(counted.values()) == len(own.entries) + len(eng.daily("m2", DAY).entries)
        # Their minutes raised and served again the same day: the new list is the one counted.
        eng.upsert_members([Member("m1", "张伟", "hx.b1", daily_minutes=30)])
        longer = eng.daily("m1", DAY)
        counted = {d.item.id: d.members for d in eng.digest("hx.b1", DAY).items}
        assert sum(counted.values()) == len(longer.entries) + len(eng.daily("m2", DAY).entries)
