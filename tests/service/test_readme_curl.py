"""The README's curl examples, run in order as written against a real ``recsys serve`` over the
sample corpus: each must answer 2xx (or the status its comment names)."""

from __future__ import annotations

import re
import subprocess

import pytest

from corpus import DATA
from recsys import Engine
from recsys.ingest.loaders import read_events, read_items, read_members
from service.keys import KeyRing
from service_support import REPO, LiveServer


def _examples() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```sh\n(API=http[^\n]*\n)(.*?)```", text, re.S)
    assert block, "the README's HTTP examples start with API=http..."
    return block.group(2)


@pytest.mark.slow
def test_the_readme_curl_examples_run_in_order(tmp_path):
    store = tmp_path / "store"
    with Engine.open(store, encoder="tfidf") as engine:
        engine.add_items([it for path in sorted(DATA.glob("items-*.jsonl")) for it in read_items(path)])
        engine.upsert_members(read_members(DATA / "members.jsonl"))
        engine.record(read_events(DATA / "events.jsonl"))
    _, key = KeyRing(store / "keys.json").add("hxny", admin=True)
    server = LiveServer(store, log=tmp_path / "server.log")
    server.start()
    try:
        # Every curl fails the script on an HTTP error, and says which command it was.
        script = ("set -euo pipefail\n"
                  'curl() { command curl -sS --fail-with-body "$@" > /dev/null || { echo "FAILED: curl $*"; return 1; }; }\n'
                  + _examples())
        done = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=600,
                              env={"PATH": "/usr/bin:/bin", "API": server.url, "AUTH": f"Authorization: Bearer {key}",
                                   "JSON": "Content-Type: application/json"})
    finally:
        server.stop()
    assert done.returncode == 0, done.stdout + done.stderr
