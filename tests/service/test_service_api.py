"""The HTTP API in-process (TestClient): every endpoint, keys and tenants, idempotent writes,
limits, and the error for each kind of mistake."""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import time
import typing

import pytest
from fastapi.testclient import TestClient

from recsys import Engine, NotFoundError
from recsys_cli import main as cli
from recsys.records import EVENT_KINDS, ITEM_KINDS, SITUATIONS
from service import Settings, create_app
from service.deps import get_engine
from service.keys import KeyRing
from service.member_tokens import MEMBER_ROUTES
from service.schemas import EventKind, ItemKind, Situation
from service_support import A_ITEMS, A_MEMBERS, B_ITEMS, SHARED_ITEMS, app_client, bearer, make_keys, seed

DAY = "2026-12-01"


@pytest.fixture
def world(tmp_path):
    """A started app over a seeded two-tenant store: ``(client, keys, store)``."""
    store = tmp_path / "store"
    keys = make_keys(store / "keys.json")
    with app_client(store) as client:
        seed(client, keys)
        yield client, keys, store


def event(id_, member="m-a", item="safety", kind="complete", at="2026-11-20T20:00:00", **extra):
    return {"id": id_, "member": member, "item": item, "kind": kind, "at": at, **extra}


def error_of(response, status):
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert "Traceback" not in response.text
    return body["error"]


# -- operations ------------------------------------------------------------------------------------


def test_health_live_and_ready(world):
    client, _, _ = world
    assert client.get("/health/live").json()["status"] == "live"
    assert client.get("/health/ready").json() == {"status": "ready", "detail": None}


def test_not_ready_before_the_engine_is_loaded(tmp_path):
    app = create_app(Settings(store=tmp_path / "s", encoder="tfidf"))
    client = TestClient(app)  # not entered: the lifespan never ran, as while a server starts
    assert client.get("/health/live").status_code == 200
    assert client.get("/health/ready").status_code == 503
    assert client.get("/health/ready").json()["status"] == "starting"
    assert error_of(client.get("/v1/items", headers=bearer("x")), 503)["code"] == "not_ready"


def test_request_id_is_honoured_or_made(world):
    client, keys, _ = world
    given = client.get("/v1/items", headers={**bearer(keys.a), "X-Request-ID": "portal-42"})
    assert given.headers["X-Request-ID"] == "portal-42"
    made = client.get("/v1/items", headers={"X-Request-ID": "not a valid id!"})
    assert made.status_code == 401 and len(made.headers["X-Request-ID"]) == 32


def test_metrics_count_requests_lists_and_events(world):
    client, keys, _ = world
    client.get(f"/v1/members/m-a/daily?day={DAY}", headers=bearer(keys.a))
    client.post("/v1/events", json=[event("mx1"), event("mx2")], headers=bearer(keys.a))
    client.post("/v1/events", json=[event("mx1")], headers=bearer(keys.a))
    response = client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'recsys_http_requests_total{method="GET",route="/v1/members/{member_id}/daily",status="200"} 1.0' in text
    assert 'recsys_http_request_duration_seconds_count{method="PUT",route="/v1/items"}' in text
    assert "recsys_list_entries_count{kind=\"daily\"} 1.0" in text
    assert 'recsys_events_ingested_total{outcome="new"} 2.0' in text
    assert 'recsys_events_ingested_total{outcome="duplicate"} 1.0' in text


def test_each_app_has_its_own_metrics_registry(tmp_path):
    first, second = create_app(Settings(store=tmp_path / "a")), create_app(Settings(store=tmp_path / "b"))
    assert first.state.metrics.registry is not second.state.metrics.registry


# -- items -----------------------------------------------------------------------------------------


def test_items_put_get_list_delete(world):
    client, keys, _ = world
    h = bearer(keys.a)
    item = {"id": "a-new", "title": "国企改革深化提升行动", "kind": "article", "minutes": 12,
            "published": "2026-03-01", "org": "hxny.fdgs"}
    assert client.put("/v1/items", json=[item], headers=h).json() == {"written": 1}
    got = client.get("/v1/items/a-new", headers=h).json()
    assert got["title"] == item["title"] and got["org"] == "hxny.fdgs" and got["mode"] == "online"

    visible = sorted(i["id"] for i in SHARED_ITEMS + A_ITEMS) + ["a-new"]
    first = client.get("/v1/items?limit=3", headers=h).json()
    assert first["total"] == len(visible) and first["offset"] == 0 and first["limit"] == 3
    ids = []
    for offset in range(0, len(visible), 3):
        ids += [i["id"] for i in client.get(f"/v1/items?offset={offset}&limit=3", headers=h).json()["items"]]
    assert ids == sorted(visible)

    assert client.delete("/v1/items/a-new", headers=h).status_code == 204
    assert error_of(client.get("/v1/items/a-new", headers=h), 404)["message"] == "no item with id 'a-new'"
    assert error_of(client.delete("/v1/items/a-new", headers=h), 404)["code"] == "not_found"


def test_offline_item_with_schedule_round_trips(world):
    client, keys, _ = world
    item = {"id": "off-1", "title": "主题党日：参观革命烈士陵园", "kind": "activity", "mode": "offline", "minutes": 120,
            "published": "2026-11-01", "org": "hxny",
            "schedule": {"starts": "2026-12-09T09:00:00", "ends": "2026-12-09T11:00:00",
                         "location": "太原·山西省革命烈士陵园", "capacity": 40}}
    assert client.put("/v1/items", json=[item], headers=bearer(keys.a)).status_code == 200
    got = client.get("/v1/items/off-1", headers=bearer(keys.a)).json()
    assert got["schedule"] == {"starts": "2026-12-09T09:00:00+08:00", "ends": "2026-12-09T11:00:00+08:00",
                               "location": "太原·山西省革命烈士陵园", "capacity": 40}


