"""The member's page and the portal widget in a real browser: Debian's headless Chromium, driven
by Playwright, against a live ``recsys serve`` on loopback.

Every request the browser makes is recorded, and anything not bound for the service (or, for the
widget, the test portal on another loopback port) is aborted and fails the test: the page must
not reach a CDN or the internet. Screenshots go to pytest's ``tmp_path``.
"""

from __future__ import annotations

import datetime as dt
import functools
import http.server
import json
import os
import subprocess
import sys
import threading
from urllib.parse import urlsplit

import httpx
import pytest

from recsys import Engine
from recsys.storage import open_store
from recsys.tokens import MemberTokens
from service_support import REPO, bearer, chromium, free_port, quiz_item, seeded_live_server, upcoming_activity

FULL, OPEN = "act-full", "act-open"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A live service over the two-tenant world plus two activities in Taiyuan three days ahead:
    one with a single seat, one with five."""
    with seeded_live_server(tmp_path_factory.mktemp("member-page")) as (live, keys, client):
        activities = [upcoming_activity(FULL, capacity=1, days_ahead=3, title="参观太原解放纪念馆现场教学"),
                      upcoming_activity(OPEN, capacity=5, days_ahead=4, title="重温入党誓词主题党日活动")]
        r = client.put("/v1/items", json=activities, headers=bearer(keys.admin))
        assert r.status_code == 200, r.text
        yield live, keys


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


def _token(live, key: str, member: str) -> str:
    r = httpx.post(f"{live.url}/v1/members/{member}/token", headers=bearer(key), timeout=60)
    assert r.status_code == 200, r.text
    return r.json()["token"]


def _api(live, method: str, path: str, key: str, **kw) -> httpx.Response:
    return httpx.request(method, f"{live.url}{path}", headers=bearer(key), timeout=60, **kw)


class Guard:
    """Records every request of a browser context and aborts those leaving the allowed origins."""

    def __init__(self, context, *origins: str) -> None:
        self.allowed = {urlsplit(o)[:2] for o in origins}
        self.seen: list[str] = []
        self.refused: list[str] = []
        context.route("**/*", self._route)

    def _route(self, route) -> None:
        url = route.request.url
        self.seen.append(url)
        if urlsplit(url)[:2] in self.allowed:
            route.continue_()
        else:
            self.refused.append(url)
            route.abort()

    def check(self) -> None:
        assert self.seen, "no request was recorded"
        assert self.refused == [], f"requests left the allowed origins: {self.refused}"


def _page(browser, width: int, height: int, *origins: str):
    context = browser.new_context(viewport={"width": width, "height": height})
    return context, context.new_page(), Guard(context, *origins)


def _member_page(live, key: str, browser, member: str, width: int = 390, height: int = 844):
    """The member's page opened with a fresh token: ``(context, page, guard)``."""
    context, page, guard = _page(browser, width, height, live.url)
    response = page.goto(f"{live.url}/m?token={_token(live, key, member)}")
    assert response.status == 200
    return context, page, guard


def _new_member(live, key: str, member: str, name: str, minutes: int) -> None:
    """A member of the test's own, so what it records changes no other test's lists."""
    record = {"id": member, "name": name, "org": "hxny.fdgs.zb-yunxing", "roles": ["member"], "daily_minutes": minutes}
    assert _api(live, "PUT", "/v1/members", key, json=[record]).status_code == 200


def _titles(page) -> list[str]:
    return page.locator("recsys-daily section.today .entry .item-title").all_inner_texts()


