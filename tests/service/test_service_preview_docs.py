"""A preview list over HTTP (nothing stored or recorded), and /docs served without internet."""

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