def test_similar_and_search(world):
    client, keys, _ = world
    h = bearer(keys.a)
    search = client.get("/v1/search", params={"q": "嘉兴南湖红船 第一次全国代表大会", "k": 3}, headers=h).json()
    assert search["query"] == "嘉兴南湖红船 第一次全国代表大会"
    assert search["hits"][0]["item"]["id"] == "history" and len(search["hits"]) == 3
    similar = client.get("/v1/items/safety/similar?k=2", headers=h).json()
    assert similar["item"] == "safety" and len(similar["hits"]) == 2
    assert "safety" not in [hit["item"]["id"] for hit in similar["hits"]]
    scores = [hit["score"] for hit in similar["hits"]]
    assert scores == sorted(scores, reverse=True)


def test_search_for_a_member_leaves_out_what_they_completed(world):
    client, keys, _ = world
    h = bearer(keys.a)
    client.post("/v1/events", json=[event("done-hist", item="history")], headers=h)
    hits = client.get("/v1/search", params={"q": "中共一大 嘉兴南湖", "k": 5, "member": "m-a"}, headers=h).json()["hits"]
    assert "history" not in [hit["item"]["id"] for hit in hits]


# -- members, lists and paths ------------------------------------------------------------------------


def test_members_put_get_list(world):
    client, keys, _ = world
    h = bearer(keys.a)
    got = client.get("/v1/members/m-a", headers=h).json()
    assert got == {**A_MEMBERS[0], "offline": True, "situation": "regular"}
    page = client.get("/v1/members?limit=2", headers=h).json()
    assert page["total"] == 3 and [m["id"] for m in page["members"]] == ["m-a", "m-a2"]
    branch = client.get("/v1/members?org=hxny.fdgs", headers=h).json()
    assert [m["id"] for m in branch["members"]] == ["m-a", "m-a2"]
    # A key for a unit sees only that unit's members.
    assert client.get("/v1/members", headers=bearer(keys.branch)).json()["total"] == 2


def test_infirm_member_defaults_to_no_offline(world):
    client, keys, _ = world
    body = [{"id": "m-old", "name": "刘德明", "org": "hxny.jt", "situation": "infirm", "roles": ["member", "retired"]}]
    assert client.put("/v1/members", json=body, headers=bearer(keys.a)).status_code == 200
    assert client.get("/v1/members/m-old", headers=bearer(keys.a)).json()["offline"] is False
    body[0]["offline"] = True
    error = error_of(client.put("/v1/members", json=body, headers=bearer(keys.a)), 422)
    assert error["details"][0]["field"] == "offline"


def test_daily_list_fits_the_budget_and_is_stable(world):
    client, keys, _ = world
    h = bearer(keys.a)
    first = client.get(f"/v1/members/m-a/daily?day={DAY}&minutes=25", headers=h).json()
    assert first["member"] == "m-a" and first["day"] == DAY and first["budget"] == 25
    assert first["entries"] and first["minutes"] <= 25
    assert first["minutes"] == sum(e["item"]["minutes"] for e in first["entries"])
    assert all(e["reasons"] for e in first["entries"])
    assert all(e["item"]["org"] in (None, "hxny", "hxny.fdgs.zb-yunxing") for e in first["entries"])
    again = client.get(f"/v1/members/m-a/daily?day={DAY}&minutes=25", headers=h).json()
    assert again == first


def test_daily_as_text_for_a_group_message(world):
    client, keys, _ = world
    h = bearer(keys.a)
    lst = client.get(f"/v1/members/m-a/daily?day={DAY}", headers=h).json()
    response = client.get(f"/v1/members/m-a/daily?day={DAY}&format=text", headers=h)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert text.splitlines()[0] == f"张伟 {DAY} · 共 {lst['minutes']}/30 分钟"
    for entry in lst["entries"]:
        assert f"《{entry['item']['title']}》 {entry['item']['minutes']}分钟" in text
        assert all(reason in text for reason in entry["reasons"])
    assert "{" not in text  # a message, not JSON


def test_path_plans_each_day_without_repeats(world):
    client, keys, _ = world
    path = client.get(f"/v1/members/m-a2/path?start={DAY}&days=3&minutes=20", headers=bearer(keys.a)).json()
    assert path["member"] == "m-a2" and path["start"] == DAY and len(path["days"]) == 3
    ids = [e["item"]["id"] for d in path["days"] for e in d["entries"]]
    assert ids and len(ids) == len(set(ids))
    assert all(d["minutes"] <= 20 for d in path["days"])
    assert path["minutes"] == sum(d["minutes"] for d in path["days"])


# -- events ----------------------------------------------------------------------------------------


def test_event_batches_are_idempotent(world):
    client, keys, store = world
    h = bearer(keys.a)
    batch = [event(f"e{n}", item=item) for n, item in enumerate(["safety", "history", "a-item"])]
    assert client.post("/v1/events", json=batch, headers=h).json() == {"received": 3, "recorded": 3, "duplicates": 0}
    assert client.post("/v1/events", json=batch, headers=h).json() == {"received": 3, "recorded": 0, "duplicates": 3}
    mixed = batch[1:] + [event("e9", item="reform")]
    assert client.post("/v1/events", json=mixed, headers=h).json() == {"received": 3, "recorded": 1, "duplicates": 2}
    with Engine.open(store) as engine:
        ids = [e.id for e in engine.events("m-a") if e.kind == "complete"]
    assert sorted(ids) == ["e0", "e1", "e2", "e9"]


