"""Member tokens over HTTP: issued for an organisation key's member only, acting for that member
only, refused once tampered with, expired or rotated out, checked in constant time; the member's
own events and enrolments; CORS for tokens and never for organisation keys."""

from __future__ import annotations

import base64
import datetime as dt
import json
import subprocess
import sys

import pytest

import recsys.tokens
from recsys import Engine
from recsys.records import TZ
from recsys.tokens import MemberTokens
from service_support import REPO, bearer, seeded_client, upcoming_activity


@pytest.fixture
def world(tmp_path):
    with seeded_client(tmp_path / "store") as (client, keys):
        yield client, keys


def _token(client, key: str, member: str = "m-a", **body) -> str:
    r = client.post(f"/v1/members/{member}/token", json=body or None, headers=bearer(key))
    assert r.status_code == 200, r.text
    return r.json()["token"]


def _payload(token: str) -> dict:
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def test_a_token_lasts_twelve_hours_by_default_and_at_most_a_week(world):
    client, keys = world
    before = dt.datetime.now(dt.timezone.utc)
    r = client.post("/v1/members/m-a/token", headers=bearer(keys.a))
    assert r.status_code == 200, r.text
    body = r.json()
    expires = dt.datetime.fromisoformat(body["expires"].replace("Z", "+00:00"))
    assert dt.timedelta(hours=11, minutes=59) < expires - before <= dt.timedelta(hours=12, seconds=1)
    assert body["member"] == "m-a" and body["page"] == f"/m?token={body['token']}"
    assert _payload(body["token"])["m"] == "m-a"
    week = client.post("/v1/members/m-a/token", json={"hours": 168}, headers=bearer(keys.a))
    assert week.status_code == 200
    too_long = client.post("/v1/members/m-a/token", json={"hours": 169}, headers=bearer(keys.a))
    assert too_long.status_code == 422 and "hours" in too_long.text


def test_only_a_key_holding_the_member_gets_a_token(world):
    client, keys = world
    assert client.post("/v1/members/m-a/token").status_code == 401
    assert client.post("/v1/members/m-a/token", headers=bearer(keys.b)).status_code == 404  # another tenant
    assert client.post("/v1/members/m-a/token", headers=bearer(keys.revoked)).status_code == 401
    token = _token(client, keys.a)
    # A token is not a key: it cannot make tokens, nor call anything but the member's own routes.
    assert client.post("/v1/members/m-a/token", headers=bearer(token)).status_code == 401
    assert client.get("/v1/members/m-a", headers=bearer(token)).status_code == 401
    assert client.get("/v1/coverage", headers=bearer(token)).status_code == 401
    assert client.put("/v1/items", json=[], headers=bearer(token)).status_code == 401


def test_a_token_acts_for_its_member_only(world):
    client, keys = world
    token = _token(client, keys.a, "m-a")
    for path in ("daily", "path?days=2", "progress", "page"):
        assert client.get(f"/v1/members/m-a/{path}", headers=bearer(token)).status_code == 200, path
        # Another member of the same branch, and one of another tenant: answered as missing.
        assert client.get(f"/v1/members/m-a2/{path}", headers=bearer(token)).status_code == 404, path
        assert client.get(f"/v1/members/m-b/{path}", headers=bearer(token)).status_code == 404, path
    other = client.post("/v1/members/m-a2/events", json=[{"item": "safety", "kind": "complete"}], headers=bearer(token))
    assert other.status_code == 404


def test_a_tampered_token_is_refused(world):
    client, keys = world
    token = _token(client, keys.a, "m-a")
    prefix, payload, signature = token.split(".")
    # The same signature over a payload naming another member.
    forged = base64.urlsafe_b64encode(json.dumps({"m": "m-a2", "exp": _payload(token)["exp"]},
                                                 separators=(",", ":")).encode()).rstrip(b"=").decode()
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    longer = base64.urlsafe_b64encode(json.dumps({"m": "m-a", "exp": _payload(token)["exp"] + 86400 * 30},
                                                 separators=(",", ":")).encode()).rstrip(b"=").decode()
    for bad in (f"{prefix}.{forged}.{signature}", f"{prefix}.{payload}.{flipped}", f"{prefix}.{longer}.{signature}",
                f"{prefix}.{payload}", "rsm." + "x" * 600, f"{prefix}.{payload}.{signature}.x"):
        for member in ("m-a", "m-a2"):
            r = client.get(f"/v1/members/{member}/daily", headers=bearer(bad))
            assert r.status_code == 401, (bad, r.text)
    assert client.get("/v1/members/m-a/daily", headers=bearer(token)).status_code == 200


