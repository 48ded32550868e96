"""Output files are written whole or not at all."""

from __future__ import annotations

import pytest

from recsys.files import atomic_write, write_file


def test_a_write_that_fails_leaves_the_file_as_it_was_and_nothing_beside_it(tmp_path):
    report = tmp_path / "coverage.html"
    write_file(report, "上周的报告")

    def half_then_full_disk(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write("<html>半截")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        atomic_write(report, half_then_full_disk)
    assert report.read_text(encoding="utf-8") == "上周的报告"
    assert [p.name for p in tmp_path.iterdir()] == ["coverage.html"]
    write_file(report, b"\x00\x01")
    assert report.read_bytes() == b"\x00\x01"
    with pytest.raises(FileNotFoundError):  # a missing folder is the caller's to make
        write_file(tmp_path / "missing" / "x.html", "x")


def test_a_file_keeps_the_mode_of_the_one_it_replaces_or_a_new_files_usual_one(tmp_path):
    import os
    import stat

    fresh = tmp_path / "new.html"
    write_file(fresh, "报告")
    umask = os.umask(0o022)
    os.umask(umask)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o666 & ~umask  # not mkstemp's 0600
    shared = tmp_path / "shared.xlsx"
    shared.write_bytes(b"old")
    shared.chmod(0o640)
    write_file(shared, b"new")
    assert stat.S_IMODE(shared.stat().st_mode) == 0o640 and shared.read_bytes() == b"new"