def test_event_id_reused_with_other_content_is_409(world):
    client, keys, _ = world
    h = bearer(keys.a)
    client.post("/v1/events", json=[event("c1")], headers=h)
    error = error_of(client.post("/v1/events", json=[event("c1", kind="skip")], headers=h), 409)
    assert error["code"] == "conflict" and "'c1'" in error["message"]


def test_two_tenants_may_post_the_same_event_id_and_each_sees_only_its_own(world):
    client, keys, _ = world
    ours, theirs = event("shared-1", member="m-a"), event("shared-1", member="m-b", kind="start")
    for key, body in ((keys.a, ours), (keys.b, theirs)):  # no 409 telling either of the other's id
        answer = client.post("/v1/events", json=[body], headers=bearer(key))
        assert answer.json() == {"received": 1, "recorded": 1, "duplicates": 0}, answer.text
    assert client.post("/v1/events", json=[theirs], headers=bearer(keys.b)).json()["duplicates"] == 1  # a retry
    seen = {who: client.get(f"/v1/members/{member}/events", headers=bearer(getattr(keys, who))).json()["events"]
            for who, member in (("a", "m-a"), ("b", "m-b"))}
    assert [(e["id"], e["member"], e["kind"]) for e in seen["a"]] == [("shared-1", "m-a", "complete")]
    assert [(e["id"], e["member"], e["kind"]) for e in seen["b"]] == [("shared-1", "m-b", "start")]
    assert client.get("/v1/members/m-b/events", headers=bearer(keys.a)).status_code == 404
    # Within one enterprise the id is taken, whichever of its units used it.
    error = error_of(client.post("/v1/events", json=[event("shared-1", member="m-a3")], headers=bearer(keys.a)), 409)
    assert "'shared-1'" in error["message"]


def test_two_enterprises_each_hold_member_m001_and_item_x1_and_see_only_their_own(world):
    client, keys, _ = world
    own = {"a": ("hxny.fdgs.zb-yunxing", "华能风电场安全生产微课"), "b": ("zjjt.zb1", "浙江集团安全生产案例")}
    for who, (org, title) in own.items():  # the second writer learns nothing of the first
        h = bearer(getattr(keys, who))
        item = {"id": "x1", "title": title, "body": f"{title}：落实安全生产责任制，隐患排查治理。", "kind": "article",
                "minutes": 10, "topics": ["安全生产"], "published": "2026-01-01", "org": org}
        assert client.put("/v1/items", json=[item], headers=h).json() == {"written": 1}
        member = {"id": "m001", "name": "张伟" if who == "a" else "陈静", "org": org, "roles": ["member"],
                  "interests": ["安全生产"], "daily_minutes": 30}
        assert client.put("/v1/members", json=[member], headers=h).json()["written"] == 1
        posted = client.post("/v1/events", json=[event("ev-1", member="m001", item="x1", kind="start")], headers=h)
        assert posted.json() == {"received": 1, "recorded": 1, "duplicates": 0}
    for who, (org, title) in own.items():
        h = bearer(getattr(keys, who))
        assert client.get("/v1/items/x1", headers=h).json()["title"] == title
        assert client.get("/v1/members/m001", headers=h).json()["org"] == org
        events = client.get("/v1/members/m001/events", headers=h).json()["events"]
        assert [(e["id"], e["item"]) for e in events] == [("ev-1", "x1")]
        daily = client.get(f"/v1/members/m001/daily?day={DAY}", headers=h).json()
        titles = {e["item"]["id"]: e["item"]["title"] for e in daily["entries"]}
        assert titles.get("x1") == title and daily["member"] == "m001"  # the started item, its own
        assert client.get(f"/v1/members/m001/progress?day={DAY}", headers=h).status_code == 200
        token = client.post("/v1/members/m001/token", headers=h).json()["token"]
        page = client.get(f"/v1/members/m001/daily?day={DAY}", headers=bearer(token)).json()
        assert {e["item"]["id"]: e["item"]["title"] for e in page["entries"]}.get("x1") == title
    # Writing another enterprise's ids answers exactly as writing ids nobody uses.
    h = bearer(keys.b)
    for taken, fresh in (("m-a", "m-fresh"), ("a-item", "i-fresh")):
        kind = "members" if taken.startswith("m-") else "items"
        bodies = [{"id": i, "name": "赵六", "org": "zjjt.zb1"} if kind == "members" else
                  {**B_ITEMS[0], "id": i} for i in (taken, fresh)]
        answers = [client.put(f"/v1/{kind}", json=[body], headers=h) for body in bodies]
        assert [(a.status_code, a.json()) for a in answers] == [(200, answers[1].json())] * 2
    # hxny's m-a and a-item are as they were.
    assert client.get("/v1/members/m-a", headers=bearer(keys.a)).json()["org"] == "hxny.fdgs.zb-yunxing"
    assert client.get("/v1/items/a-item", headers=bearer(keys.a)).json()["org"] == "hxny"


def test_a_shared_items_id_is_reserved_in_every_enterprise_and_the_refusal_says_so(world):
    client, keys, _ = world
    taken = error_of(client.put("/v1/items", json=[{**B_ITEMS[0], "id": "safety"}], headers=bearer(keys.b)), 403)
    assert "'safety' is shared by the platform" in taken["message"]
    shared = error_of(client.put("/v1/items", json=[{**SHARED_ITEMS[0], "id": "b-item"}],
                                 headers=bearer(keys.platform)), 409)
    assert "'b-item' is used by an enterprise's own item" in shared["message"]


