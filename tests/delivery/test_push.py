"""Pushing digests to a group-bot webhook: a receiver on loopback checks the JSON that arrives."""

from __future__ import annotations

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from factories import SAMPLE, make_item
from recsys import Engine, Member
from recsys.delivery.webhook import post_json
from recsys.reports.digest import WECOM_MARKDOWN_BYTES
from recsys_cli import main


class Receiver:
    """A webhook on 127.0.0.1 that keeps every body and answers with the statuses it is given."""

    def __init__(self, statuses=()):
        self.bodies: list[bytes] = []
        self.statuses = list(statuses)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                receiver.bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                answer = b'{"errcode":0,"errmsg":"ok"}' if status == 200 else b"busy"
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/cgi-bin/webhook/send?key=test"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    found = Receiver()
    yield found
    found.close()


def test_each_branch_digest_arrives_as_group_bot_markdown_within_the_limit(tmp_path, receiver, capsys):
    store = str(tmp_path / "store")
    with Engine.open(store, encoder="tfidf") as engine:
        engine.add_items([make_item(i, t, b, topics=topics) for i, t, b, topics in SAMPLE])
        engine.upsert_members([Member("m1", "张伟", "hx.b1"), Member("m2", "李娜", "hx.b1"),
                               Member("m3", "王强", "hx.b2"), Member("m4", "陈静", "zj.b1")])
    assert main(["push", "--day", "2026-12-01", "--webhook", receiver.url, "--org", "hx", "--store", store]) == 0
    messages = [json.loads(body) for body in receiver.bodies]
    assert [m["msgtype"] for m in messages] == ["markdown", "markdown"]
    contents = [m["markdown"]["content"] for m in messages]
    assert [c.splitlines()[0] for c in contents] == ["**hx.b1 · 12月1日学习提示**", "**hx.b2 · 12月1日学习提示**"]
    assert "今日已为 2/2 名党员生成学习清单。" in contents[0]
    assert all(len(body) < WECOM_MARKDOWN_BYTES for body in receiver.bodies)
    assert not any(name in c for c in contents for name in ("张伟", "李娜", "王强"))
    out = capsys.readouterr().out
    assert "hx.b1: sent (2/2 members with a list" in out and "2 of 2 branch digests sent" in out


def test_a_busy_webhook_is_tried_again_and_a_refusal_is_not():
    busy = Receiver(statuses=[503, 200])
    try:
        sent = post_json(busy.url, {"msgtype": "text", "text": {"content": "测试"}}, sleep=lambda s: None)
        assert (sent.ok, sent.attempts) == (True, 2) and len(busy.bodies) == 2
    finally:
        busy.close()
    refused = Receiver(statuses=[400])
    try:
        sent = post_json(refused.url, {"msgtype": "text"}, sleep=lambda s: None)
        assert (sent.ok, sent.attempts, sent.detail) == (False, 1, "HTTP 400")
    finally:
        refused.close()


def test_a_push_that_fails_exits_non_zero_and_says_which(tmp_path, capsys):
    store = str(tmp_path / "store")
    with Engine.open(store, encoder="tfidf") as engine:
        engine.add_items([make_item("a1", "中共一大的召开")])
        engine.upsert_members([Member("m1", "张伟", "hx.b1")])
    down = Receiver()
    url = down.url
    down.close()  # nobody listens there any more
    assert main(["push", "--day", "2026-12-01", "--webhook", url, "--store", store]) == 1
    assert "hx.b1: FAILED" in capsys.readouterr().out
    assert main(["push", "--webhook", "ftp://x", "--store", store]) == 2