@pytest.mark.parametrize(("width", "height"), [(390, 844), (1280, 900)])
def test_the_page_shows_the_members_list(server, browser, tmp_path, width, height):
    live, keys = server
    context, page, guard = _member_page(live, keys.a, browser, "m-a2", width, height)
    page.locator("recsys-daily section.today .entry").first.wait_for()
    expected = _api(live, "GET", "/v1/members/m-a2/daily", keys.a).json()  # the same list, stored
    assert expected["entries"], expected
    assert _titles(page) == [e["item"]["title"] for e in expected["entries"]]
    first = page.locator("recsys-daily section.today .entry").first
    assert first.locator(".minutes").inner_text() == f"{expected['entries'][0]['item']['minutes']} 分钟"
    assert first.locator(".reasons li").first.inner_text() == expected["entries"][0]["reasons"][0]
    assert page.locator("recsys-daily h1").inner_text() == "李娜同志，您好"
    assert "学时" in page.locator("recsys-daily section.hours").inner_text()
    # The hours bar as wide as the share done (the page's policy blocks style attributes: a bar
    # drawn with one was full whatever the hours).
    hours = _api(live, "GET", "/v1/members/m-a2/progress", keys.a).json()["hours"]
    bar = page.locator("recsys-daily section.hours .bar")
    done = bar.locator(".done").evaluate("e => e.getBoundingClientRect().width") / bar.evaluate(
        "e => e.getBoundingClientRect().width")
    assert done == pytest.approx(min(hours["hours"] / hours["target"], 1), abs=0.01)
    # Nothing wider than the screen: no sideways scrolling on a phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    for button in ("开始学习", "已学完", "跳过", "不感兴趣"):
        assert first.get_by_role("button", name=button).is_visible()
        # A finger's width: 44 px at least, as phone guidelines ask (2.75em of a smaller font was 42).
        assert first.get_by_role("button", name=button).bounding_box()["height"] >= 44
    assert page.locator("recsys-daily .large-switch").bounding_box()["height"] >= 44
    page.screenshot(path=str(tmp_path / f"member-page-{width}.png"), full_page=True)
    # 大字 scales the text and is remembered.
    size = first.locator(".item-title").evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
    page.locator("recsys-daily .large-switch").click()
    larger = first.locator(".item-title").evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
    assert larger >= size * 1.3
    assert page.evaluate("localStorage.getItem('recsys-large-type')") == "1"
    page.screenshot(path=str(tmp_path / f"member-page-{width}-large.png"), full_page=True)
    assert (tmp_path / f"member-page-{width}.png").stat().st_size > 10_000
    guard.check()
    assert any(u.endswith("/static/recsys-widget.js") for u in guard.seen)
    context.close()


def test_completing_an_item_records_it_and_it_does_not_come_back(server, browser, tmp_path):
    live, keys = server
    context, page, guard = _member_page(live, keys.a, browser, "m-a")
    page.locator("recsys-daily section.today .entry").first.wait_for()
    entry = page.locator("recsys-daily section.today .entry").first
    item, title = entry.get_attribute("data-item"), entry.locator(".item-title").inner_text()
    with page.expect_response(lambda r: r.url.endswith("/v1/members/m-a/events") and r.request.method == "POST") as done:
        entry.get_by_role("button", name="已学完").click()
    assert done.value.status == 200
    page.locator("recsys-daily .msg", has_text="已记录学完").wait_for()
    assert item not in page.locator("recsys-daily section.today .entry").evaluate_all(
        "els => els.map(e => e.dataset.item)")
    # The event is in the member's records: the completion earned hours for that item.
    progress = _api(live, "GET", "/v1/members/m-a/progress", keys.a).json()
    assert item in [e["item"] for e in progress["hours"]["entries"]]
    # And the item does not come back: not on a reload, not in the list a portal gets.
    page.reload()
    page.locator("recsys-daily h1", has_text="同志").wait_for()
    page.locator("recsys-daily section.today").wait_for()
    assert title not in _titles(page)
    assert item not in [e["item"]["id"] for e in _api(live, "GET", "/v1/members/m-a/daily", keys.a).json()["entries"]]
    page.screenshot(path=str(tmp_path / "member-page-after-complete.png"), full_page=True)
    guard.check()
    context.close()