def test_a_rejected_batch_lists_every_bad_record_and_writes_nothing(world):
    client, keys, store = world
    batch = [
        event("ok1"),
        event("bad1", kind="rate", value=9),
        event("ok2", item="history"),
        event("bad2", item="no-such-item"),
        event("bad3", member="m-b"),  # another tenant's member: unknown, as a missing one
    ]
    error = error_of(client.post("/v1/events", json=batch, headers=bearer(keys.a)), 422)
    assert [(d["index"], d["id"], d["field"]) for d in error["details"]] == [
        (1, "bad1", "value"), (3, "bad2", "item"), (4, "bad3", "member")]
    assert "nothing was written" in error["message"]
    with Engine.open(store) as engine:
        assert not [e for e in engine.events() if e.id in ("ok1", "ok2")]


def test_duplicate_ids_in_one_batch_are_rejected(world):
    client, keys, _ = world
    error = error_of(client.post("/v1/events", json=[event("d1"), event("d1")], headers=bearer(keys.a)), 422)
    detail = error["details"][0]
    assert (detail["index"], detail["id"], detail["field"]) == (1, "d1", "id")
    assert detail["message"] == "duplicate event id (an earlier record of the batch has it)"  # no 1-based position


# -- keys and tenants ------------------------------------------------------------------------------


@pytest.mark.parametrize("header", [
    None,
    "Basic dXNlcjpwYXNz",
    "Bearer",
    "Bearer not-a-key",
    "Bearer rsk_000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    "revoked",
    "tampered",
])
def test_requests_without_a_valid_key_are_401(world, header):
    client, keys, _ = world
    if header == "revoked":
        header = f"Bearer {keys.revoked}"
    elif header == "tampered":
        header = f"Bearer {keys.a[:-4]}AAAA"
    headers = {} if header is None else {"Authorization": header}
    for method, url in [("GET", "/v1/items"), ("GET", "/v1/members/m-a"), ("PUT", "/v1/items"), ("POST", "/v1/events")]:
        response = client.request(method, url, headers=headers, json=[] if method != "GET" else None)
        error = error_of(response, 401)
        assert error["code"] == "unauthorized" and response.headers["WWW-Authenticate"] == "Bearer"


def test_a_key_revoked_while_the_service_runs_stops_working(world):
    client, keys, store = world
    assert client.get("/v1/items", headers=bearer(keys.branch)).status_code == 200
    KeyRing(store / "keys.json").revoke(keys.branch)
    assert client.get("/v1/items", headers=bearer(keys.branch)).status_code == 401


# Each row: the key, the request, the status, and what the same request says for a missing id (the
# refusal must be indistinguishable from it).
CROSS_TENANT = [
    ("a", "GET", "/v1/items/b-item", None, 404),
    ("b", "GET", "/v1/items/a-item", None, 404),
    ("b", "GET", "/v1/items/a-branch-item", None, 404),
    ("a", "DELETE", "/v1/items/b-item", None, 404),
    ("b", "DELETE", "/v1/items/a-item", None, 404),
    ("a", "GET", "/v1/members/m-b", None, 404),
    ("b", "GET", "/v1/members/m-a", None, 404),
    ("branch", "GET", "/v1/members/m-a3", None, 404),  # hxny.jt is not under hxny.fdgs
    ("b", "GET", f"/v1/members/m-a/daily?day={DAY}", None, 404),
    ("b", "GET", f"/v1/members/m-a/daily?day={DAY}&format=text", None, 404),
    ("b", "GET", f"/v1/members/m-a/path?start={DAY}&days=2", None, 404),
    ("b", "GET", "/v1/items/a-item/similar", None, 404),
    ("a", "GET", "/v1/items/b-item/similar", None, 404),
    ("b", "GET", "/v1/search?q=安全&member=m-a", None, 404),
    ("b", "GET", "/v1/items/safety/similar?member=m-a", None, 404),
    ("b", "POST", "/v1/events", [event("x1", member="m-a", item="safety")], 422),
    ("a", "POST", "/v1/events", [event("x2", member="m-a", item="b-item")], 422),
    ("b", "PUT", "/v1/items", [{**B_ITEMS[0], "id": "b-2", "org": "hxny"}], 403),
    ("a", "PUT", "/v1/items", [{**A_ITEMS[0], "id": "a-2", "org": "zjjt"}], 403),
    ("branch", "PUT", "/v1/items", [{**A_ITEMS[0], "id": "a-3", "org": "hxny"}], 403),  # above the key
    ("a", "PUT", "/v1/items", [{**SHARED_ITEMS[0], "id": "s-2"}], 403),  # shared, not a platform key
    ("admin", "PUT", "/v1/items", [{**SHARED_ITEMS[0], "id": "s-3"}], 403),  # an admin key neither
    ("admin", "PUT", "/v1/items", [SHARED_ITEMS[0]], 403),  # overwrite a shared item
    ("admin", "PUT", "/v1/items", [{**SHARED_ITEMS[0], "org": "hxny"}], 403),  # claim a shared id
    ("admin", "DELETE", "/v1/items/safety", None, 403),
    ("platform", "PUT", "/v1/items", [{**A_ITEMS[0], "id": "p-1"}], 403),  # platform: shared items only
    ("platform", "PUT", "/v1/items", [{**SHARED_ITEMS[0], "id": "a-item"}], 409),  # a tenant's id
    ("platform", "GET", "/v1/items/a-item", None, 404),
    ("platform", "DELETE", "/v1/items/b-item", None, 404),
    ("a", "PUT", "/v1/items", [SHARED_ITEMS[0]], 403),  # overwrite a shared item
    ("branch", "DELETE", "/v1/items/a-item", None, 403),  # visible (owned above), not writable
    ("a", "DELETE", "/v1/items/safety", None, 403),  # shared, not a platform key
    ("a", "PUT", "/v1/members", [{"id": "m-x", "name": "赵六", "org": "zjjt.zb1"}], 403),
    ("branch", "PUT", "/v1/members", [{"id": "m-x", "name": "赵六", "org": "hxny.jt"}], 403),
]


