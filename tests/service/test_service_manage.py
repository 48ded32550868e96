"""Managing records over HTTP: item links."""

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


@pytest.mark.parametrize("url", ["javascript:alert(1)", "https://exa mple.com", "https://" + "a" * 2050])
def test_a_bad_item_link_is_refused_with_the_field_named_and_nothing_written(world, url):
    client, keys = world
    item = {"id": "a-bad", "title": "标题", "kind": "article", "minutes": 8, "published": "2026-02-01",
            "org": "hxny", "url": url}
    response = client.put("/v1/items", json=[item], headers=bearer(keys.a))
    assert response.status_code == 422 and "url" in response.text
    assert client.get("/v1/items/a-bad", headers=bearer(keys.a)).status_code == 404

