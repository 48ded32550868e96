"""Batch writes from exports over HTTP: ``text/csv`` (GBK or UTF-8), ``.xlsx`` and ``.xls`` bodies,
read with the same rules and errors as the command line; a rejected body writes nothing."""

from __future__ import annotations

import datetime as dt
import io

import pytest

from service_support import bearer, seeded_client

CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ITEMS = ("id,title,kind,minutes,topics,roles,published,starts,ends,location,capacity,\n"
         "c-1,学习新思想,文章,15分钟,习近平新时代中国特色社会主义思想,,2026/11/1,,,,,\n"
         "c-2,主题党日：参观烈士陵园,线下活动,150,党史,支部书记,2026年11月20日,2026/12/9 9:00,2026/12/9 11:30,太原·烈士陵园,40人,\n")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with seeded_client(tmp_path_factory.mktemp("exports") / "store") as world:
        yield world


def put(client, path, body, key, ctype, **params):
    return client.request("POST" if path == "/v1/events" else "PUT", path, content=body, params=params,
                          headers={**bearer(key), "Content-Type": ctype})


def test_a_gbk_csv_of_items_with_slash_dates_empty_cells_and_chinese_codes(world):
    client, keys = world
    assert put(client, "/v1/items", ITEMS.encode("gbk"), keys.admin, CSV).status_code == 403  # shared: platform only
    response = put(client, "/v1/items", ITEMS.encode("gbk"), keys.platform, CSV)
    assert response.status_code == 200, response.text
    assert response.json() == {"written": 2}
    c1, c2 = (client.get(f"/v1/items/{i}", headers=bearer(keys.a)).json() for i in ("c-1", "c-2"))
    assert (c1["kind"], c1["minutes"], c1["topics"], c1["published"], c1["level"]) == (
        "article", 15, ["党的创新理论"], "2026-11-01", 1)
    assert (c2["mode"], c2["roles"], c2["schedule"]["capacity"]) == ("offline", ["branch_secretary"], 40)
    assert c2["schedule"]["starts"] == "2026-12-09T09:00:00+08:00"


def test_members_from_a_workbook_and_events_from_csv_with_warnings(world):
    openpyxl = pytest.importorskip("openpyxl")
    client, keys = world
    book = openpyxl.Workbook()
    book.active.append(["id", "name", "roles", "org", "offline", "daily_minutes", "joined", "situation"])
    book.active.append(["x-1", "刘洋", "党员、青年党员", "hxny.fdgs.zb-yunxing", "是", None, dt.datetime(2018, 7, 1), None])
    book.active.append(["x-2", "孙丽", "党员|branch_secertary", "hxny.fdgs.zb-yunxing", None, 20, None, "流动党员"])
    buf = io.BytesIO()
    book.save(buf)
    response = put(client, "/v1/members", buf.getvalue(), keys.a, XLSX)
    assert response.status_code == 200, response.text
    (warning,) = response.json()["warnings"]
    assert (warning["index"], warning["line"], warning["id"], warning["field"]) == (1, 3, "x-2", "roles")
    x1, x2 = (client.get(f"/v1/members/{m}", headers=bearer(keys.a)).json() for m in ("x-1", "x-2"))
    assert (x1["roles"], x1["daily_minutes"], x1["joined"]) == (["member", "young"], 30, "2018-07-01")
    assert (x2["situation"], x2["offline"]) == ("mobile", False)

    events = "id,member,item,kind,value,at\nx-e1,x-1,a-item,完成,,2026/11/20 20:15\nx-e2,x-1,a-item,评分,5,2099/1/1 8:00\n"
    response = put(client, "/v1/events", events.encode("utf-8-sig"), keys.a, CSV, strict="true")
    assert response.status_code == 422 and response.json()["error"]["details"][0]["line"] == 3
    assert client.get("/v1/members/x-1/progress", headers=bearer(keys.a)).json()["points"]["total"] == 0
    response = put(client, "/v1/events", events.encode("utf-8"), keys.a, CSV)
    assert response.status_code == 200 and response.json()["recorded"] == 2
    assert [w["field"] for w in response.json()["warnings"]] == ["at"]


def test_reading_warnings_reach_the_caller_and_strict_refuses_them(world):
    client, keys = world
    roster = "编号,姓名,性别,手机号码,所在支部\nz-1,周洁,女,13900000000,hxny.fdgs.zb-yunxing\n".encode("gbk")
    response = put(client, "/v1/members", roster, keys.a, CSV)
    assert response.status_code == 200, response.text
    (warning,) = response.json()["warnings"]
    assert (warning["index"], warning["line"], warning["field"]) == (None, 1, None) and "性别" in warning["message"]
    assert put(client, "/v1/members", roster, keys.a, CSV, strict="true").status_code == 422
    twice = "member,item,kind,at\nz-1,a-item,完成,2026/11/20 20:15\nz-1,a-item,完成,2026/11/20 20:15\n".encode()
    response = put(client, "/v1/events", twice, keys.a, CSV)
    assert response.json()["received"] == 1 and [(w["index"], w["line"]) for w in response.json()["warnings"]] == [(None, 3)]


