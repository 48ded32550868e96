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


def test_the_coverage_page_needs_no_charts_extra(engine, monkeypatch):
    # The browser draws the page's charts: no matplotlib, no server font.
    from recsys.reports.coverage_html import cjk_font, render_html

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    page = render_html(engine.coverage())
    assert "id='supply-heatmap'" in page and "<svg" in page
    # The evaluation's plots still use matplotlib, and say which extra they need.
    with pytest.raises(MissingExtraError, match=r"recsys\[charts\]"):
        cjk_font()
    with pytest.raises(ImportError):  # callers catching the builtin catch it too
        cjk_font()
