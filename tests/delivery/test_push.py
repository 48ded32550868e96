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

    def __init__(self, statuses=(), answers=()):
        self.bodies: list[bytes] = []
        self.statuses = list(statuses)
        self.answers = list(answers)  # bodies of the 200 answers, before the usual one
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                receiver.bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                answer = (receiver.answers.pop(0) if receiver.answers else b'{"errcode":0,"errmsg":"ok"}') \
                    if status == 200 else b"busy"
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


@pytest.mark.slow
def test_the_push_plans_a_large_run_on_a_process_per_core(tmp_path, receiver, monkeypatch, capsys):
    """As recsys batch: without --workers, the lists of a run large enough (here two members a
    process, two cores) are planned on worker processes, then the digests go out."""
    from recsys.serving import distributed

    store = str(tmp_path / "store")
    with Engine.open(store, encoder="tfidf") as engine:
        engine.add_items([make_item(i, t, b, topics=topics) for i, t, b, topics in SAMPLE])
        engine.upsert_members([Member("m1", "张伟", "hx.b1"), Member("m2", "李娜", "hx.b1"),
                               Member("m3", "王强", "hx.b2"), Member("m4", "陈静", "hx.b3")])
    monkeypatch.setattr(distributed, "usable_cores", lambda: 2)
    monkeypatch.setattr(distributed, "MEMBERS_PER_WORKER", 2)
    asked = []
    spread = distributed.serve_day_in_processes
    monkeypatch.setattr(distributed, "serve_day_in_processes",
                        lambda *a, **k: asked.append(k["workers"]) or spread(*a, **k))
    assert main(["push", "--day", "2026-12-01", "--webhook", receiver.url, "--store", store]) == 0
    assert asked == [2] and "3 of 3 branch digests sent" in capsys.readouterr().out
    assert "今日已为 2/2 名党员生成学习清单。" in json.loads(receiver.bodies[0])["markdown"]["content"]
    assert main(["push", "--day", "2026-12-02", "--webhook", receiver.url, "--store", store, "--workers", "1"]) == 0
    assert asked == [2]  # planned in the command's process


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
    # Run again (a cron retry): the group does not read the same digests twice, unless asked.
    assert main(["push", "--day", "2026-12-01", "--webhook", receiver.url, "--org", "hx", "--store", store]) == 0
    assert len(receiver.bodies) == 2 and "0 of 2 branch digests sent, 2 sent before" in capsys.readouterr().out
    assert main(["push", "--day", "2026-12-01", "--webhook", receiver.url, "--org", "hx", "--store", store,
                 "--again"]) == 0
    assert len(receiver.bodies) == 4


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


def test_a_page_in_place_of_a_bots_answer_is_no_delivery():
    """An intranet proxy answering 200 with its login page took the digest: not sent, and the
    webhook said to be at fault (the other branches' digests would meet the same page)."""
    proxy = Receiver(answers=[b"<html><body>proxy login</body></html>"])
    try:
        sent = post_json(proxy.url, {"msgtype": "text", "text": {"content": "测试"}}, sleep=lambda s: None)
        assert (sent.ok, sent.attempts, sent.webhook_failed) == (False, 1, True)
        assert "other than a bot's JSON: '<html><body>proxy login</body></html>'" in sent.detail
    finally:
        proxy.close()


def test_too_many_messages_is_tried_again_after_a_minute_and_another_refusal_is_not():
    waits = []
    crowded = Receiver(answers=[b'{"errcode":45009,"errmsg":"api freq out of limit"}'])
    try:
        sent = post_json(crowded.url, {"msgtype": "text"}, sleep=waits.append)
        assert (sent.ok, sent.attempts, waits) == (True, 2, [60.0]) and len(crowded.bodies) == 2
    finally:
        crowded.close()
    bad = Receiver(answers=[b'{"errcode":40008,"errmsg":"invalid message type"}'])
    try:
        sent = post_json(bad.url, {"msgtype": "nope"}, sleep=waits.append)
        assert (sent.ok, sent.attempts, sent.detail) == (False, 1, "errcode 40008: invalid message type")
        assert not sent.webhook_failed  # this message's fault: the next one may pass
    finally:
        bad.close()
    removed = Receiver(answers=[b'{"errcode":93000,"errmsg":"invalid webhook url"}'])
    try:
        assert post_json(removed.url, {"msgtype": "text"}, sleep=waits.append).webhook_failed
    finally:
        removed.close()


