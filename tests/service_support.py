"""A small two-tenant world for the HTTP service tests, and a real ``recsys serve`` process.

Tenants: ``hxny`` (an energy group, with a branch ``hxny.fdgs.zb-yunxing``) and ``zjjt`` (another
enterprise). Shared items are the five conftest samples; each tenant owns an item, and zjjt's is
a near-copy of a shared one, so a search that leaked across tenants would find it first.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from factories import SAMPLE
from service import Settings, create_app
from service.keys import KeyRing

REPO = Path(__file__).resolve().parents[1]

SHARED_ITEMS = [
    {"id": id_, "title": title, "body": body, "kind": "article", "minutes": 10, "topics": list(topics),
     "published": "2026-01-01"}
    for id_, title, body, topics in SAMPLE
]
A_ITEMS = [
    {"id": "a-item", "title": "华能新能源数字化转型实践", "body": "智慧电厂建设，集控中心远程监盘，无人机巡检风机叶片。",
     "kind": "case", "minutes": 15, "topics": ["数字化转型"], "published": "2026-02-01", "org": "hxny"},
    {"id": "a-branch-item", "title": "运行支部安全生产交底", "body": "倒闸操作票制度，两票三制，防止误操作。",
     "kind": "lecture", "minutes": 20, "topics": ["安全生产"], "published": "2026-02-01",
     "org": "hxny.fdgs.zb-yunxing"},
]
B_ITEMS = [
    {"id": "b-item", "title": "安全生产月活动要点", "body": "开展隐患排查治理，落实安全生产责任制，有限空间作业先通风、再检测、后作业。浙江",
     "kind": "article", "minutes": 10, "topics": ["安全生产"], "published": "2026-01-01", "org": "zjjt"},
]
A_MEMBERS = [
    {"id": "m-a", "name": "张伟", "org": "hxny.fdgs.zb-yunxing", "roles": ["member", "frontline"],
     "interests": ["安全生产"], "daily_minutes": 30, "location": "太原", "joined": "2010-07-01"},
    {"id": "m-a2", "name": "李娜", "org": "hxny.fdgs.zb-yunxing", "roles": ["member", "branch_secretary"],
     "daily_minutes": 40},
    {"id": "m-a3", "name": "王强", "org": "hxny.jt", "roles": ["member"], "daily_minutes": 20},
]
B_MEMBERS = [
    {"id": "m-b", "name": "陈静", "org": "zjjt.zb1", "roles": ["member"], "daily_minutes": 30},
]



def quiz_item(id_: str, *, org: str | None = "hxny", minutes: int = 3) -> dict:
    """A short quiz with a single-choice, a multiple-choice and a fill-in question (right answers:
    A, AC and 提高质量); no seeded item is as short, so a day of its minutes holds it alone."""
    return {
        "id": id_, "title": "答题：党的基本知识", "body": "三道题，检验党的基本知识。", "kind": "quiz", "minutes": minutes,
        "topics": ["党史"], "published": "2026-01-01", "org": org,
        "questions": [
            {"id": "1", "type": "single", "question": "中国共产党第一次全国代表大会在（）召开。",
             "options": [{"key": "A", "text": "上海"}, {"key": "B", "text": "北京"}], "answer": "A"},
            {"id": "2", "type": "multiple", "question": "以下关于党和国家的秘密说法正确的有（）。",
             "options": [{"key": "A", "text": "关系到安全和利益"}, {"key": "B", "text": "可以随意公开"},
                         {"key": "C", "text": "只限一定范围内人员知晓"}], "answer": "AC"},
            {"id": "3", "type": "blank", "question": "发展党员工作的总要求是控制总量、优化结构、（）、发挥作用。",
             "answer": "提高质量"},
        ],
    }

@dataclass
class Keys:
    """API keys of the world: ``admin`` (hxny, admin), ``a`` (hxny), ``branch`` (hxny.fdgs),
    ``b`` (zjjt), ``revoked`` (hxny, revoked), ``platform`` (no organisation: shared items)."""

    admin: str
    a: str
    branch: str
    b: str
    revoked: str
    platform: str


def make_keys(keys_file: Path) -> Keys:
    ring = KeyRing(keys_file)
    keys = Keys(
        admin=ring.add("hxny", admin=True)[1],
        a=ring.add("hxny")[1],
        branch=ring.add("hxny.fdgs")[1],
        b=ring.add("zjjt")[1],
        revoked=ring.add("hxny")[1],
        platform=ring.add(None)[1],
    )
    ring.revoke(keys.revoked)
    return keys


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def seed(client: httpx.Client | TestClient, keys: Keys) -> None:
    """Write the world through the API, as a portal would."""
    for key, path, body in [
        (keys.platform, "/v1/items", SHARED_ITEMS),
        (keys.admin, "/v1/items", A_ITEMS),
        (keys.b, "/v1/items", B_ITEMS),
        (keys.a, "/v1/members", A_MEMBERS),
        (keys.b, "/v1/members", B_MEMBERS),
    ]:
        response = client.put(path, json=body, headers=bearer(key))
        assert response.status_code == 200, response.text


def wait_ready(client: httpx.Client | TestClient, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.TransportError):
            if client.get("/health/ready").status_code == 200:
                return
        time.sleep(0.05)
    raise TimeoutError("the service did not become ready")


@contextlib.contextmanager
def app_client(store: Path, **settings) -> Iterator[TestClient]:
    """A TestClient on a fresh app over ``store`` (tfidf), started and ready."""
    app = create_app(Settings(store=store, encoder="tfidf", **settings))
    with TestClient(app) as client:
        wait_ready(client)
        yield client


@contextlib.contextmanager
def seeded_client(store: Path) -> Iterator[tuple[TestClient, Keys]]:
    """A started app over ``store`` seeded with the two-tenant world: ``(client, keys)``."""
    keys = make_keys(store / "keys.json")
    with app_client(store) as client:
        seed(client, keys)
        yield client, keys


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """``python -m recsys serve`` on a loopback port, in its own process group.

    Args:
        store: The store folder (tfidf).
        workers: Uvicorn worker processes.
        log: File receiving the server's output.
    """

    def __init__(self, store: Path, *, workers: int = 1, log: Path) -> None:
        self.store = store
        self.workers = workers
        self.log = log
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 90) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "recsys", "serve", "--store", str(self.store), "--encoder", "tfidf",
                 "--port", str(self.port), "--workers", str(self.workers), "--log-level", "warning"],
                cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                env={**os.environ, "HF_HUB_OFFLINE": "1"},
            )
        deadline = time.monotonic() + timeout
        with httpx.Client(base_url=self.url, timeout=5) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"recsys serve exited with {self.process.returncode}: {self.log.read_text()[-2000:]}")
                with contextlib.suppress(httpx.TransportError):
                    if client.get("/health/ready").status_code == 200:
                        return
                time.sleep(0.1)
        self.kill()
        raise TimeoutError(f"recsys serve did not become ready: {self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        """kill -9 the server and its workers: no shutdown code runs."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        self.process = None

    def stop(self) -> None:
        """Stop the server as an operator would (SIGTERM), killing it if it hangs."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        self.process = None


def upcoming_activity(id_: str, *, capacity: int | None, days_ahead: int = 3, org: str | None = "hxny",
                      title: str = "参观太原解放纪念馆现场教学") -> dict:
    """An offline activity in Taiyuan ``days_ahead`` days from now (enrolment checks the clock),
    for members of ``org``."""
    import datetime as dt

    from recsys.records import TZ

    starts = (dt.datetime.now(TZ) + dt.timedelta(days=days_ahead)).replace(hour=9, minute=0, second=0, microsecond=0)
    return {"id": id_, "title": title, "body": "重温革命历史，接受红色教育，现场讲解太原战役。", "kind": "activity",
            "mode": "offline", "minutes": 120, "topics": ["党史"], "published": "2026-01-01", "org": org,
            "schedule": {"starts": starts.isoformat(), "ends": (starts + dt.timedelta(hours=3)).isoformat(),
                         "location": "太原·太原解放纪念馆", "capacity": capacity}}


#: Debian's Chromium, as the browser tests drive it (Playwright), with nothing phoning home.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@contextlib.contextmanager
def chromium() -> Iterator:
    """Headless Chromium under Playwright, closed on exit."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextlib.contextmanager
def seeded_live_server(folder: Path) -> Iterator[tuple[LiveServer, Keys, httpx.Client]]:
    """A live ``recsys serve`` over a store in ``folder`` seeded with the two-tenant world:
    ``(server, keys, client)``, the client bound to the server; stopped on exit."""
    store = folder / "store"
    store.mkdir()
    keys = make_keys(store / "keys.json")
    live = LiveServer(store, log=folder / "server.log")
    live.start()
    try:
        with httpx.Client(base_url=live.url, timeout=60) as client:
            seed(client, keys)
            yield live, keys, client
    finally:
        live.stop()
