"""`layerscope app --warm` (dashboard/serve.py): every page runs once in the server process before it serves."""
import re
import subprocess
import sys

import pytest
import streamlit as st

import analysis.probes.cka as cka_lib
from analysis.cli import main as cli_main
from dashboard import serve
from tests.apptest_util import APP, SMALL, ensure_small_store, errors, run_page


def test_page_files_are_every_page_of_the_app_with_the_tour_first():
    registered = set(re.findall(r'"(views/\w+\.py)"', open(APP, encoding="utf-8").read()))
    files = serve.page_files()
    assert set(files) == registered
    assert files[0] == serve.TOUR and len(files) == len(set(files))


def test_a_warmed_page_computes_nothing_for_the_next_visitor(monkeypatch):
    """The warm-up fills the process-wide caches the server's sessions read: a new session of the
    page finds the page's own st.cache_data result and does not compute it again."""
    ensure_small_store()
    calls = []
    real = cka_lib.store_cka

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(cka_lib, "store_cka", counting)  # the page imports it on every run
    st.cache_data.clear()
    lines: list[str] = []
    seconds = serve.warm_pages(["views/cka.py"], session_state={"dataset": SMALL}, log=lines.append)
    assert list(seconds) == ["views/cka.py"] and "left cold" not in lines[0]
    warmed = len(calls)
    assert warmed >= 1  # the warm-up really ran the page (and its CKA)
    at = run_page("views/cka.py", dataset=SMALL)  # a new visitor
    assert not errors(at) and at.header[0].value.startswith("CKA")
    assert len(calls) == warmed


def test_a_page_that_fails_to_warm_is_reported_and_the_others_still_warm():
    lines: list[str] = []
    seconds = serve.warm_pages(["views/no_such_page.py", "views/data_model.py"], session_state={"dataset": SMALL},
                               log=lines.append)
    assert list(seconds) == ["views/no_such_page.py", "views/data_model.py"]
    assert "left cold" in lines[0] and "left cold" not in lines[1]


@pytest.mark.parametrize("warm", ["1", "0"])
def test_serve_warms_the_pages_before_it_starts_the_server(monkeypatch, warm):
    import streamlit.web.cli as st_cli

    order = []
    monkeypatch.setenv("LAYERSCOPE_WARM_PAGES", warm)
    monkeypatch.setattr(serve, "warm_pages", lambda: order.append("warm"))
    monkeypatch.setattr(st_cli, "main", lambda: order.append(list(sys.argv)))
    monkeypatch.setattr(sys, "argv", ["serve"])
    serve.main(["--server.port", "8599"])
    served = ["streamlit", "run", str(serve.APP), "--server.port", "8599"]
    assert order == (["warm", served] if warm == "1" else [served])


@pytest.mark.parametrize("flag", [True, False])
def test_app_command_starts_the_warming_server_only_with_warm(monkeypatch, flag):
    seen = []
    monkeypatch.setattr(subprocess, "call", lambda cmd: seen.append(cmd) or 0)
    with pytest.raises(SystemExit):
        cli_main(["app", "--port", "8598"] + (["--warm"] if flag else []))
    cmd = seen[0]
    assert cmd[0] == sys.executable and cmd[cmd.index("--server.port") + 1] == "8598"
    assert cmd[1:3] == (["-m", "dashboard.serve"] if flag else ["-m", "streamlit"])

