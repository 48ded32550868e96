"""Faults on the server's side are 5xx that name no path, and readiness follows them: a store
that cannot be read now is not ready, and is ready again once repaired, with no restart."""

from __future__ import annotations

import sqlite3

import pytest

from recsys.reports import coverage_html
from service_support import bearer, seeded_client

DAY = "2026-06-15"


@pytest.fixture
def world(tmp_path):
    store = tmp_path / "store"
    with seeded_client(store) as (client, keys):
        yield client, keys, store


def damage_a_write(store, item_id: str, data: str) -> None:
    """What another process's write of a damaged row looks like: the row, with a new revision."""
    with sqlite3.connect(store / "recsys.sqlite") as db:
        db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'rev'")
        db.execute("UPDATE items SET data = ?, rev = (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'rev') "
                   "WHERE id = ?", (data, item_id))


def assert_server_fault(response, code: str, store) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == code
    assert str(store) not in response.text and "/usr/" not in response.text and "Traceback" not in response.text


def test_readiness_follows_what_the_store_can_serve_now(world):
    client, keys, store = world
    assert client.get("/health/ready").json() == {"status": "ready", "detail": None}
    with sqlite3.connect(store / "recsys.sqlite") as db:
        good = db.execute("SELECT data FROM items WHERE id = 'safety'").fetchone()[0]
    damage_a_write(store, "safety", '{"id": "safety"}')
    ready = client.get("/health/ready")
    assert ready.status_code == 503
    assert ready.json()["status"] == "failed" and "the store cannot be read now" in ready.json()["detail"]
    assert str(store) not in ready.text
    # Every call that needs the catalogue is a 503 naming no path, never a wrong answer.
    for url in ("/v1/items/safety", f"/v1/members/m-a/daily?day={DAY}", "/v1/search?q=安全"):
        assert_server_fault(client.get(url, headers=bearer(keys.a)), "store_unavailable", store)
    assert client.get("/health/live").status_code == 200
    damage_a_write(store, "safety", good)  # written again
    assert client.get("/health/ready").json() == {"status": "ready", "detail": None}
    assert client.get("/v1/items/safety", headers=bearer(keys.a)).status_code == 200


def test_the_coverage_page_without_a_cjk_font_is_served(world, monkeypatch):
    # Once a 422 naming font paths: the page's charts are drawn by the browser, so a server
    # without the font serves it all the same (the evaluation's plots get a SetupError instead).
    client, keys, store = world
    monkeypatch.setattr(coverage_html, "CJK_FONTS", ("/usr/share/fonts/none/missing.ttc",))
    response = client.get(f"/coverage?day={DAY}", headers=bearer(keys.admin))
    assert response.status_code == 200 and "<svg" in response.text
    assert client.get("/health/ready").status_code == 200


def test_a_missing_default_font_is_the_installations_fault(monkeypatch):
    from recsys.exceptions import SetupError, ValidationError

    monkeypatch.setattr(coverage_html, "CJK_FONTS", ("/usr/share/fonts/none/missing.ttc",))
    with pytest.raises(SetupError, match="install fonts-wqy-microhei"):
        coverage_html.cjk_font()
    with pytest.raises(ValidationError, match="no font file at"):  # a path the caller gave: the caller's
        coverage_html.cjk_font("/nowhere/font.ttc")