@pytest.mark.parametrize("who,method,url,body,status", CROSS_TENANT,
                         ids=[f"{r[0]}-{r[1]}-{r[2]}" for r in CROSS_TENANT])
def test_cross_tenant_attempts_are_refused(world, who, method, url, body, status):
    client, keys, store = world
    response = client.request(method, url, json=body, headers=bearer(getattr(keys, who)))
    error = error_of(response, status)
    if status == 404:
        # Indistinguishable from an id that does not exist at all.
        hidden = url.split("member=")[1] if "member=" in url else url.split("?")[0].split("/")[3]
        missing_url = url.replace(hidden, "no-such-id")
        missing = client.request(method, missing_url, headers=bearer(getattr(keys, who)))
        assert missing.status_code == 404
        assert error == {**missing.json()["error"], "message": missing.json()["error"]["message"].replace("no-such-id", hidden)}
    if status == 422:
        assert error["message"].startswith("record 0") and "unknown" in error["message"]
    with Engine.open(store) as engine:  # nothing of the other tenant changed
        assert engine.item("b-item").org == "zjjt" and engine.item("safety").org is None
        assert engine.member("m-b").org == "zjjt.zb1" and engine.item("a-item").org == "hxny"
        assert not [e for e in engine.events() if e.id in ("x1", "x2")]


def test_search_and_similar_never_show_another_tenants_items(world):
    client, keys, _ = world
    query = {"q": B_ITEMS[0]["title"] + B_ITEMS[0]["body"], "k": 20}
    for key in (keys.a, keys.admin, keys.branch):
        found = [h["item"]["id"] for h in client.get("/v1/search", params=query, headers=bearer(key)).json()["hits"]]
        assert found and "b-item" not in found
        similar = client.get("/v1/items/safety/similar?k=20", headers=bearer(key)).json()["hits"]
        assert "b-item" not in [h["item"]["id"] for h in similar]
        listed = client.get("/v1/items?limit=500", headers=bearer(key)).json()["items"]
        assert "b-item" not in [i["id"] for i in listed]
    # The other tenant does see its own near-copy first: the filter, not the data, kept it out.
    hits = client.get("/v1/search", params=query, headers=bearer(keys.b)).json()["hits"]
    assert hits[0]["item"]["id"] == "b-item"
    assert not {"a-item", "a-branch-item"} & {h["item"]["id"] for h in hits}


def test_only_a_platform_key_writes_and_removes_shared_items(world):
    client, keys, _ = world
    item = {**SHARED_ITEMS[1], "id": "s-new"}
    assert client.put("/v1/items", json=[item], headers=bearer(keys.platform)).status_code == 200
    assert client.get("/v1/items/s-new", headers=bearer(keys.b)).json()["org"] is None  # every tenant sees it
    changed = {**item, "title": "改过的标题"}
    assert client.put("/v1/items", json=[changed], headers=bearer(keys.platform)).status_code == 200
    for key in (keys.admin, keys.a, keys.b):  # no tenant's key, admin or not, may touch it
        refused = client.put("/v1/items", json=[{**item, "org": "zjjt" if key == keys.b else "hxny"}],
                             headers=bearer(key))
        assert error_of(refused, 403)["message"] == (
            "record 0, id 's-new': item 's-new' is shared by the platform; this key may not replace it "
            "(only a platform key may); nothing was written")
        assert "platform key" in error_of(client.delete("/v1/items/s-new", headers=bearer(key)), 403)["message"]
    new_shared = error_of(client.put("/v1/items", json=[{**item, "id": "s-other"}], headers=bearer(keys.admin)), 403)
    assert "recsys keys add --platform" in new_shared["message"]
    assert client.get("/v1/items/s-new", headers=bearer(keys.b)).json()["title"] == "改过的标题"
    assert client.delete("/v1/items/s-new", headers=bearer(keys.platform)).status_code == 204
    assert client.get("/v1/items/s-new", headers=bearer(keys.b)).status_code == 404


@pytest.mark.parametrize("method,url", [
    ("GET", "/v1/members/m-a"), ("GET", f"/v1/members/m-a/daily?day={DAY}"), ("GET", "/v1/search?q=安全"),
    ("GET", "/v1/items/safety/similar"), ("GET", "/v1/coverage"), ("POST", "/v1/events"), ("PUT", "/v1/members"),
])
def test_a_platform_key_sees_no_tenant(world, method, url):
    client, keys, _ = world
    body = [] if method in ("POST", "PUT") else None
    error = error_of(client.request(method, url, json=body, headers=bearer(keys.platform)), 403)
    assert "platform key" in error["message"]


def test_a_platform_key_lists_shared_items_only(world):
    client, keys, _ = world
    listed = client.get("/v1/items?limit=500", headers=bearer(keys.platform)).json()["items"]
    assert listed and all(i["org"] is None for i in listed)
    assert {i["id"] for i in listed} >= {i["id"] for i in SHARED_ITEMS}


