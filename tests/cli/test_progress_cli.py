"""``recsys progress``: a member's records or an organisation's, as text or JSON; bad use exits 2."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from recsys import Engine, Event, Item, Member
from recsys.curriculum import Curriculum, RolePolicy
from recsys_cli import main
from recsys.records import TZ


@pytest.fixture
def store(tmp_path):
    path = tmp_path / "store"
    with Engine.open(path, encoder="tfidf") as eng:
        eng.add_items([Item(id="a1", title="中共一大", body="", kind="article", minutes=30,
                            published=dt.date(2026, 1, 1), topics=("党史",))])
        eng.upsert_members([Member(id="m1", name="张伟", org="hx.b1"), Member(id="m2", name="李娜", org="hx.b2")])
        eng.record([Event("m1", "a1", "complete", dt.datetime(2026, 3, 2, 20, tzinfo=TZ), id="e1")])
    return str(path)


def test_member_progress_as_json_and_text(store, capsys):
    assert main(["progress", "m1", "--day", "2026-03-31", "--json", "--store", store]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["hours"]["hours"] == 0.5 and data["points"]["total"] == 1 and data["hours"]["entries"][0]["event"] == "e1"
    assert main(["progress", "m1", "--day", "2026-03-31", "--store", store]) == 0
    out = capsys.readouterr().out
    assert "学时：0.5 / 32（落后" in out and "积分：1（学习 1）" in out
    # Hours studied before go-live are neither online nor offline.
    with Engine.open(store) as eng:
        eng.record_balances([{"member": "m1", "year": 2026, "hours": 12, "note": "截至2月底台账"}])
    assert main(["progress", "m1", "--day", "2026-03-31", "--store", store]) == 0
    assert "线上/线下：线上 0.5，期初学时 12.0" in capsys.readouterr().out


def test_member_progress_names_items_to_review_and_the_branch_as_people_read_them(tmp_path, capsys):
    path = str(tmp_path / "store")
    with Engine.open(path, encoder="tfidf") as eng:
        eng.add_items([Item(id="q1", title="党章知识自测", body="", kind="quiz", minutes=10,
                            published=dt.date(2026, 1, 1), topics=("党章党规党纪",))])
        eng.upsert_members([Member(id="m1", name="张伟", org="hx.b1")])
        eng.set_org_names([{"org": "hx.b1", "name": "运行党支部"}])
        eng.record([Event("m1", "q1", "quiz", dt.datetime(2026, 3, 2, 20, tzinfo=TZ), value=0.4, id="e1")])
    assert main(["progress", "m1", "--day", "2026-03-31", "--store", path]) == 0
    out = capsys.readouterr().out
    assert "张伟（m1，运行党支部）" in out and "待复习：《党章知识自测》（" in out and "q1" not in out


def test_org_progress_with_alerts(store, capsys):
    assert main(["progress", "--org", "hx", "--day", "2026-03-31", "--json", "--store", store]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [b["org"] for b in data["branches"]] == ["hx.b1", "hx.b2"] and data["members"] == 2
    assert {(a["kind"], a["member"]) for a in data["alerts"] if a["member"]} >= {("inactive", "m2")}


def test_bad_use_exits_2_with_one_line(store, capsys):
    assert main(["progress", "--store", store]) == 2
    assert "give either a MEMBER or --org ORG" in capsys.readouterr().err
    assert main(["progress", "nobody", "--store", store]) == 2
    assert main(["progress", "--org", "zz", "--store", store]) == 2
    assert "organisation" in capsys.readouterr().err
    # A day past what the calendar can count from is a clear error, never an OverflowError.
    for command in (["daily", "m1"], ["path", "m1"], ["progress", "m1"], ["coverage"], ["digest", "hx"],
                    ["batch", "--no-train"]):
        for day in ("0001-01-01", "9999-12-31"):
            flag = "--start" if command[0] == "path" else "--day"
            assert main([*command, flag, day, "--store", store]) == 2, (command, day)
            assert "must be in the years 1900-2199" in capsys.readouterr().err


def test_an_unknown_organisation_is_refused_by_every_report(store, capsys, monkeypatch):
    """A mistyped organisation is an error everywhere: coverage no longer reports an empty
    organisation without gaps, and batch refuses it before spending time on training."""
    trained = []
    monkeypatch.setattr(Engine, "train", lambda self, *args, **kwargs: trained.append(self))
    for command in (["coverage", "--org", "hx.b9"], ["batch", "--org", "hx.b9", "--day", "2026-03-31"],
                    ["digest", "hx.b9"]):
        assert main([*command, "--store", store]) == 2
        assert "no organisation with id 'hx.b9'" in capsys.readouterr().err
    assert not trained
    assert main(["coverage", "--org", "hx.b1", "--day", "2026-03-31", "--store", store]) == 0
    assert "内容覆盖" in capsys.readouterr().out
    with Engine.open(store) as eng:
        eng.add_items([Item(id="own", title="分公司自己的课", body="", kind="article", minutes=10,
                            published=dt.date(2026, 1, 1), org="hx.b9")])
    # An organisation with items of its own but no members yet is one an editor may look at.
    assert main(["coverage", "--org", "hx.b9", "--day", "2026-03-31", "--store", store]) == 0


def test_a_branch_progress_counts_only_hours_toward_a_target(tmp_path, capsys):
    """An infirm member has no hours target: what they study shows beside the branch's progress,
    not in it (a retirees' branch read nearly twice as far along as it was)."""
    path = tmp_path / "store"
    at = dt.datetime(2026, 3, 2, 20, tzinfo=TZ)
    with Engine.open(path, encoder="tfidf") as eng:
        eng.add_items([Item(id="a1", title="中共一大", body="", kind="article", minutes=60,
                            published=dt.date(2026, 1, 1), topics=("党史",))])
        eng.upsert_members([Member(id="m1", name="张伟", org="hx.b1"),
                            Member(id="m2", name="李娜", org="hx.b1", situation="infirm", offline=False)])
        eng.record([Event("m1", "a1", "complete", at, id="e1"), Event("m2", "a1", "complete", at, id="e2")])
        report = eng.org_progress("hx", day=dt.date(2026, 3, 31)).to_dict()
    branch = report["branches"][0]
    # Known answers: one hour each; only m1's counts toward m1's target.
    assert branch["hours"] == report["hours"] == 2.0 and branch["untargeted"] == report["untargeted"] == 1
    assert branch["untargeted_hours"] == 1.0 and branch["progress"] == report["progress"] == round(1.0 / branch["target"], 4)
    assert main(["progress", "--org", "hx", "--day", "2026-03-31", "--store", str(path)]) == 0
    assert f"学时 1.0 / {branch['target']:g}（另有无学时要求的 1 人学习 1.0 学时）" in capsys.readouterr().out
    # A role whose target is set to 0 hours a year has none either.
    zero = Curriculum(roles={"member": RolePolicy("member", "党员", "党员", 32.0, {}),
                             "retired": RolePolicy("retired", "离退休党员", "离退休", 0.0, {})})
    with Engine.open(path, curriculum=zero) as eng:
        eng.upsert_members([Member(id="m2", name="李娜", org="hx.b1", roles=("retired",))])
        zeroed = eng.org_progress("hx", day=dt.date(2026, 3, 31)).to_dict()["branches"][0]
    assert (zeroed["target"], zeroed["untargeted"], zeroed["progress"]) == (32.0, 1, round(1.0 / 32.0, 4))


def test_org_progress_of_many_branches_lists_those_most_behind_and_names_members_by_id(tmp_path, capsys):
    # Four branches of 1, 2, 3 and 4 members, none of whom has studied: with --branches 2 the
    # two with most members behind, then a line for the rest; each alert names id and branch,
    # where two members share a name.
    path = str(tmp_path / "store")
    with Engine.open(path, encoder="tfidf") as eng:
        eng.add_items([Item(id="a1", title="中共一大", body="", kind="article", minutes=30,
                            published=dt.date(2026, 1, 1), topics=("党史",))])
        eng.upsert_members([Member(id=f"m{b}{k}", name="王伟", org=f"hx.b{b}") for b in range(1, 5) for k in range(b)])
    assert main(["progress", "--org", "hx", "--day", "2026-06-30", "--branches", "2", "--store", path]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "共 4 个支部，以下为落后进度人数最多的 2 个" in lines[1]
    assert lines[2].strip().startswith("hx.b4：4 人") and lines[3].strip().startswith("hx.b3：3 人")
    assert not any(line.strip().startswith(("hx.b1", "hx.b2")) for line in lines)
    behind = [line.strip() for line in lines if "学时进度落后" in line]
    assert len({line.rsplit("｜", 1)[1] for line in behind}) == len(behind) == 10
    assert "⚠ 王伟学时进度落后：已学 0.0 学时" in behind[0] and behind[0].endswith("｜编号 m10，hx.b1")
    assert "e+" not in "\n".join(lines)
    assert main(["progress", "--org", "hx", "--day", "2026-06-30", "--branches", "0", "--store", path]) == 0
    assert sum(line.strip().startswith("hx.b") for line in capsys.readouterr().out.splitlines()) == 4
    assert main(["progress", "--org", "hx", "--branches", "-1", "--store", path]) == 2
