"""Reads a portal needs on day one: a preview list (nothing stored), a branch digest, /docs offline."""

from __future__ import annotations

import re

import pytest

from service_support import bearer, seeded_client


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with seeded_client(tmp_path_factory.mktemp("preview") / "store") as world:
        yield world


def test_a_preview_list_records_no_impression(world):
    client, keys = world
    engine = client.app.state.engine
    shown = lambda: [e for e in engine.events("m-a3") if e.kind == "impression"]  # noqa: E731
    url = "/v1/members/m-a3/daily?day=2026-12-02"
    preview = client.get(url + "&preview=true", headers=bearer(keys.a)).json()
    assert preview["entries"] and shown() == []
    served = client.get(url, headers=bearer(keys.a)).json()
    assert served["entries"] == preview["entries"]  # the same list, and now it counts as shown
    assert sorted(e.item for e in shown()) == sorted(entry["item"]["id"] for entry in served["entries"])


def test_the_docs_page_needs_no_internet(world):
    client, _ = world
    page = client.get("/docs")
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert page.status_code == 200 and len(assets) == 3  # the style sheet, the icon, the script
    for url in assets:
        assert url.startswith("/") and client.get(url).status_code == 200, url


def test_a_branch_digest_over_http_names_no_one(world):
    client, keys = world
    client.get("/v1/members/m-a/daily?day=2026-12-03", headers=bearer(keys.a))
    url = "/v1/orgs/hxny.fdgs.zb-yunxing/digest?day=2026-12-03"
    found = client.get(url, headers=bearer(keys.a)).json()
    assert (found["members"], found["with_list"]) == (2, 1) and found["items"]
    assert {i["members"] for i in found["items"]} == {1}
    text = client.get(url + "&format=markdown&max_bytes=300", headers=bearer(keys.a))
    assert text.headers["content-type"].startswith("text/plain") and len(text.content) <= 300
    assert text.text.startswith("**hxny.fdgs.zb-yunxing · 12月3日学习提示**") and "张伟" not in text.text
    assert client.get("/v1/orgs/zjjt/digest", headers=bearer(keys.a)).status_code == 404


def test_opening_balances_over_http_count_in_the_member_progress(world):
    client, keys = world
    body = [{"member": "m-a3", "year": 2026, "hours": 12.5, "note": "台账"}]
    assert client.post("/v1/credits", json=body, headers=bearer(keys.a)).json() == {"written": 1}
    hours = client.get("/v1/members/m-a3/progress?day=2026-12-01", headers=bearer(keys.a)).json()["hours"]
    assert hours["hours"] == 12.5 and hours["entries"][0]["kind"] == "opening_balance"
    refused = client.post("/v1/credits", json=[{"member": "m-b", "year": 2026, "hours": 3}], headers=bearer(keys.a))
    assert refused.status_code == 422 and "unknown member 'm-b'" in refused.json()["error"]["message"]
    # A topic by another name of its family counts toward it, as a file's does; one no curriculum
    # knows is written with a warning (its hours count toward the total only).
    body = [{"member": "m-a3", "year": 2026, "hours": 6, "topic": "新思想"},
            {"member": "m-a3", "year": 2026, "hours": 2, "topic": "不存在的主题"}]
    written = client.post("/v1/credits", json=body, headers=bearer(keys.a)).json()
    assert written["written"] == 2 and [(w["index"], w["field"]) for w in written["warnings"]] == [(1, "topic")]
    by_topic = client.get("/v1/members/m-a3/progress?day=2026-12-01", headers=bearer(keys.a)).json()["hours"]["by_topic"]
    assert by_topic["党的创新理论"] == 6
