"""The nightly batch over several workers, on processes of this machine and on a real local Ray
cluster: the same lists as in one process, and a Ray worker killed mid-shard is retried with
nothing written twice or lost."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sys

import pytest
from factories import make_item

from recsys import Engine, Event, Member, ValidationError
from recsys.records import TZ

DAY = dt.date(2026, 6, 15)
TOPICS = ("安全生产", "党史", "廉洁从业", "保密")


def _build(path) -> list[str]:
    engine = Engine.open(path, encoder="tfidf")
    engine.add_items([
        make_item(f"i{n:02d}", f"{TOPICS[n % 4]}学习材料第{n}篇", f"{TOPICS[n % 4]} 第{n}讲 要点{n % 7}",
                  topics=(TOPICS[n % 4],), minutes=5 + n % 4 * 5)
        for n in range(40)
    ])
    members = [Member(id=f"m{n:03d}", name=f"党员{n}", org=f"t.zb{n % 3}", roles=("member",),
                      interests=(TOPICS[n % 4],), daily_minutes=30) for n in range(48)]
    engine.upsert_members(members)
    at = dt.datetime.combine(DAY - dt.timedelta(days=3), dt.time(10), TZ)
    engine.record([Event(member=m.id, item=f"i{(n * 7) % 40:02d}", kind="complete", at=at)
                   for n, m in enumerate(members)])
    engine.close()
    return [m.id for m in members]


def _served(path, ids):
    engine = Engine.open(path)
    try:
        store = engine.store
        lists = {s.member: s.payload for s in store.served_for(ids, DAY)}
        # Ties in time come in the order recorded, which differs between shards: by id.
        impressions = sorted((e for e in store.events(kinds=("impression",)) if e.at.date() == DAY),
                             key=lambda e: e.id)
        return lists, impressions
    finally:
        engine.close()


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    base = tmp_path_factory.mktemp("ray")
    ids = _build(base / "one")
    for copy in ("ray", "killed", "processes"):
        shutil.copytree(base / "one", base / copy)
    with Engine.open(base / "one") as engine:
        report = engine.batch(DAY)
    assert report.served == len(ids)
    return base, ids


@pytest.fixture(scope="module")
def cluster(stores):
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    # The hook below travels to the workers by value (they cannot import this test module).
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    yield stores
    ray.shutdown()


@pytest.mark.slow
def test_lists_on_processes_equal_the_single_process_batch(stores, monkeypatch):
    base, ids = stores
    with Engine.open(base / "processes") as engine:
        seen = []
        report = engine.batch(DAY, workers=2, chunk=5, progress=seen.append)
    assert (report.served, report.skipped, report.members, report.workers) == (len(ids), 0, len(ids), 2)
    assert "2 个进程" in report.summary()
    assert sum(seen) == len(ids) and len(seen) > 1, "progress per shard"
    assert _served(base / "processes", ids) == _served(base / "one", ids)
    with Engine.open(base / "processes") as engine:  # resumed: everything is served already
        again = engine.batch(DAY, workers=2)
        with pytest.raises(ValidationError):
            engine.batch(DAY, workers=0)
        alone = engine.batch(DAY)
    assert (again.served, again.skipped) == (0, len(ids))
    assert (alone.workers, "进程" in alone.summary()) == (1, False)
    with Engine.open("memory://") as engine, pytest.raises(ValidationError, match="every worker can open"):
        engine.batch(DAY, workers=2)
    from recsys.serving import distributed

    monkeypatch.setattr(distributed, "MEMBERS_PER_WORKER", 1)
    monkeypatch.setattr(distributed, "usable_cores", lambda: 2)
    with Engine.open("memory://") as engine:  # auto: a store only this process can open is planned here
        engine.upsert_members([Member(id=f"x{n}", name="党员", org="t.zb0") for n in range(4)])
        assert engine.batch(DAY, workers="auto").workers == 1
        with pytest.raises(ValidationError, match="or 'auto', got 'all'"):
            engine.batch(DAY, workers="all")


@pytest.mark.slow
def test_a_member_removed_while_the_batch_runs_is_left_out_by_the_workers(tmp_path):
    """A roster sync that removes a member after the batch listed everyone: the workers serve
    everyone still held, as one process does, rather than stop the night's run."""
    from recsys.serving.distributed import serve_day_in_processes

    ids = _build(tmp_path / "store")
    with Engine.open(tmp_path / "store") as engine:
        engine.remove_member(ids[5])
    served, skipped, _, unreadable = serve_day_in_processes(str(tmp_path / "store"), ids, DAY, workers=2, chunk=4)
    assert (served, skipped, unreadable) == (len(ids) - 1, 1, [])
    lists, _ = _served(tmp_path / "store", ids)
    assert sorted(lists) == sorted(set(ids) - {ids[5]})