def test_an_expired_token_is_refused(world):
    client, keys = world
    store = client.app.state.engine.store
    issued = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=13)
    old, expires = MemberTokens(store).issue("m-a", hours=12, now=issued)
    assert expires < dt.datetime.now(dt.timezone.utc)
    r = client.get("/v1/members/m-a/daily", headers=bearer(old))
    assert r.status_code == 401 and "expired" in r.json()["error"]["message"]
    assert client.get("/m", params={"token": old}).status_code == 401
    fresh, _ = MemberTokens(store).issue("m-a", hours=1, now=dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=59))
    assert client.get("/v1/members/m-a/daily", headers=bearer(fresh)).status_code == 200


def test_rotating_the_secret_refuses_earlier_tokens(world):
    client, keys = world
    old = _token(client, keys.a)
    assert client.get("/v1/members/m-a/page", headers=bearer(old)).status_code == 200
    client.app.state.engine.rotate_token_secret()
    r = client.get("/v1/members/m-a/page", headers=bearer(old))
    assert r.status_code == 401 and "rotated" in r.json()["error"]["message"]
    new = _token(client, keys.a)
    assert new != old and client.get("/v1/members/m-a/page", headers=bearer(new)).status_code == 200


def test_signatures_are_compared_in_constant_time(world, monkeypatch):
    client, keys = world
    token = _token(client, keys.a)
    seen = []
    real = recsys.tokens.hmac.compare_digest

    def spy(a, b):
        seen.append((a, b))
        return real(a, b)

    monkeypatch.setattr(recsys.tokens.hmac, "compare_digest", spy)
    signature = token.rsplit(".", 1)[1]
    assert client.get("/v1/members/m-a/daily", headers=bearer(token)).status_code == 200
    assert seen and seen[-1][1] == signature.encode()
    seen.clear()
    bad = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert client.get("/v1/members/m-a/daily", headers=bearer(bad)).status_code == 401
    assert len(seen) == 1 and seen[0][1] == bad.rsplit(".", 1)[1].encode()


def test_the_member_records_own_events_and_the_item_does_not_come_back(world):
    client, keys = world
    token = _token(client, keys.a)
    first = client.get("/v1/members/m-a/page", headers=bearer(token)).json()
    done = first["entries"][0]["item"]["id"]
    r = client.post("/v1/members/m-a/events", json=[{"item": done, "kind": "complete"}], headers=bearer(token))
    assert r.status_code == 200 and r.json()["recorded"] == 1
    events = client.app.state.engine.events("m-a")
    assert [(e.item, e.kind) for e in events if e.kind == "complete"] == [(done, "complete")]
    again = client.get("/v1/members/m-a/page", headers=bearer(token)).json()
    assert done not in [e["item"]["id"] for e in again["entries"]]
    # The page counts what was studied today (the list is planned again for the whole day).
    assert (first["studied"], again["studied"]) == (0, first["entries"][0]["item"]["minutes"])
    # Items the member cannot see are unknown; kinds a member does not record are refused.
    hidden = client.post("/v1/members/m-a/events", json=[{"item": "b-item", "kind": "complete"}], headers=bearer(token))
    assert hidden.status_code == 422 and "unknown item 'b-item'" in hidden.text
    attend = client.post("/v1/members/m-a/events", json=[{"item": done, "kind": "attend"}], headers=bearer(token))
    assert attend.status_code == 422


