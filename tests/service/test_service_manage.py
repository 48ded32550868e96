"""Managing records over HTTP: item links, partial updates, a member transferred out, a member's
events for an audit, organisation display names."""

from __future__ import annotations

import pytest

from service_support import bearer, seeded_client

LINK = "https://dangjian.example.com/course/a-item"


@pytest.fixture
def world(tmp_path):
    with seeded_client(tmp_path / "store") as world:
        yield world


def test_an_item_link_is_stored_returned_and_shown_in_messages(world):
    client, keys = world
    item = {"id": "a-link", "title": "运行支部“两票三制”微课", "kind": "video", "minutes": 8, "topics": ["安全生产"],
            "published": "2026-02-01", "org": "hxny", "url": LINK}
    assert client.put("/v1/items", json=[item], headers=bearer(keys.a)).status_code == 200
    assert client.get("/v1/items/a-link", headers=bearer(keys.a)).json()["url"] == LINK
    assert client.get("/v1/items/a-item", headers=bearer(keys.a)).json()["url"] is None
    listed = client.get(f"/v1/members/m-a/daily?day=2026-12-02&minutes=120", headers=bearer(keys.a)).json()
    linked = [e["item"] for e in listed["entries"] if e["item"]["id"] == "a-link"]
    assert linked and linked[0]["url"] == LINK
    markdown = client.get("/v1/members/m-a/daily?day=2026-12-02&minutes=120&format=markdown",
                          headers=bearer(keys.a)).text
    assert f"[运行支部“两票三制”微课]({LINK})" in markdown and markdown.startswith("**张伟 2026-12-02")
    text = client.get("/v1/members/m-a/daily?day=2026-12-02&minutes=120&format=text&max_bytes=300",
                      headers=bearer(keys.a))
    assert len(text.content) <= 300 and text.text.startswith("张伟 2026-12-02")


def test_the_members_page_carries_the_link_its_start_button_opens(world):
    client, keys = world
    item = {"id": "a-link", "title": "运行支部“两票三制”微课", "kind": "video", "minutes": 8, "topics": ["安全生产"],
            "published": "2026-02-01", "org": "hxny", "url": LINK}
    client.put("/v1/items", json=[item], headers=bearer(keys.a))
    client.patch("/v1/members/m-a", json={"daily_minutes": 240}, headers=bearer(keys.a))  # room for every item
    token = client.post("/v1/members/m-a/token", headers=bearer(keys.a)).json()["token"]
    page = client.get("/v1/members/m-a/page", headers=bearer(token)).json()
    shown = {e["item"]["id"]: e["item"]["url"] for e in page["entries"]}
    assert shown["a-link"] == LINK and shown["a-item"] is None


@pytest.mark.parametrize("url", ["javascript:alert(1)", "https://exa mple.com", "https://" + "a" * 2050])
def test_a_bad_item_link_is_refused_with_the_field_named_and_nothing_written(world, url):
    client, keys = world
    item = {"id": "a-bad", "title": "标题", "kind": "article", "minutes": 8, "published": "2026-02-01",
            "org": "hxny", "url": url}
    response = client.put("/v1/items", json=[item], headers=bearer(keys.a))
    assert response.status_code == 422 and "url" in response.text
    assert client.get("/v1/items/a-bad", headers=bearer(keys.a)).status_code == 404


# -- partial updates -------------------------------------------------------------------------------


def test_patch_a_member_changes_only_the_fields_given(world):
    client, keys = world
    response = client.patch("/v1/members/m-a", json={"daily_minutes": 15, "location": None}, headers=bearer(keys.a))
    assert response.status_code == 200, response.text
    got = client.get("/v1/members/m-a", headers=bearer(keys.a)).json()
    assert response.json() == got
    assert (got["daily_minutes"], got["location"]) == (15, None)
    assert (got["interests"], got["roles"], got["joined"]) == (["安全生产"], ["member", "frontline"], "2010-07-01")
    # becoming a mobile member sets offline from it, as a new member's would be
    mobile = client.patch("/v1/members/m-a", json={"situation": "mobile"}, headers=bearer(keys.a)).json()
    assert (mobile["situation"], mobile["offline"]) == ("mobile", False)


@pytest.mark.parametrize("body, field", [({"daily_minutes": 0}, "daily_minutes"), ({"name": None}, "name"),
                                         ({"id": "m-other"}, "id"), ({"offline": True, "situation": "infirm"}, "offline"),
                                         ({"nickname": "小张"}, "nickname")])
def test_a_bad_member_patch_names_the_field_and_changes_nothing(world, body, field):
    client, keys = world
    before = client.get("/v1/members/m-a", headers=bearer(keys.a)).json()
    response = client.patch("/v1/members/m-a", json=body, headers=bearer(keys.a))
    assert response.status_code == 422 and field in response.text, response.text
    assert client.get("/v1/members/m-a", headers=bearer(keys.a)).json() == before