@pytest.mark.slow
def test_workers_open_the_store_the_engine_opened_by_a_relative_path(tmp_path, monkeypatch):
    """A store opened by a relative path: workers started after the program changed directory
    open that store, not whatever the path names from there."""
    ids = _build(tmp_path / "here" / "store")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "here")
    with Engine.open("store") as engine:
        monkeypatch.chdir(tmp_path / "elsewhere")
        report = engine.batch(DAY, workers=2)
    assert (report.served, report.members) == (len(ids), len(ids))
    assert not (tmp_path / "elsewhere" / "store").exists()
    lists, _ = _served(tmp_path / "here" / "store", ids)
    assert sorted(lists) == sorted(ids)


def test_a_worker_per_core_and_per_thousand_members(monkeypatch):
    from recsys.serving import distributed

    monkeypatch.setattr(distributed, "usable_cores", lambda: 4)
    per = distributed.MEMBERS_PER_WORKER
    counts = [distributed.suggested_workers(n) for n in (0, 1, per - 1, per, 2 * per + 1, 3 * per, 10**6)]
    assert counts == [1, 1, 1, 1, 2, 3, 4]
    # No more than the memory available holds.
    monkeypatch.setattr(distributed, "available_memory", lambda: 5 * 2**30)
    assert [distributed.suggested_workers(10**6, worker_bytes=b * 2**30) for b in (1, 2, 3, 6)] == [4, 2, 1, 1]
    monkeypatch.setattr(distributed, "available_memory", lambda: None)  # a system that does not say
    assert distributed.suggested_workers(10**6, worker_bytes=2**40) == 4
    monkeypatch.setattr(distributed, "usable_cores", lambda: 1)
    assert distributed.suggested_workers(10**6) == 1


def test_the_memory_a_process_holds_and_the_machine_has_are_read():
    from recsys.serving import distributed

    held, free = distributed.resident_memory(), distributed.available_memory()
    assert 10 * 2**20 < held < 64 * 2**30 and 0 < free < 2**50


@pytest.mark.slow
def test_the_command_plans_a_large_run_on_a_process_per_core(tmp_path, monkeypatch, capsys):
    """``recsys batch`` without --workers: a process per core once the run is large enough to
    repay starting them (here "large" made 16 members, and the machine two cores), with the same
    lists as one process; --workers 1, or a run too small, stays in the command's process."""
    from recsys.serving import distributed
    from recsys_cli import main

    ids = _build(tmp_path / "auto")
    for copy in ("alone", "small"):
        shutil.copytree(tmp_path / "auto", tmp_path / copy)
    monkeypatch.setattr(distributed, "usable_cores", lambda: 2)
    monkeypatch.setattr(distributed, "MEMBERS_PER_WORKER", 16)
    day = ["--day", DAY.isoformat(), "--no-train"]
    assert main(["batch", "--store", str(tmp_path / "auto"), *day]) == 0
    assert "本次生成 48 份" in (out := capsys.readouterr().out) and "2 个进程" in out, out
    assert main(["batch", "--store", str(tmp_path / "auto"), *day]) == 0  # again: everyone is served already
    assert "已生成而跳过 48 份" in (out := capsys.readouterr().out) and "进程" not in out, out
    assert main(["batch", "--store", str(tmp_path / "alone"), *day, "--workers", "1"]) == 0
    assert "进程" not in capsys.readouterr().out
    assert _served(tmp_path / "auto", ids) == _served(tmp_path / "alone", ids)
    monkeypatch.setattr(distributed, "MEMBERS_PER_WORKER", 49)
    assert main(["batch", "--store", str(tmp_path / "small"), *day]) == 0
    assert "进程" not in capsys.readouterr().out
    with pytest.raises(SystemExit) as refused:  # as argparse refuses any malformed option
        main(["batch", "--store", str(tmp_path / "small"), *day, "--workers", "many"])
    assert refused.value.code == 2 and "not a number of processes or auto: 'many'" in capsys.readouterr().err


@pytest.mark.slow
def test_an_enterprise_batches_on_processes_each_opening_its_view(tmp_path):
    # Enterprise u holds members of t's ids: a worker on the whole store could not tell them apart.
    ids = _build(tmp_path / "workers")
    with Engine.open(tmp_path / "workers") as engine:
        engine.tenant("u").upsert_members([Member(id=m, name="同名", org="u.zb", roles=("member",), daily_minutes=30)
                                           for m in ids[:10]])
    shutil.copytree(tmp_path / "workers", tmp_path / "alone")
    with Engine.open(tmp_path / "workers", tenant="t") as view:
        report = view.batch(DAY, workers=2, chunk=5)
    with Engine.open(tmp_path / "alone", tenant="t") as view:
        view.batch(DAY)
    assert (report.served, report.members) == (len(ids), len(ids))
    lists = []
    for folder in ("workers", "alone"):
        with Engine.open(tmp_path / folder) as engine:
            lists.append({s.member: s.payload for s in engine.store.served_for(ids, DAY, tenant="t")})
            assert engine.store.served_for(ids, DAY, tenant="u") == []  # u's members were not t's batch
    assert lists[0] == lists[1] and len(lists[0]) == len(ids)