def test_an_item_taken_down_meanwhile_is_said_so_and_the_list_reloads(server, browser, tmp_path):
    """A refusal that trying again cannot mend (the item was taken down) reloads the list and says
    why, instead of asking the member to try again later."""
    live, keys = server
    context, page, guard = _member_page(live, keys.a, browser, "m-a2")
    page.locator("recsys-daily section.today .entry").first.wait_for()
    entry = page.locator("recsys-daily section.today .entry").first
    refused = {"error": {"message": f"unknown item {entry.get_attribute('data-item')!r}"}}
    page.route("**/v1/members/m-a2/events", lambda route: route.fulfill(
        status=422, content_type="application/json", body=json.dumps(refused)))
    with page.expect_request(lambda r: r.url.split("?")[0].endswith("/v1/members/m-a2/page")):
        entry.get_by_role("button", name="已学完").click()
    page.locator("recsys-daily .msg", has_text="这项内容已下线，列表已更新").wait_for()
    assert "请稍后再试" not in page.locator("recsys-daily .msg").inner_text()
    guard.check()
    context.close()


def test_enrolling_in_a_full_activity_shows_the_refusal(server, browser, tmp_path):
    live, keys = server
    context, page, guard = _member_page(live, keys.a, browser, "m-a")
    full = page.locator(f"recsys-daily section.activities .entry[data-item='{FULL}']")
    full.wait_for()
    assert "剩余 1 个名额" in full.inner_text()
    # Meanwhile another member takes the last seat.
    assert _api(live, "PUT", f"/v1/members/m-a2/enrolments/{FULL}", keys.a).status_code == 200
    with page.expect_response(lambda r: r.url.endswith(f"/enrolments/{FULL}")) as answer:
        full.get_by_role("button", name="报名", exact=True).click()
    assert answer.value.status == 409
    refusal = page.locator("recsys-daily .msg.error")
    refusal.wait_for()
    assert "名额已满" in refusal.inner_text()
    # The page was reloaded: the activity now says it is full, and 报名 is off.
    full.locator(".seats", has_text="名额已满").wait_for()
    assert full.get_by_role("button", name="报名", exact=True).is_disabled()
    page.screenshot(path=str(tmp_path / "member-page-full.png"), full_page=True)
    # An activity with seats: 报名 takes one, 取消报名 gives it back.
    open_ = page.locator(f"recsys-daily section.activities .entry[data-item='{OPEN}']")
    open_.get_by_role("button", name="报名", exact=True).click()
    open_.locator(".badge", has_text="已报名").wait_for()
    assert "剩余 4 个名额" in open_.inner_text()
    assert OPEN in {u["item"]["id"] for u in _api(live, "GET", "/v1/members/m-a/page", keys.a).json()["upcoming"]
                    if u["enrolled"]}
    assert "09:00" in open_.locator(".meta").inner_text()  # Beijing time, whatever the browser's zone
    open_.get_by_role("button", name="取消报名").click()
    open_.get_by_role("button", name="报名", exact=True).wait_for()
    assert "剩余 5 个名额" in open_.inner_text()
    guard.check()
    context.close()


def test_another_members_token_and_an_expired_token_are_refused(server, browser, tmp_path):
    live, keys = server
    token = _token(live, keys.a, "m-a")
    store = open_store(live.store)
    try:
        expired, _ = MemberTokens(store).issue("m-a", hours=1, now=dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=2))
    finally:
        store.close()
    context, page, guard = _page(browser, 390, 844, live.url)
    response = page.goto(f"{live.url}/m?token={expired}")
    assert response.status == 401
    assert page.locator("h1").inner_text() == "链接已失效"
    page.screenshot(path=str(tmp_path / "member-page-expired.png"), full_page=True)
    assert page.goto(f"{live.url}/m?token={token[:-2]}xx").status == 401
    page.goto(f"{live.url}/m?token={token}")
    page.locator("recsys-daily h1", has_text="张伟").wait_for()
    # From the member's own page, the token reads nothing of another member's.
    statuses = page.evaluate("""async ([token, expired]) => {
        const get = (m, t) => fetch('/v1/members/' + m + '/page', {headers: {Authorization: 'Bearer ' + t}})
            .then(r => r.status);
        return [await get('m-a', token), await get('m-a2', token), await get('m-b', token), await get('m-a', expired)];
    }""", [token, expired])
    assert statuses == [200, 404, 404, 401]
    guard.check()
    context.close()