def test_member_patches_are_tenancy_checked(world):
    client, keys = world
    assert client.patch("/v1/members/m-b", json={"daily_minutes": 5}, headers=bearer(keys.a)).status_code == 404
    assert client.patch("/v1/members/m-404", json={"daily_minutes": 5}, headers=bearer(keys.a)).status_code == 404
    moved = client.patch("/v1/members/m-a", json={"org": "zjjt.zb1"}, headers=bearer(keys.a))
    assert moved.status_code == 403 and "outside this key's organisation" in moved.text
    assert client.get("/v1/members/m-a", headers=bearer(keys.a)).json()["org"] == "hxny.fdgs.zb-yunxing"


def test_patch_an_item_keeps_the_rest_and_follows_the_write_rules(world):
    client, keys = world
    patched = client.patch("/v1/items/a-item", json={"url": LINK, "minutes": 12}, headers=bearer(keys.a))
    assert patched.status_code == 200, patched.text
    got = client.get("/v1/items/a-item", headers=bearer(keys.a)).json()
    assert (got["url"], got["minutes"], got["topics"], got["title"]) == (LINK, 12, ["数字化转型"], "华能新能源数字化转型实践")
    cleared = client.patch("/v1/items/a-item", json={"url": None}, headers=bearer(keys.a)).json()
    assert cleared["url"] is None and cleared["minutes"] == 12
    # a shared item: only a platform key writes it; another tenant's item is not found
    assert client.patch("/v1/items/safety", json={"minutes": 5}, headers=bearer(keys.a)).status_code == 403
    assert client.patch("/v1/items/safety", json={"minutes": 5}, headers=bearer(keys.admin)).status_code == 403
    assert client.patch("/v1/items/safety", json={"minutes": 5}, headers=bearer(keys.platform)).json()["minutes"] == 5
    assert client.patch("/v1/items/b-item", json={"minutes": 5}, headers=bearer(keys.a)).status_code == 404
    bad = client.patch("/v1/items/a-item", json={"mode": "offline"}, headers=bearer(keys.a))
    assert bad.status_code == 422 and "schedule" in bad.text
    assert client.get("/v1/items/a-item", headers=bearer(keys.a)).json()["mode"] == "online"


def test_a_patched_title_is_searchable(world):
    client, keys = world
    client.patch("/v1/items/a-item", json={"title": "班组安全隐患排查闭环管理", "body": "隐患排查、整改销号、复查闭环"},
                 headers=bearer(keys.a))
    hits = client.get("/v1/search", params={"q": "隐患排查整改销号", "k": 1}, headers=bearer(keys.a)).json()["hits"]
    assert hits[0]["item"]["id"] == "a-item"


# -- removal and audit ----------------------------------------------------------------------------


def record(client, keys, *events):
    body = [{"id": f"ev-{n}", "member": m, "item": "safety", "kind": k, "at": at} for n, (m, k, at) in enumerate(events)]
    assert client.post("/v1/events", json=body, headers=bearer(keys.a)).status_code == 200


def test_delete_a_member_removes_their_events_and_lists(world):
    client, keys = world
    record(client, keys, ("m-a", "complete", "2026-11-20T20:00:00"), ("m-a2", "complete", "2026-11-20T21:00:00"))
    client.get("/v1/members/m-a/daily?day=2026-12-01", headers=bearer(keys.a))
    assert client.delete("/v1/members/m-a", headers=bearer(keys.b)).status_code == 404  # another tenant's
    removed = client.delete("/v1/members/m-a", headers=bearer(keys.a))
    assert removed.status_code == 200 and removed.json()["served"] == 1 and removed.json()["pseudonym"] is None
    assert client.get("/v1/members/m-a", headers=bearer(keys.a)).status_code == 404
    assert client.get("/v1/members/m-a/events", headers=bearer(keys.a)).status_code == 404
    assert client.delete("/v1/members/m-a", headers=bearer(keys.a)).status_code == 404
    engine = client.app.state.engine
    assert {e.member for e in engine.events()} == {"m-a2"}


def test_delete_with_keep_history_keeps_anonymised_events(world):
    client, keys = world
    record(client, keys, ("m-a", "complete", "2026-11-20T20:00:00"))
    removed = client.delete("/v1/members/m-a?keep_history=true", headers=bearer(keys.a)).json()
    assert removed["events"] == 1 and removed["pseudonym"].startswith("anon:")
    engine = client.app.state.engine
    assert [(e.member, e.item, e.id) for e in engine.events()] == [(removed["pseudonym"], "safety", None)]