def test_a_members_own_events_are_of_now_and_a_retry_is_the_same_event(world):
    """A link in a chat must not rewrite another year's hours; a page that sends again what got
    no answer, with its id and no time, records it once."""
    client, keys = world
    token = _token(client, keys.a, "m-a")
    now = dt.datetime.now(TZ)
    for when in (now - dt.timedelta(days=400), now + dt.timedelta(days=3)):
        sent = [{"item": "safety", "kind": "complete", "at": when.isoformat()}]
        r = client.post("/v1/members/m-a/events", json=sent, headers=bearer(token))
        assert r.status_code == 422 and "must be within the last 30 days and not in the future" in r.text
    recent = [{"item": "safety", "kind": "start", "at": (now - dt.timedelta(days=2)).isoformat()}]
    assert client.post("/v1/members/m-a/events", json=recent, headers=bearer(token)).json()["recorded"] == 1
    retry = [{"id": "tap-1", "item": "history", "kind": "start"}]
    answers = [client.post("/v1/members/m-a/events", json=retry, headers=bearer(token)) for _ in range(2)]
    assert [a.status_code for a in answers] == [200, 200], answers[1].text
    assert [a.json()["recorded"] for a in answers] == [1, 0] and answers[1].json()["duplicates"] == 1
    # The same id for something else is still a conflict.
    other = client.post("/v1/members/m-a/events", json=[dict(retry[0], kind="skip")], headers=bearer(token))
    assert other.status_code == 409


def test_a_members_event_ids_are_the_members_own_and_the_engines_ids_are_kept_for_it(world):
    client, keys = world
    token = _token(client, keys.a, "m-a")
    at = (dt.datetime.now(TZ) - dt.timedelta(hours=1)).replace(microsecond=0, tzinfo=None).isoformat()
    # The member's token takes the id the portal will give m-a2's event, and an impression's.
    sent = [{"id": "portal-7", "item": "safety", "kind": "skip", "at": at},
            {"id": "imp:m-a2:2026-12-07:safety", "item": "safety", "kind": "skip", "at": at}]
    assert client.post("/v1/members/m-a/events", json=sent, headers=bearer(token)).json()["recorded"] == 2
    ids = {e.id for e in client.app.state.engine.events("m-a") if e.kind == "skip"}
    assert ids == {"m-a:portal-7", "m-a:imp:m-a2:2026-12-07:safety"}
    # Sent again as sent, or as read back: the same events, not new ones.
    again = [dict(sent[0]), dict(sent[1], id="m-a:imp:m-a2:2026-12-07:safety")]
    assert client.post("/v1/members/m-a/events", json=again, headers=bearer(token)).json()["duplicates"] == 2
    # The portal's own event under that id is recorded, not refused as a conflict.
    portal = {"id": "portal-7", "member": "m-a2", "item": "safety", "kind": "complete", "at": at}
    assert client.post("/v1/events", json=[portal], headers=bearer(keys.a)).json()["recorded"] == 1
    # An impression's id, and a removed member's pseudonym as a member id, are the engine's own.
    taken = client.post("/v1/events", json=[dict(portal, id="imp:m-a2:2026-12-07:safety")], headers=bearer(keys.a))
    assert taken.status_code == 422 and "kept for the engine's record of a list shown" in taken.text
    impostor = {"id": "anon:413879c3105e889c5781a946", "name": "冒名", "org": "hxny.fdgs.zb-yunxing"}
    anon = client.put("/v1/members", json=[impostor], headers=bearer(keys.a))
    assert anon.status_code == 422 and "kept for a removed member's pseudonym" in anon.text
    for org in ("hxny.", "hxny..fdgs", "hxny.fdgs."):  # an empty level made a phantom unit of reports
        phantom = client.put("/v1/members", json=[dict(impostor, id="m-x", org=org)], headers=bearer(keys.admin))
        assert phantom.status_code == 422 and "has an empty level" in phantom.text, (org, phantom.text)


