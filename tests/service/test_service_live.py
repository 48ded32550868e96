"""The HTTP API as deployed: a real ``recsys serve`` process on a loopback port.

A smoke test of the main endpoints over HTTP; a crash test (kill -9 while a client posts event
batches: every acknowledged event survives, none twice); and two workers on one store taking
concurrent writes without losing or doubling any.
"""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from recsys import Engine
from service_support import A_ITEMS, A_MEMBERS, B_ITEMS, B_MEMBERS, SHARED_ITEMS, LiveServer, bearer, make_keys

DAY = "2026-12-01"
ITEM_IDS = [it["id"] for it in SHARED_ITEMS + A_ITEMS]


@pytest.fixture
def store(tmp_path):
    """A tfidf store holding the two-tenant world, and its keys: ``(path, keys)``."""
    path = tmp_path / "store"
    with Engine.open(path, encoder="tfidf") as engine:
        engine.add_items(SHARED_ITEMS + A_ITEMS + B_ITEMS)
        engine.upsert_members(A_MEMBERS + B_MEMBERS)
    return path, make_keys(path / "keys.json")


def events(prefix: str, count: int, member: str = "m-a") -> list[dict]:
    return [
        {"id": f"{prefix}-{j}", "member": member, "item": ITEM_IDS[j % len(ITEM_IDS)], "kind": "progress",
         "value": 0.5, "at": f"2026-11-{1 + j % 28:02d}T20:{j % 60:02d}:00"}
        for j in range(count)
    ]


def stored_ids(path, prefix: str) -> list[str]:
    with Engine.open(path) as engine:
        return [e.id for e in engine.events() if e.id and e.id.startswith(prefix)]


def test_main_endpoints_over_http(store, tmp_path):
    path, keys = store
    server = LiveServer(path, log=tmp_path / "server.log")
    server.start()
    try:
        with httpx.Client(base_url=server.url, headers=bearer(keys.a), timeout=30) as c:
            assert c.get("/health/live").json()["status"] == "live"
            assert c.get("/health/ready").json()["status"] == "ready"
            assert "/v1/members/{member_id}/daily" in c.get("/openapi.json").json()["paths"]

            item = {**A_ITEMS[0], "id": "a-live", "title": "智慧电厂巡检机器人应用"}
            assert c.put("/v1/items", json=[item]).json() == {"written": 1}
            assert c.get("/v1/items/a-live").json()["title"] == item["title"]
            assert c.get("/v1/items?limit=2").json()["total"] == len(SHARED_ITEMS + A_ITEMS) + 1
            hits = c.get("/v1/search", params={"q": "巡检机器人 智慧电厂", "k": 3}).json()["hits"]
            assert hits[0]["item"]["id"] == "a-live"
            assert c.get("/v1/items/a-live/similar?k=3").json()["hits"][0]["item"]["id"] == "a-item"

            member = {"id": "m-live", "name": "周敏", "org": "hxny.fdgs.zb-yunxing", "daily_minutes": 25}
            assert c.put("/v1/members", json=[member]).json() == {"written": 1}
            assert c.get("/v1/members/m-live").json()["daily_minutes"] == 25
            assert c.get("/v1/members?org=hxny.fdgs").json()["total"] == 3

            batch = events("live", 3, member="m-live")
            assert c.post("/v1/events", json=batch).json() == {"received": 3, "recorded": 3, "duplicates": 0}
            assert c.post("/v1/events", json=batch).json()["recorded"] == 0

            lst = c.get(f"/v1/members/m-live/daily?day={DAY}").json()
            assert lst["entries"] and lst["minutes"] <= 25
            text = c.get(f"/v1/members/m-live/daily?day={DAY}&format=text")
            assert text.headers["content-type"].startswith("text/plain") and text.text.startswith(f"周敏 {DAY}")
            plan = c.get(f"/v1/members/m-live/path?start={DAY}&days=2").json()
            assert len(plan["days"]) == 2

            assert c.delete("/v1/items/a-live").status_code == 204
            assert c.get("/v1/items/a-live").status_code == 404
            assert c.get("/v1/members/m-b").status_code == 404  # another tenant's
            assert c.get("/v1/items", headers={"Authorization": "Bearer nope"}).status_code == 401

            too_big = c.put("/v1/items", content=b"[" + b" " * (1 << 20) + b"]",
                            headers={"Content-Type": "application/json"})
            assert too_big.status_code == 413 and "1048576 bytes (1 MiB)" in too_big.json()["error"]["message"]

            tagged = c.get("/v1/items/a-item", headers={"X-Request-ID": "smoke-1"})
            assert tagged.headers["X-Request-ID"] == "smoke-1"
            metrics = c.get("/metrics").text
            assert 'route="/v1/members/{member_id}/daily",status="200"' in metrics
            assert 'recsys_events_ingested_total{outcome="new"} 3.0' in metrics
    finally:
        server.stop()
    log = (tmp_path / "server.log").read_text()
    assert "Traceback" not in log