def test_a_members_events_page_by_offset_and_by_cursor_in_time_order(world):
    client, keys = world
    times = ["2026-11-20T08:00:00", "2026-11-19T08:00:00", "2026-11-21T08:00:00", "2026-11-21T08:00:00",
             "2026-11-22T08:00:00"]
    record(client, keys, *[("m-a", "start", at) for at in times], ("m-a2", "start", "2026-11-20T09:00:00"))
    url = "/v1/members/m-a/events"
    first = client.get(url + "?limit=2", headers=bearer(keys.a)).json()
    assert first["total"] == 5 and [e["id"] for e in first["events"]] == ["ev-1", "ev-0"]
    second = client.get(url, params={"limit": 2, "cursor": first["next_cursor"]}, headers=bearer(keys.a)).json()
    assert [e["id"] for e in second["events"]] == ["ev-2", "ev-3"] and second["offset"] == 2
    # an event recorded while paging, later than the page, is not skipped; nothing repeats
    record(client, keys, *[("m-a", "start", at) for at in times], ("m-a2", "start", "2026-11-20T09:00:00"),
           ("m-a", "complete", "2026-11-23T08:00:00"))
    third = client.get(url, params={"limit": 10, "cursor": second["next_cursor"]}, headers=bearer(keys.a)).json()
    assert [e["id"] for e in third["events"]] == ["ev-4", "ev-6"] and third["next_cursor"] is None
    by_offset = client.get(url + "?offset=4&limit=1", headers=bearer(keys.a)).json()
    assert [e["id"] for e in by_offset["events"]] == ["ev-4"]
    bad = client.get(url, params={"cursor": "not-a-cursor"}, headers=bearer(keys.a))
    assert bad.status_code == 422 and "cursor" in bad.text
    both = client.get(url, params={"cursor": first["next_cursor"], "offset": 1}, headers=bearer(keys.a))
    assert both.status_code == 422
    assert client.get("/v1/members/m-b/events", headers=bearer(keys.a)).status_code == 404
    # the member's own token reads their own events, and no one else's
    token = client.post("/v1/members/m-a/token", headers=bearer(keys.a)).json()["token"]
    assert client.get(url + "?limit=1", headers=bearer(token)).json()["total"] == 6
    assert client.get("/v1/members/m-a2/events", headers=bearer(token)).status_code in (403, 404)


# -- organisation names ---------------------------------------------------------------------------


def test_org_names_over_http_show_in_the_digest_and_alerts(world):
    client, keys = world
    names = [{"org": "hxny", "name": "华能新能源党委"}, {"org": "hxny.fdgs.zb-yunxing", "name": "运行党支部"}]
    assert client.put("/v1/orgs", json=names, headers=bearer(keys.a)).json() == {"written": 2}
    assert client.get("/v1/orgs", headers=bearer(keys.a)).json() == {
        "names": {"hxny": "华能新能源党委", "hxny.fdgs.zb-yunxing": "运行党支部"}}
    assert client.get("/v1/orgs", headers=bearer(keys.b)).json() == {"names": {}}  # another tenant's are not shown
    url = "/v1/orgs/hxny.fdgs.zb-yunxing/digest?day=2026-12-03"
    assert client.get(url, headers=bearer(keys.a)).json()["org_name"] == "运行党支部"
    text = client.get(url + "&format=markdown", headers=bearer(keys.a)).text
    assert text.startswith("**运行党支部 · 12月3日学习提示**")
    alerts = client.get("/v1/alerts?day=2026-12-03&org=hxny", headers=bearer(keys.a)).json()["alerts"]
    assert {a["org"]: a["org_name"] for a in alerts} == {"hxny.fdgs.zb-yunxing": "运行党支部", "hxny.jt": "hxny.jt"}
    progress = client.get("/v1/orgs/hxny/progress?day=2026-12-03", headers=bearer(keys.a)).json()
    assert progress["org_name"] == "华能新能源党委"
    assert {b["org"]: b["org_name"] for b in progress["branches"]} == {"hxny.fdgs.zb-yunxing": "运行党支部",
                                                                     "hxny.jt": "hxny.jt"}


def test_org_names_outside_the_key_or_malformed_are_refused_and_nothing_written(world):
    client, keys = world
    outside = client.put("/v1/orgs", json=[{"org": "hxny.jt", "name": "集团党委"}, {"org": "zjjt", "name": "浙江"}],
                         headers=bearer(keys.a))
    assert outside.status_code == 422 and "'zjjt' is outside this key's organisation" in outside.text
    platform = client.put("/v1/orgs", json=[{"org": "hxny", "name": "华能新能源党委"}], headers=bearer(keys.platform))
    assert platform.status_code == 403  # a platform key writes shared items only
    for bad in ([{"org": "hxny", "name": " "}], [{"org": "hxny", "name": "长" * 101}], [{"org": "hxny"}],
                [{"org": "hxny", "name": "一"}, {"org": "hxny", "name": "二"}]):
        assert client.put("/v1/orgs", json=bad, headers=bearer(keys.a)).status_code == 422, bad
    assert client.get("/v1/orgs", headers=bearer(keys.a)).json() == {"names": {}}


def test_org_names_from_a_gbk_csv_body(world):
    client, keys = world
    body = "组织编码,组织名称\nhxny.fdgs.zb-yunxing,运行党支部\n".encode("gbk")
    response = client.put("/v1/orgs", content=body, headers={**bearer(keys.a), "Content-Type": "text/csv"})
    assert response.json() == {"written": 1}
    assert client.get("/v1/orgs", headers=bearer(keys.a)).json()["names"] == {"hxny.fdgs.zb-yunxing": "运行党支部"}
