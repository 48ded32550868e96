"""The command line at its edges: several files are one write (all or nothing, even killed), bad
input of every kind is exit 2 with file, line and field and never a traceback, read commands
never create a store, and a conflicting event is named by file and line.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from recsys import Engine
from recsys_cli import main

REPO = Path(__file__).resolve().parents[2]
ITEM = {"id": "a1", "title": "学习党章", "body": "逐条学习党章。", "kind": "article", "minutes": 10,
        "topics": ["党史"], "published": "2026-01-01"}


def jsonl(path: Path, records: list[dict]) -> str:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return str(path)


def items(prefix: str, n: int) -> list[dict]:
    return [{**ITEM, "id": f"{prefix}{k}", "title": f"第{k}课：{prefix}专题学习", "body": f"{prefix}内容{k}。" * 20}
            for k in range(n)]


def item_count(store: Path) -> int:
    if not (store / "recsys.sqlite").exists():
        return 0
    with sqlite3.connect(store / "recsys.sqlite") as db:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        return db.execute("SELECT count(*) FROM items").fetchone()[0] if "items" in tables else 0


def test_the_files_of_one_ingest_are_one_write(tmp_path, capsys):
    store = tmp_path / "store"
    first = jsonl(tmp_path / "a.jsonl", items("a", 3))
    later = jsonl(tmp_path / "b.jsonl", [*items("b", 2), {**ITEM, "id": "b9", "minutes": "很久"}])
    assert main(["ingest", first, later, "--store", str(store), "--encoder", "tfidf"]) == 2
    assert "b.jsonl:3, id 'b9', field 'minutes'" in capsys.readouterr().err
    assert item_count(store) == 0 and not store.exists()
    # Where two files share an id, the later file's record is the one kept, as before.
    fixed = jsonl(tmp_path / "b.jsonl", [*items("b", 2), {**items("a", 1)[0], "title": "改过的标题"}])
    assert main(["ingest", first, fixed, "--store", str(store), "--encoder", "tfidf"]) == 0
    out = capsys.readouterr().out
    assert "a.jsonl (UTF-8): 3 items" in out and "b.jsonl (UTF-8): 3 items" in out
    with Engine.open(store) as engine:
        assert len(engine.catalogue()) == 5 and engine.item("a0").title == "改过的标题"


def test_a_kill_during_a_multi_file_ingest_leaves_all_or_nothing(tmp_path):
    files = [jsonl(tmp_path / f"{p}.jsonl", items(p, 1500)) for p in ("a", "b", "c")]
    command = [sys.executable, "-m", "recsys", "ingest", *files, "--encoder", "tfidf", "--store"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    started = time.perf_counter()
    done = subprocess.run([*command, str(tmp_path / "whole")], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    whole = time.perf_counter() - started
    assert item_count(tmp_path / "whole") == 4500
    killed_while_running = 0
    for n, fraction in enumerate((0.4, 0.6, 0.75, 0.85, 0.95)):
        store = tmp_path / f"killed-{n}"
        process = subprocess.Popen([*command, str(store)], env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        time.sleep(whole * fraction)
        running = process.poll() is None
        process.send_signal(signal.SIGKILL)
        process.wait()
        killed_while_running += running and process.returncode == -signal.SIGKILL
        assert item_count(store) in (0, 4500), f"killed at {fraction:.0%}: {item_count(store)} items"
    assert killed_while_running >= 2  # the kills did land while files were being read and written


BAD_INPUT = [
    # (file name, bytes, what the error must name)
    ("surrogate.jsonl", b'{"id": "s1", "title": "\\ud800x", "body": "b", "kind": "article", "minutes": 10, '
     b'"published": "2026-01-01"}\n', "surrogate.jsonl:1, id 's1', field 'title': item title holds a lone surrogate"),
    ("surrogate-bytes.jsonl", b'{"id": "s2", "title": "\xed\xa0\x80", "kind": "article", "minutes": 10}\n',
     "surrogate-bytes.jsonl:1: invalid UTF-8: a lone surrogate"),
    ("surrogate.csv", b"id,title,kind,minutes,published\nc1,ok,article,10,2026-01-01\nc2,\xed\xb0\x80,article,10,2026-01-01\n",
     "surrogate.csv:3: invalid UTF-8: a lone surrogate"),
    ("deep.jsonl", b'{"id": "d1", "title": ' + b"[" * 3000 + b"]" * 3000 + b"}\n",
     "deep.jsonl:1: invalid JSON: field 'title' is nested more than 100 levels deep"),
    ("deep.json", b"[" * 3000 + b"]" * 3000, "deep.json: invalid JSON: a value is nested more than 100 levels deep"),
    ("nan.jsonl", b'{"id": "n1", "title": "t", "kind": "article", "minutes": NaN, "published": "2026-01-01"}\n',
     "nan.jsonl:1, id 'n1', field 'minutes'"),
    ("infinity.jsonl", b'{"id": "n2", "title": "t", "kind": "article", "minutes": 10, "level": -Infinity}\n',
     "infinity.jsonl:1, id 'n2', field 'level'"),
    ("huge-number.jsonl", b'{"id": "h1", "title": "t", "kind": "article", "minutes": 1' + b"0" * 400 + b"}\n",
     "huge-number.jsonl:1, id 'h1', field 'minutes': must be a number of minutes"),
    ("huger-number.jsonl", b'{"id": "h2", "title": "t", "minutes": 1' + b"0" * 5000 + b"}\n",
     "huger-number.jsonl:1: invalid JSON: a number of more than 4,300 digits"),
    ("huge-id.jsonl", b'{"id": "' + b"x" * 100_000 + b'", "title": "t", "kind": "article", "minutes": 10, "published": "2026-01-01"}\n',
     "huge-id.jsonl:1, field 'id': item id must be 1-128 characters of letters, digits and . _ : -, got 'xxx"),
    ("huge-topic.jsonl", b'{"id": "t1", "title": "t", "kind": "article", "minutes": 10, "topics": [' + b"1" * 10 + b"]}\n",
     "huge-topic.jsonl:1, id 't1', field 'topics'"),
    ("not-records.json", b'{"a": 1}', "not-records.json: a JSON file must hold a list of records"),
]


@pytest.mark.parametrize("name,data,named", BAD_INPUT, ids=[b[0] for b in BAD_INPUT])
def test_bad_input_is_exit_2_naming_file_line_and_field_never_a_traceback(tmp_path, name, data, named):
    store = tmp_path / "store"
    (tmp_path / name).write_bytes(data)
    good = jsonl(tmp_path / "good.jsonl", [ITEM])
    result = subprocess.run(
        [sys.executable, "-m", "recsys", "ingest", good, str(tmp_path / name), "--store", str(store), "--encoder", "tfidf"],
        env={**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}, capture_output=True, text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and result.stderr.startswith("recsys: error: ")
    assert named in result.stderr.splitlines()[0], result.stderr
    assert max(len(line) for line in result.stderr.splitlines()) < 1000  # a huge value is not echoed whole
    assert not store.exists()  # the good file was not written either


def test_a_huge_body_is_ingested_in_bounded_time(tmp_path, capsys):
    body = "有限空间作业先通风、再检测、后作业。" * 300_000  # about 5 MB of UTF-8
    path = jsonl(tmp_path / "big.jsonl", [{**ITEM, "body": body}])
    started = time.perf_counter()
    assert main(["ingest", path, "--store", str(tmp_path / "store"), "--encoder", "tfidf"]) == 0
    assert time.perf_counter() - started < 10


@pytest.mark.parametrize("command", [
    ["stats"], ["daily", "m1"], ["path", "m1"], ["search", "党史"], ["similar", "a1"], ["coverage"],
    ["progress", "m1"], ["digest", "hx"], ["batch"],
])
def test_a_read_command_on_a_missing_store_creates_nothing(tmp_path, capsys, command):
    store = tmp_path / "typo"
    assert main([*command, "--store", str(store)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"recsys: error: no store at {store}") and len(err.splitlines()) == 1
    assert not store.exists()


def test_attendance_dated_before_its_activity_is_flagged(tmp_path, capsys):
    """An export's attendance dated before the activity was held (a slip in the date) would
    credit its hours to the wrong month: said when read, an error with --strict."""
    store = str(tmp_path / "store")
    act = {"id": "off-1", "title": "冬季安全演练", "body": "集控楼实地演练。", "kind": "activity", "mode": "offline",
           "minutes": 180, "topics": ["安全生产"], "published": "2026-09-20",
           "schedule": {"starts": "2026-10-12T09:00:00+08:00", "ends": "2026-10-12T12:00:00+08:00",
                        "location": "太原·集控楼"}}
    assert main(["ingest", jsonl(tmp_path / "items.jsonl", [ITEM, act]), "--store", store, "--encoder", "tfidf"]) == 0
    assert main(["members", jsonl(tmp_path / "m.jsonl", [{"id": "m1", "name": "张伟", "org": "hx.b1"}]),
                 "--store", store]) == 0
    capsys.readouterr()
    events = jsonl(tmp_path / "e.jsonl", [
        {"member": "m1", "item": "off-1", "kind": "attend", "at": "2026-10-01T09:00:00"},
        {"member": "m1", "item": "off-1", "kind": "attend", "at": "2026-10-12T08:50:00"},  # signed in on the day
        {"member": "m1", "item": "a1", "kind": "complete", "at": "2026-01-02T10:00:00"}])
    assert main(["events", events, "--store", store, "--check", "--strict"]) == 2
    assert "e.jsonl:1, field 'at': 参加时间 2026-10-01 09:00 早于活动开始时间 2026-10-12 09:00" in \
        capsys.readouterr().err
    assert main(["events", events, "--store", store]) == 0
    out = capsys.readouterr()
    assert "e.jsonl:2" not in out.err and "早于活动开始时间" in out.err and "3 new" in out.out


def test_an_event_conflict_names_file_and_line(tmp_path, capsys):
    store = str(tmp_path / "store")
    assert main(["ingest", jsonl(tmp_path / "items.jsonl", [ITEM]), "--store", store, "--encoder", "tfidf"]) == 0
    assert main(["members", jsonl(tmp_path / "m.jsonl", [{"id": "m1", "name": "张伟", "org": "hx.b1"}]),
                 "--store", store]) == 0
    event = {"id": "e1", "member": "m1", "item": "a1", "kind": "complete", "at": "2026-01-02T10:00:00"}
    assert main(["events", jsonl(tmp_path / "e1.jsonl", [event]), "--store", store]) == 0
    capsys.readouterr()
    again = jsonl(tmp_path / "e2.jsonl", [{**event, "id": "e2"}, {**event, "kind": "start"}])
    assert main(["events", again, "--store", store]) == 2
    assert capsys.readouterr().err == (
        f"recsys: error: {again}:2, id 'e1': event id 'e1' is already recorded with different content\n")
    with Engine.open(store) as engine:
        assert [e.id for e in engine.events()] == ["e1"]  # e2, on the line before, was not written either


def test_two_enterprises_events_may_share_an_id(tmp_path, capsys):
    store = str(tmp_path / "store")
    assert main(["ingest", jsonl(tmp_path / "items.jsonl", [ITEM]), "--store", store, "--encoder", "tfidf"]) == 0
    members = [{"id": "m1", "name": "张伟", "org": "hx.b1"}, {"id": "m2", "name": "陈静", "org": "zj.b1"},
               {"id": "m3", "name": "李娜", "org": "hx.b2"}]
    assert main(["members", jsonl(tmp_path / "m.jsonl", members), "--store", store]) == 0
    event = {"id": "e1", "member": "m1", "item": "a1", "kind": "complete", "at": "2026-01-02T10:00:00"}
    assert main(["events", jsonl(tmp_path / "hx.jsonl", [event]), "--store", store]) == 0
    both = jsonl(tmp_path / "both.jsonl", [{**event, "member": "m2"}, event])  # zj's e1, then a retry of hx's
    assert main(["events", both, "--store", store]) == 0
    with Engine.open(store) as engine:
        assert sorted((e.member, e.id) for e in engine.events()) == [("m1", "e1"), ("m2", "e1")]
    capsys.readouterr()
    # A conflict is named by its line, though another enterprise's event (a retry) shares its id.
    clash = jsonl(tmp_path / "clash.jsonl", [{**event, "member": "m2"}, {**event, "kind": "skip"}])
    assert main(["events", clash, "--store", store]) == 2
    assert capsys.readouterr().err.startswith(f"recsys: error: {clash}:2, id 'e1': ")
    # Within one enterprise an id is one event: twice in a batch is refused, naming the line.
    twice = jsonl(tmp_path / "twice.jsonl", [{**event, "id": "e5"}, {**event, "id": "e5", "member": "m3"}])
    assert main(["events", twice, "--store", store]) == 2
    assert f"{twice}:2" in capsys.readouterr().err


def test_a_group_roster_may_number_each_enterprise_from_one(tmp_path, capsys):
    # Member ids are unique per enterprise: a group-wide roster where each enterprise numbers its
    # members from 1 is one batch, not duplicates; within an enterprise it still is.
    store = str(tmp_path / "store")
    assert main(["ingest", jsonl(tmp_path / "items.jsonl", [ITEM]), "--store", store, "--encoder", "tfidf"]) == 0
    members = [{"id": "0001", "name": "张伟", "org": "hx.b1"}, {"id": "0001", "name": "陈静", "org": "zj.b1"}]
    assert main(["members", jsonl(tmp_path / "m.jsonl", members), "--store", store]) == 0
    with Engine.open(store) as engine:
        assert engine.tenant("zj").member("0001").name == "陈静" and engine.tenant("hx").member("0001").name == "张伟"
    capsys.readouterr()
    twice = jsonl(tmp_path / "twice.jsonl", [members[0], {**members[0], "org": "hx.b2"}])
    assert main(["members", twice, "--store", store]) == 2
    assert f"{twice}:2" in capsys.readouterr().err
    # Reports on an organisation read its enterprise, whose ids do not repeat; the whole store's
    # say how to name one, as the command line does.
    for command in (["progress", "--org", "hx"], ["coverage", "--org", "hx.b1"], ["progress", "--org", "zj", "--alerts", "0"]):
        assert main([*command, "--store", store, "--day", "2026-12-01"]) == 0, capsys.readouterr().err
    with Engine.open(store) as engine:
        assert [r["name"] for b in engine.org_progress("hx", day="2026-12-01").branches for r in b.leaderboard] == ["张伟"]
    capsys.readouterr()
    assert main(["coverage", "--store", store, "--day", "2026-12-01"]) == 2
    err = capsys.readouterr().err
    assert "member id '0001' is held by 2 enterprises (hx, zj)" in err and "--tenant hx" in err and "engine." not in err
    # A mistyped enterprise is said so, not reported as one without gaps.
    assert main(["coverage", "--org", "hxx", "--store", store, "--day", "2026-12-01"]) == 2
    assert "hxx" in capsys.readouterr().err


@pytest.fixture
def frozen_store(tmp_path):
    """A store nobody may write, root included (the immutable attribute on it and its files)."""
    store = tmp_path / "store"
    assert main(["ingest", jsonl(tmp_path / "items.jsonl", items("a", 3)), "--store", str(store), "--encoder", "tfidf"]) == 0
    assert main(["members", jsonl(tmp_path / "m.jsonl", [{"id": "m1", "name": "张伟", "org": "hx.b1"}]),
                 "--store", str(store)]) == 0
    paths = [str(p) for p in store.iterdir()] + [str(store)]
    if subprocess.run(["chattr", "+i", *paths], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not permitted here")
    try:
        yield store
    finally:
        subprocess.run(["chattr", "-i", *paths], check=True)


def test_a_read_only_store_is_opened_read_only_for_reads(frozen_store, capsys):
    before = {p.name: p.read_bytes() for p in frozen_store.iterdir()}
    store = ["--store", str(frozen_store)]
    assert main(["stats", *store]) == 0 and "items: 3" in capsys.readouterr().out
    assert main(["search", "专题学习", "-k", "2", *store]) == 0 and "a" in capsys.readouterr().out
    assert main(["daily", "m1", "--day", "2026-01-05", "--json", *store]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["entries"] and "read-only" in captured.err
    assert main(["coverage", "--day", "2026-01-05", *store]) == 0
    assert main(["check", *store]) == 0 and "the store is sound" in capsys.readouterr().out
    assert main(["check", "--repair", *store]) == 2
    err = capsys.readouterr().err
    assert err.startswith("recsys: error: ") and "opened read-only and a repair writes" in err
    # A write says what is wrong in one line, and changes nothing.
    assert main(["ingest", jsonl(frozen_store.parent / "more.jsonl", items("b", 1)), *store]) == 2
    assert capsys.readouterr().err.startswith("recsys: error: ")
    assert {p.name: p.read_bytes() for p in frozen_store.iterdir()} == before


def test_serve_on_a_mistyped_store_is_an_error_not_an_empty_service(tmp_path):
    typo = tmp_path / "typo"
    result = subprocess.run([sys.executable, "-m", "recsys", "serve", "--store", str(typo), "--encoder", "tfidf",
                             "--port", "1"], env={**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and result.stderr.startswith(f"recsys: error: no store at {typo}")
    assert not typo.exists()


@pytest.mark.parametrize("command", [["coverage", "--xlsx"], ["coverage", "--html"], ["page", "m1", "--html"]])
def test_an_output_file_that_cannot_be_written_is_exit_2_naming_it(tmp_path, capsys, command):
    store = tmp_path / "store"
    assert main(["ingest", jsonl(tmp_path / "a.jsonl", items("a", 2)), "--store", str(store), "--encoder", "tfidf"]) == 0
    assert main(["members", jsonl(tmp_path / "m.jsonl", [{"id": "m1", "name": "李志刚", "org": "t.a"}]),
                 "--store", str(store), "--encoder", "tfidf"]) == 0
    capsys.readouterr()
    for target, why in ((tmp_path / "no-such-folder" / "out", "No such file or directory"), (tmp_path, "Is a directory")):
        assert main([*command, str(target), "--store", str(store), "--encoder", "tfidf"]) == 2
        err = capsys.readouterr().err
        assert f"{target}: cannot" in err and why in err and "Traceback" not in err


def test_a_mistyped_enterprise_is_refused_by_commands_that_read(tmp_path, capsys):
    store = str(tmp_path / "store")
    assert main(["ingest", jsonl(tmp_path / "items.jsonl", [ITEM]), "--store", store, "--encoder", "tfidf"]) == 0
    assert main(["members", jsonl(tmp_path / "m.jsonl", [{"id": "m1", "name": "张伟", "org": "hx.b1"}]),
                 "--store", store]) == 0
    capsys.readouterr()
    # It would read as an enterprise without members, gaps or history.
    for command in (["coverage"], ["batch", "--no-train", "--day", "2026-03-02"], ["train"], ["stats"]):
        assert main([*command, "--store", store, "--tenant", "HX"]) == 2, command
        assert "no enterprise with id 'HX'" in capsys.readouterr().err
    assert main(["coverage", "--store", store, "--tenant", "hx"]) == 0
    # A command that writes may start an enterprise, and check its first roster.
    roster = jsonl(tmp_path / "n.jsonl", [{"id": "n1", "name": "李娜", "org": "zj.b1"}])
    assert main(["members", roster, "--store", store, "--tenant", "zj", "--check"]) == 0
    assert main(["members", roster, "--store", store, "--tenant", "zj"]) == 0


def test_enrolments_past_an_activitys_seats_are_flagged(tmp_path, capsys):
    """A sign-up sheet kept open past the limit: the seats the store already holds and the file's
    enrolments (a withdrawal frees a seat, a file read twice counts once) are counted together,
    and an activity that would hold more than its seats is said when read, an error with --strict."""
    store = str(tmp_path / "store")
    act = {"id": "off-1", "title": "红色教育基地参观", "body": "实地参观学习。", "kind": "activity", "mode": "offline",
           "minutes": 180, "topics": ["党史"], "published": "2026-09-20",
           "schedule": {"starts": "2026-10-12T09:00:00+08:00", "ends": "2026-10-12T12:00:00+08:00",
                        "location": "太原·纪念馆", "capacity": 3}}
    assert main(["ingest", jsonl(tmp_path / "items.jsonl", [ITEM, act]), "--store", store, "--encoder", "tfidf"]) == 0
    assert main(["members", jsonl(tmp_path / "m.jsonl", [{"id": f"m{n}", "name": f"党员{n}", "org": "hx.b1"}
                                                         for n in range(1, 7)]), "--store", store]) == 0
    before = jsonl(tmp_path / "before.jsonl", [
        {"id": "s1", "member": "m1", "item": "off-1", "kind": "enroll", "at": "2026-10-01T09:00:00"},
        {"id": "s2", "member": "m2", "item": "off-1", "kind": "enroll", "at": "2026-10-01T09:05:00"}])
    assert main(["events", before, "--store", store]) == 0
    capsys.readouterr()

    def enrol(name: str, rows: list[tuple[str, str, int | None]]) -> str:
        return jsonl(tmp_path / name, [{"id": f"{name}-{n}", "member": m, "item": "off-1", "kind": "enroll",
                                        "at": at, **({} if v is None else {"value": v})}
                                       for n, (m, at, v) in enumerate(rows)])

    # Two held, m1 withdraws and m3, m4 enrol: three seats, the limit, no warning.
    fits = enrol("fits.jsonl", [("m1", "2026-10-02T09:00:00", 0), ("m3", "2026-10-02T09:00:00", None),
                                ("m4", "2026-10-02T10:00:00", None)])
    assert main(["events", fits, "--store", store, "--check", "--strict"]) == 0
    assert "名额" not in capsys.readouterr().err
    # The same withdrawal dated before the stored enrolment frees nothing: four seats.
    late = enrol("late.jsonl", [("m1", "2026-09-30T09:00:00", 0), ("m3", "2026-10-02T09:00:00", None),
                                ("m4", "2026-10-02T10:00:00", None)])
    assert main(["events", late, "--store", store, "--check", "--strict"]) == 2
    assert "late.jsonl:3, field 'item': 活动《红色教育基地参观》（off-1）限 3 人，本次导入后报名 4 人，超出 1 人" in capsys.readouterr().err
    # Written with the warning; the same file again counts once (its events are recorded), and
    # one more member is one more over.
    over = enrol("over.jsonl", [("m3", "2026-10-02T09:00:00", None), ("m4", "2026-10-02T10:00:00", None)])
    assert main(["events", over, "--store", store]) == 0
    assert "本次导入后报名 4 人，超出 1 人" in capsys.readouterr().err
    assert main(["events", over, "--store", store, "--check"]) == 0
    assert "本次导入后报名 4 人，超出 1 人" in capsys.readouterr().err
    more = enrol("more.jsonl", [("m5", "2026-10-03T09:00:00", None)])
    assert main(["events", more, "--store", store, "--check"]) == 0
    assert "本次导入后报名 5 人，超出 2 人" in capsys.readouterr().err
    with Engine.open(store) as engine:
        assert engine.seats_left("off-1") == 0


def test_a_file_checked_with_errors_shows_its_warnings_too(tmp_path, capsys):
    """One round of fixing sees everything: the warnings of a file are printed beside its errors
    (nothing is written); with --strict they are among the errors."""
    members = jsonl(tmp_path / "m.jsonl", [
        {"id": "m1", "name": "张伟", "org": "hx.b1", "roles": ["branch_secertary"]},  # a misspelt role: a warning
        {"id": "m2", "name": "李娜", "org": "hx.b1", "daily_minutes": "很多"}])          # an error
    store = tmp_path / "store"
    assert main(["members", members, "--store", str(store), "--check"]) == 2
    err = capsys.readouterr().err
    assert "m.jsonl:1, id 'm1', field 'roles'" in err and "branch_secretary" in err
    assert "m.jsonl:2, id 'm2', field 'daily_minutes'" in err
    assert err.index("recsys: warning:") < err.index("recsys: error:")
    assert main(["members", members, "--store", str(store), "--check", "--strict"]) == 2
    err = capsys.readouterr().err
    assert "recsys: warning:" not in err and "(and 1 more problem)" in err
    assert not store.exists()


def test_many_enrolments_of_one_kind_are_summed_up_whatever_names_they_give(tmp_path, capsys):
    """Sign-up sheets of a large unit: 300 enrolments by members who do not attend offline
    activities printed 300 lines, each naming its member. Five are shown, then a count."""
    store = str(tmp_path / "store")
    act = {"id": "off-1", "title": "红色教育基地参观", "body": "现场教学。", "kind": "activity", "mode": "offline",
           "minutes": 180, "topics": ["党史"], "published": "2026-09-20",
           "schedule": {"starts": "2026-10-12T09:00:00+08:00", "ends": "2026-10-12T12:00:00+08:00",
                        "location": "太原·纪念馆"}}
    assert main(["ingest", jsonl(tmp_path / "items.jsonl", [act]), "--store", store, "--encoder", "tfidf"]) == 0
    names = ["张伟", "李娜", "王芳", "刘洋", "陈静", "杨帆", "赵磊", "黄敏"]
    assert main(["members", jsonl(tmp_path / "m.jsonl", [
        {"id": f"m{n}", "name": name, "org": "hx.b1", "offline": False} for n, name in enumerate(names)]),
        "--store", store]) == 0
    capsys.readouterr()
    events = jsonl(tmp_path / "e.jsonl", [{"member": f"m{n}", "item": "off-1", "kind": "enroll",
                                           "at": "2026-10-01T09:00:00"} for n in range(len(names))])
    assert main(["events", events, "--store", store, "--check"]) == 0
    err = capsys.readouterr().err.splitlines()
    said = [line for line in err if "不参加线下活动" in line]
    assert len(said) == 5 and "黄敏" not in "\n".join(said)
    assert f"recsys: warning: {events}: 另有 3 条同类警告 (lines 6-8)" in err
    # As errors (--strict) they are summed up the same way.
    assert main(["events", events, "--store", store, "--check", "--strict"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len([line for line in err if line.startswith("  ") and "不参加线下活动" in line]) == 5
    assert any("另有 3 条同类错误 (lines 6-8)" in line for line in err)


def test_an_export_split_over_files_is_read_in_one_run_with_seats_counted_across_them(tmp_path, capsys):
    """Excel holds 1,048,576 rows a sheet: a year's records come as several files. One run reads
    them all (one write), counts an activity's seats over all of them, places each warning at its
    own file and line, skips a 合计 row, and says once what was new."""
    store = str(tmp_path / "store")
    act = {"id": "off-1", "title": "红色教育基地参观", "body": "现场教学。", "kind": "activity", "mode": "offline",
           "minutes": 180, "topics": ["党史"], "published": "2026-09-20",
           "schedule": {"starts": "2026-10-12T09:00:00+08:00", "ends": "2026-10-12T12:00:00+08:00",
                        "location": "太原·纪念馆", "capacity": 3}}
    assert main(["ingest", jsonl(tmp_path / "items.jsonl", [act]), "--store", store, "--encoder", "tfidf"]) == 0
    assert main(["members", jsonl(tmp_path / "m.jsonl", [
        {"id": f"m{n}", "name": f"党员{n}", "org": "hx.b1"} for n in range(4)]), "--store", store]) == 0
    first, second = tmp_path / "e1.csv", tmp_path / "e2.csv"
    first.write_text("member,item,kind,at\nm0,off-1,enroll,2026-10-01 09:00\nm1,off-1,enroll,2026-10-01 10:00\n",
                     encoding="utf-8")
    second.write_text("member,item,kind,at\nm1,off-1,enroll,2026-10-01 10:00\nm2,off-1,enroll,2026-10-02 09:00\n"
                      "m3,off-1,enroll,2026-10-02 10:00\n合计,,,\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["events", str(first), str(second), "--store", store]) == 0
    said = capsys.readouterr()
    out = said.out.splitlines()
    assert out[0] == f"{first} (UTF-8): 2 events"
    assert out[1] == f"{second} (UTF-8): 3 events, 2 warnings: 4 new in all (1 already recorded)"
    # The fourth member's enrolment takes a fourth seat of three: line 4 of the second file.
    assert f"{second}:4, field 'item': 活动《红色教育基地参观》（off-1）限 3 人，本次导入后报名 4 人" in said.err
    assert f"{second}:5: 1 行是合计、小计等汇总行（第 5 行）" in said.err
    with Engine.open(store) as eng:
        assert eng.store.enrolments(["off-1"]) == {"off-1": 4}


def test_enrolments_the_service_would_refuse_are_flagged(tmp_path, capsys):
    """An export's enrolments in an online item, in an activity already over, in one meant for
    other roles, by a member who does not attend offline activities, or valued neither 1 nor 0:
    each said with its line (the enrolment route refuses them all)."""
    store = str(tmp_path / "store")
    act = {"id": "off-1", "title": "支部书记培训班", "body": "支部书记集中培训。", "kind": "activity", "mode": "offline",
           "minutes": 180, "topics": ["党史"], "published": "2026-09-20", "roles": ["branch_secretary"],
           "schedule": {"starts": "2026-10-12T09:00:00+08:00", "ends": "2026-10-12T12:00:00+08:00",
                        "location": "太原·党校"}}
    assert main(["ingest", jsonl(tmp_path / "items.jsonl", [ITEM, act]), "--store", store, "--encoder", "tfidf"]) == 0
    assert main(["members", jsonl(tmp_path / "m.jsonl", [
        {"id": "s1", "name": "王书记", "org": "hx.b1", "roles": ["member", "branch_secretary"]},
        {"id": "m1", "name": "张伟", "org": "hx.b1"},
        {"id": "m2", "name": "李娜", "org": "hx.b1", "roles": ["member", "branch_secretary"], "offline": False},
        {"id": "s2", "name": "赵书记", "org": "hx.b1", "roles": ["member", "branch_secretary"], "location": "北京"}]),
        "--store", store]) == 0
    capsys.readouterr()
    rows = [("s1", "off-1", "2026-10-01T09:00:00", None),   # fine
            ("s1", "a1", "2026-10-01T09:00:00", None),      # an online item
            ("s1", "off-1", "2026-10-13T09:00:00", None),   # after it ended
            ("m1", "off-1", "2026-10-01T09:00:00", None),   # not a branch secretary
            ("m2", "off-1", "2026-10-01T09:00:00", None),   # does not attend offline
            ("s1", "off-1", "2026-10-02T09:00:00", -1),     # neither enrolled nor withdrawn
            ("s2", "off-1", "2026-10-01T09:00:00", None)]   # lives in another city
    events = jsonl(tmp_path / "e.jsonl", [{"member": m, "item": i, "kind": "enroll", "at": at,
                                           **({} if v is None else {"value": v})} for m, i, at, v in rows])
    assert main(["events", events, "--store", store, "--check"]) == 0
    err = capsys.readouterr().err
    assert "e.jsonl:1," not in err
    for line, said in ((2, "是线上内容，不需要报名"), (3, "报名时间 2026-10-13 09:00 晚于活动结束时间 2026-10-12 12:00"),
                       (4, "面向支部书记，张伟不在其中"), (5, "李娜不参加线下活动"),
                       (6, "报名记录的值 -1 既不是 1（报名）也不是 0（取消报名）"),
                       (7, "在太原举行，赵书记所在城市是北京")):
        assert f"e.jsonl:{line}," in err and said in err, (line, err)