def test_every_bad_row_is_named_by_line_and_nothing_is_written(world):
    client, keys = world
    body = ("id,name,roles,org,offline\n"
            "y-1,赵敏,党员,hxny.jt,也许\n"
            "y-2,钱刚,党员,hxny.jt,是\n"
            "y-3,周洁,党员,hxny.jt,否,多余\n").encode("gbk")
    response = put(client, "/v1/members", body, keys.a, "text/csv; charset=gbk")
    assert response.status_code == 422
    error = response.json()["error"]
    assert [(d["line"], d["id"], d["field"]) for d in error["details"]] == [(2, "y-1", "offline"), (4, None, None)]
    assert error["message"].startswith("line 2, id 'y-1', field 'offline': must be yes or no")
    assert error["message"].endswith("(and 1 more problem); nothing was written")
    assert client.get("/v1/members/y-2", headers=bearer(keys.a)).status_code == 404


def test_an_unknown_member_in_an_event_export_is_named_by_line(world):
    client, keys = world
    body = "member,item,kind,at\nm-a,a-item,开始,2026/11/20 8:00\nnobody,a-item,开始,2026/11/20 8:00\n"
    response = put(client, "/v1/events", body.encode(), keys.a, CSV)
    assert response.status_code == 422
    assert [(d["line"], d["field"]) for d in response.json()["error"]["details"]] == [(3, "member")]


def test_without_a_key_an_export_is_refused_before_it_is_read(world):
    client, _ = world
    response = client.put("/v1/members", content=b"id,name\n\xff\xfe,x\n", headers={"Content-Type": CSV})
    assert response.status_code == 401


def test_a_body_that_is_not_a_workbook(world):
    client, keys = world
    response = put(client, "/v1/items", b"not a zip", keys.platform, XLSX)
    assert response.status_code == 422 and "not an Excel .xlsx workbook" in response.json()["error"]["message"]


def test_an_error_does_not_echo_a_huge_cell_in_full(world):
    """A CSV body's cell of 40,000 characters is named by line and field, its value cut: the
    response stays small (it echoed the whole cell, as each problem's message)."""
    client, keys = world
    body = ("id,name,org,daily_minutes\n"
            f"y-1,张三,hxny.fdgs.zb-yunxing,{'9' * 40_000}分钟\n"
            f"y-2,李四,hxny.fdgs.zb-yunxing,{'长' * 40_000}\n").encode()
    response = put(client, "/v1/members", body, keys.a, CSV)
    assert response.status_code == 422
    assert [(d["line"], d["field"]) for d in response.json()["error"]["details"]] == [(2, "daily_minutes"),
                                                                                       (3, "daily_minutes")]
    assert len(response.content) < 4_000 and "characters)" in response.text



def test_a_roster_giving_a_stored_members_id_to_another_person_is_refused(world):
    # A second unit numbering its roster from the same ids as the first: written, 赵敏 of 检修支部
    # took over 张伟's record and hours. The same person renamed or moved keeps the id.
    client, keys = world
    roster = ("id,name,roles,org\n"
              "m-a,赵敏,党员,hxny.fdgs.zb-jianxiu\n"
              "n-1,钱进,党员,hxny.fdgs.zb-jianxiu\n")
    response = put(client, "/v1/members", roster.encode(), keys.a, CSV)
    assert response.status_code == 409, response.text
    body = response.json()["error"]
    assert body["message"].startswith("line 2, record 0, id 'm-a', field 'id': member id 'm-a' is 张伟")
    assert "PATCH /v1/members/{id}" in body["message"] and body["message"].endswith("nothing was written")
    (detail,) = body["details"]
    assert (detail["index"], detail["line"], detail["id"], detail["field"]) == (0, 2, "m-a", "id")
    assert client.get("/v1/members/n-1", headers=bearer(keys.a)).status_code == 404
    assert client.get("/v1/members/m-a", headers=bearer(keys.a)).json()["name"] == "张伟"
    # As JSON, placed by index; a rename alone (same branch) is the same member.
    clash = {"id": "m-a2", "name": "周强", "org": "hxny.jt", "roles": ["member"]}
    response = client.put("/v1/members", json=[clash], headers=bearer(keys.a))
    assert response.status_code == 409 and response.json()["error"]["details"][0]["index"] == 0
    renamed = {"id": "m-a2", "name": "李娜娜", "org": "hxny.fdgs.zb-yunxing", "roles": ["member", "branch_secretary"],
               "daily_minutes": 40}
    assert client.put("/v1/members", json=[renamed], headers=bearer(keys.a)).status_code == 200
    # Moved, with the name padded as many rosters pad two-character names: the same person.
    moved = {"id": "m-a3", "name": "王　强", "org": "hxny.fdgs.zb-yunxing", "roles": ["member"], "daily_minutes": 20}
    assert client.put("/v1/members", json=[moved], headers=bearer(keys.a)).status_code == 200