def test_a_push_keeps_to_the_bots_rate_and_a_second_run_sends_only_what_did_not_arrive(tmp_path, capsys):
    from recsys.delivery.push import push_digests
    from recsys.delivery.webhook import Delivery

    store = str(tmp_path / "store")
    with Engine.open(store, encoder="tfidf") as engine:
        engine.add_items([make_item("a1", "中共一大的召开")])
        engine.upsert_members([Member(f"m{n}", "张伟", f"hx.b{n}") for n in range(5)])
        now, waits, posted = [0.0], [], []

        def sleep(seconds):
            waits.append(seconds)
            now[0] += seconds

        def post(url, message):  # b3's fails; each message takes a second
            now[0] += 1
            posted.append(message["markdown"]["content"].split(" · ")[0].strip("*"))
            return Delivery(posted[-1] != "hx.b3", 1, 100, "")

        pushed = push_digests(engine, "https://bot.example.com/send?key=k", day=dt.date(2026, 12, 1), post=post,
                              per_minute=2, clock=lambda: now[0], sleep=sleep)
        assert posted == ["hx.b0", "hx.b1", "hx.b2", "hx.b3", "hx.b4"]
        assert waits == [59.0, 59.0]  # two a minute: the third and the fifth wait for the minute to pass
        assert [b.delivery.ok for b in pushed] == [True, True, True, False, True]
        posted.clear()
        again = push_digests(engine, "https://bot.example.com/send?key=k", day=dt.date(2026, 12, 1), post=post,
                             clock=lambda: now[0], sleep=sleep)
        assert posted == ["hx.b3"] and [b.skipped for b in again] == [True, True, True, False, True]
        assert "already sent for this day" in again[0].summary()
        # Another webhook, or another day, is sent everything.
        posted.clear()
        push_digests(engine, "https://bot.example.com/send?key=other", day=dt.date(2026, 12, 1), post=post,
                     clock=lambda: now[0], sleep=sleep)
        assert len(posted) == 5
        # A webhook that refuses its key (93000) is not tried again for every other branch.
        posted.clear()
        gone = push_digests(engine, "https://bot.example.com/send?key=gone", day=dt.date(2026, 12, 1),
                            post=lambda url, m: posted.append(1) or Delivery(
                                False, 1, 100, "errcode 93000: invalid webhook url", webhook_failed=True),
                            clock=lambda: now[0], sleep=sleep)
        assert posted == [1] and [b.delivery.attempts for b in gone] == [1, 0, 0, 0, 0]
    # What was sent is kept by a digest of the webhook: its key is a secret.
    files = [p for p in (tmp_path / "store").iterdir() if p.name.startswith("recsys.sqlite")]
    assert files and not any(b"bot.example.com" in p.read_bytes() for p in files)


def test_a_push_that_fails_exits_non_zero_and_says_which(tmp_path, capsys):
    store = str(tmp_path / "store")
    with Engine.open(store, encoder="tfidf") as engine:
        engine.add_items([make_item("a1", "中共一大的召开")])
        engine.upsert_members([Member("m1", "张伟", "hx.b1")])
        engine.upsert_members([Member("m2", "李娜", "hx.b2"), Member("m3", "王强", "hx.b3")])
    down = Receiver()
    url = down.url
    down.close()  # nobody listens there any more
    assert main(["push", "--day", "2026-12-01", "--webhook", url, "--store", store]) == 1
    out = capsys.readouterr().out
    # The first branch tries three times; the others are not tried against the same dead webhook.
    assert "hx.b1: FAILED" in out and "3 attempts" in out
    assert "hx.b2: NOT SENT, not tried: the webhook failed for hx.b1 (unreachable" in out and "hx.b3: NOT SENT" in out
    assert main(["push", "--webhook", "ftp://x", "--store", store]) == 2


def test_a_push_over_several_enterprises_must_name_one(tmp_path, receiver, capsys):
    """One group chat is one enterprise's: a store of two sends nothing without --org, and with
    it only that enterprise's branches."""
    store = str(tmp_path / "store")
    with Engine.open(store, encoder="tfidf") as engine:
        engine.add_items([make_item("a1", "中共一大的召开")])
        engine.upsert_members([Member("m1", "张伟", "hx.b1"), Member("w1", "周九", "ws.b9")])
    assert main(["push", "--day", "2026-12-01", "--webhook", receiver.url, "--store", store]) == 2
    assert "the store holds 2 enterprises (hx, ws): name the organisation" in capsys.readouterr().err
    assert receiver.bodies == []
    assert main(["push", "--day", "2026-12-01", "--webhook", receiver.url, "--org", "hx", "--store", store]) == 0
    assert len(receiver.bodies) == 1 and "周九" not in receiver.bodies[0].decode() and "ws.b9" not in receiver.bodies[0].decode()
