"""Commands that need an optional extra say which one to install when it is missing."""

from __future__ import annotations

import sys

import pytest

from recsys import MissingExtraError
from recsys_cli import main


@pytest.mark.parametrize(("argv", "hidden", "extra"), [
    (["serve", "--port", "8765"], "uvicorn", "service"),
    (["keys", "add", "hxny"], "service.keys", "service"),
])
def test_a_command_without_its_extra_names_the_extra(tmp_path, monkeypatch, capsys, argv, hidden, extra):
    monkeypatch.setitem(sys.modules, hidden, None)  # as if the package were not installed
    assert main([*argv, "--store", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert f"pip install 'recsys[{extra}]'" in err and "Traceback" not in err


def test_the_coverage_page_without_charts_names_the_extra(engine, monkeypatch):
    from recsys.reports.coverage_html import render_html

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(MissingExtraError, match=r"recsys\[charts\]"):
        render_html(engine.coverage())
    with pytest.raises(ImportError):  # callers catching the builtin catch it too
        render_html(engine.coverage())