@pytest.mark.slow
def test_lists_on_ray_equal_the_single_process_batch(cluster):
    base, ids = cluster
    with Engine.open(base / "ray") as engine:
        seen = []
        report = engine.batch(DAY, cluster="local", chunk=5, progress=seen.append)
    assert (report.served, report.skipped, report.members) == (len(ids), 0, len(ids))
    assert sum(seen) == len(ids)
    assert _served(base / "ray", ids) == _served(base / "one", ids)
    with Engine.open(base / "ray") as engine:  # resumed: everything is served already
        again = engine.batch(DAY, cluster="local")
    assert (again.served, again.skipped) == (0, len(ids))


class _DieOnce:
    """Kills the worker process after its first block, once across all workers (a marker file)."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __call__(self, done: int) -> None:
        try:
            fd = os.open(self.marker, os.O_CREAT | os.O_EXCL)
        except FileExistsError:
            return
        os.close(fd)
        os._exit(1)  # as kill -9 would: no clean-up, the shard half done


@pytest.mark.slow
def test_a_worker_killed_mid_shard_is_retried_and_nothing_is_written_twice_or_lost(cluster, tmp_path):
    from recsys.serving.distributed import serve_day_on_ray

    base, ids = cluster
    marker = tmp_path / "died"
    served, skipped, shards, _ = serve_day_on_ray(
        f"sqlite://{base / 'killed'}", ids, DAY, chunk=4, after_block=_DieOnce(str(marker)))
    assert marker.exists(), "a worker died"
    assert shards > 1 and served + skipped == len(ids)
    assert 0 < skipped < len(ids), "the retried shard skipped what the dead worker had stored"
    lists, impressions = _served(base / "killed", ids)
    assert (lists, impressions) == _served(base / "one", ids)
    assert len({e.id for e in impressions}) == len(impressions)


def _count_served(path) -> int:
    import sqlite3

    with sqlite3.connect(path / "recsys.sqlite", timeout=30) as db:
        return db.execute("SELECT COUNT(*) FROM served").fetchone()[0]


def _workers_of(path) -> list[int]:
    """Pids of processes other than this one with the store open."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        except OSError:
            continue
        if int(pid) != os.getpid() and any(link.startswith(str(path)) for link in links):
            found.append(int(pid))
    return found


def _wait(condition, seconds: float) -> bool:
    import time

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


@pytest.mark.slow
@pytest.mark.parametrize("signal_name", ["SIGINT", "SIGINT-batch-alone", "SIGKILL"])
def test_a_batch_on_processes_stops_when_interrupted_or_killed(tmp_path, signal_name):
    """Ctrl-C stops the workers now, not after every queued shard; so does an interrupt sent to
    the batch alone (a supervisor's), which its workers never see; a batch killed outright
    leaves no worker writing lists, or holding the store, behind."""
    import signal
    import subprocess

    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    path = tmp_path / "store"
    _build(path)
    with Engine.open(path) as engine:  # 400 members: long enough to stop halfway
        engine.upsert_members([Member(id=f"x{n:03d}", name=f"党员{n}", org=f"t.zb{n % 5}", roles=("member",),
                                      interests=(TOPICS[n % 4],), daily_minutes=30) for n in range(352)])
    run = subprocess.Popen([sys.executable, "-m", "recsys", "batch", "--store", str(path), "--day", DAY.isoformat(),
                            "--no-train", "--workers", "2", "--chunk", "2"], cwd=repo, start_new_session=True,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env={**os.environ, "HF_HUB_OFFLINE": "1"},
                           # As a terminal or a supervisor starts it: a suite run as a background
                           # job of a script has SIGINT ignored, which children inherit.
                           preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        assert _wait(lambda: _count_served(path) > 0, 120), run.communicate()
        if signal_name == "SIGINT":
            os.killpg(run.pid, signal.SIGINT)  # as a terminal's Ctrl-C reaches the whole group
        elif signal_name == "SIGINT-batch-alone":
            os.kill(run.pid, signal.SIGINT)  # the workers must be stopped by the batch
        else:
            os.kill(run.pid, signal.SIGKILL)  # the batch alone: its workers are orphaned
        _, err = run.communicate(timeout=30)
        if signal_name.startswith("SIGINT"):
            assert run.returncode == 130 and "interrupted" in err
        # No worker is left writing lists or holding the store.
        assert _wait(lambda: not _workers_of(path), 30), _workers_of(path)
        assert _count_served(path) < 400
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    with Engine.open(path) as engine:  # what was stored stays; a run again goes on
        report = engine.batch(DAY)
        assert report.served + report.skipped == 400 and report.skipped > 0
