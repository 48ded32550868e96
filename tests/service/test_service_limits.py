"""Bounded work per request: a large item costs what the encoder reads of it, a burst beyond what
the server works on at once is told to retry (503 + Retry-After) instead of queueing without end,
and a body that trickles in or a connection left idle is closed.
"""

from __future__ import annotations

import concurrent.futures
import json
import random
import socket
import time

import httpx
import pytest

from recsys import Engine
from service_support import A_ITEMS, A_MEMBERS, SHARED_ITEMS, LiveServer, app_client, bearer, make_keys

DAY = "2026-12-01"
MIB = 1 << 20


def big_item(n_bytes: int) -> dict:
    """An item whose body is ``n_bytes`` of UTF-8 Chinese text, its title findable."""
    rng = random.Random(0)
    words = ["党员教育", "安全生产", "廉洁从业", "国企改革", "数字化转型", "理论学习", "，", "。"]
    parts, size = [], 0
    while size < n_bytes:
        word = rng.choice(words)
        parts.append(word)
        size += len(word.encode())
    return {"id": "big-1", "title": "有限空间作业先通风再检测后作业", "body": "".join(parts), "kind": "article",
            "minutes": 30, "topics": ["安全生产"], "published": "2026-01-01", "org": "hxny"}


def test_a_1_mib_item_is_ingested_over_http_in_under_two_seconds(tmp_path):
    store = tmp_path / "store"
    keys = make_keys(store / "keys.json")
    item = big_item(MIB)
    assert len(item["body"].encode()) >= MIB
    with app_client(store, max_body_bytes=2 * MIB) as client:
        # The first write loads the segmenter's dictionary once per process: not what is measured.
        assert client.put("/v1/items", json=A_ITEMS, headers=bearer(keys.admin)).status_code == 200
        started = time.perf_counter()
        response = client.put("/v1/items", json=[item], headers=bearer(keys.admin))
        seconds = time.perf_counter() - started
        assert response.status_code == 200, response.text
        assert seconds < 2.0, f"a 1 MiB item took {seconds:.2f} s"
        hits = client.get("/v1/search", params={"q": item["body"][:200], "k": 1}, headers=bearer(keys.a)).json()
        assert hits["hits"][0]["item"]["id"] == "big-1"
        assert len(client.get("/v1/items/big-1", headers=bearer(keys.a)).json()["body"]) == len(item["body"])
    with app_client(store) as client:  # the default limit: the same request is refused, naming it
        response = client.put("/v1/items", json=[item], headers=bearer(keys.admin))
        assert response.status_code == 413 and "1 MiB" in response.json()["error"]["message"]


def test_the_encoder_reads_a_bounded_prefix_of_a_text(tmp_path):
    from recsys.embedding.encoders import MAX_TEXT_CHARS, HashingTfidfEncoder

    encoder = HashingTfidfEncoder()
    head = big_item(4 * MAX_TEXT_CHARS)["body"][:MAX_TEXT_CHARS]
    tail = "遵义会议的历史意义，红色教育基地参观学习。" * 50_000  # other words than the head's
    same = encoder.encode([head, head + tail])
    assert float(same[0] @ same[1]) == pytest.approx(1.0)
    # Within the prefix every character counts: the cut is where it says.
    shorter = encoder.encode([head[: MAX_TEXT_CHARS // 2], head[: MAX_TEXT_CHARS // 2] + tail])
    assert float(shorter[0] @ shorter[1]) < 0.99
    with Engine.open(tmp_path / "s", encoder="tfidf") as engine:  # and so does every engine write
        item = {**big_item(16), "id": "x", "body": head + tail}
        engine.add_items([item])
        read = encoder.encode([f"{item['title']}\n{head}"])[0]  # the item's text is its title, then body
        assert float(engine.index().vector("x") @ read) == pytest.approx(1.0, abs=1e-6)


@pytest.fixture(scope="module")
def busy_server(tmp_path_factory):
    """A real ``recsys serve`` working on one request at a time, waiting 50 ms for a place, and
    giving a body one second to arrive: ``(server, keys)``."""
    store = tmp_path_factory.mktemp("limits") / "store"
    with Engine.open(store, encoder="tfidf") as engine:
        engine.add_items(SHARED_ITEMS + A_ITEMS)
        engine.upsert_members(A_MEMBERS)
    keys = make_keys(store / "keys.json")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("RECSYS_MAX_CONCURRENT", "1")
        env.setenv("RECSYS_QUEUE_SECONDS", "0.05")
        env.setenv("RECSYS_BODY_SECONDS", "1")
        server = LiveServer(store, log=store.parent / "server.log")
        server.start()
    try:
        yield server, keys
    finally:
        server.stop()


def test_a_burst_beyond_the_limit_is_told_to_retry_and_never_hangs(busy_server):
    server, keys = busy_server
    urls = [f"/v1/members/m-a/path?start={DAY}&days=7", f"/v1/members/m-a2/daily?day={DAY}&preview=true",
            "/v1/search?q=安全生产&k=5"]

    def call(n: int) -> tuple[int, float, httpx.Response]:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            started = time.perf_counter()
            response = client.get(urls[n % len(urls)], headers=bearer(keys.a))
            return response.status_code, time.perf_counter() - started, response

    with concurrent.futures.ThreadPoolExecutor(48) as pool:
        live = pool.submit(lambda: httpx.get(f"{server.url}/health/live", timeout=30).status_code)
        results = list(pool.map(call, range(96)))
        assert live.result() == 200  # liveness is never held back
    statuses = [status for status, _, _ in results]
    assert set(statuses) <= {200, 503} and statuses.count(200) >= 1 and statuses.count(503) >= 1, statuses
    for status, _, response in results:
        if status == 503:
            error = response.json()["error"]
            assert error["code"] == "busy" and "retry after 1 s" in error["message"]
            assert response.headers["Retry-After"] == "1"
    assert max(seconds for _, seconds, _ in results) < 10  # every request answered, none hung
    # Once the burst is over the server answers as before.
    with httpx.Client(base_url=server.url, timeout=30) as client:
        assert client.get(urls[0], headers=bearer(keys.a)).status_code == 200


def _raw(server: LiveServer) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=15)


def _read_all(conn: socket.socket) -> bytes:
    data = b""
    while chunk := conn.recv(65536):
        data += chunk
    return data


def test_a_body_that_trickles_in_is_refused_with_408(busy_server):
    server, keys = busy_server
    body = json.dumps([{**A_ITEMS[0], "id": "slow-1"}]).encode()
    with _raw(server) as conn:
        conn.sendall(
            b"PUT /v1/items HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {keys.admin}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body[:10]
        )
        started = time.perf_counter()
        answer = _read_all(conn)  # the server answers and closes, the body still unsent
        assert time.perf_counter() - started < 10
    head, _, rest = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), answer[:200]
    assert json.loads(rest)["error"]["code"] == "request_timeout"
    with httpx.Client(base_url=server.url, timeout=30) as client:
        assert client.get("/v1/items/slow-1", headers=bearer(keys.admin)).status_code == 404  # nothing written


def test_an_idle_keep_alive_connection_is_closed(busy_server):
    server, keys = busy_server
    with _raw(server) as conn:
        conn.sendall(b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n")
        started = time.perf_counter()
        answer = _read_all(conn)  # the answer, then the end: closed by the server, not by this client
        assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b'"live","detail":null}')
        assert 3 < time.perf_counter() - started < 12
