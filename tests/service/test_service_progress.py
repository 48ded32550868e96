"""The learning-records endpoints: member and organisation progress, alerts, quiz items over HTTP,
and tenant isolation for each."""

from __future__ import annotations

import pytest

from service_support import app_client, bearer, make_keys, seed

DAY = "2026-03-31"


@pytest.fixture
def world(tmp_path):
    keys = make_keys(tmp_path / "store" / "keys.json")
    # Quizzes steer these members' lists and missed ones come back for review (off by default).
    (tmp_path / "store" / "curriculum.json").write_text('{"mastery_feedback": true}', encoding="utf-8")
    with app_client(tmp_path / "store") as client:
        seed(client, keys)
        events = [
            {"id": "e1", "member": "m-a", "item": "safety", "kind": "complete", "at": "2026-03-02T20:00:00"},
            {"id": "e2", "member": "m-a", "item": "history", "kind": "complete", "at": "2026-03-03T20:00:00"},
            {"id": "e3", "member": "m-a2", "item": "integrity", "kind": "complete", "at": "2026-03-03T20:00:00"},
        ]
        assert client.post("/v1/events", json=events, headers=bearer(keys.a)).status_code == 200
        yield client, keys


def test_member_progress_reports_hours_and_points(world):
    client, keys = world
    r = client.get(f"/v1/members/m-a/progress?day={DAY}", headers=bearer(keys.a))
    assert r.status_code == 200, r.text
    body = r.json()
    hours = body["hours"]
    assert hours["hours"] == pytest.approx(20 / 60, abs=0.01) and hours["target"] == 32
    assert hours["status"] == "behind" and [e["event"] for e in hours["entries"]] == ["e1", "e2"]
    assert body["points"]["total"] == 2 and body["points"]["entries"][0]["events"] == ["e1"]
    assert body["mastery"] == [] and body["reviews"] == []


def test_org_progress_by_branch_with_leaderboard(world):
    client, keys = world
    r = client.get(f"/v1/orgs/hxny/progress?day={DAY}", headers=bearer(keys.a))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["members"] == 3
    branches = {b["org"]: b for b in body["branches"]}
    assert set(branches) == {"hxny.fdgs.zb-yunxing", "hxny.jt"}
    board = branches["hxny.fdgs.zb-yunxing"]["leaderboard"]
    assert [row["member"] for row in board] == ["m-a", "m-a2"] and board[0]["points"] == 2


def test_alerts_fire_within_the_tenant_only(world):
    client, keys = world
    r = client.get(f"/v1/alerts?day={DAY}", headers=bearer(keys.a))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["org"] == "hxny"
    members = {a["member"] for a in body["alerts"] if a["member"]}
    assert members <= {"m-a", "m-a2", "m-a3"} and "m-a3" in members  # m-a3 never studied
    assert {a["org"] for a in body["alerts"] if a["kind"] == "no_themed_day"} == {"hxny.fdgs.zb-yunxing", "hxny.jt"}
    assert body["counts"]["no_themed_day"] == 2
    b = client.get(f"/v1/alerts?day={DAY}", headers=bearer(keys.b)).json()
    assert {a["member"] for a in b["alerts"] if a["member"]} == {"m-b"}


@pytest.mark.parametrize("path", [
    "/v1/members/m-b/progress", "/v1/members/nobody/progress", "/v1/orgs/zjjt/progress",
    "/v1/orgs/nowhere/progress", "/v1/alerts?org=zjjt",
])
def test_other_tenants_records_answer_like_missing_ones(world, path):
    client, keys = world
    r = client.get(path, headers=bearer(keys.a))
    assert r.status_code == 404, r.text
    assert r.json()["error"]["code"] == "not_found"


def test_a_branch_key_sees_its_branch_not_the_group(world):
    client, keys = world
    assert client.get("/v1/orgs/hxny/progress", headers=bearer(keys.branch)).status_code == 404
    assert client.get("/v1/members/m-a3/progress", headers=bearer(keys.branch)).status_code == 404
    assert client.get("/v1/orgs/hxny.fdgs/progress", headers=bearer(keys.branch)).status_code == 200
    assert client.get("/v1/members/m-a/progress").status_code == 401


def test_quiz_items_carry_questions_and_reviews_are_labelled(world):
    client, keys = world
    quiz = {"id": "a-quiz", "title": "党史小测", "kind": "quiz", "minutes": 5, "published": "2026-01-01",
            "topics": ["党史"], "org": "hxny",
            "questions": [{"id": "1", "type": "single", "question": "中共一大在（）开幕。",
                           "options": [{"key": "A", "text": "上海"}, {"key": "B", "text": "北京"}], "answer": "A"}]}
    assert client.put("/v1/items", json=[quiz], headers=bearer(keys.a)).status_code == 200
    got = client.get("/v1/items/a-quiz", headers=bearer(keys.a)).json()
    assert got["questions"][0]["answer"] == "A"
    bad = {**quiz, "id": "a-bad", "kind": "article"}
    r = client.put("/v1/items", json=[bad], headers=bearer(keys.a))
    assert r.status_code == 422 and "questions" in r.text
    event = {"id": "qz", "member": "m-a", "item": "a-quiz", "kind": "quiz", "value": 0.0, "at": "2026-03-01T20:00:00"}
    assert client.post("/v1/events", json=[event], headers=bearer(keys.a)).status_code == 200
    lst = client.get("/v1/members/m-a/daily?day=2026-03-02&minutes=60", headers=bearer(keys.a)).json()
    entry = next(e for e in lst["entries"] if e["item"]["id"] == "a-quiz")
    assert entry["review"] is True and entry["reasons"][0].startswith("复习：")
    progress = client.get("/v1/members/m-a/progress?day=2026-03-02", headers=bearer(keys.a)).json()
    assert progress["reviews"][0]["item"] == "a-quiz" and progress["mastery"][0]["topic"] == "党史"


def test_openapi_documents_the_new_endpoints(world):
    client, _ = world
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/v1/members/{member_id}/progress", "/v1/orgs/{org}/progress", "/v1/alerts"):
        ok = paths[path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert ok["$ref"].split("/")[-1] in {"MemberProgressOut", "OrgProgressOut", "AlertsOut"}


def test_content_feedback_lists_visible_items_for_the_tenant(world):
    client, keys = world
    extra = [{"id": f"m-x{n}", "name": f"党员{n}", "org": "hxny.jt"} for n in range(3)]
    assert client.put("/v1/members", json=extra, headers=bearer(keys.a)).status_code == 200
    members = ["m-a", "m-a2", "m-a3", "m-x0", "m-x1"]
    events = [{"member": m, "item": "history", "kind": "impression", "at": "2026-03-05T08:00:00"} for m in members]
    events += [{"member": m, "item": "history", "kind": "skip", "at": "2026-03-05T20:00:00"} for m in members[:2]]
    assert client.post("/v1/events", json=events, headers=bearer(keys.a)).status_code == 200
    body = client.get("/v1/content-feedback", headers=bearer(keys.a)).json()
    # Five members were shown it and two skipped (40 %): flagged for the role they all hold.
    member_flags = [f for f in body["flags"] if f["role"] == "member"]
    assert [(f["item"], f["shown"], f["skipped"], f["problems"]) for f in member_flags] == [
        ("history", 5, 2, ["high_skip"])]
    assert client.get("/v1/content-feedback", headers=bearer(keys.b)).json() == {"org": "zjjt", "flags": []}
    assert client.get("/v1/content-feedback?org=zjjt", headers=bearer(keys.a)).status_code == 404