def test_enrolment_checks_seats_and_a_withdrawal_gives_the_seat_back(world):
    client, keys = world
    r = client.put("/v1/items", json=[upcoming_activity("act-1", capacity=1)], headers=bearer(keys.admin))
    assert r.status_code == 200, r.text
    ta, ta2 = _token(client, keys.a, "m-a"), _token(client, keys.a, "m-a2")
    first = client.put("/v1/members/m-a/enrolments/act-1", headers=bearer(ta))
    assert first.status_code == 200, first.text
    assert first.json() == {"member": "m-a", "item": "act-1", "enrolled": True, "changed": True, "seats_left": 0}
    assert client.put("/v1/members/m-a/enrolments/act-1", headers=bearer(ta)).json()["changed"] is False
    full = client.put("/v1/members/m-a2/enrolments/act-1", headers=bearer(ta2))
    assert full.status_code == 409 and "full" in full.json()["error"]["message"]
    back = client.delete("/v1/members/m-a/enrolments/act-1", headers=bearer(ta))
    assert back.status_code == 200 and back.json()["enrolled"] is False and back.json()["seats_left"] == 1
    assert client.put("/v1/members/m-a2/enrolments/act-1", headers=bearer(ta2)).status_code == 200
    assert client.app.state.engine.store.enrolments(["act-1"]) == {"act-1": 1}
    assert client.put("/v1/members/m-a/enrolments/safety", headers=bearer(ta)).status_code == 422  # not an activity
    assert client.put("/v1/members/m-a/enrolments/b-item", headers=bearer(ta)).status_code == 404  # another tenant's
    # An activity for branch secretaries: m-a2 is one, m-a (a frontline member) is not.
    cadres = dict(upcoming_activity("act-2", capacity=5), roles=["branch_secretary"])
    assert client.put("/v1/items", json=[cadres], headers=bearer(keys.admin)).status_code == 200
    other = client.put("/v1/members/m-a/enrolments/act-2", headers=bearer(ta))
    assert other.status_code == 409 and "is for members holding branch_secretary" in other.text
    assert client.put("/v1/members/m-a2/enrolments/act-2", headers=bearer(ta2)).status_code == 200
    # The other rules lists keep: a unit's below m-a's branch is not there for m-a; one meant for
    # mobile members (by its title) is refused to a regular member, saying why.
    below = upcoming_activity("act-3", capacity=5, org="hxny.fdgs.zb-yunxing.xz1")
    mobile = upcoming_activity("act-4", capacity=5, title="流动党员集中学习交流会")
    assert client.put("/v1/items", json=[below, mobile], headers=bearer(keys.admin)).status_code == 200
    assert client.put("/v1/members/m-a/enrolments/act-3", headers=bearer(ta)).status_code == 404
    refused = client.put("/v1/members/m-a/enrolments/act-4", headers=bearer(ta))
    assert refused.status_code == 409 and "meant for members whose situation is mobile" in refused.text
    # One in another city than the member's, which their lists never show.
    away = upcoming_activity("act-5", capacity=5)
    away["schedule"]["location"] = "北京·集团总部"
    assert client.put("/v1/items", json=[away], headers=bearer(keys.admin)).status_code == 200
    refused = client.put("/v1/members/m-a/enrolments/act-5", headers=bearer(ta))
    assert refused.status_code == 409 and "is held in 北京; member 'm-a' is in 太原" in refused.text


def test_a_member_token_cannot_credit_itself_an_activity(world):
    """Attendance is the organiser's to record: a member's own token completing an offline
    activity (before it was held, without a seat) is refused and gives no hours; the
    organisation's key records attendance as before, and the member may still enrol."""
    client, keys = world
    r = client.put("/v1/items", json=[upcoming_activity("act-1", capacity=1)], headers=bearer(keys.admin))
    assert r.status_code == 200, r.text
    token = _token(client, keys.a, "m-a")
    for kind, value in (("complete", None), ("progress", 1.0)):
        own = client.post("/v1/members/m-a/events", json=[{"item": "act-1", "kind": kind, "value": value}],
                          headers=bearer(token))
        assert own.status_code == 422 and "recorded by the organiser" in own.text, own.text
    events = client.get("/v1/members/m-a/events", headers=bearer(keys.a)).json()["events"]
    assert [e for e in events if e["item"] == "act-1"] == []
    assert client.put("/v1/members/m-a/enrolments/act-1", headers=bearer(token)).status_code == 200
    assert client.post("/v1/members/m-a/events", json=[{"item": "act-1", "kind": "complete"}],
                       headers=bearer(keys.a)).status_code == 200


