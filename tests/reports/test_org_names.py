"""Organisation display names: read from exports, kept by the store, and shown by every report
(coverage, its dashboard, digests, alerts, progress, push) where a dotted code stood."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from factories import SAMPLE, make_item
from recsys import Engine, Member, ValidationError
from recsys.ingest.loaders import read_batch
from recsys.orgs import OrgDirectory, OrgName
from recsys.reports.coverage import format_coverage
from recsys.reports.coverage_html import render_html
from recsys.reports.coverage_tables import coverage_tables
from recsys.reports.digest import format_digest
from recsys_cli import main

DAY = dt.date(2026, 12, 1)
NAMES = "组织编码,组织名称\nhx,华能新能源党委\nhx.b1,运行党支部\n"


@pytest.fixture
def store(tmp_path):
    path = tmp_path / "store"
    with Engine.open(path, encoder="tfidf") as engine:
        engine.add_items([make_item(i, t, b, topics=topics) for i, t, b, topics in SAMPLE])
        engine.upsert_members([Member("m1", "张伟", "hx.b1"), Member("m2", "李娜", "hx.b2")])
    return path


def test_an_export_of_names_is_read_with_chinese_headers_and_every_problem_named(tmp_path):
    path = tmp_path / "orgs.csv"
    path.write_bytes(NAMES.encode("gbk"))
    assert read_batch(path, OrgName).records == [OrgName("hx", "华能新能源党委"), OrgName("hx.b1", "运行党支部")]
    path.write_text("组织编码,组织名称\nhx,\nhx b1,支部\nhx.b2," + "长" * 101 + "\nhx.b3,检修党支部\nhx.b3,又一个\n")
    with pytest.raises(ValidationError) as err:
        read_batch(path, OrgName)
    assert [(p.line, p.field) for p in err.value.problems] == [(2, "name"), (3, "org"), (4, "name"), (6, "id")]
    assert "duplicate organisation id (first on line 5)" in str(err.value.problems[-1])


def test_a_roster_is_not_read_as_names(tmp_path):
    """所在支部 and 姓名 mean a member's branch and name: read as an organisation's code and
    name, a roster renamed each branch after one of its members."""
    path = tmp_path / "roster.csv"
    path.write_text("党员编号,姓名,身份,所在支部\nm1,李志刚,党员,hx.b1\n", encoding="utf-8")
    with pytest.raises(ValidationError, match=r"no column 'org' \(组织编码\), 'name' \(组织名称\)"):
        read_batch(path, OrgName)
    path.write_text("org,name\nhx.b1,运行党支部\n", encoding="utf-8")
    assert read_batch(path, OrgName).records == [OrgName("hx.b1", "运行党支部")]


def test_names_show_in_coverage_digest_alerts_and_progress(store):
    with Engine.open(store) as engine:
        assert engine.set_org_names([{"org": "hx", "name": "华能新能源党委"}, {"org": "hx.b1", "name": "运行党支部"}]) == 2
        engine.daily("m1", day=DAY)
        digest = engine.digest("hx.b1", day=DAY)
        assert format_digest(digest).splitlines()[0] == "【运行党支部 · 12月1日学习提示】"
        assert digest.to_dict()["org_name"] == "运行党支部"
        assert engine.digest("hx.b2", day=DAY).to_dict()["org_name"] == "hx.b2"  # no name: the code
        report = engine.coverage("hx", day=DAY)
        assert report.to_dict()["org_name"] == "华能新能源党委"
        assert report.org_names == {"hx": "华能新能源党委", "hx.b1": "运行党支部"}
        assert format_coverage(report).startswith("内容覆盖（华能新能源党委，截至")
        page = render_html(report)
        assert "<option value='hx.b1'>运行党支部</option>" in page and "<option value='hx.b2'>hx.b2</option>" in page
        # Branches by name in the tables of who was not reached, and of each member to look after.
        tables = {t.key: t for section in coverage_tables(report).values() for t in section}
        assert {r[0].text for r in tables["t-reach"].rows} == {r[0].text for r in tables["t-members"].rows} \
            == {"运行党支部", "hx.b2"}
        alerts = [a.to_dict() for a in engine.alerts("hx", day=DAY)]
        assert {a["org"]: a["org_name"] for a in alerts} == {"hx.b1": "运行党支部", "hx.b2": "hx.b2"}
        themed = [a["message"] for a in alerts if a["kind"] == "no_themed_day"]
        assert themed == ["运行党支部本月（12月）尚未开展主题党日活动", "hx.b2本月（12月）尚未开展主题党日活动"]
        assert engine.member_page("m1", day=DAY, preview=True)["member"]["org_name"] == "运行党支部"
        assert engine.set_org_names([{"org": "hx.b1", "name": "运行一支部"}]) == 1  # replaces
        assert engine.org_names()["hx.b1"] == "运行一支部"
        with pytest.raises(ValidationError):
            engine.set_org_names([{"org": "hx.b2", "name": "检修党支部"}, {"org": "hx.b2", "name": "检修"}])
        assert "hx.b2" not in engine.org_names()


def test_recsys_orgs_then_progress_digest_and_push_use_the_names(store, tmp_path, capsys):
    path = tmp_path / "orgs.csv"
    path.write_bytes(NAMES.encode("gbk"))
    assert main(["orgs", str(path), "--check", "--store", str(store)]) == 0
    assert "2 organisation names valid; nothing written" in capsys.readouterr().out
    assert main(["orgs", str(path), "--store", str(store)]) == 0
    assert "orgs.csv (GB18030): 2 organisation names" in capsys.readouterr().out
    assert main(["progress", "--org", "hx", "--day", DAY.isoformat(), "--store", str(store)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("华能新能源党委 2026-12-01") and "  运行党支部：1 人" in out and "  hx.b2：1 人" in out
    assert main(["progress", "--org", "hx", "--day", DAY.isoformat(), "--json", "--store", str(store)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["org_name"] == "华能新能源党委"
    assert [(b["org"], b["org_name"]) for b in data["branches"]] == [("hx.b1", "运行党支部"), ("hx.b2", "hx.b2")]
    assert main(["digest", "hx.b1", "--day", DAY.isoformat(), "--json", "--store", str(store)]) == 0
    assert json.loads(capsys.readouterr().out)["org_name"] == "运行党支部"
    bad = tmp_path / "bad.csv"
    bad.write_text("组织编码,组织名称\nhx.b2,\n")
    assert main(["orgs", str(bad), "--store", str(store)]) == 2
    assert "bad.csv:2, id 'hx.b2', field 'name'" in capsys.readouterr().err


@pytest.mark.parametrize("written, code", [
    ("运行党支部", "hx.fd.yx"), ("发电公司党委/运行党支部", "hx.fd.yx"), ("运行 党支部", "hx.fd.yx"),
    ("供电公司党委/第一党支部", "hx.gd.zb1"), ("华新能源集团 / 发电公司党委 / 第一党支部", "hx.fd.zb1"),
    ("华新能源集团＞供电公司党委＞第一党支部", "hx.gd.zb1"), ("无名支部", None), ("供电公司党委/运行党支部", None),
])
def test_a_unit_named_by_its_name_or_with_the_units_above_it_is_found(written, code):
    directory = OrgDirectory({"hx": "华新能源集团", "hx.fd": "发电公司党委", "hx.fd.yx": "运行党支部",
                              "hx.fd.zb1": "第一党支部", "hx.gd": "供电公司党委", "hx.gd.zb1": "第一党支部"})
    assert directory.code(written) == code
    with pytest.raises(ValueError, match="hx.fd.zb1、hx.gd.zb1"):  # a shared name alone is not guessed
        directory.code("第一党支部")


def test_a_roster_names_branches_by_their_registered_names(store, tmp_path, capsys):
    """HR exports write 所在支部 as the branch's name: with the names registered (recsys orgs) the
    roster goes in, each member in the branch's code; a name nobody registered is refused by line."""
    names = tmp_path / "orgs.csv"
    names.write_text(NAMES, encoding="utf-8")
    assert main(["orgs", str(names), "--store", str(store)]) == 0
    roster = tmp_path / "roster.csv"
    roster.write_text("党员编号,姓名,所在支部\nm3,王芳,运行党支部\nm4,赵强,华能新能源党委/运行党支部\n", encoding="utf-8")
    assert main(["members", str(roster), "--store", str(store)]) == 0
    with Engine.open(store) as engine:
        assert [engine.member(m).org for m in ("m3", "m4")] == ["hx.b1", "hx.b1"]
    roster.write_text("党员编号,姓名,所在支部\nm5,钱伟,检修党支部\n", encoding="utf-8")
    assert main(["members", str(roster), "--store", str(store)]) == 2
    assert "roster.csv:2, id 'm5', field 'org'" in capsys.readouterr().err
