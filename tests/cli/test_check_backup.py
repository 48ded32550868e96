"""``recsys check [--repair]`` finds damage by table and id and rebuilds what the database can
rebuild; ``recsys backup DEST`` copies a store in use into a sound store of its own."""

from __future__ import annotations

import datetime as dt
import sqlite3

import pytest
from factories import SAMPLE, make_item

from recsys import Engine, Member
from recsys_cli import main

DAY = dt.date(2026, 6, 15)


@pytest.fixture
def store(tmp_path):
    """A folder store with the sample items, two members, their events and a served list."""
    path = tmp_path / "store"
    with Engine.open(path, encoder="tfidf") as engine:
        engine.add_items([make_item(i, t, b, topics=tp) for i, t, b, tp in SAMPLE])
        engine.upsert_members([Member(id=m, name="张伟", org="hx.b1", roles=("member",)) for m in ("m1", "m2")])
        engine.record([{"id": f"e{n}", "member": "m1", "item": i, "kind": "complete", "at": "2026-06-01T20:00:00"}
                       for n, (i, *_) in enumerate(SAMPLE[:2])])
        engine.daily("m2", DAY)  # a served list
    return path


def run(capsys, *argv):
    status = main(list(argv))
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    return status, captured.out, captured.err


def sql(store, statement, *args):
    with sqlite3.connect(store / "recsys.sqlite") as db:
        return db.execute(statement, args).fetchall()


def test_a_sound_store_checks_clean(store, capsys):
    status, out, _ = run(capsys, "check", "--store", str(store))
    assert status == 0, out
    assert "pages and indexes: ok" in out and "every row parses" in out and "vector index file: ok" in out


def test_a_store_whose_index_file_is_missing_or_behind_checks_sound(store, capsys):
    from recsys.serving.integrity import StoreCheck

    (store / "index.npz").unlink()  # as a backup, a migrated store or a store never searched has it
    status, out, err = run(capsys, "check", "--store", str(store))
    assert status == 0 and "vector index file: none" in out and "damaged" not in err
    behind = "ok (revision 41; the 2 later changes are applied when read)"  # as after a crash
    assert StoreCheck("s", index=behind).ok and not StoreCheck("s", index="unreadable (x)").ok


def test_check_names_every_damaged_row_and_repair_rebuilds_the_index_once_they_are_fixed(store, capsys):
    good_item = sql(store, "SELECT data FROM items WHERE id = 'safety'")[0][0]
    sql(store, """UPDATE items SET data = '{"id": "safety"}' WHERE id = 'safety'""")
    sql(store, "UPDATE items SET vector = x'00' WHERE id = ?", SAMPLE[1][0])
    sql(store, "UPDATE members SET data = 'not json' WHERE id = 'm2'")
    sql(store, "UPDATE events SET kind = 'teleport' WHERE id = 'e1'")
    sql(store, "UPDATE served SET payload = '{' WHERE member = 'm2'")
    index_file = store / "index.npz"
    index_file.write_bytes(index_file.read_bytes()[:100])
    status, out, err = run(capsys, "check", "--store", str(store))
    assert status == 1 and "damaged" in err
    assert "rows: 5 damaged" in out, out
    # Ids repeat across tenants: tenant rows are named tenant/id, shared items by their id alone.
    for named in ("items 'safety'", f"items '{SAMPLE[1][0]}'", "members 'hx/m2'", "events 'hx/e1'",
                  f"served 'hx/m2/{DAY}/"):
        assert named in out, named
    assert "vector index file: unreadable" in out
    # Repair cannot guess what a damaged row held: the index waits for the rows.
    status, out, _ = run(capsys, "check", "--repair", "--store", str(store))
    assert status == 1 and "not rebuilt: the damaged rows must be written again first" in out
    # Written again (here: put back), the next repair rebuilds the index from the database.
    sql(store, "UPDATE items SET data = ? WHERE id = 'safety'", good_item)
    sql(store, "DELETE FROM items WHERE id = ?", SAMPLE[1][0])
    sql(store, "DELETE FROM members WHERE id = 'm2'")
    sql(store, "DELETE FROM events WHERE id = 'e1'")
    sql(store, "DELETE FROM served")
    status, out, _ = run(capsys, "check", "--repair", "--store", str(store))
    assert status == 0, out
    assert "vector index file: rebuilt" in out and f"rebuilt from the database ({len(SAMPLE) - 1} items)" in out
    status, out, _ = run(capsys, "check", "--store", str(store))
    assert status == 0 and "vector index file: ok" in out


def test_a_damaged_database_file_is_reported_never_a_traceback(store, capsys):
    db_file = store / "recsys.sqlite"
    data = bytearray(db_file.read_bytes())
    for at in range(4096 + 200, len(data), 4096):  # past the header: damage every page
        data[at:at + 64] = b"\xff" * 64
    db_file.write_bytes(bytes(data))
    status, out, err = run(capsys, "check", "--store", str(store))
    assert status in (1, 2)
    assert "damaged" in err or "problems" in out