@pytest.fixture
def portal(tmp_path):
    """A plain portal page server on another loopback port."""
    root = tmp_path / "portal"
    root.mkdir()
    port = free_port()
    handler = functools.partial(_QuietHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{port}"
    finally:
        httpd.shutdown()
        httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def test_the_widget_renders_inside_a_portal_page_on_another_origin(server, browser, portal, tmp_path):
    live, keys = server
    root, portal_url = portal
    token = _token(live, keys.a, "m-a3")
    (root / "index.html").write_text(f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>党建门户</title>
<script src="{live.url}/static/recsys-widget.js" defer></script></head>
<body><h1>集团党建门户</h1>
<recsys-daily token="{token}" base="{live.url}"></recsys-daily>
<iframe id="framed" title="每日学习" src="{live.url}/m?token={token}" style="width:390px;height:700px;border:0"></iframe>
</body></html>""", encoding="utf-8")
    context, page, guard = _page(browser, 1280, 900, live.url, portal_url)
    page.goto(f"{portal_url}/index.html")
    page.locator("recsys-daily section.today .entry").first.wait_for()
    expected = _api(live, "GET", "/v1/members/m-a3/daily", keys.a).json()
    assert _titles(page) == [e["item"]["title"] for e in expected["entries"]]
    # The widget's list view: no activities or hours, a link to the full page instead.
    assert page.locator("recsys-daily section.activities").count() == 0
    # Buttons work across origins, with the token (CORS): skip the first item.
    entry = page.locator("recsys-daily section.today .entry").first
    skipped = entry.get_attribute("data-item")
    with page.expect_response(lambda r: r.url.endswith("/v1/members/m-a3/events")) as answer:
        entry.get_by_role("button", name="跳过").click()
    assert answer.value.status == 200
    page.locator("recsys-daily .msg", has_text="已跳过").wait_for()
    # The iframe way shows the full page.
    frame = page.frame_locator("#framed")
    frame.locator("recsys-daily section.today h2").wait_for()
    assert frame.locator("recsys-daily section.hours").count() == 1
    page.screenshot(path=str(tmp_path / "portal-widget.png"), full_page=True)
    guard.check()
    assert any(urlsplit(u)[:2] == urlsplit(live.url)[:2] and "/v1/members/m-a3/events" in u for u in guard.seen)
    assert skipped
    context.close()


def test_the_page_renders_offline_from_the_library(server, browser, tmp_path):
    live, keys = server
    out = tmp_path / "page.html"
    done = subprocess.run(
        [sys.executable, "-m", "recsys", "page", "m-a2", "--html", str(out), "--store", str(live.store)],
        cwd=REPO, capture_output=True, text=True, timeout=120, env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert done.returncode == 0, done.stderr
    assert "李娜" in done.stdout and str(out) in done.stdout
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(out.as_uri())
    page.locator("recsys-daily section.today h2").wait_for()
    expected = _api(live, "GET", "/v1/members/m-a2/daily", keys.a, params={"preview": "true"}).json()
    assert _titles(page) == [e["item"]["title"] for e in expected["entries"]]
    assert page.locator("recsys-daily section.hours").count() == 1
    assert page.locator("recsys-daily button[data-kind='complete']").first.is_disabled()
    assert "离线预览" in page.locator("recsys-daily .msg").first.inner_text()
    assert requests == [out.as_uri()]  # the file alone: no script, style or font fetched
    page.screenshot(path=str(tmp_path / "member-page-offline.png"), full_page=True)
    context.close()
    # A viewer that runs no script (a chat app's file viewer) shows the same list, plainly.
    plain = browser.new_context(viewport={"width": 390, "height": 844}, java_script_enabled=False)
    still = plain.new_page()
    still.goto(out.as_uri())
    assert still.locator("ol li strong").all_inner_texts() == [f"《{e['item']['title']}》" for e in expected["entries"]]
    assert "每日学习" in still.locator("h1").inner_text()
    plain.close()


def test_the_page_says_the_day_is_done_once_its_minutes_are_studied(server, browser):
    live, keys = server
    _new_member(live, keys.a, "m-a9", "王强", 20)
    context, page, guard = _member_page(live, keys.a, browser, "m-a9")
    page.locator("recsys-daily section.today .entry").first.wait_for()
    assert "今日安排" in page.locator("recsys-daily .head .sub").inner_text()
    assert page.locator("recsys-daily .msg.done").count() == 0
    # The member finishes the day's items (recorded now, as the page's buttons record them).
    studied = 0
    while studied < 20:
        doc = _api(live, "GET", "/v1/members/m-a9/page", keys.a).json()
        assert doc["entries"], doc
        now = dt.datetime.now(dt.timezone.utc).isoformat()
        done = [{"member": "m-a9", "item": e["item"]["id"], "kind": "complete", "at": now} for e in doc["entries"]]
        assert _api(live, "POST", "/v1/events", keys.a, json=done).status_code == 200
        studied += sum(e["item"]["minutes"] for e in doc["entries"])
    page.reload()
    page.locator("recsys-daily .msg.done", has_text="今天的学习已经完成").wait_for()
    assert f"今日已学 {studied} 分钟（每日 20 分钟）" in page.locator("recsys-daily .head .sub").inner_text()
    guard.check()
    context.close()


def test_a_weak_network_shows_loading_and_a_retry_records_the_event_once(server, browser):
    live, keys = server
    _new_member(live, keys.a, "m-a8", "赵敏", 30)
    context, page, guard = _page(browser, 390, 844, live.url)
    held: list = []
    # The first load hangs until released: the page says it is loading, not a blank screen.
    page.route("**/v1/members/m-a8/page", lambda route: held.append(route))
    page.goto(f"{live.url}/m?token={_token(live, keys.a, 'm-a8')}")
    page.locator("recsys-daily .msg", has_text="正在加载").wait_for()
    held[0].abort()  # the network fails: 重试 loads the page again, and the error goes
    page.unroute("**/v1/members/m-a8/page")
    page.locator("recsys-daily .msg.error .retry").click()
    page.locator("recsys-daily section.today .entry").first.wait_for()
    assert page.locator("recsys-daily .msg.error").count() == 0
    entry = page.locator("recsys-daily section.today .entry").first
    item = entry.get_attribute("data-item")
    # The answer to 已学完 is lost (the request did reach the service): the page offers 重试,
    # which sends the same event again, recorded once.
    sent: list[dict] = []

    def lose_answer(route):
        sent.append(json.loads(route.request.post_data)[0])
        route.fetch()
        route.abort()

    page.route("**/v1/members/m-a8/events", lose_answer)
    entry.get_by_role("button", name="已学完").click()
    page.locator("recsys-daily .msg.error", has_text="网络连接失败").wait_for()
    page.unroute("**/v1/members/m-a8/events")
    with page.expect_request(lambda r: r.url.endswith("/v1/members/m-a8/events")) as again:
        page.locator("recsys-daily .msg .retry").click()
    assert json.loads(again.value.post_data)[0] == sent[0] and sent[0]["id"]
    page.locator("recsys-daily .msg", has_text="已记录学完").wait_for()
    events = _api(live, "GET", "/v1/members/m-a8/events", keys.a).json()["events"]
    assert [e["item"] for e in events if e["kind"] == "complete"] == [item]
    guard.check()
    context.close()


def test_an_item_without_a_link_is_read_on_the_page(server, browser):
    live, keys = server
    _new_member(live, keys.a, "m-a7", "孙丽", 60)
    doc = _api(live, "GET", "/v1/members/m-a7/page", keys.a).json()
    unlinked = next(e["item"] for e in doc["entries"] if not e["item"]["url"] and e["item"]["body"])
    context, page, guard = _member_page(live, keys.a, browser, "m-a7")
    entry = page.locator(f"recsys-daily section.today .entry[data-item='{unlinked['id']}']")
    entry.wait_for()
    assert entry.locator(".body").count() == 0
    with page.expect_response(lambda r: r.url.endswith("/v1/members/m-a7/events")):
        entry.get_by_role("button", name="开始学习").click()
    # Nothing to open in the portal: the text shows under the title, to read there and then.
    body = page.locator(f"recsys-daily section.today .entry[data-item='{unlinked['id']}'] .body")
    body.wait_for()
    first = unlinked["body"].split("\n")[0].strip()
    assert first[:20] in body.inner_text()
    guard.check()
    context.close()


def test_an_activity_on_the_pages_day_is_marked_today(server, browser, tmp_path):
    from recsys.records import TZ

    live, keys = server
    assert _api(live, "PUT", f"/v1/members/m-a/enrolments/{OPEN}", keys.a).status_code == 200
    day = (dt.datetime.now(TZ) + dt.timedelta(days=4)).date()  # the day of OPEN, which m-a signed up for
    out = tmp_path / "page.html"
    done = subprocess.run(
        [sys.executable, "-m", "recsys", "page", "m-a", "--html", str(out), "--day", day.isoformat(),
         "--store", str(live.store)],
        cwd=REPO, capture_output=True, text=True, timeout=120, env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert done.returncode == 0, done.stderr
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(out.as_uri())
    activity = page.locator(f"recsys-daily section.activities .entry[data-item='{OPEN}']")
    activity.wait_for()
    # Longer than the day's minutes, it stands with the activities, marked as today's.
    assert activity.locator(".item-title .badge").inner_text() == "今天"
    assert page.locator("recsys-daily section.activities .item-title .badge").count() == 1
    context.close()


def test_a_quiz_is_answered_on_the_page_and_scored_by_the_server(server, browser, tmp_path):
    live, keys = server
    # The branch's own quiz, so no other test's member is offered it; a day of three minutes holds it alone.
    branch = "hxny.fdgs.zb-dati"
    assert _api(live, "PUT", "/v1/items", keys.admin, json=[quiz_item("quiz-p", org=branch)]).status_code == 200
    member = {"id": "m-q", "name": "刘洋", "org": branch, "roles": ["member"], "daily_minutes": 3}
    assert _api(live, "PUT", "/v1/members", keys.a, json=[member]).status_code == 200
    context, page, guard = _member_page(live, keys.a, browser, "m-q")
    entry = page.locator("recsys-daily section.today .entry[data-item='quiz-p']")
    entry.wait_for()
    assert entry.get_by_role("button", name="已学完").count() == 0  # answering completes it
    with page.expect_response(lambda r: r.url.endswith("/v1/members/m-q/events")):
        entry.get_by_role("button", name="开始答题").click()
    form = page.locator("recsys-daily section.today .entry[data-item='quiz-p'] form.quiz")
    form.wait_for()
    form.get_by_label("A. 上海").check()
    # A question left blank is asked for, not sent: sent, the quiz would be scored and done.
    form.get_by_role("button", name="提交答案").click()
    page.locator("recsys-daily .msg.error", has_text="还有第 2、3 题未作答").wait_for()
    form = page.locator("recsys-daily section.today .entry[data-item='quiz-p'] form.quiz")
    assert form.get_by_label("A. 上海").is_checked()  # what was chosen stays
    form.get_by_label("A. 关系到安全和利益").check()  # C left out: the second is answered wrong
    form.get_by_label("第 3 题答案").fill("提高质量")
    page.screenshot(path=str(tmp_path / "quiz.png"), full_page=True)
    with page.expect_response(lambda r: r.url.endswith("/v1/members/m-q/quizzes/quiz-p")) as answered:
        form.get_by_role("button", name="提交答案").click()
    assert answered.value.status == 200
    message = page.locator("recsys-daily .msg", has_text="答对 2 / 3 题")
    message.wait_for()
    assert "第 2 题：AC" in message.inner_text()
    # Done: the quiz leaves the list, and the member's record holds its score.
    page.locator("recsys-daily section.today .entry[data-item='quiz-p']").wait_for(state="detached")
    events = _api(live, "GET", "/v1/members/m-q/events", keys.a).json()["events"]
    assert [(e["item"], round(e["value"], 3)) for e in events if e["kind"] == "quiz"] == [("quiz-p", 0.667)]
    guard.check()
    context.close()