def test_cors_answers_member_tokens_only(world):
    client, keys = world
    token = _token(client, keys.a)
    origin = {"Origin": "http://portal.example"}
    pre = client.options("/v1/members/m-a/page", headers={**origin, "Access-Control-Request-Method": "GET",
                                                          "Access-Control-Request-Headers": "authorization"})
    assert pre.status_code == 204 and pre.headers["access-control-allow-origin"] == "*"
    assert "authorization" in pre.headers["access-control-allow-headers"].lower()
    assert "credentials" not in " ".join(pre.headers).lower()
    with_token = client.get("/v1/members/m-a/page", headers={**origin, **bearer(token)})
    assert with_token.headers.get("access-control-allow-origin") == "*"
    with_key = client.get("/v1/members/m-a/page", headers={**origin, **bearer(keys.a)})
    assert with_key.status_code == 200 and "access-control-allow-origin" not in with_key.headers
    # Routes for keys only are never offered to another origin, not even for a preflight.
    pre_token = client.options("/v1/members/m-a/token", headers={**origin, "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in pre_token.headers
    pre_items = client.options("/v1/items", headers={**origin, "Access-Control-Request-Method": "PUT"})
    assert "access-control-allow-origin" not in pre_items.headers


def test_the_page_is_served_for_a_valid_token_only(world):
    client, keys = world
    token = _token(client, keys.a)
    page = client.get("/m", params={"token": token})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["referrer-policy"] == "no-referrer" and "<recsys-daily" in page.text
    assert client.get("/m").status_code == 401
    refused = client.get("/m", params={"token": token[:-3] + "abc"})
    assert refused.status_code == 401 and "链接已失效" in refused.text
    # A link forwarded in a chat app comes back with the app's own parameters: still the page.
    shared = client.get("/m", params={"token": token, "from": "groupmessage", "isappinstalled": "0"})
    assert shared.status_code == 200 and "<recsys-daily" in shared.text
    # The API's routes still name a parameter they do not take.
    assert client.get("/v1/members/m-a/page", params={"from": "groupmessage"},
                      headers={"Authorization": f"Bearer {token}"}).status_code == 422
    for asset in ("recsys-widget.js", "member.js", "recsys-member.css"):
        assert client.get(f"/static/{asset}").status_code == 200, asset


def test_cli_issues_tokens_and_rotates_the_secret(tmp_path):
    store = tmp_path / "store"
    with Engine.open(store, encoder="tfidf") as engine:
        engine.upsert_members([{"id": "m1", "name": "张伟", "org": "hxny.zb", "roles": ["member"]}])

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "recsys", "keys", *args, "--store", str(store)], cwd=REPO,
                              capture_output=True, text=True, timeout=120)

    made = cli("token", "m1", "--hours", "2")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip().splitlines()[-1]
    with Engine.open(store) as engine:
        assert engine.check_member_token(token).member == "m1"
    assert cli("token", "nobody").returncode == 2
    rotated = cli("rotate-token-secret")
    assert rotated.returncode == 0 and "refused" in rotated.stdout
    with Engine.open(store) as engine, pytest.raises(recsys.TokenError):
        engine.check_member_token(token)
    missing = subprocess.run([sys.executable, "-m", "recsys", "keys", "rotate-token-secret", "--store",
                              str(tmp_path / "none")], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2 and not (tmp_path / "none").exists()


def test_cli_token_names_the_enterprise_where_two_use_the_member_id(tmp_path):
    store = tmp_path / "store"
    with Engine.open(store, encoder="tfidf") as engine:
        engine.upsert_members([{"id": "m1", "name": "张伟", "org": "hxny.zb", "roles": ["member"]},
                               {"id": "m1", "name": "李娜", "org": "gdjt.zb", "roles": ["member"]}])

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "recsys", "keys", "token", *args, "--store", str(store)],
                              cwd=REPO, capture_output=True, text=True, timeout=120)

    ambiguous = cli("m1")
    assert ambiguous.returncode == 2 and "--tenant" in ambiguous.stderr and "Traceback" not in ambiguous.stderr
    made = cli("m1", "--tenant", "gdjt")
    assert made.returncode == 0, made.stderr
    with Engine.open(store) as engine:
        _, member = engine.token_member(made.stdout.strip().splitlines()[-1])
    assert member.name == "李娜"


def test_an_own_event_id_stays_an_id_whatever_the_member_id():
    from service.routers.member_pages import own_event_id

    long_member, long_id = "m" * 120, "e" * 120
    assert own_event_id("m-a", "x") == "m-a:x" and own_event_id("m-a", "m-a:x") == "m-a:x"
    assert len(own_event_id(long_member, long_id)) <= 128 and own_event_id(long_member, "x") != own_event_id("m" * 119, "x")
    assert own_event_id("a", "b:c") != own_event_id("a:b", "c")