def test_backup_copies_a_store_into_a_sound_store_of_its_own(store, tmp_path, capsys):
    target = tmp_path / "copy"
    status, out, _ = run(capsys, "backup", str(target), "--store", str(store))
    assert status == 0, out
    with Engine.open(store) as source:
        events = len(source.events())  # the completions and the served list's impressions
    assert f"{len(SAMPLE)} items, 2 members, {events} events; the copy is sound" in out
    with Engine.open(store) as source, Engine.open(target) as copy:
        assert copy.daily("m1", DAY, preview=True).to_dict() == source.daily("m1", DAY, preview=True).to_dict()
        assert [e.id for e in copy.events()] == [e.id for e in source.events()]
    status, out, _ = run(capsys, "check", "--store", str(target))
    assert status == 0, out
    # Never over a store, never from a store that is not there.
    status, _, err = run(capsys, "backup", str(target), "--store", str(store))
    assert status == 2 and "is not empty" in err
    status, _, err = run(capsys, "backup", str(tmp_path / "other"), "--store", str(tmp_path / "typo"))
    assert status == 2 and "no store at" in err and not (tmp_path / "other").exists()
    # Nor into a file, nor into the store's own folder, which a lost disk takes with it.
    (tmp_path / "a-file").write_text("")
    status, _, err = run(capsys, "backup", str(tmp_path / "a-file"), "--store", str(store))
    assert status == 2 and err.startswith(f"recsys: error: {tmp_path / 'a-file'} is a file") and "Traceback" not in err
    status, _, err = run(capsys, "backup", str(store / "copy"), "--store", str(store))
    assert status == 2 and "is inside the store's folder" in err and not (store / "copy").exists()


def test_backup_of_a_postgresql_store_says_how_with_pg_dump(tmp_path, capsys):
    status, _, err = run(capsys, "backup", str(tmp_path / "x"), "--store", "postgresql://recsys:secret@db/recsys")
    assert status == 2 and "pg_dump --format=custom" in err and "secret" not in err
    assert not (tmp_path / "x").exists()


def test_a_backup_that_fails_halfway_leaves_nothing_and_can_be_run_again(store, tmp_path, capsys, monkeypatch):
    import recsys.storage.sqlite as sqlite_store

    real = sqlite_store._copy_database
    calls = []

    def full_disk_on_the_second_file(source, target):
        calls.append(target.name)
        if len(calls) == 2:  # the database is copied; the disk fills on the embedding cache
            target.write_bytes(b"half")
            raise sqlite_store.StoreError(f"{target}: the disk is full")
        real(source, target)

    monkeypatch.setattr(sqlite_store, "_copy_database", full_disk_on_the_second_file)
    target = tmp_path / "copy"
    status, _, err = run(capsys, "backup", str(target), "--store", str(store))
    assert status == 2 and f"{target}" in err and "disk is full" in err
    assert not target.exists()  # nothing half-copied blocks the retry
    monkeypatch.setattr(sqlite_store, "_copy_database", real)
    status, out, _ = run(capsys, "backup", str(target), "--store", str(store))
    assert status == 0 and "the copy is sound" in out


def test_a_read_only_store_is_backed_up(store, tmp_path, capsys):
    import subprocess

    # Immutable, so that not even root may write it: a snapshot on a read-only mount.
    paths = [str(p) for p in store.iterdir()] + [str(store)]
    if subprocess.run(["chattr", "+i", *paths], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not permitted here")
    try:
        status, out, err = run(capsys, "backup", str(tmp_path / "copy"), "--store", str(store))
        assert status == 0, err
        assert "the copy is sound" in out
    finally:
        subprocess.run(["chattr", "-i", *paths], check=True)


def test_a_store_whose_log_holds_changes_is_not_backed_up_by_a_user_who_cannot_read_them(store, tmp_path, capsys):
    import subprocess

    writer = sqlite3.connect(store / "recsys.sqlite")  # a process still writing: its changes in the log
    writer.execute("PRAGMA wal_autocheckpoint=0")
    writer.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('note', 'in the log only')")
    writer.commit()
    assert (store / "recsys.sqlite-wal").stat().st_size > 0
    paths = [str(p) for p in store.iterdir()] + [str(store)]
    if subprocess.run(["chattr", "+i", *paths], capture_output=True).returncode != 0:
        writer.close()
        pytest.skip("chattr +i is not permitted here")
    try:
        status, _, err = run(capsys, "backup", str(tmp_path / "copy"), "--store", str(store))
        # Reading the file alone would leave the logged changes out and call the copy sound.
        assert status == 2 and "its latest changes cannot be read" in err
        assert not (tmp_path / "copy").exists()
    finally:
        subprocess.run(["chattr", "-i", *paths], check=True)
        writer.close()