# -- limits and errors -----------------------------------------------------------------------------


def test_a_body_over_the_size_limit_is_413_naming_the_limit(tmp_path):
    store = tmp_path / "store"
    keys = make_keys(store / "keys.json")
    with app_client(store, max_body_bytes=4096) as client:
        big = [{**SHARED_ITEMS[0], "org": "hxny", "id": f"i{n}"} for n in range(40)]
        error = error_of(client.put("/v1/items", json=big, headers=bearer(keys.a)), 413)
        assert error["code"] == "payload_too_large" and "4096 bytes" in error["message"]
        # Streamed without a Content-Length: counted as it arrives.
        chunks = (json.dumps(big).encode()[n:n + 1000] for n in range(0, 20000, 1000))
        streamed = client.put("/v1/items", content=chunks,
                              headers={**bearer(keys.a), "Content-Type": "application/json"})
        assert "4096 bytes" in error_of(streamed, 413)["message"]
        assert client.get("/v1/items", headers=bearer(keys.a)).json()["total"] == 0
        assert client.put("/v1/items", json=big[:2], headers=bearer(keys.a)).status_code == 200


def test_headers_over_16_kib_are_431_whole_or_in_pieces(world):
    client, keys, _ = world
    big = client.get("/v1/items", headers={**bearer(keys.a), "X-Big": "x" * 100_000})
    error = error_of(big, 431)
    assert error["code"] == "request_header_fields_too_large" and "16 KiB" in error["message"]
    assert client.get("/v1/items", headers={**bearer(keys.a), "X-Fine": "x" * 8_000}).status_code == 200


def test_a_batch_over_the_record_limit_is_413_naming_the_limit(tmp_path):
    store = tmp_path / "store"
    keys = make_keys(store / "keys.json")
    with app_client(store, max_batch=3) as client:
        four = [event(f"e{n}") for n in range(4)]
        error = error_of(client.post("/v1/events", json=four, headers=bearer(keys.a)), 413)
        assert "limit is 3" in error["message"] and "4 records" in error["message"]
        members = [{"id": f"m{n}", "name": "党员", "org": "hxny"} for n in range(4)]
        assert "limit is 3" in error_of(client.put("/v1/members", json=members, headers=bearer(keys.a)), 413)["message"]
        assert client.put("/v1/members", json=members[:3], headers=bearer(keys.a)).status_code == 200
        # Unauthenticated callers learn nothing about limits.
        assert client.post("/v1/events", json=four).status_code == 401


@pytest.mark.parametrize("url,field", [
    ("/v1/search?q=安全&k=0", "k"),
    ("/v1/search?q=安全&k=abc", "k"),
    ("/v1/search?k=3", "q"),
    ("/v1/search?q=%20%20", "q"),
    ("/v1/items?limit=0", "limit"),
    ("/v1/items?offset=-1", "offset"),
    ("/v1/items/a-item/similar?k=101", "k"),
    ("/v1/members/m-a/daily?day=2026-13-01", "day"),
    ("/v1/members/m-a/daily?day=9999-12-31", "day"),
    ("/v1/members/m-a/daily?minutes=0", "minutes"),
    ("/v1/members/m-a/daily?minutes=1441", "minutes"),
    ("/v1/members/m-a/daily?format=xml", "format"),
    ("/v1/members/m-a/path?days=0", "days"),
    ("/v1/members/m-a/path?days=32", "days"),
    ("/v1/members/m-a/path?start=yesterday", "start"),
    ("/v1/members/bad%20id!", "member_id"),
])
def test_bad_parameters_are_422_naming_the_field(world, url, field):
    client, keys, _ = world
    error = error_of(client.get(url, headers=bearer(keys.a)), 422)
    assert error["code"] == "validation_error"
    assert [d["field"] for d in error["details"]] == [field]
    assert field in error["message"]


@pytest.mark.parametrize("record,field", [
    ({"title": "标题", "kind": "article", "minutes": 5, "published": "2026-01-01"}, "id"),
    ({"id": "x", "title": "   ", "kind": "article", "minutes": 5, "published": "2026-01-01"}, "title"),
    ({"id": "x", "title": "标题", "kind": "podcast", "minutes": 5, "published": "2026-01-01"}, "kind"),
    ({"id": "x", "title": "标题", "kind": "article", "minutes": "5", "published": "2026-01-01"}, "minutes"),
    ({"id": "x", "title": "标题", "kind": "article", "minutes": True, "published": "2026-01-01"}, "minutes"),
    ({"id": "x", "title": "标题", "kind": "article", "minutes": 5, "published": "0001-01-01"}, "published"),
    ({"id": "x", "title": "标题", "kind": "article", "minutes": 5, "published": "2026-01-01", "colour": "红"}, "colour"),
    ({"id": "x", "title": "标题", "kind": "article", "minutes": 5, "published": "2026-01-01",
      "expires": "2025-01-01"}, "expires"),
    ({"id": "x", "title": "标题", "kind": "activity", "minutes": 5, "published": "2026-01-01"}, "mode"),
    ({"id": "x", "title": "标题", "kind": "lecture", "mode": "offline", "minutes": 5, "published": "2026-01-01"},
     "schedule"),
    ({"id": "x", "title": "标题", "kind": "article", "minutes": 5, "published": "2026-01-01", "requires": ["x"]},
     "requires"),
    ({"id": "x", "title": "标题", "kind": "article", "minutes": 5, "published": "2026-01-01", "topics": ["a", "a"]},
     "topics"),
    ({"id": "x", "title": "标题", "kind": "lecture", "mode": "offline", "minutes": 5, "published": "2026-01-01",
      "schedule": {"starts": "2026-12-01T10:00", "ends": "2026-12-01T09:00", "location": "太原·某地"}},
     "schedule.ends"),
])
def test_bad_items_are_422_naming_the_field(world, record, field):
    client, keys, _ = world
    body = [{**A_ITEMS[0], "id": "fine"}, {"org": "hxny", **record}]
    error = error_of(client.put("/v1/items", json=body, headers=bearer(keys.a)), 422)
    assert error["details"][0]["index"] == 1 and error["details"][0]["field"] == field
    assert f"field '{field}'" in error["message"] and "nothing was written" in error["message"]
    assert error_of(client.get("/v1/items/fine", headers=bearer(keys.a)), 404)