def test_acknowledged_events_survive_kill_9(store, tmp_path):
    path, keys = store
    server = LiveServer(path, log=tmp_path / "server.log")
    server.start()
    acked: list[list[dict]] = []
    unanswered: list[list[dict]] = []
    statuses: list[int] = []

    def post_until_the_server_dies() -> None:
        with httpx.Client(base_url=server.url, headers=bearer(keys.a), timeout=10) as client:
            for n in range(5000):
                batch = events(f"crash-{n}", 10)
                try:
                    response = client.post("/v1/events", json=batch)
                except httpx.TransportError:
                    unanswered.append(batch)
                    return
                statuses.append(response.status_code)
                if response.status_code == 200:
                    acked.append(batch)

    client = threading.Thread(target=post_until_the_server_dies)
    client.start()
    deadline = time.monotonic() + 60
    while len(acked) < 40 and time.monotonic() < deadline and client.is_alive():
        time.sleep(0.01)
    server.kill()  # mid-stream: the client has a request in flight or about to be
    client.join(timeout=30)
    assert not client.is_alive() and len(acked) >= 40
    assert set(statuses) == {200}

    # Before anything else touches the store: every acknowledged event is on disk, once.
    on_disk = stored_ids(path, "crash-")
    assert len(on_disk) == len(set(on_disk))
    acked_ids = {e["id"] for batch in acked for e in batch}
    assert acked_ids <= set(on_disk)
    # The batch in flight is all there or not at all.
    in_flight = {e["id"] for batch in unanswered for e in batch}
    assert set(on_disk) - acked_ids in (set(), in_flight)

    # Restarted, the client retries what got no answer; retries count once.
    server.start()
    try:
        with httpx.Client(base_url=server.url, headers=bearer(keys.a), timeout=30) as c:
            for batch in unanswered:
                result = c.post("/v1/events", json=batch).json()
                assert result["recorded"] in (0, len(batch))
            assert c.post("/v1/events", json=acked[-1]).json() == {"received": 10, "recorded": 0, "duplicates": 10}
    finally:
        server.stop()
    final = stored_ids(path, "crash-")
    assert len(final) == len(set(final)) == len(acked_ids | in_flight)


def test_two_workers_lose_and_double_nothing(store, tmp_path):
    path, keys = store
    server = LiveServer(path, workers=2, log=tmp_path / "server.log")
    server.start()
    responses: dict[int, list[httpx.Response]] = {0: [], 1: []}

    def post(who: int) -> None:
        # No keep-alive: every request is a new connection, so both workers take a share.
        limits = httpx.Limits(max_keepalive_connections=0)
        with httpx.Client(base_url=server.url, headers=bearer(keys.a), timeout=60, limits=limits) as client:
            for n in range(25):
                # Each batch has events of its own and events the other client also sends, so the
                # two workers race on the same ids.
                batch = events(f"w{who}-{n}", 8) + events(f"both-{n}", 4)
                responses[who].append(client.post("/v1/events", json=batch))

    try:
        clients = [threading.Thread(target=post, args=(who,)) for who in (0, 1)]
        for t in clients:
            t.start()
        for t in clients:
            t.join(timeout=120)
        every = responses[0] + responses[1]
        assert len(every) == 50 and {r.status_code for r in every} == {200}, [r.text for r in every if r.status_code != 200]
        expected = {f"w{who}-{n}-{j}" for who in (0, 1) for n in range(25) for j in range(8)}
        expected |= {f"both-{n}-{j}" for n in range(25) for j in range(4)}
        assert sum(r.json()["recorded"] for r in every) == len(expected)

        # An item written through one worker is found through either: each catches up its index.
        with httpx.Client(base_url=server.url, headers=bearer(keys.a), timeout=30,
                          limits=httpx.Limits(max_keepalive_connections=0)) as c:
            item = {**A_ITEMS[0], "id": "a-workers", "title": "特高压输电线路带电作业", "body": "等电位作业，绝缘防护。"}
            assert c.put("/v1/items", json=[item]).status_code == 200
            for _ in range(6):
                hits = c.get("/v1/search", params={"q": "特高压 带电作业 等电位", "k": 1}).json()["hits"]
                assert hits[0]["item"]["id"] == "a-workers"
    finally:
        server.stop()
    stored = stored_ids(path, "w") + stored_ids(path, "both-")
    assert len(stored) == len(set(stored))
    assert set(stored) == expected