def test_an_excel_97_roster_and_a_csv_sent_as_windows_types_it(world):
    import xlwt  # a dev dependency: the tests of .xls need it, never skipped

    client, keys = world
    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("党员名单")
    for r, row in enumerate([["党员编号", "姓名", "身份", "所在支部"], ["y-1", "吴刚", "正式党员", "hxny.fdgs.zb-yunxing"]]):
        for c, value in enumerate(row):
            sheet.write(r, c, value)
    buf = io.BytesIO()
    book.save(buf)
    response = put(client, "/v1/members", buf.getvalue(), keys.a, "application/vnd.ms-excel")
    assert response.status_code == 200, response.text
    assert client.get("/v1/members/y-1", headers=bearer(keys.a)).json()["name"] == "吴刚"
    # Windows gives a .csv file the Excel 97 type: read as the text it is.
    roster = "党员编号,姓名,身份,所在支部\ny-2,郑洁,预备党员,hxny.fdgs.zb-yunxing\n".encode("gbk")
    response = put(client, "/v1/members", roster, keys.a, "application/vnd.ms-excel")
    assert response.status_code == 200, response.text
    assert client.get("/v1/members/y-2", headers=bearer(keys.a)).json()["roles"] == ["probationary"]


def test_a_refused_body_asks_for_what_a_request_can_give(world):
    # Not the command line's flags: a sheet of a body read as text, an encoding it cannot tell.
    client, keys = world
    roster = "党员编号,姓名,身份,所在支部\ny-3,冯雪,正式党员,hxny.fdgs.zb-yunxing\n".encode("gbk")
    sheet = put(client, "/v1/members", roster, keys.a, "application/vnd.ms-excel", sheet="名单")
    assert sheet.status_code == 422 and "?sheet= is for Excel workbooks" in sheet.text and "--sheet" not in sheet.text
    garbled = put(client, "/v1/members", "党员编号,姓名\n".encode("gbk") + bytes(range(128, 256)), keys.a, CSV)
    assert garbled.status_code == 422 and "charset in the Content-Type" in garbled.text, garbled.text
    assert "--encoding" not in garbled.text


def test_a_query_parameter_given_twice_is_refused_not_read_as_the_last(world):
    client, keys = world
    roster = "党员编号,姓名,身份,所在支部\ny-4,陈晨,正式党员,hxny.fdgs.zb-yunxing\n".encode("gbk")
    response = client.put("/v1/members?sheet=名单&sheet=%E5%90%8D%E5%8D%95&strict=true", content=roster,
                          headers={**bearer(keys.a), "Content-Type": CSV})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["message"] == "query parameter 'sheet': given more than once; give it once"
    assert error["details"] == [{"index": None, "id": None, "field": "sheet", "where": "query",
                                 "message": "given more than once; give it once"}]
    assert client.get("/v1/members/y-4", headers=bearer(keys.a)).status_code == 404
    once = client.get("/v1/members?limit=1&offset=0", headers=bearer(keys.a))
    assert once.status_code == 200 and len(once.json()["members"]) == 1


def test_an_export_enrolling_past_an_activitys_seats_is_warned_and_strict_refuses_it(world):
    client, keys = world
    item = ("id,title,kind,minutes,topics,published,starts,ends,location,capacity\n"
            "c-3,主题党日：重温入党誓词,线下活动,90,党史,2026/11/20,2026/12/10 9:00,2026/12/10 10:30,太原·党员活动室,1人\n")
    assert put(client, "/v1/items", item.encode(), keys.platform, CSV).status_code == 200
    roster = "id,name,org\ns-m1,吴刚,hxny.fdgs.zb-yunxing\ns-m2,郑洁,hxny.fdgs.zb-yunxing\n".encode()
    assert put(client, "/v1/members", roster, keys.a, CSV).status_code == 200
    signups = "id,member,item,kind,at\ns-1,s-m1,c-3,报名,2026/12/1 8:00\ns-2,s-m2,c-3,报名,2026/12/1 9:00\n".encode()
    response = put(client, "/v1/events", signups, keys.a, CSV, strict="true")
    assert response.status_code == 422 and response.json()["error"]["details"][0]["line"] == 3
    response = put(client, "/v1/events", signups, keys.a, CSV)
    assert response.status_code == 200, response.text
    assert response.json()["recorded"] == 2  # the refused body wrote nothing
    (warning,) = response.json()["warnings"]
    assert (warning["index"], warning["line"], warning["field"]) == (1, 3, "item")  # the enrolment past the seat
    assert "限 1 人，本次导入后报名 2 人，超出 1 人" in warning["message"]