@pytest.mark.parametrize("body,content_type,field", [
    (b'[{"id": "e1",', "application/json", "body"),
    (b'{"id": "e1"}', "application/json", "body"),
    (b"", "application/json", "body"),
    (b'[{"member": "m-a", "item": "safety", "kind": "rate", "value": NaN, "at": "2026-11-20T20:00:00"}]',
     "application/json", "value"),
    (b'[{"member": "m-a", "item": "safety", "kind": "complete", "at": "the day before"}]', "application/json", "at"),
    (b'[{"member": "m-a", "item": "safety", "kind": "complete", "at": "2026-11-20T20:00:00"}]', "text/plain", "body"),
])
def test_malformed_bodies_are_422_naming_the_field(world, body, content_type, field):
    client, keys, _ = world
    response = client.post("/v1/events", content=body, headers={**bearer(keys.a), "Content-Type": content_type})
    error = error_of(response, 422)
    assert error["details"][0]["field"] == field, error


def test_unknown_ids_and_endpoints_are_404(world):
    client, keys, _ = world
    h = bearer(keys.a)
    for url in ["/v1/members/nobody", "/v1/members/nobody/daily", "/v1/members/nobody/path",
                "/v1/items/nothing", "/v1/items/nothing/similar", "/v1/search?q=安全&member=nobody"]:
        assert error_of(client.get(url, headers=h), 404)["code"] == "not_found"
    assert "no such endpoint" in error_of(client.get("/v1/nothing", headers=h), 404)["message"]
    wrong = client.patch("/v1/items", headers=h)
    error = error_of(wrong, 405)
    assert error["code"] == "method_not_allowed" and error["message"].endswith("; use GET, PUT")
    assert wrong.headers["allow"] == "GET, PUT"  # the routes of included routers too
    assert client.delete("/v1/members/m-a/daily", headers=h).headers["allow"] == "GET"


def test_an_unexpected_failure_is_a_bare_500(world):
    client, keys, _ = world

    class Broken:
        def member(self, member_id):
            raise RuntimeError("secret internals at /srv/recsys")

    client.app.dependency_overrides[get_engine] = lambda: Broken()
    try:
        response = client.get("/v1/members/m-a", headers={**bearer(keys.a), "X-Request-ID": "req-7"})
    finally:
        client.app.dependency_overrides.clear()
    error = error_of(response, 500)
    assert error["code"] == "internal_error" and "req-7" in error["message"]
    assert "secret" not in response.text and "RuntimeError" not in response.text


# -- schema and set-up -------------------------------------------------------------------------------


def test_openapi_describes_every_field_with_chinese_examples(world):
    client, _, _ = world
    schema = client.get("/openapi.json").json()
    assert set(schema["paths"]) == {
        "/v1/items", "/v1/items/{item_id}", "/v1/items/{item_id}/similar", "/v1/members",
        "/v1/members/{member_id}", "/v1/members/{member_id}/daily", "/v1/members/{member_id}/path",
        "/v1/events", "/v1/search", "/health/live", "/health/ready", "/metrics",
        "/v1/coverage", "/coverage",
        "/v1/members/{member_id}/progress", "/v1/orgs/{org}/progress", "/v1/alerts", "/v1/content-feedback",
        "/v1/credits", "/v1/orgs/{org}/digest", "/v1/orgs",
        "/v1/members/{member_id}/token", "/v1/members/{member_id}/page", "/v1/members/{member_id}/events",
        "/v1/members/{member_id}/enrolments/{item_id}", "/v1/members/{member_id}/quizzes/{item_id}", "/m",
    }
    assert schema["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
    undescribed = [
        f"{name}.{prop}" for name, model in schema["components"]["schemas"].items()
        for prop, spec in model.get("properties", {}).items() if not spec.get("description")
    ]
    assert undescribed == []
    for path, operations in schema["paths"].items():
        for method, op in operations.items():
            assert op.get("summary") and op.get("description"), (method, path)
            assert all(p.get("description") for p in op.get("parameters", [])), (method, path)
            if path.startswith("/v1"):
                # The member's own routes take a member token too.
                member_route = MEMBER_ROUTES.match(path.replace("{member_id}", "m").replace("{item_id}", "i"))
                assert op["security"] == ([{"memberToken": []}, {"apiKey": []}] if member_route else [{"apiKey": []}]), path
                assert {"401", "422"} <= set(op["responses"]), (method, path)
    text = json.dumps(schema, ensure_ascii=False)
    assert "李志刚" in text and "廉洁从业" in text and "太原·山西省革命烈士陵园" in text


def test_schema_literals_match_the_library():
    assert set(typing.get_args(ItemKind)) == set(ITEM_KINDS)
    assert set(typing.get_args(EventKind)) == set(EVENT_KINDS)
    assert set(typing.get_args(Situation)) == set(SITUATIONS)


def test_settings_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("RECSYS_STORE", str(tmp_path / "s"))
    monkeypatch.setenv("RECSYS_MAX_BATCH", "7")
    settings = Settings()
    assert settings.max_batch == 7 and settings.max_body_bytes == 1 << 20
    assert settings.keys_path == tmp_path / "s" / "keys.json"


def test_keys_command_adds_lists_and_revokes(tmp_path, capsys):
    store = str(tmp_path / "store")
    assert cli(["keys", "add", "hxny.fdgs", "--admin", "--store", store]) == 0
    out = capsys.readouterr().out
    key = out.strip().splitlines()[-1]  # the key comes last
    assert key.startswith("rsk_") and "hxny.fdgs" in out
    stored = (tmp_path / "store" / "keys.json").read_text()
    assert key not in stored and key.split("_", 2)[2] not in stored  # the secret may hold "_" itself
    record = KeyRing(tmp_path / "store" / "keys.json").authenticate(key)
    assert record.org == "hxny.fdgs" and record.admin

    assert cli(["keys", "list", "--store", store, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed == [{"id": record.id, "org": "hxny.fdgs", "admin": True, "created": record.created, "revoked": None}]

    assert cli(["keys", "revoke", key, "--store", store]) == 0
    assert KeyRing(tmp_path / "store" / "keys.json").authenticate(key) is None
    cli(["keys", "add", "zjjt", "--store", store])
    other = capsys.readouterr().out.strip().splitlines()[-1]
    other_id = other.split("_")[1]
    assert cli(["keys", "revoke", other_id, "--store", store]) == 0  # by its public id
    capsys.readouterr()
    assert cli(["keys", "list", "--store", store]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and all("revoked" in line for line in lines)
    assert cli(["keys", "revoke", "nope", "--store", store]) == 2
    assert cli(["keys", "add", "bad org!", "--store", store]) == 2


def test_keys_command_makes_a_platform_key_with_no_organisation(tmp_path, capsys):
    store = str(tmp_path / "store")
    assert cli(["keys", "add", "--platform", "--store", store]) == 0
    out = capsys.readouterr().out
    record = KeyRing(tmp_path / "store" / "keys.json").authenticate(out.strip().splitlines()[-1])
    assert record.org is None and record.platform and not record.admin and "platform key" in out
    assert cli(["keys", "list", "--store", store]) == 0
    assert "(platform: shared items)" in capsys.readouterr().out
    for wrong in (["hxny", "--platform"], [], ["--platform", "--admin"]):  # one or the other, no admin
        assert cli(["keys", "add", *wrong, "--store", store]) == 2
        assert "platform" in capsys.readouterr().err


def test_one_engine_serves_concurrent_writes_and_reads(tmp_path):
    # The service shares one Engine between its request threads: writes change the vector index
    # in place while paths, searches and similar-item lookups read it.
    engine = Engine.open(tmp_path / "store", encoder="tfidf")
    engine.add_items(SHARED_ITEMS + A_ITEMS)
    engine.upsert_members(A_MEMBERS)
    failures, stop = [], threading.Event()

    def write():
        for n in itertools.count():
            if stop.is_set():
                return
            engine.add_items([{**A_ITEMS[0], "id": f"w{n % 40}", "title": f"数字化转型第{n}讲"}])
            with contextlib.suppress(NotFoundError):
                engine.remove_item(f"w{(n + 13) % 40}")

    def read(call):
        while not stop.is_set():
            try:
                call()
            except Exception as exc:  # noqa: BLE001 - any failure is what this test looks for
                failures.append(repr(exc))
                return

    threads = [threading.Thread(target=write)] + [
        threading.Thread(target=read, args=(call,)) for call in (
            lambda: engine.path("m-a", start=DAY, days=2),
            lambda: engine.search("数字化转型 安全生产", 5, org="hxny"),
            lambda: engine.similar("safety", 5, member="m-a", org="hxny"),
        )
    ]
    for t in threads:
        t.start()
    time.sleep(4)
    stop.set()
    for t in threads:
        t.join()
    engine.close()
    assert failures == []


def test_a_roster_sync_has_the_collaborative_model_built_beside_the_requests(tmp_path, monkeypatch):
    """The service plans with the model the store keeps and builds the next one on a thread of
    its own (Engine.open(background_models=True)): no request builds it."""
    from recsys.pipeline.collaborative import CollaborativeModel

    fit, builders = CollaborativeModel.fit, []

    def noted(self, *args, **kwargs):
        builders.append(threading.current_thread().name)
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(CollaborativeModel, "fit", noted)
    with app_client(tmp_path / "store") as client:
        keys = make_keys(tmp_path / "store" / "keys.json")
        seed(client, keys)
        assert client.get(f"/v1/members/m-a/daily?day={DAY}", headers=bearer(keys.a)).status_code == 200
        builders.clear()  # the store's first model: built by the first list, and kept
        added = client.put("/v1/members", json=[{"id": "m-new", "name": "新党员", "org": "hxny.jt"}],
                           headers=bearer(keys.admin))
        assert added.status_code == 200, added.text
        assert client.get(f"/v1/members/m-a2/daily?day={DAY}", headers=bearer(keys.a)).status_code == 200
        client.app.state.engine.tenant("hxny")._world.settle()
        assert builders and all(name.startswith("recsys-background") for name in builders)
